"""Fused element-wise kernels of a training step: weights, their chain rule, optimiser updates.

Outside the matrix products, a training step spends its time in element-wise work on the
large ``(N_out, N_in)`` blocks: forming ``W = (lam_in - lam_out) * phi``, chaining
``G = dL/dW`` to ``phi`` and to the eigenvalues, and the optimiser update. That work is
memory-bound, and written as array expressions it reads and writes each block 3 to 12
times per step (Adam alone is 12 passes). Here each is one loop over the block.

Every kernel has two implementations with the same contract:

``numba``
    Compiled loops (:mod:`spectral_physics._numba_kernels`) for C-contiguous NumPy arrays
    of one floating dtype; compiled on first use and cached on disk.
``array``
    Array-module expressions, used for CuPy arrays, for anything the compiled loops do not
    take (non-contiguous or mixed-dtype arrays), and where Numba is not installed.

``SPECTRAL_PHYSICS_KERNELS=array`` (read at each kernel call through
:mod:`spectral_physics.config`, so setting it after import works) or
:func:`set_implementation` (which wins over the variable) forces the array implementation;
``auto`` (the default) takes the compiled one where it applies; ``numba`` does the same
but raises where the compiled kernels are unavailable (Numba missing or failing to load)
instead of falling back silently. The two agree to rounding:
the compiled loops accumulate the eigenvalue gradients in float64 and evaluate the
optimiser updates in a different but equivalent order.

Shapes: blocks are ``(..., N_out, N_in)``, ``lam_in`` is ``(..., N_in)`` and ``lam_out``
``(..., N_out)``, the leading axes being the ensemble axes of :mod:`spectral_physics.layers`.

Example
-------
>>> import numpy as np
>>> from spectral_physics.kernels import spectral_weight
>>> spectral_weight(np.ones((2, 3)), np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0])).tolist()
[[1.0, 2.0, 3.0], [0.0, 1.0, 2.0]]
"""

from __future__ import annotations

import functools
import math
import warnings
from types import ModuleType

import numpy as np

from . import config
from .backend import array_module

__all__ = [
    "KERNEL_CHOICES",
    "set_implementation",
    "kernel_implementation",
    "spectral_weight",
    "spectral_grads",
    "adam_update",
    "adamax_update",
    "sgd_update",
    "kth_smallest_abs",
]

#: accepted values of ``SPECTRAL_PHYSICS_KERNELS``
KERNEL_CHOICES = ("auto", "numba", "array")

_ENV = "SPECTRAL_PHYSICS_KERNELS"

# set_implementation's choice; None follows the environment variable
_CHOICE: str | None = None


def _choice() -> str:
    # config remembers the last parse, so this costs a dictionary look-up per kernel call
    return _CHOICE if _CHOICE is not None else config.get(_ENV)


def set_implementation(choice: str | None) -> str | None:
    """Choose the kernels' implementation for this process; returns the previous choice.

    Parameters
    ----------
    choice : {"auto", "numba", "array"} or None
        As ``SPECTRAL_PHYSICS_KERNELS``, which it overrides; ``None`` follows the variable
        again.

    Returns
    -------
    str or None
        The previous choice (``None``: the variable's), to pass back to restore it.
    """
    global _CHOICE
    prev = _CHOICE
    _CHOICE = None if choice is None else config.get(_ENV, choice, argument="choice")
    return prev


@functools.cache
def _compiled() -> ModuleType | None:
    try:
        from . import _numba_kernels
    except ImportError:
        return None
    except Exception as exc:  # noqa: BLE001 - e.g. Numba finds no writable cache directory
        warnings.warn(f"compiled kernels unavailable ({exc}); using array expressions "
                      "(set NUMBA_CACHE_DIR to a writable directory to enable them)", RuntimeWarning,
                      stacklevel=3)
        return None
    return _numba_kernels


def _numba_for(*arrays) -> ModuleType | None:
    """The compiled kernels if they apply to ``arrays``, else ``None`` (array implementation)."""
    choice = _choice()
    if choice == "array":
        return None
    mod = _compiled()
    if mod is None:
        if choice == "numba":
            raise ImportError("SPECTRAL_PHYSICS_KERNELS=numba but the Numba kernels are unavailable "
                              "(is Numba installed? pip install numba)")
        return None
    dtype = arrays[0].dtype
    for a in arrays:
        # read-only arrays would need their own compiled variants; they are rare enough
        if type(a) is not np.ndarray or a.dtype != dtype or not (a.flags.c_contiguous and a.flags.writeable):
            return None
    return mod if dtype in (np.float32, np.float64) else None


