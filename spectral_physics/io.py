"""Save and load networks: one ``.npz`` file with a JSON header.

The header records the constructor arguments (sizes, preset, activation, seed,
dtype, init, bias), the package version, the file-format version, per-layer
sparsity settings and, optionally, the training history and user metadata.
Files are written atomically (a temporary file renamed into place), so an
interrupted save never leaves a half-written model.

Example
-------
>>> import tempfile, os
>>> from spectral_physics import SpectralMLP, save_network, load_network
>>> net = SpectralMLP([4, 3, 2], train="eigen", seed=1)
>>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
>>> save_network(net, path)
>>> load_network(path).preset
'eigen'
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_path
from .backend import to_numpy

__all__ = ["FORMAT_VERSION", "ModelFileError", "save_network", "load_network", "read_header"]

FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file is damaged, of an unknown format version, or not a model file."""


def _atomic_write(path: Path, write) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write(fh)


def save_network(net, path: str | os.PathLike, history=None, metadata: dict | None = None) -> None:
    """Write ``net`` (and optionally its training history) to one ``.npz`` file.

    Parameters
    ----------
    net : SpectralMLP
    path : path-like
        Destination; written atomically.
    history : History, optional
    metadata : dict, optional
        JSON-serialisable extras stored in the header under ``metadata``.
    """
    from . import __version__

    header: dict[str, Any] = {
        "format": "spectral-physics-network",
        "format_version": FORMAT_VERSION,
        "package_version": __version__,
        "config": net.config(),
        "sparsity": [layer.sparsity for layer in net.layers],
        "history": history.to_json() if history is not None else None,
        "metadata": metadata or {},
    }
    arrays: dict[str, np.ndarray] = {"__header__": np.array(json.dumps(header))}
    for k, layer in enumerate(net.layers):
        for name, arr in layer.arrays.items():
            arrays[f"layer{k}/{name}"] = to_numpy(arr)
        if layer.mask is not None:
            arrays[f"layer{k}/mask"] = to_numpy(layer.mask)
    _atomic_write(Path(path), lambda fh: np.savez(fh, **arrays))


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a model file, validated (format and version)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            header = json.loads(str(f["__header__"]))
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError) as exc:
        raise ModelFileError(f"{path}: not a readable spectral-physics model file ({exc})") from exc
    if header.get("format") != "spectral-physics-network":
        raise ModelFileError(f"{path}: not a spectral-physics model file")
    version = header.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: file format version {version} is newer than this library's "
            f"({FORMAT_VERSION}); upgrade spectral-physics to read it"
        )
    return header


def load_network(path: str | os.PathLike, device: str | None = None, with_history: bool = False):
    """Read a network written by :func:`save_network`.

    Parameters
    ----------
    path : path-like
    device : {"cpu", "gpu"}, optional
        Where to put the arrays (default: ``SPECTRAL_PHYSICS_DEVICE`` or CPU).
    with_history : bool
        Also return the stored :class:`~spectral_physics.train.History` (or ``None``).

    Returns
    -------
    net : SpectralMLP
    history : History or None
        Only with ``with_history=True``.
    """
    from .network import SpectralMLP
    from .train import History

    path = Path(path)
    header = read_header(path)
    cfg = header["config"]
    try:
        net = SpectralMLP(cfg["sizes"], train=cfg["train"], activation=cfg["activation"],
                          seed=cfg["seed"], device=device, dtype=cfg["dtype"],
                          init=cfg.get("init", "default"), bias=cfg.get("bias", True))
        with np.load(path, allow_pickle=False) as f:
            for k, layer in enumerate(net.layers):
                for name in layer.arrays:
                    setattr(layer, name, f[f"layer{k}/{name}"])
                if f"layer{k}/mask" in f.files:
                    layer.mask = f[f"layer{k}/mask"]
                layer.sparsity = header.get("sparsity", [None] * len(net.layers))[k]
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ModelFileError(f"{path}: damaged model file ({exc})") from exc
    if with_history:
        hist = header.get("history")
        return net, (History.from_json(hist) if hist else None)
    return net
