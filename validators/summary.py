"""The run in numbers: the per-claim table (scored) and the Summary's tables, for the workbook and the terminal.

Dollars at risk: the charges of the lines named by the findings that set a claim's status (high
or medium, and not overridden or a false positive); a claim-level finding (no line number) puts
the whole claim at risk. Each line counts once however many findings it has.
Claims are keyed by file and claim id, so the same id in two extracts is two claims.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from cleanclaim.validators import decisions as dec
from cleanclaim.validators.catalog import CATEGORIES, SEVERITIES, Catalog
from cleanclaim.validators.findings import SEVERITY_ORDER, as_text, lexical_rank
from cleanclaim.validators.scoring import STATUS_ORDER, claim_key, score

# The columns of the validated lines this module reads (a run that read nothing has exactly these).
LINES_SCHEMA = {
    "source_file": pl.String,
    "source_row": pl.Int64,
    "claim_id": pl.String,
    "patient_id": pl.String,
    "payer_id": pl.String,
    "payer_name": pl.String,
    "billing_npi": pl.String,
    "rendering_npi": pl.String,
    "_service_date": pl.Date,
    "_line_number": pl.Int64,
    "_charge": pl.Float64,
    "claim_filing_indicator": pl.String,  # the claim's type decides its filing limit
    # what a finding's key names of its line (validators/decisions.py keyed)
    "procedure_code": pl.String,
    **dict.fromkeys(dec.MODIFIERS, pl.String),
}


DOLLAR_SEVERITIES = ("high", "medium")  # what sets a claim's status puts its dollars at risk


# What scoring and the work order read of each finding: never its message or fix.
WORKED_COLUMNS = (
    "claim_id",
    "line_number",
    "rule_id",
    "category",
    "severity",
    "source_file",
    "source_row",
)


def line_claims(lines: pl.DataFrame) -> pl.Series:
    """Each line's claim as an integer, `_claim`: the claims (file and claim key) numbered in the
    order they first come in their files, whatever order the parts of a file were checked and
    concatenated in (its first row; the files in the order of the lines). The text is hashed once,
    here: joins and group-bys on the number hash none."""
    file_at = pl.col("_i").min().over("source_file").cast(pl.Int64)
    first_row = pl.col("source_row").min().over("source_file", claim_key())
    return (
        lines.select("source_file", "claim_id", "source_row")
        .with_row_index("_i")
        .select(((file_at * 2**32 + first_row).rank("dense") - 1).cast(pl.UInt32).alias("_claim"))
        .to_series()
    )


def _finding_claims(picked: pl.DataFrame, lines: pl.DataFrame, claims: pl.Series) -> pl.Series:
    """Each finding's `_claim` (line_claims `claims`): its line's, joined on the row as one integer,
    when the line's claim id is its own; else found by the file and claim key, and a claim no line
    has (its rows set aside) numbered after the lines' in the order it first comes."""
    rows = lines.select(dec.row_id().alias("_rid"), pl.col("claim_id").alias("_id"), claims)
    if rows["_rid"].is_duplicated().any():  # files of one name (two folders) share row numbers
        found = pl.Series("_claim", [None] * picked.height, dtype=pl.UInt32)
    else:
        found = (
            picked.select(dec.row_id().alias("_rid"), "claim_id")
            .join(rows, on="_rid", how="left", maintain_order="left")
            .select(pl.when(pl.col("claim_id").eq_missing(pl.col("_id"))).then("_claim"))
            .to_series()
        )
    rest = found.is_null().arg_true()
    if rest.is_empty():
        return found.alias("_claim")
    text = pl.col("source_file").cast(pl.String), claim_key().alias("claim")
    named = lines.select(*text, claims).unique(["source_file", "claim"])
    unnamed = (
        picked[rest]
        .select(*text)
        .join(named, on=["source_file", "claim"], how="left", maintain_order="left")
        .with_row_index("_i")
    )
    numbers, new = unnamed["_claim"], unnamed["_claim"].is_null().arg_true()
    if not new.is_empty():  # a claim no line has: numbered after the lines' claims
        first = pl.col("_i").first().over("source_file", "claim")
        after = claims.max() + 1 if claims.len() else 0
        numbers = numbers.scatter(
            new, unnamed[new].select((first.rank("dense") - 1).cast(pl.UInt32) + after).to_series()
        )
    return found.scatter(rest, numbers).alias("_claim")


