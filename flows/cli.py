"""`cleanclaim`: validate claim extracts before they go to the payer, and explain the rules.

`validate` runs the pipeline's plain stages directly; Prefect is imported only by `nightly` (its
start-up takes seconds, which an ad-hoc run should not pay).
"""

from __future__ import annotations

from cleanclaim.validators import runtime

runtime.configure()  # before polars loads: `cleanclaim` imports this module, then calls main

import argparse
import contextlib
import gc
import json
import logging
import os
import re
import sys
import time
from datetime import date
from importlib.metadata import version
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cleanclaim.flows import pipeline
from cleanclaim.flows.cms_import import import_files
from cleanclaim.flows.extract import MAX_BYTES, MAX_MAPPING_BYTES, MAX_ROWS, check_input_file
from cleanclaim.validators.catalog import Catalog, load_catalog
from cleanclaim.validators.codesets import import_x12_code_list, is_x12_code_list
from cleanclaim.validators.config import (
    config_source,
    default_threads,
    resolve_config,
    split_rule_ids,
)
from cleanclaim.validators.errors import FAULTS, ExtractError, RuleConfigError
from cleanclaim.validators.icd10cm import import_release, split_release_files
from cleanclaim.validators.ruledocs import explain_text, rules_readme
from cleanclaim.validators.scaffold import skeleton

EXIT_CLEAN, EXIT_HIGH, EXIT_UNUSABLE, EXIT_BUSY = 0, 1, 2, 3
EXIT_USAGE, EXIT_CANT_WRITE = 64, 73  # sysexits.h EX_USAGE and EX_CANTCREAT
# as in flows/prefect.yaml: 03:00 happens exactly once every day in a DST zone (docs/nightly.md)
NIGHTLY_CRON, NIGHTLY_TIMEZONE = "0 3 * * *", "America/New_York"
SERVE_NAME = "nightly-serve"  # never prefect.yaml's `nightly`, which serving would take over
SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan"}

EPILOG = """\
exit codes:
  0  no finding is high severity
  1  at least one high-severity finding (the payer will reject or deny)
  2  an input file could not be used at all (the other files are still validated and reported;
     `nightly` moves it to quarantine/ with a reason file, or leaves a file whose check crashed in
     the inbox for the next run)
  3  `nightly` only: another nightly run is working on the same inbox
  64 usage error: an unknown option, a bad value, or --report/--findings naming a folder, an
     input, or each other (nothing was read or written)
  73 an output could not be written (a full disk, a read-only folder); the message says which

examples:
  cleanclaim validate sample_claims/ --as-of 2026-09-30
  cleanclaim validate extract.csv --notes notes.csv --report denial-risk.xlsx --findings findings.csv
  cleanclaim validate export.xlsx --mapping practice.mapping.yaml
  cleanclaim nightly --inbox /srv/claims/inbox --out /srv/claims/reports
  cleanclaim rules list
  cleanclaim rules explain FLD011
  cleanclaim rules new trauma
"""


class _Parser(argparse.ArgumentParser):
    """argparse with its own exit code for a usage error: 2 means an input file was set aside."""

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _size(text: str) -> int:
    """Bytes: 1048576, 500M, 2G (binary units: K = 1024)."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)(I?B)?\s*", text.upper())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; use e.g. 500M or 2G")
    return int(match[1]) * 1024 ** " KMGT".index(match[2] or " ")


def _as_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date; use YYYY-MM-DD, e.g. 2026-09-30"
        ) from None


def _timezone(text: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time zone; use an IANA name such as "
            "America/New_York or America/Chicago"
        ) from None
    return text


def _threads(text: str) -> int:
    """A --threads value: a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return int(text)


def _threads_option(parser: argparse.ArgumentParser, where: str) -> None:
    parser.add_argument(
        "--threads",
        type=_threads,
        default=None,
        metavar="N",
        help=f"how many files, parts of a large file (or rules, for a file checked in one part) "
        f"are checked at once: more uses more cores and more memory ({where}; default: the "
        f"CPUs this process may use, {default_threads()} here)",
    )


def _config_options(parser: argparse.ArgumentParser) -> None:
    """Which rules run, as ruff chooses them: a file, found if not given, and the command line."""
    parser.add_argument(
        "--config",
        type=Path,
        metavar="YAML",
        help="run configuration: select/ignore rules, per-payer ignore and severity, timely filing "
        "(see README; default: the closest cleanclaim.yaml in the working folder or above)",
    )
    for flag, what in (("--select", "run only these"), ("--ignore", "do not run these")):
        parser.add_argument(
            flag,
            action="append",
            metavar="RULES",
            help=f"{what} rule ids or families, comma-separated (e.g. FLD,DUP001), over the "
            "configuration's",
        )


def _verbosity_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log each stage (counts and file names only)"
    )


def _format_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="json: print one machine-readable summary (counts, by status, by rule, exit code)",
    )


