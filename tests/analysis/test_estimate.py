"""``reproduce --estimate``: predicted wall time per step from a short calibration.

The known answer: with the unit costs fixed (an earlier estimate's ``calibration``), the
predicted training time is the calibrated step time times the schedule's step count, so
it scales exactly linearly with the epochs, and every step's total is affine in them.
"""

import copy
import json
import math

import pytest
from spectral_physics.analysis.estimate import estimate
from spectral_physics.analysis.reproduce import plan

#: every data step, tiny (MNIST shapes from the table: no data needed, none trained)
TINY = {
    "presets_sweep": {
        "name": "tiny", "dataset": "mnist", "subset": 400, "n_test": 100, "epochs": 1, "seeds": [0, 1],
        "axes": {"train": ["direct", "eigen"], "hidden": [8, 16]},
        "fixed": {"activation": "relu", "lr": 0.01, "batch_size": 200},
    },
    "pruning": {
        "datasets": ["mnist"], "subset": 300, "n_test": 100, "hidden": 8, "activation": "tanh", "init": "paper",
        "seeds": [0, 1], "epochs": 1, "lr": 1e-2, "fraction_step": 0.5,
        "filter": {"seeds": [0], "eigen_epochs": 1, "full_epochs": 1, "lr": 1e-2, "fractions": [0.0, 0.5],
                   "rankings": ["eigenvalue"]},
    },
    "sparse": {"sizes": [784, 8, 8, 10], "densities": [1.0, 0.5], "trains": ["direct", "spectral"],
               "modes": ["dynamic-percentile"], "seeds": [0, 1], "epochs": 1, "n_train": 300, "activation": "tanh"},
    "ntt": {"datasets": ["mnist"], "n_train": 300, "n_test": 100, "ntt_steps": 5, "epochs": 1, "seeds": [0],
            "sizes": [784, 8, 6, 10], "densities": [0.5], "wirings": ["ntt", "random", "dense"]},
    "eigen_net": {"dataset": "mnist", "subset": 300, "n_test": 100, "sizes_hidden": [8], "train": "eigen",
                  "activation": "tanh", "init": "paper", "seeds": [0, 1], "epochs": 1, "lr": 1e-2},
    "analysis_samples": 50,
    "transfer": {"sizes": [3, 3, 2], "epochs": 1},
}

#: epochs of each step's training, for the scaling test
_EPOCH_KEYS = [("presets_sweep", "epochs"), ("pruning", "epochs"), ("sparse", "epochs"), ("ntt", "epochs"),
               ("eigen_net", "epochs"), ("transfer", "epochs")]


def _scaled(k: int) -> dict:
    s = copy.deepcopy(TINY)
    for step, key in _EPOCH_KEYS:
        s[step][key] *= k
    s["pruning"]["filter"]["eigen_epochs"] *= k
    s["pruning"]["filter"]["full_epochs"] *= k
    return s


def _key(**desc) -> str:
    return json.dumps(desc, sort_keys=True)


#: unit costs given rather than measured (the CLI test below measures them): figures, data loading
GIVEN = {_key(what="figure", first=True): 1.5, _key(what="figure", first=False): 0.5,
         _key(what="data load", name="mnist"): 0.8}


@pytest.fixture(scope="module")
def first():
    return estimate(schedule=TINY, workers=1, warm_steps=1, steps=2, calibration=GIVEN)


def test_every_step_is_predicted_with_its_runs(first):
    names = [s.name for s in plan()]
    assert [r["name"] for r in first["steps"]] == names
    runs = {r["name"]: r["runs"] for r in first["steps"]}
    assert runs["presets_sweep"] == 4 * 2  # points x seeds
    # post: 2 presets x 2 seeds; filter: 1 seed x (1 eigen + 1 ranking x 2 fractions)
    assert runs["pruning"] == 4 + 3
    assert runs["sparse"] == 4 * 2 and runs["ntt"] == 3 and runs["eigen_net"] == 2
    for r in first["steps"]:
        assert r["seconds"] > 0 and math.isfinite(r["seconds"]), r
        assert r["status"] == "missing"
    assert first["seconds"] == pytest.approx(sum(r["seconds"] for r in first["steps"]))
    assert first["calibration_seconds"] > 0 and first["calibration"]


