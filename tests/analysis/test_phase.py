"""Sweeps, ensembles, resumption, executors and the phase boundary (spectral_physics.analysis.phase)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import xarray as xr
from spectral_physics.analysis._xr import read_netcdf, write_netcdf
from spectral_physics.analysis.phase import boundary_crossing, phase_boundary, phase_diagram_data
from spectral_physics.analysis.sweep import (
    EXAMPLE_SPEC,
    STATUS_DIVERGED,
    STATUS_OK,
    SweepSpec,
    SweepSpecError,
    assemble,
    pending_points,
    run_sweep,
)

from spectral_physics import SpectralMLP, fit
from spectral_physics.datasets import teacher_student

PRESETS = ["direct", "eigen-out", "eigen", "spectral", "svd", "qr"]


def small_spec(**over) -> dict:
    spec = {
        "dataset": "teacher-student", "subset": 300, "n_test": 200, "epochs": 1, "seeds": [0, 1],
        "axes": {"train": ["direct", "eigen"], "hidden": [4, 8, 16]},
        "fixed": {"lr": 0.01, "batch_size": 50},
    }
    spec.update(over)
    return spec


def same_numbers(a: xr.Dataset, b: xr.Dataset) -> None:
    """Identical data and attributes, except wall-clock time and the creation stamp."""
    drop = ["train_time"]
    xr.testing.assert_identical(a.drop_vars(drop).assign_attrs(history="", provenance=""),
                                b.drop_vars(drop).assign_attrs(history="", provenance=""))


# ------------------------------------------------------------------ ensembles


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ensemble_equals_sequential_training_bit_for_bit(dtype):
    data = teacher_student(n_train=256, n_test=64, n_features=12, n_classes=3, hidden=(8,), seed=3)
    seeds = [0, 5, 7]
    for preset in PRESETS:
        ens = SpectralMLP([12, 10, 3], train=preset, activation="tanh", seed=seeds, dtype=dtype)
        h_ens = fit(ens, data, epochs=2, batch_size=32, lr=1e-2, progress=False)
        for e, s in enumerate(seeds):
            one = SpectralMLP([12, 10, 3], train=preset, activation="tanh", seed=s, dtype=dtype)
            h_one = fit(one, data, epochs=2, batch_size=32, lr=1e-2, progress=False)
            member = ens.member(e)
            for la, lb in zip(member.layers, one.layers):
                for name in lb.params:
                    # bit for bit: the batched matmul runs the same kernel per member
                    np.testing.assert_array_equal(la.params[name], lb.params[name], err_msg=f"{preset} {name}")
            assert h_ens.records[-1]["test_accuracy"][e] == h_one.records[-1]["test_accuracy"]
            # the epoch-mean loss is summed in a different order: equal to rounding
            assert h_ens.records[-1]["loss"][e] == pytest.approx(h_one.records[-1]["loss"], rel=1e-12)


def test_sweep_ensemble_and_one_by_one_give_the_same_dataset(tmp_path):
    spec = SweepSpec.from_dict(small_spec(seeds=[0, 1, 2], axes={"train": ["direct", "svd"], "hidden": [4, 8]}))
    a = run_sweep(spec, tmp_path / "ens", workers=1, ensemble=True, progress=False)
    b = run_sweep(spec, tmp_path / "one", workers=1, ensemble=False, blas_threads=1, progress=False)
    same_numbers(a, b)
    assert (a.status == STATUS_OK).all()


# ------------------------------------------------------------------ the Dataset


def test_dataset_layout_and_known_numbers(tmp_path):
    spec = SweepSpec.from_dict(small_spec())
    ds = run_sweep(spec, tmp_path / "pts", out=tmp_path / "d.nc", workers=1, progress=False)
    assert ds.test_accuracy.dims == ("train", "hidden", "seed")
    assert ds.train.values.tolist() == ["direct", "eigen"] and ds.hidden.values.tolist() == [4, 8, 16]
    assert ds.seed.values.tolist() == [0, 1]
    # teacher-student default: 100 features, 10 classes; eigen at hidden=4: (100+4+4) + (4+10+10)
    assert int(ds.n_trainable.sel(train="eigen", hidden=4)) == 132
    assert int(ds.n_trainable.sel(train="direct", hidden=4)) == 100 * 4 + 4 + 4 * 10 + 10
    assert float(ds.trainable_ratio.sel(train="eigen", hidden=4)) == pytest.approx(132 / 454)
    np.testing.assert_array_equal(ds.relative_accuracy.sel(train="direct"), 1.0)
    np.testing.assert_allclose(ds.relative_accuracy.sel(train="eigen"),
                               ds.test_accuracy.sel(train="eigen") / ds.test_accuracy.sel(train="direct"))
    for name in ("test_accuracy", "relative_accuracy", "trainable_ratio", "train_time", "status"):
        assert {"long_name", "units"} <= set(ds[name].attrs)
    assert ds.train_time.attrs["units"] == "s"
    import json

    prov = json.loads(ds.attrs["provenance"])
    assert prov["seeds"] == [0, 1] and "git_revision" in prov and "numpy" in prov["versions"]
    assert SweepSpec.from_dict(json.loads(ds.attrs["spec"])).fingerprint() == spec.fingerprint()
    back = read_netcdf(tmp_path / "d.nc")
    xr.testing.assert_allclose(back.test_accuracy, ds.test_accuracy)
    assert back.attrs["spec"] == ds.attrs["spec"]


def test_diverged_point_is_kept_with_status_and_nan(tmp_path):
    spec = SweepSpec.from_dict(small_spec(
        axes={"train": ["direct"], "hidden": [4]}, fixed={"lr": 1e30, "optimizer": "sgd", "batch_size": 50}))
    ds = run_sweep(spec, tmp_path / "pts", workers=1, progress=False)
    assert (ds.status == STATUS_DIVERGED).all()
    assert ds.test_accuracy.isnull().all() and ds.relative_accuracy.isnull().all()
    assert pending_points(spec, tmp_path / "pts") == []  # recorded, not dropped


@pytest.mark.parametrize("named, device", [(True, "cpu"), (False, "cpu"), (True, "gpu")])
def test_one_diverged_member_does_not_sink_its_ensemble(tmp_path, monkeypatch, named, device):
    import spectral_physics.analysis.sweep.run as phase

    from spectral_physics.train import DivergenceError

    # on a GPU an ensemble member is not guaranteed to round as it would alone
    monkeypatch.setattr(phase, "_exact_ensembles", lambda d: device == "cpu")

    real = phase._train
    calls = []

    def flaky(params, seeds, data, device, ensemble):
        calls.append(list(seeds))
        if 1 in seeds:  # seed 1 diverges, alone or inside the ensemble
            members = [list(seeds).index(1)] if ensemble and named else None
            raise DivergenceError(1, 3, float("nan"), members)
        return real(params, seeds, data, device, ensemble)

    monkeypatch.setattr(phase, "_train", flaky)
    spec = SweepSpec.from_dict(small_spec(seeds=[0, 1, 2], axes={"train": ["eigen"], "hidden": [4]}))
    ds = run_sweep(spec, tmp_path, workers=1, progress=False)
    # named members: the rest retrain together (the named one alone first on a GPU, to confirm);
    # unnamed: every member alone
    want = {(True, "cpu"): [[0, 1, 2], [0, 2]], (False, "cpu"): [[0, 1, 2], [0], [1], [2]],
            (True, "gpu"): [[0, 1, 2], [1], [0, 2]]}
    assert calls == want[named, device]
    assert ds.status.values.ravel().tolist() == [STATUS_OK, STATUS_DIVERGED, STATUS_OK]
    acc = ds.test_accuracy.values.ravel()
    assert np.isfinite(acc[[0, 2]]).all() and np.isnan(acc[1])
    import json

    rec = json.loads((tmp_path / "point-000000.json").read_text())
    assert "seed 1: training diverged at epoch 1, step 3" in rec["message"][1]


# ------------------------------------------------------------------ resumption


def test_interrupted_sweep_resumes_to_the_same_dataset(tmp_path):
    spec = SweepSpec.from_dict(small_spec())
    full = run_sweep(spec, tmp_path / "full", workers=1, progress=False)

    pts = tmp_path / "pts"
    k = 3
    with pytest.raises(RuntimeError, match="simulated worker failure at point 3"):
        run_sweep(spec, pts, workers=1, progress=False, _fail_points=[k])
    done = sorted(p.name for p in pts.glob("point-*.json"))
    assert done == [f"point-{i:06d}.json" for i in range(k)]  # in order, the failed one not written
    assert pending_points(spec, pts) == [3, 4, 5]
    stamps = {p.name: os.stat(p).st_mtime_ns for p in pts.glob("point-*.json")}

    with pytest.raises(FileExistsError, match="--resume"):
        run_sweep(spec, pts, workers=1, progress=False)
    computed = []
    resumed = run_sweep(spec, pts, workers=1, progress=False, resume=True,
                        on_point=lambda r: computed.append(r["index"]))
    assert sorted(computed) == [3, 4, 5]  # only the missing points, each once
    assert {p.name: os.stat(p).st_mtime_ns for p in pts.glob("point-*.json") if p.name in stamps} == stamps
    assert len(list(pts.glob("point-*.json"))) == 6 and not list(pts.glob(".*tmp"))
    same_numbers(resumed, full)


def test_resume_refuses_a_different_spec(tmp_path):
    run_sweep(small_spec(axes={"train": ["direct"], "hidden": [4]}), tmp_path, workers=1, progress=False)
    with pytest.raises(ValueError, match="different sweep spec"):
        run_sweep(small_spec(axes={"train": ["direct"], "hidden": [5]}), tmp_path, workers=1,
                  progress=False, resume=True)


def test_assemble_reports_missing_points(tmp_path):
    spec = SweepSpec.from_dict(small_spec())
    with pytest.raises(RuntimeError):
        run_sweep(spec, tmp_path, workers=1, progress=False, _fail_points=[1])
    with pytest.raises(ValueError, match="5 of 6 points have no result"):
        assemble(spec, tmp_path)
    part = assemble(spec, tmp_path, allow_missing=True)
    assert int((part.status == -1).sum()) == 5 * 2


# ------------------------------------------------------------------ executors


def test_process_pool_and_dask_give_identical_datasets_and_resume_across_them(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    spec = SweepSpec.from_dict(small_spec())
    serial = run_sweep(spec, tmp_path / "serial", workers=1, progress=False)
    # one pool for two sweeps: worker start-up (imports) dominates at this size
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        pooled = run_sweep(spec, tmp_path / "pool", executor=pool, progress=False)
        with pytest.raises(RuntimeError, match="simulated worker failure at point 2"):
            run_sweep(spec, tmp_path / "mixed", executor=pool, progress=False, _fail_points=[2])
    left = pending_points(spec, tmp_path / "mixed")
    assert 2 in left
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        # the scheduler-address path (what --scheduler tcp://... does) on the same cluster
        dasked = run_sweep(spec, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
        computed = []
        mixed = run_sweep(spec, tmp_path / "mixed", client=client, progress=False, resume=True,
                          on_point=lambda r: computed.append(r["index"]))
    assert sorted(computed) == left
    same_numbers(pooled, dasked)
    same_numbers(pooled, serial)
    same_numbers(mixed, serial)


# ------------------------------------------------------------------ spec validation


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epoch": 1}, "unknown key 'epoch' (did you mean 'epochs'?)"),
        ({"axes": {"train": []}, "fixed": {"hidden": 4}}, "axes.train is empty"),
        ({"axes": {"train": ["direct", "eigne"], "hidden": [4]}}, "axes.train[1]"),
        ({"axes": {"hidden": [4, 4]}}, "repeats"),
        ({"axes": {"hidden": [4]}, "fixed": {"hidden": 8}}, "given both"),
        ({"axes": {"lr": [0.1, -1.0]}, "fixed": {"hidden": 4}}, "axes.lr[1]: must be a positive number"),
        ({"axes": {"train": ["direct"]}, "fixed": {}}, "hidden"),
        ({"axes": {"hidden": [4]}, "fixed": {"seeds": [0]}}, "sweep-level key"),
        ({"seeds": [0, 0]}, "seeds repeats"),
        ({"axes": {"hidden": [4, [4, 4]]}}, "mixes single sizes and lists"),
        ({"axes": {}}, "at least one swept setting"),
    ],
)
def test_spec_errors_name_the_key(change, message):
    with pytest.raises(SweepSpecError) as info:
        SweepSpec.from_dict(small_spec(**change))
    assert message in str(info.value)


def test_spec_rejects_a_combination_the_core_rejects(monkeypatch):
    import spectral_physics

    real = spectral_physics.SpectralMLP

    def picky(sizes, train="spectral", **kw):
        if train == "qr" and kw.get("init") == "paper":
            raise ValueError("init='paper' is not defined for qr")
        return real(sizes, train=train, **kw)

    monkeypatch.setattr(spectral_physics, "SpectralMLP", picky)
    with pytest.raises(SweepSpecError, match=r"grid point \(train='qr', init='paper'\)"):
        SweepSpec.from_dict(small_spec(axes={"train": ["direct", "qr"], "init": ["default", "paper"]},
                                       fixed={"hidden": 4}))


def test_example_spec_parses_and_expands():
    spec = SweepSpec.from_toml(EXAMPLE_SPEC)
    assert spec.dims == ("train", "hidden") and spec.shape == (2, 2) and spec.seeds == [0, 1]
    pts = spec.points()
    assert [p.coords for p in pts][:2] == [{"train": "direct", "hidden": 32}, {"train": "direct", "hidden": 64}]
    assert pts[3].params["train"] == "eigen" and pts[3].params["hidden"] == [64]
    assert pts[0].params["lr"] == 0.02 and pts[0].params["subset"] == 2000  # eigen leaves chance level at 0.02
    deep = SweepSpec.from_dict(small_spec(axes={"hidden": [[8, 8], [16]]}))
    assert deep.coords()["hidden"] == ["8-8", "16"] and deep.points()[1].params["hidden"] == [16]
    assert SweepSpec.from_dict(small_spec(seeds=3)).seeds == [0, 1, 2]


# ------------------------------------------------------------------ phase boundary


def synthetic(rel_eigen: np.ndarray) -> xr.Dataset:
    """Dataset with known relative accuracies: train x hidden x seed."""
    hidden = [10, 100, 1000]
    acc = np.empty((2, 3, rel_eigen.shape[-1]))
    acc[0] = 0.9
    acc[1] = 0.9 * rel_eigen
    ds = xr.Dataset(
        {
            "test_accuracy": (("train", "hidden", "seed"), acc),
            "relative_accuracy": (("train", "hidden", "seed"), acc / acc[0]),
            "trainable_ratio": (("train", "hidden"), np.array([[1.0, 1.0, 1.0], [0.1, 0.01, 0.001]])),
            "status": (("train", "hidden", "seed"), np.zeros(acc.shape, np.int8)),
        },
        coords={"train": ["direct", "eigen"], "hidden": hidden, "seed": np.arange(acc.shape[-1])},
    )
    return ds


def test_boundary_crossing_states():
    assert boundary_crossing([0, 1, 2], [0.5, 0.9, 1.0], 0.95) == (pytest.approx(1.5), 0)
    assert boundary_crossing([0, 1], [1.0, 1.0], 0.95)[1] == 1
    assert boundary_crossing([0, 1], [0.5, 0.6], 0.95)[1] == 2
    assert boundary_crossing([0, 1, 2], [0.5, np.nan, 1.0], 0.75) == (pytest.approx(1.0), 0)


def test_phase_boundary_known_answer():
    rel = np.tile(np.array([0.9, 0.98, 1.0])[:, None], (1, 4))
    b = phase_boundary(synthetic(rel), threshold=0.99, n_boot=50)
    # halfway between hidden 100 and 1000 in log scale, ratio between 0.01 and 0.001
    assert float(b.boundary_ratio.sel(train="eigen")) == pytest.approx(math.sqrt(0.01 * 0.001))
    assert float(b.boundary_hidden.sel(train="eigen")) == pytest.approx(math.sqrt(100 * 1000))
    # identical seeds: the bootstrap interval collapses onto the estimate
    assert float(b.boundary_ratio_lower.sel(train="eigen")) == pytest.approx(math.sqrt(1e-5))
    assert float(b.boundary_ratio_upper.sel(train="eigen")) == pytest.approx(math.sqrt(1e-5))
    assert int(b.crossing_state.sel(train="direct")) == 1  # direct is its own reference


def test_phase_boundary_interval_covers_seed_spread():
    rng = np.random.default_rng(0)
    rel = np.array([0.9, 0.98, 1.0])[:, None] + rng.normal(0, 0.004, size=(3, 8))
    b = phase_boundary(synthetic(rel), threshold=0.99, n_boot=300)
    lo, mid, hi = (float(b[v].sel(train="eigen")) for v in
                   ("boundary_ratio_lower", "boundary_ratio", "boundary_ratio_upper"))
    assert lo < mid < hi and 0.001 <= lo and hi <= 0.01
    assert float(b.bootstrap_found.sel(train="eigen")) > 0.9


def test_phase_diagram_data_means_over_seeds(tmp_path):
    rel = np.tile(np.array([0.9, 0.98, 1.0])[:, None], (1, 4))
    ds = synthetic(rel)
    ds["status"][1, 0, 0] = STATUS_DIVERGED
    d = phase_diagram_data(ds)
    assert d.accuracy_mean.dims == ("train", "hidden")
    assert float(d.accuracy_mean.sel(train="eigen", hidden=100)) == pytest.approx(0.9 * 0.98)
    assert int(d.n_ok.sel(train="eigen", hidden=10)) == 3
    write_netcdf(d, tmp_path / "d.nc")  # the plotted numbers are a plain Dataset


# ------------------------------------------------------------------ CLI


def test_cli_example_and_run(tmp_path, capsys):
    from spectral_physics.cli import main

    assert main(["sweep", "--example"]) == 0
    assert SweepSpec.from_toml(capsys.readouterr().out).shape == (2, 2)
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'dataset = "teacher-student"\nsubset = 300\nn_test = 200\nseeds = [0, 1]\n'
        '[axes]\ntrain = ["direct", "eigen"]\nhidden = [4, 8]\n[fixed]\nlr = 0.01\nbatch_size = 50\n'
    )
    out = tmp_path / "d.nc"
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    text = capsys.readouterr()
    assert "phase boundary" in text.out and "eigen" in text.out
    ds = read_netcdf(out)
    assert ds.test_accuracy.shape == (2, 2, 2) and (tmp_path / "d.points" / "point-000003.json").exists()
    # a second run without --resume refuses to mix results; with --resume it reuses all points
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--no-progress"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--no-progress", "--resume"]) == 0
    same_numbers(read_netcdf(out), ds)


def test_cli_bad_spec_is_one_line(tmp_path, capsys):
    from spectral_physics.cli import main

    spec = tmp_path / "spec.toml"
    spec.write_text('epoch = 2\n[axes]\nhidden = [4]\n')
    assert main(["sweep", str(spec), "--out", str(tmp_path / "d.nc")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown key 'epoch'" in err and "spec.toml" in err
    assert main(["sweep", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "d.nc")]) == 2


# ------------------------------------------------------------------ plot


def test_plot_sweep_draws_the_dataset_numbers():
    from spectral_physics.analysis.plots import plot_sweep

    rel = np.tile(np.array([0.9, 0.98, 1.0])[:, None], (1, 4))
    ds = synthetic(rel)
    b = phase_boundary(ds, threshold=0.99, n_boot=20)
    fig = plot_sweep(ds, boundary=b)
    got = fig.plotted
    np.testing.assert_allclose(got["eigen"]["ratio"], [0.1, 0.01, 0.001])
    np.testing.assert_allclose(got["eigen"]["relative"], [0.9, 0.98, 1.0])
    np.testing.assert_allclose(got["eigen"]["accuracy"], 0.9 * np.array([0.9, 0.98, 1.0]))
    assert got["eigen"]["boundary_ratio"] == pytest.approx(math.sqrt(1e-5))
    # the threshold contour separates eigen's last cell (1.0 >= 0.99) from the two before it
    # and from nothing in the direct row above (also >= 0.99): one vertical and two horizontal edges
    segs = sorted(tuple(map(tuple, s)) for s in got["contour_segments"])
    assert segs == [((-0.5, 0.5), (0.5, 0.5)), ((0.5, 0.5), (1.5, 0.5)), ((1.5, 0.5), (1.5, 1.5))]
    fig.savefig(os.devnull, format="png")


def test_sparse_points_record_topology_turnover(tmp_path):
    from spectral_physics.analysis.sweep.run import _load_data

    from spectral_physics import SpectralMLP, fit
    from spectral_physics.sparse import TopologyTurnover

    spec = SweepSpec.from_dict(small_spec(axes={"train": ["direct", "spectral"], "sparsity": [0.0, 0.5]},
                                          fixed={"lr": 0.01, "batch_size": 50, "hidden": [8]}))
    ds = run_sweep(spec, tmp_path, workers=1, progress=False)
    flips, steps = ds.mask_flips, ds.mask_step_flips
    assert flips.sel(sparsity=0.0).isnull().all() and steps.sel(sparsity=0.0).isnull().all()
    sparse = flips.sel(sparsity=0.5)
    assert sparse.notnull().all() and (steps.sel(sparsity=0.5) >= sparse).all()
    assert (steps.sel(sparsity=0.5, train="spectral") > 0).all()
    # known answer: the same network trained alone with the callback
    data = _load_data("teacher-student", 300, 0, 200, None)
    net = SpectralMLP([data.n_features, 8, data.n_classes], train="spectral", seed=1)
    for layer in net.layers:
        layer.sparsity = 0.5
    cb = TopologyTurnover(per_step=True)
    fit(net, (data.x_train, data.y_train), epochs=1, batch_size=50, lr=0.01, progress=False, callbacks=[cb])
    rec = cb.records[-1]
    got = ds.sel(train="spectral", sparsity=0.5, seed=1)
    assert float(got.mask_flips) == sum(rec["flips"]) and float(got.mask_step_flips) == sum(rec["step_flips"])
    write_netcdf(ds, tmp_path / "s.nc")
    back = read_netcdf(tmp_path / "s.nc")
    xr.testing.assert_allclose(back.mask_step_flips, ds.mask_step_flips)
    assert back.mask_flips.attrs["units"] == "1"
