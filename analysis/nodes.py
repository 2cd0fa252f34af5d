"""Eigenvalue-node correspondence: does ``|lambda|`` tell which hidden nodes matter?

Hidden node ``i`` of hidden layer ``k`` (the receiving side of ``net.layers[k]``) owns two
eigenvalues: ``lam_out_i`` of layer ``k`` (a gain on the projection that reaches it) and
``lam_in_i`` of layer ``k + 1`` (a factor on every weight leaving it). Its true importance
is measured exactly: the drop in accuracy (and rise in cross-entropy) on a test subset
when that node alone is removed, i.e. its outgoing weights are zeroed, which is what
pruning the node does. Candidate predictors are ranked against it per layer (Spearman,
Kendall).

Worked example
--------------
>>> import numpy as np
>>> from spectral_physics import SpectralMLP
>>> from spectral_physics.analysis.nodes import node_correspondence
>>> rng = np.random.default_rng(0)
>>> x, y = rng.normal(size=(200, 8)), rng.integers(0, 3, 200)
>>> ds = node_correspondence(SpectralMLP([8, 16, 3], train="eigen", init="paper"), x, y,
...                          pruning=False)
>>> ds.spearman.sel(score="abs_lam_out", truth="loss_increase").dims
('layer',)

Reading the result: a useful eigenvalue ranking has a clearly positive rank correlation
with ``loss_increase`` (and with ``acc_drop``, which is coarse: on n test samples it moves
in steps of 1/n, so most single nodes of a wide layer tie at 0) and should beat the
``random`` score (correlation ~0) and compete with ``in_norm`` (incoming connectivity, the
baseline of Buffoni et al. 2022).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

__all__ = [
    "SCORES",
    "TRUTHS",
    "ablation_importance",
    "node_scores",
    "rank_correlations",
    "input_relevance",
    "node_correspondence",
    "node_correspondence_ensemble",
    "pruning_curves",
]

#: candidate predictors of node importance (larger = predicted more important)
SCORES = ("abs_lam_out", "abs_lam_in_next", "in_norm", "out_norm", "mean_activation", "random")
#: exact importance measures
TRUTHS = ("acc_drop", "loss_increase")

_SCORE_DOC = {
    "abs_lam_out": "|lam_out_i| of the layer feeding the node",
    "abs_lam_in_next": "|lam_in_i| of the layer the node feeds",
    "in_norm": "sum_j |w_ij| of the incoming weights (connectivity)",
    "out_norm": "sum_m |w_mi| of the outgoing weights",
    "mean_activation": "mean |a_i| over the data",
    "random": "uniform random score (null)",
}


def _propagate(net, arrays, k: int, z: np.ndarray) -> np.ndarray:
    """Logits from pre-activations ``z`` (..., batch, N_{k+1}) of layer ``k``."""
    from spectral_physics.network import forward_pass

    from ._net import affine_maps

    # only the logits are needed: the stacked ablated passes must not keep every layer
    return forward_pass(z, affine_maps(arrays[k + 1 :]), net.act, from_pre=True, trace=False)


def ablation_importance(net, x, y, *, max_elements: int = 2**24) -> dict[str, list[np.ndarray]]:
    """Exact effect of removing each hidden node alone.

    Removing node ``i`` of hidden layer ``k`` zeroes column ``i`` of ``W_{k+1}`` (its
    output reaches nothing), so ``z_{k+1} -> z_{k+1} - a_i W_{k+1}[:, i]`` and the rest
    of the network is run forward again, for all nodes of a layer in vectorised chunks.

    Parameters
    ----------
    net : SpectralMLP
        Single network.
    x : array_like, shape (n, N_0)
    y : array_like of int, shape (n,)
    max_elements : int
        Memory bound: float64 elements per chunk of stacked ablated passes.

    Returns
    -------
    dict
        ``baseline_accuracy`` (float), ``baseline_loss`` (float), and per hidden layer
        ``acc_drop`` and ``loss_increase`` (lists of arrays of shape (N_{k+1},)):
        accuracy before minus after, mean cross-entropy after minus before.
    """
    from ._net import cross_entropy_per_sample, forward64, layer_arrays

    arrays = layer_arrays(net)
    y = np.asarray(y).astype(np.int64).ravel()
    zs, acts = forward64(net, x, arrays)
    if y.shape[0] != acts[0].shape[0]:
        raise ValueError(f"y must have {acts[0].shape[0]} labels, got {y.shape[0]}")
    logits = acts[-1]
    base_acc = float((logits.argmax(-1) == y).mean())
    base_loss = float(cross_entropy_per_sample(logits, y).mean())
    out: dict = {"baseline_accuracy": base_acc, "baseline_loss": base_loss, "acc_drop": [], "loss_increase": []}
    n = y.size
    for k in range(len(arrays) - 1):
        a = acts[k + 1]
        w = arrays[k + 1].w
        z_next = zs[k + 1]
        n_nodes = a.shape[1]
        width = max(net.sizes[k + 2 :])
        chunk = max(1, max_elements // (n * width))
        acc_drop = np.empty(n_nodes)
        loss_inc = np.empty(n_nodes)
        for i0 in range(0, n_nodes, chunk):
            idx = np.arange(i0, min(i0 + chunk, n_nodes))
            zc = z_next[None] - a[:, idx].T[:, :, None] * w[:, idx].T[:, None, :]  # (c, n, N_{k+2})
            lg = _propagate(net, arrays, k + 1, zc)
            acc_drop[idx] = base_acc - (lg.argmax(-1) == y).mean(axis=-1)
            loss_inc[idx] = cross_entropy_per_sample(lg, y).mean(axis=-1) - base_loss
        out["acc_drop"].append(acc_drop)
        out["loss_increase"].append(loss_inc)
    return out


def node_scores(net, x, *, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Candidate importance scores of every hidden node (see :data:`SCORES`).

    Returns
    -------
    dict
        Score name -> list over hidden layers of arrays (N_{k+1},).
    """
    from ._net import forward64, layer_arrays

    arrays = layer_arrays(net)
    _, acts = forward64(net, x, arrays)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(net.seed), 7]))
    out: dict[str, list[np.ndarray]] = {s: [] for s in SCORES}
    for k in range(len(arrays) - 1):
        out["abs_lam_out"].append(np.abs(arrays[k].lam_out))
        out["abs_lam_in_next"].append(np.abs(arrays[k + 1].lam_in))
        out["in_norm"].append(np.abs(arrays[k].w).sum(axis=1))
        out["out_norm"].append(np.abs(arrays[k + 1].w).sum(axis=0))
        out["mean_activation"].append(np.abs(acts[k + 1]).mean(axis=0))
        out["random"].append(rng.random(arrays[k].lam_out.size))
    return out


