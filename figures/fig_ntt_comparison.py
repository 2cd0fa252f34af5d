"""NTT versus the other wirings against density."""

from __future__ import annotations

import sys
from pathlib import Path

from spectral_physics.analysis import read_netcdf
from spectral_physics.analysis.figures import paper_style, save_figure
from spectral_physics.analysis.plots import plot_ntt_comparison

NAME = "ntt_comparison"
NEEDS = ("ntt",)


def make(paths, out_dir):
    ds = read_netcdf(paths["ntt"])
    with paper_style():
        fig = plot_ntt_comparison(ds)
    return save_figure(fig, NAME, out_dir, sources=[paths["ntt"]])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import main

    sys.exit(main(__name__, NAME, NEEDS, make))
