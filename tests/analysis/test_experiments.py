"""The paper experiments as library functions (spectral_physics.analysis.experiments)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from spectral_physics.analysis.experiments import (
    NTTConfig,
    PruningConfig,
    SparseConfig,
    ntt_comparison,
    pruning_experiment,
    sparse_vs_direct,
)

pytestmark = pytest.mark.data


@pytest.mark.parametrize("cls, values, field", [
    (SparseConfig, {"densities": (0.0,)}, "densities"),
    (SparseConfig, {"trains": ("spectral", "bogus")}, "trains"),
    (SparseConfig, {"epochs": 0}, "epochs"),
    (SparseConfig, {"lr": float("nan")}, "lr"),
    (NTTConfig, {"wirings": ("ntt", "nope")}, "wirings"),
    (NTTConfig, {"standardize": "yes"}, "standardize"),
    (PruningConfig, {"fraction_step": 0.0}, "fraction_step"),
    (PruningConfig, {"fraction_step": 0.3}, "fraction_step"),
    (PruningConfig, {"post_curves": ("spectral:nope",)}, "post_curves"),
    (PruningConfig, {"protocols": ("later",)}, "protocols"),
])
def test_bad_configuration_names_the_field(cls, values, field):
    with pytest.raises(ValueError, match=rf"{cls.__name__}\.{field}"):
        cls.from_dict(values)


def test_unknown_field_suggests_the_closest():
    with pytest.raises(ValueError, match="did you mean 'densities'"):
        SparseConfig.from_dict({"density": [0.1]})


def test_fingerprint_follows_the_values():
    a = SparseConfig(seeds=(0, 1))
    assert a.fingerprint() == SparseConfig.from_dict({"seeds": [0, 1]}).fingerprint()
    assert a.fingerprint() != SparseConfig(seeds=(0, 2)).fingerprint()


def test_sparse_experiment_resumes_without_recomputing(tmp_path, data_root):
    cfg = SparseConfig(sizes=(784, 16, 10), densities=(1.0, 0.2), seeds=(0, 1), epochs=1, n_train=1000, lr=1e-2,
                       batch_size=50)
    ds = sparse_vs_direct(cfg, tmp_path / "runs", data_root=data_root, progress=False)
    assert ds.test_accuracy.dims == ("density", "train", "epoch", "seed")
    assert ds.test_accuracy.shape == (2, 2, 1, 2)
    assert np.all(ds.test_accuracy.values > 0.2)  # 10 classes: chance is 0.1
    # dense runs keep every weight; sparse ones the asked-for fraction
    dens = ds.measured_density.sel(density=0.2).values
    assert np.allclose(dens, 0.2, atol=0.01)
    assert int(ds.n_weights) == 784 * 16 + 16 * 10
    files = sorted((tmp_path / "runs").glob("*.nc"))
    stamps = [f.stat().st_mtime_ns for f in files]
    again = sparse_vs_direct(cfg, tmp_path / "runs", data_root=data_root, progress=False)
    assert [f.stat().st_mtime_ns for f in files] == stamps
    assert np.array_equal(again.test_accuracy.values, ds.test_accuracy.values)


def test_ntt_experiment_is_resumable_run_by_run(tmp_path, data_root):
    cfg = NTTConfig(datasets=("mnist",), densities=(0.2, 0.1), wirings=("ntt", "random", "dense"), seeds=(0,),
                    n_train=300, n_test=200, ntt_steps=3, epochs=1, snip_batch=32)
    ds = ntt_comparison(cfg, tmp_path / "runs", data_root=data_root, progress=False)
    acc = ds.test_accuracy.sel(dataset="mnist", seed=0)
    # the dense network runs once and is reported at every density
    assert acc.sel(wiring="dense").values[0] == acc.sel(wiring="dense").values[1]
    assert np.isnan(ds.ntt_val_loss.sel(wiring="random")).all()
    assert np.isfinite(ds.ntt_val_loss.sel(wiring="ntt")).all()
    # a killed run: only its record is recomputed, and it gives the same number
    victim = tmp_path / "runs" / "mnist_s0_ntt_d0.1.json"
    victim.unlink()
    again = ntt_comparison(cfg, tmp_path / "runs", data_root=data_root, progress=False)
    assert victim.exists()
    assert np.array_equal(again.test_accuracy.values, ds.test_accuracy.values, equal_nan=True)


def test_pruning_experiment_post_only(tmp_path, data_root):
    cfg = PruningConfig(datasets=("mnist",), hidden=(16,), seeds=(0,), epochs=1, fraction_step=0.25,
                        protocols=("post",), post_curves=("spectral:eigenvalue", "direct:connectivity"),
                        n_train=400, n_test=300, init="default")
    ds = pruning_experiment(cfg, tmp_path / "runs", data_root=data_root, progress=False)
    assert "filter_accuracy" not in ds
    post = ds.post_accuracy.sel(dataset="mnist")
    assert post.fraction_removed.values.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    # nothing removed: the dense accuracy; everything removed: a constant output (one class)
    dense = ds.dense_accuracy.sel(dataset="mnist", preset="spectral").values
    assert np.allclose(post.sel(curve="spectral: eigenvalue", fraction_removed=0.0).values, dense)
    assert np.all(post.sel(fraction_removed=1.0).values < 0.25)
    # each run's wall time, which the run measured itself
    secs = ds.run_wall_seconds.sel(dataset="mnist")
    assert secs.run.values.tolist() == ["post_spectral", "post_direct"]
    assert np.all((secs.values > 0) & (secs.values < 600)) and ds.run_wall_seconds.attrs["units"] == "s"


def test_pruning_filter_is_one_run_per_seed_with_the_numbers_of_all_seeds_at_once(tmp_path, data_root):
    """The filter's seeds are stored one by one (an interruption loses one seed's work), and
    their records put together equal pretraining_filter over all the seeds in one call."""
    from spectral_physics.analysis.experiments.pruning import _load_data, pruning_runs

    from spectral_physics.pruning import pretraining_filter

    cfg = PruningConfig(datasets=("mnist",), hidden=(12,), seeds=(0,), protocols=("filter",), n_train=300,
                        n_test=200, init="paper", filter_seeds=(3, 1), filter_eigen_epochs=1, filter_full_epochs=1,
                        filter_fractions=(0.0, 0.5), filter_rankings=("eigenvalue", "random"))
    assert sorted(pruning_runs(cfg)) == ["mnist_tanh_h12_filter_s1", "mnist_tanh_h12_filter_s3"]
    ds = pruning_experiment(cfg, tmp_path / "runs", data_root=data_root, progress=False)
    data = _load_data("mnist", 300, 0, 200, data_root)
    whole = pretraining_filter(data, [784, 12, 10], seeds=[3, 1], eigen_epochs=1, full_epochs=1, lr=cfg.filter_lr,
                               rankings=["eigenvalue", "random"], fractions=[0.0, 0.5], init="paper")
    got = ds.filter_accuracy.sel(dataset="mnist")
    assert got.filter_seed.values.tolist() == [3, 1]
    assert got.filter_curve.values.tolist() == ["filter: eigenvalue", "filter: random"]
    np.testing.assert_array_equal(got.transpose("filter_fraction", "filter_curve", "filter_seed").values,
                                  whole.accuracy.values)
    # a lost seed is the only one recomputed
    victim = tmp_path / "runs" / "mnist_tanh_h12_filter_s1.nc"
    kept = tmp_path / "runs" / "mnist_tanh_h12_filter_s3.nc"
    stamp = kept.stat().st_mtime_ns
    victim.unlink()
    again = pruning_experiment(cfg, tmp_path / "runs", data_root=data_root, progress=False)
    assert victim.exists() and kept.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.filter_accuracy.values, ds.filter_accuracy.values)
    assert again.run_wall_seconds.run.values.tolist() == ["filter_s3", "filter_s1"]
    assert again.run_wall_seconds.sel(run="filter_s3").item() == ds.run_wall_seconds.sel(run="filter_s3").item()
    # a run stored without its wall time (before runs timed themselves) reads NaN, not an error
    with xr.open_dataset(kept) as old:
        untimed = old.load()
    del untimed.attrs["wall_seconds"]
    untimed.to_netcdf(kept)
    secs = pruning_experiment(cfg, tmp_path / "runs", data_root=data_root, progress=False).run_wall_seconds
    assert np.isnan(secs.sel(dataset="mnist", run="filter_s3").item())
    assert secs.sel(dataset="mnist", run="filter_s1").item() > 0


def test_cli_bad_field_is_one_line_exit_2(tmp_path):
    r = subprocess.run([sys.executable, "-m", "spectral_physics.cli", "experiment", "sparse", "--densities", "2",
                        "--results", str(tmp_path / "r")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "SparseConfig.densities" in r.stderr
    assert not (tmp_path / "r").exists()
