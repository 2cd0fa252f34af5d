"""Compression-versus-accuracy phase diagram with its boundary (``plot_sweep`` of the preset sweep).

Figure ``phase_diagram`` of :data:`spectral_physics.figures.FIGURES`, drawn from the
``presets_sweep`` Dataset: the boundary is bootstrapped here with
:func:`spectral_physics.analysis.phase.phase_boundary`, then drawn by
:func:`spectral_physics.analysis.plots.plot_sweep`, laid out for two columns.
Run: ``python -m spectral_physics.figures.fig_phase_diagram --data DIR --out DIR``.
"""

from __future__ import annotations

import sys

from spectral_physics.analysis.figures import TWO_COLUMN
from spectral_physics.analysis.phase import phase_boundary
from spectral_physics.analysis.plots import plot_sweep

NAME = "phase_diagram"
N_BOOT = 500  # bootstrap resamples over seeds for the boundary interval (fixed seed: same bytes every time)

__all__ = ["NAME", "N_BOOT", "plot", "provenance"]


def plot(ds):
    """The figure (call inside :func:`spectral_physics.analysis.figures.paper_style`)."""
    boundary = phase_boundary(ds, along="hidden", n_boot=N_BOOT, seed=0)
    fig = plot_sweep(ds, boundary)
    fig.set_size_inches(TWO_COLUMN, 2.8)
    # at two-column width: shorter titles and a smaller legend (below the panels: presets
    # and what each boundary marker means)
    thr = float(boundary.attrs["threshold"])
    for ax, title in zip(fig.axes, ("(a) test accuracy", f"(b) relative to direct; boundary at {thr:g}",
                                    f"(c) white line: {thr:g} contour")):
        ax.set_title(title, fontsize=7)
    for legend in fig.legends:
        for text in legend.get_texts():
            text.set_fontsize(6)
    return fig


def provenance(fig, ds) -> dict:
    return {"threshold": float(fig.plotted["threshold"]), "n_boot": N_BOOT}


if __name__ == "__main__":
    from spectral_physics.figures._common import main

    sys.exit(main(NAME))
