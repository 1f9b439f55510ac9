"""onnxruntime runs MiniLM's blocks with the numpy reference's numbers: the vector index's
scores, the thresholds fitted on them and the pair verifier's features must not move when
the engine changes."""

from __future__ import annotations

import numpy as np
import pytest

from infra.local.embedding import MiniLM, NumpyBlocks
from infra.local.encoder_graph import OnnxBlocks

TEXTS = [
    ["How do I reset my password?"],
    ["js string to int?"],
    # A batch of very different lengths: padding and its mask are in play.
    ["hi", "What is the refund policy for annual plans if I cancel after two months?", "ok"],
    ["Ünïcödé — emoji 🎉 and CJK 漢字", "¿Cómo cambio mi contraseña?"],
    ["word " * 400],  # truncated at 256 tokens
    ["def add(a, b):\n    return a + b\n\nWhy does add('1', 2) raise TypeError?"],
]


@pytest.fixture(scope="module")
def engines() -> tuple[MiniLM, MiniLM]:
    return MiniLM.load(engine="numpy"), MiniLM.load(engine="onnx")


def test_auto_picks_onnxruntime_where_installed_and_numpy_is_the_default() -> None:
    assert isinstance(MiniLM.load(engine="auto").blocks, OnnxBlocks)
    assert isinstance(MiniLM.load().blocks, NumpyBlocks)


def test_an_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="engine"):
        MiniLM.load(engine="torch")


@pytest.mark.parametrize("texts", TEXTS, ids=range(len(TEXTS)))
def test_both_engines_give_the_same_states_and_vectors(
    engines: tuple[MiniLM, MiniLM], texts: list[str]
) -> None:
    reference, onnx = engines
    assert isinstance(reference.blocks, NumpyBlocks)
    for mine, theirs in zip(onnx.encode(texts), reference.encode(texts), strict=True):
        assert mine.pieces == theirs.pieces
        np.testing.assert_allclose(mine.states, theirs.states, atol=2e-5)
        np.testing.assert_allclose(mine.sentence, theirs.sentence, atol=2e-6)


def test_cosines_agree_to_the_sixth_place(engines: tuple[MiniLM, MiniLM]) -> None:
    """A 0.99 threshold separates hits from misses: the engines must agree far below that."""
    reference, onnx = engines
    texts = [t for batch in TEXTS for t in batch]
    a, b = reference.embed(texts), onnx.embed(texts)
    assert np.abs(a @ a.T - b @ b.T).max() < 1e-6
