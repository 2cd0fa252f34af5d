"""Plots of experiment grids: accuracy over presets, hidden sizes, densities and pruning fractions.

One idea: draw the Datasets of the training experiments behind the paper figures, the
preset x hidden-size sweep (:func:`plot_accuracy_vs_hidden`, and :func:`plot_sweep` with
the phase boundary of :func:`spectral_physics.analysis.phase.phase_boundary`), node-pruning
curves, sparse spectral versus sparse direct training and the NTT wirings. Lines are seed
means, bands and error bars standard errors over seeds (``mean_sem``); anything else a
figure shows, such as the bootstrapped phase boundary, is computed by the caller and passed
in. Every function returns a Figure whose ``plotted`` dict holds exactly the numbers drawn
(see :mod:`spectral_physics.analysis._plotting`).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ._plotting import check, finish, mean_sem

__all__ = [
    "plot_accuracy_vs_hidden",
    "plot_pruning_curves",
    "plot_sparse_vs_direct",
    "plot_ntt_comparison",
    "plot_sweep",
]

_PAPER_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_PAPER_WIDTH = 7.0  # two-column width (inches); spectral_physics.analysis.figures.TWO_COLUMN
_DATA_LABELS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}


def _line_band(ax, x, mean, sem, *, label, color=None, marker="o", ls="-"):
    line = ax.plot(x, mean, marker=marker, ls=ls, label=label, color=color)[0]
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

    ``fig.plotted``: ``{"hidden": ascending (hidden,), "accuracy" | "accuracy_sem" | "ratio" |
    "relative" | "relative_sem": {train: (hidden,)}}``.
    """
    check(ds, ["test_accuracy", "relative_accuracy", "trainable_ratio"], "a sweep")
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
        m, s = mean_sem(acc)
        _line_band(ax1, hidden[order], m[order], s[order], label=tr, marker=mk, color=f"C{i}")
        rel = ds.relative_accuracy.sel(train=tr).transpose("hidden", ...)
        rm, rs = mean_sem(rel)
        ratio = ds.trainable_ratio.sel(train=tr).values.astype(float)
        ax2.errorbar(ratio[order], rm[order], yerr=rs[order], marker=mk, ls="-", color=f"C{i}", label=tr)
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
    return finish(fig, plotted)


def plot_pruning_curves(ds) -> Figure:
    """Node-pruning curves, one panel per data set.

    ``ds`` holds ``post_accuracy`` (dataset, curve, fraction_removed, seed): accuracy after
    removing hidden nodes without retraining, one ``curve`` per trained preset and ranking
    (e.g. ``"spectral: eigenvalue"``); optionally ``filter_accuracy`` (dataset,
    filter_curve, filter_fraction, filter_seed): the pre-training filter (train
    eigenvalues, prune, retrain the survivors). Lines: seed means; bands and error bars:
    standard error over seeds.

    ``fig.plotted``: ``{"fraction_removed", "post": {dataset: {curve: seed means}},
    "filter_fraction", "filter": {dataset: {filter_curve: seed means}}}`` (the filter
    entries when the Dataset has ``filter_accuracy``).
    """
    check(ds, ["post_accuracy"], "a pruning-curves")
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
            m, s = mean_sem(ds.post_accuracy.sel(dataset=name, curve=curve).transpose("fraction_removed", ...))
            if not np.isfinite(m).any():
                continue
            # direct-trained curves dash-dotted, so equal rankings of two presets stay apart
            ls = "-." if curve.startswith("direct") else styles.get(curve.split(": ")[-1], "-")
            _line_band(ax, fr, m, s, label=curve, color=f"C{i}", marker=None, ls=ls)
            plotted["post"][name][curve] = m
        if "filter_accuracy" in ds:
            ffr = ds.filter_fraction.values.astype(float)
            plotted["filter_fraction"] = ffr
            n_post = ds.sizes["curve"]
            for j, curve in enumerate(ds.filter_curve.values):
                curve = str(curve)
                fa = ds.filter_accuracy.sel(dataset=name, filter_curve=curve)
                if "filter_seed" in fa.dims:
                    fa = fa.rename(filter_seed="seed")
                m, s = mean_sem(fa.transpose("filter_fraction", ...))
                ax.errorbar(ffr, m, yerr=s, marker=_PAPER_MARKERS[j + 1], ls="none", ms=4,
                            color=f"C{n_post + j}", label=curve)
                plotted["filter"][name][curve] = m
        ax.set_title(_DATA_LABELS.get(name, name))
        ax.set_xlabel("fraction of hidden nodes removed")
        ax.set_xlim(0, 1)
    axes[0].set_ylabel("test accuracy")
    axes[0].legend(loc="lower left", fontsize=6)
    return finish(fig, plotted)


