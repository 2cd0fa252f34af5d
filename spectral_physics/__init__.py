"""spectral-physics: train and analyse neural networks in reciprocal space.

A fully connected layer is the off-diagonal block of a transfer operator
``A = Phi Lambda Phi^-1``; its weights are ``w_ij = (lam_in_j - lam_out_i) phi_ij``.
Training can act on the eigenvalues, the eigenvectors, or both.

Example
-------
>>> from spectral_physics import SpectralMLP
>>> net = SpectralMLP([784, 500, 10], train="eigen", activation="relu", seed=0)
>>> net.n_trainable                      # lam_in, lam_out and the biases of both layers
2304
"""

from . import config
from ._version import __version__
from .activations import ACTIVATIONS, get_activation
from .backend import get_xp, resolve_device, to_device, to_numpy
from .datasets import Dataset, DatasetError, load_dataset, teacher_student
from .io import ModelFileError, load_network, save_network
from .layers import SpectralLayer
from .losses import softmax_cross_entropy
from .network import SpectralMLP
from .optim import SGD, Adam, Adamax, make_optimizer
from .presets import PRESETS, Preset, get_preset, trainable_count
from .train import Callback, DivergenceError, History, fit


def __getattr__(name: str):
    # SymPy is slow to import: load the symbolic module on first use only
    if name == "symbolic":
        import importlib

        return importlib.import_module(".symbolic", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "__version__",
    "ACTIVATIONS",
    "PRESETS",
    "Preset",
    "get_preset",
    "config",
    "SpectralLayer",
    "SpectralMLP",
    "trainable_count",
    "get_activation",
    "get_xp",
    "resolve_device",
    "to_device",
    "to_numpy",
    "softmax_cross_entropy",
    "SGD",
    "Adam",
    "Adamax",
    "make_optimizer",
    "fit",
    "History",
    "Callback",
    "DivergenceError",
    "save_network",
    "load_network",
    "ModelFileError",
    "Dataset",
    "DatasetError",
    "load_dataset",
    "teacher_student",
    "symbolic",
]