def worked(
    findings: pl.DataFrame,
    lines: pl.DataFrame,
    claims: pl.Series,
    decisions: pl.DataFrame | None,
) -> pl.DataFrame:
    """WORKED_COLUMNS of every finding with its decision (`status`, `recurred`, `counts`), `_f`, its
    row in `findings`, `_rid`, its row as one integer (decisions.row_id), and `_claim`, its claim's
    number (`claims`: line_claims(lines)). The findings are keyed only when there are decisions to
    match them with: the keys themselves are shown only for the findings a sheet lists (shown)."""
    picked = findings.select(*WORKED_COLUMNS).with_row_index("_f")
    if decisions is not None and not decisions.is_empty():
        picked = dec.keyed(picked, lines)
    return dec.decide(picked, decisions).select(
        "_f",
        *WORKED_COLUMNS,
        "status",
        "recurred",
        "counts",
        dec.row_id().alias("_rid"),
        _finding_claims(picked, lines, claims),
    )


def finding_lines(lines: pl.DataFrame, claims: pl.Series, worked: pl.DataFrame) -> pl.DataFrame:
    """(_f, rule_id, _claim, _rid, charge, dollars) for every line each finding names: its own
    line, or every line of its claim for a claim-level finding. `worked`: the run's findings with
    their decisions and numbers (worked); `claims`: line_claims(lines); `dollars` marks the
    findings that put dollars at risk (counted, high or medium: advisory findings do not)."""
    line_keys = lines.select(dec.row_id().alias("_rid"), claims, pl.col("_charge").alias("charge"))
    keyed = worked.select(
        "_f",
        "rule_id",
        "_rid",
        "line_number",
        "_claim",
        (pl.col("counts") & pl.col("severity").is_in(list(DOLLAR_SEVERITIES))).alias("dollars"),
    )
    whole_claim = (
        keyed.filter(pl.col("line_number").is_null())
        .drop("_rid", "line_number")
        .join(line_keys, on="_claim", how="inner")
    )
    one_line = (
        keyed.filter(pl.col("line_number").is_not_null())
        .drop("_claim", "line_number")
        .join(line_keys, on="_rid", how="inner")
    )
    return pl.concat([whole_claim, one_line], how="diagonal_relaxed")


def _timely_filing(catalog: Catalog) -> dict:
    """The params of the catalog's timely-filing rules (TMF001/TMF002 share them); none: {}."""
    return next((r.params for r in catalog.rules.values() if r.check == "timely_filing"), {})


def default_filing_days(catalog: Catalog) -> int:
    """Days to file for a payer the run configuration's `timely_filing_days` does not name: the
    timely-filing rules' own default (180 days when the catalog has none)."""
    return _timely_filing(catalog).get("default_days", 180)


def filing_months(catalog: Catalog) -> dict[str, int]:
    """Claim type (837P SBR09) -> months to file from the date of service, as the timely-filing
    rules have them (Medicare: 12)."""
    limits = _timely_filing(catalog).get("by_filing_indicator", {})
    return {code: limit["months"] for code, limit in limits.items()}


