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


def one_of(column: str, values: list[str] | pl.Series) -> pl.Expr:
    """`column` is one of `values`, the values taken as one set (implode: a bare Series is ambiguous
    to polars and deprecated)."""
    return pl.col(column).is_in(pl.Series(values, dtype=pl.String).implode())


def procedure_in(codes: list[str] | pl.Series) -> pl.Expr:
    """The service line's procedure code is one of `codes` (only on Context.service_lines' frames)."""
    return one_of(PROCEDURE, codes)


def run_starts(*keys: str) -> pl.Expr:
    """Whether a row starts a run of rows with the same `keys` (null equal to null): the first row,
    and each row where one of them differs from the row before."""
    return (pl.int_range(pl.len()) == 0) | pl.any_horizontal(
        pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys
    )


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


def register_check(
    name: str,
    *,
    params: type[Params],
    fields: set[str] | frozenset[str],
    stage: str = "engine",
    example_keys: frozenset[str] = frozenset(),
):
    def decorate(func: Callable | None) -> Callable | None:
        if name in REGISTRY:
            raise ValueError(f"check kind {name} registered twice")
        REGISTRY[name] = CheckKind(
            name, params, frozenset(fields), stage, func, frozenset(example_keys)
        )
        return func

    return decorate
