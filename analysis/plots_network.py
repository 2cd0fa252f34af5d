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

from ._plotting import LABELS, check, color, finish, label, mean_sem, seed_mean, seed_sem

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
    "trained": {"color": color("trained"), "lw": 1.6},
    "initial": {"color": color("initial"), "lw": 1.2, "ls": "--"},
    "random": {"color": color("random"), "lw": 1.0, "ls": ":"},
}

_PAPER_WIDTH = 7.0  # two-column width (inches); spectral_physics.analysis.figures.TWO_COLUMN


# =====================================================================================
# eigenstats
# =====================================================================================


def _stairs_band(ax, mean, sem, edges, drawn: dict, key: str, col) -> None:
    """A +-standard-error band around a seed-mean histogram (drawn and recorded when sem > 0)."""
    if sem is None or not np.any(sem > 0):
        return
    lower, upper = mean - sem, mean + sem
    ax.stairs(upper, edges, baseline=lower, fill=True, color=col, alpha=0.25, lw=0)
    drawn.setdefault("band", {})[key] = {"lower": lower, "upper": upper}


def _ax_density(ax, ds, name: str, layer: int) -> dict:
    edges = ds[f"{name}_edges"].sel(layer=layer).values
    drawn = {"edges": edges}
    for src in ds.source.values:
        da = ds[f"{name}_density"].sel(source=src, layer=layer)
        dens, sem = mean_sem(da)
        if not np.isfinite(dens).any():
            continue
        style = SOURCE_STYLE.get(str(src), {})
        ax.stairs(dens, edges, label=str(src), **style)
        drawn[str(src)] = dens
        if "seed" in da.dims:
            drawn.setdefault("sem", {})[str(src)] = sem
            _stairs_band(ax, dens, sem, edges, drawn, str(src), style.get("color"))
    ax.set_xlabel(LABELS[name])
    ax.set_ylabel("density")
    ax.set_title(f"layer {layer}: {LABELS[name]}")
    return drawn


def _seed_histograms(da, edges) -> tuple[np.ndarray, np.ndarray | None]:
    """Density histogram on ``edges``: the mean of the per-seed histograms and its standard error."""
    if "seed" not in da.dims:
        vals = da.values.ravel()
        return np.histogram(vals[np.isfinite(vals)], bins=edges, density=True)[0], None
    per = []
    for i in range(da.sizes["seed"]):
        vals = da.isel(seed=i).values.ravel()
        vals = vals[np.isfinite(vals)]
        if vals.size:
            per.append(np.histogram(vals, bins=edges, density=True)[0])
    per = np.asarray(per)
    sem = per.std(axis=0, ddof=1) / np.sqrt(len(per)) if len(per) > 1 else None
    return per.mean(axis=0), sem


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
    # per-seed histograms: their mean is the pooled histogram (every member has as many
    # eigenvalues), their spread the error band
    heights, sem = _seed_histograms(esd, edges)
    ax.stairs(heights, edges, fill=True, alpha=0.3, color=color("trained"), lw=0)
    ax.stairs(heights, edges, color=color("trained"), lw=1.0, label="trained")
    drawn = {"edges": edges, "trained": heights}
    if sem is not None:
        drawn.setdefault("sem", {})["trained"] = sem
        _stairs_band(ax, heights, sem, edges, drawn, "trained", color("trained"))
    if rnd.size:
        rnd_h, rnd_sem = _seed_histograms(ds["esd"].sel(source="random", layer=layer), edges)
        ax.stairs(rnd_h, edges, color=color("random"), lw=1.0, label="random")
        drawn["random"] = rnd_h
        if rnd_sem is not None:
            drawn.setdefault("sem", {})["random"] = rnd_sem
            _stairs_band(ax, rnd_h, rnd_sem, edges, drawn, "random", color("random"))
    s2 = float(seed_mean(ds["mp_sigma2_fixed_q"].sel(source="trained", layer=layer)))
    q = float(seed_mean(ds["mp_q_shape"].sel(source="trained", layer=layer)))
    if np.isfinite(s2) and np.isfinite(q):
        xs = np.linspace(0, hi * 1.02, 400)
        pdf = marchenko_pastur_pdf(xs, s2, q)
        ax.plot(xs, pdf, color="k", lw=1.2, label=f"MP fit ($Q={q:.2g}$)")
        lam_plus = float(seed_mean(ds["mp_lambda_plus_fixed_q"].sel(source="trained", layer=layer)))
        ax.axvline(lam_plus, color="k", ls=":", lw=0.8, label=r"MP edge $\lambda_+$")
        drawn["mp"] = {"x": xs, "pdf": pdf, "sigma2": s2, "q": q, "lambda_plus": lam_plus}
    ax.set_xlabel(r"eigenvalue of $W^\top W/N$")
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
    ax.set_xticks(x, [LABELS["lam_in"], LABELS["lam_out"], LABELS["lambda"], LABELS["esd"]])
    ax.set_ylim(0, 0.75)
    ax.set_ylabel(r"mean spacing ratio $\langle r\rangle$")
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
    return finish(fig, plotted, ds)


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
    return finish(fig, plotted, ds)


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
    return finish(fig, plotted, ds)


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
    return finish(fig, plotted, ds)