def test_training_time_scales_linearly_with_epochs(first):
    """The known answer: calibrated step times times step counts, affine in the epochs."""
    cal = first["calibration"]
    again = [estimate(schedule=_scaled(k), workers=1, calibration=cal) for k in (1, 2, 3)]
    assert all(r["calibration"].keys() == cal.keys() for r in again)  # nothing new was measured
    r1, r2, r3 = ({s["name"]: s for s in r["steps"]} for r in again)
    for name, row in r1.items():
        assert row["seconds"] == pytest.approx(first["steps"][[s["name"] for s in first["steps"]].index(name)]
                                               ["seconds"], rel=1e-12)
        if "train" in row["parts"]:
            assert r2[name]["parts"]["train"] == pytest.approx(2 * row["parts"]["train"], rel=1e-12)
            assert r3[name]["parts"]["train"] == pytest.approx(3 * row["parts"]["train"], rel=1e-12)
        # affine: equal increments per added epoch
        assert r3[name]["seconds"] - r2[name]["seconds"] == pytest.approx(
            r2[name]["seconds"] - r1[name]["seconds"], rel=1e-9, abs=1e-12)
    # the sweep: 4 points, 400 images / batch 200 = 2 steps per epoch, one calibrated step time each
    steps = [json.loads(k) for k in cal if json.loads(k).get("what") == "train step"
             and json.loads(k)["n_train"] == 400]
    assert len(steps) == 4
    want = sum(2 * cal[json.dumps(d, sort_keys=True)] for d in steps)
    assert r1["presets_sweep"]["parts"]["train"] == pytest.approx(want, rel=1e-12)
    assert r2["presets_sweep"]["parts"]["train"] == pytest.approx(2 * want, rel=1e-12)


@pytest.mark.parametrize("step", ["presets_sweep", "sparse", "pruning", "ntt"])
def test_pool_spreads_the_runs_over_workers(first, step):
    """Runs in order to the first free worker, each slowed by the measured factor, plus the start-up.

    The sweep and the three experiments all run on reproduce's pool.
    """
    cal = dict(first["calibration"])
    cal[_key(what="pool", workers=2, part="start")] = 2.0  # given: the pool's own measurement spawns workers
    cal[_key(what="pool", workers=2, part="slowdown")] = 1.25
    one = estimate(schedule=TINY, only=[step], workers=1, calibration=cal)["steps"][0]
    row = estimate(schedule=TINY, only=[step], workers=2, calibration=cal)["steps"][0]
    assert row["name"] == step and row["parts"]["workers"] == 2 and row["parts"]["pool_slowdown"] == 1.25
    assert one["parts"]["workers"] == 1 and row["parts"]["train"] == pytest.approx(one["parts"]["train"])
    # 3 or 4 runs of different sizes: the pool's makespan lies between half the (slowed) sum and all of it
    points = 1.25 * (one["seconds"] - one["parts"]["fixed"])
    start = 2.0 + cal[_key(what="data load", name="mnist")]
    assert row["parts"]["fixed"] == pytest.approx(start)
    assert points / 2 + start - 1e-9 <= row["seconds"] <= points + start + 1e-9


def test_estimate_json_and_existing_steps(tmp_path, first):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "eigen_net.npz").write_bytes(b"")
    rep = estimate(schedule=TINY, workers=1, calibration=first["calibration"], out=tmp_path)
    status = {s["name"]: s["status"] for s in rep["steps"]}
    assert status["eigen_net"] == "exists" and status["pruning"] == "missing"
    eig = next(s["seconds"] for s in rep["steps"] if s["name"] == "eigen_net")
    assert rep["remaining_seconds"] == pytest.approx(rep["seconds"] - eig)
    saved = json.loads((tmp_path / "estimate-custom.json").read_text())
    assert saved["steps"] == rep["steps"] and saved["label"] == "custom"
    # a skipped first step: its data load and first fit fall to pruning, the next step that
    # trains in this process
    (tmp_path / "data" / "presets_sweep.nc").write_bytes(b"")
    rows = {s["name"]: s for s in estimate(schedule=TINY, workers=1, calibration=first["calibration"],
                                           out=tmp_path)["steps"]}
    base = {s["name"]: s for s in first["steps"]}
    assert base["pruning"]["parts"]["fixed"] == 0 and base["presets_sweep"]["parts"]["fixed"] > 0
    assert rows["pruning"]["parts"]["fixed"] == pytest.approx(base["presets_sweep"]["parts"]["fixed"])


