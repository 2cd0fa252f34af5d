"""Figures for the analysis Datasets. Every function takes a Dataset and returns a Figure.

Nothing here computes statistics: the numbers drawn are read from the Dataset, so tests
check a figure by comparing its artists' data with the Dataset's variables. Figures are
built with :class:`matplotlib.figure.Figure` (no pyplot state); save them with
``fig.savefig(path)``.

One section per analysis; add new sections below the existing ones.

Example
-------
>>> from spectral_physics import SpectralMLP
>>> from spectral_physics.analysis.eigenstats import eigenstats
>>> from spectral_physics.analysis.plots import plot_eigenstats
>>> fig = plot_eigenstats(eigenstats(SpectralMLP([20, 16, 3], train="eigen", init="paper")))
>>> fig.savefig("eigenstats.png")                                    # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

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
]

SOURCE_STYLE = {
    "trained": {"color": "C0", "lw": 1.6},
    "initial": {"color": "C1", "lw": 1.2, "ls": "--"},
    "random": {"color": "0.5", "lw": 1.0, "ls": ":"},
}


def _seed_mean(da):
    """Mean over ``seed`` when the Dataset is an ensemble (NaN-aware)."""
    return da.mean("seed", skipna=True) if "seed" in da.dims else da


def _seed_sem(da):
    if "seed" not in da.dims or da.sizes["seed"] < 2:
        return None
    return da.std("seed", ddof=1, skipna=True) / np.sqrt(da.sizes["seed"])


def _check(ds, names, what):
    missing = [n for n in names if n not in ds]
    if missing:
        raise ValueError(f"ds is not {what} Dataset: missing {missing}")


# =====================================================================================
# eigenstats
# =====================================================================================


def _ax_density(ax, ds, name: str, layer: int) -> None:
    edges = ds[f"{name}_edges"].sel(layer=layer).values
    for src in ds.source.values:
        dens = _seed_mean(ds[f"{name}_density"].sel(source=src, layer=layer)).values
        if not np.isfinite(dens).any():
            continue
        ax.stairs(dens, edges, label=str(src), gid=f"{name}_density/{layer}/{src}", **SOURCE_STYLE.get(str(src), {}))
    ax.set_xlabel(name)
    ax.set_ylabel("density")
    ax.set_title(f"layer {layer}: {name}")


def _ax_esd(ax, ds, layer: int) -> None:
    from .eigenstats import marchenko_pastur_pdf

    esd = ds["esd"].sel(source="trained", layer=layer)
    vals = esd.values.ravel()
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        ax.set_axis_off()
        return
    rnd = ds["esd"].sel(source="random", layer=layer).values.ravel()
    rnd = rnd[np.isfinite(rnd)]
    hi = max(vals.max(), rnd.max() if rnd.size else 0)
    edges = np.linspace(0, hi * 1.02, 41)
    ax.hist(vals, bins=edges, density=True, histtype="stepfilled", alpha=0.4, color="C0", label="trained",
            gid=f"esd/{layer}/trained")
    if rnd.size:
        ax.hist(rnd, bins=edges, density=True, histtype="step", color="0.5", label="random", gid=f"esd/{layer}/random")
    s2 = float(_seed_mean(ds["mp_sigma2_fixed_q"].sel(source="trained", layer=layer)))
    q = float(_seed_mean(ds["mp_q_shape"].sel(source="trained", layer=layer)))
    if np.isfinite(s2) and np.isfinite(q):
        xs = np.linspace(0, hi * 1.02, 400)
        ax.plot(xs, marchenko_pastur_pdf(xs, s2, q), color="k", lw=1.2, label=f"MP fit (Q={q:.2g})",
                gid=f"esd/{layer}/mp")
        ax.axvline(float(_seed_mean(ds["mp_lambda_plus_fixed_q"].sel(source="trained", layer=layer))),
                   color="k", ls=":", lw=0.8)
    ax.set_xlabel("eigenvalue of W^T W / N")
    ax.set_ylabel("density")
    ax.set_title(f"layer {layer}: weight spectrum")


_R_VARS = ("lam_in_r", "lam_out_r", "lambda_r", "esd_r")


def _ax_r(ax, ds, layer: int) -> None:
    from .eigenstats import R_GOE, R_POISSON

    sources = [str(s) for s in ds.source.values]
    width = 0.8 / len(sources)
    x = np.arange(len(_R_VARS))
    for i, src in enumerate(sources):
        vals = np.array([float(_seed_mean(ds[v].sel(source=src, layer=layer))) for v in _R_VARS])
        sem = [(_seed_sem(ds[v].sel(source=src, layer=layer))) for v in _R_VARS]
        err = None if sem[0] is None else np.array([float(s) for s in sem])
        ax.bar(x + (i - (len(sources) - 1) / 2) * width, vals, width, yerr=err, label=src,
               color=SOURCE_STYLE.get(src, {}).get("color"), gid=f"r/{layer}/{src}")
    ax.axhline(R_POISSON, color="k", ls="--", lw=0.8)
    ax.axhline(R_GOE, color="k", ls=":", lw=0.8)
    ax.text(len(_R_VARS) - 0.5, R_POISSON, " Poisson", va="bottom", ha="right", fontsize=7)
    ax.text(len(_R_VARS) - 0.5, R_GOE, " GOE", va="bottom", ha="right", fontsize=7)
    ax.set_xticks(x, ["lam_in", "lam_out", "A", "W^T W"])
    ax.set_ylim(0, 0.75)
    ax.set_ylabel("<r>")
    ax.set_title(f"layer {layer}: spacing ratio")


def plot_eigen_distributions(ds) -> Figure:
    """Histograms of ``lam_in`` and ``lam_out`` per layer, trained vs initial vs random."""
    _check(ds, ["lam_in_density", "lam_in_edges", "lam_out_density"], "an eigenstats")
    layers = ds.layer.values
    fig = Figure(figsize=(7.0, 2.4 * len(layers)), layout="constrained")
    axes = fig.subplots(len(layers), 2, squeeze=False)
    for r, k in enumerate(layers):
        for c, name in enumerate(("lam_in", "lam_out")):
            _ax_density(axes[r, c], ds, name, int(k))
    axes[0, 0].legend(fontsize=7)
    return fig


def plot_weight_spectrum(ds) -> Figure:
    """Gram spectrum of each layer's weights with its Marchenko-Pastur fit and the random null."""
    _check(ds, ["esd", "mp_sigma2_fixed_q"], "an eigenstats")
    layers = ds.layer.values
    fig = Figure(figsize=(3.6 * len(layers), 2.8), layout="constrained")
    axes = fig.subplots(1, len(layers), squeeze=False)[0]
    for ax, k in zip(axes, layers):
        _ax_esd(ax, ds, int(k))
    axes[0].legend(fontsize=7)
    return fig


