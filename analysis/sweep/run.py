"""The presets sweep: one training run per grid point, its seeds as one ensemble.

:func:`run_sweep` turns a :class:`~spectral_physics.analysis.sweep.spec.SweepSpec` into
one task per grid point and runs them through
:func:`~spectral_physics.analysis.sweep.execute.run_tasks` into a
:class:`~spectral_physics.analysis.sweep.store.RunStore` (``point-NNNNNN.json`` files and
a ``sweep.json`` manifest); :func:`assemble` combines them into the sweep Dataset.

How a point runs
----------------
* The seeds of one grid point train together as one ensemble
  (``SpectralMLP(sizes, seed=seeds)``): one batched matrix product per layer and step,
  each member with its own initialisation and data order, and the same numbers as
  training the members one by one (bit for bit on NumPy; see the tests). With the spec
  key ``shared_data_order = true`` the seeds vary the initialisation only: every member
  sees the data order of ``data_seed`` and the first layer's products of all members are
  one larger product (``fit(..., shared_order=True)``). When an
  ensemble diverges, the members the error names are marked ``status = 1`` with NaN
  metrics and the others are retrained together.
* Grid points are tasks submitted to a :class:`concurrent.futures.Executor`: a local
  process pool by default, ``client.get_executor()`` of a ``dask.distributed.Client``
  for a cluster (``scheduler="tcp://host:port"``), or any executor you pass.
* ``resume=True`` reuses every point file whose contents match the spec (identity and
  one value per seed for every metric) and recomputes only the missing ones.
"""

from __future__ import annotations

import concurrent.futures as cf_futures
import math
import os
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._xr import cf, provenance_attrs, write_netcdf
from .execute import run_tasks
from .spec import SweepPoint, SweepSpec, load_spec
from .store import RunStore

__all__ = [
    "run_point",
    "run_sweep",
    "pending_points",
    "assemble",
    "sweep_store",
    "STATUS_MISSING",
    "STATUS_OK",
    "STATUS_DIVERGED",
]

STATUS_MISSING, STATUS_OK, STATUS_DIVERGED = -1, 0, 1
_FORMAT = 1  # version of the point-record layout
_PER_SEED = ("test_accuracy", "final_loss", "train_time", "status", "message")


@lru_cache(maxsize=4)
def _load_data(name: str, subset: int | None, data_seed: int, n_test: int | None, root: str | None):
    from spectral_physics.datasets import load_dataset

    data = load_dataset(name, root=root)
    if subset is not None or n_test is not None:
        data = data.subset(subset if subset is not None else data.n_train, seed=data_seed, n_test=n_test)
    return data


#: topology turnover of sparse points (TopologyTurnover's history keys): name -> (long_name, comment)
_TURNOVER = {
    "mask_flips": ("mask entries changed over the last epoch, summed over layers",
                   "net change between the masks at the start and the end of the epoch; NaN without sparsity"),
    "mask_step_flips": ("mask entries changed between consecutive steps of the last epoch, summed over "
                        "layers and steps", "counts entries that leave and come back; NaN without sparsity"),
}


def _train(params: dict[str, Any], seeds: list[int], data, device, ensemble: bool, order_seed: int | None = None):
    """Train one network (``ensemble=False``, one seed) or an ensemble; returns metrics per member.

    ``order_seed``: one data-order seed shared by every member (``fit(..., shared_order=True)``);
    ``None``: each member's own seed.
    """
    from spectral_physics import SpectralMLP, fit
    from spectral_physics.sparse import TopologyTurnover

    sizes = [data.n_features, *params["hidden"], data.n_classes]
    net = SpectralMLP(sizes, train=params["train"], activation=params["activation"],
                      seed=list(seeds) if ensemble else seeds[0], device=device, dtype=params["dtype"],
                      init=params["init"], bias=params["bias"])
    callbacks = []
    if params["sparsity"]:
        for layer in net.layers:
            layer.sparsity = params["sparsity"]
        callbacks.append(TopologyTurnover(per_step=True))  # annotates the history records
    x, y, xt, yt = data.x_train, data.y_train, data.x_test, data.y_test
    if ensemble:
        # members share the test set: one copy on the network's device (in its dtype) and a
        # read-only broadcast view of it there; broadcasting on the host first would make
        # the move to a GPU copy the test set once per member, on the host and on the device
        from spectral_physics.backend import to_device

        e = len(seeds)
        xt, yt = to_device(xt, net.device, net.dtype), to_device(yt, net.device)
        xt, yt = net.xp.broadcast_to(xt, (e, *xt.shape)), net.xp.broadcast_to(yt, (e, *yt.shape))
    with np.errstate(over="ignore", invalid="ignore"):
        order = {} if order_seed is None else {"seed": int(order_seed), "shared_order": True}
        hist = fit(net, (x, y), epochs=params["epochs"], batch_size=params["batch_size"],
                   optimizer=params["optimizer"], lr=params["lr"], progress=False, callbacks=callbacks, **order)
        acc = np.atleast_1d(np.asarray(net.accuracy(xt, yt), dtype=np.float64))
    loss = np.atleast_1d(np.asarray(hist.records[-1]["loss"], dtype=np.float64)) if hist.records else \
        np.full(len(seeds), np.nan)
    seconds = sum(r["seconds"] for r in hist.records) / len(seeds)
    ok = np.isfinite(loss) & np.isfinite(acc)
    last = hist.records[-1] if hist.records else {}
    turnover = {k: np.atleast_1d(np.asarray(last.get(k, np.nan), dtype=np.float64)) * np.ones(len(seeds))
                for k in _TURNOVER}
    return acc, loss, seconds, net.n_trainable, sizes, ok, turnover


