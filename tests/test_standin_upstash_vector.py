"""Contract tests: the official upstash-vector clients against our stand-in, plus its filter language."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from upstash_vector import AsyncIndex, Index
from upstash_vector.errors import UpstashError
from upstash_vector.types import MetadataUpdateMode

from infra.local.embedding import MiniLM
from infra.local.proc import free_port, python_module
from infra.local.vector_filter import FilterError, compile_filter
from tests.fixtures.upstash import RestEndpoint

# ---- filter language (pure logic) --------------------------------------------------------------

META = {
    "project": "p1",
    "scope": "user:42",
    "tier": 2,
    "price": 1.5,
    "live": True,
    "tags": ["faq", "billing"],
    "owner": {"team": "core", "ids": [7, 8, 9]},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("project = 'p1'", True),
        ('project = "p1"', True),
        ("project = 'p2'", False),
        ("project != 'p2'", True),
        ("tier = 2", True),
        ("tier = '2'", False),
        ("tier < 3", True),
        ("tier <= 2", True),
        ("tier > 2", False),
        ("tier >= 2", True),
        ("price > 1", True),
        ("price < -1", False),
        ("live = true", True),
        ("live = 1", False),
        ("project IN ('p0', 'p1')", True),
        ("project NOT IN ('p0', 'p1')", False),
        ("tier in (1, 2.0)", True),
        ("scope GLOB 'user:*'", True),
        ("scope NOT GLOB 'user:*'", False),
        ("tags CONTAINS 'faq'", True),
        ("tags NOT CONTAINS 'faq'", False),
        ("owner.team = 'core'", True),
        ("owner.ids[0] = 7", True),
        ("owner.ids[#-1] = 9", True),
        ("owner.ids[5] = 9", False),
        ("project HAS FIELD", True),
        ("missing HAS FIELD", False),
        ("missing HAS NOT FIELD", True),
        ("missing = 'x'", False),
        ("missing != 'x'", False),
        ("project = 'p1' AND scope = 'user:42'", True),
        ("project = 'p1' AND scope = 'user:43'", False),
        ("project = 'p2' OR scope = 'user:42'", True),
        ("project = 'p2' OR project = 'p3' AND tier = 2", False),
        ("(project = 'p2' OR project = 'p1') AND tier = 2", True),
        ("project = 'p1' OR project = 'p2' AND tier = 99", True),
        ("((tier = 2))", True),
        ("project = 'p1' and scope = 'user:42' or tier = 0", True),
        ("", True),
        ("   ", True),
    ],
)
def test_filter_semantics(expression: str, expected: bool) -> None:
    assert compile_filter(expression)(META) is expected


def test_filter_on_vector_without_metadata() -> None:
    assert compile_filter("project = 'p1'")(None) is False
    assert compile_filter("project HAS NOT FIELD")(None) is True


@pytest.mark.parametrize(
    "expression",
    [
        "project =",
        "= 'p1'",
        "project = 'p1' AND",
        "(project = 'p1'",
        "project = 'p1')",
        "project IN ('a',",
        "project LIKE 'x'",
        "project = p1",
        "project = 'p1'; DROP",
        "__import__('os') = 1",
    ],
)
def test_filter_syntax_errors(expression: str) -> None:
    with pytest.raises(FilterError):
        compile_filter(expression)


@given(st.integers(-1000, 1000), st.integers(-1000, 1000))
def test_filter_numeric_comparisons_agree_with_python(value: int, bound: int) -> None:
    checks = {"<": value < bound, "<=": value <= bound, ">": value > bound,
              ">=": value >= bound, "=": value == bound, "!=": value != bound}  # fmt: skip
    for op, expected in checks.items():
        assert compile_filter(f"n {op} {bound}")({"n": value}) is expected


@given(st.lists(st.booleans(), min_size=3, max_size=3), st.sampled_from(["AND", "OR"]))
def test_filter_precedence_matches_boolean_logic(bits: list[bool], op2: str) -> None:
    meta = {f"b{i}": int(b) for i, b in enumerate(bits)}
    a, b, c = bits

    def combine(x: bool, op: str, y: bool) -> bool:
        return (x and y) if op == "AND" else (x or y)

    for op1 in ("AND", "OR"):
        # AND binds tighter than OR, as in SQL.
        expected = combine(a and b, op2, c) if op1 == "AND" else (a or combine(b, op2, c))
        expression = f"b0 = 1 {op1} b1 = 1 {op2} b2 = 1"
        assert compile_filter(expression)(meta) is expected


# ---- the official client against the running stand-in -----------------------------------------


@pytest.fixture
def index(upstash_vector: RestEndpoint) -> AsyncIndex:
    return AsyncIndex(
        url=upstash_vector.url, token=upstash_vector.token, retries=0, allow_telemetry=False
    )


@pytest.fixture
def ns() -> str:
    """A namespace of this test's own: the stand-in is shared by the session."""
    return f"t-{uuid.uuid4().hex[:12]}"


