"""onnxruntime runs MiniLM's blocks with the numpy reference's numbers: the vector index's
scores, the thresholds fitted on them and the pair verifier's features must not move when
the engine changes."""

from __future__ import annotations

import numpy as np
import pytest

from infra.local import onnx_wire
from infra.local.embedding import MiniLM
from infra.local.encoder_graph import OnnxBlocks
from infra.local.numpy_blocks import NumpyBlocks
from origin.cache.pair_verifier import load_verifier

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


@pytest.mark.parametrize(
    ("n", "wire"),
    [
        (0, "00"),
        (1, "01"),
        (127, "7f"),
        (128, "8001"),
        (300, "ac02"),
        (-1, "ffffffffffffffffff01"),  # an int64 field carries its two's complement
    ],
)
def test_varints_are_protobuf_s(n: int, wire: str) -> None:
    assert onnx_wire._varint(n).hex() == wire


def test_a_boolean_attribute_is_refused() -> None:
    with pytest.raises(TypeError, match="boolean"):
        onnx_wire.node("Softmax", ["x"], ["y"], axis=True)


def test_the_verifier_on_onnxruntime_decides_as_on_numpy() -> None:
    pairs = [
        ("What's the way to reset my password?", "How do I reset my password?"),
        ("What's the way to reset my password?", "How do I reset my router?"),
        ("Can a manager fire an employee?", "Can an employee fire a manager?"),
        ("How many days of annual leave do I get?", "How many months of annual leave do I get?"),
    ]
    on_numpy, on_onnx = load_verifier(engine="numpy"), load_verifier(engine="onnx")
    assert on_numpy is not None and on_onnx is not None
    assert isinstance(on_onnx.encoder.blocks, OnnxBlocks)  # type: ignore[attr-defined]
    for asked, stored in pairs:
        assert on_onnx.accepts(asked, [stored]) == on_numpy.accepts(asked, [stored])
