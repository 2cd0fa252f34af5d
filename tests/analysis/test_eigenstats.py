"""Tests of the eigenvalue-statistics Datasets of networks (spectral_physics.analysis.eigenstats).

The array functions they are built from are tested in ``test_rmt.py``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from spectral_physics.analysis import eigenstats as es
from spectral_physics.analysis import rmt

from spectral_physics import SpectralMLP, fit


# ---------------------------------------------------------------- networks
def _toy(rng, n=256, d=12, c=3):
    x = rng.normal(size=(n, d))
    y = (x[:, :c] + 0.3 * rng.normal(size=(n, c))).argmax(axis=1)
    return x.astype(np.float32), y


def test_transfer_operator_eigenvalues_are_the_lambdas(rng):
    net = SpectralMLP([12, 9, 9, 3], train="spectral", init="paper", seed=3, dtype="float64")
    x, y = _toy(rng)
    fit(net, (x, y), epochs=2, batch_size=64, lr=1e-2, progress=False)
    for k, layer in enumerate(net.layers):
        a = net.transfer_operator(k)
        lam = np.concatenate([np.asarray(layer.lam_in), np.asarray(layer.lam_out)])
        ev = np.linalg.eigvals(a)  # dense check, small network only
        np.testing.assert_allclose(np.sort(ev.real), np.sort(lam), atol=1e-10)
        np.testing.assert_allclose(ev.imag, 0.0, atol=1e-10)
        chk = es.check_transfer_operator(net, k, dense=True)
        assert chk["structure_error"] == 0.0
        assert chk["eigvec_residual"] < 1e-13 and chk["eig_error"] < 1e-10


def test_check_transfer_operator_catches_a_wrong_operator(monkeypatch):
    net = SpectralMLP([6, 5, 2], train="eigen", init="paper", seed=0, dtype="float64")
    good = net.transfer_operator

    def bad(k, member=None):
        a = good(k, member)
        a[0, -1] = 0.1  # an upper-block entry breaks triangularity
        a[-1, 0] += 0.2  # and a wrong weight breaks A Phi = Phi Lambda
        return a

    monkeypatch.setattr(net, "transfer_operator", bad)
    chk = es.check_transfer_operator(net, 0)
    assert chk["structure_error"] == pytest.approx(0.1)
    assert chk["eigvec_residual"] > 1e-2


def test_eigenstats_dataset_trained_initial_random(rng):
    net = SpectralMLP([12, 10, 3], train="eigen", init="paper", seed=5)
    init_lam = np.asarray(net.layers[0].lam_in, dtype=np.float64).copy()
    x, y = _toy(rng)
    fit(net, (x, y), epochs=3, batch_size=32, lr=2e-2, progress=False)
    ds = es.eigenstats(net, bins=20, dense_check=True)
    assert dict(ds.sizes) == {"source": 3, "layer": 2, "node": 12, "quantile": 7, "bin": 20,
                              "edge": 21, "esd_index": 10}
    trained = ds.lam_in.sel(source="trained", layer=0).values
    np.testing.assert_allclose(trained, np.asarray(net.layers[0].lam_in, dtype=np.float64))
    np.testing.assert_allclose(ds.lam_in.sel(source="initial", layer=0).values, init_lam)
    assert not np.allclose(trained, init_lam)
    # layer 1 has 10 inputs: NaN padding beyond them
    assert np.isnan(ds.lam_in.sel(source="trained", layer=1).values[10:]).all()
    # the random null matches mean and std of the trained arrays
    for src in ("trained", "random"):
        assert float(ds.lam_out_std.sel(source=src, layer=0)) > 0
    r = ds.sel(source="random", layer=0)
    t = ds.sel(source="trained", layer=0)
    assert float(r.lam_in_mean) == pytest.approx(float(t.lam_in_mean), abs=3 * float(t.lam_in_std) / math.sqrt(12))
    # densities share edges and integrate to one
    widths = np.diff(ds.lam_in_edges.sel(layer=0).values)
    np.testing.assert_allclose((ds.lam_in_density.sel(layer=0).values * widths).sum(axis=-1), 1.0)
    assert float(ds.lam_in_r.sel(source="trained", layer=0)) == pytest.approx(rmt.spacing_ratio(trained))
    # the Gram spectrum is that of the effective weights
    w0 = np.asarray(net.weights()[0], dtype=np.float64)
    np.testing.assert_allclose(ds.esd.sel(source="trained", layer=0).values[:10], rmt.gram_spectrum(w0), rtol=1e-9)
    assert (ds.operator_structure_error == 0).all()
    assert float(ds.operator_eigvec_residual.max()) < 1e-6  # float32 parameters
    assert float(ds.mp_q_shape.sel(source="trained", layer=0)) == pytest.approx(1.2)


def test_eigenstats_square_layer_complex_spectrum():
    net = SpectralMLP([8, 40, 40, 3], train="spectral", init="paper", seed=1)
    ds = es.eigenstats(net, bins=10)
    assert ds.sizes["eig_index"] == 40
    assert np.isnan(ds.csr_abs.sel(layer=0)).all() and np.isfinite(ds.csr_abs.sel(layer=1)).all()
    re = ds.w_eig_real.sel(source="trained", layer=1).values
    im = ds.w_eig_imag.sel(source="trained", layer=1).values
    w = np.asarray(net.weights()[1], dtype=np.float64)
    np.testing.assert_allclose(np.sort(np.abs(re + 1j * im)), np.sort(np.abs(np.linalg.eigvals(w))), rtol=1e-8)


def test_eigenstats_ensemble_and_summary():
    ens = SpectralMLP([10, 8, 3], train="eigen", init="paper", seed=[0, 1, 2])
    ds = es.eigenstats_ensemble(ens, bins=8)
    assert list(ds.seed.values) == [0, 1, 2]
    single = es.eigenstats(ens.member(1), bins=8)
    # statistics that do not depend on the shared binning agree member by member
    np.testing.assert_allclose(ds.lam_in_mean.sel(seed=1), single.lam_in_mean)
    np.testing.assert_allclose(ds.lam_out_r.sel(seed=1, source=["trained", "initial"]),
                               single.lam_out_r.sel(source=["trained", "initial"]))
    summ = es.ensemble_summary(ds)
    assert list(summ.stat.values) == ["mean", "sem"]
    v = ds.lam_in_std.sel(source="trained", layer=0).values
    assert float(summ.lam_in_std.sel(stat="sem", source="trained", layer=0)) == pytest.approx(
        v.std(ddof=1) / math.sqrt(3))
    with pytest.raises(ValueError, match="architecture"):
        es.eigenstats_ensemble([SpectralMLP([10, 8, 3]), SpectralMLP([10, 7, 3])])


def test_eigenstats_784_2000_10_takes_seconds(monkeypatch):
    # no dense eigendecomposition of a transfer operator or of a non-square weight matrix:
    # the lambdas are known and singular values come from the 784 x 784 Gram matrix
    def forbidden(*args, **kwargs):
        raise AssertionError("dense non-symmetric eigendecomposition called")

    monkeypatch.setattr(np.linalg, "eigvals", forbidden)
    monkeypatch.setattr(np.linalg, "eig", forbidden)
    net = SpectralMLP([784, 2000, 10], train="eigen", init="paper", seed=0)
    es.eigenstats(SpectralMLP([5, 4, 2], seed=0))  # imports and first-call overheads
    t0 = time.perf_counter()
    ds = es.eigenstats(net)
    elapsed = time.perf_counter() - t0
    # ~2 s on 2 idle cores; the bound only catches order-of-magnitude regressions (an
    # oversubscribed OpenBLAS can be 10x slower than usual)
    assert elapsed < 60.0, f"eigenstats of 784-2000-10 took {elapsed:.1f} s"
    assert ds.sizes["node"] == 2000 and ds.sizes["esd_index"] == 784


# ---------------------------------------------------------------- command line
def test_cli_eigenstats(tmp_path, capsys):
    from spectral_physics.analysis._xr import read_netcdf

    from spectral_physics import save_network
    from spectral_physics.cli import main

    paths = []
    for seed in (0, 1):
        paths.append(str(tmp_path / f"m{seed}.npz"))
        save_network(SpectralMLP([12, 10, 3], train="eigen", init="paper", seed=seed), paths[-1])
    out = tmp_path / "stats.nc"
    assert main(["eigenstats", *paths, "--out", str(out), "--plot", str(tmp_path / "s.png"), "--bins", "9"]) == 0
    text = capsys.readouterr().out
    assert "layer 0: 12 -> 10" in text and "mean+-sem over seeds" in text and "MP KS" in text
    ds = read_netcdf(out)
    assert list(ds.seed.values) == [0, 1] and ds.sizes["bin"] == 9
    assert ds.attrs["models"] == ", ".join(paths)
    assert (tmp_path / "s.png").stat().st_size > 0
    assert main(["eigenstats", str(tmp_path / "missing.npz")]) == 2
    err = capsys.readouterr().err
    assert "missing.npz" in err and len(err.strip().splitlines()) == 1


def test_cli_eigenstats_has_no_initial_for_an_imported_network(tmp_path, capsys):
    import numpy as np
    from spectral_physics.analysis._xr import read_netcdf

    from spectral_physics import save_network
    from spectral_physics.cli import main

    net = SpectralMLP([12, 10, 3], train="direct", seed=0)
    own, imported = tmp_path / "own.npz", tmp_path / "imported.npz"
    save_network(net, own)
    save_network(net, imported, metadata={"imported_from": "model.pt", "imported_format": "state_dict"})
    assert main(["eigenstats", str(own), "--out", str(tmp_path / "a.nc")]) == 0
    assert "initial: not known" not in capsys.readouterr().out
    assert np.isfinite(read_netcdf(tmp_path / "a.nc").lam_in_std.sel(source="initial")).all()
    assert main(["eigenstats", str(imported), "--out", str(tmp_path / "b.nc")]) == 0
    assert "initial: not known for " + str(imported) in capsys.readouterr().out
    ds = read_netcdf(tmp_path / "b.nc")
    assert np.isnan(ds.lam_in_std.sel(source="initial")).all()
    assert np.isfinite(ds.lam_in_std.sel(source="random")).all()
