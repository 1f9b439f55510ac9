"""`X-Prism-Tags: feature=onboarding,team=growth` -> {"feature": "onboarding", "team": "growth"}.

Rules (the same at the edge and the origin, so a row's tags never depend on which tier wrote it):
- pairs are separated by ",", key and value by the first "=";
- surrounding whitespace is trimmed and control characters are dropped;
- key and value are truncated to 64 characters each (never rejected);
- a pair whose key or value is empty is dropped;
- at most 10 distinct keys are kept, the first ones; a repeated key keeps its first value;
- the result is None when nothing valid remains.
Parsing is total: any string (or None) gives a dict or None, never an exception.
"""

from __future__ import annotations

from shared.text import clean

MAX_PAIRS = 10
MAX_LENGTH = 64


def parse_tags(header: str | None) -> dict[str, str] | None:
    if not header or not isinstance(header, str):
        return None
    tags: dict[str, str] = {}
    for pair in header.split(","):
        key, sep, value = pair.partition("=")
        if not sep:
            continue
        key, value = _field(key), _field(value)
        if key and value and key not in tags:
            tags[key] = value
            if len(tags) == MAX_PAIRS:
                break
    return tags or None


def format_tags(tags: dict[str, str] | None) -> str:
    """The header form of parsed tags; parse_tags(format_tags(t)) == t for parsed t."""
    return ",".join(f"{k}={v}" for k, v in (tags or {}).items())


def _field(text: str) -> str:
    # Truncate, then clean again: a cut can leave trailing whitespace that a re-parse would trim.
    return clean(clean(text)[:MAX_LENGTH])