def kernel_implementation(*arrays) -> str:
    """Which implementation the kernels would use for ``arrays``: ``"numba"`` or ``"array"``."""
    return "array" if _numba_for(*arrays) is None else "numba"


def _as_blocks(phi, lam_in, lam_out):
    """3-D views ``(E, N_out, N_in)``, ``(E, N_in)``, ``(E, N_out)``; ``None`` if shapes do not nest."""
    n_out, n_in = phi.shape[-2:]
    lead = phi.shape[:-2]
    if lam_in.shape != lead + (n_in,) or lam_out.shape != lead + (n_out,):
        return None
    e = math.prod(lead)  # not -1: a block may be empty
    return phi.reshape(e, n_out, n_in), lam_in.reshape(e, n_in), lam_out.reshape(e, n_out)


def spectral_weight(phi, lam_in, lam_out):
    """Direct-space weights ``w_ij = (lam_in_j - lam_out_i) * phi_ij``.

    Parameters
    ----------
    phi : array, shape (..., N_out, N_in)
    lam_in : array, shape (..., N_in)
    lam_out : array, shape (..., N_out)

    Returns
    -------
    w : array, shape (..., N_out, N_in)
        A new array.
    """
    mod = _numba_for(phi, lam_in, lam_out)
    blocks = _as_blocks(phi, lam_in, lam_out) if mod is not None else None
    if blocks is None:
        return (lam_in[..., None, :] - lam_out[..., :, None]) * phi
    w = np.empty_like(phi)
    mod.spectral_weight(*blocks, w.reshape(blocks[0].shape))
    return w


def spectral_grads(g, phi, lam_in, lam_out, want_dphi: bool = True):
    """Chain ``G = dL/dW`` through ``w_ij = (lam_in_j - lam_out_i) phi_ij`` (docs/design.md section 1.6).

    ::

        dL/dphi_ij   = G_ij (lam_in_j - lam_out_i)
        dL/dlam_in_j = sum_i G_ij phi_ij,     dL/dlam_out_i = -sum_j G_ij phi_ij

    Parameters
    ----------
    g : array, shape (..., N_out, N_in)
        ``dL/dW``; may be overwritten.
    phi : array, shape (..., N_out, N_in)
    lam_in : array, shape (..., N_in)
    lam_out : array, shape (..., N_out)
    want_dphi : bool
        Whether ``dL/dphi`` is needed (it costs a write of the whole block).

    Returns
    -------
    dphi : array, shape (..., N_out, N_in), or None
    dlam_in : array, shape (..., N_in)
    dlam_out : array, shape (..., N_out)
    """
    mod = _numba_for(g, phi, lam_in, lam_out)
    blocks = _as_blocks(phi, lam_in, lam_out) if mod is not None and g.shape == phi.shape else None
    if blocks is None:
        dphi = g * (lam_in[..., None, :] - lam_out[..., :, None]) if want_dphi else None
        g *= phi  # G * phi in place: G is not needed any more
        return dphi, g.sum(axis=-2), -g.sum(axis=-1)
    phi3, lam_in2, lam_out2 = blocks
    dphi = np.empty_like(phi) if want_dphi else None
    dlam_in, dlam_out = np.empty_like(lam_in), np.empty_like(lam_out)
    mod.spectral_grads(
        g.reshape(phi3.shape), phi3, lam_in2, lam_out2,
        dphi.reshape(phi3.shape) if want_dphi else np.empty((0, 0, 0), phi.dtype),  # never written
        dlam_in.reshape(lam_in2.shape), dlam_out.reshape(lam_out2.shape), want_dphi,
    )
    return dphi, dlam_in, dlam_out


def _flat(*arrays):
    return [a.reshape(-1) for a in arrays]


def _ema(a, x, beta: float) -> None:
    """``a = beta a + (1 - beta) x`` in place, written as ``beta (a - x) + x``: no temporary."""
    a -= x
    a *= beta
    a += x


def _descend(p, m, denom, step: float) -> None:
    """``p -= step * m / denom``; ``denom`` is overwritten."""
    array_module(p).divide(m, denom, out=denom)
    denom *= step
    p -= denom


