"""
A node-pruning curve
====================

A hidden node owns the eigenvalue ``lam_out`` of the layer feeding it (Buffoni et al.
2022). :func:`spectral_physics.pruning.pruning_curve` removes the lowest-ranked
fraction of hidden nodes, without retraining, and measures the accuracy left, for
several rankings: ``eigenvalue`` (``|lam_out|``), ``connectivity`` (sum of incoming
``|w|``) and ``random``.
"""

import matplotlib.pyplot as plt
import numpy as np

from spectral_physics import SpectralMLP, fit, teacher_student
from spectral_physics.pruning import prune_nodes, pruning_curve

data = teacher_student(n_train=3000, n_test=1000, n_features=50, seed=1)
net = SpectralMLP([50, 100, 10], train="spectral", activation="relu", seed=0)
hist = fit(net, data, epochs=4, lr=0.005, batch_size=100, progress=False)
print("test accuracy", round(hist["test_accuracy"][-1], 3))

# %%
# ``prune_nodes`` builds a genuinely smaller network.

small = prune_nodes(net, 0.5, ranking="eigenvalue")
print(net.sizes, "->", small.sizes)

# %%
# The curve is an ``xarray.Dataset`` with dims ``fraction_removed``, ``ranking`` and
# ``seed``.

curve = pruning_curve(net, data.x_test, data.y_test,
                      rankings=["eigenvalue", "connectivity", "random"],
                      fractions=np.linspace(0, 0.95, 20))
fig, ax = plt.subplots(figsize=(5, 3.2))
for ranking in curve.ranking.values:
    acc = curve.accuracy.sel(ranking=ranking).mean("seed")
    ax.plot(curve.fraction_removed, acc, label=str(ranking))
ax.set_xlabel("fraction of hidden nodes removed")
ax.set_ylabel("test accuracy")
ax.legend()
fig.tight_layout()
