"""The rule engine: runs every selected engine-stage rule over the typed lines, each in isolation.

A check kind returns the rows it flags: `_row` (the line it points at), `claim_level` (the whole
claim is at risk: the finding has no line number) and the fields its templates use. The engine
adds what every finding needs (claim id, line number, charge at risk, source file and row),
applies the rule's payer scope and the run configuration, and renders the findings. A rule that
raises becomes an ENG001 finding; the other rules still run (sqlfluff's crash isolation).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import polars as pl

import validators.checks.documentation
import validators.checks.dx
import validators.checks.procedure
import validators.checks.trauma  # noqa: F401
from validators import findings as fnd
from validators.catalog import Catalog, Rule
from validators.checks import PROCEDURE, REGISTRY, procedure_in
from validators.checks.documentation import site_element
from validators.codesets import Icd10cmEditions
from validators.config import RunConfig
from validators.contract import CLAIM_LEVEL, DX_COLUMNS
from validators.integrity import ENGINE_RULE
from validators.notes import NoteIndex, combine, index

log = logging.getLogger("cleanclaim.engine")


def _with_visits(lines: pl.DataFrame) -> pl.DataFrame:
    """Each line's provider (rendering, else billing NPI) and visit: patient, provider and service
    date, keyed by the visit's first row (exact, one grouping for all rules)."""
    return lines.with_columns(
        pl.coalesce("rendering_npi", "billing_npi").alias("_provider")
    ).with_columns(
        pl.col("_row").min().over("patient_id", "_provider", "_service_date").alias("_visit")
    )


# What rules read of a claim (its first line): the claim-level fields, parsed, and the note.
CLAIM_COLUMNS = (
    "_row",
    "_claim_first",
    "_failed",
    "claim_id",
    *CLAIM_LEVEL,
    "_patient_dob",
    "_injury_date",
    "_service_date",
    "clinical_note",
    "source_file",
)


