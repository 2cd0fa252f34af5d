"""What every plot function shares: the ``fig.plotted`` contract, colours, seed reductions.

Every plot function of :mod:`spectral_physics.analysis.plots` returns a
:class:`matplotlib.figure.Figure` whose attribute ``plotted`` is a nested ``dict`` of
exactly the numbers drawn: keyed by panel, then by layer (int) or series (str), with
numpy arrays, floats, strings or lists of strings at the leaves. It is set once, by
:func:`finish`, from the same arrays that were handed to the artists, so tests compare
``fig.plotted`` with the Dataset instead of reading artists or pixels. Figure scripts that
change what a figure shows (e.g. bars replaced by seed means) update ``fig.plotted`` too.

Colours carry one meaning each: :data:`COLORS` maps every name a figure labels (a
training preset, a network state or eigenvalue source, a pruning ranking, a sparse
wiring) to one colour, used for it in every panel of every figure. Names of different
kinds may share a hue, but never within one figure, except a variant of a wiring (the
same scores thresholded globally or per layer): it takes its parent's hue, its own
marker and a dashed line (:data:`LINESTYLES`). Curves over an ensemble's ``seed``
dim are drawn as seed means with standard errors (:func:`mean_sem`), as bands or error
bars. A Dataset from a reduced schedule (attribute ``schedule_label``, e.g. ``"quick"``)
gets a corner note saying so (:func:`schedule_note`, called by :func:`finish`).
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__ = ["COLORS", "MARKERS", "LINESTYLES", "VARIANTS", "LABELS", "color", "marker", "linestyle", "label",
           "finish", "check", "schedule_label", "schedule_note", "seed_mean", "seed_sem", "mean_sem"]

# Okabe-Ito colour-blind-safe palette (as paper.mplstyle's cycle)
_BLUE, _VERMILLION, _GREEN, _ORANGE = "#0072B2", "#D55E00", "#009E73", "#E69F00"
_PURPLE, _SKY, _YELLOW, _BLACK, _GREY = "#CC79A7", "#56B4E9", "#F0E442", "#000000", "#7F7F7F"

#: one colour per meaning, in every panel and figure
COLORS: dict[str, str] = {
    # training presets (accuracy vs hidden, phase diagram, sparse training)
    "direct": _BLUE,
    "eigen-out": _VERMILLION,
    "eigen": _GREEN,
    "svd": _ORANGE,
    "spectral": _PURPLE,
    "qr": _SKY,
    # network states and eigenvalue sources (eigenvalue statistics, homeostasis)
    "trained": _BLUE,
    "initial": _VERMILLION,
    "frozen": _GREEN,
    # a random baseline of any kind: random-matrix null, random node ranking, random wiring
    "random": _GREY,
    # node rankings (pruning)
    "eigenvalue": _VERMILLION,
    "connectivity": _SKY,
    "outgoing": _GREEN,
    "activation": _ORANGE,
    "eigenvalue-in": _PURPLE,
    # sparse wirings (NTT comparison)
    "ntt": _BLUE,
    "scaled-random": _SKY,
    "magnitude": _ORANGE,
    "snip": _PURPLE,
    "logit-snip": _GREEN,
    "dense": _BLACK,
}

#: variant of a wiring (the same scores thresholded globally or per layer) -> its parent
VARIANTS: dict[str, str] = {"ntt-global": "ntt", "global-magnitude": "magnitude", "snip-layer": "snip",
                            "logit-snip-layer": "logit-snip"}
COLORS.update({v: COLORS[p] for v, p in VARIANTS.items()})  # the parent's hue, drawn dashed

#: one marker per training preset and wiring (the same in every figure)
MARKERS: dict[str, str] = {
    "direct": "o", "eigen-out": "s", "eigen": "^", "svd": "D", "spectral": "v", "qr": "P",
    "ntt": "o", "random": "s", "scaled-random": "^", "magnitude": "D", "snip": "v", "logit-snip": "P",
    "ntt-global": "X", "global-magnitude": "*", "snip-layer": "<", "logit-snip-layer": ">",
}

#: line style of the names not drawn solid: the variants of a wiring
LINESTYLES: dict[str, str] = dict.fromkeys(VARIANTS, "--")

#: mathtext labels of the quantities the Datasets name in code
LABELS: dict[str, str] = {
    "lam_in": r"$\lambda^{\mathrm{in}}$",
    "lam_out": r"$\lambda^{\mathrm{out}}$",
    "abs_lam_out": r"$|\lambda^{\mathrm{out}}|$",
    "lambda": r"$\lambda(A)$",
    "esd": r"$W^\top W$",
    "r": r"$\langle r\rangle$",
    # node scores and exact importances (node correspondence)
    "abs_lam_in_next": r"$|\lambda^{\mathrm{in}}_{\mathrm{next}}|$",
    "in_norm": r"$\sum_j |w_{ij}|$",
    "out_norm": r"$\sum_m |w_{mi}|$",
    "mean_activation": r"$\langle|a_i|\rangle$",
    "acc_drop": r"accuracy drop $\Delta\mathrm{acc}_i$",
    "loss_increase": r"loss increase $\Delta L_i$",
}

_FALLBACK = (_BLUE, _VERMILLION, _GREEN, _ORANGE, _PURPLE, _SKY, _YELLOW, _BLACK)
_FALLBACK_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def color(name: str, i: int = 0) -> str:
    """The colour of ``name`` (:data:`COLORS`); the ``i``-th palette colour for a name it lacks."""
    return COLORS.get(str(name), _FALLBACK[i % len(_FALLBACK)])


def linestyle(name: str) -> str:
    """The line style of ``name`` (:data:`LINESTYLES`); solid for every other name."""
    return LINESTYLES.get(str(name), "-")


def marker(name: str, i: int = 0) -> str:
    """The marker of ``name`` (:data:`MARKERS`); the ``i``-th marker for a name it lacks."""
    return MARKERS.get(str(name), _FALLBACK_MARKERS[i % len(_FALLBACK_MARKERS)])


def label(name: str) -> str:
    """The mathtext label of a code name (:data:`LABELS`), else the name itself."""
    return LABELS.get(str(name), str(name))


def schedule_label(ds) -> str | None:
    """The schedule a Dataset was computed with (``"quick"``, ``"full"``, ``"custom"``), or None when unknown.

    Read from the attribute ``schedule_label`` (stamped by
    :func:`spectral_physics.figures.draw` from ``schedule.json`` next to the Datasets); a
    sweep whose spec is named ``*-quick`` (the quick preset sweep) says so itself.
    """
    if ds is None:
        return None
    attrs = getattr(ds, "attrs", {})
    lab = attrs.get("schedule_label")
    if lab:
        return str(lab)
    spec = attrs.get("spec")
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except ValueError:
            spec = None
    name = spec.get("name") if isinstance(spec, dict) else None
    if isinstance(name, str) and name.endswith("-quick"):
        return "quick"
    return None


def schedule_note(fig: Figure, ds) -> str | None:
    """Note a schedule other than the full one on ``fig`` (top right); the note's text, or None for none."""
    lab = schedule_label(ds)
    if lab is None or lab == "full":
        return None
    why = " (reduced data, epochs and seeds)" if lab == "quick" else ""
    text = f"{lab} schedule{why}: not the paper's numbers"
    fig.suptitle(text, x=0.995, ha="right", fontsize=6, color="0.35", style="italic")
    return text


