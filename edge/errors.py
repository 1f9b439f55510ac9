"""Errors the edge answers itself, in the OpenAI envelope every Prism client parses."""

from __future__ import annotations

import json

from edge import logs
from edge.web import Response
from shared import headers as H
from shared.errors import PrismError


def error_response(error: PrismError, request_id: str | None = None) -> Response:
    """The refusal with its own X-Prism-Request-Id, as every origin answer has one: the id a
    client quotes to find the request (and its usage row, when it has one) in the logs. By
    default the id is the request's own, and the error's code goes on its log line."""
    body = json.dumps(error.envelope()).encode()
    request_id = request_id or logs.request_id()
    logs.note_error(error.code)
    headers = [
        ("content-type", "application/json"),
        *error.headers().items(),
        (H.REQUEST_ID, request_id),
        (H.OPENAI_REQUEST_ID, request_id),
    ]
    return Response(status=error.status, headers=headers, body=body)