def _exact_ensembles(device) -> bool:
    """Whether an ensemble member trains bit for bit as it would alone (NumPy; not CuPy)."""
    from spectral_physics.backend import resolve_device

    return resolve_device(device) == "cpu"


def run_point(task: Mapping[str, Any]) -> dict[str, Any]:
    """Train every seed of one grid point; the unit of work sent to an executor.

    Parameters
    ----------
    task : mapping
        ``index``, ``params`` (full run settings), ``seeds``, ``data`` (``name``, ``subset``,
        ``data_seed``, ``n_test``, ``root``), ``device``, ``ensemble`` (train the seeds as one
        ensemble) and, optionally,
        ``order_seed`` (one data-order seed for every member; absent or None: each seed's own).
        ``fail`` (testing only) raises after the work is done,
        as a crashed worker would, before anything is returned.

    Returns
    -------
    dict
        JSON-serialisable record: the task's identity plus, per seed, ``test_accuracy``,
        ``final_loss``, ``train_time`` (s; an ensemble's time is split evenly between its
        members), ``status`` and ``message``; and ``n_trainable``, ``n_trainable_direct``,
        ``sizes``.
    """
    from spectral_physics.layers import trainable_count
    from spectral_physics.train import DivergenceError

    params, seeds = dict(task["params"]), [int(s) for s in task["seeds"]]
    d = task["data"]
    data = _load_data(d["name"], d["subset"], d["data_seed"], d["n_test"], d["root"])
    n = len(seeds)
    acc, loss, secs = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    turnover = {k: np.full(n, np.nan) for k in _TURNOVER}
    status, message = [STATUS_OK] * n, [""] * n
    groups = [list(range(n))] if task.get("ensemble", True) and n > 1 else [[i] for i in range(n)]
    order_seed = task.get("order_seed")
    order = {} if order_seed is None else {"order_seed": int(order_seed)}
    sizes = [data.n_features, *params["hidden"], data.n_classes]
    n_trainable = None
    while groups:
        grp = groups.pop(0)
        try:
            a, l_, s, n_trainable, sizes, ok, turn = _train(params, [seeds[i] for i in grp], data,
                                                            task.get("device"), ensemble=len(grp) > 1,
                                                            **order)
        except DivergenceError as exc:
            if len(grp) > 1:
                named = [grp[j] for j in exc.members or []]
                rest = [i for i in grp if i not in named]
                # On NumPy a member trains bit for bit as it would alone, so the named members
                # diverge alone too; CuPy's batched products may round differently, so there
                # (and when the error names nobody) they are retrained alone to confirm.
                # (a shared order's one first-layer product is not checked bit for bit: retrain too)
                if not named or order_seed is not None or not _exact_ensembles(task.get("device")):
                    groups[:0] = [[i] for i in (named or grp)] + ([rest] if named and rest else [])
                    continue
                if rest:
                    groups.insert(0, rest)
            else:
                named = grp
            losses = exc.loss if isinstance(exc.loss, list) else [exc.loss]
            for i in named:
                j = grp.index(i)
                message[i] = (f"seed {seeds[i]}: training diverged at epoch {exc.epoch}, step {exc.step} "
                              f"(loss {losses[j] if j < len(losses) else losses[0]})")
            grp = named
            a, l_, s = np.full(len(grp), np.nan), np.full(len(grp), np.nan), np.nan
            ok = np.zeros(len(grp), bool)
            turn = {}
        for j, i in enumerate(grp):
            if ok[j]:
                acc[i], loss[i], secs[i] = a[j], l_[j], s
                for k, v in turn.items():
                    turnover[k][i] = v[j]
            else:
                status[i] = STATUS_DIVERGED
                message[i] = message[i] or "non-finite loss or accuracy after training"
    if n_trainable is None:
        n_trainable = sum(trainable_count(params["train"], i, o, params["bias"])
                          for i, o in zip(sizes[:-1], sizes[1:]))
    direct = sum(trainable_count("direct", i, o, params["bias"]) for i, o in zip(sizes[:-1], sizes[1:]))
    if task.get("fail"):
        raise RuntimeError(f"simulated worker failure at point {task['index']}")
    return {
        "point_format": _FORMAT, "index": int(task["index"]),
        "params": params, "seeds": seeds, "sizes": [int(s) for s in sizes],
        "test_accuracy": acc.tolist(), "final_loss": loss.tolist(), "train_time": secs.tolist(),
        "status": status, "message": message,
        "n_trainable": int(n_trainable), "n_trainable_direct": int(direct),
        **{k: v.tolist() for k, v in turnover.items()},
    }


