"""Scale benchmark: every stage at 100k, 1M and 5M lines, against the naive loop and claim-validator.

Prints figures; asserts nothing (speed is measured here, never in tests). Each size runs in its own
process on an extract written by `cleanclaim synth` (seed 7), so its peak memory is its own:

- wall time per stage: load (CSV + notes), checking (the parts of the file, `threads` at a time), scoring,
  the findings Parquet, the workbook; validation (from the CSV to the findings Parquet), end to end, lines/s, peak RSS;
  within checking, the seconds of field integrity, coding rules (COD/GDL/INJ), procedure rules
  (DXP/NCC/MUE/MOD/DUP/FRQ/TMF) and documentation (DOC, reading the notes) summed over the parts;
- the two core checks (ICD-10-CM validity COD001/COD002 and dx-procedure pairing DXP001-003) by
  cleanclaim's engine, by a per-row Python loop (benchmarks/naive.py) and by claim-validator 0.3.0
  (its pipeline object reused, and its `validate()` API), as lines per second and ratios. The peers
  run on the first lines of the extract (PEER_LINES), which is plenty for a rate;
- the ad-hoc run of sample_claims/ from the command to the workbook.

The synthetic notes are short templates (357 bytes on average). `--real-notes` follows each with
about 1.5 KB of sentences drawn from the real MTSamples notes in tests/data/notes (as bench_documentation
builds its notes): what a night of real notes weighs. `--dirty` measures each size a second time on
`cleanclaim synth --dirty` (a new client's first file: about two findings a line instead of a third)
and prints its column beside the clean one (the peers are run on the clean extract only).

    .venv/bin/python benchmarks/bench_scale.py                       # 100k, 1M and 5M lines
    .venv/bin/python benchmarks/bench_scale.py --sizes 100000 1000000
    .venv/bin/python benchmarks/bench_scale.py --repeat 3              # medians: to compare two versions
    .venv/bin/python benchmarks/bench_scale.py --sizes 1000000 --real-notes
    .venv/bin/python benchmarks/bench_scale.py --sizes 1000000 --dirty --repeat 2
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cleanclaim.validators import runtime

runtime.configure()  # before polars loads, as the product's entry points do

import naive  # benchmarks/naive.py: a script's own folder is on sys.path
import polars as pl

from cleanclaim.flows import pipeline
from cleanclaim.flows.report import write_findings_file
from cleanclaim.validators.catalog import load_catalog
from cleanclaim.validators.config import RunConfig
from cleanclaim.validators.engine import run_rules
from cleanclaim.validators.integrity import check_integrity

AS_OF = date(2026, 9, 30)
STAGES = {
    "coding rules": ("COD", "GDL", "INJ"),
    "procedure rules": ("DXP", "NCC", "MUE", "MOD", "DUP", "FRQ", "TMF"),
    "documentation": ("DOC",),
}
CORE_RULES = ["COD001", "COD002", "DXP001", "DXP002", "DXP003"]
PEER_LINES = 50_000  # lines the per-row peers run on
CORE_LINES = 1_000_000
# claim-validator comes with the bench extra; without it its columns are left out
PEER_INSTALLED = importlib.util.find_spec("claim_validator") is not None
API_LINES = 5_000  # claim-validator's validate() builds its pipeline per call: fewer lines


def stage_times(n: int, folder: Path, real_notes: bool = False, dirty: bool = False) -> dict:
    """One size, every stage, in this process (on the extract already in `folder`, if any)."""
    catalog = load_catalog()
    extract = folder / (f"synthetic-dirty-{n}.csv" if dirty else f"synthetic-{n}.csv")
    if (
        not extract.exists()
    ):  # written by other processes, so their memory is not in this size's peak
        subprocess.run(
            [
                str(REPO / ".venv" / "bin" / "cleanclaim"),
                "synth",
                "--lines",
                str(n),
                "--out",
                str(folder),
                *(["--dirty"] if dirty else []),
            ],
            check=True,
            capture_output=True,
        )
        if real_notes:
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--lengthen-notes",
                    str(extract.with_suffix(".notes.csv")),
                ],
                check=True,
                capture_output=True,
            )
    item = pipeline.discover([extract])[0]
    out: dict = {
        "lines": n,
        "dirty": dirty,
        "csv_mb": round(extract.stat().st_size / 1e6),
        "notes_mb": round(item.notes.stat().st_size / 1e6) if item.notes else 0,
    }
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    outcome = pipeline.validate_file(item, catalog, AS_OF, timings=timings)
    # splitting into parts by patient, the checks of the parts (`threads` at a time), merging them
    out["checking"] = time.perf_counter() - clock - timings["load"]
    run = pipeline.Run([outcome], catalog, AS_OF, datetime.now())
    parquet = time.perf_counter()
    write_findings_file(run.findings, folder / "findings.parquet")
    out["findings Parquet"] = time.perf_counter() - parquet
    out["validation"] = (
        time.perf_counter() - clock
    )  # issue 8: from reading the CSV to the findings Parquet
    out["load"] = timings.pop("load")
    out["field integrity"] = timings.pop("field integrity")
    for stage, prefixes in STAGES.items():
        out[stage] = sum(s for rule, s in timings.items() if rule.startswith(prefixes))
    clock = time.perf_counter()
    run.claims  # noqa: B018  (cached: the scores the workbook uses)
    run.tables  # noqa: B018
    out["scoring"] = time.perf_counter() - clock
    clock = time.perf_counter()
    pipeline.write_outputs(run, folder / "denial-risk.xlsx", None)
    out["workbook"] = time.perf_counter() - clock
    out["end to end"] = out["validation"] + out["scoring"] + out["workbook"]
    out |= {
        "claims": run.claims.height,
        "findings": run.findings.height,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    del outcome, run
    return out if dirty else out | peers(item, catalog)


def peers(item: pipeline.InputFile, catalog) -> dict:
    """The core checks three ways: lines per second (their inputs built beforehand, untimed).
    Ours runs on up to CORE_LINES typed lines (a rate; large files are checked in parts anyway)."""
    typed = check_integrity(
        pipeline.read_extract(item.path).lines.head(CORE_LINES), catalog, AS_OF
    ).lines
    clock = time.perf_counter()
    core = run_rules(typed, catalog, AS_OF, RunConfig(select=CORE_RULES))
    ours = typed.height / (time.perf_counter() - clock)
    if "ENG001" in core["rule_id"].to_list():
        raise RuntimeError("a core rule crashed: the rate would be meaningless")
    extract = item.path

    rows = pl.read_csv(extract, infer_schema=False, n_rows=PEER_LINES).to_dicts()
    reference = naive.load_reference(catalog.source / "codesets")
    clock = time.perf_counter()
    naive.check(rows, *reference)
    loop = len(rows) / (time.perf_counter() - clock)
    if not PEER_INSTALLED:
        return {"core ours": ours, "core naive loop": loop}

    from claim_validator import validate
    from claim_validator.models.claim import ClaimData
    from claim_validator.validators.pipeline import ValidationPipeline

    claims = as_claim_validator_claims(rows)
    reused = ValidationPipeline.from_settings(None)
    clock = time.perf_counter()
    for claim in claims:
        with contextlib.suppress(
            ValueError
        ):  # its models raise on some defects (an NPI check digit)
            reused.run(ClaimData(**claim))
    cv_reused = len(rows) / (time.perf_counter() - clock)
    few = claims[: max(1, len(claims) * API_LINES // len(rows))]
    clock = time.perf_counter()
    for claim in few:
        with contextlib.suppress(ValueError):
            validate(claim)
    cv_api = sum(len(c["lines"]) for c in few) / (time.perf_counter() - clock)
    return {
        "core ours": ours,
        "core naive loop": loop,
        "claim-validator reused": cv_reused,
        "claim-validator validate()": cv_api,
    }


def as_claim_validator_claims(rows: list[dict]) -> list[dict]:
    """Our canonical rows as claim-validator's ClaimData dicts (one per claim)."""
    claims: dict[str, dict] = {}
    for row in rows:  # input preparation for the peer, not timed
        claim = claims.setdefault(
            row["claim_id"],
            {
                "billing_provider_npi": row["billing_npi"],
                "rendering_provider_npi": row["rendering_npi"],
                "patient_dob": row["patient_dob"],
                "patient_gender": row["patient_sex"],
                "payer_id": row["payer_id"],
                "place_of_service": row["place_of_service"],
                "diagnosis_codes": [
                    {"code": row[f"dx_{i}"], "pointer": i} for i in range(1, 13) if row[f"dx_{i}"]
                ],
                "lines": [],
            },
        )
        pointers = [int(p) for p in (row["diagnosis_pointers"] or "") if p.isdigit()]
        charge = (row["charge_amount"] or "0").replace("$", "").replace(",", "")
        claim["lines"].append(
            {
                "procedure_code": row["procedure_code"] or "",
                "charge_amount": float(charge or 0),
                "units": float(row["units"] or 1),
                "diagnosis_pointers": pointers,
                "service_date_from": row["service_date"],
                "modifiers": [m for m in (row["modifier_1"], row["modifier_2"]) if m],
            }
        )
    return list(claims.values())


