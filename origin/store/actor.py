"""Who a change is made for, named to the database: its triggers write the activity trail
(infra/migrations/0037_activity.sql) from the header PostgREST hands them as
`request.headers`. Set once where a person's request enters (a dashboard form, the admin API,
the CLI), so no store call between there and the write has to carry it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final, TypeVar

ACTOR_HEADER: Final = "X-Prism-Actor"
MAX_ACTOR: Final = 200

Builder = TypeVar("Builder")

_actor: ContextVar[str] = ContextVar("prism_store_actor", default="")


@contextmanager
def acting_for(actor: str) -> Iterator[None]:
    # A header value is ASCII: an address with other letters keeps them as escapes.
    token = _actor.set(actor.encode("ascii", "backslashreplace").decode()[:MAX_ACTOR])
    try:
        yield
    finally:
        _actor.reset(token)


def named(builder: Builder) -> Builder:
    """The request builder, carrying the actor when one is set (else the trail names the role)."""
    actor = _actor.get()
    if actor:
        request: Any = getattr(builder, "request")  # noqa: B009 - postgrest's builders hold it
        request.headers[ACTOR_HEADER] = actor
    return builder
