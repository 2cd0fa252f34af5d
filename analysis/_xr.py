"""xarray helpers shared by every analysis: CF attributes, provenance, netCDF I/O.

Every Dataset that leaves ``analysis`` goes through three helpers:

>>> import numpy as np, xarray as xr
>>> from analysis._xr import cf, provenance_attrs, write_netcdf, read_netcdf
>>> da = cf(xr.DataArray(np.arange(3.0), dims="node"), "absolute eigenvalue", "1")
>>> ds = xr.Dataset({"abs_lam": da}, attrs=provenance_attrs(analysis="demo", seeds=[0, 1]))
>>> write_netcdf(ds, "demo.nc")                                  # doctest: +SKIP
>>> read_netcdf("demo.nc").attrs["seeds"]                         # doctest: +SKIP
'[0, 1]'

netCDF attributes can only hold strings and numbers; ``sanitize_attrs`` turns
everything else (dicts, lists, None, booleans, numpy scalars) into JSON strings or
plain numbers so a Dataset round-trips without loss of meaning.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Mapping
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

__all__ = [
    "cf",
    "provenance_attrs",
    "sanitize_attrs",
    "write_netcdf",
    "read_netcdf",
    "git_revision",
    "package_versions",
    "to_json",
]

_PACKAGES = ("spectral-physics", "numpy", "scipy", "xarray", "netCDF4", "matplotlib", "cupy")


def cf(da: xr.DataArray, long_name: str, units: str, **extra: Any) -> xr.DataArray:
    """Attach CF attributes to ``da`` in place and return it.

    Parameters
    ----------
    da : xarray.DataArray
    long_name : str
        Human-readable name (CF ``long_name``).
    units : str
        UDUNITS string; ``"1"`` for dimensionless quantities.
    **extra
        Further attributes (e.g. ``description``, ``comment``); sanitised like every
        attribute so they survive netCDF.
    """
    if not isinstance(long_name, str) or not long_name:
        raise ValueError("long_name must be a non-empty string")
    if not isinstance(units, str) or not units:
        raise ValueError("units must be a non-empty string ('1' for dimensionless)")
    da.attrs.update(sanitize_attrs({"long_name": long_name, "units": units, **extra}))
    return da


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


def _sanitized(ds: xr.Dataset) -> xr.Dataset:
    ds = ds.copy(deep=False)
    ds.attrs = sanitize_attrs(ds.attrs)
    for name in ds.variables:
        ds[name].attrs = sanitize_attrs(ds[name].attrs)
    return ds


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write ``ds`` to netCDF-4 atomically (temporary file in the same folder, then rename).

    Attributes are sanitised first (see ``sanitize_attrs``); the parent folder is
    created if missing. A crash mid-write leaves any previous file untouched.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    if path.suffix == "":
        raise ValueError(f"path must have a file suffix such as .nc, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        _sanitized(ds).to_netcdf(tmp, engine="netcdf4")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_netcdf(path: str | os.PathLike) -> xr.Dataset:
    """Read a netCDF file fully into memory (the file is closed on return)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such netCDF file: {path}")
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()
