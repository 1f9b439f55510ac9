"""MiniLM's six transformer blocks as an ONNX graph, run by onnxruntime on one thread.

The numpy blocks (numpy_blocks.Layer) are the reference; this runs the same float32 weights, op
for op, about twice as fast on a short question. For a handful of tokens the work is matrix
products with a few rows against 384-wide weights, and numpy's BLAS repacks each weight
matrix on every call: most of a pass is spent copying weights, not multiplying them.
onnxruntime packs each weight once, when the session is made. The outputs agree with the
numpy blocks to about 1e-6 (tests/test_embedding_engines.py), so thresholds and the pair
verifier's weights, fitted on the numpy vectors, hold unchanged.

With `int8` every projection keeps its weights in 8 bits instead (onnxruntime's MatMulNBits:
one scale per block of 32 inputs, products in int8 with the activations quantized per block
too): a quarter of the weights' memory and about twice as fast again, for sentence vectors at
a cosine of about 0.9996 to the reference's, 0.998 for a one-word text
(tests/test_embedding_engines.py). The pair verifier,
whose features it computes, is trained on that engine's numbers (bench.train_verifier).

The graph is built from the weights of the installed model package at start-up (protobuf
written by onnx_wire, no `onnx` package) into a temporary file that onnxruntime loads and the
session outlives; no model file is shipped. Loaded from a file, a session holds about 50 MB for
the 42 MB of weights; loaded from bytes it kept about 85 MB. The word-embedding lookup and the
first layer norm stay in numpy (embedding.py): the table can then stay on disk (tensor_rows)
where memory counts.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import count

import numpy as np

from infra.local import onnx_wire
from infra.local.numpy_blocks import LAYER_NORM_EPS, Layer

# onnxruntime 1.31 reads models up to IR version 13 and opset 17 has LayerNormalization.
_IR_VERSION = 8
_OPSET = 17
_INPUT, _MASK, _OUTPUT = "hidden", "mask_bias", "states"
# MatMulNBits lives in onnxruntime's own operator domain. Accuracy level 4 multiplies in int8
# (VNNI where the CPU has it); lower levels dequantize to float first and ran 6 times slower.
_CONTRIB = ("com.microsoft", 1)
INT8_BLOCK = 32
_INT8_ACCURACY = 4


@dataclass
class _Graph:
    """Nodes and weights being collected, with fresh names for every intermediate."""

    int8: bool = False
    nodes: list[bytes] = field(default_factory=list)
    weights: list[bytes] = field(default_factory=list)
    _names: count[int] = field(default_factory=count)

    def weight(self, array: np.ndarray) -> str:
        name = f"w{next(self._names)}"
        self.weights.append(onnx_wire.tensor(name, np.asarray(array)))
        return name

    def op(
        self, kind: str, inputs: Sequence[str], domain: str = "", **attributes: onnx_wire.Attribute
    ) -> str:
        name = f"t{next(self._names)}"
        self.nodes.append(onnx_wire.node(kind, inputs, [name], domain, **attributes))
        return name

    def dense(self, x: str, w: np.ndarray, b: np.ndarray) -> str:
        if not self.int8:
            return self.op("Add", [self.op("MatMul", [x, self.weight(w)]), self.weight(b)])
        codes, scales = int8_blocks(w)
        inputs, (k, n) = [x, self.weight(codes), self.weight(scales)], w.shape
        product = self.op(
            "MatMulNBits",
            inputs,
            _CONTRIB[0],
            K=k,
            N=n,
            bits=8,
            block_size=INT8_BLOCK,
            accuracy_level=_INT8_ACCURACY,
        )
        return self.op("Add", [product, self.weight(b)])


def int8_blocks(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`w` (inputs, outputs) as MatMulNBits reads it: uint8 codes (outputs, blocks, 32) with
    zero at 128, and one float32 scale per block (symmetric, the block's largest |w| at 127)."""
    k, n = w.shape
    if k % INT8_BLOCK:
        raise ValueError(f"{k} inputs do not split into blocks of {INT8_BLOCK}")
    blocks = np.ascontiguousarray(w.T).reshape(n, k // INT8_BLOCK, INT8_BLOCK)
    scales = np.maximum(np.abs(blocks).max(axis=2) / 127.0, np.finfo(np.float32).tiny)
    codes = np.clip(np.rint(blocks / scales[:, :, None]), -127, 127) + 128
    return codes.astype(np.uint8), scales.astype(np.float32).reshape(-1)


def _block(g: _Graph, x: str, layer: Layer, heads: int) -> str:
    """One BERT block, the same arithmetic as numpy_blocks.Layer.__call__ on (batch, length, d)."""
    width = layer.attn_out_w.shape[0]
    head_dim = width // heads
    split = g.weight(np.array([0, 0, heads, head_dim], np.int64))  # 0: keep that dimension
    merge = g.weight(np.array([0, 0, width], np.int64))

    def heads_of(part: int, perm: list[int]) -> str:
        cols = slice(part * width, (part + 1) * width)
        y = g.dense(x, np.ascontiguousarray(layer.qkv_w[:, cols]), layer.qkv_b[cols])
        return g.op("Transpose", [g.op("Reshape", [y, split])], perm=perm)

    q, k, v = heads_of(0, [0, 2, 1, 3]), heads_of(1, [0, 2, 3, 1]), heads_of(2, [0, 2, 1, 3])
    scale = g.weight(np.array(head_dim**-0.5, np.float32))
    scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), _MASK])
    context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    merged = g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), merge])
    attended = g.op("Add", [g.dense(merged, layer.attn_out_w, layer.attn_out_b), x])
    x = _layer_norm(g, attended, layer.ln1_g, layer.ln1_b)
    hidden = g.dense(x, layer.up_w, layer.up_b)
    # Exact GELU, 0.5 * h * (1 + erf(h / sqrt 2)): onnxruntime fuses this pattern into one op.
    erf = g.op("Erf", [g.op("Mul", [hidden, g.weight(np.array(0.5**0.5, np.float32))])])
    one, half = g.weight(np.array(1.0, np.float32)), g.weight(np.array(0.5, np.float32))
    gelu = g.op("Mul", [g.op("Mul", [hidden, g.op("Add", [erf, one])]), half])
    out = g.op("Add", [g.dense(gelu, layer.down_w, layer.down_b), x])
    return _layer_norm(g, out, layer.ln2_g, layer.ln2_b)


