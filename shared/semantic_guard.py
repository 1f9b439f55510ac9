"""When a semantic-cache match may answer a request: the rules both tiers apply, stdlib only.

A vector match only says two questions are worded alike. Embeddings blur exactly the small
details that change an answer: "15% of 80" vs "of 90", "from Paris to Berlin" vs "from
Berlin to Paris", "with sugar" vs "without sugar", "today" vs "tomorrow", English vs French.
So before a candidate's stored answer is served, `guard()` compares the stored question with
the request (as read by shared.semantic_facts) and rejects any difference in:
    numbers (digits and number words), dates and times, money (symbols, codes, currency
    words) and units, negation, opposites (cheapest/most expensive, enable/disable, before/
    after ...), quoted strings, named entities and their order, the words filling directional
    slots (from/to/than/in ...), and language or script;
then shared.semantic_verify's structural checks (affixes, operators, signs, number order, a
single swapped content word).
A rejection only costs a cache miss; a wrong acceptance serves a wrong answer, so every
check errs towards rejecting. The edge runs this module in Pyodide: no third-party imports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared import semantic_guard_words as W
from shared.semantic_facts import Facts
from shared.semantic_verify import difference

# A conversation with more user turns than this depends on too much context to match by wording.
DEFAULT_MAX_USER_TURNS = 3
DEFAULT_TOP_K = 3


@dataclass(frozen=True)
class Candidate:
    fingerprint: str  # the exact-cache key holding the answer
    similarity: float  # cosine
    question: str = ""  # the stored question, for a second opinion (the origin's verifier)


def semantic_eligible(
    body: Mapping[str, Any], max_user_turns: int = DEFAULT_MAX_USER_TURNS
) -> bool:
    """Whether a request may be answered (or stored) by the semantic layer at all."""
    if body.get("tools") or body.get("functions"):
        return False
    messages = body.get("messages")
    if not isinstance(messages, list):
        return False
    users = 0
    for message in messages:
        if not isinstance(message, Mapping):
            return False
        if message.get("role") in ("tool", "function") or message.get("tool_calls"):
            return False
        users += message.get("role") == "user"
    return 0 < users <= max_user_turns


def cosine_from_score(score: float) -> float:
    """Upstash scores a COSINE index as (1 + cos) / 2; thresholds are stated in cosine."""
    return 2.0 * float(score) - 1.0


def scope_filter(scope: str) -> str:
    """The vector metadata filter selecting entries of exactly this scope (a hex digest)."""
    if not re.fullmatch(r"[0-9a-f]{16,128}", scope):
        raise ValueError("a semantic scope is a hex digest")
    return f"scope = '{scope}'"


def accepted_candidates(
    text: str, scope: str, matches: Iterable[tuple[str, float, Any]], threshold: float
) -> list[Candidate]:
    """Matches (id, Upstash score, metadata) that may answer `text`, most similar first."""
    out: list[Candidate] = []
    for vector_id, score, metadata in matches:
        similarity = cosine_from_score(score)
        if similarity < threshold or not isinstance(metadata, Mapping):
            continue
        stored = metadata.get("text")
        # The filter already selects the scope; checking again costs nothing and keeps a
        # misbehaving index from ever crossing scopes (or projects).
        if metadata.get("scope") != scope or not isinstance(stored, str):
            continue
        if guard(text, stored) is None:
            out.append(Candidate(str(vector_id), similarity, stored))
    return sorted(out, key=lambda c: -c.similarity)


def guard(request: str, stored: str) -> str | None:
    """Why `stored`'s answer must not answer `request` ("numbers", "entities", ...), or None."""
    a, b = Facts.of(request), Facts.of(stored)
    for name in ("script", "numbers", "units", "money", "dates", "negation", "quoted"):
        if getattr(a, name) != getattr(b, name):
            return name
    if any(a.poles[axis] != b.poles[axis] for axis in a.poles.keys() & b.poles.keys()):
        return "opposites"
    if _negated_pair(a.words - b.words, b.words - a.words):
        return "opposites"
    if a.language and b.language and a.language != b.language:
        return "language"
    if not _entities_match(a, b):
        return "entities"
    if _order_differs(a, b):
        return "order"
    return difference(request, stored)


def _negated_pair(only_a: frozenset[str], only_b: frozenset[str]) -> bool:
    """Whether one side has a word the other has with a negating prefix (formal/informal)."""
    for x, y in ((x, y) for x in only_a for y in only_b):
        short, long = (x, y) if len(x) < len(y) else (y, x)
        long = long.replace("-", "")
        if len(short) >= 4 and any(long == p + short for p in W.NEGATING_PREFIXES):
            return True
    return False


def _entities_match(a: Facts, b: Facts) -> bool:
    # A name written in lower case on one side still counts as the same name.
    return all(e in b.words for e in a.entities) and all(e in a.words for e in b.entities)


def _order_differs(a: Facts, b: Facts) -> bool:
    shared = [e for e in a.entities if e in b.entities]
    if shared != [e for e in b.entities if e in a.entities]:
        return True  # "Alice paid Bob" is not "Bob paid Alice"
    common = a.words & b.words
    for prep in a.slots.keys() & b.slots.keys():
        only_a = (a.slots[prep] - b.slots[prep]) & common
        only_b = (b.slots[prep] - a.slots[prep]) & common
        if only_a and only_b:
            return True  # "from Paris to Berlin" is not "from Berlin to Paris"
    return False
