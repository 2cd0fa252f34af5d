"""The reproduction plan: every Dataset behind the paper figures, and the figures themselves.

One idea: the plan and the two ways of walking it. :func:`reproduce` computes every
missing Dataset of the plan and draws the figures; :func:`redraw` (``reproduce --from``)
draws them from the Datasets an earlier run left, computing nothing. Both end with the
claims table of :mod:`spectral_physics.analysis.claims`.

:func:`reproduce` walks a fixed plan. Each schedule works in its own folder,
``<work> = <out>/quick/`` or ``<out>/full/`` (:func:`work_dir`; ``<out>`` itself for a
schedule passed in), so one ``--out`` holds a quick and a full run side by side. Each *data step* writes one file to
``<work>/data/`` (netCDF; the trained network of the eigenvalue analyses as ``.npz``) and
is skipped when that file exists, so an interrupted run resumes. The grids are the
library's experiments (:mod:`spectral_physics.analysis.sweep` for the preset x
hidden-size sweep, :mod:`spectral_physics.analysis.experiments` for sparse training, NTT
and node pruning); each keeps one file per finished run in a run store under
``<work>/sweeps/`` or ``<work>/parts/``, so an interrupted grid resumes run by run. The
eigenvalue analyses call the library functions directly. Each *figure step* draws one
figure of the registry :data:`spectral_physics.figures.FIGURES` (PDF, PNG and provenance
JSON to ``<out>/``: the figures of the last run, whose provenance names the Datasets
they were drawn from). ``<work>/data/schedule.json`` records the schedule and
``<work>/data/steps.json`` each computed step's wall time, revision and stored runs; a
work folder written by another version of the same schedule is refused. An ``<out>``
laid out before the per-schedule folders (``<out>/data/schedule.json``) is read as it is.

Before any step runs, every data set the missing Datasets need is looked for (and
downloaded where the machine is online), so a missing data set is an error at once,
not after the sweep. While it runs, ``reproduce`` holds every process it starts to
``blas_threads`` BLAS threads (default 1; ``--blas-threads``): threadpoolctl in this
process, ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS`` for local
worker processes, and every sweep point and experiment run limits itself wherever it
executes (a Dask worker too).

Two schedules: :data:`QUICK` (minutes on two CPU cores: data subsets, one or two epochs,
a few seeds; qualitative results only) and :data:`FULL` (paper-scale: whole data sets,
paper epochs and seeds; hours to days on a CPU).

Example
-------
>>> from spectral_physics.analysis.reproduce import plan
>>> [s.name for s in plan(only=["phase_diagram"])]
['presets_sweep', 'fig:phase_diagram']
>>> import tempfile
>>> summary = reproduce(quick=True, only=["transfer_operator"], out=tempfile.mkdtemp(), progress=False)
>>> [(s["name"], s["status"]) for s in summary["steps"]]
[('transfer_operator', 'computed'), ('fig:transfer_operator', 'drawn')]
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from spectral_physics.figures import FIGURES

from spectral_physics.atomic import write_text_atomic
from spectral_physics.provenance import git_revision

from ._xr import cf, provenance_attrs, to_json, write_netcdf
from .claims import write_claims

__all__ = [
    "QUICK",
    "FULL",
    "FIGURES",
    "Step",
    "DEFAULT_BLAS_THREADS",
    "STORE_DIRS",
    "stored_runs",
    "experiment_config",
    "plan",
    "redraw",
    "reproduce",
    "schedule_label",
    "schedule_of",
    "work_dir",
]


# --------------------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------------------

#: minutes on two CPU cores: subsets, 1-2 epochs, 2-3 seeds (qualitative results)
QUICK: dict[str, Any] = {
    "presets_sweep": {
        "name": "presets-quick", "dataset": "mnist", "subset": 5000, "n_test": 2000, "data_seed": 0,
        "epochs": 2, "seeds": [0, 1, 2], "threshold": 0.99,
        "axes": {"train": ["direct", "eigen-out", "eigen", "svd", "spectral"], "hidden": [16, 64, 256]},
        "fixed": {"activation": "relu", "optimizer": "adam", "lr": 0.01, "batch_size": 200, "init": "default"},
    },
    "pruning": {
        "datasets": ["mnist", "fashion-mnist"], "subset": 5000, "n_test": 2000, "hidden": 128,
        "activation": "tanh", "init": "paper", "seeds": [0, 1, 2], "epochs": 2, "lr": 1e-2, "fraction_step": 0.1,
        "filter": {"seeds": [0, 1], "eigen_epochs": 2, "full_epochs": 1, "lr": 1e-2,
                   "fractions": [0.0, 0.5, 0.8, 0.9], "rankings": ["eigenvalue", "random"]},
    },
    "sparse": {"sizes": [784, 128, 128, 10], "densities": [1.0, 0.5, 0.2, 0.1, 0.05, 0.02],
               "trains": ["direct", "spectral"], "modes": ["dynamic-percentile"], "seeds": [0, 1, 2], "epochs": 2,
               "n_train": 5000, "activation": "tanh"},
    "ntt": {"datasets": ["mnist"], "n_train": 3000, "n_test": 1000, "ntt_steps": 60, "epochs": 1,
            "seeds": [0, 1]},
    "eigen_net": {"dataset": "mnist", "subset": 10000, "n_test": 2000, "sizes_hidden": [256], "train": "eigen",
                  "activation": "tanh", "init": "paper", "seeds": [0, 1, 2], "epochs": 3, "lr": 1e-2},
    "analysis_samples": 2000,
    "transfer": {"sizes": [6, 5, 4, 3], "epochs": 2},
}

#: paper-scale schedules, set from the papers and the authors' code (Giambagli et al. 2021,
#: Chicchi et al. 2021, Buffoni et al. 2022, Liu and Zenke 2020): whole data sets, five seeds.
#: Every value, its source and every deviation: REPRODUCTION.md, "Paper protocols and the full
#: schedule"; the CPU hours of each step are estimated there too.
FULL: dict[str, Any] = {
    # Chicchi et al.'s compression code (Jamba15/Spectral_parameters_reduction): ReLU, Adamax 0.015,
    # batch 200, the authors' initialisers (init="paper"); one hidden layer over a wider size range
    "presets_sweep": {
        "name": "presets-full", "dataset": "mnist", "data_seed": 0, "epochs": 20, "seeds": [0, 1, 2, 3, 4],
        "threshold": 0.99,
        "axes": {"train": ["direct", "eigen-out", "eigen", "svd", "qr", "spectral"],
                 "hidden": [20, 43, 93, 200, 431, 928, 2000]},
        "fixed": {"activation": "relu", "optimizer": "adamax", "lr": 0.015, "batch_size": 200, "init": "paper"},
    },
    # Buffoni et al. (Sci. Rep. 2022, Fig. 3: N_2 = 500, 5 realisations) and their code
    # (Buffoni/spectral_learning parallel_train.py, Funzioni.py): tanh, ReLU, ELU; Adam 1e-3, batch 200,
    # 100 epochs; removal in steps of 5 %; the filter retrains the survivors 20 epochs
    "pruning": {
        "datasets": ["mnist", "fashion-mnist"], "subset": None, "n_test": None, "hidden": 500,
        "activations": ["tanh", "relu", "elu"], "init": "paper", "seeds": [0, 1, 2, 3, 4], "epochs": 100,
        "lr": 1e-3, "fraction_step": 0.05,
        "post_curves": ["spectral:eigenvalue", "spectral:eigenvalue-in", "spectral:connectivity",
                        "spectral:outgoing", "spectral:activation", "spectral:random",
                        "direct:connectivity", "direct:outgoing", "direct:activation", "direct:random"],
        "filter": {"seeds": [0, 1, 2, 3, 4], "eigen_epochs": 100, "full_epochs": 20, "lr": 1e-3,
                   "fractions": [round(0.05 * i, 2) for i in range(20)], "rankings": ["eigenvalue", "random"]},
    },
    # Chicchi et al.'s sparse code (sparse_learning_test.ipynb, sparse_functions.py, Layers.py):
    # 784-500-500-10 tanh, percentiles 50-98 redrawn at every pass, Adam 5e-3 on MNIST, batch 200;
    # their spectral network is the QR one (lam_in = 1, lam_out = 0 at the start: init="default")
    "sparse": {"sizes": [784, 500, 500, 10], "densities": [1.0, 0.5, 0.3, 0.2, 0.15, 0.1, 0.05, 0.02],
               "trains": ["direct", "spectral", "qr"], "modes": ["dynamic-percentile"], "seeds": [0, 1, 2, 3, 4],
               "epochs": 20, "lr": 5e-3, "batch_size": 200, "init": "default", "activation": "tanh"},
    # the reference NTT code (fmi-basel/neural-tangent-transfer, ntt_demo_mlp.ipynb): LeNet-300-100,
    # NTT 20 epochs of batch 64 (18 720 steps), supervised 50 epochs, 5 runs; the global-threshold
    # wirings are where NTT's advantage showed here (REPRODUCTION.md)
    "ntt": {"datasets": ["mnist", "fashion-mnist"], "seeds": [0, 1, 2, 3, 4], "ntt_steps": 18720, "epochs": 50,
            "densities": [0.1, 0.05, 0.03, 0.02, 0.01], "snip_batch": 100,
            "wirings": ["ntt", "ntt-global", "random", "scaled-random", "magnitude", "global-magnitude", "snip",
                        "logit-snip", "dense"]},
    "eigen_net": {"dataset": "mnist", "subset": None, "n_test": None, "sizes_hidden": [500], "train": "eigen",
                  "activation": "tanh", "init": "paper", "seeds": [0, 1, 2, 3, 4], "epochs": 20, "lr": 1e-3},
    "analysis_samples": 10000,
    "transfer": {"sizes": [6, 5, 4, 3], "epochs": 5},
}


# --------------------------------------------------------------------------------------
# Plan
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One item of the plan.

    ``kind`` is ``"data"`` (writes ``output``, a netCDF file under ``<out>/data``) or
    ``"figure"`` (draws the figure ``output`` of :data:`spectral_physics.figures.FIGURES`);
    ``needs`` names the data steps it reads.
    """

    name: str
    kind: str
    output: str
    needs: tuple[str, ...] = ()
    grid: bool = False