def _inbox_options(parser: argparse.ArgumentParser) -> None:
    """The folders of a nightly run, the same for running it now and for serving its schedule."""
    parser.add_argument(
        "--inbox",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder the day's extracts arrive in",
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="folder for the reports"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cleanclaim",
        description="Catch what payers deny before a professional claim (CMS-1500 / 837P) goes out.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument(
        "--version", action="version", version=f"cleanclaim {version('cleanclaim')}"
    )
    parser.add_argument(
        "--rules",
        type=Path,
        default=None,
        metavar="DIR",
        help="rule folder (default: the rules/ shipped with cleanclaim)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    v = sub.add_parser(
        "validate",
        help="validate claim extracts and write the denial-risk report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
        description="Validate claim extracts (CSV, XLSX or Parquet; files or folders). "
        "A file X.csv picks up X.mapping.yaml and X.notes.csv beside it.",
    )
    v.add_argument("paths", nargs="+", metavar="PATH", help="extract files or folders of extracts")
    v.add_argument("--notes", type=Path, help="clinical notes file (columns claim_id, note_text)")
    v.add_argument(
        "--mapping", type=Path, help="YAML mapping this export's headers to cleanclaim's columns"
    )
    v.add_argument(
        "--as-of",
        type=_as_of,
        default=date.today(),
        metavar="YYYY-MM-DD",
        help="judge dates as of this day (default: today)",
    )
    v.add_argument(
        "--report",
        type=Path,
        default=Path("denial-risk.xlsx"),
        metavar="XLSX",
        help="Excel denial-risk report: Summary, Claims (scored, most urgent first), Findings "
        "of the claims to work, Rules, Input problems (default: %(default)s)",
    )
    v.add_argument(
        "--findings",
        type=Path,
        default=Path("findings.csv"),
        metavar="CSV|PARQUET",
        help="every finding, one per row (default: %(default)s)",
    )
    _config_options(v)
    v.add_argument(
        "--encoding",
        default="auto",
        help="text encoding of CSV files (default: auto = BOM, UTF-16 by its NUL bytes, UTF-8, "
        "then Windows-1252; a UTF-8 file's few non-UTF-8 rows are read as Windows-1252 and named, "
        "FLD028)",
    )
    v.add_argument(
        "--max-rows",
        type=int,
        default=MAX_ROWS,
        metavar="N",
        help="refuse files with more rows than this (default: %(default)s)",
    )
    v.add_argument(
        "--max-bytes",
        type=_size,
        default=MAX_BYTES,
        metavar="SIZE",
        help="refuse input files larger than this, e.g. 500M (default: 2G); folders, pipes and "
        "devices are always refused",
    )
    v.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 even with high findings (2 still means unusable input)",
    )
    _threads_option(v, "overrides the configuration's `threads:`")
    _verbosity_options(v)
    _format_option(v)

    n = sub.add_parser(
        "nightly",
        help="run the Prefect nightly flow once, now, over an inbox folder",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
        description="Validate every extract in INBOX (flow nightly-claims-validation): reports "
        "under OUT/AS_OF/, then each file moves to INBOX/archive/, or to "
        "INBOX/quarantine/ with a reason file. Content already validated is "
        "archived without being validated twice; a file modified less than --settle-seconds "
        "ago is left for the next run; every file in the inbox is named with what happened to "
        "it, and files the inbox does not read are named with the rule (docs/nightly.md).",
    )
    _inbox_options(n)
    n.add_argument(
        "--as-of",
        type=_as_of,
        default=None,
        metavar="YYYY-MM-DD",
        help="judge dates as of this day (default: today)",
    )
    scale = n.add_mutually_exclusive_group()
    scale.add_argument(
        "--dask-address",
        metavar="ADDRESS",
        help="run the files and partitions on this Dask scheduler, e.g. tcp://10.0.0.5:8786 "
        "(its workers must see INBOX and OUT at the same paths and have cleanclaim installed)",
    )
    scale.add_argument(
        "--dask-workers",
        type=int,
        metavar="N",
        help="start a local Dask cluster of N worker processes for this run (default: threads "
        "in this process, which is faster on a machine of a few cores)",
    )
    _threads_option(n, "in each process that checks files")
    n.add_argument(
        "--settle-seconds",
        type=float,
        default=None,
        metavar="S",
        help="leave a file modified less than S seconds ago (still being uploaded) for the next "
        "run (default: 60)",
    )
    n.add_argument(
        "--partition-lines",
        type=int,
        default=None,
        metavar="N",
        help="check a file of more than N lines in parts of whole patients, one task per part "
        "(default: 500000)",
    )
    _config_options(n)
    _verbosity_options(n)
    _format_option(n)

    sv = sub.add_parser(
        "serve",
        help="serve the nightly schedule from this process (no work pool needed)",
        description=f"Create the deployment nightly-claims-validation/{SERVE_NAME} (or --name) "
        "with a cron schedule and run each scheduled run in this process (Prefect flow.serve). "
        "Keep it running (e.g. under systemd); stopping it pauses the schedule.",
    )
    _inbox_options(sv)
    sv.add_argument(
        "--name",
        default=SERVE_NAME,
        help="the deployment's name (default: %(default)s; flows/prefect.yaml deploys `nightly` "
        "to a work pool, which serving under that name would take over)",
    )
    sv.add_argument(
        "--cron",
        default=NIGHTLY_CRON,
        help="when to run (default: %(default)r, 03:00 daily: an hour every day has once)",
    )
    sv.add_argument(
        "--timezone",
        type=_timezone,
        default=NIGHTLY_TIMEZONE,
        help="IANA time zone of the cron, DST-aware (default: %(default)s)",
    )
    _config_options(sv)
    _verbosity_options(sv)

    sy = sub.add_parser(
        "synth",
        help="write a realistic synthetic extract and its notes (benchmarks, demos)",
        description="Write OUT/synthetic-N.csv and OUT/synthetic-N.notes.csv: a spine, pain and "
        "therapy practice's claims with realistic problems (see flows/synth.py). "
        "The same seed always writes the same files. No real patient is in them.",
    )
    sy.add_argument("--lines", type=int, required=True, metavar="N", help="service lines to write")
    sy.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write into")
    sy.add_argument("--seed", type=int, default=7, help="random seed (default: %(default)s)")
    sy.add_argument(
        "--dirty",
        action="store_true",
        help="a new client's first file instead, OUT/synthetic-dirty-N.csv: a therapy-heavy "
        "practice that never sends discipline modifiers, most notes thin, the front office's "
        "mistakes five times as often (about two findings a line)",
    )
    sy.add_argument(
        "--x12",
        action="store_true",
        help="also write the same claims as an 837P 005010X222A1 batch, OUT/synthetic-N.837 "
        "(one transaction set per billing NPI)",
    )
    sy.add_argument(
        "--remits",
        action="store_true",
        help="also validate the claims and write a month of the payer's answers, "
        "OUT/synthetic-N.remits/DATE.835 (one 835 a week): findings denied with their rule's "
        "chance under its CARC, plus denials no rule predicts",
    )

    rm = sub.add_parser(
        "remits",
        help="read the payer's 835 remittances: each rule's precision, the denials no rule predicted",
        description="Read X12 835 005010X221A1 remittances (files or folders), link each answer to "
        "the claim cleanclaim validated (OUT/.cleanclaim/history.duckdb, written by `nightly`) and "
        "write under OUT/remits/, per production date: DATE.rule-outcomes.csv, "
        "DATE.unexplained.csv, DATE.unlinked.csv and the workbook DATE.remits.xlsx "
        "(see docs/remits.md).",
    )
    rm.add_argument(
        "eras", nargs="+", type=Path, metavar="ERA", help="835 files or folders of them"
    )
    rm.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="the nightly run's report folder (its run history links the answers)",
    )
    rm.add_argument(
        "--write-weights",
        type=Path,
        metavar="YAML",
        help="also write each rule's weight estimated from every remit read so far as a run "
        "configuration (`weights:`) to review and pass with --config; never applied by itself",
    )

    r = sub.add_parser("rules", help="list, explain, document and add rules")
    rsub = r.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    rl = rsub.add_parser("list", help="one line per rule")
    rl.add_argument("--json", action="store_true", help="machine-readable output")
    re_ = rsub.add_parser("explain", help="what a rule checks, why payers deny it, how to fix it")
    re_.add_argument("rule", help="rule id, alias or name, e.g. FLD011")
    rd = rsub.add_parser("docs", help="write rules/README.md from the catalog")
    rd.add_argument("--check", action="store_true", help="fail if rules/README.md is out of date")
    rn = rsub.add_parser(
        "new",
        help="start a new rule: a YAML skeleton at the next free id, and its case file",
        description="Write rules/FOLDER/ID.yaml with every section of a rule as a TODO (the "
        "catalog refuses to load until each is filled in) and tests/rules/cases/ID.yaml. "
        "The id is the family's next one, never a retired or aliased one.",
    )
    rn.add_argument("family", help="a folder under rules/ or its id prefix, e.g. trauma or INJ")
    rn.add_argument(
        "--cases",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of the rules' case files (default: tests/rules/cases beside the rule folder)",
    )

    c = sub.add_parser("codesets", help="import CMS's NCCI files and ICD-10-CM releases")
    csub = c.add_subparsers(dest="codesets_command", required=True, metavar="ACTION")
    ci = csub.add_parser(
        "import",
        help="add ICD-10-CM years; replace the imported NCCI PTP and MUE tables",
        description="Import CMS practitioner PTP edit files (all parts at once) and/or the "
        "practitioner MUE file, as published (.txt or .xlsx), and/or a year's ICD-10-CM release "
        "(icd10cm_order_YYYY.txt with icd10cm_tabular_YYYY.xml), which adds that fiscal year's "
        "tables, and/or X12's CARC or RARC list saved in its published layout (the wording of the "
        "codes cleanclaim reports), and/or the PFS Relative Value File (global periods).",
    )
    ci.add_argument("files", nargs="+", type=Path, metavar="FILE")

    d = sub.add_parser("decisions", help="record the decisions analysts saved in workbooks")
    dsub = d.add_subparsers(dest="decisions_command", required=True, metavar="ACTION")
    di = dsub.add_parser(
        "import",
        help="read Status, Reason and Owner from saved workbooks into the run history",
        description="Append each finding's decision (Status, Reason, Owner on the Findings sheet) "
        "that differs from what the workbook listed to the run history's audit trail, with the "
        "workbook's last-modified-by and time; the next nightly run applies them. A workbook "
        "already read is skipped.",
    )
    di.add_argument("workbooks", nargs="+", type=Path, metavar="WORKBOOK")
    di.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="the nightly run's --out folder (default: the one the first workbook is under)",
    )
    return parser


