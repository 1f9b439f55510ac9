"""The semantic layer embeds a text only when the embedding reads all of it: the bound that
decides it is never below what the real tokenizer makes of a text, and two long prompts that
differ only past the window are never matched by meaning."""

from __future__ import annotations

import glob
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from infra.local.embedding import MiniLM
from shared.embedding_window import MAX_CHARS, WINDOW_PIECES, piece_bound, read_whole
from shared.fingerprint import semantic_scope

DATA = Path(__file__).resolve().parents[1] / "bench" / "data" / "prompts"
REPORT = " ".join(
    ["The quarterly report shows revenue growth in retail, driven by online sales."] * 12
)


@pytest.fixture(scope="module")
def pieces() -> Tokenizer:
    tokenizer = MiniLM.load().tokenizer
    tokenizer.no_truncation()
    return tokenizer


def count(tokenizer: Tokenizer, text: str) -> int:
    return len(tokenizer.encode(text).ids) - 2  # [CLS] and [SEP]


def prompts() -> Iterator[str]:
    for path in sorted(glob.glob(str(DATA / "**" / "*.txt"), recursive=True)):
        for line in Path(path).read_text("utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                yield line.split("\t", 1)[-1].replace("\\n", "\n")


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=400)
    | st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), max_size=200)
    | st.text(st.sampled_from("éàüçñİıßﬁ Åǅ\u0301\u200b\t\n,.;'\"()"), max_size=200)
)
def test_the_bound_is_never_below_the_tokenizer(pieces: Tokenizer, text: str) -> None:
    assert count(pieces, text) <= piece_bound(text)


def test_the_bound_holds_on_every_labelled_prompt(pieces: Tokenizer) -> None:
    texts = list(prompts())
    assert len(texts) > 10_000  # 22 languages, code, long pastes
    counts = [len(e.ids) - 2 for e in pieces.encode_batch(texts)]
    assert all(n <= piece_bound(t) for n, t in zip(counts, texts))


@pytest.mark.parametrize(
    ("text", "whole"),
    [
        ("x" * WINDOW_PIECES, True),
        ("x" * (WINDOW_PIECES + 1), False),
        (" ".join(["ab"] * 127), True),  # spaces make no pieces
        ("가" * 100, True),  # 2 jamo a syllable
        ("각" * 100, False),  # 3 jamo a syllable: a short text past the window
        (" " * MAX_CHARS + "hi", False),  # padding is not read
    ],
)
def test_read_whole(text: str, whole: bool) -> None:
    assert read_whole(text) is whole


def test_long_prompts_sharing_a_prefix_have_no_semantic_scope() -> None:
    for ask in ("Write a tweet announcing this report.", "Summarise the report in plain words."):
        body = {"messages": [{"role": "user", "content": f"{REPORT}\n\n{ask}"}]}
        assert semantic_scope("p1", body) is None
    short = {"messages": [{"role": "user", "content": "Summarise the report in plain words."}]}
    assert semantic_scope("p1", short) is not None
