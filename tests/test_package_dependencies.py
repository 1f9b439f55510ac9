"""`pip install .` (the README's deployment path) brings every third-party module the origin
imports: each is provided by a runtime dependency in pyproject.toml or by one of theirs."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions, requires

from packaging.requirements import Requirement

from infra.local.proc import ROOT

FIRST_PARTY = {"origin", "shared", "edge", "infra"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~; \[(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _installed_by_pip_install_dot() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    todo = [_name(d) for d in project["dependencies"]]
    seen: set[str] = set()
    while todo:
        dist = todo.pop()
        if dist in seen:
            continue
        seen.add(dist)
        for line in requires(dist) or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_name(req.name))
    return seen


def _third_party_imports() -> dict[str, str]:
    found: dict[str, str] = {}
    for source in (ROOT / "origin").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in (n.split(".")[0] for n in names):
                if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                    found.setdefault(top, str(source.relative_to(ROOT)))
    return found


def test_every_module_the_origin_imports_is_a_runtime_dependency() -> None:
    installed = _installed_by_pip_install_dot()
    providers = packages_distributions()
    missing = {
        module: where
        for module, where in _third_party_imports().items()
        if not {_name(d) for d in providers.get(module, [])} & installed
    }
    assert missing == {}
