"""The stand-in's endpoints: read, insert/upsert, update and delete on tables, and RPC calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from infra.local.postgrest_auth import Caller
from infra.local.postgrest_db import Database
from infra.local.postgrest_errors import PgrstError, bad_request, not_single_object
from infra.local.postgrest_query import RESERVED_KEYS, Prefer, Query, parse_prefer, parse_query
from infra.local.postgrest_schema import SchemaCache, Table
from infra.local.postgrest_sql import delete_sql, insert_sql, read_sql, rpc_sql, update_sql

ARRAY_TYPES = frozenset(
    {"application/json", "application/vnd.pgrst.array+json", "application/*", "*/*"}
)
OBJECT_TYPES = frozenset({"application/vnd.pgrst.object+json", "application/vnd.pgrst.object"})
JSON_TYPE = "application/json; charset=utf-8"
OBJECT_TYPE = "application/vnd.pgrst.object+json; charset=utf-8"


@dataclass(frozen=True)
class Result:
    """What a statement returned: row count, rows as a JSON array, the first row, and a total."""

    n: int
    body: str
    first: str | None = None
    total: int | None = None


def request_transaction(db: Database, caller: Caller, request: Request) -> Any:
    """The request's transaction, set up as PostgREST sets one up (role, claims, headers)."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    return db.transaction(caller.role, caller.claims, request.method, request.url.path, headers)


def wants_object(accept: str | None) -> bool:
    for media in (accept or "*/*").split(","):
        kind = media.split(";")[0].strip().lower()
        if kind in OBJECT_TYPES:
            return True
        if kind in ARRAY_TYPES:
            return False
    raise PgrstError(406, "PGRST107", f"None of these media types are available: {accept}")


def check_profile(request: Request) -> None:
    header = "accept-profile" if request.method in ("GET", "HEAD") else "content-profile"
    profile = request.headers.get(header)
    if profile is not None and profile != "public":
        raise PgrstError(406, "PGRST106", "The schema must be one of the following: public")