def claims(
    lines: pl.DataFrame,
    line_claim: pl.Series,
    worked: pl.DataFrame,
    named: pl.DataFrame,
    catalog: Catalog,
    *,
    as_of: date,
    filing_days: dict[str, int] | None = None,
) -> pl.DataFrame:
    """One row per claim: identifiers, payer, provider, dates, days left to file, billed, at risk,
    score, status, reasons. Dollars first: the most dollars at risk, then hold before review before
    clean, then the higher score; ties in the order the claims come in the files (a stable sort on
    numbers: sorting 500k claims on their string keys as tie-breakers took 0.5 s), with `_claim`,
    the claim's number. `line_claim`: line_claims(lines); `worked`: the findings with their
    decisions and numbers (worked); `named`: finding_lines(...), computed once per run.
    A claim's billed amount is unknown (null) when a line's charge could not be read."""
    if "claim_filing_indicator" not in lines.columns:  # outcomes staged by an earlier version
        lines = lines.with_columns(pl.lit(None, pl.String).alias("claim_filing_indicator"))
    base = (
        lines.with_columns(line_claim)
        .group_by("_claim")
        .agg(
            pl.col("source_file").first(),
            claim_key().first().alias("claim"),
            pl.col("claim_id").first(),
            pl.col("patient_id").first(),
            pl.col("payer_id").first(),
            pl.col("payer_name").first(),
            pl.coalesce("rendering_npi", "billing_npi").first().alias("provider"),
            pl.col("_service_date").min().alias("first_service"),
            pl.col("claim_filing_indicator").first(),
            pl.col("_service_date").max().alias("last_service"),
            pl.len().alias("lines"),
            pl.when(pl.col("_charge").is_null().any())
            .then(None)
            .otherwise(pl.col("_charge").sum().round(2))
            .alias("billed"),
        )
        .sort("_claim")
    )
    # A claim whose every row was set aside (FLD025) has findings but no validated lines: it must
    # still be listed, on hold, with its billed amount unknown rather than a reassuring $0.
    # (numbered after the lines' claims: line_claims)
    unread = (
        worked.filter(pl.col("_claim") >= base.height)
        .group_by("_claim", maintain_order=True)
        .agg(
            pl.col("source_file").first(),
            claim_key().first().alias("claim"),
            pl.col("claim_id").first(),
        )
        .with_columns(pl.lit(0, pl.UInt32).alias("lines"))
    )
    base = pl.concat([base, unread], how="diagonal_relaxed")
    at_risk = (
        named.select("_rid", "_claim", "charge")
        .filter(named["dollars"])
        .unique("_rid")
        .group_by("_claim")
        .agg(pl.col("charge").sum().round(2).alias("at_risk"))
    )
    # the last day to file, as TMF001/TMF002 reckon it: the payer's configured days, else the
    # claim type's months (Medicare 12), else the rules' default days
    first, indicator = pl.col("first_service"), pl.col("claim_filing_indicator")
    configured = pl.col("payer_id").replace_strict(
        filing_days or {}, default=None, return_dtype=pl.Int64
    )
    deadline = pl.when(configured.is_not_null()).then(first + pl.duration(days=configured))
    for code, months in filing_months(catalog).items():
        deadline = deadline.when(indicator == code).then(first.dt.offset_by(f"{months}mo"))
    deadline = deadline.otherwise(first + pl.duration(days=default_filing_days(catalog)))
    return (
        base.join(at_risk, on="_claim", how="left")
        .join(
            score(
                worked.select("_claim", "rule_id", "severity").filter(worked["counts"]),
                catalog,
                by=["_claim"],
            ),
            on="_claim",
            how="left",
        )
        .with_columns(
            pl.col("at_risk").fill_null(0.0),
            pl.col("score").fill_null(0),
            pl.col("status").fill_null("clean"),
            pl.col("top_reasons").fill_null(""),
            (deadline - pl.lit(as_of)).dt.total_days().alias("days_left"),
        )
        .sort(
            "at_risk",
            pl.col("status").replace_strict(STATUS_ORDER, return_dtype=pl.Int8),
            "score",
            descending=[True, False, True],
            maintain_order=True,
        )
    )


# What the work order keeps of each finding: what the Summary counts by. The few findings a sheet
# shows are gathered whole from the findings by `_f` (shown), so their messages are never copied.
ORDER_COLUMNS = ("_f", "rule_id", "category", "severity", "counts", "status", "recurred")


def work_order(
    worked: pl.DataFrame, claims_table: pl.DataFrame, named: pl.DataFrame
) -> pl.DataFrame:
    """The findings in the order an analyst works them -- claim by claim in the claims' order, the
    findings that count first, most severe first -- as ORDER_COLUMNS, each with `attributed`: the
    dollars at risk counted at it, each line's charge at the first finding that puts it at risk,
    and `_claim_rank`, its claim's row in the claims table. Summed over any set of claims,
    `attributed` gives their dollars at risk; `charge_at_risk` (the lines a finding names)
    overlaps between findings and is not additive."""
    # each claim's row in the claims table, by its number (numbers are 0 .. claims - 1): the
    # order is found on the keys and the findings gathered by it once, with no join
    rows = pl.int_range(claims_table.height, dtype=pl.UInt32, eager=True)
    rank = pl.zeros(claims_table.height, dtype=pl.UInt32, eager=True)
    claim_rank = rank.scatter(claims_table["_claim"], rows).gather(worked["_claim"])
    order = (
        worked.select("counts", "severity", "source_row", "rule_id", "_f")
        .select(
            pl.arg_sort_by(
                pl.lit(claim_rank),
                "counts",
                pl.col("severity").replace_strict(SEVERITY_ORDER, return_dtype=pl.Int8),
                "source_row",
                lexical_rank(worked, "rule_id"),  # a categorical sorts by its text, row by row
                "_f",
                descending=[False, True, False, False, False, False],
                nulls_last=True,
            )
        )
        .to_series()
    )
    ordered = worked.select(*ORDER_COLUMNS, claim_rank.alias("_claim_rank"))[order].with_row_index(
        "_order"
    )
    first = (
        named.select("_f", "_rid", "charge")
        .filter(named["dollars"])
        .join(ordered.select("_f", "_order"), on="_f", how="inner")
        .sort("_order")
        .unique("_rid", keep="first", maintain_order=True)
        .group_by("_f")
        .agg(pl.col("charge").sum().alias("attributed"))
    )
    attributed = (
        ordered.select("_f")
        .join(first, on="_f", how="left", maintain_order="left")["attributed"]
        .fill_null(0.0)
        .round(2)
    )
    return ordered.select(*ORDER_COLUMNS, attributed.alias("attributed"), "_claim_rank")


