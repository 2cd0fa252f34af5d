"""Node-pruning curves (eigenvalue, connectivity, random, pre-training filter) on MNIST and Fashion-MNIST."""

from __future__ import annotations

import sys
from pathlib import Path

from spectral_physics.analysis import read_netcdf
from spectral_physics.analysis.figures import paper_style, save_figure
from spectral_physics.analysis.plots import plot_pruning_curves

NAME = "pruning_curves"
NEEDS = ("pruning",)


def make(paths, out_dir):
    ds = read_netcdf(paths["pruning"])
    with paper_style():
        fig = plot_pruning_curves(ds)
    return save_figure(fig, NAME, out_dir, sources=[paths["pruning"]])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import main

    sys.exit(main(__name__, NAME, NEEDS, make))
