"""Spectral node pruning: post-training pruning and the pre-training filter (Buffoni et al., Sci. Rep. 2022).

For each data set, activation and hidden width of a single-hidden-layer network:

* post-training pruning (:func:`spectral_physics.pruning.post_training_pruning`): train a
  ``spectral`` network and a ``direct`` one, rank the hidden nodes (the spectral network by
  eigenvalue, the direct one by incoming connectivity, the paper's baseline, plus the
  other rankings asked for), remove a growing fraction without retraining, evaluate;
* the pre-training filter (:func:`spectral_physics.pruning.pretraining_filter`): train
  ``eigen`` (``phi`` frozen), rank, prune, rebuild, train the survivors fully, evaluate.

Each (data set, activation, hidden, protocol) run is one netCDF record of a
:class:`~spectral_physics.analysis.sweep.store.RunStore`, and the filter is one run per
seed (17 minutes each at the paper's scale on one core), so an interruption loses at
most one seed's work. :func:`pruning_experiment` combines the records into curves.

Example
-------
>>> cfg = PruningConfig(datasets=("mnist",), hidden=(64,), seeds=(0,), filter_seeds=(0, 1), epochs=1, n_train=500)
>>> sorted(pruning_runs(cfg))
['mnist_tanh_h64_filter_s0', 'mnist_tanh_h64_filter_s1', 'mnist_tanh_h64_post_direct', 'mnist_tanh_h64_post_spectral']
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import xarray as xr

from .._xr import cf, provenance_attrs
from ..sweep.run import _load_data
from ._config import ExperimentConfig, run_experiment

__all__ = ["PruningConfig", "pruning_runs", "pruning_run", "pruning_experiment", "RANKINGS", "ACTIVATIONS"]

RANKINGS = ("eigenvalue", "connectivity", "outgoing", "activation", "random", "eigenvalue-in")
ACTIVATIONS = ("tanh", "relu", "elu", "identity")


@dataclass(frozen=True)
class PruningConfig(ExperimentConfig):
    """Settings of the node-pruning experiment (grid axes: ``datasets``, ``activations``, ``hidden``).

    Parameters
    ----------
    post_curves : tuple of str
        ``"<preset>:<ranking>"`` curves of the post-training protocol, e.g.
        ``"spectral:eigenvalue"``, ``"direct:connectivity"``.
    fraction_step : float
        Fractions removed: ``0, step, ..., 1``.
    filter_rankings, filter_fractions, filter_seeds, filter_eigen_epochs, filter_full_epochs, filter_lr
        The pre-training filter's settings.
    filter_l1 : float, optional
        L1 penalty on the eigenvalues during the filter's ``eigen`` training.
    protocols : tuple of str
        ``"post"`` and/or ``"filter"``.
    n_train, n_test : int, optional
        Training / test images used (default all).
    """

    store_kind = "netcdf"  # how its runs are saved (a plain class attribute, not a field)
    store_label = "pruning configuration"

    datasets: tuple[str, ...] = ("mnist", "fashion-mnist")
    activations: tuple[str, ...] = ("tanh",)
    hidden: tuple[int, ...] = (500,)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    epochs: int = 20
    lr: float = 1e-3
    init: str = "paper"
    post_curves: tuple[str, ...] = ("spectral:eigenvalue", "spectral:connectivity", "spectral:random",
                                    "direct:connectivity")
    fraction_step: float = 0.05
    filter_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    filter_eigen_epochs: int = 20
    filter_full_epochs: int = 20
    filter_lr: float = 1e-3
    filter_fractions: tuple[float, ...] = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
    filter_rankings: tuple[str, ...] = ("eigenvalue", "random")
    filter_l1: float | None = None
    protocols: tuple[str, ...] = ("post", "filter")
    n_train: int | None = None
    n_test: int | None = None

    def __post_init__(self) -> None:
        self._tuple("datasets", str)
        self._tuple("activations", str, choices=ACTIVATIONS)
        self._tuple("hidden", int, positive=True)
        self._tuple("seeds", int)
        self._tuple("filter_seeds", int)
        self._tuple("post_curves", str)
        for c in self.post_curves:
            train, _, ranking = c.partition(":")
            if train not in ("spectral", "direct") or ranking not in RANKINGS:
                self._fail("post_curves", f"entries are 'spectral:<ranking>' or 'direct:<ranking>' with a ranking "
                                          f"among {list(RANKINGS)}")
        self._tuple("filter_rankings", str, choices=RANKINGS)
        object.__setattr__(self, "filter_fractions", tuple(float(f) for f in self.filter_fractions))
        if any(not 0 <= f < 1 for f in self.filter_fractions):
            self._fail("filter_fractions", "entries must lie in [0, 1)")
        for name in ("epochs", "filter_eigen_epochs", "filter_full_epochs"):
            self._int(name)
        self._int("n_train", optional=True)
        self._int("n_test", optional=True)
        self._float("lr")
        self._float("filter_lr")
        self._float("fraction_step")
        if not 0 < self.fraction_step <= 0.5 or abs(round(1 / self.fraction_step) * self.fraction_step - 1) > 1e-9:
            self._fail("fraction_step", "must divide 1 into at least 2 steps (e.g. 0.05, 0.1)")
        self._choice("init", ("default", "paper"))
        self._tuple("protocols", str, choices=("post", "filter"))
        if self.filter_l1 is not None:
            self._float("filter_l1", positive=False)

    def curves(self) -> list[tuple[str, str]]:
        """``(preset, ranking)`` of every post-training curve."""
        return [tuple(c.split(":", 1)) for c in self.post_curves]  # type: ignore[misc]


def _key(name: str, activation: str, hidden: int, protocol: str) -> str:
    return f"{name}_{activation}_h{hidden}_{protocol}"


def _filter_key(name: str, activation: str, hidden: int, seed: int) -> str:
    return _key(name, activation, hidden, f"filter_s{seed}")


def pruning_runs(config: PruningConfig) -> dict[str, dict[str, Any]]:
    """Run key -> task: per data set, activation and width, one post-training run per preset
    (its seeds train together, as an ensemble) and one filter run per filter seed."""
    config = PruningConfig.from_dict(config)
    trains = sorted({t for t, _ in config.curves()}, key=["spectral", "direct"].index)
    tasks = {}
    for name in config.datasets:
        for act in config.activations:
            for h in config.hidden:
                base = {"config": config.to_dict(), "dataset": name, "activation": act, "hidden": h}
                if "post" in config.protocols:
                    for train in trains:
                        tasks[_key(name, act, h, f"post_{train}")] = {**base, "protocol": "post", "train": train}
                if "filter" in config.protocols:
                    for sd in config.filter_seeds:
                        tasks[_filter_key(name, act, h, sd)] = {**base, "protocol": "filter", "seed": sd}
    return tasks


def pruning_run(task: dict[str, Any]) -> xr.Dataset:
    """One protocol on one (data set, activation, width), for one seed if the filter: the unit of work of
    :func:`pruning_experiment`."""
    from spectral_physics.pruning import default_fractions, post_training_pruning, pretraining_filter

    a = PruningConfig.from_dict(task["config"])
    data = _load_data(task["dataset"], a.n_train, 0, a.n_test, task.get("data_root"))
    sizes = [data.n_features, int(task["hidden"]), data.n_classes]
    common = {"activation": task["activation"], "init": a.init, "attrs": {"dataset": task["dataset"]}}
    t0 = time.perf_counter()
    if task["protocol"] == "post":
        ranks = [r for t, r in a.curves() if t == task["train"]]
        ds = post_training_pruning(data, sizes, train=task["train"], seeds=list(a.seeds), epochs=a.epochs,
                                   lr=a.lr, rankings=ranks, fractions=default_fractions(a.fraction_step),
                                   **common)
    else:
        # the seeds of pretraining_filter are independent, so one seed alone gives that seed's numbers
        ds = pretraining_filter(data, sizes, seeds=[int(task["seed"])], eigen_epochs=a.filter_eigen_epochs,
                                full_epochs=a.filter_full_epochs, l1=a.filter_l1, lr=a.filter_lr,
                                rankings=list(a.filter_rankings), fractions=list(a.filter_fractions), **common)
    ds.attrs["wall_seconds"] = time.perf_counter() - t0
    return ds


def _curves(config: PruningConfig, recs: dict[str, xr.Dataset], name: str, act: str, h: int) -> xr.Dataset:
    out = {}
    if "post" in config.protocols:
        post = {t: recs[_key(name, act, h, f"post_{t}")] for t in {t for t, _ in config.curves()}}
        curves = [post[t].accuracy.sel(ranking=r, drop=True) for t, r in config.curves()]
        out["post_accuracy"] = xr.concat(curves, dim="curve").assign_coords(
            curve=[f"{t}: {r}" for t, r in config.curves()])
        presets = [t for t in ("spectral", "direct") if t in post]
        dense = xr.concat([post[t].test_accuracy_dense for t in presets], dim="preset")
        out["dense_accuracy"] = dense.assign_coords(preset=presets)
    if "filter" in config.protocols:
        filt = xr.concat([recs[_filter_key(name, act, h, sd)] for sd in config.filter_seeds], dim="seed")
        f = filt.accuracy.rename(fraction_removed="filter_fraction", ranking="filter_curve", seed="filter_seed")
        out["filter_accuracy"] = f.assign_coords(filter_curve=[f"filter: {r}" for r in f.filter_curve.values])
    # runs stored before runs timed themselves (2026-12-02) have no wall time: NaN
    runs = {k.removeprefix(_key(name, act, h, "")): recs[k] for k in pruning_runs(config)
            if k.startswith(_key(name, act, h, ""))}
    out["run_wall_seconds"] = xr.DataArray([float(r.attrs.get("wall_seconds", "nan")) for r in runs.values()],
                                           dims="run", coords={"run": list(runs)})
    # the old layout's variable order, which the figures and their tests read
    return xr.Dataset({k: out[k] for k in ("post_accuracy", "filter_accuracy", "dense_accuracy",
                                           "run_wall_seconds") if k in out})


def pruning_experiment(config: PruningConfig | dict[str, Any], results_dir: str | os.PathLike, *,
                       resume: bool = True, overwrite: bool = False, data_root: str | os.PathLike | None = None,
                       executor=None, workers: int | None = 1, scheduler: str | None = None,
                       blas_threads: int | None = None, progress: bool = True) -> xr.Dataset:
    """Run (or resume) the node-pruning experiment and return its curves.

    Parameters
    ----------
    config : PruningConfig or mapping
    results_dir : path
        One netCDF record per finished run (a :class:`RunStore`).
    resume, overwrite, data_root, executor, workers, scheduler, blas_threads, progress
        As in :func:`~spectral_physics.analysis.experiments.sparse.sparse_vs_direct`.

    Returns
    -------
    xarray.Dataset
        ``post_accuracy`` (dims ``dataset``, ``curve``, ``fraction_removed``, ``seed``),
        ``filter_accuracy`` (``dataset``, ``filter_curve``, ``filter_fraction``,
        ``filter_seed``), ``dense_accuracy`` (``dataset``, ``preset``, ``seed``),
        ``run_wall_seconds`` (``dataset``, ``run``: ``post_spectral``, ``filter_s0``, ...); with
        ``activation`` and ``hidden`` dims when more than one value of either was run
        (otherwise scalar coordinates).
    """
    config = PruningConfig.from_dict(config)
    recs = run_experiment(config, pruning_run, pruning_runs(config), results_dir,
        desc="node pruning",
        data_root=data_root, resume=resume, overwrite=overwrite,
        executor=executor, workers=workers, scheduler=scheduler, blas_threads=blas_threads,
        progress=progress)
    per_data = []
    for name in config.datasets:
        grid = [[_curves(config, recs, name, act, h) for h in config.hidden] for act in config.activations]
        rows = [xr.concat(r, dim="hidden").assign_coords(hidden=list(config.hidden)) for r in grid]
        per_data.append(xr.concat(rows, dim="activation").assign_coords(activation=list(config.activations)))
    ds = xr.concat(per_data, dim="dataset").assign_coords(dataset=list(config.datasets))
    ds = ds.squeeze([d for d in ("activation", "hidden") if ds.sizes[d] == 1])
    for var, long_name in [("post_accuracy", "test accuracy after removing hidden nodes (no retraining)"),
                           ("filter_accuracy", "test accuracy of the pre-training filter (eigen, prune, retrain "
                                               "spectral)"),
                           ("dense_accuracy", "test accuracy before pruning"),
                           ("fraction_removed", "fraction of hidden nodes removed"),
                           ("filter_fraction", "fraction of hidden nodes removed by the filter")]:
        if var in ds.variables:
            cf(ds[var], long_name, "1")
    cf(ds["run_wall_seconds"], "wall time of each stored run (a post-training preset or a filter seed)", "s")
    ds.attrs = {}
    hidden = config.hidden[0] if len(config.hidden) == 1 else list(config.hidden)
    ds.attrs.update(provenance_attrs(analysis="pruning_curves", config=config.to_dict(), hidden=hidden))
    return ds
