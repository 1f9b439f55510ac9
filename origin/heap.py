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
- Large blocks: glibc serves a block of 128 KiB or more by mmap, returned whole when freed,
  but raises that bar to the size of each such block freed, so the verifier's activations
  (hundreds of kB to a few MB a pass) soon come from the heap and leave it fragmented. Over
  1,500 verifications of varied length, a worker with the 8-bit verifier grew to 200-207 MB
  with the moving bar and held 156 MB with it fixed, the pass no slower (3.4-3.7 ms p50 both).
"""

from __future__ import annotations

import ctypes
import gc

# Net new tracked containers between two young collections: cycles a request leaves (an
# exception's traceback and its frames) still go within a few hundred requests.
YOUNG_THRESHOLD = 7_000
# glibc's M_MMAP_THRESHOLD parameter, and the bar it starts at (setting it stops it moving).
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 << 10


def fix_mmap_threshold() -> None:
    """Serve every block of 128 KiB or more by mmap for the worker's whole life (see above).
    Call before start-up builds anything large."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


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
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None  # not glibc: its allocator has none of the habits undone here