FAQ = [
    ("reset", "How do I reset my password?", {"project": "p1", "scope": "a"}),
    ("refund", "What is your refund policy?", {"project": "p1", "scope": "b"}),
    ("cat", "The cat is sleeping on the warm windowsill.", {"project": "p2", "scope": "a"}),
]


async def test_upsert_data_and_query_with_metadata(index: AsyncIndex, ns: str) -> None:
    assert await index.upsert(FAQ, namespace=ns) == "Success"
    hits = await index.query(
        data="I forgot my password, how can I change it?",
        top_k=2,
        include_metadata=True,
        include_data=True,
        namespace=ns,
    )
    assert [h.id for h in hits][:1] == ["reset"]
    assert len(hits) == 2
    assert hits[0].metadata == {"project": "p1", "scope": "a"}
    assert hits[0].data == "How do I reset my password?"
    assert hits[0].vector is None
    assert hits[0].score > hits[1].score


@pytest.mark.parametrize(
    ("filter_", "expected_ids"),
    [
        ("project = 'p1'", {"reset", "refund"}),
        ("project = 'p1' AND scope = 'a'", {"reset"}),
        ("project = 'p2' AND scope = 'a'", {"cat"}),
        ("project = 'p3'", set()),
        ("scope IN ('a', 'b') AND project != 'p1'", {"cat"}),
    ],
)
async def test_query_filter_scopes_results(
    index: AsyncIndex, ns: str, filter_: str, expected_ids: set[str]
) -> None:
    await index.upsert(FAQ, namespace=ns)
    hits = await index.query(
        data="password", top_k=10, filter=filter_, include_metadata=True, namespace=ns
    )
    assert {h.id for h in hits} == expected_ids


async def test_namespaces_are_isolated(index: AsyncIndex, ns: str) -> None:
    other = ns + "-other"
    await index.upsert([("x", "How do I reset my password?", {"n": 1})], namespace=ns)
    await index.upsert([("y", "How do I reset my password?", {"n": 2})], namespace=other)
    assert [h.id for h in await index.query(data="password", namespace=ns)] == ["x"]
    assert [h.id for h in await index.query(data="password", namespace=other)] == ["y"]
    assert await index.query(data="password", namespace=ns + "-never-written") == []
    assert {ns, other} <= set(await index.list_namespaces())


async def test_delete_by_id_prefix_and_filter(index: AsyncIndex, ns: str) -> None:
    items = [(f"{p}{i}", f"text {p}{i}", {"grp": p}) for p in ("a", "b", "c") for i in range(3)]
    await index.upsert(items, namespace=ns)
    assert (await index.delete("a0", namespace=ns)).deleted == 1
    assert (await index.delete(["a0", "a1"], namespace=ns)).deleted == 1
    assert (await index.delete(prefix="b", namespace=ns)).deleted == 3
    assert (await index.delete(filter="grp = 'c'", namespace=ns)).deleted == 3
    remaining = await index.fetch(["a2", "b0", "c1"], namespace=ns)
    assert [r.id if r else None for r in remaining] == ["a2", None, None]


async def test_info_counts(index: AsyncIndex, ns: str) -> None:
    await index.upsert(FAQ, namespace=ns)
    await index.delete("cat", namespace=ns)
    info = await index.info()
    assert info.namespaces[ns].vector_count == 2
    assert info.dimension == 384
    assert info.similarity_function == "COSINE"
    assert info.vector_count >= 2
    assert "" in info.namespaces


async def test_scores_are_upstash_cosine_of_our_embeddings(
    index: AsyncIndex, ns: str, minilm: MiniLM
) -> None:
    await index.upsert(FAQ, namespace=ns)
    query = "I forgot my password, how can I change it?"
    hits = await index.query(data=query, top_k=3, namespace=ns, include_data=True)
    vectors = minilm.embed([query, *(h.data for h in hits if h.data)])
    for hit, vector in zip(hits, vectors[1:]):
        assert 0.0 <= hit.score <= 1.0
        assert hit.score == pytest.approx((1 + float(vectors[0] @ vector)) / 2, abs=1e-5)


async def test_paraphrase_scores_higher_than_unrelated(index: AsyncIndex, ns: str) -> None:
    await index.upsert(
        [
            ("paraphrase", "What is the procedure to change my forgotten password?"),
            ("unrelated", "Quarterly revenue grew by twelve percent."),
        ],
        namespace=ns,
    )
    hits = await index.query(data="How do I reset my password?", top_k=2, namespace=ns)
    scores = {h.id: h.score for h in hits}
    assert scores["paraphrase"] == pytest.approx((1 + 0.848) / 2, abs=2e-3)
    assert scores["paraphrase"] > scores["unrelated"] + 0.3


