"""
A tiny phase-diagram sweep
==========================

A sweep is a grid of training runs, one Dataset dimension per swept setting plus
``seed``. Here three presets and three hidden sizes are swept on teacher-student data,
in process (``workers=1``), and the phase boundary is where the accuracy relative to
``direct`` at the same size first reaches a threshold along the trainable-parameter
ratio.
"""

import tempfile
from pathlib import Path

from spectral_physics.analysis.phase import phase_boundary
from spectral_physics.analysis.plots import plot_sweep
from spectral_physics.analysis.sweep import SweepSpec, run_sweep

spec = SweepSpec.from_dict({
    "dataset": "teacher-student", "subset": 2000, "n_test": 500, "epochs": 4, "seeds": [0, 1],
    "axes": {"train": ["direct", "spectral", "eigen"], "hidden": [16, 64, 256]},
    "fixed": {"activation": "tanh", "lr": 0.01, "batch_size": 50},
})
print(len(spec.points()), "grid points, dims", spec.dims)

# %%
# Every finished point is written to the results folder at once, so an interrupted
# sweep resumes with ``resume=True`` and computes only the missing points.

results = Path(tempfile.mkdtemp()) / "sweep.points"
ds = run_sweep(spec, results, workers=1, progress=False)
print(ds.test_accuracy.mean("seed").to_pandas().round(3))

# %%
# The boundary: the trainable-parameter ratio at which a preset first reaches 99 % of the
# accuracy of ``direct`` at the same size (NaN where it never does, as ``eigen`` on this
# small problem, or is above it from the smallest size on).

b = phase_boundary(ds, threshold=0.99)
print(b.boundary_ratio.to_pandas())
fig = plot_sweep(ds, boundary=b)
