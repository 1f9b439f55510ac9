"""The ceiling one Hypercorn worker puts on any origin: a bare Starlette app, no gateway.

    .venv/bin/python -m bench.ceiling [--seconds S] [--rounds R] [--connections N]
        [--uvicorn-python /path/to/python]

One POST route that reads the JSON body and answers a cache-hit-sized JSON response, served
by ONE Hypercorn worker (`python -m hypercorn`, as bench.stack runs the origin) with asyncio's
and with uvloop's event loop in alternating rounds; wrk drives it at concurrency N. Prints
requests/s and the worker's CPU ms per request per round. With --uvicorn-python (an interpreter
that has starlette, uvicorn, httptools and uvloop; not a project dependency) the same app also
runs under uvicorn, for comparison with a server whose HTTP parser is C. Whatever the origin does per
request comes on top of this, so an exact-hit goal above these rates cannot be met on
Hypercorn however lean the gateway gets.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from bench import cpu
from bench.load import Target, ensure_wrk, run_load
from infra.local.proc import Service, free_port

APP = "bench.bare_app:create_app()"
BODY = json.dumps(
    {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Say hello in one short sentence."}],
        "max_tokens": 32,
    }
)


def servers(port: int, uvicorn_python: str | None) -> list[tuple[str, list[str]]]:
    bind = ["--bind", f"127.0.0.1:{port}"]
    hypercorn = [sys.executable, "-m", "hypercorn", *bind, "--worker-class"]
    found = [("hypercorn+asyncio", [*hypercorn, "asyncio", APP])]
    found.append(("hypercorn+uvloop", [*hypercorn, "uvloop", APP]))
    if uvicorn_python:
        uvicorn = [uvicorn_python, "-m", "uvicorn", "--port", str(port), "--no-access-log"]
        found.append(("uvicorn+httptools", [*uvicorn, "--loop", "uvloop", "--factory", APP[:-2]]))
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ceiling", description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--uvicorn-python", default=None)
    args = p.parse_args(argv)
    wrk = ensure_wrk()
    logs = Path(tempfile.mkdtemp(prefix="prism-ceiling-"))
    for number in range(1, args.rounds + 1):
        port = free_port()
        for name, argv_ in servers(port, args.uvicorn_python):
            server = Service("bare", argv_, port, log_path=logs / f"{name}.log")
            server.start()
            try:
                assert server.proc is not None
                target = Target("bare", f"{server.url}/v1/chat/completions", BODY)
                run_load(wrk, target, args.connections, 1)
                roots = {"bare": server.proc.pid}
                before = cpu.snapshot(roots)
                result = run_load(wrk, target, args.connections, args.seconds)
                used = cpu.usage_between(before, cpu.snapshot(roots))
            finally:
                server.stop()
            print(
                f"round {number} {name:18s} c={args.connections}: {result.rps:7.0f} req/s, "
                f"p50 {result.latency_ms['p50']:.2f} ms, worker CPU "
                f"{1000 * used.trees['bare'] / result.requests:.3f} ms/req, "
                f"others {100 * used.other_s / used.span_s:.0f} %, errors {result.errors}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