def adam_update(p, g, m, v, tmp, beta1: float, beta2: float, step: float, eps: float) -> None:
    """One Adam update of ``p`` in place.

    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g**2``, ``p -= step * m / (sqrt(v) + eps)``,
    where the caller folds Adam's bias corrections into ``step`` and ``eps``.

    Parameters
    ----------
    p, g, m, v, tmp : arrays of one shape
        Parameter, gradient, first and second moments (updated in place) and a scratch
        array for the array implementation (``None``: allocated when needed).
    beta1, beta2, step, eps : float
    """
    mod = _numba_for(p, g, m, v)
    if mod is not None:
        t = p.dtype.type
        mod.adam(*_flat(p, g, m, v), t(beta1), t(beta2), t(1 - beta1), t(1 - beta2), t(step), t(eps))
        return
    xp = array_module(p)
    tmp = xp.empty_like(p) if tmp is None else tmp
    _ema(m, g, beta1)
    _ema(v, xp.multiply(g, g, out=tmp), beta2)
    xp.sqrt(v, out=tmp)
    tmp += eps
    _descend(p, m, tmp, step)


def adamax_update(p, g, m, u, tmp, beta1: float, beta2: float, step: float, eps: float) -> None:
    """One Adamax update of ``p`` in place.

    ``m = b1 m + (1 - b1) g``, ``u = max(b2 u, |g|)``, ``p -= step * m / (u + eps)``.

    Parameters
    ----------
    p, g, m, u, tmp : arrays of one shape
    beta1, beta2, step, eps : float
    """
    mod = _numba_for(p, g, m, u)
    if mod is not None:
        t = p.dtype.type
        mod.adamax(*_flat(p, g, m, u), t(beta1), t(beta2), t(1 - beta1), t(step), t(eps))
        return
    xp = array_module(p)
    tmp = xp.empty_like(p) if tmp is None else tmp
    _ema(m, g, beta1)
    u *= beta2
    xp.maximum(u, xp.abs(g, out=tmp), out=u)
    xp.add(u, eps, out=tmp)
    _descend(p, m, tmp, step)


def sgd_update(p, g, v, tmp, momentum: float, lr: float) -> None:
    """One heavy-ball SGD update of ``p`` in place: ``v = mu v + g``, ``p -= lr v``.

    Parameters
    ----------
    p, g, v, tmp : arrays of one shape
    momentum, lr : float
    """
    mod = _numba_for(p, g, v)
    if mod is not None:
        t = p.dtype.type
        mod.sgd(*_flat(p, g, v), t(momentum), t(lr))
        return
    v *= momentum
    v += g
    p -= array_module(p).multiply(v, lr, out=tmp)



#: unsigned view, sign-bit mask and shift to the top 16 magnitude bits, per float dtype
_BITS = {
    np.dtype(np.float32): (np.uint32, np.uint32(0x7FFFFFFF), np.uint32(15)),
    np.dtype(np.float64): (np.uint64, np.uint64(0x7FFFFFFFFFFFFFFF), np.uint64(47)),
}


#: blocks with fewer entries take numpy.partition in kth_smallest_abs
_RADIX_MIN = 8192


def kth_smallest_abs(w, k: int):
    """The ``k``-th smallest ``|w|`` over the last two axes (the dynamic-sparsity threshold).

    Equals ``partition(abs(w).reshape(..., -1), k - 1, axis=-1)[..., k - 1]``; for blocks of
    at least 8192 entries the compiled version is a radix select (two passes over ``w``)
    instead of a partition of a copy, about 7x faster on a 500 x 784 block.

    Parameters
    ----------
    w : array, shape (..., N_out, N_in)
    k : int
        ``1 <= k <= N_out * N_in``.

    Returns
    -------
    threshold : array, shape (...)
        Same dtype as ``w``.
    """
    n = w.shape[-1] * w.shape[-2]
    if not 1 <= k <= n:
        raise ValueError(f"k must lie in [1, {n}], got {k!r}")
    lead = w.shape[:-2]
    # below a few thousand entries clearing the 2^16-bucket histogram costs more than a partition
    mod = _numba_for(w) if n >= _RADIX_MIN else None
    if mod is None:
        a = array_module(w).abs(w).reshape(lead + (n,))
        return array_module(w).partition(a, k - 1, axis=-1)[..., k - 1]
    uint, abs_mask, shift = _BITS[w.dtype]
    out = np.empty(lead, dtype=uint)
    mod.kth_smallest_abs_bits(w.reshape(-1, n).view(uint), k, abs_mask, shift, out.reshape(-1))
    return out.view(w.dtype)
