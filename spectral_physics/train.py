"""Minibatch training with a seeded data order, validation, early stopping and callbacks.

Example
-------
>>> from spectral_physics import SpectralMLP, fit
>>> from spectral_physics.datasets import teacher_student
>>> data = teacher_student(n_train=512, n_test=128, n_features=20, n_classes=3, seed=0)
>>> net = SpectralMLP([20, 32, 3], train="eigen", seed=0)
>>> hist = fit(net, data, epochs=2, batch_size=64, lr=1e-2, progress=False)
>>> len(hist.records)
2

The data set is moved to the network's device once; each step gathers one
minibatch by index into a reused buffer, so no copy of the data set is made per
epoch. Losses stay on the device during an epoch (no host synchronisation per
batch on the GPU; on the CPU a non-finite loss is caught at the step it occurs).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backend import host_rng, to_device, to_numpy
from .losses import softmax_cross_entropy
from .network import SpectralMLP
from .optim import Optimizer, make_optimizer

__all__ = ["fit", "History", "Callback", "DivergenceError", "split_data"]


class DivergenceError(FloatingPointError):
    """The loss became NaN or infinite; ``epoch`` and ``step`` say where (both from 1).

    Attributes
    ----------
    epoch, step : int
    loss : float or list of float
        The step's loss (one per member for an ensemble).
    members : list of int or None
        For an ensemble, the members whose loss is not finite; ``None`` for one network.
    """

    def __init__(self, epoch: int, step: int, loss: Any, members: list[int] | None = None) -> None:
        who = "" if members is None else f" for ensemble member(s) {list(members)}"
        super().__init__(
            f"training diverged{who}: loss is {loss} at epoch {epoch}, step {step}; "
            "lower the learning rate or check the inputs"
        )
        self.epoch, self.step, self.loss = epoch, step, loss
        self.members = None if members is None else [int(m) for m in members]


class Callback:
    """Hooks called by :func:`fit`; subclass and override what you need."""

    def on_train_begin(self, net: SpectralMLP) -> None:
        """Before the first step."""

    def on_step_end(self, net: SpectralMLP, epoch: int, step: int) -> None:
        """After each optimiser step (``epoch`` from 1, ``step`` from 1 within the epoch)."""

    def on_epoch_end(self, net: SpectralMLP, epoch: int, record: dict[str, Any]) -> None:
        """After each epoch's evaluation; ``record`` is the epoch's history entry."""

    def on_train_end(self, net: SpectralMLP, history: History) -> None:
        """After the last epoch (also after early stopping)."""


@dataclass
class History:
    """Per-epoch records of a training run.

    Each record holds ``epoch``, ``loss`` (mean training loss), ``train_accuracy`` (on the
    minibatches as they were seen), ``val_accuracy`` and ``test_accuracy`` (``None`` where
    there is no such split), ``seconds`` (training time of the epoch, evaluation excluded)
    and ``eval_seconds``. For an ensemble the metrics are lists, one value per member.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False
    best_epoch: int | None = None

    def as_dict(self) -> dict[str, list]:
        """Column view: metric name -> list over epochs."""
        keys = self.records[0].keys() if self.records else []
        return {k: [r[k] for r in self.records] for k in keys}

    def to_json(self) -> dict[str, Any]:
        return {"records": self.records, "stopped_early": self.stopped_early,
                "best_epoch": self.best_epoch}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> History:
        return cls(list(obj.get("records", [])), bool(obj.get("stopped_early", False)),
                   obj.get("best_epoch"))

    def __getitem__(self, key: str) -> list:
        return [r[key] for r in self.records]


def _as_arrays(data) -> tuple[Any, Any, Any, Any]:
    if hasattr(data, "x_train"):
        return data.x_train, data.y_train, getattr(data, "x_test", None), getattr(data, "y_test", None)
    if isinstance(data, (tuple, list)) and len(data) in (2, 4):
        return (*data, None, None) if len(data) == 2 else tuple(data)
    raise ValueError("data must be a Dataset or a tuple (x, y) or (x, y, x_test, y_test)")


