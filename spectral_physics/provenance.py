"""Provenance of computed results: package versions, git revision, settings as JSON.

Every Dataset and model file this project writes records how it was made. These
helpers need only the standard library and NumPy, so the core (``pruning``) and
``analysis`` share them.

Example
-------
>>> from spectral_physics.provenance import provenance_attrs
>>> attrs = provenance_attrs(analysis="demo", seeds=[0, 1])
>>> attrs["seeds"], "git_revision" in attrs["provenance"]
('[0, 1]', True)
"""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["provenance_attrs", "sanitize_attrs", "git_revision", "package_versions", "to_json"]

_PACKAGES = ("spectral-physics", "numpy", "scipy", "xarray", "netCDF4", "matplotlib", "cupy")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    return repr(obj)


def to_json(value: Any) -> str:
    """JSON string of ``value`` (numpy scalars/arrays and paths converted, keys sorted)."""
    return json.dumps(value, default=_json_default, sort_keys=True)


def _sanitize_value(value: Any) -> str | int | float:
    if isinstance(value, (bool, np.bool_)):
        return int(value)  # netCDF has no boolean attribute type
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    return to_json(value)


def sanitize_attrs(attrs: Mapping[str, Any]) -> dict[str, str | int | float]:
    """Return a copy of ``attrs`` holding only strings, ints and floats.

    Booleans become 0/1, ``None`` becomes ``"null"``, anything else (lists, dicts,
    tuples, arrays) becomes a JSON string.
    """
    return {str(k): _sanitize_value(v) for k, v in attrs.items()}


@lru_cache(maxsize=1)
def git_revision() -> str:
    """Git revision of the source tree this package was imported from.

    ``"<sha>"``, ``"<sha>-dirty"`` when tracked files differ from HEAD, or
    ``"unknown"`` outside a git checkout.
    """
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "diff", "--quiet", "HEAD", "--"], cwd=here, capture_output=True, timeout=5
        )
        return sha.stdout.strip() + ("-dirty" if dirty.returncode == 1 else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Installed versions of the packages an analysis result depends on."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def provenance_attrs(**extra: Any) -> dict[str, str | int | float]:
    """Global attributes recording how a Dataset was made.

    Returns a dict with ``Conventions`` (``"CF-1.8"``), ``history`` (creation time),
    ``provenance`` (JSON string: package versions, git revision, creation time and
    ``extra``) and every ``extra`` item as its own attribute (numbers and strings as
    they are, everything else as a JSON string), ready for ``Dataset.attrs.update``.

    Parameters
    ----------
    **extra
        Whatever identifies the computation: analysis name, seeds, network spec,
        data subset, thresholds.
    """
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    prov = {
        "created": created,
        "git_revision": git_revision(),
        "versions": package_versions(),
        **extra,
    }
    attrs: dict[str, Any] = {
        "Conventions": "CF-1.8",
        "history": f"{created} created by spectral-physics analysis",
        "provenance": to_json(prov),
    }
    attrs.update(extra)
    return sanitize_attrs(attrs)
