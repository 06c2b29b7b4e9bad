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
PAYERS = {"MCR01": "Medicare Part B", "BCBS1": "Blue Cross Blue Shield", "AET02": "Aetna", "PIP77": "Keystone Auto PIP"}

# Claim types of a spine and pain practice: share of claims, payers, first diagnosis, the codes of
# lines 1..n (the last repeats), the modifiers of lines 1..n, and an error the front office makes
# on about 2% of such claims (the diagnosis or modifier it puts instead).
TYPES = {
    "office":  (0.38, ["MCR01", "BCBS1", "AET02"], ["M54.2", "M54.50", "M54.12", "M62.830", "M47.816"],
                ["99213", "99214"], [None], ("dx_1", "M54.5")),
    "esi_l":   (0.10, ["MCR01", "BCBS1"], ["M54.16", "M54.17", "M48.062"], ["64483", "64484"], [None],
                ("dx_1", "M54.50")),
    "esi_c":   (0.05, ["MCR01", "BCBS1"], ["M54.12"], ["62321"], [None], ("dx_1", "M54.2")),
    "facet":   (0.08, ["MCR01", "BCBS1"], ["M47.816", "M47.812"], ["64493", "64494"], [None], ("dx_1", "M54.16")),
    "tpi":     (0.07, ["BCBS1", "AET02"], ["M62.830", "M79.18"], ["99213", "20552"], ["25", None],
                ("modifier_1", None)),
    "therapy": (0.27, ["BCBS1", "AET02", "MCR01"], ["M54.16", "M62.830", "M54.50"],
                ["97110", "97140", "97112", "97530"], ["GP"], ("modifier_1", None)),
    "auto":    (0.05, ["PIP77"], ["S13.4XXA", "S16.1XXA", "S33.5XXA"], ["99203", "97140"], [None, "GP"],
                ("dx_1", "M54.2")),
}
LINES = {"office": (1, 2), "esi_l": (1, 2), "esi_c": (1, 1), "facet": (1, 2), "tpi": (2, 2), "therapy": (1, 4),
         "auto": (2, 2)}


