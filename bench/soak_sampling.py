"""The soak run's measurements of the origin worker: RSS and CPU from /proc, answers from /metrics.

Read from outside the worker, so measuring costs it nothing but one /metrics scrape per sample;
the worker is found as the largest process under the server's root, whichever server runs it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.stack import Stack


@dataclass
class Sample:
    t_s: float
    requests: int
    rss_mb: float
    tree_rss_mb: float


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    sent: int = 0
    non_2xx: int = 0
    socket_errors: int = 0
    client_cpu_s: float = 0.0
    faults_scripted: int = 0


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat:
            tree.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    return tree


def tree(root: int) -> list[int]:
    children, pids, stack = _children(), [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(children.get(pid, ()))
    return pids


def worker_pid(root: int) -> int:
    """The origin's worker: the largest process under the server's root (Hypercorn spawns
    its worker as a child; a server that serves from the root process is its own worker)."""
    return max(tree(root), key=rss_mb)


def answered(origin_url: str) -> dict[str, float]:
    """prism_requests_total by status, and failovers, from one scrape."""
    text = httpx.get(f"{origin_url}/metrics", timeout=10).text
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "prism_requests_total":
                key = f"status {s.labels['status']}"
                totals[key] = totals.get(key, 0.0) + s.value
            elif s.name in ("prism_cache_lookups_total", "prism_cache_hits_total"):
                kind = "lookups" if "lookups" in s.name else "hits"
                key = f"cache {kind} {s.labels['layer']}"
                totals[key] = totals.get(key, 0.0) + s.value
            elif s.name in ("prism_failovers_total", "prism_provider_attempts_total"):
                key = s.name if "outcome" not in s.labels else f"attempts {s.labels['outcome']}"
                totals[key] = totals.get(key, 0.0) + s.value
    return totals


def requests_done(totals: dict[str, float]) -> int:
    return int(sum(v for k, v in totals.items() if k.startswith("status ")))


class Sampler(threading.Thread):
    """Every `every_s`: (seconds since start, requests answered, worker RSS, tree RSS)."""

    def __init__(self, stack: Stack, worker: int, every_s: float, run: Run) -> None:
        super().__init__(daemon=True)
        self.stack, self.worker, self.every_s, self.run_ = stack, worker, every_s, run
        self.stopped = threading.Event()
        self.start_count = requests_done(answered(stack.origin_url))
        self.started = time.monotonic()

    def take(self) -> None:
        done = requests_done(answered(self.stack.origin_url)) - self.start_count
        total = sum(rss_mb(pid) for pid in tree(self.stack.origin_pid))
        t = time.monotonic() - self.started
        self.run_.samples.append(Sample(t, done, rss_mb(self.worker), total))

    def run(self) -> None:
        self.take()
        while not self.stopped.wait(self.every_s):
            try:
                self.take()
            except httpx.HTTPError as exc:
                print(f"soak: sample skipped: {exc}", file=sys.stderr, flush=True)


def cpu_s(pid: int) -> float:
    """CPU seconds `pid` has used, user and system."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
