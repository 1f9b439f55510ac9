"""CPU time per process tree, and of the whole machine, read from /proc around each run.

Latency on a shared 2-core machine moves with whatever else runs; CPU seconds a server
spent per request barely do. So each run also reports what the gateway, the simulator and
the rest of the stack cost per request, and how busy the machine was with work not ours.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:  # the process is gone: it costs nothing from now on
        return None
    # The command name may contain spaces and parentheses; the fields after it may not.
    return raw[raw.rindex(")") + 2 :].split()


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def tree_cpu_s(root: int, children: Mapping[int, list[int]]) -> float:
    """User + system seconds of `root` and every live descendant, reaped children included.

    Pass an empty `children` for the process alone (plus the children it has reaped)."""
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        fields = _stat_fields(pid)
        if fields is not None:
            # utime, stime, cutime, cstime are fields 14..17 of /proc/PID/stat (1-based).
            total += sum(int(v) for v in fields[11:15]) / TICKS_PER_S
        stack.extend(children.get(pid, ()))
    return total


def machine_cpu_s() -> tuple[float, float]:
    """(busy, total) CPU seconds since boot, summed over all cores."""
    values = [int(v) for v in (PROC / "stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / TICKS_PER_S, sum(values) / TICKS_PER_S


@dataclass(frozen=True)
class Snapshot:
    trees: dict[str, float]
    busy_s: float
    total_s: float


@dataclass(frozen=True)
class Usage:
    """CPU spent during one run: per named tree, by everything else, and the run's span."""

    trees: dict[str, float]
    other_s: float
    span_s: float  # core-seconds available: wall time x cores

    def per_request_ms(self, requests: int) -> dict[str, float]:
        if requests <= 0:
            return {}
        return {name: 1000.0 * seconds / requests for name, seconds in self.trees.items()}


def snapshot(roots: Mapping[str, int], alone: frozenset[str] = frozenset()) -> Snapshot:
    """CPU so far of each root's tree; roots named in `alone` count without descendants
    (the benchmark itself: its live children are the servers, counted under their names)."""
    children = _children()
    busy, total = machine_cpu_s()
    return Snapshot(
        {name: tree_cpu_s(pid, {} if name in alone else children) for name, pid in roots.items()},
        busy,
        total,
    )


def usage_between(before: Snapshot, after: Snapshot) -> Usage:
    trees = {
        name: max(0.0, after.trees[name] - before.trees.get(name, 0.0)) for name in after.trees
    }
    busy = after.busy_s - before.busy_s
    return Usage(trees, max(0.0, busy - sum(trees.values())), after.total_s - before.total_s)