def plot_level_statistics(ds) -> Figure:
    """Mean spacing ratios per layer and source, with Poisson and GOE references."""
    _check(ds, list(_R_VARS), "an eigenstats")
    layers = ds.layer.values
    fig = Figure(figsize=(3.6 * len(layers), 2.8), layout="constrained")
    axes = fig.subplots(1, len(layers), squeeze=False)[0]
    for ax, k in zip(axes, layers):
        _ax_r(ax, ds, int(k))
    axes[0].legend(fontsize=7)
    return fig


def plot_eigenstats(ds) -> Figure:
    """One overview: per layer (rows) the lam_in and lam_out densities, weight spectrum, <r>."""
    _check(ds, ["lam_in_density", "esd", *_R_VARS], "an eigenstats")
    layers = ds.layer.values
    fig = Figure(figsize=(13.0, 2.6 * len(layers)), layout="constrained")
    axes = fig.subplots(len(layers), 4, squeeze=False)
    for r, k in enumerate(layers):
        _ax_density(axes[r, 0], ds, "lam_in", int(k))
        _ax_density(axes[r, 1], ds, "lam_out", int(k))
        _ax_esd(axes[r, 2], ds, int(k))
        _ax_r(axes[r, 3], ds, int(k))
    axes[0, 0].legend(fontsize=7)
    axes[0, 2].legend(fontsize=7)
    return fig


# =====================================================================================
# nodes
# =====================================================================================


