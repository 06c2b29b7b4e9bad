"""`pip install .` ships what a run needs: every subpackage, and every file of the rule catalog."""

from __future__ import annotations

import fnmatch
import tomllib

from tests.conftest import REPO


def test_the_package_configuration_takes_every_subpackage_and_every_rule_file():
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folder = {name: REPO / path for name, path in tool["package-dir"].items()}
    packages = set(tool["packages"])
    code = {
        ".".join((f"cleanclaim.{top}", *p.parent.relative_to(REPO / top).parts))
        for top in ("flows", "validators")
        for p in (REPO / top).rglob("*.py")
    }
    assert code <= packages, f"subpackages not in the wheel: {sorted(code - packages)}"
    assert all(folder[".".join(p.split(".")[:2])].is_dir() for p in packages)
    data = tool["package-data"]["cleanclaim.rules"]
    missing = [
        str(p.relative_to(REPO))
        for p in folder["cleanclaim.rules"].rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and not any(fnmatch.fnmatch(p.name, g.removeprefix("**/")) for g in data)
    ]
    assert not missing, f"not in the wheel: {missing}"