async def test_raw_vectors_fetch_range_and_update(index: AsyncIndex, ns: str) -> None:
    basis = np.eye(384, dtype=np.float32)
    await index.upsert(
        [(f"v{i}", basis[i].tolist(), {"i": i}, f"d{i}") for i in range(5)], namespace=ns
    )
    hits = await index.query(vector=basis[3].tolist(), top_k=1, include_vectors=True, namespace=ns)
    assert (hits[0].id, hits[0].score) == ("v3", pytest.approx(1.0))
    assert hits[0].vector == basis[3].tolist()
    fetched = await index.fetch(
        ["v1", "nope"], include_metadata=True, include_data=True, namespace=ns
    )
    assert fetched[0] is not None and (fetched[0].metadata, fetched[0].data) == ({"i": 1}, "d1")
    assert fetched[1] is None
    seen, cursor = [], ""
    while True:
        page = await index.range(cursor=cursor, limit=2, namespace=ns)
        seen += [v.id for v in page.vectors]
        if not (cursor := page.next_cursor):
            break
    assert sorted(seen) == [f"v{i}" for i in range(5)]
    assert await index.update(
        "v1", metadata={"extra": True}, metadata_update_mode=MetadataUpdateMode.PATCH, namespace=ns
    )
    fetched = await index.fetch("v1", include_metadata=True, namespace=ns)
    assert fetched[0] is not None and fetched[0].metadata == {"i": 1, "extra": True}


async def test_reset_and_delete_namespace(index: AsyncIndex, ns: str) -> None:
    await index.upsert(FAQ, namespace=ns)
    assert await index.reset(namespace=ns) == "Success"
    assert await index.query(data="password", namespace=ns) == []
    await index.delete_namespace(ns)
    assert ns not in await index.list_namespaces()
    with pytest.raises(UpstashError):
        await index.delete_namespace(ns)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda i, ns: i.query(data="x", filter="project = ", namespace=ns), "Invalid filter"),
        (lambda i, ns: i.upsert([("v", [0.1, 0.2])], namespace=ns), "dimension"),
        (lambda i, ns: i.query(vector=[1.0], namespace=ns), "dimension"),
        (lambda i, ns: i.query(data="x", top_k=0, namespace=ns), "topK"),
    ],
)
async def test_bad_requests_raise_upstash_error(
    index: AsyncIndex, ns: str, call: Any, message: str
) -> None:
    with pytest.raises(UpstashError, match=message):
        await call(index, ns)


async def test_bad_token(upstash_vector: RestEndpoint) -> None:
    index = AsyncIndex(url=upstash_vector.url, token="wrong", retries=0, allow_telemetry=False)
    with pytest.raises(UpstashError, match="Unauthorized"):
        await index.info()
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{upstash_vector.url}/info")
    assert (response.status_code, response.json()) == (
        401,
        {"error": "Unauthorized", "status": 401},
    )


def test_sync_client(upstash_vector: RestEndpoint, ns: str) -> None:
    index = Index(
        url=upstash_vector.url, token=upstash_vector.token, retries=0, allow_telemetry=False
    )
    index.upsert([("s1", "sync clients work too", {"k": "v"})], namespace=ns)
    hits = index.query(data="sync client", top_k=1, include_metadata=True, namespace=ns)
    assert [(h.id, h.metadata) for h in hits] == [("s1", {"k": "v"})]


# ---- --data-file snapshot survives a restart ----------------------------------------------------


def test_data_file_survives_restart(tmp_path: Path) -> None:
    token = "snapshot-token"
    snapshot_path = tmp_path / "vectors.json"

    def start() -> Any:
        service = python_module(
            "upstash-vector-snapshot", "infra.local.upstash_vector", free_port(),
            f"--token={token}", "--data-file", str(snapshot_path),
            log_path=snapshot_path.with_suffix(".log"),
        )  # fmt: skip
        return service.start(timeout=60)

    first = start()
    try:
        index = Index(url=first.url, token=token, retries=0, allow_telemetry=False)
        index.upsert([("keep", "persist me", {"k": 1})], namespace="cache")
    finally:
        first.stop()
    assert snapshot_path.exists()
    second = start()
    try:
        index = Index(url=second.url, token=token, retries=0, allow_telemetry=False)
        fetched = index.fetch("keep", include_metadata=True, include_data=True, namespace="cache")
        assert fetched[0] is not None
        assert (fetched[0].metadata, fetched[0].data) == ({"k": 1}, "persist me")
        assert index.query(data="persist me", top_k=1, namespace="cache")[0].score > 0.99
    finally:
        second.stop()
