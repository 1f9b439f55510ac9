"""scripts/bootstrap.sh refuses a Node.js older than wrangler and the edge runtime accept, by
name and before installing anything (Debian 12's own nodejs package is 18)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from infra.local.proc import ROOT


@pytest.mark.parametrize("version", ["18.19.1", "20.2.0", "16.20.2"])
def test_an_old_node_is_named_before_anything_is_installed(tmp_path: Path, version: str) -> None:
    fake = tmp_path / "node"
    fake.write_text(f"#!/bin/sh\necho {version}\n")
    fake.chmod(0o755)
    run = subprocess.run(
        ["bash", str(ROOT / "scripts" / "bootstrap.sh")],
        check=False,
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert f"Node.js 20.3 or newer is required, found {version}" in run.stderr
    assert run.stdout == ""
