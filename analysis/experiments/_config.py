"""What every experiment configuration shares: validation helpers, a dict form and a fingerprint."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, TypeVar

from spectral_physics.provenance import to_json

from ..sweep.execute import run_tasks
from ..sweep.store import RunStore

__all__ = ["ExperimentConfig", "run_experiment"]

C = TypeVar("C", bound="ExperimentConfig")


class ExperimentConfig:
    """Mixin of the experiment dataclasses: ``from_dict`` with key checks, ``to_dict``, ``fingerprint``.

    Subclasses are frozen dataclasses whose ``__post_init__`` calls the ``_check_*``
    helpers, so an invalid value raises ``ValueError`` naming the field. They set
    ``store_kind`` (how their runs are saved, see :class:`RunStore`) and ``store_label``
    (what the fingerprint identifies, for error messages) as plain class attributes.
    """

    store_kind: ClassVar[str] = "json"
    store_label: ClassVar[str] = "configuration"

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
        """Build from a mapping; an unknown key is an error that suggests the closest field."""
        if isinstance(values, cls):
            return values
        if not isinstance(values, Mapping):
            raise TypeError(f"{cls.__name__}: expected a mapping, got {type(values).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        for key in values:
            if key not in names:
                near = difflib.get_close_matches(str(key), names, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise ValueError(f"{cls.__name__}: unknown field {key!r}{hint}; fields: {names}")
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable values (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}  # type: ignore[call-overload]

    def fingerprint(self) -> str:
        """16 hex digits identifying the configuration (its results in a run store)."""
        return hashlib.sha256(to_json({"kind": type(self).__name__, **self.to_dict()}).encode()).hexdigest()[:16]

    def store(self, results_dir: Any) -> RunStore:
        """The (unopened) run store of this configuration's runs in ``results_dir``.

        One definition for the experiment that fills it and for whoever reads what is
        done (``reproduce --estimate``).
        """
        return RunStore(results_dir, fingerprint=self.fingerprint(), kind=self.store_kind,
                        manifest={"config": self.to_dict()}, label=self.store_label)

    # -- validation helpers (raise ValueError naming the field) --------------------------

    def _fail(self, name: str, msg: str) -> None:
        raise ValueError(f"{type(self).__name__}.{name}: {msg}, got {getattr(self, name)!r}")

    def _tuple(self, name: str, kind: type | tuple[type, ...], *, positive: bool = False,
               choices: Iterable[Any] | None = None, unit: bool = False, distinct: bool = True) -> None:
        v = getattr(self, name)
        if isinstance(v, str | bytes) or not isinstance(v, Iterable):
            self._fail(name, "must be a non-empty list")
        v = tuple(v)
        object.__setattr__(self, name, v)
        if not v:
            self._fail(name, "must be a non-empty list")
        for item in v:
            if isinstance(item, bool) or not isinstance(item, kind):
                self._fail(name, f"entries must be {kind}")
            if positive and not item > 0:
                self._fail(name, "entries must be positive")
            if unit and not (math.isfinite(item) and 0 < item <= 1):
                self._fail(name, "entries must lie in (0, 1]")
            if choices is not None and item not in tuple(choices):
                self._fail(name, f"entries must be among {sorted(choices)}")
        if distinct and len(set(v)) != len(v):
            self._fail(name, "entries must be distinct")

    def _int(self, name: str, *, minimum: int = 1, optional: bool = False) -> None:
        v = getattr(self, name)
        if v is None and optional:
            return
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            self._fail(name, f"must be an integer >= {minimum}")

    def _float(self, name: str, *, positive: bool = True) -> None:
        v = getattr(self, name)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or (positive and v <= 0):
            self._fail(name, "must be a finite positive number" if positive else "must be a finite number")

    def _choice(self, name: str, choices: Iterable[Any]) -> None:
        if getattr(self, name) not in tuple(choices):
            self._fail(name, f"must be one of {sorted(choices)}")


def run_experiment(config: ExperimentConfig, fn: Any, tasks: dict[str, dict[str, Any]], results_dir: Any, *,
                   desc: str, data_root: Any = None, resume: bool = True,
                   overwrite: bool = False, executor: Any = None, workers: int | None = 1,
                   scheduler: str | None = None, blas_threads: int | None = None,
                   progress: Any = True) -> dict[str, Any]:
    """Run every missing run of an experiment into its run store; the records, by run key.

    The shared tail of the experiment functions: every task learns the data root, the
    store is fingerprinted by the configuration, and
    :func:`~spectral_physics.analysis.sweep.execute.run_tasks` does the rest.
    """
    for t in tasks.values():
        t["data_root"] = None if data_root is None else str(data_root)
    store = config.store(results_dir)
    with store.open(resume=resume, overwrite=overwrite):
        return run_tasks(fn, tasks, store, executor=executor, workers=workers, scheduler=scheduler,
                         blas_threads=blas_threads, progress=progress, desc=desc)