def _layer_norm(g: _Graph, x: str, gain: np.ndarray, bias: np.ndarray) -> str:
    return g.op(
        "LayerNormalization",
        [x, g.weight(gain), g.weight(bias)],
        axis=-1,
        epsilon=LAYER_NORM_EPS,
    )


def model_bytes(layers: Sequence[Layer], heads: int, int8: bool = False) -> bytes:
    """The serialized ONNX model: (batch, length, d) hidden states and a (batch, 1, 1, length)
    additive mask in, the last block's states out; `int8`: 8-bit projection weights."""
    g = _Graph(int8)
    x = _INPUT
    for layer in layers:
        x = _block(g, x, layer, heads)
    g.nodes.append(onnx_wire.node("Identity", [x], [_OUTPUT]))
    width = layers[0].attn_out_w.shape[0]
    return onnx_wire.model(
        g.nodes,
        g.weights,
        [
            onnx_wire.value_info(_INPUT, onnx_wire.FLOAT, ["batch", "length", width]),
            onnx_wire.value_info(_MASK, onnx_wire.FLOAT, ["batch", 1, 1, "length"]),
        ],
        [onnx_wire.value_info(_OUTPUT, onnx_wire.FLOAT, ["batch", "length", width])],
        name="minilm_blocks",
        ir_version=_IR_VERSION,
        opset=_OPSET,
        domains=[_CONTRIB] if int8 else [],
    )


class OnnxBlocks:
    """The blocks as one onnxruntime session; called like numpy_blocks.NumpyBlocks."""

    def __init__(self, layers: Sequence[Layer], heads: int, int8: bool = False) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]

        options = ort.SessionOptions()
        # One thread, no spinning: a server shares two cores with the gateway's other work,
        # and a spinning pool would burn the core its callers need.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # No arena: it keeps the largest batch's activations for good (about 20 MB more after
        # a batch of 32 questions) and saves nothing measurable per call.
        options.enable_cpu_mem_arena = False
        options.log_severity_level = 3
        with tempfile.NamedTemporaryFile(suffix=".onnx") as graph:
            graph.write(model_bytes(layers, heads, int8))
            graph.flush()
            self._session = ort.InferenceSession(
                graph.name, options, providers=["CPUExecutionProvider"]
            )

    def __call__(
        self, x: np.ndarray, shape: tuple[int, int], mask: np.ndarray | None
    ) -> np.ndarray:
        batch, length = shape
        hidden = x.reshape(batch, length, -1)
        if mask is None:
            mask = np.zeros((batch, 1, 1, length), dtype=np.float32)
        (states,) = self._session.run([_OUTPUT], {_INPUT: hidden, _MASK: mask})
        return np.asarray(states).reshape(batch * length, -1)


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None
