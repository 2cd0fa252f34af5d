"""Softmax cross-entropy, averaged over the batch.

Example
-------
>>> import numpy as np
>>> from spectral_physics.losses import softmax_cross_entropy
>>> loss, d = softmax_cross_entropy(np.zeros((2, 4)), np.array([0, 3]))
>>> round(float(loss), 6) == round(float(np.log(4)), 6)
True
"""

from __future__ import annotations

from .backend import array_module

__all__ = ["softmax", "softmax_cross_entropy"]


def softmax(logits):
    """Row-wise softmax of ``logits`` (..., batch, classes), computed stably."""
    xp = array_module(logits)
    z = logits - logits.max(axis=-1, keepdims=True)
    e = xp.exp(z)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of integer labels under softmax(logits), and its gradient.

    Parameters
    ----------
    logits : array, shape (..., batch, classes)
    labels : int array, shape (..., batch)

    Returns
    -------
    loss : array, shape (...)
        Mean over the batch (a 0-d array for a single network); stays on the device.
    dlogits : array, shape (..., batch, classes)
        ``d loss / d logits = (softmax - onehot) / batch``.
    """
    xp = array_module(logits)
    z = logits - logits.max(axis=-1, keepdims=True)
    lse = xp.log(xp.exp(z).sum(axis=-1, keepdims=True))
    logp = z - lse
    picked = xp.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
    loss = -picked.mean(axis=-1)
    d = xp.exp(logp)
    n = logits.shape[-2]
    # softmax - onehot as a subtraction of the one-hot block (batch x classes booleans):
    # any leading ensemble axes broadcast, and it needs no put_along_axis (CuPy has it only
    # from 14.0); d - 0 leaves every other entry bit for bit as it was
    d -= labels[..., None] == xp.arange(logits.shape[-1])
    d /= n
    return loss, d
