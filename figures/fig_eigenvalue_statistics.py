"""Eigenvalue distributions (trained, initial, random null), weight spectrum with its
Marchenko-Pastur fit, and level-spacing ratios with Poisson/GOE references (first layer)."""

from __future__ import annotations

import sys
from pathlib import Path

from analysis import read_netcdf
from analysis.figures import TWO_COLUMN, paper_style, save_figure
from analysis.plots import plot_eigenstats

NAME = "eigenvalue_statistics"
NEEDS = ("eigenstats",)


def make(paths, out_dir):
    ds = read_netcdf(paths["eigenstats"])
    with paper_style():
        # the first weight layer (784 inputs) is the one with enough eigenvalues for statistics
        fig = plot_eigenstats(ds.isel(layer=[0]))
        fig.set_size_inches(TWO_COLUMN, 2.3)
    return save_figure(fig, NAME, out_dir, sources=[paths["eigenstats"]], extra={"layer": 0})


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import main

    sys.exit(main(__name__, NAME, NEEDS, make))