def test_cli_estimate_prints_the_table(tmp_path, capsys):
    from spectral_physics.cli import main

    assert main(["reproduce", "--estimate", "--quick", "--only", "transfer_operator", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "transfer_operator" in text and "predicted s" in text and "total" in text
    saved = json.loads((tmp_path / "estimate-quick.json").read_text())
    assert saved["label"] == "quick" and [s["name"] for s in saved["steps"]] == [
        "transfer_operator", "fig:transfer_operator"]
    assert not (tmp_path / "quick").exists() and not (tmp_path / "data").exists()  # nothing computed


def test_runs_already_stored_are_left_out_of_what_remains(tmp_path, first):
    """A resumed step skips the runs in its store: all stored leaves 0, another configuration's count for nothing."""
    from spectral_physics.analysis.experiments.sparse import SparseConfig, sparse_runs
    from spectral_physics.analysis.sweep.store import RunStore

    cal = first["calibration"]
    cfg = SparseConfig.from_dict(TINY["sparse"])
    keys = list(sparse_runs(cfg))
    folder = tmp_path / "parts" / "sparse"

    def row():
        rep = estimate(schedule=TINY, only=["sparse"], workers=1, calibration=cal, out=tmp_path)
        return rep, rep["steps"][0]

    rep, r0 = row()
    assert r0["parts"]["runs_done"] == 0 and r0["parts"]["remaining_seconds"] == pytest.approx(r0["seconds"])
    other = RunStore(folder, fingerprint="not-this-config", kind="netcdf")
    with other.open():
        other.path(keys[0]).write_bytes(b"")
    assert row()[1]["parts"]["runs_done"] == 0  # another configuration's store: nothing of ours is done
    for f in folder.iterdir():
        f.unlink()
    store = RunStore(folder, fingerprint=cfg.fingerprint(), kind="netcdf")
    with store.open():
        store.path(keys[0]).write_bytes(b"")
        store.path(keys[1]).write_bytes(b"")
    assert store.finished() == sorted(keys[:2])
    rep, r2 = row()
    assert r2["parts"]["runs_done"] == 2 and r2["seconds"] == pytest.approx(r0["seconds"])
    assert 0 < r2["parts"]["remaining_seconds"] < r0["seconds"]
    assert rep["remaining_seconds"] == pytest.approx(r2["parts"]["remaining_seconds"] + sum(
        s["seconds"] for s in rep["steps"][1:]))  # its figure is missing too
    with store.open():
        for k in keys[2:]:
            store.path(k).write_bytes(b"")
    r4 = row()[1]
    assert r4["parts"]["runs_done"] == len(keys) and r4["parts"]["remaining_seconds"] == 0


def test_each_filter_seed_is_a_run_of_its_own(tmp_path, first):
    """The filter predicts one run per seed, each an equal share: one seed stored leaves out exactly that share."""
    from spectral_physics.analysis.experiments.pruning import pruning_runs
    from spectral_physics.analysis.reproduce import experiment_config

    cal = first["calibration"]
    two = copy.deepcopy(TINY)
    two["pruning"]["filter"]["seeds"] = [0, 1]  # the same shapes: nothing new to calibrate
    one_seed = estimate(schedule=TINY, only=["pruning"], workers=1, calibration=cal)["steps"][0]
    rep = estimate(schedule=two, only=["pruning"], workers=1, calibration=cal, out=tmp_path)
    assert rep["calibration"].keys() == cal.keys()
    row = rep["steps"][0]
    share = row["seconds"] - one_seed["seconds"]  # what the second seed adds
    assert share > 0 and row["runs"] == one_seed["runs"] + 3  # 1 eigen + 1 ranking x 2 fractions
    cfg = experiment_config("pruning", two)
    keys = [k for k in pruning_runs(cfg) if "_filter_s" in k]
    assert keys == ["mnist_tanh_h8_filter_s0", "mnist_tanh_h8_filter_s1"]
    with cfg.store(tmp_path / "parts" / "pruning").open() as store:
        store.path(keys[0]).write_bytes(b"")
    left = estimate(schedule=two, only=["pruning"], workers=1, calibration=cal, out=tmp_path)["steps"][0]
    assert left["parts"]["runs_done"] == 1
    assert left["parts"]["remaining_seconds"] == pytest.approx(row["seconds"] - share, rel=1e-12)


class _FakeClock:
    """``time.perf_counter`` of a virtual machine: time moves only when the test moves it,
    by ``tick`` seconds at every reading and by what :meth:`sleep` adds."""

    def __init__(self, tick: float = 0.0):
        self.t, self.tick = 1000.0, tick

    def perf_counter(self) -> float:
        self.t += self.tick
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def test_the_ntt_step_is_read_off_the_steps_not_off_noisy_totals(monkeypatch):
    """Known answer: every NTT step takes 30 ms of a virtual clock, and the start of each
    transfer a random 0-300 ms (a busy machine's noise in the fixed part); nothing else
    moves the clock. The calibrated step is exactly 30 ms whatever the noise; the
    difference of two totals (the method before) read it as 13 ms."""
    import random

    from spectral_physics.analysis import estimate as est

    import spectral_physics.ntt as ntt

    clock = _FakeClock()
    monkeypatch.setattr(est, "time", clock)
    rng = random.Random(0)
    call, begin = ntt.NTTObjective.__call__, ntt._Validation.on_train_begin

    def slow_step(self, *args, **kwargs):
        clock.sleep(0.03)
        return call(self, *args, **kwargs)

    def noisy_begin(self, net):
        clock.sleep(rng.uniform(0.0, 0.3))
        return begin(self, net)

    monkeypatch.setattr(ntt.NTTObjective, "__call__", slow_step)
    monkeypatch.setattr(ntt._Validation, "on_train_begin", noisy_begin)
    for _ in range(2):
        cal = est._Calibration(None, warm=2, steps=6, data_root=None)
        step, fixed = est._est_ntt_unit(cal, sizes=[784, 8, 6, 10], kind="masked-dense", scope="layer",
                                        density=0.5, n_train=400)
        assert step == pytest.approx(0.03, abs=1e-9)
        assert fixed >= 0.0


def test_a_fast_training_step_is_timed_over_enough_steps(monkeypatch):
    """Known answer: a step of 0.5 ms (each reading of a virtual clock moves it 0.5 ms, and the
    step clock reads it once a step) is timed again over _MIN_TIMED / 0.5 ms = 400 steps
    after the warm-up: 6 steps of 0.5 ms are 3 ms, less than a scheduler's time slice."""
    from spectral_physics.analysis import estimate as est

    import spectral_physics

    monkeypatch.setattr(est, "time", _FakeClock(tick=0.0005))
    calls = []
    real = spectral_physics.fit

    def counting_fit(*args, **kwargs):
        calls.append(kwargs["max_steps"])
        return real(*args, **kwargs)

    monkeypatch.setattr(spectral_physics, "fit", counting_fit)
    cal = est._Calibration(None, warm=2, steps=6, data_root=None)
    step = est._est_train(cal, sizes=[20, 4, 3], train="direct", batch=8, n_train=64, n_classes=3)
    assert calls == [2 + 6, 2 + int(round(est._MIN_TIMED / 0.0005))]
    assert step == pytest.approx(0.0005, abs=1e-12)


def test_a_step_timed_over_enough_steps_is_not_timed_again(monkeypatch):
    """A 50 ms step: 6 of them already last 0.3 s, so one fit of 8 steps is all."""
    from spectral_physics.analysis import estimate as est

    import spectral_physics

    monkeypatch.setattr(est, "time", _FakeClock(tick=0.05))
    calls = []
    real = spectral_physics.fit
    monkeypatch.setattr(spectral_physics, "fit", lambda *a, **k: calls.append(k["max_steps"]) or real(*a, **k))
    cal = est._Calibration(None, warm=2, steps=6, data_root=None)
    step = est._est_train(cal, sizes=[20, 4, 3], train="direct", batch=8, n_train=64, n_classes=3)
    assert calls == [8] and step == pytest.approx(0.05, abs=1e-12)
