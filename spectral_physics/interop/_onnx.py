"""ONNX graphs of dense layers read through the ``onnx`` package.

The graph is walked from its one (non-initializer) input to its one output, one node
at a time; every node must consume the tensor the previous one produced, and only that
node may consume it (no branches). Understood nodes:

- ``Gemm(A, B, C)`` with ``transA = 0``: ``W = alpha * B^T`` when ``transB = 1`` (the
  torch export of ``Linear``), ``W = alpha * B`` when ``transB = 0``; bias ``beta * C``;
- ``MatMul(A, B)`` (``B`` of shape ``(in, out)``, so ``W = B^T``), optionally followed by
  ``Add`` of a ``(out,)`` or ``(1, out)`` constant as the bias;
- ``Relu``, ``Tanh``, ``Elu`` (``alpha = 1``), ``Identity``, ``Dropout`` (inference),
  ``Flatten`` / ``Reshape`` before the first dense layer, and ``Softmax`` /
  ``LogSoftmax`` over the last axis at the end.

Weights must be initializers or ``Constant`` nodes. Any other node (``Conv``,
``BatchNormalization``, ``Sigmoid``, ...) is an :class:`InteropError` naming it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._stack import DenseStack, InteropError, assemble, require

__all__ = ["read_onnx"]

_ACTS = {"Relu": "relu", "Tanh": "tanh", "Elu": "elu", "Identity": "identity",
         "Softmax": "softmax", "LogSoftmax": "log_softmax"}
_UNKNOWN_ACTS = {"Sigmoid", "LeakyRelu", "Selu", "Gelu", "HardSigmoid", "HardSwish", "Softplus", "Softsign",
                 "PRelu", "ThresholdedRelu", "Celu", "Mish", "Swish", "Clip", "Erf"}


def _attrs(onnx, node) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def read_onnx(path) -> DenseStack:
    """Read an ONNX model of dense layers (see the module docstring for what is understood).

    Raises
    ------
    MissingDependencyError
        Without onnx.
    InteropError
        For a damaged file, a branching graph or any node that is not understood, naming it.
    """
    from pathlib import Path

    onnx = require("onnx", "reading an ONNX file")
    from onnx import numpy_helper

    source = str(path)
    if not Path(path).exists():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        model = onnx.load(str(path))
        graph = model.graph
        consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant":
                at = _attrs(onnx, node)
                if "value" in at:
                    consts[node.output[0]] = numpy_helper.to_array(at["value"])
    except Exception as exc:  # noqa: BLE001 - protobuf DecodeError, onnx errors on a damaged file
        text = str(exc).strip().splitlines()
        raise InteropError(f"{source}: not a readable ONNX file ({text[0][:200] if text else type(exc).__name__})") \
            from None
    inputs = [i.name for i in graph.input if i.name not in consts]
    outputs = [o.name for o in graph.output]
    if len(inputs) != 1 or len(outputs) != 1:
        raise InteropError(f"{source}: the graph has inputs {inputs} and outputs {outputs}; only one input and one "
                           "output can be imported")
    nodes = [n for n in graph.node if n.op_type != "Constant"]
    consumers: dict[str, list] = {}
    for node in nodes:
        for name in node.input:
            if name and name not in consts:
                consumers.setdefault(name, []).append(node)

    def label(node) -> str:
        return f"{node.name or node.output[0]!s} ({node.op_type})"

    def const(name: str, node) -> np.ndarray:
        if name not in consts:
            raise InteropError(f"{source}: node {label(node)}: input {name!r} is computed, not a stored weight")
        arr = np.asarray(consts[name])
        if arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        if arr.dtype.kind != "f":
            raise InteropError(f"{source}: node {label(node)}: {name!r} has dtype {arr.dtype}, not a floating type")
        return arr

    def bias_vector(arr: np.ndarray, n_out: int, node) -> np.ndarray:
        if arr.ndim == 2 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.size == 1:
            arr = np.full(n_out, arr.reshape(()), dtype=arr.dtype)
        if arr.shape != (n_out,):
            raise InteropError(f"{source}: node {label(node)}: bias of shape {arr.shape} for {n_out} outputs")
        return arr

    ops: list[tuple[str, Any, str]] = []
    current = inputs[0]
    seen = 0
    while current != outputs[0]:
        users = consumers.get(current, [])
        if len(users) != 1:
            what = "no node" if not users else f"{len(users)} nodes ({', '.join(label(u) for u in users)})"
            raise InteropError(f"{source}: tensor {current!r} feeds {what}; only a single chain of nodes from the "
                               "input to the output can be imported")
        node = users[0]
        seen += 1
        if seen > len(nodes):  # pragma: no cover - a cycle; ONNX graphs are acyclic
            raise InteropError(f"{source}: the graph has a cycle")
        op, at, where = node.op_type, _attrs(onnx, node), f"{source}: node {label(node)}"
        if list(node.input).index(current) != 0 and op not in ("Add",):
            raise InteropError(f"{where}: takes the activations as input {list(node.input).index(current)}, "
                               "not as its first input")
        if op == "Gemm":
            if at.get("transA", 0):
                raise InteropError(f"{where}: transA=1 cannot be imported")
            b = const(node.input[1], node)
            if b.ndim != 2:
                raise InteropError(f"{where}: weight {node.input[1]!r} has shape {b.shape}, not a matrix")
            w = (b if at.get("transB", 0) else b.T) * np.asarray(at.get("alpha", 1.0), dtype=b.dtype)
            bias = None
            if len(node.input) > 2 and node.input[2]:
                bias = bias_vector(const(node.input[2], node), w.shape[0], node) \
                    * np.asarray(at.get("beta", 1.0), dtype=b.dtype)
            ops.append(("dense", (np.ascontiguousarray(w), bias), node.name or node.output[0]))
        elif op == "MatMul":
            b = const(node.input[1], node)
            if b.ndim != 2:
                raise InteropError(f"{where}: weight {node.input[1]!r} has shape {b.shape}, not a matrix")
            w, bias, name = np.ascontiguousarray(b.T), None, node.name or node.output[0]
            nxt = consumers.get(node.output[0], [])
            if len(nxt) == 1 and nxt[0].op_type == "Add" and node.output[0] != outputs[0]:
                add = nxt[0]
                other = [i for i in add.input if i != node.output[0]]
                if len(other) == 1 and other[0] in consts:
                    bias = bias_vector(const(other[0], add), w.shape[0], add)
                    node = add
            ops.append(("dense", (w, bias), name))
        elif op in _ACTS:
            if op == "Elu" and float(at.get("alpha", 1.0)) != 1.0:
                raise InteropError(f"{where}: Elu with alpha={at['alpha']}; a SpectralMLP's elu has alpha 1")
            if op in ("Softmax", "LogSoftmax") and at.get("axis", -1) not in (-1, 1):
                raise InteropError(f"{where}: softmax over axis {at.get('axis')}, not the classes")
            ops.append(("act", _ACTS[op], label(node)))
        elif op == "Dropout":
            ops.append(("dropout", None, label(node)))
        elif op in ("Flatten", "Reshape"):
            if op == "Flatten" and at.get("axis", 1) != 1:
                raise InteropError(f"{where}: Flatten with axis={at.get('axis')} does not keep the batch axis")
            ops.append(("flatten", None, label(node)))
        elif op in _UNKNOWN_ACTS:
            raise InteropError(f"{where}: unknown activation {op}; a SpectralMLP computes relu, tanh, elu or "
                               "identity in hidden layers")
        elif op == "Add":
            raise InteropError(f"{where}: an Add that is not the bias of a MatMul cannot be imported")
        else:
            kind = ("a convolution" if "Conv" in op else
                    "a normalisation layer" if "Normalization" in op else "not understood")
            raise InteropError(f"{where} is {kind}; only Gemm / MatMul+Add layers with Relu, Tanh, Elu or "
                               "Identity between them can be imported")
        current = node.output[0]
    meta = {p.key: p.value for p in model.metadata_props}
    return assemble(ops, source=source, fmt="onnx", metadata=meta)
