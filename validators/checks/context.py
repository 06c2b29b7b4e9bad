"""The context a check kind reads: one file's typed lines and what is derived from them, built once.

The contract a check kind follows is stated in validators/checks/__init__.py. This module holds
what the context is built from (the claim-level columns, the visit key, the note index hook);
validators/engine.py builds one `Context` per file and runs the rules over it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cached_property

import numpy as np
import polars as pl

from cleanclaim.validators.catalog import Catalog
from cleanclaim.validators.checks import PROCEDURE, procedure_in
from cleanclaim.validators.checks.documentation import site_element
from cleanclaim.validators.codesets import Icd10cmEditions
from cleanclaim.validators.config import RunConfig
from cleanclaim.validators.contract import CLAIM_LEVEL, DX_COLUMNS
from cleanclaim.validators.notes import NoteIndex, combine, index


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


class Context:
    """What a check kind may read of one file: its lines, the frames derived from them, the
    reference data and the run's settings. Each derived frame is built on first use and kept, so
    the rules of a file share one visit grouping, one diagnosis table and one note index.

    The rules of a file run on threads over one context: Python 3.11's cached_property locks, and
    where a later Python does not, a frame built twice is the same frame.
    """

    def __init__(
        self,
        lines: pl.DataFrame,
        catalog: Catalog,
        as_of: date,
        config: RunConfig,
        history: pl.DataFrame | None = None,
        file_notes: NoteIndex | None = None,
    ):
        """`history`: earlier runs' lines (engine.HISTORY_COLUMNS); `file_notes`: the index of the
        file's notes file, by claim id (index_notes)."""
        self.lines = lines  # the typed lines: canonical columns, their parsed `_` twins, _failed
        self.catalog = catalog  # rules, params and code sets by name (catalog.codesets[...])
        self.as_of = as_of
        self.config = config
        self.editions = Icd10cmEditions.of_catalog(catalog)  # every ICD-10-CM year, stacked
        self._history = history
        self._file_notes = file_notes
        self._whole: Context | None = None  # the file's context, when this one is a payer scope
        self._scopes: dict[tuple[str, ...], Context] = {}
        self._usable: dict[tuple[str, ...], pl.Series] = {}

    @property
    def icd(self) -> pl.DataFrame:
        """The ICD-10-CM tables of every year, each row's year in `_edition`."""
        return self.editions.table

    @property
    def excludes1(self) -> pl.DataFrame:
        return self.editions.excludes1

    def for_payers(self, payers: Sequence[str]) -> Context:
        """The context of the lines (and so the claims) of `payers`, for a payer-specific rule; one
        per set of payers, kept for the file's other rules of the same payers.

        It shares the reference data, the earlier runs' lines and the note index of the whole file
        (read once per file: its claims keep their rows in a scope, and a check reads the index
        through its own claims). The frames derived from the lines -- service lines and visits,
        claims, diagnoses, the usable-line masks -- are built again over the scope's lines, each
        only when one of its rules reads it."""
        key = tuple(sorted(payers))
        if key not in self._scopes:
            scope = Context(
                self.lines.filter(pl.col("payer_id").is_in(list(key))),
                self.catalog,
                self.as_of,
                self.config,
                self._history,
                self._file_notes,
            )
            scope._whole = self
            self._scopes[key] = scope
        return self._scopes[key]

    @cached_property
    def service_lines(self) -> pl.DataFrame:
        """Lines with their visit, the unit NCCI and MUE edits apply to (and checks.PROCEDURE)."""
        return _with_visits(self.lines).with_columns(
            pl.col("procedure_code").cast(pl.Categorical).alias(PROCEDURE)
        )

    @property
    def has_history(self) -> bool:
        return self._history is not None and not self._history.is_empty()

    def with_history(
        self, lines: pl.DataFrame, codes: pl.Series | list[str] | None = None
    ) -> pl.DataFrame:
        """`lines` plus earlier runs' lines (of `codes`), the history numbered below zero so it sorts
        first and never receives a finding; visits keyed again over both, so a line repeated from an
        earlier run shares its visit."""
        if not self.has_history:
            return lines
        past = (
            self._history
            if codes is None
            else self._history.filter(pl.col("procedure_code").is_in(codes))
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
        procedure codes, not every line's."""
        return procedure_in(self.procedure_codes.filter(self.procedure_codes.str.contains(pattern)))

    @cached_property
    def _failed_lines(self) -> pl.DataFrame:
        """_row and _failed of the few lines with a field that failed integrity (the rest need no
        per-field test)."""
        return self.lines.select("_row", "_failed").filter(pl.col("_failed").list.len() > 0)

    def usable_lines(self, *columns: str) -> pl.LazyFrame:
        """Service lines whose given fields (every field when none is named) passed field integrity,
        so a defect is reported once. A plan, not a frame: the rule's own filter (its procedure codes)
        joins this one, and polars copies only the columns the rule reads of the lines both keep."""
        if columns not in self._usable:  # a dozen rules ask for the same fields
            failed = self._failed_lines
            if columns:
                failed = failed.filter(
                    pl.any_horizontal(pl.col("_failed").list.contains(c) for c in columns)
                )
            self._usable[columns] = ~self.lines["_row"].is_in(failed["_row"].implode())
        return self.service_lines.lazy().filter(pl.lit(self._usable[columns]))

    @cached_property
    def claims(self) -> pl.DataFrame:
        """One row per claim (its first line): claim-level fields agree across lines (FLD003). Only the
        CLAIM_COLUMNS: a service line's own fields are not the claim's."""
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
        # The tabular is looked up once per distinct code, the dot dropped there too, and narrowed to
        # the codes present first: a join builds its table from the 98k-code side otherwise.
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
        """Each claim's diagnoses: _row (the claim's first line), slot, code and dx_distinct's
        columns (its year's)."""
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
        element, affirmed, negated, weeks), read once per file for every rule that asks: the notes
        in the extract's own column, and for the other claims the notes file's, indexed when the
        file was read (`file_notes`, by claim id). A payer scope reads its file's index."""
        if self._whole is not None:
            return self._whole.notes
        inline = self.claims.select("_row", pl.col("clinical_note").alias("text")).filter(
            pl.col("text").is_not_null()
        )
        if self._file_notes is None:
            return index_notes(inline, self.catalog, threads=self.config.threads)
        from_file = self._file_notes.rekeyed(
            self.claims.select("claim_id", "_row").join(inline, on="_row", how="anti")
        )
        return (
            combine([index_notes(inline, self.catalog, threads=self.config.threads), from_file])
            if inline.height
            else from_file
        )

    @cached_property
    def noted_claims(self) -> pl.DataFrame:
        """The claims that came with a note: _row (the claim's first line). In a payer scope, the
        file's: a check joins them to its own claims."""
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
        # number stored at claim's first line x 13 + slot, then read at the pointer's.
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
        # by the largest _row, not the count: a payer scope's rows are the file's, with gaps
        return np.bincount(
            self.line_dx["_row"].to_numpy(), minlength=(self.lines["_row"].max() or 0) + 1
        )

    @cached_property
    def _line_dx_starts(self) -> np.ndarray:
        """Where each line's rows begin in line_dx, by _row."""
        return np.cumsum(self._line_dx_counts) - self._line_dx_counts

    def line_dx_of(self, lines: pl.DataFrame, *columns: str) -> pl.DataFrame:
        """line_dx's `columns` (and _row) at the rows of `lines` (in their order, each line's in
        pointer order) beside the other columns of `lines`: found by position, line_dx being in row
        order, rather than by a join against all of its rows."""
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


def index_notes(
    notes: pl.DataFrame, catalog: Catalog, key: str = "_row", threads: int = 1
) -> NoteIndex:
    """(key, text) -> the NoteIndex of what the catalog's rules read notes for."""
    return index(
        notes,
        catalog.derived("note_vocabulary", note_vocabulary),
        catalog.codesets["note_sections"].table,
        key,
        threads,
    )
