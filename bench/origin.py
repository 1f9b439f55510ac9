"""The origin's added latency and throughput, next to direct calls and LiteLLM's proxy.

Starts everything on free loopback ports (Postgres, Redis, the PostgREST stand-in, the
provider simulator, ONE origin worker as `prism serve` runs it, and LiteLLM's proxy from its own
venv), then drives the same short chat completion to gpt-4o-mini with wrk:

  direct   client -> simulator
  origin   client -> origin -> simulator   (response cache bypassed: X-Prism-Cache: no-store)
  litellm  client -> LiteLLM -> simulator

Latency at concurrency 1 with an instant upstream (non-streaming and streaming), then
requests/s at concurrency 32 with a 50 ms upstream. Extra origin rows show the response
cache in play: every request a miss (unique prompts) and every request an exact hit. The
bench project has spend controls on, as a team would run it (two block budgets, one of them
on a tag every request carries, and a requests-per-minute limit, all far above what the run
uses; `--no-controls` leaves them off).

    .venv/bin/python -m bench.origin [--json] [--requests N] [--duration-s S] [--no-litellm]

Prints a table (or JSON) with PASS/MISS per goal; exits 0 either way, 130 on Ctrl-C.
Every process it started is stopped on the way out, Ctrl-C and SIGTERM included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
from contextlib import ExitStack
from dataclasses import dataclass

from bench import litellm_proxy
from bench.added_latency import AddedLatency, note_on_report
from bench.load import SEQ_PLACEHOLDER, Target, ensure_wrk
from bench.loopback import round_trip_ms
from bench.report import (
    CACHE_HIT,
    CACHE_MISS,
    DIRECT,
    LITELLM,
    ORIGIN,
    Phase,
    Report,
    goals,
    machine_facts,
    to_json,
)
from bench.report_text import render_text
from bench.rounds import Row, measure_phase, wait_ledger_drained
from bench.spend import TAGS, guard
from bench.stack import Stack, run_stopping_everything, start_stack, usage_rows
from infra.local.proc import ROOT

MODEL = "gpt-4o-mini"
PROMPT = "Say hello in one short sentence."
WORK_DIR = ROOT / ".prism" / "bench" / "last-run"


@dataclass(frozen=True)
class Endpoints:
    stack: Stack
    litellm: litellm_proxy.LiteLLM | None
    litellm_note: str


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.origin", description=__doc__.split("\n")[0])
    p.add_argument(
        "--requests",
        type=int,
        default=2000,
        help="measured requests per target at concurrency 1 (after the warm-up)",
    )
    p.add_argument("--warmup-s", type=float, default=2.0, help="warm-up per target")
    p.add_argument(
        "--duration-s",
        type=float,
        default=10.0,
        help="throughput measurement per target (split over the rounds)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="each measurement is split into this many interleaved rounds",
    )
    p.add_argument("--connections", type=int, default=32, help="concurrency of the throughput run")
    p.add_argument(
        "--upstream-ms",
        type=int,
        default=50,
        help="simulated provider latency for the throughput run",
    )
    p.add_argument("--no-litellm", action="store_true", help="skip LiteLLM (no install)")
    p.add_argument("--no-stream", action="store_true", help="skip the streaming latency run")
    p.add_argument(
        "--no-cache-rows",
        action="store_true",
        help="skip the extra origin rows with the response cache in play",
    )
    p.add_argument(
        "--no-controls", action="store_true", help="no budgets or rate limit on the bench project"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    return p.parse_args(argv)


def phases(args: argparse.Namespace) -> list[Phase]:
    chosen = [Phase("c1", "Latency, non-streaming", 1, 0, "latency")]
    if not args.no_stream:
        chosen.append(Phase("c1-stream", "Latency, streaming", 1, 0, "latency"))
    chosen.append(
        Phase(
            f"c{args.connections}",
            "Throughput, non-streaming",
            args.connections,
            args.upstream_ms,
            "throughput",
        )
    )
    return chosen


def chat_body(stream: bool, unique: bool = False) -> str:
    text = f"{PROMPT} [{SEQ_PLACEHOLDER}]" if unique else PROMPT
    body: dict[str, object] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": 32,
    }
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return json.dumps(body)


def targets(phase: Phase, ep: Endpoints, cache_rows: bool) -> list[tuple[str, Target | None]]:
    """The rows of one phase, in the order they run; None where LiteLLM is unavailable."""
    stream = phase.key.endswith("stream")
    body, auth = chat_body(stream), ("Authorization", f"Bearer {ep.stack.api_key}")
    tagged = (auth, TAGS)
    rows: list[tuple[str, Target | None]] = [
        (
            DIRECT,
            Target(
                DIRECT,
                f"{ep.stack.simulator_url}/p/openai/v1/chat/completions",
                body,
                (("Authorization", "Bearer sk-bench-direct"),),
            ),
        ),
        (
            ORIGIN,
            Target(
                ORIGIN,
                f"{ep.stack.origin_url}/v1/chat/completions",
                body,
                (*tagged, ("X-Prism-Cache", "no-store")),
            ),
        ),
        (
            LITELLM,
            Target(
                LITELLM,
                f"{ep.litellm.url}/v1/chat/completions",
                body,
                (("Authorization", f"Bearer {ep.litellm.master_key}"),),
            )
            if ep.litellm
            else None,
        ),
    ]
    if cache_rows and not stream:
        url = f"{ep.stack.origin_url}/v1/chat/completions"
        rows.append(
            (CACHE_MISS, Target(CACHE_MISS, url, chat_body(False, True), tagged, unique=True))
        )
        rows.append((CACHE_HIT, Target(CACHE_HIT, url, body, tagged)))
    return rows


def start_litellm(
    stack: ExitStack, sim_url: str, args: argparse.Namespace
) -> tuple[litellm_proxy.LiteLLM | None, str]:
    if args.no_litellm:
        return None, "skipped (--no-litellm)"
    print("bench: installing (once) and starting LiteLLM's proxy...", file=sys.stderr, flush=True)
    try:
        proxy = litellm_proxy.start(stack, WORK_DIR, MODEL, sim_url)
    except litellm_proxy.LiteLLMUnavailable as exc:
        print(f"bench: LiteLLM unavailable: {exc}", file=sys.stderr, flush=True)
        return None, f"unavailable: {exc}"
    return proxy, f"litellm {proxy.version}"


def run(stack: ExitStack, args: argparse.Namespace) -> Report:
    wrk = ensure_wrk()
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)
    print(
        "bench: starting Postgres, Redis, PostgREST, the simulator and one origin worker...",
        file=sys.stderr,
        flush=True,
    )
    servers = start_stack(stack, WORK_DIR)
    if not args.no_controls:
        asyncio.run(guard(servers.dsn, servers.project_id))
    proxy, litellm_note = start_litellm(stack, servers.simulator_url, args)
    ep = Endpoints(servers, proxy, litellm_note)
    report = Report(
        machine_facts(),
        {
            "model": MODEL,
            "requests_c1": args.requests,
            "warmup_s": args.warmup_s,
            "duration_s": args.duration_s,
            "rounds": args.rounds,
            "origin_workers": 1,
            "spend_controls": "off" if args.no_controls else "2 budgets + 1 rate limit",
            "litellm": litellm_note,
        },
        phases(args),
    )
    # "client" is this process, and so wrk, whose CPU is added to ours once it is reaped.
    roots = {**servers.pids, "client": os.getpid(), **({LITELLM: proxy.pid} if proxy else {})}
    # The origin's own added-latency histogram over the c=1 origin row, beside the client's.
    added = AddedLatency(servers.origin_url, "c1", ORIGIN)
    for phase in report.phases:
        servers.set_latency(phase.upstream_ms)
        rows = [
            Row(name, target, "" if target else litellm_note)
            for name, target in targets(phase, ep, not args.no_cache_rows)
        ]
        report.measurements += measure_phase(
            wrk, phase, rows, args, servers.origin_url, roots, added
        )
    if any(phase.key == added.phase for phase in report.phases):
        added.round_trip_ms = round_trip_ms(wrk)
    note_on_report(report, added)
    wait_ledger_drained(servers.origin_url)
    report.config["usage_rows_written"] = asyncio.run(usage_rows(servers.dsn))
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = run_stopping_everything("bench", lambda stack: run(stack, args))
    if report is None:
        return 130
    goal_list = goals(report, "c1", f"c{args.connections}")
    if args.json:
        print(json.dumps(to_json(report, goal_list), indent=2))
    else:
        print(render_text(report, goal_list))
    return 0


if __name__ == "__main__":
    sys.exit(main())
