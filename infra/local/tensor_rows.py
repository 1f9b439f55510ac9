"""Rows of one 2-D tensor in a safetensors file, read from disk when asked for.

A word-embedding table is large (MiniLM's: 30,522 x 384 float32, 47 MB) but a text uses a few
dozen of its rows. Read with pread, only those rows enter the process, and only for the call;
the file stays in the kernel's page cache, shared by every process that reads it. A numpy
memmap would look simpler but is worse for a long-lived server: every page fault maps the
page's cached neighbours too (the kernel's fault-around, 64 kB), so each new token brings
about 40 rows into the resident set, and the set creeps towards the whole table as the
traffic's vocabulary grows.

The format: an 8-byte little-endian header length, a JSON header mapping each tensor's name to
its dtype, shape and `data_offsets` (begin and end, relative to the end of the header), then
the raw little-endian bytes.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_HEADER_LENGTH = struct.Struct("<Q")
# A header larger than this is not a safetensors file we wrote; refuse rather than read it.
_MAX_HEADER_BYTES = 100 * 1024 * 1024


def _numpy_dtype(name: str) -> np.dtype[np.floating]:
    match name:
        case "F16":
            return np.dtype("<f2")
        case "F32":
            return np.dtype("<f4")
        case "F64":
            return np.dtype("<f8")
    raise ValueError(f"tensor dtype {name} is not a float numpy reads as is")


@dataclass(frozen=True)
class TensorRows:
    """Where a (rows, columns) tensor's bytes lie in `path`; `take` reads the rows it needs."""

    path: Path
    offset: int  # of row 0, from the start of the file
    shape: tuple[int, int]
    dtype: np.dtype[np.floating]

    @classmethod
    def locate(cls, path: Path, name: str) -> TensorRows:
        with path.open("rb") as f:
            (length,) = _HEADER_LENGTH.unpack(f.read(_HEADER_LENGTH.size))
            if length > _MAX_HEADER_BYTES:
                raise ValueError(f"{path.name}: header of {length} bytes is not safetensors")
            header = json.loads(f.read(length))
        info = header[name]
        dtype = _numpy_dtype(info["dtype"])
        rows, columns = (int(n) for n in info["shape"])
        begin, end = (int(n) for n in info["data_offsets"])
        if end - begin != rows * columns * dtype.itemsize:
            raise ValueError(f"{path.name}: {name}'s offsets disagree with its shape")
        return cls(path, _HEADER_LENGTH.size + length + begin, (rows, columns), dtype)

    @property
    def nbytes(self) -> int:
        """The whole table's size on disk (none of it is kept in memory)."""
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    def take(self, ids: np.ndarray) -> np.ndarray:
        """`table[ids]` for an integer array of any shape: each distinct row read once."""
        unique, inverse = np.unique(ids.reshape(-1), return_inverse=True)
        if unique.size and (unique[0] < 0 or unique[-1] >= self.shape[0]):
            raise IndexError(f"row ids must lie in [0, {self.shape[0]})")
        columns = self.shape[1]
        rows = np.empty((unique.size, columns), dtype=self.dtype)
        row_bytes = columns * self.dtype.itemsize
        fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            for k, row in enumerate(unique.tolist()):
                got = os.preadv(fd, [rows[k]], self.offset + row * row_bytes)
                if got != row_bytes:
                    raise OSError(f"{self.path.name}: short read of row {row}")
        finally:
            os.close(fd)
        return rows[inverse].reshape(*ids.shape, columns)
