"""Empirical neural tangent kernels of dense, sparse and spectral MLPs, layer by layer.

For an MLP ``z_l = a_{l-1} W_l^T + b_l``, ``a_l = sigma(z_l)``, ``f = z_L`` the
backpropagated signal of output ``c`` is ``delta_L^c = e_c``,
``delta_l^c = sigma'(z_l) * (delta_{l+1}^c W_{l+1})`` and ``df_c / dW_l = delta_l^c a_{l-1}^T``.
The empirical NTK is the Gram matrix of those Jacobians over the trainable
parameters; it is assembled from ``delta`` and ``a`` alone (docs/design.md section 4.2)::

    Theta(x, x')_{cc'} = sum_l [ sum_ij Q_l,ij delta_l,i^c(x) delta_l,i^c'(x') a_l-1,j(x) a_l-1,j(x')
                                 + delta_l^c(x) . delta_l^c'(x') ]                       (bias)

with ``Q = 1`` (dense, or ``kind="masked-dense"``: every entry of ``M * W`` is a parameter, as
in the reference NTT code) or ``Q = M`` (``kind="sparse"``: only kept weights are parameters,
the true tangent kernel of the sparse network). With ``Q = 1`` the weight term factorises
into ``(delta . delta')(a . a')``. The ``P``-column Jacobian is never formed.

Spectral layers ``W = M * (lam_in_j - lam_out_i) phi_ij`` contribute, per trainable array
(``Lambda_ij = lam_in_j - lam_out_i``)::

    lam_in_j :  a_j (delta (M*phi))_j           (a feature vector per sample and output)
    lam_out_i: -delta_i ((M*phi) a)_i
    phi_ij   :  weight term with Q = M * Lambda**2

``svd`` (``s``) and ``qr`` (``R``) factors go through an exact but slower route: the layer's
per-sample weight gradients ``M * delta a^T`` are chained to the factor in chunks, so
their cost grows like ``n k N_in N_out r``; use them for small layers.

Example
-------
>>> import numpy as np
>>> from spectral_physics import SpectralMLP
>>> from spectral_physics.ntk import empirical_ntk
>>> net = SpectralMLP([5, 7, 3], train="direct", activation="tanh", dtype="float64")
>>> x = np.random.default_rng(0).normal(size=(4, 5))
>>> theta = empirical_ntk(net, x, x)
>>> theta.shape, bool(np.allclose(theta, theta.transpose(1, 0, 3, 2)))
((4, 4, 3, 3), True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .backend import array_module

__all__ = [
    "KINDS",
    "DEFAULT_MEMORY_BUDGET",
    "OutputSignals",
    "output_signals",
    "empirical_ntk",
    "kernel_from_signals",
    "stacked_matmul",
    "ntk_memory_estimate",
]

KINDS = ("sparse", "masked-dense")

#: default limit (bytes) on what one kernel evaluation may allocate
DEFAULT_MEMORY_BUDGET = 1 << 30

# scratch memory the chunked contractions aim for (bounded by the budget as well)
_CHUNK_BYTES = 64 << 20

# below this kept fraction the sparse metric product goes through scipy.sparse on the CPU
_SPARSE_DENSITY = 0.3


@dataclass
class OutputSignals:
    """Per-layer quantities of one batch (layer index ``l`` from 0).

    Attributes
    ----------
    zs : list of arrays
        Pre-activations, ``zs[l]`` shape (n, N_{l+1}).
    acts : list of arrays
        Activations, ``acts[0] = x``; ``acts[l]`` is the input of layer ``l``.
    deltas : list of arrays
        ``deltas[l][n, c, i] = d f_c / d zs[l][n, i]``, shape (n, k, N_{l+1}).
    pre : list of arrays or None
        ``pre[l] = deltas[l + 1] @ W_{l+1}`` (before the factor ``sigma'``), kept for the
        double backpropagation of NTT; ``None`` entries where not kept.
    weights : list of arrays
        Effective weights ``M * W`` of the forward pass, shapes (N_{l+1}, N_l).
    masks : list of bool arrays or None
        Masks of the forward pass (``None`` where the layer is dense).
    """

    zs: list
    acts: list
    deltas: list
    pre: list
    weights: list
    masks: list

    def __repr__(self) -> str:
        deltas = ", ".join("x".join(map(str, d.shape)) for d in self.deltas)
        return f"OutputSignals({len(self.zs)} layers, deltas: [{deltas}])"


def _check_single(net) -> None:
    if net.ensemble_size:
        raise ValueError("the NTK is defined for a single network; pass net.member(e) for an ensemble")


def _check_batch(net, x, name: str):
    xp = net.xp
    shape = getattr(x, "shape", None)
    if shape is None:
        x = np.asarray(x)
        shape = x.shape
    if len(shape) != 2 or shape[-1] != net.sizes[0]:
        raise ValueError(f"{name} must have shape (batch, {net.sizes[0]}), got {tuple(shape)}")
    if shape[0] < 1:
        raise ValueError(f"{name} must hold at least one sample")
    x = net._check_x(x, name)
    return xp.ascontiguousarray(x)


def output_signals(net, x, keep_pre: bool = False, check: bool = True) -> OutputSignals:
    """Forward pass and per-output backpropagated signals of a batch.

    Parameters
    ----------
    net : SpectralMLP
        A single (non-ensemble) network.
    x : array, shape (n, N_0)
    keep_pre : bool
        Keep ``deltas[l + 1] @ W_{l+1}`` for double backpropagation.

    Returns
    -------
    OutputSignals
    """
    _check_single(net)
    if check:
        x = _check_batch(net, x, "x")
    zs, acts = net.forward_trace(x, check=False)
    acts = acts[:-1]  # the logits are never an input
    xp = net.xp
    n, k, nl = x.shape[0], net.sizes[-1], len(net.layers)
    masks = [layer.last_mask for layer in net.layers]
    weights = [layer.dense_weight() if m is None else layer.dense_weight() * m
               for layer, m in zip(net.layers, masks)]
    deltas: list[Any] = [None] * nl
    pre: list[Any] = [None] * nl
    deltas[-1] = xp.broadcast_to(xp.eye(k, dtype=net.dtype), (n, k, k))
    for l in range(nl - 2, -1, -1):
        p = stacked_matmul(deltas[l + 1], weights[l + 1])
        if keep_pre:
            pre[l] = p
        d = p if not keep_pre else p.copy()
        d *= net.act.df_from(zs[l], acts[l + 1])[:, None, :]
        deltas[l] = d
    return OutputSignals(zs, acts, deltas, pre, weights, masks)


# --------------------------------------------------------------------------- contractions
def stacked_matmul(a, b):
    """``a @ b`` for a stack ``a`` and one matrix ``b``, computed as a single 2-D product.

    ``matmul`` of a stack calls one small GEMM per leading index (64 products of 10 rows
    for an NTT batch), about twice as slow on a CPU as the single product of all rows.

    Parameters
    ----------
    a : array (..., m)
        Any number of leading dims (none: a vector). A non-contiguous ``a`` is copied by
        the reshape.
    b : array (m, p)

    Returns
    -------
    array (..., p)
        Equal to ``a @ b``.
    """
    if b.ndim != 2:
        raise ValueError(f"stacked_matmul: b must be a matrix (m, p), got shape {b.shape}")
    if a.shape[-1] != b.shape[0]:
        raise ValueError(f"stacked_matmul: a (..., {a.shape[-1]}) and b {b.shape} do not chain")
    xp = array_module(a)
    lead = a.shape[:-1]
    return xp.matmul(a.reshape(-1, a.shape[-1]), b).reshape(*lead, b.shape[-1])


def _pair_dd(d1, d2, trace: bool):
    """``sum_i d1[a,c,i] d2[b,d,i]`` as (n1, n2, k, k), or its trace over c = d as (n1, n2)."""
    xp = array_module(d1)
    n1, k, n = d1.shape
    n2 = d2.shape[0]
    if trace:
        return xp.matmul(d1.reshape(n1, k * n), d2.reshape(n2, k * n).T)
    out = xp.matmul(d1.reshape(n1 * k, n), d2.reshape(n2 * k, n).T)
    return out.reshape(n1, k, n2, k).transpose(0, 2, 1, 3)


def _is_sparse_mask(q) -> bool:
    return q is not None and q.dtype == bool and array_module(q) is np and q.mean() < _SPARSE_DENSITY


def metric_product(p, q):
    """``p @ q.T`` for ``p`` (m, N_in) and a metric ``q`` (N_out, N_in); sparse masks use scipy."""
    if _is_sparse_mask(q):
        import scipy.sparse

        qs = scipy.sparse.csr_matrix(q.astype(p.dtype))
        return np.asarray((qs @ p.T).T)
    xp = array_module(p)
    return xp.matmul(p, q.T.astype(p.dtype, copy=False))


def metric_product_t(e, q):
    """``e @ q`` for ``e`` (m, N_out) and a metric ``q`` (N_out, N_in)."""
    if _is_sparse_mask(q):
        import scipy.sparse

        qs = scipy.sparse.csr_matrix(q.astype(e.dtype))
        return np.asarray((qs.T @ e.T).T)
    xp = array_module(e)
    return xp.matmul(e, q.astype(e.dtype, copy=False))


def _rows_per_chunk(per_row_bytes: int, budget: int, n: int) -> int:
    limit = max(min(_CHUNK_BYTES, budget // 4), 1)
    return int(max(1, min(n, limit // max(per_row_bytes, 1))))


def _weight_term(out, d1, d2, a1, a2, q, trace: bool, budget: int, extra: float = 0.0) -> None:
    """Add ``sum_ij Q_ij d1_i d2_i a1_j a2_j`` (+ ``extra * d1 . d2``) for every pair to ``out``.

    ``q=None`` means all ones (the factorised form).
    """
    xp = array_module(d1)
    if q is None:
        kaa = xp.matmul(a1, a2.T)
        if extra:
            kaa += extra
        dd = _pair_dd(d1, d2, trace)
        dd *= kaa if trace else kaa[:, :, None, None]
        out += dd
        return
    n1, k, n_out = d1.shape
    n2, n_in = a2.shape
    item = d1.dtype.itemsize
    rows = _rows_per_chunk(n2 * (n_in + n_out + 2 * k * n_out) * item, budget, n1)
    for s in range(0, n1, rows):
        sl = slice(s, min(s + rows, n1))
        ca = sl.stop - sl.start
        paa = (a1[sl, None, :] * a2[None, :, :]).reshape(ca * n2, n_in)
        h = metric_product(paa, q).reshape(ca, n2, n_out)
        if extra:
            h += extra
        for r in range(ca):
            a = sl.start + r
            if trace:
                t = (d1[a][None, :, :] * d2).sum(axis=1)  # (n2, N_out)
                out[a] += (t * h[r]).sum(axis=-1)
            else:
                # out[a, b, c, d] = sum_i (d2[b, d, i] h[a, b, i]) d1[a, c, i]: one GEMM per row a
                y = (d2 * h[r][:, None, :]).reshape(n2 * k, n_out)
                out[a] += xp.matmul(y, d1[a].T).reshape(n2, k, k).transpose(0, 2, 1)


def _features(f1, f2, trace: bool):
    """Kernel ``F1 F2^T`` of per-sample, per-output feature vectors (n, k, P)."""
    return _pair_dd(f1, f2, trace)


# --------------------------------------------------------------------------- parameter sets
_WRT_NAMES = ("weight", "phi", "lam_in", "lam_out", "s", "R", "bias")


def _layer_wrt(layer, wrt) -> tuple[str, ...]:
    if wrt is None:
        return layer.trainable
    names = tuple(wrt)
    stored = set(layer.arrays) | ({"bias"} if layer.use_bias else set())
    if layer.parametrisation != "direct":
        stored.discard("weight")
    bad = [w for w in names if w not in _WRT_NAMES]
    if bad:
        raise ValueError(f"wrt must name arrays among {_WRT_NAMES}, got {bad!r}")
    for w in names:
        if w not in stored:
            raise ValueError(
                f"wrt names {w!r}, which a {layer.preset!r} layer does not have "
                f"(it has {sorted(stored)})"
            )
    return names


def _factor_jacobian(layer, d, a, mask, budget: int):
    """Per-sample, per-output Jacobian of an ``svd`` (``s``) or ``qr`` (``R``) layer, (n, k, P)."""
    xp = array_module(d)
    arr = layer.arrays
    n, k, n_out = d.shape
    n_in = a.shape[1]
    lam = arr["lam_in"][None, :] - arr["lam_out"][:, None]
    coef = lam if mask is None else lam * mask
    item = d.dtype.itemsize
    rows = _rows_per_chunk(3 * k * n_out * n_in * item, budget, n)
    parts = []
    if layer.parametrisation == "svd":
        u, v = arr["U"], arr["V"]
        for s in range(0, n, rows):
            g = d[s : s + rows, :, :, None] * a[s : s + rows, None, None, :]
            g *= coef
            parts.append((xp.matmul(u.T, g) * v).sum(axis=-1))
        return xp.concatenate(parts, axis=0)
    q = arr["Q"]
    r = min(n_in, n_out)
    iu = np.triu_indices(r)
    for s in range(0, n, rows):
        g = d[s : s + rows, :, :, None] * a[s : s + rows, None, None, :]
        g *= coef
        dr = xp.matmul(g, q.T) if n_out <= n_in else xp.matmul(q.T, g)
        parts.append(dr[..., iu[0], iu[1]])
    return xp.concatenate(parts, axis=0)


def ntk_memory_estimate(net, n1: int, n2: int, kind: str = "sparse", trace: bool = False,
                        wrt=None, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> int:
    """Bytes :func:`empirical_ntk` allocates at its peak (an upper estimate), without allocating.

    Parameters
    ----------
    net : SpectralMLP
    n1, n2 : int
        Batch sizes.
    kind, trace, wrt
        As for :func:`empirical_ntk`.
    memory_budget : int
        The budget the chunked contractions size themselves to.
    """
    item = net.dtype.itemsize
    k = net.sizes[-1]
    hidden = sum(net.sizes[1:])
    nodes = sum(net.sizes)
    out = n1 * n2 * (1 if trace else k * k)
    # forward traces and per-output signals of both batches (+ the pre-sigma' copies)
    signals = (n1 + n2) * (2 * nodes + 2 * k * hidden)
    # effective weights (ours and the forward pass's cache) and a float copy of a mask
    signals += 3 * sum(layer.n_in * layer.n_out for layer in net.layers)
    worst = 0
    for layer in net.layers:
        names = _layer_wrt(layer, wrt) if kind == "sparse" else ("weight", "bias")
        temp = 2 * n1 * n2 * k * k + n1 * n2  # a DD block and the activation Gram matrix
        if kind == "sparse" and ((layer.parametrisation == "direct" and "weight" in names
                                  and layer.mask is not None) or "phi" in names):
            rows = _rows_per_chunk(n2 * (layer.n_in + layer.n_out + 2 * k * layer.n_out) * item,
                                   memory_budget, n1)
            temp += rows * n2 * (layer.n_in + layer.n_out + 2 * k * layer.n_out) + layer.n_in * layer.n_out
        feat = 0
        if kind == "sparse":
            r = min(layer.n_in, layer.n_out)
            feat = sum({"lam_in": layer.n_in, "lam_out": layer.n_out, "bias": layer.n_out,
                        "s": r, "R": r * (r + 1) // 2}.get(w, 0) for w in names)
            if "s" in names or "R" in names:
                rows = _rows_per_chunk(3 * k * layer.n_out * layer.n_in * item, memory_budget, max(n1, n2))
                temp += 3 * rows * k * layer.n_out * layer.n_in + r * r
        temp += (n1 + n2) * k * feat
        worst = max(worst, temp)
    return int((out + signals + worst) * item)


def empirical_ntk(
    net,
    x1,
    x2=None,
    *,
    kind: str = "sparse",
    trace: bool = False,
    wrt=None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
):
    """Empirical neural tangent kernel ``J(x1) J(x2)^T`` over the network's trainable parameters.

    Parameters
    ----------
    net : SpectralMLP
        A single network (not an ensemble); its masks (static or dynamic) are honoured.
    x1 : array, shape (n1, N_0)
    x2 : array, shape (n2, N_0), optional
        Defaults to ``x1``.
    kind : {"sparse", "masked-dense"}
        ``sparse``: derivatives with respect to the trainable arrays, counting only kept
        weights (the tangent kernel of the sparse network). ``masked-dense``: derivatives
        with respect to every entry of ``M * W`` and the biases, whatever the preset (the
        kernel of the reference NTT code).
    trace : bool
        Return the trace over the output pair, ``sum_c Theta_cc``, shape (n1, n2).
    wrt : iterable of str, optional
        Arrays to differentiate by, overriding each layer's trainable set (``sparse`` only),
        e.g. ``("lam_in", "lam_out")`` for the eigenvalue kernel of a ``spectral`` network.
        Names: ``weight`` (direct layers), ``phi``, ``lam_in``, ``lam_out``, ``s`` (svd),
        ``R`` (qr), ``bias``.
    memory_budget : int
        Largest number of bytes the evaluation may allocate; a larger request raises
        before any large allocation.

    Returns
    -------
    theta : array, shape (n1, n2, k, k) or (n1, n2)
        On the network's device, in its dtype; ``theta[a, b, c, d] = sum_p df_c(x1_a)/dp
        df_d(x2_b)/dp``.

    Raises
    ------
    ValueError
        Bad batch shapes, unknown ``kind`` or ``wrt``, an ensemble network, or a request
        whose estimated memory exceeds ``memory_budget``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    _check_single(net)
    if wrt is not None and kind != "sparse":
        raise ValueError("wrt applies to kind='sparse' only (masked-dense is over all entries of M*W)")
    if not isinstance(memory_budget, (int, np.integer)) or memory_budget <= 0:
        raise ValueError(f"memory_budget must be a positive integer number of bytes, got {memory_budget!r}")
    s1 = getattr(x1, "shape", np.shape(x1))
    same = x2 is None
    s2 = s1 if same else getattr(x2, "shape", np.shape(x2))
    for name, s in (("x1", s1), ("x2", s2)):
        if len(s) != 2 or s[-1] != net.sizes[0]:
            raise ValueError(f"{name} must have shape (batch, {net.sizes[0]}), got {tuple(s)}")
    for layer in net.layers:
        _layer_wrt(layer, wrt)
    need = ntk_memory_estimate(net, s1[0], s2[0], kind, trace, wrt, int(memory_budget))
    if need > memory_budget:
        raise ValueError(
            f"the kernel for n1={s1[0]}, n2={s2[0]} needs about {need / 2**20:.1f} MiB, more than "
            f"memory_budget={memory_budget / 2**20:.1f} MiB; use smaller batches, trace=True, "
            "or raise memory_budget"
        )
    x1 = _check_batch(net, x1, "x1")
    sig1 = output_signals(net, x1, check=False)
    sig2 = sig1 if same else output_signals(net, _check_batch(net, x2, "x2"), check=False)
    return kernel_from_signals(net, sig1, sig2, kind=kind, trace=trace, wrt=wrt, memory_budget=int(memory_budget))


def kernel_from_signals(net, sig1: OutputSignals, sig2: OutputSignals, *, kind: str = "sparse",
                        trace: bool = False, wrt=None, memory_budget: int = DEFAULT_MEMORY_BUDGET):
    """The kernel of :func:`empirical_ntk` from precomputed :func:`output_signals`."""
    xp = net.xp
    n1, n2, k = sig1.acts[0].shape[0], sig2.acts[0].shape[0], net.sizes[-1]
    out = xp.zeros((n1, n2) if trace else (n1, n2, k, k), dtype=net.dtype)
    for l, layer in enumerate(net.layers):
        d1, d2 = sig1.deltas[l], sig2.deltas[l]
        a1, a2 = sig1.acts[l], sig2.acts[l]
        mask = sig1.masks[l]
        bias = 1.0 if layer.use_bias else 0.0
        if kind == "masked-dense":
            _weight_term(out, d1, d2, a1, a2, None, trace, memory_budget, extra=bias)
            continue
        names = _layer_wrt(layer, wrt)
        f1: list[Any] = []
        f2: list[Any] = []
        if "weight" in names:
            if mask is None:
                _weight_term(out, d1, d2, a1, a2, None, trace, memory_budget,
                             extra=1.0 if "bias" in names else 0.0)
                names = tuple(n for n in names if n != "bias")
            else:
                _weight_term(out, d1, d2, a1, a2, mask, trace, memory_budget)
        if layer.parametrisation != "direct":
            arrays = layer.arrays
            phi = layer.phi
            mphi = phi if mask is None else phi * mask
            if "phi" in names:
                lam = arrays["lam_in"][None, :] - arrays["lam_out"][:, None]
                q = lam * lam if mask is None else lam * lam * mask
                _weight_term(out, d1, d2, a1, a2, q, trace, memory_budget)
            if "lam_in" in names:
                f1.append(stacked_matmul(d1, mphi) * a1[:, None, :])
                f2.append(stacked_matmul(d2, mphi) * a2[:, None, :])
            if "lam_out" in names:
                f1.append(-d1 * xp.matmul(a1, mphi.T)[:, None, :])
                f2.append(-d2 * xp.matmul(a2, mphi.T)[:, None, :])
            if "s" in names or "R" in names:
                j1 = _factor_jacobian(layer, d1, a1, mask, memory_budget)
                j2 = j1 if sig2 is sig1 else _factor_jacobian(layer, d2, a2, mask, memory_budget)
                f1.append(j1)
                f2.append(j2)
        if "bias" in names:
            f1.append(d1)
            f2.append(d2)
        if f1:
            out += _features(xp.concatenate(f1, axis=-1), xp.concatenate(f2, axis=-1), trace)
    return out
