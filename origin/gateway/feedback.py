"""POST /v1/feedback: a rating of one answer, keyed by its X-Prism-Feedback-Id.

Closed-loop routing needs to know which answers users rejected; the id every response
carries ties a rating to that request's usage row (model, task type, mode, tags), and
`feedback_quality` (SQL) reads them back per task type and model. A rating is a thumbs up or
down (`rating`: 1 or -1) or a score from 1 to 5 (`score`, or `rating` with `"scale": 5`).
"""

from __future__ import annotations

import re

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse

from origin.store import Store, StoreError, StoreUnavailable
from origin.tenancy.auth import Authenticator, client_address
from shared.errors import InvalidRequest, UpstreamError, UpstreamUnavailable
from shared.json_depth import check_json_depth

REQUEST_ID = re.compile(r"req_[0-9a-f]{13}[0-9a-f]{16}")
MAX_COMMENT = 2000


class FeedbackEndpoint:
    def __init__(self, auth: Authenticator, store: Store) -> None:
        self.auth, self.store = auth, store

    async def __call__(self, request: Request) -> JSONResponse:
        caller = await self.auth.authenticate(
            request.headers.get("authorization"), client_address(request)
        )
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
        rating, score = _rating(body)
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
            "score": score,
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
            {"object": "feedback", "feedback_id": feedback_id, "rating": rating, "score": score},
            status_code=201,
        )


def _int_or_none(body: dict[str, object], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequest(f"'{name}' must be an integer.", param=name)
    return value


def _rating(body: dict[str, object]) -> tuple[int | None, int | None]:
    """(thumbs, score) from the body: `rating` +-1, `score` 1..5, or `rating` 1..5 with scale 5.
    A `rating` of 2 to 5 can only be a score, so it is read as one without a scale."""
    rating, score = _int_or_none(body, "rating"), _int_or_none(body, "score")
    scale = _int_or_none(body, "scale")
    if scale not in (None, 2, 5):
        raise InvalidRequest("'scale' must be 2 (thumbs) or 5 (a 1-5 score).", param="scale")
    if score is not None and not 1 <= score <= 5:
        raise InvalidRequest("'score' must be an integer from 1 to 5.", param="score")
    if rating is None:
        if score is None:
            raise InvalidRequest("Send 'rating' (1 or -1) or 'score' (1 to 5).", param="rating")
        return None, score
    stars = scale == 5 or (scale is None and 2 <= rating <= 5)
    if rating not in ((1, 2, 3, 4, 5) if stars else (1, -1)):
        raise InvalidRequest(
            "'rating' must be 1 (good) or -1 (bad), or 1 to 5 with \"scale\": 5.", param="rating"
        )
    if not stars:
        return rating, score
    if score is not None and score != rating:
        raise InvalidRequest("'rating' and 'score' disagree.", param="score")
    return None, rating
