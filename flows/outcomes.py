"""Remittances measured against the rules: which flagged claims the payer really denied, which
denials no rule predicted, and weights calibrated on a team's own outcomes.

The payer's answer to a claim is its latest adjudication across every 835 read (the run history,
flows/history.py RemitHistory): a reversal (CLP02 22) takes back the answer before it and the
correction that follows is the answer; a claim whose last word is a reversal has no answer yet.

- **Linking.** CLP01 is the patient control number, the claim id cleanclaim validated; the claim
  is the one of the latest validated file that had that id. A service line links by its REF*6R
  line item control number when present (its trailing digits name the line number, so `1234-2`
  and `2` both name line 2), otherwise by procedure, modifiers (in any order) and service date, the
  n-th such remit line to the n-th such claim line (the history keeps no line charge, so charge
  does not take part). Remits that link to nothing are listed, never dropped.
- **Denial.** An adjustment of group CO or PI with a positive amount whose CARC is not a
  contractual write-off or payment reduction (rules/codesets/carc_not_denial.csv: 45, 59, 253 ...),
  or a claim the payer reports as denied (CLP02 4). PR (patient responsibility) and OA/CR
  adjustments are not denials.
- **Per rule** over the claims it flagged that have an answer: remitted, denied (any denial on the
  claim), denied_with_rule_carc (a denial carrying the CARC the rule's YAML predicts), paid (not
  denied), precision = denied / remitted. flagged_claims counts the claims the rule flagged in the
  validated files the remittance answers, answered or not.
- **Unexplained**: the denials on linked claims that no finding flagged -- the catalog's blind spots.
- **Calibration**: the rule's YAML weight times its severity factor is the prior mean of its denial
  rate (Beta prior worth PRIOR_CLAIMS claims); the posterior mean after its outcomes, divided by the
  factor again, is the weight the outcomes suggest. It is only ever written as a run-configuration
  override for a person to review (`--write-weights`), never applied by itself.

No names or member ids are read (flows/remits.py); what is written is claim ids, codes and dollars.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import polars as pl
from openpyxl import Workbook

from cleanclaim.flows.history import RemitHistory
from cleanclaim.flows.inbox import Outcome, archive, file_sha256, quarantine
from cleanclaim.flows.pipeline import InputFile
from cleanclaim.flows.remits import REVERSAL, Remittance, read_835
from cleanclaim.flows.remits_report import remit_sheets, write_remits_workbook
from cleanclaim.flows.report import SafeText, write_findings_file
from cleanclaim.flows.x12 import is_x12
from cleanclaim.validators.catalog import Catalog
from cleanclaim.validators.errors import ExtractError
from cleanclaim.validators.scoring import SEVERITY_FACTOR

DENIAL_GROUPS = ("CO", "PI")
DENIED_STATUS = "4"  # CLP02: denied
PRIOR_CLAIMS = 20  # weight of the YAML's judgement, in remitted claims, against the outcomes
OUTCOME_COLUMNS = [
    "rule_id",
    "flagged_claims",
    "remitted",
    "denied",
    "denied_with_rule_carc",
    "paid",
    "precision",
]
UNEXPLAINED_COLUMNS = ["claim_id", "line_number", "group", "carc", "rarc", "amount"]


def _modifiers() -> pl.Expr:
    mods = pl.concat_list(pl.col(f"modifier_{i}") for i in range(1, 5))
    return mods.list.drop_nulls().list.sort().list.join(",")


def effective(claims: pl.DataFrame) -> pl.DataFrame:
    """Each claim's latest answer (production date, then reading order, then position in the file)."""
    return (
        claims.sort("production_date", "read_at", "claim_pos", nulls_last=False)
        .group_by("claim_id", maintain_order=True)
        .last()
    )


