"""xarray helpers shared by every analysis: CF attributes, provenance, netCDF I/O.

Every Dataset that leaves ``analysis`` goes through three helpers:

>>> import numpy as np, xarray as xr
>>> from spectral_physics.analysis._xr import cf, provenance_attrs, write_netcdf, read_netcdf
>>> da = cf(xr.DataArray(np.arange(3.0), dims="node"), "absolute eigenvalue", "1")
>>> ds = xr.Dataset({"abs_lam": da}, attrs=provenance_attrs(analysis="demo", seeds=[0, 1]))
>>> import os, tempfile
>>> path = write_netcdf(ds, os.path.join(tempfile.mkdtemp(), "demo.nc"))
>>> read_netcdf(path).attrs["seeds"]
'[0, 1]'

netCDF attributes can only hold strings and numbers; ``sanitize_attrs`` turns
everything else (dicts, lists, None, booleans, numpy scalars) into JSON strings or
plain numbers so a Dataset round-trips without loss of meaning.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import xarray as xr

from spectral_physics.atomic import atomic_path
from spectral_physics.provenance import (  # noqa: F401  (re-exported)
    git_revision,
    package_versions,
    provenance_attrs,
    sanitize_attrs,
    to_json,
)

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
    with atomic_path(path) as tmp:
        _sanitized(ds).to_netcdf(tmp, engine="netcdf4")
    return path


def read_netcdf(path: str | os.PathLike) -> xr.Dataset:
    """Read a netCDF file fully into memory (the file is closed on return)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such netCDF file: {path}")
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return ds.load()
