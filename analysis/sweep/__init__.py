"""The generic sweep engine: specifications, execution and the run store.

* :mod:`.spec`: a validated grid of training runs (:class:`SweepSpec`, TOML or mapping);
* :mod:`.store`: :class:`RunStore`, one file per finished run, atomic, fingerprinted, locked;
* :mod:`.execute`: :func:`run_tasks`, the one loop that runs missing runs on any
  ``concurrent.futures`` executor (in process, a process pool, Dask) and saves each as it lands;
* :mod:`.run`: the presets sweep (:func:`run_sweep`, :func:`run_point`, :func:`assemble`).

Every experiment of :mod:`spectral_physics.analysis.experiments` runs through the same
store and loop. The phase boundary of a finished sweep is in
:mod:`spectral_physics.analysis.phase`.

Example
-------
>>> from spectral_physics.analysis.sweep import SweepSpec
>>> spec = SweepSpec.from_dict({
...     "dataset": "teacher-student", "subset": 500, "epochs": 1, "seeds": [0, 1, 2],
...     "axes": {"train": ["direct", "eigen"], "hidden": [8, 32]},
...     "fixed": {"lr": 0.01, "batch_size": 50},
... })
>>> len(spec.points()), spec.dims
(4, ('train', 'hidden'))
"""

from .execute import SerialExecutor, make_executor, run_tasks
from .run import (
    STATUS_DIVERGED,
    STATUS_MISSING,
    STATUS_OK,
    assemble,
    pending_points,
    point_key,
    run_point,
    run_sweep,
    sweep_store,
)
from .spec import EXAMPLE_SPEC, SweepPoint, SweepSpec, SweepSpecError, load_spec
from .store import RunStore, StoreLockedError

__all__ = [
    "EXAMPLE_SPEC",
    "SweepPoint",
    "SweepSpec",
    "SweepSpecError",
    "load_spec",
    "RunStore",
    "StoreLockedError",
    "SerialExecutor",
    "make_executor",
    "run_tasks",
    "run_point",
    "run_sweep",
    "pending_points",
    "point_key",
    "assemble",
    "sweep_store",
    "STATUS_MISSING",
    "STATUS_OK",
    "STATUS_DIVERGED",
]
