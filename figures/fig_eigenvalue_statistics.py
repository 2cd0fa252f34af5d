"""Eigenvalue distributions (trained, initial, random null), weight spectrum with its
Marchenko-Pastur fit, and level-spacing ratios with Poisson/GOE references (first layer).

Figure ``eigenvalue_statistics`` of :data:`spectral_physics.figures.FIGURES`, drawn from the
``eigenstats`` Dataset by :func:`spectral_physics.analysis.plots.plot_eigenstats`, laid out
for two columns. Run: ``python -m spectral_physics.figures.fig_eigenvalue_statistics --data DIR --out DIR``.
"""

from __future__ import annotations

import sys

from spectral_physics.analysis.figures import TWO_COLUMN
from spectral_physics.analysis.plots import plot_eigenstats

NAME = "eigenvalue_statistics"
LAYER = 0  # the first weight layer (784 inputs) is the one with enough eigenvalues for statistics

__all__ = ["NAME", "LAYER", "plot", "provenance"]


def plot(ds):
    """The figure (call inside :func:`spectral_physics.analysis.figures.paper_style`)."""
    fig = plot_eigenstats(ds.isel(layer=[LAYER]))
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
    return fig


def provenance(fig, ds) -> dict:
    return {"layer": LAYER}


if __name__ == "__main__":
    from spectral_physics.figures._common import main

    sys.exit(main(NAME))
