"""Whether the semantic layer's embedding reads a text whole: stdlib only (the edge runs it).

Both embedding models (MiniLM locally, BGE-small-en-v1.5 on Upstash Vector) read at most a
fixed number of word pieces and silently drop the rest: MiniLM 256, BGE 512, each counting
[CLS] and [SEP]. Two long prompts that share their first 254 pieces (a pasted report) and
differ only after them ("... write a tweet about it" / "... summarise it") embed to the same
vector, cosine 1.0, and only the guard would stand between the second and the first answer.
So a text is matched and stored by meaning only when the embedding provably sees all of it.

The proof needs no tokenizer. BERT's uncased WordPiece lowercases, decomposes (NFD) and drops
combining marks, splits on whitespace, then cuts each word into pieces of at least one
character. So it never makes more pieces than the non-space characters left after that
normalisation, which `piece_bound` counts: a Hangul syllable decomposes into its two or three
jamo and counts as them, an accented letter counts once. On 26,253 prompts in bench/data (22
languages, code, long pastes) the bound was never below the tokenizer's count, and 93% of the
app prompts fall within the window.
"""

from __future__ import annotations

import unicodedata

# MiniLM's 256 pieces less [CLS] and [SEP]: the smaller of the two models' windows.
WINDOW_PIECES = 254
# A text this long is whitespace padding around at most the window: not worth reading.
MAX_CHARS = 8 * WINDOW_PIECES


def piece_bound(text: str) -> int:
    """An upper bound on the word pieces BERT's uncased tokenizer makes of `text`."""
    if text.isascii():  # unchanged by the normalisation: one piece at most per character
        return sum(map(len, text.split()))
    normal = unicodedata.normalize("NFD", text.lower())
    return sum(1 for c in normal if not c.isspace() and unicodedata.category(c) != "Mn")


def read_whole(text: str) -> bool:
    """Whether both embedding models read all of `text`."""
    if len(text) > MAX_CHARS:
        return False
    return piece_bound(text) <= WINDOW_PIECES
