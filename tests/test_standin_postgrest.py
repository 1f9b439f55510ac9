"""Contract tests: the official postgrest-py client against our PostgREST stand-in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from postgrest import APIError, AsyncPostgrestClient, SyncPostgrestClient
from postgrest.constants import DEFAULT_POSTGREST_CLIENT_HEADERS
from postgrest.utils import sanitize_param

from infra.local import jwt
from infra.local.postgrest_query import parse_list, parse_order, parse_query, parse_select
from infra.local.proc import free_port, python_module


def auth_headers(key: str) -> dict[str, str]:
    return {**DEFAULT_POSTGREST_CLIENT_HEADERS, "apikey": key, "Authorization": f"Bearer {key}"}


@asynccontextmanager
async def rest(postgrest: Any, key: str | None = None) -> AsyncIterator[AsyncPostgrestClient]:
    client = AsyncPostgrestClient(
        postgrest.rest_url, headers=auth_headers(key or postgrest.service_key)
    )
    async with client:
        yield client


async def new_project(db: AsyncPostgrestClient) -> tuple[str, str]:
    org = (await db.table("organisations").insert({"name": "org"}).execute()).data[0]["id"]
    project = (await db.table("projects").insert({"org_id": org, "name": "p"}).execute()).data[0][
        "id"
    ]
    return org, project


def usage_row(org: str, project: str, **overrides: Any) -> dict[str, Any]:
    row = {
        "request_id": f"req_{uuid.uuid4().hex}",
        "org_id": org,
        "project_id": project,
        "task_type": "simple",
        "model_used": "gpt-4o-mini",
        "provider": "openai",
        "tokens_in": 10,
        "tokens_out": 20,
        "cost_total_cents": "0.125",
    }
    return {**row, **overrides}


async def count_rows(db: AsyncPostgrestClient, table: str, column: str, value: str) -> int:
    result = await db.table(table).select("*", count="exact").eq(column, value).execute()
    return int(result.count or 0)


# --- inserts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bulk", [False, True], ids=["single", "bulk"])
@pytest.mark.parametrize("returning", ["minimal", "representation"])
async def test_insert_returns_what_prefer_asks(postgrest: Any, bulk: bool, returning: str) -> None:
    async with rest(postgrest) as db:
        org, project = await new_project(db)
        rows = [usage_row(org, project) for _ in range(3 if bulk else 1)]
        result = (
            await db.table("usage_logs")
            .insert(rows if bulk else rows[0], returning=returning)
            .execute()
        )
        if returning == "minimal":
            assert result.data == []
        else:
            assert [r["request_id"] for r in result.data] == [r["request_id"] for r in rows]
            assert result.data[0]["mode"] == "balanced"  # column default filled in
            assert (
                result.data[0]["cost_total_cents"] == 0.125
            )  # numeric comes back as a JSON number
        assert await count_rows(db, "usage_logs", "project_id", project) == len(rows)


async def test_upsert_ignore_duplicates_keeps_one_row(postgrest: Any) -> None:
    async with rest(postgrest) as db:
        org, project = await new_project(db)
        row = usage_row(org, project)
        for _ in range(2):
            await (
                db.table("usage_logs")
                .upsert(row, on_conflict="request_id", ignore_duplicates=True, returning="minimal")
                .execute()
            )
        assert await count_rows(db, "usage_logs", "request_id", row["request_id"]) == 1


async def test_upsert_merge_duplicates_updates_the_row(postgrest: Any) -> None:
    async with rest(postgrest) as db:
        org, project = await new_project(db)
        row = usage_row(org, project)
        await db.table("usage_logs").insert(row).execute()
        result = (
            await db.table("usage_logs")
            .upsert({**row, "tokens_out": 99}, on_conflict="request_id")
            .execute()
        )
        assert [r["tokens_out"] for r in result.data] == [99]
        assert await count_rows(db, "usage_logs", "request_id", row["request_id"]) == 1


async def test_bulk_insert_missing_default_fills_column_defaults(postgrest: Any) -> None:
    async with rest(postgrest) as db:
        org, project = await new_project(db)
        rows = [usage_row(org, project, mode="fast"), usage_row(org, project)]
        result = await db.table("usage_logs").insert(rows, default_to_null=False).execute()
        assert [r["mode"] for r in result.data] == ["fast", "balanced"]


async def test_bulk_insert_without_default_sends_null_for_missing_keys(postgrest: Any) -> None:
    async with rest(postgrest) as db:
        org, project = await new_project(db)
        rows = [usage_row(org, project, mode="fast"), usage_row(org, project)]
        with pytest.raises(APIError) as err:
            await db.table("usage_logs").insert(rows).execute()
        assert (
            err.value.code == "23502"
        )  # mode is NOT NULL; PostgREST's default is null, not DEFAULT


async def test_bulk_insert_with_mismatched_keys_and_no_columns_is_rejected(postgrest: Any) -> None:
    async with rest(postgrest) as db:
        org, project = await new_project(db)
    body = [usage_row(org, project), {**usage_row(org, project), "mode": "fast"}]
    async with httpx.AsyncClient(base_url=postgrest.rest_url, headers=postgrest.headers()) as http:
        response = await http.post("/usage_logs", json=body)
    assert (response.status_code, response.json()["code"]) == (400, "PGRST102")


# --- reads ---------------------------------------------------------------------------------------

Builder = Callable[[Any], Any]
FILTER_CASES: list[tuple[str, Builder, list[int]]] = [
    ("eq", lambda q: q.eq("tokens_in", 3), [3]),
    ("neq", lambda q: q.neq("tokens_in", 3), [0, 1, 2, 4, 5]),
    ("gte", lambda q: q.gte("tokens_in", 4), [4, 5]),
    ("lt", lambda q: q.lt("tokens_in", 2), [0, 1]),
    ("gte_and_lt", lambda q: q.gte("tokens_in", 1).lt("tokens_in", 3), [1, 2]),
    ("in", lambda q: q.in_("tokens_in", [1, 4, 9]), [1, 4]),
    ("in_quoted", lambda q: q.in_("session_id", ["s,1", "s(3)"]), [1, 3]),
    ("is_null", lambda q: q.is_("session_id", None), [0, 2, 4]),
    ("not_is_null", lambda q: q.not_.is_("session_id", None), [1, 3, 5]),
    ("like", lambda q: q.like("model_used", "model-1*"), [1]),
    ("ilike", lambda q: q.ilike("model_used", "MODEL-%"), [0, 1, 2, 3, 4, 5]),
    ("json_path", lambda q: q.eq("request_tags->>feature", "even"), [0, 2, 4]),
    ("or", lambda q: q.or_("tokens_in.eq.0,tokens_in.eq.5"), [0, 5]),
    ("cost_numeric", lambda q: q.gt("cost_total_cents", "0.25"), [3, 4, 5]),
]


async def seed_six(db: AsyncPostgrestClient) -> str:
    org, project = await new_project(db)
    sessions = {1: "s,1", 3: "s(3)", 5: "s5"}
    rows = [
        usage_row(
            org,
            project,
            tokens_in=i,
            model_used=f"model-{i}",
            session_id=sessions.get(i),
            cost_total_cents=f"{i / 10:.1f}",
            request_tags={"feature": "odd" if i % 2 else "even"},
        )
        for i in range(6)
    ]
    await db.table("usage_logs").insert(rows, returning="minimal").execute()
    return project


@pytest.mark.parametrize(
    ("name", "build", "expected"), FILTER_CASES, ids=[c[0] for c in FILTER_CASES]
)
async def test_select_filters(
    postgrest: Any, name: str, build: Builder, expected: list[int]
) -> None:
    async with rest(postgrest) as db:
        project = await seed_six(db)
        query = db.table("usage_logs").select("tokens_in").eq("project_id", project)
        result = await build(query).order("tokens_in").execute()
        assert [r["tokens_in"] for r in result.data] == expected


async def test_select_columns_order_limit_and_count(postgrest: Any) -> None:
    async with rest(postgrest) as db:
        project = await seed_six(db)
        result = await (
            db.table("usage_logs")
            .select("tokens_in, feature:request_tags->>feature", count="exact")
            .eq("project_id", project)
            .order("tokens_in", desc=True)
            .limit(2)
            .execute()
        )
        assert result.data == [
            {"tokens_in": 5, "feature": "odd"},
            {"tokens_in": 4, "feature": "even"},
        ]
        assert result.count == 6


async def test_content_range_reports_the_page_and_total(postgrest: Any) -> None:
    async with rest(postgrest) as db:
        project = await seed_six(db)
    headers = {**postgrest.headers(), "Prefer": "count=exact"}
    async with httpx.AsyncClient(base_url=postgrest.rest_url, headers=headers) as http:
        page = await http.get(
            "/usage_logs", params={"project_id": f"eq.{project}", "limit": 2, "offset": 2}
        )
        whole = await http.get("/usage_logs", params={"project_id": f"eq.{project}"})
    assert (page.status_code, page.headers["content-range"]) == (206, "2-3/6")
    assert (whole.status_code, whole.headers["content-range"]) == (200, "0-5/6")


async def test_single_object_needs_exactly_one_row(postgrest: Any) -> None:
    async with rest(postgrest) as db:
        org, project = await new_project(db)
        one = await db.table("projects").select("id, org_id").eq("id", project).single().execute()
        assert one.data == {"id": project, "org_id": org}
        with pytest.raises(APIError) as err:
            await db.table("projects").select("id").eq("id", str(uuid.uuid4())).single().execute()
        assert err.value.code == "PGRST116"


async def test_update_and_delete_return_the_rows_they_touched(postgrest: Any) -> None:
    async with rest(postgrest) as db:
        org, project = await new_project(db)
        row = usage_row(org, project)
        await db.table("usage_logs").insert(row).execute()
        updated = (
            await db.table("usage_logs")
            .update({"success": False, "error_code": "timeout"})
            .eq("request_id", row["request_id"])
            .execute()
        )
        assert [(r["success"], r["error_code"]) for r in updated.data] == [(False, "timeout")]
        deleted = (
            await db.table("usage_logs").delete().eq("request_id", row["request_id"]).execute()
        )
        assert [r["request_id"] for r in deleted.data] == [row["request_id"]]
        assert await count_rows(db, "usage_logs", "request_id", row["request_id"]) == 0


def test_sync_client_inserts_and_reads(postgrest: Any) -> None:
    with SyncPostgrestClient(postgrest.rest_url, headers=auth_headers(postgrest.service_key)) as db:
        org = db.table("organisations").insert({"name": "sync"}).execute().data[0]["id"]
        result = db.table("organisations").select("name").eq("id", org).execute()
        assert result.data == [{"name": "sync"}]


# --- rpc -----------------------------------------------------------------------------------------


async def test_rpc_resolve_api_key_finds_live_keys_only(postgrest: Any) -> None:
    async with rest(postgrest) as db:
        org, project = await new_project(db)
        key_hash = uuid.uuid4().hex * 2
        key = (
            await db.table("api_keys")
            .insert({"project_id": project, "key_hash": key_hash, "prefix": "pk_live_abcd"})
            .execute()
        )
        key_id = key.data[0]["id"]
        found = await db.rpc("resolve_api_key", {"p_key_hash": key_hash}).execute()
        assert found.data == [{"api_key_id": key_id, "project_id": project, "org_id": org}]
        revoked = datetime.now(UTC).isoformat()
        await db.table("api_keys").update({"revoked_at": revoked}).eq("id", key_id).execute()
        gone = await db.rpc("resolve_api_key", {"p_key_hash": key_hash}).execute()
        assert gone.data == []


RPC_FUNCTIONS = """
CREATE FUNCTION public.test_rpc_add(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql
    AS 'SELECT a + b';
CREATE FUNCTION public.test_rpc_series(n int) RETURNS SETOF int LANGUAGE sql
    AS 'SELECT generate_series(1, n)';
CREATE FUNCTION public.test_rpc_noop() RETURNS void LANGUAGE sql AS 'SELECT';
CREATE FUNCTION public.test_rpc_join(tags jsonb, parts text[]) RETURNS text LANGUAGE sql
    AS $$ SELECT (tags ->> 'k') || ':' || array_to_string(parts, '+') $$;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO service_role;
"""

RPC_CASES: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    ("scalar", "POST", "test_rpc_add", {"a": 2, "b": 5}, 200, "7"),
    ("default_argument", "POST", "test_rpc_add", {"a": 2}, 200, "3"),
    ("get_with_query_args", "GET", "test_rpc_add", {"a": "4"}, 200, "5"),
    ("set_returning", "POST", "test_rpc_series", {"n": 3}, 200, "[1, 2, 3]"),
    ("void", "POST", "test_rpc_noop", {}, 204, ""),
    (
        "json_and_array_args",
        "POST",
        "test_rpc_join",
        {"tags": {"k": "v"}, "parts": ["a", "b"]},
        200,
        '"v:a+b"',
    ),
    ("missing_required_arg", "POST", "test_rpc_add", {"b": 1}, 404, ""),
]


@pytest.fixture
async def rpc_functions(pg_conn: Any) -> AsyncIterator[None]:
    await pg_conn.execute(RPC_FUNCTIONS)
    try:
        yield
    finally:
        await pg_conn.execute(
            "DROP FUNCTION public.test_rpc_add, public.test_rpc_series, public.test_rpc_noop,"
            " public.test_rpc_join"
        )


@pytest.mark.parametrize(
    ("name", "method", "function", "args", "status", "body"),
    RPC_CASES,
    ids=[c[0] for c in RPC_CASES],
)
async def test_rpc_calls_functions_by_named_arguments(
    postgrest: Any,
    rpc_functions: None,
    name: str,
    method: str,
    function: str,
    args: dict[str, Any],
    status: int,
    body: str,
) -> None:
    async with httpx.AsyncClient(base_url=postgrest.rest_url, headers=postgrest.headers()) as http:
        if method == "GET":
            response = await http.get(f"/rpc/{function}", params=args)
        else:
            response = await http.post(f"/rpc/{function}", json=args)
    assert response.status_code == status, response.text
    if status == 404:
        assert response.json()["code"] == "PGRST202"
    else:
        assert response.text == body


# --- errors --------------------------------------------------------------------------------------


async def test_client_sees_postgrest_error_codes(postgrest: Any) -> None:
    async with rest(postgrest) as db:
        org, project = await new_project(db)
        row = usage_row(org, project)
        await db.table("usage_logs").insert(row).execute()
        attempts: list[tuple[str, Any]] = [
            ("23505", db.table("usage_logs").insert(row)),
            (
                "23502",
                db.table("usage_logs").insert({**usage_row(org, project), "task_type": None}),
            ),
            ("23514", db.table("usage_logs").insert(usage_row(org, project, tokens_in=-1))),
            ("22P02", db.table("projects").select("id").eq("id", "not-a-uuid")),
            ("PGRST205", db.table("no_such_table").select("*")),
            ("PGRST204", db.table("usage_logs").insert({**usage_row(org, project), "nope": 1})),
            ("42703", db.table("usage_logs").select("nope")),
            ("PGRST202", db.rpc("no_such_function", {})),
        ]
        for code, request in attempts:
            with pytest.raises(APIError) as err:
                await request.execute()
            assert err.value.code == code, err.value.message


async def test_bad_apikey_is_an_api_error(postgrest: Any) -> None:
    async with rest(postgrest, key=jwt.encode({"role": "service_role"}, "another-secret")) as db:
        with pytest.raises(APIError) as err:
            await db.table("projects").select("*").execute()
    assert err.value.message == "Invalid API key"


def _expired(postgrest: Any) -> str:
    return jwt.encode({"role": "service_role", "exp": 1}, postgrest.jwt_secret)


HTTP_ERROR_CASES: list[
    tuple[str, str, str, Callable[[Any], dict[str, str]], Any, int, str | None]
] = [
    ("no_apikey", "GET", "/projects", lambda p: {}, None, 401, None),
    ("bad_apikey", "GET", "/projects", lambda p: {"apikey": "garbage"}, None, 401, None),
    (
        "bad_jwt",
        "GET",
        "/projects",
        lambda p: {"apikey": p.anon_key, "Authorization": "Bearer a.b.c"},
        None,
        401,
        "PGRST301",
    ),
    (
        "expired_jwt",
        "GET",
        "/projects",
        lambda p: {"apikey": p.anon_key, "Authorization": f"Bearer {_expired(p)}"},
        None,
        401,
        "PGRST303",
    ),
    ("anon_denied", "GET", "/projects", lambda p: p.headers(p.anon_key), None, 401, "42501"),
    ("unknown_table", "GET", "/nope", lambda p: p.headers(), None, 404, "PGRST205"),
    ("malformed_json", "POST", "/projects", lambda p: p.headers(), b"{not json", 400, "PGRST102"),
    ("unknown_operator", "GET", "/projects?id=zz.1", lambda p: p.headers(), None, 400, "PGRST100"),
    ("bad_limit", "GET", "/projects?limit=-1", lambda p: p.headers(), None, 400, "PGRST100"),
    (
        "other_schema",
        "GET",
        "/projects",
        lambda p: {**p.headers(), "Accept-Profile": "auth"},
        None,
        406,
        "PGRST106",
    ),
    (
        "fk_violation",
        "POST",
        "/projects",
        lambda p: p.headers(),
        b'{"org_id":"00000000-0000-0000-0000-000000000000","name":"x"}',
        409,
        "23503",
    ),
    (
        "check_violation",
        "POST",
        "/feedback",
        lambda p: p.headers(),
        b'{"project_id":"00000000-0000-0000-0000-000000000000","request_id":"r","rating":5}',
        400,
        "23514",
    ),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "headers", "body", "status", "code"),
    HTTP_ERROR_CASES,
    ids=[c[0] for c in HTTP_ERROR_CASES],
)
async def test_error_statuses(
    postgrest: Any,
    name: str,
    method: str,
    path: str,
    headers: Callable[[Any], dict[str, str]],
    body: bytes | None,
    status: int,
    code: str | None,
) -> None:
    async with httpx.AsyncClient(base_url=postgrest.rest_url) as http:
        response = await http.request(method, path, headers=headers(postgrest), content=body)
    payload = response.json()
    assert response.status_code == status, payload
    assert set(payload) >= {"code", "details", "hint", "message"}
    assert payload["code"] == code


INJECTION_CASES = [
    ("column", "/projects", {'id";drop table public.usage_logs;--': "eq.1"}, 400),
    ("select", "/projects", {"select": 'id,"x""; drop table public.usage_logs; --"'}, 400),
    ("order", "/projects", {"order": "id;drop table public.usage_logs"}, 400),
    ("cast", "/projects", {"select": "id::text;drop table public.usage_logs"}, 400),
    ("value", "/projects", {"name": "eq.x'); drop table public.usage_logs; --"}, 200),
    ("in_value", "/projects", {"name": 'in.("a\'),(b",c)'}, 200),
    (
        "json_key",
        "/usage_logs",
        {"request_tags->>a'b); drop table public.usage_logs; --": "eq.1"},
        200,
    ),
    ("table", '/projects";drop table public.usage_logs;--', {}, 404),
]


@pytest.mark.parametrize(
    ("name", "path", "params", "status"), INJECTION_CASES, ids=[c[0] for c in INJECTION_CASES]
)
async def test_names_and_values_cannot_inject_sql(
    postgrest: Any, pg_conn: Any, name: str, path: str, params: dict[str, str], status: int
) -> None:
    async with httpx.AsyncClient(base_url=postgrest.rest_url, headers=postgrest.headers()) as http:
        response = await http.get(path, params=params)
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json() == []
    assert await pg_conn.fetchval("SELECT to_regclass('public.usage_logs') IS NOT NULL")


# --- row-level security --------------------------------------------------------------------------


async def test_project_key_reads_only_its_project_and_cannot_write(postgrest: Any) -> None:
    async with rest(postgrest) as service:
        org_a, project_a = await new_project(service)
        org_b, project_b = await new_project(service)
        rows = [usage_row(org_a, project_a), usage_row(org_b, project_b)]
        await service.table("usage_logs").insert(rows).execute()
        both = (
            await service.table("usage_logs")
            .select("project_id")
            .in_("project_id", [project_a, project_b])
            .execute()
        )
        assert sorted(r["project_id"] for r in both.data) == sorted([project_a, project_b])

    async with rest(postgrest, key=postgrest.project_key(project_a)) as tenant:
        seen = await tenant.table("usage_logs").select("project_id").execute()
        assert {r["project_id"] for r in seen.data} == {project_a}
        projects = await tenant.table("projects").select("id").execute()
        assert [p["id"] for p in projects.data] == [project_a]
        with pytest.raises(APIError) as err:
            await tenant.table("usage_logs").insert(usage_row(org_a, project_a)).execute()
        assert err.value.code == "42501"

    async with httpx.AsyncClient(
        base_url=postgrest.rest_url, headers=postgrest.headers(postgrest.project_key(project_a))
    ) as http:
        denied = await http.post("/usage_logs", json=usage_row(org_a, project_a))
    assert denied.status_code == 403


# --- outages -------------------------------------------------------------------------------------


async def test_answers_503_while_postgres_is_down_and_recovers(postgrest: Any, pg: Any) -> None:
    late = python_module(
        "postgrest-late",
        "infra.local.postgrest",
        free_port(),
        "--dsn",
        pg.dsn,
        f"--jwt-secret={postgrest.jwt_secret}",
    )
    try:
        async with httpx.AsyncClient(headers=postgrest.headers()) as http:
            async with pg.outage():
                late.start()  # starts fine with the database down
                for base in (postgrest.url, late.url):
                    down = await http.get(f"{base}/rest/v1/projects?limit=1")
                    assert (down.status_code, down.json()["code"]) == (503, "PGRST000")
            for base in (postgrest.url, late.url):
                up = await http.get(f"{base}/rest/v1/projects?limit=1")
                assert up.status_code == 200, up.text
    finally:
        late.stop()


# --- pure parsing --------------------------------------------------------------------------------


@given(st.lists(st.text(min_size=1), min_size=1, max_size=6))
def test_in_lists_round_trip_the_clients_quoting(values: list[str]) -> None:
    wire = "(" + ",".join(sanitize_param(v) for v in values) + ")"
    assert list(parse_list(wire)) == values


@given(
    st.dictionaries(st.text(), st.one_of(st.text(), st.integers(), st.booleans(), st.none())),
    st.text(min_size=1),
)
def test_jwt_round_trips_and_rejects_other_secrets(claims: dict[str, Any], secret: str) -> None:
    claims = {k: v for k, v in claims.items() if k not in ("exp", "nbf")}
    token = jwt.encode(claims, secret)
    assert jwt.decode(token, secret) == claims
    with pytest.raises(jwt.BadSignature):
        jwt.decode(token, secret + "x")


@pytest.mark.parametrize(
    ("token", "error"),
    [
        ("", jwt.MalformedToken),
        ("a.b", jwt.MalformedToken),
        ("!!.??.##", jwt.MalformedToken),
        (jwt.encode({"exp": 1}, "s"), jwt.TokenExpired),
        (jwt.encode({}, "s")[:-2] + "AA", jwt.BadSignature),
    ],
)
def test_jwt_rejects_bad_tokens(token: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        jwt.decode(token, "s")


def test_jwt_refuses_alg_none() -> None:
    header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"  # {"alg":"none","typ":"JWT"}
    payload = jwt.encode({"role": "service_role"}, "s").split(".")[1]
    with pytest.raises(jwt.MalformedToken):
        jwt.decode(f"{header}.{payload}.x", "s")


def test_parser_reads_postgrest_grammar() -> None:
    query = parse_query(
        [
            ("select", "id,feature:request_tags->>feature,cost::text"),
            ("order", "created_at.desc.nullslast,id"),
            ("tokens_in", 'not.in.(1,"2,3")'),
            ("or", "(a.eq.1,and(b.gt.2,c.is.null))"),
            ("limit", "5"),
        ]
    )
    assert [i.alias or (i.path.output_name if i.path else "*") for i in query.select] == [
        "id",
        "feature",
        "cost",
    ]
    assert query.select[2].cast == "text"
    assert [(t.path.column, t.descending, t.nulls) for t in query.order] == [
        ("created_at", True, "last"),
        ("id", False, None),
    ]
    first = query.where.items[0]
    assert (first.op, first.value, first.negate) == ("in", ("1", "2,3"), True)  # type: ignore[union-attr]
    assert query.limit == 5
    assert parse_order("a->b.asc")[0].path.steps == (("->", "b"),)
    assert parse_select("*")[0].path is None
