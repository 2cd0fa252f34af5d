"""Homeostasis analysis (spectral_physics.analysis.homeostasis) and the netCDF round trip of every Dataset."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from spectral_physics.analysis import homeostasis as hs
from spectral_physics.analysis._xr import read_netcdf, write_netcdf

from spectral_physics import SpectralMLP, fit


def _data(rng, n=400, d=10, c=3):
    x = rng.normal(size=(n, d))
    y = (x[:, :c] + 0.3 * rng.normal(size=(n, c))).argmax(axis=1)
    return x, y


def test_node_activity_known_answers(rng):
    x, _ = _data(rng)
    net = SpectralMLP([10, 20, 3], train="eigen", seed=1, dtype="float64")
    lam_out = rng.uniform(-1, 1, 20)
    net.layers[0].lam_in = np.full(10, 0.7)  # constant lam_in: z - b = (0.7 - lam_out_i) phi_i . x
    net.layers[0].lam_out = lam_out
    net.layers[0].bias = rng.normal(size=20)
    (d,) = hs.node_activity(net, x)
    np.testing.assert_allclose(d["gain_signed"], 0.7 - lam_out, rtol=1e-10)
    np.testing.assert_allclose(d["gain"], np.abs(0.7 - lam_out), rtol=1e-10)
    phi = np.asarray(net.layers[0].phi)
    np.testing.assert_allclose(d["drive"], np.abs(x @ phi.T).mean(axis=0))
    z = x @ np.asarray(net.weights()[0]).T + np.asarray(net.layers[0].bias)
    np.testing.assert_allclose(d["fraction_active"], (z > 0).mean(axis=0))
    np.testing.assert_allclose(d["activity_mean"], np.maximum(z, 0).mean(axis=0))
    assert np.isnan(d["fraction_saturated"]).all()  # relu does not saturate
    m = np.maximum(z, 0).mean(axis=0)
    assert d["activity_cv"] == pytest.approx(m.std() / m.mean())
    tanh = SpectralMLP([10, 20, 3], train="eigen", seed=1, dtype="float64", activation="tanh")
    (t,) = hs.node_activity(tanh, 5 * x, saturation=0.9)
    a = np.tanh(5 * x @ np.asarray(tanh.weights()[0]).T)
    np.testing.assert_allclose(t["fraction_saturated"], (np.abs(a) >= 0.9).mean(axis=0))


def test_cv_permutation_test(rng):
    a = 1 + 0.1 * rng.random(300)
    b = 1 + 1.0 * rng.random(300)
    res = hs.cv_permutation_test(a, b, n_permutations=2000)
    assert res["p_less"] < 0.001 and res["p_greater"] > 0.99
    assert res["difference"] == pytest.approx(a.std() / a.mean() - b.std() / b.mean())
    # the CV is scale-free and so is the test
    assert hs.cv_permutation_test(7 * a, b, n_permutations=2000)["p_less"] == res["p_less"]
    same = hs.cv_permutation_test(b, b, n_permutations=200)
    assert same["difference"] == 0 and same["p_less"] == 1 and same["p_greater"] == 1
    # exchangeable pairs: p roughly uniform, not tiny
    c = 1 + rng.random(300)
    assert hs.cv_permutation_test(c, c[rng.permutation(300)], n_permutations=2000)["p_less"] > 0.01
    with pytest.raises(ValueError, match="paired"):
        hs.cv_permutation_test(a, b[:10])


@pytest.mark.parametrize(
    ("rho", "p_rho", "p_less", "p_greater", "verdict"),
    [(-0.5, 0.001, 0.001, 0.999, "supported"), (-0.5, 0.001, 0.5, 0.5, "partly supported"),
     (-0.5, 0.001, 0.999, 0.001, "mixed"), (0.5, 0.001, 0.5, 0.5, "contradicted"),
     (0.1, 0.3, 0.4, 0.6, "inconclusive"), (np.nan, np.nan, 0.5, 0.5, "not applicable")],
)
def test_verdict_table(rho, p_rho, p_less, p_greater, verdict):
    assert hs.homeostasis_verdict(rho, p_rho, p_less, p_greater) == verdict


def _planted(rng, homeostatic: bool):
    """eigen network with lam_in = 1: gain g_i = 1 - lam_out_i, set to k / drive_i (homeostatic)
    or k * drive_i (anti-homeostatic); the initial state has g = 1 for every node."""
    x, y = _data(rng, n=600)
    net = SpectralMLP([10, 60, 3], train="eigen", seed=3, dtype="float64")
    (d,) = hs.node_activity(net, x)
    drive = d["drive"]
    gain = drive.mean() / drive if homeostatic else drive / drive.mean()
    net.layers[0].lam_out = 1.0 - gain
    return net, x, y, drive, gain


def test_planted_homeostasis_is_detected(rng):
    net, x, y, drive, gain = _planted(rng, homeostatic=True)
    ds = hs.homeostasis(net, x, y, n_permutations=1000)
    assert float(ds.drive_gain_spearman.sel(state="trained", layer=0)) == pytest.approx(-1.0)
    np.testing.assert_allclose(ds.gain.sel(state="trained", layer=0).values, gain, rtol=1e-9)
    np.testing.assert_allclose(ds.drive.sel(state="trained", layer=0), ds.drive.sel(state="initial", layer=0))
    assert np.isnan(ds.drive_gain_spearman.sel(state="initial", layer=0))  # every gain is 1
    assert float(ds.cv_difference.sel(layer=0)) < 0 and float(ds.cv_p.sel(layer=0)) < 0.01
    assert str(ds.verdict.sel(layer=0).values) == "supported"
    assert ds.attrs["verdict"] == "layer 0: supported"


def test_planted_anti_homeostasis_is_contradicted(rng):
    net, x, y, _, _ = _planted(rng, homeostatic=False)
    ds = hs.homeostasis(net, x, y, n_permutations=1000)
    assert float(ds.drive_gain_spearman.sel(state="trained", layer=0)) == pytest.approx(1.0)
    assert float(ds.cv_p_greater.sel(layer=0)) < 0.01
    assert str(ds.verdict.sel(layer=0).values) == "contradicted"


def test_direct_preset_is_not_applicable(rng):
    x, y = _data(rng)
    net = SpectralMLP([10, 12, 3], train="direct", seed=0)
    ds = hs.homeostasis(net, x, y, n_permutations=100)
    assert str(ds.verdict.sel(layer=0).values) == "not applicable"


def test_frozen_eigenvalue_network(rng):
    x, y = _data(rng)
    net = SpectralMLP([10, 12, 3], train="spectral", init="paper", seed=4)
    init = net.copy()
    fit(net, (x.astype(np.float32), y), epochs=2, batch_size=50, lr=1e-2, progress=False)
    frozen = hs.frozen_eigenvalue_network(net)
    for f, t, i in zip(frozen.layers, net.layers, init.layers):
        np.testing.assert_array_equal(np.asarray(f.lam_in), np.asarray(i.lam_in))
        np.testing.assert_array_equal(np.asarray(f.lam_out), np.asarray(i.lam_out))
        np.testing.assert_array_equal(np.asarray(f.phi), np.asarray(t.phi))
        np.testing.assert_array_equal(np.asarray(f.bias), np.asarray(t.bias))
    assert not np.array_equal(np.asarray(net.layers[0].lam_out), np.asarray(init.layers[0].lam_out))


def test_silencing_known_answers(rng):
    x, y = _data(rng)
    net = SpectralMLP([10, 12, 3], train="eigen", seed=0, dtype="float64")
    net.layers[0].lam_in = np.r_[0.0, 0.0, 0.0, np.ones(7)]  # lam_out = 0: those input columns of W are 0
    y = net.predict(x)
    sil = hs.silencing(net, x, y, rtol=0.05, n_random=5)
    np.testing.assert_array_equal(sil["input_silenced"], np.r_[[True] * 3, [False] * 7])
    assert sil["silence_inputs_acc_drop"] == 0.0  # removing inputs that carry no weight costs nothing
    assert sil["random_inputs_acc_drop"] > 0.0
    # lam_out = 0 everywhere: every hidden node counts as silenced by lam_out (a degenerate layer)
    assert sil["lam_out"]["node_silenced"][0].all()
    # ... yet none by its gain, which is 1 for every node (lam_in = 1 on the inputs that matter)
    assert not sil["gain"]["node_silenced"][0].any()
    net.layers[0].lam_in = np.ones(10)
    net.layers[0].lam_out = np.r_[1.0, 1.0, np.zeros(10)]  # gain 1 - lam_out = 0 for nodes 0, 1
    sil = hs.silencing(net, x, y, rtol=0.05, n_random=5)
    np.testing.assert_array_equal(sil["gain"]["node_silenced"][0], np.r_[True, True, [False] * 10])


def test_recorder_time_course(rng):
    x, y = _data(rng)
    net = SpectralMLP([10, 16, 3], train="eigen", init="paper", seed=2)
    start = hs.node_activity(net, x[:100])
    rec = hs.HomeostasisRecorder(x[:100])
    fit(net, (x.astype(np.float32), y), epochs=3, batch_size=50, lr=1e-2, progress=False, callbacks=[rec])
    tc = rec.to_dataset()
    assert list(tc.epoch.values) == [0, 1, 2, 3]
    np.testing.assert_allclose(tc.activity_cv.sel(epoch=0, layer=0), start[0]["activity_cv"])
    end = hs.node_activity(net, x[:100])
    np.testing.assert_allclose(tc.gain.sel(epoch=3, layer=0).values, end[0]["gain"])
    only = hs.HomeostasisRecorder(x[:100], epochs=[0, 2])
    fit(net, (x.astype(np.float32), y), epochs=2, batch_size=50, lr=1e-2, progress=False, callbacks=[only])
    assert list(only.to_dataset().epoch.values) == [0, 2]


def test_every_dataset_roundtrips_netcdf(rng, tmp_path):
    """A 2-layer network: every Dataset of the analysis package, written and read back."""
    from spectral_physics.analysis.eigenstats import eigenstats, eigenstats_ensemble
    from spectral_physics.analysis.nodes import input_relevance, node_correspondence, node_correspondence_ensemble

    x, y = _data(rng, n=300, d=16)
    net = SpectralMLP([16, 12, 3], train="eigen", init="paper", seed=0)
    rec = hs.HomeostasisRecorder(x[:100])
    fit(net, (x.astype(np.float32), y), epochs=2, batch_size=50, lr=1e-2, progress=False, callbacks=[rec])
    ens = SpectralMLP([16, 12, 3], train="eigen", init="paper", seed=[1, 2])
    datasets = {
        "eigenstats": eigenstats(net, bins=10),
        "eigenstats_ensemble": eigenstats_ensemble(ens, bins=10),
        "nodes": node_correspondence(net, x, y, image_shape=(4, 4), fractions=[0.0, 0.5, 1.0]),
        "nodes_ensemble": node_correspondence_ensemble(ens, x, y, pruning=False),
        "homeostasis": hs.homeostasis(net, x, y, n_permutations=200, image_shape=(4, 4)),
        "timecourse": rec.to_dataset(),
        "relevance": input_relevance(net, (4, 4)).to_dataset(),
    }
    for name, ds in datasets.items():
        path = write_netcdf(ds, tmp_path / f"{name}.nc")
        assert path.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"  # netCDF-4 (HDF5) container
        back = read_netcdf(path)
        xr.testing.assert_identical(back, ds)
        for v in [back, *back.variables.values()]:
            assert all(isinstance(a, (str, int, float, np.integer, np.floating)) for a in v.attrs.values()), name
        for v in ds.data_vars.values():
            assert "long_name" in v.attrs and "units" in v.attrs, (name, v.name)


def test_cli_homeostasis(data_root, tmp_path, capsys):
    from spectral_physics import save_network
    from spectral_physics.cli import main

    model = tmp_path / "m.npz"
    save_network(SpectralMLP([784, 16, 10], train="eigen", init="paper", seed=0), model)
    out = tmp_path / "h.nc"
    rc = main(["homeostasis", str(model), "--data-root", str(data_root), "--n-eval", "200",
               "--permutations", "100", "--out", str(out), "--plot", str(tmp_path / "h.png")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "verdict:" in text and "rho(drive,gain)" in text
    ds = read_netcdf(out)
    assert ds.input_silenced.dims == ("row", "col") and ds.attrs["dataset"] == "mnist"
    assert main(["homeostasis", str(model), "--alpha", "2", "--data-root", str(data_root)]) == 2