_DATA_STEPS: dict[str, Step] = {s.name: s for s in [
    Step("presets_sweep", "data", "presets_sweep.nc", grid=True),
    Step("pruning", "data", "pruning.nc"),
    Step("sparse", "data", "sparse.nc"),
    Step("ntt", "data", "ntt.nc"),
    Step("eigen_net", "data", "eigen_net.npz"),
    Step("eigenstats", "data", "eigenstats.nc", ("eigen_net",)),
    Step("relevance", "data", "relevance.nc"),
    Step("homeostasis", "data", "homeostasis.nc", ("eigen_net",)),
    Step("transfer_operator", "data", "transfer_operator.nc"),
]}



def _closure(names: Iterable[str]) -> list[str]:
    out: list[str] = []

    def add(n: str) -> None:
        for dep in _DATA_STEPS[n].needs:
            add(dep)
        if n not in out:
            out.append(n)

    for n in names:
        add(n)
    return out


def plan(only: Iterable[str] | None = None) -> list[Step]:
    """The ordered steps: data steps (dependencies first), then figures.

    Parameters
    ----------
    only : iterable of str, optional
        Figure names (:data:`FIGURES`) or data-step names; the plan keeps them and the data
        steps they need. Default: everything.
    """
    figs = list(FIGURES)
    data = list(_DATA_STEPS)
    if only is not None:
        only = list(only)
        bad = [n for n in only if n not in FIGURES and n not in _DATA_STEPS]
        if bad:
            raise ValueError(f"only: unknown names {bad}; figures: {sorted(FIGURES)}; data: {sorted(_DATA_STEPS)}")
        figs = [f for f in FIGURES if f in only]
        data = [n for n in only if n in _DATA_STEPS] + [d for f in figs for d in FIGURES[f].needs]
    needed = set(_closure(data))
    steps = [s for n, s in _DATA_STEPS.items() if n in needed]
    steps += [Step(f"fig:{f}", "figure", f, FIGURES[f].needs) for f in figs]
    return steps


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _data(name: str, subset: int | None, n_test: int | None, root: str | None):
    # the sweep's cached loader: one read of a data set per process, the same subset draw (seed 0)
    from .sweep.run import _load_data

    return _load_data(name, subset, 0, n_test, root)


