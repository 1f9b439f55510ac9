"""Parse PostgREST's URL grammar (select, filters, logic trees, order, Prefer) into plain values.

Nothing here touches SQL: names stay raw strings until postgrest_sql checks them against the
schema cache and quotes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from infra.local.postgrest_errors import bad_request

OPERATORS = frozenset(
    {
        "eq",
        "neq",
        "gt",
        "gte",
        "lt",
        "lte",
        "like",
        "ilike",
        "match",
        "imatch",
        "is",
        "isdistinct",
        "in",
        "cs",
        "cd",
        "ov",
    }
)
IS_VALUES = frozenset({"null", "not_null", "true", "false", "unknown"})
ORDER_MODIFIERS = frozenset({"asc", "desc", "nullsfirst", "nullslast"})
LOGIC_KEYS = frozenset({"or", "and", "not.or", "not.and"})
RESERVED_KEYS = (
    frozenset({"select", "order", "limit", "offset", "columns", "on_conflict"}) | LOGIC_KEYS
)
CAST_TYPE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\[\])?$")
ARROW = re.compile(r"(->>|->)")
NESTED_LOGIC = re.compile(r"^(not\.)?(and|or)\((.*)\)$", re.DOTALL)


@dataclass(frozen=True)
class ColumnPath:
    """A column, optionally followed by JSON steps.

    request_tags->>feature is ColumnPath("request_tags", (("->>", "feature"),)).
    """

    column: str
    steps: tuple[tuple[str, str], ...] = ()

    @property
    def output_name(self) -> str:
        return self.steps[-1][1] if self.steps else self.column


@dataclass(frozen=True)
class SelectItem:
    path: ColumnPath | None  # None means "*"
    alias: str | None = None
    cast: str | None = None


@dataclass(frozen=True)
class Condition:
    path: ColumnPath
    op: str
    value: str | tuple[str, ...]
    negate: bool = False


@dataclass(frozen=True)
class Logic:
    conjunction: Literal["and", "or"]
    items: tuple[Condition | Logic, ...]
    negate: bool = False


@dataclass(frozen=True)
class OrderTerm:
    path: ColumnPath
    descending: bool = False
    nulls: Literal["first", "last"] | None = None


@dataclass(frozen=True)
class Query:
    select: tuple[SelectItem, ...] = (SelectItem(None),)
    where: Logic = field(default_factory=lambda: Logic("and", ()))
    order: tuple[OrderTerm, ...] = ()
    limit: int | None = None
    offset: int | None = None
    columns: tuple[str, ...] | None = None
    on_conflict: tuple[str, ...] | None = None


def split_outside(text: str, separator: str) -> list[str]:
    """Split on separator where it is outside double quotes and parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth, quoted, escaped = 0, False, False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif char == separator and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quoted or depth != 0:
        raise bad_request("unbalanced quotes or parentheses", text)
    parts.append("".join(current))
    return parts


def unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1], flags=re.DOTALL)
    return text


def parse_path(text: str) -> ColumnPath:
    pieces = ARROW.split(text.strip())
    column = unquote(pieces[0].strip())
    steps = tuple((pieces[i], unquote(pieces[i + 1])) for i in range(1, len(pieces), 2))
    if not column or any(not key for _, key in steps):
        raise bad_request(f"invalid column reference {text!r}")
    return ColumnPath(column, steps)


def parse_list(text: str) -> tuple[str, ...]:
    """PostgREST's (a,b,"c,d") list syntax; () is the empty list."""
    if len(text) < 2 or text[0] != "(" or text[-1] != ")":
        raise bad_request(f"expected a parenthesised list, got {text!r}")
    inner = text[1:-1]
    return () if inner == "" else tuple(unquote(item) for item in split_outside(inner, ","))


def parse_condition(path: ColumnPath, spec: str, quoted_values: bool = False) -> Condition:
    """Parse `[not.]op.value` for one column; quoted_values unquotes "..." as logic trees allow."""
    negate = spec.startswith("not.")
    op, dot, raw = (spec[4:] if negate else spec).partition(".")
    if op not in OPERATORS or not dot:
        raise bad_request(f"unknown or malformed operator in {spec!r}", hint_ops())
    value: str | tuple[str, ...] = raw
    if op == "in":
        value = parse_list(raw)
    elif op == "is" and raw.lower() not in IS_VALUES:
        raise bad_request(f"is. accepts {sorted(IS_VALUES)}, got {raw!r}")
    elif quoted_values:
        value = unquote(raw)
    return Condition(path, op, value, negate)


def hint_ops() -> str:
    return "supported operators: " + ", ".join(sorted(OPERATORS))


