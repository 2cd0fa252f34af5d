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
from .train import Callback, History  # one direction only: train never imports io

__all__ = ["FORMAT_VERSION", "ModelFileError", "save_network", "load_network", "read_header", "Checkpoint"]

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


class Checkpoint(Callback):
    """Training callback: save the network and its history atomically during :func:`~spectral_physics.fit`.

    Saves after every ``every``-th epoch (after the epoch's evaluation) and once more when
    training ends, so the file always holds the network ``fit`` returns (after early
    stopping, the restored best epoch). A run that diverges keeps the last file written
    before it, or none.

    Parameters
    ----------
    path : path-like
        Destination ``.npz``; written atomically, overwritten each time.
    every : int
        Epochs between saves.
    metadata : dict, optional
        Passed to :func:`save_network`.

    Notes
    -----
    The history saved at an epoch holds that epoch's record as it is when this callback
    runs: list it after callbacks that annotate records (e.g.
    :class:`~spectral_physics.sparse.TopologyTurnover`); the save at the end has them all.
    """

    def __init__(self, path: str | os.PathLike, every: int = 1, metadata: dict | None = None) -> None:
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.path, self.every, self.metadata = Path(path), int(every), metadata
        self._records: list[dict[str, Any]] = []

    def on_train_begin(self, net) -> None:
        self._records = []

    def on_epoch_end(self, net, epoch: int, record: dict[str, Any]) -> None:
        self._records.append(record)
        if epoch % self.every == 0:
            save_network(net, self.path, history=History(list(self._records)), metadata=self.metadata)

    def on_train_end(self, net, history) -> None:
        save_network(net, self.path, history=history, metadata=self.metadata)


# ---------------------------------------------------------------------------- reading
#
# A model file is read in two passes. The first reads only the JSON header and the
# small .npy headers of the zip members (shapes and dtypes, no array data) and checks
# them against one schema: every field's type, the sizes under the size guard, and the
# stored shapes against the sizes. Only then is anything allocated, so a crafted file
# cannot ask for gigabytes, and every refusal is a ModelFileError naming the file and
# the field instead of a KeyError or TypeError from deep inside the loader.

_FORMAT = "spectral-physics-network"

# The header is one 0-d unicode array (4 bytes a character); a long training history is
# a few hundred kilobytes, so 16 M characters leaves room while bounding the allocation.
_MAX_HEADER_CHARS = 1 << 24

# The arrays each layer stores, by parametrisation: this is the file format. ``bias`` is
# stored even with bias=False (zeros), ``direct`` keeps its fixed eigenvalues.
_LAYER_ARRAYS: dict[str, tuple[str, ...]] = {
    "direct": ("weight", "lam_in", "lam_out", "bias"),
    "phi": ("phi", "lam_in", "lam_out", "bias"),
    "svd": ("U", "s", "V", "lam_in", "lam_out", "bias"),
    "qr": ("R", "Q", "lam_in", "lam_out", "bias"),
}

_MISSING = object()


def _array_shape(name: str, n_in: int, n_out: int) -> tuple[int, ...]:
    """Shape of one stored array of a layer ``n_in -> n_out`` (one ensemble member)."""
    r = min(n_in, n_out)
    return {
        "weight": (n_out, n_in), "phi": (n_out, n_in), "Q": (n_out, n_in), "mask": (n_out, n_in),
        "lam_in": (n_in,), "lam_out": (n_out,), "bias": (n_out,),
        "U": (n_out, r), "s": (r,), "V": (r, n_in), "R": (r, r),
    }[name]


def _short(value: Any) -> str:
    # as JSON, since that is what the file holds (null, true, "1"), cut to one short line
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _is_int(value: Any) -> bool:
    # JSON true/false arrive as bool, a subclass of int: never a count or a version
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _npy_header(fh) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of the .npy stream ``fh``, reading no array data."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    return tuple(shape), dtype, fh.tell()


