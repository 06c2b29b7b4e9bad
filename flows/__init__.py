"""cleanclaim's entry points: the CLI, the Prefect flows and the stages they share.

Importing this package first (every entry point does) tunes polars' memory allocator before polars
loads. polars' jemalloc returns freed memory to the system within a second, and buffers over 8 MB
at once, so each stage's fresh columns were page-faulted in again: on this 2-core VM the kernel's
share was a sixth of the checking time (1M lines: 600k page faults). Keeping freed pages three
seconds for reuse cut the faults by half and the run by about 7% with the same peak memory
(README, Performance). A value the user sets is kept; jemalloc reads it once, when polars loads.
"""

import os

ALLOCATOR = "oversize_threshold:0,dirty_decay_ms:3000,muzzy_decay_ms:3000"
os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR)
