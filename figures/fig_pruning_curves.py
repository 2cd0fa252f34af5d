"""Node-pruning curves (eigenvalue, connectivity, random, pre-training filter) on MNIST and Fashion-MNIST.

Figure ``pruning_curves`` of :data:`spectral_physics.figures.FIGURES`, drawn from the ``pruning``
Dataset by :func:`spectral_physics.analysis.plots.plot_pruning_curves` as it is.
Run: ``python -m spectral_physics.figures.fig_pruning_curves --data DIR --out DIR``.
"""

from __future__ import annotations

import sys

from spectral_physics.analysis.plots import plot_pruning_curves as plot

NAME = "pruning_curves"

__all__ = ["NAME", "plot"]

if __name__ == "__main__":
    from spectral_physics.figures._common import main

    sys.exit(main(NAME))
