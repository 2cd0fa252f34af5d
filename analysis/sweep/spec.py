"""Sweep specifications: a validated grid of training runs over control parameters.

A :class:`SweepSpec` names the swept axes (preset, hidden size, learning rate, sparsity,
...), the fixed run settings and the seeds; every grid point is one :class:`SweepPoint`.
Specs come from a mapping or a TOML file (:data:`EXAMPLE_SPEC`); every key is checked and
an invalid one raises :class:`SweepSpecError` naming it. The spec's fingerprint identifies
its results in a :class:`~spectral_physics.analysis.sweep.store.RunStore`.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spectral_physics.provenance import to_json

__all__ = ["SweepSpecError", "SweepSpec", "SweepPoint", "EXAMPLE_SPEC", "load_spec"]

EXAMPLE_SPEC = """\
# Phase-diagram sweep for `spectral-physics sweep SPEC.toml --out diagram.nc`.
# Every key of [axes] becomes one dimension of the output Dataset (plus `seed`).
# Any run setting may sit at the top level, in [fixed], or in [axes] (not twice).

dataset = "mnist"        # mnist | fashion-mnist | cifar10 | teacher-student
subset = 2000            # optional: training examples used (a seeded subset; data_seed picks it)
# data_root = "../shared/data"   # optional: searched first (`sweep --data-root` overrides it)
# n_test = 10000         # optional: test examples used (default: the whole test set)
# data_seed = 0          # seed of the subset draw; every grid point and seed sees the same data
epochs = 3               # 3 x 40 steps: every preset leaves chance level; seconds on one core
seeds = [0, 1]           # or an integer n for seeds 0..n-1; the seeds of a point train as one ensemble
# threshold = 0.99       # relative accuracy defining the phase boundary
# device = "gpu"         # cpu | gpu: where every point trains (default: SPECTRAL_PHYSICS_DEVICE, else cpu;
#                        # `sweep --device` overrides it); a GPU sweep runs one worker per GPU
# shared_data_order = false  # true: the seeds vary the initialisation only; every member sees the data
#                            # order of data_seed, and the first layer's products are one product

[axes]
train = ["direct", "eigen"]   # presets: direct, eigen-out, eigen, spectral, svd, qr
hidden = [32, 64]             # one hidden layer per value; a list of lists for deeper nets, e.g. [[64, 64]]

[fixed]
activation = "relu"      # relu | tanh | elu | identity
lr = 0.02                # eigen trains only 784 + N + 10 numbers per layer pair: at Adam's usual 0.001
                         # it stays near chance (0.1) this short; direct is also fine at 0.02
batch_size = 50
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
_META_KEYS = ("seeds", "axes", "fixed", "name", "threshold", "data_seed", "n_test", "data_root", "device",
              "shared_data_order")


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
    data_seed : int
        Data subset seed.
    n_test : int or None
        Number of test examples (None: all).
    data_root : str or None
        Data directory (None: the default search).
    device : str or None
        Device (None: ``SPECTRAL_PHYSICS_DEVICE``).
    name : str
        A label.
    shared_data_order : bool
        The seeds vary the initialisation only: every member trains on the data order of
        ``data_seed`` (``fit(..., shared_order=True, seed=data_seed)``). Part of the
        fingerprint only when true, so specs without it keep their fingerprints.
    """

    def __init__(self, axes, fixed, seeds, *, threshold=0.99, data_seed=0, n_test=None,
                 data_root=None, device=None, name="phase-diagram", shared_data_order=False):
        self.axes: dict[str, list[Any]] = axes
        self.fixed: dict[str, Any] = fixed
        self.seeds: list[int] = seeds
        self.threshold = threshold
        self.data_seed = data_seed
        self.n_test = n_test
        self.data_root = data_root
        self.device = device
        self.name = name
        self.shared_data_order = bool(shared_data_order)

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
        shared_order = spec.get("shared_data_order", False)
        if not isinstance(shared_order, (bool, np.bool_)):
            raise SweepSpecError(f"shared_data_order must be true or false, got {shared_order!r}")

        out = cls(axes, fixed, seeds, threshold=float(threshold), data_seed=int(data_seed),
                  n_test=None if n_test is None else int(n_test), data_root=data_root, device=device,
                  name=name, shared_data_order=bool(shared_order))
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
        out = {
            "name": self.name, "seeds": list(self.seeds), "threshold": self.threshold,
            "data_seed": self.data_seed, "n_test": self.n_test, "data_root": self.data_root,
            "device": self.device, "axes": copy.deepcopy(self.axes), "fixed": copy.deepcopy(self.fixed),
        }
        if self.shared_data_order:  # only when set: older specs keep their fingerprints
            out["shared_data_order"] = True
        return out

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