# --------------------------------------------------------------------------- validate


def _money(value: float | None) -> str:
    return f"${(value or 0):,.2f}"


def _print_summary(
    console: Console, result: pipeline.Run, written: dict, seconds: float, announcement: str
) -> None:
    claims = result.claims
    status = {row["Status"]: row for row in result.tables["Claims by status"].iter_rows(named=True)}
    console.print(
        f"[bold]cleanclaim[/] · {len(result.catalog.rules)} rules · {announcement} · "
        f"as of {result.as_of} · {seconds:.1f}s"
    )
    console.print(
        f"Read {len(result.read)} of {len(result.outcomes)} files: "
        f"{result.lines.height:,} lines in {claims.height:,} claims"
    )
    parts = [
        f"[{style}]{name} {status.get(name, {}).get('Claims', 0)}[/]"
        for name, style in (("hold", "bold red"), ("review", "yellow"), ("clean", "green"))
    ]
    console.print(f"  Claims by status         {' · '.join(parts)}")
    console.print(
        f"  Dollars at risk          [bold]{_money(claims['at_risk'].sum())}[/] of "
        f"{_money(claims['billed'].sum())} billed"
    )
    top = result.tables["Rules by dollars at risk"].head(5)
    if top.height:
        table = Table(title="Top rules", title_justify="left", show_edge=False, pad_edge=False)
        for col, justify in (
            ("Rule", "left"),
            ("Name", "left"),
            ("Findings", "right"),
            ("Dollars at risk", "right"),
        ):
            table.add_column(col, justify=justify)
        for row in top.iter_rows(named=True):
            table.add_row(
                f"[{SEVERITY_STYLE[row['Severity']]}]{row['Rule']}[/]",
                row["Name"],
                str(row["Findings"]),
                _money(row["Dollars at risk"]),
            )
        console.print(table)
        console.print("  Explain a rule: cleanclaim rules explain RULE_ID")
    for failed in result.failed:
        console.print(f"[bold red]Not read:[/] {failed.error}")
    if written.get("rows_not_shown"):
        console.print(
            f"[yellow]The workbook shows the most urgent rows; "
            f"{written['rows_not_shown']:,} more are in {written.get('findings_file')}[/]"
        )
    if written:
        outputs = [
            f"report {written['report']}" if "report" in written else "",
            f"findings {written['findings_file']}" if "findings_file" in written else "",
        ]
        console.print("Wrote " + " · ".join(o for o in outputs if o))


