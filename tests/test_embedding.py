"""The numpy MiniLM must reproduce sentence-transformers' all-MiniLM-L6-v2 vectors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.local.embedding import DIMENSION, MiniLM
from infra.local.numpy_blocks import erf, gelu

RESET = "How do I reset my password?"
FORGOT = "What is the procedure to change my forgotten password?"
CAT = "The cat is sleeping on the warm windowsill."
REVENUE = "Quarterly revenue grew by twelve percent."

# Cosines measured with sentence-transformers 6.2.0 + torch 2.13.0 on the same weights.
REFERENCE = [
    (RESET, FORGOT, 0.848),
    (RESET, CAT, 0.104),
    (RESET, REVENUE, -0.015),
    (FORGOT, CAT, 0.114),
    (FORGOT, REVENUE, -0.031),
    (CAT, REVENUE, 0.008),
]


@pytest.mark.parametrize(("a", "b", "expected"), REFERENCE)
def test_cosine_matches_reference(minilm: MiniLM, a: str, b: str, expected: float) -> None:
    va, vb = minilm.embed([a, b])
    assert float(va @ vb) == pytest.approx(expected, abs=2e-3)


@pytest.mark.parametrize(
    "texts",
    [
        [RESET],
        [RESET, FORGOT, CAT, REVENUE],
        ["a", "Ünïcödé — emoji 🎉 and CJK 漢字", "word " * 400],
        [""],
    ],
)
def test_shape_dtype_and_unit_length(minilm: MiniLM, texts: list[str]) -> None:
    vectors = minilm.embed(texts)
    assert vectors.shape == (len(texts), DIMENSION)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_batch(minilm: MiniLM) -> None:
    assert minilm.embed([]).shape == (0, DIMENSION)


def test_batch_padding_does_not_leak_into_vectors(minilm: MiniLM) -> None:
    """Short texts padded next to long ones must embed exactly as they do alone."""
    texts = ["hi", RESET, "word " * 60, CAT]
    batched = minilm.embed(texts)
    alone = np.stack([minilm.embed([t])[0] for t in texts])
    np.testing.assert_allclose(batched, alone, atol=1e-5)


def test_deterministic(minilm: MiniLM) -> None:
    np.testing.assert_array_equal(minilm.embed([FORGOT]), minilm.embed([FORGOT]))


def test_paraphrase_is_nearer_than_unrelated(minilm: MiniLM) -> None:
    query, paraphrase, unrelated = minilm.embed(
        ["I forgot my password, how can I change it?", RESET, REVENUE]
    )
    assert float(query @ paraphrase) > 0.7
    assert float(query @ unrelated) < 0.2


finite = st.floats(min_value=-12, max_value=12, allow_nan=False, width=32)


@given(finite)
def test_erf_matches_math_erf(x: float) -> None:
    got = float(erf(np.array([x], dtype=np.float32))[0])
    assert abs(got - math.erf(x)) < 6e-7  # float32 arithmetic: a few steps of 6e-8 near 1


@given(finite)
def test_gelu_is_the_exact_erf_form(x: float) -> None:
    got = float(gelu(np.array([x], dtype=np.float32))[0])
    exact = 0.5 * x * (1 + math.erf(x / math.sqrt(2)))
    assert abs(got - exact) < 2e-6 * max(1.0, abs(x))
