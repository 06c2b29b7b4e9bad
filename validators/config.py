"""Run configuration, ruff-style: which rules run, and per-payer selection and severity.

```yaml
# cleanclaim.yaml
select: [ALL]              # rule ids or prefixes (FLD, COD, GDL, INJ ...); default ALL
ignore: [GDL009]
payers:                    # by payer_id, as in the extract
  PIP77:                   # an auto carrier that requires external-cause codes
    severity: {INJ003: high}
  MCR01:
    ignore: [INJ003]
timely_filing_days: {MCR01: 365, BCBS1: 180, AET02: 90}
threads: 4                 # files, parts of a large file or rules checked at once; default: the CPUs
weights: {DXP001: 0.95}    # scoring weights instead of the YAML's (`cleanclaim remits --write-weights`)
notify_block: custom-webhook/ops-hook   # Prefect notification block told when a nightly run fails
history_retention_months: 25            # the nightly run history (PHI) keeps this long
```

Found as ruff finds its configuration: `--config` wins; otherwise the closest `cleanclaim.yaml` in
the working folder or a folder above it; otherwise the defaults. `--select`/`--ignore` given on the
command line override the file's (`RunConfig.with_selection`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cleanclaim.validators.errors import RuleConfigError

Severity = Literal["high", "medium", "low"]


def default_threads() -> int:
    """The CPUs this process may use (os.process_cpu_count from Python 3.13, else the machine's)."""
    return getattr(os, "process_cpu_count", os.cpu_count)() or 1


class PayerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ignore: list[str] = []
    severity: dict[str, Severity] = {}


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    select: list[str] = ["ALL"]
    ignore: list[str] = []
    payers: dict[str, PayerConfig] = {}
    timely_filing_days: dict[str, int] = {}  # payer_id -> filing limit in days (Medicare: 365)
    # The run's one concurrency setting: how many files, parts of a large file, or rules of a file
    # checked alone, are worked on at once (flows/pipeline.py, validators/engine.py).
    threads: int = Field(default_factory=default_threads, ge=1)
    weights: dict[str, Annotated[float, Field(ge=0, le=1)]] = {}  # rule id -> scoring weight
    # Prefect block ("TYPE/NAME", as `prefect block ls` lists it) a failed nightly run notifies.
    notify_block: str | None = Field(default=None, pattern=r"^[a-z0-9-]+/[A-Za-z0-9_.-]+$")
    # The run history holds patient ids and service dates: kept this long, then purged. 25 months
    # covers the 24 months of lines the duplicate and frequency rules look back over; less
    # shortens their look-back.
    history_retention_months: int = Field(default=25, ge=1)

    def with_selection(
        self, select: list[str] | None = None, ignore: list[str] | None = None
    ) -> RunConfig:
        """The command line's --select/--ignore over the file's, as ruff applies them: --select
        replaces the file's selection and its ignores; --ignore adds to what is ignored."""
        if select:
            return self.model_copy(update={"select": select, "ignore": ignore or []})
        if ignore:
            return self.model_copy(update={"ignore": [*self.ignore, *ignore]})
        return self

    def selects(self, rule_id: str) -> bool:
        def match(prefixes: list[str]) -> bool:
            return any(p == "ALL" or rule_id.startswith(p.upper()) for p in prefixes)

        return match(self.select) and not match(self.ignore)

    def payers_ignoring(self, rule_id: str) -> list[str]:
        return [
            payer
            for payer, c in self.payers.items()
            if any(rule_id.startswith(p.upper()) for p in c.ignore)
        ]

    def severity_by_payer(self, rule_id: str) -> dict[str, str]:
        return {
            payer: c.severity[rule_id] for payer, c in self.payers.items() if rule_id in c.severity
        }


CONFIG_NAME = "cleanclaim.yaml"


def find_config(start: Path | None = None) -> Path | None:
    """The closest cleanclaim.yaml in `start` (default: the working folder) or a folder above it."""
    folder = (start or Path.cwd()).resolve()
    return next(
        (f / CONFIG_NAME for f in (folder, *folder.parents) if (f / CONFIG_NAME).is_file()), None
    )


def config_source(path: str | Path | None) -> tuple[Path | None, str]:
    """Which configuration file a run uses, and how the run's first line announces it."""
    if path:
        return Path(path), f"config {path}"
    found = find_config()
    if found is None:
        return None, f"no {CONFIG_NAME} found: default configuration"
    return found, f"config {found} (found from the working folder)"


def resolve_config(
    path: str | Path | None,
    known_rules: set[str],
    select: list[str] | None = None,
    ignore: list[str] | None = None,
) -> tuple[RunConfig, str]:
    """The run's configuration (the given file, else the discovered one, with the command line's
    select/ignore) and its announcement; RuleConfigError names any rule id that does not exist."""
    found, announcement = config_source(path)
    config = load_config(found, known_rules).with_selection(select, ignore)
    _check_rule_ids("--select/--ignore", [*(select or []), *(ignore or [])], known_rules)
    return config, announcement


def split_rule_ids(values: list[str] | None) -> list[str] | None:
    """`--select FLD,COD --select GDL009` as ruff takes it: repeated or comma-separated."""
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _check_rule_ids(where: str | Path, named: list[str], known_rules: set[str]) -> None:
    unknown = [
        r for r in named if r != "ALL" and not any(k.startswith(r.upper()) for k in known_rules)
    ]
    if unknown:
        raise RuleConfigError(
            f"{where}: no rule matches {sorted(set(unknown))}; see `cleanclaim rules list`"
        )


def load_config(path: str | Path | None, known_rules: set[str]) -> RunConfig:
    """A YAML run configuration; every rule it names must exist (a typo fails before any claim is read)."""
    if path is None:
        return RunConfig()
    try:
        config = RunConfig.model_validate(
            yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        )
    except (OSError, yaml.YAMLError) as exc:
        raise RuleConfigError(f"{path}: cannot be read ({type(exc).__name__})") from None
    except ValidationError as exc:
        raise RuleConfigError(f"{path}: {exc}") from None
    named = [
        *config.select,
        *config.ignore,
        *(r for c in config.payers.values() for r in [*c.ignore, *c.severity]),
    ]
    _check_rule_ids(path, named, known_rules)
    # a weight names one rule, exactly
    _check_rule_ids(path, [r for r in config.weights if r not in known_rules], set())
    return config
