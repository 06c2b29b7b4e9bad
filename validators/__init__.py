"""Pure checks: frames and the catalog in, frames out."""

import os
import sys

# polars allocates through jemalloc, which reads this setting once, when polars loads. As polars
# builds it, a freed buffer of 8 MiB or more goes back to the kernel at once and the rest within
# about half a second, from several arenas: a column freed by one step and allocated by the next
# came back as fresh pages, which the kernel faults in and zeroes one by one (1M lines: 0.92-1.03M
# page faults, 3.0-4.3 s of kernel CPU). One arena for every size, freed pages kept 3 s for reuse:
# 0.48-0.63M faults, 1.8-2.8 s, validation 0.1-1.5 s faster in each of ten alternated pairs (7.3-9.7
# -> 6.7-8.5 s), peak memory much the same (1.47-1.69 GB before, 1.54-1.81 GB). An operator's own
# setting is kept (polars issue 23128 discusses the trade-off). Keeping pages longer, or an arena per
# thread, put the 1M peak over 2 GiB (2.1-2.8 GB).
ALLOCATOR_SETTING = "narenas:1,oversize_threshold:0,dirty_decay_ms:3000"
os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR_SETTING)

import polars as pl  # noqa: E402  (after the allocator's setting)

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
