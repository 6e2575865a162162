"""Just enough protobuf to edit an ONNX model without the ``onnx`` package: expose an inner
tensor as an output, replace a node by a few others.

An ONNX file is a serialized ``ModelProto``; its ``graph`` (field 7) holds
``node`` (field 1) and ``output`` (field 12) entries. Protobuf merges repeated
fields by concatenation, so adding a node and an output is appending two fields
to the graph's bytes and rewriting the graph's length. This keeps the
GPL-free hibari engine free of the ``onnx`` package (piper's patch needs it).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

MODEL_GRAPH, GRAPH_NODE, GRAPH_OUTPUT = 7, 1, 12
NODE_INPUT, NODE_OUTPUT, NODE_OP_TYPE = 1, 2, 4
FLOAT = 1  # TensorProto.FLOAT


@dataclass(frozen=True)
class Node:
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _fields(buf: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(field number, start of the field's key, start of its payload, end) of each
    length-delimited field (the others are skipped)."""
    i = 0
    while i < len(buf):
        key_at = i
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _varint(buf, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            size, start = _varint(buf, i)
            i = start + size
            yield field, key_at, start, i
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _bytes_field(field: int, payload: bytes) -> bytes:
    return _encode_varint(field << 3 | 2) + _encode_varint(len(payload)) + payload


def _graph(model: bytes) -> tuple[int, int, int]:
    for field, key_at, start, end in _fields(model):
        if field == MODEL_GRAPH:
            return key_at, start, end
    raise ValueError("no graph in this ONNX model")


def nodes(model: bytes) -> list[Node]:
    """The graph's nodes (op type, inputs, outputs), in order."""
    _, start, end = _graph(model)
    graph = model[start:end]
    found = []
    for field, _, a, b in _fields(graph):
        if field != GRAPH_NODE:
            continue
        parts: dict[int, list[str]] = {NODE_INPUT: [], NODE_OUTPUT: [], NODE_OP_TYPE: []}
        for f, _, c, d in _fields(graph[a:b]):
            if f in parts:
                parts[f].append(graph[a:b][c:d].decode("utf-8"))
        found.append(Node("".join(parts[NODE_OP_TYPE]), tuple(parts[NODE_INPUT]), tuple(parts[NODE_OUTPUT])))
    return found


def _encode_node(node: Node) -> bytes:
    """A NodeProto without attributes (inputs carry everything the ops used here need)."""
    return (b"".join(_bytes_field(NODE_INPUT, i.encode()) for i in node.inputs)
            + b"".join(_bytes_field(NODE_OUTPUT, o.encode()) for o in node.outputs)
            + _bytes_field(NODE_OP_TYPE, node.op_type.encode()))


def replace_node(model: bytes, output: str, replacement: list[Node]) -> bytes:
    """``model`` with the node that writes ``output`` replaced, in place, by ``replacement``
    (which must write ``output`` in the end)."""
    key_at, start, end = _graph(model)
    graph = model[start:end]
    for field, node_at, a, b in _fields(graph):
        if field == GRAPH_NODE and output in nodes_of(graph[a:b]):
            new = b"".join(_bytes_field(GRAPH_NODE, _encode_node(n)) for n in replacement)
            graph = graph[:node_at] + new + graph[b:]
            return model[:key_at] + _bytes_field(MODEL_GRAPH, graph) + model[end:]
    raise ValueError(f"no node writes {output!r}")


def nodes_of(node: bytes) -> list[str]:
    """The outputs of one serialized NodeProto."""
    return [node[c:d].decode("utf-8") for f, _, c, d in _fields(node) if f == NODE_OUTPUT]


def add_output(model: bytes, tensor: str, name: str, elem_type: int = FLOAT) -> bytes:
    """``model`` with an ``Identity`` node copying ``tensor`` to a new graph output ``name``."""
    key_at, start, end = _graph(model)
    node = _encode_node(Node("Identity", (tensor,), (name,)))
    shape = _bytes_field(1, _bytes_field(2, b"n"))  # TensorShapeProto{dim: [Dimension{dim_param: "n"}]}
    tensor_type = _bytes_field(1, _encode_varint(1 << 3) + _encode_varint(elem_type) + _bytes_field(2, shape))
    value_info = _bytes_field(1, name.encode()) + _bytes_field(2, tensor_type)  # ValueInfo{name, TypeProto}
    graph = model[start:end] + _bytes_field(GRAPH_NODE, node) + _bytes_field(GRAPH_OUTPUT, value_info)
    return model[:key_at] + _bytes_field(MODEL_GRAPH, graph) + model[end:]
