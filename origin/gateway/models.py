"""GET /v1/models: the catalog in OpenAI's list shape, with Prism's routing facts attached."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from origin.tenancy.auth import Authenticator
from origin.tenancy.keyring import Keyrings
from shared.catalog import MODELS


def catalog_listing(available: frozenset[str]) -> dict[str, Any]:
    data = []
    for model_id, info in MODELS.items():
        inp, out, read, w5, w1 = info["prices"]
        data.append(
            {
                "id": model_id,
                "object": "model",
                "created": 0,
                "owned_by": info["provider"],
                "provider": info["provider"],
                "capability_bucket": info["bucket"],
                "context_window": info["context"],
                "available": info["provider"] in available,
                "supports_tools": info["tools"],
                "supports_json": info["json"],
                "pricing_usd_per_million": {
                    "input": inp,
                    "output": out,
                    "cached_input": read,
                    "cache_write_5m": w5,
                    "cache_write_1h": w1,
                },
            }
        )
    return {"object": "list", "data": data}


class ModelsEndpoint:
    def __init__(self, auth: Authenticator, keyrings: Keyrings) -> None:
        self.auth, self.keyrings = auth, keyrings

    async def __call__(self, request: Request) -> JSONResponse:
        caller = await self.auth.authenticate(request.headers.get("authorization"))
        keyring = await self.keyrings.for_project(caller.project_id)
        return JSONResponse(catalog_listing(keyring.available))
