"""Field integrity: the pandera model of a canonical claim line, and its failures as findings.

The model checks the *text* frame (after trimming and upper-casing codes) so that a value that
does not parse is reported with its own text. Parsed helper columns (`_service_date`, `_charge`
...) are computed once in `prepare` and shared by the checks; pandera ignores them (strict=False).

Every failure becomes a finding on its row (rows are never dropped, STYLE.md section 7), mapped
to the FLD rule that owns the check. A failed field is listed in the row's `_failed` column so that
later rules skip it and one defect is reported once.
"""

from __future__ import annotations

import string
from datetime import date
from functools import lru_cache

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData
from pandera.errors import SchemaErrors

from cleanclaim.validators.checks import Params, register_check
from cleanclaim.validators.contract import (
    CANONICAL,
    CLAIM_FILING_INDICATORS,
    CLAIM_LEVEL,
    CODE_COLUMNS,
    COLUMNS,
    DATE_COLUMNS,
    DX_COLUMNS,
    MODIFIER_COLUMNS,
    PHI,
)

MAX_AGE_YEARS = 120

# --------------------------------------------------------------------------- parsing helpers

# Digits are spelled [0-9]: a regex \d also matches other scripts' digits (Arabic-Indic, fullwidth),
# which pass a shape test and then break the cast that follows it.
# Years 1000-9999: year 0 parses in polars but is no Python date, and broke the workbook's writer.
ISO_DATE = r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}$"
US_DATE = r"^[0-9]{1,2}/[0-9]{1,2}/[1-9][0-9]{3}$"
UNITS = r"^[0-9]{1,4}(\.[0-9]{1,3})?$"
NPI = r"^[0-9]{10}$"  # the shape; the check digit is npi_check_digit_ok's
CHARGE = r"^[0-9]{1,9}(\.[0-9]{1,2})?$"  # >= 0 with at most 2 decimals; "$", "," and "-" are not accepted
LINE_NUMBER = r"^[1-9][0-9]{0,5}$"  # what a finding's line_number may hold (FindingsModel: >= 1)
POINTER_LETTERS = [chr(ord("A") + i) for i in range(12)]  # CMS-1500 box 21 letters A-L = slots 1-12
LOWER_CASE = list(string.ascii_lowercase)


def parse_date(column: str) -> pl.Expr:
    """ISO or US MM/DD/YYYY, each with its explicit format; anything else is null (T15)."""
    c = pl.col(column)
    return (
        pl.when(c.str.contains(ISO_DATE))
        .then(c.str.to_date("%Y-%m-%d", strict=False))
        .when(c.str.contains(US_DATE))
        .then(c.str.to_date("%m/%d/%Y", strict=False))
    )


def parse_number(column: str, pattern: str) -> pl.Expr:
    c = pl.col(column)
    return pl.when(c.str.contains(pattern)).then(c.cast(pl.Float64, strict=False))


def npi_check_digit_ok(c: pl.Expr) -> pl.Expr:
    """Luhn over the 10 digits with the 80840 prefix (its digits contribute the constant 24)."""
    digits = [c.str.slice(i, 1).cast(pl.Int32, strict=False) for i in range(10)]
    total = pl.lit(24)
    for pos, d in enumerate(reversed(digits)):
        if pos % 2:
            doubled = d * 2
            total = total + pl.when(doubled > 9).then(doubled - 9).otherwise(doubled)
        else:
            total = total + d
    return (total % 10 == 0).fill_null(False)


