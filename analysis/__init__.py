"""Analysis of spectral networks: eigenvalue statistics, node correspondence, homeostasis.

Three layers, as in arviz-stats: pure array functions (e.g. the random-matrix statistics
of :mod:`spectral_physics.analysis.rmt`, such as
:func:`spectral_physics.analysis.rmt.spacing_ratio`), functions returning ``xarray.Dataset``
objects with named dims and CF attributes (:func:`spectral_physics.analysis.eigenstats.eigenstats`,
:func:`spectral_physics.analysis.nodes.node_correspondence`, :func:`spectral_physics.analysis.homeostasis.homeostasis`),
and plot functions in :mod:`spectral_physics.analysis.plots` that take those Datasets and return
matplotlib Figures.

Example
-------
>>> from spectral_physics import SpectralMLP
>>> from spectral_physics.analysis.eigenstats import eigenstats
>>> ds = eigenstats(SpectralMLP([20, 16, 3], train="eigen", init="paper", seed=0))
>>> sorted(ds.source.values.tolist())
['initial', 'random', 'trained']

The submodules ``rmt``, ``eigenstats``, ``nodes`` and ``homeostasis`` keep their names at package
level (their main functions share those names, so they are not re-exported here: use
``from spectral_physics.analysis.eigenstats import eigenstats``). ``analysis`` imports
``spectral_physics``; the core never imports ``analysis``.
"""

from . import eigenstats, homeostasis, nodes, rmt
from ._xr import cf, provenance_attrs, read_netcdf, write_netcdf
from .eigenstats import check_transfer_operator, eigenstats_ensemble, ensemble_summary
from .homeostasis import HomeostasisRecorder, cv_permutation_test, frozen_eigenvalue_network, silencing
from .nodes import ablation_importance, input_relevance, node_correspondence, node_correspondence_ensemble
from .rmt import (
    complex_spacing_ratio,
    fit_marchenko_pastur,
    fit_power_law,
    gram_spectrum,
    singular_values,
    spacing_ratio,
)

__all__ = [
    "eigenstats",
    "homeostasis",
    "nodes",
    "rmt",
    "cf",
    "provenance_attrs",
    "read_netcdf",
    "write_netcdf",
    "check_transfer_operator",
    "complex_spacing_ratio",
    "eigenstats_ensemble",
    "ensemble_summary",
    "fit_marchenko_pastur",
    "fit_power_law",
    "gram_spectrum",
    "singular_values",
    "spacing_ratio",
    "HomeostasisRecorder",
    "cv_permutation_test",
    "frozen_eigenvalue_network",
    "silencing",
    "ablation_importance",
    "input_relevance",
    "node_correspondence",
    "node_correspondence_ensemble",
]
