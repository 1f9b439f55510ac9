"""Which providers Prism knows, which adapter speaks to each, and where each is reached.

A project's key names a provider; `endpoint_for` turns it into an Endpoint. Providers not
listed here are custom OpenAI-compatible endpoints and need a base URL. With a simulator
configured, every provider is pointed at it instead, so the whole gateway runs offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final
from urllib.parse import quote

from origin.providers import anthropic, gemini, openai
from origin.providers.anthropic import AnthropicAdapter
from origin.providers.base import Adapter, Endpoint
from origin.providers.gemini import GeminiAdapter
from origin.providers.openai import OpenAIAdapter
from origin.settings import Secret
from shared.errors import InvalidRequest

CUSTOM_VENDOR: Final = "custom"


@dataclass(frozen=True)
class ProviderInfo:
    kind: str
    base_url: str


PROVIDERS: Final[Mapping[str, ProviderInfo]] = MappingProxyType(
    {
        **{
            name: ProviderInfo(openai.KIND, vendor.base_url)
            for name, vendor in openai.VENDORS.items()
        },
        "anthropic": ProviderInfo(anthropic.KIND, anthropic.BASE_URL),
        "gemini": ProviderInfo(gemini.KIND, gemini.BASE_URL),
    }
)


def build_adapters() -> Mapping[str, Adapter]:
    """One stateless adapter per wire family; the app builds this once at start-up."""
    return MappingProxyType(
        {
            openai.KIND: OpenAIAdapter(),
            anthropic.KIND: AnthropicAdapter(),
            gemini.KIND: GeminiAdapter(),
        }
    )


# Adapters hold no state (empty __slots__), so sharing these instances is safe.
_ADAPTERS: Final = build_adapters()


def adapter_for(kind: str) -> Adapter:
    try:
        return _ADAPTERS[kind]
    except KeyError:
        raise ValueError(f"no adapter for provider kind {kind!r}") from None


def endpoint_for(
    provider: str,
    api_key: Secret,
    base_url: str | None,
    simulator_url: str,
    vendor: str | None = None,
) -> Endpoint:
    """Where and how to call `provider` (a project's name for a key; `vendor` its type).

    A known vendor brings its adapter and default URL; anything else is OpenAI-compatible
    at `base_url`. `simulator_url`, when set, overrides every URL.
    """
    rules = vendor or provider
    known = PROVIDERS.get(rules)
    kind = known.kind if known else openai.KIND
    if simulator_url:
        url = _simulated(simulator_url.rstrip("/"), provider, kind)
    elif base_url:
        url = base_url.rstrip("/")
    elif known:
        url = known.base_url
    else:
        raise InvalidRequest(
            f"provider {provider!r} is not one Prism knows; configure its base URL",
            code="provider_not_configured",
        )
    return Endpoint(
        provider=provider,
        kind=kind,
        base_url=url,
        api_key=api_key,
        vendor=rules if known else CUSTOM_VENDOR,
        shared=bool(simulator_url) or not base_url,
    )


def _simulated(simulator_url: str, provider: str, kind: str) -> str:
    if kind == anthropic.KIND:
        return f"{simulator_url}/p/anthropic"
    if kind == gemini.KIND:
        return f"{simulator_url}/p/gemini"
    return f"{simulator_url}/p/{quote(provider, safe='-._~')}/v1"
