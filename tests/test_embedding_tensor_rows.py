"""TensorRows reads rows of a safetensors tensor from disk: `take(ids)` must be exactly
`table[ids]` for any ids (repeats, any shape), and a file it cannot read right is refused."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from safetensors.numpy import load_file, save_file

from infra.local.embedding import default_model_dir
from infra.local.tensor_rows import TensorRows

ROWS, COLUMNS = 37, 5


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """Several tensors in one file, so the one asked for does not start at the data's start."""
    rng = np.random.default_rng(7)
    tensors: dict[str, np.ndarray] = {
        "a.bias": rng.standard_normal(3).astype(np.float32),
        "words32": rng.standard_normal((ROWS, COLUMNS)).astype(np.float32),
        "words16": rng.standard_normal((ROWS, COLUMNS)).astype(np.float16),
        "words64": rng.standard_normal((ROWS, COLUMNS)),
    }
    path = tmp_path_factory.mktemp("rows") / "model.safetensors"
    save_file(tensors, str(path))
    return path, tensors


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(["words32", "words16", "words64"]),
    ids=arrays(
        np.int64,
        st.tuples(st.integers(0, 4), st.integers(0, 9)),
        elements=st.integers(0, ROWS - 1),
    ),
)
def test_take_is_indexing(
    tables: tuple[Path, dict[str, np.ndarray]], name: str, ids: np.ndarray
) -> None:
    path, tensors = tables
    rows = TensorRows.locate(path, name)
    got = rows.take(ids)
    assert got.dtype == tensors[name].dtype
    assert got.shape == (*ids.shape, COLUMNS)
    assert np.array_equal(got, tensors[name][ids])


def test_minilm_word_rows_are_the_file_s(minilm_file: Path) -> None:
    rows = TensorRows.locate(minilm_file, "embeddings.word_embeddings.weight")
    table = load_file(str(minilm_file))["embeddings.word_embeddings.weight"]
    ids = np.array([[101, 7592, 2088, 102, 0], [101, 30521, 30521, 1, 102]])
    assert rows.shape == table.shape
    assert rows.nbytes == table.nbytes
    assert np.array_equal(rows.take(ids), table[ids])


@pytest.fixture
def minilm_file() -> Path:
    return default_model_dir() / "model.safetensors"


@pytest.mark.parametrize("bad", [-1, ROWS])
def test_ids_outside_the_table_are_refused(
    tables: tuple[Path, dict[str, np.ndarray]], bad: int
) -> None:
    rows = TensorRows.locate(tables[0], "words32")
    with pytest.raises(IndexError):
        rows.take(np.array([0, bad]))


def _write(path: Path, header: dict[str, object], data: bytes) -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


@pytest.mark.parametrize(
    ("info", "error"),
    [
        # offsets that do not cover rows x columns x itemsize
        ({"dtype": "F32", "shape": [4, 2], "data_offsets": [0, 16]}, "disagree"),
        # a dtype numpy cannot read as is
        ({"dtype": "BF16", "shape": [4, 2], "data_offsets": [0, 16]}, "BF16"),
    ],
)
def test_a_tensor_it_cannot_read_right_is_refused(
    tmp_path: Path, info: dict[str, object], error: str
) -> None:
    path = _write(tmp_path / "bad.safetensors", {"t": info}, bytes(32))
    with pytest.raises(ValueError, match=error):
        TensorRows.locate(path, "t")


def test_a_truncated_file_is_a_short_read_not_garbage(tmp_path: Path) -> None:
    info = {"dtype": "F32", "shape": [4, 2], "data_offsets": [0, 32]}
    path = _write(tmp_path / "cut.safetensors", {"t": info}, bytes(20))
    rows = TensorRows.locate(path, "t")
    assert np.array_equal(rows.take(np.array([0, 1])), np.zeros((2, 2), np.float32))
    with pytest.raises(OSError, match="short read"):
        rows.take(np.array([3]))
