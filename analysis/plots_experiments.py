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

from ._plotting import check, color, finish, linestyle, marker, mean_sem

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
    """Seed-mean line with a +-standard-error band (markers never clipped at the axes' edge)."""
    line = ax.plot(x, mean, marker=marker, ls=ls, label=label, color=color, clip_on=False, zorder=3)[0]
    if np.any(sem > 0):
        ax.fill_between(x, mean - sem, mean + sem, color=line.get_color(), alpha=0.2, lw=0)
    return line


def _errorbar(ax, x, mean, sem, **kw):
    """Seed means with +-standard-error bars, markers and caps never clipped."""
    bars = ax.errorbar(x, mean, yerr=sem, clip_on=False, zorder=3, **kw)
    for art in (*bars.lines[1], *bars.lines[2]):
        art.set_clip_on(False)
    return bars


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
        mk, col = marker(tr, i), color(tr, i)
        acc = ds.test_accuracy.sel(train=tr).transpose("hidden", ...)
        m, s = mean_sem(acc)
        _line_band(ax1, hidden[order], m[order], s[order], label=tr, marker=mk, color=col)
        rel = ds.relative_accuracy.sel(train=tr).transpose("hidden", ...)
        rm, rs = mean_sem(rel)
        ratio = ds.trainable_ratio.sel(train=tr).values.astype(float)
        _errorbar(ax2, ratio[order], rm[order], rs[order], marker=mk, ls="-", color=col, label=tr)
        plotted["accuracy"][tr], plotted["accuracy_sem"][tr] = m[order], s[order]
        plotted["ratio"][tr], plotted["relative"][tr], plotted["relative_sem"][tr] = ratio[order], rm[order], \
            rs[order]
    _log_ticks(ax1, hidden)
    ax1.set_xlabel("hidden nodes $N_h$")
    ax1.set_ylabel("test accuracy")
    ax1.set_title("(a) accuracy vs hidden size")
    # below the panels: at column width no corner of the data is reliably empty
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncol=len(ds.train),
               title=_sem_note(ds), title_fontsize=6, alignment="left")
    ax2.set_xscale("log")
    ax2.axhline(1.0, color="0.4", lw=0.6, ls=":")
    ax2.set_xlabel("trainable parameters / direct")
    ax2.set_ylabel("accuracy / direct accuracy")
    ax2.set_title("(b) relative accuracy vs compression")
    return finish(fig, plotted, ds)


def _sem_note(ds, dim: str = "seed") -> str | None:
    """``"mean $\\pm$ s.e.m. over n seeds"`` for an ensemble, None for a single run."""
    n = int(ds.sizes.get(dim, 1))
    return f"lines: mean $\\pm$ s.e.m. over {n} seeds" if n > 1 else None


