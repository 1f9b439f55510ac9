"""Tests in this folder run inside the Workers Pyodide (edge/runtime/pytest.mjs), not CPython.

Under CPython they are not collected: tests/test_edge_pyodide.py runs them in Pyodide instead.
"""

from __future__ import annotations

import inspect
import sys

import pytest

IN_PYODIDE = sys.platform == "emscripten"

collect_ignore_glob = [] if IN_PYODIDE else ["test_*.py"]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    # Pyodide's event loop is the JS one and cannot be run to completion from a sync hook;
    # run_sync suspends the WebAssembly stack instead (JSPI) until the coroutine finishes.
    if not IN_PYODIDE or not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    from pyodide.ffi import run_sync

    names = pyfuncitem._fixtureinfo.argnames
    run_sync(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True
