"""Multi-layer perceptrons built from spectral layers.

Example
-------
>>> import numpy as np
>>> from spectral_physics import SpectralMLP
>>> net = SpectralMLP([4, 8, 3], train="eigen", activation="tanh", seed=0, dtype="float64")
>>> x = np.random.default_rng(0).normal(size=(5, 4)); y = np.array([0, 1, 2, 0, 1])
>>> loss, grads = net.loss_and_grad(x, y)
>>> sorted(grads[0])
['bias', 'lam_in', 'lam_out']

An *ensemble* is one network object whose arrays carry a leading axis, one entry
per seed: ``SpectralMLP(sizes, seed=[0, 1, 2])``. Inputs are then
``(E, batch, N_in)`` and every member equals the network built with its seed.
Members may also share one batch ``(batch, N_in)`` (``shared=True``): the first layer's
products of all members are then one larger product.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .activations import get_activation
from .backend import array_module, host_rng, resolve_device, to_device, to_numpy
from .layers import SpectralLayer, parse_train
from .limits import check_network_size
from .losses import softmax_cross_entropy

__all__ = ["SpectralMLP", "forward_pass", "affine"]


def affine(weight, bias=None):
    """The map ``a -> a @ weight^T + bias`` of one layer, for :func:`forward_pass`.

    Parameters
    ----------
    weight : array, shape (..., N_out, N_in)
        Effective weights (masks applied, or not, as the caller wants).
    bias : array, shape (..., N_out), optional

    Returns
    -------
    callable
        ``a`` (..., batch, N_in) -> ``z`` (..., batch, N_out), in the arrays' dtype.
    """

    def apply(a):
        xp = array_module(a)
        z = xp.matmul(a, xp.swapaxes(weight, -1, -2))
        if bias is not None:
            z += bias[..., None, :]
        return z

    return apply


def forward_pass(x, layers, act, *, from_pre: bool = False, trace: bool = True):
    """The forward recursion of every network here, written once.

    ``z_l = layers[l](a_l)``; ``a_{l+1} = act(z_l)`` after every layer but the last, whose
    output (the logits) stays linear. :meth:`SpectralMLP.forward_trace` passes the layers'
    own ``forward`` (masks, dynamic sparsity, the cache backpropagation reads); analyses and
    gradient probes pass :func:`affine` maps of arrays they chose (dense weights, float64
    host copies, edited columns).

    Parameters
    ----------
    x : array, shape (..., batch, N_in of layers[0])
        Input of the first map; with ``from_pre=True`` the pre-activations of a hidden
        layer, activated before the first map (what a pass resumed mid-network needs).
    layers : sequence of callable
        One map ``a -> z`` per layer, in order.
    act : Activation
        Hidden-layer activation (``act.f``).
    from_pre : bool
        Activate ``x`` first (only when a map follows: with no maps ``x`` is returned).
    trace : bool
        Keep every intermediate array; ``False`` keeps only the current one (memory of
        one layer, for large stacked passes).

    Returns
    -------
    zs, acts : lists of arrays
        With ``trace=True``: ``zs[l]`` (..., batch, N_{l+1}) the pre-activations of map
        ``l``; ``acts[0]`` the (activated) input, ``acts[l + 1] = act(zs[l])`` for hidden
        layers and ``acts[-1] = zs[-1]`` the output.
    out : array, shape (..., batch, N_out of layers[-1])
        With ``trace=False``: the output alone.
    """
    a = act.f(x) if from_pre and len(layers) else x
    zs, acts = [], [a]
    last = len(layers) - 1
    for k, layer in enumerate(layers):
        z = layer(a)
        a = act.f(z) if k < last else z
        if trace:
            zs.append(z)
            acts.append(a)
    return (zs, acts) if trace else a


def _check_sizes(sizes) -> list[int]:
    try:
        sizes = [int(s) for s in sizes]
    except (TypeError, ValueError):
        raise ValueError(f"sizes must be a sequence of positive integers, got {sizes!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must hold at least two positive integers, got {sizes!r}")
    return sizes


class SpectralMLP:
    """A stack of :class:`~spectral_physics.layers.SpectralLayer` with one activation.

    Hidden layers apply ``activation``; the last layer is linear (its outputs are logits).
    The loss is softmax cross-entropy averaged over the batch.

    Parameters
    ----------
    sizes : sequence of int
        Node counts ``(N_0, N_1, ..., N_L)``; ``N_0`` inputs, ``N_L`` classes.
    train : str or iterable of str
        Preset or explicit trainable set (see :data:`spectral_physics.layers.PRESETS`).
    activation : {"relu", "tanh", "elu", "identity"}
    seed : int or sequence of int
        Seed of the host generator drawing the initial arrays. A sequence builds an
        ensemble with one member per seed, stacked along a leading axis.
    device : {"cpu", "gpu"} or None
        ``None`` reads ``SPECTRAL_PHYSICS_DEVICE`` (default ``cpu``).
    dtype : str
        ``float32`` (training default) or ``float64`` (checks).
    init : {"default", "paper"}
        Initialisation scheme, see :class:`~spectral_physics.layers.SpectralLayer`.
    bias : bool
        Whether layers have trainable biases.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        train: str | Iterable[str] = "spectral",
        activation: str = "relu",
        seed: int | Sequence[int] = 0,
        device: str | None = None,
        dtype: Any = "float32",
        init: str = "default",
        bias: bool = True,
    ) -> None:
        self.sizes = _check_sizes(sizes)
        self.preset = parse_train(train)[0]
        self.act = get_activation(activation)
        self.activation = self.act.name
        self.device = resolve_device(device)
        self.dtype = np.dtype(dtype)
        self.init = init
        self.bias = bool(bias)
        if isinstance(seed, (int, np.integer)):
            self.seed: int | list[int] = int(seed)
            seeds, ensemble = [int(seed)], False
        else:
            seeds = [int(s) for s in seed]
            if not seeds:
                raise ValueError("seed must be an integer or a non-empty sequence of integers")
            self.seed, ensemble = seeds, True
        check_network_size(self.sizes, len(seeds))  # before any allocation; spectral_physics.limits
        rngs = [host_rng(s) for s in seeds]
        self.layers = [
            SpectralLayer(
                n_in, n_out, train, rngs=rngs, dtype=self.dtype, device=self.device,
                init=init, bias=bias, ensemble=ensemble,
            )
            for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:])
        ]
        self._trace: tuple[list, list] | None = None

    # ------------------------------------------------------------------ info
    @property
    def xp(self):
        return self.layers[0].xp

    @property
    def ensemble_size(self) -> int | None:
        """Number of stacked members, or ``None`` for a single network."""
        return self.layers[0].ensemble_size

    @property
    def n_trainable(self) -> int:
        """Trainable scalars of one network (one member of an ensemble)."""
        return sum(layer.n_trainable for layer in self.layers)

    @property
    def params(self) -> list[dict[str, Any]]:
        """Per layer, the trainable arrays by name (live arrays)."""
        return [layer.params for layer in self.layers]

    def config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-serialisable dict."""
        return {
            "sizes": self.sizes, "train": self.preset, "activation": self.activation,
            "seed": self.seed, "dtype": self.dtype.name, "init": self.init, "bias": self.bias,
        }

    def __repr__(self) -> str:
        ens = f", ensemble={self.ensemble_size}" if self.ensemble_size else ""
        return (
            f"SpectralMLP({self.sizes}, train={self.preset!r}, activation={self.activation!r}, "
            f"trainable={self.n_trainable}, device={self.device!r}, dtype={self.dtype.name}{ens})"
        )

    # ------------------------------------------------------------------ checks
    def _check_x(self, x, name: str = "x", shared: bool = False):
        x = to_device(x, self.device)
        if x.dtype.kind not in "fiu":
            raise ValueError(f"{name} must be numeric, got dtype {x.dtype}")
        x = x.astype(self.dtype, copy=False)
        # shared: one data set for every member (no ensemble axis)
        lead = (self.ensemble_size,) if self.ensemble_size and not shared else ()
        ok = x.ndim == 2 + len(lead) and x.shape[-1] == self.sizes[0] and x.shape[: len(lead)] == lead
        if not ok:
            want = lead + ("batch", self.sizes[0])
            raise ValueError(f"{name} must have shape {want}, got {tuple(x.shape)}")
        if not bool(self.xp.isfinite(x).all()):
            raise ValueError(f"{name} contains NaN or infinite values")
        return x

    def _check_y(self, y, x, name: str = "y"):
        y = to_device(y, self.device)
        if y.dtype.kind not in "iu":
            if y.dtype.kind == "f" and bool((y == self.xp.round(y)).all()):
                y = y.astype(np.int64)
            else:
                raise ValueError(f"{name} must hold integer class labels, got dtype {y.dtype}")
        if y.shape != x.shape[:-1]:
            raise ValueError(f"{name} must have shape {tuple(x.shape[:-1])}, got {tuple(y.shape)}")
        if y.size and (int(y.min()) < 0 or int(y.max()) >= self.sizes[-1]):
            raise ValueError(f"{name} must lie in [0, {self.sizes[-1] - 1}], got range "
                             f"[{int(y.min())}, {int(y.max())}]")
        return y.astype(np.int64, copy=False)

    # ------------------------------------------------------------------ passes
    def forward_trace(self, x, check: bool = True, shared: bool = False):
        """Forward pass keeping every pre-activation and activation.

        Parameters
        ----------
        x : array, shape (..., batch, N_0)
        check : bool
            Validate ``x``.
        shared : bool
            For an ensemble: ``x`` is one batch ``(batch, N_0)`` seen by every member, and
            the first layer's products of all members are one product
            (:meth:`SpectralLayer.forward`); the outputs carry the ensemble axis. No effect
            on a single network.

        Returns
        -------
        zs : list of arrays
            ``zs[l]``, shape (..., batch, N_{l+1}): pre-activations of layer ``l``.
        acts : list of arrays
            ``acts[0] = x``; ``acts[l + 1] = sigma(zs[l])`` for hidden layers, and the last
            entry is the logits ``zs[-1]``.
        """
        shared = bool(shared) and self.ensemble_size is not None
        if check:
            x = self._check_x(x, shared=shared)
        maps = [layer.forward for layer in self.layers]
        if shared:
            first = self.layers[0]
            maps[0] = lambda a: first.forward(a, shared=True)
        zs, acts = forward_pass(x, maps, self.act)
        self._trace = (zs, acts)
        return zs, acts

    def forward(self, x, check: bool = True, shared: bool = False):
        """Logits, shape (..., batch, N_L); ``shared`` as in :meth:`forward_trace`."""
        return self.forward_trace(x, check, shared)[1][-1]

    def backward(self, dlogits) -> list[dict[str, Any]]:
        """Backpropagate ``dL/dlogits`` (..., batch, N_L) through the last forward pass.

        Returns
        -------
        grads : list of dict
            ``grads[k][name]``: gradient for trainable array ``name`` of layer ``k``.
        """
        if self._trace is None:
            raise RuntimeError("backward needs a forward pass first")
        zs, acts = self._trace
        grads: list[dict[str, Any]] = [None] * len(self.layers)  # type: ignore[list-item]
        delta = dlogits
        for k in range(len(self.layers) - 1, -1, -1):
            g, dx = self.layers[k].backward(delta, input_grad=k > 0)
            grads[k] = g
            if k > 0:
                dx *= self.act.df_from(zs[k - 1], acts[k])
                delta = dx
        return grads

    def loss_and_grad(self, x, y, check: bool = True, shared: bool = False):
        """Mean softmax cross-entropy and its exact gradient.

        Parameters
        ----------
        x : array, shape (..., batch, N_0)
        y : int array, shape (..., batch)
        check : bool
            Validate shapes, labels and finiteness (training loops validate once up front).
        shared : bool
            For an ensemble: every member sees the one batch ``x`` (batch, N_0) with labels
            ``y`` (batch,), and the first layer's products of all members are one product
            (:meth:`forward_trace`). No effect on a single network.

        Returns
        -------
        loss : float, or array (E,) on the device for an ensemble
        grads : list of dict of str to array
        """
        shared = bool(shared) and self.ensemble_size is not None
        if check:
            x = self._check_x(x, shared=shared)
            y = self._check_y(y, x)
        logits = self.forward(x, check=False, shared=shared)
        if shared:
            y = self.xp.broadcast_to(y, logits.shape[:-1])
        loss, dlogits = softmax_cross_entropy(logits, y)
        grads = self.backward(dlogits)
        return (float(loss) if loss.ndim == 0 else loss), grads

    def predict(self, x, batch_size: int = 10000):
        """Predicted class labels, shape (..., batch), on the network's device.

        Rows of non-finite logits get a meaningless label (argmax reads NaN as the
        largest); :meth:`accuracy` reports NaN for such a network instead.
        """
        return self._predict(self._check_x(x), batch_size)[0]

    def _predict(self, x, batch_size: int = 10000):
        """Labels (..., batch) and whether every logit was finite (...,), both on the device."""
        xp = self.xp
        n = x.shape[-2]
        labels, finite = [], xp.ones(x.shape[:-2], dtype=bool)
        for i in range(0, n, batch_size):
            logits = self.forward(x[..., i : i + batch_size, :], check=False)
            labels.append(xp.argmax(logits, axis=-1))
            finite &= xp.isfinite(logits).all(axis=(-2, -1))
        return xp.concatenate(labels, axis=-1), finite

    def accuracy(self, x, y) -> float | np.ndarray:
        """Fraction of correct labels (per member for an ensemble), on the host.

        NaN for a network (member) with any non-finite logit: a diverged network must not
        score the share of the class that argmax reads NaN logits as.
        """
        x = self._check_x(x)
        y = self._check_y(y, x)
        labels, finite = self._predict(x)
        acc = to_numpy(self.xp.where(finite, (labels == y).mean(axis=-1), np.nan))
        return float(acc) if acc.ndim == 0 else acc

    # ------------------------------------------------------------------ structure
    def weights(self) -> list[Any]:
        """Effective direct-space weights ``M * W`` per layer, shapes (..., N_out, N_in)."""
        return [layer.weight_matrix() for layer in self.layers]

    def transfer_operator(self, k: int, member: int | None = None) -> np.ndarray:
        """Operator ``A`` of layer ``k``, (N_in + N_out) square, float64 NumPy.

        Its eigenvalues are ``lam_in`` and ``lam_out`` of that layer (lower block triangular).
        """
        if not -len(self.layers) <= k < len(self.layers):
            raise ValueError(f"k must index one of the {len(self.layers)} layers, got {k}")
        return self.layers[k].transfer_operator(member)

    def network_operator(self, member: int | None = None) -> np.ndarray:
        """The whole network as one block lower-bidiagonal operator over ``sum(sizes)`` nodes.

        Sub-diagonal block ``k`` holds ``W_k``; the diagonal holds ``lam_in`` of the first
        layer for the inputs and ``lam_out`` of layer ``k`` for the nodes layer ``k`` feeds.
        A hidden node also owns ``lam_in`` of the next layer, which enters that layer's
        weights (its column of ``W_{k+1}``) rather than the diagonal.
        """
        ops = [layer.transfer_operator(member) for layer in self.layers]
        n = sum(self.sizes)
        a = np.zeros((n, n))
        off = 0
        for k, (op, layer) in enumerate(zip(ops, self.layers)):
            if k == 0:
                a[: layer.n_in, : layer.n_in] = op[: layer.n_in, : layer.n_in]
            r = slice(off + layer.n_in, off + layer.n_in + layer.n_out)
            a[r, off : off + layer.n_in] = op[layer.n_in :, : layer.n_in]
            a[r, r] = op[layer.n_in :, layer.n_in :]
            off += layer.n_in
        return a

    # ------------------------------------------------------------------ copies
    def copy(self) -> SpectralMLP:
        """An independent deep copy (same device and dtype)."""
        self._trace = None
        for layer in self.layers:
            layer._cache = {}
        return copy.deepcopy(self)

    def to(self, device: str) -> SpectralMLP:
        """A copy on another device."""
        new = self.copy()
        new.device = resolve_device(device)
        for layer in new.layers:
            layer.device = new.device
            layer._arrays = {k: to_device(v, new.device) for k, v in layer._arrays.items()}
            if layer.mask is not None:
                layer.mask = to_device(layer.mask, new.device)
        return new

    def astype(self, dtype: Any) -> SpectralMLP:
        """A copy with every floating array cast to ``dtype``."""
        new = self.copy()
        new.dtype = np.dtype(dtype)
        for layer in new.layers:
            layer.dtype = new.dtype
            layer._arrays = {k: v.astype(new.dtype) for k, v in layer._arrays.items()}
        return new

    def member(self, e: int) -> SpectralMLP:
        """Member ``e`` of an ensemble as a stand-alone network (a copy)."""
        if not self.ensemble_size:
            raise ValueError("member() needs an ensemble network")
        new = self.copy()
        new.seed = self.seed[e]  # type: ignore[index]
        for layer in new.layers:
            layer.ensemble_size = None
            layer._arrays = {k: v[e].copy() for k, v in layer._arrays.items()}
            if layer.mask is not None:
                layer.mask = layer.mask[e].copy()
        return new
