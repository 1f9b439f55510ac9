"""DELETE /v1/sessions/{id}: forget a session's server-side memory (origin.gateway.memory).

Scoped to the caller's project: a key can only ever forget its own project's sessions.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from origin.gateway.memory import MemoryDown, SessionMemory
from origin.tenancy.auth import Authenticator, client_address
from shared.errors import InvalidRequest, UpstreamUnavailable
from shared.options import MAX_SESSION_LENGTH


class SessionsEndpoint:
    def __init__(self, auth: Authenticator, memory: SessionMemory) -> None:
        self.auth, self.memory = auth, memory

    async def __call__(self, request: Request) -> JSONResponse:
        caller = await self.auth.authenticate(
            request.headers.get("authorization"), client_address(request)
        )
        session_id = str(request.path_params.get("session_id", ""))
        if not session_id or len(session_id) > MAX_SESSION_LENGTH:
            raise InvalidRequest(
                f"A session id is 1 to {MAX_SESSION_LENGTH} characters.", param="session_id"
            )
        try:
            deleted = await self.memory.forget(caller.project_id, session_id)
        except MemoryDown as exc:
            raise UpstreamUnavailable(
                "Session memory is unavailable; retry shortly.", retry_after=1
            ) from exc
        return JSONResponse({"id": session_id, "object": "session.deleted", "deleted": deleted})
