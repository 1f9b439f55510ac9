"""An OpenAI chat request rewritten as an Anthropic Messages request.

Anthropic keeps system text out of the conversation, wants tool calls and results as
content blocks, requires max_tokens, and bills prompt caching by `cache_control` markers
the client places. Those markers are copied exactly where the client put them: moving or
rewriting one would change what the customer pays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from origin.providers import content
from origin.providers.anthropic_thinking import add_thinking
from shared.errors import InvalidRequest

Block = dict[str, Any]
DEFAULT_MAX_TOKENS: Final = 4096
# json_object names no schema for Claude's structured output to constrain with, so the request
# offers this tool, whose input is any JSON object, and the answer's tool input is read back as
# the message text (origin.providers.anthropic): to the client it is plain JSON mode.
JSON_ANSWER_TOOL: Final = "prism_json_answer"


def _json_answer_tool() -> Block:
    return {
        "name": JSON_ANSWER_TOOL,
        "description": "Give your whole answer as this JSON object.",
        "input_schema": {"type": "object"},
    }


def messages_body(body: Mapping[str, Any], model: str, stream: bool) -> dict[str, Any]:
    """The Messages API body for an OpenAI-shaped `body`."""
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("messages must be a non-empty list", param="messages")
    content.refuse_choices(body, "anthropic")
    content.refuse_unanswerable(body, "anthropic")
    system, turns = _conversation(raw)
    out: dict[str, Any] = {
        "model": model,
        "max_tokens": content.max_tokens_of(body) or DEFAULT_MAX_TOKENS,
        "messages": turns,
    }
    if system:
        out["system"] = system
    _sampling(body, out)
    _tools(body, out)
    _output_format(body.get("response_format"), out)
    add_thinking(body, out)  # last: it reads the tool choice and may undo the sampling
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    if stream:
        out["stream"] = True
    return out


def _conversation(raw: list[Any]) -> tuple[list[Block], list[dict[str, Any]]]:
    system: list[Block] = []
    turns: list[dict[str, Any]] = []
    for message in raw:
        if not isinstance(message, dict):
            raise InvalidRequest("each message must be an object", param="messages")
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_marked(message, [_text_block(p) for p in _text_parts(message)]))
        elif role == "user":
            _append(turns, "user", _user_content(message))
        elif role == "assistant":
            blocks = _assistant_blocks(message)
            if blocks:
                _append(turns, "assistant", blocks)
        elif role == "tool":
            _append(turns, "user", [_tool_result(message)])
        else:
            raise InvalidRequest(f"unsupported message role {role!r}", param="messages")
    return system, turns


def _append(turns: list[dict[str, Any]], role: str, blocks: list[Block] | str) -> None:
    # Anthropic wants roles to alternate, and all results of one tool turn in one message.
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"] = _as_blocks(turns[-1]["content"]) + _as_blocks(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _as_blocks(value: list[Block] | str) -> list[Block]:
    return [{"type": "text", "text": value}] if isinstance(value, str) else value


def _text_parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    parts = content.parts_of(message.get("content"))
    for part in parts:
        if part.get("type") != "text":
            raise InvalidRequest(
                f"{message.get('role')} messages may only contain text", param="messages"
            )
    return parts


def _text_block(part: dict[str, Any]) -> Block:
    block: Block = {"type": "text", "text": str(part.get("text") or "")}
    if "cache_control" in part:
        block["cache_control"] = part["cache_control"]
    return block


def _marked(message: dict[str, Any], blocks: list[Block]) -> list[Block]:
    """A marker set on the whole message belongs on its last block (where the prefix ends)."""
    if "cache_control" in message and blocks and "cache_control" not in blocks[-1]:
        blocks[-1] = {**blocks[-1], "cache_control": message["cache_control"]}
    return blocks


def _user_content(message: dict[str, Any]) -> list[Block] | str:
    raw = message.get("content")
    if isinstance(raw, str) and "cache_control" not in message:
        return raw
    return _marked(message, [_user_block(p) for p in content.parts_of(raw)])


def _user_block(part: dict[str, Any]) -> Block:
    kind = part.get("type")
    if kind == "text":
        return _text_block(part)
    if kind == "image_url":
        url = content.image_url_of(part)
        inline = content.data_url(url)
        source = (
            {"type": "base64", "media_type": inline[0], "data": inline[1]}
            if inline
            else {"type": "url", "url": url}
        )
        block: Block = {"type": "image", "source": source}
    elif kind == "file":  # a PDF: Claude reads it as a document block
        media, data = content.file_of(part, "anthropic")
        block = {
            "type": "document",
            "source": {"type": "base64", "media_type": media, "data": data},
        }
    else:
        raise InvalidRequest(f"anthropic cannot take {kind!r} content parts", param="messages")
    if "cache_control" in part:
        block["cache_control"] = part["cache_control"]
    return block


def _assistant_blocks(message: dict[str, Any]) -> list[Block]:
    blocks = [
        _text_block(p)
        for p in content.parts_of(message.get("content"))
        if p.get("type") == "text" and p.get("text")
    ]
    for call in message.get("tool_calls") or ():
        if not isinstance(call, dict):
            raise InvalidRequest("tool_calls entries must be objects", param="messages")
        function = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "input": content.arguments_of(call),
            }
        )
    return _marked(message, blocks)


def _tool_result(message: dict[str, Any]) -> Block:
    raw = message.get("content")
    result: Block = {"type": "tool_result", "tool_use_id": str(message.get("tool_call_id") or "")}
    if isinstance(raw, str) or raw is None:
        result["content"] = raw or ""
    else:
        result["content"] = [_text_block(p) for p in _text_parts(message)]
    if "cache_control" in message:
        result["cache_control"] = message["cache_control"]
    return result


def _sampling(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    temperature, top_p = body.get("temperature"), body.get("top_p")
    if isinstance(temperature, (int, float)) and not isinstance(temperature, bool):
        # OpenAI allows up to 2, Anthropic 1: a request failing over should not 400 on it.
        out["temperature"] = min(float(temperature), 1.0)
    if top_p is not None and "temperature" not in out:
        # Current Claude models reject temperature and top_p together.
        out["top_p"] = top_p
    if body.get("top_k") is not None:
        # Not OpenAI's, but a vendor extension clients send through extra_body; Claude reads it
        # under the same name, and the cache key already holds it.
        out["top_k"] = body["top_k"]
    stops = content.stop_list(body.get("stop"))
    if stops:
        out["stop_sequences"] = stops


def _tools(body: Mapping[str, Any], out: dict[str, Any]) -> None:
    tools = body.get("tools")
    if not tools:
        return
    if not isinstance(tools, list):
        raise InvalidRequest("tools must be a list", param="tools")
    out["tools"] = [_tool(t) for t in tools]
    choice = _tool_choice(body.get("tool_choice"))
    if body.get("parallel_tool_calls") is False and choice.get("type") != "none":
        choice["disable_parallel_tool_use"] = True
    if body.get("tool_choice") is not None or len(choice) > 1:
        out["tool_choice"] = choice


def _tool(tool: Any) -> Block:
    function = content.function_of(tool)
    if function["name"] == JSON_ANSWER_TOOL:
        raise InvalidRequest(f"the tool name {JSON_ANSWER_TOOL} is reserved", param="tools")
    out: Block = {"name": function["name"]}
    if function.get("description"):
        out["description"] = function["description"]
    out["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
    marker = tool.get("cache_control", function.get("cache_control"))
    if marker is not None:
        out["cache_control"] = marker
    return out


def _tool_choice(choice: Any) -> dict[str, Any]:
    if choice is None or choice == "auto":
        return {"type": "auto"}
    if choice == "none":
        return {"type": "none"}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if isinstance(name, str) and name:
            return {"type": "tool", "name": name}
    raise InvalidRequest(
        "tool_choice must be auto, none, required or a named function", param="tool_choice"
    )


def _output_format(fmt: Any, out: dict[str, Any]) -> None:
    """json_schema becomes Claude's structured output (output_config.format), which constrains
    the text answer to the schema; json_object (or a schema-less json_schema) becomes the JSON
    answer tool."""
    if not isinstance(fmt, Mapping) or fmt.get("type") not in ("json_object", "json_schema"):
        return
    spec = fmt.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    if isinstance(schema, Mapping):
        out["output_config"] = {"format": {"type": "json_schema", "schema": dict(schema)}}
    else:  # OpenAI's schema is optional: without one, any JSON object will do
        _offer_json_answer(out)


def _offer_json_answer(out: dict[str, Any]) -> None:
    """As with OpenAI's JSON mode, the model either calls one of the client's tools or answers
    in JSON: with tools it must use one ("any", the JSON answer among them); a named tool
    choice stands, and "none" leaves the JSON answer as the only tool."""
    choice = out.get("tool_choice") or {"type": "auto"}
    tools = out.get("tools") or []
    if choice.get("type") == "tool":
        return
    if choice.get("type") == "none" or not tools:
        out["tools"] = [_json_answer_tool()]
        out["tool_choice"] = {"type": "tool", "name": JSON_ANSWER_TOOL}
        return
    out["tools"] = [*tools, _json_answer_tool()]
    out["tool_choice"] = {**choice, "type": "any"}
