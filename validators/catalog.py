"""The rule catalog: `rules/<family>/<ID>.yaml`, one rule per file, the single source of truth.

Docs, `cleanclaim rules explain`, the workbook and the tests all read these files. Loading
checks everything that can be checked before a claim is read (RuleConfigError otherwise).
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

import cleanclaim.validators.checks.documentation
import cleanclaim.validators.checks.dx
import cleanclaim.validators.checks.procedure
import cleanclaim.validators.checks.trauma
import cleanclaim.validators.schema  # noqa: F401  (registers the field-integrity check kinds)
from cleanclaim.validators.checks import REGISTRY
from cleanclaim.validators.codesets import Codeset, default_rules_dir, load_codesets, read_yaml
from cleanclaim.validators.contract import CANONICAL, PHI
from cleanclaim.validators.errors import RuleConfigError

CATEGORIES = (
    "field-integrity",
    "code-validity",
    "coding-guideline",
    "dx-procedure-pairing",
    "trauma-coding",
    "documentation",
    "ncci",
    "mue",
    "modifier",
    "duplicate",
    "frequency",
    "timely-filing",
    "engine",
)
SEVERITIES = ("high", "medium", "low")
HEADINGS = ("**What it checks.**", "**Why payers deny it.**", "**How to fix.**")
_TODO = re.compile(r"\bTODO\b")
Category = Literal[CATEGORIES]  # type: ignore[valid-type]


class Denial(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: Literal["CO", "PR", "OA", "PI", "CR"]
    carc: str
    rarc: list[str] = []


# A citation names a publication a user can look up: these are the ones users of a claim scrubber
# know by name. Anything else must carry a url.
PUBLIC_SOURCE = re.compile(
    r"\bLCD\b|\b[LA]\d{5}\b|\bPub\. ?100-\d\d\b|Medicare [A-Za-z ]+ Manual|ICD-10-CM"
    r"|\bNCCI\b|Medically Unlikely Edits|Medicare Code Editor|\bX12\b|\b005010X\d{3}"
    r"|\bCARC\b|\bRARC\b|\bCPT\b|\bAMA\b|\bHCPCS\b|\bCFR\b|\bRFC \d+|\bCMS\b"
    r"|Noridian|Novitas|Palmetto|\bCGS\b|\bWPS\b|First Coast|\bNGS\b|payer policy"
)
# What only the team's own notes resolve: a relative or repository path, a research-file key.
PRIVATE_REFERENCE = re.compile(
    r"\.\./|RULES_?RESEARCH|\b\w+\.(?:md|csv|yaml|parquet|py)\b|\[[A-Z]{1,3}\d+[a-z]?\]"
)
CITATION_HELP = (
    "cite a public source a user can follow: an LCD or Article number with its title, a CMS manual "
    "(Pub. 100-xx) chapter and section, an ICD-10-CM Official Guidelines section, an NCCI Policy "
    "Manual chapter, the X12 TR3 or CARC/RARC list, CPT/AMA, a CFR section or a payer policy "
    "name, and give its url where one exists"
)


class Citation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str
    section: str | None = None
    url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    effective_from: date | None = None
    effective_to: date | None = None
    verified_on: date | None = (
        None  # when the research found no effective date: the day it was checked
    )

    @model_validator(mode="after")
    def _dated(self) -> Citation:
        if self.effective_from is None and self.verified_on is None:
            raise ValueError(
                "a citation needs effective_from, or verified_on when no effective date was found"
            )
        return self

    @model_validator(mode="after")
    def _public(self) -> Citation:
        for text in (self.source, self.section or ""):
            if found := PRIVATE_REFERENCE.search(text):
                raise ValueError(
                    f"citation {self.source[:60]!r} refers to {found.group()!r}, which does not "
                    f"ship with cleanclaim and a user cannot look up; {CITATION_HELP}"
                )
        return self

    def is_public(self) -> bool:
        return self.url is not None or PUBLIC_SOURCE.search(self.source) is not None


class Examples(BaseModel):
    model_config = ConfigDict(extra="forbid")
    triggers: list[dict[str, Any]] = Field(min_length=1)
    passes: list[dict[str, Any]] = Field(min_length=1)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[A-Z]{3}\d{3}$")
    name: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    title: str
    category: Category
    severity: Literal["high", "medium", "low"]
    status: Literal["preview", "stable", "deprecated"] = "stable"
    weight: float = Field(ge=0, le=1)
    denial: Denial | None = None  # what a payer would answer with; only engine rules have none
    check: str
    params: dict[str, Any] = {}
    message: str
    fix: str
    citation: list[Citation]
    explanation: str
    examples: Examples
    payers: list[str] | None = None
    aliases: list[str] = []

    @field_validator("citation", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _citations_are_public(self) -> Rule:
        for c in self.citation:
            # an engine rule reports on cleanclaim itself, whose own documentation is its source
            if not c.is_public() and not (
                self.category == "engine" and c.source.startswith("cleanclaim")
            ):
                raise ValueError(
                    f"citation {c.source[:60]!r} names no recognised public source and has no "
                    f"url; {CITATION_HELP}"
                )
        return self

    @model_validator(mode="after")
    def _payer_rules_name_a_denial(self) -> Rule:
        if self.denial is None and self.category != "engine":
            raise ValueError(
                "denial (group, carc, rarc) is required for every rule a payer would deny"
            )
        return self

    @property
    def carc(self) -> str:
        return f"{self.denial.group}-{self.denial.carc}" if self.denial else ""

    @property
    def rarc(self) -> str:
        return ",".join(self.denial.rarc) if self.denial else ""

    @property
    def family(self) -> str:
        return self.id[:3]


def _template_fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@dataclass(frozen=True)
class Catalog:
    rules: dict[str, Rule]
    params: dict[str, Any]  # rule id -> validated params model
    codesets: dict[str, Codeset]
    source: Path
    version: str  # content hash of every rule and codeset file: two runs with the same version ran the same rules

    # not an init field: a catalog made with dataclasses.replace (other code sets) starts with its own
    derived_tables: dict[str, pl.DataFrame] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def __getitem__(self, rule_id: str) -> Rule:
        return self.rules[rule_id]

    def derived(self, name: str, build: Callable[[Catalog], pl.DataFrame]) -> pl.DataFrame:
        """A table worked out from the code sets, once per catalog rather than per rule, file and
        part (merging CMS's ~2M NCCI edits took 0.45 s each time). Two threads may both build it
        first: the same table, kept once."""
        if name not in self.derived_tables:
            self.derived_tables.setdefault(name, build(self))
        return self.derived_tables[name]

    def with_weights(self, weights: dict[str, float]) -> Catalog:
        """The same catalog scoring with other weights (a run configuration's `weights`)."""
        if not weights:
            return self
        rules = {
            rid: rule.model_copy(update={"weight": weights[rid]}) if rid in weights else rule
            for rid, rule in self.rules.items()
        }
        return replace(self, rules=rules)

    def by_stage(self, stage: str) -> list[Rule]:
        return [r for r in self.rules.values() if REGISTRY[r.check].stage == stage]

    def resolve(self, key: str) -> Rule | None:
        """A rule by id, alias or name (sqlfluff-style identities)."""
        key_up = key.upper()
        for rule in self.rules.values():
            if key_up == rule.id or key_up in rule.aliases or key.lower() == rule.name:
                return rule
        return None


def _validate_rule(path: Path, doc: Any, codesets: dict[str, Codeset]) -> tuple[Rule, Any]:
    try:
        rule = Rule.model_validate(doc)
    except ValidationError as exc:
        raise RuleConfigError(f"{path}: {exc}") from None
    if path.stem != rule.id:
        raise RuleConfigError(f"{path}: file name must be the rule id ({rule.id}.yaml)")
    kind = REGISTRY.get(rule.check)
    if kind is None:
        raise RuleConfigError(
            f"{path}: unknown check kind {rule.check!r}; known: {', '.join(sorted(REGISTRY))}"
        )
    try:
        params = kind.params.model_validate(rule.params)
    except ValidationError as exc:
        raise RuleConfigError(f"{path}: params do not fit check kind {rule.check}: {exc}") from None
    for part in ("message", "fix"):
        names = _template_fields(getattr(rule, part))
        if leaked := names & PHI:
            raise RuleConfigError(
                f"{path}: {part} would print patient identifiers {sorted(leaked)}"
            )
        if bad := names - kind.fields:
            raise RuleConfigError(
                f"{path}: {part} uses {sorted(bad)}, which check kind {rule.check} "
                f"does not provide (it offers {sorted(kind.fields)})"
            )
    missing = [h for h in HEADINGS if h not in rule.explanation]
    if missing:
        raise RuleConfigError(f"{path}: explanation lacks the headings {missing}")
    if rule.denial:
        if rule.denial.carc not in codesets["carc"].codes():
            raise RuleConfigError(
                f"{path}: CARC {rule.denial.carc} has no wording in rules/codesets/carc.csv"
            )
        for code in rule.denial.rarc:
            if code not in codesets["rarc"].codes():
                raise RuleConfigError(
                    f"{path}: RARC {code} has no wording in rules/codesets/rarc.csv"
                )
    for example in (*rule.examples.triggers, *rule.examples.passes):
        if unknown := set(example) - set(CANONICAL) - kind.example_keys:
            raise RuleConfigError(f"{path}: example uses unknown columns {sorted(unknown)}")
    return rule, params


def placeholders(doc: Any, where: str = "") -> list[str]:
    """The fields of a rule document that still hold a TODO (a `rules new` skeleton), in order."""
    if isinstance(doc, dict):
        found = []
        for key, value in doc.items():
            inner = f"{where}.{key}" if where else str(key)
            if _TODO.search(str(key)):
                found.append(where or str(key))
            found += placeholders(value, inner)
        return list(dict.fromkeys(found))
    if isinstance(doc, list):
        return list(dict.fromkeys(f for item in doc for f in placeholders(item, where)))
    return [where] if isinstance(doc, str) and _TODO.search(doc) else []


def retired_ids(rules_dir: Path) -> set[str]:
    """Rule ids used once and never to be reused (rules/RETIRED.yaml)."""
    path = rules_dir / "RETIRED.yaml"
    return (
        set((yaml.safe_load(path.read_text()) or {}).get("retired", [])) if path.exists() else set()
    )


def load_catalog(rules_dir: Path | None = None) -> Catalog:
    rules_dir = rules_dir or default_rules_dir()
    if not rules_dir.is_dir():
        raise RuleConfigError(
            f"rule folder {rules_dir} does not exist (set CLEANCLAIM_RULES or --rules)"
        )
    codesets = load_codesets(rules_dir)
    retired = retired_ids(rules_dir)
    rules: dict[str, Rule] = {}
    params: dict[str, Any] = {}
    digest = hashlib.sha256()
    for path in sorted(rules_dir.glob("*/*.*")):
        digest.update(path.relative_to(rules_dir).as_posix().encode() + b"\0" + path.read_bytes())
    for path in sorted(rules_dir.glob("*/*.yaml")):
        if path.parent.name == "codesets":
            continue
        try:
            doc = read_yaml(path)
        except (OSError, yaml.YAMLError) as exc:
            raise RuleConfigError(
                f"{path}: cannot be read as YAML ({type(exc).__name__}: {exc})"
            ) from None
        if todo := placeholders(doc):
            raise RuleConfigError(
                f"{path}: fill in the TODO placeholders of {', '.join(todo)} "
                "(a rule skeleton; see docs/adding-a-rule.md)"
            )
        rule, rule_params = _validate_rule(path, doc, codesets)
        if rule.id in rules:
            raise RuleConfigError(f"{path}: rule id {rule.id} is defined twice")
        if rule.id in retired:
            raise RuleConfigError(
                f"{path}: rule id {rule.id} is retired (rules/RETIRED.yaml) and may not be reused"
            )
        rules[rule.id] = rule
        params[rule.id] = rule_params
    names = [r.name for r in rules.values()]
    if dupes := {n for n in names if names.count(n) > 1}:
        raise RuleConfigError(f"rule names used twice: {sorted(dupes)}")
    return Catalog(
        rules=dict(sorted(rules.items())),
        params=params,
        codesets=codesets,
        source=rules_dir,
        version=digest.hexdigest()[:12],
    )
