"""`cleanclaim`: validate claim extracts before they go to the payer, and explain the rules.

`validate` runs the pipeline's plain stages directly; Prefect is imported only by `nightly` (its
start-up takes seconds, which an ad-hoc run should not pay).
"""

from __future__ import annotations

from validators import runtime

runtime.configure()  # before polars loads: `cleanclaim` imports this module, then calls main

import argparse
import json
import logging
import os
import sys
from datetime import date
from importlib.metadata import version
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows import pipeline
from flows.cms_import import import_files
from flows.extract import MAX_ROWS
from validators.catalog import Catalog, load_catalog
from validators.config import default_threads, load_config
from validators.errors import ExtractError, RuleConfigError
from validators.ruledocs import explain_text, rules_readme
from validators.scaffold import skeleton

EXIT_CLEAN, EXIT_HIGH, EXIT_UNUSABLE, EXIT_BUSY = 0, 1, 2, 3
NIGHTLY_CRON, NIGHTLY_TIMEZONE = "0 2 * * *", "America/New_York"  # as in flows/prefect.yaml
SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan"}

EPILOG = """\
exit codes:
  0  no finding is high severity
  1  at least one high-severity finding (the payer will reject or deny)
  2  an input file could not be used at all (the other files are still validated and reported;
     `nightly` moves it to quarantine/ with a reason file, or leaves a file whose check crashed in
     the inbox for the next run)
  3  `nightly` only: another nightly run is working on the same inbox

examples:
  cleanclaim validate sample_claims/ --as-of 2026-09-30
  cleanclaim validate extract.csv --notes notes.csv --report denial-risk.xlsx --findings findings.csv
  cleanclaim validate export.xlsx --mapping practice.mapping.yaml
  cleanclaim nightly --inbox /srv/claims/inbox --out /srv/claims/reports
  cleanclaim rules list
  cleanclaim rules explain FLD011
  cleanclaim rules new trauma
"""


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
    parser = argparse.ArgumentParser(
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
    v.add_argument(
        "--config",
        type=Path,
        metavar="YAML",
        help="run configuration: select/ignore rules, per-payer ignore and severity (see README)",
    )
    v.add_argument(
        "--encoding",
        default="auto",
        help="text encoding of CSV files (default: auto = BOM, UTF-8, then Windows-1252)",
    )
    v.add_argument(
        "--max-rows",
        type=int,
        default=MAX_ROWS,
        metavar="N",
        help="refuse files with more rows than this (default: %(default)s)",
    )
    v.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 even with high findings (2 still means unusable input)",
    )
    _threads_option(v, "overrides the configuration's `threads:`")
    v.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    v.add_argument(
        "-v", "--verbose", action="store_true", help="log each stage (counts and file names only)"
    )

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

    sv = sub.add_parser(
        "serve",
        help="serve the nightly schedule from this process (no work pool needed)",
        description="Create the deployment nightly-claims-validation/nightly with a cron "
        "schedule and run each scheduled run in this process (Prefect flow.serve). "
        "Keep it running (e.g. under systemd); stopping it pauses the schedule.",
    )
    _inbox_options(sv)
    sv.add_argument(
        "--cron", default=NIGHTLY_CRON, help="when to run (default: %(default)r, 02:00 daily)"
    )
    sv.add_argument(
        "--timezone",
        type=_timezone,
        default=NIGHTLY_TIMEZONE,
        help="IANA time zone of the cron, DST-aware (default: %(default)s)",
    )

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
        "--x12",
        action="store_true",
        help="also write the same claims as an 837P 005010X222A1 batch, OUT/synthetic-N.837 "
        "(one transaction set per billing NPI)",
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

    c = sub.add_parser("codesets", help="import CMS's quarterly NCCI files")
    csub = c.add_subparsers(dest="codesets_command", required=True, metavar="ACTION")
    ci = csub.add_parser(
        "import",
        help="replace the imported NCCI PTP and MUE tables with CMS files",
        description="Import CMS practitioner PTP edit files (all parts at once) and/or the "
        "practitioner MUE file, as published (.txt or .xlsx).",
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


def _print_summary(console: Console, result: pipeline.Run, written: dict) -> None:
    claims = result.claims
    status = {row["Status"]: row for row in result.tables["Claims by status"].iter_rows(named=True)}
    console.print(
        f"[bold]cleanclaim[/] · {len(result.catalog.rules)} rules · as of {result.as_of} · "
        f"{result.seconds:.1f}s"
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


def cmd_validate(args: argparse.Namespace, catalog: Catalog) -> int:
    # soft_wrap: long lines (paths, error texts) wrap in the terminal but stay whole when copied or piped
    console = Console(quiet=args.quiet, highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        config = load_config(args.config, set(catalog.rules))
    except RuleConfigError as exc:
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
    show_bar = errors.is_terminal and not args.quiet
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} files"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not show_bar,
    ) as bar:
        task = bar.add_task("starting", total=len(inputs))
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
            progress=progress,
        )
        bar.update(task, completed=len(inputs), description="writing reports")
        written = pipeline.write_outputs(result, args.report, args.findings) if result.read else {}
    _print_summary(console, result, written)
    if not result.read or result.failed:
        return EXIT_UNUSABLE
    if args.exit_zero:
        return EXIT_CLEAN
    return EXIT_HIGH if (result.findings["severity"] == "high").any() else EXIT_CLEAN


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
        from rich.markdown import Markdown  # ~70 ms of imports, which every other command would pay

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
    try:
        written = import_files(args.files, catalog.source / "codesets")
    except ExtractError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}")
        return EXIT_UNUSABLE
    for kind, rows in written.items():
        print(f"imported {rows:,} {'PTP edits' if kind == 'ptp' else 'MUE values'}")
    return 0