# --------------------------------------------------------------------------------------
# Data steps
# --------------------------------------------------------------------------------------


def _pool(ctx: dict[str, Any]) -> dict[str, Any]:
    """Where an experiment's runs execute: the pool (or Dask scheduler) reproduce was given.

    Reproduce limits BLAS to ``blas_threads`` per process, so one run at a time in this
    process would leave the other cores idle; the experiments' workers share the runs. The
    thread limit travels with each run, so Dask workers started elsewhere keep it too.
    """
    return {"workers": ctx["workers"], "scheduler": ctx["scheduler"], "blas_threads": ctx.get("blas_threads")}


def _step_presets_sweep(ctx: dict[str, Any], path: Path) -> None:
    from .sweep import run_sweep

    spec = copy.deepcopy(ctx["schedule"]["presets_sweep"])
    if ctx["data_root"]:
        spec["data_root"] = str(ctx["data_root"])
    run_sweep(spec, ctx["out"] / STORE_DIRS["presets_sweep"], out=path, resume=True, **_pool(ctx),
              progress=ctx["inner_progress"])


#: experiment step -> its module under :mod:`.experiments` and the names of its two functions
_EXPERIMENTS = {
    "sparse": {"module": "sparse", "experiment": "sparse_vs_direct", "runs": "sparse_runs"},
    "pruning": {"module": "pruning", "experiment": "pruning_experiment", "runs": "pruning_runs"},
    "ntt": {"module": "ntt", "experiment": "ntt_comparison", "runs": "ntt_runs"},
}