def plot_input_relevance(ds) -> Figure:
    """The first layer's ``lam_in`` per input pixel as an image (mean over seeds)."""
    _check(ds, ["input_relevance"], "a nodes")
    img = _seed_mean(ds["input_relevance"])
    fig = Figure(figsize=(3.4, 3.0), layout="constrained")
    ax = fig.subplots()
    vals = img.values
    if vals.ndim == 1:
        side = int(round(np.sqrt(vals.size)))
        vals = vals.reshape(side, -1) if side * side == vals.size else vals[None, :]
    if vals.ndim == 3:
        vals = vals.mean(axis=-1) if vals.shape[-1] <= 4 else vals.mean(axis=0)
    lim = float(np.nanmax(np.abs(vals))) or 1.0
    im = ax.imshow(vals, cmap="RdBu_r", vmin=-lim, vmax=lim, gid="input_relevance")
    fig.colorbar(im, ax=ax, label="lam_in")
    ax.set_title("input relevance (lam_in, layer 0)")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def plot_node_correspondence(ds) -> Figure:
    """Per hidden layer: |lam_out| vs exact importance, rank correlations of every score;
    plus pruning curves and the input relevance map when present."""
    _check(ds, ["loss_increase", "node_score", "spearman"], "a nodes")
    layers = ds.layer.values
    extra = ("pruning_accuracy" in ds) + 1
    fig = Figure(figsize=(3.6 * max(2, extra + 0), 2.8 * (len(layers) + 1)), layout="constrained")
    grid = fig.subplots(len(layers) + 1, 2, squeeze=False)
    for r, k in enumerate(layers):
        n = int(ds.n_hidden.sel(layer=k))
        ax = grid[r, 0]
        sc = ds.node_score.sel(layer=k, score="abs_lam_out")
        li = ds.loss_increase.sel(layer=k)
        xs = np.asarray(sc.values)[..., :n].ravel()
        ys = np.asarray(li.values)[..., :n].ravel()
        ax.scatter(xs, ys, s=4, alpha=0.5, gid=f"scatter/{int(k)}")
        ax.set_xlabel("|lam_out|")
        ax.set_ylabel("loss increase when removed")
        ax.set_title(f"hidden layer after weights {int(k)}")
        ax = grid[r, 1]
        scores = [str(s) for s in ds.score.values]
        for t, truth in enumerate(ds.truth.values):
            rho = _seed_mean(ds.spearman.sel(layer=k, truth=truth)).values
            sem = _seed_sem(ds.spearman.sel(layer=k, truth=truth))
            ax.bar(np.arange(len(scores)) + (t - 0.5) * 0.4, np.nan_to_num(rho), 0.4,
                   yerr=None if sem is None else np.nan_to_num(sem.values), label=str(truth),
                   gid=f"spearman/{int(k)}/{truth}")
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(np.arange(len(scores)), scores, rotation=40, ha="right", fontsize=7)
        ax.set_ylim(-1, 1)
        ax.set_ylabel("Spearman rho")
        ax.legend(fontsize=7)
    ax = grid[-1, 0]
    if "pruning_accuracy" in ds:
        fr = ds.fraction_removed.values
        for rk in ds.ranking.values:
            acc = _seed_mean(ds.pruning_accuracy.sel(ranking=rk)).values
            ax.plot(fr, acc, marker="o", ms=3, label=str(rk), gid=f"pruning/{rk}")
        ax.set_xlabel("fraction of hidden nodes removed")
        ax.set_ylabel("test accuracy")
        ax.legend(fontsize=7)
        ax.set_title("pruning (no retraining)")
    else:
        ax.set_axis_off()
    ax = grid[-1, 1]
    if "input_relevance" in ds:
        img = _seed_mean(ds["input_relevance"]).values
        if img.ndim == 2:
            lim = float(np.nanmax(np.abs(img))) or 1.0
            im = ax.imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim, gid="input_relevance")
            fig.colorbar(im, ax=ax, label="lam_in")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title("input relevance")
        else:
            ax.plot(img.ravel() if img.ndim else [img], gid="input_relevance")
            ax.set_xlabel("input")
            ax.set_ylabel("lam_in")
    return fig


# =====================================================================================
# homeostasis
# =====================================================================================


