"""Orchestration around the pure checks of `validators`: reading files, the Prefect flows, the CLI."""

import validators  # noqa: F401  (its process-wide settings, the allocator's among them, before polars loads)
