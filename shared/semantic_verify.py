"""Structural checks on a semantic-cache candidate, beyond the guard's word lists; stdlib only.

The guard (shared.semantic_guard) rejects differences it has words for. Near-misses also come
in shapes no list names, and each check here looks at a shape rather than at words:
  affix      one word swapped for a sibling sharing its stem but not its head or tail:
             upgrade/downgrade, inbound/outbound, import/export, pre-tax/post-tax, check-in/-out;
  operator   the same numbers under another operation (12 times 7 / 12 plus 7);
  sign       the same magnitudes with another sign (-100 minus 37 / 100 minus 37);
  unit       the same number counting something else (30 days / 30 months, 5 km / 5 miles);
  numbers    the same numbers in another order (15% of 80 / 80% of 15, 9 divided by 45);
  swap       exactly one content word on each side differs and everything else is shared:
             a question asked again about another thing (pharmacy / store, sick / vacation);
  symbols    both sides compare with symbols, and not the same ones (a < b / a > b,
             x == None / x != None, == / ===): the words around them barely move the vector.
  case       a word cased differently where case is part of the name: a flag (-L / -l), a
             unit (5 mW / 5 MW), a word cased inside (kB / KB);
  accents    a word both sides accent, differently (é / è);
  glyphs     both sides use symbols outside ASCII, and not the same ones (🙏 / 😂, ∑ / ∫):
             these three are what the uncased embeddings cannot see (shared.semantic_blind_spots).
Which checks run by default was decided on the development half of the labelled pairs (a check
is kept when it removes more near-misses than paraphrases there); `python -m bench.eval` prints
each one's contribution on the test half. A rejection costs a cache miss, never a wrong answer.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shared.semantic_blind_spots import BlindSpots
from shared.spelled_numbers import respell


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_TOKEN = re.compile(r"[+\-−]?\d+(?:[.,]\d+)*|[^\W_]+(?:['’\-][^\W_]+)*|[+*/×÷^]")
_FUNCTION = _words(
    "a an the what whats what's which who whom whose why when where how is are was were be been "
    "being am do does did doing can could should would will shall may might must have has had "
    "i i'm me my mine we us our you your he she it its they them their there here this that "
    "these those and or but if then so in on at to from for of with by about as into onto "
    "after before during over under up down out off than please tell give show let any some "
    "all each every just also way go get got there's it's i'd i'll i've you're many much"
)
# The operations arithmetic questions name, as words or symbols (a closed class).
# The closed class of English function words: what carries no topic of its own.
FUNCTION_WORDS = _FUNCTION
_OPERATORS = {
    **dict.fromkeys(_words("+ plus add adding added sum"), "add"),
    **dict.fromkeys(_words("− minus subtract subtracted difference"), "sub"),
    **dict.fromkeys(_words("* × times multiply multiplied product"), "mul"),
    **dict.fromkeys(_words("/ ÷ divide divided quotient"), "div"),
    **dict.fromkeys(_words("^ power squared cubed raised root sqrt"), "pow"),
}
# Comparison and logic symbols, read whole ("<=" is not "<" and "="). Arrows read as "to" and
# a lone "=" before "?" asks for a result ("2^10 = ?"): neither is compared.
_ARROWS = re.compile(r"[-=]>|<-")
_COMPARISONS = re.compile(r"[=!]==?|[<>]=|<>|&&|\|\||[<>]|=(?!\s*\?)")
_INFLECTIONS = ("ing", "est", "ed", "es", "s", "ly")
_DERIVATIONAL = _words("ation tion sion ment ness able ible ance ence ing ity ive ous")
_MIN_STEM = 4
_MAX_HEAD = 5


@dataclass(frozen=True, slots=True)
class _Text:
    tokens: tuple[str, ...]
    content: frozenset[str]  # stems of content words
    numbers: tuple[str, ...]  # signed, in order
    quantities: frozenset[tuple[str, str]]  # (magnitude, stem of the word counted)
    operators: frozenset[str]
    comparisons: frozenset[str]
    unseen: BlindSpots

    @classmethod
    def of(cls, text: str) -> _Text:
        text = unicodedata.normalize("NFKC", text)
        unseen = BlindSpots.of(text)
        text = text.casefold().replace("’", "'")
        tokens = tuple(_split(respell(_TOKEN.findall(text.replace("−", "-")))))
        return cls(
            unseen=unseen,
            comparisons=frozenset(_COMPARISONS.findall(_ARROWS.sub(" ", text))),
            tokens=tokens,
            content=frozenset(_stem(t) for t in tokens if _is_content(t)),
            numbers=tuple(t.lstrip("+") for t in tokens if t[-1:].isdigit()),
            quantities=frozenset(
                (t.lstrip("+-"), _stem(u))
                for t, u in itertools.pairwise(tokens)
                if t[-1:].isdigit() and _is_content(u) and u not in _OPERATORS
            ),
            operators=frozenset(_OPERATORS[t] for t in tokens if t in _OPERATORS),
        )


def _split(tokens: list[str]) -> list[str]:
    """Hyphenated words stay whole (for the affix check) and also count as their parts;
    "30-day" reads as the number and its unit."""
    out: list[str] = []
    for t in tokens:
        if t[:1].isdigit() and "-" in t:
            out += [p for p in t.split("-", 1) if p]
            continue
        out.append(t)
        if "-" in t[1:]:
            out += [p for p in t.split("-") if p]
    return out


def _is_content(token: str) -> bool:
    # Negation is the guard's to compare ("doesn't" / "does not" are one and the same here).
    return (
        token[:1].isalpha()
        and len(token) > 1
        and token not in _FUNCTION
        and not token.endswith("n't")
        and token not in ("not", "no", "never")
    )


def _stem(word: str) -> str:
    word = word.removesuffix("'s")
    for suffix in _INFLECTIONS:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


Check = Callable[["_Text", "_Text"], bool]


def _affix(a: _Text, b: _Text) -> bool:
    only_a, only_b = a.content - b.content, b.content - a.content
    if any(_siblings(x, y) for x in only_a for y in only_b):
        return True
    hyph_a = {t for t in a.tokens if "-" in t[1:]} - set(b.tokens)
    hyph_b = {t for t in b.tokens if "-" in t[1:]} - set(a.tokens)
    for x in hyph_a:
        for y in hyph_b:
            (xh, _, xt), (yh, _, yt) = x.partition("-"), y.partition("-")
            if (xh == yh) != (xt == yt):
                return True  # check-in / check-out, pre-tax / post-tax
    return False


def _siblings(x: str, y: str) -> bool:
    """upgrad / downgrad, inbound / outbound, import / export: one stem, different heads."""
    n = 0
    while n < min(len(x), len(y)) and x[-1 - n] == y[-1 - n]:
        n += 1
    stem = x[len(x) - n :]
    if n < _MIN_STEM or stem in _DERIVATIONAL or stem.lstrip("aeiou") in _DERIVATIONAL:
        return False
    head_x, head_y = x[: len(x) - n], y[: len(y) - n]
    return bool(head_x and head_y) and max(len(head_x), len(head_y)) <= _MAX_HEAD


def _operator(a: _Text, b: _Text) -> bool:
    return bool(a.operators ^ b.operators) and bool(a.numbers or b.numbers)


def _sign(a: _Text, b: _Text) -> bool:
    def magnitudes(numbers: tuple[str, ...]) -> Counter[str]:
        return Counter(n.lstrip("-") for n in numbers)

    return Counter(a.numbers) != Counter(b.numbers) and magnitudes(a.numbers) == magnitudes(
        b.numbers
    )


def _unit(a: _Text, b: _Text) -> bool:
    units: dict[str, set[str]] = {}
    for number, unit in a.quantities:
        units.setdefault(number, set()).add(unit)
    return any(n in units and u not in units[n] for n, u in b.quantities)


def _numbers(a: _Text, b: _Text) -> bool:
    return Counter(a.numbers) == Counter(b.numbers) and a.numbers != b.numbers


def _swap(a: _Text, b: _Text) -> bool:
    only_a, only_b = a.content - b.content, b.content - a.content
    return len(only_a) == 1 and len(only_b) == 1 and len(a.content & b.content) >= 1


def _symbols(a: _Text, b: _Text) -> bool:
    # One side writing "greater than" in words and the other ">" is a rewording, not a change.
    return bool(a.comparisons and b.comparisons) and a.comparisons != b.comparisons


def _case(a: _Text, b: _Text) -> bool:
    return a.unseen.case_differs(b.unseen)


def _accents(a: _Text, b: _Text) -> bool:
    return a.unseen.accents_differ(b.unseen)


def _glyphs(a: _Text, b: _Text) -> bool:
    return a.unseen.glyphs_differ(b.unseen)


CHECKS: dict[str, Check] = {
    "affix": _affix,
    "operator": _operator,
    "sign": _sign,
    "unit": _unit,
    "numbers": _numbers,
    "swap": _swap,
    "symbols": _symbols,
    "case": _case,
    "accents": _accents,
    "glyphs": _glyphs,
}
# "unit" removed as many paraphrases as near-misses on the development half, so it is off.
# The last four change no pair of the development half (it holds few code comparisons and no
# case, accent or emoji differences); they are on because a symbol or a flag's case is as much
# a fact of the question as a number is, and the embeddings cannot see them.
DEFAULT_CHECKS = (
    "affix",
    "operator",
    "sign",
    "numbers",
    "swap",
    "symbols",
    "case",
    "accents",
    "glyphs",
)


def reordered(request: str, stored: str) -> bool:
    """The same content words, as many of each, in another order: "can a manager fire an
    employee" / "can an employee fire a manager". Embeddings score these almost 1.0 and no word
    differs, so nothing above catches them; but as a check it would also refuse paraphrases
    that only move a clause (on the development half, 7 paraphrases for 5 near-misses), so it
    only keeps such a pair off the strict path: the origin's verifier judges it instead."""
    a, b = _Text.of(request), _Text.of(stored)
    words_a = [_stem(t) for t in a.tokens if _is_content(t)]
    words_b = [_stem(t) for t in b.tokens if _is_content(t)]
    return len(words_a) >= 2 and words_a != words_b and Counter(words_a) == Counter(words_b)


def difference(request: str, stored: str, checks: Iterable[str] = DEFAULT_CHECKS) -> str | None:
    """The first structural check that tells the two questions apart, or None."""
    a, b = _Text.of(request), _Text.of(stored)
    return next((name for name in checks if CHECKS[name](a, b)), None)
