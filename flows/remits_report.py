"""The remittance workbook, OUT/remits/<date>.remits.xlsx: what the payer's answers say about the
rules, in the denial-risk workbook's style and with its text safety (flows/report.py).

Sheets: Summary (the day's counts, provider-level adjustments), By rule (outcomes beside the YAML
weight and the weight the outcomes suggest), By CARC (with its wording), By payer, Unexplained
denials (the catalog's blind spots), Unlinked remits, Trend (every production date read so far).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import LineChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from cleanclaim.flows.report import (
    DATE,
    MONEY,
    SHEET_ROW_LIMIT,
    SafeText,
    _cells,
    _header_row,
    _sheet,
    atomic_path,
)
from cleanclaim.validators.catalog import Catalog

if TYPE_CHECKING:  # flows.outcomes writes this workbook
    from cleanclaim.flows.outcomes import Measured

PERCENT = "0%"
MONEY_NAMES = frozenset({"Charge", "Paid", "Amount", "Denied dollars", "Paid dollars"})
PERCENT_NAMES = frozenset({"Precision", "Denial rate"})


def _formats(frame: pl.DataFrame) -> dict[int, str]:
    formats = {i: MONEY for i, c in enumerate(frame.columns) if c in MONEY_NAMES}
    formats |= {i: PERCENT for i, c in enumerate(frame.columns) if c in PERCENT_NAMES}
    return formats | {i: DATE for i, t in enumerate(frame.dtypes) if t == pl.Date}


def _rows_sheet(wb: Workbook, title: str, frame: pl.DataFrame, widths: list[int]) -> SafeText:
    """A sheet of rows with a frozen, filtered header; money, percentages and dates formatted."""
    ws = _sheet(wb, title, widths)
    safe = SafeText(ws)
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(frame.columns))}{max(frame.height + 1, 2)}"
    ws.append(_header_row(ws, frame))
    formats = _formats(frame)
    for values in frame.iter_rows():
        ws.append(_cells(safe, values, formats))
    return safe


def _summary(wb: Workbook, facts: list[tuple[str, object]], warnings: list[str]) -> SafeText:
    ws = _sheet(wb, "Summary", [52, 70])
    safe = SafeText(ws)
    title = WriteOnlyCell(ws, value="cleanclaim remittance outcomes")
    title.font = Font(bold=True, size=14)
    ws.append([title])
    ws.append([])
    left = Alignment(horizontal="left")
    for key, value in facts:
        ws.append([safe(key), safe.styled(value, alignment=left)])
    for warning in warnings:
        cell = safe.styled(warning)
        cell.font = Font(bold=True, color="C00000")
        ws.append([cell])
    return safe


def _wording(catalog: Catalog) -> pl.DataFrame:
    sets = [catalog.codesets[name].table for name in ("carc", "carc_not_denial")]
    return pl.concat([t.select("code", "wording") for t in sets]).unique("code", keep="first")


def by_rule(measured: Measured, calibration: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    rules = pl.DataFrame(
        [
            {"rule_id": r.id, "Name": r.name, "Severity": r.severity, "Predicted CARC": r.carc}
            for r in catalog.rules.values()
        ]
    )
    return (
        measured.rule_outcomes.join(rules, on="rule_id", how="left")
        .join(
            calibration.select(
                "rule_id",
                pl.col("remitted").alias("_all"),
                "yaml_weight",
                "calibrated_weight",
            ),
            on="rule_id",
            how="left",
        )
        .select(
            pl.col("rule_id").alias("Rule"),
            "Name",
            "Severity",
            "Predicted CARC",
            pl.col("flagged_claims").alias("Flagged claims"),
            pl.col("remitted").alias("Answered"),
            pl.col("denied").alias("Denied"),
            pl.col("denied_with_rule_carc").alias("Denied with the rule's CARC"),
            pl.col("paid").alias("Not denied"),
            pl.col("precision").alias("Precision"),
            pl.col("yaml_weight").alias("YAML weight"),
            pl.col("calibrated_weight").alias("Weight from outcomes"),
            pl.col("_all").alias("Answered claims behind it (all remits)"),
        )
        .sort("Denied", "Rule", descending=[True, False])
    )


def by_carc(measured: Measured, catalog: Catalog) -> pl.DataFrame:
    predicting = (
        pl.DataFrame(
            [{"carc": r.denial.carc, "rule": r.id} for r in catalog.rules.values() if r.denial],
            schema={"carc": pl.String, "rule": pl.String},
        )
        .group_by("carc")
        .agg(pl.col("rule").sort().str.join(", ").alias("Rules that predict it"))
    )
    return (
        measured.denials.group_by("group", "carc")
        .agg(
            pl.col("claim_id").n_unique().alias("Denied claims"),
            pl.len().alias("Adjustments"),
            pl.col("amount").sum().alias("Denied dollars"),
            pl.col("claim_id").filter("predicted").n_unique().alias("Predicted by a finding"),
        )
        .join(_wording(catalog), left_on="carc", right_on="code", how="left")
        .join(predicting, on="carc", how="left")
        .select(
            pl.col("group").alias("Group"),
            pl.col("carc").alias("CARC"),
            pl.col("wording")
            .fill_null("(not in cleanclaim's CARC wording subset)")
            .alias("Wording"),
            "Denied claims",
            "Adjustments",
            "Denied dollars",
            "Predicted by a finding",
            "Rules that predict it",
        )
        .sort("Denied dollars", descending=True)
    )


def by_payer(measured: Measured) -> pl.DataFrame:
    return (
        measured.claims.group_by("payer_id", "payer_name")
        .agg(
            pl.len().alias("Claims"),
            pl.col("denied").sum().alias("Denied"),
            pl.col("paid").sum().alias("Paid dollars"),
            pl.col("denied_dollars").sum().alias("Denied dollars"),
        )
        .select(
            pl.col("payer_id").alias("Payer ID"),
            pl.col("payer_name").alias("Payer"),
            "Claims",
            "Denied",
            (pl.col("Denied") / pl.col("Claims")).alias("Denial rate"),
            "Paid dollars",
            "Denied dollars",
        )
        .sort("Denied dollars", descending=True)
    )


def _trend_sheet(wb: Workbook, trend: pl.DataFrame, title: str) -> SafeText:
    frame = trend.select(
        pl.col("production_date").alias("Production date"),
        pl.col("files").alias("Files"),
        pl.col("claims").alias("Claims"),
        pl.col("linked").alias("Linked"),
        pl.col("denied").alias("Denied"),
        (pl.col("denied") / pl.col("claims")).alias("Denial rate"),
        pl.col("predicted").alias("Denials a rule flagged"),
        pl.col("unexplained").alias("Unexplained denials"),
        pl.col("denied_dollars").alias("Denied dollars"),
    )
    safe = _rows_sheet(wb, title, frame, [15, 7, 9, 9, 9, 12, 20, 20, 15])
    if frame.height:
        chart = LineChart()
        chart.title, chart.legend, chart.height, chart.width = (
            "Denial rate by remit date",
            None,
            7,
            18,
        )
        chart.y_axis.number_format = PERCENT
        chart.x_axis.delete = chart.y_axis.delete = False  # openpyxl 3.1 hides both axes otherwise
        chart.add_data(
            Reference(safe.ws, min_col=6, min_row=1, max_row=frame.height + 1),
            titles_from_data=True,
        )
        chart.set_categories(Reference(safe.ws, min_col=1, min_row=2, max_row=frame.height + 1))
        safe.ws.add_chart(chart, f"A{frame.height + 4}")
    return safe


def remit_sheets(
    wb: Workbook,
    measured: Measured,
    calibration: pl.DataFrame,
    trend: pl.DataFrame,
    catalog: Catalog,
    prefix: str = "",
) -> list[SafeText]:
    """The outcome sheets, added to `wb` (this module's workbook, or with a prefix such as
    "Remits " a night's consolidated workbook, whose sheet names they must not repeat)."""
    unexplained, unlinked, _ = blind_spots(measured, catalog)
    return [
        _rows_sheet(
            wb,
            f"{prefix}By rule",
            by_rule(measured, calibration, catalog),
            [9, 34, 9, 10, 9, 9, 8, 12, 10, 10, 9, 12, 14],
        ),
        _rows_sheet(
            wb, f"{prefix}By CARC", by_carc(measured, catalog), [7, 7, 70, 9, 11, 14, 12, 30]
        ),
        _rows_sheet(wb, f"{prefix}By payer", by_payer(measured), [12, 30, 9, 9, 10, 14, 14]),
        _rows_sheet(wb, f"{prefix}Unexplained denials", unexplained, [14, 6, 7, 7, 70, 14, 12]),
        _rows_sheet(wb, f"{prefix}Unlinked remits", unlinked, [14, 8, 12, 12, 24, 30, 8]),
        _trend_sheet(wb, trend, f"{prefix}Trend"),
    ]


def blind_spots(
    measured: Measured, catalog: Catalog
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """The Unexplained denials and Unlinked remits rows (at most SHEET_ROW_LIMIT each, the largest
    first) and the warnings that say when a sheet was cut."""
    unexplained = (
        measured.unexplained.join(_wording(catalog), left_on="carc", right_on="code", how="left")
        .select(
            pl.col("claim_id").alias("Claim"),
            pl.col("line_number").alias("Line"),
            pl.col("group").alias("Group"),
            pl.col("carc").alias("CARC"),
            pl.col("wording").alias("CARC wording"),
            pl.col("rarc").alias("RARC"),
            pl.col("amount").alias("Amount"),
        )
        .sort("Amount", descending=True)
    )
    unlinked = measured.unlinked.select(
        pl.col("claim_id").alias("Claim"),
        pl.col("status").alias("CLP02 status"),
        pl.col("charge").alias("Charge"),
        pl.col("paid").alias("Paid"),
        pl.col("payer_claim_control").alias("Payer claim control number"),
        pl.col("payer_name").alias("Payer"),
        pl.col("denied").alias("Denied"),
    ).sort("Charge", descending=True, nulls_last=True)
    cut = [
        f"The {name} sheet shows the {SHEET_ROW_LIMIT:,} largest of {frame.height:,} rows; all are in "
        f"the {name.lower()} CSV file under OUT/remits/."
        for name, frame in (("Unexplained denials", unexplained), ("Unlinked remits", unlinked))
        if frame.height > SHEET_ROW_LIMIT
    ]
    return unexplained.head(SHEET_ROW_LIMIT), unlinked.head(SHEET_ROW_LIMIT), cut


def write_remits_workbook(
    path: Path,
    facts: list[tuple[str, object]],
    measured: Measured,
    calibration: pl.DataFrame,
    trend: pl.DataFrame,
    catalog: Catalog,
) -> dict:
    wb = Workbook(write_only=True)
    parts = [
        _summary(wb, facts, blind_spots(measured, catalog)[2]),
        *remit_sheets(wb, measured, calibration, trend, catalog),
    ]
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return {
        "texts_truncated": sum(p.truncated for p in parts),
        "written_at": datetime.now().isoformat(timespec="seconds"),
    }
