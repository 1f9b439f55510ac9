"""CPU per classify(): the working tree's classifier against an earlier commit's, same process.

On a shared machine wall time moves with the neighbours; CPU time per call much less, and
measuring both classifiers interleaved (prompt by prompt, alternating which goes first) in
one process exposes them to the same caches, clocks and load. The earlier classifier is
loaded from git (its classifier.py, task_model.py and weights) under another module name.

    .venv/bin/python -m bench.classify_cpu [--rev main] [--rounds 3] [--split test]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from origin.routing import classifier as current

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
FILES = ("task_model.py", "task_model.json", "classifier.py")
LONG_SIZES = (2_000, 8_000, 32_000)
Classify = Callable[[Mapping[str, Any]], object]


def _module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def earlier(rev: str, into: Path) -> Classify:
    """classify() as it was at `rev`, its task model bound in place of the current one."""
    for name in FILES:
        blob = subprocess.run(
            ["git", "show", f"{rev}:origin/routing/{name}"],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        if blob.returncode:
            sys.exit(f"cannot read origin/routing/{name} at {rev}: {blob.stderr.decode()}")
        (into / name).write_bytes(blob.stdout)
    model = _module("earlier_task_model", into / "task_model.py")
    key = "origin.routing.task_model"
    saved = sys.modules[key]
    sys.modules[key] = model  # the earlier classifier imports its own model, not ours
    try:
        module = _module("earlier_classifier", into / "classifier.py")
    finally:
        sys.modules[key] = saved
    fn: Classify = module.classify
    return fn


def _cpu_ms(fn: Classify, body: Mapping[str, Any]) -> float:
    start = time.process_time_ns()
    fn(body)
    return (time.process_time_ns() - start) / 1e6


def measure(
    fns: tuple[Classify, Classify], bodies: list[dict[str, Any]], rounds: int
) -> tuple[list[float], list[float]]:
    """Each body's median CPU over the rounds, per classifier; the order alternates."""
    times: tuple[list[list[float]], list[list[float]]] = ([], [])
    for body in bodies:  # warm-up: regex compilation, caches
        fns[0](body), fns[1](body)
    for r in range(rounds):
        for i, body in enumerate(bodies):
            order = (0, 1) if (i + r) % 2 == 0 else (1, 0)
            for k in order:
                if r == 0:
                    times[k].append([])
                times[k][i].append(_cpu_ms(fns[k], body))
    return [statistics.median(t) for t in times[0]], [statistics.median(t) for t in times[1]]


def _summary(ms: list[float]) -> str:
    ms = sorted(ms)
    return (
        f"p50 {statistics.median(ms):.3f} ms, p90 {ms[int(len(ms) * 0.9)]:.3f} ms, "
        f"max {ms[-1]:.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="CPU per classify(), now vs an earlier commit.")
    parser.add_argument("--rev", default="main", help="the commit to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    args = parser.parse_args()
    lines = (DATA / f"prompts_{args.split}.jsonl").read_text("utf-8").splitlines()
    prompts = [json.loads(line)["prompt"] for line in lines if line.strip()]
    bodies = [{"messages": [{"role": "user", "content": p}]} for p in prompts]
    with tempfile.TemporaryDirectory() as tmp:
        before = earlier(args.rev, Path(tmp))
        old, new = measure((before, current.classify), bodies, args.rounds)
        print(f"{len(bodies)} prompts of the {args.split} half, median of {args.rounds} rounds")
        print(f"  {args.rev:<12} {_summary(old)}")
        print(f"  {'this tree':<12} {_summary(new)}")
        # The labelled prompts are short; real pastes are not. Long bodies are built from
        # the same prompts so that both classifiers read the same kind of text.
        for size in LONG_SIZES:
            long = [_pasted(prompts, i, size) for i in range(0, len(prompts), 8)]
            old, new = measure((before, current.classify), long, args.rounds)
            print(f"  {len(long)} pastes of {size:,} characters:")
            print(f"  {args.rev:<12} {_summary(old)}")
            print(f"  {'this tree':<12} {_summary(new)}")


def _pasted(prompts: list[str], start: int, size: int) -> dict[str, Any]:
    """About `size` characters of consecutive prompts as pasted material, then one as the ask."""
    parts, total, i = [], 0, start
    while total < size:
        parts.append(prompts[i % len(prompts)])
        total, i = total + len(parts[-1]) + 2, i + 1
    text = "\n\n".join(parts)[:size] + "\n\n" + prompts[i % len(prompts)]
    return {"messages": [{"role": "user", "content": text}]}


if __name__ == "__main__":
    main()
