"""First-order optimisers updating parameter arrays in place.

State arrays are allocated once, on the parameters' device, and every update
is one fused in-place kernel of :mod:`spectral_physics.kernels` (a compiled loop
for NumPy arrays, one CuPy ``ElementwiseKernel`` launch for CuPy arrays; the array
implementation, where it is chosen or nothing else applies, uses in-place array
expressions with one scratch array per parameter, reused across steps).

Penalties: ``l2={"lam_in": c}`` adds ``c * sum(p**2)`` to the loss, ``l1={...}``
adds ``c * sum(|p|)``; keys are array names (``"*"`` matches every trainable
array, e.g. ``l1={"lam_in": 1e-4, "lam_out": 1e-4}`` for eigenvalue pruning).

Example
-------
>>> import numpy as np
>>> from spectral_physics.optim import SGD
>>> p = [{"w": np.array([1.0])}]
>>> SGD(lr=0.5, momentum=0.0).step(p, [{"w": np.array([2.0])}])
>>> p[0]["w"].tolist()
[0.0]
"""

from __future__ import annotations

from typing import Any

from . import kernels
from .backend import array_module

__all__ = ["Optimizer", "SGD", "Adam", "Adamax", "make_optimizer", "OPTIMIZERS"]


def _check_penalty(name: str, pen: dict[str, float] | None) -> dict[str, float]:
    pen = dict(pen or {})
    for k, c in pen.items():
        if not isinstance(k, str) or float(c) < 0:
            raise ValueError(f"{name} must map array names to non-negative coefficients, got {pen!r}")
    return {k: float(c) for k, c in pen.items()}


def _check_betas(beta1: float, beta2: float) -> tuple[float, float]:
    for name, b in (("beta1", beta1), ("beta2", beta2)):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"{name} must lie in [0, 1), got {b!r}")
    return float(beta1), float(beta2)


class Optimizer:
    """Base class: penalties, learning-rate checks and per-array state.

    Parameters
    ----------
    lr : float
        Learning rate (> 0).
    l1, l2 : dict of str to float, optional
        Penalty coefficients per array name (``"*"`` for all).
    """

    def __init__(self, lr: float, l1: dict | None = None, l2: dict | None = None) -> None:
        lr = float(lr)
        if not lr > 0 or lr != lr:
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        self.lr = lr
        self.l1 = _check_penalty("l1", l1)
        self.l2 = _check_penalty("l2", l2)
        self.t = 0
        self.state: dict[tuple[int, str], dict[str, Any]] = {}

    def _coef(self, pen: dict[str, float], name: str) -> float:
        return pen.get(name, pen.get("*", 0.0))

    def _penalised(self, name: str, p, g):
        c1, c2 = self._coef(self.l1, name), self._coef(self.l2, name)
        if c1 or c2:
            xp = array_module(p)
            g = g.copy()
            if c1:
                g += c1 * xp.sign(p)
            if c2:
                g += (2 * c2) * p
        return g

    def step(self, params: list[dict[str, Any]], grads: list[dict[str, Any]]) -> None:
        """Update ``params[k][name]`` in place from ``grads[k][name]``."""
        self.t += 1
        for k, (pd, gd) in enumerate(zip(params, grads)):
            for name, p in pd.items():
                g = self._penalised(name, p, gd[name])
                st = self.state.get((k, name))
                if st is None or st["_shape"] != p.shape:
                    st = self.state[(k, name)] = self._init_state(p)
                self._update(p, g, st)

    def _init_state(self, p) -> dict[str, Any]:
        xp = array_module(p)
        # the compiled and the fused kernels need no scratch array; the array expressions do
        tmp = xp.empty_like(p) if kernels.kernel_implementation(p) == "array" else None
        return {"_shape": p.shape, "tmp": tmp, **self._new_state(p, xp)}

    def _new_state(self, p, xp) -> dict[str, Any]:
        return {}

    def _update(self, p, g, st) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum: ``v = mu v + g; p -= lr v``."""

    def __init__(self, lr: float = 0.01, momentum: float = 0.9, **kw) -> None:
        super().__init__(lr, **kw)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)

    def _new_state(self, p, xp):
        return {"v": xp.zeros_like(p)}

    def _update(self, p, g, st):
        kernels.sgd_update(p, g, st["v"], st["tmp"], self.momentum, self.lr)


class Adam(Optimizer):
    """Adam (Kingma and Ba 2015) with bias correction folded into the step size."""

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-7, **kw) -> None:
        super().__init__(lr, **kw)
        (self.beta1, self.beta2), self.eps = _check_betas(beta1, beta2), float(eps)

    def _new_state(self, p, xp):
        return {"m": xp.zeros_like(p), "v": xp.zeros_like(p)}

    def _update(self, p, g, st):
        b1, b2 = self.beta1, self.beta2
        bc1, bc2 = 1 - b1**self.t, 1 - b2**self.t
        # bias corrections folded into the step and eps: lr m_hat / (sqrt(v_hat) + eps)
        kernels.adam_update(p, g, st["m"], st["v"], st["tmp"], b1, b2,
                            step=self.lr * bc2**0.5 / bc1, eps=self.eps * bc2**0.5)


class Adamax(Optimizer):
    """Adamax (Kingma and Ba 2015): infinity-norm variant of Adam; the papers use lr 0.015."""

    def __init__(self, lr: float = 0.015, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-7, **kw) -> None:
        super().__init__(lr, **kw)
        (self.beta1, self.beta2), self.eps = _check_betas(beta1, beta2), float(eps)

    def _new_state(self, p, xp):
        return {"m": xp.zeros_like(p), "u": xp.zeros_like(p)}

    def _update(self, p, g, st):
        kernels.adamax_update(p, g, st["m"], st["u"], st["tmp"], self.beta1, self.beta2,
                              step=self.lr / (1 - self.beta1**self.t), eps=self.eps)


OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamax": Adamax}


def make_optimizer(name: str | Optimizer, lr: float | None = None, **kw) -> Optimizer:
    """Build an optimiser by name (``sgd``, ``adam``, ``adamax``); an instance passes through."""
    if isinstance(name, Optimizer):
        return name
    try:
        cls = OPTIMIZERS[str(name).lower()]
    except KeyError:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}") from None
    return cls(**({"lr": lr} if lr is not None else {}), **kw)
