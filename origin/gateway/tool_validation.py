"""Checking the tool-use parts of a chat body: tool definitions, calls and results.

Each adapter rewrites tool use into its provider's shape, and a malformed piece would be
sent (and billed) before the provider rejects it, or be rewritten into something the
client never asked for. So every shape an adapter relies on is checked here first.
"""

from __future__ import annotations

from typing import Any

from shared.errors import InvalidRequest

# JSON Schema's type names; `parameters` must describe an object, as every provider requires.
_SCHEMA_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


def check_tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise InvalidRequest("'tools' must be an array.", param="tools")
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise InvalidRequest(f"'{where}' must be an object.", param=where)
        if tool.get("type", "function") != "function":
            raise InvalidRequest(
                f"'{where}.type' must be 'function'; no other tool type is supported.",
                param=f"{where}.type",
            )
        function = tool.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidRequest(f"'{where}' must be a function tool with a name.", param=where)
        _check_parameters(function.get("parameters"), f"{where}.function.parameters")


def _check_parameters(schema: Any, where: str) -> None:
    if schema is None:
        return
    if not isinstance(schema, dict):
        raise InvalidRequest(f"'{where}' must be a JSON Schema object.", param=where)
    kind = schema.get("type")
    if kind is not None and kind != "object":
        raise InvalidRequest(
            f"'{where}.type' must be 'object': a function takes named arguments.", param=where
        )
    properties = schema.get("properties")
    if properties is not None and not (
        isinstance(properties, dict) and all(isinstance(p, dict) for p in properties.values())
    ):
        raise InvalidRequest(
            f"'{where}.properties' must map names to JSON Schema objects.", param=where
        )
    required = schema.get("required")
    if required is not None and not (
        isinstance(required, list) and all(isinstance(r, str) for r in required)
    ):
        raise InvalidRequest(f"'{where}.required' must be an array of names.", param=where)
    for name, sub in (properties or {}).items():
        sub_kind = sub.get("type")
        kinds = sub_kind if isinstance(sub_kind, list) else [sub_kind]
        if sub_kind is not None and not all(k in _SCHEMA_TYPES for k in kinds):
            raise InvalidRequest(
                f"'{where}.properties.{name}.type' is not a JSON Schema type.", param=where
            )


def check_tool_use(message: dict[str, Any], where: str) -> None:
    """A message's tool calls (assistant) or tool result (tool), as the adapters read them."""
    if message.get("role") == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidRequest(
                f"'{where}.tool_call_id' is required on a tool message: it names the call "
                "this is the result of.",
                param=f"{where}.tool_call_id",
            )
    calls = message.get("tool_calls")
    if calls is None:
        return
    if not isinstance(calls, list):
        raise InvalidRequest(f"'{where}.tool_calls' must be an array.", param=f"{where}.tool_calls")
    for j, call in enumerate(calls):
        _check_call(call, f"{where}.tool_calls[{j}]")


def _check_call(call: Any, where: str) -> None:
    if not isinstance(call, dict):
        raise InvalidRequest(f"'{where}' must be an object.", param=where)
    if not isinstance(call.get("id"), str) or not call["id"]:
        raise InvalidRequest(f"'{where}.id' must be a non-empty string.", param=f"{where}.id")
    if call.get("type", "function") != "function":
        raise InvalidRequest(f"'{where}.type' must be 'function'.", param=f"{where}.type")
    function = call.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise InvalidRequest(
            f"'{where}.function' must be an object with a name.", param=f"{where}.function"
        )
    if not isinstance(function.get("arguments"), str):
        raise InvalidRequest(
            f"'{where}.function.arguments' must be a string of JSON, as the model produced it.",
            param=f"{where}.function.arguments",
        )
