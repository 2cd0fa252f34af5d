"""Faults that once passed silently: diverged sweeps, shared results folders, killed runs, file modes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from spectral_physics.analysis._xr import write_netcdf
from spectral_physics.analysis.sweep import STATUS_DIVERGED, STATUS_OK, SweepSpec, pending_points, run_sweep

from spectral_physics import SpectralMLP, save_network

SPEC = {
    "dataset": "teacher-student", "subset": 300, "n_test": 200, "epochs": 1, "seeds": [0, 1],
    "axes": {"train": ["direct", "spectral"], "hidden": [4]},
    "fixed": {"lr": 0.01, "batch_size": 50},
}


def _cli(*args, **kw):
    return [sys.executable, "-m", "spectral_physics.cli", *args]


@pytest.mark.parametrize("optimizer, lr", [("sgd", 1e6), ("adam", 1e6)])
def test_a_sweep_marks_exploded_points_diverged(tmp_path, optimizer, lr):
    # sgd 1e6 ends in NaN weights; adam 1e6 in a finite but exploded loss: neither is a success
    spec = dict(SPEC, fixed={"lr": lr, "batch_size": 50, "optimizer": optimizer})
    ds = run_sweep(spec, tmp_path / "pts", workers=1, progress=False)
    assert (ds.status == STATUS_DIVERGED).all()
    assert ds.test_accuracy.isnull().all()


def test_point_records_need_one_value_per_seed(tmp_path):
    spec = SweepSpec.from_dict(SPEC)
    run_sweep(spec, tmp_path / "pts", workers=1, progress=False)
    assert pending_points(spec, tmp_path / "pts") == []
    path = tmp_path / "pts" / "point-000000.json"
    rec = json.loads(path.read_text())
    path.write_text(json.dumps(dict(rec, test_accuracy=rec["test_accuracy"][:1])))  # 1 seed for 2
    other = tmp_path / "pts" / "point-000001.json"
    rec = json.loads(other.read_text())
    del rec["final_loss"]
    other.write_text(json.dumps(rec))
    assert pending_points(spec, tmp_path / "pts") == [0, 1]
    ds = run_sweep(spec, tmp_path / "pts", workers=1, progress=False, resume=True)
    assert (ds.status == STATUS_OK).all() and ds.test_accuracy.notnull().all()


def test_two_sweeps_cannot_share_a_results_folder(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('dataset = "teacher-student"\nsubset = 3000\nn_test = 200\nepochs = 30\nseeds = [0]\n'
                    '[axes]\ntrain = ["direct", "spectral"]\nhidden = [64]\n[fixed]\nbatch_size = 10\n')
    results = tmp_path / "shared.points"
    args = ["sweep", str(spec), "--results", str(results), "--workers", "1", "--no-progress"]
    first = subprocess.Popen(_cli(*args, "--out", str(tmp_path / "a.nc")), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not (results / ".lock").exists() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        second = subprocess.run(_cli(*args, "--out", str(tmp_path / "b.nc"), "--resume"), capture_output=True,
                                text=True, timeout=120)
        assert first.poll() is None, "the first sweep finished too early for the test"
        assert second.returncode == 2
        last = second.stderr.strip().splitlines()[-1]  # after the sweep's one-line announcement
        assert last.startswith("spectral-physics sweep: error:") and "in use by another process" in last
        assert not (tmp_path / "b.nc").exists()
    finally:
        first.kill()
        first.wait(timeout=30)


def test_killed_ntt_experiment_resumes_without_recomputing(tmp_path, data_root):
    results = tmp_path / "ntt.runs"
    args = ["experiment", "ntt", "--datasets", "mnist", "--n-train", "300", "--n-test", "200", "--ntt-steps", "3",
            "--epochs", "1", "--snip-batch", "32", "--densities", "0.3,0.2,0.1,0.05",
            "--wirings", "ntt,random,magnitude,scaled-random", "--seeds", "0,1", "--results", str(results),
            "--data-root", str(data_root), "--no-progress"]
    proc = subprocess.Popen(_cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while len(list(results.glob("mnist_*.json"))) < 4 and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = {p.name: p.stat().st_mtime_ns for p in results.glob("mnist_*.json")}
    assert 4 <= len(done) < 32
    r = subprocess.run(_cli(*args, "--out", str(tmp_path / "ntt.nc")), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    after = {p.name: p.stat().st_mtime_ns for p in results.glob("mnist_*.json")}
    assert len(after) == 32 and all(after[k] == v for k, v in done.items())  # finished runs kept as they were


def test_result_files_follow_the_umask(tmp_path):
    import xarray as xr

    old = os.umask(0o022)
    try:
        save_network(SpectralMLP([4, 3, 2], seed=0), tmp_path / "m.npz")
        write_netcdf(xr.Dataset({"a": ("x", np.arange(3.0))}), tmp_path / "d.nc")
        run_sweep(dict(SPEC, axes={"train": ["direct"], "hidden": [4]}), tmp_path / "pts", workers=1,
                  progress=False, out=tmp_path / "s.nc")
    finally:
        os.umask(old)
    for p in [tmp_path / "m.npz", tmp_path / "d.nc", tmp_path / "s.nc", tmp_path / "pts" / "point-000000.json",
              tmp_path / "pts" / "sweep.json"]:
        assert oct(p.stat().st_mode & 0o777) == oct(0o644), p
