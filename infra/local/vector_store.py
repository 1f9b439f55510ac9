"""In-memory vectors for the Upstash Vector stand-in: namespaces of dense numpy matrices."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from infra.local.vector_filter import Predicate

DEFAULT_NAMESPACE = ""
Json = Any


class DimensionError(ValueError):
    """A vector's length does not match the index dimension."""


@dataclass
class Namespace:
    """Rows kept dense in numpy matrices (raw and unit-length) so a query is one matmul."""

    dim: int
    ids: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    metadata: list[dict[str, Any] | None] = field(default_factory=list)
    data: list[str | None] = field(default_factory=list)
    raw: np.ndarray = field(init=False)
    unit: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.raw = np.zeros((16, self.dim), dtype=np.float32)
        self.unit = np.zeros_like(self.raw)

    def __len__(self) -> int:
        return len(self.ids)

    def put(self, vid: str, vector: np.ndarray, metadata: Any, data: str | None) -> None:
        row = self.rows.get(vid)
        if row is None:
            row = len(self.ids)
            if row == len(self.raw):
                self.raw = np.concatenate([self.raw, np.zeros_like(self.raw)])
                self.unit = np.concatenate([self.unit, np.zeros_like(self.unit)])
            self.rows[vid] = row
            self.ids.append(vid)
            self.metadata.append(None)
            self.data.append(None)
        norm = float(np.linalg.norm(vector))
        self.raw[row] = vector
        self.unit[row] = vector / norm if norm > 0 else 0.0
        self.metadata[row], self.data[row] = metadata, data

    def remove(self, vid: str) -> bool:
        """Swap-with-last delete keeps the matrices dense without shifting every row."""
        row = self.rows.pop(vid, None)
        if row is None:
            return False
        last = len(self.ids) - 1
        if row != last:
            moved = self.ids[last]
            self.ids[row], self.rows[moved] = moved, row
            self.raw[row], self.unit[row] = self.raw[last], self.unit[last]
            self.metadata[row], self.data[row] = self.metadata[last], self.data[last]
        self.ids.pop()
        self.metadata.pop()
        self.data.pop()
        return True

    def view(self, row: int, vectors: bool, metadata: bool, data: bool) -> dict[str, Json]:
        out: dict[str, Json] = {"id": self.ids[row]}
        if vectors:
            out["vector"] = self.raw[row].tolist()
        if metadata and self.metadata[row] is not None:
            out["metadata"] = self.metadata[row]
        if data and self.data[row] is not None:
            out["data"] = self.data[row]
        return out

    def matching(self, predicate: Predicate, prefix: str | None = None) -> Iterator[int]:
        for row, vid in enumerate(self.ids):
            if (prefix is None or vid.startswith(prefix)) and predicate(self.metadata[row]):
                yield row

    def top_k(self, query: np.ndarray, k: int, predicate: Predicate) -> list[tuple[int, float]]:
        if not self.ids:
            return []
        norm = float(np.linalg.norm(query))
        cos = self.unit[: len(self.ids)] @ (query / norm if norm > 0 else query)
        rows = np.arange(len(self.ids))
        mask = np.fromiter((predicate(m) for m in self.metadata), bool, len(self.ids))
        rows, cos = rows[mask], cos[mask]
        if len(rows) > k:
            keep = np.argpartition(-cos, k - 1)[:k]
            rows, cos = rows[keep], cos[keep]
        order = np.argsort(-cos, kind="stable")
        return [(int(rows[i]), float((1.0 + cos[i]) / 2.0)) for i in order]


@dataclass
class VectorIndex:
    """All namespaces of one index; the default namespace "" always exists."""

    dim: int
    spaces: dict[str, Namespace] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.spaces.setdefault(DEFAULT_NAMESPACE, Namespace(self.dim))

    def get(self, name: str, create: bool = False) -> Namespace:
        space = self.spaces.get(name)
        if space is None:
            # Reads from a namespace that was never written behave like an empty one.
            space = Namespace(self.dim)
            if create:
                self.spaces[name] = space
        return space

    def check(self, vector: Any) -> np.ndarray:
        if not isinstance(vector, list):
            raise DimensionError(f"a vector must be a list of {self.dim} numbers")
        arr = np.asarray(vector, dtype=np.float32)
        if arr.ndim != 1 or arr.shape[0] != self.dim:
            size = arr.shape[0] if arr.ndim == 1 else arr.shape
            raise DimensionError(f"Invalid vector dimension: {size}, expected: {self.dim}")
        return arr

    def dump(self) -> Json:
        return {
            name: [space.view(r, True, True, True) for r in range(len(space))]
            for name, space in self.spaces.items()
        }

    def restore(self, snapshot: Json) -> None:
        for name, items in snapshot.items():
            space = self.get(name, create=True)
            for item in items:
                vector = self.check(item["vector"])
                space.put(str(item["id"]), vector, item.get("metadata"), item.get("data"))

    def load_file(self, path: Path) -> None:
        """Restore a snapshot written by save_file; a missing file means a fresh index."""
        if path.exists():
            self.restore(json.loads(path.read_text()))

    def save_file(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.dump()))
        # Atomic swap: a crash mid-write must not destroy the previous snapshot.
        os.replace(tmp, path)
