"""Neural Tangent Transfer versus the other sparse wirings (Liu and Zenke, ICML 2020).

For each data set and seed, one random dense network (Glorot-normal weights,
N(0, 0.01^2) biases: the NTT teacher, :func:`spectral_physics.ntt.make_teacher`) is the
common starting point. Each wiring masks a copy of it at each density and the masked
network is trained with labels (:func:`spectral_physics.ntt.supervised_phase`: Adam 1e-3,
batch 64) under the fixed mask:

- ``ntt``: Neural Tangent Transfer from that network as teacher (``ntt-global``: one
  magnitude threshold over all layers);
- ``random``, ``scaled-random`` (kept weights times 1/sqrt(density)), ``magnitude``
  (layer-wise largest ``|W|`` at init; ``global-magnitude``: one threshold), ``snip``
  (labelled batch), ``logit-snip`` (label-free), with global scores, and ``snip-layer``,
  ``logit-snip-layer`` with layer-wise scores;
- ``dense``: the unpruned network (one run, reported at every density).

Inputs are standardised with the training set's mean and standard deviation (as in the
reference NTT code) unless ``standardize=False``. Every (data set, seed, wiring, density)
run is one record of a :class:`~spectral_physics.analysis.sweep.store.RunStore`, so an
interrupted comparison resumes where it stopped.

Example
-------
>>> cfg = NTTConfig(datasets=("mnist",), densities=(0.1,), wirings=("ntt", "dense"), n_train=300)
>>> sorted(ntt_runs(cfg))
['mnist_s0_dense_d0.1', 'mnist_s0_ntt_d0.1']
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import xarray as xr

from spectral_physics.ntt import NTT_DEFAULTS

from .._xr import cf, provenance_attrs
from ..sweep.run import _load_data
from ._config import ExperimentConfig, run_experiment

__all__ = ["NTTConfig", "ntt_runs", "ntt_run", "ntt_comparison", "WIRINGS", "EXTRA_WIRINGS"]

WIRINGS = ("ntt", "random", "scaled-random", "magnitude", "snip", "logit-snip", "dense")
#: wirings outside the default comparison: global thresholds for NTT and magnitude, layer-wise SNIP scores
EXTRA_WIRINGS = ("ntt-global", "global-magnitude", "snip-layer", "logit-snip-layer")


@dataclass(frozen=True)
class NTTConfig(ExperimentConfig):
    """Settings of the NTT comparison (grid axes: ``datasets``, ``wirings``, ``densities``, ``seeds``).

    Parameters
    ----------
    sizes : tuple of int
        Layer sizes (default LeNet-300-100).
    ntt_steps : int
        Optimisation steps of the NTT phase.
    epochs : int
        Epochs of the supervised phase.
    kind : {"masked-dense", "sparse"}
        Tangent kernel the NTT loss matches.
    lambda_k, lambda_2 : float
        Weights of the kernel term and the L2 term of the NTT loss.
    tag : str
        Appended to the NTT wiring labels in the output, e.g. ``"[l2=0]"``.
    n_train, n_test : int, optional
        Training / test images used (default all).
    snip_batch : int
        Labelled batch of the SNIP scores.
    standardize : bool
        Standardise inputs with the training statistics (reference NTT code).
    """

    store_kind = "json"  # how its runs are saved (a plain class attribute, not a field)
    store_label = "NTT configuration"

    datasets: tuple[str, ...] = ("mnist", "fashion-mnist")
    densities: tuple[float, ...] = (0.1, 0.03, 0.01)
    wirings: tuple[str, ...] = WIRINGS
    seeds: tuple[int, ...] = (0,)
    sizes: tuple[int, ...] = (784, 300, 100, 10)
    ntt_steps: int = 2000
    epochs: int = 5
    kind: str = "masked-dense"
    lambda_k: float = NTT_DEFAULTS["lambda_k"]
    lambda_2: float = NTT_DEFAULTS["lambda_2"]
    tag: str = ""
    n_train: int | None = None
    n_test: int | None = None
    snip_batch: int = 128
    standardize: bool = True

    def __post_init__(self) -> None:
        self._tuple("datasets", str)
        self._tuple("densities", float, unit=True)
        self._tuple("wirings", str, choices=WIRINGS + EXTRA_WIRINGS)
        self._tuple("seeds", int)
        self._tuple("sizes", int, positive=True, distinct=False)
        for name in ("ntt_steps", "epochs", "snip_batch"):
            self._int(name)
        self._int("n_train", optional=True)
        self._int("n_test", optional=True)
        self._choice("kind", ("masked-dense", "sparse"))
        self._float("lambda_k", positive=False)
        self._float("lambda_2", positive=False)
        if not isinstance(self.standardize, bool):
            self._fail("standardize", "must be true or false")

    def schedule(self) -> dict[str, Any]:
        """The training schedule, as recorded in the Dataset."""
        return {"ntt_steps": self.ntt_steps, "ntt_lr": NTT_DEFAULTS["lr"], "ntt_batch": NTT_DEFAULTS["batch_size"],
                "lambda_k": self.lambda_k, "lambda_2": self.lambda_2, "mask_every": NTT_DEFAULTS["mask_every"],
                "ntt_kernel": self.kind,
                "supervised": {"optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": self.epochs},
                "standardized_inputs": self.standardize, "train_subset": self.n_train,
                "test_subset": self.n_test, "snip_batch": self.snip_batch}


def _key(name: str, seed: int, wiring: str, density: float) -> str:
    return f"{name}_s{seed}_{wiring}_d{density:g}"


def ntt_runs(config: NTTConfig) -> dict[str, dict[str, Any]]:
    """Run key -> task of every (data set, seed, wiring, density) run; ``dense`` runs once per seed."""
    config = NTTConfig.from_dict(config)
    tasks = {}
    for name in config.datasets:
        for seed in config.seeds:
            for wiring in config.wirings:
                for density in (config.densities[:1] if wiring == "dense" else config.densities):
                    tasks[_key(name, seed, wiring, density)] = {
                        "config": config.to_dict(), "dataset": name, "seed": seed, "wiring": wiring,
                        "density": density}
    return tasks


@lru_cache(maxsize=2)
def _data(name: str, n_train: int | None, n_test: int | None, standardize: bool, root: str | None):
    data = _load_data(name, n_train, 0, n_test, root)
    return data.standardized() if standardize else data


def ntt_run(task: dict[str, Any]) -> dict[str, Any]:
    """One wiring at one density, then supervised training: the unit of work of :func:`ntt_comparison`.

    Returns
    -------
    dict
        ``test_accuracy``, ``seconds`` (wiring search plus supervised training),
        ``ntt_val_loss`` (``[start, end]`` of the NTT phase, NaN for other wirings) and
        ``message`` (why a wiring could not be built, e.g. a global score leaving a layer
        empty; then the accuracy is NaN).
    """
    from spectral_physics.ntt import make_teacher, neural_tangent_transfer, supervised_phase
    from spectral_physics.sparse import apply_masks, logit_snip_masks, make_masks, snip_masks

    a = NTTConfig.from_dict(task["config"])
    name, seed, wiring, density = task["dataset"], int(task["seed"]), task["wiring"], float(task["density"])
    data = _data(name, a.n_train, a.n_test, a.standardize, task.get("data_root"))
    base = make_teacher(list(a.sizes), seed=seed)
    pick = np.random.default_rng(seed).choice(data.n_train, a.snip_batch, replace=False)
    xs, ys = data.x_train[pick], data.y_train[pick]
    t0 = time.perf_counter()
    val_loss = [float("nan"), float("nan")]
    if wiring in ("ntt", "ntt-global"):
        res = neural_tangent_transfer(base, data.x_train, density, steps=a.ntt_steps, kind=a.kind, seed=seed,
                                      progress=False, lambda_k=a.lambda_k, lambda_2=a.lambda_2,
                                      scope="global" if wiring == "ntt-global" else "layer")
        net = res.student
        val_loss = [float(res.history["val_loss"][0]), float(res.history["val_loss"][-1])]
    else:
        net = base.copy()
        if wiring != "dense":
            try:
                if wiring == "snip-layer":
                    masks = snip_masks(net, xs, ys, density, scope="layer")
                elif wiring == "logit-snip-layer":
                    masks = logit_snip_masks(net, xs, density, scope="layer")
                else:
                    masks = make_masks(wiring, net, density, x=xs, y=ys, seed=seed)
                apply_masks(net, masks, rescale=wiring == "scaled-random")
            except ValueError as exc:  # e.g. a global score leaving a layer empty
                return {"test_accuracy": float("nan"), "seconds": float("nan"), "ntt_val_loss": val_loss,
                        "message": str(exc)}
    supervised_phase(net, data, epochs=a.epochs, seed=seed, progress=False)
    acc = float(net.accuracy(data.x_test, data.y_test))
    return {"test_accuracy": acc, "seconds": time.perf_counter() - t0, "ntt_val_loss": val_loss, "message": ""}


def ntt_comparison(config: NTTConfig | dict[str, Any], results_dir: str | os.PathLike, *, resume: bool = True,
                   overwrite: bool = False, data_root: str | os.PathLike | None = None, executor=None,
                   workers: int | None = 1, scheduler: str | None = None, blas_threads: int | None = None,
                   progress: bool = True) -> xr.Dataset:
    """Run (or resume) the NTT comparison and return its Dataset.

    Parameters
    ----------
    config : NTTConfig or mapping
    results_dir : path
        One JSON record per finished run (a :class:`RunStore`).
    resume, overwrite, data_root, executor, workers, scheduler, blas_threads, progress
        As in :func:`~spectral_physics.analysis.experiments.sparse.sparse_vs_direct`.

    Returns
    -------
    xarray.Dataset
        Dims ``dataset``, ``wiring``, ``density``, ``seed``: ``test_accuracy``,
        ``train_seconds``; ``ntt_val_loss`` with a ``stage`` dim (start, end).
    """
    config = NTTConfig.from_dict(config)
    recs = run_experiment(config, ntt_run, ntt_runs(config), results_dir,
        desc="NTT comparison",
        data_root=data_root, resume=resume, overwrite=overwrite,
        executor=executor, workers=workers, scheduler=scheduler, blas_threads=blas_threads,
        progress=progress)
    names, wirings, dens, seeds = config.datasets, config.wirings, config.densities, config.seeds
    shape = (len(names), len(wirings), len(dens), len(seeds))
    acc, secs = np.full(shape, np.nan), np.full(shape, np.nan)
    loss = np.full((*shape, 2), np.nan)
    for i, name in enumerate(names):
        for s_i, seed in enumerate(seeds):
            for w_i, wiring in enumerate(wirings):
                for d_i, density in enumerate(dens):
                    rec = recs[_key(name, seed, wiring, dens[0] if wiring == "dense" else density)]
                    acc[i, w_i, d_i, s_i], secs[i, w_i, d_i, s_i] = rec["test_accuracy"], rec["seconds"]
                    loss[i, w_i, d_i, s_i] = rec["ntt_val_loss"]
    labels = [w + config.tag if w.startswith("ntt") else w for w in wirings]
    dims = ("dataset", "wiring", "density", "seed")
    ds = xr.Dataset(coords={"dataset": list(names), "wiring": labels, "density": list(dens), "seed": list(seeds)})
    ds["test_accuracy"] = cf(xr.DataArray(acc, dims=dims), "test accuracy after supervised training", "1")
    ds["train_seconds"] = cf(xr.DataArray(secs, dims=dims), "wall time of wiring search plus supervised training",
                             "s")
    ds["ntt_val_loss"] = cf(xr.DataArray(loss, dims=dims + ("stage",), coords={"stage": ["start", "end"]}),
                            "NTT validation loss before and after transfer (NaN for other wirings)", "1")
    ds["density"].attrs.update(long_name="kept fraction of the weights of every layer", units="1")
    ds.attrs.update(provenance_attrs(
        analysis="ntt_comparison", architecture=list(config.sizes), schedule=config.schedule(),
        config=config.to_dict(), comment="dense wiring: density 1 network, stored at every density"))
    return ds
