"""Homeostasis panels: gain versus drive, activity spread trained vs frozen eigenvalues, activity CV."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from spectral_physics.analysis import read_netcdf
from spectral_physics.analysis.figures import TWO_COLUMN, paper_style, save_figure
from spectral_physics.analysis.plots import plot_homeostasis

NAME = "homeostasis"
NEEDS = ("homeostasis",)


def _seed_bars(ax, ds) -> None:
    """Bar heights -> seed mean of the activity CV, with standard-error bars (first layer)."""
    cv = ds.activity_cv.isel(layer=0)
    mean = cv.mean("seed").values
    sem = cv.std("seed", ddof=1).values / np.sqrt(ds.sizes["seed"])
    bars = ax.patches[: len(mean)]
    for bar, m in zip(bars, mean):
        bar.set_height(m)
    ax.errorbar([b.get_x() + b.get_width() / 2 for b in bars], mean, yerr=sem, fmt="none", color="k", lw=1,
                capsize=3, gid="cv/seed_sem")
    ax.relim()
    ax.autoscale_view()


def make(paths, out_dir):
    ds = read_netcdf(paths["homeostasis"])
    # the panels show single nodes, so one network; the other seeds are in the Dataset
    seed = int(ds.seed[0]) if "seed" in ds.dims else None
    one = ds.isel(seed=0) if seed is not None else ds
    with paper_style():
        fig = plot_homeostasis(one)
        fig.set_size_inches(TWO_COLUMN, 2.6 * one.sizes.get("layer", 1))
        # at two-column width: the verdict title on two lines, a legend that lets the points show
        for ax in fig.axes:
            title = ax.get_title()
            if title.startswith("activity CV"):
                if seed is not None and ds.sizes["seed"] > 1:
                    _seed_bars(ax, ds)
                    rest = title[len("activity CV "):]
                    title = f"CV: mean $\\pm$ s.e.m., {ds.sizes['seed']} seeds\nseed {seed} {rest}"
                ax.set_title(title.replace(": ", ":\n", 1) if "\n" not in title else title, fontsize=7)
            elif ax.get_legend() is not None:
                ax.legend(fontsize=6, frameon=True, framealpha=0.85, edgecolor="none")
    return save_figure(fig, NAME, out_dir, sources=[paths["homeostasis"]], extra={"seed": seed})


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import main

    sys.exit(main(__name__, NAME, NEEDS, make))