def plot_homeostasis(ds) -> Figure:
    """Per hidden layer: drive vs gain (trained and initial), distribution of mean
    activity trained vs frozen, and activity CV per state with the verdict."""
    _check(ds, ["drive", "gain", "activity_abs_mean", "activity_cv"], "a homeostasis")
    layers = ds.layer.values
    fig = Figure(figsize=(11.0, 2.9 * len(layers)), layout="constrained")
    axes = fig.subplots(len(layers), 3, squeeze=False)
    for r, k in enumerate(layers):
        n = int(ds.n_hidden.sel(layer=k))
        ax = axes[r, 0]
        for st, style in (("initial", {"color": "C1", "alpha": 0.4}), ("trained", {"color": "C0", "alpha": 0.7})):
            d = ds.drive.sel(state=st, layer=k).values[:n]
            g = ds.gain.sel(state=st, layer=k).values[:n]
            rho = float(ds.drive_gain_spearman.sel(state=st, layer=k))
            ax.scatter(d, g, s=5, label=f"{st} (rho={rho:.2f})", gid=f"drive_gain/{int(k)}/{st}", **style)
        ax.set_xlabel("drive <|phi_i . x|>")
        ax.set_ylabel("gain |g| (slope of z - b on phi . x)")
        ax.set_title(f"hidden layer after weights {int(k)}")
        ax.legend(fontsize=7)
        ax = axes[r, 1]
        vals = {st: ds.activity_abs_mean.sel(state=st, layer=k).values[:n] for st in ("trained", "frozen")}
        allv = np.concatenate(list(vals.values()))
        allv = allv[np.isfinite(allv)]
        edges = np.linspace(0, allv.max() * 1.02 if allv.size and allv.max() > 0 else 1.0, 31)
        for st, color in (("frozen", "C1"), ("trained", "C0")):
            ax.hist(vals[st], bins=edges, histtype="step", color=color, label=st, gid=f"activity/{int(k)}/{st}")
        ax.set_xlabel("mean |activation| per node")
        ax.set_ylabel("nodes")
        ax.legend(fontsize=7)
        ax = axes[r, 2]
        states = [str(s) for s in ds.state.values]
        cv = ds.activity_cv.sel(layer=k).values
        ax.bar(states, cv, color=["C0", "C1", "0.6"][: len(states)], gid=f"cv/{int(k)}")
        verdict = str(ds.verdict.sel(layer=k).values) if "verdict" in ds else ""
        p = float(ds.cv_p.sel(layer=k)) if "cv_p" in ds else float("nan")
        ax.set_title(f"activity CV (p={p:.2g}): {verdict}", fontsize=9)
        ax.set_ylabel("CV across nodes")
    return fig