def _experiment(step: str, role: str) -> Callable[..., Any]:
    """Experiment step ``step``'s ``"experiment"`` function or its ``"runs"`` (run key -> task).

    Looked up at call time, so a test that replaces the module's function is obeyed.
    """
    entry = _EXPERIMENTS[step]
    return getattr(importlib.import_module(f"{__package__}.experiments.{entry['module']}"), entry[role])


#: where each grid step keeps its run store, inside the work folder
STORE_DIRS = {"presets_sweep": "sweeps/presets", "pruning": "parts/pruning", "sparse": "parts/sparse",
              "ntt": "parts/ntt"}


def experiment_config(step: str, sch: Mapping[str, Any]):
    """The configuration of experiment step ``step`` (``sparse``, ``pruning``, ``ntt``) in schedule ``sch``.

    The pruning entry of a schedule is laid out for reading (``activations`` or one
    ``activation``, a ``filter`` block, optional ``post_curves``); the others are the
    configuration's fields.
    """
    from .experiments.ntt import NTTConfig
    from .experiments.pruning import PruningConfig
    from .experiments.sparse import SparseConfig

    part = sch[step]
    if step == "sparse":
        return SparseConfig.from_dict(part)
    if step == "ntt":
        return NTTConfig.from_dict(part)
    if step != "pruning":
        raise ValueError(f"not an experiment step: {step!r}")
    f = part["filter"]
    acts = part["activations"] if "activations" in part else [part["activation"]]
    extra = {"post_curves": part["post_curves"]} if "post_curves" in part else {}
    return PruningConfig(
        datasets=part["datasets"], activations=acts, hidden=[part["hidden"]], seeds=part["seeds"],
        epochs=part["epochs"], lr=part["lr"], init=part["init"], fraction_step=part["fraction_step"],
        filter_seeds=f["seeds"], filter_eigen_epochs=f["eigen_epochs"], filter_full_epochs=f["full_epochs"],
        filter_lr=f["lr"], filter_fractions=f["fractions"], filter_rankings=f["rankings"],
        n_train=part["subset"], n_test=part["n_test"], **extra)


def stored_runs(step: str, schedule: Mapping[str, Any], work: str | os.PathLike) -> tuple[int, int] | None:
    """How far a grid step's run store is: ``(runs stored, runs of the step)``.

    ``None`` for a step without a run store. ``work`` is the schedule's folder
    (:func:`work_dir`); a store of another configuration counts as empty, as a resumed run
    would find it. Runs stored under keys the schedule does not name are not counted.
    """
    if step not in STORE_DIRS:
        return None
    directory = Path(work) / STORE_DIRS[step]
    if step == "presets_sweep":
        from .sweep import SweepSpec
        from .sweep.run import point_key, sweep_store

        spec = SweepSpec.from_dict(schedule["presets_sweep"])
        store = sweep_store(spec, directory)
        keys = {point_key(p.index) for p in spec.points()}
    else:
        config = experiment_config(step, schedule)
        store = config.store(directory)
        keys = set(_experiment(step, "runs")(config))
    return len(keys & set(store.finished())), len(keys)


def _record_step(data_dir: Path, entry: dict[str, Any]) -> None:
    """Append one computed step to ``data/steps.json``, the wall-time ledger of a work folder.

    A grid step may take several invocations (interrupted, resumed): each one that finishes
    it says how long it ran and how many runs it found stored; the runs' own times stay in
    their run store.
    """
    path = data_dir / "steps.json"
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        entries = []
    write_text_atomic(path, json.dumps([*entries, entry], indent=1) + "\n")


def _step_experiment(step: str, ctx: dict[str, Any], path: Path) -> None:
    run = _experiment(step, "experiment")
    ds = run(experiment_config(step, ctx["schedule"]), ctx["out"] / STORE_DIRS[step], data_root=ctx["data_root"],
             progress=ctx["inner_progress"], **_pool(ctx))
    write_netcdf(ds, path)


def _step_pruning(ctx: dict[str, Any], path: Path) -> None:
    _step_experiment("pruning", ctx, path)


def _step_sparse(ctx: dict[str, Any], path: Path) -> None:
    _step_experiment("sparse", ctx, path)


def _step_ntt(ctx: dict[str, Any], path: Path) -> None:
    _step_experiment("ntt", ctx, path)


def _step_eigen_net(ctx: dict[str, Any], path: Path) -> None:
    from spectral_physics import SpectralMLP, fit, save_network

    sch = ctx["schedule"]["eigen_net"]
    data = _data(sch["dataset"], sch["subset"], sch["n_test"], ctx["data_root"])
    net = SpectralMLP([data.n_features, *sch["sizes_hidden"], data.n_classes], train=sch["train"],
                      activation=sch["activation"], seed=list(sch["seeds"]), init=sch["init"])
    hist = fit(net, data, epochs=sch["epochs"], lr=sch["lr"], batch_size=200, progress=ctx["inner_progress"])
    save_network(net, path, history=hist, metadata={"schedule": sch})


