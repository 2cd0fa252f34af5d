"""Node pruning: rank hidden nodes, remove the least important, rebuild a smaller network.

Hidden node ``i`` of hidden layer ``k`` (the output side of ``net.layers[k]``) owns the
eigenvalue ``lam_out_i`` of that layer (Buffoni et al., Sci. Rep. 12, 11201 (2022)).
Rankings (a low score is removed first):

================= =====================================================================
``eigenvalue``    ``|lam_out_i|`` of the layer feeding the node (needs a preset that trains
                  eigenvalues; ``direct`` has ``lam_out = 0`` and is refused).
``eigenvalue-in`` ``|lam_in_i|`` of the next layer: the node's other eigenvalue, which scales
                  its outgoing column ``w_mi = (lam_in_i - lam_out_m) phi_mi`` (an extra, not
                  in the paper; refused for ``direct`` and ``eigen-out``, where it is frozen).
``connectivity``  ``sum_j |w_ij|``, the incoming weights (the paper's baseline).
``outgoing``      ``sum_m |w_mi|`` of the next layer.
``activation``    mean ``|a_i|`` over a data batch.
``random``        seeded uniform scores.
================= =====================================================================

One global threshold across all hidden layers: the ``round(fraction * H)`` nodes with the
smallest scores are removed (``H`` hidden nodes in total; ties broken by layer, then index).

Example
-------
>>> import numpy as np
>>> from spectral_physics import SpectralMLP
>>> from spectral_physics.pruning import prune_nodes
>>> net = SpectralMLP([6, 10, 8, 3], train="spectral", seed=0)
>>> prune_nodes(net, remove=[[0, 1, 2], [5]]).sizes       # explicit node sets
[6, 7, 7, 3]
>>> prune_nodes(net, 0.5, ranking="connectivity").sizes   # 9 of 18 hidden nodes, one threshold
[6, 2, 7, 3]

Rebuilding
----------
:func:`prune_nodes` returns a new :class:`~spectral_physics.SpectralMLP` of the same preset,
activation, dtype and device, with the rows (receiving side) and columns (input side) of
the removed nodes dropped from every stored array: ``phi`` or ``weight``, ``lam_in``,
``lam_out``, ``bias`` and any static mask. Its outputs equal those of the original network
with the removed nodes' outgoing weights zeroed (:func:`zero_nodes`).

For ``svd`` and ``qr`` layers the kept block ``phi[rows][:, cols]`` is factorised afresh
(``U' diag(s') V'`` by SVD, ``R' Q'`` by RQ/QR), so the pruned layer keeps its preset, its
frozen factors stay orthonormal and ``phi`` is reproduced to rounding error; the trainable
``s'`` / ``R'`` are those of the new factorisation (the old ``U, V, Q`` restricted to the kept
nodes are no longer orthonormal, so the old ``s`` / ``R`` have no meaning on their own).
Dynamic percentile sparsity (``layer.sparsity``) is carried over, but its threshold is then
taken over the smaller matrix, so only static masks give identical outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .backend import host_rng, to_device, to_numpy
from .layers import factorise
from .presets import get_preset
from .provenance import provenance_attrs

__all__ = [
    "RANKINGS",
    "node_scores",
    "select_nodes",
    "prune_nodes",
    "zero_nodes",
    "with_preset",
    "pruning_curve",
    "post_training_pruning",
    "pretraining_filter",
    "default_fractions",
    "parse_rankings",
]

#: node rankings, named as on the command line
RANKINGS = ("eigenvalue", "connectivity", "outgoing", "activation", "random", "eigenvalue-in")


def default_fractions(step: float = 0.05) -> np.ndarray:
    """``0, step, ..., 1`` (fractions of hidden nodes removed)."""
    n = int(round(1.0 / step))
    return np.round(np.linspace(0.0, 1.0, n + 1), 10)


def _single(net, what: str = "net") -> None:
    if net.ensemble_size:
        raise ValueError(f"{what} must be a single network; take members with net.member(e)")


def _hidden(net) -> list[int]:
    return list(range(len(net.layers) - 1))


# ---------------------------------------------------------------------- ranking
def node_scores(net, ranking: str, x=None, seed: int = 0) -> list[np.ndarray]:
    """Importance score of every hidden node (low scores are pruned first).

    Parameters
    ----------
    net : SpectralMLP
        A single network with at least one hidden layer.
    ranking : {"eigenvalue", "connectivity", "outgoing", "activation", "random", "eigenvalue-in"}
    x : array, shape (batch, N_0), optional
        Data for the ``activation`` ranking.
    seed : int
        Seed of the ``random`` ranking.

    Returns
    -------
    scores : list of float64 ndarray
        ``scores[k]``, shape (N_{k+1},), for hidden layer ``k`` (output side of ``net.layers[k]``).
    """
    _single(net)
    if len(net.layers) < 2:
        raise ValueError("net must have at least one hidden layer to prune")
    if ranking not in RANKINGS:
        raise ValueError(f"ranking must be one of {RANKINGS}, got {ranking!r}")
    hid = _hidden(net)
    if ranking == "eigenvalue":
        if net.layers[0].parametrisation == "direct":
            raise ValueError("ranking 'eigenvalue' needs a spectral preset; a 'direct' network has lam_out = 0")
        return [np.abs(to_numpy(net.layers[k].lam_out)).astype(np.float64) for k in hid]
    if ranking == "eigenvalue-in":
        if "lam_in" not in net.layers[0].trainable:
            raise ValueError(f"ranking 'eigenvalue-in' needs a preset that trains lam_in, got {net.preset!r}")
        return [np.abs(to_numpy(net.layers[k + 1].lam_in)).astype(np.float64) for k in hid]
    if ranking == "connectivity":
        return [np.abs(to_numpy(net.layers[k].weight_matrix())).astype(np.float64).sum(axis=1) for k in hid]
    if ranking == "outgoing":
        return [np.abs(to_numpy(net.layers[k + 1].weight_matrix())).astype(np.float64).sum(axis=0) for k in hid]
    if ranking == "activation":
        if x is None:
            raise ValueError("ranking 'activation' needs data: pass x")
        _, acts = net.forward_trace(x)
        return [np.abs(to_numpy(acts[k + 1])).astype(np.float64).mean(axis=0) for k in hid]
    rng = host_rng(np.random.SeedSequence([int(seed), 17]))
    return [rng.random(net.sizes[k + 1]) for k in hid]


def select_nodes(scores: Sequence[np.ndarray], fraction: float) -> list[np.ndarray]:
    """Indices to remove per hidden layer under one global threshold.

    Parameters
    ----------
    scores : sequence of 1-d arrays
        Per hidden layer, as from :func:`node_scores`.
    fraction : float in [0, 1]
        Fraction of all hidden nodes to remove: the ``round(fraction * H)`` lowest scores.

    Returns
    -------
    list of sorted int ndarray
    """
    try:
        f = float(fraction)
    except (TypeError, ValueError):
        raise ValueError(f"fraction must be a number in [0, 1], got {fraction!r}") from None
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction!r}")
    sizes = [len(s) for s in scores]
    cat = np.concatenate([np.asarray(s, dtype=np.float64) for s in scores])
    n_remove = int(round(f * len(cat)))
    order = np.argsort(cat, kind="stable")[:n_remove]
    layer_of = np.repeat(np.arange(len(sizes)), sizes)
    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    return [np.sort(order[layer_of[order] == k] - offsets[k]) for k in range(len(sizes))]


def _check_remove(net, remove) -> list[np.ndarray]:
    hid = _hidden(net)
    if len(remove) != len(hid):
        raise ValueError(f"remove must hold one index set per hidden layer ({len(hid)}), got {len(remove)}")
    out = []
    for k, r in enumerate(remove):
        r = np.unique(np.asarray(r, dtype=np.int64).ravel())
        n = net.sizes[k + 1]
        if r.size and (r.min() < 0 or r.max() >= n):
            raise ValueError(f"remove[{k}] must index the {n} nodes of hidden layer {k}, got {r.min()}..{r.max()}")
        out.append(r)
    return out


def _resolve_remove(net, fraction, remove, ranking, x, seed) -> list[np.ndarray]:
    if (fraction is None) == (remove is None):
        raise ValueError("give exactly one of fraction or remove")
    if remove is None:
        return select_nodes(node_scores(net, ranking, x=x, seed=seed), fraction)
    return _check_remove(net, remove)


# ---------------------------------------------------------------------- rebuilding
def _rebuild(net, sizes: list[int], train, host_arrays: list[dict[str, np.ndarray]], masks, sparsity):
    from .network import SpectralMLP

    new = SpectralMLP(sizes, train=train, activation=net.activation, seed=net.seed, device=net.device,
                      dtype=net.dtype, init=net.init, bias=net.bias)
    for layer, arrays, m, p in zip(new.layers, host_arrays, masks, sparsity):
        for name in layer.arrays:
            setattr(layer, name, arrays[name])
        layer.mask = m
        layer.sparsity = p
    return new


def prune_nodes(net, fraction: float | None = None, *, remove: Sequence[Sequence[int]] | None = None,
                ranking: str = "eigenvalue", x=None, seed: int = 0):
    """A genuinely smaller network without the removed hidden nodes.

    Parameters
    ----------
    net : SpectralMLP
        A single network (not an ensemble) with at least one hidden layer.
    fraction : float in [0, 1], optional
        Fraction of all hidden nodes to remove, chosen by ``ranking`` (one global threshold).
    remove : sequence of index sets, optional
        Instead of ``fraction``: per hidden layer, the node indices to remove.
    ranking : str
        See :data:`RANKINGS`; used with ``fraction``.
    x : array, optional
        Data for the ``activation`` ranking.
    seed : int
        Seed of the ``random`` ranking.

    Returns
    -------
    SpectralMLP
        Sizes ``N_k - len(remove[k-1])`` for the hidden layers; same preset (see module notes
        for ``svd`` / ``qr``), activation, dtype, device and seed.

    Raises
    ------
    ValueError
        When every node of some hidden layer would be removed (names ``fraction`` or
        ``remove``), or on bad indices.
    """
    _single(net)
    if len(net.layers) < 2:
        raise ValueError("net must have at least one hidden layer to prune")
    rem = _resolve_remove(net, fraction, remove, ranking, x, seed)
    arg = "remove" if remove is not None else "fraction"
    for k, r in enumerate(rem):
        if len(r) >= net.sizes[k + 1]:
            raise ValueError(f"{arg} would remove every node of hidden layer {k} ({net.sizes[k + 1]} nodes); "
                             "keep at least one")
    keep = [np.arange(net.sizes[0])]
    keep += [np.setdiff1d(np.arange(net.sizes[k + 1]), r) for k, r in enumerate(rem)]
    keep += [np.arange(net.sizes[-1])]
    sizes = [len(k) for k in keep]
    host_arrays, masks, sparsity = [], [], []
    for k, layer in enumerate(net.layers):
        rows, cols = keep[k + 1], keep[k]
        a = {n: to_numpy(v) for n, v in layer.arrays.items()}
        out = {"lam_in": a["lam_in"][cols], "lam_out": a["lam_out"][rows], "bias": a["bias"][rows]}
        name = layer.spec.phi_array
        if name is not None:
            out[name] = a[name][np.ix_(rows, cols)]
        else:  # svd, qr: refactorise the cut phi as the default initialisation does
            phi = to_numpy(layer.phi).astype(np.float64)[np.ix_(rows, cols)]
            out.update(factorise(layer.parametrisation, phi))
        host_arrays.append(out)
        masks.append(None if layer.mask is None else to_numpy(layer.mask)[np.ix_(rows, cols)])
        sparsity.append(layer.sparsity)
    return _rebuild(net, sizes, net.preset, host_arrays, masks, sparsity)


def zero_nodes(net, fraction: float | None = None, *, remove: Sequence[Sequence[int]] | None = None,
               ranking: str = "eigenvalue", x=None, seed: int = 0):
    """A copy of ``net`` whose removed hidden nodes are disconnected by static masks.

    The removed nodes' incoming rows and outgoing columns are masked out (combined with
    any existing mask), so they contribute nothing downstream; sizes are unchanged. Unlike
    :func:`prune_nodes` this also accepts removing every node of a layer (the next layer
    then sees only its bias). Arguments as :func:`prune_nodes`.
    """
    _single(net)
    rem = _resolve_remove(net, fraction, remove, ranking, x, seed)
    new = net.copy()
    xp = new.xp
    for k, r in enumerate(rem):
        if not len(r):
            continue
        for layer, axis in ((new.layers[k], 0), (new.layers[k + 1], 1)):
            m = xp.ones(layer._weight_shape, dtype=bool) if layer.mask is None else layer.mask.copy()
            idx = to_device(r, new.device)
            if axis == 0:
                m[idx, :] = False
            else:
                m[:, idx] = False
            layer.mask = m
    return new


def with_preset(net, train):
    """A copy of ``net`` with another trainable set of the same parametrisation.

    E.g. ``eigen`` -> ``spectral`` (both store ``phi``): the pre-training filter trains the
    eigenvalues, prunes, then trains the survivors fully.
    """
    _single(net)
    param = get_preset(train).parametrisation
    if param != net.layers[0].parametrisation:
        raise ValueError(f"train must share the parametrisation {net.layers[0].parametrisation!r} "
                         f"of {net.preset!r}, got {train!r} ({param!r})")
    host = [{n: to_numpy(v) for n, v in layer.arrays.items()} for layer in net.layers]
    masks = [None if layer.mask is None else to_numpy(layer.mask) for layer in net.layers]
    return _rebuild(net, list(net.sizes), train, host, masks, [layer.sparsity for layer in net.layers])


# ---------------------------------------------------------------------- curves
def parse_rankings(rankings) -> list[str]:
    """Validate rankings given as a sequence or a comma-separated string (``"eigenvalue,random"``)."""
    if isinstance(rankings, str):
        rankings = [r.strip() for r in rankings.split(",") if r.strip()]
    rankings = list(rankings)
    bad = [r for r in rankings if r not in RANKINGS]
    if bad or not rankings:
        raise ValueError(f"rankings must be a non-empty subset of {RANKINGS}, got {rankings!r}")
    return rankings


def _check_fractions(fractions) -> np.ndarray:
    f = default_fractions() if fractions is None else np.asarray(fractions, dtype=np.float64).ravel()
    if f.size == 0 or not np.all((f >= 0) & (f <= 1)):
        raise ValueError(f"fractions must lie in [0, 1], got {f.tolist()!r}")
    return f


def _members(nets) -> list:
    if not isinstance(nets, (list, tuple)):
        nets = [nets]
    out = []
    for n in nets:
        if n.ensemble_size:
            out.extend(n.member(e) for e in range(n.ensemble_size))
        else:
            out.append(n)
    return out


def _accuracy_dataset(acc, fractions, rankings, seeds, attrs, extra=None):
    import xarray as xr

    ds = xr.Dataset(
        {"accuracy": (("fraction_removed", "ranking", "seed"), acc,
                      {"long_name": "test accuracy after removing hidden nodes", "units": "1"})},
        coords={"fraction_removed": fractions, "ranking": np.array(rankings, dtype=str), "seed": seeds},
        attrs=attrs,
    )
    for name, (val, meta) in (extra or {}).items():
        ds[name] = (("fraction_removed", "ranking", "seed"), val, meta)
    ds["fraction_removed"].attrs.update(long_name="fraction of hidden nodes removed", units="1")
    ds["ranking"].attrs.update(long_name="node ranking used to choose the removed nodes")
    ds["seed"].attrs.update(long_name="seed of the trained network", units="1")
    return ds


def pruning_curve(nets, x, y, *, rankings=("eigenvalue", "connectivity", "random"), fractions=None,
                  x_rank=None, seed: int = 0, progress: bool = False, attrs: dict | None = None):
    """Accuracy versus fraction of hidden nodes removed, without retraining.

    Parameters
    ----------
    nets : SpectralMLP or sequence of SpectralMLP
        Trained networks; ensembles are split into members. Each contributes one ``seed``.
    x : array, shape (n, N_0)
    y : int array, shape (n,)
        Evaluation data (usually the test set).
    rankings : sequence of str or comma-separated str
        Among :data:`RANKINGS`.
    fractions : sequence of float in [0, 1], optional
        Default ``0, 0.05, ..., 1``.
    x_rank : array, optional
        Data for the ``activation`` ranking (use training data to avoid scoring on the test set;
        default ``x``).
    seed : int
        Base seed of the ``random`` ranking (combined with each network's seed).
    progress : bool
        tqdm bar over (network, ranking).
    attrs : dict, optional
        Extra provenance (dataset name, training settings); stored as JSON strings.

    Returns
    -------
    xarray.Dataset
        ``accuracy`` (fraction_removed, ranking, seed) and ``hidden_nodes_kept`` (same dims):
        total hidden nodes left. Where a fraction removes every node of some layer the
        accuracy is that of the zeroed network (:func:`zero_nodes`: the output layer sees a
        constant), since no smaller network exists.
    """
    from .progress import progress_bar

    rankings = parse_rankings(rankings)
    fr = _check_fractions(fractions)
    members = _members(nets)
    seeds = [int(m.seed) for m in members]
    if len(set(seeds)) != len(seeds):
        seeds = list(range(len(members)))
    acc = np.full((fr.size, len(rankings), len(members)), np.nan)
    kept = np.zeros_like(acc)
    xr_ = x if x_rank is None else x_rank
    bar = progress_bar(total=len(members) * len(rankings), progress=progress, desc="pruning curve")
    for s, net in enumerate(members):
        for r, name in enumerate(rankings):
            scores = node_scores(net, name, x=xr_ if name == "activation" else None,
                                 seed=int(np.random.SeedSequence([seed, seeds[s]]).generate_state(1)[0]))
            for i, f in enumerate(fr):
                rem = select_nodes(scores, f)
                kept[i, r, s] = sum(net.sizes[1:-1]) - sum(len(q) for q in rem)
                emptied = any(len(q) >= net.sizes[k + 1] for k, q in enumerate(rem))
                small = zero_nodes(net, remove=rem) if emptied else prune_nodes(net, remove=rem)
                acc[i, r, s] = small.accuracy(x, y)
            bar.update(1)
    bar.close()
    first = members[0]
    prov = provenance_attrs(**{"protocol": "post-training (no retraining)", "sizes": first.sizes,
                          "train": first.preset, "activation": first.activation, "n_eval": int(np.shape(x)[0]),
                          "random_seed": seed, **(attrs or {})})
    return _accuracy_dataset(acc, fr, rankings, seeds, prov, {
        "hidden_nodes_kept": (kept, {"long_name": "hidden nodes left after pruning", "units": "1"}),
    })


def post_training_pruning(data, sizes, *, activation="tanh", train="spectral", seeds=(0,), epochs=5,
                          batch_size=200, optimizer="adam", lr=1e-3, rankings=("eigenvalue", "connectivity", "random"),
                          fractions=None, init: str = "default", rank_samples: int = 10000,
                          progress: bool = False, attrs: dict | None = None):
    """Post-training protocol: train each seed, rank, prune, evaluate on the test set.

    Parameters
    ----------
    data : Dataset
        With ``x_train, y_train, x_test, y_test``.
    sizes : sequence of int
    activation, train, init : str
        Network settings; ``train="direct"`` is the conventional baseline (rank by
        ``connectivity``; ``eigenvalue`` is refused for it).
    seeds : sequence of int
        One trained network per seed (trained together as an ensemble).
    epochs, batch_size, optimizer, lr
        Training settings (Buffoni et al.: Adam, 1e-3, batch 200).
    rankings, fractions
        As :func:`pruning_curve`.
    rank_samples : int
        Training examples used by the ``activation`` ranking.

    Returns
    -------
    xarray.Dataset
        As :func:`pruning_curve`, plus ``test_accuracy_dense`` (seed).
    """
    from .network import SpectralMLP
    from .train import fit

    seeds = [int(s) for s in seeds]
    net = SpectralMLP(sizes, train=train, activation=activation, seed=seeds if len(seeds) > 1 else seeds[0],
                      init=init)
    hist = fit(net, data, epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, progress=progress)
    ds = pruning_curve(net, data.x_test, data.y_test, rankings=rankings, fractions=fractions,
                       x_rank=data.x_train[:rank_samples], progress=progress,
                       attrs={"epochs": epochs, "init": init, "batch_size": batch_size, "optimizer": optimizer,
                              "lr": lr,
                              "dataset": getattr(data, "name", "unknown"), **(attrs or {})})
    dense = np.atleast_1d(np.asarray(hist.records[-1]["test_accuracy"], dtype=np.float64))
    ds["test_accuracy_dense"] = ("seed", dense, {"long_name": "test accuracy before pruning", "units": "1"})
    return ds


def pretraining_filter(data, sizes, *, activation="tanh", seeds=(0,), eigen_epochs=5, full_epochs=20,
                       l1: float | None = None, batch_size=200, optimizer="adam", lr=1e-3,
                       rankings=("eigenvalue", "connectivity", "random"), fractions=None, init="default",
                       rank_samples: int = 10000, progress: bool = False, attrs: dict | None = None):
    """Pre-training filter: train eigenvalues, prune, rebuild, train the survivors fully.

    For each seed an ``eigen`` network (``phi`` frozen) trains ``eigen_epochs``, optionally
    with an L1 penalty ``l1`` on ``lam_in`` and ``lam_out``; for each ranking and fraction the
    pruned network is converted to ``spectral`` (:func:`with_preset`) and trained
    ``full_epochs`` more, then evaluated.

    Returns
    -------
    xarray.Dataset
        ``accuracy`` (fraction_removed, ranking, seed): test accuracy after retraining (NaN
        where a layer would be emptied); ``accuracy_before_retraining`` (same dims);
        ``hidden_nodes_kept``.
    """
    from .network import SpectralMLP
    from .progress import progress_bar
    from .train import fit

    rankings = parse_rankings(rankings)
    fr = _check_fractions(fractions)
    seeds = [int(s) for s in seeds]
    pen = {"lam_in": float(l1), "lam_out": float(l1)} if l1 else None
    acc = np.full((fr.size, len(rankings), len(seeds)), np.nan)
    before = np.full_like(acc, np.nan)
    kept = np.zeros_like(acc)
    bar = progress_bar(total=len(seeds) * len(rankings) * fr.size, progress=progress, desc="pre-training filter",
                       leave=True)
    for s, sd in enumerate(seeds):
        net = SpectralMLP(sizes, train="eigen", activation=activation, seed=sd, init=init)
        fit(net, data, epochs=eigen_epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, l1=pen,
            progress=False)
        for r, name in enumerate(rankings):
            scores = node_scores(net, name, x=data.x_train[:rank_samples] if name == "activation" else None,
                                 seed=sd)
            for i, f in enumerate(fr):
                rem = select_nodes(scores, f)
                kept[i, r, s] = sum(net.sizes[1:-1]) - sum(len(q) for q in rem)
                if any(len(q) >= net.sizes[k + 1] for k, q in enumerate(rem)):
                    bar.update(1)
                    continue
                small = prune_nodes(net, remove=rem)
                before[i, r, s] = small.accuracy(data.x_test, data.y_test)
                full = with_preset(small, "spectral")
                if full_epochs:
                    fit(full, data, epochs=full_epochs, batch_size=batch_size, optimizer=optimizer, lr=lr,
                        progress=False)
                acc[i, r, s] = full.accuracy(data.x_test, data.y_test)
                bar.update(1)
    bar.close()
    prov = provenance_attrs(**{"protocol": "pre-training filter", "sizes": list(sizes), "activation": activation,
                          "eigen_epochs": eigen_epochs, "full_epochs": full_epochs, "l1": l1,
                          "batch_size": batch_size, "optimizer": optimizer, "lr": lr, "init": init,
                          "dataset": getattr(data, "name", "unknown"), **(attrs or {})})
    return _accuracy_dataset(acc, fr, rankings, seeds, prov, {
        "accuracy_before_retraining": (before, {"long_name": "test accuracy of the pruned eigen network "
                                                             "before full training", "units": "1"}),
        "hidden_nodes_kept": (kept, {"long_name": "hidden nodes left after pruning", "units": "1"}),
    })
