"""Check kinds: Python defines *how* to check, rule YAML defines *what* (STYLE.md section 3).

A kind has a strict parameter model (a typo in YAML fails when the catalog loads) and the set of
fields its findings offer to a rule's message and fix templates (checked at load too).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


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