def make_extract(n_lines: int, path: Path, seed: int = 7) -> Path:
    """A canonical CSV of about n lines with coherent claims and realistic error rates; deterministic.

    About 1.5% of lines carry a field defect (a mistyped NPI, a lost leading zero, an impossible
    date, zero units, a formatted charge, a pointer to an empty slot), about 2% of claims a coding
    or procedure error of their type, 1% a header or incomplete diagnosis code.
    """
    rng = np.random.default_rng(seed)
    names = list(TYPES)
    n_claims = int(n_lines / 1.5)  # more than enough claims; the lines are cut at n_lines
    kind = rng.choice(len(names), size=n_claims, p=[TYPES[t][0] for t in names])
    lo = np.array([LINES[t][0] for t in names])[kind]
    hi = np.array([LINES[t][1] for t in names])[kind]
    per_claim = rng.integers(lo, hi + 1)
    claim = np.repeat(np.arange(n_claims), per_claim)[:n_lines]

    def pick(pool: list, size: int, bad: list | None = None, rate: float = 0.0) -> pl.Series:
        """Values from `pool`, with a fraction `rate` replaced by values from `bad`."""
        good = pl.Series(pool, dtype=pl.String).gather(rng.integers(0, len(pool), size=size))
        if not bad:
            return good
        wrong = pl.Series(bad, dtype=pl.String).gather(rng.integers(0, len(bad), size=size))
        return pl.select(pl.when(pl.Series(rng.random(size) < rate)).then(wrong).otherwise(good)).to_series()

    def by_type(values: dict[str, list], size_kind: np.ndarray, index: np.ndarray | None = None) -> pl.Series:
        """For each row, the type's value list at `index` (the last one repeats), or a random pick."""
        out = np.empty(len(size_kind), dtype=object)
        for i, t in enumerate(names):
            rows = np.flatnonzero(size_kind == i)
            pool = values[t]
            choice = (np.minimum(index[rows], len(pool) - 1) if index is not None
                      else rng.integers(0, len(pool), size=len(rows)))
            out[rows] = np.asarray(pool, dtype=object)[choice]
        return pl.Series(out.tolist(), dtype=pl.String)

    error = rng.random(n_claims) < 0.02
    claims = pl.DataFrame({
        "_claim": np.arange(n_claims), "_kind": kind, "_error": error,
        "patient_id": pl.Series(rng.integers(1, 400_000, n_claims)).cast(pl.String).str.zfill(6),
        "patient_dob": pl.Series(rng.integers(-18_000, 10_000, n_claims)).cast(pl.Date).dt.to_string("%Y-%m-%d"),
        "patient_sex": pick(["F", "M"], n_claims),
        "payer_id": by_type({t: TYPES[t][1] for t in names}, kind),
        "billing_npi": pick(NPIS[:1], n_claims, ["1049827360"], 0.003),
        "dx_1": by_type({t: TYPES[t][2] for t in names}, kind),
        "service_date": pick([f"2026-09-{d:02d}" for d in range(1, 31)], n_claims, ["09/31/2026"], 0.002),
    }).with_columns(pl.format("PT-{}", "patient_id").alias("patient_id"))
    # The type's typical error, on about 2% of claims; 1% of claims get a header/incomplete code.
    err_dx = {t: TYPES[t][5][1] for t in names if TYPES[t][5][0] == "dx_1"}
    claims = claims.with_columns(
        pl.when(pl.col("_error") & pl.col("_kind").is_in([names.index(t) for t in err_dx]))
        .then(pl.col("_kind").replace_strict({names.index(t): v for t, v in err_dx.items()}, default=None))
        .otherwise("dx_1").alias("dx_1"))
    claims = claims.with_columns(pick(["x"], n_claims, ["724.2", "M54.5", "M79.1", "S13.4"], 0.01).alias("_bad_dx")) \
        .with_columns(pl.when(pl.col("_bad_dx") != "x").then("_bad_dx").otherwise("dx_1").alias("dx_1")).drop("_bad_dx")
    auto = names.index("auto")
    claims = claims.with_columns(
        pl.when(pl.col("_kind") == auto).then(pl.lit("V43.52XA")).alias("dx_2"),
        pl.when(pl.col("_kind") == auto).then(pl.lit("AA")).alias("accident_indicator"),
        pl.when(pl.col("_kind") == auto).then(pl.lit("2026-08-28")).alias("injury_date"))

    frame = pl.DataFrame({"_claim": claim}).with_columns((pl.int_range(pl.len()).over("_claim")).alias("_line"))
    lines = frame.join(claims, on="_claim", how="left")
    kinds, index = lines["_kind"].to_numpy(), lines["_line"].to_numpy()
    mod_error = {names.index(t) for t in names if TYPES[t][5][0] == "modifier_1"}
    lines = lines.with_columns(
        by_type({t: TYPES[t][3] for t in names}, kinds, index).alias("procedure_code"),
        by_type({t: TYPES[t][4] for t in names}, kinds, index).alias("modifier_1"),
    ).with_columns(
        pl.when(pl.col("_error") & pl.col("_kind").is_in(list(mod_error))).then(None)
        .otherwise("modifier_1").alias("modifier_1"),
        pl.format("CLM{}", pl.col("_claim")).alias("claim_id"),
        (pl.col("_line") + 1).cast(pl.String).alias("line_number"),
        pick(NPIS[1:], len(lines)).alias("rendering_npi"),
        pick(["11", "11", "11", "22", "24"], len(lines), ["1"], 0.003).alias("place_of_service"),
        pick(["1"], len(lines), ["0"], 0.002).alias("units"),
        pick(["150.00", "1450.00", "65.00", "210.00"], len(lines), ["$1,250"], 0.003).alias("charge_amount"),
        pick(["1"], len(lines), ["3"], 0.003).alias("diagnosis_pointers"),
    ).with_columns(pl.col("payer_id").replace(PAYERS).alias("payer_name"))
    lines.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in CANONICAL if c not in lines.columns) \
        .select(CANONICAL).write_csv(path)
    return path


def timed(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def parse_args(doc: str) -> argparse.Namespace:
    """--lines and --runs, shared by the benchmarks built on make_extract."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    return parser.parse_args()


def main() -> None:
    args = parse_args(__doc__)
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
    print(f"engine rules ({n_coding}: coding + procedure): {coding_s:6.2f} s   {coding.height:,} findings"
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