def point_key(index: int) -> str:
    """The run-store key of grid point ``index`` (its point file is ``<key>.json``)."""
    return f"point-{index:06d}"


def sweep_store(spec: SweepSpec | Mapping | str | os.PathLike, results_dir: str | os.PathLike) -> RunStore:
    """The (unopened) run store of a sweep's point files in ``results_dir``."""
    spec = load_spec(spec)
    return RunStore(results_dir, fingerprint=spec.fingerprint(), kind="json", manifest_name="sweep.json",
                    label="sweep spec", manifest={"spec": spec.to_dict(), "n_points": math.prod(spec.shape)})


def _validator(spec: SweepSpec, point: SweepPoint) -> Callable[[dict[str, Any]], bool]:
    n = len(spec.seeds)

    def valid(rec: dict[str, Any]) -> bool:
        return (rec.get("point_format") == _FORMAT and rec.get("index") == point.index
                and rec.get("seeds") == spec.seeds and rec.get("params") == point.params
                and all(isinstance(rec.get(k), list) and len(rec[k]) == n for k in _PER_SEED)
                and all(isinstance(rec.get(k), int) for k in ("n_trainable", "n_trainable_direct")))

    return valid


def pending_points(spec: SweepSpec | Mapping | str | os.PathLike, results_dir: str | os.PathLike) -> list[int]:
    """Indices of the grid points without a valid result file in ``results_dir``."""
    spec = load_spec(spec)
    store = sweep_store(spec, results_dir)
    return [p.index for p in spec.points() if store.load(point_key(p.index), _validator(spec, p)) is None]