def cmd_decisions(args: argparse.Namespace) -> int:
    import duckdb

    from flows import decisions
    from flows.history import History

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


def quiet_prefect_server() -> None:
    """The temporary Prefect server a run starts (no PREFECT_API_URL) sends no usage telemetry;
    set before Prefect is imported, which reads its settings then (a site's own setting wins)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def cmd_nightly(args: argparse.Namespace) -> int:
    quiet_prefect_server()
    from flows.inbox import SETTLE_SECONDS, InboxBusyError, day_folder
    from flows.nightly import (
        PARTITION_LINES,
        dask_runner,
        nightly_claims_validation,
    )  # Prefect: only here

    if not args.inbox.is_dir():
        Console(stderr=True).print(
            f"[bold red]error:[/] {args.inbox} is not a folder; give the inbox folder"
        )
        return EXIT_UNUSABLE
    flow_ = nightly_claims_validation
    if args.dask_address or args.dask_workers:
        flow_ = flow_.with_options(task_runner=dask_runner(args.dask_address, args.dask_workers))
    state = flow_(
        inbox=str(args.inbox),
        out=str(args.out),
        as_of=args.as_of,
        rules=str(args.rules) if args.rules else None,
        partition_lines=args.partition_lines or PARTITION_LINES,
        settle_seconds=SETTLE_SECONDS if args.settle_seconds is None else args.settle_seconds,
        threads=args.threads,
        return_state=True,
    )
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, InboxBusyError):
        Console(stderr=True).print(f"[bold yellow]busy:[/] {outcome}")
        return EXIT_BUSY
    if isinstance(outcome, dict):  # every file in the inbox and what the run did with it
        for name, what, detail in outcome["outcomes"]:
            print(f"  {what:<17} {name}" + (f": {detail}" if detail else ""))
    print(state.message)
    day = day_folder(args.out, args.as_of or date.today())
    if day.is_dir():
        print(f"Reports in {day} · archived and quarantined files under {args.inbox}")
    if (args.inbox / "quarantine").is_dir() and not state.is_completed():
        print(f"  Each quarantined file has a .reason.txt beside it in {args.inbox / 'quarantine'}")
    return EXIT_CLEAN if state.is_completed() else EXIT_UNUSABLE


def serve_arguments(args: argparse.Namespace) -> dict:
    """What `serve` hands to flow.serve: a Cron with its time zone (a bare cron= string has none)."""
    from prefect.schedules import Cron

    return {
        "name": "nightly",
        "schedule": Cron(args.cron, timezone=args.timezone),
        "parameters": {"inbox": str(args.inbox.resolve()), "out": str(args.out.resolve())},
        "global_limit": 1,
        "tags": ["cleanclaim"],
    }


def cmd_serve(args: argparse.Namespace) -> int:
    quiet_prefect_server()
    from flows.nightly import nightly_claims_validation

    nightly_claims_validation.serve(**serve_arguments(args))
    return EXIT_CLEAN


def cmd_synth(args: argparse.Namespace, catalog: Catalog) -> int:
    from flows.synth import synthesize, write_837

    if args.lines < 1:
        Console(stderr=True).print("[bold red]error:[/] --lines must be at least 1")
        return EXIT_UNUSABLE
    with Console(stderr=True).status(f"writing {args.lines:,} synthetic lines ..."):
        extract, notes = synthesize(
            args.lines, args.out, catalog.codesets["icd10cm"].table, args.seed
        )
        if args.x12:
            batch = write_837(extract)
    print(f"wrote {extract} ({extract.stat().st_size / 1e6:,.1f} MB) and {notes}")
    if args.x12:
        print(
            f"wrote {batch} ({batch.stat().st_size / 1e6:,.1f} MB), the same claims as an 837P batch"
        )
    print(f"validate it: cleanclaim validate {extract} --report {args.out / 'denial-risk.xlsx'}")
    return EXIT_CLEAN


def main(argv: list[str] | None = None) -> int:
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
        return cmd_nightly(args)
    if args.command == "serve":
        return cmd_serve(args)
    if args.command == "synth":
        return cmd_synth(args, catalog)
    if args.command == "decisions":
        return cmd_decisions(args)
    return cmd_validate(args, catalog) if args.command == "validate" else cmd_rules(args, catalog)


if __name__ == "__main__":
    sys.exit(main())
