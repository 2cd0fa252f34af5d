"""Network helpers shared by the analyses: members, initial networks, float64 passes.

Everything here reads a :class:`spectral_physics.SpectralMLP` and returns host
float64 NumPy arrays, so analyses never depend on the device or the training dtype.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from spectral_physics import SpectralMLP, to_numpy
from spectral_physics.network import affine, forward_pass

__all__ = [
    "as_members",
    "initial_network",
    "layer_arrays",
    "LayerArrays",
    "forward64",
    "affine_maps",
    "cross_entropy_per_sample",
    "hidden_sizes",
    "spec_of",
]


def as_members(nets: SpectralMLP | Iterable[SpectralMLP]) -> list[SpectralMLP]:
    """Flatten a network, an ensemble network or a sequence of them into single networks."""
    if isinstance(nets, SpectralMLP):
        nets = [nets]
    out: list[SpectralMLP] = []
    for net in nets:
        if not isinstance(net, SpectralMLP):
            raise ValueError(f"nets must hold SpectralMLP objects, got {type(net).__name__}")
        if net.ensemble_size:
            out.extend(net.member(e) for e in range(net.ensemble_size))
        else:
            out.append(net)
    if not out:
        raise ValueError("nets must hold at least one network")
    return out


def initial_network(net: SpectralMLP) -> SpectralMLP:
    """The network as it was before training, rebuilt from its seed and configuration.

    Construction is deterministic in the seed (arrays are drawn on the host from
    ``SeedSequence(seed)``), so this reproduces the initial state exactly. Static masks
    and dynamic sparsity settings are copied from ``net``: they are structure, not
    something training moved.
    """
    if net.ensemble_size:
        raise ValueError("initial_network needs a single network; split ensembles with as_members")
    cfg = net.config()
    new = SpectralMLP(
        cfg["sizes"], train=cfg["train"], activation=cfg["activation"], seed=cfg["seed"],
        device=net.device, dtype=cfg["dtype"], init=cfg["init"], bias=cfg["bias"],
    )
    for src, dst in zip(net.layers, new.layers):
        if src.mask is not None:
            dst.mask = src.mask.copy()
        dst.sparsity = src.sparsity
    return new


def spec_of(net: SpectralMLP) -> dict[str, Any]:
    """JSON-serialisable network specification for provenance attributes."""
    cfg = dict(net.config())
    cfg["sparsity"] = [layer.sparsity for layer in net.layers]
    cfg["masked"] = [layer.mask is not None for layer in net.layers]
    return cfg


class LayerArrays:
    """Host float64 copies of one layer's arrays.

    Attributes
    ----------
    lam_in : ndarray, shape (N_in,)
    lam_out : ndarray, shape (N_out,)
    phi : ndarray, shape (N_out, N_in)
    w : ndarray, shape (N_out, N_in)
        Effective weights (mask applied), what the forward pass uses.
    bias : ndarray, shape (N_out,)
        Zeros when the layer has no bias.
    """

    __slots__ = ("lam_in", "lam_out", "phi", "w", "bias")

    def __init__(self, layer) -> None:
        f = lambda a: np.asarray(to_numpy(a), dtype=np.float64)  # noqa: E731
        self.lam_in = f(layer.lam_in)
        self.lam_out = f(layer.lam_out)
        self.phi = f(layer.phi)
        self.w = f(layer.weight_matrix())
        self.bias = f(layer.bias) if layer.use_bias else np.zeros(layer.n_out)


def layer_arrays(net: SpectralMLP) -> list[LayerArrays]:
    """:class:`LayerArrays` for every layer of a single network."""
    if net.ensemble_size:
        raise ValueError("layer_arrays needs a single network; split ensembles with as_members")
    return [LayerArrays(layer) for layer in net.layers]


def hidden_sizes(net: SpectralMLP) -> list[int]:
    """Sizes of the hidden layers ``N_1 .. N_{L-1}``."""
    return list(net.sizes[1:-1])


def forward64(net: SpectralMLP, x, arrays: Sequence[LayerArrays] | None = None):
    """Float64 forward pass on the host (:func:`spectral_physics.network.forward_pass`).

    Parameters
    ----------
    net : SpectralMLP
        Single network (supplies the activation).
    x : array_like, shape (batch, N_0)
    arrays : list of LayerArrays, optional
        Precomputed (or modified) arrays; default ``layer_arrays(net)``.

    Returns
    -------
    zs : list of ndarray
        Pre-activations per layer, (batch, N_{l+1}).
    acts : list of ndarray
        ``acts[0] = x``, ``acts[l+1] = sigma(zs[l])``; the last entry is the logits.
    """
    arrays = layer_arrays(net) if arrays is None else arrays
    x = np.asarray(to_numpy(x), dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != net.sizes[0]:
        raise ValueError(f"x must have shape (batch, {net.sizes[0]}), got {x.shape}")
    return forward_pass(x, affine_maps(arrays), net.act)


def affine_maps(arrays: Sequence[LayerArrays]) -> list:
    """One :func:`spectral_physics.network.affine` map per layer of host float64 arrays."""
    return [affine(la.w, la.bias) for la in arrays]


def cross_entropy_per_sample(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Softmax cross-entropy of every sample along the last axis, logits (..., batch, C)."""
    m = logits.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(logits - m).sum(axis=-1)) + m[..., 0]
    picked = np.take_along_axis(logits, np.broadcast_to(y[..., None], logits.shape[:-1] + (1,)), axis=-1)
    return lse - picked[..., 0]
