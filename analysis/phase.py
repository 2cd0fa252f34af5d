"""Compression-versus-accuracy phase diagrams: sweeps over training settings as xarray Datasets.

A *sweep* is a grid of training runs over control parameters (preset, hidden size,
learning rate, ...) with several seeds per grid point. Its outcome is an
``xarray.Dataset`` with one dimension per swept parameter plus ``seed``. The *phase
boundary* is where the accuracy relative to direct-space training at the same size
crosses a threshold (e.g. 0.99), interpolated along the compression axis.

Example
-------
>>> from spectral_physics.analysis.phase import SweepSpec, run_sweep, phase_boundary
>>> spec = SweepSpec.from_dict({
...     "dataset": "teacher-student", "subset": 500, "epochs": 1, "seeds": [0, 1, 2],
...     "axes": {"train": ["direct", "eigen"], "hidden": [8, 32]},
...     "fixed": {"lr": 0.01, "batch_size": 50},
... })
>>> len(spec.points()), spec.dims
(4, ('train', 'hidden'))
>>> ds = run_sweep(spec, "sweep.points", workers=1, progress=False)  # doctest: +SKIP
>>> ds.test_accuracy.dims                                            # doctest: +SKIP
('train', 'hidden', 'seed')
>>> phase_boundary(ds, threshold=0.99).boundary_ratio                # doctest: +SKIP

How a sweep runs
----------------
* The seeds of one grid point train together as one ensemble
  (``SpectralMLP(sizes, seed=seeds)``): one batched matrix product per layer and step,
  each member with its own initialisation and data order, and the same numbers as
  training the members one by one (bit for bit on NumPy; see the tests). When an
  ensemble diverges, the members the error names are marked ``status = 1`` with NaN
  metrics and the others are retrained together.
* Grid points are tasks submitted to a :class:`concurrent.futures.Executor`: a local
  process pool by default, ``client.get_executor()`` of a ``dask.distributed.Client``
  for a cluster (``scheduler="tcp://host:port"``), or any executor you pass.
* Each finished point is written to ``<results_dir>/point-NNNNNN.json`` (temporary
  file, then ``os.replace``) by the process that submitted it, before it counts as
  done; workers need no shared file system. ``resume=True`` reuses every point file
  whose contents match the spec and recomputes only the missing ones.
* :func:`assemble` builds the Dataset from the point files: CF attributes, and the
  spec, seeds, package versions and git revision as JSON-string attributes.
"""

from __future__ import annotations

import concurrent.futures as cf_futures
import contextlib
import copy
import difflib
import hashlib
import itertools
import json
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from spectral_physics.analysis._xr import cf, provenance_attrs, to_json, write_netcdf

__all__ = [
    "SweepSpecError",
    "SweepSpec",
    "SweepPoint",
    "EXAMPLE_SPEC",
    "load_spec",
    "run_point",
    "make_executor",
    "SerialExecutor",
    "pending_points",
    "run_sweep",
    "assemble",
    "phase_boundary",
    "boundary_crossing",
    "phase_diagram_data",
    "STATUS_MISSING",
    "STATUS_OK",
    "STATUS_DIVERGED",
]

STATUS_MISSING, STATUS_OK, STATUS_DIVERGED = -1, 0, 1
_FORMAT = 1  # version of the point-file layout

EXAMPLE_SPEC = """\
# Phase-diagram sweep for `spectral-physics sweep SPEC.toml --out diagram.nc`.
# Every key of [axes] becomes one dimension of the output Dataset (plus `seed`).
# Any run setting may sit at the top level, in [fixed], or in [axes] (not twice).

dataset = "mnist"        # mnist | fashion-mnist | cifar10 | teacher-student
subset = 2000            # optional: training examples used (a seeded subset; data_seed picks it)
# n_test = 10000         # optional: test examples used (default: the whole test set)
# data_seed = 0          # seed of the subset draw; every grid point and seed sees the same data
epochs = 1
seeds = [0, 1]           # or an integer n for seeds 0..n-1; the seeds of a point train as one ensemble
# threshold = 0.99       # relative accuracy defining the phase boundary

[axes]
train = ["direct", "eigen"]   # presets: direct, eigen-out, eigen, spectral, svd, qr
hidden = [32, 64]             # one hidden layer per value; a list of lists for deeper nets, e.g. [[64, 64]]

[fixed]
activation = "relu"      # relu | tanh | elu | identity
lr = 0.001
batch_size = 200
# optimizer = "adam"     # adam | adamax | sgd
# init = "default"       # default | paper
# bias = true
# sparsity = 0.0         # dynamic percentile mask p in [0, 1) on every layer; records mask turnover
# dtype = "float32"
"""