def _eigen_members(ctx):
    from spectral_physics import load_network

    net = load_network(ctx["out"] / "data" / "eigen_net.npz")
    members = [net.member(e) for e in range(net.ensemble_size)] if net.ensemble_size else [net]
    sch = ctx["schedule"]["eigen_net"]
    data = _data(sch["dataset"], sch["subset"], sch["n_test"], ctx["data_root"])
    n = ctx["schedule"]["analysis_samples"]
    return members, data, data.x_test[:n], data.y_test[:n]


def _step_eigenstats(ctx: dict[str, Any], path: Path) -> None:
    from .eigenstats import eigenstats_ensemble

    members, *_ = _eigen_members(ctx)
    write_netcdf(eigenstats_ensemble(members), path)


def _step_relevance(ctx: dict[str, Any], path: Path) -> None:
    from spectral_physics import SpectralMLP, fit

    from .nodes import input_relevance

    # lam_in starts at 1 for every pixel (init="default"), so the map is what training
    # made of it: pixels that never vary get no gradient and stay at exactly 1
    sch = dict(ctx["schedule"]["eigen_net"], init="default")
    data = _data(sch["dataset"], sch["subset"], sch["n_test"], ctx["data_root"])
    net = SpectralMLP([data.n_features, *sch["sizes_hidden"], data.n_classes], train=sch["train"],
                      activation=sch["activation"], seed=list(sch["seeds"]), init="default")
    fit(net, data, epochs=sch["epochs"], lr=sch["lr"], batch_size=200, progress=ctx["inner_progress"])
    members = [net.member(e) for e in range(net.ensemble_size)]
    maps = xr.concat([input_relevance(m, data.image_shape) for m in members], dim="seed")
    ds = xr.Dataset({"input_relevance": maps.assign_coords(seed=[int(m.seed) for m in members])})
    ds["pixel_std"] = cf(xr.DataArray(data.x_train.std(axis=0).reshape(maps.shape[1:]), dims=maps.dims[1:]),
                         "standard deviation of the pixel over the training images", "1")
    ds.attrs.update(provenance_attrs(analysis="input_relevance", schedule=sch))
    write_netcdf(ds, path)


def _step_homeostasis(ctx: dict[str, Any], path: Path) -> None:
    from .homeostasis import homeostasis

    members, _, x, y = _eigen_members(ctx)
    parts = [homeostasis(m, x, y, n_permutations=2000, seed=0) for m in members]
    ds = xr.concat(parts, dim="seed", data_vars="all", coords="minimal", compat="override",
                   combine_attrs="override")
    ds = ds.assign_coords(seed=[int(m.seed) for m in members])
    write_netcdf(ds, path)


def _step_transfer_operator(ctx: dict[str, Any], path: Path) -> None:
    from spectral_physics import SpectralMLP, fit
    from spectral_physics.datasets import teacher_student
    from spectral_physics.symbolic import TransferOperator, latex

    sch = ctx["schedule"]["transfer"]
    sizes = list(sch["sizes"])
    net = SpectralMLP(sizes, train="spectral", activation="tanh", seed=0, init="paper")
    data = teacher_student(n_features=sizes[0], n_classes=sizes[-1], seed=0)
    fit(net, data, epochs=sch["epochs"], lr=1e-2, batch_size=50, progress=False)
    A = np.asarray(net.network_operator(), dtype=np.float64)
    op = TransferOperator(2, 2, preset="spectral")
    sym = [[latex(op.A[i, j]) for j in range(op.A.shape[1])] for i in range(op.A.shape[0])]
    ds = xr.Dataset({"operator": cf(xr.DataArray(A, dims=("row", "col")),
                                    "network transfer operator A (block lower-bidiagonal)", "1")})
    ds.attrs.update(provenance_attrs(analysis="transfer_operator", sizes=sizes, schedule=sch))
    ds.attrs.update(group_sizes=to_json(sizes), symbolic_A=json.dumps(sym), symbolic_n_in=2,
                    symbolic_title="(b) one layer 2 -> 2, spectral preset",
                    symbolic_weight=r"w_{ij} = (\lambda^{\mathrm{in}}_j - \lambda^{\mathrm{out}}_i)\,\phi_{ij}")
    write_netcdf(ds, path)


_RUNNERS: dict[str, Callable[[dict[str, Any], Path], None]] = {
    "presets_sweep": _step_presets_sweep,
    "pruning": _step_pruning,
    "sparse": _step_sparse,
    "ntt": _step_ntt,
    "eigen_net": _step_eigen_net,
    "eigenstats": _step_eigenstats,
    "relevance": _step_relevance,
    "homeostasis": _step_homeostasis,
    "transfer_operator": _step_transfer_operator,
}


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------


