"""The Gemini generateContent wire format: JSON, alt=sse events, or a streamed JSON array."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import orjson

from .cache import PromptCache
from .content import Reply, split
from .tokens import json_text, message_tokens, tokens
from .turn import BadRequest, Counts, ToolSpec, Turn, as_int, as_stops
from .wire import EVENT_STREAM, JSON, Headers

FINISH = MappingProxyType(
    {"stop": "STOP", "stop_sequence": "STOP", "length": "MAX_TOKENS", "tool": "STOP"}
)
# The thinking budgets Gemini 2.5 models take, by model name prefix: Pro cannot stop thinking.
BUDGETS = (("gemini-2.5-pro", 128, 32768), ("gemini-2.5-flash", 0, 24576))
SSE_END = b"\r\n\r\n"  # upstream ends each event with CRLF CRLF; parsers must accept it
STATUSES = MappingProxyType(
    {
        400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
        403: ("PERMISSION_DENIED", "The caller does not have permission."),
        404: ("NOT_FOUND", "Requested entity was not found."),
        429: ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
        500: ("INTERNAL", "An internal error has occurred. Please retry or report it."),
        503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
        504: ("DEADLINE_EXCEEDED", "The request timed out. Please try again."),
    }
)


def check_headers(headers: dict[str, str], query: dict[str, str]) -> tuple[int, str] | None:
    if not (headers.get("x-goog-api-key", "").strip() or query.get("key", "").strip()):
        return (
            401,
            "API key not provided. Pass it as the x-goog-api-key header or the key parameter.",
        )
    return None


def error(status: int, message: str | None = None) -> bytes:
    name, default = STATUSES.get(status, STATUSES[500] if status >= 500 else STATUSES[400])
    return orjson.dumps({"error": {"code": status, "message": message or default, "status": name}})


def model_not_found(model: str) -> bytes:
    message = f"models/{model} is not found for API version v1beta, or is not supported for "
    message += "generateContent."
    return error(404, message)


def _part_text(part: Any) -> str:
    if not isinstance(part, dict):
        raise BadRequest("each part must be an object")
    if "text" in part:
        return str(part["text"])
    if "functionCall" in part:
        return json_text((part["functionCall"] or {}).get("args") or {})
    if "functionResponse" in part:
        return json_text((part["functionResponse"] or {}).get("response") or {})
    return ""


def _parts(content: Any) -> list[Any]:
    if not isinstance(content, dict) or not isinstance(content.get("parts", []), list):
        raise BadRequest("each content must be an object with a parts array")
    return content.get("parts") or []


def _user_text(contents: list[Any]) -> str:
    for content in reversed(contents):
        if content.get("role", "user") == "user":
            texts = [str(p["text"]) for p in _parts(content) if "text" in p]
            if texts:
                return " ".join(texts)
    return ""


def _tool(
    declarations: list[dict[str, Any]], body: dict[str, Any], last: dict[str, Any]
) -> ToolSpec | None:
    config = ((body.get("toolConfig") or {}).get("functionCallingConfig")) or {}
    mode = str(config.get("mode") or "AUTO").upper()
    answered = any("functionResponse" in p for p in _parts(last))
    if not declarations or mode == "NONE" or answered:
        return None
    allowed = config.get("allowedFunctionNames") or []
    wanted = allowed[0] if mode == "ANY" and allowed else None
    chosen = next(
        (d for d in declarations if d.get("name") == wanted), None if wanted else declarations[0]
    )
    if chosen is None:
        raise BadRequest(f"allowedFunctionNames names an undeclared function: {wanted}")
    schema = chosen.get("parameters") or chosen.get("parametersJsonSchema") or {}
    return ToolSpec(name=str(chosen.get("name", "")), schema=schema)


def _json_output(config: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
    if config.get("responseMimeType") != "application/json":
        return False, None
    schema = config.get("responseSchema") or config.get("responseJsonSchema")
    return True, schema if isinstance(schema, dict) else None


def _check_budget(model: str, config: dict[str, Any]) -> None:
    budget = (config.get("thinkingConfig") or {}).get("thinkingBudget")
    for prefix, least, most in BUDGETS:
        if budget is None or budget == -1 or not model.startswith(prefix):
            continue
        if budget == 0 and least > 0:
            raise BadRequest("Budget 0 is invalid. This model only works in thinking mode.")
        if not least <= budget <= most:
            raise BadRequest(
                f"The thinking budget {budget} is invalid. Please choose a value between "
                f"{least} and {most}."
            )


def parse(body: Any, path_model: str | None, path_stream: bool, query: dict[str, str]) -> Turn:
    if not isinstance(body, dict):
        raise BadRequest("Invalid JSON payload received.")
    contents = body.get("contents")
    if not path_model:
        raise BadRequest("model is required in the path")
    if (
        not isinstance(contents, list)
        or not contents
        or not all(isinstance(c, dict) for c in contents)
    ):
        raise BadRequest("* GenerateContentRequest.contents: contents is not specified")
    declarations = [
        d
        for t in body.get("tools") or ()
        if isinstance(t, dict)
        for d in t.get("functionDeclarations") or ()
    ]
    tool_tokens = sum(tokens(json_text(d)) for d in declarations)
    system = [body["systemInstruction"]] if isinstance(body.get("systemInstruction"), dict) else []
    per_message = [message_tokens(_part_text(p) for p in _parts(c)) for c in [*system, *contents]]
    config = body.get("generationConfig") or {}
    _check_budget(path_model, config)
    json_mode, schema = _json_output(config)
    return Turn(
        model=path_model,
        stream=path_stream,
        sse=query.get("alt") == "sse",
        prompt_tokens=tool_tokens + sum(per_message),
        user_text=_user_text(contents),
        tool=_tool(declarations, body, contents[-1]),
        max_tokens=as_int(config.get("maxOutputTokens"), "maxOutputTokens"),
        stops=as_stops(config.get("stopSequences")),
        choices=max(as_int(config.get("candidateCount"), "candidateCount") or 1, 1),
        json_mode=json_mode,
        json_schema=schema,
        prefix_tokens=tool_tokens + sum(per_message[:-1]),
        prefix_source=(declarations, system, contents[:-1]),
    )


def account(cache: PromptCache, provider: str, turn: Turn) -> Counts:
    return cache.automatic(provider, turn)


def _metadata(prompt: int, output: int, cached: int = 0) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output,
    }
    if cached:
        meta["cachedContentTokenCount"] = cached
    meta["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    if cached:
        meta["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
    return meta


def usage(counts: Counts, reply: Reply, turn: Turn) -> dict[str, Any]:
    return _metadata(counts.prompt_tokens, reply.output_tokens * turn.choices, counts.cached_tokens)


def _part(reply: Reply, text: str) -> dict[str, Any]:
    return (
        {"functionCall": {"name": reply.tool_name, "args": reply.arguments}}
        if reply.is_tool
        else {"text": text}
    )


def _response(turn: Turn, reply: Reply, rid: int, text: str, last: bool) -> dict[str, Any]:
    candidates = []
    for index in range(turn.choices):
        candidate: dict[str, Any] = {"content": {"parts": [_part(reply, text)], "role": "model"}}
        if last:
            candidate["finishReason"] = FINISH[reply.finish]
        candidate["index"] = index
        candidates.append(candidate)
    return {"candidates": candidates, "modelVersion": turn.model, "responseId": f"sim{rid:012d}"}


def render(turn: Turn, reply: Reply, usage: dict[str, Any] | None, rid: int) -> bytes:
    response = _response(turn, reply, rid, reply.text, last=True)
    if usage is not None:
        response["usageMetadata"] = usage
    return orjson.dumps(response)


def events(turn: Turn, reply: Reply, usage: dict[str, Any] | None, rid: int) -> list[bytes]:
    pieces = [reply.text] if reply.is_tool else (split(reply.text) or [""])
    out, sent = [], ""
    for number, piece in enumerate(pieces, start=1):
        last = number == len(pieces)
        response = _response(turn, reply, rid, piece, last)
        sent += piece
        if usage is not None:
            # Upstream repeats usage on every chunk as a running total; only the last is final.
            prompt = usage.get("promptTokenCount", 0)
            response["usageMetadata"] = (
                usage if last else _metadata(prompt, tokens(sent) * turn.choices)
            )
        out.append(orjson.dumps(response))
    if turn.sse:
        return [b"data: " + data + SSE_END for data in out]
    return [b"[" + out[0], *(b",\r\n" + data for data in out[1:]), b"]"]


def stream_type(turn: Turn) -> bytes:
    return EVENT_STREAM if turn.sse else JSON


def id_headers(rid: int) -> Headers:
    return []
