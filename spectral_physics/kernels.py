"""Fused element-wise kernels of a training step: weights, their chain rule, optimiser updates.

Outside the matrix products, a training step spends its time in element-wise work on the
large ``(N_out, N_in)`` blocks: forming ``W = (lam_in - lam_out) * phi``, chaining
``G = dL/dW`` to ``phi`` and to the eigenvalues, and the optimiser update. That work is
memory-bound, and written as array expressions it reads and writes each block 3 to 12
times per step (Adam alone is 12 passes). Here each is one loop over the block.

Every kernel has up to three implementations with one contract:

``numba``
    Compiled loops (:mod:`spectral_physics._numba_kernels`) for C-contiguous NumPy arrays
    of one floating dtype; compiled on first use and cached on disk.
``cupy``
    Fused CuPy kernels (:mod:`spectral_physics._cupy_kernels`: ``ElementwiseKernel`` and
    ``ReductionKernel``, built on first use, compiled by CuPy on the first call) for CuPy
    arrays of one floating dtype. Their arithmetic is that of the array expressions, step
    for step (compiled without FMA contraction), so a GPU run gives the numbers the array
    implementation gives on the GPU.
``array``
    Array-module expressions, for anything the other two do not take (non-contiguous or
    mixed-dtype NumPy arrays, mixed-dtype CuPy arrays), and where Numba is not installed.

``SPECTRAL_PHYSICS_KERNELS=array`` (read at each kernel call through
:mod:`spectral_physics.config`, so setting it after import works) or
:func:`set_implementation` (which wins over the variable) forces the array implementation,
on both devices; ``auto`` (the default) takes the compiled loops (NumPy) or the fused
kernels (CuPy) where they apply; ``numba`` does the same but raises where the compiled
loops are unavailable (Numba missing or failing to load) instead of falling back silently.
They agree to rounding: every implementation accumulates the eigenvalue gradients in
float64 (in its own order), and the compiled loops evaluate the optimiser updates in a
different but equivalent order.

The dynamic-sparsity threshold (:func:`kth_smallest_abs`) is a radix select over the bit
patterns of ``|w|``: a compiled one for NumPy blocks, and one written in array operations
(histogram, cumulative sum, comparison; no sort and no host synchronisation) for CuPy
arrays, which runs on NumPy arrays too (:func:`radix_select`). :func:`top_k_mask` keeps
the ``k`` largest scores the same way, for the sparse masks of
:mod:`spectral_physics.sparse`.

A layer whose static mask keeps few weights (density at most :data:`SPARSE_DENSITY`)
multiplies by the kept weights only: :func:`sparse_index` builds the mask's CSR index once,
and :func:`sparse_forward`, :func:`sparse_weight_grad` and :func:`sparse_input_grad` are
compiled loops over it (NumPy, 2-D blocks). They compute what ``x @ (M * W).T``,
``M * (delta.T @ x)`` and ``delta @ (M * W)`` compute, to rounding; without the compiled
loops (or with ``SPECTRAL_PHYSICS_KERNELS=array``) the layer keeps those dense products.

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
from typing import NamedTuple

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
    "radix_select",
    "top_k_mask",
    "SPARSE_DENSITY",
    "SparseIndex",
    "sparse_index",
    "sparse_forward",
    "sparse_weight_grad",
    "sparse_input_grad",
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


def _cupy_for(*arrays) -> ModuleType | None:
    """The fused CuPy kernels if they apply to ``arrays`` (CuPy, one float dtype), else ``None``."""
    if _choice() == "array" or type(arrays[0]).__module__.split(".")[0] != "cupy":
        return None
    dtype = arrays[0].dtype
    if dtype not in (np.float32, np.float64):
        return None
    for a in arrays:
        if type(a) is not type(arrays[0]) or a.dtype != dtype:
            return None
    from . import _cupy_kernels

    return _cupy_kernels


def kernel_implementation(*arrays) -> str:
    """Which implementation the kernels would use for ``arrays``: ``"numba"``, ``"cupy"`` or ``"array"``."""
    if _cupy_for(*arrays) is not None:
        return "cupy"
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
    cu = _cupy_for(phi, lam_in, lam_out)
    if cu is not None:
        return cu.spectral_weight(phi, lam_in, lam_out)
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
    cu = _cupy_for(g, phi, lam_in, lam_out)
    if cu is not None and g.shape == phi.shape:
        return cu.spectral_grads(g, phi, lam_in, lam_out, want_dphi)
    mod = _numba_for(g, phi, lam_in, lam_out)
    blocks = _as_blocks(phi, lam_in, lam_out) if mod is not None and g.shape == phi.shape else None
    if blocks is None:
        dphi = g * (lam_in[..., None, :] - lam_out[..., :, None]) if want_dphi else None
        g *= phi  # G * phi in place: G is not needed any more
        # the sums of the products (rounded in the arrays' dtype) are accumulated in float64,
        # as the compiled loops do, then rounded once to the arrays' dtype
        return dphi, _sum64(g, -2), _sum64(g, -1, negate=True)
    phi3, lam_in2, lam_out2 = blocks
    dphi = np.empty_like(phi) if want_dphi else None
    dlam_in, dlam_out = np.empty_like(lam_in), np.empty_like(lam_out)
    mod.spectral_grads(
        g.reshape(phi3.shape), phi3, lam_in2, lam_out2,
        dphi.reshape(phi3.shape) if want_dphi else np.empty((0, 0, 0), phi.dtype),  # never written
        dlam_in.reshape(lam_in2.shape), dlam_out.reshape(lam_out2.shape), want_dphi,
    )
    return dphi, dlam_in, dlam_out


def _sum64(a, axis: int, negate: bool = False):
    """``a.sum(axis)`` accumulated in float64 (``-`` it with ``negate``), in ``a``'s dtype."""
    s = a.sum(axis=axis, dtype=np.float64)
    if negate:
        s = -s
    return s.astype(a.dtype, copy=False)


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
    cu = _cupy_for(p, g, m, v)
    if cu is not None:
        cu.adam(p, g, m, v, beta1, beta2, step, eps)
        return
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
    cu = _cupy_for(p, g, m, u)
    if cu is not None:
        cu.adamax(p, g, m, u, beta1, beta2, step, eps)
        return
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
    cu = _cupy_for(p, g, v)
    if cu is not None:
        cu.sgd(p, g, v, momentum, lr)
        return
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