def _inspect(path: Path) -> tuple[Any, dict[str, tuple[tuple[int, ...], np.dtype]]]:
    """The parsed (unvalidated) JSON header and ``{array name: (shape, dtype)}`` of a model file."""
    import zlib

    if not path.exists():
        raise FileNotFoundError(f"model file not found: {path}")
    members: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                name = info.filename
                key = name.removesuffix(".npy")
                if key == name or key in members:
                    raise ModelFileError(f"{path}: not a spectral-physics model file "
                                         f"(unexpected archive member {name!r})")
                with zf.open(info) as fh:
                    shape, dtype, offset = _npy_header(fh)
                if dtype.hasobject or dtype.fields is not None:
                    raise ModelFileError(f"{path}: array {key!r} has dtype {dtype}, not a plain number type")
                nbytes = dtype.itemsize
                for n in shape:
                    nbytes *= n
                # The .npy header's shape decides what NumPy allocates: it must match the bytes
                # actually stored, or a 1 KB member could claim a terabyte.
                if info.file_size != offset + nbytes:
                    raise ModelFileError(
                        f"{path}: damaged model file: array {key!r} claims shape {shape} "
                        f"({nbytes} bytes) but its archive member holds {info.file_size - offset} bytes")
                members[key] = (shape, dtype)
            head = members.pop("__header__", None)
            if head is None:
                raise ModelFileError(f"{path}: not a spectral-physics model file (no __header__)")
            shape, dtype = head
            if shape != () or dtype.kind != "U" or dtype.itemsize > 4 * _MAX_HEADER_CHARS:
                raise ModelFileError(f"{path}: not a spectral-physics model file (__header__ is "
                                     f"{dtype} of shape {shape}, not one JSON string)")
            with zf.open("__header__.npy") as fh:
                text = str(np.lib.format.read_array(fh, allow_pickle=False))
    except ModelFileError:
        raise
    except zipfile.BadZipFile as exc:
        raise ModelFileError(f"{path}: not a spectral-physics model file (not an .npz archive: {exc})") from exc
    except (OSError, EOFError, ValueError, NotImplementedError, RuntimeError, zlib.error) as exc:
        # zlib.error (damaged deflate data) is no OSError; RuntimeError: an encrypted member
        raise ModelFileError(f"{path}: not a readable spectral-physics model file ({exc})") from exc
    try:
        header = json.loads(text)
    except ValueError as exc:
        raise ModelFileError(f"{path}: header is not valid JSON ({exc})") from exc
    return header, members


def _validate_header(header: Any, path: Path) -> dict[str, Any]:
    """Check every field of a parsed header; raise ModelFileError naming the first bad one."""
    from .activations import ACTIVATIONS
    from .layers import INITS, parse_train

    def bad(field: str, want: str, got: Any = _MISSING) -> ModelFileError:
        what = "is missing" if got is _MISSING else f"is {_short(got)}"
        return ModelFileError(f"{path}: header field {field!r} {what}; it must be {want}")

    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: not a spectral-physics model file (the header is a JSON "
                             f"{type(header).__name__}, not an object)")
    if header.get("format") != _FORMAT:
        raise ModelFileError(f"{path}: not a spectral-physics model file (header field 'format' is "
                             f"{_short(header.get('format'))}, not {_FORMAT!r})")
    version = header.get("format_version", _MISSING)
    if not _is_int(version) or version < 1:
        raise bad("format_version", "a positive integer", version)
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: file format version {version} is newer than this library's "
            f"({FORMAT_VERSION}); upgrade spectral-physics to read it"
        )
    if "package_version" in header and not isinstance(header["package_version"], str):
        raise bad("package_version", "a string", header["package_version"])

    cfg = header.get("config", _MISSING)
    if not isinstance(cfg, dict):
        raise bad("config", "an object holding the network's constructor arguments", cfg)
    sizes = cfg.get("sizes", _MISSING)
    if not (isinstance(sizes, list) and len(sizes) >= 2 and all(_is_int(s) and s >= 1 for s in sizes)):
        raise bad("config.sizes", "a list of at least two positive integers", sizes)
    train = cfg.get("train", _MISSING)
    try:
        if not isinstance(train, str):
            raise ValueError
        parse_train(train)
    except ValueError:
        raise bad("config.train", "a preset name or names joined by '+'", train) from None
    activation = cfg.get("activation", _MISSING)
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise bad("config.activation", f"one of {sorted(ACTIVATIONS)}", activation)
    seed = cfg.get("seed", _MISSING)
    seeds = seed if isinstance(seed, list) else [seed]
    if not seeds or not all(_is_int(s) and s >= 0 for s in seeds):
        raise bad("config.seed", "a non-negative integer or a non-empty list of them", seed)
    dtype = cfg.get("dtype", _MISSING)
    try:
        if not isinstance(dtype, str) or np.dtype(dtype).kind != "f":
            raise TypeError
    except TypeError:
        raise bad("config.dtype", "the name of a floating dtype, e.g. 'float32'", dtype) from None
    if "init" in cfg and cfg["init"] not in INITS:
        raise bad("config.init", f"one of {list(INITS)}", cfg["init"])
    if "bias" in cfg and not isinstance(cfg["bias"], bool):
        raise bad("config.bias", "true or false", cfg["bias"])

    sparsity = header.get("sparsity")
    if sparsity is not None:
        n_layers = len(sizes) - 1
        if not (isinstance(sparsity, list) and len(sparsity) == n_layers and all(
                s is None or (_is_number(s) and 0 <= s < 1) for s in sparsity)):
            raise bad("sparsity", f"null or a list of {n_layers} entries (one per layer of "
                      f"config.sizes), each null or a number in [0, 1)", sparsity)
    history = header.get("history")
    if history is not None:
        if not isinstance(history, dict):
            raise bad("history", "null or an object", history)
        records = history.get("records", [])
        if not (isinstance(records, list) and all(isinstance(r, dict) for r in records)):
            raise bad("history.records", "a list of objects", records)
        if not isinstance(history.get("stopped_early", False), bool):
            raise bad("history.stopped_early", "true or false", history["stopped_early"])
        best = history.get("best_epoch")
        if best is not None and not _is_int(best):
            raise bad("history.best_epoch", "null or an integer", best)
    metadata = header.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise bad("metadata", "null or an object", metadata)
    return header