@dataclass
class Context:
    """What check kinds may read besides the lines: reference data and derived frames, built once."""

    lines: pl.DataFrame
    catalog: Catalog
    as_of: date
    config: RunConfig
    editions: Icd10cmEditions = field(repr=False)  # every ICD-10-CM year, stacked
    history: pl.DataFrame | None = field(
        default=None, repr=False
    )  # earlier runs' lines (HISTORY_COLUMNS)
    file_notes: NoteIndex | None = field(
        default=None, repr=False
    )  # the notes file's, by claim id (index_notes)
    _usable: dict[tuple[str, ...], pl.Series] = field(default_factory=dict, init=False, repr=False)

    @property
    def icd(self) -> pl.DataFrame:
        """The ICD-10-CM tables of every year, each row's year in `_edition`."""
        return self.editions.table

    @property
    def excludes1(self) -> pl.DataFrame:
        return self.editions.excludes1

    @cached_property
    def service_lines(self) -> pl.DataFrame:
        """Lines with their visit, the unit NCCI and MUE edits apply to (and checks.PROCEDURE)."""
        return _with_visits(self.lines).with_columns(
            pl.col("procedure_code").cast(pl.Categorical).alias(PROCEDURE)
        )

    @property
    def has_history(self) -> bool:
        return self.history is not None and not self.history.is_empty()

    def with_history(
        self, lines: pl.DataFrame, codes: pl.Series | list[str] | None = None
    ) -> pl.DataFrame:
        """`lines` plus earlier runs' lines (of `codes`), the history numbered below zero so it sorts
        first and never receives a finding; visits keyed again over both, so a line repeated from an
        earlier run shares its visit."""
        if not self.has_history:
            return lines
        past = (
            self.history
            if codes is None
            else self.history.filter(pl.col("procedure_code").is_in(codes))
        )
        past = past.with_columns((-pl.int_range(1, pl.len() + 1, dtype=pl.Int64)).alias("_row"))
        return _with_visits(pl.concat([lines, past], how="diagonal_relaxed"))

    @cached_property
    def procedure_codes(self) -> pl.Series:
        """The distinct procedure codes of the lines (procedure_matching reads them per pattern, the
        NCCI pair rule to narrow CMS's edits)."""
        return self.service_lines[PROCEDURE].unique().cast(pl.String).drop_nulls()

    def procedure_matching(self, pattern: str) -> pl.Expr:
        """checks.procedure_in the codes that match `pattern`: the regex runs over the file's distinct
        procedure codes, not every line's (a 250k-line part: 7 -> 0.6 ms)."""
        return procedure_in(self.procedure_codes.filter(self.procedure_codes.str.contains(pattern)))

    @cached_property
    def failed_lines(self) -> pl.DataFrame:
        """_row and _failed of the few lines with a field that failed integrity (the rest need no
        per-field test)."""
        return self.lines.select("_row", "_failed").filter(pl.col("_failed").list.len() > 0)

    def usable_lines(self, *columns: str) -> pl.LazyFrame:
        """Service lines whose given fields (every field when none is named) passed field integrity,
        so a defect is reported once. A plan, not a frame: the rule's own filter (its procedure codes)
        joins this one, and polars copies only the columns the rule reads of the lines both keep
        (copying the usable lines first, ~20 columns of nearly every line, cost ~0.2 s per 250k-line
        part; a rule's filter then copied them again)."""
        if (
            columns not in self._usable
        ):  # a dozen rules ask for the same fields (procedure code, date)
            failed = self.failed_lines
            if columns:
                failed = failed.filter(
                    pl.any_horizontal(pl.col("_failed").list.contains(c) for c in columns)
                )
            self._usable[columns] = ~self.lines["_row"].is_in(failed["_row"].implode())
        return self.service_lines.lazy().filter(pl.lit(self._usable[columns]))

    @cached_property
    def finding_keys(self) -> pl.DataFrame:
        """What every finding takes from its line: ids, source, the line's and the claim's charge.
        Row i is the line whose _row is i, so a rule's hits pick their keys by position."""
        return self.lines.select(
            "_row",
            "_claim_first",
            "claim_id",
            "payer_id",
            "source_file",
            "source_row",
            "_line_number",
            "_charge",
            fnd.claim_charges(self.lines),
        )

    @cached_property
    def claims(self) -> pl.DataFrame:
        """One row per claim (its first line): claim-level fields agree across lines (FLD003). Only the
        CLAIM_COLUMNS: a service line's own fields are not the claim's, and copying them cost time."""
        return self.lines.select(CLAIM_COLUMNS).filter(pl.col("_row") == pl.col("_claim_first"))

    @cached_property
    def _dx_slots(self) -> pl.DataFrame:
        """_row (the claim), slot and code of each filled diagnosis slot that passed field integrity.
        Slot by slot rather than one unpivot: most claims fill a few of the twelve slots, and the
        unpivot materialised every empty one before dropping it."""
        # Each claim's ICD-10-CM year (`_edition`) and whether a table is in force on its first
        # service date (`_when`: 0, -1 before the oldest table, 1 after the newest).
        dated = self.claims.lazy().with_columns(
            self.editions.edition(pl.col("_service_date")).alias("_edition"),
            self.editions.timing(pl.col("_service_date")).alias("_when"),
        )
        return pl.concat(
            [
                dated.filter(
                    pl.col(dx).is_not_null() & ~pl.col("_failed").list.contains(pl.lit(dx))
                ).select(
                    "_row",
                    pl.lit(slot, dtype=pl.Int32).alias("slot"),
                    pl.col(dx).alias("code"),
                    "_edition",
                    "_when",
                )
                for slot, dx in enumerate(DX_COLUMNS, 1)
            ]
        ).collect()

    @cached_property
    def dx_distinct(self) -> pl.DataFrame:
        """The distinct codes of the claims as written, per ICD-10-CM year (`_edition`), each with its
        code without the dot (`bare`), `code_id` (the same integer for the same code, M54.12 and
        M5412 alike, in any year) and that year's table's columns (null for a code not in it): a few
        thousand rows, which rules read instead of claim_dx's hundreds of thousands where they can."""
        # The tabular is looked up once per distinct code, the dot dropped there too: dropping the dot
        # in every slot and joining the tabular against them cost a third more. The tabular is narrowed
        # to the codes present first: a join builds its table from the 98k-code side otherwise, which
        # dominated a small file's diagnoses (12 -> 4 ms).
        codes = (
            self._dx_slots.lazy()
            .select("code", "_edition")
            .unique()
            .with_columns(pl.col("code").str.replace(".", "", literal=True).alias("bare"))
            .with_columns(pl.col("bare").rank("dense").alias("code_id"))
        )
        key = ["bare", "_edition"]
        icd = self.icd.lazy().drop("code").join(codes.select(key), on=key, how="semi")
        return codes.join(icd, on=key, how="left").collect()

    @cached_property
    def claim_dx(self) -> pl.DataFrame:
        """Each claim's diagnoses: _dx_slots with dx_distinct's columns (its year's)."""
        return self._dx_slots.join(
            self.dx_distinct, on=["code", "_edition"], how="left", maintain_order="left"
        )

    def claim_dx_matching(self, pattern: str) -> pl.LazyFrame:
        """The rows of claim_dx whose bare code matches `pattern`, the regex run over the distinct
        codes rather than every claim's every slot, which are then picked by code_id. A plan: most
        rules read two or three of its twelve columns."""
        ids = self.dx_distinct.filter(pl.col("bare").str.contains(pattern))["code_id"]
        return self.claim_dx.lazy().filter(pl.col("code_id").is_in(ids.implode()))

    @cached_property
    def notes(self) -> NoteIndex:
        """Which documentation elements each claim's note mentions (`.elements(...)`: _row (claim),
        element, affirmed, negated, weeks), read once per run for every rule that asks: the notes
        in the extract's own column, and for the other claims the notes file's, indexed when the
        file was read (`file_notes`, by claim id)."""
        inline = self.claims.select("_row", pl.col("clinical_note").alias("text")).filter(
            pl.col("text").is_not_null()
        )
        if self.file_notes is None:
            return index_notes(inline, self.catalog)
        from_file = self.file_notes.rekeyed(
            self.claims.select("claim_id", "_row").join(inline, on="_row", how="anti")
        )
        return (
            combine([index_notes(inline, self.catalog), from_file]) if inline.height else from_file
        )

    @cached_property
    def noted_claims(self) -> pl.DataFrame:
        """The claims that came with a note: _row (the claim's first line)."""
        return self.notes.noted().to_frame()

    @cached_property
    def line_dx(self) -> pl.DataFrame:
        """Each line's pointed diagnoses, in pointer order: _row, _claim_first, slot, and claim_dx's
        columns (the code, with the ICD-10-CM table joined on)."""
        slots = len(DX_COLUMNS) + 1
        pointed = (
            self.lines.lazy()
            .filter(~pl.col("_failed").list.contains("diagnosis_pointers"))
            .select("_row", "_claim_first", pl.col("_pointers").alias("slot"))
            .explode("slot")
            .filter(pl.col("slot").is_between(1, slots - 1))
            .collect()
        )
        # Each pointer's diagnosis found by position, not by a join on (claim, slot): claim_dx's row
        # number stored at claim's first line x 13 + slot, then read at the pointer's (a 250k-line
        # part: the join 70-130 ms, this ~10).
        dx = self.claim_dx
        at = np.full((self.lines["_row"].max() or 0) * slots + slots, -1, dtype=np.int64)
        at[dx["_row"].to_numpy() * slots + dx["slot"].to_numpy()] = np.arange(dx.height)
        found = at[pointed["_claim_first"].to_numpy() * slots + pointed["slot"].to_numpy()]
        hit = found >= 0
        return pl.concat(
            [pointed.filter(hit), dx.drop("_row", "slot")[found[hit]]], how="horizontal"
        )

    @cached_property
    def _line_dx_counts(self) -> np.ndarray:
        """How many of line_dx's rows each line has, by _row."""
        return np.bincount(self.line_dx["_row"].to_numpy(), minlength=self.lines.height)

    @cached_property
    def _line_dx_starts(self) -> np.ndarray:
        """Where each line's rows begin in line_dx, by _row."""
        return np.cumsum(self._line_dx_counts) - self._line_dx_counts

    def line_dx_of(self, lines: pl.DataFrame, *columns: str) -> pl.DataFrame:
        """line_dx's `columns` (and _row) at the rows of `lines` (in their order, each line's in
        pointer order) beside the other columns of `lines`: found by position, line_dx being in row
        order (a join against its 250k rows cost 8 ms a 250k-line part, this 2)."""
        wanted = lines["_row"].to_numpy()
        start, counts = self._line_dx_starts[wanted], self._line_dx_counts[wanted]
        first = np.cumsum(counts) - counts  # where each line's diagnoses begin in the result
        at = np.repeat(start - first, counts) + np.arange(counts.sum())
        return pl.concat(
            [
                self.line_dx.select("_row", *columns)[at],
                lines.drop("_row")[np.repeat(np.arange(len(wanted)), counts)],
            ],
            how="horizontal",
        )