def _same_file(a: Path, b: Path) -> bool:
    """The same file, through links too; a path that does not exist yet is compared by name."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def output_problem(args: argparse.Namespace, inputs: list[pipeline.InputFile]) -> str | None:
    """Why --report/--findings cannot be written as asked, checked before anything is read or
    written: an output that replaced an input would destroy it."""
    outputs = {"--report": args.report, "--findings": args.findings}
    outputs = {flag: Path(path) for flag, path in outputs.items() if path}
    for flag, path in outputs.items():
        if path.is_dir():
            example = path / {"--report": "denial-risk.xlsx", "--findings": "findings.csv"}[flag]
            return f"{flag} {path} is a folder; give a file name, e.g. {example}"
        if path.exists() and not path.is_file():  # renaming over /dev/null would replace it
            return f"{flag} {path} is a device or a pipe, not a file"
    if len(outputs) == 2 and _same_file(outputs["--report"], outputs["--findings"]):
        return "--report and --findings name the same file; each needs its own"
    read = [args.config, *(p for i in inputs for p in (i.path, i.mapping, i.notes))]
    for flag, path in outputs.items():
        if any(source is not None and _same_file(path, Path(source)) for source in read):
            return f"{flag} {path} is one of the input files; writing it would replace the input"
    return None


@contextlib.contextmanager
def quiet_abandoned_writers():
    """A save that fails leaves openpyxl's write-only sheets half written; collected, they print
    "Exception ignored in ... Traceback" to stderr. The failed write is reported once, by its
    caller: those are collected here, in the open, and only their type is logged."""
    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: logging.getLogger("cleanclaim").debug(
        "after a failed write: %s ignored", type(unraisable.exc_value).__name__
    )
    try:
        yield
    finally:
        gc.collect()
        sys.unraisablehook = previous


def write_error(exc: Exception, args: argparse.Namespace) -> str:
    """What to tell about an output that could not be written: the folder and the system's reason
    (an OSError names our own temporary file, never an input value); other errors by type only."""
    if isinstance(exc, OSError):
        folder = Path(exc.filename).parent if exc.filename else Path(args.report).parent
        return (
            f"the outputs could not be written in {folder} ({exc.strerror or type(exc).__name__}); "
            "check that the folder exists, is writable and has space. No partial file was left "
            "at the output names."
        )
    return f"the outputs could not be written ({type(exc).__name__})."


def _json_summary(
    result: pipeline.Run, written: dict, seconds: float, config: str | None, exit_code: int
) -> str:
    """`--format json`: the run's counts for a script, the same figures the text summary prints."""
    claims, findings = result.claims, result.findings

    def by(frame, column: str) -> dict:
        return dict(frame[column].value_counts(sort=True).iter_rows())

    return json.dumps(
        {
            "as_of": result.as_of.isoformat(),
            "seconds": round(seconds, 2),
            "rules": len(result.catalog.rules),
            "config": config,
            "files": {
                "total": len(result.outcomes),
                "read": len(result.read),
                "not_read": [
                    {"file": o.input.path.name, "reason": o.error.reason} for o in result.failed
                ],
            },
            "lines": result.lines.height,
            "claims": claims.height,
            "claims_by_status": dict.fromkeys(("hold", "review", "clean"), 0)
            | by(claims, "status"),
            "billed": round(float(claims["billed"].sum() or 0), 2),
            "at_risk": round(float(claims["at_risk"].sum() or 0), 2),
            "findings": findings.height,
            "findings_by_severity": by(findings, "severity"),
            "findings_by_rule": dict(sorted(by(findings, "rule_id").items())),
            "report": written.get("report"),
            "findings_file": written.get("findings_file"),
            "exit_code": exit_code,
        },
        indent=2,
    )