#: NumPy blocks with fewer entries take numpy.partition in kth_smallest_abs
_RADIX_MIN = 8192

#: widest digit of the array radix select: 2^11 histogram buckets per row and pass
_DIGIT_BITS = 11


def _digit_widths(bits: int) -> list[int]:
    """``bits`` split into the fewest digits of at most ``_DIGIT_BITS`` bits, widest first."""
    n = -(-bits // _DIGIT_BITS)
    base, extra = divmod(bits, n)
    return [base + 1] * extra + [base] * (n - extra)


def radix_select(keys, k: int, bits: int | None = None):
    """The ``k``-th smallest (1-based) unsigned key of each row, by array operations only.

    A most-significant-digit radix select: per pass, a histogram of one digit of the keys
    still in the running (``add.at`` into one ``(rows, 2^width)`` table), its cumulative
    sum, and a comparison with the rank sought pick the bucket that holds the ``k``-th key;
    that digit is fixed and the rank taken relative to the bucket. Three passes for 31- or
    32-bit keys, six for 63 or 64 bits. There is no sort, no data-dependent shape and no
    host synchronisation, so it queues on a GPU stream like any element-wise work, and the
    same code runs on NumPy arrays.

    Parameters
    ----------
    keys : unsigned int array, shape (rows, n)
        ``uint32`` or ``uint64``, e.g. float bit patterns.
    k : int
        ``1 <= k <= n``.
    bits : int, optional
        How many low bits of the keys vary (the others are zero in every key); default all.

    Returns
    -------
    array, shape (rows,)
        The ``k``-th smallest key of each row, in ``keys``' dtype.
    """
    xp = array_module(keys)
    rows, n = keys.shape
    if not 1 <= k <= n:
        raise ValueError(f"k must lie in [1, {n}], got {k!r}")
    ut = keys.dtype.type
    total = keys.dtype.itemsize * 8
    bits = total if bits is None else int(bits)
    rank = xp.full(rows, k, dtype=np.int64)  # rank sought among the keys still in the running
    prefix = xp.zeros(rows, dtype=keys.dtype)  # the digits fixed so far
    hi = bits
    for width in _digit_widths(bits):
        lo = hi - width
        nb = 1 << width
        digit = ((keys >> ut(lo)) & ut(nb - 1)).astype(np.intp)
        digit += (xp.arange(rows, dtype=np.intp) * nb)[:, None]  # one histogram row per key row
        if hi == bits:  # first pass: every key counts
            weight = xp.ones(keys.shape, dtype=np.int32)
        else:
            weight = ((keys >> ut(hi)) == prefix[:, None]).astype(np.int32)
        hist = xp.zeros(rows * nb, dtype=np.int32)
        xp.add.at(hist, digit.reshape(-1), weight.reshape(-1))
        hist = hist.reshape(rows, nb)
        below = xp.cumsum(hist, axis=1, dtype=np.int64) < rank[:, None]  # buckets wholly below the rank
        bucket = below.sum(axis=1)
        rank = rank - xp.where(below, hist, 0).sum(axis=1, dtype=np.int64)
        prefix = (prefix << ut(width)) | bucket.astype(keys.dtype)
        hi = lo
    return prefix


def _rows(a, n: int):
    """``a`` as C-contiguous rows of ``n`` entries, shape (rows, n)."""
    return array_module(a).ascontiguousarray(a).reshape(-1, n)


def _radix_kth_smallest_abs(w, k: int):
    """:func:`kth_smallest_abs` by :func:`radix_select` on the sign-cleared bit patterns."""
    n = w.shape[-1] * w.shape[-2]
    uint, abs_mask, _ = _BITS[w.dtype]
    keys = _rows(w, n).view(uint) & abs_mask
    t = radix_select(keys, k, bits=8 * w.dtype.itemsize - 1)
    return t.view(w.dtype).reshape(w.shape[:-2])


def kth_smallest_abs(w, k: int):
    """The ``k``-th smallest ``|w|`` over the last two axes (the dynamic-sparsity threshold).

    Equals ``partition(abs(w).reshape(..., -1), k - 1, axis=-1)[..., k - 1]``: ``-0.0`` and
    ``0.0`` are one value, and NaN (of either sign) sorts after every number, so the result
    is NaN exactly when ``k`` exceeds the number of non-NaN entries. On NumPy, for blocks
    of at least 8192 entries, the compiled version is a radix select (two passes over
    ``w``) instead of a partition of a copy, about 7x faster on a 500 x 784 block. CuPy
    arrays always take :func:`radix_select` on the bit patterns of ``|w|``: no sort (CuPy's
    ``partition`` sorts the whole row for ``k >= 1024``, synchronises the host on CuPy 13,
    and orders NaN differently) and no host synchronisation.

    Parameters
    ----------
    w : array, shape (..., N_out, N_in)
        float32 or float64 (other dtypes take ``partition`` on every device).
    k : int
        ``1 <= k <= N_out * N_in``.

    Returns
    -------
    threshold : array, shape (...)
        Same dtype as ``w``, on ``w``'s device.
    """
    n = w.shape[-1] * w.shape[-2]
    if not 1 <= k <= n:
        raise ValueError(f"k must lie in [1, {n}], got {k!r}")
    lead = w.shape[:-2]
    xp = array_module(w)
    if xp is not np and w.dtype in _BITS:
        return _radix_kth_smallest_abs(w, k)
    # below a few thousand entries clearing the 2^16-bucket histogram costs more than a partition
    mod = _numba_for(w) if n >= _RADIX_MIN else None
    if mod is None:
        a = xp.abs(w).reshape(lead + (n,))
        return xp.partition(a, k - 1, axis=-1)[..., k - 1]
    uint, abs_mask, shift = _BITS[w.dtype]
    out = np.empty(lead, dtype=uint)
    mod.kth_smallest_abs_bits(w.reshape(-1, n).view(uint), k, abs_mask, shift, out.reshape(-1))
    return out.view(w.dtype)


def top_k_mask(scores, k: int):
    """Boolean mask of the ``k`` largest scores along the last axis, by array operations only.

    Exactly ``k`` entries per row are kept. NaN counts as smaller than every number
    (``-inf`` included), ``-0.0`` equals ``0.0``, and among entries tied with the ``k``-th
    largest score the ones with the lowest indices are kept, so the mask is the same on
    every device. The threshold is a :func:`radix_select` over order-preserving integer
    keys of the scores; nothing is sorted and nothing goes to the host.

    Parameters
    ----------
    scores : float array, shape (..., n)
        float32 or float64 (other dtypes are taken as float64).
    k : int
        ``1 <= k``; ``k >= n`` keeps everything.

    Returns
    -------
    mask : bool array, shape (..., n)
        On ``scores``' device.
    """
    xp = array_module(scores)
    n = scores.shape[-1]
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k!r}")
    if k >= n:
        return xp.ones(scores.shape, dtype=bool)
    a = scores if scores.dtype in _BITS else scores.astype(np.float64)
    ft = a.dtype.type
    # NaN lowest, and -0.0 + 0.0 = +0.0: one bit pattern per value
    a = _rows(xp.where(xp.isnan(a), ft(-np.inf), a) + ft(0.0), n)
    uint = _BITS[a.dtype][0]
    sign = uint(1) << uint(8 * a.dtype.itemsize - 1)
    u = a.view(uint)
    # order-preserving keys: flip every bit of a negative number, only the sign bit of a positive one
    keys = xp.where((u & sign) != uint(0), ~u, u | sign)
    t = radix_select(keys, n - k + 1)[:, None]  # the k-th largest key
    keep = keys > t
    tied = keys == t
    need = k - keep.sum(axis=1, dtype=np.int64)  # >= 1 entries tied with t still to keep
    keep |= tied & (xp.cumsum(tied, axis=1, dtype=np.int64) <= need[:, None])
    return keep.reshape(scores.shape)


