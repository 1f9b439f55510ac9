"""What `pip install .` puts in place is enough to run: setuptools' own build step (the one
a wheel is made from) run on this checkout's files, then every origin module imported and the
`prism` entry point loaded from that build alone, and every data file the code ships present."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from infra.local.proc import ROOT

PACKAGES = ("origin", "shared", "edge", "infra")
DOCS = {".md"}  # read by people, not by the code
IMPORT_ALL = """
import importlib, pkgutil, sys
import origin
assert origin.__file__.startswith(sys.argv[1]), origin.__file__
for module in pkgutil.walk_packages(origin.__path__, "origin."):
    importlib.import_module(module.name)
from origin.admin.cli import main
"""


def build(tmp_path: Path) -> Path:
    source, lib = tmp_path / "src", tmp_path / "lib"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, source / package, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    done = subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "build_py", "-d", lib],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return lib


def test_the_built_package_holds_every_data_file_and_imports_on_its_own(tmp_path: Path) -> None:
    lib = build(tmp_path)
    tracked = subprocess.run(
        ["git", "ls-files", *PACKAGES], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    data = {Path(p) for p in tracked if Path(p).suffix not in {".py", *DOCS}}
    assert Path("origin/routing/task_model.json") in data
    assert sorted(str(p) for p in data if not (lib / p).exists()) == []
    run = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, str(lib)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(lib), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