def cmd_validate(args: argparse.Namespace, catalog: Catalog) -> int:
    clock = time.perf_counter()  # the headline's time: the whole run, the workbook included
    as_json = args.format == "json"
    # soft_wrap: long lines (paths, error texts) wrap in the terminal but stay whole when copied or piped
    console = Console(quiet=args.quiet or as_json, highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        path, announcement = config_source(args.config)
        if path is not None:  # never a pipe or a device: reading one may never end
            check_input_file(path, MAX_MAPPING_BYTES)
        config, _ = resolve_config(path, set(catalog.rules), *_selection(args))
    except (RuleConfigError, ExtractError) as exc:
        errors.print(f"[bold red]configuration error:[/] {exc}")
        return EXIT_UNUSABLE
    if args.threads:
        config = config.model_copy(update={"threads": args.threads})
    try:
        inputs = pipeline.discover(args.paths, mapping=args.mapping, notes=args.notes)
    except ExtractError as exc:
        errors.print(f"[bold red]error:[/] {exc}")
        return EXIT_UNUSABLE
    if not inputs:
        errors.print(
            "[bold red]error:[/] no extract files (.csv .tsv .txt .xlsx .parquet, or X12 837P .837 .x12 "
            f".edi .dat) in {', '.join(args.paths)}"
        )
        return EXIT_UNUSABLE
    if problem := output_problem(args, inputs):
        errors.print(f"[bold red]error:[/] {problem}")
        return EXIT_USAGE
    show_bar = errors.is_terminal and not args.quiet
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not show_bar,
    ) as bar:
        # a step per file, then scoring, the findings file and the workbook
        task = bar.add_task("starting", total=len(inputs) + 3)
        seen: set[str] = set()

        def progress(stage: str, name: str) -> None:
            if stage == "reading" and seen:
                bar.advance(task)
            seen.add(name)
            bar.update(task, description=f"{stage} {name}")

        result = pipeline.run(
            inputs,
            catalog,
            args.as_of,
            config=config,
            encoding=args.encoding,
            max_rows=args.max_rows,
            max_bytes=args.max_bytes,
            progress=progress,
        )
        bar.update(task, completed=len(inputs))
        stages: list[str] = []

        def after(stage: str, name: str) -> None:  # a stage starts: the one before it is done
            if stages:
                bar.advance(task)
            stages.append(stage)
            bar.update(task, description=f"{stage} {name}")

        # both outputs are written even when no file was read: they say why (exit 2 below)
        with quiet_abandoned_writers():
            try:
                written = pipeline.write_outputs(result, args.report, args.findings, progress=after)
            except FAULTS as exc:  # a full disk, a read-only folder: the outputs' problem
                written = {"error": write_error(exc, args)}
        bar.update(task, completed=len(inputs) + 3)
    if "error" in written:
        errors.print(f"[bold red]error:[/] {written['error']}")
        return EXIT_CANT_WRITE
    seconds = time.perf_counter() - clock
    if not result.read or result.failed:
        code = EXIT_UNUSABLE
    elif args.exit_zero:
        code = EXIT_CLEAN
    else:
        code = EXIT_HIGH if (result.findings["severity"] == "high").any() else EXIT_CLEAN
    if as_json:
        print(_json_summary(result, written, seconds, str(path) if path else None, code))
    else:
        _print_summary(console, result, written, seconds, announcement)
    return code


# --------------------------------------------------------------------------- rules


