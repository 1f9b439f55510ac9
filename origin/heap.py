"""Settling the worker's memory once start-up is done: the collector, and the heap.

Start-up builds objects that live as long as the worker (routes, the classifier's weights,
caches, clients: about 85,000 tracked by the cyclic collector) and frees tens of megabytes in
pieces of a few MB: importing, parsing the classifier's weights, building the pair verifier's
model (onnxruntime's graph alone frees about 70 MB).

- The collector: a full collection walked every start-up object, about 47 ms with the whole
  worker stopped, and came every two thousand requests or so. Frozen, they are out of its
  sight (gc.freeze). A request then allocates and frees thousands of containers, nearly all
  freed by reference counting; at the default young-generation threshold (700) the collector
  still ran every 15 or so requests at concurrency 32, to walk the objects of the requests in
  flight. Measured over a worker's life under bench.profile (exact hits, c=32): about 1.0 s
  of collection for 25,000 requests before, 4 ms after.
- The heap: glibc keeps freed heap of that size for reuse unless asked to return it, so a
  worker would carry it for its whole life: a process that had built the onnxruntime verifier
  held 178 MB before the trim and 109 MB after.
"""

from __future__ import annotations

import ctypes
import gc

# Net new tracked containers between two young collections: cycles a request leaves (an
# exception's traceback and its frames) still go within a few hundred requests.
YOUNG_THRESHOLD = 7_000


def settle_after_start_up() -> None:
    """Collect start-up's garbage, freeze what is left, collect young objects less often, and
    give the freed heap back to the system. Call once, when the worker is ready to serve."""
    gc.collect()  # first: what start-up left in cycles must not be frozen for good
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    give_back_freed_heap()


def give_back_freed_heap() -> None:
    """Return what the allocator holds free to the system (glibc's malloc_trim)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc: its allocator has no such habit to undo
    libc.malloc_trim(0)
