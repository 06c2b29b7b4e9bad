"""`cleanclaim rules new FAMILY`: the skeleton of a new rule and of its case file.

The skeleton holds every section of a rule with TODO placeholders; the catalog refuses to load
while one is left (catalog.placeholders), so a half-written rule cannot ship. IDs are never reused:
the next ID is past every ID the family has used, its rules', aliases' and retired ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cleanclaim.validators.catalog import CATEGORIES, SEVERITIES, Catalog, retired_ids
from cleanclaim.validators.checks import REGISTRY
from cleanclaim.validators.errors import RuleConfigError

_ID = re.compile(r"^([A-Z]{3})(\d{3})$")

RULE_TEMPLATE = """\
# A new rule: replace every TODO (docs/adding-a-rule.md). The catalog refuses to load while a TODO
# is left, so a half-written rule cannot ship.
id: {rule_id}
name: TODO  # kebab-case, names the flagged pattern, e.g. accident-claim-without-injury-dx
title: TODO  # one line an analyst reads on the workbook's Rules sheet
category: TODO  # one of {categories}
severity: TODO  # {severities}: high = will deny or reject, medium = likely deny/pend, low = advisory
status: preview  # reported on its own sheet, not scored, until an analyst has reviewed real output
weight: TODO  # 0 to 1, the rule's contribution to the claim's denial-risk score
denial: {{group: CO, carc: TODO, rarc: [TODO]}}  # confirm against the payer's remits
check: TODO  # a check kind of validators/checks/: {kinds}
params: {{TODO: the check kind's parameters}}
message: TODO  # the problem in the claim's own values, e.g. "Procedure {{procedure_code}} ..."
fix: TODO  # what the analyst does about it
citation:  # a public source: LCD/Article, CMS manual chapter and section, ICD-10-CM guideline, NCCI
  - {{source: TODO, section: TODO, url: TODO, effective_from: TODO}}
explanation: |
  **What it checks.** TODO
  **Why payers deny it.** TODO
  **How to fix.** TODO
examples:  # executed by the tests, so the docs cannot go stale
  triggers: [{{claim_id: C1, TODO: the columns that trigger it}}]
  passes: [{{claim_id: C2, TODO: the columns of a near miss that passes}}]
"""

CASES_TEMPLATE = """\
# Extra cases of {rule_id}, run by tests/rules/test_rule_cases.py as {rule_id}_<case>. A case lists
# only the columns it needs (the rest are valid defaults) and the findings of {rule_id} it expects
# (line_number: null for a claim-level finding); see the other files here for params, config,
# history and expected message or fix text.
rule: {rule_id}
TODO_name_the_situation_that_triggers_it:
  claims: [{{claim_id: C1, TODO: the columns of the situation}}]
  expect: [{{claim_id: C1, line_number: null}}]
TODO_name_a_near_miss_that_passes:
  claims: [{{claim_id: C1, TODO: the columns of the situation}}]
  expect: []
"""


@dataclass(frozen=True)
class Skeleton:
    rule_id: str
    rule_path: Path
    rule_text: str
    cases_path: Path
    cases_text: str


def families(rules_dir: Path) -> dict[str, str]:
    """Folder name -> the ID prefix of its rules."""
    out = {}
    for folder in sorted(p for p in rules_dir.iterdir() if p.is_dir() and p.name != "codesets"):
        prefixes = {m[1] for p in folder.glob("*.yaml") if (m := _ID.match(p.stem))}
        if len(prefixes) == 1:
            out[folder.name] = prefixes.pop()
    return out


def next_id(catalog: Catalog, prefix: str) -> str:
    """One past the highest number the prefix has used: a gap may be a deleted rule's ID."""
    used = {*catalog.rules, *(a for r in catalog.rules.values() for a in r.aliases)}
    used |= retired_ids(catalog.source)
    numbers = [int(m[2]) for i in used if (m := _ID.match(i)) and m[1] == prefix]
    number = max(numbers, default=0) + 1
    if number > 999:
        raise RuleConfigError(f"family {prefix} has used all 999 rule ids")
    return f"{prefix}{number:03d}"


def skeleton(catalog: Catalog, family: str, cases_dir: Path) -> Skeleton:
    """The files of a new rule of FAMILY (a folder under rules/, or its ID prefix such as NCC)."""
    known = families(catalog.source)
    folder = next((f for f, p in known.items() if family.lower() == f or family.upper() == p), None)
    if folder is None:
        listed = ", ".join(f"{f} ({p})" for f, p in known.items())
        raise RuleConfigError(f"no rule family {family!r}; the families are {listed}")
    rule_id = next_id(catalog, known[folder])
    kinds = sorted(k.name for k in REGISTRY.values() if k.stage != "internal")
    return Skeleton(
        rule_id=rule_id,
        rule_path=catalog.source / folder / f"{rule_id}.yaml",
        rule_text=RULE_TEMPLATE.format(
            rule_id=rule_id,
            categories=", ".join(CATEGORIES),
            severities=", ".join(SEVERITIES),
            kinds=", ".join(kinds),
        ),
        cases_path=cases_dir / f"{rule_id}.yaml",
        cases_text=CASES_TEMPLATE.format(rule_id=rule_id),
    )