# What a run keeps of each usable service line so later runs' duplicate and frequency rules see it.
HISTORY_COLUMNS = {
    "claim_id": pl.String,
    "_line_number": pl.Int64,
    "patient_id": pl.String,
    "rendering_npi": pl.String,
    "billing_npi": pl.String,
    "_service_date": pl.Date,
    "procedure_code": pl.String,
    "modifier_1": pl.String,
    "modifier_2": pl.String,
    "modifier_3": pl.String,
    "modifier_4": pl.String,
    "_units": pl.Float64,
}


def history_rows(lines: pl.DataFrame) -> pl.DataFrame:
    """The lines of this run to remember: those whose history fields all passed field integrity."""
    used = [c for c in HISTORY_COLUMNS if not c.startswith("_")] + [
        "service_date",
        "units",
        "line_number",
    ]
    return lines.filter(
        ~pl.any_horizontal(pl.col("_failed").list.contains(c) for c in used)
    ).select(pl.col(c).cast(t) for c, t in HISTORY_COLUMNS.items())


def note_vocabulary(catalog: Catalog) -> pl.DataFrame:
    """What notes are read for: the documentation elements, and the body sites of site_checks.csv as
    elements (`documentation.site_element`, DOC011), so a note's text is read once, into one index."""
    sites = (
        catalog.codesets["site_checks"]
        .table.group_by("note_site", maintain_order=True)
        .agg(pl.col("note_pattern").unique(maintain_order=True).str.join("|").alias("pattern"))
        .select(site_element(pl.col("note_site")).alias("id"), "pattern")
    )
    return pl.concat([catalog.codesets["doc_elements"].table, sites], how="diagonal_relaxed")


