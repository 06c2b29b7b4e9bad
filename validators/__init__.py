"""Pure checks: frames and the catalog in, frames out."""

import polars as pl

# polars 2 runs a plain `LazyFrame.collect()` on its streaming engine. Pandera collects each check's
# result three or four times (~230 small queries per file), and a small query costs twice as much
# there as in memory (0.41 vs 0.19 ms): field integrity of a 7-line file 0.14 -> 0.10 s, the ad-hoc
# sample run ~0.25 s faster. Claim files are checked in memory anyway (in parts, flows/pipeline.py).
pl.Config.set_engine_affinity("in-memory")
