"""Runs tests/edge_pyodide/ in the Workers Pyodide under Node, against a real loopback origin."""

from __future__ import annotations

import os
import re
import subprocess

from infra.local.proc import ROOT

PYTEST_MJS = ROOT / "edge" / "runtime" / "pytest.mjs"
# Pyodide start-up is seconds; this only stops a wedged run from hanging the suite.
RUN_LIMIT_S = 300


def test_edge_tests_pass_inside_pyodide(edge_upstream: str) -> None:
    run = subprocess.run(
        ["node", "--experimental-wasm-stack-switching", str(PYTEST_MJS)],
        cwd=ROOT,
        env={**os.environ, "PRISM_TEST_UPSTREAM": edge_upstream},
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT_S,
    )
    report = (run.stdout + run.stderr)[-6000:]
    summary = re.findall(r"^=+ (.*) in [\d.]+s =+$", run.stdout, re.MULTILINE)
    assert run.returncode == 0, report
    assert summary and re.fullmatch(r"\d+ passed", summary[-1]), report
    assert int(summary[-1].split()[0]) >= 8, report
