"""Everything the Worker ships imports in the Workers Pyodide, not just in CPython."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import entry
import pyodide
import pytest

WORKER_ROOT = Path(entry.__file__).parent
SHIPPED = sorted(
    ".".join(path.relative_to(WORKER_ROOT).with_suffix("").parts).removesuffix(".__init__")
    for path in WORKER_ROOT.rglob("*.py")
    if path.name != "entry.py"
)


def test_runtime_is_the_workers_pyodide() -> None:
    assert pyodide.__version__ == "0.28.2"
    assert sys.version_info[:2] == (3, 13)


def test_the_bundle_has_edge_and_shared_modules() -> None:
    assert {"edge", "edge.handler", "edge.web", "shared"} <= set(SHIPPED)


@pytest.mark.parametrize("module", SHIPPED)
def test_shipped_module_imports(module: str) -> None:
    # Pyodide lacks some stdlib modules (ssl, sqlite3, lzma) and every third-party package.
    importlib.import_module(module)