# =====================================================================================
# nodes
# =====================================================================================


def _as_image(vals: np.ndarray) -> np.ndarray:
    """A relevance array as a 2-d image (square vectors reshaped, colour channels averaged)."""
    if vals.ndim == 1:
        side = int(round(np.sqrt(vals.size)))
        vals = vals.reshape(side, -1) if side * side == vals.size else vals[None, :]
    if vals.ndim == 3:
        vals = vals.mean(axis=-1) if vals.shape[-1] <= 4 else vals.mean(axis=0)
    return vals


def _relevance_map(ds):
    """Seed-mean ``input_relevance`` image, its s.e.m. image (None for one network), the mask of
    pixels that never vary (``pixel_std == 0``; None without ``pixel_std``) and the initial value.

    A pixel constant in the data gets no gradient, so its ``lam_in`` stays at the initial
    value: it is masked (NaN), and the colour scale is centred on that value (attribute
    ``lam_in_initial``; else the common value of the masked pixels; else 0).
    """
    da = ds["input_relevance"]
    mean = _as_image(np.asarray(seed_mean(da).values, dtype=float))
    sem = seed_sem(da)
    sem = None if sem is None else _as_image(np.asarray(sem.values, dtype=float))
    mask = None
    if "pixel_std" in ds:
        std = _as_image(np.asarray(ds["pixel_std"].values, dtype=float))
        mask = std == 0 if std.shape == mean.shape else None
    center = ds.attrs.get("lam_in_initial")
    if center is None and mask is not None and mask.any():
        const = np.unique(mean[mask][np.isfinite(mean[mask])])
        center = const[0] if const.size == 1 else None
    center = 0.0 if center is None else float(center)
    if mask is not None:
        mean = np.where(mask, np.nan, mean)
        sem = None if sem is None else np.where(mask, np.nan, sem)
    return mean, sem, mask, center


def _masked_cmap(name: str):
    from matplotlib import colormaps

    return colormaps[name].with_extremes(bad="0.8")  # masked pixels: light grey, outside the colour scale


def _relevance_image(fig, ax, vals, center: float, title: str) -> float:
    """Diverging image of ``lam_in`` centred on its initial value; the half-width of the scale."""
    lim = float(np.nanmax(np.abs(vals - center))) if np.isfinite(vals).any() else 0.0
    lim = lim or 1.0
    im = ax.imshow(vals, cmap=_masked_cmap("RdBu_r"), vmin=center - lim, vmax=center + lim,
                   interpolation="nearest")
    fig.colorbar(im, ax=ax, label=rf"$\lambda^{{\mathrm{{in}}}}_j$ (white: initial value {center:g})", shrink=0.9)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return lim


