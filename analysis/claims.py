"""The papers' claims as numbers: one per-seed quantity each, its 95 % interval, a verdict.

:func:`claims` reads the Datasets a :func:`~spectral_physics.analysis.reproduce.reproduce`
run left in a work folder and turns every claim the plan tests into one row: a quantity
measured once per seed (a difference between two wirings, rankings or presets, paired by
seed, or a statistic), its mean, the Student-t interval of that mean over the seeds, the
reference it is compared with and the verdict. Claims whose Datasets are missing are left
out and named in the ``missing_steps`` attribute.

The verdict rule is one for every claim. The claim states on which side of ``reference``
the quantity lies (``side`` +1: above, -1: below).

- ``"supported"``: the 95 % interval lies entirely on that side;
- ``"contradicted"``: it lies entirely on the other side;
- ``"inconclusive"``: it contains the reference, or fewer than two seeds give no interval.

A claim with ``side`` 0 is a measurement (the paper's number, where known, is set beside
it in REPRODUCTION.md) and gets ``"measured"``.

Every verdict is made at 95 % on its own. Beside it, ``holm`` says whether a decisive
verdict survives Holm's step-down correction (:func:`holm`) over the family of every sided
claim in the table, at a family-wise error rate of 5 %: the two-sided t-test p-values of
:func:`seed_p_value`, which reject exactly where the 95 % interval excludes the reference.
The family grows as more steps land, so the correction can only get stricter.

The rule and the claims of the sparse, pruning, NTT and presets steps were written before
any of their paper-scale results existed; those of the eigenvalue steps after theirs had
been seen (REPRODUCTION.md says so).

Example
-------
>>> import numpy as np
>>> from spectral_physics.analysis.claims import seed_interval, verdict
>>> mean, lower, upper, n = seed_interval(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
>>> round(mean, 3), round(lower, 3), round(upper, 3), n
(3.0, 1.037, 4.963, 5)
>>> verdict(lower, upper, side=+1, reference=0.0)
'supported'
>>> holm(np.array([0.01, 0.04, 0.03]))  # thresholds 0.05/3, 0.05/2, 0.05
array([ True, False, False])
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from ._xr import cf, provenance_attrs
from .rmt import R_GOE, R_POISSON

__all__ = ["LEVEL", "Claim", "seed_interval", "seed_p_value", "holm", "verdict", "claims", "claims_table",
           "write_claims"]

#: confidence level of every interval
LEVEL = 0.95


@dataclass(frozen=True)
class Claim:
    """One claim and its per-seed values.

    Parameters
    ----------
    key : str
        Identifier (the ``claim`` coordinate of :func:`claims`).
    step : str
        The reproduce step whose Dataset holds the values.
    statement, quantity, source : str
        The claim in words, what is measured once per seed, where the claim comes from.
    values : ndarray, shape (n_seeds,)
        One value per seed (NaN for a seed that gave none).
    side : {-1, 0, 1}
        The claimed side of ``reference`` (0: a measurement, no side).
    reference : float
        The value the mean is compared with.
    """

    key: str
    step: str
    statement: str
    quantity: str
    values: np.ndarray
    side: int = 0
    reference: float = 0.0
    source: str = ""


def seed_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float, float, int]:
    """Mean of per-seed values and its Student-t interval.

    Parameters
    ----------
    values : ndarray, shape (n_seeds,)
        NaN entries are dropped.
    level : float
        Confidence level.

    Returns
    -------
    mean, lower, upper : float
        ``lower = upper = nan`` with fewer than two values.
    n : int
        Values used.
    """
    from scipy import stats

    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    mean = float(v.mean())
    if n < 2:
        return mean, float("nan"), float("nan"), n
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * v.std(ddof=1) / np.sqrt(n))
    return mean, mean - half, mean + half, n


def seed_p_value(values: np.ndarray, reference: float = 0.0) -> float:
    """Two-sided p-value of the one-sample t-test of the per-seed mean against ``reference``.

    It is below ``1 - LEVEL`` exactly when the :func:`seed_interval` at ``LEVEL`` excludes
    ``reference``.

    Parameters
    ----------
    values : ndarray, shape (n_seeds,)
        NaN entries are dropped.
    reference : float

    Returns
    -------
    float
        NaN with fewer than two values; 0 or 1 when the values have no spread at all
        (standard deviation exactly 0): the mean is at the reference or not.
    """
    from scipy import stats

    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan")
    sd = float(v.std(ddof=1))
    if sd == 0.0:
        return 1.0 if float(v.mean()) == reference else 0.0
    t = (float(v.mean()) - reference) / (sd / np.sqrt(v.size))
    return float(2 * stats.t.sf(abs(t), v.size - 1))


def holm(p_values: np.ndarray, alpha: float = 1 - LEVEL) -> np.ndarray:
    """Holm's step-down rejections at family-wise error rate ``alpha``.

    The k-th smallest of m p-values is rejected while every smaller one was and it is at
    most ``alpha / (m - k + 1)`` (k from 1).

    Parameters
    ----------
    p_values : ndarray, shape (m,)
        NaN entries count in m and are never rejected.
    alpha : float

    Returns
    -------
    ndarray of bool, shape (m,)
        True where the hypothesis is rejected, in the order of ``p_values``.
    """
    p = np.asarray(p_values, dtype=np.float64).ravel()
    m = p.size
    out = np.zeros(m, dtype=bool)
    order = np.argsort(np.where(np.isnan(p), np.inf, p), kind="stable")
    for k, i in enumerate(order):
        if not p[i] <= alpha / (m - k):
            break
        out[i] = True
    return out


def verdict(lower: float, upper: float, side: int, reference: float = 0.0) -> str:
    """The module's rule: where the interval ``[lower, upper]`` lies relative to ``reference``.

    Parameters
    ----------
    lower, upper : float
        The interval (NaN: none, e.g. fewer than two seeds).
    side : {-1, 0, 1}
        The claimed side of ``reference``; 0 for a measurement.
    reference : float

    Returns
    -------
    str
        ``"supported"``, ``"contradicted"``, ``"inconclusive"`` or ``"measured"``.
    """
    if side == 0:
        return "measured"
    if not (np.isfinite(lower) and np.isfinite(upper)):
        return "inconclusive"
    lo, hi = (lower - reference, upper - reference) if side > 0 else (reference - upper, reference - lower)
    return "supported" if lo > 0 else "contradicted" if hi < 0 else "inconclusive"


# --------------------------------------------------------------------------------------
# The claims of each step
# --------------------------------------------------------------------------------------


def _v(da: xr.DataArray) -> np.ndarray:
    return np.asarray(da.values, dtype=np.float64).ravel()


def _eigen_claims(h: xr.Dataset | None, rel: xr.Dataset | None, es: xr.Dataset | None) -> list[Claim]:
    out: list[Claim] = []
    if h is not None:
        h0 = h.isel(layer=0) if "layer" in h.dims else h
        out += [
            Claim("eigen_accuracy", "homeostasis", "Training only the eigenvalues (eigen) reaches a useful accuracy",
                  "test accuracy", _v(h0.baseline_accuracy), 0, 0.0, "G21; C21"),
            Claim("homeostasis_cv", "homeostasis",
                  "Trained eigenvalues narrow the spread of activity across hidden nodes",
                  "activity CV trained - frozen (eigenvalues reset)", _v(h0.cv_difference), -1, 0.0,
                  "C21 (homeostatic analogue); docs/design.md §1.3"),
            Claim("homeostasis_gain_drive", "homeostasis",
                  "After training, a node's gain falls with its drive (homeostatic gain)",
                  "Spearman rho(drive, gain), trained", _v(h0.drive_gain_spearman.sel(state="trained")), -1, 0.0,
                  "C21 (homeostatic analogue)"),
            Claim("homeostasis_gain_drive_change", "homeostasis",
                  "Training turns the gain-drive correlation towards negative",
                  "rho trained - rho initial",
                  _v(h0.drive_gain_spearman.sel(state="trained") - h0.drive_gain_spearman.sel(state="initial")),
                  -1, 0.0, "C21 (homeostatic analogue)"),
            Claim("silence_inputs", "homeostasis",
                  "Inputs with |lam_in| near 0 are irrelevant: silencing them costs less than silencing as many "
                  "random inputs", "accuracy drop, silenced - random",
                  _v(h.silence_inputs_acc_drop - h.random_inputs_acc_drop), -1, 0.0, "C21; B22"),
            Claim("silence_nodes_lam_out", "homeostasis",
                  "Hidden nodes with |lam_out| near 0 are irrelevant: silencing them costs less than as many random",
                  "accuracy drop, silenced - random",
                  _v((h0.silence_nodes_acc_drop - h0.random_nodes_acc_drop).sel(criterion="lam_out")), -1, 0.0,
                  "B22"),
        ]
    if rel is not None:
        dev = np.abs(rel.input_relevance - 1.0)
        std = rel.pixel_std.broadcast_like(dev)
        pixels = [d for d in dev.dims if d != "seed"]  # (row, col) for images, else (input,)
        corr = []
        for s in range(rel.sizes["seed"]):
            d, x = _v(dev.isel(seed=s)), _v(std.isel(seed=s))
            corr.append(float(np.corrcoef(d[x > 0], x[x > 0])[0, 1]) if (x > 0).sum() > 1 else np.nan)
        out += [
            Claim("relevance_constant_pixels", "relevance",
                  "Pixels that never vary get no gradient: their lam_in keeps its initial value 1",
                  "max |lam_in - 1| over constant pixels", _v(dev.where(std == 0).max(pixels)), 0, 0.0, "C21"),
            Claim("relevance_std", "relevance", "lam_in of the first layer marks the pixels that carry information",
                  "Pearson r(|lam_in - 1|, pixel std), varying pixels", np.array(corr), +1, 0.0, "C21"),
        ]
    if es is not None:
        e0 = es.isel(layer=0)
        out += [
            Claim("eigenstats_lam_in_r", "eigenstats",
                  "Trained lam_in shows no GOE level repulsion: its <r> stays below GOE's",
                  f"<r> of trained lam_in, first layer (Poisson {R_POISSON:.3f}, GOE {R_GOE:.3f})",
                  _v(e0.lam_in_r.sel(source="trained")), -1, R_GOE, "docs/design.md §5"),
            Claim("eigenstats_mp", "eigenstats",
                  "Training moves the first layer's weight spectrum further from Marchenko-Pastur than at "
                  "initialisation", "MP KS distance, trained - initial",
                  _v(e0.mp_ks.sel(source="trained") - e0.mp_ks.sel(source="initial")), +1, 0.0,
                  "docs/design.md §5"),
        ]
    return out


def _last_epoch(da: xr.DataArray) -> xr.DataArray:
    return da.isel(epoch=-1) if "epoch" in da.dims else da


def _sparse_claims(ds: xr.Dataset) -> list[Claim]:
    acc = _last_epoch(ds.test_accuracy)
    out = []
    for train in [t for t in ("qr", "spectral") if t in acc.train.values]:
        for d in acc.density.values:
            if d >= 1:
                continue
            diff = acc.sel(train=train, density=d) - acc.sel(train="direct", density=d)
            out.append(Claim(f"sparse_{train}_d{d:g}", "sparse",
                             f"Sparse spectral ({train}) training beats sparse direct training at {d:.0%} of weights "
                             "kept", "final test accuracy, spectral - direct", _v(diff), +1, 0.0, "C21"))
    return out


def _as_dims(ds: xr.Dataset, names: tuple[str, ...]) -> xr.Dataset:
    """One activation or width as a length-1 dimension (a scalar coordinate, an attribute or unknown)."""
    for n in names:
        if n in ds.coords and n not in ds.dims:
            ds = ds.expand_dims(n)
        elif n not in ds.coords:
            ds = ds.expand_dims({n: [ds.attrs.get(n, "?")]})
    return ds


def _unchanged_until(acc: xr.DataArray, drop: float = 0.01) -> np.ndarray:
    """Per seed: the largest fraction removed such that no smaller fraction's accuracy fell more than ``drop``.

    ``acc`` has dims ``fraction_removed`` (starting at 0, the unpruned network) and
    ``seed``; a seed without an unpruned accuracy gives NaN.
    """
    acc = acc.sortby("fraction_removed").transpose("seed", "fraction_removed")
    fr = acc.fraction_removed.values
    out = []
    for row in np.asarray(acc.values, dtype=np.float64):
        if not np.isfinite(row[0]):
            out.append(np.nan)
            continue
        ok = row >= row[0] - drop
        first_bad = int(np.argmin(ok)) if not ok.all() else len(row)
        out.append(float(fr[first_bad - 1]))
    return np.array(out)


def _pruning_claims(ds: xr.Dataset) -> list[Claim]:
    ds = _as_dims(ds, ("activation", "hidden"))
    out = []
    post = ds.get("post_accuracy")
    fil = ds.get("filter_accuracy")
    for name in ds.dataset.values:
        for act in ds.activation.values:
            for h in ds.hidden.values:
                where = f"{name}, {act}, {h} hidden"
                if post is not None:
                    p = post.sel(dataset=name, activation=act, hidden=h)
                    eig = p.sel(curve="spectral: eigenvalue")
                    for f in (0.5, 0.7, 0.9):
                        if f not in p.fraction_removed.values:
                            continue
                        for other, text, src in [("direct: connectivity", "the direct network pruned by incoming "
                                                  "connectivity", "B22 Fig. 3"),
                                                 ("spectral: random", "random removal from the same network",
                                                  "control")]:
                            if other in p.curve.values:
                                out.append(Claim(
                                    f"prune_eig_vs_{other.replace(': ', '_')}_{name}_{act}_h{h}_{f:g}",
                                    "pruning", f"Removing {f:.0%} of hidden nodes by |eigenvalue| keeps more accuracy "
                                    f"than {text} ({where})", "test accuracy, eigenvalue - other",
                                    _v(eig.sel(fraction_removed=f) - p.sel(curve=other, fraction_removed=f)),
                                    +1, 0.0, src))
                    out.append(Claim(f"prune_unchanged_{name}_{act}_h{h}", "pruning",
                                     f"Performance virtually unchanged after spectral pruning ({where})",
                                     "fraction removed before accuracy first drops 0.01 below unpruned",
                                     _unchanged_until(eig), 0, 0.0, "B22 abstract"))
                if fil is not None:
                    q = fil.sel(dataset=name, activation=act, hidden=h)
                    for f in (0.5, 0.7, 0.9):
                        if f in q.filter_fraction.values and "filter: random" in q.filter_curve.values:
                            out.append(Claim(
                                f"filter_eig_vs_random_{name}_{act}_h{h}_{f:g}", "pruning",
                                f"The pre-training filter by |eigenvalue| beats random removal at {f:.0%} ({where})",
                                "test accuracy after retraining, eigenvalue - random",
                                _v(q.sel(filter_fraction=f, filter_curve="filter: eigenvalue")
                                   - q.sel(filter_fraction=f, filter_curve="filter: random")), +1, 0.0, "B22"))
    return out


#: wirings found without labels (SNIP uses labels; dense is not sparse)
_LABEL_FREE = ("random", "scaled-random", "magnitude", "global-magnitude", "logit-snip")


def _ntt_claims(ds: xr.Dataset) -> list[Claim]:
    acc = ds.test_accuracy
    base = [w for w in _LABEL_FREE if w in acc.wiring.values]
    out = []
    for name in acc.dataset.values:
        for ntt in [w for w in acc.wiring.values if str(w).startswith("ntt")]:  # ntt, ntt-global, tagged
            for d in acc.density.values:
                a = acc.sel(dataset=name, density=d)
                # the baseline best on average, not each seed's best (the maximum of noisy
                # baselines lies above their means and would bias the claim against NTT)
                best = a.sel(wiring=base).mean("seed").fillna(-np.inf).argmax("wiring").item()
                out.append(Claim(f"{ntt}_{name}_d{d:g}", "ntt",
                                 f"NTT ({ntt}) beats every label-free baseline at {d:.0%} density ({name}); "
                                 f"the best on average is {base[best]}",
                                 "test accuracy, NTT - the label-free baseline best on average",
                                 _v(a.sel(wiring=ntt) - a.sel(wiring=base[best])), +1, 0.0, "LZ20"))
    return out


def _presets_claims(ds: xr.Dataset) -> list[Claim]:
    acc, rel = ds.test_accuracy, ds.relative_accuracy
    threshold = float(ds.attrs.get("threshold", 0.99))  # the sweep's own relative-accuracy threshold
    trains = list(acc.train.values)
    top = acc.hidden.values.max()
    out = []
    if "eigen" in trains and "eigen-out" in trains:
        for h in acc.hidden.values:
            out.append(Claim(f"eigen_vs_eigen_out_h{int(h)}", "presets_sweep",
                             f"Training both eigenvalue sets beats lam_out alone ({int(h)} hidden)",
                             "test accuracy, eigen - eigen-out",
                             _v(acc.sel(train="eigen", hidden=h) - acc.sel(train="eigen-out", hidden=h)), +1, 0.0,
                             "C21"))
    for train, side, text, src in [
            ("eigen", 0, "Eigenvalue-only training approaches direct accuracy", "G21; C21"),
            ("qr", +1, f"A decomposition of phi (qr) reaches {threshold:g} of direct accuracy", "C21"),
            ("spectral", +1, f"Training phi and both eigenvalue sets reaches {threshold:g} of direct accuracy",
             "C21")]:
        if train in trains:
            out.append(Claim(f"relative_{train}_h{int(top)}", "presets_sweep", f"{text} ({int(top)} hidden)",
                             "test accuracy relative to direct", _v(rel.sel(train=train, hidden=top)), side,
                             threshold if side else 0.0, src))
    return out


#: data step -> claim builder (the eigenvalue steps are read together)
_BUILDERS: dict[str, Callable[[xr.Dataset], list[Claim]]] = {
    "sparse": _sparse_claims, "pruning": _pruning_claims, "ntt": _ntt_claims, "presets_sweep": _presets_claims}


def claims(data_dir: str | os.PathLike, level: float = LEVEL) -> xr.Dataset:
    """Every claim the Datasets in ``data_dir`` test, with its interval and verdict.

    Parameters
    ----------
    data_dir : path
        The ``data/`` folder of a reproduce work folder (for example
        ``results/paper/data``).
    level : float
        Confidence level of the intervals.

    Returns
    -------
    xarray.Dataset
        Dim ``claim`` (the claim keys); ``mean``, ``lower``, ``upper``, ``n_seeds``,
        ``reference``, ``side``, ``p_value`` (:func:`seed_p_value`; NaN for a measurement),
        ``holm`` (a decisive verdict that survives :func:`holm` over the sided claims), and
        the strings ``verdict``, ``step``, ``statement``, ``quantity`` and ``source``;
        attributes ``missing_steps`` (the steps whose Dataset is not there),
        ``unreadable_steps`` (those whose Dataset lacks what a claim reads, with the error)
        and provenance.
    """
    from . import read_netcdf

    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{data_dir} is not a folder of reproduce Datasets")

    def load(name: str) -> xr.Dataset | None:
        p = data_dir / f"{name}.nc"
        return read_netcdf(p) if p.is_file() else None

    loaded = {n: load(n) for n in ("homeostasis", "relevance", "eigenstats", *_BUILDERS)}
    builders: dict[str, Callable[[], list[Claim]]] = {
        "homeostasis, relevance, eigenstats": lambda: _eigen_claims(
            loaded["homeostasis"], loaded["relevance"], loaded["eigenstats"]),
        **{n: (lambda n=n: _BUILDERS[n](loaded[n])) for n in _BUILDERS if loaded[n] is not None}}
    rows: list[Claim] = []
    unreadable = []
    for steps, build in builders.items():
        # a Dataset of another layout (an older run, a custom configuration) must not sink
        # the table, nor a reproduce run that just finished hours of work
        try:
            rows += build()
        except (KeyError, AttributeError, ValueError, IndexError) as exc:
            unreadable.append(f"{steps} ({type(exc).__name__}: {exc})")
    stats = [seed_interval(c.values, level) for c in rows]
    keys = [c.key for c in rows]
    verdicts = [verdict(s[1], s[2], c.side, c.reference) for c, s in zip(rows, stats)]
    p = np.array([seed_p_value(c.values, c.reference) if c.side else np.nan for c in rows])
    sided = np.array([c.side != 0 for c in rows], dtype=bool)
    survives = np.zeros(len(rows), dtype=bool)
    survives[sided] = holm(p[sided], 1 - level)

    def var(values, dtype, long_name, units="1"):
        da = xr.DataArray(np.array(values, dtype=dtype), dims="claim")
        if dtype is object:  # labels: no units
            return da.assign_attrs(long_name=long_name)
        return cf(da, long_name, units)

    ds = xr.Dataset(
        {
            "mean": var([s[0] for s in stats], float, "mean over seeds"),
            "lower": var([s[1] for s in stats], float, f"lower bound of the {level:.0%} Student-t interval"),
            "upper": var([s[2] for s in stats], float, f"upper bound of the {level:.0%} Student-t interval"),
            "n_seeds": var([s[3] for s in stats], int, "seeds with a value", "1"),
            "reference": var([c.reference for c in rows], float, "value the claim compares with"),
            "side": var([c.side for c in rows], int, "claimed side of the reference (+1 above, -1 below, 0 none)",
                        "1"),
            "verdict": var(verdicts, object, "supported / contradicted / inconclusive / measured"),
            "p_value": var(p, float, "two-sided t-test p-value of the mean against the reference"),
            "holm": var(survives, bool, f"decisive after Holm's correction over the {int(sided.sum())} sided claims, "
                                        f"family-wise {1 - level:.0%}", "1"),
            "step": var([c.step for c in rows], object, "reproduce step whose Dataset holds the values"),
            "statement": var([c.statement for c in rows], object, "the claim"),
            "quantity": var([c.quantity for c in rows], object, "what is measured once per seed"),
            "source": var([c.source for c in rows], object, "where the claim comes from"),
        },
        coords={"claim": np.array(keys, dtype=object)},
    )
    missing = [n for n, v in loaded.items() if v is None]
    ds.attrs.update(provenance_attrs(analysis="claims", level=level, data_dir=str(data_dir),
                                     missing_steps=", ".join(missing) if missing else "none",
                                     unreadable_steps="; ".join(unreadable) if unreadable else "none"))
    return ds


def claims_table(ds: xr.Dataset, digits: int = 3) -> str:
    """The claims of :func:`claims` as a Markdown table.

    Parameters
    ----------
    ds : xarray.Dataset
        The output of :func:`claims`.
    digits : int
        Decimals of the mean and the interval.

    Returns
    -------
    str
        A header, a rule and one row per claim, each line ending in a newline. The column
        "after Holm" says, for a decisive verdict, whether it survives Holm's correction
        over the m sided claims of the table.
    """
    n_sided = int((ds.side != 0).sum())
    lines = ["| claim | quantity (per seed) | mean [95 % interval], seeds | reference | verdict "
             f"| after Holm (m = {n_sided}) | source |",
             "|---|---|---|---|---|---|---|"]
    for k in ds.claim.values:
        r = ds.sel(claim=k)
        m, lo, hi = (float(r[v]) for v in ("mean", "lower", "upper"))
        interval = f"{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]" if np.isfinite(lo) else f"{m:.{digits}f}"
        side = int(r.side)
        ref = "" if side == 0 else f"{'>' if side > 0 else '<'} {float(r.reference):g}"
        decisive = r.verdict.item() in ("supported", "contradicted")
        after = ("yes" if bool(r.holm) else "no") if decisive else ""
        cells = [r.statement.item(), r.quantity.item(), f"{interval}, n = {int(r.n_seeds)}", ref, r.verdict.item(),
                 after, r.source.item()]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_claims(data_dir: str | os.PathLike, out: str | os.PathLike) -> dict[str, Path]:
    """Write :func:`claims` of ``data_dir`` to ``out/claims.nc`` and ``out/claims.md``.

    Parameters
    ----------
    data_dir : path
        A reproduce work folder's ``data/``; its ``schedule.json`` (when present) names the
        schedule in the Markdown file's first line.
    out : path
        Folder of the two files (created if missing).

    Returns
    -------
    dict of str to pathlib.Path
        ``"netcdf"`` and ``"markdown"``, the files written.
    """
    from spectral_physics.atomic import write_text_atomic

    from ._xr import write_netcdf
    from .reproduce import _recorded_schedule  # lazy: reproduce imports this module

    data_dir = Path(data_dir)
    ds = claims(data_dir)
    recorded = _recorded_schedule(data_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"netcdf": out / "claims.nc", "markdown": out / "claims.md"}
    write_netcdf(ds, paths["netcdf"])
    head = (f"Schedule {recorded.get('label', 'unknown')} ({recorded.get('fingerprint', 'no schedule.json')}). "
            f"Steps whose Datasets are missing: {ds.attrs['missing_steps']}; unreadable: "
            f"{ds.attrs['unreadable_steps']}.\n\n")
    write_text_atomic(paths["markdown"], head + claims_table(ds))
    return paths