def run_sweep(
    spec: SweepSpec | Mapping[str, Any] | str | os.PathLike,
    results_dir: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    executor: cf_futures.Executor | None = None,
    ensemble: bool = True,
    blas_threads: int | None = None,
    progress: bool = True,
    on_point: Callable[[dict[str, Any]], None] | None = None,
    device: str | None = None,
    _fail_points: Sequence[int] = (),
) -> xr.Dataset:
    """Run every missing grid point of a sweep and return the combined Dataset.

    Parameters
    ----------
    spec : SweepSpec, mapping or path to a TOML file
    results_dir : path
        Folder of per-point result files (created if missing).
    out : path, optional
        Also write the combined Dataset here (netCDF, atomically).
    resume : bool
        Reuse valid point files already in ``results_dir``; recompute only missing points.
    overwrite : bool
        Delete existing point files first.
    workers, scheduler, client
        Choose the executor (see :func:`make_executor`); ignored when ``executor`` is given.
        Without any of them a GPU sweep runs one local worker per GPU (in this process for
        one GPU), a CPU sweep one per core.
    executor : concurrent.futures.Executor, optional
        Any executor; left open.
    ensemble : bool
        Train the seeds of a point as one ensemble (default) or one after another. The
        numbers are the same; only the time differs.
    blas_threads : int, optional
        BLAS threads per task (through threadpoolctl). Default: pool workers start with one
        (``OPENBLAS_NUM_THREADS=1`` etc.), in-process runs keep the library's default. On a
        shared or busy machine ``1`` avoids oversubscription, which can slow small runs
        tenfold.
    progress : bool
        tqdm bar over points.
    on_point : callable, optional
        Called with each new point record once its file is written.
    device : {"cpu", "gpu"}, optional
        Where every point trains, overriding the spec's ``device`` (which the fingerprint
        leaves out, so the point files stay valid). ``None``: the spec's, and where the spec
        has none, ``SPECTRAL_PHYSICS_DEVICE`` (default ``cpu``), read now.

    Returns
    -------
    xarray.Dataset
        See :func:`assemble`.

    Raises
    ------
    Exception
        The first error from a worker, after the points finished so far are written;
        ``resume=True`` continues from there.
    """
    from spectral_physics import config

    spec = load_spec(spec)
    # resolved here, once: the workers train where this process decided, whatever their environment
    device = config.get("SPECTRAL_PHYSICS_DEVICE", device if device is not None else spec.device,
                        argument="device")
    fail = set(int(i) for i in _fail_points)
    data = {"name": spec.fixed.get("dataset"), "subset": spec.fixed.get("subset"),
            "data_seed": spec.data_seed, "n_test": spec.n_test, "root": spec.data_root}
    points = spec.points()
    tasks = {point_key(p.index): {
        "index": p.index, "params": p.params, "seeds": spec.seeds,
        "data": {**data, "name": p.params["dataset"], "subset": p.params["subset"]},
        "device": device, "ensemble": ensemble, "fail": p.index in fail,
        **({"order_seed": spec.data_seed} if spec.shared_data_order else {}),
    } for p in points}
    checks = {point_key(p.index): _validator(spec, p) for p in points}

    def validate(rec: dict[str, Any]) -> bool:
        return checks[rec["key"]](rec)

    with sweep_store(spec, results_dir).open(resume=resume, overwrite=overwrite) as store:
        run_tasks(run_point, tasks, store, executor=executor, workers=workers, scheduler=scheduler,
                  client=client, validate=validate, progress=progress, desc=spec.name,
                  on_result=None if on_point is None else (lambda key, rec: on_point(rec)), device=device,
                  blas_threads=blas_threads)
        ds = assemble(spec, results_dir)
    if out is not None:
        write_netcdf(ds, out)
    return ds


