"""What every plot function shares: the ``fig.plotted`` contract and the seed reductions.

Every plot function of :mod:`spectral_physics.analysis.plots` returns a
:class:`matplotlib.figure.Figure` whose attribute ``plotted`` is a nested ``dict`` of
exactly the numbers drawn: keyed by panel, then by layer (int) or series (str), with
numpy arrays, floats, strings or lists of strings at the leaves. It is set once, by
:func:`finish`, from the same arrays that were handed to the artists, so tests compare
``fig.plotted`` with the Dataset instead of reading artists or pixels. Figure scripts that
change what a figure shows (e.g. bars replaced by seed means) update ``fig.plotted`` too.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__ = ["finish", "check", "seed_mean", "seed_sem", "mean_sem"]


def finish(fig: Figure, plotted: dict[str, Any]) -> Figure:
    """Attach ``plotted`` (the numbers drawn) to ``fig`` and return it."""
    fig.plotted = plotted
    return fig


def check(ds, names, what: str) -> None:
    """Raise ``ValueError`` naming the missing variables when ``ds`` lacks any of ``names``."""
    missing = [n for n in names if n not in ds]
    if missing:
        raise ValueError(f"ds is not {what} Dataset: missing {missing}")


def seed_mean(da):
    """Mean over ``seed`` when the Dataset is an ensemble (NaN-aware)."""
    return da.mean("seed", skipna=True) if "seed" in da.dims else da


def seed_sem(da):
    """Standard error over ``seed`` (``std(ddof=1) / sqrt(n)``); None without two seeds."""
    if "seed" not in da.dims or da.sizes["seed"] < 2:
        return None
    return da.std("seed", ddof=1, skipna=True) / np.sqrt(da.sizes["seed"])


def mean_sem(da) -> tuple[np.ndarray, np.ndarray]:
    """Seed mean and standard error as numpy arrays (sem is zeros for a single seed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN points (diverged) stay NaN
        mean = seed_mean(da).values.astype(float)
        sem = seed_sem(da)
    sem = np.zeros_like(mean) if sem is None else np.nan_to_num(sem.values.astype(float))
    return mean, sem