def link_lines(lines: pl.DataFrame, validated: pl.DataFrame) -> pl.DataFrame:
    """Remit lines (with claim_id) -> the same with `line_number` of the validated line they answer."""
    numbers = validated.select(
        "claim_id", pl.col("_line_number").alias("_n"), pl.lit(True).alias("_ok")
    )
    named = lines.with_columns(
        pl.col("control_number").str.extract(r"(\d+)$").cast(pl.Int64, strict=False).alias("_n")
    ).join(numbers, on=["claim_id", "_n"], how="left")
    by_control = named.filter(pl.col("_ok")).select("sha256", "line_pos", "claim_id", "_n")
    rest = named.filter(pl.col("_ok").is_null())
    key = ["claim_id", "procedure_code", "_mods", "service_date"]
    # the rest by their content, against the lines of their claims no control number took
    free = (
        validated.join(rest.select("claim_id").unique(), on="claim_id", how="semi")
        .select(
            "claim_id",
            pl.col("_line_number").alias("_n"),
            "procedure_code",
            _modifiers().alias("_mods"),
            pl.col("_service_date").alias("service_date"),
        )
        .join(by_control.select("claim_id", "_n"), on=["claim_id", "_n"], how="anti")
    )
    by_key = (
        rest.drop("_n")
        .with_columns(_modifiers().alias("_mods"))
        .with_columns(pl.col("line_pos").rank("ordinal").over(key).alias("_k"))
        .join(
            free.with_columns(pl.col("_n").rank("ordinal").over(key).alias("_k")),
            on=[*key, "_k"],
            how="inner",
            nulls_equal=True,
        )
    )
    found = pl.concat(
        [by_control.select("sha256", "line_pos", "_n"), by_key.select("sha256", "line_pos", "_n")]
    )
    return lines.join(found, on=["sha256", "line_pos"], how="left").rename({"_n": "line_number"})


@dataclass
class Measured:
    """What one set of answers says about the rules (see the module docstring)."""

    claims: pl.DataFrame  # one row per answered claim: linked, denied, payer, amounts
    denials: pl.DataFrame  # one row per denial adjustment, with line_number, rarc and predicted
    rule_outcomes: pl.DataFrame
    unexplained: pl.DataFrame
    unlinked: pl.DataFrame
    reversed_claims: int
    totals: dict = field(default_factory=dict)


