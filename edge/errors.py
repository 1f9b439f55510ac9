"""Errors the edge answers itself, in the OpenAI envelope every Prism client parses."""

from __future__ import annotations

import json

from edge.web import Response
from shared import headers as H
from shared.errors import PrismError
from shared.usage import new_request_id


def error_response(error: PrismError, request_id: str | None = None) -> Response:
    """The refusal with its own X-Prism-Request-Id, as every origin answer has one: the id a
    client quotes to find the request (and its usage row, when it has one) in the logs."""
    body = json.dumps(error.envelope()).encode()
    request_id = request_id or new_request_id()
    headers = [
        ("content-type", "application/json"),
        *error.headers().items(),
        (H.REQUEST_ID, request_id),
        (H.OPENAI_REQUEST_ID, request_id),
    ]
    return Response(status=error.status, headers=headers, body=body)
