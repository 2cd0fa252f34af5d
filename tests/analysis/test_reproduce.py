"""``reproduce`` on a shared machine and on a fresh clone: schedule folders, BLAS threads, data found.

The fresh-clone test runs the README's main-job command as a user would: from a clone of
this repository with ``../shared/data`` beside it, ``SPECTRAL_PHYSICS_DATA`` unset and no
internet, through the installed ``spectral-physics`` command.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import spectral_physics.analysis.reproduce as rp
import xarray as xr
from spectral_physics.analysis import write_netcdf
from spectral_physics.analysis.reproduce import QUICK, reproduce, work_dir

import spectral_physics.datasets as ds

ROOT = Path(__file__).resolve().parents[2]


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


@pytest.fixture
def spy(monkeypatch):
    """Records, inside the transfer_operator step, the BLAS threads and the work folder."""
    seen = []
    real = rp._RUNNERS["transfer_operator"]

    def step(ctx, path):
        seen.append({"blas": _blas_threads(), "env": os.environ.get("OPENBLAS_NUM_THREADS"), "work": ctx["out"],
                     "path": path})
        real(ctx, path)

    monkeypatch.setitem(rp._RUNNERS, "transfer_operator", step)
    return seen


def test_quick_and_full_share_one_out(tmp_path, spy, monkeypatch):
    import spectral_physics.figures as figures

    drawn = []
    blas_before = os.environ.get("OPENBLAS_NUM_THREADS")
    monkeypatch.setattr(figures, "draw", lambda name, paths, out: drawn.append((name, paths, out)) or {})
    out = tmp_path / "out"
    quick = reproduce(quick=True, only=["transfer_operator"], out=out, progress=False)
    full = reproduce(quick=False, only=["transfer_operator"], out=out, progress=False, blas_threads=2)
    assert [s["path"] for s in spy] == [out / "quick" / "data" / "transfer_operator.nc",
                                         out / "full" / "data" / "transfer_operator.nc"]
    for label in ("quick", "full"):
        assert json.loads((out / label / "data" / "schedule.json").read_text())["label"] == label
    assert quick["schedule"] == "quick" and full["schedule"] == "full"
    # figures of each run go to out itself, drawn from that schedule's Datasets
    assert [(d[1]["transfer_operator"], d[2]) for d in drawn] == [
        (out / "quick" / "data" / "transfer_operator.nc", out), (out / "full" / "data" / "transfer_operator.nc", out)]
    # a second quick run reuses its Dataset: neither schedule disturbed the other
    again = reproduce(quick=True, only=["transfer_operator"], out=out, progress=False)
    assert again["steps"][0]["status"] == "exists" and len(spy) == 2
    # the ledger: one entry per computed step (none for the reused one), with its wall time
    ledger = json.loads((out / "quick" / "data" / "steps.json").read_text())
    assert [e["step"] for e in ledger] == ["transfer_operator"]
    assert ledger[0]["seconds"] >= 0 and ledger[0]["runs_stored_before"] is None and ledger[0]["blas_threads"] == 1
    assert len(ledger[0]["git_revision"]) >= 7 or ledger[0]["git_revision"] == "unknown"
    assert json.loads((out / "full" / "data" / "steps.json").read_text())[0]["blas_threads"] == 2
    # BLAS threads: 1 by default, --blas-threads otherwise; here and for workers (environment)
    assert all(n == 1 for n in spy[0]["blas"]) and spy[0]["env"] == "1"
    assert all(n == 2 for n in spy[1]["blas"]) and spy[1]["env"] == "2"
    assert os.environ.get("OPENBLAS_NUM_THREADS") == blas_before  # restored


def test_the_ledger_counts_the_runs_a_grid_step_found_stored(tmp_path, monkeypatch, capsys):
    """A resumed grid step records how many of its runs were on disk before and after."""
    def fake_sparse(ctx, path):  # one run lands in the step's store, then the Dataset
        cfg = rp.experiment_config("sparse", ctx["schedule"])
        with cfg.store(ctx["out"] / rp.STORE_DIRS["sparse"]).open(resume=True) as store:
            store.save("direct_dense_d1", xr.Dataset({"a": ("x", [1.0])}))
        write_netcdf(xr.Dataset({"a": ("x", [1.0])}), path)

    monkeypatch.setitem(rp._RUNNERS, "sparse", fake_sparse)
    reproduce(quick=True, only=["sparse"], out=tmp_path, progress=False)
    (entry,) = json.loads((tmp_path / "quick" / "data" / "steps.json").read_text())
    assert entry["step"] == "sparse" and entry["runs_stored_before"] == 0 and entry["runs"] == 1
    assert entry["workers"] >= 1
    # how far the store is, out of the 2 trains x 6 densities of the quick sparse grid; a record
    # under a key the schedule does not name is not one of its runs
    work = tmp_path / "quick"
    assert rp.stored_runs("sparse", QUICK, work) == (1, 12)
    cfg = rp.experiment_config("sparse", QUICK)
    with cfg.store(work / rp.STORE_DIRS["sparse"]).open(resume=True) as store:
        store.save("not_a_run_of_this_grid", xr.Dataset({"a": ("x", [1.0])}))
    assert rp.stored_runs("sparse", QUICK, work) == (1, 12)
    assert rp.stored_runs("pruning", QUICK, work) == (0, 8)  # no store yet: 2 data sets x (2 posts + 2 filter seeds)
    assert rp.stored_runs("eigenstats", QUICK, work) is None  # not a grid step
    # and reproduce --list shows it for a step whose Dataset is missing
    (work / "data" / "sparse.nc").unlink()
    from spectral_physics.cli import main

    assert main(["reproduce", "--quick", "--list", "--out", str(tmp_path), "--only", "sparse"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if " sparse " in x)
    assert "missing" in line and line.endswith("(1 of 12 runs stored)")


def test_the_sweep_store_is_counted_by_its_point_keys(tmp_path):
    from spectral_physics.analysis.sweep import SweepSpec, point_key, sweep_store

    spec = SweepSpec.from_dict(QUICK["presets_sweep"])
    n = len(spec.points())
    assert rp.stored_runs("presets_sweep", QUICK, tmp_path) == (0, n)
    with sweep_store(spec, tmp_path / rp.STORE_DIRS["presets_sweep"]).open(resume=True) as store:
        store.save(point_key(3), {"index": 3})
        store.save("point-x", {"index": -1})  # not a key of the grid
    assert point_key(3) == "point-000003"
    assert rp.stored_runs("presets_sweep", QUICK, tmp_path) == (1, n)


def test_schedule_of_copies_the_schedule_it_names():
    assert rp.schedule_of(quick=True) == QUICK and rp.schedule_of() == rp.FULL
    sch = rp.schedule_of(quick=True)
    sch["sparse"]["densities"].append(0.5)
    assert rp.schedule_of(quick=True) == QUICK != sch  # a deep copy: QUICK itself is untouched
    assert rp.schedule_of(True, {"a": {"b": 1}}) == {"a": {"b": 1}}


def test_an_out_folder_of_the_old_layout_is_read_as_it_is(tmp_path):
    rp._check_schedule(tmp_path / "data", QUICK, "quick")  # what a run before the split wrote
    assert work_dir(tmp_path, "quick") == tmp_path
    assert work_dir(tmp_path, "full") == tmp_path / "full"  # the other schedule goes beside it
    assert work_dir(tmp_path, "custom") == tmp_path


def test_another_version_of_a_schedule_is_refused(tmp_path):
    rp._check_schedule(tmp_path / "quick" / "data", dict(QUICK, analysis_samples=1), "quick")
    with pytest.raises(ValueError, match="another schedule"):
        reproduce(quick=True, only=["transfer_operator"], out=tmp_path, progress=False)


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    for var in ("SPECTRAL_PHYSICS_DATA", "SPECTRAL_PHYSICS_MIRROR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SPECTRAL_PHYSICS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ds, "SYSTEM_DATA_DIRS", ())
    monkeypatch.setattr(ds, "MIRRORS", {name: [] for name in ds.MIRRORS})
    monkeypatch.setattr(ds, "checkout_dir", lambda: None)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path


def test_missing_data_stops_reproduce_before_any_step(no_data, capsys):
    from spectral_physics.cli import main

    with pytest.raises(ds.DatasetNotFoundError, match="root="):
        reproduce(quick=True, only=["pruning_curves", "transfer_operator"], out=no_data / "out", progress=False)
    assert not (no_data / "out").exists()
    assert main(["reproduce", "--quick", "--only", "phase_diagram", "--out", str(no_data / "out2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mnist: data files not found" in err[0] and "--data-root DIR" in err[0], err
    assert "SPECTRAL_PHYSICS_DATA is not set" in err[0]
    assert not (no_data / "out2" / "quick" / "data").exists()


@pytest.mark.data
def test_readme_main_job_runs_from_a_fresh_clone_offline(tmp_path, data_root):
    """README's `spectral-physics reproduce --quick` from a clone with ../shared beside it."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout to clone")
    subprocess.run([git, "clone", "-q", str(ROOT), str(tmp_path / "main")], check=True, timeout=120,
                   capture_output=True)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(data_root, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAL_PHYSICS_")}
    env.update(SPECTRAL_PHYSICS_CACHE=str(tmp_path / "empty-cache"), MPLBACKEND="Agg")
    script = Path(sys.executable).with_name("spectral-physics")  # the installed command, as a user runs it
    command = [str(script)] if script.exists() else [
        sys.executable, "-c", "import sys; sys.path.pop(0); from spectral_physics.cli import main; sys.exit(main())"]

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([*command, *argv], cwd=tmp_path / "main", env=env, capture_output=True, text=True,
                              timeout=600)

    where = run("data", "where", "--no-verify", "mnist")
    assert where.returncode == 0, where.stderr
    assert f"mnist: read from {tmp_path / 'shared' / 'data' / 'mnist'}" in where.stdout, where.stdout
    res = run("reproduce", "--quick", "--only", "transfer_operator", "eigen_net", "--out", "OUT")
    assert res.returncode == 0, res.stderr[-3000:]
    out = tmp_path / "main" / "OUT"
    assert (out / "quick" / "data" / "eigen_net.npz").exists()  # read MNIST from ../shared/data
    assert (out / "transfer_operator.pdf").exists() and (out / "transfer_operator.png").exists()
    assert "\r" not in res.stderr  # no bar redraws in a captured log
    assert not (tmp_path / "empty-cache").exists()  # nothing was downloaded or cached


def test_redraw_from_an_earlier_run_computes_nothing(tmp_path, spy):
    """``reproduce --from``: the figures of an earlier run, pixel for pixel, and the missing ones named."""
    import matplotlib.image as mpimg
    import numpy as np
    from spectral_physics.analysis.reproduce import redraw

    from spectral_physics.cli import main

    out = tmp_path / "run"
    reproduce(quick=True, only=["transfer_operator"], out=out, progress=False)
    assert len(spy) == 1
    # the full schedule's Datasets are not there; the quick ones are
    with pytest.raises(FileNotFoundError, match="no Datasets of the full schedule"):
        redraw(out, out=tmp_path / "x", progress=False)
    # an old flat folder is read for its own schedule only
    flat = tmp_path / "flat"
    shutil.copytree(out / "quick", flat)
    assert rp.source_dir(flat, "quick") == flat
    with pytest.raises(FileNotFoundError):
        rp.source_dir(flat, "full")
    again = tmp_path / "again"
    rep = redraw(out, out=again, quick=True, progress=False)
    assert len(spy) == 1  # nothing computed
    assert rep["schedule"]["label"] == "quick" and rep["schedule"]["current"] is True
    assert sorted(rep["figures"]) == ["transfer_operator"]
    want = {f for f, e in rp.FIGURES.items() if e.needs != ("transfer_operator",)}
    assert set(rep["missing"]) == want and rep["missing"]["pruning_curves"] == ["pruning"]
    assert np.array_equal(mpimg.imread(again / "transfer_operator.png"), mpimg.imread(out / "transfer_operator.png"))
    assert json.loads((again / "redraw.json").read_text())["missing"] == rep["missing"]
    # a data-step name selects the figures drawn from it
    assert [s["name"] for s in redraw(out, out=again, quick=True, only=["transfer_operator"],
                                      progress=False)["steps"]] == ["fig:transfer_operator"]
    # the command: 0 when every selected figure is drawn, 1 when one lacks Datasets, 2 on misuse
    base = ["reproduce", "--from", str(out), "--quick", "--out", str(tmp_path / "cli"), "--no-progress"]
    assert main(base + ["--only", "transfer_operator"]) == 0
    assert main(base) == 1
    assert main(base + ["--workers", "2"]) == 2
    assert main(["reproduce", "--from", str(tmp_path / "nothing"), "--no-progress"]) == 2
    assert len(spy) == 1


def test_the_committed_paper_datasets_redraw(tmp_path):
    """``reproduce --from results/paper``: every figure whose full-schedule Datasets are committed is drawn."""
    import matplotlib.image as mpimg
    from spectral_physics.analysis.reproduce import FULL, _fingerprint, redraw, source_dir

    paper = ROOT / "results" / "paper"
    data = source_dir(paper) / "data"
    recorded = json.loads((data / "schedule.json").read_text())
    assert recorded["label"] == "full" and recorded["fingerprint"] == _fingerprint(FULL)
    rep = redraw(paper, out=tmp_path, progress=False)
    committed = {p.stem for p in data.glob("*.nc")}
    for name, entry in rp.FIGURES.items():
        if set(entry.needs) <= committed:
            assert name in rep["figures"], name
            assert mpimg.imread(tmp_path / f"{name}.png").shape == mpimg.imread(paper / f"{name}.png").shape
        else:
            assert set(rep["missing"][name]) == set(entry.needs) - committed
    assert len(rep["figures"]) >= 4  # eigenvalue statistics, input relevance, homeostasis, transfer operator
    # REPRODUCTION.md states the verdicts of exactly these Datasets
    from spectral_physics.analysis.claims import claims, claims_table

    table = claims_table(claims(data))
    assert (tmp_path / "claims.md").read_text().endswith(table)
    assert table in (ROOT / "REPRODUCTION.md").read_text(), "REPRODUCTION.md: not the claims of results/paper"
