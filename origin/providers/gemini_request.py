"""An OpenAI chat request rewritten as a Gemini generateContent request.

Gemini calls the assistant "model", keeps system text in `systemInstruction`, pairs a tool
result with the *name* of the function that was called (OpenAI pairs it by call id, so the
name is looked up in the assistant turn that made the call), and accepts only a subset of
JSON Schema for tool parameters and structured output.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from typing import Any, Final

import orjson

from origin.providers import content
from shared.errors import InvalidRequest

Part = dict[str, Any]
# The OpenAPI-style Schema fields Gemini accepts; it rejects the whole request for any other.
_SCHEMA_KEYS: Final = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "maxItems",
        "minItems",
        "properties",
        "required",
        "minProperties",
        "maxProperties",
        "minLength",
        "maxLength",
        "pattern",
        "example",
        "anyOf",
        "propertyOrdering",
        "default",
        "items",
        "minimum",
        "maximum",
    }
)
_MODES: Final = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
# The thinking budgets each Gemini 2.5 model takes (Google's thinking guide), by upstream name
# prefix: Pro cannot stop thinking (a budget of 0 is a 400, "This model only works in thinking
# mode") and thinks at least 128 tokens, so "none" is the least it can do; Flash can stop, and
# thinks at most 24576.
_BUDGET_RANGES: Final = (("gemini-2.5-pro", 128, 32768), ("gemini-2.5-flash", 0, 24576))


def generate_body(body: Mapping[str, Any], model: str = "") -> dict[str, Any]:
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise InvalidRequest("messages must be a non-empty list", param="messages")
    content.refuse_unanswerable(body, "gemini")
    system, contents = _conversation(raw)
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    tools = body.get("tools")
    if tools:
        if not isinstance(tools, list):
            raise InvalidRequest("tools must be a list", param="tools")
        out["tools"] = [{"functionDeclarations": [_declaration(t) for t in tools]}]
        if body.get("tool_choice") is not None:
            out["toolConfig"] = {"functionCallingConfig": _calling_config(body["tool_choice"])}
    config = generation_config(body, model)
    if config:
        out["generationConfig"] = config
    return out


def _conversation(raw: list[Any]) -> tuple[list[Part], list[dict[str, Any]]]:
    system: list[Part] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool call id -> function name, from the assistant turns
    for message in raw:
        if not isinstance(message, dict):
            raise InvalidRequest("each message must be an object", param="messages")
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(
                {"text": str(p.get("text") or "")}
                for p in content.parts_of(message.get("content"))
                if p.get("type") == "text"
            )
        elif role == "user":
            _append(
                contents, "user", [_user_part(p) for p in content.parts_of(message.get("content"))]
            )
        elif role == "assistant":
            _append(contents, "model", _model_parts(message, names))
        elif role == "tool":
            _append(contents, "user", [_function_response(message, names)])
        else:
            raise InvalidRequest(f"unsupported message role {role!r}", param="messages")
    return system, contents


def _append(contents: list[dict[str, Any]], role: str, parts: list[Part]) -> None:
    if not parts:
        return  # Gemini rejects a turn without parts.
    # Parallel calls' results must arrive together, in one turn after the call.
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"] = contents[-1]["parts"] + parts
    else:
        contents.append({"role": role, "parts": parts})


def _user_part(part: dict[str, Any]) -> Part:
    kind = part.get("type")
    if kind == "text":
        return {"text": str(part.get("text") or "")}
    if kind == "image_url":
        url = content.image_url_of(part)
        inline = content.data_url(url)
        if inline:
            return {"inlineData": {"mimeType": inline[0], "data": inline[1]}}
        mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    if kind == "file":  # a PDF or other document, inline as Gemini takes any media
        mime, data = content.file_of(part, "gemini")
        return {"inlineData": {"mimeType": mime, "data": data}}
    if kind == "input_audio":
        audio = part.get("input_audio") or {}
        return {
            "inlineData": {
                "mimeType": f"audio/{audio.get('format') or 'wav'}",
                "data": str(audio.get("data") or ""),
            }
        }
    raise InvalidRequest(f"gemini cannot take {kind!r} content parts", param="messages")


def _model_parts(message: dict[str, Any], names: dict[str, str]) -> list[Part]:
    parts: list[Part] = [
        {"text": str(p["text"])}
        for p in content.parts_of(message.get("content"))
        if p.get("type") == "text" and p.get("text")
    ]
    for call in message.get("tool_calls") or ():
        if not isinstance(call, dict):
            raise InvalidRequest("tool_calls entries must be objects", param="messages")
        name = str((call.get("function") or {}).get("name") or "")
        names[str(call.get("id"))] = name
        parts.append({"functionCall": {"name": name, "args": content.arguments_of(call)}})
    return parts


def _function_response(message: dict[str, Any], names: dict[str, str]) -> Part:
    name = names.get(str(message.get("tool_call_id"))) or message.get("name")
    if not name:
        raise InvalidRequest(
            "a tool message answers no tool call made earlier in the conversation", param="messages"
        )
    text = content.text_of(message.get("content"))
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        parsed = None
    # Gemini wants an object back; a tool that returned one keeps its structure.
    response = parsed if isinstance(parsed, dict) else {"content": text}
    return {"functionResponse": {"name": name, "response": response}}


def _declaration(tool: Any) -> dict[str, Any]:
    function = content.function_of(tool)
    out: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        out["description"] = function["description"]
    if function.get("parameters"):
        out["parameters"] = schema(function["parameters"], "tools")
    return out


def _calling_config(choice: Any) -> dict[str, Any]:
    if isinstance(choice, str) and choice in _MODES:
        return {"mode": _MODES[choice]}
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if isinstance(name, str) and name:
            return {"mode": "ANY", "allowedFunctionNames": [name]}
    raise InvalidRequest(
        "tool_choice must be auto, none, required or a named function", param="tool_choice"
    )


def generation_config(body: Mapping[str, Any], model: str = "") -> dict[str, Any]:
    config: dict[str, Any] = {}
    for ours, theirs in (
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),  # a vendor extension (extra_body) Gemini has under its own name
        ("n", "candidateCount"),
        ("seed", "seed"),
        # presence_penalty and frequency_penalty are left out: Gemini 2.5 refuses the whole
        # request for them ("Penalty is not enabled for models/gemini-2.5-flash"), and a
        # penalty only nudges word choice (Anthropic has none either).
    ):
        if body.get(ours) is not None:
            config[theirs] = body[ours]
    limit = content.max_tokens_of(body)
    if limit is not None:
        config["maxOutputTokens"] = limit
    stops = content.stop_list(body.get("stop"))
    if stops:
        config["stopSequences"] = stops
    if body.get("reasoning_effort") is not None:
        budget = _thinking_budget(content.thinking_budget(body["reasoning_effort"]), model)
        config["thinkingConfig"] = {"thinkingBudget": budget}
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        spec = fmt.get("json_schema")
        if fmt["type"] == "json_schema" and isinstance(spec, dict) and spec.get("schema"):
            config["responseSchema"] = schema(spec["schema"])
    return config


def _thinking_budget(budget: int, model: str) -> int:
    """`budget` within what `model` takes (unchanged for a model not listed)."""
    for prefix, least, most in _BUDGET_RANGES:
        if model.removeprefix("models/").startswith(prefix):
            return min(max(budget, least), most)
    return budget


def schema(value: Any, param: str = "response_format") -> Any:
    """A JSON Schema cut down to what Gemini's Schema accepts (unknown keywords dropped).

    Gemini's Schema has no `$ref`, and pydantic (so the SDK's `parse`) puts every nested model
    in `$defs` behind one: dropped, the nested object would reach Gemini as `{}`. Local
    references are inlined instead; a recursive one cannot be, and is refused."""
    return _cut(value, _definitions(value), (), param)


def _definitions(root: Any) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for key in ("$defs", "definitions"):
        found = root.get(key) if isinstance(root, dict) else None
        if isinstance(found, dict):
            table.update({f"#/{key}/{name}": sub for name, sub in found.items()})
    return table


def _cut(value: Any, defs: dict[str, Any], seen: tuple[str, ...], param: str) -> Any:
    if not isinstance(value, dict):
        return value
    ref = value.get("$ref")
    if isinstance(ref, str):
        if ref not in defs:
            raise InvalidRequest(
                f"gemini cannot resolve the schema reference {ref!r}: only references to "
                "the schema's own $defs can be inlined",
                param=param,
            )
        if ref in seen:
            raise InvalidRequest(
                f"gemini cannot take a recursive schema ({ref} contains itself)", param=param
            )
        siblings = {k: v for k, v in value.items() if k != "$ref"}
        return _cut({**defs[ref], **siblings}, defs, (*seen, ref), param)
    out: dict[str, Any] = {}
    if isinstance(value.get("const"), str) and "enum" not in value:
        # pydantic's Literal["a"] (a discriminated union's tag): Gemini has no const.
        out["enum"] = [value["const"]]
    for key, item in value.items():
        if key not in _SCHEMA_KEYS:
            continue
        if key == "properties" and isinstance(item, dict):
            out[key] = {name: _cut(sub, defs, seen, param) for name, sub in item.items()}
        elif key == "items":
            out[key] = _cut(item, defs, seen, param)
        elif key == "anyOf" and isinstance(item, list):
            out[key] = [_cut(sub, defs, seen, param) for sub in item]
        elif key == "type" and isinstance(item, list):
            # JSON Schema's ["string", "null"] is Gemini's type + nullable.
            kinds = [k for k in item if k != "null"]
            out[key] = kinds[0] if kinds else "string"
            if len(kinds) < len(item):
                out["nullable"] = True
        else:
            out[key] = item
    return out