async def read_json(request: Request) -> tuple[str, Any]:
    """The body's text, untouched, and its parse (floats as Decimal: only its shape is used)."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
        return text, json.loads(text, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request("Empty or invalid json", str(exc), code="PGRST102") from None


def respond(
    result: Result, single: bool, status: int, headers: dict[str, str], head: bool = False
) -> Response:
    body = result.body
    if single:
        if result.n != 1:
            raise not_single_object(result.n)
        body = result.first or "null"
    return Response(
        b"" if head else body.encode("utf-8"),
        status_code=status,
        headers=headers,
        media_type=OBJECT_TYPE if single else JSON_TYPE,
    )


def content_range(n: int, start: int, total: int | None) -> str:
    shown = "*" if total is None else str(total)
    return f"{start}-{start + n - 1}/{shown}" if n else f"*/{shown}"


def prefer_headers(prefer: Prefer) -> dict[str, str]:
    return {"Preference-Applied": ", ".join(prefer.applied)} if prefer.applied else {}


async def handle_read(
    request: Request, caller: Caller, db: Database, table: Table, query: Query
) -> Response:
    prefer = parse_prefer(request.headers.getlist("prefer"), "minimal")
    single = wants_object(request.headers.get("accept"))
    statement, params = read_sql(table, query, with_total=prefer.count is not None)
    async with request_transaction(db, caller, request) as conn:
        row = await conn.fetchrow(statement, *params)
    result = Result(row["n"], row["body"], row["first"], row["total"])
    start = query.offset or 0
    headers = {
        "Content-Range": content_range(result.n, start, result.total),
        **prefer_headers(prefer),
    }
    partial = result.total is not None and result.n < result.total
    return respond(result, single, 206 if partial else 200, headers, head=request.method == "HEAD")


def plan_runs(
    rows: list[dict[str, Any]], query: Query, missing_default: bool
) -> list[tuple[list[str], tuple[int, int] | None]]:
    """Split rows into consecutive runs that write the same columns; each run is one INSERT.

    Without ?columns every row must carry the same keys (PostgREST's rule). With missing=default a
    row's absent keys must take column defaults, so rows with different keys go in different runs.
    """
    if not rows:
        return []
    if query.columns is None:
        keys = list(rows[0])
        if any(set(row) != set(keys) for row in rows):
            raise bad_request("All object keys must match", code="PGRST102")
        return [(keys, None)]
    if not missing_default:
        return [(list(query.columns), None)]
    runs: list[tuple[list[str], tuple[int, int] | None]] = []
    for index, row in enumerate(rows, start=1):
        present = [c for c in query.columns if c in row]
        if runs and runs[-1][0] == present and runs[-1][1] is not None:
            runs[-1] = (present, (runs[-1][1][0], index))
        else:
            runs.append((present, (index, index)))
    return [(runs[0][0], None)] if len(runs) == 1 else runs


def merge(results: list[Result]) -> Result:
    filled = [r for r in results if r.n]
    body = "[" + ",".join(r.body.strip()[1:-1] for r in filled) + "]"
    return Result(sum(r.n for r in results), body, filled[0].first if filled else None)


def affected(status: str) -> int:
    """Row count from a command tag such as 'INSERT 0 3' or 'UPDATE 2'."""
    return int(status.rsplit(" ", 1)[-1])


async def run_write(
    conn: asyncpg.Connection, statement: str, params: list[Any], representation: bool
) -> Result:
    if representation:
        row = await conn.fetchrow(statement, *params)
        return Result(row["n"], row["body"], row["first"])
    return Result(affected(await conn.execute(statement, *params)), "[]")


def rows_of(text: str, payload: Any) -> tuple[str, list[dict[str, Any]]]:
    """An object or array of objects as (JSON array text, rows)."""
    if isinstance(payload, dict):
        return "[" + text + "]", [payload]
    if isinstance(payload, list) and all(isinstance(row, dict) for row in payload):
        return text, payload
    raise bad_request("Expected a JSON object or an array of objects", code="PGRST102")


async def handle_insert(
    request: Request, caller: Caller, db: Database, table: Table, query: Query
) -> Response:
    prefer = parse_prefer(request.headers.getlist("prefer"), "minimal")
    single = wants_object(request.headers.get("accept"))
    array_text, rows = rows_of(*await read_json(request))
    representation = prefer.return_ == "representation"
    select = query.select if representation else None
    results: list[Result] = []
    async with request_transaction(db, caller, request) as conn:
        for columns, span in plan_runs(rows, query, prefer.missing_default):
            statement, params = insert_sql(
                table, query, columns, array_text, span, prefer.resolution, select
            )
            # DEFAULT VALUES inserts one row per statement: repeat it for each empty object.
            repeat = 1 if columns else (span[1] - span[0] + 1 if span else len(rows))
            for _ in range(repeat):
                results.append(await run_write(conn, statement, params, representation))
        result = merge(results)
        if representation and single and result.n != 1:
            raise not_single_object(result.n)  # raised inside the transaction, so nothing is kept
    total = f"*/{result.n}" if prefer.count else "*/*"
    headers = {"Content-Range": total, **prefer_headers(prefer)}
    if not representation:
        return Response(status_code=201, headers=headers)
    return respond(result, single, 201, headers)


async def handle_change(
    request: Request, caller: Caller, db: Database, table: Table, query: Query
) -> Response:
    """PATCH and DELETE: both act on the rows the filters match."""
    prefer = parse_prefer(request.headers.getlist("prefer"), "minimal")
    single = wants_object(request.headers.get("accept"))
    representation = prefer.return_ == "representation"
    select = query.select if representation else None
    if request.method == "PATCH":
        text, payload = await read_json(request)
        if not isinstance(payload, dict):
            raise bad_request("PATCH expects a JSON object", code="PGRST102")
        columns = [c for c in payload if query.columns is None or c in query.columns]
        if not columns:
            return Response(status_code=204, headers={"Content-Range": "*/*"})
        statement, params = update_sql(table, query, columns, text, select)
    else:
        statement, params = delete_sql(table, query, select)
    async with request_transaction(db, caller, request) as conn:
        result = await run_write(conn, statement, params, representation)
        if single and result.n != 1:
            raise not_single_object(result.n)
    headers = {
        "Content-Range": content_range(result.n, 0, result.n if prefer.count else None),
        **prefer_headers(prefer),
    }
    if not representation:
        return Response(status_code=204, headers=headers)
    return respond(result, single, 200, headers)


async def handle_table(
    request: Request, caller: Caller, db: Database, schema: SchemaCache
) -> Response:
    check_profile(request)
    table = await schema.table(request.path_params["table"])
    query = parse_query(request.query_params.multi_items())
    if request.method in ("GET", "HEAD"):
        return await handle_read(request, caller, db, table, query)
    if request.method == "POST":
        return await handle_insert(request, caller, db, table, query)
    return await handle_change(request, caller, db, table, query)


async def rpc_arguments(request: Request) -> tuple[dict[str, Any], str]:
    if request.method in ("GET", "HEAD"):
        args = {k: v for k, v in request.query_params.items() if k not in RESERVED_KEYS}
        return args, json.dumps(args)
    raw = await request.body()
    if not raw.strip():
        return {}, "{}"
    text, payload = await read_json(request)
    if not isinstance(payload, dict):
        raise bad_request("RPC arguments must be a JSON object", code="PGRST102")
    return payload, text


async def handle_rpc(
    request: Request, caller: Caller, db: Database, schema: SchemaCache
) -> Response:
    check_profile(request)
    name = request.path_params["function"]
    args, body = await rpc_arguments(request)
    candidates = [fn for fn in await schema.functions(name) if fn.accepts(set(args))]
    if not candidates:
        signature = ", ".join(sorted(args))
        raise PgrstError(
            404,
            "PGRST202",
            f"Could not find the function public.{name}({signature}) in the schema cache",
            hint="Check the function name and its named arguments.",
        )
    fn = candidates[0]
    statement, params = rpc_sql(fn, set(args), body)
    async with request_transaction(db, caller, request) as conn:
        value = await conn.fetchval(statement, *params)
    if fn.returns_void:
        return Response(status_code=204)
    return Response(
        b"" if request.method == "HEAD" else (value or "null").encode(), media_type=JSON_TYPE
    )
