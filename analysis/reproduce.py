"""The reproduction plan: every Dataset behind the paper figures, and the figures themselves.

:func:`reproduce` walks a fixed plan. Each *data step* writes one file to
``<out>/data/`` (netCDF; the trained network of the eigenvalue analyses as ``.npz``) and
is skipped when that file exists, so an interrupted run resumes. The preset x hidden-size
grid goes through the sweep machinery of :mod:`spectral_physics.analysis.phase` (point files under
``<out>/sweeps/``, ``resume=True``, local processes or a Dask scheduler). The sparse and
NTT grids reuse ``benchmarks/sparse_vs_direct.py`` and ``benchmarks/ntt_comparison.py``
(they record what a sweep point does not: per-epoch mask turnover, wiring searches); the
sparse one keeps one file per run under ``<out>/parts/``. Pruning curves and the
eigenvalue analyses call the library functions directly. Each *figure step* runs one
script of ``figures/`` (load Dataset, call a function of :mod:`spectral_physics.analysis.plots`, save PDF,
PNG and provenance JSON to ``<out>/``). ``<out>/data/schedule.json`` records the
schedule; another schedule is refused in the same folder.

Two schedules: :data:`QUICK` (minutes on two CPU cores: data subsets, one or two epochs,
a few seeds; qualitative results only) and :data:`FULL` (paper-scale: whole data sets,
paper epochs and seeds; hours to days on a CPU).

Example
-------
>>> from spectral_physics.analysis.reproduce import plan
>>> [s.name for s in plan(only=["phase_diagram"])]
['presets_sweep', 'fig:phase_diagram']
>>> reproduce(quick=True, only=["transfer_operator"], out="figures/out")    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._xr import cf, provenance_attrs, read_netcdf, to_json, write_netcdf

__all__ = [
    "REPO_ROOT",
    "FIGURES_DIR",
    "QUICK",
    "FULL",
    "FIGURES",
    "Step",
    "plan",
    "reproduce",
    "load_figure_script",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
FIGURES_DIR = REPO_ROOT / "figures"
BENCHMARKS_DIR = REPO_ROOT / "benchmarks"

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
    "sparse": ["--sizes", "784,128,128,10", "--densities", "1,0.5,0.2,0.1,0.05,0.02", "--trains",
               "direct,spectral", "--modes", "dynamic-percentile", "--seeds", "0,1,2", "--epochs", "2",
               "--n-train", "5000", "--activation", "tanh"],
    "ntt": ["--quick", "--seeds", "0,1"],
    "eigen_net": {"dataset": "mnist", "subset": 10000, "n_test": 2000, "sizes_hidden": [256], "train": "eigen",
                  "activation": "tanh", "init": "paper", "seeds": [0, 1, 2], "epochs": 3, "lr": 1e-2},
    "analysis_samples": 2000,
    "transfer": {"sizes": [6, 5, 4, 3], "epochs": 2},
}

#: paper-scale schedules (Giambagli et al. 2021, Chicchi et al. 2021, Buffoni et al. 2022,
#: Liu and Zenke 2020): whole data sets, paper epochs, five seeds
FULL: dict[str, Any] = {
    "presets_sweep": {
        "name": "presets-full", "dataset": "mnist", "data_seed": 0, "epochs": 20, "seeds": [0, 1, 2, 3, 4],
        "threshold": 0.99,
        "axes": {"train": ["direct", "eigen-out", "eigen", "svd", "qr", "spectral"],
                 "hidden": [20, 43, 93, 200, 431, 928, 2000]},
        "fixed": {"activation": "relu", "optimizer": "adam", "lr": 1e-3, "batch_size": 200, "init": "default"},
    },
    "pruning": {
        "datasets": ["mnist", "fashion-mnist"], "subset": None, "n_test": None, "hidden": 500,
        "activation": "tanh", "init": "paper", "seeds": [0, 1, 2, 3, 4], "epochs": 20, "lr": 1e-3,
        "fraction_step": 0.05,
        "filter": {"seeds": [0, 1, 2, 3, 4], "eigen_epochs": 20, "full_epochs": 20, "lr": 1e-3,
                   "fractions": [0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95], "rankings": ["eigenvalue", "random"]},
    },
    "sparse": ["--sizes", "784,500,500,10", "--densities", "1,0.5,0.3,0.2,0.15,0.1,0.05,0.02", "--trains",
               "direct,spectral", "--modes", "dynamic-percentile", "--seeds", "0,1,2,3,4", "--epochs", "20",
               "--activation", "tanh"],
    # the global-threshold wirings are where NTT's advantage showed (REPRODUCTION.md)
    "ntt": ["--datasets", "mnist,fashion-mnist", "--seeds", "0,1,2", "--ntt-steps", "2000", "--epochs", "5",
            "--densities", "0.1,0.05,0.03,0.02,0.01", "--wirings",
            "ntt,ntt-global,random,scaled-random,magnitude,global-magnitude,snip,logit-snip,dense"],
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
    ``"figure"`` (runs ``figures/<script>``); ``needs`` names the data steps it reads.
    """

    name: str
    kind: str
    output: str
    needs: tuple[str, ...] = ()
    script: str | None = None
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

