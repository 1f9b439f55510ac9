"""POST /v1/feedback: a thumbs up or down on one answer, keyed by its X-Prism-Feedback-Id.

Closed-loop routing needs to know which answers users rejected; the id every response
carries ties a rating to that request's usage row (model, task type, mode, tags).
"""

from __future__ import annotations

import re

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse

from origin.store import Store, StoreError, StoreUnavailable
from origin.tenancy.auth import Authenticator
from shared.errors import InvalidRequest, UpstreamError, UpstreamUnavailable
from shared.json_depth import check_json_depth

REQUEST_ID = re.compile(r"req_[0-9a-f]{13}[0-9a-f]{16}")
MAX_COMMENT = 2000


class FeedbackEndpoint:
    def __init__(self, auth: Authenticator, store: Store) -> None:
        self.auth, self.store = auth, store

    async def __call__(self, request: Request) -> JSONResponse:
        caller = await self.auth.authenticate(request.headers.get("authorization"))
        raw = await request.body()
        check_json_depth(raw)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        feedback_id = body.get("feedback_id")
        if not isinstance(feedback_id, str) or not REQUEST_ID.fullmatch(feedback_id):
            raise InvalidRequest(
                "'feedback_id' must be the X-Prism-Feedback-Id of a response.", param="feedback_id"
            )
        rating = body.get("rating")
        if rating not in (1, -1) or isinstance(rating, bool):
            raise InvalidRequest("'rating' must be 1 (good) or -1 (bad).", param="rating")
        comment = body.get("comment")
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
            raise InvalidRequest(
                f"'comment' must be a string of at most {MAX_COMMENT} characters.", param="comment"
            )
        if comment is not None:
            comment = comment.replace("\x00", "")  # Postgres text cannot hold NUL
        row = {
            "project_id": caller.project_id,
            "request_id": feedback_id,
            "rating": rating,
            "comment": comment,
        }
        try:
            await self.store.insert_feedback(row)
        except StoreUnavailable as exc:
            raise UpstreamUnavailable(
                "Feedback can't be stored right now; retry shortly.", retry_after=1
            ) from exc
        except StoreError as exc:
            raise UpstreamError(
                f"The database refused the feedback: {exc.message}", code="store_error"
            ) from exc
        return JSONResponse(
            {"object": "feedback", "feedback_id": feedback_id, "rating": rating}, status_code=201
        )
