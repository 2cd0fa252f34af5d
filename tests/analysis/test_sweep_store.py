"""The run store and the execution loop every experiment shares (spectral_physics.analysis.sweep)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import xarray as xr
from spectral_physics.analysis.sweep import RunStore, SerialExecutor, StoreLockedError, run_tasks

from spectral_physics.atomic import atomic_path, remove_stale_temporaries


def _square(task):
    return {"value": task["x"] ** 2}


def test_records_round_trip_and_foreign_records_count_as_missing(tmp_path):
    with RunStore(tmp_path, fingerprint="f1").open() as store:
        store.save("a", {"value": 3})
        assert store.load("a")["value"] == 3
        assert store.load("b") is None
        # a record of another configuration, or a damaged one, is not a result
        (tmp_path / "b.json").write_text(json.dumps({"format": 1, "key": "b", "fingerprint": "other"}))
        (tmp_path / "c.json").write_text("{not json")
        assert store.pending(["a", "b", "c"]) == ["b", "c"]
        assert store.load("a", validate=lambda r: r["value"] == 4) is None


def test_netcdf_records(tmp_path):
    ds = xr.Dataset({"acc": ("seed", [0.5, 0.75])}, attrs={"note": "x"})
    with RunStore(tmp_path, fingerprint="f", kind="netcdf").open() as store:
        store.save("run-0", ds)
        back = store.load("run-0")
    assert back.acc.values.tolist() == [0.5, 0.75] and back.attrs["note"] == "x"


def test_another_configuration_is_refused(tmp_path):
    with RunStore(tmp_path, fingerprint="f1").open() as store:
        store.save("a", {"value": 1})
    with pytest.raises(ValueError, match="different configuration"):
        RunStore(tmp_path, fingerprint="f2").open()
    with pytest.raises(FileExistsError, match="resume"):
        RunStore(tmp_path, fingerprint="f1").open(resume=False)
    with RunStore(tmp_path, fingerprint="f2").open(overwrite=True) as store:
        assert store.saved_keys() == []


def test_bad_keys_are_refused(tmp_path):
    store = RunStore(tmp_path, fingerprint="f")
    for key in ["", "../x", ".hidden", "store"]:
        with pytest.raises(ValueError, match="run key"):
            store.path(key)


def test_results_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with RunStore(tmp_path, fingerprint="f").open() as store:
            path = store.save("a", {"value": 1})
        with atomic_path(tmp_path / "x.txt") as tmp:
            tmp.write_text("hi")
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert oct((tmp_path / "x.txt").stat().st_mode & 0o777) == oct(0o644)


def test_stale_temporaries_are_cleaned_but_fresh_ones_kept(tmp_path):
    stale, fresh = tmp_path / ".a.json.x1.tmp", tmp_path / ".b.json.x2.tmp"
    stale.write_text(""), fresh.write_text("")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert fresh.exists() and not stale.exists()


def test_run_tasks_computes_only_missing_runs(tmp_path):
    tasks = {f"t{i}": {"x": i} for i in range(4)}
    with RunStore(tmp_path, fingerprint="f").open() as store:
        out = run_tasks(_square, tasks, store, executor=SerialExecutor(), progress=False)
        assert [r["value"] for r in out.values()] == [0, 1, 4, 9]
        stamps = {k: store.path(k).stat().st_mtime_ns for k in tasks}
        store.path("t2").unlink()
        seen = []
        run_tasks(_square, tasks, store, executor=SerialExecutor(), progress=False,
                  on_result=lambda k, r: seen.append(k))
        assert seen == ["t2"]
        assert all(store.path(k).stat().st_mtime_ns == stamps[k] for k in ("t0", "t1", "t3"))


def _blas_threads(task):
    import numpy  # noqa: F401 - loads the BLAS whose threads are counted
    from threadpoolctl import threadpool_info

    return {"threads": [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]}


def test_blas_threads_reach_workers_started_before_the_run(tmp_path, monkeypatch):
    # a Dask worker, or any executor passed in, was started with its own environment
    import concurrent.futures as cf
    import multiprocessing as mp

    if (os.cpu_count() or 1) < 2:  # OpenBLAS caps its threads at the cores it sees
        pytest.skip("needs 2 cores to tell 2 BLAS threads from 1")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    with cf.ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        pool.submit(_blas_threads, {}).result()  # the worker starts now, at 2 threads
        with RunStore(tmp_path / "free", fingerprint="f").open() as store:
            free = run_tasks(_blas_threads, {"a": {}}, store, executor=pool, progress=False)
        with RunStore(tmp_path / "one", fingerprint="f").open() as store:
            one = run_tasks(_blas_threads, {"a": {}}, store, executor=pool, progress=False, blas_threads=1)
    assert free["a"]["threads"] and set(free["a"]["threads"]) == {2}
    assert set(one["a"]["threads"]) == {1}
    with RunStore(tmp_path / "bad", fingerprint="f").open() as store, pytest.raises(ValueError, match="blas_threads"):
        run_tasks(_square, {"a": {"x": 1}}, store, executor=SerialExecutor(), progress=False, blas_threads=0)


_HOLDER = textwrap.dedent("""
    import sys, time
    from spectral_physics.analysis.sweep import RunStore, SerialExecutor, run_tasks

    def slow(task):
        time.sleep(task["sleep"])
        return {"value": task["x"]}

    store = RunStore(sys.argv[1], fingerprint="f").open()
    print("locked", flush=True)
    tasks = {f"t{i}": {"x": i, "sleep": 0.3} for i in range(200)}
    run_tasks(slow, tasks, store, executor=SerialExecutor(), progress=False)
""")


def test_a_second_process_is_refused_and_sigkill_loses_only_the_run_in_flight(tmp_path):
    script = tmp_path / "holder.py"
    script.write_text(_HOLDER)
    results = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, str(script), str(results)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLockedError, match=f"pid {proc.pid}"):
            RunStore(results, fingerprint="f").open()
        deadline = time.time() + 60
        while len(list(results.glob("t*.json"))) < 3 and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = sorted(p.stem for p in results.glob("t*.json"))
    assert len(done) >= 3
    # the kernel released the lock with the process; every saved record is whole
    with RunStore(results, fingerprint="f").open() as store:
        assert store.pending(done) == []
        tasks = {f"t{i}": {"x": i} for i in range(len(done) + 2)}
        seen = []
        run_tasks(_square, tasks, store, executor=SerialExecutor(), progress=False,
                  on_result=lambda k, r: seen.append(k))
    assert seen == [k for k in tasks if k not in done]