def plot_input_relevance(ds) -> Figure:
    """The first layer's ``lam_in`` per input pixel as an image (mean over seeds).

    Pixels that never vary in the data (``pixel_std == 0``, when the Dataset has it) are
    masked grey: they receive no gradient, so their ``lam_in`` is the initial value and
    says nothing about relevance. The diverging colour scale is centred on that initial
    value. With an ensemble, a second panel shows the standard error over seeds.

    ``fig.plotted``: ``{"input_relevance": (rows, cols) image (NaN where masked),
    "center": initial value at the scale's centre, "color_limit": float (the scale spans
    center +- color_limit), "mask": (rows, cols) bool (with ``pixel_std``),
    "input_relevance_sem": (rows, cols) and "n_seeds" (ensembles only)}``.
    """
    check(ds, ["input_relevance"], "a nodes")
    vals, sem, mask, center = _relevance_map(ds)
    fig = Figure(figsize=(3.4 if sem is None else 7.0, 3.0), layout="constrained")
    axes = fig.subplots(1, 1 if sem is None else 2, squeeze=False)[0]
    n = int(ds.sizes.get("seed", 1))
    what = f", mean over {n} seeds" if n > 1 else ""
    title = rf"{'(a) ' if sem is not None else ''}input relevance $\lambda^{{\mathrm{{in}}}}_j$ (layer 0{what})"
    lim = _relevance_image(fig, axes[0], vals, center, title)
    plotted: dict = {"input_relevance": vals, "center": center, "color_limit": lim}
    if mask is not None:
        plotted["mask"] = mask
        axes[0].set_xlabel("grey: pixels constant in the data (no gradient)", fontsize=6)
    if sem is not None:
        im = axes[1].imshow(sem, cmap=_masked_cmap("viridis"), vmin=0, interpolation="nearest")
        fig.colorbar(im, ax=axes[1], label=r"s.e.m. of $\lambda^{\mathrm{in}}_j$", shrink=0.9)
        axes[1].set_title(f"(b) standard error over {n} seeds")
        axes[1].set_xticks([])
        axes[1].set_yticks([])
        plotted.update(input_relevance_sem=sem, n_seeds=n)
    return finish(fig, plotted, ds)