def to_work(ordered: pl.DataFrame, claims_table: pl.DataFrame) -> pl.Series:
    """The positions in the work order of the findings the Findings sheet lists: those of the
    claims that need action (hold or review), and any finding someone has decided about, so an
    overridden finding stays listed with its decision."""
    claim_status = claims_table["status"].gather(ordered["_claim_rank"])
    listed = (claim_status != "clean") | (ordered["status"] != dec.OPEN) | ordered["recurred"]
    return listed.arg_true()


def shown(
    findings: pl.DataFrame,
    lines: pl.DataFrame,
    decisions: pl.DataFrame | None,
    rows: pl.DataFrame,
) -> pl.DataFrame:
    """Rows of the work order (`_f`, `attributed`) as the sheets show them: the whole findings,
    with their keys, decisions, `claim` and `attributed`, their text columns text."""
    picked = as_text(findings[rows["_f"]])
    return dec.decide(dec.keyed(picked, lines), decisions).with_columns(
        claim_key().alias("claim"), rows["attributed"]
    )


def _by(claims_table: pl.DataFrame, column: str, label: str) -> pl.DataFrame:
    return (
        claims_table.group_by(pl.col(column).fill_null("(none)").alias(label))
        .agg(
            pl.len().alias("Claims"),
            (pl.col("status") == "hold").sum().alias("On hold"),
            (pl.col("status") == "review").sum().alias("To review"),
            pl.col("billed").sum().round(2).alias("Billed"),
            pl.col("at_risk").sum().round(2).alias("Dollars at risk"),
        )
        .sort("Dollars at risk", label, descending=[True, False])
    )


AGE_BUCKETS = ((30, "0-30"), (60, "31-60"), (90, "61-90"), (180, "91-180"))


def _rule_decisions(ordered: pl.DataFrame) -> pl.DataFrame:
    """Each rule with a decided finding: its findings by decision, and its measured noise, the share
    overridden or marked a false positive."""
    status = pl.col("status")
    return (
        ordered.group_by("rule_id")
        .agg(
            pl.len().alias("Findings"),
            (status == dec.OPEN).sum().alias("Open"),
            (status == dec.FIXED).sum().alias("Fixed"),
            pl.col("recurred").sum().alias("Recurred"),
            (status == dec.OVERRIDE).sum().alias("Override"),
            (status == dec.FALSE_POSITIVE).sum().alias("False positive"),
        )
        .filter((pl.col("Open") < pl.col("Findings")) | (pl.col("Recurred") > 0))
        .with_columns(
            pl.col("rule_id").cast(pl.String),
            (pl.col("Override") / pl.col("Findings")).alias("Override rate"),
            (pl.col("False positive") / pl.col("Findings")).alias("False-positive rate"),
        )
        .sort(
            pl.col("Override") + pl.col("False positive"),
            "Findings",
            "rule_id",
            descending=[True, True, False],
        )
        .rename({"rule_id": "Rule"})
    )