def split_data(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``range(n)`` into training and validation indices."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1), got {val_fraction!r}")
    perm = host_rng(np.random.SeedSequence([seed, 7])).permutation(n)
    n_val = int(round(val_fraction * n))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _check_int(name: str, v, low: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")
    return int(v)


def fit(
    net: SpectralMLP,
    data,
    *,
    epochs: int = 5,
    batch_size: int = 200,
    optimizer: str | Optimizer = "adam",
    lr: float | None = None,
    val_fraction: float = 0.0,
    patience: int | None = None,
    seed: int | Sequence[int] | None = None,
    progress: bool = True,
    callbacks: Sequence[Callback] = (),
    l1: dict[str, float] | None = None,
    l2: dict[str, float] | None = None,
    checkpoint: str | None = None,
) -> History:
    """Train ``net`` in place by minibatch gradient descent on softmax cross-entropy.

    Parameters
    ----------
    net : SpectralMLP
        Network (or ensemble) to train; its arrays are updated in place.
    data : Dataset or tuple
        Anything with ``x_train`` (n, N_0), ``y_train`` (n,), and optionally ``x_test``,
        ``y_test``; or a tuple ``(x, y)`` / ``(x, y, x_test, y_test)``.
    epochs : int
        Passes over the training split.
    batch_size : int
        Examples per step; the last batch of an epoch may be smaller.
    optimizer : {"adam", "adamax", "sgd"} or Optimizer
    lr : float, optional
        Learning rate (the optimiser's default if omitted).
    val_fraction : float
        Fraction of the training data held out for validation, chosen by ``seed``.
    patience : int, optional
        Stop when validation accuracy has not improved for this many epochs, and restore
        the best epoch's parameters. Needs ``val_fraction > 0``.
    seed : int or sequence of int, optional
        Seed(s) of the data order (one per ensemble member). Defaults to the network's seed,
        so an ensemble member sees the same order as the network built and trained alone.
    progress : bool
        Show a tqdm progress bar over steps.
    callbacks : sequence of Callback
    l1, l2 : dict of str to float, optional
        Penalty coefficients by array name, passed to the optimiser.
    checkpoint : path, optional
        Save the network and history here (atomically) after every epoch.

    Returns
    -------
    History

    Raises
    ------
    DivergenceError
        When the loss becomes NaN or infinite (naming epoch and step).
    """
    epochs = _check_int("epochs", epochs, 0)
    batch_size = _check_int("batch_size", batch_size, 1)
    if patience is not None:
        patience = _check_int("patience", patience, 1)
        if val_fraction <= 0:
            raise ValueError("patience needs val_fraction > 0 (early stopping uses validation accuracy)")
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        opt = make_optimizer(optimizer, lr, l1=l1, l2=l2)
    else:
        opt = optimizer
    xp = net.xp
    ens = net.ensemble_size
    x_all, y_all, x_test, y_test = _as_arrays(data)
    x_all = net._check_x(x_all, "x_train", shared=True)  # members share the data, not the order
    y_all = net._check_y(y_all, x_all, "y_train")
    n = x_all.shape[0]

    seeds = net.seed if seed is None else seed
    seeds_list = list(seeds) if isinstance(seeds, (list, tuple, np.ndarray)) else [seeds]
    if ens and len(seeds_list) != ens:
        raise ValueError(f"seed must give one data-order seed per member ({ens}), got {seeds!r}")
    tr_idx, val_idx = split_data(n, val_fraction, int(seeds_list[0]))
    if len(tr_idx) == 0:
        raise ValueError("the training split is empty")
    rngs = [host_rng(np.random.SeedSequence([int(s), 1])) for s in seeds_list]
    x_val = y_val = None
    if len(val_idx):
        vi = to_device(val_idx, net.device)
        x_val, y_val = x_all[vi], y_all[vi]
        if ens:
            x_val, y_val = xp.broadcast_to(x_val, (ens, *x_val.shape)), xp.broadcast_to(y_val, (ens, *y_val.shape))
    if x_test is not None:
        x_test = net._check_x(x_test, "x_test", shared=True)
        y_test = net._check_y(y_test, x_test, "y_test")
        if ens:
            x_test = xp.broadcast_to(x_test, (ens, *x_test.shape))
            y_test = xp.broadcast_to(y_test, (ens, *y_test.shape))

    n_tr = len(tr_idx)
    steps = math.ceil(n_tr / batch_size)
    on_host = xp is np
    history = History()
    best = (-np.inf, None, None)
    bad_epochs = 0
    for cb in callbacks:
        cb.on_train_begin(net)
    bar = _progress(progress, epochs * steps)
    try:
        for epoch in range(1, epochs + 1):
            perms = np.stack([tr_idx[r.permutation(n_tr)] for r in rngs])  # (members, n_tr)
            order = to_device(perms if ens else perms[0], net.device)
            losses = xp.zeros((steps, ens) if ens else steps, dtype=np.float64)
            correct = xp.zeros(ens if ens else (), dtype=np.int64)
            t0 = time.perf_counter()
            for s in range(steps):
                idx = order[..., s * batch_size : (s + 1) * batch_size]
                xb, yb = x_all[idx], y_all[idx]
                logits = net.forward(xb, check=False)
                loss, dlogits = softmax_cross_entropy(logits, yb)
                correct += (logits.argmax(axis=-1) == yb).sum(axis=-1)
                grads = net.backward(dlogits)
                losses[s] = loss
                if on_host and not np.isfinite(loss).all():
                    raise DivergenceError(epoch, s + 1, loss.tolist(), _bad_members(loss, ens))
                opt.step(net.params, grads)
                for cb in callbacks:
                    cb.on_step_end(net, epoch, s + 1)
                bar.update(1)
            if not on_host:
                bad = ~xp.isfinite(losses)
                if bool(bad.any()):
                    first = int(xp.argmax(bad.reshape(steps, -1).any(axis=1)))
                    row = to_numpy(losses[first])
                    raise DivergenceError(epoch, first + 1, row.tolist(), _bad_members(row, ens))
            from .backend import synchronize

            synchronize(xp)
            seconds = time.perf_counter() - t0
            t1 = time.perf_counter()
            sizes = np.diff(np.r_[np.arange(0, n_tr, batch_size), n_tr])
            weights = to_device(sizes, net.device).reshape((steps,) + ((1,) if ens else ()))
            mean_loss = to_numpy((losses * weights).sum(axis=0) / n_tr)
            record = {
                "epoch": epoch,
                "loss": _out(mean_loss),
                "train_accuracy": _out(to_numpy(correct) / n_tr),
                "val_accuracy": _out(net.accuracy(x_val, y_val)) if x_val is not None else None,
                "test_accuracy": _out(net.accuracy(x_test, y_test)) if x_test is not None else None,
                "seconds": seconds,
            }
            record["eval_seconds"] = time.perf_counter() - t1
            history.records.append(record)
            bar.set_postfix(loss=f"{np.mean(record['loss']):.4f}",
                            acc=f"{np.mean(record['train_accuracy']):.4f}")
            for cb in callbacks:
                cb.on_epoch_end(net, epoch, record)
            if checkpoint is not None:
                from .io import save_network

                save_network(net, checkpoint, history=history)
            if patience is not None:
                score = float(np.mean(record["val_accuracy"]))
                if score > best[0]:
                    best = (score, epoch, [{k: v.copy() for k, v in p.items()} for p in net.params])
                    bad_epochs = 0
                else:
                    bad_epochs += 1
                    if bad_epochs >= patience:
                        history.stopped_early = True
                        break
    finally:
        bar.close()
    if patience is not None and best[2] is not None:
        history.best_epoch = best[1]
        for live, saved in zip(net.params, best[2]):
            for k, v in saved.items():
                live[k][...] = v
    for cb in callbacks:
        cb.on_train_end(net, history)
    return history


def _bad_members(loss, ens) -> list[int] | None:
    return np.flatnonzero(~np.isfinite(np.asarray(loss))).tolist() if ens else None


def _out(v):
    v = np.asarray(v)
    return float(v) if v.ndim == 0 else [float(a) for a in v]


def _progress(enabled: bool, total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, unit="step", leave=False, dynamic_ncols=True)