def plot_pruning_curves(ds) -> Figure:
    """Node-pruning curves, one panel per data set (and one row of panels per activation).

    ``ds`` holds ``post_accuracy`` (dataset, curve, fraction_removed, seed): accuracy after
    removing hidden nodes without retraining, one ``curve`` per trained preset and ranking
    (e.g. ``"spectral: eigenvalue"``); optionally ``filter_accuracy`` (dataset,
    filter_curve, filter_fraction, filter_seed): the pre-training filter (train
    eigenvalues, prune, retrain the survivors). Lines: seed means; bands and error bars:
    standard error over seeds. With an ``activation`` dim (several activations run), one
    row of panels per activation. Colour: the ranking
    (:data:`~spectral_physics.analysis._plotting.COLORS`, the same for a ranking in every
    panel, e.g. random grey); line style: the trained preset (spectral solid, direct
    dash-dotted); the filter is drawn as markers.

    ``fig.plotted``: ``{"fraction_removed", "post": {dataset: {curve: seed means}},
    "post_sem": {dataset: {curve: standard errors}}, "filter_fraction", "filter" |
    "filter_sem": {dataset: {filter_curve: seed means | standard errors}}}`` (the filter
    entries when the Dataset has ``filter_accuracy``); with an ``activation`` dim,
    ``"activation"`` lists the rows and ``post`` / ``filter`` (and their ``_sem``) are keyed
    by activation first (``{activation: {dataset: ...}}``).
    """
    check(ds, ["post_accuracy"], "a pruning-curves")
    names = [str(v) for v in ds.dataset.values]
    acts = [str(a) for a in ds.activation.values] if "activation" in ds.dims else [None]
    fig = Figure(figsize=(_PAPER_WIDTH, 2.7 * len(acts)), layout="constrained")
    grid = fig.subplots(len(acts), len(names), squeeze=False, sharey=True)
    fr = ds.fraction_removed.values.astype(float)
    plotted = {"fraction_removed": fr, "post": {}, "filter": {}, "post_sem": {}, "filter_sem": {}}
    if acts != [None]:
        plotted["activation"] = acts
    for axes, act in zip(grid, acts):
        sub = ds if act is None else ds.sel(activation=act)
        post = plotted["post"] if act is None else plotted["post"].setdefault(act, {})
        filt = plotted["filter"] if act is None else plotted["filter"].setdefault(act, {})
        post_sem = plotted["post_sem"] if act is None else plotted["post_sem"].setdefault(act, {})
        filt_sem = plotted["filter_sem"] if act is None else plotted["filter_sem"].setdefault(act, {})
        for ax, name in zip(axes, names):
            post[name], filt[name], post_sem[name], filt_sem[name] = {}, {}, {}, {}
            _pruning_panel(ax, sub, name, fr, post[name], filt[name], plotted, sems=(post_sem[name], filt_sem[name]))
            title = _DATA_LABELS.get(name, name)
            ax.set_title(title if act is None else f"{title}, {act}")
            ax.set_xlabel("fraction of hidden nodes removed")
            ax.set_xlim(-0.03, 1.03)  # room for the markers at 0 and 1
        axes[0].set_ylabel("test accuracy")
    note = _sem_note(ds)
    if note and "filter_seed" in ds.dims:
        note += f" (filter: {ds.sizes['filter_seed']})"
    grid[0][0].legend(loc="lower left", fontsize=6, title=note, title_fontsize=6, alignment="left")
    return finish(fig, plotted, ds)


def _pruning_panel(ax, ds, name, fr, post, filt, plotted, sems=({}, {})) -> None:
    """One panel of :func:`plot_pruning_curves`: every curve of one data set (one activation)."""
    styles = {"spectral": "-", "direct": "-."}  # line style: the trained preset; colour: the ranking
    post_sem, filt_sem = sems
    for i, curve in enumerate(ds.curve.values):
        curve = str(curve)
        m, s = mean_sem(ds.post_accuracy.sel(dataset=name, curve=curve).transpose("fraction_removed", ...))
        if not np.isfinite(m).any():
            continue
        # direct-trained curves dash-dotted, so equal rankings of two presets stay apart
        preset, _, ranking = curve.rpartition(": ")
        _line_band(ax, fr, m, s, label=curve, color=color(ranking, i), marker=None, ls=styles.get(preset.strip(), "--"))
        post[curve], post_sem[curve] = m, s
    if "filter_accuracy" in ds:
        ffr = ds.filter_fraction.values.astype(float)
        plotted["filter_fraction"] = ffr
        for j, curve in enumerate(ds.filter_curve.values):
            curve = str(curve)
            fa = ds.filter_accuracy.sel(dataset=name, filter_curve=curve)
            if "filter_seed" in fa.dims:
                fa = fa.rename(filter_seed="seed")
            m, s = mean_sem(fa.transpose("filter_fraction", ...))
            _errorbar(ax, ffr, m, s, marker=_PAPER_MARKERS[j + 1], ls="none", ms=4,
                      color=color(curve.rpartition(": ")[-1], ds.sizes["curve"] + j), label=curve)
            filt[curve], filt_sem[curve] = m, s


