"""How deeply a JSON text nests, found without parsing it, so no parser can be made to recurse.

Both tiers parse request JSON with recursive parsers (CPython's and Pyodide's `json`, orjson),
and the code that walks the result (validation, the cache fingerprint) recurses too. A body of
100,000 nested brackets exhausts the Pyodide stack and kills the edge's process, so every
client-supplied JSON text is measured here first, and anything deeper than `MAX_JSON_DEPTH` is
refused with a 400 before any recursive code sees it.

The measurement never recurses and never loops in Python per character (see below).
"""

from __future__ import annotations

import re
from typing import Final

from shared.errors import InvalidRequest

# A chat request nests about 8 levels (body > messages > message > content part > ...); tool
# JSON Schemas add some more. 64 leaves ample room for real requests and keeps every recursive
# walk on both tiers (Pyodide's stack is the smaller) far from its limit.
MAX_JSON_DEPTH: Final = 64

# A string literal, unterminated ones included (the parser reports those): brackets inside
# strings are text, not structure.
_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
# Keep only brackets, and treat both kinds alike: depth does not care which kind nests.
_SAME_KIND: Final = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS: Final = bytes(sorted(set(range(256)) - set(b"[]{}")))


# Pair-deleting passes made before walking what is left run by run (see json_depth_exceeds).
_PASSES: Final = 8
_RUN: Final = re.compile(rb"\[+|\]+")


def json_depth_exceeds(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when `text` opens more than `limit` arrays/objects inside one another.

    Works on any text, valid JSON or not (a parser stops at the first unmatched closer, so
    only the nesting before that can make it recurse). Nothing loops in Python per character:
    strings are cut out and brackets kept by C loops; then each `replace` pass deletes the
    innermost pairs, so a document of depth d <= 8 vanishes in exactly d passes. Deeper
    ones leave a residue at most len/9 runs long, walked run by run; the estimate then errs
    high by under 8 levels, never low.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if data.count(b"[") + data.count(b"{") <= limit:
        return False  # nesting needs an opener per level: most texts stop here, in C
    brackets = _STRING.sub(b"", data).translate(_SAME_KIND, _NOT_BRACKETS)
    passes = 0
    while passes < _PASSES and b"[]" in brackets:
        brackets = brackets.replace(b"[]", b"")
        passes += 1
    depth = deepest = 0
    for run in _RUN.finditer(brackets):
        step = run.end() - run.start()
        if brackets[run.start()] == ord("]"):
            depth -= step
            if depth < 0:
                break  # unmatched closer: the parser stops here
        else:
            depth += step
            deepest = max(deepest, depth)
        if passes + deepest > limit:
            return True
    return passes + deepest > limit


def check_json_depth(
    text: str | bytes, what: str = "request body", param: str | None = None
) -> None:
    """Raise a 400 (`json_too_deep`) when `text` nests deeper than `MAX_JSON_DEPTH`."""
    if json_depth_exceeds(text):
        raise InvalidRequest(
            f"The {what} nests JSON deeper than {MAX_JSON_DEPTH} levels.",
            code="json_too_deep",
            param=param,
        )
