"""`make run` restarts a service that dies, and says so: the edge process is killed (as a fatal
error in the Worker runtime would end it), then Redis, and the stack brings each back on its
port."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import openai

from infra.local.proc import ROOT, free_port, wait_for_port
from shared.apikeys import generate_api_key
from tests.test_make_run import PORT_VARS

# Bounds waits that only a bug would make long.
DEADLINE_S = 120.0


def children(parent: int) -> dict[int, str]:
    """Command lines of `parent`'s direct children, from /proc."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # Field 4 is the parent pid; the command name before it may contain spaces.
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found[int(entry.name)] = cmdline
    return found


def stack_pid(make_pid: int) -> int:
    """The `python -m infra.local.stack` process that `make run` started."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        for pid, cmdline in children(make_pid).items():
            if "infra.local.stack" in cmdline:
                return pid
        time.sleep(0.1)
    raise AssertionError("make run started no stack process")


def wait_for_text(log: Path, text: str) -> str:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        output = log.read_text(errors="replace")
        if text in output:
            return output
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in:\n{log.read_text(errors='replace')}")


def test_killed_services_are_restarted_and_announced(tmp_path: Path) -> None:
    ports = {name: str(free_port()) for name in PORT_VARS}
    key = generate_api_key()
    provider_vars = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GROQ_API_KEY")
    env = {k: v for k, v in os.environ.items() if k not in provider_vars}
    env.update(ports, PRISM_DATA_DIR=str(tmp_path / "data"), PRISM_DEV_API_KEY=key)
    log_path = tmp_path / "make-run.log"
    proc = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    edge_url = f"http://127.0.0.1:{ports['PRISM_EDGE_PORT']}/v1"
    try:
        wait_for_text(log_path, "Press Ctrl-C to stop.")
        [(edge_pid, _)] = [
            (pid, cmd) for pid, cmd in children(stack_pid(proc.pid)).items() if "serve.mjs" in cmd
        ]
        os.kill(edge_pid, signal.SIGKILL)
        output = wait_for_text(log_path, "edge restarted")
        assert "edge exited with code -9; restarting it" in output
        wait_for_port(int(ports["PRISM_EDGE_PORT"]), timeout=DEADLINE_S)
        client = openai.OpenAI(base_url=edge_url, api_key=key, max_retries=2)
        completion = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "back again?"}]
        )
        assert completion.choices[0].message.content
        [redis_pid] = [
            pid for pid, cmd in children(stack_pid(proc.pid)).items() if "redis-server" in cmd
        ]
        os.kill(redis_pid, signal.SIGKILL)
        output = wait_for_text(log_path, "redis restarted")
        assert "redis exited with code -9; restarting it" in output
        # The origin's cache and queue reconnect: a completion through the edge works again.
        completion = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "and after redis?"}]
        )
        assert completion.choices[0].message.content
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert "stopped everything" in log_path.read_text(errors="replace")
