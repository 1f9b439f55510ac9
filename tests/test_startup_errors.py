"""A setting the origin cannot use stops `prism serve`, every CLI command and `prism config`
before anything starts: one line naming the variable, exit 2, no traceback, no secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.local.proc import ROOT, free_port
from origin.tenancy.crypto import generate_master_key

PASSWORD = "pw-DO-NOT-PRINT-1234"
SERVICE_KEY = "service-key-DO-NOT-PRINT"


def prism(
    tmp_path: Path, overrides: dict[str, str], *argv: str
) -> subprocess.CompletedProcess[str]:
    """`prism ARGV` in a fresh interpreter with only these settings (no .env is read)."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PRISM_", "SUPABASE_", "REDIS_"))
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PRISM_ENV_FILE": str(tmp_path / "none.env"),
            "PRISM_DATA_DIR": str(tmp_path / "data"),
            "PRISM_PORT": str(free_port()),
            "SUPABASE_SERVICE_KEY": SERVICE_KEY,
            "PRISM_MASTER_KEY": generate_master_key(),
            **overrides,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "origin.admin.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,  # a server that started anyway fails the test here
        check=False,
    )


BAD_SETTINGS = [
    ("SUPABASE_URL", "postgresql://postgres:" + PASSWORD + "@db.example.com:5432/postgres"),
    ("REDIS_URL", "redis://:" + PASSWORD + "@[bad"),
    ("REDIS_URL", "http://user:" + PASSWORD + "@cache.example.com"),
    ("PRISM_MASTER_KEY", "tooshort" + PASSWORD),
    ("UPSTASH_VECTOR_REST_URL", "redis://:" + PASSWORD + "@vector.example.com"),
    ("UPSTASH_REDIS_REST_URL", "https://:" + PASSWORD + "@[bad"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://collector:" + PASSWORD + "@host:4317"),
    ("PRISM_SIMULATOR_URL", "http://"),
]


@pytest.mark.parametrize("argv", [["serve"], ["config"], ["projects", "list"]])
@pytest.mark.parametrize(("name", "value"), BAD_SETTINGS)
def test_a_malformed_setting_stops_every_command_naming_it(
    tmp_path: Path, argv: list[str], name: str, value: str
) -> None:
    done = prism(tmp_path, {name: value}, *argv)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and name in done.stderr, output
    assert "Traceback" not in output
    assert PASSWORD not in output and SERVICE_KEY not in output


def test_serve_refuses_to_start_without_the_service_key(tmp_path: Path) -> None:
    # Without it the origin would start, say ok on /healthz, and answer every request 503.
    done = prism(tmp_path, {"SUPABASE_SERVICE_KEY": ""}, "serve")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == "prism: error: SUPABASE_SERVICE_KEY is not set\n"
