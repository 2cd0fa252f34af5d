"""Eigenvalue distributions (trained, initial, random null), weight spectrum with its
Marchenko-Pastur fit, and level-spacing ratios with Poisson/GOE references (first layer)."""

from __future__ import annotations

import sys
from pathlib import Path

from spectral_physics.analysis import read_netcdf
from spectral_physics.analysis.figures import TWO_COLUMN, paper_style, save_figure
from spectral_physics.analysis.plots import plot_eigenstats

NAME = "eigenvalue_statistics"
NEEDS = ("eigenstats",)


def make(paths, out_dir):
    ds = read_netcdf(paths["eigenstats"])
    with paper_style():
        # the first weight layer (784 inputs) is the one with enough eigenvalues for statistics
        fig = plot_eigenstats(ds.isel(layer=[0]))
        fig.set_size_inches(TWO_COLUMN, 2.4)
        # at two-column width: legend where the densities are empty, readable bar labels
        dens, r = fig.axes[0], fig.axes[3]
        dens.set_ylim(top=dens.get_ylim()[1] * 1.35)
        dens.legend(fontsize=6, loc="upper left", handlelength=1.2)
        fig.axes[2].legend(fontsize=6, loc="upper right", handlelength=1.2)  # the tail side is empty
        r.tick_params(axis="x", labelrotation=35, labelsize=6)
        for text in r.texts:  # Poisson / GOE labels: to the right of the bars
            text.set_x(len(r.get_xticks()) - 0.45)
            text.set_horizontalalignment("left")
            text.set_fontsize(6)
            text.set_clip_on(False)
    return save_figure(fig, NAME, out_dir, sources=[paths["eigenstats"]], extra={"layer": 0})


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import main

    sys.exit(main(__name__, NAME, NEEDS, make))
