"""When a semantic-cache match may answer a request: the rules both tiers apply, stdlib only.

A vector match only says two questions are worded alike. Embeddings blur exactly the small
details that change an answer: "15% of 80" vs "of 90", "from Paris to Berlin" vs "from
Berlin to Paris", "with sugar" vs "without sugar", "today" vs "tomorrow", English vs French.
So before a candidate's stored answer is served, `guard()` compares the stored question with
the request and rejects any difference in:
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
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared import semantic_guard_words as W
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
    a, b = _Facts.of(request), _Facts.of(stored)
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


_WORD = re.compile(r"[^\W_](?:[\w'’.\-&+]*[^\W_])?|[$€£¥₹₩%]")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_QUOTED = re.compile(
    r'"([^"]+)"|“([^”]+)”|«([^»]+)»|„([^“”]+)[“”]|`([^`]+)`'
    r"|(?<!\w)'([^']+)'(?!\w)|‘([^’]+)’"
)
_CLOCK = re.compile(r"\d\s*([ap])\.?m\b\.?", re.IGNORECASE)
_SENTENCE_END = {".", "!", "?", ":", ";", "\n", "¿", "¡"}


@dataclass(frozen=True)
class _Facts:
    script: str
    language: str | None
    numbers: Counter[str]
    units: frozenset[str]
    money: frozenset[str]
    dates: frozenset[str]
    negation: bool
    quoted: frozenset[str]
    poles: dict[int, frozenset[int]]  # scale -> the ends of it the text names
    entities: tuple[str, ...]  # in order of first appearance
    words: frozenset[str]
    slots: dict[str, frozenset[str]]

    @classmethod
    def of(cls, text: str) -> _Facts:
        text = unicodedata.normalize("NFKC", text)
        tokens = _tokens(text)
        words = [w for w, _, _ in tokens]
        return cls(
            script=_script(text),
            language=_language(words),
            numbers=_numbers(text, words),
            units=frozenset(W.UNITS[u] for w in words if (u := _singular(w)) in W.UNITS),
            money=frozenset(W.MONEY[m] for w in words if (m := _singular(w)) in W.MONEY),
            dates=_dates(text, tokens),
            negation=any(_negative(w) for w in words),
            quoted=frozenset(
                " ".join(next(g for g in m.groups() if g).casefold().split())
                for m in _QUOTED.finditer(text)
            ),
            poles=_poles(words),
            entities=_entities(tokens),
            words=frozenset(_base(w) for w in words),
            slots=_slots(words),
        )


def _tokens(text: str) -> list[tuple[str, str, bool]]:
    """(casefolded word, word as written, starts a sentence) for every word and symbol."""
    out: list[tuple[str, str, bool]] = []
    last_end, start = 0, True
    for match in _WORD.finditer(text):
        between = text[last_end : match.start()]
        start = start or any(c in _SENTENCE_END for c in between)
        raw = match.group().rstrip(".")
        if raw:
            out.append((raw.casefold().replace("’", "'"), raw, start))
            start = False
        last_end = match.end()
    return out


def _base(word: str) -> str:
    for suffix in ("'s", "'"):
        if word.endswith(suffix) and len(word) > len(suffix):
            return word[: -len(suffix)]
    return word


def _singular(word: str) -> str:
    word = _base(word)
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _poles(words: list[str]) -> dict[int, frozenset[int]]:
    found: dict[int, set[int]] = {}
    for word in words:
        for part in word.split("-"):  # best-selling, low-fat
            for axis, side in next((W.POLES[f] for f in _forms(part) if f in W.POLES), ()):
                found.setdefault(axis, set()).add(side)
    return {axis: frozenset(sides) for axis, sides in found.items()}


def _forms(word: str) -> list[str]:
    """The word, then the bases it may inflect: warmest -> warm, bigger -> big, easier -> easy."""
    forms = [word, _singular(word)]
    for suffix in ("est", "er"):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            stem = word[: -len(suffix)]
            forms += [stem, stem + "e"]
            if len(stem) > 2 and stem[-1] == stem[-2]:
                forms.append(stem[:-1])
            if stem.endswith("i"):
                forms.append(stem[:-1] + "y")
    return forms


def _negated_pair(only_a: frozenset[str], only_b: frozenset[str]) -> bool:
    """Whether one side has a word the other has with a negating prefix (formal/informal)."""
    for x, y in ((x, y) for x in only_a for y in only_b):
        short, long = (x, y) if len(x) < len(y) else (y, x)
        long = long.replace("-", "")
        if len(short) >= 4 and any(long == p + short for p in W.NEGATING_PREFIXES):
            return True
    return False


def _negative(word: str) -> bool:
    return word in W.NEGATIONS or word.endswith("n't")


def _numbers(text: str, words: list[str]) -> Counter[str]:
    found: Counter[str] = Counter()
    for match in _NUMBER.finditer(text):
        raw = match.group()
        if re.fullmatch(r"\d{1,3}(,\d{3})+", raw):
            raw = raw.replace(",", "")
        found[raw.lstrip("0") or "0" if raw.isdigit() else raw] += 1
    for i, word in enumerate(words):
        value = W.NUMBER_WORDS.get(word)
        if value is None or (word == "one" and i and words[i - 1] in W.ONE_AS_PRONOUN):
            continue
        found[value] += 1
    return found


def _dates(text: str, tokens: list[tuple[str, str, bool]]) -> frozenset[str]:
    found = {m.group(1).lower() + "m" for m in _CLOCK.finditer(text)}
    for i, (word, raw, start) in enumerate(tokens):
        near_number = any(
            any(c.isdigit() for c in tokens[j][0]) for j in (i - 1, i + 1) if 0 <= j < len(tokens)
        )
        month = word in W.MONTHS and (
            word not in W.AMBIGUOUS_MONTHS or near_number or (raw[:1].isupper() and not start)
        )
        if month or word in W.DAY_WORDS:
            found.add(word)
        if word in W.RELATIVE and i + 1 < len(tokens) and tokens[i + 1][0] in W.PERIODS:
            found.add(f"{word} {tokens[i + 1][0]}")
    return frozenset(found)


def _entities(tokens: list[tuple[str, str, bool]]) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for word, raw, start in tokens:
        if not raw[:1].isalpha() or any(c.isdigit() for c in raw):
            continue  # numbers are compared on their own
        inner_upper = any(c.isupper() for c in raw[1:])
        shaped = inner_upper or any(c in raw for c in "._@&+")
        named = raw[0].isupper() and word not in ("i", "i'm", "i've", "i'd", "i'll")
        if shaped or (named and (not start or _base(word) not in W.COMMON)):
            found.setdefault(_base(word))
    return tuple(found)


def _entities_match(a: _Facts, b: _Facts) -> bool:
    # A name written in lower case on one side still counts as the same name.
    return all(e in b.words for e in a.entities) and all(e in a.words for e in b.entities)


def _order_differs(a: _Facts, b: _Facts) -> bool:
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


def _slots(words: list[str]) -> dict[str, frozenset[str]]:
    """Directional preposition -> the words filling it ("to" -> {"berlin"})."""
    slots: dict[str, set[str]] = {}
    for i, word in enumerate(words):
        if word not in W.DIRECTIONAL:
            continue
        j = i + 1
        while j < len(words) and words[j] in W.DETERMINERS:
            j += 1
        if j < len(words):
            slots.setdefault(word, set()).add(_base(words[j]))
    return {k: frozenset(v) for k, v in slots.items()}


def _script(text: str) -> str:
    counts: Counter[str] = Counter()
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "UNKNOWN")
            script = name.split(" ", 1)[0]
            # Japanese mixes kana with kanji; Chinese has only the latter.
            counts["JAPANESE" if script in ("HIRAGANA", "KATAKANA") else script] += 1
    if counts.get("JAPANESE"):
        return "JAPANESE"
    return counts.most_common(1)[0][0] if counts else ""


def _language(words: list[str]) -> str | None:
    """The Latin-script language most of the function words belong to, if one clearly leads."""
    parts = [p for w in words for p in re.split("'", w) if p] + [w for w in words if "'" in w]
    scores = sorted(
        ((sum(p in vocab for p in parts), lang) for lang, vocab in W.LANGUAGES.items()),
        reverse=True,
    )
    (best, lang), (second, _) = scores[0], scores[1]
    return lang if best >= 1 and best > second else None
