"""
Eigenvalue statistics of a network
==================================

:func:`spectral_physics.analysis.eigenstats.eigenstats` compares a network with its
initial state (rebuilt from the seed) and with a random null (every array replaced by
i.i.d. Gaussians with the same mean and standard deviation): the distributions of
``lam_in`` and ``lam_out``, the mean spacing ratio ``<r>`` of the eigenvalues against
the Poisson and GOE references, and the Gram spectrum of the weights against a fitted
Marchenko-Pastur law. It needs no data.
"""

import numpy as np
from spectral_physics.analysis import rmt
from spectral_physics.analysis.eigenstats import eigenstats
from spectral_physics.analysis.plots import plot_eigenstats

from spectral_physics import SpectralMLP, fit, teacher_student

# %%
# The array layer: random-matrix references
# -----------------------------------------
# :mod:`spectral_physics.analysis.rmt` works on plain arrays. A Gaussian matrix
# follows Marchenko-Pastur; independent levels give the Poisson ``<r>``.

rng = np.random.default_rng(0)
w = rng.standard_normal((300, 100))
mp = rmt.fit_marchenko_pastur(rmt.gram_spectrum(w), q=300 / 100)
print(mp)
print("<r> of independent levels:", round(rmt.spacing_ratio(rng.uniform(size=2000)), 3),
      "(Poisson", round(rmt.R_POISSON, 3), ")")

# %%
# The Dataset layer: a trained ``eigen`` network
# ----------------------------------------------
# ``eigen`` trains only the eigenvalues (``phi`` stays at its Glorot start), so the
# weights of the trained network differ from the initial ones only through
# ``lam_in`` and ``lam_out``.

data = teacher_student(n_train=2000, n_test=500, n_features=64, seed=0)
net = SpectralMLP([64, 128, 10], train="eigen", seed=0)
fit(net, data, epochs=3, lr=0.01, batch_size=100, progress=False)
ds = eigenstats(net)
cols = ["lam_in_std", "lam_out_std", "lambda_r", "mp_ks", "mp_n_above"]
print(ds[cols].to_dataframe()[cols].round(3))

# %%
# One figure per layer: eigenvalue densities, weight spectrum, level statistics.

fig = plot_eigenstats(ds)
