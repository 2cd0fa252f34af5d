"""One code path for NumPy (CPU) and CuPy (GPU).

Every array of a network lives on one device. Code takes its array module from
the arrays it receives (:func:`array_module`), so the same function runs on
both. Random initial values are always drawn on the host from
``numpy.random.Generator(SeedSequence(seed))`` and then moved, so a seed gives
the same initial network on the CPU and on the GPU.

Example
-------
>>> from spectral_physics.backend import get_xp, to_device, to_numpy
>>> xp = get_xp("cpu")
>>> a = to_device(xp.arange(3.0), "cpu")
>>> to_numpy(a).tolist()
[0.0, 1.0, 2.0]
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

from . import config

__all__ = [
    "DEVICES",
    "resolve_device",
    "get_xp",
    "array_module",
    "to_device",
    "to_numpy",
    "host_rng",
    "device_of",
    "default_device",
    "gpu_count",
    "synchronize",
]

DEVICES = ("cpu", "gpu")


def resolve_device(device: str | None = None) -> str:
    """Return ``"cpu"`` or ``"gpu"``.

    Parameters
    ----------
    device : {"cpu", "gpu"} or None
        Also ``"cuda"``, ``"cupy"`` (any case). ``None`` reads ``SPECTRAL_PHYSICS_DEVICE``
        now (:mod:`spectral_physics.config`) and falls back to ``"cpu"``.

    Raises
    ------
    ValueError
        For another value, naming ``device`` or the environment variable.
    RuntimeError
        For ``"gpu"`` without CuPy or without a CUDA device.
    """
    device = config.get("SPECTRAL_PHYSICS_DEVICE", device, argument="device")
    if device == "gpu":
        _cupy()
    return device


def _cupy() -> ModuleType:
    """Import CuPy and check a CUDA device exists, with an error saying which is missing."""
    try:
        import cupy
    except ImportError as exc:
        raise RuntimeError(
            "device='gpu' needs CuPy, which is not installed: "
            "pip install 'spectral-physics[gpu]'"
        ) from exc
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - driver errors come in many types
        raise RuntimeError(f"device='gpu': CuPy is installed but no CUDA device is usable ({exc})") from exc
    if n < 1:
        raise RuntimeError("device='gpu': CuPy is installed but no CUDA device was found")
    return cupy


@contextlib.contextmanager
def default_device(device: str | None) -> Iterator[str]:
    """Make ``device`` the default device inside the block (``None``: leave it as it is).

    Sets ``SPECTRAL_PHYSICS_DEVICE`` for the block, so every network built with
    ``device=None`` in this process, and in the worker processes started inside the block
    (which inherit the environment), lives on ``device``; the variable is restored on exit.
    ``"gpu"`` is checked first (:func:`resolve_device`: CuPy and a CUDA device), so a missing
    GPU is reported before any work starts. Yields the resolved device.
    """
    if device is None:
        yield resolve_device(None)
        return
    device = resolve_device(device)
    name = "SPECTRAL_PHYSICS_DEVICE"
    saved = os.environ.get(name)
    os.environ[name] = device
    try:
        yield device
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def gpu_count() -> int:
    """Number of usable CUDA devices; 0 without CuPy, without a driver, or on any CUDA error.

    Never raises, so callers can ask before deciding anything (e.g. one sweep worker per
    GPU). Importing CuPy costs a few tenths of a second the first time.
    """
    try:
        import cupy
    except Exception:  # noqa: BLE001 - ImportError, or a broken CuPy install
        return 0
    try:
        return max(0, int(cupy.cuda.runtime.getDeviceCount()))
    except Exception:  # noqa: BLE001 - driver errors come in many types
        return 0


def get_xp(device: str | None = None) -> ModuleType:
    """Array module (``numpy`` or ``cupy``) for a device."""
    return _cupy() if resolve_device(device) == "gpu" else np


def array_module(*arrays: Any) -> ModuleType:
    """Array module of the given arrays (``cupy`` if any is a CuPy array)."""
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            import cupy

            return cupy
    return np


def device_of(array: Any) -> str:
    """``"gpu"`` for a CuPy array, else ``"cpu"``."""
    return "gpu" if array_module(array) is not np else "cpu"


def to_device(array: Any, device: str, dtype: Any = None) -> Any:
    """Copy (if needed) an array to ``device``, optionally casting to ``dtype``."""
    if resolve_device(device) == "gpu":
        cp = _cupy()
        out = cp.asarray(array)
    else:
        out = to_numpy(array)
    if dtype is not None:
        out = out.astype(dtype, copy=False)
    return out


def to_numpy(array: Any) -> np.ndarray:
    """Host NumPy copy (or view) of a NumPy or CuPy array; scalars pass through NumPy."""
    if hasattr(array, "get") and type(array).__module__.startswith("cupy"):
        return array.get()
    return np.asarray(array)


def host_rng(seed: int | np.random.SeedSequence | None) -> np.random.Generator:
    """Seeded host generator: ``Generator(PCG64(SeedSequence(seed)))``."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.random.Generator(np.random.PCG64(ss))


def synchronize(xp: ModuleType) -> None:
    """Wait for queued device work (a no-op on NumPy); for timing only, never per batch."""
    if xp is not np:
        xp.cuda.get_current_stream().synchronize()
