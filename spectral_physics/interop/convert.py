"""Direct-space weights to spectral networks: every dense layer is a spectral layer.

A dense layer ``W`` is the spectral layer with ``lam_in = 1``, ``lam_out = 0`` and
``phi = W`` (docs/design.md section 1.4), so any preset can start from trained direct
weights and compute exactly the same function before training: ``eigen`` then trains
only the eigenvalues around the imported ``W``.

Example
-------
>>> import numpy as np
>>> from spectral_physics.interop import from_direct
>>> rng = np.random.default_rng(0)
>>> ws = [rng.normal(size=(3, 4)), rng.normal(size=(2, 3))]
>>> net = from_direct(ws, [np.zeros(3), np.zeros(2)], "tanh", train="eigen", dtype="float64")
>>> net.preset, net.n_trainable          # lam_in, lam_out and biases: (4+3+3) + (3+2+2)
('eigen', 17)
>>> bool(np.allclose(net.weights()[0], ws[0]))
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backend import to_numpy

__all__ = ["from_direct", "as_spectral"]


def _host(a, name: str) -> np.ndarray:
    arr = np.asarray(to_numpy(a))
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def from_direct(weights: Sequence[Any], biases: Sequence[Any] | None = None, activation: str = "relu", *,
                train: str = "direct", dtype: Any = "float32", device: str | None = None, seed: int = 0,
                masks: Sequence[Any] | None = None):
    """A :class:`~spectral_physics.SpectralMLP` with the given direct-space weights, in any preset.

    Each layer gets ``lam_in = 1``, ``lam_out = 0`` and ``phi = W`` (for ``svd`` and ``qr``
    the exact factorisation of that ``phi``, :func:`spectral_physics.layers.factorise`), so
    the network computes ``z = x W^T + b`` layer by layer whatever trains.

    Parameters
    ----------
    weights : sequence of array, shapes (N_out, N_in)
        ``W_k`` in order, torch ``Linear.weight`` orientation (transpose Keras kernels).
    biases : sequence of array (N_out,) or None, optional
        One per layer (``None`` entries: no bias, stored as zeros). ``None``: no biases at all
        (``bias=False``).
    activation : {"relu", "tanh", "elu", "identity"}
        Hidden-layer activation; the last layer is linear.
    train : str
        Preset or explicit trainable set (``"eigen"``: only ``lam_in``, ``lam_out`` and biases).
    dtype, device, seed
        As for :class:`~spectral_physics.SpectralMLP`; ``seed`` only seeds the data order of
        a later :func:`~spectral_physics.fit` (no array is drawn from it).
    masks : sequence of bool array (N_out, N_in) or None, optional
        Static masks to keep (``None`` entries: dense).

    Returns
    -------
    SpectralMLP

    Raises
    ------
    ValueError
        For shapes that do not chain, a bad bias shape or a non-finite entry.
    """
    from ..layers import factorise
    from ..network import SpectralMLP

    ws = [_host(w, f"weights[{k}]") for k, w in enumerate(weights)]
    if not ws:
        raise ValueError("weights must hold at least one matrix")
    for k, w in enumerate(ws):
        if w.ndim != 2:
            raise ValueError(f"weights[{k}] must be a (N_out, N_in) matrix, got shape {w.shape}")
        if k and w.shape[1] != ws[k - 1].shape[0]:
            raise ValueError(f"weights[{k}] takes {w.shape[1]} inputs but weights[{k - 1}] gives "
                             f"{ws[k - 1].shape[0]} outputs")
        if not np.isfinite(w).all():
            raise ValueError(f"weights[{k}] holds NaN or infinite values")
    use_bias = biases is not None and any(b is not None for b in biases)
    if biases is not None and len(biases) != len(ws):
        raise ValueError(f"biases must hold one entry per layer ({len(ws)}), got {len(biases)}")
    sizes = [ws[0].shape[1]] + [w.shape[0] for w in ws]
    net = SpectralMLP(sizes, train=train, activation=activation, seed=seed, device=device, dtype=dtype,
                      bias=use_bias)
    for k, (layer, w) in enumerate(zip(net.layers, ws)):
        param = layer.parametrisation
        if param == "direct":
            layer.weight = w
        elif param == "phi":
            layer.phi = w
        else:
            for name, arr in factorise(param, w).items():
                setattr(layer, name, arr)
        layer.lam_in = np.ones(w.shape[1])
        layer.lam_out = np.zeros(w.shape[0])
        if use_bias:
            b = biases[k]
            b = np.zeros(w.shape[0]) if b is None else _host(b, f"biases[{k}]")
            if b.shape != (w.shape[0],):
                raise ValueError(f"biases[{k}] must have shape ({w.shape[0]},), got {b.shape}")
            if not np.isfinite(b).all():
                raise ValueError(f"biases[{k}] holds NaN or infinite values")
            layer.bias = b
        if masks is not None and masks[k] is not None:
            layer.mask = np.asarray(to_numpy(masks[k])).astype(bool)
    return net


def as_spectral(net, train: str = "eigen", *, dtype: Any = None, device: str | None = None,
                seed: int | None = None):
    """The same function as ``net``, re-parametrised for ``train``: ``W = mask * W``, ``phi = W``.

    Start spectral fine-tuning from any trained network (imported or trained here): the
    effective weights of every layer (masks applied) become ``phi`` with ``lam_in = 1`` and
    ``lam_out = 0``; static masks and dynamic sparsity settings are kept.

    Parameters
    ----------
    net : SpectralMLP
        A single network (split an ensemble with ``net.member(e)``).
    train : str
        Preset or explicit trainable set of the result (default ``"eigen"``).
    dtype, device : optional
        Default: those of ``net``.
    seed : int, optional
        Default: ``net.seed``.

    Returns
    -------
    SpectralMLP
        Equal outputs to ``net`` (to rounding of ``svd``/``qr`` factorisations).
    """
    if net.ensemble_size:
        raise ValueError("as_spectral needs a single network; pick a member with net.member(e)")
    ws = [to_numpy(w) for w in net.weights()]
    bs = [to_numpy(layer.bias) for layer in net.layers] if net.bias else None
    masks = [None if layer.mask is None else to_numpy(layer.mask) for layer in net.layers]
    new = from_direct(ws, bs, net.activation, train=train, dtype=net.dtype if dtype is None else dtype,
                      device=net.device if device is None else device,
                      seed=net.seed if seed is None else seed, masks=masks)
    for src, dst in zip(net.layers, new.layers):
        dst.sparsity = src.sparsity
    return new