def plot_node_correspondence(ds) -> Figure:
    """Per hidden layer: ``|lam_out|`` vs exact importance, rank correlations of every score;
    plus pruning curves and the input relevance map when present.

    ``fig.plotted``: ``{"scatter": {layer: {"abs_lam_out", "loss_increase"}}, "scores": list,
    "spearman": {layer: {truth: bar heights per score}}, "spearman_sem" (ensembles only),
    "pruning": {"fraction_removed", ranking: accuracy}, "pruning_sem" (ensembles only),
    "input_relevance"}`` (the pruning and relevance entries when the Dataset holds them;
    relevance NaN where ``pixel_std == 0``).
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
        ax.set_xlabel(LABELS["abs_lam_out"])
        ax.set_ylabel(r"loss increase $\Delta L_i$ when node $i$ is removed")
        ax.set_title(f"hidden layer after weights {int(k)}")
        ax = grid[r, 1]
        plotted["spearman"][int(k)] = {}
        for t, truth in enumerate(ds.truth.values):
            rho = np.nan_to_num(seed_mean(ds.spearman.sel(layer=k, truth=truth)).values)
            sem = seed_sem(ds.spearman.sel(layer=k, truth=truth))
            err = None if sem is None else np.nan_to_num(sem.values)
            ax.bar(np.arange(len(scores)) + (t - 0.5) * 0.4, rho, 0.4, yerr=err, label=label(str(truth)))
            plotted["spearman"][int(k)][str(truth)] = rho
            if err is not None:
                plotted.setdefault("spearman_sem", {}).setdefault(int(k), {})[str(truth)] = err
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(np.arange(len(scores)), [label(sc) for sc in scores], rotation=40, ha="right", fontsize=7)
        ax.set_ylim(-1, 1)
        ax.set_ylabel(r"Spearman $\rho$ with the truth")
        ax.legend(fontsize=7)
    ax = grid[-1, 0]
    if "pruning_accuracy" in ds:
        fr = ds.fraction_removed.values
        plotted["pruning"] = {"fraction_removed": fr}
        for i, rk in enumerate(ds.ranking.values):
            da = ds.pruning_accuracy.sel(ranking=rk)
            acc, sem = mean_sem(da)
            ln = ax.plot(fr, acc, marker="o", ms=3, label=str(rk), color=color(str(rk), i), clip_on=False)[0]
            plotted["pruning"][str(rk)] = acc
            if "seed" in da.dims and np.any(sem > 0):
                ax.fill_between(fr, acc - sem, acc + sem, color=ln.get_color(), alpha=0.2, lw=0)
                plotted.setdefault("pruning_sem", {})[str(rk)] = sem
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
            img, _, _, center = _relevance_map(ds)  # constant pixels masked, scale centred on the initial value
            _relevance_image(fig, ax, img, center, "input relevance")
        else:
            img = img.ravel() if img.ndim else np.asarray([img])
            ax.plot(img)
            ax.set_xlabel("input $j$")
            ax.set_ylabel(r"$\lambda^{\mathrm{in}}_j$")
        plotted["input_relevance"] = img
    return finish(fig, plotted, ds)


# =====================================================================================
# homeostasis
# =====================================================================================


def _verdicts(ds, layer) -> str:
    """The verdict of a layer; for an ensemble, each distinct verdict with its seed count."""
    if "verdict" not in ds:
        return ""
    v = np.atleast_1d(ds.verdict.sel(layer=layer).values).astype(str)
    if v.size == 1:
        return str(v[0])
    names, counts = np.unique(v, return_counts=True)
    return ", ".join(f"{n} ({c}/{v.size} seeds)" for n, c in sorted(zip(names, counts), key=lambda t: -t[1]))


def plot_homeostasis(ds) -> Figure:
    """Per hidden layer: drive vs gain (trained and initial), distribution of mean
    activity trained vs frozen, and activity CV per state with the verdict.

    With an ensemble (a ``seed`` dim) the drive-gain scatter shows the first network's
    nodes (one point per node) with the Spearman rho as mean +- s.e.m. over seeds in the
    legend; the activity histograms are seed means of per-seed histograms with +-s.e.m.
    bands; the CV bars are seed means with s.e.m. error bars; the title gives each
    seed's verdict. State colours follow :data:`~spectral_physics.analysis._plotting.COLORS`.

    ``fig.plotted``: ``{"drive_gain": {layer: {state: {"drive", "gain", "spearman" (seed
    mean), "spearman_sem" (ensembles only)}}}, "scatter_seed": seed shown (ensembles),
    "activity": {layer: {"edges", state: node counts (seed mean), "sem": {state: s.e.m.}
    (ensembles)}}, "cv": {layer: {"states", "cv", "p", "verdict", and for ensembles "sem",
    "n_seeds"}}}``.
    """
    check(ds, ["drive", "gain", "activity_abs_mean", "activity_cv"], "a homeostasis")
    layers = ds.layer.values
    ensemble = "seed" in ds.dims
    one = ds.isel(seed=0) if ensemble else ds  # the scatter shows single nodes: one network
    fig = Figure(figsize=(11.0, 2.9 * len(layers)), layout="constrained")
    axes = fig.subplots(len(layers), 3, squeeze=False)
    plotted: dict = {"drive_gain": {}, "activity": {}, "cv": {}}
    if ensemble:
        plotted["scatter_seed"] = int(ds.seed.values[0])
    n_seeds = int(ds.sizes["seed"]) if ensemble else 1
    for r, k in enumerate(layers):
        n = int(ds.n_hidden.sel(layer=k))
        ax = axes[r, 0]
        plotted["drive_gain"][int(k)] = {}
        for st, alpha in (("initial", 0.45), ("trained", 0.7)):
            d = one.drive.sel(state=st, layer=k).values[:n]
            g = one.gain.sel(state=st, layer=k).values[:n]
            rho_da = ds.drive_gain_spearman.sel(state=st, layer=k)
            rho, rho_sem = (float(a) for a in mean_sem(rho_da))
            txt = rf"$\rho={rho:.2f}$" if not ensemble else rf"$\rho={rho:.2f}\pm{rho_sem:.2f}$"
            ax.scatter(d, g, s=5, label=f"{st} ({txt})", color=color(st), alpha=alpha, lw=0)
            plotted["drive_gain"][int(k)][st] = {"drive": d, "gain": g, "spearman": rho}
            if ensemble:
                plotted["drive_gain"][int(k)][st]["spearman_sem"] = rho_sem
        ax.set_xlabel(r"drive $\langle|\phi_i\cdot x|\rangle$")
        ax.set_ylabel("gain $|g_i|$\n" r"(slope of $z_i-b_i$ on $\phi_i\cdot x$)")
        shown = f", nodes of seed {plotted['scatter_seed']}" if ensemble else ""
        ax.set_title(f"hidden layer after weights {int(k)}{shown}")
        ax.legend(fontsize=7, title=r"Spearman $\rho$" + (f" over {n_seeds} seeds" if ensemble else ""),
                  title_fontsize=6)
        ax = axes[r, 1]
        vals = {st: ds.activity_abs_mean.sel(state=st, layer=k)[..., :n] for st in ("trained", "frozen")}
        allv = np.concatenate([v.values.ravel() for v in vals.values()])
        allv = allv[np.isfinite(allv)]
        edges = np.linspace(0, allv.max() * 1.02 if allv.size and allv.max() > 0 else 1.0, 31)
        plotted["activity"][int(k)] = {"edges": edges}
        for st in ("frozen", "trained"):
            members = np.atleast_2d(vals[st].transpose(..., "node").values)  # (seed, node) or (1, node)
            per = np.stack([np.histogram(v[np.isfinite(v)], bins=edges)[0] for v in members])
            counts = per.mean(axis=0)
            ax.stairs(counts, edges, color=color(st), label=st, lw=1.2)
            plotted["activity"][int(k)][st] = counts
            if ensemble and per.shape[0] > 1:
                sem = per.std(axis=0, ddof=1) / np.sqrt(per.shape[0])
                ax.stairs(counts + sem, edges, baseline=counts - sem, fill=True, color=color(st), alpha=0.25, lw=0)
                plotted["activity"][int(k)].setdefault("sem", {})[st] = sem
                plotted["activity"][int(k)].setdefault("band", {})[st] = {"lower": counts - sem,
                                                                         "upper": counts + sem}
        ax.set_xlabel(r"mean activity $\langle|a_i|\rangle$ of node $i$")
        ax.set_ylabel("nodes" + (f" (mean over {n_seeds} seeds)" if ensemble else ""))
        ax.legend(fontsize=7)
        ax = axes[r, 2]
        states = [str(s) for s in ds.state.values]
        cv_da = ds.activity_cv.sel(layer=k).transpose(..., "state")
        cv, cv_sem = mean_sem(cv_da)
        ax.bar(states, cv, color=[color(st) for st in states],
               yerr=cv_sem if ensemble else None, capsize=3, error_kw={"lw": 1})
        verdict = _verdicts(ds, k)
        p = float(np.nanmax(ds.cv_p.sel(layer=k).values)) if "cv_p" in ds else float("nan")
        ptxt = f"$p={p:.2g}$" if not ensemble else f"every seed $p\\leq{p:.2g}$"
        lines = verdict.replace("), ", "),\n")  # one verdict per line
        ax.set_title(f"activity CV (trained < frozen, {ptxt}):\n{lines}", fontsize=9)
        ax.set_ylabel(r"CV of $\langle|a_i|\rangle$ across nodes")
        plotted["cv"][int(k)] = {"states": states, "cv": cv, "p": p, "verdict": verdict}
        if ensemble:
            plotted["cv"][int(k)].update(sem=cv_sem, n_seeds=n_seeds)
    return finish(fig, plotted, ds)


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
    ax1.set_ylabel(r"CV of $\langle|a_i|\rangle$ across nodes")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel(r"Spearman $\rho(\mathrm{drive}, \mathrm{gain})$")
    ax2.axhline(0, color="k", lw=0.6)
    ax1.legend(fontsize=7)
    return finish(fig, plotted, ds)


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
    ax1.set_xlabel("node $j$ (source)")
    ax1.set_ylabel("node $i$ (target)")
    sizes = "-".join(str(g) for g in groups)
    ax1.set_title(f"(a) network operator, sizes {sizes}")
    fig.colorbar(im, ax=ax1, label="$A_{ij}$", shrink=0.85)
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
    # code arrows of the Dataset's title as mathtext (e.g. "one layer 2 -> 2")
    ax2.set_title(str(ds.attrs.get("symbolic_title", "(b) symbolic operator")).replace(" -> ", r" $\to$ "))
    if ds.attrs.get("symbolic_weight"):
        ax2.set_xlabel(f"${ds.attrs['symbolic_weight']}$", fontsize=8)
    return finish(fig, {"operator": A, "symbolic": sym, "group_sizes": groups}, ds)
