"""Orchestration around the pure checks of `validators`: reading files, the Prefect flows, the CLI."""
