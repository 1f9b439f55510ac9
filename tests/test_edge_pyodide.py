"""Runs tests/edge_pyodide/ in the Workers Pyodide under Node, against real loopback servers:
a stand-in origin that records what reaches it, and the stand-ins for the Worker's backends.
The session's origin runs beside them, as it drains the edge's fallback queue of usage rows."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from typing import Any

from infra.local.proc import ROOT, free_port

PYTEST_MJS = ROOT / "edge" / "runtime" / "pytest.mjs"
# Pyodide start-up is seconds; this only stops a wedged run from hanging the suite.
RUN_LIMIT_S = 300


async def test_edge_tests_pass_inside_pyodide(
    edge_upstream: str,
    edge_bindings: dict[str, str],
    make_project: Any,
    origin_server: Any,
    postgrest: Any,
) -> None:
    project = await make_project("edge-pyodide")
    env = {
        **os.environ,
        "PRISM_TEST_UPSTREAM": edge_upstream,
        "PRISM_TEST_BINDINGS": json.dumps(edge_bindings),
        "PRISM_TEST_PROJECT": json.dumps(
            {"id": project.id, "org_id": project.org_id, "api_key": project.api_key}
        ),
        "PRISM_TEST_DEAD_URL": f"http://127.0.0.1:{free_port()}",
        # For the tests' own reads of usage rows: the edge's key may not read them.
        "PRISM_TEST_SERVICE_KEY": postgrest.service_key,
    }
    run = await asyncio.to_thread(
        subprocess.run,
        ["node", "--experimental-wasm-stack-switching", str(PYTEST_MJS)],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_LIMIT_S,
    )
    report = (run.stdout + run.stderr)[-6000:]
    summary = re.findall(r"^=+ (.*) in [\d.]+s =+$", run.stdout, re.MULTILINE)
    assert run.returncode == 0, report
    assert summary and re.fullmatch(r"\d+ passed", summary[-1]), report
    assert int(summary[-1].split()[0]) >= 50, report
