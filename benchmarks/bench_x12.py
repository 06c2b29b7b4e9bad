"""837P benchmark: cleanclaim's reader against pyx12 and x12sdk, on a large batch and the real files.

Prints figures; asserts nothing. Three parts:

- scale: a synthetic 837P batch of at least 100,000 claims (`cleanclaim synth --x12`), loaded into
  the canonical frame (the issue's target: under 30 s) and validated end to end to the findings,
  in a child process so its peak memory is its own;
- peers on the same kind of batch (PEER_CLAIMS claims, which is plenty for a rate): pyx12 4.0.0's
  X12Reader (segments only: it does not build the loops, which is the work that matters here) and
  x12sdk 2.2.0's model reader with its `claims()` accessor;
- the real public 837 files in tests/data/x12: what each parser does with each one
  (read, refuse with a reason, crash, or silently find no claims).

    .venv/bin/python benchmarks/bench_x12.py
    .venv/bin/python benchmarks/bench_x12.py --claims 20000
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cleanclaim.validators import runtime

runtime.configure()  # before polars loads, as the product's entry points do

import polars as pl

from cleanclaim.flows import pipeline
from cleanclaim.flows.extract import read_extract
from cleanclaim.flows.synth import to_837
from cleanclaim.validators.catalog import load_catalog
from cleanclaim.validators.errors import ExtractError

AS_OF = date(2026, 9, 30)
LINES_PER_CLAIM = 1.9  # cleanclaim synth's mix (1-4 lines, therapy and injections multi-line)
PEER_CLAIMS = 2_000
PUBLIC = REPO / "tests" / "data" / "x12"


def synth(claims: int, folder: Path) -> Path:
    lines = int(claims * LINES_PER_CLAIM) + 1000
    subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "cleanclaim"),
            "synth",
            "--lines",
            str(lines),
            "--out",
            str(folder),
            "--x12",
        ],
        check=True,
        capture_output=True,
    )
    return folder / f"synthetic-{lines}.837"


def clean_batch(claims: int, folder: Path) -> Path:
    """A batch of `claims` claims none of whose lines has a field defect."""
    extract = synth(int(claims * 1.3), folder).with_suffix(".csv")
    lines = pl.read_csv(extract, infer_schema=False)
    defective = lines.filter(
        ~pl.col("charge_amount").str.contains(r"^\d+\.\d\d$")
        | ~pl.col("service_date").str.contains(r"^\d{4}-\d\d-\d\d$")
        | (pl.col("units") == "0")
        | ~pl.col("place_of_service").str.contains(r"^\d\d$")
    )
    keep = (
        lines["claim_id"]
        .unique(maintain_order=True)
        .filter(
            ~lines["claim_id"].unique(maintain_order=True).is_in(defective["claim_id"].implode())
        )[:claims]
    )
    batch = folder / "clean.837"
    batch.write_text(
        to_837(lines.filter(pl.col("claim_id").is_in(keep.implode()))), encoding="ascii"
    )
    return batch


def measure(batch: Path) -> dict:
    """In this (child) process: load, then validate, the batch."""
    clock = time.perf_counter()
    extract = read_extract(batch)
    load = time.perf_counter() - clock
    out = {
        "load_s": load,
        "lines": extract.lines.height,
        "claims": extract.lines["claim_id"].n_unique(),
        "segments": extract.facts["segments"],
        "mb": batch.stat().st_size / 1e6,
        "load_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    del extract
    catalog = load_catalog()
    clock = time.perf_counter()
    outcome = pipeline.validate_file(pipeline.discover([batch])[0], catalog, AS_OF)
    out.update(
        validate_s=time.perf_counter() - clock,
        findings=outcome.findings.height,
        peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    return out


def pyx12_segments(path: Path) -> int:
    import pyx12.x12file

    return sum(1 for _ in pyx12.x12file.X12Reader(str(path)))


def x12sdk_claims(path: Path) -> int:
    from x12sdk.io import X12ModelReader

    with X12ModelReader(str(path)) as reader:
        return sum(1 for model in reader.models() for _ in model.claims())


def ours_claims(path: Path) -> int:
    return read_extract(path).lines["claim_id"].n_unique()


def timed(fn, path: Path) -> tuple[float | None, str]:
    clock = time.perf_counter()
    try:
        result = fn(path)
    except ExtractError as exc:
        return None, f"refused: {exc.reason}"
    except Exception as exc:  # a peer's failure is a figure of this benchmark, not a crash of it
        return None, f"{type(exc).__name__}"
    return time.perf_counter() - clock, str(result)


def real_files() -> None:
    files = sorted(p for p in PUBLIC.rglob("*") if p.is_file() and "835" not in p.name)
    print(f"\nthe {len(files)} public 837 files in tests/data/x12 (what each parser does):")
    tally = {name: {} for name in ("cleanclaim", "pyx12 X12Reader", "x12sdk")}
    for path in files:
        for name, fn in (
            ("cleanclaim", ours_claims),
            ("pyx12 X12Reader", pyx12_segments),
            ("x12sdk", x12sdk_claims),
        ):
            _, result = timed(fn, path)
            kind = (
                result.split(":")[0]
                if not result.isdigit()
                else ("no claims found" if result == "0" else "read")
            )
            tally[name][kind] = tally[name].get(kind, 0) + 1
    for name, kinds in tally.items():
        print(
            f"  {name:18s} "
            + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--claims", type=int, default=100_000, help="claims in the large batch (default 100,000)"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        batch = synth(args.claims, Path(tmp) / "big")
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(batch)],
            check=True,
            capture_output=True,
            text=True,
        )
        m = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"\nsynthetic 837P batch: {m['claims']:,} claims, {m['lines']:,} lines, {m['segments']:,} segments, "
            f"{m['mb']:.0f} MB"
        )
        print(
            f"  load into the canonical frame   {m['load_s']:6.2f} s   ({m['claims'] / m['load_s']:,.0f} claims/s; "
            f"target < 30 s)   peak {m['load_peak_mb']:,.0f} MB"
        )
        print(
            f"  validate end to end (findings)  {m['validate_s']:6.2f} s   {m['findings']:,} findings   "
            f"peak {m['peak_mb']:,.0f} MB"
        )
        small = clean_batch(PEER_CLAIMS, Path(tmp) / "small")
        print(
            f"\non a {PEER_CLAIMS:,}-claim batch without field defects (x12sdk refuses a whole transaction set "
            "for one), claims per second:"
        )
        ours, _ = timed(ours_claims, small)
        for name, fn, what in (
            ("cleanclaim reader", ours_claims, "claims, lines, loops"),
            ("pyx12 X12Reader", pyx12_segments, "segments only, no loops"),
            ("x12sdk models", x12sdk_claims, "typed models, claims()"),
        ):
            seconds, result = timed(fn, small)
            if seconds is None:
                print(f"  {name:18s} failed: {result}")
            else:
                ratio = (
                    f"; cleanclaim {seconds / ours:.1f}x as fast"
                    if ours and name != "cleanclaim reader"
                    else ""
                )
                print(f"  {name:18s} {PEER_CLAIMS / seconds:10,.0f}/s  ({what}{ratio})")
    real_files()


if __name__ == "__main__":
    main()
