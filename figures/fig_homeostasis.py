"""Homeostasis panels: gain versus drive, activity spread trained vs frozen eigenvalues, activity CV.

Figure ``homeostasis`` of :data:`spectral_physics.figures.FIGURES`, drawn from the
``homeostasis`` Dataset by :func:`spectral_physics.analysis.plots.plot_homeostasis` for the
first network (the panels show single nodes), with the activity-CV bars replaced by the
mean over seeds and their standard errors, laid out for two columns.
Run: ``python -m spectral_physics.figures.fig_homeostasis --data DIR --out DIR``.
"""

from __future__ import annotations

import sys

import numpy as np
from spectral_physics.analysis.figures import TWO_COLUMN
from spectral_physics.analysis.plots import plot_homeostasis

NAME = "homeostasis"

__all__ = ["NAME", "plot", "provenance"]


def _seed_bars(fig, ax, ds, layer: int) -> None:
    """Bar heights -> seed mean of the activity CV, with standard-error bars; ``fig.plotted`` follows."""
    cv = ds.activity_cv.isel(layer=layer)
    mean = cv.mean("seed").values
    sem = cv.std("seed", ddof=1).values / np.sqrt(ds.sizes["seed"])
    bars = ax.patches[: len(mean)]
    for bar, m in zip(bars, mean):
        bar.set_height(m)
    ax.errorbar([b.get_x() + b.get_width() / 2 for b in bars], mean, yerr=sem, fmt="none", color="k", lw=1,
                capsize=3)
    ax.relim()
    ax.autoscale_view()
    drawn = fig.plotted["cv"][int(ds.layer.values[layer])]
    drawn.update(cv=mean, sem=sem, n_seeds=int(ds.sizes["seed"]))


def _seed(ds) -> int | None:
    return int(ds.seed[0]) if "seed" in ds.dims else None


def plot(ds):
    """The figure (call inside :func:`spectral_physics.analysis.figures.paper_style`)."""
    # the panels show single nodes, so one network; the other seeds are in the Dataset
    seed = _seed(ds)
    one = ds.isel(seed=0) if seed is not None else ds
    fig = plot_homeostasis(one)
    fig.set_size_inches(TWO_COLUMN, 2.6 * one.sizes.get("layer", 1))
    # at two-column width: the verdict title on two lines, a legend that lets the points show;
    # plot_homeostasis draws three panels per layer, the activity CV last
    for i, ax in enumerate(fig.axes):
        title = ax.get_title()
        if title.startswith("activity CV"):
            if seed is not None and ds.sizes["seed"] > 1:
                _seed_bars(fig, ax, ds, i // 3)
                rest = title[len("activity CV "):]
                title = f"CV: mean $\\pm$ s.e.m., {ds.sizes['seed']} seeds\nseed {seed} {rest}"
            ax.set_title(title.replace(": ", ":\n", 1) if "\n" not in title else title, fontsize=7)
        elif ax.get_legend() is not None:
            ax.legend(fontsize=6, frameon=True, framealpha=0.85, edgecolor="none")
    return fig


def provenance(fig, ds) -> dict:
    return {"seed": _seed(ds)}


if __name__ == "__main__":
    from spectral_physics.figures._common import main

    sys.exit(main(NAME))
