"""A bare Starlette app for bench.ceiling: read the JSON body, answer an exact-hit-sized JSON.

Imports nothing of ours, so any interpreter with Starlette can serve it."""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello! " * 8},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 14, "completion_tokens": 9, "total_tokens": 23},
    }
).encode()


async def _chat(request: Request) -> Response:
    await request.json()
    return Response(ANSWER, media_type="application/json")


def create_app() -> Starlette:
    return Starlette(routes=[Route("/v1/chat/completions", _chat, methods=["POST"])])