#: figure name -> (script in figures/, data steps it reads)
FIGURES: dict[str, tuple[str, tuple[str, ...]]] = {
    "accuracy_vs_hidden": ("fig_accuracy_vs_hidden.py", ("presets_sweep",)),
    "pruning_curves": ("fig_pruning_curves.py", ("pruning",)),
    "sparse_vs_direct": ("fig_sparse_vs_direct.py", ("sparse",)),
    "ntt_comparison": ("fig_ntt_comparison.py", ("ntt",)),
    "eigenvalue_statistics": ("fig_eigenvalue_statistics.py", ("eigenstats",)),
    "input_relevance": ("fig_input_relevance.py", ("relevance",)),
    "homeostasis": ("fig_homeostasis.py", ("homeostasis",)),
    "phase_diagram": ("fig_phase_diagram.py", ("presets_sweep",)),
    "transfer_operator": ("fig_transfer_operator.py", ("transfer_operator",)),
}


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
        data = [n for n in only if n in _DATA_STEPS] + [d for f in figs for d in FIGURES[f][1]]
    needed = set(_closure(data))
    steps = [s for n, s in _DATA_STEPS.items() if n in needed]
    steps += [Step(f"fig:{f}", "figure", f, FIGURES[f][1], script=FIGURES[f][0]) for f in figs]
    return steps


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _load_module(path: Path, name: str):
    if not path.is_file():
        raise FileNotFoundError(f"{path} is needed by this step; run from a clone of the repository")
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def load_figure_script(script: str):
    """Import ``figures/<script>`` as a module (it defines ``NAME``, ``NEEDS`` and ``make``)."""
    return _load_module(FIGURES_DIR / script, f"_sp_figure_{Path(script).stem}")


def _benchmark(name: str):
    return _load_module(BENCHMARKS_DIR / f"{name}.py", f"_sp_benchmark_{name}")


