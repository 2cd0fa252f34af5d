"""Fused CuPy kernels behind :mod:`spectral_physics.kernels` (GPU, CuPy arrays).

Imported by ``kernels`` only when a CuPy array reaches a kernel, so CuPy is already
imported then; each kernel object is built on first use and compiled by CuPy (NVRTC) on
its first call, then cached on disk by CuPy.

One kernel replaces each chain of array expressions of the array implementation:

=====================  ===============================================  ==================
kernel                 replaces (array implementation on CuPy)          launches
=====================  ===============================================  ==================
``spectral_weight``    ``(lam_in - lam_out) * phi``                     2 -> 1
``spectral_grads``     ``dphi``, ``G *= phi`` and the two sums          4 -> 3
``adam``               two moving averages, ``sqrt``, the step          10 -> 1
``adamax``             moving average, ``max``, ``abs``, the step       8 -> 1
``sgd``                ``v = mu v + g``, ``p -= lr v``                  3 -> 1
=====================  ===============================================  ==================

The arithmetic is that of the array implementation operation for operation, so a fused
kernel gives the numbers the array expressions give on the GPU: every element-wise body
below is written with the same operations in the same order, with every scalar passed in
the arrays' dtype, and compiled with ``--fmad=false`` so that NVRTC does not contract a
product and a sum into one fused multiply-add (each CuPy ufunc of the array
implementation rounds its result). The eigenvalue sums are accumulated in float64
(``reduce_type="double"``) from products rounded in the arrays' dtype, as the compiled CPU
loops and the array implementation do; only the order of the additions differs.

The bodies use only ``+ - * /``, parentheses, declarations ``T name = ...;`` and the
functions ``sqrt``, ``fabs`` and ``_sp_max`` (``numpy.maximum``: NaN wins), so
``tests/spectral_physics/test_gpu_readiness.py`` evaluates each of them through NumPy on
the CPU and checks it against the array implementation bit for bit, without compiling.
"""

from __future__ import annotations

import functools

#: NVRTC options of every kernel: no contraction of a * b + c into an FMA
OPTIONS = ("--fmad=false",)

#: ``numpy.maximum`` for floats: NaN if either argument is NaN
PREAMBLE = """
template <typename T>
__device__ __forceinline__ T _sp_max(T a, T b) {
    return (a > b || isnan(a)) ? a : b;
}
"""

#: name -> (in_params, out_params, operation) of the element-wise kernels
ELEMENTWISE = {
    # w = (lam_in - lam_out) * phi, lam_in and lam_out broadcast over the block
    "spectral_weight": ("T lam_in, T lam_out, T phi", "T w",
                        "w = (lam_in - lam_out) * phi"),
    # dL/dphi = G * (lam_in - lam_out)
    "spectral_dphi": ("T g, T lam_in, T lam_out", "T dphi",
                      "dphi = g * (lam_in - lam_out)"),
    # kernels._ema(m, g, beta1), kernels._ema(v, g * g, beta2), then kernels._descend
    "adam": ("T g, T beta1, T beta2, T step, T eps", "T p, T m, T v",
             "T gg = g * g; "
             "m = (m - g) * beta1 + g; "
             "v = (v - gg) * beta2 + gg; "
             "p = p - m / (sqrt(v) + eps) * step"),
    # kernels._ema(m, g, beta1); u = maximum(u * beta2, |g|); kernels._descend with u + eps
    "adamax": ("T g, T beta1, T beta2, T step, T eps", "T p, T m, T u",
               "m = (m - g) * beta1 + g; "
               "u = _sp_max(u * beta2, fabs(g)); "
               "p = p - m / (u + eps) * step"),
    # v = mu v + g; p -= lr v
    "sgd": ("T g, T momentum, T lr", "T p, T v",
            "v = v * momentum + g; "
            "p = p - v * lr"),
}

#: name -> (in_params, out_params, map_expr, reduce_expr, post_map_expr, identity) of the reductions
REDUCTIONS = {
    # sum of G * phi (the product rounded in T) accumulated in double; dlam_in over axis -2
    "spectral_sum": ("T g, T phi", "T out", "static_cast<double>(g * phi)", "a + b",
                     "out = static_cast<T>(a)", "0"),
    # minus the sum of G * phi; dlam_out over axis -1
    "spectral_negsum": ("T g, T phi", "T out", "static_cast<double>(g * phi)", "a + b",
                        "out = static_cast<T>(-a)", "0"),
}


@functools.cache
def _kernel(name: str):
    """The CuPy kernel object ``name``, built once (CuPy compiles it on its first call)."""
    import cupy

    if name in ELEMENTWISE:
        in_params, out_params, op = ELEMENTWISE[name]
        return cupy.ElementwiseKernel(in_params, out_params, op, name=f"sp_{name}", preamble=PREAMBLE,
                                      options=OPTIONS)
    in_params, out_params, map_expr, reduce_expr, post_map, identity = REDUCTIONS[name]
    return cupy.ReductionKernel(in_params, out_params, map_expr, reduce_expr, post_map, identity,
                                name=f"sp_{name}", reduce_type="double", options=OPTIONS)


def _t(a, *values):
    """Python scalars as scalars of ``a``'s dtype, as the array expressions would cast them."""
    t = a.dtype.type
    return [t(v) for v in values]


def spectral_weight(phi, lam_in, lam_out):
    """``(lam_in - lam_out) * phi`` in one launch; a new array of ``phi``'s shape."""
    return _kernel("spectral_weight")(lam_in[..., None, :], lam_out[..., :, None], phi)


def spectral_grads(g, phi, lam_in, lam_out, want_dphi: bool):
    """``dphi`` (one launch) and the float64-accumulated eigenvalue sums (one launch each)."""
    dphi = _kernel("spectral_dphi")(g, lam_in[..., None, :], lam_out[..., :, None]) if want_dphi else None
    dlam_in = _kernel("spectral_sum")(g, phi, axis=-2)
    dlam_out = _kernel("spectral_negsum")(g, phi, axis=-1)
    return dphi, dlam_in, dlam_out


def adam(p, g, m, v, beta1: float, beta2: float, step: float, eps: float) -> None:
    """One Adam update of ``p``, ``m``, ``v`` in place (see :func:`spectral_physics.kernels.adam_update`)."""
    _kernel("adam")(g, *_t(p, beta1, beta2, step, eps), p, m, v)


def adamax(p, g, m, u, beta1: float, beta2: float, step: float, eps: float) -> None:
    """One Adamax update of ``p``, ``m``, ``u`` in place."""
    _kernel("adamax")(g, *_t(p, beta1, beta2, step, eps), p, m, u)


def sgd(p, g, v, momentum: float, lr: float) -> None:
    """One heavy-ball SGD update of ``p`` and ``v`` in place."""
    _kernel("sgd")(g, *_t(p, momentum, lr), p, v)
