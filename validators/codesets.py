"""Reference code sets shipped as data in `rules/codesets/` (index.yaml says source and dates)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from validators.errors import RuleConfigError

# libyaml's safe loader when the wheel has it: the rule files load 5x faster (ad-hoc runs feel it).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)


def default_rules_dir() -> Path:
    """`rules/` beside the packages (the repo checkout), or CLEANCLAIM_RULES."""
    return Path(os.environ.get("CLEANCLAIM_RULES") or Path(__file__).resolve().parents[1] / "rules")


class CodesetInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str
    key: str
    title: str
    source: str
    version: str
    effective_from: date
    valid_to: date | None = (
        None  # last service date the set is meant for (a code set's fiscal year)
    )


@dataclass(frozen=True)
class Codeset:
    name: str
    info: CodesetInfo
    table: pl.DataFrame

    def codes(self) -> list[str]:
        return self.table[self.info.key].to_list()

    def wording(self, code: str) -> str | None:
        hit = self.table.filter(pl.col(self.info.key) == code)
        return hit["wording"].item() if hit.height and "wording" in hit.columns else None


def load_codesets(rules_dir: Path | None = None) -> dict[str, Codeset]:
    folder = (rules_dir or default_rules_dir()) / "codesets"
    try:
        index = read_yaml(folder / "index.yaml")
    except (OSError, yaml.YAMLError) as exc:
        raise RuleConfigError(
            f"{folder / 'index.yaml'}: cannot be read ({type(exc).__name__})"
        ) from None
    sets = {}
    for name, entry in index.items():
        try:
            info = CodesetInfo.model_validate(entry)
        except ValidationError as exc:
            raise RuleConfigError(f"codeset {name} in {folder / 'index.yaml'}: {exc}") from None
        path = folder / info.file
        if not path.exists():
            raise RuleConfigError(f"codeset {name}: file {path} does not exist")
        # Codes stay text: POS "01" must not become 1. Derived tables (ICD-10-CM) are Parquet;
        # vocabularies with lists and booleans (documentation elements) are YAML.
        if path.suffix == ".parquet":
            table = pl.read_parquet(path)
        elif path.suffix == ".yaml":
            table = pl.DataFrame(read_yaml(path))
        else:
            table = pl.read_csv(path, infer_schema=False)
        if info.key not in table.columns:
            raise RuleConfigError(f"codeset {name}: {path.name} has no column {info.key!r}")
        sets[name] = Codeset(name, info, table)
    return sets
