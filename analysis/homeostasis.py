"""Homeostatic-plasticity reading of the eigenvalues, made testable.

The input to receiving node ``i`` of a spectral layer is (docs/design.md section 1.3)::

    z_i = sum_j lam_in_j phi_ij x_j  -  lam_out_i (phi_i . x)  +  b_i

so ``lam_out_i`` is a gain set per receiving node on the projection ``phi_i . x`` that
reaches it: an excitability, the artificial analogue of homeostatic plasticity (Chicchi
et al., PRE 104, 054312 (2021)); ``lam_in_j`` enhances or silences input ``j``.

Gain. With every ``lam_in_j = c`` the input is exactly ``(c - lam_out_i) phi_i . x + b_i``,
so the gain on the projection is ``c - lam_out_i``, not ``lam_out_i`` itself (with the
default initialisation ``c = 1``: a negative ``lam_out`` *raises* the gain). In general
we measure the gain as the least-squares slope of ``z_i - b_i`` on ``phi_i . x`` over the
data, ``g_i = <(z_i - b_i) p_i> / <p_i^2>`` with ``p_i = phi_i . x``: it equals
``c - lam_out_i`` in the constant case, includes the part of the ``lam_in`` term along
the projection, and, unlike a ratio of norms, carries no built-in ``1 / drive`` that
would fake a negative drive-gain correlation. ``gain = |g_i|``; ``|lam_out_i|`` is kept
as the literal reading (``drive_lam_out_spearman``).

What the reading predicts, and what would falsify it
----------------------------------------------------
Homeostasis keeps each node's activity near a common set point by turning the gain down
where the drive is strong. Training the eigenvalues should therefore

1. make the gain anti-correlated with the drive across nodes of a layer:
   Spearman rho(drive_i, gain_i) < 0 (``drive_gain_spearman``);
2. narrow the spread of mean activity across nodes compared with the same network with
   its eigenvalues reset to their initial values: coefficient of variation
   ``CV_trained < CV_frozen`` (``cv_difference < 0``, one-sided paired permutation test
   ``cv_p``);
3. and, over training, let the CV fall (time course, :class:`HomeostasisRecorder`).

The reading is **falsified** for a layer when rho is significantly positive or the CV
is significantly larger after training (``cv_p_greater < alpha``); it is **not
supported** when neither effect is significant. A significant negative rho with an
unchanged CV means the gains compensate drive without equalising activity (a partial
reading). Beware of a trivial route to (1): if ``lam_out`` barely moves from a constant
start (``init="default"`` starts every ``lam_out`` at 0) its ranks are noise and rho ~ 0;
compare with the ``initial`` state, which has the same drive in the first layer.

Worked example
--------------
>>> import numpy as np
>>> from spectral_physics import SpectralMLP
>>> from spectral_physics.analysis.homeostasis import homeostasis
>>> rng = np.random.default_rng(0)
>>> x, y = rng.normal(size=(200, 8)), rng.integers(0, 3, 200)
>>> ds = homeostasis(SpectralMLP([8, 16, 3], train="eigen", init="paper"), x, y)
>>> ds.state.values.tolist()
['trained', 'frozen', 'initial']
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from spectral_physics import Callback

__all__ = [
    "STATES",
    "SILENCING_CRITERIA",
    "node_activity",
    "coefficient_of_variation",
    "cv_permutation_test",
    "homeostasis_verdict",
    "frozen_eigenvalue_network",
    "silencing",
    "homeostasis",
    "HomeostasisRecorder",
]

STATES = ("trained", "frozen", "initial")
#: what marks a hidden node as silenced (see :func:`silencing`)
SILENCING_CRITERIA = ("lam_out", "lam_in_next", "gain")

_NODE_VARS = {
    "lam_out": ("output eigenvalue lam_out of the node (signed)", "1"),
    "abs_lam_out": ("|lam_out| of the node", "1"),
    "gain": ("|g_i|, g_i = least-squares slope of z_i - b_i on phi_i . x", "1"),
    "gain_signed": ("g_i, least-squares slope of z_i - b_i on phi_i . x", "1"),
    "drive": ("mean input drive |phi_i . x| over the data", "1"),
    "activity_mean": ("mean activation of the node", "1"),
    "activity_abs_mean": ("mean |activation| of the node", "1"),
    "activity_var": ("variance of the node's activation over the data", "1"),
    "fraction_active": ("fraction of samples with z > 0", "1"),
    "fraction_saturated": ("fraction of samples in saturation (tanh: |a| >= s; elu: a <= -s)", "1"),
}


def _spearman(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    # ranks of values equal up to rounding (e.g. every gain 1 +- 1e-16) are noise, not order
    flat = lambda v: np.ptp(v) <= 1e-9 * max(float(np.abs(v).max()), 1e-300)  # noqa: E731
    if a.size < 3 or flat(a) or flat(b):
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rho, p = stats.spearmanr(a, b)
    return float(rho), float(p)


def node_activity(net, x, *, saturation: float = 0.9) -> list[dict[str, np.ndarray]]:
    """Per-node gain, drive and activity statistics of every hidden layer.

    Parameters
    ----------
    net : SpectralMLP
        Single network.
    x : array_like, shape (n, N_0)
        Data the statistics are averaged over.
    saturation : float in (0, 1)
        ``|a| >= saturation`` counts as saturated for tanh, ``a <= -saturation`` for elu;
        NaN for relu and identity, which do not saturate.

    Returns
    -------
    list of dict
        One dict per hidden layer ``k`` (receiving side of ``net.layers[k]``) with the
        keys of ``_NODE_VARS``, arrays of shape (N_{k+1},), plus ``activity_cv``
        (float): coefficient of variation of ``activity_abs_mean`` across nodes, and
        ``drive_gain_spearman`` / ``drive_gain_p``, ``drive_lam_out_spearman`` /
        ``drive_lam_out_p``.
    """
    from ._net import forward64, layer_arrays

    if not 0 < saturation < 1:
        raise ValueError(f"saturation must lie in (0, 1), got {saturation}")
    arrays = layer_arrays(net)
    zs, acts = forward64(net, x, arrays)
    out = []
    for k in range(len(arrays) - 1):
        la = arrays[k]
        inp, z, a = acts[k], zs[k], acts[k + 1]
        proj = inp @ la.phi.T
        pp = (proj**2).mean(axis=0)
        zp = ((z - la.bias) * proj).mean(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = np.where(pp > 0, zp / np.where(pp > 0, pp, 1.0), np.nan)
        if net.activation == "tanh":
            sat = (np.abs(a) >= saturation).mean(axis=0)
        elif net.activation == "elu":
            sat = (a <= -saturation).mean(axis=0)
        else:
            sat = np.full(a.shape[1], np.nan)
        d = {
            "lam_out": la.lam_out.copy(),
            "abs_lam_out": np.abs(la.lam_out),
            "gain": np.abs(slope),
            "gain_signed": slope,
            "drive": np.abs(proj).mean(axis=0),
            "activity_mean": a.mean(axis=0),
            "activity_abs_mean": np.abs(a).mean(axis=0),
            "activity_var": a.var(axis=0),
            "fraction_active": (z > 0).mean(axis=0),
            "fraction_saturated": sat,
        }
        d["activity_cv"] = coefficient_of_variation(d["activity_abs_mean"])
        d["drive_gain_spearman"], d["drive_gain_p"] = _spearman(d["drive"], d["gain"])
        d["drive_lam_out_spearman"], d["drive_lam_out_p"] = _spearman(d["drive"], d["abs_lam_out"])
        out.append(d)
    return out


def coefficient_of_variation(values) -> float:
    """``std / mean`` (ddof=0) of positive values along the last axis; NaN for mean 0."""
    v = np.asarray(values, dtype=np.float64)
    m = v.mean(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cv = np.where(m > 0, v.std(axis=-1) / np.where(m > 0, m, 1.0), np.nan)
    return float(cv) if cv.ndim == 0 else cv


def cv_permutation_test(a, b, *, n_permutations: int = 5000, seed: int = 0) -> dict[str, float]:
    """Paired permutation test of ``CV(a) < CV(b)`` for per-node values of two states.

    Each node contributes the pair (a_i, b_i). Both vectors are first divided by their
    means (the CV is scale-free, so the observed CVs do not change, and a global change of
    activity level cannot masquerade as a change in spread); under the null hypothesis
    the two labels are exchangeable within each pair, so labels are swapped node by node
    at random.

    Parameters
    ----------
    a, b : array_like, shape (n,)
        Positive per-node values (e.g. mean ``|activation|``) of the same nodes.
    n_permutations : int
    seed : int

    Returns
    -------
    dict
        ``cv_a``, ``cv_b``, ``difference`` (cv_a - cv_b), ``p_less`` (one-sided p-value of
        a narrower spread in ``a``) and ``p_greater``, both ``(1 + count) / (1 + n_perm)``.
    """
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"a and b must be paired 1-D arrays of >= 2 values, got {a.shape} and {b.shape}")
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be >= 1, got {n_permutations}")
    nan = float("nan")
    if not (a.mean() > 0 and b.mean() > 0):
        return {"cv_a": nan, "cv_b": nan, "difference": nan, "p_less": nan, "p_greater": nan}
    an, bn = a / a.mean(), b / b.mean()
    obs = coefficient_of_variation(an) - coefficient_of_variation(bn)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 4242]))
    less = greater = 0
    block = max(1, 2**22 // a.size)
    done = 0
    while done < n_permutations:
        m = min(block, n_permutations - done)
        swap = rng.random((m, a.size)) < 0.5
        pa = np.where(swap, bn, an)
        pb = np.where(swap, an, bn)
        d = coefficient_of_variation(pa) - coefficient_of_variation(pb)
        tol = 1e-12 * max(1.0, abs(obs))
        less += int(np.count_nonzero(d <= obs + tol))
        greater += int(np.count_nonzero(d >= obs - tol))
        done += m
    return {
        "cv_a": coefficient_of_variation(a),
        "cv_b": coefficient_of_variation(b),
        "difference": float(coefficient_of_variation(a) - coefficient_of_variation(b)),
        "p_less": (1 + less) / (1 + n_permutations),
        "p_greater": (1 + greater) / (1 + n_permutations),
    }


def homeostasis_verdict(rho: float, p_rho: float, p_cv_less: float, p_cv_greater: float,
                        alpha: float = 0.05) -> str:
    """Combine the two tests of the module docstring into one word.

    Each test supports (rho < 0 significant; CV narrower significant), contradicts
    (rho > 0 significant; CV wider significant) or is inconclusive. Returns
    ``"supported"`` (both support), ``"partly supported"`` (one supports, the other is
    inconclusive), ``"mixed"`` (one supports, one contradicts), ``"contradicted"`` (a
    contradiction and no support), ``"inconclusive"`` (neither significant) or
    ``"not applicable"`` (a statistic is undefined, e.g. eigenvalues that never moved).
    """
    if not all(np.isfinite(v) for v in (rho, p_rho, p_cv_less, p_cv_greater)):
        return "not applicable"
    corr = 1 if (rho < 0 and p_rho < alpha) else (-1 if (rho > 0 and p_rho < alpha) else 0)
    cv = 1 if p_cv_less < alpha else (-1 if p_cv_greater < alpha else 0)
    votes = {corr, cv}
    if votes == {1}:
        return "supported"
    if 1 in votes and -1 in votes:
        return "mixed"
    if 1 in votes:
        return "partly supported"
    if -1 in votes:
        return "contradicted"
    return "inconclusive"


def frozen_eigenvalue_network(net, initial=None):
    """``net`` with ``lam_in`` and ``lam_out`` reset to their initial values.

    Everything else (``phi`` or its factors, biases, masks) keeps its trained value, so
    the difference to ``net`` is exactly what training the eigenvalues did.

    Parameters
    ----------
    net : SpectralMLP
        Trained single network.
    initial : SpectralMLP, optional
        Its initial state (default: rebuilt from the seed, :func:`spectral_physics.analysis._net.initial_network`).
    """
    from ._net import initial_network

    initial = initial_network(net) if initial is None else initial
    if initial.sizes != net.sizes:
        raise ValueError(f"initial must have sizes {net.sizes}, got {initial.sizes}")
    frozen = net.copy()
    for dst, src in zip(frozen.layers, initial.layers):
        for name in ("lam_in", "lam_out"):
            if name in dst.arrays and name in src.arrays:
                setattr(dst, name, src.arrays[name])
    return frozen


def _accuracy_after_removal(net, arrays, zs, acts, y, *, inputs=None, layer=None, nodes=None) -> float:
    """Accuracy with some inputs (columns of W_0) or nodes of hidden layer ``layer`` (columns
    of W_{layer+1}) removed, updating the cached forward pass from where the change enters:
    ``z' = z - a[:, cols] @ W[:, cols].T`` costs O(n |cols| N) instead of a full pass."""
    from .nodes import _propagate

    if inputs is not None:
        k, a, cols = 0, acts[0], np.asarray(inputs, dtype=int)
    else:
        k, a, cols = layer + 1, acts[layer + 1], np.asarray(nodes, dtype=int)
    z = zs[k]
    if cols.size:
        z = z - a[:, cols] @ arrays[k].w[:, cols].T
    logits = z if k == len(arrays) - 1 else _propagate(net, arrays, k, z)
    return float((logits.argmax(-1) == y).mean())


