"""Plots of one trained network's analyses: eigenvalue statistics, nodes, homeostasis, operator.

One idea: draw the Datasets of :mod:`spectral_physics.analysis.eigenstats`,
:mod:`spectral_physics.analysis.nodes`, :mod:`spectral_physics.analysis.homeostasis` and the
transfer-operator Dataset of the paper figures. Every function takes a Dataset (an
ensemble's ``seed`` dim is averaged, with standard errors as error bars) and returns a
Figure whose ``plotted`` dict holds exactly the numbers drawn (see
:mod:`spectral_physics.analysis._plotting`). Figures are built with
:class:`matplotlib.figure.Figure` (no pyplot state).
"""

from __future__ import annotations

import json

import numpy as np
from matplotlib.figure import Figure

from ._plotting import check, finish, seed_mean, seed_sem

__all__ = [
    # eigenstats
    "plot_eigen_distributions",
    "plot_weight_spectrum",
    "plot_level_statistics",
    "plot_eigenstats",
    # nodes
    "plot_node_correspondence",
    "plot_input_relevance",
    # homeostasis
    "plot_homeostasis",
    "plot_homeostasis_timecourse",
    # transfer operator
    "plot_transfer_operator",
]

SOURCE_STYLE = {
    "trained": {"color": "C0", "lw": 1.6},
    "initial": {"color": "C1", "lw": 1.2, "ls": "--"},
    "random": {"color": "0.5", "lw": 1.0, "ls": ":"},
}

_PAPER_WIDTH = 7.0  # two-column width (inches); spectral_physics.analysis.figures.TWO_COLUMN


# =====================================================================================
# eigenstats
# =====================================================================================


def _ax_density(ax, ds, name: str, layer: int) -> dict:
    edges = ds[f"{name}_edges"].sel(layer=layer).values
    drawn = {"edges": edges}
    for src in ds.source.values:
        dens = seed_mean(ds[f"{name}_density"].sel(source=src, layer=layer)).values
        if not np.isfinite(dens).any():
            continue
        ax.stairs(dens, edges, label=str(src), **SOURCE_STYLE.get(str(src), {}))
        drawn[str(src)] = dens
    ax.set_xlabel(name)
    ax.set_ylabel("density")
    ax.set_title(f"layer {layer}: {name}")
    return drawn


def _ax_esd(ax, ds, layer: int) -> dict:
    from .rmt import marchenko_pastur_pdf

    esd = ds["esd"].sel(source="trained", layer=layer)
    vals = esd.values.ravel()
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        ax.set_axis_off()
        return {}
    rnd = ds["esd"].sel(source="random", layer=layer).values.ravel()
    rnd = rnd[np.isfinite(rnd)]
    hi = max(vals.max(), rnd.max() if rnd.size else 0)
    edges = np.linspace(0, hi * 1.02, 41)
    heights, _, _ = ax.hist(vals, bins=edges, density=True, histtype="stepfilled", alpha=0.4, color="C0",
                            label="trained")
    drawn = {"edges": edges, "trained": heights}
    if rnd.size:
        drawn["random"], _, _ = ax.hist(rnd, bins=edges, density=True, histtype="step", color="0.5", label="random")
    s2 = float(seed_mean(ds["mp_sigma2_fixed_q"].sel(source="trained", layer=layer)))
    q = float(seed_mean(ds["mp_q_shape"].sel(source="trained", layer=layer)))
    if np.isfinite(s2) and np.isfinite(q):
        xs = np.linspace(0, hi * 1.02, 400)
        pdf = marchenko_pastur_pdf(xs, s2, q)
        ax.plot(xs, pdf, color="k", lw=1.2, label=f"MP fit (Q={q:.2g})")
        lam_plus = float(seed_mean(ds["mp_lambda_plus_fixed_q"].sel(source="trained", layer=layer)))
        ax.axvline(lam_plus, color="k", ls=":", lw=0.8)
        drawn["mp"] = {"x": xs, "pdf": pdf, "sigma2": s2, "q": q, "lambda_plus": lam_plus}
    ax.set_xlabel("eigenvalue of W^T W / N")
    ax.set_ylabel("density")
    ax.set_title(f"layer {layer}: weight spectrum")
    return drawn


_R_VARS = ("lam_in_r", "lam_out_r", "lambda_r", "esd_r")


