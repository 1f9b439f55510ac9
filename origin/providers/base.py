"""The contract every provider adapter fulfils.

An adapter is pure translation between the OpenAI chat-completions shape (what clients send
and get back) and one provider's wire format. It builds the upstream request, parses the
response, decodes the stream, maps errors, and reports token usage. It never does I/O:
`origin.providers.transport` sends what the adapter builds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from origin.settings import Secret
from shared.errors import PrismError
from shared.pricing import TokenUsage


@dataclass(frozen=True)
class Endpoint:
    """One provider as configured for a project: where to call it and with which key."""

    provider: str  # "openai", "anthropic", "groq", ... or a custom name such as "ollama"
    kind: str  # the adapter family: "openai", "anthropic" or "gemini"
    base_url: str
    api_key: Secret
    # Whose wire rules apply when `provider` is a project's own name for a key (e.g. a
    # second Groq key named "groq-batch"); empty means `provider` itself is the vendor.
    vendor: str = ""
    # False when `base_url` is one the project configured: a server of its own, whose health
    # says nothing about the same provider reached by any other project (gateway.attempts).
    shared: bool = True


@dataclass(frozen=True)
class UpstreamRequest:
    method: str
    url: str
    headers: dict[str, str]
    json: dict[str, Any]
    stream: bool = False


@dataclass(frozen=True)
class SSEEvent:
    event: str | None
    data: str


@dataclass
class Completion:
    """A whole (non-streamed) answer, already in the OpenAI chat.completion shape."""

    body: dict[str, Any]
    usage: TokenUsage


@dataclass
class StreamState:
    """What a stream decoder learned so far; usage stays None until the provider reports it."""

    usage: TokenUsage | None = None
    finish_reasons: list[str | None] = field(default_factory=list)
    # The input side a provider reports before its answer (Anthropic's message_start): what a
    # stream cut before its final usage is charged for its prompt, cache reads and writes.
    prompt_usage: TokenUsage | None = None


class StreamDecoder(Protocol):
    state: StreamState

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        """OpenAI `chat.completion.chunk` dicts for one upstream event (possibly none)."""

    def finish(self) -> list[dict[str, Any]]:
        """Chunks still owed once the upstream stream ended cleanly."""


class Adapter(Protocol):
    kind: str

    def build_request(
        self,
        endpoint: Endpoint,
        model: str,
        body: Mapping[str, Any],
        stream: bool,
        *,
        prompt_cache: bool = False,
    ) -> UpstreamRequest:
        """The upstream request for an OpenAI-shaped `body`, calling upstream model `model`.

        `prompt_cache` asks the adapter to mark the stable prefix for the provider's prompt
        cache where the provider needs markers for it (Anthropic); others cache by themselves.
        """

    def parse_response(self, payload: Mapping[str, Any], model: str) -> Completion:
        """The OpenAI-shaped completion and usage from a successful upstream JSON body."""

    def stream_decoder(self, model: str, chunk_id: str, created: int) -> StreamDecoder:
        """A fresh decoder turning upstream SSE events into OpenAI chunks."""

    def map_error(
        self, status: int, payload: bytes, headers: Mapping[str, str], provider: str | None = None
    ) -> PrismError:
        """Our error for an upstream error response (never exposing the customer's key).

        `provider` names the vendor in the message (one adapter serves many vendors); the
        adapter's kind is used when it is not given.
        """
