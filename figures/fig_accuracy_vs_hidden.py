"""Accuracy versus hidden size for every preset, and relative accuracy versus the trainable-parameter ratio."""

from __future__ import annotations

import sys
from pathlib import Path

from spectral_physics.analysis import read_netcdf
from spectral_physics.analysis.figures import paper_style, save_figure
from spectral_physics.analysis.plots import plot_accuracy_vs_hidden

NAME = "accuracy_vs_hidden"
NEEDS = ("presets_sweep",)


def make(paths, out_dir):
    ds = read_netcdf(paths["presets_sweep"])
    with paper_style():
        fig = plot_accuracy_vs_hidden(ds)
    return save_figure(fig, NAME, out_dir, sources=[paths["presets_sweep"]])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import main

    sys.exit(main(__name__, NAME, NEEDS, make))
