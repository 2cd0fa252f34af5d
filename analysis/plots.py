"""Figures for the analysis Datasets: every function takes computed Datasets and returns a Figure.

One idea: the public plotting namespace. The functions live in two modules, one per
figure family, and are all importable from here:

* :mod:`spectral_physics.analysis.plots_network`: one trained network's analyses
  (eigenvalue statistics, node correspondence, homeostasis, transfer operator);
* :mod:`spectral_physics.analysis.plots_experiments`: experiment grids (preset x hidden
  sweep and its phase diagram, pruning curves, sparse training, NTT wirings).

Nothing here computes statistics beyond seed means and standard errors: fits, bootstraps
and boundaries are computed first (e.g. :func:`plot_sweep` takes the
:func:`spectral_physics.analysis.phase.phase_boundary` of its Dataset). Every returned
Figure carries ``fig.plotted``, a nested dict of exactly the numbers drawn, which is how
tests check a figure against its Dataset (:mod:`spectral_physics.analysis._plotting`).
Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state); save them
with ``fig.savefig(path)``.

Example
-------
>>> from spectral_physics import SpectralMLP
>>> from spectral_physics.analysis.eigenstats import eigenstats
>>> from spectral_physics.analysis.plots import plot_eigenstats
>>> fig = plot_eigenstats(eigenstats(SpectralMLP([20, 16, 3], train="eigen", init="paper")))
>>> sorted(fig.plotted)
['esd', 'lam_in_density', 'lam_out_density', 'r']
>>> import os, tempfile
>>> fig.savefig(os.path.join(tempfile.mkdtemp(), "eigenstats.png"))
"""

from __future__ import annotations

from .plots_experiments import (
    plot_accuracy_vs_hidden,
    plot_ntt_comparison,
    plot_pruning_curves,
    plot_sparse_vs_direct,
    plot_sweep,
)
from .plots_network import (
    plot_eigen_distributions,
    plot_eigenstats,
    plot_homeostasis,
    plot_homeostasis_timecourse,
    plot_input_relevance,
    plot_level_statistics,
    plot_node_correspondence,
    plot_transfer_operator,
    plot_weight_spectrum,
)

__all__ = [
    # one network's analyses (plots_network)
    "plot_eigen_distributions",
    "plot_weight_spectrum",
    "plot_level_statistics",
    "plot_eigenstats",
    "plot_node_correspondence",
    "plot_input_relevance",
    "plot_homeostasis",
    "plot_homeostasis_timecourse",
    "plot_transfer_operator",
    # experiment grids (plots_experiments)
    "plot_accuracy_vs_hidden",
    "plot_sweep",
    "plot_pruning_curves",
    "plot_sparse_vs_direct",
    "plot_ntt_comparison",
]
