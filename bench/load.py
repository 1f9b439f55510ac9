"""The load generator: wrk (C, epoll, one thread) driving keep-alive POSTs, timed client-side.

Python clients cost more CPU per request than the origin under test, and on a 2-core box
the client shares the cores with the origin and the simulator; wrk's cost is negligible
next to either, so what we measure is the servers. `ensure_wrk()` installs it from the
distribution's packages when it is missing and we are root.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LUA_SCRIPT = Path(__file__).resolve().parent / "wrk_post.lua"
MARKER = "BENCH_RESULT "
# Longer than any single request here; a request that takes this long is counted as an error.
REQUEST_TIMEOUT_S = 10


class LoadError(RuntimeError):
    """The load generator could not run, or its run is not usable."""


SEQ_PLACEHOLDER = "__SEQ__"


@dataclass(frozen=True)
class Target:
    """Where a request goes and what it carries.

    The same body is sent every time, unless `unique`: then SEQ_PLACEHOLDER in the body
    becomes a value no earlier request of any run carried, so no cache can answer it.
    """

    name: str
    url: str
    body: str
    headers: tuple[tuple[str, str], ...] = ()
    unique: bool = False

    def __post_init__(self) -> None:
        if self.unique and SEQ_PLACEHOLDER not in self.body:
            raise ValueError(f"a unique target's body needs {SEQ_PLACEHOLDER}")


@dataclass(frozen=True)
class LoadResult:
    requests: int
    duration_s: float
    errors: int
    latency_ms: dict[str, float]  # p50, p90, p95, p99, p99.9, mean, min, max
    # (p50 ms, requests/s) of each round a combined result was made of; empty for one run.
    rounds: tuple[tuple[float, float], ...] = ()

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0


def combine(results: Sequence[LoadResult]) -> LoadResult:
    """Several short rounds of one target as one result: counts add up, each latency
    statistic is the median over rounds (a burst of load from elsewhere on the machine
    spoils one round, not the result)."""
    if not results:
        raise ValueError("nothing to combine")
    keys = results[0].latency_ms.keys()
    return LoadResult(
        requests=sum(r.requests for r in results),
        duration_s=sum(r.duration_s for r in results),
        errors=sum(r.errors for r in results),
        latency_ms={k: statistics.median(r.latency_ms[k] for r in results) for k in keys},
        rounds=tuple((r.latency_ms["p50"], r.rps) for r in results),
    )


def ensure_wrk() -> str:
    """The wrk binary's path, installing the Debian package first when possible."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise LoadError(
            "wrk is not installed (apt-get install wrk) and cannot be installed "
            "from here: not root or no apt-get"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, check=False, env=env, capture_output=True).returncode != 0:
        # A fresh machine has no package lists yet.
        subprocess.run(["apt-get", "update", "-q"], check=False, env=env, capture_output=True)
        done = subprocess.run(install, check=False, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise LoadError(f"apt-get install wrk failed: {done.stderr.strip()[-300:]}")
    found = shutil.which("wrk")
    if found is None:
        raise LoadError("wrk was installed but is not on PATH")
    return found


def run_load(wrk: str, target: Target, connections: int, duration_s: float) -> LoadResult:
    """Closed-loop load: `connections` keep-alive connections, each sending the next request
    as soon as the previous answer is read, for `duration_s` rounded up to whole seconds."""
    seconds = max(1, math.ceil(duration_s))  # wrk takes whole seconds only
    argv = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        f"--timeout={REQUEST_TIMEOUT_S}s",
        "-s",
        str(LUA_SCRIPT),
        target.url,
    ]
    env = {
        **os.environ,
        "BENCH_BODY": target.body,
        "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in target.headers),
        "BENCH_UNIQUE": secrets.token_hex(6) if target.unique else "",
    }
    done = subprocess.run(
        argv, check=False, env=env, capture_output=True, text=True, timeout=seconds + 60
    )
    return parse_output(done.stdout, done.stderr, done.returncode)


def duration_for(
    requests: int, warm_up: LoadResult, *, floor_s: float = 1.0, ceiling_s: float = 60.0
) -> float:
    """How long a run must last to see about `requests` answers at the warm-up's rate.

    wrk's main thread always sleeps the full -d, so a run cannot end on a count; sizing the
    duration from the warm-up gets close to the count without a slow target taking forever.
    """
    rate = max(warm_up.rps, 1.0)
    return min(max(requests / rate * 1.05, floor_s), ceiling_s)


def parse_output(stdout: str, stderr: str, returncode: int) -> LoadResult:
    lines = [line for line in stdout.splitlines() if line.startswith(MARKER)]
    if returncode != 0 or not lines:
        raise LoadError(f"wrk failed ({returncode}): {(stderr or stdout).strip()[-400:]}")
    raw = json.loads(lines[-1][len(MARKER) :])
    latency = {
        name: raw[f"{key}_us"] / 1000.0
        for name, key in (
            ("p50", "p50"),
            ("p90", "p90"),
            ("p95", "p95"),
            ("p99", "p99"),
            ("p99.9", "p99.9"),
            ("mean", "mean"),
            ("min", "min"),
            ("max", "max"),
        )
    }
    return LoadResult(
        requests=int(raw["requests"]),
        duration_s=raw["duration_us"] / 1e6,
        errors=sum(int(v) for v in raw["errors"].values()),
        latency_ms=latency,
    )