def measure(
    remits: dict[str, pl.DataFrame], validated: dict[str, pl.DataFrame], catalog: Catalog
) -> Measured:
    """Answers (RemitHistory.remits) against what was validated (RemitHistory.validated)."""
    latest = effective(remits["remit_claims"])
    answered = latest.filter(pl.col("status") != REVERSAL)
    keys = ["sha256", "claim_pos"]
    lines = link_lines(
        remits["remit_lines"].join(answered.select(*keys, "claim_id"), on=keys),
        validated["lines"],
    )
    not_denial = catalog.codesets["carc_not_denial"].codes()
    denials = (
        remits["remit_adjustments"]
        .join(
            answered.select(*keys, "claim_id", pl.col("remarks").alias("_claim_remarks")), on=keys
        )
        .filter(
            pl.col("group").is_in(DENIAL_GROUPS)
            & (pl.col("amount") > 0)
            & ~pl.col("carc").is_in(not_denial)
        )
        .join(
            lines.select("sha256", "line_pos", "line_number", "remarks"),
            on=["sha256", "line_pos"],
            how="left",
        )
        .select(
            "claim_id",
            "line_number",
            "group",
            "carc",
            pl.coalesce("remarks", "_claim_remarks").alias("rarc"),
            "amount",
        )
    )
    rule_carc = pl.DataFrame(
        {
            "rule_id": list(catalog.rules),
            "rule_carc": [r.denial.carc if r.denial else None for r in catalog.rules.values()],
        },
        schema={"rule_id": pl.String, "rule_carc": pl.String},
    )
    findings = (  # a run's rule ids are categorical, the history's text
        validated["findings"].select("claim_id", pl.col("rule_id").cast(pl.String)).unique()
    )
    flagged_carcs = findings.join(rule_carc, on="rule_id").select("claim_id", "rule_carc").unique()
    denials = (
        denials.join(
            flagged_carcs.select(
                "claim_id", pl.col("rule_carc").alias("carc"), pl.lit(True).alias("_p")
            ),
            on=["claim_id", "carc"],
            how="left",
        )
        .with_columns(pl.col("_p").fill_null(False).alias("predicted"))
        .drop("_p")
    )
    per_claim = denials.group_by("claim_id").agg(
        pl.col("carc").unique().alias("denial_carcs"),
        pl.col("amount").sum().alias("denied_dollars"),
    )
    claims = answered.join(per_claim, on="claim_id", how="left").with_columns(
        pl.col("claim_id").is_in(validated["claims"]["claim_id"].implode()).alias("linked"),
        (pl.col("denial_carcs").is_not_null() | (pl.col("status") == DENIED_STATUS)).alias(
            "denied"
        ),
        pl.col("claim_id").is_in(findings["claim_id"].implode()).alias("flagged"),
        pl.col("denied_dollars").fill_null(0.0),
    )
    outcomes = (
        findings.join(claims.filter("linked"), on="claim_id")
        .join(rule_carc, on="rule_id", how="left")
        .group_by("rule_id")
        .agg(
            pl.len().alias("remitted"),
            pl.col("denied").sum().alias("denied"),
            (
                pl.col("denied")
                & pl.col("denial_carcs").list.contains(pl.col("rule_carc")).fill_null(False)
            )
            .sum()
            .alias("denied_with_rule_carc"),
        )
    )
    outcomes = (
        validated["flagged"]
        .join(outcomes, on="rule_id", how="full", coalesce=True)
        .with_columns(
            pl.col("flagged_claims", "remitted", "denied", "denied_with_rule_carc").fill_null(0)
        )
        .with_columns(
            (pl.col("remitted") - pl.col("denied")).alias("paid"),
            pl.when(pl.col("remitted") > 0)
            .then(pl.col("denied") / pl.col("remitted"))
            .alias("precision"),
        )
        .select(OUTCOME_COLUMNS)
        .sort("rule_id")
    )
    unflagged = claims.filter(pl.col("linked") & ~pl.col("flagged")).select("claim_id")
    unexplained = denials.join(unflagged, on="claim_id", how="semi").select(UNEXPLAINED_COLUMNS)
    unlinked = claims.filter(~pl.col("linked")).select(
        "claim_id",
        "status",
        "charge",
        "paid",
        "payer_claim_control",
        "payer_id",
        "payer_name",
        "production_date",
        "denied",
    )
    totals = {
        "claims": claims.height,
        "linked": int(claims["linked"].sum()),
        "denied": int(claims["denied"].sum()),
        "predicted": int(
            claims.filter(pl.col("denied") & pl.col("flagged") & pl.col("linked")).height
        ),
        "unexplained": unexplained["claim_id"].n_unique(),
        "denied_dollars": float(denials["amount"].sum() or 0),
    }
    return Measured(
        claims,
        denials,
        outcomes,
        unexplained,
        unlinked,
        latest.height - answered.height,
        totals,
    )


