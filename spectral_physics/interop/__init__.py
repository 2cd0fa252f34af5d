"""Import and export dense networks: PyTorch, safetensors, Keras, ONNX.

A trained dense network from another library becomes a
:class:`~spectral_physics.SpectralMLP` computing the same function (a direct-space
layer is the spectral layer ``lam_in = 1``, ``lam_out = 0``, ``phi = W``), so every
analysis runs on it and any preset can fine-tune it; a SpectralMLP of any preset
exports its effective weights ``M * W`` back.

================== ==========================================  ==========================
format             read through                                orientation
================== ==========================================  ==========================
PyTorch state dict ``torch.load(weights_only=True)``           ``weight`` (out, in)
``nn.Sequential``  :func:`from_torch` (torch installed)        ``weight`` (out, in)
safetensors        ``safetensors`` (NumPy; no torch)           ``weight`` (out, in)
Keras ``.keras``   zip + ``h5py`` (no TensorFlow)              ``kernel`` (in, out): ``W = kernel.T``
Keras ``.h5``      ``h5py`` (legacy ``model.save``)            ``kernel`` (in, out)
ONNX               ``onnx``: Gemm, MatMul + Add                ``Gemm transB=1``: (out, in)
================== ==========================================  ==========================

State dicts carry no activations: pass ``activation=`` (CLI ``--activation``) unless
the file's metadata states it (``activation`` or ``spectral_physics.activation``; the
files :func:`export_network` writes do). Anything that is not a chain of dense layers
with one hidden activation (relu, tanh, elu, identity) and a linear last layer
(optionally followed by softmax, dropped: the network returns logits) is an
:class:`InteropError` naming the file and the layer. The optional packages come with
the ``interop`` extra (``pip install "spectral-physics[interop]"``: safetensors, h5py,
onnx); torch is optional and installed separately.

Example
-------
>>> import os, tempfile
>>> import numpy as np
>>> from spectral_physics import SpectralMLP
>>> from spectral_physics.interop import as_spectral, export_network, load_any
>>> net = SpectralMLP([6, 4, 3], train="direct", activation="relu", seed=0)
>>> path = export_network(net, os.path.join(tempfile.mkdtemp(), "m.safetensors"))
>>> tuned = as_spectral(load_any(path), train="eigen")   # train only the eigenvalues from here
>>> tuned.n_trainable                                     # (6 + 4 + 4) + (4 + 3 + 3)
24
>>> x = np.ones((2, 6), dtype="float32")
>>> bool(np.allclose(tuned.forward(x), net.forward(x)))
True
"""

from ._stack import DenseStack, InteropError, MissingDependencyError
from .convert import as_spectral, from_direct
from .export import EXPORT_FORMATS, export_network
from .load import FORMATS, detect_format, load_any, read_dense
from .state_dict import from_torch

__all__ = [
    "DenseStack",
    "InteropError",
    "MissingDependencyError",
    "FORMATS",
    "EXPORT_FORMATS",
    "detect_format",
    "read_dense",
    "load_any",
    "from_direct",
    "as_spectral",
    "from_torch",
    "export_network",
]
