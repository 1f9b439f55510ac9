"""Making client-supplied header text safe to store.

Postgres rejects NUL in text and jsonb, and JSON encoders reject lone surrogates, so a single
bad byte in a tag or session header would otherwise cost us the whole usage row.
"""


def clean(text: str) -> str:
    """Drop control characters and unpaired surrogates, then trim surrounding whitespace."""
    if text.isprintable() and not _has_surrogate(text):
        return text.strip()
    return "".join(
        ch for ch in text if ch.isprintable() or ch == " " if not 0xD800 <= ord(ch) <= 0xDFFF
    ).strip()


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
