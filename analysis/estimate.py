"""Predicted wall time of each step of a reproduction schedule, from a short calibration.

One idea: ``spectral-physics reproduce --estimate``. Each step of the plan
(:mod:`spectral_physics.analysis.reproduce`) is broken into the units it repeats
(training steps of each network shape and preset, NTT steps, pruning evaluations, data
loading, figures); each unit is timed a few times on the machine at hand and multiplied by
how often the schedule needs it. Nothing of the real schedule is trained.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spectral_physics.atomic import write_text_atomic

from ._xr import to_json
from .reproduce import (
    DEFAULT_BLAS_THREADS,
    STORE_DIRS,
    _blas_limits,
    experiment_config,
    plan,
    schedule_label,
    schedule_of,
    work_dir,
)

__all__ = ["estimate"]


#: (features, classes, training images, test images) of the named data sets, so an estimate
#: needs no data on disk
_EST_SHAPES: dict[str, tuple[int, int, int, int]] = {
    "mnist": (784, 10, 60000, 10000), "fashion-mnist": (784, 10, 60000, 10000),
    "cifar10": (3072, 10, 50000, 10000),
}
_EST_IMAGES = {"mnist": (28, 28), "fashion-mnist": (28, 28), "cifar10": (32, 32, 3)}


class _Calibration:
    """Measured unit costs (seconds), keyed by a JSON description of what was timed.

    ``known`` pre-fills the cache (an earlier estimate's ``calibration``), so the same
    unit costs can be applied to another schedule: the prediction is then exactly linear
    in step counts.
    """

    def __init__(self, known: Mapping[str, float] | None, warm: int, steps: int, data_root) -> None:
        self.values: dict[str, float] = dict(known or {})
        self.warm, self.steps, self.data_root = int(warm), int(steps), data_root
        self.seconds = 0.0  # time spent calibrating
        self._x: dict[tuple, Any] = {}

    def get(self, desc: Mapping[str, Any], measure: Callable[[], float]) -> float:
        key = to_json(dict(desc))
        if key not in self.values:
            t0 = time.perf_counter()
            with np.errstate(all="ignore"):
                self.values[key] = float(measure())
            self.seconds += time.perf_counter() - t0
        return self.values[key]

    def data(self, n: int, n_features: int, n_classes: int, normal: bool = False):
        """Synthetic inputs (n, n_features) float32 and labels: the arithmetic of real data."""
        k = (n, n_features, n_classes, normal)
        if k not in self._x:
            rng = np.random.default_rng(0)
            x = rng.standard_normal((n, n_features), dtype=np.float32) if normal else \
                rng.random((n, n_features), dtype=np.float32)
            self._x[k] = (x, rng.integers(0, n_classes, size=n))
        return self._x[k]


def _est_shape(name: str, subset: int | None, n_test: int | None, root) -> tuple[int, int, int, int]:
    if name in _EST_SHAPES:
        f, c, n, t = _EST_SHAPES[name]
    else:  # another data set: read its shape once
        from spectral_physics.datasets import load_dataset

        d = load_dataset(name, root=root)
        f, c, n, t = d.n_features, d.n_classes, d.n_train, len(d.y_test)
    return f, c, min(subset, n) if subset else n, min(n_test, t) if n_test else t


#: a training step is timed over at least this many seconds of steps (at most _MAX_STEPS steps)
_MIN_TIMED, _MAX_STEPS = 0.2, 1000


class _StepClock:
    """Times of ``on_step_end`` (perf_counter), for per-step costs without fit's set-up or evaluation."""

    def __init__(self) -> None:
        from spectral_physics.train import Callback

        clock = self

        class _CB(Callback):
            def on_step_end(self, net, epoch, step):
                clock.times.append(time.perf_counter())

        self.times: list[float] = []
        self.callback = _CB()

    def per_step(self, warm: int) -> float:
        d = np.diff(self.times[max(warm - 1, 0):])
        return float(np.median(d)) if d.size else float("nan")


def _est_train(cal: _Calibration, *, sizes, train, activation="relu", init="default", members=None,
               batch=200, n_train, n_classes=10, optimizer="adam", lr=1e-3, sweep_sparsity=0.0,
               sparse_mode=None, density=1.0, every=100, mask_density=None, shared=False) -> float:
    """Seconds of one training step of this configuration (median over ``cal.steps`` after warm-up)."""
    desc = {"what": "train step", "sizes": list(sizes), "train": train, "activation": activation, "init": init,
            "members": members, "batch": batch, "n_train": n_train, "optimizer": optimizer,
            "sweep_sparsity": sweep_sparsity, "sparse_mode": sparse_mode,
            "density": density if sparse_mode else None, "every": every if sparse_mode == "dst" else None,
            "mask_density": mask_density, "shared": shared,
            # how the step is timed: a calibration timed otherwise (before the step clock) is measured again
            "timing": "step clock, >= 0.2 s"}

    def measure() -> float:
        from spectral_physics import SpectralMLP, fit
        from spectral_physics.sparse import TopologyTurnover, apply_masks, configure_sparsity, make_masks
        from spectral_physics.train import DivergenceError

        net = SpectralMLP(list(sizes), train=train, activation=activation, init=init,
                          seed=list(range(members)) if members else 0)
        cbs: list[Any] = []
        if sweep_sparsity:
            for layer in net.layers:
                layer.sparsity = sweep_sparsity
            cbs.append(TopologyTurnover(per_step=True))
        if sparse_mode:
            cbs += configure_sparsity(net, 1.0 - density, sparse_mode, every=every)
        if mask_density is not None:
            apply_masks(net, make_masks("random", net, mask_density, seed=0))
        x, y = cal.data(n_train, sizes[0], n_classes)
        per_epoch = -(-n_train // batch)

        def timed(steps: int) -> tuple[_StepClock, float]:
            total = cal.warm + steps
            clock = _StepClock()
            t0 = time.perf_counter()
            try:
                fit(net, (x, y), epochs=-(-total // per_epoch), max_steps=total, batch_size=batch,
                    optimizer=optimizer, lr=lr, progress=False, callbacks=[*cbs, clock.callback],
                    shared_order=shared, max_loss=float("inf"))
            except DivergenceError:  # random data at a large rate: the steps timed so far do
                pass
            return clock, t0

        clock, t0 = timed(cal.steps)
        step = clock.per_step(cal.warm)
        first = _FIRST_FIT
        if first not in cal.values and len(clock.times) >= cal.warm:
            # the first fit of a process also loads the compiled kernels: paid once per process
            warm = clock.times[max(cal.warm - 1, 0)] - t0
            cal.values[first] = max(warm - cal.warm * step, 0.0)
        more = int(min(_MIN_TIMED / max(step, 1e-5), _MAX_STEPS))
        if more > cal.steps:
            # a sub-millisecond step: 6 of them are noise; time steps worth _MIN_TIMED seconds
            again = timed(more)[0].per_step(cal.warm)
            step = again if np.isfinite(again) else step
        return step

    return cal.get(desc, measure)


#: calibration key of the one-off cost of a process's first training steps (compiled kernels loaded)
_FIRST_FIT = '{"what": "first fit"}'


def _est_first_fit(cal: _Calibration, ctx: dict[str, Any]) -> float:
    """The first-fit cost, for the first step that trains in this process; 0 afterwards."""
    if ctx.get("fit_warmed"):
        return 0.0
    ctx["fit_warmed"] = True
    return cal.values.get(_FIRST_FIT, 0.0)


def _est_eval(cal: _Calibration, *, sizes, members, n, train="direct", activation="relu") -> float:
    """Seconds of one ``accuracy`` evaluation of every member on ``n`` examples (best of 2)."""
    desc = {"what": "evaluation", "sizes": list(sizes), "members": members, "n": n, "train": train,
            "activation": activation}

    def measure() -> float:
        from spectral_physics import SpectralMLP

        net = SpectralMLP(list(sizes), train=train, activation=activation, seed=list(range(members)) if members else 0)
        x, y = cal.data(n, sizes[0], sizes[-1])
        if members:
            x, y = np.broadcast_to(x, (members, *x.shape)), np.broadcast_to(y, (members, *y.shape))
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            net.accuracy(x, y)
            best = min(best, time.perf_counter() - t0)
        return best

    return cal.get(desc, measure)


def _est_prune_eval(cal: _Calibration, *, sizes, train, activation, init, n, ranking) -> float:
    """Seconds of one pruning evaluation (rank, remove half the hidden nodes, rebuild, evaluate on ``n``)."""
    desc = {"what": "pruning evaluation", "sizes": list(sizes), "train": train, "activation": activation,
            "init": init, "n": n, "ranking": ranking}

    def measure() -> float:
        from spectral_physics import SpectralMLP
        from spectral_physics.pruning import node_scores, prune_nodes, select_nodes

        net = SpectralMLP(list(sizes), train=train, activation=activation, init=init, seed=0)
        x, y = cal.data(n, sizes[0], sizes[-1])
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            scores = node_scores(net, ranking, x=x if ranking == "activation" else None, seed=0)
            rem = select_nodes(scores, 0.5)  # the mean kept size over fractions 0..1
            prune_nodes(net, remove=rem).accuracy(x, y)
            best = min(best, time.perf_counter() - t0)
        return best

    return cal.get(desc, measure)


def _est_ntt_unit(cal: _Calibration, *, sizes, kind, scope, density, n_train) -> tuple[float, float]:
    """``(seconds per NTT step, fixed seconds per transfer)`` from one short transfer.

    The step is the median time between steps after ``cal.warm`` of them (a clock callback,
    as for training steps); the fixed part is the rest of the transfer (the split of the
    data, the first masks and validations). A difference of two totals, used before, put
    the noise of the fixed part (a 60 000-image copy) into a handful of steps and read an
    NTT step as 0 s on a busy machine.
    """
    desc = {"what": "ntt", "sizes": list(sizes), "kind": kind, "scope": scope,
            "density": density if kind == "sparse" else None, "n_train": n_train, "timing": "step clock"}
    per: dict[str, float] = {}

    def measure_step() -> float:
        from spectral_physics.ntt import make_teacher, neural_tangent_transfer

        teacher = make_teacher(list(sizes), seed=0)
        x, _ = cal.data(n_train, sizes[0], sizes[-1], normal=True)
        steps = cal.warm + max(cal.steps, 4)
        clock = _StepClock()
        t0 = time.perf_counter()
        neural_tangent_transfer(teacher, x, density, steps=steps, kind=kind, scope=scope, seed=0, progress=False,
                                callbacks=[clock.callback])
        total = time.perf_counter() - t0
        step = clock.per_step(cal.warm)
        per["fixed"] = max(total - steps * step, 0.0)
        return step

    def measure_fixed() -> float:
        if not per:  # the step came from a given calibration, the fixed part did not
            measure_step()
        return per["fixed"]

    step = cal.get({**desc, "part": "step"}, measure_step)
    fixed = cal.get({**desc, "part": "fixed"}, measure_fixed)
    return step, fixed


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _est_call(cal: _Calibration, desc: Mapping[str, Any], fn: Callable[[], Any], calls: int = 1,
              warm: bool = True) -> float:
    """Seconds of ``calls`` calls of ``fn`` (an analysis on an untrained network of the right shape).

    With ``warm`` ``fn`` runs once untimed first: its lazy imports and compilation are paid
    by the steps before it in a real run.
    """
    def timed() -> float:
        if warm:
            fn()
        return _timed(fn)

    return calls * cal.get(dict(desc), timed)


def _est_data_load(cal: _Calibration, name: str) -> float:
    """Seconds of the first load of a data set in a process (0 where it is not on disk)."""

    def measure() -> float:
        from spectral_physics.datasets import clear_cache, load_dataset

        clear_cache()
        t0 = time.perf_counter()
        try:
            load_dataset(name, root=cal.data_root)
        except Exception:  # noqa: BLE001 - not on disk: reproduce would fetch or fail; counted as 0
            return 0.0
        return time.perf_counter() - t0

    return cal.get({"what": "data load", "name": name}, measure)


def _est_pool_probe() -> tuple[float, float, float]:
    """A fixed training workload, run alone and in each pool worker.

    Returns ``(wall clock at its start, seconds of its warm-up fit, seconds of its 100 steps)``;
    in a fresh worker the warm-up loads the compiled kernels, as a worker's first point does.
    The timed part lasts about half a second, long against the timer and a process's noise.
    """
    start = time.time()
    from spectral_physics import SpectralMLP, fit

    rng = np.random.default_rng(0)
    x, y = rng.random((4000, 784), dtype=np.float32), rng.integers(0, 10, size=4000)
    net = SpectralMLP([784, 64, 10], train="spectral", seed=[0, 1, 2])
    t0 = time.perf_counter()
    fit(net, (x, y), epochs=1, max_steps=2, progress=False)  # warm-up: compiled kernels, allocations
    t1 = time.perf_counter()
    fit(net, (x, y), epochs=5, progress=False)  # 100 steps
    return start, t1 - t0, time.perf_counter() - t1


def _est_pool(cal: _Calibration, workers: int) -> tuple[float, float]:
    """``(start-up seconds, slowdown)`` of a local pool of ``workers`` processes.

    The pool is started as a sweep starts it and every worker runs :func:`_est_pool_probe`
    at once: the start-up is the time until the last worker began (spawn and imports) plus
    the longest first fit (compiled kernels loaded). The slowdown comes from five more
    rounds on the warm workers, each started together, so that one worker's imports do not
    overlap another's timed steps, each paired with a run of the same workload alone here
    just before it: the median over rounds of (round's mean duration / its run alone)
    (>= 1 where the workers share cores, memory bandwidth or a machine busy with other jobs).
    Pairing in time matters on a shared host, whose speed drifts over seconds: ratios
    against three runs alone at the start read 1.4 and 1.75 on 2026-12-02 where the
    workers slowed each other by 1.0-1.2.
    """
    desc = {"what": "pool", "workers": int(workers)}
    out: dict[str, float] = {}

    def measure_start() -> float:
        from .sweep.execute import make_executor

        _est_pool_probe()  # this process's warm-up, as the workers' first probe is theirs
        t0 = time.time()
        ex, close = make_executor(workers=int(workers), device="cpu")
        try:
            res = [f.result() for f in [ex.submit(_est_pool_probe) for _ in range(int(workers))]]
            ratios = []
            for _ in range(5):
                alone = _est_pool_probe()[2]
                pooled = [f.result()[2] for f in [ex.submit(_est_pool_probe) for _ in range(int(workers))]]
                ratios.append(float(np.mean(pooled)) / alone)
        finally:
            close()
        # the median ratio: one round still varies by a few tens of per cent
        out["slowdown"] = max(float(np.median(ratios)), 1.0)
        return max(st for st, _, _ in res) - t0 + max(w for _, w, _ in res)

    start = cal.get({**desc, "part": "start"}, measure_start)
    slow = cal.get({**desc, "part": "slowdown"}, lambda: out.get("slowdown", 1.0))
    return start, slow


def _est_figure(cal: _Calibration, first: bool) -> float:
    """Seconds to draw and save one paper figure (PDF, 300 dpi PNG, provenance JSON).

    Measured on a real one: the transfer-operator figure, drawn twice from its Dataset
    (made here for a 6-5-4-3 network, in a temporary folder); the first drawing also pays
    the imports of matplotlib and the figure code, as the first figure of a run does.
    """

    def measure() -> float:
        import tempfile

        from spectral_physics.figures import draw

        from .reproduce import _step_transfer_operator

        times = []
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "transfer_operator.nc"
            _step_transfer_operator({"schedule": {"transfer": {"sizes": [6, 5, 4, 3], "epochs": 1}}}, path)
            for _ in range(2):
                t0 = time.perf_counter()
                draw("transfer_operator", {"transfer_operator": path}, tmp)
                times.append(time.perf_counter() - t0)
        cal.values[to_json({"what": "figure", "first": False})] = times[1]
        return times[0]

    first_s = cal.get({"what": "figure", "first": True}, measure)
    return first_s if first else cal.get({"what": "figure", "first": False}, measure)


def _makespan(durations: list[float], workers: int) -> float:
    """Wall time of ``durations`` on a pool of ``workers``, taken in order by the first free worker.

    That is how :func:`~spectral_physics.analysis.sweep.execute.run_tasks` feeds a pool: the
    grid points in order, a new one to whichever worker finishes first.
    """
    loads = [0.0] * max(1, workers)
    for d in durations:
        i = loads.index(min(loads))
        loads[i] += d
    return max(loads)


def _pooled(cal: _Calibration, ctx: dict[str, Any], runs_s: Mapping[str, float], names: Iterable[str],
            store: Any = None) -> tuple[float, dict[str, Any]]:
    """Wall time of runs (key to seconds, in task order), executed as ``run_tasks`` executes them.

    With one worker they run in this process, one after the other, and a data set is loaded
    once per process (``ctx["loaded"]``). With a pool of ``min(workers, runs)`` processes
    each worker starts, loads its data once, and takes the next run when free
    (:func:`_makespan`), every run slowed by the pool's measured slowdown. Runs already in
    ``store`` (a :class:`~spectral_physics.analysis.sweep.store.RunStore` under the work
    folder) are skipped by a resumed run: the wall time of the others is ``remaining_seconds``.

    Returns ``(seconds, parts)``, ``parts`` holding ``fixed`` (start-up and loads),
    ``workers``, ``pool_slowdown``, ``runs_done`` and ``remaining_seconds``.
    """
    names = sorted(set(names))
    loaded = set(ctx["loaded"])
    done = set(store.finished()) if store is not None else set()

    def wall(seconds: list[float]) -> tuple[float, float, int, float]:
        n_pool = min(int(ctx["workers"]), len(seconds))
        if not seconds:
            return 0.0, 0.0, 1, 1.0
        if n_pool > 1:
            start, slow = _est_pool(cal, n_pool)
            fixed = start + sum(_est_data_load(cal, nm) for nm in names)  # the workers load in parallel
            return _makespan([t * slow for t in seconds], n_pool) + fixed, fixed, n_pool, slow
        fixed = sum(_est_data_load(cal, nm) for nm in names if nm not in loaded)
        return sum(seconds) + fixed, fixed, 1, 1.0

    total, fixed, n_pool, slow = wall(list(runs_s.values()))
    remaining = wall([t for k, t in runs_s.items() if k not in done])[0] if done else total
    if n_pool <= 1:
        ctx["loaded"].update(names)
    return total, {"fixed": fixed, "workers": n_pool, "pool_slowdown": slow, "runs_done": len(done & set(runs_s)),
                   "remaining_seconds": remaining}


def _store(ctx: dict[str, Any], step: str, config: Any) -> Any:
    """The run store experiment ``step`` keeps under the work folder (``None`` without one)."""
    return None if ctx.get("work") is None else config.store(ctx["work"] / STORE_DIRS[step])


def _est_presets_sweep(cal, sch, ctx):
    from .sweep import SweepSpec
    from .sweep.run import point_key, sweep_store

    spec = SweepSpec.from_dict(sch)
    points = spec.points()
    e = len(spec.seeds)
    members = e if e > 1 else None
    points_s, train_s, eval_s = [], 0.0, 0.0
    for p in points:
        q = p.params
        f, c, n, t = _est_shape(q["dataset"], q["subset"], spec.n_test, cal.data_root)
        sizes = [f, *q["hidden"], c]
        steps = q["epochs"] * -(-n // q["batch_size"])
        step = _est_train(cal, sizes=sizes, train=q["train"], activation=q["activation"], init=q["init"],
                          members=members, batch=q["batch_size"], n_train=n, n_classes=c,
                          optimizer=q["optimizer"], lr=q["lr"], sweep_sparsity=q["sparsity"],
                          shared=spec.shared_data_order and members is not None)
        ev = _est_eval(cal, sizes=sizes, members=members, n=t, train=q["train"], activation=q["activation"])
        train_s += steps * step
        eval_s += ev
        points_s.append(steps * step + ev)
    names = sorted({p.params["dataset"] for p in points})
    store = None if ctx.get("work") is None else sweep_store(spec, ctx["work"] / STORE_DIRS["presets_sweep"])
    total, pool = _pooled(cal, ctx, {point_key(p.index): t for p, t in zip(points, points_s)}, names, store)
    return len(points) * e, total, {"train": train_s, "evaluation": eval_s, **pool, "points": len(points)}


def _est_pruning(cal, sch, ctx):
    from .experiments.pruning import pruning_runs

    cfg = experiment_config("pruning", {"pruning": sch})
    n_fr = int(round(1 / cfg.fraction_step)) + 1
    e = len(cfg.seeds)
    members = e if e > 1 else None
    runs, train_s, eval_s, prune_s = 0, 0.0, 0.0, 0.0
    runs_s: list[float] = []  # one entry per task of pruning_runs, in its order
    for name in cfg.datasets:
        fe, c, n, t = _est_shape(name, cfg.n_train, cfg.n_test, cal.data_root)
        steps_per_epoch = -(-n // 200)
        for act in cfg.activations:
            for h in cfg.hidden:
                sizes = [fe, h, c]
                if "post" in cfg.protocols:
                    for train in sorted({tr for tr, _ in cfg.curves()}, key=["spectral", "direct"].index):
                        step = _est_train(cal, sizes=sizes, train=train, activation=act, init=cfg.init,
                                          members=members, n_train=n, n_classes=c, lr=cfg.lr)
                        tr_s = cfg.epochs * steps_per_epoch * step
                        ev_s = cfg.epochs * _est_eval(cal, sizes=sizes, members=members, n=t, train=train,
                                                      activation=act)
                        pr_s = sum(e * n_fr * _est_prune_eval(cal, sizes=sizes, train=train, activation=act,
                                                              init=cfg.init, n=t, ranking=ranking)
                                   for tr, ranking in cfg.curves() if tr == train)
                        train_s, eval_s, prune_s = train_s + tr_s, eval_s + ev_s, prune_s + pr_s
                        runs_s.append(tr_s + ev_s + pr_s)
                        runs += e
                if "filter" in cfg.protocols:  # one run per seed, each as long as the others
                    fs = len(cfg.filter_seeds)
                    step = _est_train(cal, sizes=sizes, train="eigen", activation=act, init=cfg.init,
                                      n_train=n, n_classes=c, lr=cfg.filter_lr)
                    ev = _est_eval(cal, sizes=sizes, members=None, n=t, train="eigen", activation=act)
                    tr_s = fs * cfg.filter_eigen_epochs * steps_per_epoch * step
                    ev_s = fs * cfg.filter_eigen_epochs * ev
                    runs += fs
                    for fr in cfg.filter_fractions:
                        kept = h - int(round(fr * h))
                        if kept < 1:
                            continue
                        small = [fe, kept, c]
                        k = fs * len(cfg.filter_rankings)
                        step = _est_train(cal, sizes=small, train="spectral", activation=act, init=cfg.init,
                                          n_train=n, n_classes=c, lr=cfg.filter_lr)
                        ev = _est_eval(cal, sizes=small, members=None, n=t, train="spectral", activation=act)
                        tr_s += k * cfg.filter_full_epochs * steps_per_epoch * step
                        ev_s += k * (cfg.filter_full_epochs + 2) * ev  # per epoch, before and after
                        runs += k
                    train_s, eval_s = train_s + tr_s, eval_s + ev_s
                    runs_s.extend([(tr_s + ev_s) / fs] * fs)
    keys = list(pruning_runs(cfg))
    if len(keys) != len(runs_s):  # one prediction per task, in pruning_runs' order
        raise RuntimeError(f"pruning estimate: {len(runs_s)} predictions for {len(keys)} tasks")
    store = _store(ctx, "pruning", cfg)
    total, pool = _pooled(cal, ctx, dict(zip(keys, runs_s)), cfg.datasets, store)
    return runs, total, {"train": train_s, "evaluation": eval_s, "pruning_evaluations": prune_s, **pool}


def _est_sparse(cal, sch, ctx):
    from .experiments.sparse import sparse_runs

    cfg = experiment_config("sparse", {"sparse": sch})
    e = len(cfg.seeds)
    members = e if e > 1 else None
    fe, c, n, t = _est_shape(cfg.dataset, cfg.n_train, None, cal.data_root)
    sizes = list(cfg.sizes)
    steps = cfg.epochs * -(-n // cfg.batch_size)
    tasks = sparse_runs(cfg)
    train_s = ev = 0.0
    runs_s: list[float] = []
    for task in tasks.values():
        mode = None if task["mode"] == "dense" else task["mode"]
        step = _est_train(cal, sizes=sizes, train=task["train"], activation=cfg.activation, init=cfg.init,
                          members=members, batch=cfg.batch_size, n_train=n, n_classes=c, lr=cfg.lr,
                          sparse_mode=mode, density=task["density"], every=cfg.every)
        one_ev = cfg.epochs * _est_eval(cal, sizes=sizes, members=members, n=t, train=task["train"],
                                        activation=cfg.activation)
        train_s, ev = train_s + steps * step, ev + one_ev
        runs_s.append(steps * step + one_ev)
    store = _store(ctx, "sparse", cfg)
    total, pool = _pooled(cal, ctx, dict(zip(tasks, runs_s)), [cfg.dataset], store)
    return len(tasks) * e, total, {"train": train_s, "evaluation": ev, **pool}


def _est_ntt_step(cal, sch, ctx):
    from spectral_physics.ntt import NTT_DEFAULTS

    from .experiments.ntt import ntt_runs

    cfg = experiment_config("ntt", {"ntt": sch})
    sizes = list(cfg.sizes)
    batch = NTT_DEFAULTS["batch_size"]
    tasks = ntt_runs(cfg)
    ntt_s = train_s = eval_s = 0.0
    runs_s: list[float] = []
    for task in tasks.values():
        fe, c, n, t = _est_shape(task["dataset"], cfg.n_train, cfg.n_test, cal.data_root)
        one_ntt = 0.0
        if task["wiring"] in ("ntt", "ntt-global"):
            step, fixed = _est_ntt_unit(cal, sizes=sizes, kind=cfg.kind,
                                        scope="global" if task["wiring"] == "ntt-global" else "layer",
                                        density=task["density"], n_train=n)
            one_ntt = fixed + cfg.ntt_steps * step
        # a sparse static mask multiplies by its kept weights only: the cost falls with the density
        masked = None if task["wiring"] == "dense" else float(task["density"])
        step = _est_train(cal, sizes=sizes, train="direct", activation="relu", batch=64, n_train=n,
                          n_classes=c, lr=1e-3, mask_density=masked)
        one_train = cfg.epochs * -(-n // 64) * step
        one_eval = (cfg.epochs + 1) * _est_eval(cal, sizes=sizes, members=None, n=t)
        ntt_s, train_s, eval_s = ntt_s + one_ntt, train_s + one_train, eval_s + one_eval
        runs_s.append(one_ntt + one_train + one_eval)
    store = _store(ctx, "ntt", cfg)
    total, pool = _pooled(cal, ctx, dict(zip(tasks, runs_s)), cfg.datasets, store)
    return len(tasks), total, {"ntt": ntt_s, "train": train_s, "evaluation": eval_s, **pool,
                               "ntt_steps_each": cfg.ntt_steps, "batch": batch}



def _eigen_sizes(cal, sch):
    f, c, n, t = _est_shape(sch["dataset"], sch["subset"], sch["n_test"], cal.data_root)
    return [f, *sch["sizes_hidden"], c], n, t


def _est_eigen_training(cal, sch, ctx, init):
    sizes, n, t = _eigen_sizes(cal, sch)
    e = len(sch["seeds"])
    step = _est_train(cal, sizes=sizes, train=sch["train"], activation=sch["activation"], init=init, members=e,
                      n_train=n, n_classes=sizes[-1], lr=sch["lr"])
    train_s = sch["epochs"] * -(-n // 200) * step
    eval_s = sch["epochs"] * _est_eval(cal, sizes=sizes, members=e, n=t, train=sch["train"],
                                       activation=sch["activation"])
    fixed = 0.0 if sch["dataset"] in ctx["loaded"] else _est_data_load(cal, sch["dataset"])
    ctx["loaded"].add(sch["dataset"])
    return e, train_s, eval_s, fixed


def _est_eigen_net(cal, sch, ctx):
    e, train_s, eval_s, fixed = _est_eigen_training(cal, sch["eigen_net"], ctx, sch["eigen_net"]["init"])
    return e, train_s + eval_s + fixed, {"train": train_s, "evaluation": eval_s, "fixed": fixed}


def _member(sch):
    from spectral_physics import SpectralMLP

    return lambda sizes: SpectralMLP(sizes, train=sch["train"], activation=sch["activation"], init=sch["init"],
                                     seed=0)


def _est_eigenstats(cal, sch, ctx):
    from .eigenstats import eigenstats_ensemble

    es = sch["eigen_net"]
    sizes, _, _ = _eigen_sizes(cal, es)
    e = len(es["seeds"])
    total = _est_call(cal, {"what": "eigenstats", "sizes": sizes, "train": es["train"], "init": es["init"]},
                      lambda: eigenstats_ensemble([_member(es)(sizes)]), calls=e)
    return e, total, {"analysis": total}


def _est_relevance(cal, sch, ctx):
    from .nodes import input_relevance

    es = dict(sch["eigen_net"], init="default")
    e, train_s, eval_s, fixed = _est_eigen_training(cal, es, ctx, "default")
    sizes, _, _ = _eigen_sizes(cal, es)
    shape = _EST_IMAGES.get(es["dataset"])
    maps = _est_call(cal, {"what": "input_relevance", "sizes": sizes},
                     lambda: input_relevance(_member(es)(sizes), shape), calls=e)
    return e, train_s + eval_s + fixed + maps, {"train": train_s, "evaluation": eval_s, "fixed": fixed,
                                                "analysis": maps}


def _est_homeostasis(cal, sch, ctx):
    from .homeostasis import homeostasis

    es = sch["eigen_net"]
    sizes, _, t = _eigen_sizes(cal, es)
    big = min(int(sch["analysis_samples"]), t)

    def run(n: int):
        x, y = cal.data(n, sizes[0], sizes[-1])
        homeostasis(_member(es)(sizes), x, y, n_permutations=2000, seed=0)

    desc = {"what": "homeostasis", "sizes": sizes, "train": es["train"], "init": es["init"],
            "activation": es["activation"], "n": big}
    e = len(es["seeds"])
    # warmed on a few samples, then timed once at the schedule's size (its parts do not all
    # scale with the samples, so it is not extrapolated from fewer)
    one = cal.get(desc, lambda: (run(min(big, 50)), _timed(lambda: run(big)))[1])
    total = e * one
    return e, total, {"analysis": total, "samples": big}


def _est_transfer_operator(cal, sch, ctx):
    from spectral_physics.datasets import teacher_student

    tr = sch["transfer"]
    sizes = list(tr["sizes"])
    gen = _est_call(cal, {"what": "teacher_student", "sizes": sizes},
                    lambda: teacher_student(n_features=sizes[0], n_classes=sizes[-1], seed=0), warm=False)
    n, t = 10000, 2000  # teacher_student's defaults
    step = _est_train(cal, sizes=sizes, train="spectral", activation="tanh", init="paper", batch=50, n_train=n,
                      n_classes=sizes[-1], lr=1e-2)
    ev = _est_eval(cal, sizes=sizes, members=None, n=t, train="spectral", activation="tanh")

    def symbolic():  # its import (SymPy) included: this step is the only one that needs it
        from spectral_physics.symbolic import TransferOperator, latex

        op = TransferOperator(2, 2, preset="spectral")
        [[latex(op.A[i, j]) for j in range(op.A.shape[1])] for i in range(op.A.shape[0])]

    sym = _est_call(cal, {"what": "symbolic transfer operator"}, symbolic, warm=False)
    train_s = tr["epochs"] * -(-n // 50) * step
    return 1, gen + train_s + tr["epochs"] * ev + sym, {"train": train_s, "evaluation": tr["epochs"] * ev,
                                                        "fixed": gen + sym}


_ESTIMATORS: dict[str, Callable[..., tuple[int, float, dict[str, Any]]]] = {
    "presets_sweep": lambda cal, sch, ctx: _est_presets_sweep(cal, sch["presets_sweep"], ctx),
    "pruning": lambda cal, sch, ctx: _est_pruning(cal, sch["pruning"], ctx),
    "sparse": lambda cal, sch, ctx: _est_sparse(cal, sch["sparse"], ctx),
    "ntt": lambda cal, sch, ctx: _est_ntt_step(cal, sch["ntt"], ctx),
    "eigen_net": _est_eigen_net,
    "eigenstats": _est_eigenstats,
    "relevance": _est_relevance,
    "homeostasis": _est_homeostasis,
    "transfer_operator": _est_transfer_operator,
}


def estimate(*, quick: bool = False, only: Iterable[str] | None = None, out: str | os.PathLike | None = None,
             workers: int | None = None, data_root: str | os.PathLike | None = None,
             schedule: Mapping[str, Any] | None = None, calibration: Mapping[str, float] | None = None,
             blas_threads: int | None = None, warm_steps: int = 2, steps: int = 6,
             progress: bool = False) -> dict[str, Any]:
    """Predict the wall time of every step of a schedule from a short calibration; trains nothing of it.

    Each data step is broken into units whose cost is measured here, on this machine,
    under the BLAS threads and device :func:`reproduce` would use: a training step of every
    distinct network configuration (sizes, preset, activation, ensemble size, batch,
    sparsity, shared order; ``steps`` steps after ``warm_steps``, on synthetic data of the
    schedule's size), one test evaluation per shape, one pruning evaluation per ranking,
    NTT steps (two short transfers of two lengths), the analyses on one untrained member
    of the right shape (homeostasis at the schedule's sample count), a data-set load, the
    first fit of a process (compiled kernels loaded), a pool's start-up and slowdown (a
    probe run alone and in every worker at once) and one real figure. The prediction
    multiplies each by the count the schedule needs (steps per epoch times epochs,
    evaluations per epoch, fractions times rankings times seeds, ...). The presets sweep
    and the sparse, pruning and NTT experiments are spread over the worker pool as
    :func:`reproduce` runs them (runs in task order, each to the first free worker); the
    eigenvalue steps run in this process. Runs already in a step's run store under
    ``out`` are left out of its ``remaining_seconds`` (a resumed run skips them).

    Parameters
    ----------
    quick, only, workers, data_root, schedule, blas_threads
        As :func:`reproduce` (the calibration runs under the same BLAS threads).
    out : path, optional
        The folder :func:`reproduce` would write; steps whose Dataset is already in the
        schedule's work folder (:func:`work_dir`) are marked ``exists`` (reproduce would
        skip them), and the table is written to ``out/estimate-<label>.json``.
    calibration : mapping, optional
        Unit costs of an earlier estimate (its ``calibration``); only what is missing is
        measured. The prediction is then exactly affine in the schedule's counts.
    warm_steps, steps : int
        Training steps run before timing, and timed, per configuration.
    progress : bool
        Print each step's prediction as it is made (stderr).

    Returns
    -------
    dict
        ``label``; ``steps``: per step ``{"name", "runs", "seconds", "status", "parts"}``
        (``runs``: networks trained or analysed, 1 per figure; ``parts``: seconds of
        training, evaluation, pruning evaluations, NTT, analyses and fixed costs);
        ``seconds`` (total), ``remaining_seconds`` (steps not on disk, less their runs
        already stored), ``calibration_seconds``,
        ``calibration`` (the unit costs), ``workers``, ``blas_threads``, ``machine``.
    """
    from threadpoolctl import threadpool_info

    from .sweep.execute import default_workers

    threads = DEFAULT_BLAS_THREADS if blas_threads is None else int(blas_threads)
    if threads < 1:
        raise ValueError(f"blas_threads must be a positive integer, got {blas_threads!r}")
    sch = schedule_of(quick, schedule)
    label = schedule_label(quick, schedule)
    data_dir = None if out is None else work_dir(out, label) / "data"
    device = (sch.get("presets_sweep") or {}).get("device")
    n_workers = int(workers) if workers is not None else default_workers(device)
    cal = _Calibration(calibration, warm_steps, steps, str(data_root) if data_root else None)
    ctx: dict[str, Any] = {"workers": n_workers, "loaded": set(), "work": None if data_dir is None else data_dir.parent}
    t_all = time.perf_counter()
    rows: list[dict[str, Any]] = []
    n_fig = 0
    with _blas_limits(threads):
        blas = max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=None)
        for step in plan(only):
            if step.kind == "data":
                exists = data_dir is not None and (data_dir / step.output).exists()
                # reproduce skips an existing step, so the data loads and the first fit it
                # would have paid fall to the next step that runs in this process
                before = (set(ctx["loaded"]), ctx.get("fit_warmed"))
                runs, seconds, parts = _ESTIMATORS[step.name](cal, sch, ctx)
                if "train" in parts and parts.get("workers", 1) <= 1:  # trains in this process
                    once = _est_first_fit(cal, ctx)
                    parts["fixed"] = parts.get("fixed", 0.0) + once
                    seconds += once
                    if parts.get("remaining_seconds"):
                        parts["remaining_seconds"] += once
                if exists:
                    ctx["loaded"], ctx["fit_warmed"] = before
            else:
                seconds = _est_figure(cal, first=n_fig == 0)
                runs, parts = 1, {"figure": seconds}
                exists = out is not None and (Path(out) / f"{step.output}.pdf").exists()
                n_fig += 1
            rows.append({"name": step.name, "runs": int(runs), "seconds": float(seconds),
                         "status": "exists" if exists else "missing",
                         "parts": {k: (float(v) if isinstance(v, float) else v) for k, v in parts.items()}})
            if progress:
                print(f"estimate: {step.name} {seconds:.1f} s", file=sys.stderr, flush=True)
    report: dict[str, Any] = {
        "label": label, "steps": rows, "seconds": float(sum(r["seconds"] for r in rows)),
        "remaining_seconds": float(sum(r["parts"].get("remaining_seconds", r["seconds"]) for r in rows
                                       if r["status"] == "missing")),
        "calibration_seconds": round(time.perf_counter() - t_all, 2), "workers": n_workers,
        "blas_threads": blas, "machine": {"cpus": os.cpu_count(), "load_average": list(os.getloadavg())},
        "calibration": dict(cal.values),
    }
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        report["json"] = str(Path(out) / f"estimate-{label}.json")
        write_text_atomic(Path(report["json"]), json.dumps(report, indent=1) + "\n")
    return report
