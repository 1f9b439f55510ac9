"""Compile parsed PostgREST requests into parameterised SQL.

Identifiers are checked against the schema cache and then quoted; every request-supplied value
(filter values, JSON keys, bodies, limits) is a bind parameter cast from text. Postgres renders
the JSON itself (json_agg), so numbers, timestamps and uuids come out exactly as PostgREST's do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.local.postgrest_errors import bad_request, column_not_found, undefined_column
from infra.local.postgrest_query import ColumnPath, Condition, Logic, OrderTerm, Query, SelectItem
from infra.local.postgrest_schema import Function, Table

COMPARISONS = {
    "eq": "=",
    "neq": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "cs": "@>",
    "cd": "<@",
    "ov": "&&",
    "isdistinct": "IS DISTINCT FROM",
}
PATTERNS = {"like": "LIKE", "ilike": "ILIKE", "match": "~", "imatch": "~*"}
IS_SQL = {
    "null": "IS NULL",
    "not_null": "IS NOT NULL",
    "true": "IS TRUE",
    "false": "IS FALSE",
    "unknown": "IS UNKNOWN",
}
# One row of output: how many rows, all of them as a JSON array, and the first one on its own
# (for Accept: application/vnd.pgrst.object+json).
RESULT_COLUMNS = (
    "count(*)::bigint AS n, coalesce(json_agg(_r), '[]'::json)::text AS body,"
    " (json_agg(_r) -> 0)::text AS first"
)


def quote_ident(name: str) -> str:
    if "\x00" in name:
        raise bad_request("identifiers cannot contain NUL")
    return '"' + name.replace('"', '""') + '"'


def target(table: Table) -> str:
    return f"public.{quote_ident(table.name)}"


@dataclass
class Sql:
    """Bind parameters collected while compiling one statement."""

    params: list[Any] = field(default_factory=list)

    def param(self, value: Any, cast: str) -> str:
        self.params.append(value)
        return f"${len(self.params)}::{cast}"


def path_sql(sql: Sql, table: Table, path: ColumnPath) -> tuple[str, str]:
    """The SQL expression for a column (with JSON steps) and the SQL type it evaluates to."""
    if path.column not in table.columns:
        raise undefined_column(table.name, path.column)
    expr, typ = quote_ident(path.column), table.columns[path.column]
    for arrow, key in path.steps:
        is_index = key.lstrip("-").isdigit()
        key_sql = sql.param(int(key) if is_index else key, "int" if is_index else "text")
        expr = f"({expr} {arrow} {key_sql})"
        typ = "text" if arrow == "->>" else typ
    return expr, typ


def condition_sql(sql: Sql, table: Table, cond: Condition) -> str:
    expr, typ = path_sql(sql, table, cond.path)
    if cond.op == "in":
        text = f"{expr} = ANY(CAST({sql.param(list(cond.value), 'text[]')} AS {typ}[]))"
    elif cond.op == "is":
        text = f"{expr} {IS_SQL[str(cond.value).lower()]}"
    elif cond.op in PATTERNS:
        # PostgREST lets clients write * for % so patterns survive URL encoding untouched.
        pattern = str(cond.value).replace("*", "%") if cond.op in ("like", "ilike") else cond.value
        text = f"{expr}::text {PATTERNS[cond.op]} {sql.param(pattern, 'text')}"
    else:
        text = f"{expr} {COMPARISONS[cond.op]} CAST({sql.param(cond.value, 'text')} AS {typ})"
    return f"NOT ({text})" if cond.negate else text


def logic_sql(sql: Sql, table: Table, logic: Logic) -> str:
    if not logic.items:
        return "NOT TRUE" if logic.negate else "TRUE"
    parts = [
        logic_sql(sql, table, item) if isinstance(item, Logic) else condition_sql(sql, table, item)
        for item in logic.items
    ]
    text = "(" + f" {logic.conjunction.upper()} ".join(parts) + ")"
    return f"NOT {text}" if logic.negate else text


def select_sql(sql: Sql, table: Table, items: tuple[SelectItem, ...]) -> str:
    columns: list[str] = []
    for item in items:
        if item.path is None:
            columns.append("*")
            continue
        expr, _ = path_sql(sql, table, item.path)
        if item.cast:
            expr = f"CAST({expr} AS {item.cast})"
        columns.append(f"{expr} AS {quote_ident(item.alias or item.path.output_name)}")
    return ", ".join(columns)


def order_sql(sql: Sql, table: Table, terms: tuple[OrderTerm, ...]) -> str:
    parts = []
    for term in terms:
        expr, _ = path_sql(sql, table, term.path)
        nulls = f" NULLS {term.nulls.upper()}" if term.nulls else ""
        parts.append(f"{expr} {'DESC' if term.descending else 'ASC'}{nulls}")
    return " ORDER BY " + ", ".join(parts) if parts else ""


def read_sql(table: Table, query: Query, with_total: bool) -> tuple[str, list[Any]]:
    """One statement: the page of rows as JSON plus, if asked, the unpaginated total."""
    sql = Sql()
    columns = select_sql(sql, table, query.select)
    where = logic_sql(sql, table, query.where)
    inner = (
        f"SELECT {columns} FROM {target(table)} WHERE {where}{order_sql(sql, table, query.order)}"
    )
    if query.limit is not None:
        inner += f" LIMIT {sql.param(query.limit, 'bigint')}"
    if query.offset:
        inner += f" OFFSET {sql.param(query.offset, 'bigint')}"
    # The total reuses the WHERE text, hence the same placeholders and values.
    total = (
        f"(SELECT count(*) FROM {target(table)} WHERE {where})" if with_total else "NULL::bigint"
    )
    return f"SELECT {RESULT_COLUMNS}, {total} AS total FROM ({inner}) AS _r", sql.params


def _with_result(
    sql: Sql, table: Table, statement: str, select: tuple[SelectItem, ...] | None
) -> str:
    if select is None:
        return statement
    columns = select_sql(sql, table, select)
    return (
        f"WITH _w AS ({statement} RETURNING {target(table)}.*) "
        f"SELECT {RESULT_COLUMNS} FROM (SELECT {columns} FROM _w) AS _r"
    )


def check_columns(table: Table, columns: list[str] | tuple[str, ...]) -> None:
    for column in columns:
        if column not in table.columns:
            raise column_not_found(table.name, column)


def conflict_sql(table: Table, query: Query, resolution: str | None, columns: list[str]) -> str:
    if resolution is None:
        return ""
    keys = query.on_conflict or table.primary_key
    if not keys:
        raise bad_request(f"table {table.name} has no primary key; pass on_conflict")
    check_columns(table, keys)
    key_list = ", ".join(quote_ident(k) for k in keys)
    updates = [c for c in columns if c not in keys] or columns
    if resolution == "ignore-duplicates" or not updates:
        return f" ON CONFLICT ({key_list}) DO NOTHING"
    assignments = ", ".join(f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}" for c in updates)
    return f" ON CONFLICT ({key_list}) DO UPDATE SET {assignments}"


def rows_sql(sql: Sql, table: Table, body: str, span: tuple[int, int] | None) -> str:
    """The request's rows as a recordset of the table's row type; span picks rows first..last.

    The client's JSON text goes to Postgres untouched, so numbers keep every digit they were sent
    with. Span indexes are 1-based, like WITH ORDINALITY.
    """
    rows = sql.param(body, "json")
    if span is not None:
        first, last = sql.param(span[0], "bigint"), sql.param(span[1], "bigint")
        rows = (
            f"(SELECT json_agg(_e ORDER BY _i)"
            f" FROM json_array_elements({rows}) WITH ORDINALITY AS _x(_e, _i)"
            f" WHERE _i BETWEEN {first} AND {last})"
        )
    return f"json_populate_recordset(NULL::{target(table)}, {rows})"


def insert_sql(
    table: Table,
    query: Query,
    columns: list[str],
    body: str,
    span: tuple[int, int] | None,
    resolution: str | None,
    select: tuple[SelectItem, ...] | None,
) -> tuple[str, list[Any]]:
    """Insert the rows of a JSON array, writing only `columns`; the others take their defaults."""
    check_columns(table, columns)
    sql = Sql()
    if columns:
        names = ", ".join(quote_ident(c) for c in columns)
        source = f"({names}) SELECT {names} FROM {rows_sql(sql, table, body, span)}"
    else:
        source = "DEFAULT VALUES"
    statement = (
        f"INSERT INTO {target(table)} {source}{conflict_sql(table, query, resolution, columns)}"
    )
    return _with_result(sql, table, statement, select), sql.params


def update_sql(
    table: Table, query: Query, columns: list[str], body: str, select: tuple[SelectItem, ...] | None
) -> tuple[str, list[Any]]:
    """Set `columns` from a JSON object on every row the filters match."""
    check_columns(table, columns)
    sql = Sql()
    names = ", ".join(quote_ident(c) for c in columns)
    # A row sub-select keeps the WHERE clause free of a second relation whose names would clash.
    record = f"json_populate_record(NULL::{target(table)}, {sql.param(body, 'json')})"
    source = f"(SELECT {names} FROM {record})"
    assign = f"{names} = {source}" if len(columns) == 1 else f"({names}) = {source}"
    statement = f"UPDATE {target(table)} SET {assign} WHERE {logic_sql(sql, table, query.where)}"
    return _with_result(sql, table, statement, select), sql.params


def delete_sql(
    table: Table, query: Query, select: tuple[SelectItem, ...] | None
) -> tuple[str, list[Any]]:
    sql = Sql()
    statement = f"DELETE FROM {target(table)} WHERE {logic_sql(sql, table, query.where)}"
    return _with_result(sql, table, statement, select), sql.params


def _argument_sql(sql: Sql, body: str, name: str, typ: str) -> str:
    key = sql.param(name, "text")
    if typ in ("json", "jsonb"):
        return f"CAST({body} -> {key} AS {typ})"
    if typ.endswith("[]"):
        return f"CAST(ARRAY(SELECT jsonb_array_elements_text({body} -> {key})) AS {typ})"
    return f"CAST({body} ->> {key} AS {typ})"


def rpc_sql(fn: Function, args: set[str], body_json: str) -> tuple[str, list[Any]]:
    """Call fn with the named arguments `args`, read from a JSON object; the result is JSON text."""
    sql = Sql()
    # Only bind the body when an argument reads it: asyncpg rejects unused parameters.
    body = sql.param(body_json, "jsonb") if args else ""
    named = [
        f"{quote_ident(a.name)} => {_argument_sql(sql, body, a.name, a.type)}"
        for a in fn.args
        if a.name in args
    ]
    call = f"public.{quote_ident(fn.name)}({', '.join(named)})"
    if fn.returns_void:
        return f"SELECT {call}", sql.params
    if fn.returns_set:
        return f"SELECT coalesce(json_agg(_r), '[]'::json)::text FROM {call} AS _r", sql.params
    return f"SELECT to_json(_r)::text FROM {call} AS _r", sql.params
