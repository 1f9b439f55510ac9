"""The Upstash Vector stand-in's endpoints: one async handler per REST operation.

Each takes the shared State, the namespace from the path and the parsed JSON body, and returns
what goes under `result` in the response; bad input raises ApiError (or the store's errors),
which upstash_vector turns into Upstash's error bodies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from infra.local.vector_filter import compile_filter
from infra.local.vector_store import DEFAULT_NAMESPACE, Namespace, VectorIndex

Json = Any
MAX_TOP_K = 1000


class Embedder(Protocol):
    @property
    def dimension(self) -> int: ...

    def embed(self, texts: list[str]) -> np.ndarray: ...


class ApiError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class State:
    index: VectorIndex
    embedder: Embedder

    async def embed(self, texts: list[Any]) -> np.ndarray:
        if not all(isinstance(t, str) for t in texts):
            raise ApiError("data must be a string")
        # Off the event loop: BLAS releases the GIL, so other requests keep flowing meanwhile.
        return await asyncio.to_thread(self.embedder.embed, texts)


def _items(body: Json) -> list[dict[str, Any]]:
    items = body if isinstance(body, list) else [body]
    if not items or not all(isinstance(i, dict) and "id" in i for i in items):
        raise ApiError("each item needs an id")
    return items


async def upsert(state: State, ns: str, body: Json) -> Json:
    items = _items(body)
    if any(i.get("vector") is None for i in items):
        raise ApiError("This index only supports dense vectors: `vector` is required", 422)
    vectors = [state.index.check(i["vector"]) for i in items]
    space = state.index.get(ns, create=True)
    for item, vector in zip(items, vectors):
        space.put(str(item["id"]), vector, item.get("metadata"), item.get("data"))
    return "Success"


async def upsert_data(state: State, ns: str, body: Json) -> Json:
    items = _items(body)
    vectors = await state.embed([i.get("data") for i in items])
    space = state.index.get(ns, create=True)
    for item, vector in zip(items, vectors):
        space.put(str(item["id"]), vector, item.get("metadata"), item["data"])
    return "Success"


def _run_query(state: State, ns: str, q: dict[str, Any], vector: np.ndarray) -> list[Json]:
    top_k = int(q.get("topK", 10))
    if not 0 < top_k <= MAX_TOP_K:
        raise ApiError(f"topK must be between 1 and {MAX_TOP_K}")
    space = state.index.get(ns)
    hits = space.top_k(vector, top_k, compile_filter(q.get("filter")))
    return [{**space.view(row, *_flags(q)), "score": score} for row, score in hits]


def _queries(body: Json) -> list[dict[str, Any]]:
    """One query object, or a list of them (the client's query_many)."""
    queries = body if isinstance(body, list) else [body]
    if not queries or not all(isinstance(q, dict) for q in queries):
        raise ApiError("a query must be a JSON object")
    return queries


async def query(state: State, ns: str, body: Json) -> Json:
    queries = _queries(body)
    vectors = [state.index.check(q.get("vector")) for q in queries]
    results = [_run_query(state, ns, q, v) for q, v in zip(queries, vectors)]
    return results if isinstance(body, list) else results[0]


async def query_data(state: State, ns: str, body: Json) -> Json:
    queries = _queries(body)
    vectors = await state.embed([q.get("data") for q in queries])
    results = [_run_query(state, ns, q, v) for q, v in zip(queries, vectors)]
    return results if isinstance(body, list) else results[0]


def _flags(body: dict[str, Any]) -> tuple[bool, bool, bool]:
    return (bool(body.get("includeVectors")), bool(body.get("includeMetadata")),
            bool(body.get("includeData")))  # fmt: skip


async def fetch(state: State, ns: str, body: Json) -> Json:
    space, flags = state.index.get(ns), _flags(body)
    if body.get("ids") is not None:
        rows = [space.rows.get(str(vid)) for vid in body["ids"]]
        return [None if r is None else space.view(r, *flags) for r in rows]
    return [space.view(r, *flags) for r in space.matching(lambda m: True, body.get("prefix"))]


async def delete(state: State, ns: str, body: Json) -> Json:
    space = state.index.get(ns)
    doomed: list[str] = [str(i) for i in body.get("ids") or []]
    if body.get("prefix") is not None or body.get("filter") is not None:
        predicate = compile_filter(body.get("filter"))
        doomed += [space.ids[r] for r in space.matching(predicate, body.get("prefix"))]
    return {"deleted": sum(space.remove(vid) for vid in dict.fromkeys(doomed))}


async def range_(state: State, ns: str, body: Json) -> Json:
    space, flags = state.index.get(ns), _flags(body)
    limit, start = int(body.get("limit", 1)), int(body.get("cursor") or 0)
    if limit <= 0:
        raise ApiError("limit must be greater than 0")
    ordered = sorted(space.matching(lambda m: True, body.get("prefix")), key=space.ids.__getitem__)
    page = ordered[start : start + limit]
    cursor = str(start + limit) if start + limit < len(ordered) else ""
    return {"nextCursor": cursor, "vectors": [space.view(r, *flags) for r in page]}


async def update(state: State, ns: str, body: Json) -> Json:
    new_vector: np.ndarray | None = None
    if body.get("vector") is not None:
        new_vector = state.index.check(body["vector"])
    elif body.get("data") is not None:
        new_vector = (await state.embed([body["data"]]))[0]
    # Look the row up only after the await: a concurrent delete may have moved it.
    space = state.index.get(ns)
    vid = str(body.get("id"))
    row = space.rows.get(vid)
    if row is None:
        return {"updated": 0}
    vector = space.raw[row].copy() if new_vector is None else new_vector
    metadata = body.get("metadata", space.metadata[row])
    if body.get("metadataUpdateMode") == "PATCH" and "metadata" in body:
        metadata = _merge_patch(space.metadata[row], body["metadata"])
    space.put(vid, vector, metadata, body.get("data", space.data[row]))
    return {"updated": 1}


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch, which the PATCH metadata update mode specifies."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge_patch(merged.get(key), value)
    return merged


async def reset(state: State, ns: str, body: Json) -> Json:
    names = list(state.index.spaces) if body == "all" else [ns]
    for name in names:
        if name in state.index.spaces:
            state.index.spaces[name] = Namespace(state.index.dim)
    return "Success"


async def info(state: State, ns: str, body: Json) -> Json:
    spaces = state.index.spaces
    total = sum(len(s) for s in spaces.values())
    dim = state.index.dim
    return {
        "vectorCount": total,
        "pendingVectorCount": 0,
        "indexSize": total * dim * 4,
        "dimension": dim,
        "similarityFunction": "COSINE",
        "denseIndex": {"dimension": dim, "similarityFunction": "COSINE",
                       "embeddingModel": "ALL_MINILM_L6_V2"},
        "namespaces": {n: {"vectorCount": len(s), "pendingVectorCount": 0}
                       for n, s in spaces.items()},
    }  # fmt: skip


async def list_namespaces(state: State, ns: str, body: Json) -> Json:
    return sorted(state.index.spaces)


async def delete_namespace(state: State, ns: str, body: Json) -> Json:
    if ns == DEFAULT_NAMESPACE:
        raise ApiError("Cannot delete the default namespace")
    if state.index.spaces.pop(ns, None) is None:
        raise ApiError(f"Namespace does not exist: {ns}", 404)
    return "Success"


Handler = Callable[[State, str, Json], Awaitable[Json]]
HANDLERS: dict[str, Handler] = {
    "upsert": upsert, "upsert-data": upsert_data, "query": query, "query-data": query_data,
    "fetch": fetch, "delete": delete, "range": range_, "update": update, "reset": reset,
    "info": info, "list-namespaces": list_namespaces, "delete-namespace": delete_namespace,
}  # fmt: skip
