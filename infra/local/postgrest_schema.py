"""The stand-in's schema cache: tables, columns, primary keys and functions of schema public.

Like PostgREST, requests are checked against this cache before any SQL is built, so unknown
tables and columns get PostgREST's own error codes and no user-supplied name reaches SQL
unless it names something that exists.
"""

from __future__ import annotations

import asyncio
import difflib
from dataclasses import dataclass
from typing import Protocol

import asyncpg

from infra.local.postgrest_errors import table_not_found

COLUMNS_SQL = """
SELECT c.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS column_type
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
ORDER BY c.relname, a.attnum
"""

PRIMARY_KEYS_SQL = """
SELECT c.relname AS table_name, array_agg(a.attname ORDER BY k.ord) AS columns
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE i.indisprimary AND n.nspname = 'public'
GROUP BY c.relname
"""

FUNCTIONS_SQL = """
SELECT p.proname AS name, p.proargnames AS arg_names, p.proargmodes::text[] AS arg_modes,
       ARRAY(
           SELECT format_type(t, NULL)
           FROM unnest(p.proargtypes) WITH ORDINALITY AS u(t, o) ORDER BY o
       ) AS arg_types,
       p.pronargdefaults AS n_defaults, p.proretset AS returns_set,
       p.prorettype = 'void'::regtype AS returns_void
FROM pg_proc AS p
JOIN pg_namespace AS n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.prokind = 'f' AND p.prorettype <> 'trigger'::regtype
"""


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, str]  # column name -> SQL type as format_type() spells it
    primary_key: tuple[str, ...]


@dataclass(frozen=True)
class Argument:
    name: str
    type: str
    has_default: bool


@dataclass(frozen=True)
class Function:
    name: str
    args: tuple[Argument, ...]
    returns_set: bool
    returns_void: bool

    def accepts(self, given: set[str]) -> bool:
        names = {a.name for a in self.args}
        required = {a.name for a in self.args if not a.has_default}
        return given <= names and required <= given


@dataclass(frozen=True)
class Schema:
    tables: dict[str, Table]
    functions: dict[str, tuple[Function, ...]]


def _function(row: asyncpg.Record) -> Function:
    modes = row["arg_modes"] or ["i"] * len(row["arg_types"])
    names = row["arg_names"] or [""] * len(modes)
    # proargtypes lists only input arguments; OUT/TABLE columns appear in names and modes only.
    input_names = [n for n, m in zip(names, modes, strict=True) if m in ("i", "b", "v")]
    first_default = len(input_names) - row["n_defaults"]
    args = tuple(
        Argument(name, typ, i >= first_default)
        for i, (name, typ) in enumerate(zip(input_names, row["arg_types"], strict=True))
    )
    return Function(row["name"], args, row["returns_set"], row["returns_void"])


async def load_schema(conn: asyncpg.Connection) -> Schema:
    columns: dict[str, dict[str, str]] = {}
    for row in await conn.fetch(COLUMNS_SQL):
        columns.setdefault(row["table_name"], {})[row["column_name"]] = row["column_type"]
    keys = {row["table_name"]: tuple(row["columns"]) for row in await conn.fetch(PRIMARY_KEYS_SQL)}
    tables = {name: Table(name, cols, keys.get(name, ())) for name, cols in columns.items()}
    functions: dict[str, tuple[Function, ...]] = {}
    for row in await conn.fetch(FUNCTIONS_SQL):
        fn = _function(row)
        # Unnamed arguments cannot be called with PostgREST's named-argument JSON bodies.
        if all(a.name for a in fn.args):
            functions[fn.name] = functions.get(fn.name, ()) + (fn,)
    return Schema(tables, functions)


class Connector(Protocol):
    async def load_schema(self) -> Schema: ...


class SchemaCache:
    """Loaded lazily and reloaded on a miss, so tables migrated after start-up are found."""

    def __init__(self, connector: Connector) -> None:
        self._connector = connector
        self._schema: Schema | None = None
        self._lock = asyncio.Lock()

    async def _reload(self, seen: Schema | None) -> Schema:
        async with self._lock:
            # Another request may have reloaded while we waited; one reload per miss wave is enough.
            if self._schema is seen or self._schema is None:
                self._schema = await self._connector.load_schema()
            return self._schema

    async def _current(self) -> Schema:
        return self._schema if self._schema is not None else await self._reload(None)

    async def table(self, name: str) -> Table:
        schema = await self._current()
        if name not in schema.tables:
            schema = await self._reload(schema)
        if name not in schema.tables:
            close = difflib.get_close_matches(name, list(schema.tables), n=1)
            raise table_not_found(name, close[0] if close else None)
        return schema.tables[name]

    async def functions(self, name: str) -> tuple[Function, ...]:
        schema = await self._current()
        if name not in schema.functions:
            schema = await self._reload(schema)
        return schema.functions.get(name, ())
