"""Check kinds: Python defines *how* to check, rule YAML defines *what* (STYLE.md section 3).

A kind has a strict parameter model (a typo in YAML fails when the catalog loads) and the set of
fields its findings offer to a rule's message and fix templates (checked at load too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
from pydantic import BaseModel, ConfigDict

# The service lines' procedure code as a Categorical (Context.service_lines), for filtering on a
# rule's codes: a string `is_in` hashes every line's code (~3 ms a 250k-line part, two dozen rules
# ask), a Categorical's looks its few hundred distinct codes up once (0.6 ms).
PROCEDURE = "_procedure"


def procedure_in(codes: list[str] | pl.Series) -> pl.Expr:
    """The service line's procedure code is one of `codes` (only on Context.service_lines' frames)."""
    return pl.col(PROCEDURE).is_in(pl.Series(codes, dtype=pl.String).implode())


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class CheckKind:
    name: str
    params: type[Params]
    fields: frozenset[str]  # names a message or fix template may use
    stage: str  # "integrity": found while reading and typing the extract; "engine": a rule run; "internal"
    func: Callable | None = None
    example_keys: frozenset[str] = frozenset()  # example keys beyond the canonical columns


REGISTRY: dict[str, CheckKind] = {}


def register_check(name: str, *, params: type[Params], fields: set[str] | frozenset[str], stage: str = "engine",
                   example_keys: frozenset[str] = frozenset()):
    def decorate(func: Callable | None) -> Callable | None:
        if name in REGISTRY:
            raise ValueError(f"check kind {name} registered twice")
        REGISTRY[name] = CheckKind(name, params, frozenset(fields), stage, func, frozenset(example_keys))
        return func

    return decorate
