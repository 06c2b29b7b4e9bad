"""The process-wide settings cleanclaim runs with, applied by its entry points, never on import.

`configure()` is called first thing by each way in: the command line (flows/cli.py), the Prefect
flow files a deployment runs by path (flows/nightly.py, flows/adhoc.py), the benchmarks and the
test session. It must run before polars is first imported, which is why those modules call it
above their other imports. A program that imports `validators` as a library keeps its own
settings: the package changes nothing in the process when imported.
"""

from __future__ import annotations

import importlib
import os
import sys

# polars allocates through jemalloc, which reads this setting once, when polars loads. One arena
# for every size and freed pages kept a few seconds for reuse: a column freed by one step and
# allocated by the next reuses its pages instead of faulting fresh, zeroed ones in from the kernel.
# An operator's own setting is kept (polars issue 23128 discusses the trade-off); keeping pages
# longer, or an arena per thread, raised the peak memory of large files.
ALLOCATOR_SETTING = "narenas:1,oversize_threshold:0,dirty_decay_ms:3000"


def configure() -> None:
    """Apply cleanclaim's process-wide settings; call it before polars is first imported (calling it
    again changes nothing: flows/nightly.py imports flows/adhoc.py, and both call it).

    - the allocator setting above (`_RJEM_MALLOC_CONF`), unless the environment already has one;
    - pandera's polars checks loaded with `hypothesis` hidden (unless the process has loaded it
      already): pandera imports it only to offer data synthesis, which cleanclaim never asks for,
      and it is slow to import;
    - polars' engine affinity set to in-memory: pandera collects many small queries, which cost
      more on the streaming engine, and claim files are checked in parts anyway
      (flows/pipeline.py).
    """
    os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR_SETTING)
    if "hypothesis" not in sys.modules:
        sys.modules["hypothesis"] = None  # type: ignore[assignment]  # `import hypothesis` raises ImportError
        try:
            importlib.import_module("pandera.backends.polars.builtin_checks")
        finally:
            del sys.modules["hypothesis"]
    import polars as pl

    pl.Config.set_engine_affinity("in-memory")