@contextlib.contextmanager
def _log_to(path: Path):
    """Send what a benchmark prints to a log file (the plan keeps one progress bar)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        yield


def _data(name: str, subset: int | None, n_test: int | None, root: str | None, seed: int = 0):
    from spectral_physics.datasets import load_dataset

    data = load_dataset(name, root=root)
    if subset is not None or n_test is not None:
        data = data.subset(subset or data.n_train, seed=seed, n_test=n_test)
    return data


# --------------------------------------------------------------------------------------
# Data steps
# --------------------------------------------------------------------------------------


def _step_presets_sweep(ctx: dict[str, Any], path: Path) -> None:
    from .sweep import run_sweep

    spec = copy.deepcopy(ctx["schedule"]["presets_sweep"])
    if ctx["data_root"]:
        spec["data_root"] = str(ctx["data_root"])
    run_sweep(spec, ctx["out"] / "sweeps" / "presets", out=path, resume=True, workers=ctx["workers"],
              scheduler=ctx["scheduler"], progress=False)


def _step_pruning(ctx: dict[str, Any], path: Path) -> None:
    from spectral_physics.pruning import default_fractions, post_training_pruning, pretraining_filter

    sch = ctx["schedule"]["pruning"]
    parts = ctx["out"] / "parts" / "pruning"
    parts.mkdir(parents=True, exist_ok=True)
    post_curves = [("spectral", "eigenvalue"), ("spectral", "connectivity"), ("spectral", "random"),
                   ("direct", "connectivity")]
    fractions = default_fractions(sch["fraction_step"])
    f = sch["filter"]
    per_data = []
    for name in sch["datasets"]:
        data = _data(name, sch["subset"], sch["n_test"], ctx["data_root"])
        sizes = [data.n_features, sch["hidden"], data.n_classes]
        common = {"activation": sch["activation"], "init": sch["init"]}
        post = {}
        for train in ("spectral", "direct"):
            part = parts / f"{name}_post_{train}.nc"
            if not part.exists():
                ranks = [r for t, r in post_curves if t == train]
                ds = post_training_pruning(data, sizes, train=train, seeds=sch["seeds"], epochs=sch["epochs"],
                                           lr=sch["lr"], rankings=ranks, fractions=fractions,
                                           attrs={"dataset": name}, **common)
                write_netcdf(ds, part)
            post[train] = read_netcdf(part)
        part = parts / f"{name}_filter.nc"
        if not part.exists():
            ds = pretraining_filter(data, sizes, seeds=f["seeds"], eigen_epochs=f["eigen_epochs"],
                                    full_epochs=f["full_epochs"], lr=f["lr"], rankings=f["rankings"],
                                    fractions=f["fractions"], attrs={"dataset": name}, **common)
            write_netcdf(ds, part)
        filt = read_netcdf(part)
        curves = [post[t].accuracy.sel(ranking=r, drop=True) for t, r in post_curves]
        post_acc = xr.concat(curves, dim="curve").assign_coords(curve=[f"{t}: {r}" for t, r in post_curves])
        filt_acc = filt.accuracy.rename(fraction_removed="filter_fraction", ranking="filter_curve",
                                        seed="filter_seed")
        filt_acc = filt_acc.assign_coords(filter_curve=[f"filter: {r}" for r in filt_acc.filter_curve.values])
        dense = xr.concat([post[t].test_accuracy_dense for t in ("spectral", "direct")], dim="preset")
        per_data.append(xr.Dataset({"post_accuracy": post_acc, "filter_accuracy": filt_acc,
                                    "dense_accuracy": dense.assign_coords(preset=["spectral", "direct"])}))
    ds = xr.concat(per_data, dim="dataset").assign_coords(dataset=sch["datasets"])
    cf(ds["post_accuracy"], "test accuracy after removing hidden nodes (no retraining)", "1")
    cf(ds["filter_accuracy"], "test accuracy of the pre-training filter (eigen, prune, retrain spectral)", "1")
    cf(ds["dense_accuracy"], "test accuracy before pruning", "1")
    cf(ds["fraction_removed"], "fraction of hidden nodes removed", "1")
    cf(ds["filter_fraction"], "fraction of hidden nodes removed by the filter", "1")
    ds.attrs = {}
    ds.attrs.update(provenance_attrs(analysis="pruning_curves", schedule=sch, hidden=sch["hidden"]))
    write_netcdf(ds, path)


def _step_sparse(ctx: dict[str, Any], path: Path) -> None:
    args = list(ctx["schedule"]["sparse"])
    parts = ctx["out"] / "parts" / "sparse"
    argv = [*args, "--out", str(parts), "--no-progress"]
    if ctx["data_root"]:
        argv += ["--data-root", str(ctx["data_root"])]
    with _log_to(ctx["out"] / "logs" / "sparse.log"):
        _benchmark("sparse_vs_direct").main(argv)
    files = sorted(parts.glob("*.nc"))
    # object labels: combining fixed-width strings of different widths truncates them
    parts_ds = [d.assign_coords(train=d.train.astype(object), mode=d["mode"].astype(object))
                for d in (read_netcdf(p) for p in files)]
    ds = xr.combine_by_coords(parts_ds, combine_attrs="drop_conflicts", join="outer")
    with np.errstate(all="ignore"):
        # density 1 runs are mode "dense", the others the sparse mode: one value per density
        ds = ds.mean("mode", skipna=True, keep_attrs=True)
    sizes = json.loads(parts_ds[0].attrs["sizes"])
    ds["n_weights"] = cf(xr.DataArray(int(sum(a * b for a, b in zip(sizes[:-1], sizes[1:])))),
                         "weights in all layers", "1")
    ds.attrs.update(provenance_attrs(analysis="sparse_vs_direct", argv=argv, sizes=sizes))
    write_netcdf(ds, path)


def _step_ntt(ctx: dict[str, Any], path: Path) -> None:
    # the benchmark rewrites its file after every run; only a finished one counts as done
    tmp_path = path.with_name(path.stem + ".partial.nc")
    argv = [*ctx["schedule"]["ntt"], "--out", str(tmp_path)]
    if ctx["data_root"]:
        argv += ["--data-root", str(ctx["data_root"])]
    with _log_to(ctx["out"] / "logs" / "ntt.log"):
        _benchmark("ntt_comparison").main(argv)
    os.replace(tmp_path, path)


def _step_eigen_net(ctx: dict[str, Any], path: Path) -> None:
    from spectral_physics import SpectralMLP, fit, save_network

    sch = ctx["schedule"]["eigen_net"]
    data = _data(sch["dataset"], sch["subset"], sch["n_test"], ctx["data_root"])
    net = SpectralMLP([data.n_features, *sch["sizes_hidden"], data.n_classes], train=sch["train"],
                      activation=sch["activation"], seed=list(sch["seeds"]), init=sch["init"])
    hist = fit(net, data, epochs=sch["epochs"], lr=sch["lr"], batch_size=200, progress=False)
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
    fit(net, data, epochs=sch["epochs"], lr=sch["lr"], batch_size=200, progress=False)
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


def _check_schedule(data_dir: Path, sch: Mapping[str, Any], label: str) -> None:
    """Refuse to mix Datasets of different schedules in one folder (they would be reused silently)."""
    import hashlib

    fp = hashlib.sha256(to_json(sch).encode()).hexdigest()[:16]
    path = data_dir / "schedule.json"
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = {}
        if old.get("fingerprint") != fp:
            raise ValueError(
                f"{data_dir} holds Datasets of another schedule ({old.get('label', 'unknown')}); "
                f"use another --out for the {label} schedule, or delete {data_dir}"
            )
        return
    path.write_text(json.dumps({"label": label, "fingerprint": fp, "schedule": sch}, indent=1, default=str) + "\n")


def reproduce(*, quick: bool = False, only: Iterable[str] | None = None, out: str | os.PathLike = "figures/out",
              workers: int | None = None, scheduler: str | None = None, data_root: str | os.PathLike | None = None,
              progress: bool = True, schedule: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Compute every missing Dataset of the plan and draw every figure.

    Parameters
    ----------
    quick : bool
        :data:`QUICK` schedule (default :data:`FULL`).
    only : iterable of str, optional
        Figure or data-step names (see :func:`plan`).
    out : path
        Figures go here, Datasets to ``out/data``, sweep points to ``out/sweeps``,
        benchmark parts to ``out/parts``, logs to ``out/logs``. A different schedule needs
        a different ``out`` (existing Datasets are reused as they are).
    workers : int, optional
        Worker processes of the sweeps (default: all cores).
    scheduler : str, optional
        Dask scheduler address for the sweeps.
    data_root : path, optional
        Directory holding ``mnist/`` and ``fashion-mnist/``.
    progress : bool
        One tqdm bar over the plan.
    schedule : mapping, optional
        Override the schedule (tests).

    Returns
    -------
    dict
        ``steps``: per step ``{"name", "status" ("computed", "exists", "drawn"), "seconds"}``;
        ``figures``: figure name -> written files; ``seconds``: total wall time. Also
        written to ``out/reproduce.json``.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(exist_ok=True)
    sch = copy.deepcopy(dict(schedule) if schedule is not None else (QUICK if quick else FULL))
    ctx = {"schedule": sch, "out": out, "workers": workers, "scheduler": scheduler,
           "data_root": str(data_root) if data_root else None}
    steps = plan(only)
    _check_schedule(out / "data", sch, "quick" if quick else "full")
    t_all = time.perf_counter()
    report: dict[str, Any] = {"quick": quick, "steps": [], "figures": {}}
    bar = tqdm(steps, disable=not progress, unit="step", desc="reproduce", dynamic_ncols=True, file=sys.stderr)
    for step in bar:
        bar.set_postfix_str(step.name)
        t0 = time.perf_counter()
        if step.kind == "data":
            target = out / "data" / step.output
            if target.exists():
                status = "exists"
            else:
                _RUNNERS[step.name](ctx, target)
                status = "computed"
        else:
            mod = load_figure_script(step.script)
            files = mod.make({n: out / "data" / _DATA_STEPS[n].output for n in step.needs}, out)
            report["figures"][step.output] = {k: str(v) for k, v in files.items()}
            status = "drawn"
        report["steps"].append({"name": step.name, "status": status,
                                "seconds": round(time.perf_counter() - t0, 2)})
    bar.close()
    report["seconds"] = round(time.perf_counter() - t_all, 2)
    (out / "reproduce.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
