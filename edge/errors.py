"""Errors the edge answers itself, in the OpenAI envelope every Prism client parses."""

from __future__ import annotations

import json

from edge.web import Response
from shared.errors import PrismError


def error_response(error: PrismError) -> Response:
    body = json.dumps(error.envelope()).encode()
    headers = [("content-type", "application/json"), *error.headers().items()]
    return Response(status=error.status, headers=headers, body=body)
