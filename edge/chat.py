"""A chat-completions request as the edge's cache sees it, or None when the edge should not try.

The edge only answers requests the origin would certainly accept: anything it can't read
(not JSON, not a chat request, bad X-Prism-* headers) goes to the origin, which owns the error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from edge.web import Headers, Request
from shared.errors import InvalidRequest
from shared.json_depth import check_json_depth
from shared.options import RequestOptions, parse_options

CHAT_PATHS: Final = frozenset({"/v1/chat/completions", "/chat/completions"})


class HeaderMap(Mapping[str, str]):
    """Request headers looked up case-insensitively, first value winning, as parse_options wants."""

    def __init__(self, headers: Headers) -> None:
        self._values: dict[str, str] = {}
        for name, value in headers:
            self._values.setdefault(name.lower(), value)

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


@dataclass(frozen=True)
class ChatRequest:
    body: dict[str, Any]
    options: RequestOptions

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True

    @property
    def include_usage(self) -> bool:
        options = self.body.get("stream_options")
        return isinstance(options, dict) and bool(options.get("include_usage"))


def request_path(request: Request) -> str:
    return urlsplit(request.url).path


def parse_chat(request: Request) -> ChatRequest | None:
    """The chat request, None when the origin should judge it, InvalidRequest when too deep.

    Nesting is measured before anything parses: a deep enough body overflows Pyodide's stack,
    which no `except` can catch, and kills the isolate.
    """
    if request.method.upper() != "POST" or request_path(request) not in CHAT_PATHS:
        return None
    check_json_depth(request.body)
    try:
        options = parse_options(HeaderMap(request.headers))
        body = json.loads(request.body)
    except (InvalidRequest, ValueError, RecursionError):
        return None
    return ChatRequest(body, options) if _readable(body) else None


def _readable(body: Any) -> bool:
    """The parts of the origin's validation that the cache key does not already cover.

    Every other field either is in the fingerprint (so a body the origin rejects can never
    match an entry, as no such entry was stored) or changes nothing about the answer.
    """
    if not isinstance(body, dict):
        return False
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return False
    if not all(isinstance(m, dict) for m in messages):
        return False
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        return False
    if body.get("stream_options") is not None and not isinstance(body["stream_options"], dict):
        return False
    try:
        # The origin's JSON parser refuses unpaired surrogates; Python's json accepts them.
        json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (UnicodeEncodeError, ValueError, RecursionError):
        return False
    return True