def _new_rule(args: argparse.Namespace, catalog: Catalog) -> int:
    cases = args.cases or catalog.source.parent / "tests" / "rules" / "cases"
    try:
        new = skeleton(catalog, args.family, cases)
    except RuleConfigError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}")
        return EXIT_UNUSABLE
    if new.cases_path.exists():
        Console(stderr=True).print(f"[bold red]error:[/] {new.cases_path} exists already")
        return EXIT_UNUSABLE
    new.rule_path.write_text(new.rule_text, encoding="utf-8")
    new.cases_path.parent.mkdir(parents=True, exist_ok=True)
    new.cases_path.write_text(new.cases_text, encoding="utf-8")
    print(f"Wrote {new.rule_path}\nWrote {new.cases_path}")  # whole paths, never wrapped
    print(
        "Next steps (docs/adding-a-rule.md):\n"
        "  1. Fill in every TODO of the rule: the catalog refuses to load until you do.\n"
        "  2. Write its cases: a situation that triggers it, the near misses that pass.\n"
        f"  3. Run its tests: pytest tests/rules -k {new.rule_id}\n"
        f"  4. Read it as an analyst will: cleanclaim rules explain {new.rule_id}\n"
        "  5. Regenerate the catalog's docs: cleanclaim rules docs"
    )
    return EXIT_CLEAN


def cmd_rules(args: argparse.Namespace, catalog: Catalog) -> int:
    console = Console(highlight=False)
    if args.rules_command == "list":
        if args.json:
            print(
                json.dumps(
                    [
                        {
                            "id": r.id,
                            "name": r.name,
                            "title": r.title,
                            "category": r.category,
                            "severity": r.severity,
                            "carc": r.carc,
                            "rarc": r.rarc,
                        }
                        for r in catalog.rules.values()
                    ],
                    indent=2,
                )
            )
            return 0
        table = Table(show_edge=False, pad_edge=False)
        for col in ("Rule", "Severity", "Category", "Name", "Title"):
            table.add_column(col)
        for r in catalog.rules.values():
            table.add_row(
                r.id, f"[{SEVERITY_STYLE[r.severity]}]{r.severity}[/]", r.category, r.name, r.title
            )
        console.print(table)
        return 0
    if args.rules_command == "explain":
        rule = catalog.resolve(args.rule)
        if rule is None:
            Console(stderr=True).print(
                f"[bold red]error:[/] no rule {args.rule!r}; see `cleanclaim rules list`"
            )
            return EXIT_UNUSABLE
        from rich.markdown import Markdown  # imported here: no other command pays for it

        console.print(Markdown(explain_text(rule, catalog)))
        return 0
    if args.rules_command == "new":
        return _new_rule(args, catalog)
    target = catalog.source / "README.md"
    text = rules_readme(catalog)
    if args.check:
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            Console(stderr=True).print(f"{target} is out of date: run `cleanclaim rules docs`")
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    console.print(f"Wrote {target}")
    return 0


def cmd_codesets(args: argparse.Namespace, catalog: Catalog) -> int:
    folder = catalog.source / "codesets"
    try:
        releases, rest = split_release_files(args.files)
        years = [import_release(order, xml, folder) for order, xml in releases]
        lists = [import_x12_code_list(p, folder) for p in rest if is_x12_code_list(p)]
        ncci = [p for p in rest if not is_x12_code_list(p)]
        written = import_files(ncci, folder) if ncci else {}
    except (ExtractError, RuleConfigError) as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}")
        return EXIT_UNUSABLE
    for year, codes in years:
        print(
            f"imported ICD-10-CM FY{year}: {codes:,} codes, in force {year - 1}-10-01 to {year}-09-30"
        )
    for name, rows in lists:
        print(f"updated the wording of {rows:,} {name.upper()} codes from the X12 list")
    for kind, rows in written.items():
        what = {"ptp": "PTP edits", "mue": "MUE values", "rvu": "global periods"}[kind]
        print(f"imported {rows:,} {what}")
    return 0


def cmd_decisions(args: argparse.Namespace) -> int:
    import duckdb

    from cleanclaim.flows import decisions
    from cleanclaim.flows.history import History

    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    missing = [str(p) for p in args.workbooks if not p.is_file()]
    if missing:
        errors.print(f"[bold red]error:[/] no such workbook: {', '.join(missing)}")
        return EXIT_UNUSABLE
    out = args.out or decisions.history_folder(args.workbooks[0])
    if out is None:
        errors.print(
            "[bold red]error:[/] no run history above the workbook: name the nightly run's "
            "folder with --out"
        )
        return EXIT_UNUSABLE
    try:
        counts = decisions.refresh(History(out), args.workbooks)
    except duckdb.Error as exc:
        errors.print(
            f"[bold red]error:[/] the run history in {out} could not be used "
            f"({type(exc).__name__}): is a nightly run working? Try again when it has finished"
        )
        return EXIT_UNUSABLE
    print(
        f"{counts['decisions']} decisions recorded from {counts['read']} workbooks"
        f" ({counts['already read']} read before, {counts['unreadable']} unreadable)"
    )
    return EXIT_UNUSABLE if counts["unreadable"] else EXIT_CLEAN


