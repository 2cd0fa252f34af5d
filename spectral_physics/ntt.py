"""Neural Tangent Transfer (Liu and Zenke, ICML 2020): label-free sparse wiring.

A sparse *student* starts as a magnitude-pruned copy of a random dense *teacher* and
is optimised on unlabeled data so that its outputs and its empirical NTK match the
teacher's (docs/design.md section 4.4; the gradient: section 4.5)::

    L = lambda_K mean((Theta_s - Theta_t)^2) + mean((f_s - f_t)^2) + (lambda_2 / density) sum ||M * W||^2

The kernel is taken on the cross block of the first and second half of each batch
(all output pairs), the outputs on the whole batch; biases are not penalised. The
mask is re-chosen by magnitude of the student's weights (layer-wise by default) every
``mask_every`` steps (masked weights keep their values and compete), never in the
last ``mask_every`` steps. The found wiring is then trained with labels under its
fixed mask (:func:`supervised_phase`).

The gradient is exact and derived by hand (:func:`ntt_loss_and_grad`): with
``R = dL/dTheta_s`` the kernel term's gradient is that of ``S = sum R * Theta_s``.
``Theta_s`` is built from the per-output signals ``delta_l`` and activations
``a_{l-1}``; the adjoints ``dS/d delta_l`` and ``dS/d a_{l-1}`` are closed-form, are pushed
up through the backward recursion ``delta_l = sigma'(z_l) * (delta_{l+1} W_{l+1})``
(which touches ``W_{l+1}`` and, through ``sigma''``, ``z_l``) and then down through the
forward pass together with the output term (double backpropagation).

Example
-------
>>> import numpy as np
>>> from spectral_physics.ntt import make_teacher, neural_tangent_transfer
>>> x = np.random.default_rng(0).random((256, 20))
>>> teacher = make_teacher([20, 16, 4], seed=0)
>>> res = neural_tangent_transfer(teacher, x, density=0.5, steps=20, progress=False)
>>> float(res.student.layers[0].mask.mean())
0.5
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backend import array_module, host_rng, to_device, to_numpy
from .network import SpectralMLP
from .ntk import (
    DEFAULT_MEMORY_BUDGET,
    KINDS,
    _pair_dd,
    metric_product,
    metric_product_t,
    ntk_memory_estimate,
    output_signals,
    stacked_matmul,
)
from .sparse import DynamicSparseTraining, apply_masks, check_density, magnitude_masks
from .train import DEFAULT_MAX_LOSS, Callback, fit

__all__ = [
    "NTT_DEFAULTS",
    "NTTResult",
    "NTTObjective",
    "make_teacher",
    "teacher_targets",
    "ntt_loss_and_grad",
    "ntt_memory_estimate",
    "neural_tangent_transfer",
    "supervised_phase",
]

#: defaults of the reference code (Liu and Zenke 2020)
NTT_DEFAULTS: dict[str, Any] = {
    "lr": 5e-4,
    "batch_size": 64,
    "lambda_k": 1e-3,
    "lambda_2": 1e-4,
    "mask_every": 100,
    "kind": "masked-dense",
}

_SCRATCH = 256 << 20


def _check_nonneg(name: str, v) -> float:
    v = float(v)
    if not v >= 0 or v != v:
        raise ValueError(f"{name} must be a non-negative number, got {v!r}")
    return v


def _check_student(net) -> None:
    if net.ensemble_size:
        raise ValueError("NTT works on a single network; pass net.member(e) for an ensemble")
    if net.preset != "direct":
        raise ValueError(f"NTT trains direct weights: the network must use train='direct', got {net.preset!r}")
    if any(layer.sparsity for layer in net.layers):
        raise ValueError("NTT chooses its own masks: dynamic sparsity (layer.sparsity) must be off")


def make_teacher(sizes, activation: str = "relu", seed: int = 0, dtype: Any = "float32",
                 device: str | None = None, bias_std: float = 1e-2) -> SpectralMLP:
    """A fresh random dense ``direct`` network: Glorot-normal weights, normal biases.

    Weights ``N(0, 2 / (N_in + N_out))``, biases ``N(0, bias_std^2)`` (the stax defaults
    of the reference code), drawn from a host generator seeded with ``seed``.
    """
    net = SpectralMLP(sizes, train="direct", activation=activation, seed=seed, dtype=dtype, device=device)
    rng = host_rng(np.random.SeedSequence([int(seed), 4, 1]))
    for layer in net.layers:
        std = np.sqrt(2.0 / (layer.n_in + layer.n_out))
        layer.weight = rng.normal(0.0, std, size=(layer.n_out, layer.n_in))
        layer.bias = rng.normal(0.0, _check_nonneg("bias_std", bias_std), size=layer.n_out)
    return net


def _halves(x):
    h = x.shape[0] // 2
    if h < 1:
        raise ValueError(f"an NTT batch needs at least 2 samples (two halves), got {x.shape[0]}")
    return h


def teacher_targets(teacher: SpectralMLP, x, kind: str = "masked-dense",
                    memory_budget: int = DEFAULT_MEMORY_BUDGET):
    """Teacher outputs on ``x`` and its kernel on the cross block of the two halves.

    Returns
    -------
    f_t : array, shape (n, k)
    theta_t : array, shape (n // 2, n - n // 2, k, k)
    """
    _check_single_direct_any(teacher)
    if len(np.shape(x)) == 2:  # refuse an oversized batch before validating (copying) it
        _check_budget(teacher, np.shape(x)[0], kind, memory_budget)
    return _targets(teacher, teacher._check_x(x), kind)


def _targets(teacher: SpectralMLP, x, kind: str):
    """:func:`teacher_targets` of a batch already on the device in the teacher's dtype; no checks,
    so no host synchronisation (``_check_x`` reads ``isfinite(x).all()`` back)."""
    from .ntk import kernel_from_signals

    h = _halves(x)
    sig = output_signals(teacher, x, check=False)
    f_t = sig.zs[-1].copy()
    s1, s2 = _split(sig, h)
    return f_t, kernel_from_signals(teacher, s1, s2, kind=kind)


def ntt_memory_estimate(net: SpectralMLP, n: int, kind: str = NTT_DEFAULTS["kind"]) -> int:
    """Bytes one NTT loss-and-gradient evaluation on a batch of ``n`` allocates (upper estimate)."""
    h = n // 2
    k = net.sizes[-1]
    item = net.dtype.itemsize
    # the kernel itself plus its difference, R and one saved block per layer
    blocks = (3 + len(net.layers)) * h * (n - h) * k * k
    # per-layer H (sparse kind) and the adjoints of deltas and activations
    extra = sum(h * (n - h) * (layer.n_out + layer.n_in) + 2 * n * k * layer.n_out for layer in net.layers)
    return int(ntk_memory_estimate(net, h, n - h, kind) + (blocks + extra) * item)


def _check_budget(net, n: int, kind: str, memory_budget: int) -> None:
    need = ntt_memory_estimate(net, n, kind)
    if need > memory_budget:
        raise ValueError(
            f"an NTT step on a batch of {n} needs about {need / 2**20:.1f} MiB, more than "
            f"memory_budget={memory_budget / 2**20:.1f} MiB; use a smaller batch or raise memory_budget"
        )


def _check_single_direct_any(net) -> None:
    if net.ensemble_size:
        raise ValueError("the teacher must be a single network, not an ensemble")


def _split(sig, h):
    from .ntk import OutputSignals

    s1 = OutputSignals(sig.zs, [a[:h] for a in sig.acts], [d[:h] for d in sig.deltas], [], sig.weights, sig.masks)
    s2 = OutputSignals(sig.zs, [a[h:] for a in sig.acts], [d[h:] for d in sig.deltas], [], sig.weights, sig.masks)
    return s1, s2


def _kernel_forward(layer_q, d1, d2, a1, a2, beta, budget):
    """Kernel block of one direct layer and what its adjoint needs."""
    xp = array_module(d1)
    if layer_q is None:
        kaa = a1 @ a2.T
        dd = _pair_dd(d1, d2, trace=False)
        theta = dd * (kaa + beta)[:, :, None, None]
        return theta, ("factorised", kaa, dd)
    n1, k, n_out = d1.shape
    n2, n_in = a2.shape
    h = metric_product((a1[:, None, :] * a2[None, :, :]).reshape(n1 * n2, n_in), layer_q).reshape(n1, n2, n_out)
    hb = h + beta if beta else h
    theta = xp.empty((n1, n2, k, k), dtype=d1.dtype)
    for a in range(n1):
        # Theta[a, b, c, d] = sum_i d1[a, c, i] (d2[b, d, i] hb[a, b, i])
        y = (d2 * hb[a][:, None, :]).reshape(n2 * k, n_out)
        theta[a] = (y @ d1[a].T).reshape(n2, k, k).transpose(0, 2, 1)
    return theta, ("metric", hb)


def _kernel_adjoint(r, layer_q, d1, d2, a1, a2, beta, saved, budget):
    """``dS/dd1, dS/dd2, dS/da1, dS/da2`` for ``S = sum r * Theta`` of one layer."""
    n1, k, n_out = d1.shape
    n2 = d2.shape[0]
    if saved[0] == "factorised":
        _, kaa, dd = saved
        rt = r * (kaa + beta)[:, :, None, None]
        rm = rt.transpose(0, 2, 1, 3).reshape(n1 * k, n2 * k)
        gd1 = (rm @ d2.reshape(n2 * k, n_out)).reshape(n1, k, n_out)
        gd2 = (rm.T @ d1.reshape(n1 * k, n_out)).reshape(n2, k, n_out)
        gk = (r * dd).sum(axis=(2, 3))
        return gd1, gd2, gk @ a2, gk.T @ a1
    hb = saved[1]
    xp = array_module(d1)
    gd1 = xp.empty_like(d1)
    gd2 = xp.zeros_like(d2)
    e = xp.empty(hb.shape, dtype=d1.dtype)
    d2f = d2.reshape(n2 * k, n_out)
    for a in range(n1):
        ra = r[a]  # (n2, k_c, k_d)
        hs = hb[a][:, None, :]
        # dS/dd1[a, c, i] = sum_bd R[a,b,c,d] d2[b,d,i] hb[a,b,i]
        gd1[a] = ra.transpose(1, 0, 2).reshape(k, n2 * k) @ (d2 * hs).reshape(n2 * k, n_out)
        # p[b, d, i] = sum_c R[a,b,c,d] d1[a,c,i]
        p = (ra.transpose(0, 2, 1).reshape(n2 * k, k) @ d1[a]).reshape(n2, k, n_out)
        gd2 += p * hs
        e[a] = (p.reshape(n2 * k, n_out) * d2f).reshape(n2, k, n_out).sum(axis=1)  # dS/dH[a, b, i]
    eq = metric_product_t(e.reshape(n1 * n2, n_out), layer_q).reshape(n1, n2, -1)
    ga1 = (eq * a2[None, :, :]).sum(axis=1)
    ga2 = (eq * a1[:, None, :]).sum(axis=0)
    return gd1, gd2, ga1, ga2


def ntt_loss_and_grad(student: SpectralMLP, x, f_t, theta_t, *, density: float,
                      lambda_k: float = NTT_DEFAULTS["lambda_k"], lambda_2: float = NTT_DEFAULTS["lambda_2"],
                      kind: str = NTT_DEFAULTS["kind"], grad: bool = True,
                      memory_budget: int = DEFAULT_MEMORY_BUDGET):
    """NTT loss of ``student`` on batch ``x`` and its exact gradient.

    Parameters
    ----------
    student : SpectralMLP
        A single ``direct`` network; ``layer.mask`` holds its wiring.
    x : array, shape (n, N_0)
        Unlabeled batch; the kernel is taken between ``x[:n//2]`` and ``x[n//2:]``.
    f_t : array, shape (n, k)
        Teacher outputs on ``x``.
    theta_t : array, shape (n//2, n - n//2, k, k)
        Teacher kernel on the cross block (:func:`teacher_targets`).
    density : float in (0, 1]
        Divides ``lambda_2``.
    lambda_k, lambda_2 : float
    kind : {"masked-dense", "sparse"}
        Which student kernel is matched (see :func:`spectral_physics.ntk.empirical_ntk`).
    grad : bool
        Whether to compute the gradient.
    memory_budget : int
        Bytes the evaluation may allocate; a larger batch raises ``ValueError`` first.

    Returns
    -------
    loss : float
    parts : dict
        ``kernel_dist`` = mean((Theta_s - Theta_t)^2), ``target_dist`` = mean((f_s - f_t)^2),
        ``l2`` = sum ||M * W||^2.
    grads : list of dict or None
        Per layer ``{"weight": dL/dW (raw weights, zero at masked entries), "bias": ...}``.
    """
    _check_student(student)
    density = check_density(density)
    lambda_k = _check_nonneg("lambda_k", lambda_k)
    lambda_2 = _check_nonneg("lambda_2", lambda_2)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    x = student._check_x(x)
    loss, parts, grads = _evaluate(student, x, f_t, theta_t, density, lambda_k, lambda_2, kind, grad,
                                   memory_budget)
    # one read-back of the four numbers
    host = to_numpy(student.xp.stack([loss, parts["kernel_dist"], parts["target_dist"], parts["l2"]]))
    loss, ker, tgt, l2 = (float(v) for v in host)
    return loss, {"kernel_dist": ker, "target_dist": tgt, "l2": l2}, grads


def _evaluate(student: SpectralMLP, x, f_t, theta_t, density: float, lambda_k: float, lambda_2: float,
              kind: str, grad: bool, memory_budget: int):
    """:func:`ntt_loss_and_grad` of checked arguments (``x`` on the device in the student's dtype)
    with the loss and its parts left on the device as float64 scalars: no host synchronisation.

    The parts are the float64 values of the same reductions the host numbers come from, and
    the loss is combined from them in float64 in the same order, so both give one number.
    """
    n = x.shape[0]
    h = _halves(x)
    k = student.sizes[-1]
    if tuple(f_t.shape) != (n, k):
        raise ValueError(f"f_t must have shape {(n, k)}, got {tuple(f_t.shape)}")
    if tuple(theta_t.shape) != (h, n - h, k, k):
        raise ValueError(f"theta_t must have shape {(h, n - h, k, k)}, got {tuple(theta_t.shape)}")
    _check_budget(student, n, kind, memory_budget)
    xp = student.xp
    layers = student.layers
    nl = len(layers)
    sig = output_signals(student, x, keep_pre=grad, check=False)
    f_s = sig.zs[-1]
    qs = [m if (kind == "sparse" and m is not None) else None for m in sig.masks]
    theta = xp.zeros((h, n - h, k, k), dtype=student.dtype)
    saved = []
    for l, layer in enumerate(layers):
        beta = 1.0 if layer.use_bias else 0.0
        d, a = sig.deltas[l], sig.acts[l]
        th, sv = _kernel_forward(qs[l], d[:h], d[h:], a[:h], a[h:], beta, memory_budget)
        theta += th
        saved.append(sv)
    diff_k = theta - theta_t
    diff_f = f_s - f_t
    f64 = np.float64
    ker = (diff_k * diff_k).mean().astype(f64)
    tgt = (diff_f * diff_f).mean().astype(f64)
    l2 = xp.zeros((), dtype=f64)
    for w in sig.weights:
        l2 = l2 + (w * w).sum().astype(f64)
    loss = lambda_k * ker + tgt + lambda_2 / density * l2
    parts = {"kernel_dist": ker, "target_dist": tgt, "l2": l2}
    if not grad:
        return loss, parts, None

    r = diff_k * (2.0 * lambda_k / diff_k.size)
    g_d: list[Any] = [None] * nl
    g_a: list[Any] = [None] * nl
    for l, layer in enumerate(layers):
        beta = 1.0 if layer.use_bias else 0.0
        d, a = sig.deltas[l], sig.acts[l]
        gd1, gd2, ga1, ga2 = _kernel_adjoint(r, qs[l], d[:h], d[h:], a[:h], a[h:], beta, saved[l], memory_budget)
        g_d[l] = xp.concatenate([gd1, gd2], axis=0)
        g_a[l] = xp.concatenate([ga1, ga2], axis=0)

    act = student.act
    second = act.name not in ("relu", "identity")  # sigma'' = 0 (almost everywhere) otherwise
    zs, acts, ws = sig.zs, sig.acts, sig.weights
    g_w = [xp.zeros_like(w) for w in ws]
    g_z = [None] * nl
    # adjoint of the per-output backward recursion, from the first layer upwards
    for l in range(nl - 1):
        gd = g_d[l]
        dsig = act.df_from(zs[l], acts[l + 1])
        if second:
            g_z[l] = (gd * sig.pre[l]).sum(axis=1) * act.d2f(zs[l])
        gp = gd * dsig[:, None, :]
        if l + 1 < nl - 1:
            g_d[l + 1] = g_d[l + 1] + stacked_matmul(gp, ws[l + 1].T)
            dn = sig.deltas[l + 1]
            g_w[l + 1] += dn.reshape(-1, dn.shape[-1]).T @ gp.reshape(-1, gp.shape[-1])
        else:  # delta of the logits is the identity
            g_w[l + 1] += gp.sum(axis=0)
    # ordinary backpropagation of the output term plus the kernel's activation adjoints
    delta = diff_f * (2.0 / diff_f.size)
    grads: list[dict[str, Any]] = [None] * nl  # type: ignore[list-item]
    for l in range(nl - 1, -1, -1):
        g_w[l] += delta.T @ acts[l]
        gb = delta.sum(axis=0)
        if l > 0:
            ga = delta @ ws[l] + g_a[l]
            delta = ga * act.df_from(zs[l - 1], acts[l])
            if second:
                delta += g_z[l - 1]
        gw = g_w[l]
        if lambda_2:
            gw += (2.0 * lambda_2 / density) * ws[l]  # ws is already M * W
        if sig.masks[l] is not None:
            gw *= sig.masks[l]
        grads[l] = {"weight": gw}
        if layers[l].use_bias:
            grads[l]["bias"] = gb
    return loss, parts, grads


class NTTObjective:
    """The NTT loss as a :func:`~spectral_physics.train.fit` objective (label-free).

    Called by ``fit`` on each minibatch ``x``: the teacher's outputs and kernel on ``x``
    (:func:`teacher_targets`) are the targets, and :func:`ntt_loss_and_grad` gives the
    student's loss and exact gradient. The labels ``y`` are ignored (``None``).

    Parameters
    ----------
    teacher : SpectralMLP
        Dense network whose outputs and NTK are matched; left unchanged.
    density, lambda_k, lambda_2, kind, memory_budget
        As :func:`ntt_loss_and_grad`.

    Attributes
    ----------
    losses : list of 0-d arrays
        The loss of every step so far, in order, as float64 scalars on the device: a step
        reads nothing back to the host. :meth:`loss_values` returns them as floats in one
        transfer.
    """

    def __init__(self, teacher: SpectralMLP, *, density: float, lambda_k: float = NTT_DEFAULTS["lambda_k"],
                 lambda_2: float = NTT_DEFAULTS["lambda_2"], kind: str = NTT_DEFAULTS["kind"],
                 memory_budget: int = DEFAULT_MEMORY_BUDGET) -> None:
        _check_single_direct_any(teacher)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.teacher = teacher
        self.density = check_density(density)
        self.lambda_k = _check_nonneg("lambda_k", lambda_k)
        self.lambda_2 = _check_nonneg("lambda_2", lambda_2)
        self.kind, self.memory_budget = kind, memory_budget
        self.losses: list[float] = []

    def evaluate(self, student: SpectralMLP, x, f_t, theta_t, grad: bool = True):
        """:func:`ntt_loss_and_grad` of ``student`` on ``x`` against given targets, with these settings."""
        return ntt_loss_and_grad(student, x, f_t, theta_t, density=self.density, lambda_k=self.lambda_k,
                                 lambda_2=self.lambda_2, kind=self.kind, grad=grad,
                                 memory_budget=self.memory_budget)

    def __call__(self, student: SpectralMLP, x, y=None):
        """``(loss, grads, None)`` on batch ``x`` (n, N_0); no logits, so no training accuracy.

        ``x`` is a minibatch as :func:`~spectral_physics.train.fit` passes it (on the device,
        from data ``fit`` checked once), so it is not checked again, and the loss stays on
        the device (a float64 scalar): no host synchronisation in the step.
        """
        _check_student(student)
        x = to_device(x, student.device).astype(student.dtype, copy=False)
        if x.ndim != 2 or x.shape[1] != student.sizes[0]:
            raise ValueError(f"x must have shape ('batch', {student.sizes[0]}), got {tuple(x.shape)}")
        _check_budget(self.teacher, x.shape[0], self.kind, self.memory_budget)
        f_t, th_t = _targets(self.teacher, x.astype(self.teacher.dtype, copy=False), self.kind)
        loss, _, grads = _evaluate(student, x, f_t, th_t, self.density, self.lambda_k, self.lambda_2,
                                   self.kind, True, self.memory_budget)
        self.losses.append(loss)
        return loss, grads, None

    def loss_values(self, start: int = 0) -> list[float]:
        """``losses[start:]`` as floats, read back to the host in one transfer."""
        return _host_floats(self.losses[start:])


def _host_floats(values) -> list[float]:
    """Device (or host) scalars as floats, in one transfer."""
    if not values:
        return []
    xp = array_module(*values)
    return [float(v) for v in to_numpy(xp.stack([xp.asarray(v) for v in values]))]


class _Validation(Callback):
    """NTT's held-out loss at step 0, every ``every`` steps and after the last step."""

    def __init__(self, objective: NTTObjective, x_val, steps: int, every: int, hist: dict) -> None:
        self.objective, self.every, self.steps, self.hist = objective, every, steps, hist
        self.f_t, self.theta_t = teacher_targets(objective.teacher, x_val, objective.kind)
        self.x_val = x_val
        self.step = 0

    def _validate(self, net) -> None:
        loss, parts, _ = self.objective.evaluate(net, self.x_val, self.f_t, self.theta_t, grad=False)
        h = self.hist
        train = self.objective.loss_values(self._since)  # one transfer per validation
        h["step"].append(self.step)
        h["val_loss"].append(loss)
        h["val_kernel_dist"].append(parts["kernel_dist"])
        h["val_target_dist"].append(parts["target_dist"])
        h["val_l2"].append(parts["l2"])
        h["train_loss"].append(float(np.mean(train)) if train else None)
        h["seconds"].append(time.perf_counter() - self.t0)
        self._since = len(self.objective.losses)

    def on_train_begin(self, net) -> None:
        self.step, self.t0, self._since = 0, time.perf_counter(), len(self.objective.losses)
        self._validate(net)

    def on_step_end(self, net, epoch: int, step: int) -> None:
        self.step += 1
        if self.step % self.every == 0 or self.step == self.steps:
            self._validate(net)


@dataclass
class NTTResult:
    """Outcome of :func:`neural_tangent_transfer`.

    Attributes
    ----------
    student : SpectralMLP
        The transferred sparse network (``layer.mask`` holds the wiring).
    teacher : SpectralMLP
    masks : list of bool arrays
    history : dict of lists
        ``step``, ``val_loss``, ``val_kernel_dist``, ``val_target_dist``, ``val_l2`` at every
        validation point (step 0 is before transfer), ``train_loss`` (mean over the steps
        since the previous point), ``mask_changes`` (entries that entered the mask at each
        re-choice) and ``seconds``.
    config : dict
        The settings used.
    """

    student: SpectralMLP
    teacher: SpectralMLP
    masks: list
    history: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        # a summary: the masks alone print as thousands of characters
        kept = sum(int(m.sum()) for m in self.masks)
        total = sum(int(m.size) for m in self.masks)
        shapes = ", ".join("x".join(map(str, m.shape)) for m in self.masks)
        loss = self.history.get("val_loss") or []
        text = (f"NTTResult(sizes={list(self.student.sizes)}, density={self.config.get('density')}, "
                f"kept={kept}/{total} weights, masks=[{shapes}], steps={self.config.get('steps')}")
        if loss:
            text += f", val_loss {float(loss[0]):.4g} -> {float(loss[-1]):.4g}"
        seconds = self.history.get("seconds") or []
        return text + (f", {float(seconds[-1]):.1f} s)" if seconds else ")")


def neural_tangent_transfer(
    teacher: SpectralMLP,
    x,
    density: float,
    *,
    steps: int = 1000,
    lr: float = NTT_DEFAULTS["lr"],
    batch_size: int = NTT_DEFAULTS["batch_size"],
    lambda_k: float = NTT_DEFAULTS["lambda_k"],
    lambda_2: float = NTT_DEFAULTS["lambda_2"],
    mask_every: int = NTT_DEFAULTS["mask_every"],
    kind: str = NTT_DEFAULTS["kind"],
    scope: str = "layer",
    val_size: int = 64,
    val_every: int = 100,
    seed: int = 0,
    progress: bool = True,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    max_loss: float = DEFAULT_MAX_LOSS,
    callbacks: Sequence[Callback] = (),
) -> NTTResult:
    """Find a sparse wiring without labels by matching the teacher's outputs and NTK.

    The optimisation is :func:`~spectral_physics.train.fit` with :class:`NTTObjective` as
    its loss (Adam, full batches only: each seeded epoch over the training part of ``x``
    drops its incomplete last batch), the mask re-selection a
    :class:`~spectral_physics.sparse.DynamicSparseTraining` callback and the validation
    a callback too.

    Parameters
    ----------
    teacher : SpectralMLP
        Dense ``direct`` network (:func:`make_teacher`); left unchanged.
    x : array, shape (n, N_0)
        Unlabeled inputs; ``val_size`` of them (seeded) are held out for validation.
    density : float in (0, 1]
        Kept fraction of the weights of every layer.
    steps : int
        Optimisation steps (minibatches, drawn as seeded epochs over the data).
    lr, batch_size, lambda_k, lambda_2 : float, int, float, float
        Adam learning rate, batch size (kernel block ``batch_size/2`` squared), loss weights.
    mask_every : int
        Re-choose the mask by layer-wise magnitude every this many steps, except in the
        last ``mask_every`` steps; 0 keeps the initial mask.
    kind : {"masked-dense", "sparse"}
        Student kernel matched (the reference code used ``masked-dense``).
    scope : {"layer", "global"}
        Magnitude masks per layer (the reference default) or with one threshold over all
        layers (the reference code's ``GLOBAL_PRUNE_BOOL``); ``density`` is then the overall
        kept fraction.
    val_size, val_every : int
        Held-out samples (an even number >= 2) and the validation interval in steps.
    seed : int
        Data order and the validation split.
    progress : bool
        Show a progress bar.
    memory_budget : int
        Bytes one step may allocate; checked before the first step.
    max_loss : float
        Explosion bound of the step loss (see :func:`~spectral_physics.train.fit`).
    callbacks : sequence of Callback
        More :class:`~spectral_physics.train.Callback` objects for ``fit``, called after the
        mask re-selection and the validation (e.g. a clock of the steps).

    Raises
    ------
    DivergenceError
        When a step's loss or the student's parameters stop being finite, or the loss
        exceeds ``max_loss``; ``epoch`` and ``step`` count ``fit``'s epochs over the data.
    """
    _check_student(teacher)
    density = check_density(density)
    for name, v, low in (("steps", steps, 0), ("batch_size", batch_size, 2), ("mask_every", mask_every, 0),
                         ("val_size", val_size, 2), ("val_every", val_every, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if scope not in ("layer", "global"):
        raise ValueError(f"scope must be 'layer' or 'global', got {scope!r}")
    _check_budget(teacher, max(batch_size, val_size), kind, memory_budget)
    x = teacher._check_x(x)
    n = x.shape[0]
    if n < val_size + batch_size:
        raise ValueError(f"x must hold at least val_size + batch_size = {val_size + batch_size} samples, got {n}")
    config = {"density": density, "steps": steps, "lr": lr, "batch_size": batch_size, "lambda_k": lambda_k,
              "lambda_2": lambda_2, "mask_every": mask_every, "kind": kind, "scope": scope, "val_size": val_size,
              "val_every": val_every, "seed": seed}
    # one generator draws the split, then (inside fit) one permutation per epoch
    rng = host_rng(np.random.SeedSequence([int(seed), 4, 2]))
    perm = rng.permutation(n)
    val_idx, tr_idx = perm[:val_size], np.sort(perm[val_size:])
    x_val = x[to_device(val_idx, teacher.device)]
    x_tr = x[to_device(tr_idx, teacher.device)]

    student = teacher.copy()
    apply_masks(student, magnitude_masks(student, density, scope=scope))
    hist: dict[str, list] = {k: [] for k in ("step", "val_loss", "val_kernel_dist", "val_target_dist",
                                             "val_l2", "train_loss", "seconds")}
    objective = NTTObjective(teacher, density=density, lambda_k=lambda_k, lambda_2=lambda_2, kind=kind,
                             memory_budget=memory_budget)
    own: list[Callback] = []
    dst = None
    if mask_every:
        # the last re-choice lies more than mask_every steps before the end
        dst = DynamicSparseTraining(density, every=mask_every, scope=scope, until=steps - mask_every - 1)
        own.append(dst)
    own.append(_Validation(objective, x_val, steps, val_every, hist))
    per_epoch = len(tr_idx) // batch_size
    fit(student, (x_tr, None), epochs=-(-steps // per_epoch), max_steps=steps, batch_size=batch_size,
        drop_last=True, optimizer="adam", lr=lr, seed=rng, progress=progress, callbacks=[*own, *callbacks],
        loss_and_grad=objective, max_loss=max_loss)
    # a re-choice keeps the number of kept entries, so as many enter as leave: flips / 2
    hist["mask_changes"] = [(u["step"], int(sum(u["flips"])) // 2) for u in (dst.updates if dst else [])]
    masks = [layer.mask for layer in student.layers]
    return NTTResult(student, teacher, masks, hist, config)


def supervised_phase(net: SpectralMLP, data, *, epochs: int = 10, lr: float = 1e-3, batch_size: int = 64,
                     seed: int = 0, progress: bool = True, **fit_kw):
    """Train ``net`` with labels under its fixed masks (Adam, lr 1e-3, batch 64 by default).

    A thin wrapper of :func:`spectral_physics.train.fit`; the masks in ``layer.mask`` stay fixed
    because the core zeroes the gradients of masked weights.
    """
    return fit(net, data, epochs=epochs, optimizer="adam", lr=lr, batch_size=batch_size, seed=seed,
               progress=progress, **fit_kw)
