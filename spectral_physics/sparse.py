"""Sparse spectral networks: direct-space masks, wiring baselines, topology turnover, DST.

A layer's effective weights are ``M * W`` with ``M`` a boolean mask of shape
(N_out, N_in); gradients reach the trainable arrays only through kept entries
(the core applies ``G * M`` in backpropagation). This module builds masks and
the training callbacks around them; the masking itself lives in
:class:`~spectral_physics.layers.SpectralLayer` (``layer.mask``,
``layer.sparsity``, ``layer.last_mask``).

Example
-------
>>> import numpy as np
>>> from spectral_physics import SpectralMLP
>>> from spectral_physics.sparse import magnitude_masks, apply_masks, network_density
>>> net = SpectralMLP([20, 16, 3], train="spectral", seed=0)
>>> apply_masks(net, magnitude_masks(net, 0.25))
>>> rep = network_density(net)
>>> rep["kept"], rep["total"], rep["density"]
(92, 368, 0.25)

Wirings (all return one boolean mask per layer, on the network's device)
------------------------------------------------------------------------
``magnitude_masks(net, density, scope="layer"|"global")``
    keep the largest ``|W|`` (``W`` before any mask: masked entries compete too).
``random_masks(net, density, seed)``
    a seeded uniformly random set of exactly ``round(density * n)`` entries per layer.
``snip_masks(net, x, y, density)``
    SNIP (Lee et al. 2019): keep the largest ``|w * dL/dw|`` on a labelled batch.
``logit_snip_masks(net, x, density)``
    the label-free variant: ``|w * d(sum f^2)/dw|`` with ``f`` the logits.

Scaled random wiring is ``apply_masks(net, random_masks(...), rescale=True)``: the
kept weights of each layer are multiplied by ``1/sqrt(layer density)`` so the
variance of the pre-activations is that of the dense network.

Sparse training modes (:func:`configure_sparsity`)
--------------------------------------------------
``dynamic-percentile``
    Chicchi et al., PRE 104, 054312 (2021): each forward pass zeroes the entries of
    ``|W|`` below the ``sparsity``-quantile of the layer. Under ``direct`` training a
    masked weight gets no gradient and stays put (one that was kept earlier still drifts
    on its Adam momentum for a while); the kept set still changes at the
    boundary (a kept weight shrinking below the threshold lets the largest frozen one in),
    but it settles within a few epochs. Under spectral presets the eigenvalues move whole
    rows and columns, so masked weights move and re-enter and the turnover persists.
    :class:`TopologyTurnover` counts the flips.
``static-magnitude`` / ``static-random``
    A fixed mask chosen once before training (largest ``|W|`` per layer, or random).
``dst``
    Dynamic sparse training in spectral space (Buffoni et al., SIFS 2022 poster):
    :class:`DynamicSparseTraining` re-chooses the mask every ``every`` steps from
    ``|W|`` computed with the current parameters, masked entries included.

Selection is done on the network's device (:func:`spectral_physics.kernels.top_k_mask`:
a radix select of the threshold, no sort and no copy to the host, so a DST re-selection
on a GPU queues like any other step work), and ties with the threshold keep the entries of
lowest index, so the mask is deterministic and the same on every device, and the number
of kept entries is exact: ``max(1, round(density * n))`` per layer (per ensemble member),
or over all selected layers together for ``scope="global"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import kernels
from .backend import array_module, host_rng, to_device, to_numpy
from .losses import softmax_cross_entropy
from .network import affine, forward_pass
from .train import Callback

__all__ = [
    "WIRINGS",
    "SPARSE_MODES",
    "check_density",
    "magnitude_masks",
    "random_masks",
    "snip_masks",
    "logit_snip_masks",
    "make_masks",
    "masks_from_scores",
    "apply_masks",
    "clear_masks",
    "current_mask",
    "layer_density",
    "network_density",
    "weight_gradients",
    "TopologyTurnover",
    "DynamicSparseTraining",
    "configure_sparsity",
]

#: names accepted by :func:`make_masks`
WIRINGS = ("magnitude", "global-magnitude", "random", "scaled-random", "snip", "logit-snip")

#: modes accepted by :func:`configure_sparsity`
SPARSE_MODES = ("dynamic-percentile", "static-magnitude", "static-random", "dst")


# ---------------------------------------------------------------------- checks
def check_density(density: Any, name: str = "density") -> float:
    """Validate a density in ``(0, 1]`` and return it as a float."""
    try:
        d = float(density)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in (0, 1], got {density!r}") from None
    if not 0.0 < d <= 1.0:
        raise ValueError(f"{name} must lie in (0, 1], got {density!r}")
    return d


def _layer_indices(net, layers) -> list[int]:
    n = len(net.layers)
    if layers is None:
        return list(range(n))
    out = []
    for k in layers:
        if not isinstance(k, (int, np.integer)) or not -n <= k < n:
            raise ValueError(f"layers must index the network's {n} layers, got {list(layers)!r}")
        out.append(int(k) % n)
    if not out:
        raise ValueError("layers must select at least one layer")
    return sorted(set(out))


def _n_keep(density: float, n: int) -> int:
    return max(1, min(n, int(round(density * n))))


# ---------------------------------------------------------------------- selection
def masks_from_scores(net, scores: Sequence[Any], density: float, scope: str = "layer",
                      layers: Sequence[int] | None = None) -> list[Any]:
    """Keep the entries with the largest scores.

    Parameters
    ----------
    net : SpectralMLP
    scores : sequence of arrays
        One score array per layer, shape (..., N_out, N_in) like the weights (any device).
    density : float in (0, 1]
        Fraction of entries kept: exactly ``max(1, round(density * n))`` per layer
        (``scope="layer"``) or over all selected layers (``scope="global"``).
    scope : {"layer", "global"}
    layers : sequence of int, optional
        Layers to mask (default all); the others get ``None``.

    Returns
    -------
    masks : list
        Per layer a boolean array on the network's device, or ``None``.

    Notes
    -----
    The selection runs on the network's device (:func:`spectral_physics.kernels.top_k_mask`):
    NaN scores count as the smallest, and ties with the threshold keep the entries of
    lowest index (in the flattened order of each layer, layers in order for ``"global"``).
    """
    density = check_density(density)
    if scope not in ("layer", "global"):
        raise ValueError(f"scope must be 'layer' or 'global', got {scope!r}")
    idx = _layer_indices(net, layers)
    if len(scores) != len(net.layers):
        raise ValueError(f"scores must hold one array per layer ({len(net.layers)}), got {len(scores)}")
    dev = {}
    for k in idx:
        s = to_device(scores[k], net.device)  # no copy when already there
        want = net.layers[k]._weight_shape
        if tuple(s.shape) != want:
            raise ValueError(f"scores[{k}] must have shape {want}, got {tuple(s.shape)}")
        dev[k] = s if s.dtype in (np.float32, np.float64) else s.astype(np.float64)
    lead = dev[idx[0]].shape[:-2]
    out: list[Any] = [None] * len(net.layers)
    if scope == "layer":
        for k in idx:
            flat = dev[k].reshape(lead + (-1,))
            out[k] = kernels.top_k_mask(flat, _n_keep(density, flat.shape[-1])).reshape(dev[k].shape)
    else:
        flats = [dev[k].reshape(lead + (-1,)) for k in idx]
        cat = net.xp.concatenate(flats, axis=-1)
        m = kernels.top_k_mask(cat, _n_keep(density, cat.shape[-1]))
        off = 0
        for k, f in zip(idx, flats):
            out[k] = m[..., off : off + f.shape[-1]].reshape(dev[k].shape)
            off += f.shape[-1]
    return out


# ---------------------------------------------------------------------- wirings
def magnitude_masks(net, density: float, scope: str = "layer", layers: Sequence[int] | None = None) -> list[Any]:
    """Keep the largest ``|W|``, with ``W`` the dense weights (masked entries compete too).

    Parameters
    ----------
    net : SpectralMLP
    density : float in (0, 1]
    scope : {"layer", "global"}
        Layer-wise top-k, or one threshold over all selected layers.
    layers : sequence of int, optional
        Layers to mask (default all).

    Returns
    -------
    list of bool arrays (..., N_out, N_in) on the network's device (``None`` for unmasked layers)
    """
    xp = net.xp
    return masks_from_scores(net, [xp.abs(layer.dense_weight()) for layer in net.layers], density, scope, layers)


def random_masks(net, density: float, seed: int = 0, layers: Sequence[int] | None = None) -> list[Any]:
    """Seeded random masks with exactly ``max(1, round(density * n))`` kept entries per layer.

    Each layer (and ensemble member) draws its own permutation from one host generator
    seeded with ``seed``, in layer order, so the masks depend only on ``seed`` and the sizes.
    """
    density = check_density(density)
    idx = _layer_indices(net, layers)
    rng = host_rng(np.random.SeedSequence([int(seed), 31]))
    out: list[Any] = [None] * len(net.layers)
    for k in idx:
        shape = net.layers[k]._weight_shape
        lead, n = shape[:-2], shape[-2] * shape[-1]
        keep = _n_keep(density, n)
        m = np.zeros((int(np.prod(lead, dtype=int)), n), dtype=bool)
        for e in range(m.shape[0]):
            m[e, rng.permutation(n)[:keep]] = True
        out[k] = to_device(m.reshape(shape), net.device)
    return out


def weight_gradients(net, x, dlogits_fn) -> list[Any]:
    """Gradients ``dL/dW`` of the *dense* network (masks and sparsity ignored).

    Parameters
    ----------
    net : SpectralMLP
    x : array, shape (..., batch, N_0)
    dlogits_fn : callable
        ``logits -> dL/dlogits`` (same shape as the logits).

    Returns
    -------
    list of arrays, shape (..., N_out, N_in), on the network's device
    """
    xp = net.xp
    x = net._check_x(x)
    ws = [layer.dense_weight() for layer in net.layers]
    # explicit dense maps: the layers' own forward would apply their masks
    maps = [affine(w, layer.bias if layer.use_bias else None) for layer, w in zip(net.layers, ws)]
    zs, acts = forward_pass(x, maps, net.act)
    last = len(net.layers) - 1
    delta = dlogits_fn(acts[-1])
    grads: list[Any] = [None] * len(ws)
    for k in range(last, -1, -1):
        grads[k] = xp.matmul(xp.swapaxes(delta, -1, -2), acts[k])
        if k > 0:
            delta = xp.matmul(delta, ws[k]) * net.act.df_from(zs[k - 1], acts[k])
    return grads


def snip_masks(net, x, y, density: float, scope: str = "global",
               layers: Sequence[int] | None = None) -> list[Any]:
    """SNIP connection sensitivity ``|w * dL/dw|`` on a labelled batch (Lee et al., ICLR 2019).

    Parameters
    ----------
    net : SpectralMLP
        Scored as a dense network (current masks ignored), usually at initialisation.
    x : array, shape (..., batch, N_0)
    y : int array, shape (..., batch)
    density : float in (0, 1]
    scope : {"global", "layer"}
        SNIP keeps the top entries over the whole network (``"global"``, the paper's choice).
    """
    x = net._check_x(x)
    y = net._check_y(y, x)
    grads = weight_gradients(net, x, lambda logits: softmax_cross_entropy(logits, y)[1])
    scores = [net.xp.abs(g * layer.dense_weight()) for g, layer in zip(grads, net.layers)]
    return masks_from_scores(net, scores, density, scope, layers)


def logit_snip_masks(net, x, density: float, scope: str = "global",
                     layers: Sequence[int] | None = None) -> list[Any]:
    """Label-free SNIP: ``|w * d(sum_b sum_c f_bc^2)/dw|`` with ``f`` the logits.

    Parameters as :func:`snip_masks`, without labels.
    """
    grads = weight_gradients(net, x, lambda logits: 2.0 * logits)
    scores = [net.xp.abs(g * layer.dense_weight()) for g, layer in zip(grads, net.layers)]
    return masks_from_scores(net, scores, density, scope, layers)


def make_masks(method: str, net, density: float, *, x=None, y=None, seed: int = 0,
               layers: Sequence[int] | None = None) -> list[Any]:
    """Dispatch on a wiring name from :data:`WIRINGS`.

    ``scaled-random`` returns the same masks as ``random``; pass ``rescale=True`` to
    :func:`apply_masks` (as :func:`configure_sparsity` and the benchmarks do).
    """
    if method == "magnitude":
        return magnitude_masks(net, density, "layer", layers)
    if method == "global-magnitude":
        return magnitude_masks(net, density, "global", layers)
    if method in ("random", "scaled-random"):
        return random_masks(net, density, seed, layers)
    if method == "snip":
        if x is None or y is None:
            raise ValueError("method 'snip' needs a labelled batch: pass x and y")
        return snip_masks(net, x, y, density, layers=layers)
    if method == "logit-snip":
        if x is None:
            raise ValueError("method 'logit-snip' needs an input batch: pass x")
        return logit_snip_masks(net, x, density, layers=layers)
    raise ValueError(f"method must be one of {WIRINGS}, got {method!r}")


# ---------------------------------------------------------------------- applying
def _scale_weights(layer, factor) -> None:
    """Multiply the layer's direct-space weights by ``factor`` (scalar or per member (E,)).

    ``W`` is linear in ``weight`` (direct), ``phi`` (phi), ``s`` (svd) and ``R`` (qr), so
    scaling that one stored array scales ``W`` exactly.
    """
    name = {"direct": "weight", "phi": "phi", "svd": "s", "qr": "R"}[layer.parametrisation]
    arr = layer.arrays[name]
    f = np.asarray(factor, dtype=np.float64)
    f = f.reshape(f.shape + (1,) * (arr.ndim - f.ndim))
    setattr(layer, name, to_numpy(arr).astype(np.float64) * f)


def apply_masks(net, masks: Sequence[Any], rescale: bool = False) -> None:
    """Install one mask per layer (``None`` removes a layer's mask), in place.

    Parameters
    ----------
    net : SpectralMLP
    masks : sequence
        Per layer ``None`` or a boolean (or 0/1) array of shape (..., N_out, N_in).
    rescale : bool
        Multiply each masked layer's weights by ``1/sqrt(density of its mask)``
        (scaled random wiring); per ensemble member.

    Raises
    ------
    ValueError
        ``masks`` of the wrong length, or a mask of the wrong shape (named ``masks[k]``).
    """
    if len(masks) != len(net.layers):
        raise ValueError(f"masks must hold one entry per layer ({len(net.layers)}), got {len(masks)}")
    checked = []
    for k, (layer, m) in enumerate(zip(net.layers, masks)):
        if m is None:
            checked.append(None)
            continue
        h = to_numpy(m)
        if h.shape != layer._weight_shape:
            raise ValueError(f"masks[{k}] must have shape {layer._weight_shape}, got {h.shape}")
        if h.dtype != bool:
            if not np.isin(h, (0, 1)).all():
                raise ValueError(f"masks[{k}] must be boolean or hold only 0 and 1")
            h = h.astype(bool)
        if not h.reshape(h.shape[:-2] + (-1,)).any(axis=-1).all():
            raise ValueError(f"masks[{k}] keeps no entry of layer {k}")
        checked.append(h)
    for layer, h in zip(net.layers, checked):
        layer.mask = None if h is None else h
        if rescale and h is not None:
            dens = h.reshape(h.shape[:-2] + (-1,)).mean(axis=-1)
            _scale_weights(layer, 1.0 / np.sqrt(dens))


def clear_masks(net) -> None:
    """Remove static masks and dynamic sparsity from every layer."""
    for layer in net.layers:
        layer.mask = None
        layer.sparsity = None


def current_mask(layer) -> Any:
    """The mask the layer's next forward pass will use (static and dynamic), as a boolean array.

    All ``True`` when the layer is dense.
    """
    m = layer.current_mask()
    if m is None:
        return layer.xp.ones(layer.dense_weight().shape, dtype=bool)
    return m


def layer_density(layer) -> tuple[Any, int]:
    """Exact ``(kept, total)`` entries of the layer's current mask.

    ``kept`` is an int, or an int array (E,) for an ensemble; ``total = N_out * N_in``.
    """
    m = to_numpy(current_mask(layer))
    kept = m.reshape(m.shape[:-2] + (-1,)).sum(axis=-1)
    return (int(kept) if kept.ndim == 0 else kept.astype(int)), layer.n_in * layer.n_out


def network_density(net, layers: Sequence[int] | None = None) -> dict[str, Any]:
    """Exact density of the current masks.

    Returns
    -------
    dict
        ``kept`` and ``total`` (entries over the selected layers), ``density = kept / total``
        (float, or a list per member for an ensemble), and ``per_layer``: a list of
        ``{"layer", "kept", "total", "density"}``.
    """
    idx = _layer_indices(net, layers)
    per, kept_sum, total = [], 0, 0
    for k in idx:
        kept, tot = layer_density(net.layers[k])
        per.append({"layer": k, "kept": _plain(kept), "total": tot, "density": _plain(np.asarray(kept) / tot)})
        kept_sum = kept_sum + np.asarray(kept)
        total += tot
    return {"kept": _plain(kept_sum), "total": total, "density": _plain(kept_sum / total), "per_layer": per}


def _plain(v):
    v = np.asarray(v)
    if v.ndim:
        return v.tolist()
    return int(v) if v.dtype.kind in "iub" else float(v)


# ---------------------------------------------------------------------- callbacks
def _count_flips(a, b):
    """Entries that differ between two masks, summed over the weight axes (stays on the device)."""
    return array_module(a).count_nonzero(a != b, axis=(-2, -1))


class TopologyTurnover(Callback):
    """Count mask entries that flip during training (the "topology turnover").

    Per epoch and layer it records ``flips``: entries whose kept/dropped state differs
    between the start and the end of the epoch (the net change), and, with
    ``per_step=True``, ``step_flips``: the sum over the epoch's steps of entries that
    changed between consecutive forward passes (``layer.last_mask``; no extra work but
    a comparison). ``step_flips >= flips``: entries may leave and come back.
    ``kept`` is the number of kept entries at the end of the epoch.

    Parameters
    ----------
    per_step : bool
        Also count step-to-step flips.
    annotate : bool
        Add ``mask_flips`` and ``mask_step_flips`` (totals over layers) to the epoch's
        history record.

    Attributes
    ----------
    records : list of dict
        ``{"epoch", "flips", "step_flips", "kept"}`` with one int per layer (lists per
        member for an ensemble).
    """

    def __init__(self, per_step: bool = True, annotate: bool = True) -> None:
        self.per_step = bool(per_step)
        self.annotate = bool(annotate)
        self.records: list[dict[str, Any]] = []

    def on_train_begin(self, net) -> None:
        self.records = []
        self._start = [current_mask(layer).copy() for layer in net.layers]
        self._prev = [m.copy() for m in self._start]
        self._acc = [0 for _ in net.layers]

    def on_step_end(self, net, epoch: int, step: int) -> None:
        if not self.per_step:
            return
        for k, layer in enumerate(net.layers):
            m = layer.last_mask
            if m is None:
                m = layer.xp.ones(layer._weight_shape, dtype=bool)
            self._acc[k] = self._acc[k] + _count_flips(m, self._prev[k])
            self._prev[k] = m

    def on_epoch_end(self, net, epoch: int, record: dict[str, Any]) -> None:
        now = [current_mask(layer).copy() for layer in net.layers]
        flips = [_plain(to_numpy(_count_flips(a, b))) for a, b in zip(now, self._start)]
        steps = [_plain(to_numpy(a)) for a in self._acc] if self.per_step else None
        kept = [_plain(to_numpy(m).reshape(m.shape[:-2] + (-1,)).sum(axis=-1)) for m in now]
        self.records.append({"epoch": epoch, "flips": flips, "step_flips": steps, "kept": kept})
        if self.annotate:
            record["mask_flips"] = _plain(np.sum(np.asarray(flips), axis=0))
            if steps is not None:
                record["mask_step_flips"] = _plain(np.sum(np.asarray(steps), axis=0))
        self._start = now
        self._acc = [0 for _ in net.layers]

    def to_dataset(self):
        """The records as an ``xarray.Dataset`` with dims (epoch, layer[, member])."""
        import xarray as xr

        if not self.records:
            raise ValueError("no epochs recorded yet")
        epochs = [r["epoch"] for r in self.records]
        flips = np.asarray([r["flips"] for r in self.records])
        kept = np.asarray([r["kept"] for r in self.records])
        dims = ("epoch", "layer") + (("member",) if flips.ndim == 3 else ())
        coords = {"epoch": epochs, "layer": np.arange(flips.shape[1])}
        ds = xr.Dataset(
            {
                "flips": (dims, flips, {"long_name": "mask entries changed over the epoch", "units": "1"}),
                "kept": (dims, kept, {"long_name": "kept mask entries at the end of the epoch", "units": "1"}),
            },
            coords=coords,
        )
        if self.per_step:
            steps = np.asarray([r["step_flips"] for r in self.records])
            ds["step_flips"] = (dims, steps, {"long_name": "mask entries changed, summed over steps",
                                               "units": "1"})
        ds["epoch"].attrs.update(long_name="training epoch", units="1")
        ds["layer"].attrs.update(long_name="layer index", units="1")
        return ds


class DynamicSparseTraining(Callback):
    """Re-choose the mask every ``every`` steps from ``|W|`` of the current parameters.

    ``W`` is the dense weight matrix (masked entries included), so under spectral presets
    a dropped entry whose magnitude grew through the eigenvalues re-enters. Under
    ``direct`` training dropped entries are frozen at their last values and re-enter only
    when kept ones shrink below them.

    Parameters
    ----------
    density : float in (0, 1]
        Target fraction of kept entries (exact, per layer or global).
    every : int
        Steps between re-selections (counted over the whole run).
    scope : {"layer", "global"}
    layers : sequence of int, optional
        Layers to sparsify (default all).
    until : int, optional
        Last global step at which the mask may change (e.g. total steps - 100, so the
        final mask trains for a while; Liu and Zenke 2020 stop 100 steps before the end).

    Attributes
    ----------
    updates : list of dict
        ``{"step", "flips"}`` per re-selection, ``flips`` one entry per layer. The masks are
        chosen on the device and the flips are counted there; they are read back to the
        host once per epoch (and at the end of training), not at every re-selection.
    """

    def __init__(self, density: float, every: int = 100, scope: str = "layer",
                 layers: Sequence[int] | None = None, until: int | None = None) -> None:
        self.density = check_density(density)
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        if scope not in ("layer", "global"):
            raise ValueError(f"scope must be 'layer' or 'global', got {scope!r}")
        self.every, self.scope, self.layers, self.until = int(every), scope, layers, until
        self.step = 0
        self.updates: list[dict[str, Any]] = []
        self._read = 0  # updates[:_read] hold host values

    def _select(self, net) -> list[Any]:
        """Choose and install the mask on the device; flips per layer as device counts."""
        old = [current_mask(layer) for layer in net.layers]
        masks = magnitude_masks(net, self.density, self.scope, self.layers)
        for layer, m in zip(net.layers, masks):
            layer.mask = m
        return [_count_flips(current_mask(layer), o) for layer, o in zip(net.layers, old)]

    def apply(self, net) -> list[Any]:
        """Choose and install the mask now; returns flips per layer (host values)."""
        return [_plain(to_numpy(f)) for f in self._select(net)]

    def _to_host(self) -> None:
        """Read the flips of the re-selections since the last call back to the host."""
        for u in self.updates[self._read :]:
            u["flips"] = [_plain(to_numpy(f)) for f in u["flips"]]
        self._read = len(self.updates)

    def on_train_begin(self, net) -> None:
        self.step = 0
        self.updates = []
        self._read = 0
        if any(layer.sparsity for layer in net.layers):
            raise ValueError("dynamic sparse training and dynamic percentile sparsity exclude each other; "
                             "set layer.sparsity = None")
        self._select(net)

    def on_step_end(self, net, epoch: int, step: int) -> None:
        self.step += 1
        if self.step % self.every or (self.until is not None and self.step > self.until):
            return
        self.updates.append({"step": self.step, "flips": self._select(net)})

    def on_epoch_end(self, net, epoch: int, record: dict[str, Any]) -> None:
        self._to_host()

    def on_train_end(self, net, history) -> None:
        self._to_host()


def configure_sparsity(net, sparsity: float, mode: str = "dynamic-percentile", *, every: int = 100,
                       seed: int = 0, scope: str = "layer", layers: Sequence[int] | None = None,
                       turnover: bool = True) -> list[Callback]:
    """Make ``net`` sparse for training; returns the callbacks to pass to :func:`~spectral_physics.fit`.

    Parameters
    ----------
    net : SpectralMLP
        Modified in place (masks / ``layer.sparsity``).
    sparsity : float in [0, 1)
        Fraction of weights removed (``density = 1 - sparsity``); 0 leaves the net dense.
    mode : {"dynamic-percentile", "static-magnitude", "static-random", "dst"}
        ``dynamic-percentile``: ``layer.sparsity = sparsity`` (threshold recomputed at every
        forward pass; Chicchi et al. 2021). ``static-magnitude``: fixed mask keeping the
        largest ``|W|`` at initialisation. ``static-random``: fixed seeded random mask.
        ``dst``: mask re-chosen every ``every`` steps from the current ``|W|``
        (:class:`DynamicSparseTraining`).
    every : int
        Re-selection period of ``dst`` (steps).
    seed : int
        Seed of ``static-random``.
    scope : {"layer", "global"}
        Magnitude selection scope of ``static-magnitude`` and ``dst``.
    layers : sequence of int, optional
        Layers to sparsify (default all).
    turnover : bool
        Include a :class:`TopologyTurnover` callback (adds ``mask_flips`` to the history).

    Returns
    -------
    list of Callback
    """
    try:
        p = float(sparsity)
    except (TypeError, ValueError):
        raise ValueError(f"sparsity must be a number in [0, 1), got {sparsity!r}") from None
    if not 0.0 <= p < 1.0:
        raise ValueError(f"sparsity must lie in [0, 1), got {sparsity!r}")
    if mode not in SPARSE_MODES:
        raise ValueError(f"mode must be one of {SPARSE_MODES}, got {mode!r}")
    idx = _layer_indices(net, layers)
    cbs: list[Callback] = []
    if p == 0.0:
        return cbs
    density = 1.0 - p
    if mode == "dynamic-percentile":
        for k in idx:
            net.layers[k].sparsity = p
    elif mode == "static-magnitude":
        apply_masks(net, magnitude_masks(net, density, scope, idx))
    elif mode == "static-random":
        apply_masks(net, random_masks(net, density, seed, idx))
    else:
        dst = DynamicSparseTraining(density, every=every, scope=scope, layers=idx)
        dst.apply(net)
        cbs.append(dst)
    if turnover:
        cbs.append(TopologyTurnover())
    return cbs
