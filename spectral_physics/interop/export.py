"""Export a SpectralMLP as dense layers: safetensors, ONNX, a PyTorch state dict.

What is written is the function the network computes: per layer the effective
direct-space weights ``M * W`` (any preset, masks and dynamic sparsity applied) of
shape ``(N_out, N_in)`` and the bias, in the network's dtype. The tensors are named as
in ``torch.nn.Sequential(Linear, act, Linear, act, ..., Linear)``: ``0.weight``,
``0.bias``, ``2.weight``, ... so ``model.load_state_dict(...)`` takes them as they are.
The hidden activation, the layer order and the sizes go into each format's metadata
(safetensors ``__metadata__``, ONNX ``metadata_props``, the state dict's
``_metadata[""]["spectral_physics"]``), so importing the file again needs no
``activation=``.

Example
-------
>>> import os, tempfile
>>> import numpy as np
>>> from spectral_physics import SpectralMLP
>>> from spectral_physics.interop import export_network, load_any
>>> net = SpectralMLP([4, 3, 2], train="eigen", activation="tanh", seed=0)
>>> path = os.path.join(tempfile.mkdtemp(), "net.safetensors")
>>> export_network(net, path).name
'net.safetensors'
>>> x = np.ones((1, 4), dtype="float32")
>>> bool(np.allclose(load_any(path).forward(x), net.forward(x)))
True
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..backend import to_numpy
from ._stack import require

__all__ = ["export_network", "EXPORT_FORMATS", "dense_arrays"]

#: file suffix -> export format
EXPORT_FORMATS = {".safetensors": "safetensors", ".onnx": "onnx", ".pt": "pytorch", ".pth": "pytorch",
                  ".npz": "npz"}

_ONNX_ACTS = {"relu": "Relu", "tanh": "Tanh", "elu": "Elu"}
#: opset and IR version of exported ONNX files (Gemm, Relu, Tanh, Elu are unchanged since opset 13)
ONNX_OPSET, ONNX_IR_VERSION = 17, 8


def dense_arrays(net) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Host copies of the effective weights ``M * W`` (N_out, N_in) and biases (or ``None``) per layer."""
    if net.ensemble_size:
        raise ValueError("export needs a single network, not an ensemble; pick a member with net.member(e)")
    ws = [np.ascontiguousarray(to_numpy(w)) for w in net.weights()]
    bs = [np.ascontiguousarray(to_numpy(layer.bias)) if net.bias else None for layer in net.layers]
    return ws, bs


def _metadata(net) -> dict[str, str]:
    from .. import __version__

    return {
        "spectral_physics.activation": net.activation,
        "spectral_physics.layers": ",".join(str(2 * k) for k in range(len(net.layers))),
        "spectral_physics.sizes": ",".join(map(str, net.sizes)),
        "spectral_physics.preset": net.preset,
        "spectral_physics.version": __version__,
    }


def _tensors(net) -> OrderedDict[str, np.ndarray]:
    ws, bs = dense_arrays(net)
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for k, (w, b) in enumerate(zip(ws, bs)):
        out[f"{2 * k}.weight"] = w
        if b is not None:
            out[f"{2 * k}.bias"] = b
    return out


def _write_safetensors(net, path: Path) -> None:
    require("safetensors", "exporting to safetensors")
    from safetensors.numpy import save

    blob = save(dict(_tensors(net)), metadata={"format": "pt", **_metadata(net)})
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(blob)


def _write_pytorch(net, path: Path) -> None:
    torch = require("torch", "exporting a PyTorch state dict")
    sd = OrderedDict((k, torch.from_numpy(v.copy())) for k, v in _tensors(net).items())
    # load_state_dict reads _metadata[prefix]["version"]; the extra key rides along unread
    sd._metadata = OrderedDict([("", {"version": 1, "spectral_physics": _metadata(net)})])  # type: ignore[attr-defined]
    for k in range(len(net.layers)):
        sd._metadata[str(2 * k)] = {"version": 1}  # type: ignore[attr-defined]
    with atomic_path(path) as tmp:
        torch.save(sd, tmp)


def _write_onnx(net, path: Path) -> None:
    onnx = require("onnx", "exporting to ONNX")
    from onnx import TensorProto, helper, numpy_helper

    ws, bs = dense_arrays(net)
    elem = TensorProto.DOUBLE if net.dtype == np.float64 else TensorProto.FLOAT
    dtype = np.float64 if net.dtype == np.float64 else np.float32
    nodes, inits = [], []
    current = "input"
    last = len(ws) - 1
    for k, (w, b) in enumerate(zip(ws, bs)):
        name = str(2 * k)
        inits.append(numpy_helper.from_array(w.astype(dtype, copy=False), f"{name}.weight"))
        inputs = [current, f"{name}.weight"]
        if b is not None:
            inits.append(numpy_helper.from_array(b.astype(dtype, copy=False), f"{name}.bias"))
            inputs.append(f"{name}.bias")
        out = "logits" if k == last else f"/{name}/Gemm_output"
        nodes.append(helper.make_node("Gemm", inputs, [out], name=f"/{name}/Gemm", alpha=1.0, beta=1.0, transB=1))
        current = out
        if k < last and net.activation in _ONNX_ACTS:
            op = _ONNX_ACTS[net.activation]
            act_out = f"/{2 * k + 1}/{op}_output"
            extra = {"alpha": 1.0} if op == "Elu" else {}
            nodes.append(helper.make_node(op, [current], [act_out], name=f"/{2 * k + 1}/{op}", **extra))
            current = act_out
    graph = helper.make_graph(
        nodes, "spectral_physics_mlp",
        [helper.make_tensor_value_info("input", elem, ["batch", net.sizes[0]])],
        [helper.make_tensor_value_info("logits", elem, ["batch", net.sizes[-1]])],
        initializer=inits)
    model = helper.make_model(graph, producer_name="spectral-physics",
                              opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
    model.ir_version = ONNX_IR_VERSION
    helper.set_model_props(model, _metadata(net))
    onnx.checker.check_model(model)
    blob = model.SerializeToString()
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(blob)


def export_network(net, path: str | os.PathLike, format: str | None = None) -> Path:
    """Write ``net`` as dense layers to ``path`` (atomically).

    Parameters
    ----------
    net : SpectralMLP
        A single network, any preset; masks are applied (``M * W``).
    path : path-like
        Destination.
    format : {"safetensors", "onnx", "pytorch", "npz"}, optional
        Default: from the suffix (``.safetensors``, ``.onnx``, ``.pt``/``.pth``, ``.npz``).
        ``npz`` is :func:`spectral_physics.save_network` (the full spectral parametrisation).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        For an unknown format or suffix, or an ensemble.
    MissingDependencyError
        When the format's package (safetensors, onnx, torch) is not installed.
    """
    path = Path(path)
    fmt = format or EXPORT_FORMATS.get(path.suffix.lower())
    if fmt not in set(EXPORT_FORMATS.values()):
        raise ValueError(f"cannot tell the export format of {path} (suffix {path.suffix!r}); use one of "
                         f"{', '.join(EXPORT_FORMATS)} or pass format= one of {sorted(set(EXPORT_FORMATS.values()))}")
    if net.ensemble_size:
        raise ValueError("export needs a single network, not an ensemble; pick a member with net.member(e)")
    if fmt == "npz":
        from ..io import save_network

        save_network(net, path)
    elif fmt == "safetensors":
        _write_safetensors(net, path)
    elif fmt == "onnx":
        _write_onnx(net, path)
    else:
        _write_pytorch(net, path)
    return path
