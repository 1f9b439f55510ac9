"""Giving the heap that start-up freed back to the system.

Start-up allocates and frees tens of megabytes in pieces of a few MB: importing, parsing the
classifier's weights, building the pair verifier's model (onnxruntime's graph alone frees
about 70 MB). glibc keeps freed heap of that size for reuse unless asked to return it, so a
worker would carry it for its whole life: a process that had built the onnxruntime verifier
held 178 MB before the trim and 109 MB after.
"""

from __future__ import annotations

import ctypes


def give_back_freed_heap() -> None:
    """Return what the allocator holds free to the system (glibc's malloc_trim)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc: its allocator has no such habit to undo
    libc.malloc_trim(0)
