"""Structure of a transfer operator: numeric matrix image next to the symbolic form.

Figure ``transfer_operator`` of :data:`spectral_physics.figures.FIGURES`, drawn from the ``transfer_operator``
Dataset by :func:`spectral_physics.analysis.plots.plot_transfer_operator` as it is.
Run: ``python -m spectral_physics.figures.fig_transfer_operator --data DIR --out DIR``.
"""

from __future__ import annotations

import sys

from spectral_physics.analysis.plots import plot_transfer_operator as plot

NAME = "transfer_operator"

__all__ = ["NAME", "plot"]

if __name__ == "__main__":
    from spectral_physics.figures._common import main

    sys.exit(main(NAME))