def quiet_prefect_server(quiet: bool = False) -> None:
    """The temporary Prefect server a run starts (no PREFECT_API_URL) sends no usage telemetry, and
    -q keeps Prefect's console to warnings; set before Prefect is imported, which reads its
    settings then (a site's own telemetry setting wins)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    if quiet:
        os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"


def _run_config(args: argparse.Namespace, catalog: Catalog) -> tuple[Path | None, str] | None:
    """The configuration file a nightly run uses and its announcement, checked before Prefect
    starts (a rule id that does not exist stops the run before any file is touched)."""
    path, announcement = config_source(args.config)
    try:
        resolve_config(path, set(catalog.rules), *_selection(args))
    except RuleConfigError as exc:
        Console(stderr=True).print(f"[bold red]configuration error:[/] {exc}")
        return None
    return (path.resolve() if path else None), announcement


def _selection(args: argparse.Namespace) -> tuple[list[str] | None, list[str] | None]:
    return split_rule_ids(args.select), split_rule_ids(args.ignore)


def cmd_nightly(args: argparse.Namespace, catalog: Catalog) -> int:
    quiet_prefect_server(args.quiet)
    from cleanclaim.flows.inbox import SETTLE_SECONDS, InboxBusyError, day_folder
    from cleanclaim.flows.nightly import (
        PARTITION_LINES,
        dask_runner,
        nightly_claims_validation,
        run_data,
    )  # Prefect: only here

    if not args.inbox.is_dir():
        Console(stderr=True).print(
            f"[bold red]error:[/] {args.inbox} is not a folder; give the inbox folder"
        )
        return EXIT_UNUSABLE
    if (found := _run_config(args, catalog)) is None:
        return EXIT_UNUSABLE
    path, announcement = found
    as_json = args.format == "json"
    # names as they are (markup off): a sender's file name can hold brackets
    say = Console(quiet=as_json or args.quiet, markup=False, highlight=False, soft_wrap=True).print
    say(f"cleanclaim nightly · {announcement} · as of {args.as_of or date.today()}")
    flow_ = nightly_claims_validation
    if args.dask_address or args.dask_workers:
        flow_ = flow_.with_options(task_runner=dask_runner(args.dask_address, args.dask_workers))
    select, ignore = _selection(args)
    state = flow_(
        inbox=str(args.inbox),
        out=str(args.out),
        as_of=args.as_of,
        rules=str(args.rules) if args.rules else None,
        partition_lines=args.partition_lines or PARTITION_LINES,
        settle_seconds=SETTLE_SECONDS if args.settle_seconds is None else args.settle_seconds,
        threads=args.threads,
        config=str(path) if path else None,
        select=select,
        ignore=ignore,
        return_state=True,
    )
    if isinstance(busy := state.result(raise_on_failure=False), InboxBusyError):
        Console(stderr=True).print(f"[bold yellow]busy:[/] {busy}")
        return EXIT_BUSY
    data = run_data(state) or {}
    code = EXIT_CLEAN if state.is_completed() else EXIT_UNUSABLE
    if as_json:
        counts = {k: v for k, v in data.items() if k != "outcomes"}
        print(
            json.dumps(
                {
                    "as_of": (args.as_of or date.today()).isoformat(),
                    "config": str(path) if path else None,
                    "state": state.name,
                    "message": state.message,
                    **counts,
                    "outcomes": [
                        {"file": n, "outcome": w, "detail": d}
                        for n, w, d in data.get("outcomes", [])
                    ],
                    "exit_code": code,
                },
                indent=2,
            )
        )
        return code
    for name, what, detail in data.get("outcomes", []):  # every inbox file and its outcome
        say(f"  {what:<17} {name}" + (f": {detail}" if detail else ""))
    if args.quiet and not state.is_completed():
        Console(stderr=True, highlight=False, soft_wrap=True).print(state.message)
    say(state.message)
    day = day_folder(args.out, args.as_of or date.today())
    if day.is_dir():
        say(f"Reports in {day} · archived and quarantined files under {args.inbox}")
    if (args.inbox / "quarantine").is_dir() and not state.is_completed():
        say(f"  Each quarantined file has a .reason.txt beside it in {args.inbox / 'quarantine'}")
    return code


def serve_arguments(args: argparse.Namespace, config: Path | None = None) -> dict:
    """What `serve` hands to flow.serve: its own deployment name, a Cron with its time zone (a bare
    cron= string has none), and paths and rule ids as the only parameters."""
    from prefect.schedules import Cron

    select, ignore = _selection(args)
    parameters = {
        "inbox": str(args.inbox.resolve()),
        "out": str(args.out.resolve()),
        "config": str(config) if config else None,
        "select": select,
        "ignore": ignore,
    }
    return {
        "name": args.name,
        "schedule": Cron(args.cron, timezone=args.timezone),
        "parameters": {k: v for k, v in parameters.items() if v is not None},
        "global_limit": 1,
        "tags": ["cleanclaim"],
    }


def pooled_deployment(flow_name: str, name: str) -> str | None:
    """The work pool of the deployment `flow_name/name`, if one exists on a pool."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_deployment_by_name(f"{flow_name}/{name}").work_pool_name
        except ObjectNotFound:
            return None