def index_notes(notes: pl.DataFrame, catalog: Catalog, key: str = "_row") -> NoteIndex:
    """(key, text) -> the NoteIndex of what the catalog's rules read notes for."""
    return index(
        notes,
        catalog.derived("note_vocabulary", note_vocabulary),
        catalog.codesets["note_sections"].table,
        key,
    )


def make_context(
    lines: pl.DataFrame,
    catalog: Catalog,
    as_of: date,
    config: RunConfig,
    history: pl.DataFrame | None = None,
    file_notes: NoteIndex | None = None,
) -> Context:
    return Context(
        lines=lines,
        catalog=catalog,
        as_of=as_of,
        config=config,
        editions=Icd10cmEditions.of_catalog(catalog),
        history=history,
        file_notes=file_notes,
    )


def _hits_to_findings(
    rule: Rule, hits: pl.DataFrame, ctx: Context, config: RunConfig
) -> pl.DataFrame:
    hits = hits.filter(
        pl.col("_row") >= 0
    )  # history lines (negative rows) inform rules, never get findings
    if hits.is_empty():  # most rules flag nothing in a small file: nothing to gather or render
        return fnd.empty()
    # A gather by position, not a join: a join would hash the million-line key table for every rule.
    keys = ctx.finding_keys.gather(hits["_row"])
    joined = pl.concat(
        [hits, keys.drop(c for c in keys.columns if c in hits.columns)], how="horizontal"
    ).with_columns(
        pl.when(pl.col("claim_level"))
        .then(None)
        .otherwise(pl.col("_line_number"))
        .alias("line_number"),
        pl.when(pl.col("claim_level"))
        .then(pl.col("_claim_charge"))
        .otherwise(pl.col("_charge"))
        .alias("charge_at_risk"),
    )
    if skip := config.payers_ignoring(rule.id):
        joined = joined.filter(~pl.col("payer_id").is_in(skip))
    out = fnd.render(rule, joined)
    if overrides := config.severity_by_payer(rule.id):
        out = out.with_columns(
            joined["payer_id"].replace_strict(overrides, default=rule.severity).alias("severity")
        )
    return out


