"""Compression-versus-accuracy phase diagram with its boundary (``plot_sweep`` of the preset sweep)."""

from __future__ import annotations

import sys
from pathlib import Path

from spectral_physics.analysis import read_netcdf
from spectral_physics.analysis.figures import TWO_COLUMN, paper_style, save_figure
from spectral_physics.analysis.phase import phase_boundary
from spectral_physics.analysis.plots import plot_sweep

NAME = "phase_diagram"
NEEDS = ("presets_sweep",)
N_BOOT = 500  # bootstrap resamples over seeds for the boundary interval (fixed seed: same bytes every time)


def make(paths, out_dir):
    ds = read_netcdf(paths["presets_sweep"])
    boundary = phase_boundary(ds, along="hidden", n_boot=N_BOOT, seed=0)
    with paper_style():
        fig = plot_sweep(ds, boundary=boundary)
        fig.set_size_inches(TWO_COLUMN, 2.8)
        # at two-column width: shorter titles and a legend clear of the points
        thr = float(boundary.attrs["threshold"])
        for ax, title in zip(fig.axes, ("(a) test accuracy", f"(b) relative; \u25c7 boundary at {thr:g}",
                                        f"(c) white line: {thr:g} contour")):
            ax.set_title(title, fontsize=7)
        fig.axes[0].legend(fontsize=6, loc="upper center", handlelength=1.2)
    return save_figure(fig, NAME, out_dir, sources=[paths["presets_sweep"]],
                       extra={"threshold": float(boundary.attrs["threshold"]), "n_boot": N_BOOT})


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import main

    sys.exit(main(__name__, NAME, NEEDS, make))
