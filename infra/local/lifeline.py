"""Servers we start die with the process that started them, however it dies (even `kill -9`).

A watchdog process holds the read end of a pipe whose write end only its parent has. The
kernel closes that end when the parent dies, for any reason; the watchdog then reads EOF and
stops everything the parent told it about: the process group of each server (so grandchildren
too, e.g. Hypercorn's workers) and single daemons such as the postmaster that `pg_ctl` detaches
into a session of its own.

Why not PR_SET_PDEATHSIG in each child: it fires when the *thread* that forked the child ends
(servers are started from worker threads too), the kernel clears it when a child changes
credentials (Postgres runs through `runuser` as root), and it never reaches a postmaster that
pg_ctl started or the children of a server. One watchdog per parent covers all of that.

Protocol on the watchdog's stdin, one line each: `+g PGID SIG` / `+p PID SIG` to guard a group
or a process (SIG: the first, polite signal), `-g PGID` / `-p PID` to stop guarding it.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

log = logging.getLogger("prism.lifeline")

ROOT = Path(__file__).resolve().parents[2]
# How long guarded processes get to exit on their polite signal before SIGKILL.
GRACE_S = 5.0
_POLL_S = 0.05


class Lifeline:
    """This process's watchdog; `lifeline()` gives the one instance, started on first use."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "infra.local.lifeline"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
            # Its own session: a Ctrl-C or a signal to our process group must not reach it.
            start_new_session=True,
        )
        self._lock = threading.Lock()

    def guard_group(self, pgid: int, sig: int = signal.SIGTERM) -> None:
        self._send(f"+g {pgid} {int(sig)}")

    def guard_process(self, pid: int, sig: int = signal.SIGTERM) -> None:
        self._send(f"+p {pid} {int(sig)}")

    def release_group(self, pgid: int) -> None:
        self._send(f"-g {pgid}")

    def release_process(self, pid: int) -> None:
        self._send(f"-p {pid}")

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _send(self, line: str) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            with self._lock:
                stdin.write(line.encode() + b"\n")
                stdin.flush()
        except OSError as exc:  # the watchdog is gone: servers still run, just unguarded
            log.error("lifeline watchdog %d unreachable (%s): %r not recorded", self.pid, exc, line)


@functools.cache
def lifeline() -> Lifeline:
    """The process-wide watchdog (one per parent process: the pipe is what ties them)."""
    return Lifeline()


def _alive(kind: str, ident: int) -> bool:
    try:
        if kind == "g":
            os.killpg(ident, 0)
        else:
            os.kill(ident, 0)
            return not _zombie(ident)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


def _signal(kind: str, ident: int, sig: int) -> None:
    try:
        (os.killpg if kind == "g" else os.kill)(ident, sig)
    except (ProcessLookupError, PermissionError):
        pass  # already gone, or no longer ours to signal


def stop_all(guarded: dict[tuple[str, int], int], grace_s: float = GRACE_S) -> None:
    """Polite signal to each, then SIGKILL to whatever is still there after `grace_s`."""
    for (kind, ident), sig in guarded.items():
        _signal(kind, ident, sig)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_alive(k, i) for k, i in guarded):
        time.sleep(_POLL_S)
    for kind, ident in guarded:
        if _alive(kind, ident):
            _signal(kind, ident, signal.SIGKILL)


def watch(commands: IO[bytes]) -> dict[tuple[str, int], int]:
    """Read commands until EOF (the parent is gone); returns what is still guarded."""
    guarded: dict[tuple[str, int], int] = {}
    for raw in commands:
        parts = raw.decode(errors="replace").split()
        if len(parts) < 2 or parts[0] not in ("+g", "+p", "-g", "-p"):
            continue
        key = (parts[0][1], int(parts[1]))
        if parts[0][0] == "+":
            guarded[key] = int(parts[2]) if len(parts) > 2 else int(signal.SIGTERM)
        else:
            guarded.pop(key, None)
    return guarded


def main() -> None:
    stop_all(watch(sys.stdin.buffer))


if __name__ == "__main__":
    main()
