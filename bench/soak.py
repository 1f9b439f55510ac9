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
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.load import MARKER, ensure_wrk
from bench.soak_mix import (
    CHAT,
    SCHEDULE_SLOTS,
    chat_body,
    stored_questions,
    unique_vectors_filter,
    write_lua_data,
)
from bench.soak_report import markdown, render, verdict
from bench.soak_sampling import Run, Sampler, answered, cpu_s, rss_mb, worker_pid
from bench.stack import Stack, run_stopping_everything, start_stack
from infra.local.proc import ROOT
from shared.cache_entry import vector_namespace

WORK_DIR = ROOT / ".prism" / "bench" / "soak"
LUA_SCRIPT = Path(__file__).resolve().parent / "wrk_soak.lua"
FAULT_EVERY_S = 1.0
FORGET_EVERY_S = 10.0
# The one setting off its default: the vector stand-in embeds each lookup with numpy on the
# two cores the worker, wrk and the rest share, so under load it answers in hundreds of ms
# where Upstash takes tens; at the default 150 ms budget most lookups would be skipped as a
# backend down and the semantic layer would hardly run.
SOAK_ENV = {"PRISM_CACHE_VECTOR_TIMEOUT_MS": "2000"}


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


@dataclass
class Alongside:
    """The threads that run beside the load: RSS samples, scripted faults, forgotten vectors."""

    sampler: Sampler
    faults: Faults
    forgetter: Forgetter

    @classmethod
    def for_run(cls, servers: Stack, worker: int, every_s: float, run: Run) -> Alongside:
        return cls(Sampler(servers, worker, every_s, run), Faults(servers, run), Forgetter(servers))

    def start(self, vector_index: bool) -> None:
        self.sampler.start()
        self.faults.start()
        if vector_index:
            self.forgetter.start()

    def stop(self) -> None:
        self.forgetter.stopped.set()
        if self.forgetter.is_alive():
            self.forgetter.join()
        self.faults.stopped.set()
        self.faults.join()
        self.sampler.stopped.set()
        self.sampler.join()


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
    alongside = Alongside.for_run(servers, worker, args.sample_s, run)
    load_before, started, cpu_before = os.getloadavg(), time.monotonic(), cpu_s(worker)
    alongside.start(bool(servers.vector_url))
    try:
        send(wrk, servers, data, args, run, started, worker)
    finally:
        alongside.stop()
    alongside.sampler.take()
    elapsed = time.monotonic() - started
    after = answered(servers.origin_url)
    passed, why = verdict(run.samples, args.warmup_s)
    worker_cpu = cpu_s(worker) - cpu_before
    return {
        "requests_sent": run.sent,
        "elapsed_s": round(elapsed, 1),
        "requests_per_s": round(run.sent / elapsed, 1),
        "non_2xx": run.non_2xx,
        "socket_errors": run.socket_errors,
        "faults_scripted": run.faults_scripted,
        "miss_vectors_forgotten": alongside.forgetter.forgotten,
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


def send(
    wrk: str,
    servers: Stack,
    data: Path,
    args: argparse.Namespace,
    run: Run,
    started: float,
    worker: int,
) -> None:
    """wrk slices until `--requests` are sent or `--max-minutes` have passed since `started`."""
    while run.sent < args.requests and time.monotonic() - started < args.max_minutes * 60:
        wrk_slice(wrk, servers, data, args, run)
        print(f"soak: {run.sent} sent, RSS {rss_mb(worker):.1f} MB", file=sys.stderr, flush=True)


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
