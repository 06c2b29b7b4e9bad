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
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from validators.errors import RuleConfigError

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
    unknown = [
        r for r in named if r != "ALL" and not any(k.startswith(r.upper()) for k in known_rules)
    ]
    unknown += [r for r in config.weights if r not in known_rules]  # a weight names one rule
    if unknown:
        raise RuleConfigError(
            f"{path}: no rule matches {sorted(set(unknown))}; see `cleanclaim rules list`"
        )
    return config
