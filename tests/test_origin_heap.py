"""Once a worker has started, what start-up built is out of the cyclic collector's sight (a
full collection no longer walks it: that was a pause of about 47 ms every few thousand
requests), while the garbage start-up left is collected, not frozen for good."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import gc, weakref
from origin.heap import settle_after_start_up

class Node:
    pass

kept = [Node() for _ in range(50_000)]  # what start-up builds and keeps
cycle = Node()
cycle.me = cycle  # garbage start-up left in a cycle
freed = []
weakref.finalize(cycle, freed.append, True)
del cycle
gc.disable()  # nothing but the call below may collect it
settle_after_start_up()
print(gc.get_freeze_count() >= len(kept), freed == [True], gc.get_threshold()[0])
"""


def test_start_up_objects_are_frozen_and_its_garbage_collected() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd=ROOT
    )
    frozen, collected, young = out.stdout.split()
    assert frozen == "True"
    assert collected == "True"
    assert int(young) > 700  # requests' short-lived objects are not walked every 700


FRAGMENTS = """
import sys
from origin.heap import fix_mmap_threshold

def resident_mb():
    status = open("/proc/self/status").read().splitlines()
    return next(int(s.split()[1]) for s in status if s.startswith("VmRSS:")) / 1024

if sys.argv[1] == "fixed":
    fix_mmap_threshold()
large = bytearray(4 << 20)
del large  # one large block freed: glibc raises its mmap bar to 4 MB
before = resident_mb()
blocks = [bytearray(1 << 20) for _ in range(100)]  # a verification's activations, say
pinned = bytearray(100 << 10)  # something allocated after them that stays
del blocks
print(resident_mb() - before)
"""


def _kept_mb(mode: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", FRAGMENTS, mode],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return float(out.stdout)


def test_large_blocks_go_back_to_the_system_once_freed() -> None:
    """A worker's memory must not keep the high-water mark of every verification: with the
    bar fixed, 100 MB of freed 1 MB blocks is returned at once."""
    assert _kept_mb("fixed") < 10
    assert _kept_mb("moving") > 50  # glibc's own habit, which the fix undoes