# --------------------------------------------------------------------------------------
# Products with a sparse static mask
# --------------------------------------------------------------------------------------

#: mask density at or below which a layer multiplies by the kept weights only. Measured
#: (``benchmarks/sparse_products.py``, BENCHMARKS.md, one thread): a forward and backward
#: pass of LeNet-300-100 (batch 64) is 3.5x faster at 1 % and 3 %, 1.2x at 10 %, slower at
#: 15 %; of 784-500-500-10 (batch 200) 2.7x, 1.9x, 1.6x, and slower at 20 %.
SPARSE_DENSITY = 0.1


class SparseIndex(NamedTuple):
    """CSR index of the kept entries of a 2-D mask, by output row.

    Attributes
    ----------
    indptr : int64 array, shape (N_out + 1,)
    indices : int64 array, shape (nnz,)
        Input column of each kept entry.
    flat : int64 array, shape (nnz,)
        Position ``i * N_in + j`` of each kept entry in the flattened block.
    block : tuple of int
        ``(N_out, N_in)``, the mask's shape.
    """

    indptr: np.ndarray
    indices: np.ndarray
    flat: np.ndarray
    block: tuple[int, int]


def sparse_index(mask) -> SparseIndex | None:
    """The CSR index of a static mask, or ``None`` where the dense products are cheaper.

    Parameters
    ----------
    mask : bool array, shape (N_out, N_in)

    Returns
    -------
    SparseIndex or None
        ``None`` for a density above :data:`SPARSE_DENSITY`, an ensemble (3-D) mask or a
        non-NumPy array.
    """
    if type(mask) is not np.ndarray or mask.ndim != 2 or mask.size == 0:
        return None
    per_row = np.count_nonzero(mask, axis=1)
    if per_row.sum() > SPARSE_DENSITY * mask.size:
        return None
    rows, cols = np.nonzero(mask)
    indptr = np.zeros(mask.shape[0] + 1, dtype=np.int64)
    np.cumsum(per_row, out=indptr[1:])
    cols = cols.astype(np.int64)
    return SparseIndex(indptr, cols, rows.astype(np.int64) * mask.shape[1] + cols, tuple(mask.shape))


