"""MiniLM's transformer blocks in plain numpy: the reference every other engine is held to.

Weights are pre-transposed so every projection is `x @ w + b`, and the batch's rows run as
single 2-D products. encoder_graph runs the same arithmetic on onnxruntime.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

DIMENSION = 384
HEADS = 12
LAYER_NORM_EPS = 1e-12

# Abramowitz & Stegun 7.1.26: |erf error| < 1.5e-7 in exact arithmetic. numpy has no erf, and a
# Python-level math.erf loop would cost milliseconds per call.
_ERF_P = np.float32(0.3275911)
_ERF_A = tuple(
    np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
)
_SQRT_HALF = np.float32(0.7071067811865476)
_ONE = np.float32(1.0)
_GELU_CHUNK = 1 << 14


def erf(x: np.ndarray) -> np.ndarray:
    """Elementwise error function (rational approximation), in float32: |error| < 6e-7, a few
    float32 steps near 1. Float64 halved that error and took 2.5 times as long, about 0.8 ms
    of a 10 ms pass over a short question, for a value the next float32 product rounds anyway."""
    z = np.asarray(x, dtype=np.float32)
    a = np.abs(z)
    t = a * _ERF_P
    t += _ONE
    np.reciprocal(t, out=t)
    poly: np.ndarray = t * _ERF_A[0]
    for coef in _ERF_A[1:]:
        poly += coef
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a
    np.subtract(_ONE, poly, out=poly)
    np.copysign(poly, z, out=poly)
    return poly


def gelu(x: np.ndarray) -> np.ndarray:
    """Exact (erf-based) GELU, as BERT was trained with; the tanh form drifts by ~1e-3."""
    flat = x.reshape(-1)
    out = np.empty_like(flat)
    # Cache-sized chunks: on a whole batch the temporaries would spill to RAM.
    for start in range(0, flat.size, _GELU_CHUNK):
        part = flat[start : start + _GELU_CHUNK]
        y = erf(part * _SQRT_HALF)
        y += _ONE
        y *= part
        y *= np.float32(0.5)
        out[start : start + _GELU_CHUNK] = y
    return out.reshape(x.shape)


def layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    centred = x - x.mean(axis=-1, keepdims=True)
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    return np.asarray(centred / np.sqrt(var + LAYER_NORM_EPS) * gain + bias)


@dataclass(frozen=True)
class Layer:
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
    def from_weights(cls, w: Callable[[str], np.ndarray], i: int) -> Layer:
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

    layers: tuple[Layer, ...]

    def __call__(
        self, x: np.ndarray, shape: tuple[int, int], mask: np.ndarray | None
    ) -> np.ndarray:
        for layer in self.layers:
            x = layer(x, shape, mask)
        return x
