"""Numba-compiled loops behind :mod:`spectral_physics.kernels` (CPU, NumPy arrays).

Imported on first use only: importing Numba costs a few tenths of a second, and
compiling a kernel about one second the first time (the machine code is cached in
``__pycache__`` afterwards). Every array argument is C-contiguous and every scalar has
the arrays' dtype, so float32 stays float32; the callers in ``kernels`` guarantee both.
(Local accumulators may be float64, as the eigenvalue sums are.)

``error_model="numpy"`` drops Python's zero-division check, which would otherwise
put a branch in every iteration and stop the loops from vectorising. Only the kernel
with reductions allows reassociation, so that its sums vectorise; the element-wise
kernels compute exactly the expressions written.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_OPTS = {"cache": True, "error_model": "numpy", "nogil": True}


@njit(**_OPTS)
def spectral_weight(phi, lam_in, lam_out, w):  # pragma: no cover - compiled
    """``w[e, i, j] = (lam_in[e, j] - lam_out[e, i]) * phi[e, i, j]``."""
    n_e, n_out, n_in = phi.shape
    for e in range(n_e):
        for i in range(n_out):
            lo = lam_out[e, i]
            for j in range(n_in):
                w[e, i, j] = (lam_in[e, j] - lo) * phi[e, i, j]


@njit(fastmath={"reassoc"}, **_OPTS)
def spectral_grads(g, phi, lam_in, lam_out, dphi, dlam_in, dlam_out, want_dphi):  # pragma: no cover
    """One pass over ``G``: ``dphi = G * (lam_in - lam_out)`` and the two sums of ``G * phi``.

    The eigenvalue gradients are accumulated in float64 whatever the arrays' dtype.
    """
    n_e, n_out, n_in = phi.shape
    acc = np.empty(n_in, dtype=np.float64)
    for e in range(n_e):
        acc[:] = 0.0
        for i in range(n_out):
            lo = lam_out[e, i]
            s = 0.0
            for j in range(n_in):
                gij = g[e, i, j]
                t = gij * phi[e, i, j]
                acc[j] += t
                s += t
                if want_dphi:
                    dphi[e, i, j] = gij * (lam_in[e, j] - lo)
            dlam_out[e, i] = -s
        for j in range(n_in):
            dlam_in[e, j] = acc[j]


@njit(**_OPTS)
def adam(p, g, m, v, beta1, beta2, one_m_beta1, one_m_beta2, step, eps):  # pragma: no cover
    """``m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= step m / (sqrt(v) + eps)``."""
    for k in range(p.size):
        gk = g[k]
        mk = beta1 * m[k] + one_m_beta1 * gk
        vk = beta2 * v[k] + one_m_beta2 * (gk * gk)
        m[k] = mk
        v[k] = vk
        p[k] -= step * (mk / (np.sqrt(vk) + eps))


@njit(**_OPTS)
def adamax(p, g, m, u, beta1, beta2, one_m_beta1, step, eps):  # pragma: no cover
    """``m = b1 m + (1 - b1) g; u = max(b2 u, |g|); p -= step m / (u + eps)``."""
    for k in range(p.size):
        gk = g[k]
        mk = beta1 * m[k] + one_m_beta1 * gk
        uk = max(beta2 * u[k], abs(gk))
        m[k] = mk
        u[k] = uk
        p[k] -= step * (mk / (uk + eps))


@njit(**_OPTS)
def sgd(p, g, v, momentum, lr):  # pragma: no cover
    """``v = mu v + g; p -= lr v``."""
    for k in range(p.size):
        vk = momentum * v[k] + g[k]
        v[k] = vk
        p[k] -= lr * vk


@njit(**_OPTS)
def kth_smallest_abs_bits(bits, k, abs_mask, shift, out):  # pragma: no cover - compiled
    """Bit pattern of the ``k``-th smallest ``|w|`` of each row of ``bits`` (1-based ``k``).

    ``bits`` is the unsigned-integer view of the floats: with the sign bit cleared
    (``abs_mask``) the order of the patterns is the order of ``|w|`` (NaN last, as in
    ``numpy.partition``). A radix select: one pass counts the rows' entries per bucket of
    the top 16 bits (``>> shift``), a second collects the bucket holding the ``k``-th
    entry, which is partitioned.
    """
    n_rows, n = bits.shape
    hist = np.zeros(1 << 16, dtype=np.int64)
    for r in range(n_rows):
        hist[:] = 0
        for j in range(n):
            hist[(bits[r, j] & abs_mask) >> shift] += 1
        below = 0
        b = 0
        while below + hist[b] < k:
            below += hist[b]
            b += 1
        cand = np.empty(hist[b], dtype=bits.dtype)
        t = 0
        for j in range(n):
            v = bits[r, j] & abs_mask
            if (v >> shift) == b:
                cand[t] = v
                t += 1
        out[r] = np.partition(cand, k - below - 1)[k - below - 1]


# Products with a sparse static mask. ``indptr``/``indices`` are the CSR index of the kept
# entries by output row, ``flat`` their positions in the flattened (N_out, N_in) block. The
# batch is the last (contiguous) axis of every operand, so each kept weight touches one
# contiguous run of ``batch`` numbers and the inner loops vectorise.


@njit(**_OPTS)
def sparse_forward(x_t, indptr, indices, flat, w, z_t):  # pragma: no cover - compiled
    """``z_t[i] = sum over kept (i, j) of w[i, j] x_t[j]``; shapes (N_in, B) -> (N_out, B)."""
    n_out, b = z_t.shape
    for i in range(n_out):
        for k in range(b):
            z_t[i, k] = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            wv = w[flat[p]]
            j = indices[p]
            for k in range(b):
                z_t[i, k] += wv * x_t[j, k]


@njit(fastmath={"reassoc"}, **_OPTS)
def sparse_weight_grad(x_t, d_t, indptr, indices, flat, g):  # pragma: no cover - compiled
    """``g[i, j] = d_t[i] . x_t[j]`` at the kept entries only (``g`` flat, zero elsewhere)."""
    n_out, b = d_t.shape
    for i in range(n_out):
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            s = 0.0
            for k in range(b):
                s += d_t[i, k] * x_t[j, k]
            g[flat[p]] = s


@njit(**_OPTS)
def sparse_input_grad(d_t, indptr, indices, flat, w, dx_t):  # pragma: no cover - compiled
    """``dx_t[j] = sum over kept (i, j) of w[i, j] d_t[i]``; shapes (N_out, B) -> (N_in, B)."""
    n_out, b = d_t.shape
    dx_t[:, :] = 0.0
    for i in range(n_out):
        for p in range(indptr[i], indptr[i + 1]):
            wv = w[flat[p]]
            j = indices[p]
            for k in range(b):
                dx_t[j, k] += wv * d_t[i, k]
