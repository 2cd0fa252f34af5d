"""Sparse spectral versus sparse direct training against density, with the topology turnover.

Figure ``sparse_vs_direct`` of :data:`spectral_physics.figures.FIGURES`, drawn from the ``sparse``
Dataset by :func:`spectral_physics.analysis.plots.plot_sparse_vs_direct` as it is.
Run: ``python -m spectral_physics.figures.fig_sparse_vs_direct --data DIR --out DIR``.
"""

from __future__ import annotations

import sys

from spectral_physics.analysis.plots import plot_sparse_vs_direct as plot

NAME = "sparse_vs_direct"

__all__ = ["NAME", "plot"]

if __name__ == "__main__":
    from spectral_physics.figures._common import main

    sys.exit(main(NAME))