def _ax_r(ax, ds, layer: int) -> dict:
    from .rmt import R_GOE, R_POISSON

    sources = [str(s) for s in ds.source.values]
    width = 0.8 / len(sources)
    x = np.arange(len(_R_VARS))
    drawn: dict = {"variables": list(_R_VARS), "references": {"poisson": R_POISSON, "goe": R_GOE}}
    for i, src in enumerate(sources):
        vals = np.array([float(seed_mean(ds[v].sel(source=src, layer=layer))) for v in _R_VARS])
        sem = [(seed_sem(ds[v].sel(source=src, layer=layer))) for v in _R_VARS]
        err = None if sem[0] is None else np.array([float(s) for s in sem])
        ax.bar(x + (i - (len(sources) - 1) / 2) * width, vals, width, yerr=err, label=src,
               color=SOURCE_STYLE.get(src, {}).get("color"))
        drawn[src] = {"mean": vals} if err is None else {"mean": vals, "sem": err}
    ax.axhline(R_POISSON, color="k", ls="--", lw=0.8)
    ax.axhline(R_GOE, color="k", ls=":", lw=0.8)
    ax.text(len(_R_VARS) - 0.5, R_POISSON, " Poisson", va="bottom", ha="right", fontsize=7)
    ax.text(len(_R_VARS) - 0.5, R_GOE, " GOE", va="bottom", ha="right", fontsize=7)
    ax.set_xticks(x, ["lam_in", "lam_out", "A", "W^T W"])
    ax.set_ylim(0, 0.75)
    ax.set_ylabel("<r>")
    ax.set_title(f"layer {layer}: spacing ratio")
    return drawn


def plot_eigen_distributions(ds) -> Figure:
    """Histograms of ``lam_in`` and ``lam_out`` per layer, trained vs initial vs random.

    ``fig.plotted``: ``{"lam_in_density" | "lam_out_density": {layer: {"edges": (bin + 1,),
    source: (bin,) seed-mean density}}}``.
    """
    check(ds, ["lam_in_density", "lam_in_edges", "lam_out_density"], "an eigenstats")
    layers = ds.layer.values
    fig = Figure(figsize=(7.0, 2.4 * len(layers)), layout="constrained")
    axes = fig.subplots(len(layers), 2, squeeze=False)
    plotted: dict = {"lam_in_density": {}, "lam_out_density": {}}
    for r, k in enumerate(layers):
        for c, name in enumerate(("lam_in", "lam_out")):
            plotted[f"{name}_density"][int(k)] = _ax_density(axes[r, c], ds, name, int(k))
    axes[0, 0].legend(fontsize=7)
    return finish(fig, plotted)


def plot_weight_spectrum(ds) -> Figure:
    """Gram spectrum of each layer's weights with its Marchenko-Pastur fit and the random null.

    ``fig.plotted``: ``{"esd": {layer: {"edges", "trained", "random" (histogram densities),
    "mp": {"x", "pdf", "sigma2", "q", "lambda_plus"}}}}`` (trained ensemble members pooled).
    """
    check(ds, ["esd", "mp_sigma2_fixed_q"], "an eigenstats")
    layers = ds.layer.values
    fig = Figure(figsize=(3.6 * len(layers), 2.8), layout="constrained")
    axes = fig.subplots(1, len(layers), squeeze=False)[0]
    plotted: dict = {"esd": {int(k): _ax_esd(ax, ds, int(k)) for ax, k in zip(axes, layers)}}
    axes[0].legend(fontsize=7)
    return finish(fig, plotted)


def plot_level_statistics(ds) -> Figure:
    """Mean spacing ratios per layer and source, with Poisson and GOE references.

    ``fig.plotted``: ``{"r": {layer: {"variables": the four <r> variables, "references":
    {"poisson", "goe"}, source: {"mean": (4,) bar heights, "sem": error bars (ensembles only)}}}``.
    """
    check(ds, list(_R_VARS), "an eigenstats")
    layers = ds.layer.values
    fig = Figure(figsize=(3.6 * len(layers), 2.8), layout="constrained")
    axes = fig.subplots(1, len(layers), squeeze=False)[0]
    plotted: dict = {"r": {int(k): _ax_r(ax, ds, int(k)) for ax, k in zip(axes, layers)}}
    axes[0].legend(fontsize=7)
    return finish(fig, plotted)


