"""CF attributes, provenance and atomic netCDF writing (spectral_physics.analysis._xr)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from spectral_physics.analysis._xr import cf, git_revision, provenance_attrs, read_netcdf, sanitize_attrs, write_netcdf


def test_sanitize_attrs_only_strings_and_numbers():
    out = sanitize_attrs({"a": True, "b": None, "c": [1, 2], "d": {"x": np.float32(1.5)}, "e": np.int64(3),
                          "f": "s", "g": 2.5})
    assert out == {"a": 1, "b": "null", "c": "[1, 2]", "d": '{"x": 1.5}', "e": 3, "f": "s", "g": 2.5}
    assert all(isinstance(v, (str, int, float)) for v in out.values())


def test_cf_and_provenance():
    da = cf(xr.DataArray(np.zeros(3), dims="node"), "gain", "1", comment=["a"])
    assert da.attrs == {"long_name": "gain", "units": "1", "comment": '["a"]'}
    with pytest.raises(ValueError, match="units"):
        cf(da, "gain", "")
    attrs = provenance_attrs(analysis="demo", seeds=[0, 1], flag=True)
    prov = json.loads(attrs["provenance"])
    assert prov["analysis"] == "demo" and prov["seeds"] == [0, 1]
    assert "numpy" in prov["versions"] and prov["git_revision"] == git_revision()
    assert attrs["seeds"] == "[0, 1]" and attrs["flag"] == 1 and attrs["Conventions"] == "CF-1.8"


def test_write_netcdf_atomic_roundtrip(tmp_path):
    ds = xr.Dataset({"v": cf(xr.DataArray(np.arange(4.0), dims="node"), "value", "1")},
                    attrs={"spec": {"sizes": [4, 2]}, "ok": False})
    path = write_netcdf(ds, tmp_path / "sub" / "out.nc")  # parent created
    write_netcdf(ds, path)  # re-run overwrites in place
    back = read_netcdf(path)
    xr.testing.assert_identical(back.v, ds.v)
    assert json.loads(back.attrs["spec"]) == {"sizes": [4, 2]} and back.attrs["ok"] == 0
    assert [p.name for p in path.parent.iterdir()] == ["out.nc"]  # no temporary left behind
    with pytest.raises(FileNotFoundError, match="missing.nc"):
        read_netcdf(tmp_path / "missing.nc")