def silencing(net, x, y, *, rtol: float = 0.05, n_random: int = 10, seed: int = 0) -> dict:
    """Which inputs and hidden nodes have ``|lambda|`` near zero, and what removing them costs.

    An input ``j`` is silenced when ``|lam_in_j| <= rtol * max|lam_in|`` of the first
    layer; a hidden node when its ``|lam_out|`` (criterion ``lam_out``), the ``|lam_in|``
    of the layer it feeds (criterion ``lam_in_next``) or its measured gain ``|g_i|`` (the
    slope of ``z_i - b_i`` on ``phi_i . x``, criterion ``gain``) is that small within its
    layer. ``lam_out ~ 0`` silences nothing by itself: with ``lam_in ~ c`` the gain is
    ``c - lam_out``, so under ``init="default"`` (c = 1) a node with ``lam_out = 0`` passes
    its projection at gain 1; ``gain`` is the criterion that means "input scaled away".
    Removing means zeroing the input's column of ``W_0`` or the node's column of the
    next layer's weights. The cost is the drop in accuracy on ``(x, y)``, next to the drop
    caused by removing as many randomly chosen inputs or nodes (``n_random`` draws).

    Returns
    -------
    dict
        ``baseline_accuracy``; ``input_silenced`` (bool, (N_0,)), ``silence_inputs_acc_drop``,
        ``random_inputs_acc_drop`` and ``random_inputs_acc_drop_std``; for nodes, per
        criterion (``lam_out``, ``lam_in_next``, ``gain``) lists over hidden layers:
        ``node_silenced``, ``silence_nodes_acc_drop``, ``random_nodes_acc_drop``,
        ``random_nodes_acc_drop_std`` (the nodes of one layer are removed together, the
        other layers intact).
    """
    from ._net import forward64, layer_arrays

    if not 0 <= rtol < 1:
        raise ValueError(f"rtol must lie in [0, 1), got {rtol}")
    arrays = layer_arrays(net)
    y = np.asarray(y).astype(np.int64).ravel()
    zs, acts = forward64(net, x, arrays)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(net.seed), 99]))
    base = float((acts[-1].argmax(-1) == y).mean())

    def near_zero(v):
        v = np.abs(v)
        return v <= rtol * v.max() if v.size and v.max() > 0 else np.ones(v.shape, dtype=bool)

    def random_drops(n_sel, n_tot, fn):
        if n_sel == 0 or n_sel == n_tot:
            return (np.nan, np.nan) if n_sel else (0.0, 0.0)
        d = [base - fn(rng.choice(n_tot, n_sel, replace=False)) for _ in range(n_random)]
        return float(np.mean(d)), float(np.std(d, ddof=1)) if len(d) > 1 else float("nan")

    out: dict = {"baseline_accuracy": base}
    sil = near_zero(arrays[0].lam_in)
    idx = np.flatnonzero(sil)
    out["input_silenced"] = sil
    out["silence_inputs_acc_drop"] = base - _accuracy_after_removal(net, arrays, zs, acts, y, inputs=idx)
    out["random_inputs_acc_drop"], out["random_inputs_acc_drop_std"] = random_drops(
        idx.size, sil.size, lambda cols: _accuracy_after_removal(net, arrays, zs, acts, y, inputs=cols))
    n_hidden = len(arrays) - 1
    gains = []
    for k in range(n_hidden):
        proj = acts[k] @ arrays[k].phi.T
        pp = (proj**2).mean(axis=0)
        zp = ((zs[k] - arrays[k].bias) * proj).mean(axis=0)
        gains.append(np.abs(zp) / np.where(pp > 0, pp, np.inf))
    for crit in SILENCING_CRITERIA:
        masks, drops, rnd, rnd_sd = [], [], [], []
        for k in range(n_hidden):
            lam = {"lam_out": arrays[k].lam_out, "lam_in_next": arrays[k + 1].lam_in, "gain": gains[k]}[crit]
            m = near_zero(lam)

            def acc_with(sel, k=k):
                return _accuracy_after_removal(net, arrays, zs, acts, y, layer=k, nodes=sel)

            masks.append(m)
            drops.append(base - acc_with(np.flatnonzero(m)))
            r, sd = random_drops(int(m.sum()), m.size, acc_with)
            rnd.append(r)
            rnd_sd.append(sd)
        out[crit] = {"node_silenced": masks, "silence_nodes_acc_drop": drops,
                     "random_nodes_acc_drop": rnd, "random_nodes_acc_drop_std": rnd_sd}
    return out