def plot_eigenstats(ds) -> Figure:
    """One overview: per layer (rows) the lam_in and lam_out densities, weight spectrum, <r>.

    ``fig.plotted``: the keys of :func:`plot_eigen_distributions`,
    :func:`plot_weight_spectrum` and :func:`plot_level_statistics` together.
    """
    check(ds, ["lam_in_density", "esd", *_R_VARS], "an eigenstats")
    layers = ds.layer.values
    fig = Figure(figsize=(13.0, 2.6 * len(layers)), layout="constrained")
    axes = fig.subplots(len(layers), 4, squeeze=False)
    plotted: dict = {"lam_in_density": {}, "lam_out_density": {}, "esd": {}, "r": {}}
    for r, k in enumerate(layers):
        k = int(k)
        plotted["lam_in_density"][k] = _ax_density(axes[r, 0], ds, "lam_in", k)
        plotted["lam_out_density"][k] = _ax_density(axes[r, 1], ds, "lam_out", k)
        plotted["esd"][k] = _ax_esd(axes[r, 2], ds, k)
        plotted["r"][k] = _ax_r(axes[r, 3], ds, k)
    axes[0, 0].legend(fontsize=7)
    axes[0, 2].legend(fontsize=7)
    return finish(fig, plotted)


# =====================================================================================
# nodes
# =====================================================================================


def plot_input_relevance(ds) -> Figure:
    """The first layer's ``lam_in`` per input pixel as an image (mean over seeds).

    ``fig.plotted``: ``{"input_relevance": (rows, cols) image, "color_limit": float}`` (the
    colour scale spans +-color_limit).
    """
    check(ds, ["input_relevance"], "a nodes")
    img = seed_mean(ds["input_relevance"])
    fig = Figure(figsize=(3.4, 3.0), layout="constrained")
    ax = fig.subplots()
    vals = img.values
    if vals.ndim == 1:
        side = int(round(np.sqrt(vals.size)))
        vals = vals.reshape(side, -1) if side * side == vals.size else vals[None, :]
    if vals.ndim == 3:
        vals = vals.mean(axis=-1) if vals.shape[-1] <= 4 else vals.mean(axis=0)
    lim = float(np.nanmax(np.abs(vals))) or 1.0
    im = ax.imshow(vals, cmap="RdBu_r", vmin=-lim, vmax=lim)
    fig.colorbar(im, ax=ax, label="lam_in")
    ax.set_title("input relevance (lam_in, layer 0)")
    ax.set_xticks([])
    ax.set_yticks([])
    return finish(fig, {"input_relevance": vals, "color_limit": lim})


def plot_node_correspondence(ds) -> Figure:
    """Per hidden layer: |lam_out| vs exact importance, rank correlations of every score;
    plus pruning curves and the input relevance map when present.

    ``fig.plotted``: ``{"scatter": {layer: {"abs_lam_out", "loss_increase"}}, "scores": list,
    "spearman": {layer: {truth: bar heights per score}}, "spearman_sem" (ensembles only),
    "pruning": {"fraction_removed", ranking: accuracy}, "input_relevance"}`` (the last two
    when the Dataset holds them).
    """
    check(ds, ["loss_increase", "node_score", "spearman"], "a nodes")
    layers = ds.layer.values
    extra = ("pruning_accuracy" in ds) + 1
    fig = Figure(figsize=(3.6 * max(2, extra + 0), 2.8 * (len(layers) + 1)), layout="constrained")
    grid = fig.subplots(len(layers) + 1, 2, squeeze=False)
    scores = [str(s) for s in ds.score.values]
    plotted: dict = {"scatter": {}, "scores": scores, "spearman": {}}
    for r, k in enumerate(layers):
        n = int(ds.n_hidden.sel(layer=k))
        ax = grid[r, 0]
        sc = ds.node_score.sel(layer=k, score="abs_lam_out")
        li = ds.loss_increase.sel(layer=k)
        xs = np.asarray(sc.values)[..., :n].ravel()
        ys = np.asarray(li.values)[..., :n].ravel()
        ax.scatter(xs, ys, s=4, alpha=0.5)
        plotted["scatter"][int(k)] = {"abs_lam_out": xs, "loss_increase": ys}
        ax.set_xlabel("|lam_out|")
        ax.set_ylabel("loss increase when removed")
        ax.set_title(f"hidden layer after weights {int(k)}")
        ax = grid[r, 1]
        plotted["spearman"][int(k)] = {}
        for t, truth in enumerate(ds.truth.values):
            rho = np.nan_to_num(seed_mean(ds.spearman.sel(layer=k, truth=truth)).values)
            sem = seed_sem(ds.spearman.sel(layer=k, truth=truth))
            err = None if sem is None else np.nan_to_num(sem.values)
            ax.bar(np.arange(len(scores)) + (t - 0.5) * 0.4, rho, 0.4, yerr=err, label=str(truth))
            plotted["spearman"][int(k)][str(truth)] = rho
            if err is not None:
                plotted.setdefault("spearman_sem", {}).setdefault(int(k), {})[str(truth)] = err
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(np.arange(len(scores)), scores, rotation=40, ha="right", fontsize=7)
        ax.set_ylim(-1, 1)
        ax.set_ylabel("Spearman rho")
        ax.legend(fontsize=7)
    ax = grid[-1, 0]
    if "pruning_accuracy" in ds:
        fr = ds.fraction_removed.values
        plotted["pruning"] = {"fraction_removed": fr}
        for rk in ds.ranking.values:
            acc = seed_mean(ds.pruning_accuracy.sel(ranking=rk)).values
            ax.plot(fr, acc, marker="o", ms=3, label=str(rk))
            plotted["pruning"][str(rk)] = acc
        ax.set_xlabel("fraction of hidden nodes removed")
        ax.set_ylabel("test accuracy")
        ax.legend(fontsize=7)
        ax.set_title("pruning (no retraining)")
    else:
        ax.set_axis_off()
    ax = grid[-1, 1]
    if "input_relevance" in ds:
        img = seed_mean(ds["input_relevance"]).values
        if img.ndim == 2:
            lim = float(np.nanmax(np.abs(img))) or 1.0
            im = ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
            fig.colorbar(im, ax=ax, label="lam_in")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title("input relevance")
        else:
            img = img.ravel() if img.ndim else np.asarray([img])
            ax.plot(img)
            ax.set_xlabel("input")
            ax.set_ylabel("lam_in")
        plotted["input_relevance"] = img
    return finish(fig, plotted)


