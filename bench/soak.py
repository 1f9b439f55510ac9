"""Soak run: a long mixed load through ONE origin worker, its memory sampled as it goes.

Starts the benchmark's stack (bench.stack: Postgres, Redis, the PostgREST stand-in, the
provider simulator, the Upstash Vector stand-in, one origin worker configured as the test
fixture and `make run` configure it: exact and semantic layers, pair verifier on) and sends
`--requests` requests with wrk at `--concurrency`, rotating through a fixed mix
(bench.soak_mix.MIX): cache misses (unique prompts: single-turn, long chats, `auto`),
exact hits, semantic hits (a stored question in capitals, answered on the strict path, and a
rewording only the origin's pair verifier accepts), streams (missed and replayed from the
cache), cache bypasses, 4xx errors (bad body, unknown model, bad header, bad key), and
failovers: the simulator is told every second to fail the next two calls to OpenAI with a
503. Every FORGET_EVERY_S the misses' vectors are deleted from the stand-in (see Forgetter),
and the origin's vector budget is raised (SOAK_ENV): both keep the brute-force stand-in from
becoming the run's bottleneck. Every `--sample-s` the worker's RSS is read from /proc and the
requests answered so far from /metrics (cache lookups and hits by layer included); the run
prints that curve and a verdict: after the warm-up, every sample within 10% of the
post-warm-up median RSS and all under 200 MB. `--no-vector-index` runs the old stack, with
no semantic layer and no verifier, for comparison.

    .venv/bin/python -m bench.soak [--requests 200000] [--concurrency 16] [--json]
        [--no-vector-index]

Not a test: it takes a while and its figures depend on the machine. Exits 0 on PASS, 1 on
MISS, 130 on Ctrl-C; every process it started is stopped on the way out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.load import MARKER, ensure_wrk
from bench.soak_mix import (
    CHAT,
    SCHEDULE_SLOTS,
    chat_body,
    stored_questions,
    unique_vectors_filter,
    write_lua_data,
)
from bench.stack import Stack, run_stopping_everything, start_stack
from infra.local.proc import ROOT
from shared.cache_entry import vector_namespace

WORK_DIR = ROOT / ".prism" / "bench" / "soak"
LUA_SCRIPT = Path(__file__).resolve().parent / "wrk_soak.lua"
RSS_LIMIT_MB = 200.0
RSS_BAND = 0.10
FAULT_EVERY_S = 1.0
FORGET_EVERY_S = 10.0
# The one setting off its default: the vector stand-in embeds each lookup with numpy on the
# two cores the worker, wrk and the rest share, so under load it answers in hundreds of ms
# where Upstash takes tens; at the default 150 ms budget most lookups would be skipped as a
# backend down and the semantic layer would hardly run.
SOAK_ENV = {"PRISM_CACHE_VECTOR_TIMEOUT_MS": "2000"}


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=200_000)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--sample-s", type=float, default=10.0, help="RSS sampling interval")
    p.add_argument("--warmup-s", type=float, default=60.0, help="left out of the verdict")
    p.add_argument("--slice-s", type=int, default=30, help="length of each wrk run")
    p.add_argument("--max-minutes", type=float, default=60.0, help="stop early after this")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument(
        "--no-vector-index",
        action="store_true",
        help="run without the vector index: no semantic layer, no pair verifier",
    )
    return p.parse_args(argv)


def prime_hits(stack: Stack) -> None:
    """Every stored question answered once and stored, so the hit slots really are hits; with
    a vector index, also in the index, so the semantic slots are too (asking a rewording
    before its source is indexed would store the rewording and make it an exact hit)."""
    auth = {"Authorization": f"Bearer {stack.api_key}"}
    questions = stored_questions()
    with httpx.Client(base_url=stack.origin_url, headers=auth, timeout=30) as client:
        for question in questions:
            body = chat_body(question)
            deadline = time.monotonic() + 10
            while client.post(CHAT, json=body).headers.get("x-prism-cache-status") != "hit-exact":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{question!r} was never cached")
                time.sleep(0.05)
    if stack.vector_url:
        _wait_indexed(stack, len(questions))


def _wait_indexed(stack: Stack, count: int) -> None:
    auth = {"Authorization": f"Bearer {stack.vector_token}"}
    deadline = time.monotonic() + 30
    while True:
        info = httpx.get(f"{stack.vector_url}/info", headers=auth, timeout=10).json()["result"]
        if info["vectorCount"] >= count:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the vector index holds {info['vectorCount']} of {count}")
        time.sleep(0.1)


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


class Faults(threading.Thread):
    """Every second, the next two calls to OpenAI fail with a 503: the origin fails them over."""

    def __init__(self, stack: Stack, run: Run) -> None:
        super().__init__(daemon=True)
        self.stack, self.run_ = stack, run
        self.stopped = threading.Event()

    def run(self) -> None:
        fault = {"provider": "openai", "times": 2, "fault": {"kind": "status", "status": 503}}
        with httpx.Client(base_url=self.stack.simulator_url, timeout=10) as client:
            while not self.stopped.wait(FAULT_EVERY_S):
                try:
                    client.post("/_sim/script", json=fault).raise_for_status()
                    self.run_.faults_scripted += 2
                except httpx.HTTPError as exc:
                    print(f"soak: fault not scripted: {exc}", file=sys.stderr, flush=True)


class Forgetter(threading.Thread):
    """Every FORGET_EVERY_S, the misses' vectors are deleted from the vector stand-in. It
    searches by brute force, with its metadata filter in Python: left to grow by a vector per
    miss it would slow past the origin's 150 ms lookup budget within minutes, and the semantic
    layer would be skipped as down (Upstash's index does not slow down so). The origin's
    memory holds no vectors, so this changes nothing the soak measures."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.stopped = threading.Event()
        self.forgotten = 0

    def run(self) -> None:
        url = f"{self.stack.vector_url}/delete/{vector_namespace(self.stack.project_id)}"
        auth = {"Authorization": f"Bearer {self.stack.vector_token}"}
        body = {"filter": unique_vectors_filter()}
        with httpx.Client(headers=auth, timeout=30) as client:
            while not self.stopped.wait(FORGET_EVERY_S):
                try:
                    response = client.post(url, json=body)
                    response.raise_for_status()
                    self.forgotten += int(response.json()["result"]["deleted"])
                except httpx.HTTPError as exc:
                    print(f"soak: vectors not forgotten: {exc}", file=sys.stderr, flush=True)


def wrk_slice(wrk: str, stack: Stack, data: Path, args: argparse.Namespace, run: Run) -> None:
    """One wrk run of `--slice-s` seconds; its counts and CPU are added to `run`."""
    argv = [wrk, "-t1", f"-c{args.concurrency}", f"-d{args.slice_s}s", "--timeout=30s"]
    argv += ["-s", str(LUA_SCRIPT), f"{stack.origin_url}{CHAT}"]
    env = {**os.environ, "SOAK_DATA": str(data), "SOAK_TAG": secrets.token_hex(6)}
    env["SOAK_OFFSET"] = str(secrets.randbelow(SCHEDULE_SLOTS))
    env["SOAK_SALT"] = str(secrets.randbelow(1 << 40))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=args.slice_s + 120, check=False
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run.client_cpu_s += (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    raw = json.loads(lines[-1][len(MARKER) :])
    errors = raw["errors"]
    run.sent += int(raw["requests"])
    run.non_2xx += int(errors["status"])
    run.socket_errors += sum(int(v) for k, v in errors.items() if k != "status")


def verdict(samples: list[Sample], warmup_s: float) -> tuple[bool, str]:
    steady = [s.rss_mb for s in samples if s.t_s >= warmup_s]
    if len(steady) < 2:
        return False, "too few samples after the warm-up"
    median = statistics.median(steady)
    low, high = min(steady), max(steady)
    within = all(abs(v - median) <= RSS_BAND * median for v in steady)
    passed = within and high < RSS_LIMIT_MB
    return passed, (
        f"after {warmup_s:.0f} s: median {median:.1f} MB, min {low:.1f} ({low / median - 1:+.1%}),"
        f" max {high:.1f} ({high / median - 1:+.1%}); band ±{RSS_BAND:.0%}: "
        f"{'kept' if within else 'LEFT'}; under {RSS_LIMIT_MB:.0f} MB: "
        f"{'yes' if high < RSS_LIMIT_MB else 'NO'}"
    )


def soak(stack: ExitStack, args: argparse.Namespace) -> dict[str, Any]:
    wrk = ensure_wrk()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    print("soak: starting the stack (one origin worker)...", file=sys.stderr, flush=True)
    servers = start_stack(stack, WORK_DIR, SOAK_ENV, vector_index=not args.no_vector_index)
    prime_hits(servers)
    data = WORK_DIR / "soak_data.lua"
    write_lua_data(data, servers.api_key)
    worker = worker_pid(servers.origin_pid)
    run = Run()
    before = answered(servers.origin_url)
    sampler, faults = Sampler(servers, worker, args.sample_s, run), Faults(servers, run)
    forgetter = Forgetter(servers)
    load_before, started, cpu_before = os.getloadavg(), time.monotonic(), _cpu_s(worker)
    sampler.start()
    faults.start()
    if servers.vector_url:
        forgetter.start()
    try:
        while run.sent < args.requests and time.monotonic() - started < args.max_minutes * 60:
            wrk_slice(wrk, servers, data, args, run)
            print(
                f"soak: {run.sent} sent, RSS {rss_mb(worker):.1f} MB", file=sys.stderr, flush=True
            )
    finally:
        forgetter.stopped.set()
        if forgetter.is_alive():
            forgetter.join()
        faults.stopped.set()
        faults.join()
        sampler.stopped.set()
        sampler.join()
    sampler.take()
    elapsed = time.monotonic() - started
    after = answered(servers.origin_url)
    passed, why = verdict(run.samples, args.warmup_s)
    worker_cpu = _cpu_s(worker) - cpu_before
    return {
        "requests_sent": run.sent,
        "elapsed_s": round(elapsed, 1),
        "requests_per_s": round(run.sent / elapsed, 1),
        "non_2xx": run.non_2xx,
        "socket_errors": run.socket_errors,
        "faults_scripted": run.faults_scripted,
        "miss_vectors_forgotten": forgetter.forgotten,
        "origin_counts": {k: after.get(k, 0.0) - before.get(k, 0.0) for k in sorted(after)},
        "client_cpu_pct_of_a_core": round(100 * run.client_cpu_s / elapsed, 1),
        "worker_cpu_pct_of_a_core": round(100 * worker_cpu / elapsed, 1),
        "worker_cpu_ms_per_request": round(1000 * worker_cpu / max(run.sent, 1), 2),
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg(),
        "worker_pid": worker,
        "concurrency": args.concurrency,
        "vector_index": not args.no_vector_index,
        "samples": [vars(s) for s in run.samples],
        "passed": passed,
        "verdict": why,
    }


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def render(result: dict[str, Any]) -> str:
    out = [
        (
            f"soak: {result['requests_sent']} requests in {result['elapsed_s']} s "
            f"({result['requests_per_s']}/s) at concurrency {result['concurrency']}, one worker "
            f"(pid {result['worker_pid']}); load average {result['load_avg_before'][0]:.1f} before, "
            f"{result['load_avg_after'][0]:.1f} after; wrk used "
            f"{result['client_cpu_pct_of_a_core']}% of a core, the worker "
            f"{result['worker_cpu_pct_of_a_core']}% ({result['worker_cpu_ms_per_request']} ms "
            "per request)"
        ),
        (
            f"non-2xx {result['non_2xx']}, socket errors {result['socket_errors']}, "
            f"faults scripted {result['faults_scripted']}, "
            f"miss vectors forgotten {result['miss_vectors_forgotten']}"
        ),
        "origin counted: "
        + ", ".join(f"{k} {v:.0f}" for k, v in result["origin_counts"].items() if v),
        "",
        "  t (s)   requests   worker RSS MB   tree RSS MB",
    ]
    for s in result["samples"]:
        out.append(
            f"  {s['t_s']:6.0f}  {s['requests']:9d}  {s['rss_mb']:14.1f}  {s['tree_rss_mb']:12.1f}"
        )
    out += ["", f"{'PASS' if result['passed'] else 'MISS'}: {result['verdict']}"]
    return "\n".join(out)


def markdown(result: dict[str, Any], every_s: float = 60.0) -> str:
    """The curve as a README table: the first sample, then one about every `every_s`."""
    rows, next_t = [], 0.0
    samples = result["samples"]
    for i, s in enumerate(samples):
        if s["t_s"] >= next_t or i == len(samples) - 1:
            rows.append(f"| {s['t_s']:.0f} | {s['requests']:,} | {s['rss_mb']:.1f} |")
            next_t = (s["t_s"] // every_s + 1) * every_s
    head = ["| seconds | requests answered | worker RSS (MB) |", "| ---: | ---: | ---: |"]
    return "\n".join([*head, *rows])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run_stopping_everything("soak", lambda stack: soak(stack, args))
    if result is None:
        return 130
    (WORK_DIR / "last-result.json").write_text(json.dumps(result, indent=2))
    (WORK_DIR / "last-result.md").write_text(markdown(result) + "\n")
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
