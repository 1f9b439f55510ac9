"""OpenAI and every vendor that speaks its chat-completions format.

The request body passes through almost untouched: only the model id changes, and each
vendor's row in `VENDORS` says which OpenAI parameters it rejects (dropped, since a 400 for
a parameter the client may not even care about would stop a failover dead) and which it
spells differently. Adding a vendor is adding a row. Any other provider name is a custom
endpoint (Ollama, vLLM, a private proxy) reached at the base URL the project configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import orjson

from origin.providers import chunks, content
from origin.providers.base import Completion, Endpoint, SSEEvent, StreamState, UpstreamRequest
from origin.providers.failures import bad_response, map_status
from shared.errors import PrismError
from shared.pricing import TokenUsage

KIND: Final = "openai"


@dataclass(frozen=True)
class Vendor:
    """How one OpenAI-compatible vendor differs from OpenAI itself."""

    base_url: str
    drops: frozenset[str] = frozenset()
    renames: tuple[tuple[str, str], ...] = ()
    drop_message_names: bool = False
    # The one name the output limit is sent under (clients may use either of OpenAI's).
    limit_name: str = "max_tokens"


# Parameters only OpenAI's own API understands; compatible vendors 400 on some of them.
_OPENAI_ONLY: Final = frozenset(
    {
        "store",
        "metadata",
        "prediction",
        "modalities",
        "audio",
        "web_search_options",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
        "verbosity",
        "service_tier",
    }
)
_NO_LOGPROBS: Final = frozenset({"logprobs", "top_logprobs", "logit_bias"})

VENDORS: Final[Mapping[str, Vendor]] = MappingProxyType(
    {
        # OpenAI's reasoning models reject max_tokens; every current model takes the new name.
        "openai": Vendor("https://api.openai.com/v1", limit_name="max_completion_tokens"),
        "groq": Vendor(
            "https://api.groq.com/openai/v1", _OPENAI_ONLY | _NO_LOGPROBS, drop_message_names=True
        ),
        "deepseek": Vendor("https://api.deepseek.com/v1", _OPENAI_ONLY | {"logit_bias"}),
        "fireworks": Vendor("https://api.fireworks.ai/inference/v1", _OPENAI_ONLY),
        "cerebras": Vendor(
            "https://api.cerebras.ai/v1",
            _OPENAI_ONLY
            | {"frequency_penalty", "presence_penalty", "logit_bias", "parallel_tool_calls"},
        ),
        "mistral": Vendor(
            "https://api.mistral.ai/v1",
            _OPENAI_ONLY | _NO_LOGPROBS | {"user"},
            renames=(("seed", "random_seed"),),
        ),
        "xai": Vendor("https://api.x.ai/v1", _OPENAI_ONLY),
        "perplexity": Vendor(
            "https://api.perplexity.ai",
            _OPENAI_ONLY
            | _NO_LOGPROBS
            | {"tools", "tool_choice", "parallel_tool_calls", "n", "seed", "user"},
        ),
    }
)
# A custom endpoint gets the base URL the project configured and OpenAI's common ground.
CUSTOM: Final = Vendor(base_url="", drops=_OPENAI_ONLY)
# Upstream models that take reasoning_effort with fewer values than OpenAI's, and what each
# of OpenAI's becomes (any other value is sent as it is, for the provider to refuse). xAI's
# grok-3-mini takes "low" or "high" and cannot stop reasoning, so "none" is its least; Groq's
# qwen3-32b takes "none" or "default" (it then reasons as long as it likes).
_EFFORTS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "grok-3-mini": {
            **dict.fromkeys(("none", "minimal", "low"), "low"),
            **dict.fromkeys(("medium", "high", "xhigh"), "high"),
        },
        "qwen/qwen3-32b": {
            "none": "none",
            **dict.fromkeys(("minimal", "low", "medium", "high", "xhigh"), "default"),
        },
    }
)


def vendor_of(endpoint: Endpoint) -> Vendor:
    return VENDORS.get(endpoint.vendor or endpoint.provider, CUSTOM)


def usage_of(raw: Any) -> TokenUsage | None:
    """Normalised usage from an OpenAI-style usage object; None when there is none."""
    if not isinstance(raw, dict):
        return None
    prompt = chunks.count(raw.get("prompt_tokens"))
    details = raw.get("prompt_tokens_details")
    cached = chunks.count(details.get("cached_tokens")) if isinstance(details, dict) else 0
    # DeepSeek reports its cache hits in a field of its own.
    cached = cached or chunks.count(raw.get("prompt_cache_hit_tokens"))
    return chunks.believed(
        TokenUsage(
            prompt_tokens=prompt,
            completion_tokens=chunks.count(raw.get("completion_tokens")),
            cache_read_tokens=min(cached, prompt),
        )
    )


class OpenAIAdapter:
    __slots__ = ()
    kind = KIND

    def build_request(
        self,
        endpoint: Endpoint,
        model: str,
        body: Mapping[str, Any],
        stream: bool,
        *,
        prompt_cache: bool = False,
    ) -> UpstreamRequest:
        vendor = vendor_of(endpoint)
        _refuse_dropped(vendor, body, endpoint.provider)
        out = {k: v for k, v in body.items() if k not in vendor.drops}
        # One output limit, the one the cache key holds, under the name this vendor reads.
        limit = content.max_tokens_of(body)
        out.pop("max_tokens", None)
        out.pop("max_completion_tokens", None)
        if limit is not None:
            out[vendor.limit_name] = limit
        for source, target in vendor.renames:
            if source in out:
                value = out.pop(source)
                out.setdefault(target, value)
        effort = out.get("reasoning_effort")
        if isinstance(effort, str) and effort in _EFFORTS.get(model, {}):
            out["reasoning_effort"] = _EFFORTS[model][effort]
        out["model"] = model
        if vendor.drop_message_names and isinstance(out.get("messages"), list):
            out["messages"] = [_without_name(m) for m in out["messages"]]
        headers = {"content-type": "application/json"}
        key = endpoint.api_key.reveal()
        if key:  # Local servers such as Ollama take no key at all.
            headers["authorization"] = f"Bearer {key}"
        if stream:
            options = body.get("stream_options")
            # We bill from the usage chunk, so it is requested whatever the client asked.
            out["stream"] = True
            out["stream_options"] = {
                **(options if isinstance(options, dict) else {}),
                "include_usage": True,
            }
            headers["accept"] = "text/event-stream"
        else:
            out.pop("stream", None)
            out.pop("stream_options", None)
        return UpstreamRequest(
            "POST", f"{endpoint.base_url}/chat/completions", headers, out, stream
        )

    def parse_response(self, payload: Mapping[str, Any], model: str) -> Completion:
        choices = payload.get("choices")
        # An empty list is no answer either: the client asked for at least one choice.
        if not isinstance(choices, list) or not choices:
            raise bad_response(KIND, "answered without choices")
        if not all(_well_formed(item, "message") for item in choices):
            raise bad_response(KIND, "answered with a malformed choice")
        body = dict(payload)
        body["model"] = model
        usage = usage_of(payload.get("usage"))
        return Completion(body=body, usage=usage or TokenUsage(reported=False))

    def stream_decoder(self, model: str, chunk_id: str, created: int) -> OpenAIStream:
        return OpenAIStream(model, chunk_id, created)

    def map_error(
        self, status: int, payload: bytes, headers: Mapping[str, str], provider: str | None = None
    ) -> PrismError:
        return map_status(provider or KIND, status, payload, headers)


def _refuse_dropped(vendor: Vendor, body: Mapping[str, Any], provider: str) -> None:
    """A 400 for what a vendor drops and the client would miss in the answer."""
    if "logprobs" in vendor.drops:  # dropped, the answer would come back without them
        content.refuse_logprobs(body, provider)
    if "logit_bias" in vendor.drops:  # dropped, the answer would be sampled without it
        content.refuse_logit_bias(body, provider)
    if "n" in vendor.drops:  # dropped, n=2 would come back with one choice
        content.refuse_choices(body, provider)
    if "modalities" in vendor.drops:  # dropped, the answer would have no audio
        content.refuse_audio(body, provider)


class OpenAIStream:
    """Upstream chunks are already ours: restamp them, keep usage back, note finishes."""

    __slots__ = ("_created", "_done", "_id", "_model", "state")

    def __init__(self, model: str, chunk_id: str, created: int) -> None:
        self.state = StreamState()
        self._model, self._id, self._created = model, chunk_id, created
        self._done = False

    def feed(self, event: SSEEvent) -> list[dict[str, Any]]:
        data = event.data
        if data == "[DONE]":
            self._done = True
            return []
        if not data.strip():
            return []
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise bad_response(KIND, "sent a malformed stream chunk") from None
        if not isinstance(chunk, dict):
            raise bad_response(KIND, "sent a stream chunk that is not an object")
        if chunk.get("error"):
            raise bad_response(KIND, "reported an error mid-stream", chunk)
        self._note_usage(chunk)
        choices = chunk.get("choices")
        if not choices:
            return []
        if not isinstance(choices, list) or not all(_well_formed(c, "delta") for c in choices):
            raise bad_response(KIND, "sent a stream chunk with a malformed choice")
        for item in choices:
            if item.get("finish_reason"):
                index = chunks.choice_index(item.get("index")) or 0
                chunks.note_finish(self.state, index, item["finish_reason"])
        chunk["id"], chunk["created"], chunk["model"] = self._id, self._created, self._model
        return [chunk]

    def finish(self) -> list[dict[str, Any]]:
        if not self._done and not any(self.state.finish_reasons):
            raise bad_response(KIND, "ended the stream before finishing the answer")
        return []

    def _note_usage(self, chunk: dict[str, Any]) -> None:
        raw = chunk.pop("usage", None)
        extra = chunk.get("x_groq")
        if raw is None and isinstance(extra, dict):
            raw = extra.get("usage")  # Groq's older streams report usage only here.
        usage = usage_of(raw)
        if usage is not None:
            self.state.usage = usage


def _well_formed(choice: Any, part: str) -> bool:
    """Whether a passed-through choice has the shape clients and our relay read: an object
    with a small index whose `part` (message or delta) is an object, and whose tool calls
    are objects with a small index and an object `function`. A provider's garbage is its
    failure, caught here (so failed over, or an error event), not a crash further on."""
    if not isinstance(choice, dict) or chunks.choice_index(choice.get("index")) is None:
        return False
    body = choice.get(part)
    if body is None and part == "delta":
        return True  # a finish-only chunk may leave the delta out
    if not isinstance(body, dict):
        return False
    calls = body.get("tool_calls")
    if calls is None:
        return True
    return isinstance(calls, list) and all(
        isinstance(call, dict)
        and chunks.choice_index(call.get("index")) is not None
        and isinstance(call.get("function") or {}, dict)
        for call in calls
    )


def _without_name(message: Any) -> Any:
    if isinstance(message, dict) and "name" in message:
        return {k: v for k, v in message.items() if k != "name"}
    return message