def lengthen_notes(path: Path) -> None:
    """Each note of `path` followed by about 1.5 KB of real sentences (its own opening kept)."""
    from bench_documentation import synthetic_notes

    notes = pl.read_csv(path, infer_schema=False)
    real = synthetic_notes(notes.height, seed=5)["text"]
    notes.with_columns(pl.col("note_text") + " " + real).write_csv(path)


def adhoc_seconds() -> float:
    cmd = [
        str(REPO / ".venv" / "bin" / "cleanclaim"),
        "validate",
        str(REPO / "sample_claims"),
        "--as-of",
        "2026-09-30",
        "--config",
        str(REPO / "sample_claims" / "cleanclaim.yaml"),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [*cmd, "--report", f"{tmp}/r.xlsx", "--findings", f"{tmp}/f.csv", "-q"], check=False
        )
        return time.perf_counter() - start


def report(results: list[dict], repeat: int = 1) -> None:
    sizes = [f"{r['lines']:,}" + (" dirty" if r["dirty"] else "") for r in results]
    print(
        f"\nmachine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"polars {pl.__version__}"
    )
    print(f"{'stage (seconds)':28}" + "".join(f"{s:>17}" for s in sizes))
    for key in (
        "load",
        "checking",
        "field integrity",
        *STAGES,
        "findings Parquet",
        "validation",
        "scoring",
        "workbook",
        "end to end",
    ):
        label = f"  {key} *" if key in ("field integrity", *STAGES) else key
        print(f"{label:28}" + "".join(f"{r[key]:17.2f}" for r in results))
    print(
        "  * summed over the parts of the file, which are checked `threads` at a time (a file in one\n"
        "    part: its rules `threads` at a time): together more than `checking`, which is wall time (with splitting\n"
        "    into parts and merging them)"
    )
    rows = {
        "lines/s end to end": lambda r: f"{r['lines'] / r['end to end']:,.0f}",
        "peak memory (MB)": lambda r: f"{r['peak_mb']:,.0f}",
        "claims": lambda r: f"{r['claims']:,}",
        "findings": lambda r: f"{r['findings']:,}",
        "CSV (MB)": lambda r: f"{r['csv_mb']:,}",
        "notes file (MB)": lambda r: f"{r['notes_mb']:,}",
    }
    for key, show in rows.items():
        print(f"{key:28}" + "".join(f"{show(r):>17}" for r in results))
    print("\ncore checks (ICD-10-CM validity + dx-procedure pairing), lines/s:")
    for key in (
        "core ours",
        "core naive loop",
        "claim-validator reused",
        "claim-validator validate()",
    ):
        print(
            f"  {key:28}"
            + "".join(f"{r[key]:17,.0f}" if key in r else f"{'-':>17}" for r in results)
        )
    for r in filter(lambda r: not r["dirty"] and "claim-validator reused" in r, results):
        validation_rate = r["lines"] / r["validation"]
        print(
            f"  at {r['lines']:,} lines: ours vs naive loop {r['core ours'] / r['core naive loop']:.0f}x; "
            f"our whole validation ({len(load_catalog().rules)} rules, {validation_rate:,.0f} lines/s) vs "
            f"claim-validator's reused pipeline {validation_rate / r['claim-validator reused']:.1f}x, vs its "
            f"validate() {validation_rate / r['claim-validator validate()']:.0f}x"
        )
    if len(results) > 1:
        by = {r["lines"]: r for r in results if not r["dirty"]}
        if 1_000_000 in by and 5_000_000 in by:
            print(
                f"memory: 5M peak / 1M peak = {by[5_000_000]['peak_mb'] / by[1_000_000]['peak_mb']:.2f} "
                f"(target <= 3)"
            )
    adhoc = middle([adhoc_seconds() for _ in range(repeat)])
    print(f"ad-hoc run of sample_claims/, command to workbook: {adhoc:.2f} s   (target < 3 s)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per size (each in its own process, on the same extract): the median of each "
        "figure is printed, the highest peak memory. On a shared machine, where one run varies "
        "by 10-20%%, use 3 to compare two versions of the code",
    )
    parser.add_argument(
        "--real-notes",
        action="store_true",
        help="follow each synthetic note with about 1.5 KB of real sentences (real-length notes)",
    )
    parser.add_argument(
        "--dirty",
        action="store_true",
        help="also measure each size on a dirty extract (`cleanclaim synth --dirty`, about two "
        "findings a line), printed beside the clean one",
    )
    parser.add_argument(
        "--one", type=int, help=argparse.SUPPRESS
    )  # internal: measure one size, print JSON
    parser.add_argument(
        "--data", type=Path, help=argparse.SUPPRESS
    )  # internal: where the extract is (or goes)
    parser.add_argument(
        "--lengthen-notes", type=Path, help=argparse.SUPPRESS
    )  # internal: see lengthen_notes
    args = parser.parse_args()
    if args.lengthen_notes:
        lengthen_notes(args.lengthen_notes)
        return
    if args.one:
        print(json.dumps(stage_times(args.one, args.data, args.real_notes, args.dirty)))
        return
    if not PEER_INSTALLED:
        print(
            "claim-validator is not installed, so its columns are left out: install the bench "
            "extra (pip install -e '.[bench]') to print them"
        )
    results = []
    for n, dirty in [
        (n, d) for n in args.sizes for d in ([False, True] if args.dirty else [False])
    ]:
        runs = []
        with tempfile.TemporaryDirectory() as tmp:
            for attempt in range(1, args.repeat + 1):
                print(
                    f"measuring {n:,} {'dirty ' if dirty else ''}lines ({attempt} of {args.repeat}) ...",
                    flush=True,
                )
                done = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--one",
                        str(n),
                        "--data",
                        tmp,
                        *(["--real-notes"] if args.real_notes else []),
                        *(["--dirty"] if dirty else []),
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode:  # the measuring process's own error, not a traceback of ours
                    sys.exit(
                        f"measuring {n:,} lines failed (exit {done.returncode}):\n"
                        + "\n".join(done.stderr.strip().splitlines()[-5:])
                    )
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(f"  {json.dumps(runs[-1])}", flush=True)  # each run's own figures
        results.append(
            {
                key: max(r[key] for r in runs)
                if key == "peak_mb"
                else middle([r[key] for r in runs])
                for key in runs[0]
            }
        )
    if args.real_notes:
        print(
            "\nwith real-length notes: each synthetic note followed by about 1.5 KB of real sentences"
        )
    if args.repeat > 1:
        print(f"\nmedian of {args.repeat} runs per size (peak memory: the highest)")
    report(results, args.repeat)


def middle(values: list) -> float:
    """The median; a count (lines, claims) stays a whole number."""
    return (
        statistics.median_low(values) if isinstance(values[0], int) else statistics.median(values)
    )


if __name__ == "__main__":
    main()
