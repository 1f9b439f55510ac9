"""Making client-supplied header text safe to store.

Postgres rejects NUL in text and jsonb, and JSON encoders reject lone surrogates, so a single
bad byte in a tag or session header would otherwise cost us the whole usage row.
"""

import unicodedata

# Unicode spaces and line/paragraph separators become a plain space rather than vanishing:
# dropping a no-break space would silently merge "growth\u00a0team" into one word.
_SEPARATORS = frozenset(("Zs", "Zl", "Zp"))
# Format characters (Cf: ZWJ, ZWNJ) are kept: emoji sequences and Persian or Indic words need
# them, and they are valid in JSON and Postgres text.
_DROPPED = frozenset(("Cc", "Cs"))


def clean(text: str) -> str:
    """Drop control characters and unpaired surrogates, turn Unicode spaces and separators
    into plain spaces, then trim surrounding whitespace."""
    if text.isprintable():
        return text.strip()
    return "".join(_safe(ch) for ch in text).strip()


def _safe(ch: str) -> str:
    category = unicodedata.category(ch)
    if category in _DROPPED:
        return ""
    if category in _SEPARATORS:
        return " "
    return ch