def parse_logic_item(item: str) -> Condition | Logic:
    nested = NESTED_LOGIC.match(item)
    if nested:
        return parse_logic_body(nested.group(2), "(" + nested.group(3) + ")", bool(nested.group(1)))
    column, dot, spec = item.partition(".")
    if not dot:
        raise bad_request(f"malformed logic tree element {item!r}")
    return parse_condition(parse_path(column), spec, quoted_values=True)


def parse_logic_body(conjunction: str, body: str, negate: bool) -> Logic:
    if len(body) < 2 or body[0] != "(" or body[-1] != ")":
        raise bad_request(f"logic tree must be parenthesised: {body!r}")
    items = tuple(parse_logic_item(part.strip()) for part in split_outside(body[1:-1], ","))
    return Logic("and" if conjunction == "and" else "or", items, negate)


def parse_select(text: str) -> tuple[SelectItem, ...]:
    items: list[SelectItem] = []
    for raw in split_outside(text, ","):
        raw = raw.strip()
        if raw == "*":
            items.append(SelectItem(None))
            continue
        if "(" in raw or raw.startswith("..."):
            raise bad_request(
                f"embedding and aggregates are not supported by this stand-in: {raw!r}"
            )
        alias_match = re.match(r'^([^:"]+):(?!:)(.+)$', raw)
        alias, expr = (alias_match.group(1), alias_match.group(2)) if alias_match else (None, raw)
        expr, _, cast = expr.partition("::")
        if cast and not CAST_TYPE.match(cast):
            raise bad_request(f"invalid cast type {cast!r}")
        items.append(SelectItem(parse_path(expr), alias, cast or None))
    if not items:
        raise bad_request("empty select")
    return tuple(items)


def parse_order(text: str) -> tuple[OrderTerm, ...]:
    terms: list[OrderTerm] = []
    for raw in split_outside(text, ","):
        parts = raw.strip().split(".")
        modifiers: list[str] = []
        while len(parts) > 1 and parts[-1] in ORDER_MODIFIERS:
            modifiers.insert(0, parts.pop())
        nulls: Literal["first", "last"] | None = None
        if "nullsfirst" in modifiers:
            nulls = "first"
        elif "nullslast" in modifiers:
            nulls = "last"
        terms.append(OrderTerm(parse_path(".".join(parts)), "desc" in modifiers, nulls))
    return tuple(terms)


def parse_non_negative(name: str, text: str) -> int:
    if not text.isdigit():
        raise bad_request(f"{name} must be a non-negative integer, got {text!r}")
    return int(text)


def parse_names(text: str) -> tuple[str, ...]:
    names = tuple(unquote(name.strip()) for name in split_outside(text, ","))
    if not all(names):
        raise bad_request(f"empty name in list {text!r}")
    return names


def parse_query(params: list[tuple[str, str]]) -> Query:
    """The whole query string of a table request, as multi-valued (key, value) pairs."""
    options: dict[str, object] = {}
    where: list[Condition | Logic] = []
    for key, value in params:
        if key == "select":
            options["select"] = parse_select(value)
        elif key == "order":
            options["order"] = parse_order(value)
        elif key in ("limit", "offset"):
            options[key] = parse_non_negative(key, value)
        elif key in ("columns", "on_conflict"):
            options[key] = parse_names(value)
        elif key in LOGIC_KEYS:
            negate = key.startswith("not.")
            where.append(parse_logic_body(key.removeprefix("not."), value, negate))
        else:
            where.append(parse_condition(parse_path(key), value))
    return Query(where=Logic("and", tuple(where)), **options)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Prefer:
    return_: Literal["minimal", "representation", "headers-only"] = "minimal"
    count: str | None = None
    resolution: Literal["merge-duplicates", "ignore-duplicates"] | None = None
    missing_default: bool = False
    applied: tuple[str, ...] = ()


def parse_prefer(headers: list[str], default_return: str) -> Prefer:
    """Merge every Prefer header; unknown preferences are ignored (PostgREST's lenient mode)."""
    prefs: dict[str, str] = {}
    for header in headers:
        for pref in header.split(","):
            name, _, value = pref.strip().partition("=")
            if name:
                prefs[name] = value
    ret = prefs.get("return", default_return)
    if ret not in ("minimal", "representation", "headers-only"):
        ret = default_return
    resolution = prefs.get("resolution")
    if resolution not in ("merge-duplicates", "ignore-duplicates"):
        resolution = None
    count = prefs.get("count") if prefs.get("count") in ("exact", "planned", "estimated") else None
    applied = [f"return={ret}"] if "return" in prefs else []
    applied += [f"{k}={prefs[k]}" for k in ("resolution", "count", "missing") if k in prefs]
    return Prefer(
        return_=ret,  # type: ignore[arg-type]
        count=count,
        resolution=resolution,  # type: ignore[arg-type]
        missing_default=prefs.get("missing") == "default",
        applied=tuple(applied),
    )
