"""Where postgrest, httpx and aiohttp failures become ours: every store call passes here.

Two errors leave the store: `StoreUnavailable` (try again later: the API or the database is
down, overloaded or slow) and `StoreError` (the request itself was refused).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from postgrest import APIError
from pydantic import ValidationError


class StoreUnavailable(Exception):
    """Supabase could not answer now (down, 5xx, 429, timeout); the same call may work later."""


class StoreError(Exception):
    """Supabase refused the request; `code` is PostgREST's (a SQLSTATE or PGRSTnnn)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def conflict(self) -> bool:
        return self.code == "23505"

    @property
    def missing_reference(self) -> bool:
        return self.code == "23503"

    @property
    def row_specific(self) -> bool:
        """The data itself was refused (SQLSTATE class 22/23), not the request or the schema."""
        return bool(self.code) and str(self.code)[:2] in ("22", "23")


async def refuse_unavailable(response: httpx.Response) -> None:
    # postgrest-py folds every non-2xx into APIError without the status; the status is the one
    # reliable signal that a request may succeed later, so classify it here, before that.
    if response.status_code >= 500 or response.status_code == 429:
        await response.aread()
        raise StoreUnavailable(
            f"Supabase answered HTTP {response.status_code}: {response.text[:200]}"
        )


def rows_of(data: object) -> list[dict[str, Any]]:
    """PostgREST's answer as rows; anything else means we are not talking to PostgREST."""
    rows = data if isinstance(data, list) else [data] if data else []
    objects = [row for row in rows if isinstance(row, dict)]
    if len(objects) != len(rows):
        raise StoreError("unexpected answer from Supabase: rows are not JSON objects")
    return objects


@asynccontextmanager
async def boundary(action: str) -> AsyncIterator[None]:
    try:
        yield
    except StoreUnavailable:
        raise
    except APIError as exc:
        raise StoreError(f"{action}: {exc.message or exc.code}", code=exc.code) from exc
    except httpx.TimeoutException as exc:
        raise StoreUnavailable(f"{action}: Supabase timed out") from exc
    except httpx.TransportError as exc:
        raise StoreUnavailable(f"{action}: cannot reach Supabase ({type(exc).__name__})") from exc
    except (httpx.HTTPError, ValidationError, ValueError) as exc:
        raise StoreError(
            f"{action}: unexpected answer from Supabase ({type(exc).__name__})"
        ) from exc


def refusal(action: str, status: int, body: bytes) -> Exception:
    """A PostgREST answer above 299 as ours: 5xx and 429 may pass, anything else is a refusal
    carrying PostgREST's code (a SQLSTATE or PGRSTnnn) when its body has one."""
    if status >= 500 or status == 429:
        return StoreUnavailable(f"{action}: Supabase answered HTTP {status}: {body[:200]!r}")
    try:
        error = orjson.loads(body)
    except orjson.JSONDecodeError:
        error = None
    if not isinstance(error, dict):
        return StoreError(f"{action}: Supabase answered HTTP {status}")
    code = error.get("code")
    message = error.get("message") or code or f"HTTP {status}"
    return StoreError(f"{action}: {message}", code=str(code) if code is not None else None)