def _check_batch(delta, batch: int, index: SparseIndex) -> None:
    # the compiled loops have no bounds checks: a mismatch must fail here, as matmul would
    if delta.ndim != 2 or delta.shape != (batch, index.block[0]):
        raise ValueError(f"delta must have shape ({batch}, {index.block[0]}), got {tuple(delta.shape)}")


def sparse_forward(x, w, index: SparseIndex):
    """``x @ (M * W).T`` over the kept weights of ``index`` only.

    Parameters
    ----------
    x : array, shape (batch, N_in)
        Any layout, read-only too (its transpose is copied).
    w : array, shape (N_out, N_in)
        Dense weights (the masked entries are never read).
    index : SparseIndex

    Returns
    -------
    (z, x_t) or None
        ``z`` of shape (batch, N_out) and ``x_t``, the (N_in, batch) transpose that
        :func:`sparse_weight_grad` takes; ``None`` where the compiled loops do not apply
        (no Numba, ``SPECTRAL_PHYSICS_KERNELS=array``, another array type or dtype, a
        shape other than ``index``'s): the caller keeps the dense product.
    """
    if (type(x) is not np.ndarray or x.ndim != 2 or x.dtype != w.dtype or w.shape != index.block
            or x.shape[1] != w.shape[1] or w.ndim != 2):
        return None
    mod = _numba_for(w)
    if mod is None:
        return None
    x_t = np.array(x.T, order="C")  # a copy: the loops want it writeable and contiguous
    z_t = np.empty((w.shape[0], x.shape[0]), dtype=w.dtype)
    mod.sparse_forward(x_t, index.indptr, index.indices, index.flat, w.reshape(-1), z_t)
    return np.ascontiguousarray(z_t.T), x_t


