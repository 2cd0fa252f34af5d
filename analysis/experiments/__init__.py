"""The paper experiments as library functions: a validated configuration in, an ``xarray.Dataset`` out.

Each experiment is a grid of independent runs executed by
:func:`~spectral_physics.analysis.sweep.execute.run_tasks` into one
:class:`~spectral_physics.analysis.sweep.store.RunStore` (one file per finished run,
``resume=True`` skips finished runs, any ``concurrent.futures`` executor or Dask):

* the presets sweep: :func:`spectral_physics.analysis.sweep.run_sweep` (a :class:`SweepSpec`);
* sparse spectral versus sparse direct training: :func:`sparse_vs_direct` (:class:`SparseConfig`);
* NTT versus the other wirings: :func:`ntt_comparison` (:class:`NTTConfig`);
* node pruning, post-training and the pre-training filter: :func:`pruning_experiment`
  (:class:`PruningConfig`).
"""

from .ntt import NTTConfig, ntt_comparison
from .pruning import PruningConfig, pruning_experiment
from .sparse import SparseConfig, sparse_vs_direct

__all__ = ["SparseConfig", "sparse_vs_direct", "NTTConfig", "ntt_comparison", "PruningConfig", "pruning_experiment"]