# run settings: name -> default (None: required)
_PARAM_DEFAULTS: dict[str, Any] = {
    "train": "spectral",
    "hidden": None,
    "activation": "relu",
    "optimizer": "adam",
    "lr": 1e-3,
    "batch_size": 200,
    "epochs": 1,
    "init": "default",
    "bias": True,
    "sparsity": 0.0,
    "dtype": "float32",
    "dataset": "mnist",
    "subset": None,
}
# sweep-level keys that cannot be axes
_META_KEYS = ("seeds", "axes", "fixed", "name", "threshold", "data_seed", "n_test", "data_root", "device")


class SweepSpecError(ValueError):
    """An invalid sweep specification; the message names the offending key."""


# --------------------------------------------------------------------------------------
# Specification
# --------------------------------------------------------------------------------------


def _suggest(key: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_num(v: Any) -> bool:
    return _is_int(v) or (isinstance(v, (float, np.floating)) and math.isfinite(v))


def _check_value(key: str, v: Any, where: str) -> Any:
    """Validate and normalise one value of a run setting."""
    from spectral_physics.activations import ACTIVATIONS
    from spectral_physics.layers import INITS, parse_train
    from spectral_physics.optim import OPTIMIZERS

    def bad(msg: str) -> SweepSpecError:
        return SweepSpecError(f"{where}: {msg}, got {v!r}")

    if key == "train":
        if not isinstance(v, str):
            raise bad("must be a preset name")
        try:
            return parse_train(v)[0]
        except ValueError as exc:
            raise SweepSpecError(f"{where}: {exc}") from None
    if key == "hidden":
        if _is_int(v):
            v = [v]
        if not isinstance(v, (list, tuple)) or not v or not all(_is_int(h) and h >= 1 for h in v):
            raise bad("must be a positive integer or a non-empty list of positive integers")
        return [int(h) for h in v]
    if key in ("activation", "optimizer", "init", "dtype", "dataset"):
        choices = {
            "activation": tuple(ACTIVATIONS), "optimizer": tuple(OPTIMIZERS), "init": INITS,
            "dtype": ("float32", "float64"), "dataset": None,
        }[key]
        if not isinstance(v, str) or not v:
            raise bad("must be a non-empty string")
        if choices is not None and v not in choices:
            raise bad(f"must be one of {sorted(choices)}")
        return v
    if key == "lr":
        if not _is_num(v) or v <= 0:
            raise bad("must be a positive number")
        return float(v)
    if key in ("batch_size", "epochs"):
        if not _is_int(v) or v < 1:
            raise bad("must be an integer >= 1")
        return int(v)
    if key == "subset":
        if v is not None and (not _is_int(v) or v < 1):
            raise bad("must be an integer >= 1")
        return None if v is None else int(v)
    if key == "bias":
        if not isinstance(v, (bool, np.bool_)):
            raise bad("must be true or false")
        return bool(v)
    if key == "sparsity":
        if not _is_num(v) or not 0.0 <= v < 1.0:
            raise bad("must be a number in [0, 1)")
        return float(v)
    raise SweepSpecError(f"{where}: unknown setting")  # pragma: no cover - keys checked before


def _axis_labels(key: str, values: Sequence[Any]) -> list[Any]:
    """Coordinate labels of an axis (netCDF-friendly): ``hidden`` as ints for one hidden
    layer, else as strings like ``"64-64"``; booleans as 0/1."""
    if key == "hidden":
        if all(len(v) == 1 for v in values):
            return [v[0] for v in values]
        return ["-".join(str(h) for h in v) for v in values]
    if key == "bias":
        return [int(v) for v in values]
    return list(values)


@dataclass(frozen=True)
class SweepPoint:
    """One grid point: its flat index, axis coordinates and full run settings."""

    index: int
    coords: dict[str, Any]
    params: dict[str, Any]


class SweepSpec:
    """A validated sweep specification.

    Build with :meth:`from_dict`, :meth:`from_toml` or :func:`load_spec`; every problem
    (unknown key, empty axis, repeated value, bad value, a preset that the core rejects in
    combination with a swept value) raises :class:`SweepSpecError` naming the key.

    Attributes
    ----------
    axes : dict of str to list
        Swept settings in spec order, normalised values (``hidden`` as lists of ints).
    fixed : dict of str to Any
        Every other run setting (defaults filled in).
    seeds : list of int
    dims : tuple of str
        Dataset dimensions before ``seed`` (the axis names).
    threshold : float
        Relative accuracy defining the phase boundary.
    data_seed, n_test, data_root, device, name
        Data subset seed, number of test examples (None: all), data directory (None: the
        default search), device (None: ``SPECTRAL_PHYSICS_DEVICE``), a label.
    """

    def __init__(self, axes, fixed, seeds, *, threshold=0.99, data_seed=0, n_test=None,
                 data_root=None, device=None, name="phase-diagram"):
        self.axes: dict[str, list[Any]] = axes
        self.fixed: dict[str, Any] = fixed
        self.seeds: list[int] = seeds
        self.threshold = threshold
        self.data_seed = data_seed
        self.n_test = n_test
        self.data_root = data_root
        self.device = device
        self.name = name

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> SweepSpec:
        """Validate a spec given as a (TOML-shaped) mapping; see :data:`EXAMPLE_SPEC`."""
        if not isinstance(spec, Mapping):
            raise SweepSpecError(f"spec must be a mapping (a TOML document), got {type(spec).__name__}")
        allowed_top = set(_PARAM_DEFAULTS) | set(_META_KEYS)
        for key in spec:
            if key not in allowed_top:
                raise SweepSpecError(
                    f"unknown key {key!r}{_suggest(key, allowed_top)}; allowed: {sorted(allowed_top)}"
                )
        axes_in = spec.get("axes", {})
        fixed_in = spec.get("fixed", {})
        for section, table in (("axes", axes_in), ("fixed", fixed_in)):
            if not isinstance(table, Mapping):
                raise SweepSpecError(f"[{section}] must be a table, got {table!r}")
            for key in table:
                if key not in _PARAM_DEFAULTS:
                    hint = " (a sweep-level key: put it at the top level)" if key in _META_KEYS else \
                        _suggest(key, _PARAM_DEFAULTS)
                    raise SweepSpecError(
                        f"unknown key {section}.{key!r}{hint}; allowed: {sorted(_PARAM_DEFAULTS)}"
                    )
        if not axes_in:
            raise SweepSpecError("[axes] must name at least one swept setting, e.g. train = [\"direct\", \"eigen\"]")

        # every run setting is given at most once: top level, [fixed] or [axes]
        where: dict[str, str] = {}
        for section, keys in (("top level", [k for k in spec if k in _PARAM_DEFAULTS]),
                              ("[fixed]", list(fixed_in)), ("[axes]", list(axes_in))):
            for key in keys:
                if key in where:
                    raise SweepSpecError(f"{key!r} is given both at {where[key]} and in {section}; keep one")
                where[key] = section

        axes: dict[str, list[Any]] = {}
        for key, values in axes_in.items():
            if not isinstance(values, (list, tuple)):
                raise SweepSpecError(f"axes.{key} must be a list of values, got {values!r}")
            if len(values) == 0:
                raise SweepSpecError(f"axes.{key} is empty; give at least one value")
            if key == "hidden" and len({isinstance(v, (list, tuple)) for v in values}) > 1:
                raise SweepSpecError(
                    "axes.hidden mixes single sizes and lists; give all values as lists, e.g. [[64], [64, 64]]"
                )
            normed = [_check_value(key, v, f"axes.{key}[{i}]") for i, v in enumerate(values)]
            labels = _axis_labels(key, normed)
            dupes = sorted({str(lab) for lab in labels if labels.count(lab) > 1})
            if dupes:
                raise SweepSpecError(f"axes.{key} repeats {dupes}; each value must appear once")
            axes[key] = normed

        fixed: dict[str, Any] = {}
        for key, default in _PARAM_DEFAULTS.items():
            if key in axes:
                continue
            if key in fixed_in:
                fixed[key] = _check_value(key, fixed_in[key], f"fixed.{key}")
            elif key in spec:
                fixed[key] = _check_value(key, spec[key], key)
            elif default is None and key == "hidden":
                raise SweepSpecError("hidden (the hidden-layer sizes) must be given in [axes] or [fixed]")
            else:
                fixed[key] = default

        seeds = spec.get("seeds", [0])
        if _is_int(seeds):
            if seeds < 1:
                raise SweepSpecError(f"seeds must be a positive count or a list of integers, got {seeds!r}")
            seeds = list(range(int(seeds)))
        if not isinstance(seeds, (list, tuple)) or not seeds or not all(_is_int(s) and s >= 0 for s in seeds):
            raise SweepSpecError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}")
        if len(set(seeds)) != len(seeds):
            raise SweepSpecError(f"seeds repeats a value: {list(seeds)!r}")
        seeds = [int(s) for s in seeds]

        threshold = spec.get("threshold", 0.99)
        if not _is_num(threshold) or not 0 < threshold < 2:
            raise SweepSpecError(f"threshold must be a number in (0, 2), got {threshold!r}")
        data_seed = spec.get("data_seed", 0)
        if not _is_int(data_seed) or data_seed < 0:
            raise SweepSpecError(f"data_seed must be a non-negative integer, got {data_seed!r}")
        n_test = spec.get("n_test")
        if n_test is not None and (not _is_int(n_test) or n_test < 1):
            raise SweepSpecError(f"n_test must be an integer >= 1, got {n_test!r}")
        data_root = spec.get("data_root")
        if data_root is not None and not isinstance(data_root, str):
            raise SweepSpecError(f"data_root must be a path string, got {data_root!r}")
        device = spec.get("device")
        if device is not None and device not in ("cpu", "gpu"):
            raise SweepSpecError(f"device must be 'cpu' or 'gpu', got {device!r}")
        name = spec.get("name", "phase-diagram")
        if not isinstance(name, str):
            raise SweepSpecError(f"name must be a string, got {name!r}")

        out = cls(axes, fixed, seeds, threshold=float(threshold), data_seed=int(data_seed),
                  n_test=None if n_test is None else int(n_test), data_root=data_root, device=device,
                  name=name)
        out._check_combinations()
        return out

    @classmethod
    def from_toml(cls, text: str) -> SweepSpec:
        """Parse and validate a TOML document."""
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SweepSpecError(f"spec is not valid TOML: {exc}") from None
        return cls.from_dict(data)

    def _check_combinations(self) -> None:
        """Build a tiny network for each distinct combination of structural settings.

        Catches what the core rejects for a preset in combination with a swept value,
        before any training starts, and names the grid point.
        """
        from spectral_physics import SpectralMLP

        keys = ("train", "activation", "init", "bias", "dtype", "sparsity")
        seen = set()
        for point in self.points():
            combo = tuple((k, point.params[k]) for k in keys)
            if combo in seen:
                continue
            seen.add(combo)
            p = point.params
            try:
                net = SpectralMLP([3, 2, 2], train=p["train"], activation=p["activation"], seed=0,
                                  device="cpu", dtype=p["dtype"], init=p["init"], bias=p["bias"])
                for layer in net.layers:
                    layer.sparsity = p["sparsity"] or None
            except ValueError as exc:
                desc = ", ".join(f"{k}={point.coords[k]!r}" for k in point.coords)
                raise SweepSpecError(f"grid point ({desc}) is not a valid network: {exc}") from None

    # ---------------------------------------------------------------- views
    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.axes.values())

    def coords(self) -> dict[str, list[Any]]:
        """Coordinate labels per axis (``hidden`` as int, or ``"64-64"`` for deeper nets)."""
        return {k: _axis_labels(k, vals) for k, vals in self.axes.items()}

    def points(self) -> list[SweepPoint]:
        """All grid points in C order of the axes (the last axis varies fastest)."""
        labels = self.coords()
        out = []
        for i, combo in enumerate(itertools.product(*(range(n) for n in self.shape))):
            params = dict(self.fixed)
            params.update({k: self.axes[k][j] for k, j in zip(self.axes, combo)})
            coords = {k: labels[k][j] for k, j in zip(self.axes, combo)}
            out.append(SweepPoint(i, coords, copy.deepcopy(params)))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Canonical, JSON-serialisable form (round-trips through :meth:`from_dict`)."""
        return {
            "name": self.name, "seeds": list(self.seeds), "threshold": self.threshold,
            "data_seed": self.data_seed, "n_test": self.n_test, "data_root": self.data_root,
            "device": self.device, "axes": copy.deepcopy(self.axes), "fixed": copy.deepcopy(self.fixed),
        }

    def fingerprint(self) -> str:
        """Hash of everything that changes the numbers (not the name or threshold)."""
        d = self.to_dict()
        for k in ("name", "threshold", "data_root", "device"):
            d.pop(k)
        return hashlib.sha256(to_json(d).encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        ax = ", ".join(f"{k}={len(v)}" for k, v in self.axes.items())
        return f"SweepSpec({self.name!r}, axes({ax}), seeds={self.seeds}, points={math.prod(self.shape)})"


def load_spec(spec: str | os.PathLike | Mapping[str, Any] | SweepSpec) -> SweepSpec:
    """A :class:`SweepSpec` from a TOML file path, a mapping, or a spec (passed through)."""
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, Mapping):
        return SweepSpec.from_dict(spec)
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"no such sweep spec file: {path}")
    try:
        return SweepSpec.from_toml(path.read_text())
    except SweepSpecError as exc:
        raise SweepSpecError(f"{path}: {exc}") from None


# --------------------------------------------------------------------------------------
# One grid point (runs in a worker)
# --------------------------------------------------------------------------------------


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


def _train(params: dict[str, Any], seeds: list[int], data, device, ensemble: bool):
    """Train one network (``ensemble=False``, one seed) or an ensemble; returns metrics per member."""
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
        # members share the test set: a read-only broadcast view, no copies
        e = len(seeds)
        xt, yt = np.broadcast_to(xt, (e, *xt.shape)), np.broadcast_to(yt, (e, *yt.shape))
    with np.errstate(over="ignore", invalid="ignore"):
        hist = fit(net, (x, y), epochs=params["epochs"], batch_size=params["batch_size"],
                   optimizer=params["optimizer"], lr=params["lr"], progress=False, callbacks=callbacks)
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
        ensemble), ``fingerprint`` and ``blas_threads`` (None: leave the BLAS thread pool alone).
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

    blas = task.get("blas_threads")
    if blas:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(int(blas), user_api="blas"):
            return run_point({**task, "blas_threads": None})
    params, seeds = dict(task["params"]), [int(s) for s in task["seeds"]]
    d = task["data"]
    data = _load_data(d["name"], d["subset"], d["data_seed"], d["n_test"], d["root"])
    n = len(seeds)
    acc, loss, secs = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    turnover = {k: np.full(n, np.nan) for k in _TURNOVER}
    status, message = [STATUS_OK] * n, [""] * n
    groups = [list(range(n))] if task.get("ensemble", True) and n > 1 else [[i] for i in range(n)]
    sizes = [data.n_features, *params["hidden"], data.n_classes]
    n_trainable = None
    while groups:
        grp = groups.pop(0)
        try:
            a, l_, s, n_trainable, sizes, ok, turn = _train(params, [seeds[i] for i in grp], data,
                                                            task.get("device"), ensemble=len(grp) > 1)
        except DivergenceError as exc:
            if len(grp) > 1:
                named = [grp[j] for j in exc.members or []]
                rest = [i for i in grp if i not in named]
                # On NumPy a member trains bit for bit as it would alone, so the named members
                # diverge alone too; CuPy's batched products may round differently, so there
                # (and when the error names nobody) they are retrained alone to confirm.
                if not named or not _exact_ensembles(task.get("device")):
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
        "format": _FORMAT, "index": int(task["index"]), "fingerprint": task["fingerprint"],
        "params": params, "seeds": seeds, "sizes": [int(s) for s in sizes],
        "test_accuracy": acc.tolist(), "final_loss": loss.tolist(), "train_time": secs.tolist(),
        "status": status, "message": message,
        "n_trainable": int(n_trainable), "n_trainable_direct": int(direct),
        **{k: v.tolist() for k, v in turnover.items()},
    }


# --------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------


class SerialExecutor(cf_futures.Executor):
    """Runs each task in the calling process at ``submit`` (``workers=1``: no process start-up)."""

    def submit(self, fn, /, *args, **kwargs):
        fut: cf_futures.Future = cf_futures.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(exc, KeyboardInterrupt):
                raise
            fut.set_exception(exc)
        return fut


_BLAS_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _single_threaded_blas():
    """Let worker processes started inside this block use one BLAS thread each.

    Several workers with a multi-threaded BLAS each would oversubscribe the cores; the
    variables must be in the environment when a worker starts, before it imports NumPy.
    """
    saved = {k: os.environ.get(k) for k in _BLAS_VARS}
    for k in _BLAS_VARS:
        os.environ.setdefault(k, "1")
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make_executor(workers: int | None = None, scheduler: str | None = None, client: Any = None):
    """The executor a sweep runs on, and a function that releases it.

    Parameters
    ----------
    workers : int, optional
        Local worker processes (default ``os.cpu_count()``); ``1`` runs in this process.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:port``); needs ``dask[distributed]``.
    client : dask.distributed.Client, optional
        An existing client; its executor is used and the client is left open.

    Returns
    -------
    executor : concurrent.futures.Executor
    close : callable
        Shuts down what this function started.
    """
    if client is not None and scheduler is not None:
        raise ValueError("give either client or scheduler, not both")
    if client is not None:
        ex = client.get_executor(pure=False)
        return ex, lambda: None
    if scheduler is not None:
        try:
            from dask.distributed import Client
        except ImportError as exc:
            raise RuntimeError(
                "scheduler= needs dask.distributed: pip install 'spectral-physics[distributed]'"
            ) from exc
        try:
            cl = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise OSError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        return cl.get_executor(pure=False), cl.close
    if workers is None:
        workers = os.cpu_count() or 1
    if not _is_int(workers) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if workers == 1:
        return SerialExecutor(), lambda: None
    import multiprocessing

    # spawn: fresh interpreters that pick up the single-threaded BLAS settings
    ex = cf_futures.ProcessPoolExecutor(max_workers=int(workers), mp_context=multiprocessing.get_context("spawn"))
    return ex, lambda: ex.shutdown(wait=True, cancel_futures=True)


def _window(executor: cf_futures.Executor, n: int) -> int:
    """How many tasks to keep submitted: one at a time in process, a few per pool worker."""
    if isinstance(executor, SerialExecutor):
        return 1
    workers = getattr(executor, "_max_workers", None)
    return max(1, 2 * int(workers)) if workers else max(1, n)


def _point_path(results_dir: Path, index: int) -> Path:
    return results_dir / f"point-{index:06d}.json"


def _write_json_atomic(path: Path, obj: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(obj, fh, allow_nan=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_point(path: Path) -> dict[str, Any] | None:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _valid_record(rec: dict[str, Any] | None, spec: SweepSpec, point: SweepPoint) -> bool:
    return (
        rec is not None and rec.get("format") == _FORMAT and rec.get("index") == point.index
        and rec.get("fingerprint") == spec.fingerprint() and rec.get("seeds") == spec.seeds
        and rec.get("params") == point.params
    )


def _manifest(spec: SweepSpec) -> dict[str, Any]:
    return {"format": _FORMAT, "fingerprint": spec.fingerprint(), "spec": spec.to_dict(),
            "n_points": math.prod(spec.shape)}


def pending_points(spec: SweepSpec | Mapping | str | os.PathLike, results_dir: str | os.PathLike) -> list[int]:
    """Indices of the grid points without a valid result file in ``results_dir``."""
    spec = load_spec(spec)
    results_dir = Path(results_dir)
    return [p.index for p in spec.points()
            if not _valid_record(_read_point(_point_path(results_dir, p.index)), spec, p)]


def _prepare_dir(spec: SweepSpec, results_dir: Path, resume: bool, overwrite: bool) -> None:
    manifest_path = results_dir / "sweep.json"
    existing = sorted(results_dir.glob("point-*.json")) if results_dir.is_dir() else []
    if existing and not (resume or overwrite):
        raise FileExistsError(
            f"{results_dir} already holds {len(existing)} point files; pass resume=True (--resume) to "
            "continue that sweep or overwrite=True (--overwrite) to start again"
        )
    if overwrite:
        for f in existing:
            f.unlink()
        manifest_path.unlink(missing_ok=True)
    if resume and manifest_path.exists():
        old = _read_point(manifest_path)
        if old is None or old.get("fingerprint") != spec.fingerprint():
            raise ValueError(
                f"{results_dir} holds results of a different sweep spec; use another results "
                "directory or overwrite=True (--overwrite)"
            )
    results_dir.mkdir(parents=True, exist_ok=True)
    _write_json_atomic(manifest_path, _manifest(spec))


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
    spec = load_spec(spec)
    results_dir = Path(results_dir)
    _prepare_dir(spec, results_dir, resume, overwrite)
    todo = set(pending_points(spec, results_dir))
    points = [p for p in spec.points() if p.index in todo]
    fail = set(int(i) for i in _fail_points)
    data = {"name": spec.fixed.get("dataset"), "subset": spec.fixed.get("subset"),
            "data_seed": spec.data_seed, "n_test": spec.n_test, "root": spec.data_root}
    close = lambda: None  # noqa: E731
    if points and executor is None:
        executor, close = make_executor(workers, scheduler, client)
    from tqdm.auto import tqdm

    total = math.prod(spec.shape)
    bar = tqdm(total=total, initial=total - len(points), disable=not progress, unit="point",
               desc=spec.name, dynamic_ncols=True)
    fp = spec.fingerprint()

    def task(p: SweepPoint) -> dict[str, Any]:
        return {
            "index": p.index, "params": p.params, "seeds": spec.seeds,
            "data": {**data, "name": p.params["dataset"], "subset": p.params["subset"]},
            "device": spec.device, "ensemble": ensemble, "fingerprint": fp, "fail": p.index in fail,
            "blas_threads": blas_threads,
        }

    queue = iter(points)
    inflight: dict[cf_futures.Future, SweepPoint] = {}
    window = _window(executor, len(points))
    blas = contextlib.nullcontext if isinstance(executor, SerialExecutor) else _single_threaded_blas

    def submit_more() -> None:
        with blas():  # worker processes start inside submit
            while len(inflight) < window:
                p = next(queue, None)
                if p is None:
                    return
                inflight[executor.submit(run_point, task(p))] = p

    def save(rec: dict[str, Any]) -> None:
        _write_json_atomic(_point_path(results_dir, rec["index"]), rec)
        bar.update(1)
        if on_point is not None:
            on_point(rec)

    error: BaseException | None = None
    try:
        submit_more()
        while inflight:
            done, _ = cf_futures.wait(inflight, return_when=cf_futures.FIRST_COMPLETED)
            for fut in done:
                inflight.pop(fut)
                try:
                    rec = fut.result()
                except Exception as exc:  # noqa: BLE001 - re-raised below, after saving finished points
                    error = error or exc
                    continue
                save(rec)
            if error is not None:
                break
            submit_more()
    finally:
        for fut in inflight:
            fut.cancel()
        bar.close()
        close()  # waits for running tasks of a pool this function started
    if error is not None:
        # points that finished while the failure was handled: less to recompute on resume
        for fut in inflight:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                save(fut.result())
        raise error
    ds = assemble(spec, results_dir)
    if out is not None:
        write_netcdf(ds, out)
    return ds


# --------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------


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
    for p in spec.points():
        rec = _read_point(_point_path(results_dir, p.index))
        idx = np.unravel_index(p.index, shape)
        if not _valid_record(rec, spec, p):
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


# --------------------------------------------------------------------------------------
# Phase boundary
# --------------------------------------------------------------------------------------


def boundary_crossing(x: np.ndarray, r: np.ndarray, threshold: float) -> tuple[float, int]:
    """Where ``r`` first reaches ``threshold`` along ``x``, linearly interpolated.

    Parameters
    ----------
    x : array, shape (n,)
        Positions in increasing order of the swept axis (e.g. log trainable ratio).
    r : array, shape (n,)
        Values (e.g. seed-mean relative accuracy); NaN entries are skipped.
    threshold : float

    Returns
    -------
    x_cross : float
        Interpolated position between the last point below and the first at or above the
        threshold; NaN when there is no such pair.
    state : int
        0 crossing found; 1 already at or above at the first point; 2 never reached.
    """
    x, r = np.asarray(x, float), np.asarray(r, float)
    keep = np.isfinite(x) & np.isfinite(r)
    x, r = x[keep], r[keep]
    if len(r) == 0:
        return math.nan, 2
    above = np.flatnonzero(r >= threshold)
    if len(above) == 0:
        return math.nan, 2
    i = int(above[0])
    if i == 0:
        return math.nan, 1
    t = (threshold - r[i - 1]) / (r[i] - r[i - 1])
    return float(x[i - 1] + t * (x[i] - x[i - 1])), 0


def phase_boundary(
    ds: xr.Dataset,
    threshold: float | None = None,
    along: str = "hidden",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> xr.Dataset:
    """Phase boundary: the compression at which relative accuracy reaches ``threshold``.

    Along ``along`` (in the order of its coordinate), the seed-mean relative accuracy is
    compared with ``threshold``; the first crossing is interpolated linearly in
    ``log(trainable_ratio)`` (and in ``log(hidden)`` for a numeric hidden axis). The
    interval resamples seeds with replacement (the same resample for every grid point, so
    the pairing with ``direct`` is kept) and takes percentiles of the crossing.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`assemble`.
    threshold : float, optional
        Default: the spec's threshold (attribute ``threshold``), else 0.99.
    along : str
        The swept axis along which compression varies.
    n_boot : int
        Bootstrap resamples over seeds.
    ci : float
        Central interval probability.
    seed : int
        Seed of the bootstrap generator.

    Returns
    -------
    xarray.Dataset
        Dims: the other axes. ``boundary_ratio`` (trainable-parameter ratio at the
        crossing), ``boundary_ratio_lower``/``_upper`` (bootstrap interval),
        ``boundary_hidden`` (+ bounds, numeric hidden axes only), ``crossing_state`` (0
        found, 1 above threshold everywhere, 2 never reached) and ``bootstrap_found``
        (fraction of resamples with a crossing).
    """
    if along not in ds.dims:
        raise ValueError(f"along must be one of the swept dims {[d for d in ds.dims if d != 'seed']}, got {along!r}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci!r}")
    if not _is_int(n_boot) or n_boot < 1:
        raise ValueError(f"n_boot must be an integer >= 1, got {n_boot!r}")
    thr = float(threshold if threshold is not None else ds.attrs.get("threshold", 0.99))
    rel = ds["relative_accuracy"].where(ds["status"] == STATUS_OK)
    others = [d for d in rel.dims if d not in (along, "seed")]
    rel = rel.transpose(*others, along, "seed")
    logratio = np.log(ds["trainable_ratio"].transpose(*others, along).values)
    hid = ds[along].values
    numeric_hidden = np.issubdtype(hid.dtype, np.number)
    order = np.argsort(hid) if numeric_hidden else np.arange(len(hid))
    rel_v = rel.values[..., order, :]
    logratio = logratio[..., order]
    loghid = np.log(hid[order].astype(float)) if numeric_hidden else None
    n_seed = rel_v.shape[-1]
    oshape = rel_v.shape[:-2]

    def crossings(mean_rel: np.ndarray):
        out_r = np.full(oshape, np.nan)
        out_h = np.full(oshape, np.nan)
        state = np.zeros(oshape, dtype=np.int8)
        for idx in np.ndindex(*oshape):
            xr_, st = boundary_crossing(logratio[idx], mean_rel[idx], thr)
            state[idx] = st
            if st == 0:
                out_r[idx] = math.exp(xr_)
                if loghid is not None:
                    xh, _ = boundary_crossing(loghid, mean_rel[idx], thr)
                    out_h[idx] = math.exp(xh)
        return out_r, out_h, state

    with warnings.catch_warnings():
        # all-NaN slices (every seed diverged) are expected and give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        b_r, b_h, state = crossings(np.nanmean(rel_v, axis=-1))
        rng = np.random.default_rng(seed)
        boot_r = np.full((n_boot, *oshape), np.nan)
        boot_h = np.full((n_boot, *oshape), np.nan)
        for b in range(n_boot):
            pick = rng.integers(0, n_seed, n_seed)
            boot_r[b], boot_h[b], _ = crossings(np.nanmean(rel_v[..., pick], axis=-1))
        q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
        lo_r, hi_r = np.nanpercentile(boot_r, q, axis=0)
        lo_h, hi_h = np.nanpercentile(boot_h, q, axis=0)
        found = np.isfinite(boot_r).mean(axis=0)
    coords = {d: ds[d] for d in others}
    out = xr.Dataset(coords=coords)
    cm = f"seed-mean relative accuracy first reaches {thr}; linear interpolation in log scale"
    out["boundary_ratio"] = cf(xr.DataArray(b_r, dims=others), "trainable-parameter ratio at the phase boundary",
                               "1", comment=cm)
    out["boundary_ratio_lower"] = cf(xr.DataArray(lo_r, dims=others), f"lower {ci:.0%} bootstrap bound of "
                                     "boundary_ratio", "1")
    out["boundary_ratio_upper"] = cf(xr.DataArray(hi_r, dims=others), f"upper {ci:.0%} bootstrap bound of "
                                     "boundary_ratio", "1")
    if numeric_hidden:
        out["boundary_hidden"] = cf(xr.DataArray(b_h, dims=others), f"{along} at the phase boundary", "1",
                                    comment=cm)
        out["boundary_hidden_lower"] = cf(xr.DataArray(lo_h, dims=others), f"lower {ci:.0%} bootstrap bound of "
                                          "boundary_hidden", "1")
        out["boundary_hidden_upper"] = cf(xr.DataArray(hi_h, dims=others), f"upper {ci:.0%} bootstrap bound of "
                                          "boundary_hidden", "1")
    st = xr.DataArray(state, dims=others)
    st.attrs.update(long_name="crossing state", units="1",
                    flag_meanings="crossing_found above_threshold_everywhere threshold_never_reached",
                    comment="0 crossing found, 1 at or above the threshold at every size, 2 never reached")
    out["crossing_state"] = st
    out["bootstrap_found"] = cf(xr.DataArray(found, dims=others), "fraction of bootstrap resamples with a crossing",
                                "1")
    out.attrs.update(threshold=thr, along=along, n_boot=int(n_boot), ci=float(ci), bootstrap_seed=int(seed))
    return out


def phase_diagram_data(ds: xr.Dataset, x: str = "hidden", y: str = "train") -> xr.Dataset:
    """The numbers a phase-diagram plot draws: seed means and spreads over the grid.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`assemble`; every dim other than ``x``, ``y`` and ``seed`` must have
        length 1 (select with ``ds.sel(...)`` first).
    x, y : str
        Dims on the horizontal axis and the rows.

    Returns
    -------
    xarray.Dataset
        Dims ``(y, x)``: ``accuracy_mean``, ``accuracy_std`` (over ok seeds),
        ``relative_mean``, ``trainable_ratio``, ``n_ok`` (seeds that finished).
    """
    for d in (x, y):
        if d not in ds.dims:
            raise ValueError(f"{d!r} is not a dim of the Dataset (dims: {list(ds.dims)})")
    extra = [d for d in ds.dims if d not in (x, y, "seed") and ds.sizes[d] > 1]
    if extra:
        raise ValueError(f"select one value of {extra} first, e.g. ds.sel({extra[0]}=...)")
    ds = ds.squeeze([d for d in ds.dims if d not in (x, y, "seed")], drop=True)
    ok = ds["status"] == STATUS_OK
    acc = ds["test_accuracy"].where(ok)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = xr.Dataset({
            "accuracy_mean": acc.mean("seed"),
            "accuracy_std": acc.std("seed", ddof=1) if ds.sizes["seed"] > 1 else acc.mean("seed") * np.nan,
            "relative_mean": ds["relative_accuracy"].where(ok).mean("seed"),
            "trainable_ratio": ds["trainable_ratio"],
            "n_ok": ok.sum("seed"),
        })
    return out.transpose(y, x)

