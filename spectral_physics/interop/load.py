"""One loader for every model file: ``.npz`` and every imported format.

The format is read from the file's first bytes, not its name: a zip holding
``__header__.npy`` is ours (:func:`spectral_physics.load_network`), a zip holding
``config.json`` and ``model.weights.h5`` is a ``.keras`` model, another zip (or a
pickle) is a PyTorch file, the HDF5 signature is a legacy Keras file, an 8-byte length
followed by ``{`` is safetensors. ONNX (protobuf has no signature) is recognised by its
``.onnx`` suffix.

Example
-------
>>> import os, tempfile
>>> from spectral_physics import SpectralMLP, save_network
>>> from spectral_physics.interop import detect_format, load_any
>>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
>>> save_network(SpectralMLP([4, 3, 2], train="eigen"), path)
>>> detect_format(path), load_any(path).preset
('npz', 'eigen')
"""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path

from ._stack import DenseStack, InteropError

__all__ = ["FORMATS", "detect_format", "read_dense", "load_any"]

#: importable formats and the suffixes they usually carry
FORMATS = {
    "npz": (".npz",),
    "pytorch": (".pt", ".pth", ".bin", ".ckpt"),
    "safetensors": (".safetensors",),
    "keras": (".keras",),
    "keras-h5": (".h5", ".hdf5"),
    "onnx": (".onnx",),
}
_HDF5 = b"\x89HDF\r\n\x1a\n"


def detect_format(path: str | os.PathLike) -> str:
    """The format of a model file, from its content (and the suffix for ONNX).

    Returns
    -------
    str
        A key of :data:`FORMATS`.

    Raises
    ------
    FileNotFoundError
    InteropError
        When the file is none of them (naming the file).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    if path.is_dir():
        raise InteropError(f"{path}: a folder, not a model file")
    with open(path, "rb") as fh:
        head = fh.read(16)
    suffix = path.suffix.lower()
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except zipfile.BadZipFile:
            names = None
        if names is None:
            # a damaged zip: trust the suffix, so the reader names what is wrong
            for fmt, suffixes in FORMATS.items():
                if suffix in suffixes:
                    return fmt
            raise InteropError(f"{path}: a damaged zip archive, and its suffix {suffix!r} names no model format")
        if "__header__.npy" in names:
            return "npz"
        if "config.json" in names and "model.weights.h5" in names:
            return "keras"
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "pytorch"
        if suffix in FORMATS["npz"]:
            return "npz"  # let load_network say what is missing
        raise InteropError(f"{path}: a zip archive that is neither a spectral-physics .npz, a .keras model nor a "
                           "PyTorch file")
    if head.startswith(_HDF5):
        return "keras-h5"
    if len(head) >= 9 and head[8:9] == b"{":
        (n,) = struct.unpack("<Q", head[:8])
        if 0 < n < (1 << 30):
            return "safetensors"
    if head[:1] == b"\x80" and suffix not in FORMATS["onnx"]:
        return "pytorch"  # a legacy (non-zip) torch.save pickle
    for fmt, suffixes in FORMATS.items():
        if suffix in suffixes:
            return fmt
    raise InteropError(f"{path}: not a recognised model file (.npz, PyTorch .pt, .safetensors, .keras, Keras .h5, "
                       ".onnx)")


def read_dense(path: str | os.PathLike, *, format: str | None = None,
               layer_order: Sequence[str] | None = None) -> DenseStack:
    """The dense layers of an imported model file, checked, as a :class:`DenseStack`.

    Parameters
    ----------
    path : path-like
    format : str, optional
        A key of :data:`FORMATS` other than ``npz``; default :func:`detect_format`.
    layer_order : sequence of str, optional
        For state dicts (PyTorch, safetensors): the layer prefixes in the order applied.

    Raises
    ------
    FileNotFoundError
    InteropError
        Naming the file and the layer for anything that cannot be imported exactly.
    MissingDependencyError
        When the format's package is not installed.
    """
    from ._keras import read_keras
    from ._onnx import read_onnx
    from .state_dict import read_pytorch, read_safetensors

    fmt = format or detect_format(path)
    if layer_order is not None and fmt not in ("pytorch", "safetensors"):
        raise ValueError(f"layer_order applies to state dicts (PyTorch, safetensors), not to {fmt} files, whose "
                         "graph fixes the order")
    if fmt == "pytorch":
        return read_pytorch(path, layer_order=layer_order)
    if fmt == "safetensors":
        return read_safetensors(path, layer_order=layer_order)
    if fmt in ("keras", "keras-h5"):
        return read_keras(path)
    if fmt == "onnx":
        return read_onnx(path)
    if fmt == "npz":
        raise ValueError(f"{path}: a spectral-physics .npz; read it with load_network or load_any")
    raise ValueError(f"format must be one of {sorted(FORMATS)}, got {fmt!r}")


def load_any(path: str | os.PathLike, *, activation: str | None = None, device: str | None = None,
             format: str | None = None, layer_order: Sequence[str] | None = None, train: str = "direct"):
    """A :class:`~spectral_physics.SpectralMLP` from ``.npz`` or any imported model file.

    The one loading hook of the analyses (``eigenstats``, ``nodes``, ``homeostasis``,
    ``prune``) and of ``train --init-from``. An ``.npz`` is :func:`spectral_physics.load_network`;
    any other format is read by :func:`read_dense` and becomes a network computing the
    same logits, with ``lam_in = 1``, ``lam_out = 0``, ``phi = W`` in preset ``train``.

    Parameters
    ----------
    path : path-like
    activation : {"relu", "tanh", "elu", "identity"}, optional
        Hidden-layer activation for files that do not state one (state dicts without
        metadata); must agree with the file where it does.
    device : {"cpu", "gpu"}, optional
    format : str, optional
        Default: :func:`detect_format`.
    layer_order : sequence of str, optional
        For state dicts: the layer prefixes in order.
    train : str
        Preset of an imported network (default ``direct``); ignored for ``.npz``, which
        keeps its own (convert with :func:`~spectral_physics.interop.as_spectral`).

    Returns
    -------
    SpectralMLP

    Raises
    ------
    FileNotFoundError
    ModelFileError
        (:class:`InteropError` for imported formats) naming the file and the layer or field.
    MissingDependencyError
        When the format's package is not installed (names the ``interop`` extra).
    """
    fmt = format or detect_format(path)
    if fmt == "npz":
        from ..io import load_network

        if layer_order is not None:
            raise ValueError(f"{path}: layer_order applies to state dicts, not to a spectral-physics .npz")
        net = load_network(path, device=device)
        if activation is not None and activation != net.activation:
            raise InteropError(f"{path}: the model uses activation {net.activation!r}; activation {activation!r} "
                               "was given")
        return net
    stack = read_dense(path, format=fmt, layer_order=layer_order)
    return stack.to_network(activation, train=train, device=device)
