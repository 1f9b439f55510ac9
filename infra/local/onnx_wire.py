"""The few ONNX protobuf messages a graph of dense float tensors needs, written by hand.

The `onnx` package would build them, but it weighs 16 MB in every process that imports it, for
what is a few dozen lines of protobuf: varints and length-delimited fields. Field numbers are
onnx.proto's (IR version 8). onnxruntime parses and checks the result when it loads it, and
tests/test_embedding_engines.py runs it against the numpy reference.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

_VARINT, _LENGTH, _FIXED32 = 0, 2, 5
# TensorProto.DataType and AttributeProto.AttributeType values.
FLOAT, UINT8, INT64 = 1, 2, 7
_ELEMENT_TYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.uint8): UINT8, np.dtype(np.int64): INT64}
_ATTR_FLOAT, _ATTR_INT, _ATTR_INTS = 1, 2, 7

Attribute = int | float | Sequence[int]


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # int64 fields carry negatives as their two's complement
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, n: int) -> bytes:
    return _key(field, _VARINT) + _varint(n)


def _message(field: int, data: bytes) -> bytes:
    return _key(field, _LENGTH) + _varint(len(data)) + data


def _text(field: int, text: str) -> bytes:
    return _message(field, text.encode())


def tensor(name: str, array: np.ndarray) -> bytes:
    """A TensorProto holding `array`'s bytes (float32, uint8 or int64, little-endian)."""
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    dims = b"".join(_int(1, d) for d in data.shape)
    return dims + _int(2, _ELEMENT_TYPES[data.dtype]) + _text(8, name) + _message(9, data.tobytes())


def _attribute(name: str, value: Attribute) -> bytes:
    if isinstance(value, bool):
        raise TypeError(f"attribute {name}: booleans are not an ONNX attribute type")
    if isinstance(value, int):
        body = _int(3, value) + _int(20, _ATTR_INT)
    elif isinstance(value, float):
        body = _key(2, _FIXED32) + struct.pack("<f", value) + _int(20, _ATTR_FLOAT)
    else:
        body = b"".join(_int(8, v) for v in value) + _int(20, _ATTR_INTS)
    return _text(1, name) + body


def node(
    op_type: str,
    inputs: Sequence[str],
    outputs: Sequence[str],
    domain: str = "",
    **attrs: Attribute,
) -> bytes:
    """A NodeProto of `domain` (the default ONNX domain unless named)."""
    parts = [_text(1, i) for i in inputs] + [_text(2, o) for o in outputs] + [_text(4, op_type)]
    parts += [_text(7, domain)] if domain else []
    parts += [_message(5, _attribute(k, v)) for k, v in attrs.items()]
    return b"".join(parts)


def value_info(name: str, element_type: int, dims: Sequence[int | str]) -> bytes:
    """A ValueInfoProto for a tensor; a str dimension is symbolic (any size)."""
    shape = b"".join(_message(1, _text(2, d) if isinstance(d, str) else _int(1, d)) for d in dims)
    tensor_type = _int(1, element_type) + _message(2, shape)
    return _text(1, name) + _message(2, _message(1, tensor_type))


def model(
    nodes: Sequence[bytes],
    initializers: Sequence[bytes],
    inputs: Sequence[bytes],
    outputs: Sequence[bytes],
    *,
    name: str,
    ir_version: int,
    opset: int,
    domains: Sequence[tuple[str, int]] = (),
) -> bytes:
    """A ModelProto: one graph importing the default ONNX domain at `opset`, and each other
    (domain, version) in `domains`."""
    graph = b"".join(
        [_message(1, n) for n in nodes]
        + [_text(2, name)]
        + [_message(5, t) for t in initializers]
        + [_message(11, i) for i in inputs]
        + [_message(12, o) for o in outputs]
    )
    imports = [("", opset), *domains]
    opsets = b"".join(_message(8, _text(1, name) + _int(2, version)) for name, version in imports)
    return _int(1, ir_version) + opsets + _message(7, graph)