def run_rules(
    lines: pl.DataFrame,
    catalog: Catalog,
    as_of: date,
    config: RunConfig | None = None,
    history: pl.DataFrame | None = None,
    timings: dict[str, float] | None = None,
    threads: int = 1,
    file_notes: NoteIndex | None = None,
) -> pl.DataFrame:
    """Every selected engine rule over one file's typed lines -> findings (ENG001 for a crash).
    `history`: lines of earlier runs (HISTORY_COLUMNS) that the duplicate and frequency rules count.
    `file_notes`: the index of the file's notes file, by claim id (index_notes).
    `timings`, when given, receives each rule's seconds (what the rule first touches of the shared
    context -- visits, diagnoses, note elements -- is counted in that rule). `threads`: rules run
    that many at a time (their findings stay in catalog order)."""
    config = config or RunConfig()
    ctx = make_context(lines, catalog, as_of, config, history, file_notes)

    def run(rule: Rule) -> tuple[pl.DataFrame | None, dict | None]:
        scoped = ctx
        if rule.payers:  # a payer-specific rule never fires for other payers
            scoped = make_scope(ctx, pl.col("payer_id").is_in(rule.payers))
        started = time.perf_counter()
        try:
            hits = REGISTRY[rule.check].func(scoped, catalog.params[rule.id])
            outcome = (
                _hits_to_findings(rule, hits, ctx, config),
                None,
            )  # keys by _row: the whole file's
        except Exception as exc:
            log.error(
                "rule %s crashed: %s", rule.id, type(exc).__name__
            )  # no message: it may quote values
            outcome = None, {"rule": rule.id, "error": type(exc).__name__}
        if timings is not None:
            timings[rule.id] = time.perf_counter() - started
        return outcome

    rules = [rule for rule in catalog.by_stage("engine") if config.selects(rule.id)]
    # Much of a rule is Python between polars operations, and string kernels on one core: two rules
    # at a time use the second core when a file is checked alone (100k lines, checking: 1.23 -> 1.15 s
    # median, 1.02-1.15 -> 0.95-0.98 s at best). The shared context is safe to build from two
    # threads: Python 3.11's cached_property locks, and where a later Python does not, a frame built
    # twice is the same frame.
    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(run, rules))
    parts = [fnd.empty(), *(found for found, _ in outcomes if found is not None)]
    crashed = [crash for _, crash in outcomes if crash is not None]
    if crashed:
        hits = pl.DataFrame(crashed).with_columns(
            pl.lit(None, dtype=pl.String).alias("claim_id"),
            pl.lit(None, dtype=pl.Int64).alias("line_number"),
            pl.lit(None, dtype=pl.Float64).alias("charge_at_risk"),
            pl.lit(lines["source_file"].first() if lines.height else None, dtype=pl.String).alias(
                "source_file"
            ),
            pl.lit(None, dtype=pl.Int64).alias("source_row"),
            pl.lit("coding rules").alias("stage"),
        )
        parts.append(fnd.render(catalog[ENGINE_RULE], hits))
    return pl.concat(
        parts, how="vertical_relaxed"
    )  # in rule order: the caller orders a file's findings once


def make_scope(ctx: Context, condition: pl.Expr) -> Context:
    """The same context restricted to the lines (and so the claims) that meet `condition`."""
    return Context(
        lines=ctx.lines.filter(condition),
        catalog=ctx.catalog,
        as_of=ctx.as_of,
        config=ctx.config,
        editions=ctx.editions,
        history=ctx.history,
        file_notes=ctx.file_notes,
    )
