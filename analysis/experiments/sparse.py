"""Sparse spectral versus sparse direct training, with topology turnover (Chicchi et al., PRE 2021).

For every density (fraction of weights kept), sparse mode and preset, one network (its
seeds as one ensemble) trains under the mask and records the test accuracy after every
epoch and the topology turnover (mask entries flipped per epoch). Modes
(:func:`spectral_physics.sparse.configure_sparsity`): ``dynamic-percentile`` (the paper's
method: entries of ``|W|`` below the percentile zeroed at every forward pass),
``static-magnitude``, ``static-random``, ``dst`` (mask re-chosen every ``every`` steps).
Density 1 runs once per preset, as mode ``dense``.

Each (density, mode, preset) run is one record of a
:class:`~spectral_physics.analysis.sweep.store.RunStore`; :func:`sparse_vs_direct`
combines them.

Example
-------
>>> cfg = SparseConfig(sizes=(784, 32, 10), densities=(1.0, 0.1), epochs=1, n_train=500)
>>> sorted(sparse_runs(cfg))
['direct_dense_d1', 'direct_dynamic-percentile_d0.1', 'spectral_dense_d1', 'spectral_dynamic-percentile_d0.1']
>>> import os, tempfile
>>> ds = sparse_vs_direct(cfg, os.path.join(tempfile.mkdtemp(), "sparse"), progress=False)  # MNIST, 500 images
>>> ds.test_accuracy.dims
('density', 'train', 'epoch', 'seed')
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from spectral_physics.layers import PRESETS

from .._xr import cf, provenance_attrs, to_json
from ..sweep.run import _load_data
from ._config import ExperimentConfig, run_experiment

__all__ = ["SparseConfig", "sparse_runs", "sparse_run", "sparse_vs_direct", "SPARSE_MODES"]

SPARSE_MODES = ("dynamic-percentile", "static-magnitude", "static-random", "dst")


@dataclass(frozen=True)
class SparseConfig(ExperimentConfig):
    """Settings of the sparse-training experiment (grid axes: ``densities``, ``modes``, ``trains``).

    Parameters
    ----------
    sizes : tuple of int
        Layer sizes, input to output (must match the data set).
    densities : tuple of float
        Fractions of weights kept, in (0, 1]; 1 is the dense reference.
    trains : tuple of str
        Presets compared.
    modes : tuple of str
        Sparse modes (:data:`SPARSE_MODES`).
    seeds : tuple of int
        Trained as one ensemble per run.
    epochs, batch_size, lr, every : training settings (``every``: re-selection period of ``dst``).
    n_train : int, optional
        Training images used (a subset drawn with seed 0); default all.
    """

    store_kind = "netcdf"  # how its runs are saved (a plain class attribute, not a field)
    store_label = "sparse-training configuration"

    sizes: tuple[int, ...] = (784, 500, 500, 10)
    densities: tuple[float, ...] = (1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02)
    trains: tuple[str, ...] = ("direct", "spectral")
    modes: tuple[str, ...] = ("dynamic-percentile",)
    seeds: tuple[int, ...] = (0,)
    dataset: str = "mnist"
    activation: str = "tanh"
    epochs: int = 3
    lr: float = 1e-3
    batch_size: int = 200
    init: str = "default"
    every: int = 100
    n_train: int | None = None

    def __post_init__(self) -> None:
        self._tuple("sizes", int, positive=True, distinct=False)
        object.__setattr__(self, "densities", tuple(float(d) if isinstance(d, int) and not isinstance(d, bool)
                                                    else d for d in self.densities))
        self._tuple("densities", float, unit=True)
        self._tuple("trains", str, choices=PRESETS)
        self._tuple("modes", str, choices=SPARSE_MODES)
        self._tuple("seeds", int)
        if len(self.sizes) < 2:
            self._fail("sizes", "needs at least an input and an output size")
        for name in ("epochs", "batch_size", "every"):
            self._int(name)
        self._int("n_train", optional=True)
        self._float("lr")
        self._choice("init", ("default", "paper"))


def _key(train: str, mode: str, density: float) -> str:
    return f"{train}_{mode}_d{density:g}"


def sparse_runs(config: SparseConfig) -> dict[str, dict[str, Any]]:
    """Run key -> task of every (density, mode, preset) run; density 1 runs as mode ``dense``."""
    config = SparseConfig.from_dict(config)
    tasks = {}
    for density in config.densities:
        for mode in (config.modes if density < 1 else ("dense",)):
            for train in config.trains:
                tasks[_key(train, mode, density)] = {"config": config.to_dict(), "density": density,
                                                     "train": train, "mode": mode}
    return tasks


def sparse_run(task: dict[str, Any]) -> xr.Dataset:
    """Train one (density, mode, preset) run: the unit of work of :func:`sparse_vs_direct`.

    Returns
    -------
    xarray.Dataset
        Dims ``density``, ``train``, ``mode`` (length 1), ``epoch``, ``seed``: ``test_accuracy``,
        ``mask_flips``, ``mask_step_flips`` per epoch, ``measured_density`` per seed,
        ``wall_seconds``.
    """
    from spectral_physics import SpectralMLP, fit
    from spectral_physics.sparse import configure_sparsity, network_density

    a = SparseConfig.from_dict(task["config"])
    density, train, mode = float(task["density"]), task["train"], task["mode"]
    data = _load_data(a.dataset, a.n_train, 0, None, task.get("data_root"))
    seeds = list(a.seeds) if len(a.seeds) > 1 else a.seeds[0]
    net = SpectralMLP(list(a.sizes), train=train, activation=a.activation, seed=seeds, init=a.init)
    cbs = configure_sparsity(net, 1.0 - density, mode, every=a.every) if density < 1 else []
    t0 = time.perf_counter()
    hist = fit(net, data, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, progress=False, callbacks=cbs)
    wall = time.perf_counter() - t0
    acc = np.asarray(hist["test_accuracy"], dtype=np.float64).reshape(a.epochs, -1)  # (epoch, seed)
    n_seeds = acc.shape[1]

    def per_epoch(key):  # dense runs have no turnover callback: zeros
        v = np.asarray([r.get(key, 0) for r in hist.records], dtype=np.float64).reshape(a.epochs, -1)
        return np.broadcast_to(v, (a.epochs, n_seeds))

    flips, sflips = per_epoch("mask_flips"), per_epoch("mask_step_flips")
    dens = np.atleast_1d(np.asarray(network_density(net)["density"], dtype=np.float64))
    dims = ("density", "train", "mode", "epoch", "seed")
    coords = {"density": [density], "train": [train], "mode": [mode], "epoch": np.arange(1, a.epochs + 1),
              "seed": np.asarray(a.seeds)}
    ds = xr.Dataset(
        {
            "test_accuracy": (dims, acc[None, None, None], {"long_name": "test accuracy", "units": "1"}),
            "mask_flips": (dims, flips[None, None, None],
                           {"long_name": "mask entries changed over the epoch (all layers)", "units": "1"}),
            "mask_step_flips": (dims, sflips[None, None, None],
                                {"long_name": "mask entries changed between steps, summed over the epoch",
                                 "units": "1"}),
            "measured_density": (("density", "train", "mode", "seed"), dens[None, None, None],
                                 {"long_name": "fraction of weights kept by the final mask", "units": "1"}),
            "wall_seconds": (("density", "train", "mode"), [[[wall]]],
                             {"long_name": "training wall time (shared CPU, noisy)", "units": "s"}),
        },
        coords=coords,
        attrs={"sizes": to_json(list(a.sizes)), "activation": a.activation, "dataset": a.dataset,
               "epochs": a.epochs, "lr": a.lr, "batch_size": a.batch_size, "init": a.init,
               "n_train": int(data.x_train.shape[0]), "every": a.every},
    )
    ds["density"].attrs.update(long_name="target fraction of weights kept", units="1")
    return ds


def sparse_vs_direct(config: SparseConfig | dict[str, Any], results_dir: str | os.PathLike, *,
                     resume: bool = True, overwrite: bool = False, data_root: str | os.PathLike | None = None,
                     executor=None, workers: int | None = 1, scheduler: str | None = None,
                     blas_threads: int | None = None, progress: bool = True) -> xr.Dataset:
    """Run (or resume) the sparse-training experiment and return its Dataset.

    Parameters
    ----------
    config : SparseConfig or mapping
    results_dir : path
        One netCDF file per finished run (a :class:`RunStore`).
    resume, overwrite : bool
        See :meth:`RunStore.open`.
    data_root : path, optional
        Folder holding the data sets (default: the library's search order).
    executor, workers, scheduler
        Where runs execute (:func:`~spectral_physics.analysis.sweep.execute.run_tasks`);
        default one run at a time in this process (each run already uses every BLAS thread).
    blas_threads : int, optional
        BLAS threads of each run, wherever it executes (``None``: see ``run_tasks``).
    progress : bool
        Progress bar over runs.

    Returns
    -------
    xarray.Dataset
        Dims ``density``, ``train``, ``epoch``, ``seed`` (the mode of each density folded in:
        ``dense`` at density 1, the sparse mode elsewhere; with several modes, their mean);
        ``n_weights``; provenance attributes.
    """
    config = SparseConfig.from_dict(config)
    parts = run_experiment(config, sparse_run, sparse_runs(config), results_dir,
        desc="sparse vs direct",
        data_root=data_root, resume=resume, overwrite=overwrite,
        executor=executor, workers=workers, scheduler=scheduler, blas_threads=blas_threads,
        progress=progress)
    # object labels: combining fixed-width strings of different widths truncates them
    parts_ds = [d.assign_coords(train=d.train.astype(object), mode=d["mode"].astype(object))
                for d in parts.values()]
    ds = xr.combine_by_coords(parts_ds, combine_attrs="drop_conflicts", join="outer")
    with np.errstate(all="ignore"):
        # density 1 runs are mode "dense", the others the sparse mode: one value per density
        ds = ds.mean("mode", skipna=True, keep_attrs=True)
    sizes = list(config.sizes)
    ds["n_weights"] = cf(xr.DataArray(int(sum(a * b for a, b in zip(sizes[:-1], sizes[1:])))),
                         "weights in all layers", "1")
    ds.attrs.update(provenance_attrs(analysis="sparse_vs_direct", config=config.to_dict(), sizes=sizes))
    return ds
