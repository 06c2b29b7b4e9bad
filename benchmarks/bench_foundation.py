"""Foundation benchmark: load + field integrity on a large synthetic extract, and the ad-hoc sample run.

Prints figures; asserts nothing (speed is measured here, never in tests).

    .venv/bin/python benchmarks/bench_foundation.py            # 1,000,000 lines
    .venv/bin/python benchmarks/bench_foundation.py --lines 200000 --runs 1
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flows.extract import read_extract  # noqa: E402
from validators.catalog import load_catalog  # noqa: E402
from validators.contract import CANONICAL  # noqa: E402
from validators.engine import run_rules  # noqa: E402
from validators.integrity import check_integrity  # noqa: E402

NPIS = ["1049827367", "1937462517", "1673029488", "1588204713", "1234567893"]
CODES = ["99213", "99214", "62321", "62323", "64483", "64484", "64493", "20552", "20553", "97110", "97140", "J1040"]
PAYERS = {"MCR01": "Medicare Part B", "BCBS1": "Blue Cross Blue Shield", "AET02": "Aetna", "PIP77": "Keystone Auto PIP"}
DX = ["M54.12", "M54.2", "M5416", "M62.830", "S13.4XXA", "M54.50", "M47.816", "M48.062", "M51.16", "G89.29"]


def make_extract(n_lines: int, path: Path, seed: int = 7) -> Path:
    """A canonical CSV of n lines (1-4 per claim), about 2% of lines with a field defect; deterministic.

    Defect rates follow what front desks produce: a mistyped NPI, a lost leading zero, an
    impossible date, zero units, a formatted charge, a pointer to an empty slot.
    """
    rng = np.random.default_rng(seed)
    claim = np.repeat(np.arange(n_lines), rng.integers(1, 5, size=n_lines))[:n_lines]
    frame = pl.DataFrame({"_claim": claim}).with_columns((pl.int_range(pl.len()).over("_claim") + 1).alias("_line"))
    n_claims = int(claim.max()) + 1

    def pick(pool: list, size: int, bad: list | None = None, rate: float = 0.0) -> pl.Series:
        """Values from `pool`, with a fraction `rate` replaced by values from `bad`."""
        good = pl.Series(pool, dtype=pl.String).gather(rng.integers(0, len(pool), size=size))
        if not bad:
            return good
        wrong = pl.Series(bad, dtype=pl.String).gather(rng.integers(0, len(bad), size=size))
        return pl.select(pl.when(pl.Series(rng.random(size) < rate)).then(wrong).otherwise(good)).to_series()

    claim_level = pl.DataFrame({
        "_claim": np.arange(n_claims),
        "patient_id": pl.Series(rng.integers(1, 400_000, n_claims)).cast(pl.String).str.zfill(6),
        "patient_dob": pl.Series(rng.integers(-18_000, 10_000, n_claims)).cast(pl.Date).dt.to_string("%Y-%m-%d"),
        "patient_sex": pick(["F", "M"], n_claims),
        "payer_id": pick(["MCR01", "BCBS1", "AET02", "PIP77"], n_claims),
        "billing_npi": pick(NPIS[:1], n_claims, ["1049827360"], 0.003),
        "dx_1": pick(DX, n_claims, ["724.2", "M54.5", "M79.1", "S13.4"], 0.01),
        "dx_2": pick(DX + [None] * 10, n_claims),
    }).with_columns(
        pl.format("PT-{}", "patient_id").alias("patient_id"),
        # Auto claims report the accident (some are coded with symptoms only: INJ001).
        pl.when(pl.col("payer_id") == "PIP77").then(pl.lit("AA")).alias("accident_indicator"),
        pl.when(pl.col("payer_id") == "PIP77").then(pl.lit("2026-08-28")).alias("injury_date"),
    )
    lines = frame.join(claim_level, on="_claim", how="left").with_columns(
        pl.format("CLM{}", pl.col("_claim")).alias("claim_id"),
        pl.col("_line").cast(pl.String).alias("line_number"),
        pick(NPIS, n_lines).alias("rendering_npi"),
        pick(["11", "11", "11", "22", "24"], n_lines, ["1"], 0.003).alias("place_of_service"),
        pick([f"2026-09-{d:02d}" for d in range(1, 31)], n_lines, ["09/31/2026"], 0.002).alias("service_date"),
        pick(CODES, n_lines).alias("procedure_code"),
        pick([None] * 8 + ["25", "GP", "RT", "LT"], n_lines).alias("modifier_1"),
        pick(["1"] * 8 + ["2"], n_lines, ["0"], 0.002).alias("units"),
        pick(["150.00", "1450.00", "65.00", "210.00"], n_lines, ["$1,250"], 0.003).alias("charge_amount"),
        pick(["1", "1,2"], n_lines, ["3"], 0.003).alias("diagnosis_pointers"),
    ).with_columns(  # point at slot 2 only when the claim has a second diagnosis
        pl.when(pl.col("dx_2").is_null() & (pl.col("diagnosis_pointers") == "1,2")).then(pl.lit("1"))
        .otherwise("diagnosis_pointers").alias("diagnosis_pointers"))
    lines.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in CANONICAL if c not in lines.columns) \
        .with_columns(pl.col("patient_sex").replace({"F": "Female"}).alias("payer_name")) \
        .select(CANONICAL).write_csv(path)
    return path


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    catalog = load_catalog()
    with tempfile.TemporaryDirectory() as tmp:
        path = make_extract(args.lines, Path(tmp) / "extract.csv")
        size_mb = path.stat().st_size / 1e6
        load_s, extract = timed(lambda: read_extract(path), args.runs)
        check_s, result = timed(lambda: check_integrity(extract.lines, catalog, date(2026, 9, 30)), args.runs)
        coding_s, coding = timed(lambda: run_rules(result.lines, catalog, date(2026, 9, 30)), args.runs)
    total = load_s + check_s
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {__import__('os').cpu_count()} cores · polars {pl.__version__} · median of {args.runs} runs")
    print(f"extract: {args.lines:,} lines, {extract.lines['claim_id'].n_unique():,} claims, {size_mb:,.0f} MB CSV")
    print(f"load (read + canonical text frame):  {load_s:6.2f} s")
    print(f"field integrity (pandera model):      {check_s:6.2f} s   {result.findings.height:,} findings")
    print(f"load + field integrity:              {total:6.2f} s   {args.lines / total:,.0f} lines/s   (target < 5 s at 1M)")
    n_coding = len(catalog.by_stage("engine"))
    print(f"coding rules ({n_coding} rules, engine):  {coding_s:6.2f} s   {coding.height:,} findings"
          f"   (target: no more than load + field integrity, {total:.2f} s)")
    print(f"peak memory (RSS):                   {peak_mb:6.0f} MB")

    cmd = [str(REPO / ".venv" / "bin" / "cleanclaim"), "validate", str(REPO / "sample_claims"), "--as-of", "2026-09-30"]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([*cmd, "--report", f"{tmp}/r.xlsx", "--findings", f"{tmp}/f.csv", "-q"], check=False)
        adhoc = time.perf_counter() - start
    print(f"ad-hoc run of sample_claims/, command to workbook: {adhoc:.2f} s   (target < 3 s)")


if __name__ == "__main__":
    main()
