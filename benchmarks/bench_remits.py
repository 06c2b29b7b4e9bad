"""Remittance benchmark: a month of 835s for a million synthetic lines, read and linked.

Prints figures; asserts nothing. Set-up (not timed): `cleanclaim synth --remits` writes the
extract, validates it and writes four weekly ERAs adjudicated from its findings; the validated
run is left in a run history the way the nightly flow leaves it (stage, then ingest). Timed, in a
fresh history copy per repeat (the copy not timed) so each run starts as the first reading of that month would:

- read: the four 835s through flows/remits.py;
- read + link: `cleanclaim remits`'s work without its output files (flows/outcomes.py `process`
  records each ERA in the history, links every answer to its validated claim and line, measures
  each production date and calibrates) -- the issue's target is under 30 s;
- the same with the outcome files and the four workbooks, end to end.

    .venv/bin/python benchmarks/bench_remits.py
    .venv/bin/python benchmarks/bench_remits.py --lines 100000 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
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

import polars as pl

from cleanclaim.flows import outcomes, pipeline
from cleanclaim.flows.history import History, RemitHistory, file_meta
from cleanclaim.flows.inbox import file_sha256
from cleanclaim.flows.remits import read_835
from cleanclaim.validators.catalog import load_catalog

AS_OF = date(2026, 9, 30)


def set_up(lines: int, folder: Path, catalog) -> tuple[list[Path], Path]:
    subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "cleanclaim"),
            "synth",
            "--lines",
            str(lines),
            "--out",
            str(folder),
            "--remits",
        ],
        check=True,
        capture_output=True,
    )
    extract = folder / f"synthetic-{lines}.csv"
    run = pipeline.run(pipeline.discover([extract]), catalog, AS_OF)
    out = folder / "history"
    store = History(out)
    store.stage(
        "f" * 64,
        file_meta(extract.name, "bench", AS_OF, run.claims.height, run.findings.height),
        run.lines,
        run.claims,
        run.findings,
    )
    store.ingest()
    return sorted((folder / f"synthetic-{lines}.remits").glob("*.835")), out


def timed(step, repeat: int, prepare=lambda: None) -> list[tuple[float, float]]:
    """(wall seconds, CPU seconds of all this process's threads) of `step(prepare())` per repeat;
    what `prepare` does is not timed. CPU time says what a quiet machine would take when other jobs
    share the cores: on two cores the wall time of a quiet run lies between CPU/2 and CPU."""
    times = []
    for _ in range(repeat):
        ready = prepare()
        start, cpu = time.perf_counter(), time.process_time()
        step(ready)
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    catalog = load_catalog()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        clock = time.perf_counter()
        eras, history = set_up(args.lines, folder, catalog)
        print(f"set-up (synth --remits, validate, history): {time.perf_counter() - clock:.1f} s")
        size = sum(p.stat().st_size for p in eras) / 1e6
        read = [read_835(p) for p in eras]
        claims = sum(r.facts["claims"] for r in read)
        remit_lines = sum(r.facts["lines"] for r in read)
        print(
            f"{len(eras)} ERAs, {size:,.0f} MB: {claims:,} claims, {remit_lines:,} lines, "
            f"{sum(r.adjustments.height for r in read):,} adjustments"
        )
        del read

        def fresh() -> Path:
            """A copy of the validated history: each repeat reads the month for the first time."""
            work = folder / f"run-{datetime.now().timestamp()}"
            shutil.copytree(history, work)
            return work

        def read_all(_) -> None:
            for p in eras:
                read_835(p)

        def read_and_link(out: Path) -> None:
            store = RemitHistory(out)
            for p in eras:
                outcomes.record(store, read_835(p), file_sha256(p))
            everything = store.remits()
            ids = everything["remit_claims"]["claim_id"]
            measured = outcomes.measure(everything, store.validated(ids), catalog)
            outcomes.calibrate(measured.rule_outcomes, catalog)

        def end_to_end(out: Path) -> None:
            outcomes.process(eras, out, catalog)

        results = {
            "read (4 x 835)": timed(read_all, args.repeat),
            "read + link (record, link, measure, calibrate)": timed(
                read_and_link, args.repeat, fresh
            ),
            "end to end (+ outcome files, 4 workbooks)": timed(end_to_end, args.repeat, fresh),
        }
        out = fresh()
        done = outcomes.process(eras, out, catalog)
        totals = pl.DataFrame(
            [{"date": str(d.production_date), **d.measured.totals} for d in done.days]
        )
    print(f"\n{args.lines:,} synthetic lines, a month of remits; median of {args.repeat}")
    for name, times in results.items():
        wall, cpu = (statistics.median(t[i] for t in times) for i in (0, 1))
        runs = ", ".join(f"{w:.1f}/{c:.1f}" for w, c in times)
        print(f"  {name:<50} {wall:7.2f} s wall {cpu:7.2f} s CPU   (wall/CPU: {runs})")
    print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(totals)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak memory of this process: {peak:,.0f} MB · {platform.python_version()} · polars {pl.__version__}"
    )


if __name__ == "__main__":
    main()