def plot_sparse_vs_direct(ds) -> Figure:
    """Sparse spectral versus sparse direct training against density, with topology turnover.

    ``ds``: dims (density, train, epoch, seed) with ``test_accuracy`` and
    ``mask_step_flips`` (mask entries changed between steps, summed over the epoch) and
    the attribute or variable ``n_weights`` (weights in all layers). Left: final-epoch test
    accuracy against the fraction of weights kept. Right: mask entries flipped per epoch
    as a fraction of all weights, averaged over epochs (0 means a frozen topology).

    ``fig.plotted``: ``{"density": ascending (density,), "accuracy" | "accuracy_sem" |
    "turnover" | "turnover_sem": {train: (density,)}}`` (turnover is drawn without the
    dense point, density 1).
    """
    check(ds, ["test_accuracy", "mask_step_flips"], "a sparse-training")
    ds = _squeeze_extra(ds, ("density", "train", "epoch", "seed"))
    n_w = float(ds["n_weights"]) if "n_weights" in ds else float(ds.attrs["n_weights"])
    dens = ds.density.values.astype(float)
    order = np.argsort(dens)
    fig = Figure(figsize=(_PAPER_WIDTH, 2.6), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    plotted = {"density": dens[order], "accuracy": {}, "accuracy_sem": {}, "turnover": {}, "turnover_sem": {}}
    for i, tr in enumerate(ds.train.values):
        tr = str(tr)
        mk, col = marker(tr, i), color(tr, i)
        acc = ds.test_accuracy.sel(train=tr).isel(epoch=-1).transpose("density", ...)
        m, s = mean_sem(acc)
        _errorbar(ax1, dens[order], m[order], s[order], marker=mk, color=col, label=tr)
        flips = (ds.mask_step_flips.sel(train=tr).mean("epoch") / n_w).transpose("density", ...)
        fm, fs = mean_sem(flips)
        keep = dens[order] < 1  # a dense network has no mask to turn over
        _errorbar(ax2, dens[order][keep], fm[order][keep], fs[order][keep], marker=mk, color=col, label=tr)
        plotted["accuracy"][tr], plotted["turnover"][tr] = m[order], fm[order]
        plotted["accuracy_sem"][tr], plotted["turnover_sem"][tr] = s[order], fs[order]
    for ax in (ax1, ax2):
        _log_ticks(ax, dens)
        ax.set_xlabel("fraction of weights kept")
    ax1.set_ylabel("test accuracy (final epoch)")
    ax1.set_title("(a) accuracy vs density")
    note = _sem_note(ds)
    ax1.legend(title="trained" if note is None else f"trained\n({note})", loc="lower right", title_fontsize=6)
    ax2.set_ylabel("mask flips per epoch / weights")
    ax2.set_title("(b) topology turnover")
    return finish(fig, plotted, ds)


def plot_ntt_comparison(ds) -> Figure:
    """Test accuracy versus density for NTT and the baseline wirings, one panel per data set.

    ``ds``: ``test_accuracy`` (dataset, wiring, density, seed) as written by
    ``benchmarks/ntt_comparison.py``; the ``dense`` wiring is drawn as a horizontal line.

    ``fig.plotted``: ``{"density": ascending (density,), "accuracy" | "accuracy_sem":
    {dataset: {wiring: seed means | standard errors}}, "dense" | "dense_sem": {dataset:
    height of the dense line | half-height of its band}}``.
    """
    check(ds, ["test_accuracy"], "an NTT-comparison")
    names = [str(v) for v in ds.dataset.values]
    dens = ds.density.values.astype(float)
    order = np.argsort(dens)
    fig = Figure(figsize=(_PAPER_WIDTH if len(names) > 1 else 3.6, 2.7), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False, sharey=True)[0]
    plotted = {"density": dens[order], "accuracy": {}, "accuracy_sem": {}}
    for ax, name in zip(axes, names):
        plotted["accuracy"][name], plotted["accuracy_sem"][name] = {}, {}
        for i, w in enumerate(ds.wiring.values):
            w = str(w)
            acc = ds.test_accuracy.sel(dataset=name, wiring=w).transpose("density", ...)
            m, s = mean_sem(acc)
            plotted["accuracy"][name][w], plotted["accuracy_sem"][name][w] = m[order], s[order]
            if w == "dense":
                # one network at density 1, stored at every density: mean and s.e.m. over its seeds
                d = acc.mean("density", skipna=True)
                v, e = (float(a) for a in mean_sem(d))
                ax.axhline(v, color=color(w), lw=0.8, ls="--", label="dense")
                if e > 0:
                    ax.axhspan(v - e, v + e, color=color(w), alpha=0.12, lw=0)
                plotted.setdefault("dense", {})[name] = v
                plotted.setdefault("dense_sem", {})[name] = e
                continue
            _errorbar(ax, dens[order], m[order], s[order], marker=marker(w, i), color=color(w, i), ls=linestyle(w),
                      label=w)
        _log_ticks(ax, dens)
        ax.set_xlabel("fraction of weights kept")
        ax.set_title(_DATA_LABELS.get(name, name))
    axes[0].set_ylabel("test accuracy")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", fontsize=6,
               ncol=4 if len(names) == 1 else 7, title=_sem_note(ds), title_fontsize=6)
    return finish(fig, plotted, ds)


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
        through the hidden sizes, bars = standard error over seeds; (b) the same for
        ``relative_accuracy`` with the threshold and a boundary marker for every preset:
        a diamond at the crossing (bootstrap interval as horizontal bars) where it is
        found, else an open triangle on the threshold line at the edge of the sampled
        range pointing to where the boundary must lie (right: never reached, at a larger
        ratio than sampled; left: above the threshold everywhere); (c) relative accuracy
        on the preset x hidden grid with its ``threshold`` contour (along cell edges: the
        rows are presets).
        ``fig.plotted``: ``{"hidden", "train", "threshold", train: {"ratio", "accuracy",
        "accuracy_sem", "relative", "relative_sem", "crossing_state" (0 found, 1 above
        everywhere, 2 never reached), "boundary_marker": {"kind" ("crossing" | "above
        everywhere" | "not reached"), "ratio", "relative"}, and where the boundary is
        found "boundary_ratio", "boundary_ratio_lower", "boundary_ratio_upper"},
        "boundary_markers": {train: kind}, "relative_grid": (train, hidden),
        "contour_segments": list of [(x0, y0), (x1, y1)]}``.

    Examples
    --------
    >>> from spectral_physics.analysis.phase import phase_boundary
    >>> from spectral_physics.analysis.sweep import run_sweep
    >>> import os, tempfile
    >>> ds = run_sweep({"dataset": "teacher-student", "subset": 300, "n_test": 100, "epochs": 1,
    ...                 "seeds": [0, 1], "axes": {"train": ["direct", "eigen"], "hidden": [8, 16]}},
    ...                os.path.join(tempfile.mkdtemp(), "sweep.points"), workers=1, progress=False)
    >>> fig = plot_sweep(ds, phase_boundary(ds, n_boot=1000))
    >>> fig.plotted["boundary_markers"]
    {'direct': 'above everywhere', 'eigen': 'not reached'}
    """
    from matplotlib.lines import Line2D

    from .phase import STATUS_OK, phase_diagram_data

    check(ds, ["test_accuracy", "relative_accuracy", "trainable_ratio", "status"], "a sweep")
    check(boundary, ["boundary_ratio", "boundary_ratio_lower", "boundary_ratio_upper"], "a phase-boundary")
    if "threshold" not in boundary.attrs:
        raise ValueError("boundary has no 'threshold' attribute; pass the Dataset phase_boundary(ds) returns")
    # seed means over the grid (a reduction, as in every plot here); the threshold is the
    # boundary's, so the line, the contour and the markers always agree
    data = phase_diagram_data(ds)
    runs = _squeeze_extra(ds, ("train", "hidden", "seed"))
    ok = runs["status"] == STATUS_OK
    thr = float(boundary.attrs["threshold"])
    ci = float(boundary.attrs.get("ci", 0.95))
    hidden = np.asarray(data.hidden.values)
    order = np.argsort(hidden)
    trains = [str(t) for t in data.train.values]
    fig = Figure(figsize=(11.0, 3.6), layout="constrained")
    ax_a, ax_b, ax_c = fig.subplots(1, 3, width_ratios=[1, 1, 1.15])
    plotted = {"hidden": hidden[order], "train": trains, "threshold": thr, "boundary_markers": {}}
    kinds = {0: ("crossing", "D"), 1: ("above everywhere", "<"), 2: ("not reached", ">")}
    censored: list = []  # (ratio, marker, colour) of the boundaries beyond the sampled range
    for k, tr in enumerate(trains):
        d = data.sel(train=tr)
        x = d.trainable_ratio.values[order]
        mk, col = marker(tr, k), color(tr, k)
        acc, rel = d.accuracy_mean.values[order], d.relative_mean.values[order]
        sem_acc = mean_sem(runs.test_accuracy.where(ok).sel(train=tr).transpose("hidden", ...))[1][order]
        sem_rel = mean_sem(runs.relative_accuracy.where(ok).sel(train=tr).transpose("hidden", ...))[1][order]
        _errorbar(ax_a, x, acc, sem_acc, marker=mk, ms=4, capsize=2, lw=1, label=tr, color=col)
        _errorbar(ax_b, x, rel, sem_rel, marker=mk, ms=4, capsize=2, lw=1, label=tr, color=col)
        plotted[tr] = {"ratio": x, "accuracy": acc, "accuracy_sem": sem_acc, "relative": rel,
                       "relative_sem": sem_rel}
        b = boundary.sel(train=tr)
        if np.isfinite(float(b.boundary_ratio)):
            state = 0
        elif "crossing_state" in b:
            state = int(b.crossing_state)
        else:  # a boundary Dataset without the state: read it off the seed means
            state = 1 if np.all(rel[np.isfinite(rel)] >= thr) else 2
        kind, sym = kinds.get(state, kinds[2])
        if state == 0:
            r0 = float(b.boundary_ratio)
            err = [[max(0.0, r0 - float(b.boundary_ratio_lower))], [max(0.0, float(b.boundary_ratio_upper) - r0)]]
            _errorbar(ax_b, [r0], [thr], None, xerr=err, marker=sym, ms=6, mfc="w", color=col, capsize=3, lw=1.2)
            plotted[tr].update(boundary_ratio=r0, boundary_ratio_lower=r0 - err[0][0],
                               boundary_ratio_upper=r0 + err[1][0])
        else:  # censored: the boundary lies beyond the sampled ratios, on the side the triangle points to
            fin = x[np.isfinite(x)]
            r0 = float(fin.max() if state == 2 else fin.min()) if fin.size else float("nan")
            censored.append((r0, sym, col))
        plotted[tr]["crossing_state"] = state
        plotted[tr]["boundary_marker"] = {"kind": kind, "ratio": r0, "relative": thr}
        plotted["boundary_markers"][tr] = kind
    for ax in (ax_a, ax_b):
        ax.set_xscale("log")
        ax.set_xlabel("trainable parameters / direct")
        ax.axvline(1.0, color="0.7", lw=0.6, ls=":")
    ax_a.set_ylabel("test accuracy")
    ax_a.set_title("(a) test accuracy", fontsize=9)
    ax_b.axhline(thr, color="k", lw=0.8, ls="--")
    ax_b.set_ylabel("accuracy / direct accuracy")
    _censored_markers(ax_b, censored, thr)
    ax_b.set_title(f"(b) relative to direct; boundary at {thr:g}", fontsize=9)
    # the boundary markers' legend: only the kinds drawn
    keys = {"crossing": f"crossing ({ci:.0%} CI)",
            "not reached": "not reached",
            "above everywhere": "above everywhere"}
    drawn = [kd for kd, _ in kinds.values() if kd in plotted["boundary_markers"].values()]
    handles = [Line2D([], [], color="k", lw=0.8, ls="--", label=f"threshold {thr:g}")]
    handles += [Line2D([], [], marker=sym, ms=6, mfc="w", color="0.3", ls="none", label=keys[kd])
                for kd, sym in kinds.values() if kd in drawn]
    # one legend below the panels (presets, then the boundary markers): inside, at paper
    # width, it would cover points
    presets = ax_a.get_legend_handles_labels()[0]
    marks = "boundary markers on the threshold line; a triangle: beyond the sampled range, on the side it points to"
    note = "; ".join(t for t in (_sem_note(runs), marks) if t)
    fig.legend(handles=[*presets, *handles], loc="outside lower center", ncol=len(presets) + len(handles),
               fontsize=7, title=note, title_fontsize=6, handlelength=1.5, columnspacing=1.2)
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
    ax_c.set_xlabel("hidden nodes $N_h$")
    ax_c.set_title(f"(c) relative to direct; white: {thr:g} contour", fontsize=9)
    fig.colorbar(im, ax=ax_c, label="accuracy / direct (1)", pad=0.01)
    plotted["relative_grid"] = rel
    return finish(fig, plotted, ds)


def _censored_markers(ax, censored: list, y: float) -> None:
    """Open triangles on the threshold line; markers closer than a tenth of a decade are
    dodged vertically (a few points, on screen only) so that none hides another."""
    from matplotlib.transforms import offset_copy

    censored = sorted((c for c in censored if np.isfinite(c[0])), key=lambda c: c[0])
    groups: list = []
    for c in censored:
        if groups and np.log10(c[0]) - np.log10(groups[-1][0][0]) < 0.1:
            groups[-1].append(c)
        else:
            groups.append([c])
    for group in groups:
        for i, (r0, sym, col) in enumerate(group):
            dy = (i - (len(group) - 1) / 2) * 7.0
            tr = offset_copy(ax.transData, fig=ax.figure, y=dy, units="points")
            ax.plot([r0], [y], marker=sym, ms=6, mfc="w", mew=1.2, color=col, ls="none", clip_on=False,
                    zorder=4, transform=tr)


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
