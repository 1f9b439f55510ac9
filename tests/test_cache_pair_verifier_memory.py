"""The origin's pair verifier leaves MiniLM's word-embedding table (47 MB, half the weights) on
disk and reads the rows each text uses (infra.local.tensor_rows). Its judgements must be the
in-memory float32 model's exactly, on a fixed fifth of the development pairs (bench/data's dev
half; the test half stays untouched); the table must not come back into the worker's memory
however many different words it encodes; and the vector index's model must keep the file's
numbers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from safetensors.numpy import load_file

from bench.train_verifier import rows_of
from infra.local.embedding import Encoded, MiniLM, default_model_dir
from infra.local.numpy_blocks import NumpyBlocks
from infra.local.proc import ROOT
from infra.local.tensor_rows import TensorRows
from origin.cache.pair_verifier import PairModel, load_verifier, pair_features

BATCH = 32
# Every SAMPLE-th pair or text: the sets grew five-fold on 2026-12-07, and encoding all of them
# on numpy took minutes per test; a fifth is about what the whole sets were before.
SAMPLE = 5
TABLE_MB = 30522 * 384 * 4 / 2**20  # 44.7 MiB
# In-memory model minus on-disk model, resident after encoding the same texts. Less than the
# table, for allocator noise. Measured: 43.9 MiB; the float16 table this replaced saved 21.7,
# and a numpy memmap of the file 21.1 (the 1,168 word pieces encoded here fault in half of it).
MIN_SAVED_MB = 38.0


@pytest.fixture(scope="module")
def on_disk() -> MiniLM:
    return MiniLM.load(words_on_disk=True)


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


def test_words_read_from_disk_change_no_number_on_the_dev_pairs(
    minilm: MiniLM, on_disk: MiniLM
) -> None:
    rows = rows_of("dev")[::SAMPLE]
    assert len(rows) > 1500
    assert np.array_equal(_probabilities(minilm, rows), _probabilities(on_disk, rows))


def test_encodings_from_disk_are_the_in_memory_model_s(minilm: MiniLM, on_disk: MiniLM) -> None:
    texts = ["How do I reset my password?", "Quarterly revenue grew by twelve percent.", "ok"]
    for mine, reference in zip(on_disk.encode(texts), minilm.encode(texts), strict=True):
        assert mine.pieces == reference.pieces
        assert np.array_equal(mine.states, reference.states)
        assert np.array_equal(mine.sentence, reference.sentence)
    assert np.array_equal(on_disk.embed(texts), minilm.embed(texts))


def test_the_verifier_keeps_the_word_table_on_disk() -> None:
    verifier = load_verifier()
    assert verifier is not None
    words = verifier.encoder.word_emb  # type: ignore[attr-defined]
    assert isinstance(words, TensorRows)
    assert words.shape == (30522, 384)


_RESIDENT_AFTER_ENCODING = textwrap.dedent(
    """
    import sys
    from bench.train_verifier import rows_of
    from infra.local.embedding import MiniLM
    model = MiniLM.load(words_on_disk=sys.argv[1] == "disk")
    texts = sorted({r[k] for split in ("dev", "test") for r in rows_of(split) for k in r
                    if k in ("stored", "request")})[::int(sys.argv[2])]
    for i in range(0, len(texts), 32):
        model.encode(texts[i : i + 32])
    status = open("/proc/self/status").read().splitlines()
    print(next(int(s.split()[1]) for s in status if s.startswith("VmRSS:")) / 1024)
    """
)


def _resident_mb(words: str) -> float:
    run = subprocess.run(
        [sys.executable, "-c", _RESIDENT_AFTER_ENCODING, words, str(SAMPLE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=170,
    )
    return float(run.stdout.strip())


def test_encoding_thousands_of_words_leaves_the_table_on_disk() -> None:
    """A fresh process each, the same texts (every fifth of the labelled pairs' 7,254 texts:
    thousands of distinct word pieces): the on-disk model's resident memory stays about a table
    below the in-memory one's. Fails if the rows were kept (a cache) or memory-mapped (fault-around
    maps ~40 rows per word read) or the table were only narrowed."""
    saved = _resident_mb("memory") - _resident_mb("disk")
    assert MIN_SAVED_MB < saved < TABLE_MB + 8


def test_the_index_model_keeps_the_file_s_float32_weights(minilm: MiniLM) -> None:
    """Loading tensor by tensor must hand the vector index exactly the file's numbers."""
    weights = load_file(str(default_model_dir() / "model.safetensors"))
    assert isinstance(minilm.word_emb, np.ndarray)
    assert minilm.word_emb.dtype == np.float32
    assert np.array_equal(minilm.word_emb, weights["embeddings.word_embeddings.weight"])
    assert isinstance(minilm.blocks, NumpyBlocks)
    layers = minilm.blocks.layers
    qkv = [
        weights[f"encoder.layer.5.attention.self.{n}.weight"].T for n in ("query", "key", "value")
    ]
    assert np.array_equal(layers[5].qkv_w, np.concatenate(qkv, axis=1))
    assert np.array_equal(layers[5].down_w, weights["encoder.layer.5.output.dense.weight"].T)
