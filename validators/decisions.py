"""What analysts decided about findings, applied to a run: pure functions on frames.

A finding is known across nights by its key: the claim, the line's procedure, modifiers (in any
order) and service date, and the rule -- never a row number or a file name, which change when a
corrected claim comes again in a new file. A claim-level finding's key is its claim and rule.

Decisions: Open (the default), Fixed, Override, False positive. An Override or False positive
finding stays listed with its decision but no longer counts toward its claim's status, score or
dollars at risk; a Fixed finding that comes back counts again and is marked recurred.
"""

from __future__ import annotations

import polars as pl

from cleanclaim.validators.scoring import claim_key

OPEN, FIXED, OVERRIDE, FALSE_POSITIVE = "Open", "Fixed", "Override", "False positive"
STATUSES = (OPEN, FIXED, OVERRIDE, FALSE_POSITIVE)
NOT_COUNTED = (OVERRIDE, FALSE_POSITIVE)
MODIFIERS = ("modifier_1", "modifier_2", "modifier_3", "modifier_4")

# The latest decision per finding key, as the run history gives it (flows/history.py).
DECISION_SCHEMA: dict[str, pl.DataType] = {
    "seq": pl.Int64,  # its number in the audit trail: the workbook lists it beside the decision
    "finding_key": pl.String,
    "status": pl.String,
    "reason": pl.String,
    "owner": pl.String,
    "author": pl.String,
    "decided_at": pl.Datetime("us"),
}
# What `decide` adds to each finding.
APPLIED = (
    "finding_key",
    "seq",
    "status",
    "reason",
    "owner",
    "author",
    "decided_at",
    "recurred",
    "counts",
)


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=DECISION_SCHEMA)


def row_id() -> pl.Expr:
    """A row's file and row number as one integer: joins on it hash no text (the file's name stands
    as its categorical code, which is the same in every frame of the process)."""
    code = pl.col("source_file").cast(pl.Categorical()).to_physical().cast(pl.Int64)
    return code * 2**32 + pl.col("source_row")


def keyed(findings: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """The findings with their `finding_key` (`lines`: the run's validated lines, for the procedure,
    modifiers and service date of the line a finding names)."""
    wanted = findings.select(row_id().alias("_rid"))
    # only the lines findings name: a million-line run has a fraction of its lines flagged
    named = lines.select(
        row_id().alias("_rid"), "procedure_code", *MODIFIERS, "_service_date"
    ).join(wanted, on="_rid", how="semi")
    modifier = [pl.when(pl.col(m) != "").then(pl.col(m)) for m in MODIFIERS]
    # the list work only for the lines that have a modifier: most have none
    modified = named.filter(pl.any_horizontal(m.is_not_null() for m in modifier)).select(
        "_rid", pl.concat_list(modifier).list.drop_nulls().list.sort().list.join("+").alias("_mods")
    )
    line_part = pl.format(
        "{}|{}|{}",
        pl.col("procedure_code").fill_null(""),
        pl.col("_mods").fill_null(""),
        pl.col("_service_date").dt.to_string("%Y-%m-%d").fill_null(""),
    )
    # each named line's part of the key, made once per line rather than once per finding
    line_facts = named.join(modified, on="_rid", how="left", maintain_order="left").select(
        "_rid", line_part.alias("_line")
    )
    # joined on the keys alone and set beside the findings: a join of the findings themselves would
    # copy every message and fix (a source row is one line, so the heights agree)
    facts = wanted.join(line_facts, on="_rid", how="left", maintain_order="left")
    joined = pl.concat([findings, facts.drop("_rid")], how="horizontal")
    key = pl.format(
        "{}|{}|{}",
        claim_key(),
        pl.when(pl.col("line_number").is_null() | pl.col("_line").is_null())
        .then(pl.lit("||"))  # the whole claim (or a row that never became a line)
        .otherwise(pl.col("_line")),
        pl.col("rule_id"),
    )
    return joined.with_columns(key.alias("finding_key")).drop("_line")


def decide(findings: pl.DataFrame, decisions: pl.DataFrame | None) -> pl.DataFrame:
    """Keyed findings with each one's decision (APPLIED columns): `status` Open unless decided,
    `recurred` when the last decision was Fixed and the finding came back, `counts` false for an
    Override or a False positive."""
    latest = empty() if decisions is None else decisions.select(*DECISION_SCHEMA)
    if latest.is_empty():  # most runs before anyone decides: no join over every finding
        joined = findings.with_columns(
            pl.lit(None, dtype=t).alias(c) for c, t in DECISION_SCHEMA.items() if c != "finding_key"
        )
    else:
        joined = findings.join(
            latest.cast(DECISION_SCHEMA),  # type: ignore[arg-type]
            on="finding_key",
            how="left",
            maintain_order="left",
        )
    return joined.with_columns(
        (pl.col("status") == FIXED).fill_null(False).alias("recurred"),
        (~pl.col("status").is_in(list(NOT_COUNTED))).fill_null(True).alias("counts"),
        _shown(pl.col("status")).alias("status"),
    )


def _shown(status: pl.Expr) -> pl.Expr:
    """The status a finding is listed with: Open unless decided; a Fixed finding that is listed has
    come back, so it is open again (and marked recurred)."""
    return pl.when(status == FIXED).then(pl.lit(OPEN)).otherwise(status).fill_null(OPEN)


def normalise(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows read from a workbook (finding_key, status, reason, owner, listed: the decision number
    it was written with; all text) made comparable: a status matched to STATUSES whatever its case
    (blank is Open; anything else is dropped), blank reason and owner null, one row per key."""
    canonical = {s.casefold(): s for s in STATUSES}
    text = [pl.col(c).cast(pl.String).str.strip_chars() for c in ("reason", "owner")]
    return (
        rows.filter(pl.col("finding_key").is_not_null())
        .with_columns(
            pl.col("status")
            .cast(pl.String)
            .str.strip_chars()
            .str.to_lowercase()
            .fill_null("open")
            .replace_strict(canonical, default=None),
            *(
                pl.when(t != "").then(t).alias(c)
                for t, c in zip(text, ("reason", "owner"), strict=True)
            ),
            pl.col("listed").cast(pl.Float64, strict=False).cast(pl.Int64),
        )
        .filter(pl.col("status").is_not_null())
        .unique("finding_key", keep="last", maintain_order=True)
        .select("finding_key", "status", "reason", "owner", "listed")
    )


def changes(rows: pl.DataFrame, log: pl.DataFrame) -> pl.DataFrame:
    """The rows of a workbook that record something new: a status, reason or owner other than the
    workbook listed the finding with (the decision numbered `listed` in the audit trail `log`, or
    Open). Compared with what the workbook showed, not with the latest decision, so a stale
    workbook saved for another finding never undoes a later decision."""
    listed = log.select(
        pl.col("seq").alias("listed"),
        _shown(pl.col("status")).alias("_status"),
        pl.col("reason").alias("_reason"),
        pl.col("owner").alias("_owner"),
    )
    joined = rows.join(listed, on="listed", how="left").with_columns(
        pl.col("_status").fill_null(OPEN)
    )
    same = [
        pl.col(c).fill_null("") == pl.col(f"_{c}").fill_null("")
        for c in ("status", "reason", "owner")
    ]
    return joined.filter(~pl.all_horizontal(same)).select(
        "finding_key", "status", "reason", "owner"
    )
