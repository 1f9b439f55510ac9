"""GET /v1/models and /v1/models/{id}: the catalog in OpenAI's shapes, with Prism's routing
facts attached."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from origin.tenancy.auth import Authenticator, client_address
from origin.tenancy.keyring import Keyrings
from shared.catalog import MODELS, ModelInfo
from shared.errors import ModelNotFound
from shared.text import clean


def model_object(model_id: str, info: ModelInfo, available: frozenset[str]) -> dict[str, Any]:
    inp, out, read, w5, w1 = info["prices"]
    return {
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


def catalog_listing(available: frozenset[str]) -> dict[str, Any]:
    data = [model_object(model_id, info, available) for model_id, info in MODELS.items()]
    return {"object": "list", "data": data}


def catalog_model(model_id: str, available: frozenset[str]) -> dict[str, Any]:
    """One model as the listing shows it. Only the listing's own ids are found (no aliases):
    what `retrieve` returns must carry the id it was asked for."""
    info = MODELS.get(model_id)
    if info is None:
        # The same words as a chat request naming an unknown model.
        raise ModelNotFound(
            f"The model {clean(model_id)[:100]!r} does not exist or is not available to this "
            "project.",
            param="model",
        )
    return model_object(model_id, info, available)


class ModelsEndpoint:
    def __init__(self, auth: Authenticator, keyrings: Keyrings) -> None:
        self.auth, self.keyrings = auth, keyrings

    async def __call__(self, request: Request) -> JSONResponse:
        return JSONResponse(catalog_listing(await self._available(request)))

    async def retrieve(self, request: Request) -> JSONResponse:
        available = await self._available(request)
        return JSONResponse(catalog_model(request.path_params["model_id"], available))

    async def _available(self, request: Request) -> frozenset[str]:
        caller = await self.auth.authenticate(
            request.headers.get("authorization"), client_address(request)
        )
        keyring = await self.keyrings.for_project(caller.project_id)
        return keyring.available