def _check_arrays(path: Path, members: dict, cfg: dict[str, Any]) -> None:
    """The stored arrays must be exactly those the header's sizes and preset imply."""
    from .layers import parse_train

    sizes = cfg["sizes"]
    param = parse_train(cfg["train"])[1]
    lead = (len(cfg["seed"]),) if isinstance(cfg["seed"], list) else ()
    expected: dict[str, tuple[int, ...]] = {}
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for name in _LAYER_ARRAYS[param]:
            expected[f"layer{k}/{name}"] = lead + _array_shape(name, n_in, n_out)
        if f"layer{k}/mask" in members:
            expected[f"layer{k}/mask"] = lead + _array_shape("mask", n_in, n_out)
    for key in members:
        if key not in expected:
            raise ModelFileError(
                f"{path}: damaged model file: array {key!r} does not belong to a {cfg['train']!r} network "
                f"with header field 'config.sizes' = {sizes}")
    for key, want in expected.items():
        if key not in members:
            raise ModelFileError(f"{path}: damaged model file: array {key!r} is missing")
        shape, dtype = members[key]
        if shape != want:
            raise ModelFileError(
                f"{path}: damaged model file: array {key!r} has shape {shape}, but header field "
                f"'config.sizes' = {sizes} implies {want}")
        kind = "b" if key.endswith("/mask") else "f"
        if dtype.kind != kind:
            raise ModelFileError(f"{path}: damaged model file: array {key!r} has dtype {dtype}, expected "
                                 + ("bool" if kind == "b" else "a floating dtype"))


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a model file, validated against the header schema.

    Reads no array data. The schema covers every field's type (``format_version`` a
    positive integer not above :data:`FORMAT_VERSION`, ``config`` with ``sizes``,
    ``train``, ``activation``, ``seed``, ``dtype``, optional ``init`` and ``bias``;
    ``sparsity`` one entry per layer; ``history`` and ``metadata`` objects or null).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        Naming the file and the offending field, for anything that is not a valid header.
    """
    path = Path(path)
    header, _ = _inspect(path)
    return _validate_header(header, path)


def load_network(path: str | os.PathLike, device: str | None = None, with_history: bool = False,
                 check_finite: bool = True):
    """Read a network written by :func:`save_network`.

    Everything the header claims is checked before any array is allocated: the header
    schema (:func:`read_header`), the size guard
    (:func:`spectral_physics.limits.check_network_size`) and the shapes of the stored
    arrays against ``config.sizes``.

    Parameters
    ----------
    path : path-like
    device : {"cpu", "gpu"}, optional
        Where to put the arrays (default: ``SPECTRAL_PHYSICS_DEVICE`` or CPU).
    with_history : bool
        Also return the stored :class:`~spectral_physics.train.History` (or ``None``).
    check_finite : bool, default True
        Refuse parameters holding NaN or infinity (a diverged run); every analysis
        of such a network fails later with far less clear errors. ``False`` loads them
        anyway, for inspection.

    Returns
    -------
    net : SpectralMLP
    history : History or None
        Only with ``with_history=True``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ModelFileError
        Naming the file (and the header field or array) for a damaged, crafted, too
        large, newer-format or non-finite model file.
    """
    from .limits import check_network_size
    from .network import SpectralMLP

    path = Path(path)
    header, members = _inspect(path)
    _validate_header(header, path)
    cfg = header["config"]
    n_members = len(cfg["seed"]) if isinstance(cfg["seed"], list) else 1
    try:
        check_network_size(cfg["sizes"], n_members)
    except ValueError as exc:
        raise ModelFileError(f"{path}: header field 'config.sizes': {exc}") from None
    _check_arrays(path, members, cfg)
    sparsity = header.get("sparsity") or [None] * (len(cfg["sizes"]) - 1)
    try:
        net = SpectralMLP(cfg["sizes"], train=cfg["train"], activation=cfg["activation"],
                          seed=cfg["seed"], device=device, dtype=cfg["dtype"],
                          init=cfg.get("init", "default"), bias=cfg.get("bias", True))
        with zipfile.ZipFile(path) as zf:
            for k, layer in enumerate(net.layers):
                names = list(layer.arrays) + (["mask"] if f"layer{k}/mask" in members else [])
                for name in names:
                    key = f"layer{k}/{name}"
                    with zf.open(f"{key}.npy") as fh:
                        arr = np.lib.format.read_array(fh, allow_pickle=False)
                    if check_finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
                        bad = int(arr.size - np.isfinite(arr).sum())
                        raise ModelFileError(
                            f"{path}: array {key!r} holds {bad} NaN or infinite values (a diverged "
                            "run?); load_network(..., check_finite=False) reads it anyway")
                    setattr(layer, name, arr)
                layer.sparsity = sparsity[k]
    except ModelFileError:
        raise
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ModelFileError(f"{path}: damaged model file ({exc})") from exc
    if with_history:
        hist = header.get("history")
        return net, (History.from_json(hist) if hist else None)
    return net
