"""Input-relevance map: the first layer's lam_in as a 28x28 image (mean over seeds)."""

from __future__ import annotations

import sys
from pathlib import Path

from spectral_physics.analysis import read_netcdf
from spectral_physics.analysis.figures import paper_style, save_figure
from spectral_physics.analysis.plots import plot_input_relevance

NAME = "input_relevance"
NEEDS = ("relevance",)


def make(paths, out_dir):
    ds = read_netcdf(paths["relevance"])
    with paper_style():
        fig = plot_input_relevance(ds)
    return save_figure(fig, NAME, out_dir, sources=[paths["relevance"]])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import main

    sys.exit(main(__name__, NAME, NEEDS, make))