def prepare(lines: pl.DataFrame) -> pl.DataFrame:
    """Trim/upper-case codes, number rows, parse dates and amounts once for all checks."""
    # Only a column with a lower-case letter is rewritten: most extracts have none, and the rewrite
    # costs twice the test and a copy of the column held while the part is checked. The test looks
    # for the 26 letters as literals (Aho-Corasick), at half the cost of the regex `[a-z]`. Likewise
    # line numbers lose leading zeros only when one has them.
    *lower, padded = lines.select(
        *(pl.col(c).str.contains_any(LOWER_CASE).any() for c in CODE_COLUMNS),
        pl.col("line_number").str.starts_with("0").any(),
    ).row(0)
    return lines.with_columns(
        *(
            pl.col(c).str.to_uppercase()
            for c, needed in zip(CODE_COLUMNS, lower, strict=True)
            if needed
        ),
        *([pl.col("line_number").str.replace(r"^0+([0-9])", "$1")] if padded else []),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"),
    ).with_columns(
        # Row index of the claim's first line: consistency checks gather from it, which costs one
        # hash group here instead of one per claim-level column. A line without a claim id is its own claim.
        pl.when(pl.col("claim_id").is_null())
        .then(pl.col("_row"))
        .otherwise(pl.col("_row").first().over("claim_id"))
        .alias("_claim_first"),
        *(parse_date(c).alias(f"_{c}") for c in DATE_COLUMNS),
        parse_number("units", UNITS).alias("_units"),
        parse_number("charge_amount", CHARGE).alias("_charge"),
        # Cast only what the shape checks accept: a 0, -1 or ten-digit value is line_number_format's
        # or pointer_format's finding on its row, never a cast error or an invalid finding.
        pl.when(pl.col("line_number").str.contains(LINE_NUMBER))
        .then(pl.col("line_number").cast(pl.Int64, strict=False))
        .alias("_line_number"),
        # a pointer too long for an integer is no slot: dropped, not kept as a null in the list (pandera
        # builds duplicate lines' failure cases from whole rows, and polars panics on a [null] list
        # beside a [3] list; every reader of the list skips what is no slot anyway)
        pl.col("diagnosis_pointers")
        .str.replace_many(POINTER_LETTERS, [str(i) for i in range(1, 13)])
        .str.extract_all(r"[0-9]+")
        .cast(pl.List(pl.Int32), strict=False)
        .list.drop_nulls()
        .alias("_pointers"),
    )


# --------------------------------------------------------------------------- the model


def _verdict(outcome: pl.LazyFrame) -> bool | pl.LazyFrame:
    """A check's outcome per row, or True when every row passes: pandera then has no failure cases to
    look for (most checks pass on most parts)."""
    result = outcome.collect()
    return True if result.to_series().all() else result.lazy()


def _ok(data: PolarsData, expr: pl.Expr) -> bool | pl.LazyFrame:
    """A column check passes on null: whether a value is required is `nullable`'s job."""
    return _verdict(data.lazyframe.select((pl.col(data.key).is_null() | expr).fill_null(False)))


def _ok_by_value(data: PolarsData, test: pl.Expr) -> bool | pl.LazyFrame:
    """`_ok` for a test of the value alone (its shape, its check digit), run once per distinct value:
    a column holds few (codes, NPIs, line numbers), the lines are matched against the values that fail,
    and where none does, as in most parts, a hash pass is all it costs, not a regex on every line."""
    distinct = data.lazyframe.select(pl.col(data.key).unique()).collect()
    failing = distinct.filter(~test)[data.key]
    return True if failing.is_empty() else _ok(data, ~pl.col(data.key).is_in(failing.implode()))