def assemble(spec: SweepSpec | Mapping | str | os.PathLike, results_dir: str | os.PathLike, *,
             allow_missing: bool = False) -> xr.Dataset:
    """Combine the point files of a sweep into one Dataset.

    Parameters
    ----------
    spec : SweepSpec, mapping or TOML path
    results_dir : path
    allow_missing : bool
        Fill points without a file with NaN and ``status = -1`` instead of raising.

    Returns
    -------
    xarray.Dataset
        Dims: the spec's axes, then ``seed``. Variables: ``test_accuracy``,
        ``relative_accuracy`` (to ``train="direct"`` at the same other coordinates and
        seed), ``final_loss``, ``train_time`` (dims axes + seed); ``n_trainable``,
        ``trainable_ratio`` (to ``direct`` at the same sizes) (dims axes); ``status``
        (int8; 0 ok, 1 diverged, -1 missing); where any point is sparse, the topology
        turnover of the last epoch, ``mask_flips`` and ``mask_step_flips`` (dims axes + seed,
        NaN at dense points). CF attributes; provenance as JSON strings.
    """
    spec = load_spec(spec)
    results_dir = Path(results_dir)
    shape = spec.shape
    n_seed = len(spec.seeds)
    acc = np.full((*shape, n_seed), np.nan)
    loss = np.full((*shape, n_seed), np.nan)
    secs = np.full((*shape, n_seed), np.nan)
    status = np.full((*shape, n_seed), STATUS_MISSING, dtype=np.int8)
    n_tr = np.zeros(shape, dtype=np.int64)
    n_direct = np.zeros(shape, dtype=np.int64)
    turnover = {k: np.full((*shape, n_seed), np.nan) for k in _TURNOVER}
    missing = []
    store = sweep_store(spec, results_dir)
    for p in spec.points():
        rec = store.load(point_key(p.index), _validator(spec, p))
        idx = np.unravel_index(p.index, shape)
        if rec is None:
            missing.append(p.index)
            continue
        acc[idx] = rec["test_accuracy"]
        loss[idx] = rec["final_loss"]
        secs[idx] = rec["train_time"]
        status[idx] = rec["status"]
        n_tr[idx] = rec["n_trainable"]
        n_direct[idx] = rec["n_trainable_direct"]
        for k, arr in turnover.items():
            arr[idx] = [np.nan if v is None else v for v in rec.get(k, [None] * n_seed)]
    if missing and not allow_missing:
        raise ValueError(f"{len(missing)} of {math.prod(shape)} points have no result in {results_dir} "
                         f"(first: {missing[:5]}); run the sweep with resume=True")
    dims = (*spec.dims, "seed")
    coords: dict[str, Any] = {k: (k, np.asarray(v)) for k, v in spec.coords().items()}
    coords["seed"] = ("seed", np.asarray(spec.seeds, dtype=np.int64))
    ds = xr.Dataset(coords=coords)
    for k in spec.dims:
        desc = {"train": ("trained parameter set (preset)", "1"), "hidden": ("hidden-layer sizes", "1"),
                "lr": ("learning rate", "1"), "sparsity": ("dynamic sparsity percentile", "1")}
        long_name, units = desc.get(k, (k.replace("_", " "), "1"))
        cf(ds[k], long_name, units)
    cf(ds["seed"], "initialisation and data-order seed", "1")
    ds["test_accuracy"] = cf(xr.DataArray(acc, dims=dims), "test accuracy", "1")
    ds["final_loss"] = cf(xr.DataArray(loss, dims=dims), "mean training cross-entropy in the last epoch", "1")
    ds["train_time"] = cf(
        xr.DataArray(secs, dims=dims), "training time per network", "s",
        comment="optimisation steps only; an ensemble's time is divided evenly between its members",
    )
    st = xr.DataArray(status, dims=dims)
    # flag_values is left out: the shared netCDF writer turns array attributes into JSON strings
    st.attrs.update(long_name="run status", units="1", flag_meanings="missing ok diverged",
                    comment="-1 missing (no result file), 0 ok, 1 diverged (metrics NaN)")
    ds["status"] = st
    masked = status != STATUS_OK
    ds["test_accuracy"] = ds["test_accuracy"].where(~masked)
    ds["n_trainable"] = cf(xr.DataArray(np.where(n_tr > 0, n_tr, 0), dims=spec.dims),
                           "trainable parameters per network", "1")
    ratio = np.where(n_direct > 0, n_tr / np.maximum(n_direct, 1), np.nan)
    ds["trainable_ratio"] = cf(
        xr.DataArray(ratio, dims=spec.dims), "trainable-parameter ratio to direct training", "1",
        comment="n_trainable / n_trainable of train='direct' with the same layer sizes (biases included)",
    )
    ds["relative_accuracy"] = cf(
        xr.DataArray(_relative(ds, spec.fixed.get("train")), dims=dims),
        "test accuracy relative to direct training", "1",
        comment="test_accuracy / test_accuracy of train='direct' at the same other coordinates and seed; "
                "NaN when 'direct' is not among the swept presets",
    )
    names = ["test_accuracy", "relative_accuracy", "trainable_ratio", "n_trainable", "train_time",
             "final_loss", "status"]
    if any(p.params["sparsity"] for p in spec.points()):
        for k, (long_name, comment) in _TURNOVER.items():
            ds[k] = cf(xr.DataArray(turnover[k], dims=dims), long_name, "1", comment=comment)
            names.append(k)
    ds = ds[names]
    ds.attrs.update(provenance_attrs(
        title=f"compression-versus-accuracy sweep: {spec.name}",
        analysis="phase_diagram", spec=spec.to_dict(), seeds=spec.seeds, threshold=spec.threshold,
        spec_fingerprint=spec.fingerprint(),
    ))
    return ds


def _relative(ds: xr.Dataset, fixed_train: str | None) -> np.ndarray:
    acc = ds["test_accuracy"]
    if "train" in ds.dims:
        if "direct" not in ds["train"].values:
            return np.full(acc.shape, np.nan)
        ref = acc.sel(train="direct")
        return (acc / ref).transpose(*acc.dims).values
    if fixed_train == "direct":
        return np.where(np.isfinite(acc.values), 1.0, np.nan)
    return np.full(acc.shape, np.nan)
