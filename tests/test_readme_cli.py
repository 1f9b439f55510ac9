"""The README's `prism` block, run as written by bash in a checkout-like directory against the
local stack's servers (the settings file is the one `make run` writes): every command
succeeds, and the key it prints is accepted by the origin."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from infra.local.proc import ROOT
from infra.local.stack import write_cli_env


def readme_cli_block() -> str:
    return readme_cli_block_and_intro()[1]


def readme_cli_block_and_intro() -> tuple[str, str]:
    """The paragraph that introduces the block, and the block."""
    readme = (ROOT / "README.md").read_text()
    found = re.findall(r"((?:[^\n]+\n)+)\n```sh\n(.*?)```", readme, flags=re.DOTALL)
    ((intro, block),) = [(i, b) for i, b in found if "prism projects create" in b]
    return intro, block


def test_the_readme_says_what_its_cli_block_needs_from_the_environment() -> None:
    # A newcomer runs the block in a fresh terminal: any variable it reads but does not set
    # must be named before it, or the block fails at its first use.
    intro, block = readme_cli_block_and_intro()
    read = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", block))
    read |= set(re.findall(r"--key-env ([A-Z][A-Z0-9_]+)", block))
    assigned = set(re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]+)=", block))
    needed = read - assigned
    assert needed, "the block stores provider keys read from the environment"
    assert sorted(n for n in needed if f"`{n}`" not in intro) == []


async def provider_key_names(dsn: str, project_id: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "select name from provider_keys where project_id = $1 order by name", project_id
        )
    finally:
        await conn.close()
    return [r["name"] for r in rows]


def test_the_readme_cli_block_runs_as_written(origin_server: Any, tmp_path: Path, pg: Any) -> None:
    checkout = tmp_path / "checkout"
    (checkout / ".prism").mkdir(parents=True)
    (checkout / ".venv").symlink_to(ROOT / ".venv")
    assert (ROOT / ".venv" / "bin" / "prism").exists(), "make install puts prism in .venv/bin"
    write_cli_env(checkout / ".prism" / "cli.env", origin_server.env, 8000)
    script = "set -euo pipefail\n" + readme_cli_block() + '\necho "PROJECT=$PROJECT"\n'
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        # This checkout's code, whichever checkout the shared venv was installed from.
        "PYTHONPATH": str(ROOT),
        "OPENAI_API_KEY": "sk-readme-" + "a" * 24,
        "OLLAMA_KEY": "ollama-readme-key",
    }
    run = subprocess.run(
        ["bash", "-c", script],
        check=False,
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    project = re.search(r"^PROJECT=(\S+)$", run.stdout, flags=re.MULTILINE)
    key = re.search(r"prism_sk_[A-Za-z0-9_-]+", run.stdout)
    assert project and key, run.stdout

    assert asyncio.run(provider_key_names(pg.dsn, project[1])) == ["ollama", "openai"]
    models = httpx.get(
        f"{origin_server.base_url}/models", headers={"Authorization": f"Bearer {key[0]}"}
    )
    assert models.status_code == 200