def sparse_weight_grad(delta, x_t, index: SparseIndex):
    """``M * (delta.T @ x)``, computed at the kept entries only.

    Parameters
    ----------
    delta : array, shape (batch, N_out)
    x_t : array, shape (N_in, batch)
        From :func:`sparse_forward`.
    index : SparseIndex

    Returns
    -------
    g : array, shape (N_out, N_in)
        Zero at the masked entries; the dtype of ``delta @ x``. Without the compiled loops
        (or for mixed dtypes) the dense product, masked.
    """
    _check_batch(delta, x_t.shape[1], index)
    d_t = np.ascontiguousarray(delta.T)
    mod = _numba_for(x_t, d_t) if type(delta) is np.ndarray and x_t.shape[0] == index.block[1] else None
    if mod is None:
        full = d_t @ x_t.T
        g = np.zeros(full.shape, dtype=full.dtype)
        g.reshape(-1)[index.flat] = full.reshape(-1)[index.flat]
        return g
    g = np.zeros(index.block, dtype=x_t.dtype)
    mod.sparse_weight_grad(x_t, d_t, index.indptr, index.indices, index.flat, g.reshape(-1))
    return g


def sparse_input_grad(delta, w, index: SparseIndex):
    """``delta @ (M * W)`` over the kept weights only.

    Parameters
    ----------
    delta : array, shape (batch, N_out)
    w : array, shape (N_out, N_in)
    index : SparseIndex

    Returns
    -------
    dx : array, shape (batch, N_in)
        The dtype of ``delta @ w``. Without the compiled loops (or for mixed dtypes) the
        dense product with the masked weights.
    """
    _check_batch(delta, delta.shape[0] if delta.ndim == 2 else -1, index)
    d_t = np.ascontiguousarray(delta.T)
    mod = _numba_for(d_t, w) if type(delta) is np.ndarray and w.shape == index.block else None
    if mod is None:
        kept = np.zeros(w.shape, dtype=w.dtype)
        kept.reshape(-1)[index.flat] = w.reshape(-1)[index.flat]
        return delta @ kept
    dx_t = np.empty((index.block[1], delta.shape[0]), dtype=w.dtype)
    mod.sparse_input_grad(d_t, index.indptr, index.indices, index.flat, w.reshape(-1), dx_t)
    return np.ascontiguousarray(dx_t.T)
