"""Reading the pieces of an OpenAI request that the non-OpenAI adapters take apart.

OpenAI message content is either a string or a list of typed parts; tool-call arguments
are a JSON string; images come as URLs, often base64 data URLs. These helpers read them
the same way for Anthropic and Gemini, and reject what neither can carry.
"""

from __future__ import annotations

import re
from typing import Any, Final

import orjson

from shared.errors import InvalidRequest
from shared.fingerprint import LIMIT_FIELDS

# OpenAI's reasoning_effort as a thinking budget in tokens, as Google's OpenAI-compatible
# endpoint maps it for Gemini 2.5 (xhigh, newer than that table, as high); the Claude and
# Gemini adapters fit it to what each model takes.
THINKING_BUDGETS: Final = {
    "none": 0,
    "minimal": 1024,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 24576,
}
_DATA_URL: Final = re.compile(
    r"data:(?P<mime>[\w.+-]+/[\w.+-]+)(?:;[^,]*)?;base64,(?P<data>.*)", re.DOTALL
)


def parts_of(content: Any) -> list[dict[str, Any]]:
    """Content as a list of parts: a string becomes one text part; None becomes none."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list) and all(isinstance(p, dict) for p in content):
        return content
    raise InvalidRequest(
        "message content must be a string or a list of content parts", param="messages"
    )


def text_of(content: Any) -> str:
    """All the text in a message's content, parts joined without a separator."""
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text") or "") for p in parts_of(content) if p.get("type") == "text")


def image_url_of(part: dict[str, Any]) -> str:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise InvalidRequest("an image_url part needs a url", param="messages")
    return url


def data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 payload) of a base64 data URL; None for any other URL."""
    match = _DATA_URL.fullmatch(url)
    if match is None:
        return None
    return match["mime"], match["data"]


def file_of(part: dict[str, Any], provider: str) -> tuple[str, str]:
    """(media type, base64 payload) of an OpenAI `file` content part (a PDF, say). A file_id
    names a file in OpenAI's own storage, which no other provider can read."""
    file = part.get("file")
    data = file.get("file_data") if isinstance(file, dict) else None
    inline = data_url(data) if isinstance(data, str) else None
    if inline is None:
        raise InvalidRequest(
            f"{provider} can only take a file sent inline, as file.file_data "
            "'data:<media type>;base64,...' (a file_id is in OpenAI's storage)",
            param="messages",
        )
    return inline


def arguments_of(call: dict[str, Any]) -> dict[str, Any]:
    """The parsed arguments object of an OpenAI tool call (an empty string means none)."""
    function = call.get("function")
    raw = function.get("arguments") if isinstance(function, dict) else None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}
    if isinstance(raw, dict):
        return raw
    try:
        value = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):
        raise InvalidRequest(
            "tool call arguments must be a JSON object", param="messages"
        ) from None
    if not isinstance(value, dict):
        raise InvalidRequest("tool call arguments must be a JSON object", param="messages")
    return value


def function_of(tool: Any) -> dict[str, Any]:
    """The function definition inside an OpenAI `tools` entry."""
    if not isinstance(tool, dict) or tool.get("type", "function") != "function":
        raise InvalidRequest("only function tools can be sent to this provider", param="tools")
    function = tool.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise InvalidRequest("each tool needs a function with a name", param="tools")
    return function


def stop_list(stop: Any) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return list(stop)
    raise InvalidRequest("stop must be a string or a list of strings", param="stop")


def max_tokens_of(body: Any) -> int | None:
    """The client's output limit under either of OpenAI's names for it, in the order the
    cache key reads them, so what is sent is what was keyed."""
    for name in LIMIT_FIELDS:
        value = body.get(name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidRequest(f"{name} must be a positive integer", param=name)
            return value
    return None


def thinking_budget(effort: Any) -> int:
    """The thinking budget for a reasoning_effort; a 400 for a value the table lacks."""
    if not isinstance(effort, str) or effort not in THINKING_BUDGETS:
        raise InvalidRequest(
            f"reasoning_effort must be one of {', '.join(THINKING_BUDGETS)}",
            param="reasoning_effort",
        )
    return THINKING_BUDGETS[effort]


def refuse_unanswerable(body: Any, provider: str) -> None:
    """A 400 naming what the client asked for and this provider cannot give back, rather than
    an answer without it: a client that asked for logprobs reads them, and one that sent the
    deprecated `functions` reads a `function_call` (the router never sends these requests to
    such a provider on its own, see origin.routing.candidates)."""
    refuse_logprobs(body, provider)
    refuse_logit_bias(body, provider)
    refuse_audio(body, provider)
    if body.get("functions") or body.get("function_call") is not None:
        raise InvalidRequest(
            f"{provider} takes tools, not the deprecated functions and function_call; "
            "send them as tools and tool_choice",
            param="functions" if body.get("functions") else "function_call",
        )


def refuse_logprobs(body: Any, provider: str) -> None:
    if body.get("logprobs") is True:
        raise InvalidRequest(
            f"{provider} cannot return token logprobs; leave out logprobs or use a model "
            "that can (model 'auto' picks one)",
            param="logprobs",
        )


def refuse_logit_bias(body: Any, provider: str) -> None:
    """A bias a client sets is meant to keep tokens out of (or force them into) the answer;
    sampled without it, the answer may hold exactly what it was set to ban."""
    if body.get("logit_bias"):  # an empty map biases nothing
        raise InvalidRequest(
            f"{provider} does not take logit_bias; leave it out or use a model that does "
            "(model 'auto' picks one)",
            param="logit_bias",
        )


def refuse_choices(body: Any, provider: str) -> None:
    n = body.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > 1:
        raise InvalidRequest(
            f"{provider} returns one choice per request; n must be 1 (model 'auto' picks a "
            "model that can return more)",
            param="n",
        )


def refuse_audio(body: Any, provider: str) -> None:
    """Spoken output (modalities ["text", "audio"]) comes back as message.audio, which only
    OpenAI's audio models give: anywhere else the client would read None."""
    modalities = body.get("modalities")
    if isinstance(modalities, list) and "audio" in modalities:
        raise InvalidRequest(
            f'{provider} cannot answer with audio; leave "audio" out of modalities',
            param="modalities",
        )