def plot_homeostasis_timecourse(ds) -> Figure:
    """Activity CV and drive-gain correlation against epoch (from :class:`HomeostasisRecorder`)."""
    _check(ds, ["activity_cv", "drive_gain_spearman", "epoch"], "a homeostasis time-course")
    fig = Figure(figsize=(7.0, 2.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    ep = ds.epoch.values
    for k in ds.layer.values:
        ax1.plot(ep, ds.activity_cv.sel(layer=k).values, marker="o", ms=3, label=f"layer {int(k)}",
                 gid=f"cv/{int(k)}")
        ax2.plot(ep, ds.drive_gain_spearman.sel(layer=k).values, marker="o", ms=3, label=f"layer {int(k)}",
                 gid=f"rho/{int(k)}")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("activity CV across nodes")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("Spearman rho(drive, gain)")
    ax2.axhline(0, color="k", lw=0.6)
    ax1.legend(fontsize=7)
    return fig


# =====================================================================================
# paper figures (issue 8): accuracy vs hidden size, pruning curves, sparse training,
# NTT wirings, transfer-operator structure (the phase diagram is plot_sweep, below).
# Each function stores the numbers it draws in ``fig.plotted`` (nested dict of arrays)
# so tests compare them with the Dataset instead of reading pixels.
# =====================================================================================

__all__ += [
    "plot_accuracy_vs_hidden",
    "plot_pruning_curves",
    "plot_sparse_vs_direct",
    "plot_ntt_comparison",
    "plot_transfer_operator",
]

_PAPER_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_PAPER_WIDTH = 7.0  # two-column width (inches); spectral_physics.analysis.figures.TWO_COLUMN
_DATA_LABELS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}


def _mean_sem(da):
    """Seed mean and standard error as numpy arrays (sem is zeros for a single seed)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN points (diverged) stay NaN
        mean = _seed_mean(da).values.astype(float)
        sem = _seed_sem(da)
    sem = np.zeros_like(mean) if sem is None else np.nan_to_num(sem.values.astype(float))
    return mean, sem


def _line_band(ax, x, mean, sem, *, label, color=None, marker="o", ls="-", gid=None):
    line = ax.plot(x, mean, marker=marker, ls=ls, label=label, color=color, gid=gid)[0]
    if np.any(sem > 0):
        ax.fill_between(x, mean - sem, mean + sem, color=line.get_color(), alpha=0.2, lw=0)
    return line


def _log_ticks(ax, values, axis: str = "x") -> None:
    """Log axis labelled at the data values (plain numbers, no minor tick labels)."""
    from matplotlib.ticker import NullFormatter, NullLocator

    vals = np.unique(np.asarray(values, dtype=float)[np.isfinite(values)])
    getattr(ax, f"set_{axis}scale")("log")
    getattr(ax, f"set_{axis}ticks")(vals, [f"{v:g}" for v in vals])
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_minor_locator(NullLocator())
    target.set_minor_formatter(NullFormatter())


def _squeeze_extra(ds, keep):
    extra = [d for d in ds.dims if d not in keep]
    big = [d for d in extra if ds.sizes[d] > 1]
    if big:
        raise ValueError(f"select one value of {big} first, e.g. ds.sel({big[0]}=...)")
    return ds.squeeze(extra, drop=True) if extra else ds


def plot_accuracy_vs_hidden(ds) -> Figure:
    """Accuracy versus hidden size per preset, and relative accuracy versus the
    trainable-parameter ratio (sweep Dataset of :func:`spectral_physics.analysis.phase.assemble`).

    Left: seed-mean test accuracy against the hidden-layer size, one line per preset,
    band = standard error over seeds. Right: accuracy relative to ``direct`` at the same
    size and seed against ``n_trainable / n_trainable(direct)``.
    """
    _check(ds, ["test_accuracy", "relative_accuracy", "trainable_ratio"], "a sweep")
    for d in ("train", "hidden"):
        if d not in ds.dims:
            raise ValueError(f"ds must have a {d!r} dim (a sweep over presets and hidden sizes)")
    ds = _squeeze_extra(ds, ("train", "hidden", "seed"))
    hidden = np.asarray(ds.hidden.values, dtype=float)
    order = np.argsort(hidden)
    fig = Figure(figsize=(_PAPER_WIDTH, 2.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    plotted = {"hidden": hidden[order], "accuracy": {}, "accuracy_sem": {}, "ratio": {}, "relative": {},
               "relative_sem": {}}
    for i, tr in enumerate(ds.train.values):
        tr = str(tr)
        mk = _PAPER_MARKERS[i % len(_PAPER_MARKERS)]
        acc = ds.test_accuracy.sel(train=tr).transpose("hidden", ...)
        m, s = _mean_sem(acc)
        _line_band(ax1, hidden[order], m[order], s[order], label=tr, marker=mk, color=f"C{i}", gid=f"acc/{tr}")
        rel = ds.relative_accuracy.sel(train=tr).transpose("hidden", ...)
        rm, rs = _mean_sem(rel)
        ratio = ds.trainable_ratio.sel(train=tr).values.astype(float)
        ax2.errorbar(ratio[order], rm[order], yerr=rs[order], marker=mk, ls="-", color=f"C{i}", label=tr,
                     gid=f"rel/{tr}")
        plotted["accuracy"][tr], plotted["accuracy_sem"][tr] = m[order], s[order]
        plotted["ratio"][tr], plotted["relative"][tr], plotted["relative_sem"][tr] = ratio[order], rm[order], \
            rs[order]
    _log_ticks(ax1, hidden)
    ax1.set_xlabel("hidden nodes $N_h$")
    ax1.set_ylabel("test accuracy")
    ax1.set_title("(a) accuracy vs hidden size")
    # below the panels: at column width no corner of the data is reliably empty
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncol=len(ds.train), title=None)
    ax2.set_xscale("log")
    ax2.axhline(1.0, color="0.4", lw=0.6, ls=":")
    ax2.set_xlabel("trainable parameters / direct")
    ax2.set_ylabel("accuracy / direct accuracy")
    ax2.set_title("(b) relative accuracy vs compression")
    fig.plotted = plotted
    return fig


def plot_pruning_curves(ds) -> Figure:
    """Node-pruning curves, one panel per data set.

    ``ds`` holds ``post_accuracy`` (dataset, curve, fraction_removed, seed): accuracy after
    removing hidden nodes without retraining, one ``curve`` per trained preset and ranking
    (e.g. ``"spectral: eigenvalue"``); optionally ``filter_accuracy`` (dataset,
    filter_curve, filter_fraction, filter_seed): the pre-training filter (train
    eigenvalues, prune, retrain the survivors). Lines: seed means; bands and error bars:
    standard error over seeds.
    """
    _check(ds, ["post_accuracy"], "a pruning-curves")
    names = [str(v) for v in ds.dataset.values]
    fig = Figure(figsize=(_PAPER_WIDTH, 2.7), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False, sharey=True)[0]
    fr = ds.fraction_removed.values.astype(float)
    plotted = {"fraction_removed": fr, "post": {}, "filter": {}}
    styles = {"eigenvalue": "-", "connectivity": "--", "random": ":"}
    for ax, name in zip(axes, names):
        plotted["post"][name], plotted["filter"][name] = {}, {}
        for i, curve in enumerate(ds.curve.values):
            curve = str(curve)
            m, s = _mean_sem(ds.post_accuracy.sel(dataset=name, curve=curve).transpose("fraction_removed", ...))
            if not np.isfinite(m).any():
                continue
            # direct-trained curves dash-dotted, so equal rankings of two presets stay apart
            ls = "-." if curve.startswith("direct") else styles.get(curve.split(": ")[-1], "-")
            _line_band(ax, fr, m, s, label=curve, color=f"C{i}", marker=None, ls=ls, gid=f"post/{name}/{curve}")
            plotted["post"][name][curve] = m
        if "filter_accuracy" in ds:
            ffr = ds.filter_fraction.values.astype(float)
            n_post = ds.sizes["curve"]
            for j, curve in enumerate(ds.filter_curve.values):
                curve = str(curve)
                fa = ds.filter_accuracy.sel(dataset=name, filter_curve=curve)
                if "filter_seed" in fa.dims:
                    fa = fa.rename(filter_seed="seed")
                m, s = _mean_sem(fa.transpose("filter_fraction", ...))
                ax.errorbar(ffr, m, yerr=s, marker=_PAPER_MARKERS[j + 1], ls="none", ms=4,
                            color=f"C{n_post + j}", label=curve, gid=f"filter/{name}/{curve}")
                plotted["filter"][name][curve] = m
        ax.set_title(_DATA_LABELS.get(name, name))
        ax.set_xlabel("fraction of hidden nodes removed")
        ax.set_xlim(0, 1)
    axes[0].set_ylabel("test accuracy")
    axes[0].legend(loc="lower left", fontsize=6)
    fig.plotted = plotted
    return fig


def plot_sparse_vs_direct(ds) -> Figure:
    """Sparse spectral versus sparse direct training against density, with topology turnover.

    ``ds``: dims (density, train, epoch, seed) with ``test_accuracy`` and
    ``mask_step_flips`` (mask entries changed between steps, summed over the epoch) and
    the attribute or variable ``n_weights`` (weights in all layers). Left: final-epoch test
    accuracy against the fraction of weights kept. Right: mask entries flipped per epoch
    as a fraction of all weights, averaged over epochs (0 means a frozen topology).
    """
    _check(ds, ["test_accuracy", "mask_step_flips"], "a sparse-training")
    ds = _squeeze_extra(ds, ("density", "train", "epoch", "seed"))
    n_w = float(ds["n_weights"]) if "n_weights" in ds else float(ds.attrs["n_weights"])
    dens = ds.density.values.astype(float)
    order = np.argsort(dens)
    fig = Figure(figsize=(_PAPER_WIDTH, 2.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    plotted = {"density": dens[order], "accuracy": {}, "turnover": {}}
    for i, tr in enumerate(ds.train.values):
        tr = str(tr)
        acc = ds.test_accuracy.sel(train=tr).isel(epoch=-1).transpose("density", ...)
        m, s = _mean_sem(acc)
        ax1.errorbar(dens[order], m[order], yerr=s[order], marker=_PAPER_MARKERS[i], color=f"C{i}", label=tr,
                     gid=f"acc/{tr}")
        flips = (ds.mask_step_flips.sel(train=tr).mean("epoch") / n_w).transpose("density", ...)
        fm, fs = _mean_sem(flips)
        keep = dens[order] < 1  # a dense network has no mask to turn over
        ax2.errorbar(dens[order][keep], fm[order][keep], yerr=fs[order][keep], marker=_PAPER_MARKERS[i],
                     color=f"C{i}", label=tr, gid=f"turnover/{tr}")
        plotted["accuracy"][tr], plotted["turnover"][tr] = m[order], fm[order]
    for ax in (ax1, ax2):
        _log_ticks(ax, dens)
        ax.set_xlabel("fraction of weights kept")
    ax1.set_ylabel("test accuracy (final epoch)")
    ax1.set_title("(a) accuracy vs density")
    ax1.legend(title="trained", loc="lower right")
    ax2.set_ylabel("mask flips per epoch / weights")
    ax2.set_title("(b) topology turnover")
    fig.plotted = plotted
    return fig


def plot_ntt_comparison(ds) -> Figure:
    """Test accuracy versus density for NTT and the baseline wirings, one panel per data set.

    ``ds``: ``test_accuracy`` (dataset, wiring, density, seed) as written by
    ``benchmarks/ntt_comparison.py``; the ``dense`` wiring is drawn as a horizontal line.
    """
    _check(ds, ["test_accuracy"], "an NTT-comparison")
    names = [str(v) for v in ds.dataset.values]
    dens = ds.density.values.astype(float)
    order = np.argsort(dens)
    fig = Figure(figsize=(_PAPER_WIDTH if len(names) > 1 else 3.6, 2.7), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False, sharey=True)[0]
    plotted = {"density": dens[order], "accuracy": {}}
    for ax, name in zip(axes, names):
        plotted["accuracy"][name] = {}
        for i, w in enumerate(ds.wiring.values):
            w = str(w)
            m, s = _mean_sem(ds.test_accuracy.sel(dataset=name, wiring=w).transpose("density", ...))
            plotted["accuracy"][name][w] = m[order]
            if w == "dense":
                v = float(np.nanmean(m))
                ax.axhline(v, color="k", lw=0.8, ls="--", label="dense", gid=f"{name}/dense")
                continue
            ax.errorbar(dens[order], m[order], yerr=s[order], marker=_PAPER_MARKERS[i % len(_PAPER_MARKERS)],
                        color=f"C{i}", label=w, gid=f"{name}/{w}")
        _log_ticks(ax, dens)
        ax.set_xlabel("fraction of weights kept")
        ax.set_title(_DATA_LABELS.get(name, name))
    axes[0].set_ylabel("test accuracy")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", fontsize=6,
               ncol=4 if len(names) == 1 else 7)
    fig.plotted = plotted
    return fig


def plot_transfer_operator(ds) -> Figure:
    """Numeric transfer operator of a small network next to the symbolic form of one layer.

    ``ds``: ``operator`` (row, col), the network's block lower-bidiagonal operator
    (float), coordinate or attribute ``group_sizes`` (nodes per layer, JSON list) and
    attributes ``symbolic_A`` (JSON list of lists of mathtext strings, the operator
    ``A`` of one small layer), ``symbolic_title`` and optionally ``symbolic_weight``
    (the weight formula). Left: the numbers as an image (diverging colour map, layer
    blocks outlined); right: the symbolic entries rendered with mathtext (no LaTeX).
    """
    import json

    _check(ds, ["operator"], "a transfer-operator")
    A = np.asarray(ds.operator.values, dtype=float)
    groups = json.loads(ds.attrs["group_sizes"]) if isinstance(ds.attrs.get("group_sizes"), str) else \
        list(ds.attrs.get("group_sizes", []))
    sym = json.loads(ds.attrs["symbolic_A"])
    fig = Figure(figsize=(_PAPER_WIDTH, 3.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1, 1.25])
    lim = float(np.nanmax(np.abs(A))) or 1.0
    im = ax1.imshow(A, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest", gid="operator")
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
    fig.plotted = {"operator": A, "symbolic": sym, "group_sizes": groups}
    return fig


# =====================================================================================
# sweeps (issue 6): compression versus accuracy straight from a sweep Dataset
# (spectral_physics.analysis.phase.assemble / `spectral-physics sweep`). The boundary is computed by
# spectral_physics.analysis.phase.phase_boundary unless given; fig.plotted holds the numbers drawn.
# =====================================================================================

__all__ += ["plot_sweep"]


def plot_sweep(ds, boundary=None, threshold: float | None = None) -> Figure:
    """Three panels from a sweep over ``train`` and ``hidden``: accuracy and relative
    accuracy versus the trainable-parameter ratio, and a heatmap with the boundary contour.

    Parameters
    ----------
    ds : xarray.Dataset
        Sweep Dataset (dims ``train``, ``hidden``, ``seed``; any other dim of length 1).
    boundary : xarray.Dataset, optional
        :func:`spectral_physics.analysis.phase.phase_boundary` of ``ds`` (computed with 1000 resamples if
        omitted).
    threshold : float, optional
        Relative accuracy of the boundary (default: the Dataset's ``threshold``).

    Returns
    -------
    matplotlib.figure.Figure
        (a) seed-mean test accuracy vs ``trainable_ratio`` (log), one line per preset
        through the hidden sizes, bars = standard deviation over seeds; (b) the same for
        ``relative_accuracy`` with the threshold and the boundary (diamonds, bootstrap
        interval as horizontal bars); (c) relative accuracy on the preset x hidden grid
        with its ``threshold`` contour (along cell edges: the rows are presets).
    """
    from spectral_physics.analysis.phase import phase_boundary, phase_diagram_data

    _check(ds, ["test_accuracy", "relative_accuracy", "trainable_ratio", "status"], "a sweep")
    data = phase_diagram_data(ds)
    thr = float(threshold if threshold is not None else ds.attrs.get("threshold", 0.99))
    if boundary is None:
        boundary = phase_boundary(ds, threshold=thr)
    hidden = np.asarray(data.hidden.values)
    order = np.argsort(hidden)
    trains = [str(t) for t in data.train.values]
    fig = Figure(figsize=(11.0, 3.6), layout="constrained")
    ax_a, ax_b, ax_c = fig.subplots(1, 3, width_ratios=[1, 1, 1.15])
    plotted = {"hidden": hidden[order], "train": trains, "threshold": thr}
    for k, tr in enumerate(trains):
        d = data.sel(train=tr)
        x = d.trainable_ratio.values[order]
        mk = _PAPER_MARKERS[k % len(_PAPER_MARKERS)]
        acc, sd = d.accuracy_mean.values[order], np.nan_to_num(d.accuracy_std.values[order])
        rel = d.relative_mean.values[order]
        ax_a.errorbar(x, acc, yerr=sd, marker=mk, ms=4, capsize=2, lw=1, label=tr, color=f"C{k}")
        ax_b.plot(x, rel, marker=mk, ms=4, lw=1, label=tr, color=f"C{k}")
        plotted[tr] = {"ratio": x, "accuracy": acc, "accuracy_std": sd, "relative": rel}
        b = boundary.sel(train=tr)
        if np.isfinite(float(b.boundary_ratio)):
            r0 = float(b.boundary_ratio)
            err = [[max(0.0, r0 - float(b.boundary_ratio_lower))], [max(0.0, float(b.boundary_ratio_upper) - r0)]]
            ax_b.errorbar([r0], [thr], xerr=err, marker="D", ms=6, mfc="w", color=f"C{k}", capsize=3, lw=1.2)
            plotted[tr]["boundary_ratio"] = r0
    for ax in (ax_a, ax_b):
        ax.set_xscale("log")
        ax.set_xlabel("trainable parameters / direct")
        ax.axvline(1.0, color="0.7", lw=0.6, ls=":")
    ax_a.set_ylabel("test accuracy")
    ax_a.set_title("(a) test accuracy", fontsize=9)
    ax_a.legend(fontsize=7, loc="lower right")
    ax_b.axhline(thr, color="k", lw=0.8, ls="--")
    ax_b.set_ylabel("accuracy / direct accuracy")
    ax_b.set_title(f"(b) relative to direct; ◇ boundary at {thr:g}", fontsize=9)
    rel = data.relative_mean.values[:, order].astype(float)
    finite = rel[np.isfinite(rel)]
    lo = float(min(finite.min(), thr - 0.02)) if finite.size else 0.0
    im = ax_c.imshow(rel, aspect="auto", origin="upper", cmap="viridis", vmin=lo,
                     vmax=max(1.0, finite.max()) if finite.size else 1.0)
    # rows are categories, so the threshold contour follows cell edges: it separates the
    # cells at or above the threshold from their neighbours below it
    segs = _threshold_edges(rel >= thr)
    if segs:
        from matplotlib.collections import LineCollection

        ax_c.add_collection(LineCollection(segs, colors="w", linewidths=2.0))
    plotted["contour_segments"] = segs
    ax_c.set_xticks(np.arange(len(order)), [str(h) for h in hidden[order]])
    ax_c.set_yticks(np.arange(len(trains)), trains)
    ax_c.set_xlabel("hidden nodes")
    ax_c.set_title(f"(c) relative to direct; white: {thr:g} contour", fontsize=9)
    fig.colorbar(im, ax=ax_c, label="accuracy / direct (1)", pad=0.01)
    plotted["relative_grid"] = rel
    fig.plotted = plotted
    return fig


def _threshold_edges(above: np.ndarray) -> list:
    """Cell-edge segments separating ``above`` cells from the rest (image coordinates)."""
    above = np.asarray(above, dtype=bool)
    n_r, n_c = above.shape
    padded = np.zeros((n_r + 2, n_c + 2), dtype=bool)
    padded[1:-1, 1:-1] = above
    segs = []
    for r in range(n_r + 1):  # horizontal edges between padded rows r and r + 1
        for c in range(n_c):
            if padded[r, c + 1] != padded[r + 1, c + 1] and 0 < r < n_r:
                segs.append([(c - 0.5, r - 0.5), (c + 0.5, r - 0.5)])
    for r in range(n_r):
        for c in range(n_c + 1):
            if padded[r + 1, c] != padded[r + 1, c + 1] and 0 < c < n_c:
                segs.append([(c - 0.5, r - 0.5), (c - 0.5, r + 0.5)])
    return segs
