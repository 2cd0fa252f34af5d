"""Input-relevance map: the first layer's lam_in as a 28x28 image (mean over seeds).

Figure ``input_relevance`` of :data:`spectral_physics.figures.FIGURES`, drawn from the ``relevance``
Dataset by :func:`spectral_physics.analysis.plots.plot_input_relevance` as it is.
Run: ``python -m spectral_physics.figures.fig_input_relevance --data DIR --out DIR``.
"""

from __future__ import annotations

import sys

from spectral_physics.analysis.plots import plot_input_relevance as plot

NAME = "input_relevance"

__all__ = ["NAME", "plot"]

if __name__ == "__main__":
    from spectral_physics.figures._common import main

    sys.exit(main(NAME))
