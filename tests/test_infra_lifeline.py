"""Servers started through the project's helpers die with the process that started them, even
when that process is killed with SIGKILL (a CI timeout, a `kill -9` of pytest)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from infra.local.lifeline import stop_all, watch
from infra.local.postgres import PostgresCluster
from infra.local.proc import ROOT

# Bounds a wait that only a bug makes long (the watchdog gives 5 s before SIGKILL).
GONE_WITHIN_S = 30.0

SERVICE_PARENT = """
    from infra.local.proc import free_port, python_module
    service = python_module("simulator", "infra.local.simulator", free_port()).start()
    print(service.proc.pid, flush=True)
"""

POSTGRES_PARENT = """
    import sys
    from pathlib import Path
    from infra.local.postgres import PostgresCluster
    from infra.local.proc import free_port
    cluster = PostgresCluster(Path(sys.argv[1]), free_port(), fsync=False).start()
    print(cluster.postmaster_pid(), flush=True)
"""


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # a zombie is dead, only not yet reaped


def gone(pid: int, timeout: float = GONE_WITHIN_S) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def start_parent(code: str, *args: str) -> tuple[subprocess.Popen[str], int]:
    """A python process that starts a server through our helpers, prints its pid, then idles."""
    script = textwrap.dedent(code) + "\nimport time\ntime.sleep(600)\n"
    parent = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert parent.stdout is not None
    line = parent.stdout.readline()
    if not line.strip().isdigit():
        kill_hard(parent)
        pytest.fail(f"the parent did not start its server: {line!r}")
    return parent, int(line)


def kill_hard(parent: subprocess.Popen[str]) -> None:
    parent.send_signal(signal.SIGKILL)
    parent.wait()


def test_a_server_dies_when_the_process_that_started_it_is_killed() -> None:
    parent, server = start_parent(SERVICE_PARENT)
    try:
        assert alive(server)
        kill_hard(parent)
        assert gone(server), "the server outlived its parent's SIGKILL"
    finally:
        if alive(server):
            os.killpg(server, signal.SIGKILL)


def test_postgres_dies_when_the_process_that_started_it_is_killed() -> None:
    # Straight under the temp root, as the pg fixture does: the postgres user can traverse it.
    data = Path(tempfile.mkdtemp(prefix="prism-pg-test-"))
    where = PostgresCluster(data / "cluster", 0).data_dir  # maybe a /tmp stand-in (as root)
    parent, postmaster = start_parent(POSTGRES_PARENT, str(data / "cluster"))
    try:
        assert alive(postmaster)
        kill_hard(parent)
        assert gone(postmaster), "pg_ctl's postmaster outlived its parent's SIGKILL"
    finally:
        if alive(postmaster):
            os.kill(postmaster, signal.SIGQUIT)
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(where, ignore_errors=True)


def test_a_server_stopped_normally_is_no_longer_guarded() -> None:
    # A stopped server's pid may be reused by an unrelated process: the watchdog must forget it.
    lines = [b"+g 101 15\n", b"+p 202 2\n", b"-g 101\n", b"garbage\n", b"+p 303 15\n"]
    assert watch(iter(lines)) == {("p", 202): 2, ("p", 303): 15}  # type: ignore[arg-type]


def test_a_process_ignoring_the_polite_signal_is_killed() -> None:
    ignores_sigterm = "import signal, time\nsignal.signal(15, signal.SIG_IGN)\n"
    script = ignores_sigterm + "print('ready', flush=True)\ntime.sleep(600)"
    stubborn = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
    stop_all({("p", stubborn.pid): signal.SIGTERM}, grace_s=0.2)
    assert stubborn.wait(GONE_WITHIN_S) == -signal.SIGKILL