# =====================================================================================
# homeostasis
# =====================================================================================


def plot_homeostasis(ds) -> Figure:
    """Per hidden layer: drive vs gain (trained and initial), distribution of mean
    activity trained vs frozen, and activity CV per state with the verdict.

    ``fig.plotted``: ``{"drive_gain": {layer: {state: {"drive", "gain", "spearman"}}},
    "activity": {layer: {"edges", state: node counts}}, "cv": {layer: {"states", "cv",
    "p", "verdict"}}}``.
    """
    check(ds, ["drive", "gain", "activity_abs_mean", "activity_cv"], "a homeostasis")
    layers = ds.layer.values
    fig = Figure(figsize=(11.0, 2.9 * len(layers)), layout="constrained")
    axes = fig.subplots(len(layers), 3, squeeze=False)
    plotted: dict = {"drive_gain": {}, "activity": {}, "cv": {}}
    for r, k in enumerate(layers):
        n = int(ds.n_hidden.sel(layer=k))
        ax = axes[r, 0]
        plotted["drive_gain"][int(k)] = {}
        for st, style in (("initial", {"color": "C1", "alpha": 0.4}), ("trained", {"color": "C0", "alpha": 0.7})):
            d = ds.drive.sel(state=st, layer=k).values[:n]
            g = ds.gain.sel(state=st, layer=k).values[:n]
            rho = float(ds.drive_gain_spearman.sel(state=st, layer=k))
            ax.scatter(d, g, s=5, label=f"{st} (rho={rho:.2f})", **style)
            plotted["drive_gain"][int(k)][st] = {"drive": d, "gain": g, "spearman": rho}
        ax.set_xlabel("drive <|phi_i . x|>")
        ax.set_ylabel("gain |g| (slope of z - b on phi . x)")
        ax.set_title(f"hidden layer after weights {int(k)}")
        ax.legend(fontsize=7)
        ax = axes[r, 1]
        vals = {st: ds.activity_abs_mean.sel(state=st, layer=k).values[:n] for st in ("trained", "frozen")}
        allv = np.concatenate(list(vals.values()))
        allv = allv[np.isfinite(allv)]
        edges = np.linspace(0, allv.max() * 1.02 if allv.size and allv.max() > 0 else 1.0, 31)
        plotted["activity"][int(k)] = {"edges": edges}
        for st, color in (("frozen", "C1"), ("trained", "C0")):
            counts, _, _ = ax.hist(vals[st], bins=edges, histtype="step", color=color, label=st)
            plotted["activity"][int(k)][st] = counts
        ax.set_xlabel("mean |activation| per node")
        ax.set_ylabel("nodes")
        ax.legend(fontsize=7)
        ax = axes[r, 2]
        states = [str(s) for s in ds.state.values]
        cv = ds.activity_cv.sel(layer=k).values
        ax.bar(states, cv, color=["C0", "C1", "0.6"][: len(states)])
        verdict = str(ds.verdict.sel(layer=k).values) if "verdict" in ds else ""
        p = float(ds.cv_p.sel(layer=k)) if "cv_p" in ds else float("nan")
        ax.set_title(f"activity CV (p={p:.2g}): {verdict}", fontsize=9)
        ax.set_ylabel("CV across nodes")
        plotted["cv"][int(k)] = {"states": states, "cv": cv, "p": p, "verdict": verdict}
    return finish(fig, plotted)