class ClaimLineChecks(pa.DataFrameModel):
    """The checks of a claim line; `ClaimLineModel` below adds one text field per contract column."""

    class Config:
        strict = False  # helper columns from `prepare` and source_file/source_row ride along
        unique = ["claim_id", "line_number"]

    @pa.check("line_number", name="line_number_format")
    def _line_number(cls, data: PolarsData) -> bool | pl.LazyFrame:
        return _ok_by_value(data, pl.col(data.key).str.contains(LINE_NUMBER))

    @pa.check(*DATE_COLUMNS, name="date_format")
    def _date(cls, data: PolarsData) -> bool | pl.LazyFrame:
        return _ok(data, pl.col(f"_{data.key}").is_not_null())

    @pa.check("claim_filing_indicator", name="filing_indicator_code")
    def _filing_indicator(cls, data: PolarsData) -> bool | pl.LazyFrame:
        return _ok(data, pl.col(data.key).is_in(list(CLAIM_FILING_INDICATORS)))

    @pa.check("patient_sex", name="sex_code")
    def _sex(cls, data: PolarsData) -> bool | pl.LazyFrame:
        return _ok(data, pl.col(data.key).is_in(["M", "F", "U"]))

    @pa.check("billing_npi", "rendering_npi", name="npi_format")
    def _npi_format(cls, data: PolarsData) -> bool | pl.LazyFrame:
        return _ok_by_value(data, pl.col(data.key).str.contains(NPI))

    @pa.check("billing_npi", "rendering_npi", name="npi_check_digit")
    def _npi_luhn(cls, data: PolarsData) -> bool | pl.LazyFrame:
        npi = pl.col(data.key)  # an NPI of another shape is npi_format's to report
        return _ok_by_value(data, ~npi.str.contains(NPI) | npi_check_digit_ok(npi))

    @pa.check("accident_indicator", name="accident_code")
    def _accident(cls, data: PolarsData) -> bool | pl.LazyFrame:
        return _ok(data, pl.col(data.key).is_in(["AA", "EM", "OA"]))

    @pa.check("procedure_code", name="procedure_code_format")
    def _procedure(cls, data: PolarsData) -> bool | pl.LazyFrame:
        # CPT Category I (5 digits), Category II/III and PLA (4 digits + F/T/U), HCPCS Level II.
        return _ok_by_value(
            data, pl.col(data.key).str.contains(r"^([0-9]{5}|[0-9]{4}[FTU]|[A-V][0-9]{4})$")
        )

    @pa.check(*MODIFIER_COLUMNS, name="modifier_format")
    def _modifier(cls, data: PolarsData) -> bool | pl.LazyFrame:
        return _ok_by_value(data, pl.col(data.key).str.contains(r"^[A-Z0-9]{2}$"))

    @pa.check("units", name="units_positive")
    def _units(cls, data: PolarsData) -> bool | pl.LazyFrame:
        return _ok(data, pl.col("_units") > 0)

    @pa.check("charge_amount", name="charge_format")
    def _charge(cls, data: PolarsData) -> bool | pl.LazyFrame:
        return _ok(data, pl.col("_charge").is_not_null())

    @pa.check("diagnosis_pointers", name="pointer_format")
    def _pointer_format(cls, data: PolarsData) -> bool | pl.LazyFrame:
        one = r"([1-9]|1[0-2]|[A-L])"
        return _ok_by_value(data, pl.col(data.key).str.contains(rf"^{one}([,:; ]+{one}){{0,3}}$"))

    @pa.check(*DX_COLUMNS, name="icd10cm_format")
    def _dx(cls, data: PolarsData) -> bool | pl.LazyFrame:
        # With or without the dot, which may only follow the category (M54.12 = M5412).
        return _ok_by_value(
            data, pl.col(data.key).str.contains(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
        )

    @pa.check(*CLAIM_LEVEL, name="claim_field_consistent")
    def _consistent(cls, data: PolarsData) -> bool | pl.LazyFrame:
        c, claim = pl.col(data.key), pl.col("_claim_first")
        # An extract writes a claim's lines together; then a column agrees with each claim's first line
        # wherever each line agrees with the line before it in the claim: comparing neighbours costs half
        # of fetching every line's first line.
        # A column that does not agree so is compared with the first lines.
        start = claim == pl.col("_row")
        together, agree = (
            data.lazyframe.select(
                (start | (claim == claim.shift(1))).all().alias("together"),
                (start | c.eq_missing(c.shift(1))).all().alias("agree"),
            )
            .collect()
            .row(0)
        )
        if together and agree:
            return True
        first = c.gather(claim)
        if data.key not in DX_COLUMNS:
            return _verdict(data.lazyframe.select(c.eq_missing(first)))
        # M54.12 on one line and M5412 on another are the same code. Only the few rows whose text
        # differs from the claim's first line are compared without the dots: stripping every row's
        # code cost twice the rest of the check, in each of the twelve diagnosis columns.
        same = data.lazyframe.select(c.eq_missing(first)).collect().to_series()
        if same.all():
            return True
        bare = [pl.col(name).str.replace(".", "", literal=True) for name in (data.key, "_first")]
        differ = (
            data.lazyframe.select(c, first.alias("_first"))
            .with_row_index("_i")
            .filter(~pl.col(data.key).eq_missing(pl.col("_first")))
            .select("_i", bare[0].eq_missing(bare[1]).alias("_same"))
            .collect()
        )
        return _verdict(pl.LazyFrame({data.key: same.scatter(differ["_i"], differ["_same"])}))

    @pa.check("service_date", name="service_before_birth")
    def _before_birth(cls, data: PolarsData) -> bool | pl.LazyFrame:
        return _verdict(
            data.lazyframe.select(
                (pl.col("_service_date") >= pl.col("_patient_dob")).fill_null(True)
            )
        )

    @pa.check("patient_dob", name="age_over_limit")
    def _age(cls, data: PolarsData) -> bool | pl.LazyFrame:
        years = pl.col("_service_date").dt.year() - pl.col("_patient_dob").dt.year()
        return _verdict(data.lazyframe.select((years <= MAX_AGE_YEARS).fill_null(True)))

    @pa.check("injury_date", name="injury_after_service")
    def _injury_after(cls, data: PolarsData) -> bool | pl.LazyFrame:
        return _verdict(
            data.lazyframe.select(
                (pl.col("_injury_date") <= pl.col("_service_date")).fill_null(True)
            )
        )

    @pa.check("injury_date", name="injury_date_missing")
    def _injury_missing(cls, data: PolarsData) -> bool | pl.LazyFrame:
        accident = pl.col("accident_indicator")
        return _verdict(
            data.lazyframe.select(accident.is_null() | pl.col("injury_date").is_not_null())
        )

    @pa.check("diagnosis_pointers", name="pointer_to_empty_slot")
    def _pointer_slots(cls, data: PolarsData) -> bool | pl.LazyFrame:
        ok = pl.all_horizontal(
            ~pl.col("_pointers").list.contains(slot).fill_null(False) | pl.col(dx).is_not_null()
            for slot, dx in enumerate(DX_COLUMNS, 1)
        )
        return _verdict(data.lazyframe.select(ok))


# One text field per canonical column, nullable unless the contract requires it: the contract
# (validators/contract.py) is the one place that says which fields a claim line must have.
ClaimLineModel = type(
    "ClaimLineModel",
    (ClaimLineChecks,),
    {
        "__doc__": "One service line of a professional claim, as text, after `prepare`.",
        "__module__": __name__,
        "__annotations__": {c.name: str for c in COLUMNS},
        **{c.name: pa.Field(nullable=not c.required) for c in COLUMNS},
    },
)


# Which column a check of the whole frame is about: the finding points at it and later rules skip
# it. (The checks that compare fields are checks of the field they report: pandera carries only that
# column into a column check's failure cases, but every column into a frame check's.)
FRAME_CHECK_COLUMN = {"multiple_fields_uniqueness": "line_number"}
RUNTIME_CHECKS = {"service_date_after_as_of": "service_date", "pos_code": "place_of_service"}


@lru_cache(maxsize=4)
def build_schema(as_of: date, pos_codes: tuple[str, ...]) -> pa.DataFrameSchema:
    """The model plus the checks that depend on the run: the as-of date and the POS code set. Built
    once per run rather than per file or part (each build deep-copies every column)."""
    schema = ClaimLineModel.to_schema()
    after = pa.Check(
        lambda d: _verdict(d.lazyframe.select((pl.col("_service_date") <= as_of).fill_null(True))),
        name="service_date_after_as_of",
    )
    pos = pa.Check(lambda d: _ok(d, pl.col(d.key).is_in(pos_codes)), name="pos_code")
    schema = schema.update_column(
        "service_date", checks=[*schema.columns["service_date"].checks, after]
    )
    return schema.update_column(
        "place_of_service", checks=[*schema.columns["place_of_service"].checks, pos]
    )


# A check that can fail on a row whose own column is empty (it reads another column): it runs even
# when its column is empty throughout. Every other check passes an empty value (tests/test_schema.py).
FAILS_ON_EMPTY = {"injury_date_missing"}


@lru_cache(maxsize=16)
def _schema_without(
    as_of: date, pos_codes: tuple[str, ...], empty: frozenset[str]
) -> pa.DataFrameSchema:
    """build_schema without the checks of columns empty in the whole frame, which they would pass
    anyway: a small extract leaves most diagnosis and modifier slots empty."""
    schema = build_schema(as_of, pos_codes)
    return schema.update_columns(
        {
            c: {"checks": [k for k in schema.columns[c].checks if k.name in FAILS_ON_EMPTY]}
            for c in empty
        }
    )


def check_names() -> set[str]:
    """Every check the integrity stage can report: each must be owned by exactly one FLD rule."""
    schema = build_schema(date.today(), ())
    names = {"not_nullable", "multiple_fields_uniqueness"}
    names |= {c.name for col in schema.columns.values() for c in col.checks}
    names |= {c.name for c in schema.checks}
    return names


def failures(
    prepared: pl.DataFrame, as_of: date, pos_codes: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """-> (row-level failures: _row, column, check), (failures with no row: column, check).

    Only positions and check names leave this function: pandera's failure cases carry cell
    values and whole rows as JSON (PHI), so they are dropped here.
    """
    # A null count is metadata: which columns are empty costs nothing to find.
    empty = frozenset(c for c in CANONICAL if prepared[c].null_count() == prepared.height)
    try:
        _schema_without(as_of, tuple(pos_codes), empty).validate(prepared, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases.select("column", "check", "index")
    else:
        cases = pl.DataFrame(schema={"column": pl.String, "check": pl.String, "index": pl.Int32})
    frame_column = pl.col("check").replace_strict(FRAME_CHECK_COLUMN, default=pl.col("column"))
    cases = cases.with_columns(
        pl.when(pl.col("column").is_in(CANONICAL))
        .then(pl.col("column"))
        .otherwise(frame_column)
        .alias("column"),
        pl.col("check").str.replace(r"\(.*$", ""),  # built-in checks carry their arguments
    )
    rows = (
        cases.filter(pl.col("index").is_not_null())
        .select(pl.col("index").cast(pl.Int64).alias("_row"), "column", "check")
        .unique(maintain_order=True)
    )
    table = (
        cases.filter(pl.col("index").is_null())
        .select("column", "check")
        .unique(maintain_order=True)
    )
    return rows, table


def typed_lines(prepared: pl.DataFrame, failed: pl.DataFrame) -> pl.DataFrame:
    """The frame later stages use: typed values, dotted ICD-10-CM codes, `_failed` field list."""
    per_row = failed.group_by("_row").agg(pl.col("column").unique().alias("_failed"))

    def dotted(
        dx: str,
    ) -> pl.Expr:  # M5412 -> M54.12; slicing, not a regex: 12 columns x every line
        bare = pl.col(dx).str.replace(".", "", literal=True)
        return (
            pl.when(bare.str.len_bytes() > 3)
            .then(pl.concat_str(bare.str.slice(0, 3), pl.lit("."), bare.str.slice(3)))
            .otherwise(bare)
        )

    # Only the list column is joined: a join over the whole frame would copy every column.
    listed = prepared.select("_row").join(per_row, on="_row", how="left", maintain_order="left")[
        "_failed"
    ]
    # Most extracts write the dot already: a column is rewritten only when one of its codes lacks it
    # (the test is a tenth of the rewrite's cost).
    dotless = prepared.select(
        ((pl.col(dx).str.len_bytes() > 3) & ~pl.col(dx).str.contains(".", literal=True)).any()
        for dx in DX_COLUMNS
    ).row(0)
    return prepared.with_columns(
        listed.fill_null(pl.lit([], dtype=pl.List(pl.String))).alias("_failed"),
        *(dotted(dx).alias(dx) for dx, needed in zip(DX_COLUMNS, dotless, strict=True) if needed),
    )


# --------------------------------------------------------------------------- check kinds for the catalog


class FieldIntegrity(Params):
    checks: list[str]
    columns: list[str] = []


class RowStructure(Params):
    problem: str


# What a field-integrity message may say: the failing field's label and value (never for PHI
# columns), the run's as-of date, and any non-PHI column of the row.
_ROW_FIELDS = {c for c in CANONICAL if c not in PHI}
register_check(
    "field_integrity",
    params=FieldIntegrity,
    stage="integrity",
    fields={"field", "value", "as_of", *_ROW_FIELDS},
)(None)
# Row-structure examples say how the example's file is damaged before it is read: a CSV row with
# fields added or missing or written in Windows-1252, or a claim written to an 837P batch with a defect or an ICD-9 qualifier.
register_check(
    "row_structure",
    params=RowStructure,
    stage="integrity",
    fields={"problem", "claim_id", "source_row", "source_file"},
    example_keys=frozenset(
        {"csv_extra_fields", "csv_missing_fields", "csv_not_utf8", "x12_defect", "x12_dx_qualifier"}
    ),
)(None)
register_check("engine_error", params=Params, stage="internal", fields={"rule", "stage", "error"})(
    None
)