def _open_by_age(ordered: pl.DataFrame, claims_table: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Open findings that count, by days since their claim's first service (accounts-receivable
    aging), with the dollars at risk counted at them."""
    days = (pl.lit(as_of) - pl.col("first_service")).dt.total_days()
    bucket = pl.lit("over 180")
    for upper, label in reversed(AGE_BUCKETS):
        bucket = pl.when(days <= upper).then(pl.lit(label)).otherwise(bucket)
    bucket = pl.when(days.is_null()).then(pl.lit("(no service date)")).otherwise(bucket)
    open_ = ordered.select("_claim_rank", "counts", "status", "attributed").filter(
        pl.col("counts") & (pl.col("status") != dec.FIXED)
    )
    counted = (
        open_.with_columns(claims_table["first_service"].gather(open_["_claim_rank"]))
        .group_by(bucket.alias("Days since service"))
        .agg(
            pl.len().alias("Open findings"),
            pl.col("_claim_rank").n_unique().alias("Claims"),
            pl.col("attributed").sum().round(2).alias("Dollars at risk"),
        )
    )
    labels = [label for _, label in AGE_BUCKETS] + ["over 180", "(no service date)"]
    return (
        pl.DataFrame({"Days since service": labels})
        .join(counted, on="Days since service", how="left")
        .with_columns(
            pl.col("Open findings").fill_null(0),
            pl.col("Claims").fill_null(0),
            pl.col("Dollars at risk").fill_null(0.0),
        )
        .filter(pl.col("Open findings") > 0)
    )


def summarize(
    claims_table: pl.DataFrame,
    ordered: pl.DataFrame,
    named: pl.DataFrame,
    catalog: Catalog,
    as_of: date,
) -> dict[str, pl.DataFrame]:
    """The Summary's tables, in reading order. `ordered` is work_order(...): the findings with their
    decisions and attributed dollars; `named` is finding_lines(...)."""
    status = claims_table.group_by(pl.col("status").alias("Status")).agg(
        pl.len().alias("Claims"),
        pl.col("billed").sum().round(2).alias("Billed"),
        pl.col("at_risk").sum().round(2).alias("Dollars at risk"),
    )
    status = (
        pl.DataFrame({"Status": list(STATUS_ORDER)})
        .join(status, on="Status", how="left")
        .with_columns(
            pl.col("Claims").fill_null(0),
            pl.col("Billed").fill_null(0.0),
            pl.col("Dollars at risk").fill_null(0.0),
        )
    )

    # one row per category and severity: the Summary's tables hold text
    counts = ordered.group_by("category", "severity").len().pipe(as_text)
    by_category = pl.DataFrame({"category": list(CATEGORIES)})
    if counts.height:
        by_category = by_category.join(
            counts.pivot(on="severity", index="category", values="len"), on="category", how="left"
        )
    by_category = by_category.with_columns(
        *(
            pl.col(s).fill_null(0).cast(pl.Int64)
            if s in by_category.columns
            else pl.lit(0, pl.Int64).alias(s)
            for s in SEVERITIES
        )
    ).select("category", *SEVERITIES)
    by_category = (
        by_category.with_columns(pl.sum_horizontal(*SEVERITIES).alias("total"))
        .filter(pl.col("total") > 0)
        .rename(
            {
                "category": "Category",
                "high": "High",
                "medium": "Medium",
                "low": "Low",
                "total": "Total",
            }
        )
    )

    named_dollars = (
        named.select("rule_id", "_rid", "charge")
        .filter(named["dollars"])
        .unique(["rule_id", "_rid"])
        .group_by("rule_id")
        .agg(pl.col("charge").sum().alias("named"))
        .pipe(as_text)  # one row per rule: text, as rule_info
    )
    rule_info = pl.DataFrame(
        [{"rule_id": r.id, "name": r.name, "severity": r.severity} for r in catalog.rules.values()]
    )
    top = (
        ordered.group_by("rule_id")
        .agg(
            pl.len().alias("Findings"),
            pl.col("_claim_rank").n_unique().alias("Claims"),
            pl.col("attributed").sum().alias("at_risk"),
        )
        .pipe(as_text)
        .join(named_dollars, on="rule_id", how="left")
        .join(rule_info, on="rule_id", how="left")
        .with_columns(pl.col("at_risk").round(2), pl.col("named").fill_null(0.0).round(2))
        .sort(["at_risk", "named", "Findings", "rule_id"], descending=[True, True, True, False])
        .select(
            pl.col("rule_id").alias("Rule"),
            pl.col("name").alias("Name"),
            pl.col("severity").alias("Severity"),
            "Findings",
            "Claims",
            pl.col("at_risk").alias("Dollars at risk"),
            pl.col("named").alias("Dollars named (not additive)"),
        )
    )
    return {
        "Claims by status": status,
        "Findings by category": by_category,
        "Rules by dollars at risk": top,
        "Rules by decision": _rule_decisions(ordered),
        "Open findings by age": _open_by_age(ordered, claims_table, as_of),
        "By payer": _by(claims_table, "payer_id", "Payer"),
        "By rendering provider": _by(claims_table, "provider", "Provider NPI"),
    }
