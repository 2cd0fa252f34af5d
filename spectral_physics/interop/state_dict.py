"""State dicts (PyTorch ``.pt``/``.pth``, safetensors) to dense stacks, and PyTorch modules.

A state dict is a flat mapping ``"<layer>.weight"``, ``"<layer>.bias"`` -> array, with
torch's ``Linear`` orientation: ``weight`` is ``(out, in)``, used as ``W`` as it is. It
says nothing about activations, so the hidden activation comes from the file's
metadata (``activation`` or ``spectral_physics.activation``) or from the caller.

*Layer order.* Explicit ``layer_order`` wins; then a metadata field
``spectral_physics.layers`` (comma-separated prefixes, written by
:func:`spectral_physics.interop.export_network`); else the prefixes in natural order
(``fc2`` before ``fc10``, ``layers.2`` before ``layers.10``). A PyTorch file also keeps
the order the module registered its layers in: when that order differs from the
natural one and both chain, the order is ambiguous and an error asks for
``layer_order``; when only one chains, it is used. The shape chain is always checked.

Example
-------
>>> import numpy as np
>>> from spectral_physics.interop.state_dict import stack_from_state_dict
>>> sd = {"fc1.weight": np.ones((3, 4), "f4"), "fc1.bias": np.zeros(3, "f4"),
...       "fc2.weight": np.ones((2, 3), "f4"), "fc2.bias": np.zeros(2, "f4")}
>>> stack_from_state_dict(sd, source="mem", fmt="pytorch", activation="relu").sizes
[4, 3, 2]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._stack import DenseStack, InteropError, canonical_activation, require

__all__ = ["stack_from_state_dict", "read_pytorch", "read_safetensors", "read_torch_module", "from_torch",
           "metadata_activation"]

_NORM_KEYS = ("running_mean", "running_var", "num_batches_tracked")


def _natural_key(text: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def metadata_activation(metadata: Mapping[str, Any], source: str) -> str | None:
    """The hidden activation a metadata mapping states, or ``None``."""
    for key in ("spectral_physics.activation", "activation"):
        if key in metadata and metadata[key] not in (None, ""):
            act = canonical_activation(metadata[key], where=f"{source}: metadata field {key!r}")
            if act not in ("relu", "tanh", "elu", "identity"):
                raise InteropError(f"{source}: metadata field {key!r} = {metadata[key]!r} is not a hidden-layer "
                                   "activation (relu, tanh, elu, identity)")
            return act
    return None


def _group(arrays: Mapping[str, np.ndarray], source: str) -> dict[str, dict[str, np.ndarray]]:
    groups: dict[str, dict[str, np.ndarray]] = {}
    for key, arr in arrays.items():
        prefix, _, param = key.rpartition(".")
        groups.setdefault(prefix, {})[param] = arr
    for prefix, params in groups.items():
        label = prefix or "(top level)"
        where = f"{source}: layer {label!r}"
        extra = sorted(set(params) - {"weight", "bias"})
        if any(p in _NORM_KEYS for p in extra):
            raise InteropError(f"{where} holds {', '.join(extra)}: a normalisation layer (BatchNorm); only dense "
                               "(Linear) layers can be imported")
        if extra:
            raise InteropError(f"{where} holds {', '.join(repr(prefix + '.' + p if prefix else p) for p in extra)}: "
                               "not a dense (Linear) layer; only weight and bias tensors can be imported")
        w = params.get("weight")
        if w is None:
            raise InteropError(f"{where} has a bias but no weight")
        if w.ndim >= 3:
            raise InteropError(f"{where}: weight has shape {tuple(w.shape)}: a convolution; only dense (Linear) "
                               "layers can be imported")
        if w.ndim == 1:
            raise InteropError(f"{where}: weight has shape {tuple(w.shape)}: a normalisation layer "
                               "(LayerNorm/BatchNorm affine); only dense (Linear) layers can be imported")
        if w.ndim != 2:
            raise InteropError(f"{where}: weight has shape {tuple(w.shape)}, not a (out, in) matrix")
    return groups


def _chains(order: Sequence[str], groups) -> bool:
    return all(groups[b]["weight"].shape[1] == groups[a]["weight"].shape[0] for a, b in zip(order, order[1:]))


def stack_from_state_dict(arrays: Mapping[str, Any], *, source: str, fmt: str,
                          metadata: Mapping[str, Any] | None = None, activation: str | None = None,
                          layer_order: Sequence[str] | None = None, file_order: bool = False) -> DenseStack:
    """The dense stack of a state dict (see the module docstring for the order rules).

    Parameters
    ----------
    arrays : mapping of str to array
        ``"<prefix>.weight"`` (out, in) and ``"<prefix>.bias"`` (out,).
    source, fmt : str
        File and format names for messages.
    metadata : mapping, optional
        ``activation`` / ``spectral_physics.activation`` and ``spectral_physics.layers`` are read.
    activation : str, optional
        Stored as the stack's activation when the metadata states none.
    layer_order : sequence of str, optional
        The layer prefixes in the order they are applied.
    file_order : bool
        Whether the mapping's own order is meaningful (a PyTorch ``OrderedDict``).

    Raises
    ------
    InteropError
        For a convolution, a normalisation layer, any tensor but weight/bias, an ambiguous
        order or a mismatched shape chain, naming the layer.
    """
    metadata = {str(k): v for k, v in (metadata or {}).items()}
    arrays = {str(k): np.asarray(v) for k, v in arrays.items()}
    if not arrays:
        raise InteropError(f"{source}: holds no tensors")
    groups = _group(arrays, source)
    natural = sorted(groups, key=_natural_key)
    stated = layer_order
    if stated is None and metadata.get("spectral_physics.layers"):
        stated = [s.strip() for s in str(metadata["spectral_physics.layers"]).split(",") if s.strip()]
    if stated is not None:
        stated = list(stated)
        missing = [s for s in stated if s not in groups]
        unused = [g for g in groups if g not in stated]
        if missing or unused or len(set(stated)) != len(stated):
            raise InteropError(f"{source}: layer order {stated} does not name each layer once; the file's layers "
                               f"are {natural}")
        order = stated
    else:
        order = natural
        inserted = list(groups)
        if file_order and inserted != natural:
            ok_nat, ok_ins = _chains(natural, groups), _chains(inserted, groups)
            if ok_nat and ok_ins:
                raise InteropError(f"{source}: the layer order is ambiguous: the file lists {inserted}, their names "
                                   f"sort as {natural}, and both chain; pass layer_order= (command line: --layers)")
            if ok_ins and not ok_nat:
                order = inserted
    ops = [("dense", (groups[p]["weight"], groups[p].get("bias")), p or "(top level)") for p in order]
    from ._stack import assemble

    stack = assemble(ops, source=source, fmt=fmt, metadata={k: str(v) for k, v in metadata.items()})
    stack.activation = metadata_activation(metadata, source)
    if stack.activation is None and activation is not None:
        stack.activation = stack.resolve_activation(activation)
    return stack.validate()


# ---------------------------------------------------------------------------- PyTorch


def _tensor_to_numpy(t, where: str) -> np.ndarray:
    torch = require("torch", "reading a PyTorch file")
    if not isinstance(t, torch.Tensor):
        raise InteropError(f"{where} is a {type(t).__name__}, not a tensor")
    t = t.detach().cpu()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.to(torch.float32)  # exact: every half and bfloat16 value is a float32
    if t.is_complex() or t.dtype == torch.bool or not (t.is_floating_point() or t.dtype in (
            torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)):
        raise InteropError(f"{where} has dtype {t.dtype}, not a number type NumPy holds")
    # integer tensors (BatchNorm's num_batches_tracked) pass here; the layer check names them
    return t.numpy()


def read_pytorch(path, *, layer_order: Sequence[str] | None = None) -> DenseStack:
    """Read a PyTorch state-dict file with ``torch.load(weights_only=True)`` (no code runs).

    Accepts a plain state dict, or a checkpoint dict holding one under ``"state_dict"``
    (or ``"model_state_dict"``) with an optional ``"activation"`` string beside it. The
    state dict's ``_metadata[""]["spectral_physics"]`` (written by
    :func:`~spectral_physics.interop.export_network`) is read as metadata.

    Raises
    ------
    MissingDependencyError
        Without torch.
    InteropError
        For a damaged file, a pickled module (refused by ``weights_only``), or any layer
        that is not dense.
    """
    import pickle

    torch = require("torch", "reading a PyTorch file")
    source = str(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            raise InteropError(f"{source}: holds pickled Python objects (a whole nn.Module?), which "
                               "torch.load(weights_only=True) refuses to run; save model.state_dict() instead, or "
                               "pass the module to spectral_physics.interop.from_torch") from None
        raise InteropError(f"{source}: not a readable PyTorch file ({_first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError, EOFError, zipfile errors, ...
        raise InteropError(f"{source}: not a readable PyTorch file ({_first_line(exc)})") from None
    metadata: dict[str, Any] = {}
    sd = obj
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model_state_dict"):
            if key in obj and isinstance(obj[key], Mapping):
                sd = obj[key]
                metadata.update({k: v for k, v in obj.items() if isinstance(v, (str, int, float)) and k != key})
                break
    if not isinstance(sd, Mapping):
        raise InteropError(f"{source}: holds a {type(sd).__name__}, not a state dict of tensors")
    meta = getattr(sd, "_metadata", None)
    if isinstance(meta, Mapping) and isinstance(meta.get(""), Mapping):
        ours = meta[""].get("spectral_physics")
        if isinstance(ours, Mapping):
            metadata.update({str(k): v for k, v in ours.items()})
    arrays = {str(k): _tensor_to_numpy(v, f"{source}: tensor {k!r}") for k, v in sd.items()}
    return stack_from_state_dict(arrays, source=source, fmt="pytorch", metadata=metadata,
                                 layer_order=layer_order, file_order=True)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def read_torch_module(module, *, source: str | None = None) -> DenseStack:
    """The dense stack of a ``torch.nn.Sequential`` of ``Linear`` layers and activations.

    Understood: ``Linear``, ``ReLU``, ``Tanh``, ``ELU(alpha=1)``, ``Identity``, ``Dropout``
    (identity at inference), ``Flatten`` before the first ``Linear``, ``Softmax`` /
    ``LogSoftmax`` over the last dimension at the end, and nested ``Sequential``. A single
    ``Linear`` is a one-layer stack.

    Raises
    ------
    InteropError
        Naming the first module that is not one of these (convolution, normalisation, ...).
    """
    torch = require("torch", "reading a PyTorch module")
    nn = torch.nn
    source = source or f"<{type(module).__name__}>"
    ops: list[tuple[str, Any, str]] = []

    def walk(mod, prefix: str) -> None:
        children = list(mod.named_children()) if isinstance(mod, nn.Sequential) else [(None, mod)]
        for name, child in children:
            full = prefix if name is None else (f"{prefix}.{name}" if prefix else name)
            label = f"{full or type(child).__name__} ({type(child).__name__})"
            if isinstance(child, nn.Sequential):
                walk(child, full)
            elif isinstance(child, nn.Linear):
                w = _tensor_to_numpy(child.weight, f"{source}: layer {label} weight")
                b = None if child.bias is None else _tensor_to_numpy(child.bias, f"{source}: layer {label} bias")
                ops.append(("dense", (w, b), full or "linear"))
            elif isinstance(child, nn.ReLU):
                ops.append(("act", "relu", label))
            elif isinstance(child, nn.Tanh):
                ops.append(("act", "tanh", label))
            elif isinstance(child, nn.ELU):
                if float(child.alpha) != 1.0:
                    raise InteropError(f"{source}: layer {label}: ELU with alpha={child.alpha}; a SpectralMLP's "
                                       "elu has alpha 1")
                ops.append(("act", "elu", label))
            elif isinstance(child, nn.Identity):
                ops.append(("act", "identity", label))
            elif isinstance(child, (nn.Dropout, nn.AlphaDropout)):
                ops.append(("dropout", None, label))
            elif isinstance(child, nn.Flatten):
                ops.append(("flatten", None, label))
            elif isinstance(child, (nn.Softmax, nn.LogSoftmax)):
                if child.dim not in (-1, 1, None):
                    raise InteropError(f"{source}: layer {label}: softmax over dim {child.dim}, not the classes")
                ops.append(("act", "softmax" if isinstance(child, nn.Softmax) else "log_softmax", label))
            else:
                kind = ("a convolution" if "Conv" in type(child).__name__ else
                        "a normalisation layer" if "Norm" in type(child).__name__ else "not understood")
                raise InteropError(f"{source}: layer {label} is {kind}; only Linear layers with ReLU, Tanh, "
                                   "ELU or Identity between them can be imported")

    walk(module, "")
    from ._stack import assemble

    return assemble(ops, source=source, fmt="torch-module")


def from_torch(module, *, train: str = "direct", dtype=None, device: str | None = None):
    """A :class:`~spectral_physics.SpectralMLP` computing what a ``torch.nn.Sequential`` computes.

    See :func:`read_torch_module` for the modules understood; ``train``, ``dtype`` and
    ``device`` as for :meth:`DenseStack.to_network`.
    """
    return read_torch_module(module).to_network(train=train, dtype=dtype, device=device)


# ---------------------------------------------------------------------------- safetensors


def read_safetensors(path, *, layer_order: Sequence[str] | None = None) -> DenseStack:
    """Read a safetensors file with the ``safetensors`` package (NumPy only, no torch).

    The header's ``__metadata__`` is the metadata (``activation``,
    ``spectral_physics.activation``, ``spectral_physics.layers``).

    Raises
    ------
    MissingDependencyError
        Without safetensors.
    InteropError
        For a damaged file or any layer that is not dense.
    """
    require("safetensors", "reading a safetensors file")
    from safetensors import safe_open

    source = str(path)
    arrays: dict[str, np.ndarray] = {}
    try:
        with safe_open(str(path), framework="np") as fh:
            metadata = dict(fh.metadata() or {})
            for key in fh.keys():
                arrays[key] = fh.get_tensor(key)
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - SafetensorError, OSError, TypeError (bfloat16 in NumPy), ...
        raise InteropError(f"{source}: not a readable safetensors file ({_first_line(exc)})") from None
    for key, arr in arrays.items():
        if arr.dtype == np.float16:
            arrays[key] = arr.astype(np.float32)
    return stack_from_state_dict(arrays, source=source, fmt="safetensors", metadata=metadata,
                                 layer_order=layer_order)
