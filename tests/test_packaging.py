"""`pip install .` ships what a run needs: every subpackage, and every file of the rule catalog."""

from __future__ import annotations

import fnmatch
import tomllib

from setuptools import find_namespace_packages

from tests.conftest import REPO


def test_the_package_configuration_takes_every_subpackage_and_every_rule_file():
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = set(find_namespace_packages(where=str(REPO), **tool["packages"]["find"]))
    code = {
        ".".join(p.parent.relative_to(REPO).parts)
        for top in ("flows", "validators")
        for p in (REPO / top).rglob("*.py")
    }
    assert code <= packages
    data = tool["package-data"]["*"]
    shipped = [
        p
        for p in (REPO / "rules").rglob("*")
        if p.is_file() and ".".join(p.parent.relative_to(REPO).parts) in packages
    ]
    missing = [
        str(p.relative_to(REPO))
        for p in (REPO / "rules").rglob("*")
        if p.is_file() and (p not in shipped or not any(fnmatch.fnmatch(p.name, g) for g in data))
    ]
    assert not missing, f"not in the wheel: {missing}"
