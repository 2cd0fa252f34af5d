"""
Train spectral presets on teacher-student data
==============================================

A spectral layer stores its weights as ``w_ij = (lam_in_j - lam_out_i) phi_ij``; a
*preset* chooses which of ``phi``, ``lam_in`` and ``lam_out`` train. Here the same
100-64-10 network is trained with four presets on labels drawn by a random teacher
network (:func:`spectral_physics.teacher_student`, no data files). Every preset starts
from the same direct-space weights (``init="default"``), so the curves differ only in
what training may move.
"""

import matplotlib.pyplot as plt

from spectral_physics import SpectralMLP, fit, teacher_student, trainable_count

data = teacher_student(n_train=3000, n_test=1000, n_features=100, n_classes=10, seed=0)
print(data)

# %%
# Trainable-parameter counts
# --------------------------
# ``net.n_trainable`` counts one network's trainable scalars, biases included;
# :func:`spectral_physics.trainable_count` gives the count of one layer.

presets = ["direct", "spectral", "eigen", "eigen-out"]
for preset in presets:
    net = SpectralMLP([100, 64, 10], train=preset, seed=0)
    print(f"{preset:10s} {net.n_trainable:6d} trainable "
          f"(first layer: {trainable_count(preset, 100, 64)})")

# %%
# Training
# --------
# Adam, five epochs, batch 100; ``History`` holds one record per epoch.

fig, ax = plt.subplots(figsize=(5, 3.2))
for preset in presets:
    net = SpectralMLP([100, 64, 10], train=preset, activation="tanh", seed=0)
    hist = fit(net, data, epochs=5, lr=0.01, batch_size=100, progress=False)
    acc = hist["test_accuracy"]
    ax.plot(range(1, len(acc) + 1), acc, marker="o", label=f"{preset} ({net.n_trainable})")
    print(f"{preset:10s} test accuracy {acc[-1]:.3f}")
ax.set_xlabel("epoch")
ax.set_ylabel("test accuracy")
ax.legend(title="preset (trainable)", fontsize=8)
fig.tight_layout()