def finish(fig: Figure, plotted: dict[str, Any], ds=None) -> Figure:
    """Attach ``plotted`` (the numbers drawn) to ``fig`` and return it.

    With ``ds``, a reduced schedule of that Dataset is noted on the figure
    (:func:`schedule_note`) and recorded as ``plotted["schedule"]`` and ``["schedule_note"]``.
    """
    note = schedule_note(fig, ds)
    if note is not None:
        plotted["schedule"] = schedule_label(ds)
        plotted["schedule_note"] = note
    fig.plotted = plotted
    return fig


def check(ds, names, what: str) -> None:
    """Raise ``ValueError`` naming the missing variables when ``ds`` lacks any of ``names``."""
    missing = [n for n in names if n not in ds]
    if missing:
        raise ValueError(f"ds is not {what} Dataset: missing {missing}")


def seed_mean(da):
    """Mean over ``seed`` when the Dataset is an ensemble (NaN-aware)."""
    return da.mean("seed", skipna=True) if "seed" in da.dims else da


def seed_sem(da):
    """Standard error over ``seed`` (``std(ddof=1) / sqrt(n)``, ``n`` the finite seeds); None without two seeds."""
    if "seed" not in da.dims or da.sizes["seed"] < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # fewer than two finite seeds: NaN
        n = da.count("seed")
        return da.std("seed", ddof=1, skipna=True) / np.sqrt(n.where(n > 0))


def mean_sem(da) -> tuple[np.ndarray, np.ndarray]:
    """Seed mean and standard error as numpy arrays (sem is zeros for a single seed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN points (diverged) stay NaN
        mean = seed_mean(da).values.astype(float)
        sem = seed_sem(da)
    sem = np.zeros_like(mean) if sem is None else np.nan_to_num(sem.values.astype(float))
    return mean, sem
