"""The Upstash Vector metadata filter language, compiled to Python predicates.

Supported: `=`, `!=`, `<`, `<=`, `>`, `>=`, `IN (...)`, `NOT IN (...)`, `GLOB`, `NOT GLOB`,
`CONTAINS`, `NOT CONTAINS`, `HAS FIELD`, `HAS NOT FIELD`, `AND` (binds tighter), `OR`,
parentheses, dotted paths and array indexes (`a.b[0]`, `tags[#-1]`), string (single or double
quoted), number and boolean literals; keywords are case-insensitive. A condition on a field the
vector does not have is false (for `!=` too), and values of different types never compare equal.
The parser is a small recursive descent, never eval: filters carry tenant scoping.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Metadata = dict[str, Any] | None
Predicate = Callable[[Metadata], bool]


class FilterError(ValueError):
    """The filter text does not parse."""


_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|'(?P<sq>(?:[^'\\]|\\.)*)'"
    r'|"(?P<dq>(?:[^"\\]|\\.)*)"|(?P<op><=|>=|!=|=|<|>|\(|\)|,)'
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[#?-?\d+\])*))"
)
_MISSING = object()


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos, text = 0, text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FilterError(
                f"Invalid filter: unexpected input at {pos}: {text[pos : pos + 20]!r}"
            )
        kind = m.lastgroup or ""
        raw = m.group(kind)
        if kind == "num":
            out.append(("lit", float(raw) if any(c in raw for c in ".eE") else int(raw)))
        elif kind in ("sq", "dq"):
            out.append(("lit", re.sub(r"\\(.)", r"\1", raw)))
        elif kind == "word" and raw.lower() in ("true", "false"):
            out.append(("lit", raw.lower() == "true"))
        elif kind == "word" and raw.upper() in _KEYWORDS:
            out.append(("kw", raw.upper()))
        else:
            out.append((kind, raw))
        pos = m.end()
    return out


_KEYWORDS = {"AND", "OR", "NOT", "IN", "GLOB", "CONTAINS", "HAS", "FIELD"}


def _lookup(metadata: Metadata, path: str) -> Any:
    """Resolve `a.b[0][#-1]` in metadata; _MISSING when any step does not exist."""
    value: Any = metadata
    for part in re.findall(r"[A-Za-z_][A-Za-z0-9_]*|\[#?-?\d+\]", path):
        if part.startswith("["):
            idx = int(part[1:-1].replace("#", ""))
            if not isinstance(value, list) or not -len(value) <= idx < len(value):
                return _MISSING
            value = value[idx]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def _same_kind(a: Any, b: Any) -> bool:
    number = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    return (isinstance(a, number) and isinstance(b, number)) or (type(a) is type(b))


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}  # fmt: skip


@dataclass
class _Parser:
    """or := and (OR and)* ; and := atom (AND atom)* ; atom := '(' or ')' | path condition."""

    toks: list[tuple[str, Any]]
    pos: int = 0

    def accept(self, kind: str, value: Any = None) -> bool:
        """Consume the next token if it matches."""
        if self.pos < len(self.toks):
            k, v = self.toks[self.pos]
            if k == kind and (value is None or v == value):
                self.pos += 1
                return True
        return False

    def take(self, kind: str, value: Any = None) -> Any:
        if not self.accept(kind, value):
            found = self.toks[self.pos][1] if self.pos < len(self.toks) else "end of filter"
            raise FilterError(f"Invalid filter: expected {value or kind}, found {found!r}")
        return self.toks[self.pos - 1][1]

    def parse(self) -> Predicate:
        pred = self.disjunction()
        if self.pos != len(self.toks):
            raise FilterError(f"Invalid filter: unexpected {self.toks[self.pos][1]!r}")
        return pred

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.accept("kw", "OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda m: any(p(m) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.atom()]
        while self.accept("kw", "AND"):
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else (lambda m: all(p(m) for p in parts))

    def atom(self) -> Predicate:
        if self.accept("op", "("):
            inner = self.disjunction()
            self.take("op", ")")
            return inner
        return self.condition(self.take("word"))

    def condition(self, path: str) -> Predicate:
        if self.accept("kw", "HAS"):
            absent = self.accept("kw", "NOT")
            self.take("kw", "FIELD")
            return lambda m: (_lookup(m, path) is _MISSING) == absent
        if self.pos < len(self.toks) and self.toks[self.pos][0] == "op":
            test = self.comparison()
        else:
            negate = self.accept("kw", "NOT")
            positive = self.keyword_test(self.take("kw"))
            test = (lambda v: not positive(v)) if negate else positive

        def matches(metadata: Metadata) -> bool:
            value = _lookup(metadata, path)
            return value is not _MISSING and test(value)

        return matches

    def comparison(self) -> Callable[[Any], bool]:
        op, want = self.take("op"), self.take("lit")
        cmp = _COMPARE.get(op)
        if cmp is None:
            raise FilterError(f"Invalid filter: unexpected {op!r}")
        return lambda v: _same_kind(v, want) and cmp(v, want)

    def keyword_test(self, keyword: str) -> Callable[[Any], bool]:
        if keyword == "IN":
            values = self.literals()
            return lambda v: any(_same_kind(v, w) and v == w for w in values)
        want = self.take("lit")
        if keyword == "GLOB" and isinstance(want, str):
            return lambda v: isinstance(v, str) and fnmatch.fnmatchcase(v, want)
        if keyword == "CONTAINS":
            return lambda v: (
                isinstance(v, list) and any(_same_kind(x, want) and x == want for x in v)
            )
        raise FilterError(f"Invalid filter: unsupported operator {keyword} {want!r}")

    def literals(self) -> list[Any]:
        self.take("op", "(")
        values = [self.take("lit")]
        while self.accept("op", ","):
            values.append(self.take("lit"))
        self.take("op", ")")
        return values


def compile_filter(text: str | None) -> Predicate:
    """A metadata filter expression -> predicate over one vector's metadata ("" matches all)."""
    if not text or not text.strip():
        return lambda m: True
    return _Parser(_tokens(text)).parse()
