"""wrangler bundles exactly the Worker's modules: edge/ (minus its Node runtime) and shared/."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from infra.local.proc import ROOT

BUNDLE_LIMIT_S = 180


def python_modules(folder: str) -> set[str]:
    base = ROOT / folder
    return {
        p.relative_to(ROOT).as_posix()
        for p in base.rglob("*.py")
        if "__pycache__" not in p.parts and "runtime" not in p.relative_to(base).parts[:1]
    }


def test_dry_run_bundle_holds_edge_and_shared_only(tmp_path: Path) -> None:
    run = subprocess.run(
        ["npx", "--no", "wrangler", "deploy", "--dry-run", "--outdir", str(tmp_path / "dist")],
        check=False,
        cwd=ROOT,
        env={**os.environ, "WRANGLER_SEND_METRICS": "false", "CI": "true"},
        capture_output=True,
        text=True,
        timeout=BUNDLE_LIMIT_S,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    listed = set(re.findall(r"│\s*(\S+\.py)\s*│\s*python\s*│", output))
    shipped = {
        p.relative_to(tmp_path / "dist").as_posix() for p in (tmp_path / "dist").rglob("*.py")
    }

    expected = (python_modules("edge") - {"edge/entry.py"}) | python_modules("shared")
    assert expected <= listed, sorted(expected - listed)
    assert all(m.startswith(("edge/", "shared/")) for m in listed), sorted(listed)
    assert not any(m.startswith(("edge/runtime/", "origin/", "tests/")) for m in listed | shipped)
    assert "entry.py" in shipped
    assert shipped == listed | {"entry.py"}
