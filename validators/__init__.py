"""Pure checks: frames and the catalog in, frames out."""

import sys

import polars as pl

# pandera loads hypothesis when it is installed (it is, in every venv `make` builds: the tests use it)
# only to offer data synthesis, which cleanclaim never asks for: 0.18 s of every command's start.
# Its polars checks are loaded here, before any module of this package imports pandera, with
# hypothesis hidden, unless the process has already loaded it.
if "hypothesis" not in sys.modules:
    sys.modules["hypothesis"] = None  # type: ignore[assignment]  # `import hypothesis` raises ImportError
    try:
        import pandera.backends.polars.builtin_checks  # noqa: F401
    finally:
        del sys.modules["hypothesis"]

# polars 2 runs a plain `LazyFrame.collect()` on its streaming engine. Pandera collects each check's
# result three or four times (~230 small queries per file), and a small query costs twice as much
# there as in memory (0.41 vs 0.19 ms): field integrity of a 7-line file 0.14 -> 0.10 s, the ad-hoc
# sample run ~0.25 s faster. Claim files are checked in memory anyway (in parts, flows/pipeline.py).
pl.Config.set_engine_affinity("in-memory")
