"""PostgREST's error envelope and its mapping from Postgres SQLSTATEs to HTTP statuses."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import asyncpg
from starlette.responses import JSONResponse

# Exact SQLSTATEs first, then two-character classes; anything else is a client error (400).
STATUS_BY_SQLSTATE = {
    "23503": 409,
    "23505": 409,
    "25006": 405,
    "42883": 404,
    "42P01": 404,
    "42P17": 500,
    "57P01": 503,
    "57P02": 503,
    "57P03": 503,
    "P0001": 400,
}
STATUS_BY_CLASS = {
    "08": 503,
    "09": 500,
    "0L": 403,
    "0P": 403,
    "25": 500,
    "28": 403,
    "2D": 500,
    "38": 500,
    "39": 500,
    "3B": 500,
    "40": 500,
    "53": 503,
    "54": 413,
    "55": 500,
    "57": 500,
    "58": 500,
    "F0": 500,
    "HV": 500,
    "P0": 500,
    "XX": 500,
}


@dataclass
class PgrstError(Exception):
    """An error answered as PostgREST would: HTTP status plus {code, details, hint, message}."""

    status: int
    code: str | None
    message: str
    details: Any = None
    hint: Any = None

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def response(self) -> JSONResponse:
        body = {
            "code": self.code,
            "details": self.details,
            "hint": self.hint,
            "message": self.message,
        }
        headers = {"Proxy-Status": f"PostgREST; error={self.code}"} if self.code else {}
        if self.status == 401 and self.code:
            headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return JSONResponse(body, status_code=self.status, headers=headers)


def status_for_sqlstate(sqlstate: str, role: str) -> int:
    if sqlstate == "42501":
        # PostgREST answers "permission denied" with 401 to anonymous callers: they should log in.
        return 401 if role == "anon" else 403
    if sqlstate in STATUS_BY_SQLSTATE:
        return STATUS_BY_SQLSTATE[sqlstate]
    return STATUS_BY_CLASS.get(sqlstate[:2], 400)


def from_postgres(exc: asyncpg.PostgresError, role: str) -> PgrstError:
    sqlstate = exc.sqlstate or "XX000"
    return PgrstError(
        status=status_for_sqlstate(sqlstate, role),
        code=sqlstate,
        message=str(getattr(exc, "message", None) or exc),
        details=getattr(exc, "detail", None),
        hint=getattr(exc, "hint", None),
    )


# Failures of the connection itself rather than of a statement: the database is down or restarting.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)


def is_connection_error(exc: BaseException) -> bool:
    """True when the database is unreachable, not when a statement was wrong.

    asyncpg raises InterfaceError for client-side misuse too; only "connection is closed" and
    its kin mean the server went away.
    """
    if isinstance(exc, asyncpg.InterfaceError):
        return str(exc).startswith(("connection is closed", "pool is closing", "pool is closed"))
    return isinstance(exc, CONNECTION_ERRORS)


def unavailable(exc: BaseException) -> PgrstError:
    return PgrstError(
        status=503,
        code="PGRST000",
        message="Could not connect with the database due to an incorrect db-uri or due to the "
        "PostgreSQL service not running.",
        details=f"{type(exc).__name__}: {exc}",
    )


def bad_request(message: str, details: Any = None, code: str = "PGRST100") -> PgrstError:
    return PgrstError(status=400, code=code, message=message, details=details)


def table_not_found(table: str, suggestion: str | None) -> PgrstError:
    hint = f"Perhaps you meant the table 'public.{suggestion}'" if suggestion else None
    return PgrstError(
        status=404,
        code="PGRST205",
        message=f"Could not find the table 'public.{table}' in the schema cache",
        hint=hint,
    )


def column_not_found(table: str, column: str) -> PgrstError:
    return PgrstError(
        status=400,
        code="PGRST204",
        message=f"Could not find the '{column}' column of '{table}' in the schema cache",
    )


def undefined_column(table: str, column: str) -> PgrstError:
    return PgrstError(status=400, code="42703", message=f"column {table}.{column} does not exist")


def not_single_object(rows: int) -> PgrstError:
    return PgrstError(
        status=406,
        code="PGRST116",
        message="JSON object requested, multiple (or no) rows returned",
        details=f"The result contains {rows} rows",
        hint=None,
    )
