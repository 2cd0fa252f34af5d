"""Element-wise activations with their first and second derivatives.

The second derivative is needed by the NTT gradient (double backpropagation).
All functions work on NumPy and CuPy arrays alike.

Example
-------
>>> import numpy as np
>>> from spectral_physics.activations import get_activation
>>> act = get_activation("tanh")
>>> float(act.df(np.array(0.0)))
1.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .backend import array_module

__all__ = ["Activation", "ACTIVATIONS", "get_activation"]


@dataclass(frozen=True)
class Activation:
    """An activation ``sigma`` with ``df = sigma'`` and ``d2f = sigma''``, all of ``z``.

    ``df_from`` computes ``sigma'`` from ``(z, a)`` with ``a = sigma(z)`` already at hand,
    which saves a transcendental call in backpropagation (tanh: ``1 - a**2``).
    """

    name: str
    f: Callable
    df: Callable
    d2f: Callable
    df_from: Callable


def _relu(z):
    xp = array_module(z)
    return xp.maximum(z, 0)


def _relu_d(z):
    return (z > 0).astype(z.dtype)


def _zero(z):
    xp = array_module(z)
    return xp.zeros_like(z)


def _tanh(z):
    return array_module(z).tanh(z)


def _tanh_d(z):
    t = array_module(z).tanh(z)
    return 1 - t * t


def _tanh_d2(z):
    t = array_module(z).tanh(z)
    return -2 * t * (1 - t * t)


def _elu(z):
    xp = array_module(z)
    return xp.where(z > 0, z, xp.expm1(xp.minimum(z, 0)))


def _elu_d(z):
    xp = array_module(z)
    return xp.where(z > 0, 1, xp.exp(xp.minimum(z, 0))).astype(z.dtype)


def _elu_d2(z):
    xp = array_module(z)
    return xp.where(z > 0, 0, xp.exp(xp.minimum(z, 0))).astype(z.dtype)


def _one(z):
    return array_module(z).ones_like(z)


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", _relu, _relu_d, _zero, lambda z, a: _relu_d(z)),
    "tanh": Activation("tanh", _tanh, _tanh_d, _tanh_d2, lambda z, a: 1 - a * a),
    "elu": Activation(
        "elu", _elu, _elu_d, _elu_d2,
        lambda z, a: array_module(z).where(z > 0, 1, a + 1).astype(z.dtype),
    ),
    "identity": Activation("identity", lambda z: z, _one, _zero, lambda z, a: _one(z)),
}


def get_activation(name: str) -> Activation:
    """Look up an activation by name (``relu``, ``tanh``, ``elu``, ``identity``)."""
    if isinstance(name, Activation):
        return name
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}"
        ) from None
