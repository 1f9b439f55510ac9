"""What the embeddings cannot see in a question, compared exactly: stdlib only (the edge runs it).

Both embedding models are uncased BERTs: they lowercase, strip accents, and read characters
outside their vocabulary (most emoji and many symbols) as one [UNK]. So "ls -L" / "ls -l",
"how do I type é" / "è", "what does 🙏 mean" / "😂" are one text to them: cosine 1.0, the
strict path's hit. The guard reads casefolded words too. Each difference below is one the
commonest rewordings never make, so it is compared only where it is part of the question:
  case      a command-line flag (-L / -l) always; a unit after a number (5 mW / 5 MW, 1 Gb /
            1 GB) or a word cased inside (kB / KB) when neither form is all lower case (a
            writer who types "5 mb" did not choose a case);
  accents   a word both sides accent, differently (é / è); "cafe" against "café" is typing;
  glyphs    both sides use symbols outside ASCII (emoji, ∑ ∫), and not the same ones.
A word both sides write alike in some form ("Germany" twice) is not compared again.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_CASED = re.compile(r"(?<![\w-])-{1,2}[^\W\d_]{1,3}\b|\d+(?:[.,]\d+)*|[^\W\d_]+")
_GLYPH_CATEGORIES = frozenset(("So", "Sm", "Sk"))


@dataclass(frozen=True, slots=True)
class BlindSpots:
    forms: dict[str, frozenset[str]]  # casefolded word -> how the text writes it
    flags: frozenset[str]
    after_numbers: frozenset[str]
    glyphs: frozenset[str]
    accented: dict[str, str]  # unaccented word -> how this text accents it

    @classmethod
    def of(cls, text: str) -> BlindSpots:
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
        glyphs = frozenset(
            ()
            if text.isascii()
            else (
                c for c in text if not c.isascii() and unicodedata.category(c) in _GLYPH_CATEGORIES
            )
        )
        frozen = {key: frozenset(found) for key, found in forms.items()}
        accented = {} if text.isascii() else _accented(frozen)
        return cls(frozen, frozenset(flags), frozenset(after), glyphs, accented)

    def case_differs(self, other: BlindSpots) -> bool:
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

    def accents_differ(self, other: BlindSpots) -> bool:
        """Whether a word both sides accent is accented differently (é / è)."""
        mine, theirs = self.accented, other.accented
        return any(mine[base] != theirs[base] for base in mine.keys() & theirs.keys())

    def glyphs_differ(self, other: BlindSpots) -> bool:
        return bool(self.glyphs and other.glyphs) and self.glyphs != other.glyphs


def _cased_inside(word: str) -> bool:
    """kB, mW, iPhone: an upper-case letter after the first, beside lower-case ones."""
    letters = word.lstrip("-")
    return any(c.isupper() for c in letters[1:]) and any(c.islower() for c in letters)


def _accented(forms: dict[str, frozenset[str]]) -> dict[str, str]:
    """Unaccented word -> its accented form, for the words this text writes with accents."""
    out: dict[str, str] = {}
    for key in forms:
        base = _strip_accents(key)
        if base != key:
            out[base] = key
    return out


def _strip_accents(word: str) -> str:
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