def cmd_serve(args: argparse.Namespace, catalog: Catalog) -> int:
    quiet_prefect_server(args.quiet)
    from cleanclaim.flows.nightly import nightly_claims_validation

    if (found := _run_config(args, catalog)) is None:
        return EXIT_UNUSABLE
    path, announcement = found
    flow_name = nightly_claims_validation.name
    if pool := pooled_deployment(flow_name, args.name):
        Console(stderr=True).print(
            f"[bold yellow]warning:[/] the deployment {flow_name}/{args.name} runs on the work pool "
            f"{pool!r}: serving it from this process takes it over (no work pool, this schedule) "
            "and stopping this process pauses it; serve under another --name to keep both"
        )
    if not args.quiet:
        print(f"cleanclaim serve · {announcement} · {args.cron} {args.timezone}")
    nightly_claims_validation.serve(**serve_arguments(args, path))
    return EXIT_CLEAN


def cmd_synth(args: argparse.Namespace, catalog: Catalog) -> int:
    from cleanclaim.flows.synth import CLEAN, DIRTY, synthesize, write_837

    if args.lines < 1:
        Console(stderr=True).print("[bold red]error:[/] --lines must be at least 1")
        return EXIT_UNUSABLE
    with Console(stderr=True).status(f"writing {args.lines:,} synthetic lines ..."):
        extract, notes = synthesize(
            args.lines,
            args.out,
            catalog.codesets["icd10cm"].table,
            args.seed,
            DIRTY if args.dirty else CLEAN,
        )
        if args.x12:
            batch = write_837(extract)
    print(f"wrote {extract} ({extract.stat().st_size / 1e6:,.1f} MB) and {notes}")
    if args.x12:
        print(
            f"wrote {batch} ({batch.stat().st_size / 1e6:,.1f} MB), the same claims as an 837P batch"
        )
    if args.remits:
        from cleanclaim.flows.synth import write_remits

        with Console(stderr=True).status("validating them and writing the payer's answers ..."):
            findings = pipeline.run(
                pipeline.discover([extract]), catalog, date(2026, 9, 30)
            ).findings
            eras = write_remits(extract, findings, catalog, args.seed)
        print(f"wrote {len(eras)} remittances (835) in {eras[0].parent}")
        print(
            f"measure the rules: put {extract.name} in a nightly inbox, run `cleanclaim nightly`, "
            f"then `cleanclaim remits {eras[0].parent} --out OUT`"
        )
    print(f"validate it: cleanclaim validate {extract} --report {args.out / 'denial-risk.xlsx'}")
    return EXIT_CLEAN


def cmd_remits(args: argparse.Namespace, catalog: Catalog) -> int:
    from cleanclaim.flows.outcomes import process

    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    eras = [
        p for given in args.eras for p in (sorted(given.iterdir()) if given.is_dir() else [given])
    ]
    missing = [p for p in eras if not p.is_file()]
    for path in missing:
        errors.print(f"[bold red]error:[/] {path}: no such file")
    result = process(
        [p for p in eras if p.is_file() and not p.name.startswith(".")], args.out, catalog
    )
    for exc in result.failed:
        errors.print(f"[bold red]Not read:[/] {exc}")
    for r in result.read:
        f = r.facts
        print(
            f"{f['file']}: {f['claims']:,} claims, {f['lines']:,} lines, produced "
            f"{f['production_date']}; {f['plb_adjustments']} provider-level adjustments "
            f"(PLB, ${f['plb_amount']:,.2f}) counted, not attributed"
            + (
                f"; {f['problems']} segments read with a problem (see the workbook)"
                if f["problems"]
                else ""
            )
        )
    for day in result.days:
        t = day.measured.totals
        print(
            f"{day.production_date}: {t['claims']:,} answered claims, {t['linked']:,} linked to "
            f"validated claims, {t['denied']:,} denied ({t['predicted']:,} flagged by a rule, "
            f"{t['unexplained']:,} unexplained), {t['claims'] - t['linked']:,} unlinked"
        )
        print("  Wrote " + " · ".join(str(p) for p in day.written.values()))
    if args.write_weights:
        from cleanclaim.flows.outcomes import weights_yaml

        args.write_weights.write_text(
            weights_yaml(result.calibration, date.today()), encoding="utf-8"
        )
        print(
            f"Wrote {args.write_weights}: {result.calibration.height} rules' weights from their "
            f"outcomes, for review; use them with --config {args.write_weights}"
        )
    return EXIT_UNUSABLE if result.failed or missing else EXIT_CLEAN


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:  # output piped into `head` and the like: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_CLEAN


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        catalog = load_catalog(args.rules)
    except RuleConfigError as exc:
        Console(stderr=True).print(f"[bold red]rule catalog error:[/] {exc}")
        return EXIT_UNUSABLE
    if args.command == "codesets":
        return cmd_codesets(args, catalog)
    if args.command == "nightly":
        return cmd_nightly(args, catalog)
    if args.command == "serve":
        return cmd_serve(args, catalog)
    if args.command == "synth":
        return cmd_synth(args, catalog)
    if args.command == "remits":
        return cmd_remits(args, catalog)

    if args.command == "decisions":
        return cmd_decisions(args)
    return cmd_validate(args, catalog) if args.command == "validate" else cmd_rules(args, catalog)


if __name__ == "__main__":
    sys.exit(main())