def calibrate(outcomes: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """Per rule with answered claims: its YAML weight and the weight its outcomes suggest."""
    rules = pl.DataFrame(
        [
            {"rule_id": r.id, "yaml_weight": r.weight, "factor": SEVERITY_FACTOR[r.severity]}
            for r in catalog.rules.values()
        ]
    )
    prior = (pl.col("yaml_weight") * pl.col("factor")).clip(0.01, 0.99)
    posterior = (prior * PRIOR_CLAIMS + pl.col("denied")) / (PRIOR_CLAIMS + pl.col("remitted"))
    return (
        outcomes.filter(pl.col("remitted") > 0)
        .join(rules, on="rule_id")
        .select(
            "rule_id",
            "yaml_weight",
            "remitted",
            "denied",
            "precision",
            (posterior / pl.col("factor")).clip(0.0, 1.0).round(2).alias("calibrated_weight"),
        )
        .sort("rule_id")
    )


def weights_yaml(calibration: pl.DataFrame, as_of: date) -> str:
    """The calibrated weights as a run-configuration override (`--config`), one commented line each."""
    head = (
        f"# Rule weights calibrated from remittances (cleanclaim remits, {as_of.isoformat()}): the\n"
        f"# posterior mean of each rule's denial rate -- a Beta prior centred on its YAML weight x\n"
        f"# severity factor, worth {PRIOR_CLAIMS} claims -- divided by that factor. Review them, then\n"
        "# pass this file with --config (or copy the lines into your run configuration).\n"
    )
    rows = [
        f"  {r['rule_id']}: {r['calibrated_weight']:.2f}  # YAML {r['yaml_weight']:.2f}; "
        f"{r['remitted']} flagged claims answered, {r['denied']} denied\n"
        for r in calibration.iter_rows(named=True)
    ]
    return head + (
        "weights:\n" + "".join(rows) if rows else "weights: {}  # no rule has answered claims yet\n"
    )


# --------------------------------------------------------------------------- a run over 835 files


@dataclass
class Day:
    """One production date's outcomes and where they were written."""

    production_date: date
    files: list[str]
    measured: Measured
    written: dict[str, Path]


@dataclass
class Processed:
    read: list[Remittance]
    failed: list[ExtractError]
    days: list[Day]
    calibration: pl.DataFrame


def record(store: RemitHistory, remittance: Remittance, sha256: str) -> None:
    f = remittance.facts
    store.record_remittance(
        sha256,
        {
            "file": f["file"],
            "production_date": f["production_date"],
            "read_at": datetime.now(),
            **{k: f[k] for k in ("claims", "lines", "plb_adjustments", "plb_amount")},
        },
        {
            "remit_claims": remittance.claims,
            "remit_lines": remittance.lines,
            "remit_adjustments": remittance.adjustments,
        },
    )


def write_day(folder: Path, day: date, measured: Measured) -> dict[str, Path]:
    """OUT/remits/<date>.rule-outcomes.csv, .unexplained.csv and .unlinked.csv."""
    stem = folder / day.isoformat()
    files = {
        "rule_outcomes": (f"{stem}.rule-outcomes.csv", measured.rule_outcomes),
        "unexplained": (f"{stem}.unexplained.csv", measured.unexplained),
        "unlinked": (f"{stem}.unlinked.csv", measured.unlinked),
    }
    return {name: write_findings_file(frame, path) for name, (path, frame) in files.items()}


def day_facts(day: date, group: list[Remittance], measured: Measured) -> list[tuple[str, object]]:
    """What the workbook's Summary says: counts and dollars, never a claim's values."""
    t = measured.totals
    payers = pl.concat([r.claims.select("payer_id", "payer_name") for r in group]).unique()
    return [
        ("Production date", day.isoformat()),
        ("Remittance files", ", ".join(r.facts["file"] for r in group)),
        ("Payers", payers.height),
        ("Claims answered", t["claims"]),
        ("Linked to validated claims", t["linked"]),
        ("Not linked (sheet Unlinked remits)", t["claims"] - t["linked"]),
        ("Reversed with no correction yet (not counted)", measured.reversed_claims),
        ("Denied claims", t["denied"]),
        ("Denied claims a finding flagged", t["predicted"]),
        ("Denied claims no finding flagged (sheet Unexplained denials)", t["unexplained"]),
        ("Denied dollars", round(t["denied_dollars"], 2)),
        (
            "Provider-level adjustments (PLB), counted, not attributed",
            f"{sum(r.facts['plb_adjustments'] for r in group)} totalling "
            f"${sum(r.facts['plb_amount'] for r in group):,.2f}",
        ),
        (
            "Weight from outcomes",
            f"over every remit read so far: Beta prior at the YAML weight x severity factor, worth "
            f"{PRIOR_CLAIMS} claims; review, then use with `cleanclaim remits --write-weights`",
        ),
        *(
            (f"Read with problems: {r.facts['file']}", _problem_text(r.problems))
            for r in group
            if r.problems.height
        ),
        ("Written at", datetime.now().isoformat(sep=" ", timespec="seconds")),
    ]


def _problem_text(problems: pl.DataFrame, shown: int = 5) -> str:
    """Segment positions and what is wrong there (never a segment's values)."""
    listed = "; ".join(f"segment {p}: {what}" for p, what in problems.head(shown).iter_rows())
    more = problems.height - shown
    return listed + (f"; and {more} more" if more > 0 else "")


def process(paths: list[Path], out: Path, catalog: Catalog) -> Processed:
    """Read, record, measure and write: every readable 835 is recorded in the history, each
    production date gets its outcome files, and the calibration covers every answer so far."""
    read, failed = [], []
    store = RemitHistory(out)
    for path in paths:
        try:
            remittance = read_835(path)
        except ExtractError as exc:
            failed.append(exc)
            continue
        record(store, remittance, file_sha256(path))
        read.append(remittance)
    everything = store.remits()
    calibration = calibrate(
        measure(
            everything, store.validated(everything["remit_claims"]["claim_id"]), catalog
        ).rule_outcomes,
        catalog,
    )
    days = []
    by_day: dict[date, list[Remittance]] = {}
    for r in read:
        by_day.setdefault(r.facts["production_date"], []).append(r)
    for day, group in sorted(by_day.items(), key=lambda kv: str(kv[0])):
        ids = pl.concat([r.claims["claim_id"] for r in group]).drop_nulls().unique()
        known = store.remits(ids)  # what was known on that day: a later answer is not yet
        known["remit_claims"] = known["remit_claims"].filter(pl.col("production_date") <= day)
        measured = measure(known, store.validated(ids), catalog)
        written = write_day(out / "remits", day, measured)
        store.record_outcomes(
            day,
            measured.rule_outcomes.with_columns(pl.lit(day).alias("production_date")),
            {"files": len(group), **measured.totals},
        )
        written["workbook"] = out / "remits" / f"{day.isoformat()}.remits.xlsx"
        write_remits_workbook(
            written["workbook"],
            day_facts(day, group, measured),
            measured,
            calibration,
            store.remit_trend(),
            catalog,
        )
        days.append(Day(day, [r.facts["file"] for r in group], measured, written))
    return Processed(read, failed, days, calibration)


# --------------------------------------------------------------------------- the nightly inbox

ERA_HEAD_BYTES = 4096  # ISA (106 characters) and GS come before the first ST


def is_remittance(path: Path) -> bool:
    """An X12 interchange whose first transaction set is an 835, whatever the file is called."""
    with open(path, "rb") as handle:
        head = handle.read(ERA_HEAD_BYTES)
    if not is_x12(head):
        return False
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    element = text[3:4]
    return bool(element) and f"ST{element}835{element}" in text.replace("\r", "").replace("\n", "")


def remittances_in(inbox: Path) -> list[Path]:
    """The 835s waiting in an inbox (not its sidecars or hidden files)."""
    return sorted(
        p
        for p in inbox.iterdir()
        if p.is_file() and not p.name.startswith(".") and is_remittance(p)
    )


@dataclass
class NightRemits:
    """What the nightly flow keeps of its inbox's 835s: each file's outcome, and the outcome sheets
    of the latest production date read, for the night's consolidated workbook."""

    status: dict[str, Outcome]
    sheets: Callable[[Workbook], list[SafeText]] | None = None


def nightly_remits(eras: list[Path], inbox: Path, out: Path, catalog: Catalog) -> NightRemits:
    """The nightly flow's step for the 835s of its inbox (under its inbox lock): process them as
    `cleanclaim remits` does, then archive each one read and quarantine, with its reason, each one
    that could not be. Each file's outcome is "remittance" or "quarantined"."""
    done = process(eras, out, catalog)
    failed = {Path(exc.path).name: exc for exc in done.failed}
    status = {}
    for era in eras:
        item = InputFile(era)
        sha = file_sha256(era)
        if era.name in failed:
            quarantine(item, inbox, sha, failed[era.name])
            status[era.name] = Outcome(era.name, "quarantined", failed[era.name].problem)
        else:
            archive(item, inbox, sha)
            status[era.name] = Outcome(era.name, "remittance", "read as an 835 and archived")
    if not done.days:
        return NightRemits(status)
    latest, trend = done.days[-1], RemitHistory(out).remit_trend()

    def sheets(wb: Workbook) -> list[SafeText]:
        # "ERA " keeps their names apart from the night's own sheets (Trend among them)
        return remit_sheets(wb, latest.measured, done.calibration, trend, catalog, prefix="ERA ")

    return NightRemits(status, sheets)
