"""Accuracy versus hidden size for every preset, and relative accuracy versus the trainable-parameter ratio.

Figure ``accuracy_vs_hidden`` of :data:`spectral_physics.figures.FIGURES`, drawn from the ``presets_sweep``
Dataset by :func:`spectral_physics.analysis.plots.plot_accuracy_vs_hidden` as it is.
Run: ``python -m spectral_physics.figures.fig_accuracy_vs_hidden --data DIR --out DIR``.
"""

from __future__ import annotations

import sys

from spectral_physics.analysis.plots import plot_accuracy_vs_hidden as plot

NAME = "accuracy_vs_hidden"

__all__ = ["NAME", "plot"]

if __name__ == "__main__":
    from spectral_physics.figures._common import main

    sys.exit(main(NAME))
