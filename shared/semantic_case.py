"""Where letter case carries meaning in a question: stdlib only (the edge runs it).

Both embedding models are uncased, and the guard reads casefolded text, so "ls -L" and
"ls -l", "5 mW" and "5 MW", "1 Gb" and "1 GB" are one text to all of them: cosine 1.0, the
strict path's hit. Yet the commonest rewording of all is a change of case ("what is the
capital of germany" / "What is the capital of Germany?", or a question in capitals), so case
may only count where it is part of the name:
  a command-line flag        -L / -l, --S / --s: always;
  a unit after a number      5 mW / 5 MW, 1 Gb / 1 GB: when neither form is all lower case
                             (a writer who types "5 mb" did not choose a case);
  a word cased inside        kB / KB, mW / MW: likewise.
A word both sides write alike in some form ("Germany" twice) is not compared again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CASED = re.compile(r"(?<![\w-])-{1,2}[^\W\d_]{1,3}\b|\d+(?:[.,]\d+)*|[^\W\d_]+")


@dataclass(frozen=True, slots=True)
class CaseForms:
    forms: dict[str, frozenset[str]]  # casefolded word -> how the text writes it
    flags: frozenset[str]
    after_numbers: frozenset[str]

    @classmethod
    def of(cls, text: str) -> CaseForms:
        forms: dict[str, set[str]] = {}
        flags: set[str] = set()
        after: set[str] = set()
        previous_number = False
        for match in _CASED.finditer(text):
            word = match.group()
            if word[0].isdigit():
                previous_number = True
                continue
            key = word.casefold()
            forms.setdefault(key, set()).add(word)
            if word.startswith("-"):
                flags.add(key)
            if previous_number:
                after.add(key)
            previous_number = False
        frozen = {key: frozenset(found) for key, found in forms.items()}
        return cls(frozen, frozenset(flags), frozenset(after))

    def differs(self, other: CaseForms) -> bool:
        """Whether a word both write is cased differently where case is part of the name."""
        for key in self.forms.keys() & other.forms.keys():
            mine, theirs = self.forms[key], other.forms[key]
            if mine & theirs:
                continue
            if key in self.flags or key in other.flags:
                return True
            if any(w.islower() for w in mine | theirs):
                continue
            placed = key in self.after_numbers or key in other.after_numbers
            if placed or any(_cased_inside(w) for w in mine | theirs):
                return True
        return False


def _cased_inside(word: str) -> bool:
    """kB, mW, iPhone: an upper-case letter after the first, beside lower-case ones."""
    letters = word.lstrip("-")
    return any(c.isupper() for c in letters[1:]) and any(c.islower() for c in letters)