#: BLAS threads of every process :func:`reproduce` runs, unless ``blas_threads=`` says otherwise
DEFAULT_BLAS_THREADS = 1



def schedule_of(quick: bool = False, schedule: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A private copy of the schedule to run: ``schedule`` if given, else :data:`QUICK` or :data:`FULL`."""
    return copy.deepcopy(dict(schedule) if schedule is not None else (QUICK if quick else FULL))


def schedule_label(quick: bool = False, schedule: Mapping[str, Any] | None = None) -> str:
    """The name of a schedule's folder under ``out``: ``"quick"``, ``"full"`` or ``"custom"``."""
    return "custom" if schedule is not None else ("quick" if quick else "full")


def work_dir(out: str | os.PathLike, label: str) -> Path:
    """The folder holding the Datasets (``data/``), sweep points and run stores of one schedule.

    ``<out>/quick/`` and ``<out>/full/``, so one ``out`` holds a quick and a full run side by
    side. A schedule passed as ``reproduce(schedule=...)`` (label ``custom``) works in
    ``<out>`` itself (``<out>/data``, ...), as every schedule did before. A folder written
    that way by a quick or full run is still read: when ``<out>/data/schedule.json`` names
    ``label`` (and ``<out>/<label>/`` does not exist), that schedule's folder is ``<out>``.
    """
    out = Path(out)
    if label == "custom":
        return out
    if not (out / label).exists() and _recorded_schedule(out / "data").get("label") == label:
        return out
    return out / label


def _fingerprint(sch: Mapping[str, Any]) -> str:
    """The fingerprint ``schedule.json`` records for a schedule."""
    import hashlib

    return hashlib.sha256(to_json(sch).encode()).hexdigest()[:16]


def _check_schedule(data_dir: Path, sch: Mapping[str, Any], label: str) -> None:
    """Refuse to mix Datasets of different schedules in one folder (they would be reused silently)."""
    fp = _fingerprint(sch)
    path = data_dir / "schedule.json"
    if path.exists():
        old = _recorded_schedule(data_dir)
        if old.get("fingerprint") != fp:
            raise ValueError(
                f"{data_dir} holds Datasets of another schedule ({old.get('label', 'unknown')} "
                f"{old.get('fingerprint')}; this {label} schedule is {fp}), which would be reused as they are; "
                f"delete {data_dir} to recompute them, or use another --out"
            )
        return
    write_text_atomic(path, json.dumps({"label": label, "fingerprint": fp, "schedule": sch}, indent=1,
                                       default=str) + "\n")


@contextlib.contextmanager
def _blas_limits(threads: int):
    """``threads`` BLAS threads here (threadpoolctl) and in every worker process started inside."""
    from threadpoolctl import threadpool_limits

    from .sweep.execute import worker_blas_threads

    with worker_blas_threads(threads, override=True), threadpool_limits(threads, user_api="blas"):
        yield


def reproduce(*, quick: bool = False, only: Iterable[str] | None = None, out: str | os.PathLike = "figures/out",
              workers: int | None = None, scheduler: str | None = None, data_root: str | os.PathLike | None = None,
              progress: bool | str = True, schedule: Mapping[str, Any] | None = None,
              blas_threads: int | None = None) -> dict[str, Any]:
    """Compute every missing Dataset of the plan and draw every figure.

    Parameters
    ----------
    quick : bool
        :data:`QUICK` schedule (default :data:`FULL`).
    only : iterable of str, optional
        Figure or data-step names (see :func:`plan`).
    out : path
        Figures go here (PDF, PNG, provenance JSON; those of the last run). Each schedule
        keeps its own work folder, :func:`work_dir`: ``out/quick/`` or ``out/full/``
        (``out`` itself for ``schedule=``), holding its Datasets (``data/``), sweep points
        (``sweeps/``) and run stores (``parts/``), so a quick and a full run share one
        ``out`` and neither recomputes nor overwrites the other's Datasets. A work folder
        made by another version of the same schedule is refused (its Datasets would be
        reused silently). An ``out`` written before this layout is read as it is.
    workers : int, optional
        Worker processes of the sweep and the experiments (default: all cores, or one
        per GPU); ``1`` runs everything in this process.
    scheduler : str, optional
        Dask scheduler address for the sweep and the experiments.
    data_root : path, optional
        Directory holding ``mnist/`` and ``fashion-mnist/``, searched first
        (:func:`spectral_physics.datasets.search_path`).
    progress : bool or str
        A report over the plan and inside the long steps (see
        :mod:`spectral_physics.progress`: a bar on a terminal, lines in a log).
    schedule : mapping, optional
        Override the schedule (tests).
    blas_threads : int, optional
        BLAS threads of this process (threadpoolctl) and of every local worker process it
        starts (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` while it
        runs; every sweep point and experiment run also limits itself, on Dask workers too). Default
        :data:`DEFAULT_BLAS_THREADS` (1): the networks are small, and on a shared or
        oversubscribed machine a multi-threaded BLAS spin-waits and runs many times slower.

    Returns
    -------
    dict
        ``steps``: per step ``{"name", "status" ("computed", "exists", "drawn"), "seconds"}``;
        ``figures``: figure name -> written files; ``schedule``, ``work_dir``;
        ``seconds``: total wall time. Also written to ``out/reproduce.json``.
    """
    from spectral_physics.progress import progress_bar

    threads = DEFAULT_BLAS_THREADS if blas_threads is None else int(blas_threads)
    if threads < 1:
        raise ValueError(f"blas_threads must be a positive integer, got {blas_threads!r}")
    out = Path(out)
    label = schedule_label(quick, schedule)
    work = work_dir(out, label)
    sch = schedule_of(quick, schedule)
    steps = plan(only)
    _check_data_available(steps, sch, data_root, work)  # before minutes of work
    (work / "data").mkdir(parents=True, exist_ok=True)
    ctx = {"schedule": sch, "out": work, "workers": workers, "scheduler": scheduler,
           "data_root": str(data_root) if data_root else None, "inner_progress": progress,
           "blas_threads": threads}
    _check_schedule(work / "data", sch, label)
    t_all = time.perf_counter()
    report: dict[str, Any] = {"quick": quick, "schedule": label, "work_dir": str(work), "blas_threads": threads,
                              "steps": [], "figures": {}}
    with _blas_limits(threads):
        bar = progress_bar(steps, desc="reproduce", unit="step", progress=progress, leave=True)
        for step in bar:
            bar.set_postfix_str(step.name)
            t0 = time.perf_counter()
            if step.kind == "data":
                target = work / "data" / step.output
                if target.exists():
                    status = "exists"
                else:
                    from .sweep.execute import default_workers

                    before = stored_runs(step.name, sch, work)
                    _RUNNERS[step.name](ctx, target)
                    status = "computed"
                    after = stored_runs(step.name, sch, work)
                    _record_step(work / "data", {
                        "step": step.name, "seconds": round(time.perf_counter() - t0, 2),
                        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "git_revision": git_revision(), "blas_threads": threads,
                        "workers": workers if workers is not None else default_workers(),
                        "runs_stored_before": before[0] if before else None,
                        "runs": after[0] if after else None})
            else:
                from spectral_physics.figures import draw

                files = draw(step.output, {n: work / "data" / _DATA_STEPS[n].output for n in step.needs}, out)
                report["figures"][step.output] = {k: str(v) for k, v in files.items()}
                status = "drawn"
            report["steps"].append({"name": step.name, "status": status,
                                    "seconds": round(time.perf_counter() - t0, 2)})
        bar.close()
    report["claims"] = {k: str(v) for k, v in write_claims(work / "data", out).items()}
    report["seconds"] = round(time.perf_counter() - t_all, 2)
    write_text_atomic(out / "reproduce.json", json.dumps(report, indent=2) + "\n")
    return report


def source_dir(source: str | os.PathLike, label: str = "full") -> Path:
    """The work folder of schedule ``label`` inside ``source`` (a ``--out`` of an earlier run).

    As :func:`reproduce` finds it (:func:`work_dir`: ``source/<label>/``, or ``source``
    itself when laid out before the per-schedule folders).

    Raises
    ------
    FileNotFoundError
        When that folder holds no ``data/`` folder, or Datasets of another schedule.
    """
    source = Path(source)
    work = work_dir(source, label)
    hint = "" if label == "quick" else ", with --quick for a quick one"
    if not (work / "data").is_dir():
        raise FileNotFoundError(f"{source} holds no Datasets of the {label} schedule (looked for {work / 'data'}); "
                                f"give the --out folder of a reproduce run{hint}")
    recorded = _recorded_schedule(work / "data")
    if recorded.get("label", label) != label:
        raise FileNotFoundError(f"{work / 'data'} holds Datasets of the {recorded['label']} schedule, not the "
                                f"{label} one{hint}")
    return work


def _recorded_schedule(data_dir: Path) -> dict[str, Any]:
    """``data_dir/schedule.json`` as written by reproduce; ``{}`` when missing or unreadable."""
    try:
        old = json.loads((data_dir / "schedule.json").read_text())
    except (OSError, ValueError):
        return {}
    return old if isinstance(old, dict) else {}


def redraw(source: str | os.PathLike, *, out: str | os.PathLike | None = None, only: Iterable[str] | None = None,
           quick: bool = False, progress: bool | str = True) -> dict[str, Any]:
    """Draw every figure of the plan from the Datasets an earlier run left in ``source``.

    Nothing is computed: a figure whose Datasets are not all there is reported missing,
    with the Datasets it lacks, and the others are drawn.

    Parameters
    ----------
    source : path
        The ``out`` folder of a :func:`reproduce` run (for example the committed
        ``results/paper``); its Datasets are found by :func:`source_dir`.
    out : path, optional
        Where the figures go (default ``source``).
    only : iterable of str, optional
        Figure names (see :func:`plan`; data-step names select the figures that read them).
    quick : bool
        Read the quick schedule's Datasets (default the full schedule's).
    progress : bool or str
        A report over the figures (:mod:`spectral_physics.progress`).

    Returns
    -------
    dict
        ``source``, ``work_dir``, ``schedule`` (the label and fingerprint recorded next to
        the Datasets, and whether it is the library's current schedule of that label),
        ``figures`` (name to the files written), ``missing`` (figure to the Datasets it
        lacks), ``steps`` and ``seconds``; also written to ``out/redraw.json``.
    """
    from spectral_physics.figures import draw

    from spectral_physics.progress import progress_bar

    label = schedule_label(quick)
    work = source_dir(source, label)
    out = Path(source if out is None else out)
    data = work / "data"
    only = None if only is None else set(only)
    if only is not None:
        plan(only)  # unknown names are a ValueError
    # a data-step name selects the figures drawn from it
    figures = [s for s in plan() if s.kind == "figure"
               and (only is None or s.output in only or not only.isdisjoint(s.needs))]
    recorded = _recorded_schedule(data)
    current = schedule_of(recorded.get("label", label) == "quick")
    report: dict[str, Any] = {
        "source": str(source), "work_dir": str(work),
        "schedule": {"label": recorded.get("label"), "fingerprint": recorded.get("fingerprint"),
                     "current": recorded.get("fingerprint") == _fingerprint(current)},
        "figures": {}, "missing": {}, "steps": []}
    t_all = time.perf_counter()
    bar = progress_bar(figures, desc="redraw", unit="figure", progress=progress, leave=True)
    for step in bar:
        bar.set_postfix_str(step.output)
        t0 = time.perf_counter()
        paths = {n: data / _DATA_STEPS[n].output for n in step.needs}
        lacking = [n for n, p in paths.items() if not p.is_file()]
        if lacking:
            report["missing"][step.output] = lacking
            status = "missing"
        else:
            files = draw(step.output, paths, out)
            report["figures"][step.output] = {k: str(v) for k, v in files.items()}
            status = "drawn"
        report["steps"].append({"name": step.name, "status": status, "seconds": round(time.perf_counter() - t0, 2)})
    bar.close()
    report["claims"] = {k: str(v) for k, v in write_claims(data, out).items()}
    report["seconds"] = round(time.perf_counter() - t_all, 2)
    write_text_atomic(out / "redraw.json", json.dumps(report, indent=2) + "\n")
    return report


#: the schedule entry that names the data sets of each data step
_STEP_SCHEDULE = {"presets_sweep": "presets_sweep", "pruning": "pruning", "sparse": "sparse", "ntt": "ntt",
                  "eigen_net": "eigen_net", "eigenstats": "eigen_net", "relevance": "eigen_net",
                  "homeostasis": "eigen_net"}


def _datasets_needed(steps: Iterable[Step], sch: Mapping[str, Any]) -> list[str]:
    """The data sets read from files by ``steps`` (teacher-student is generated)."""
    names: list[str] = []
    for step in steps:
        part = sch.get(_STEP_SCHEDULE.get(step.name, ""))
        if not isinstance(part, Mapping):
            continue
        found = list(part.get("datasets") or []) + ([part["dataset"]] if part.get("dataset") else [])
        if step.name == "sparse" and not found:
            found = ["mnist"]  # SparseConfig's default
        names += [n for n in found if n != "teacher-student" and n not in names]
    return names


def _check_data_available(steps: Iterable[Step], sch: Mapping[str, Any], data_root, work: Path) -> None:
    """Find (or fetch) every data set the missing Datasets need, before minutes of other work.

    A data set nowhere on the search path is loaded at once, which downloads it on a machine
    with internet access and raises :class:`~spectral_physics.datasets.DatasetNotFoundError`
    at once on one without.
    """
    from spectral_physics.datasets import find_dataset, load_dataset

    todo = [s for s in steps if s.kind == "data" and not (work / "data" / s.output).exists()]
    for name in _datasets_needed(todo, sch):
        if find_dataset(name, data_root) is None:
            load_dataset(name, root=data_root)