def plot_homeostasis_timecourse(ds) -> Figure:
    """Activity CV and drive-gain correlation against epoch (from :class:`HomeostasisRecorder`).

    ``fig.plotted``: ``{"epoch": (epoch,), "cv": {layer: (epoch,)}, "rho": {layer: (epoch,)}}``.
    """
    check(ds, ["activity_cv", "drive_gain_spearman", "epoch"], "a homeostasis time-course")
    fig = Figure(figsize=(7.0, 2.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ep = ds.epoch.values
    plotted: dict = {"epoch": ep, "cv": {}, "rho": {}}
    for k in ds.layer.values:
        cv = ds.activity_cv.sel(layer=k).values
        rho = ds.drive_gain_spearman.sel(layer=k).values
        ax1.plot(ep, cv, marker="o", ms=3, label=f"layer {int(k)}")
        ax2.plot(ep, rho, marker="o", ms=3, label=f"layer {int(k)}")
        plotted["cv"][int(k)], plotted["rho"][int(k)] = cv, rho
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("activity CV across nodes")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("Spearman rho(drive, gain)")
    ax2.axhline(0, color="k", lw=0.6)
    ax1.legend(fontsize=7)
    return finish(fig, plotted)


# =====================================================================================
# transfer operator
# =====================================================================================


def plot_transfer_operator(ds) -> Figure:
    """Numeric transfer operator of a small network next to the symbolic form of one layer.

    ``ds``: ``operator`` (row, col), the network's block lower-bidiagonal operator
    (float), coordinate or attribute ``group_sizes`` (nodes per layer, JSON list) and
    attributes ``symbolic_A`` (JSON list of lists of mathtext strings, the operator
    ``A`` of one small layer), ``symbolic_title`` and optionally ``symbolic_weight``
    (the weight formula). Left: the numbers as an image (diverging colour map, layer
    blocks outlined); right: the symbolic entries rendered with mathtext (no LaTeX).

    ``fig.plotted``: ``{"operator": (row, col), "symbolic": list of lists of str,
    "group_sizes": list of int}``.
    """
    check(ds, ["operator"], "a transfer-operator")
    A = np.asarray(ds.operator.values, dtype=float)
    groups = json.loads(ds.attrs["group_sizes"]) if isinstance(ds.attrs.get("group_sizes"), str) else \
        list(ds.attrs.get("group_sizes", []))
    sym = json.loads(ds.attrs["symbolic_A"])
    fig = Figure(figsize=(_PAPER_WIDTH, 3.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1, 1.25])
    lim = float(np.nanmax(np.abs(A))) or 1.0
    im = ax1.imshow(A, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    edges = np.cumsum([0, *groups]) - 0.5
    for e in edges[1:-1]:
        ax1.axhline(e, color="0.3", lw=0.5)
        ax1.axvline(e, color="0.3", lw=0.5)
    from matplotlib.ticker import MaxNLocator

    for axis in (ax1.xaxis, ax1.yaxis):
        axis.set_major_locator(MaxNLocator(integer=True))  # node indices
    ax1.set_xlabel("node j (source)")
    ax1.set_ylabel("node i (target)")
    sizes = "-".join(str(g) for g in groups)
    ax1.set_title(f"(a) network operator, sizes {sizes}")
    fig.colorbar(im, ax=ax1, label="$A_{ij}$ (1)", shrink=0.85)
    n = len(sym)
    ax2.set_xlim(-0.5, n - 0.5)
    ax2.set_ylim(n - 0.5, -0.5)
    for i, row in enumerate(sym):
        for j, entry in enumerate(row):
            ax2.text(j, i, f"${entry}$", ha="center", va="center", fontsize=8 if len(entry) < 40 else 7)
    for e in (float(ds.attrs.get("symbolic_n_in", n // 2)) - 0.5,):
        ax2.axhline(e, color="0.6", lw=0.5)
        ax2.axvline(e, color="0.6", lw=0.5)
    ax2.set_xticks([])
    ax2.set_yticks([])
    for side in ("left", "bottom"):
        ax2.spines[side].set_visible(False)
    ax2.set_title(ds.attrs.get("symbolic_title", "(b) symbolic operator"))
    if ds.attrs.get("symbolic_weight"):
        ax2.set_xlabel(f"${ds.attrs['symbolic_weight']}$", fontsize=8)
    return finish(fig, {"operator": A, "symbolic": sym, "group_sizes": groups})
