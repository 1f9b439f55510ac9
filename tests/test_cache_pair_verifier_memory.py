"""The origin's pair verifier keeps MiniLM's word-embedding table in float16 (22 MB less per
worker). Its judgements must be the float32 model's: on every development pair (bench/data's
dev half; the test half stays untouched), the same accept/reject at the tuned threshold and
probabilities within float16 rounding. The vector index's embeddings must not move at all."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import load_file

from bench.train_verifier import rows_of
from infra.local.embedding import Encoded, MiniLM, default_model_dir
from origin.cache.pair_verifier import PairModel, load_verifier, pair_features

BATCH = 32
# Measured: 8e-5 at most over the dev pairs; the nearest one to the threshold is 1.2e-4 away.
MAX_PROBABILITY_DRIFT = 1e-3


@pytest.fixture(scope="module")
def half() -> MiniLM:
    return MiniLM.load(word_dtype=np.float16)


def _encoded(model: MiniLM, texts: list[str]) -> dict[str, Encoded]:
    out: dict[str, Encoded] = {}
    for i in range(0, len(texts), BATCH):
        out.update(zip(texts[i : i + BATCH], model.encode(texts[i : i + BATCH])))
    return out


def _probabilities(model: MiniLM, rows: list[dict[str, str]]) -> np.ndarray:
    texts = sorted({r["stored"] for r in rows} | {r["request"] for r in rows})
    encoded = _encoded(model, texts)
    features = np.stack([pair_features(encoded[r["request"]], encoded[r["stored"]]) for r in rows])
    return PairModel.load().probability(features)


def test_float16_words_change_no_judgement_on_the_dev_pairs(minilm: MiniLM, half: MiniLM) -> None:
    rows = rows_of("dev")
    threshold = PairModel.load().threshold
    full, reduced = _probabilities(minilm, rows), _probabilities(half, rows)
    assert len(rows) > 500
    assert np.abs(full - reduced).max() < MAX_PROBABILITY_DRIFT
    assert np.array_equal(full >= threshold, reduced >= threshold)


def test_the_verifier_keeps_half_the_word_table(minilm: MiniLM) -> None:
    verifier = load_verifier()
    assert verifier is not None
    words = verifier.encoder.word_emb  # type: ignore[attr-defined]
    assert words.dtype == np.float16
    assert words.nbytes * 2 == minilm.word_emb.nbytes


def test_the_index_model_keeps_the_file_s_float32_weights(minilm: MiniLM) -> None:
    """Loading tensor by tensor must hand the vector index exactly the file's numbers."""
    weights = load_file(str(default_model_dir() / "model.safetensors"))
    assert minilm.word_emb.dtype == np.float32
    assert np.array_equal(minilm.word_emb, weights["embeddings.word_embeddings.weight"])
    qkv = [
        weights[f"encoder.layer.5.attention.self.{n}.weight"].T for n in ("query", "key", "value")
    ]
    assert np.array_equal(minilm.layers[5].qkv_w, np.concatenate(qkv, axis=1))
    assert np.array_equal(minilm.layers[5].down_w, weights["encoder.layer.5.output.dense.weight"].T)
