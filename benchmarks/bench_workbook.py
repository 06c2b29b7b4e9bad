"""The denial-risk workbook for a 1,000,000-line run: scoring, the Summary's tables and the write.

Builds the same synthetic extract as bench_foundation.py, validates it once (not timed), then
times what happens after validation: the per-claim scores, the Summary tables and the workbook
(write-only openpyxl, bounded sheets), and separately the full findings file beside it.
Target: the workbook in under 10 s, so a whole 1M-line run stays within 20 s.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_foundation import make_extract, parse_args, timed  # noqa: E402  (this folder is on sys.path)
from flows import pipeline  # noqa: E402
from flows.report import write_findings_file  # noqa: E402
from validators.catalog import load_catalog  # noqa: E402

AS_OF = date(2026, 9, 30)


def main() -> None:
    args = parse_args(__doc__)
    catalog = load_catalog()
    with tempfile.TemporaryDirectory() as tmp:
        item = pipeline.InputFile(make_extract(args.lines, Path(tmp) / "extract.csv"))
        start = time.perf_counter()
        outcome = pipeline.validate_file(item, catalog, AS_OF)
        validate_s = time.perf_counter() - start

        def workbook() -> dict:
            run = pipeline.Run([outcome], catalog, AS_OF, datetime.now())  # fresh: scores not cached
            return pipeline.write_outputs(run, Path(tmp) / "r.xlsx", None) | {"run": run}

        write_s, out = timed(workbook, args.runs)
        score_s, _ = timed(lambda: pipeline.Run([outcome], catalog, AS_OF, datetime.now()).tables, args.runs)
        file_s, _ = timed(lambda: write_findings_file(outcome.findings, Path(tmp) / "f.parquet"), args.runs)
        csv_s, _ = timed(lambda: write_findings_file(outcome.findings, Path(tmp) / "f.csv"), args.runs)
        size_mb = (Path(tmp) / "r.xlsx").stat().st_size / 1e6
    run = out["run"]
    status = dict(run.claims.group_by("status").len().iter_rows())
    print(f"run: {args.lines:,} lines, {run.claims.height:,} claims ({status}), {run.findings.height:,} findings;"
          f" validation {validate_s:.1f} s (not part of the figures below) · median of {args.runs} runs")
    print(f"scores + Summary tables:             {score_s:6.2f} s")
    print(f"workbook (scores, tables, 5 sheets):  {write_s:6.2f} s   {size_mb:.1f} MB,"
          f" {out['rows_not_shown']:,} rows left to the findings file   (target < 10 s)")
    print(f"findings file, Parquet:              {file_s:6.2f} s")
    print(f"findings file, CSV:                  {csv_s:6.2f} s")


if __name__ == "__main__":
    main()