def rank_correlations(score: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Spearman rho and Kendall tau-b (with two-sided p-values) of ``score`` vs ``truth``.

    NaN when either input is constant (no ranking to compare).
    """
    nan = float("nan")
    if np.ptp(score) == 0 or np.ptp(truth) == 0 or score.size < 3:
        return {"spearman": nan, "spearman_p": nan, "kendall": nan, "kendall_p": nan}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho, p_rho = stats.spearmanr(score, truth)
        tau, p_tau = stats.kendalltau(score, truth)
    return {"spearman": float(rho), "spearman_p": float(p_rho), "kendall": float(tau), "kendall_p": float(p_tau)}


def _image_dims(shape) -> tuple[str, ...]:
    if shape is None:
        return ("input",)
    shape = tuple(int(s) for s in shape)
    if len(shape) == 1:
        return ("input",)
    if len(shape) == 2:
        return ("row", "col")
    if len(shape) == 3:
        return ("row", "col", "channel") if shape[-1] <= 4 else ("channel", "row", "col")
    raise ValueError(f"image_shape must have 1 to 3 axes, got {shape}")


def input_relevance(net, image_shape=None, *, absolute: bool = False):
    """``lam_in`` of the first layer, one number per input pixel, as an image.

    ``lam_in_j`` multiplies every weight leaving input ``j``, so it enhances or silences
    that pixel. Pixels that are zero in every training image get no gradient and keep
    their initial value: read such maps together with the data's pixel variance.

    Parameters
    ----------
    net : SpectralMLP
    image_shape : tuple of int, optional
        ``(28, 28)`` for MNIST (dims ``row, col``), ``(32, 32, 3)`` for CIFAR-10 (``row,
        col, channel``); None keeps a flat ``input`` dim.
    absolute : bool
        Return ``|lam_in|``.

    Returns
    -------
    xarray.DataArray
    """
    import xarray as xr

    from ._net import layer_arrays
    from ._xr import cf

    lam = layer_arrays(net)[0].lam_in
    dims = _image_dims(image_shape)
    if image_shape is not None:
        if int(np.prod(image_shape)) != lam.size:
            raise ValueError(f"image_shape {tuple(image_shape)} does not hold {lam.size} inputs")
        lam = lam.reshape(tuple(image_shape))
    if absolute:
        lam = np.abs(lam)
    name = "|lam_in|" if absolute else "lam_in"
    return cf(xr.DataArray(lam, dims=dims, name="input_relevance"),
              f"{name} of the first layer per input pixel (input relevance map)", "1")


def pruning_curves(nets, x, y, *, fractions=None, rankings=None):
    """Accuracy-versus-fraction-removed curves from :mod:`spectral_physics.pruning`.

    A thin hook: returns ``spectral_physics.pruning.pruning_curve(...)`` (dims
    ``fraction_removed, ranking, seed``), or ``None`` when that module is not available,
    so the node analysis never implements pruning itself.
    """
    try:
        from spectral_physics import pruning
    except ImportError:
        return None
    from ._net import as_members

    members = as_members(nets)
    if rankings is None:
        trains_lam = any(layer.preset != "direct" for layer in members[0].layers)
        rankings = (("eigenvalue",) if trains_lam else ()) + ("connectivity", "activation", "random")
    if fractions is None:
        fractions = np.round(np.linspace(0.0, 1.0, 11), 10)
    return pruning.pruning_curve(members, x, y, rankings=rankings, fractions=fractions)


def node_correspondence_ensemble(nets, x, y, *, image_shape=None, seed: int = 0, pruning: bool = True,
                                 fractions=None, max_elements: int = 2**24):
    """Eigenvalue-node correspondence for networks of one architecture, dim ``seed``.

    Parameters
    ----------
    nets : SpectralMLP, ensemble or sequence
    x : array_like, shape (n, N_0)
        Test subset used for the exact ablations and the activation scores.
    y : array_like of int, shape (n,)
    image_shape : tuple of int, optional
        Shape of one input image, for the input relevance map.
    seed : int
        Seed of the ``random`` score.
    pruning : bool
        Add the pruning curves of :func:`pruning_curves` (``pruning_accuracy``) when the
        pruning module is available; the attribute ``pruning_curves`` says whether they
        are included.
    fractions : sequence of float, optional
        Fractions removed for the pruning curves (default 0, 0.1, ..., 1).
    max_elements : int
        Memory bound of the ablation chunks.

    Returns
    -------
    xarray.Dataset
        ``acc_drop``, ``loss_increase`` (seed, layer, node): exact single-node removal
        effects; ``node_score`` (seed, layer, score, node); ``spearman``, ``kendall`` and
        p-values (seed, layer, score, truth); ``baseline_accuracy``, ``baseline_loss``
        (seed); ``input_relevance`` (seed, row, col) = ``lam_in`` of the first layer;
        optionally ``pruning_accuracy`` (seed, fraction_removed, ranking). ``layer`` is
        the index of the weight layer feeding the hidden nodes; ``node`` is NaN-padded.
    """
    import xarray as xr

    from ._net import as_members, spec_of
    from ._xr import cf, provenance_attrs

    members = as_members(nets)
    sizes = members[0].sizes
    if len(sizes) < 3:
        raise ValueError(f"node correspondence needs at least one hidden layer, got sizes {sizes}")
    for m in members[1:]:
        if m.sizes != sizes:
            raise ValueError(f"nets must share one architecture, got sizes {sizes} and {m.sizes}")
    x = np.asarray(x)
    y = np.asarray(y)
    hidden = sizes[1:-1]
    n_layer, n_node = len(hidden), max(hidden)
    n_seed = len(members)
    nan = np.nan
    acc_drop = np.full((n_seed, n_layer, n_node), nan)
    loss_inc = np.full_like(acc_drop, nan)
    score = np.full((n_seed, n_layer, len(SCORES), n_node), nan)
    corr = {key: np.full((n_seed, n_layer, len(SCORES), len(TRUTHS)), nan)
            for key in ("spearman", "spearman_p", "kendall", "kendall_p")}
    base_acc = np.empty(n_seed)
    base_loss = np.empty(n_seed)
    relevance = []
    for s, net in enumerate(members):
        imp = ablation_importance(net, x, y, max_elements=max_elements)
        sc = node_scores(net, x, seed=seed)
        base_acc[s], base_loss[s] = imp["baseline_accuracy"], imp["baseline_loss"]
        for k, n in enumerate(hidden):
            acc_drop[s, k, :n] = imp["acc_drop"][k]
            loss_inc[s, k, :n] = imp["loss_increase"][k]
            truths = {"acc_drop": imp["acc_drop"][k], "loss_increase": imp["loss_increase"][k]}
            for j, name in enumerate(SCORES):
                score[s, k, j, :n] = sc[name][k]
                for t, tname in enumerate(TRUTHS):
                    rc = rank_correlations(sc[name][k], truths[tname])
                    for key in corr:
                        corr[key][s, k, j, t] = rc[key]
        relevance.append(input_relevance(net, image_shape))

    seeds = [int(m.seed) for m in members]
    seed_coord = seeds if len(set(seeds)) == len(seeds) else list(range(n_seed))
    ds = xr.Dataset(coords={
        "seed": ("seed", np.asarray(seed_coord)),
        "layer": ("layer", np.arange(n_layer)),
        "score": ("score", np.array(SCORES, dtype=str)),
        "truth": ("truth", np.array(TRUTHS, dtype=str)),
        "n_hidden": ("layer", np.asarray(hidden)),
    })
    cf(ds["seed"], "ensemble member (its seed when seeds are distinct, else its index)", "1")
    cf(ds["layer"], "index k of the weight layer feeding the hidden nodes", "1")
    cf(ds["n_hidden"], "hidden nodes in the layer", "1")
    cf(ds["score"], "candidate predictor of node importance", "1",
       description="; ".join(f"{k}: {v}" for k, v in _SCORE_DOC.items()))
    cf(ds["truth"], "exact importance measure", "1",
       description="acc_drop: accuracy lost when the node alone is removed; "
                   "loss_increase: rise of mean cross-entropy when it is removed")
    dims3 = ("seed", "layer", "node")
    ds["acc_drop"] = cf(xr.DataArray(acc_drop, dims=dims3),
                        "test accuracy lost when the node alone is removed", "1")
    ds["loss_increase"] = cf(xr.DataArray(loss_inc, dims=dims3),
                             "increase of test cross-entropy when the node alone is removed", "1")
    ds["node_score"] = cf(xr.DataArray(score, dims=("seed", "layer", "score", "node")),
                          "node importance score", "1")
    cdims = ("seed", "layer", "score", "truth")
    ds["spearman"] = cf(xr.DataArray(corr["spearman"], dims=cdims),
                        "Spearman rank correlation of score and exact importance", "1")
    ds["spearman_p"] = cf(xr.DataArray(corr["spearman_p"], dims=cdims), "two-sided p-value of spearman", "1")
    ds["kendall"] = cf(xr.DataArray(corr["kendall"], dims=cdims),
                       "Kendall tau-b of score and exact importance", "1")
    ds["kendall_p"] = cf(xr.DataArray(corr["kendall_p"], dims=cdims), "two-sided p-value of kendall", "1")
    ds["baseline_accuracy"] = cf(xr.DataArray(base_acc, dims="seed"), "test accuracy of the intact network", "1")
    ds["baseline_loss"] = cf(xr.DataArray(base_loss, dims="seed"), "test cross-entropy of the intact network", "1")
    rel = xr.concat(relevance, dim="seed").assign_coords(seed=ds.seed)
    ds["input_relevance"] = rel
    included = "no"
    if pruning:
        curves = pruning_curves(members, x, y, fractions=fractions)
        if curves is not None:
            pa = curves["accuracy"].transpose("seed", "fraction_removed", "ranking")
            pa = pa.assign_coords(seed=ds.seed.values)
            ds["pruning_accuracy"] = cf(pa.drop_attrs() if hasattr(pa, "drop_attrs") else pa,
                                        "test accuracy after removing the lowest-ranked hidden nodes", "1",
                                        source="spectral_physics.pruning.pruning_curve (no retraining)")
            ds["fraction_removed"].attrs.update({"long_name": "fraction of hidden nodes removed", "units": "1"})
            ds["ranking"].attrs.update({"long_name": "node ranking used for pruning", "units": "1"})
            included = "yes"
        else:
            included = "unavailable (spectral_physics.pruning not importable)"
    ds.attrs.update(provenance_attrs(
        analysis="nodes",
        network=spec_of(members[0]),
        seeds=seeds,
        n_eval=int(y.size),
        score_seed=int(seed),
        image_shape=list(image_shape) if image_shape is not None else "none",
        pruning_curves=included,
        removal="node output zeroed (outgoing column of the next layer's weights)",
    ))
    return ds


def node_correspondence(net, x, y, **kwargs):
    """Eigenvalue-node correspondence of one network.

    Same as :func:`node_correspondence_ensemble` for a single network (the ``seed`` dim
    is reduced to a scalar coordinate).
    """
    from ._net import as_members

    members = as_members(net)
    if len(members) != 1:
        raise ValueError("node_correspondence takes one network; use node_correspondence_ensemble")
    return node_correspondence_ensemble(members, x, y, **kwargs).isel(seed=0)
