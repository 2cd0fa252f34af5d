"""Keras models (``.keras`` zip and legacy ``.h5``) read through h5py, without TensorFlow or Keras.

*``.keras`` (Keras 3).* A zip holding ``config.json`` (the model's configuration) and
``model.weights.h5``, where layer ``k`` of the model's layer list keeps its variables in
``layers/<group>/vars/0``, ``vars/1``, ... (for ``Dense``: kernel, then bias), and the
group's ``vars`` carries the layer's name as the attribute ``name``. Groups are matched
by that attribute; a file without it falls back to Keras' own group names (the
snake-case class name, ``dense``, ``dense_1``, ... in layer order).

*Legacy ``.h5`` (``model.save("m.h5")``, Keras 2 and 3).* The root attribute
``model_config`` holds the configuration, and ``model_weights/<layer name>`` lists its
datasets in the attribute ``weight_names`` (``.../kernel``, ``.../bias``, with ``:0`` in
Keras 2). A weights-only file (``save_weights``) has no configuration and is refused.

*Orientation.* A ``Dense`` kernel is ``(in, units)``: ``W = kernel.T``.

*Understood layers.* ``InputLayer``; ``Dense`` with activation ``relu``, ``tanh``,
``elu``, ``linear`` (or ``softmax`` on the last layer); ``Activation``; ``ReLU`` with
default arguments; ``ELU(alpha=1)``; ``Softmax`` at the end; ``Dropout`` (identity at
inference); ``Flatten`` first. Models: ``Sequential``, and ``Functional`` models whose
layers form one chain. Anything else is an :class:`InteropError` naming the layer.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ._stack import DenseStack, InteropError, assemble, canonical_activation, require

__all__ = ["read_keras"]

#: configuration and weights of a .keras zip; other members (metadata.json, assets/) are ignored
_CONFIG, _WEIGHTS = "config.json", "model.weights.h5"
_DROPOUTS = ("Dropout", "AlphaDropout", "GaussianDropout", "GaussianNoise")


def _snake(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def _layer_list(config: Any, source: str) -> tuple[str, list[dict]]:
    if not isinstance(config, dict):
        raise InteropError(f"{source}: the model configuration is not a JSON object")
    cls = config.get("class_name")
    inner = config.get("config")
    layers = inner if isinstance(inner, list) else (inner or {}).get("layers") if isinstance(inner, dict) else None
    if cls not in ("Sequential", "Functional", "Model") or not isinstance(layers, list):
        raise InteropError(f"{source}: a Keras {cls!r} model cannot be imported; only Sequential models and "
                           "Functional models whose layers form one chain")
    for k, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("config", {}), dict):
            raise InteropError(f"{source}: layer {k} of the configuration is not a JSON object")
    return cls, layers


def _name(layer: dict) -> str:
    return str(layer.get("name") or layer.get("config", {}).get("name") or layer.get("class_name"))


def _inbound(layer: dict) -> list[str]:
    """Names of the layers feeding ``layer`` (Keras 2 and Keras 3 configurations)."""
    out: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            hist = node.get("config", {}).get("keras_history") if isinstance(node.get("config"), dict) else None
            if isinstance(hist, list) and hist:
                out.append(str(hist[0]))
                return
            for v in node.values():
                visit(v)
        elif isinstance(node, list):
            if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
                out.append(node[0])  # Keras 2: [name, node_index, tensor_index, kwargs]
                return
            for v in node:
                visit(v)

    visit(layer.get("inbound_nodes", []))
    return out


def _check_chain(layers: list[dict], source: str) -> None:
    prev = None
    for layer in layers:
        name, feeds = _name(layer), _inbound(layer)
        if layer.get("class_name") == "InputLayer":
            if prev is not None:
                raise InteropError(f"{source}: layer {name!r}: a second input; only single-chain models can be "
                                   "imported")
        elif prev is None or feeds != [prev]:
            raise InteropError(f"{source}: layer {name!r} takes {feeds or 'no input'}, not the previous layer "
                               f"{prev!r}: only Functional models whose layers form one chain can be imported")
        prev = name


def _activation(value: Any, where: str) -> str:
    if isinstance(value, dict):  # Keras 3 may serialise a built-in activation as an object
        cfg = value.get("config")
        value = cfg if isinstance(cfg, str) else value.get("class_name", value)
    return canonical_activation(value if value is not None else "linear", where=where)


def _ops(layers: list[dict], weights, source: str) -> list[tuple[str, Any, str]]:
    ops: list[tuple[str, Any, str]] = []
    for k, layer in enumerate(layers):
        cls, cfg, name = layer.get("class_name"), layer.get("config", {}), _name(layer)
        where = f"{source}: layer {name!r} ({cls})"
        if cls == "InputLayer":
            continue
        if cls == "Dense":
            kernel, bias = weights(k, layer, bool(cfg.get("use_bias", True)))
            units = cfg.get("units")
            if kernel.ndim != 2 or (units is not None and kernel.shape[1] != units):
                raise InteropError(f"{where}: kernel has shape {tuple(kernel.shape)}, but a Dense layer of "
                                   f"{units} units needs (inputs, {units})")
            ops.append(("dense", (np.ascontiguousarray(kernel.T), bias), name))
            ops.append(("act", _activation(cfg.get("activation"), where), name))
        elif cls == "Activation":
            ops.append(("act", _activation(cfg.get("activation"), where), name))
        elif cls == "ReLU":
            if cfg.get("max_value") is not None or float(cfg.get("negative_slope", 0) or 0) != 0 \
                    or float(cfg.get("threshold", 0) or 0) != 0:
                raise InteropError(f"{where}: ReLU with max_value/negative_slope/threshold is not a plain relu")
            ops.append(("act", "relu", name))
        elif cls == "ELU":
            if float(cfg.get("alpha", 1.0)) != 1.0:
                raise InteropError(f"{where}: ELU with alpha={cfg.get('alpha')}; a SpectralMLP's elu has alpha 1")
            ops.append(("act", "elu", name))
        elif cls == "Softmax":
            if cfg.get("axis", -1) not in (-1, 1, [-1], [1]):
                raise InteropError(f"{where}: softmax over axis {cfg.get('axis')}, not the classes")
            ops.append(("act", "softmax", name))
        elif cls in _DROPOUTS:
            ops.append(("dropout", None, name))
        elif cls == "Flatten":
            ops.append(("flatten", None, name))
        else:
            kind = ("a convolution" if cls and "Conv" in cls else
                    "a normalisation layer" if cls and "Normalization" in cls else "not understood")
            raise InteropError(f"{where} is {kind}; only Dense layers with relu, tanh, elu or linear "
                               "activations can be imported")
    return ops


def _read_array(h5, where: str) -> np.ndarray:
    arr = np.asarray(h5[()])
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    if arr.dtype.kind != "f":
        raise InteropError(f"{where} has dtype {arr.dtype}, not a floating type")
    return arr


def _keras3_weights(h5f, layers: list[dict], source: str):
    """Weight lookup for a Keras 3 ``model.weights.h5``."""
    root = h5f.get("layers")
    if root is None:
        raise InteropError(f"{source}: {_WEIGHTS} has no 'layers' group; not a Keras 3 weights file")
    by_name: dict[str, Any] = {}
    for group in root.values():
        vars_ = group.get("vars")
        if vars_ is not None and "name" in vars_.attrs:
            n = vars_.attrs["name"]
            by_name[n.decode() if isinstance(n, bytes) else str(n)] = vars_
    # Keras' own group names, for files whose groups carry no name attribute
    counts: dict[str, int] = {}
    fallback: dict[int, str] = {}
    for k, layer in enumerate(layers):
        base = _snake(str(layer.get("class_name")))
        counts[base] = counts.get(base, -1) + 1
        fallback[k] = base if counts[base] == 0 else f"{base}_{counts[base]}"

    def weights(k: int, layer: dict, use_bias: bool):
        name = _name(layer)
        if by_name:
            vars_ = by_name.get(name)
        else:
            g = root.get(fallback[k])
            vars_ = g.get("vars") if g is not None else None
        where = f"{source}: layer {name!r} (Dense)"
        if vars_ is None or "0" not in vars_:
            raise InteropError(f"{where}: no kernel found in {_WEIGHTS}")
        kernel = _read_array(vars_["0"], f"{where} kernel")
        bias = None
        if use_bias:
            if "1" not in vars_:
                raise InteropError(f"{where}: use_bias is true but {_WEIGHTS} holds no bias")
            bias = _read_array(vars_["1"], f"{where} bias")
        return kernel, bias

    return weights


def _legacy_weights(h5f, source: str):
    group = h5f["model_weights"] if "model_weights" in h5f else h5f

    def weights(k: int, layer: dict, use_bias: bool):
        name = _name(layer)
        where = f"{source}: layer {name!r} (Dense)"
        if name not in group:
            raise InteropError(f"{where}: no weights group 'model_weights/{name}'")
        g = group[name]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs.get("weight_names", [])]
        found: dict[str, np.ndarray] = {}
        for n in names:
            role = n.split("/")[-1].split(":")[0]
            if n not in g:
                raise InteropError(f"{where}: weight {n!r} listed but missing")
            found[role] = _read_array(g[n], f"{where} {role}")
        if "kernel" not in found:
            raise InteropError(f"{where}: no kernel among its weights {names}")
        if use_bias and "bias" not in found:
            raise InteropError(f"{where}: use_bias is true but the file holds no bias")
        return found["kernel"], found.get("bias") if use_bias else None

    return weights


def read_keras(path) -> DenseStack:
    """Read a ``.keras`` zip or a legacy Keras ``.h5`` file (see the module docstring).

    Raises
    ------
    MissingDependencyError
        Without h5py.
    InteropError
        For a damaged file, a weights-only file, a non-chain model or any layer that is not
        understood, naming the layer.
    """
    h5py = require("h5py", "reading a Keras file")
    source = str(path)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                if _CONFIG not in names or _WEIGHTS not in names:
                    raise InteropError(f"{source}: a zip without {_CONFIG} and {_WEIGHTS}; not a .keras model")
                config = json.loads(zf.read(_CONFIG).decode("utf-8"))
                blob = zf.read(_WEIGHTS)
            cls, layers = _layer_list(config, source)
            if cls != "Sequential":
                _check_chain(layers, source)
            # a Sequential model's weight groups skip its InputLayer; a Functional model's do not
            groups = [la for la in layers if cls != "Sequential" or la.get("class_name") != "InputLayer"]
            with h5py.File(io.BytesIO(blob), "r") as h5f:
                lookup = _keras3_weights(h5f, groups, source)
                index = {id(la): k for k, la in enumerate(groups)}
                ops = _ops(layers, lambda k, la, b: lookup(index[id(la)], la, b), source)
            fmt = "keras"
        else:
            with h5py.File(path, "r") as h5f:
                raw = h5f.attrs.get("model_config")
                if raw is None:
                    raise InteropError(f"{source}: an HDF5 file without a 'model_config' attribute (weights only, "
                                       "from save_weights?); save the whole model with model.save()")
                config = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else str(raw))
                cls, layers = _layer_list(config, source)
                if cls != "Sequential":
                    _check_chain(layers, source)
                ops = _ops(layers, _legacy_weights(h5f, source), source)
            fmt = "keras-h5"
    except (InteropError, FileNotFoundError):
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile, h5py (OSError), JSON errors on damaged files
        text = str(exc).strip().splitlines()
        raise InteropError(f"{source}: not a readable Keras file ({text[0][:200] if text else type(exc).__name__})") \
            from None
    return assemble(ops, source=source, fmt=fmt)
