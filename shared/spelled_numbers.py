"""Spelled-out numbers read whole, so that a question writing a number in words and one writing
it in digits state the same number: "one hundred forty-four" is 144, "a hundred" 100, "twenty
five" 25, "two thousand and six" 2006. Stdlib only (the edge runs it in Pyodide)."""

from __future__ import annotations

from collections.abc import Sequence

from shared import semantic_guard_words as W


def respell(words: Sequence[str]) -> list[str]:
    """`words` (casefolded) with each spelled-out number replaced by its digits. Parts that do
    not compose stay separate numbers ("two three", "five twenty"); hyphenated number words are
    read by their parts ("forty-four"); "one" after "which", "this" ... is a pronoun."""
    reader = _Reader()
    parts = [p for w in words for p in _parts(w)]
    for i, part in enumerate(parts):
        before = parts[i - 1] if i else ""
        after = parts[i + 1] if i + 1 < len(parts) else ""
        if part in W.CARDINALS and not (part == "one" and before in W.ONE_AS_PRONOUN):
            reader.cardinal(W.CARDINALS[part])
        elif part in W.SCALES:
            reader.scale(W.SCALES[part])
        elif (part == "a" and after in W.SCALES) or (
            part == "and" and reader.after_scale() and after in W.CARDINALS
        ):
            continue  # "a hundred", "one hundred and five"
        else:
            reader.flush()
            reader.out.append(part)
    reader.flush()
    return reader.out


def _parts(word: str) -> list[str]:
    """A hyphenated word's leading number words apart: "forty-four" -> forty, four;
    "thirty-day" -> thirty, day; "forty-five-year-old" -> forty, five, year-old."""
    pieces = word.split("-")
    n = 0
    while n < len(pieces) and (pieces[n] in W.CARDINALS or pieces[n] in W.SCALES):
        n += 1
    if n == 0 or len(pieces) == 1:
        return [word]
    rest = "-".join(pieces[n:])
    return pieces[:n] + ([rest] if rest else [])


class _Reader:
    """Accumulates one spelled-out number at a time into `out`."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.total = self.current = 0
        self.last: int | None = None  # the size of the last part: 1, 10, or a scale

    def cardinal(self, value: int) -> None:
        size = 10 if value >= 20 and value % 10 == 0 else 1
        if self.last is not None and (self.last <= size or (self.last == 10 and value >= 10)):
            self.flush()  # "two three": two numbers
        self.current += value
        self.last = size

    def scale(self, scale: int) -> None:
        if self.last is not None and (self.last >= scale or (scale == 100 and self.current >= 100)):
            self.flush()
        if scale == 100:
            self.current = max(self.current, 1) * 100
        else:
            self.total, self.current = self.total + max(self.current, 1) * scale, 0
        self.last = scale

    def after_scale(self) -> bool:
        return self.last is not None and self.last >= 100

    def flush(self) -> None:
        if self.last is not None:
            self.out.append(str(self.total + self.current))
        self.total = self.current = 0
        self.last = None