def homeostasis(net, x, y=None, *, initial=None, frozen=None, saturation: float = 0.9,
                n_permutations: int = 5000, alpha: float = 0.05, silence_rtol: float = 0.05,
                n_random: int = 10, image_shape=None, seed: int = 0):
    """Test the homeostatic reading of the eigenvalues on one network.

    Parameters
    ----------
    net : SpectralMLP
        Trained single network.
    x : array_like, shape (n, N_0)
        Data for activities (a test subset).
    y : array_like of int, shape (n,), optional
        Labels; when given, the silencing analysis (accuracy costs) is added.
    initial : SpectralMLP, optional
        Initial state (default: rebuilt from the seed).
    frozen : SpectralMLP, optional
        The comparison network "with eigenvalues frozen at initialisation" (default:
        :func:`frozen_eigenvalue_network`, i.e. ``net`` with its lambdas reset). Pass a
        network trained with frozen eigenvalues to use that comparison instead.
    saturation : float
        See :func:`node_activity`.
    n_permutations : int
        Permutations of the CV test.
    alpha : float
        Significance level of the verdict.
    silence_rtol : float
        Relative threshold of "near zero" for the silencing analysis.
    n_random : int
        Random removals in the silencing null model.
    image_shape : tuple of int, optional
        Shape of one input image for the input maps.
    seed : int

    Returns
    -------
    xarray.Dataset
        Dims ``state`` (trained, frozen, initial), ``layer`` (hidden layers, indexed by the
        weight layer feeding them), ``node`` (NaN-padded). Per node: ``lam_out``,
        ``abs_lam_out``, ``gain``, ``gain_signed``, ``drive``, ``activity_mean``,
        ``activity_abs_mean``, ``activity_var``, ``fraction_active``, ``fraction_saturated``.
        Per state and layer: ``activity_cv``, ``drive_gain_spearman`` (+ ``_p``),
        ``drive_lam_out_spearman`` (+ ``_p``). Per layer: ``cv_difference`` (trained - frozen), ``cv_p`` (one-sided,
        trained narrower), ``cv_p_greater``, ``verdict`` (see :func:`homeostasis_verdict`).
        With ``y``: silencing variables (``input_silenced`` as an image, costs and
        random-removal nulls, ``node_silenced`` per criterion). Attribute ``verdict``
        summarises all layers. The module docstring states what would falsify the reading.
    """
    import xarray as xr

    from ._net import as_members, initial_network, spec_of
    from ._xr import cf, provenance_attrs
    from .nodes import _image_dims

    members = as_members(net)
    if len(members) != 1:
        raise ValueError("homeostasis takes one network; loop over members for an ensemble")
    net = members[0]
    if len(net.sizes) < 3:
        raise ValueError(f"homeostasis needs at least one hidden layer, got sizes {net.sizes}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    initial = initial_network(net) if initial is None else initial
    frozen_given = frozen is not None
    frozen = frozen_eigenvalue_network(net, initial) if frozen is None else frozen
    for name, other in (("initial", initial), ("frozen", frozen)):
        if other.sizes != net.sizes:
            raise ValueError(f"{name} must have sizes {net.sizes}, got {other.sizes}")
    x = np.asarray(x)
    per_state = {s: node_activity(n, x, saturation=saturation)
                 for s, n in zip(STATES, (net, frozen, initial))}
    hidden = net.sizes[1:-1]
    n_layer, n_node = len(hidden), max(hidden)
    ds = xr.Dataset(coords={
        "state": ("state", np.array(STATES, dtype=str)),
        "layer": ("layer", np.arange(n_layer)),
        "n_hidden": ("layer", np.asarray(hidden)),
    })
    cf(ds["state"], "network state: trained, frozen (lambdas reset to initial), initial", "1")
    cf(ds["layer"], "index k of the weight layer feeding the hidden nodes", "1")
    cf(ds["n_hidden"], "hidden nodes in the layer", "1")
    for key, (long, units) in _NODE_VARS.items():
        arr = np.full((len(STATES), n_layer, n_node), np.nan)
        for s, st in enumerate(STATES):
            for k, n in enumerate(hidden):
                arr[s, k, :n] = per_state[st][k][key]
        ds[key] = cf(xr.DataArray(arr, dims=("state", "layer", "node")), long, units)
    for key, long in (
        ("activity_cv", "coefficient of variation of mean |activation| across nodes"),
        ("drive_gain_spearman", "Spearman rho of drive and gain across nodes (homeostasis: < 0)"),
        ("drive_gain_p", "two-sided p-value of drive_gain_spearman"),
        ("drive_lam_out_spearman", "Spearman rho of drive and |lam_out| across nodes"),
        ("drive_lam_out_p", "two-sided p-value of drive_lam_out_spearman"),
    ):
        arr = np.array([[per_state[st][k][key] for k in range(n_layer)] for st in STATES])
        ds[key] = cf(xr.DataArray(arr, dims=("state", "layer")), long, "1")
    tests = [cv_permutation_test(per_state["trained"][k]["activity_abs_mean"],
                                 per_state["frozen"][k]["activity_abs_mean"],
                                 n_permutations=n_permutations, seed=seed + k) for k in range(n_layer)]
    verdicts = []
    for k in range(n_layer):
        if not {"lam_in", "lam_out"} & set(net.layers[k].trainable):  # no eigenvalue trained (direct)
            verdicts.append("not applicable")
            continue
        verdicts.append(homeostasis_verdict(
            per_state["trained"][k]["drive_gain_spearman"], per_state["trained"][k]["drive_gain_p"],
            tests[k]["p_less"], tests[k]["p_greater"], alpha))
    ds["cv_difference"] = cf(xr.DataArray([t["difference"] for t in tests], dims="layer"),
                             "activity CV trained minus frozen (homeostasis: < 0)", "1")
    ds["cv_p"] = cf(xr.DataArray([t["p_less"] for t in tests], dims="layer"),
                    "one-sided permutation p-value of a narrower activity spread after training", "1")
    ds["cv_p_greater"] = cf(xr.DataArray([t["p_greater"] for t in tests], dims="layer"),
                            "one-sided permutation p-value of a wider activity spread after training", "1")
    ds["verdict"] = cf(xr.DataArray(np.array(verdicts, dtype=str), dims="layer"),
                       "homeostatic reading per layer", "1",
                       values="supported, partly supported, mixed, contradicted, inconclusive, not applicable")
    if y is not None:
        sil = silencing(net, x, y, rtol=silence_rtol, n_random=n_random, seed=seed)
        dims = _image_dims(image_shape)
        shape = tuple(image_shape) if image_shape is not None else (net.sizes[0],)
        img_dims = tuple(f"pixel_{d}" if d == "input" else d for d in dims)
        ds["input_silenced"] = cf(
            xr.DataArray(sil["input_silenced"].reshape(shape).astype(np.int8), dims=img_dims),
            f"input with |lam_in| <= {silence_rtol} max|lam_in| (1 = silenced)", "1")
        ds["input_data_std"] = cf(
            xr.DataArray(np.asarray(x, dtype=np.float64).std(axis=0).reshape(shape), dims=img_dims),
            "standard deviation of the input over the data (0: a pixel training cannot see)", "1")
        ds["baseline_accuracy"] = cf(xr.DataArray(sil["baseline_accuracy"]), "accuracy of the intact network", "1")
        for key, long in (
            ("silence_inputs_acc_drop", "accuracy lost when all silenced inputs are removed"),
            ("random_inputs_acc_drop", "mean accuracy lost when as many random inputs are removed"),
            ("random_inputs_acc_drop_std", "standard deviation of random_inputs_acc_drop over draws"),
        ):
            ds[key] = cf(xr.DataArray(sil[key]), long, "1")
        crits = SILENCING_CRITERIA
        ds = ds.assign_coords(criterion=("criterion", np.array(crits, dtype=str)))
        cf(ds["criterion"], "eigenvalue that marks a hidden node as silenced", "1")
        node_sil = np.zeros((len(crits), n_layer, n_node), dtype=np.int8)
        for c, crit in enumerate(crits):
            for k, n in enumerate(hidden):
                node_sil[c, k, :n] = sil[crit]["node_silenced"][k]
        ds["node_silenced"] = cf(xr.DataArray(node_sil, dims=("criterion", "layer", "node")),
                                 f"hidden node with |lambda| <= {silence_rtol} max|lambda| (1 = silenced)", "1")
        ds["n_silenced_inputs"] = cf(xr.DataArray(int(sil["input_silenced"].sum())), "silenced inputs", "1")
        ds["n_silenced_nodes"] = cf(xr.DataArray(node_sil.sum(axis=-1).astype(np.int64),
                                                 dims=("criterion", "layer")), "silenced hidden nodes", "1")
        for key, long in (
            ("silence_nodes_acc_drop", "accuracy lost when the layer's silenced nodes are removed"),
            ("random_nodes_acc_drop", "mean accuracy lost when as many random nodes are removed"),
            ("random_nodes_acc_drop_std", "standard deviation of random_nodes_acc_drop over draws"),
        ):
            ds[key] = cf(xr.DataArray(np.array([sil[c][key] for c in crits], dtype=float),
                                      dims=("criterion", "layer")), long, "1")
    summary = "; ".join(f"layer {k}: {v}" for k, v in enumerate(verdicts))
    ds.attrs.update(provenance_attrs(
        analysis="homeostasis",
        network=spec_of(net),
        n_eval=int(x.shape[0]),
        frozen="given by the caller" if frozen_given else "trained network with lambdas reset to initial values",
        saturation=float(saturation),
        n_permutations=int(n_permutations),
        alpha=float(alpha),
        silence_rtol=float(silence_rtol),
        n_random=int(n_random),
        seed=int(seed),
        verdict=summary,
        falsified_by="drive_gain_spearman > 0 significant, or cv_p_greater < alpha (activity spread wider "
                     "after training); not supported when neither test is significant",
    ))
    return ds


class HomeostasisRecorder(Callback):
    """Training callback recording the homeostasis quantities at chosen epochs.

    Parameters
    ----------
    x : array_like, shape (n, N_0)
        A fixed data subset (a few hundred samples suffice; it is evaluated in float64
        on the host at every recorded epoch).
    epochs : sequence of int, optional
        Epochs to record (``0`` = before training); default every epoch and 0.
    saturation : float

    Example
    -------
    >>> from spectral_physics import SpectralMLP, fit, teacher_student
    >>> data = teacher_student(n_train=500, n_test=100, n_features=20, seed=0)
    >>> net = SpectralMLP([20, 16, 10], train="eigen", seed=0)
    >>> rec = HomeostasisRecorder(data.x_test[:50])
    >>> hist = fit(net, data, epochs=2, callbacks=[rec], progress=False)
    >>> rec.to_dataset().activity_cv.sel(layer=0).sizes               # epochs 0 (before training), 1, 2
    Frozen({'epoch': 3})
    """

    def __init__(self, x, epochs=None, saturation: float = 0.9) -> None:
        self.x = np.asarray(x)
        self.epochs = None if epochs is None else {int(e) for e in epochs}
        self.saturation = saturation
        self.records: list[tuple[int, list[dict]]] = []
        self._sizes = None

    def _record(self, net, epoch: int) -> None:
        if self.epochs is None or epoch in self.epochs:
            self.records.append((epoch, node_activity(net, self.x, saturation=self.saturation)))

    def on_train_begin(self, net) -> None:
        if net.ensemble_size:
            raise ValueError("HomeostasisRecorder records a single network, not an ensemble")
        self._sizes = list(net.sizes)
        self._spec = net.config()
        self._record(net, 0)

    def on_epoch_end(self, net, epoch, record) -> None:
        self._record(net, int(epoch))

    def to_dataset(self):
        """Recorded quantities with dims ``epoch``, ``layer``, ``node``."""
        import xarray as xr

        from ._xr import cf, provenance_attrs

        if not self.records:
            raise ValueError("nothing recorded yet: pass the recorder to fit(callbacks=[...])")
        hidden = self._sizes[1:-1]
        n_layer, n_node = len(hidden), max(hidden)
        epochs = [e for e, _ in self.records]
        ds = xr.Dataset(coords={"epoch": ("epoch", np.asarray(epochs)), "layer": ("layer", np.arange(n_layer)),
                                "n_hidden": ("layer", np.asarray(hidden))})
        cf(ds["epoch"], "completed training epochs", "1")
        cf(ds["layer"], "index k of the weight layer feeding the hidden nodes", "1")
        for key in ("lam_out", "gain", "drive", "activity_abs_mean", "fraction_active"):  # per node
            arr = np.full((len(epochs), n_layer, n_node), np.nan)
            for e, (_, layers) in enumerate(self.records):
                for k, n in enumerate(hidden):
                    arr[e, k, :n] = layers[k][key]
            ds[key] = cf(xr.DataArray(arr, dims=("epoch", "layer", "node")), *_NODE_VARS[key])
        for key, long in (("activity_cv", "coefficient of variation of mean |activation| across nodes"),
                          ("drive_gain_spearman", "Spearman rho of drive and gain across nodes"),
                          ("drive_gain_p", "two-sided p-value of drive_gain_spearman"),
                          ("drive_lam_out_spearman", "Spearman rho of drive and |lam_out| across nodes")):
            arr = np.array([[layers[k][key] for k in range(n_layer)] for _, layers in self.records])
            ds[key] = cf(xr.DataArray(arr, dims=("epoch", "layer")), long, "1")
        ds.attrs.update(provenance_attrs(analysis="homeostasis-timecourse", network=self._spec,
                                         n_eval=int(self.x.shape[0]), saturation=float(self.saturation)))
        return ds
