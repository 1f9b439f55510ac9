"""What a question states, the facts the semantic guard compares: stdlib only.

`Facts.of(text)` reads a question into the details an embedding blurs: its numbers (digits and
number words), dates and times, money and units, negation, the ends of scales it names
(cheapest/most expensive ...), quoted strings, named entities in order, the words filling
directional slots (from/to/than ...), and its script and language. shared.semantic_guard
rejects a cache match whose facts differ. The edge runs this module in Pyodide: no third-party
imports.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from shared import semantic_guard_words as W
from shared.spelled_numbers import respell

_WORD = re.compile(r"[^\W_](?:[\w'’.\-&+]*[^\W_])?|[$€£¥₹₩%]")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_QUOTED = re.compile(
    r'"([^"]+)"|“([^”]+)”|«([^»]+)»|„([^“”]+)[“”]|`([^`]+)`'
    r"|(?<!\w)'([^']+)'(?!\w)|‘([^’]+)’"
)
# "w/o" would read as the letters w and o: "call w/o consent" is "without", a negation.
_WITHOUT = re.compile(r"(?<!\w)w/(?:o|out)(?!\w)", re.IGNORECASE)
_CLOCK = re.compile(r"\d\s*([ap])\.?m\b\.?", re.IGNORECASE)
_SENTENCE_END = {".", "!", "?", ":", ";", "\n", "¿", "¡"}


@dataclass(frozen=True)
class Facts:
    """The details of one question an answer depends on; two questions agree when these do."""

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
    def of(cls, text: str) -> Facts:
        text = _WITHOUT.sub("without", unicodedata.normalize("NFKC", text))
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


def _negative(word: str) -> bool:
    return word in W.NEGATIONS or word.endswith("n't")


def _numbers(text: str, words: list[str]) -> Counter[str]:
    found: Counter[str] = Counter()
    for match in _NUMBER.finditer(text):
        raw = match.group()
        if re.fullmatch(r"\d{1,3}(,\d{3})+", raw):
            raw = raw.replace(",", "")
        found[raw.lstrip("0") or "0" if raw.isdigit() else raw] += 1
    # Digits were read above; number words are read whole ("one hundred forty-four").
    for word in respell([w for w in words if not w[:1].isdigit()]):
        if word.isdigit():
            found[word] += 1
        elif word not in W.CARDINALS and (value := W.NUMBER_WORDS.get(word)):
            found[value] += 1  # ordinals, dozen, twice ...; a "one" left over is a pronoun
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
