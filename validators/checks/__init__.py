"""Check kinds: Python defines *how* to check, rule YAML defines *what* (STYLE.md section 3).

The contract every check kind follows, stated once here (as sqlfluff's RuleContext states its own):

**Registration.** `@register_check(name, params=Model, fields={...})` names the kind, its strict
parameter model (`extra="forbid"`: a typo in a rule's YAML fails when the catalog loads) and the
fields its findings offer to a rule's `message` and `fix` templates (checked at load too).

**Inputs.** `func(ctx: Context, p: Model) -> pl.DataFrame`. `p` is the rule's validated
params. `ctx` (validators/checks/context.py) is what a check may read of one file, built once
and shared by the file's rules:
- `lines` (every typed line: canonical columns, their parsed `_` twins, `_failed`),
  `service_lines` (with `_visit`, `_provider` and the Categorical `PROCEDURE`),
  `usable_lines(*fields)` (a plan of the service lines whose named fields passed field
  integrity, so a defect is reported once), `with_history(...)`/`has_history` (earlier runs'
  lines, numbered below zero), `procedure_codes` and `procedure_matching(pattern)`;
- `claims` (one row per claim, its first line: CLAIM_COLUMNS), `claim_dx`, `dx_distinct` and
  `claim_dx_matching(pattern)` (the claims' diagnoses), `line_dx` and `line_dx_of(lines, ...)`
  (each line's pointed diagnoses);
- `notes` (the NoteIndex of the claims' note elements) and `noted_claims`;
- reference data and settings: `catalog` (code sets by name: `catalog.codesets[name].table`,
  and `catalog.derived` for tables worked out once per catalog), `icd`, `excludes1`, `as_of`,
  `config`.
Nothing else of the context is a check's to read; its caches are private.

**Output.** The rows the check flags, one per finding (HitsModel checks it in the tests):
`_row` (the line the finding points at: a line's own, or its claim's first line
`_claim_first`; a row below zero is an earlier run's line and never gets a finding),
`claim_level` (true: the whole claim is at risk, the finding has no line number and puts the
claim's charge at risk) and every template field of `fields` that the engine does not add.

**How a finding is formed** (validators/engine.py). The engine picks, by `_row`, what every
finding takes from its line -- claim id, payer, line number, the line's or the claim's charge,
source file and row (engine.finding_keys) -- drops the rows of payers the run configuration
ignores the rule for, renders `message` and `fix` with the row's fields (validators/findings.py)
and applies per-payer severities. A rule with `payers:` reads a context of those payers' lines
(`Context.for_payers`). A check that raises becomes an ENG001 finding; the other rules still run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandera.polars as pa
import polars as pl
from pydantic import BaseModel, ConfigDict

# The service lines' procedure code as a Categorical (Context.service_lines), for filtering on a
# rule's codes: a string `is_in` hashes every line's code, a Categorical's looks its few hundred
# distinct codes up once.
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


class HitsModel(pa.DataFrameModel):
    """What a check kind returns (the contract above): the flagged rows, with their template fields
    beside these two columns."""

    row: pl.Int64 = pa.Field(alias="_row", nullable=False)
    claim_level: pl.Boolean = pa.Field(nullable=False)

    class Config:
        strict = False  # the template fields differ by kind


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
