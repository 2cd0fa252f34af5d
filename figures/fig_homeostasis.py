"""Homeostasis panels: gain versus drive, activity spread trained vs frozen eigenvalues, activity CV.

Figure ``homeostasis`` of :data:`spectral_physics.figures.FIGURES`, drawn from the
``homeostasis`` Dataset by :func:`spectral_physics.analysis.plots.plot_homeostasis`: the
drive-gain scatter shows the nodes of the first network (with the Spearman rho as mean and
standard error over seeds), the activity histograms and the activity-CV bars are seed means
with standard errors; laid out for two columns.
Run: ``python -m spectral_physics.figures.fig_homeostasis --data DIR --out DIR``.
"""

from __future__ import annotations

import sys

from spectral_physics.analysis.figures import TWO_COLUMN
from spectral_physics.analysis.plots import plot_homeostasis

NAME = "homeostasis"

__all__ = ["NAME", "plot", "provenance"]


def _seed(ds) -> int | None:
    return int(ds.seed[0]) if "seed" in ds.dims else None


def plot(ds):
    """The figure (call inside :func:`spectral_physics.analysis.figures.paper_style`)."""
    fig = plot_homeostasis(ds)
    fig.set_size_inches(TWO_COLUMN, 2.8 * ds.sizes.get("layer", 1))
    # at two-column width: titles on two lines, legends that let the points show;
    # plot_homeostasis draws three panels per layer, the activity CV last
    for i, ax in enumerate(fig.axes):
        title = ax.get_title()
        if i % 3 == 2:  # "activity CV (p...): verdict"
            n = ds.sizes.get("seed", 1)
            head = f"CV: mean $\\pm$ s.e.m. over {n} seeds" if n > 1 else "activity CV"
            rest = title[len("activity CV "):] if title.startswith("activity CV ") else title
            ax.set_title(f"{head}\n{rest}", fontsize=6.5)
        else:
            ax.set_title(title.replace(", nodes of seed", "\nnodes of seed"), fontsize=7)
            legend = ax.get_legend()
            if legend is not None:
                ax.legend(fontsize=6, frameon=True, framealpha=0.85, edgecolor="none",
                          title=legend.get_title().get_text() or None, title_fontsize=6)
    return fig


def provenance(fig, ds) -> dict:
    return {"seed": _seed(ds)}


if __name__ == "__main__":
    from spectral_physics.figures._common import main

    sys.exit(main(NAME))