def plot_sparse_vs_direct(ds) -> Figure:
    """Sparse spectral versus sparse direct training against density, with topology turnover.

    ``ds``: dims (density, train, epoch, seed) with ``test_accuracy`` and
    ``mask_step_flips`` (mask entries changed between steps, summed over the epoch) and
    the attribute or variable ``n_weights`` (weights in all layers). Left: final-epoch test
    accuracy against the fraction of weights kept. Right: mask entries flipped per epoch
    as a fraction of all weights, averaged over epochs (0 means a frozen topology).

    ``fig.plotted``: ``{"density": ascending (density,), "accuracy" | "turnover": {train:
    (density,)}}`` (turnover is drawn without the dense point, density 1).
    """
    check(ds, ["test_accuracy", "mask_step_flips"], "a sparse-training")
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
        m, s = mean_sem(acc)
        ax1.errorbar(dens[order], m[order], yerr=s[order], marker=_PAPER_MARKERS[i], color=f"C{i}", label=tr)
        flips = (ds.mask_step_flips.sel(train=tr).mean("epoch") / n_w).transpose("density", ...)
        fm, fs = mean_sem(flips)
        keep = dens[order] < 1  # a dense network has no mask to turn over
        ax2.errorbar(dens[order][keep], fm[order][keep], yerr=fs[order][keep], marker=_PAPER_MARKERS[i],
                     color=f"C{i}", label=tr)
        plotted["accuracy"][tr], plotted["turnover"][tr] = m[order], fm[order]
    for ax in (ax1, ax2):
        _log_ticks(ax, dens)
        ax.set_xlabel("fraction of weights kept")
    ax1.set_ylabel("test accuracy (final epoch)")
    ax1.set_title("(a) accuracy vs density")
    ax1.legend(title="trained", loc="lower right")
    ax2.set_ylabel("mask flips per epoch / weights")
    ax2.set_title("(b) topology turnover")
    return finish(fig, plotted)


def plot_ntt_comparison(ds) -> Figure:
    """Test accuracy versus density for NTT and the baseline wirings, one panel per data set.

    ``ds``: ``test_accuracy`` (dataset, wiring, density, seed) as written by
    ``benchmarks/ntt_comparison.py``; the ``dense`` wiring is drawn as a horizontal line.

    ``fig.plotted``: ``{"density": ascending (density,), "accuracy": {dataset: {wiring: seed
    means}}, "dense": {dataset: height of the dense line}}``.
    """
    check(ds, ["test_accuracy"], "an NTT-comparison")
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
            m, s = mean_sem(ds.test_accuracy.sel(dataset=name, wiring=w).transpose("density", ...))
            plotted["accuracy"][name][w] = m[order]
            if w == "dense":
                v = float(np.nanmean(m))
                ax.axhline(v, color="k", lw=0.8, ls="--", label="dense")
                plotted.setdefault("dense", {})[name] = v
                continue
            ax.errorbar(dens[order], m[order], yerr=s[order], marker=_PAPER_MARKERS[i % len(_PAPER_MARKERS)],
                        color=f"C{i}", label=w)
        _log_ticks(ax, dens)
        ax.set_xlabel("fraction of weights kept")
        ax.set_title(_DATA_LABELS.get(name, name))
    axes[0].set_ylabel("test accuracy")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", fontsize=6,
               ncol=4 if len(names) == 1 else 7)
    return finish(fig, plotted)


# =====================================================================================
# sweeps: compression versus accuracy from a sweep Dataset (`spectral-physics sweep`) and
# the phase boundary the caller computed from it
# =====================================================================================


def plot_sweep(ds, boundary) -> Figure:
    """Three panels from a sweep over ``train`` and ``hidden``: accuracy and relative
    accuracy versus the trainable-parameter ratio, and a heatmap with the boundary contour.

    Parameters
    ----------
    ds : xarray.Dataset
        Sweep Dataset (dims ``train``, ``hidden``, ``seed``; any other dim of length 1).
    boundary : xarray.Dataset
        :func:`spectral_physics.analysis.phase.phase_boundary` of ``ds``, dim ``train``:
        the crossing and its bootstrap interval (``boundary_ratio``, ``_lower``,
        ``_upper``) and the attribute ``threshold``, the relative accuracy drawn as the
        threshold line and contour. The plot runs no bootstrap of its own.

    Returns
    -------
    matplotlib.figure.Figure
        (a) seed-mean test accuracy vs ``trainable_ratio`` (log), one line per preset
        through the hidden sizes, bars = standard deviation over seeds; (b) the same for
        ``relative_accuracy`` with the threshold and the boundary (diamonds, bootstrap
        interval as horizontal bars); (c) relative accuracy on the preset x hidden grid
        with its ``threshold`` contour (along cell edges: the rows are presets).
        ``fig.plotted``: ``{"hidden", "train", "threshold", train: {"ratio", "accuracy",
        "accuracy_std", "relative", and where the boundary is found "boundary_ratio",
        "boundary_ratio_lower", "boundary_ratio_upper"}, "relative_grid": (train, hidden),
        "contour_segments": list of [(x0, y0), (x1, y1)]}``.

    Examples
    --------
    >>> from spectral_physics.analysis.phase import phase_boundary
    >>> fig = plot_sweep(ds, phase_boundary(ds, n_boot=1000))          # doctest: +SKIP
    """
    from .phase import phase_diagram_data

    check(ds, ["test_accuracy", "relative_accuracy", "trainable_ratio", "status"], "a sweep")
    check(boundary, ["boundary_ratio", "boundary_ratio_lower", "boundary_ratio_upper"], "a phase-boundary")
    if "threshold" not in boundary.attrs:
        raise ValueError("boundary has no 'threshold' attribute; pass the Dataset phase_boundary(ds) returns")
    # seed means over the grid (a reduction, as in every plot here); the threshold is the
    # boundary's, so the line, the contour and the diamonds always agree
    data = phase_diagram_data(ds)
    thr = float(boundary.attrs["threshold"])
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
            plotted[tr].update(boundary_ratio=r0, boundary_ratio_lower=r0 - err[0][0],
                               boundary_ratio_upper=r0 + err[1][0])
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
    return finish(fig, plotted)


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
