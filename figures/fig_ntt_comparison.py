"""NTT versus the other wirings against density.

Figure ``ntt_comparison`` of :data:`spectral_physics.figures.FIGURES`, drawn from the ``ntt``
Dataset by :func:`spectral_physics.analysis.plots.plot_ntt_comparison` as it is.
Run: ``python -m spectral_physics.figures.fig_ntt_comparison --data DIR --out DIR``.
"""

from __future__ import annotations

import sys

from spectral_physics.analysis.plots import plot_ntt_comparison as plot

NAME = "ntt_comparison"

__all__ = ["NAME", "plot"]

if __name__ == "__main__":
    from spectral_physics.figures._common import main

    sys.exit(main(NAME))
