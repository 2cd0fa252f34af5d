"""The phase boundary of a compression-versus-accuracy sweep.

A sweep (:func:`spectral_physics.analysis.sweep.run_sweep`) gives the test accuracy of
every preset at every size and seed. The *phase boundary* is where the accuracy relative
to direct-space training at the same size crosses a threshold (e.g. 0.99), interpolated
along the compression axis (log trainable-parameter ratio), with a bootstrap over seeds.

Example
-------
>>> import numpy as np
>>> boundary_crossing(np.log([0.01, 0.1, 1.0]), np.array([0.9, 0.98, 1.0]), 0.99)[1]
0
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import xarray as xr

from ._xr import cf
from .sweep.run import STATUS_OK
from .sweep.spec import _is_int

__all__ = ["phase_boundary", "boundary_crossing", "phase_diagram_data"]


def boundary_crossing(x: np.ndarray, r: np.ndarray, threshold: float) -> tuple[float, int]:
    """Where ``r`` first reaches ``threshold`` along ``x``, linearly interpolated.

    Parameters
    ----------
    x : array, shape (n,)
        Positions in increasing order of the swept axis (e.g. log trainable ratio).
    r : array, shape (n,)
        Values (e.g. seed-mean relative accuracy); NaN entries are skipped.
    threshold : float

    Returns
    -------
    x_cross : float
        Interpolated position between the last point below and the first at or above the
        threshold; NaN when there is no such pair.
    state : int
        0 crossing found; 1 already at or above at the first point; 2 never reached.
    """
    x, r = np.asarray(x, float), np.asarray(r, float)
    keep = np.isfinite(x) & np.isfinite(r)
    x, r = x[keep], r[keep]
    if len(r) == 0:
        return math.nan, 2
    above = np.flatnonzero(r >= threshold)
    if len(above) == 0:
        return math.nan, 2
    i = int(above[0])
    if i == 0:
        return math.nan, 1
    t = (threshold - r[i - 1]) / (r[i] - r[i - 1])
    return float(x[i - 1] + t * (x[i] - x[i - 1])), 0


def phase_boundary(
    ds: xr.Dataset,
    threshold: float | None = None,
    along: str = "hidden",
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> xr.Dataset:
    """Phase boundary: the compression at which relative accuracy reaches ``threshold``.

    Along ``along`` (in the order of its coordinate), the seed-mean relative accuracy is
    compared with ``threshold``; the first crossing is interpolated linearly in
    ``log(trainable_ratio)`` (and in ``log(hidden)`` for a numeric hidden axis). The
    interval resamples seeds with replacement (the same resample for every grid point, so
    the pairing with ``direct`` is kept) and takes percentiles of the crossing.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`assemble`.
    threshold : float, optional
        Default: the spec's threshold (attribute ``threshold``), else 0.99.
    along : str
        The swept axis along which compression varies.
    n_boot : int
        Bootstrap resamples over seeds.
    ci : float
        Central interval probability.
    seed : int
        Seed of the bootstrap generator.

    Returns
    -------
    xarray.Dataset
        Dims: the other axes. ``boundary_ratio`` (trainable-parameter ratio at the
        crossing), ``boundary_ratio_lower``/``_upper`` (bootstrap interval),
        ``boundary_hidden`` (+ bounds, numeric hidden axes only), ``crossing_state`` (0
        found, 1 above threshold everywhere, 2 never reached) and ``bootstrap_found``
        (fraction of resamples with a crossing).
    """
    if along not in ds.dims:
        raise ValueError(f"along must be one of the swept dims {[d for d in ds.dims if d != 'seed']}, got {along!r}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1), got {ci!r}")
    if not _is_int(n_boot) or n_boot < 1:
        raise ValueError(f"n_boot must be an integer >= 1, got {n_boot!r}")
    thr = float(threshold if threshold is not None else ds.attrs.get("threshold", 0.99))
    rel = ds["relative_accuracy"].where(ds["status"] == STATUS_OK)
    others = [d for d in rel.dims if d not in (along, "seed")]
    rel = rel.transpose(*others, along, "seed")
    logratio = np.log(ds["trainable_ratio"].transpose(*others, along).values)
    hid = ds[along].values
    numeric_hidden = np.issubdtype(hid.dtype, np.number)
    order = np.argsort(hid) if numeric_hidden else np.arange(len(hid))
    rel_v = rel.values[..., order, :]
    logratio = logratio[..., order]
    loghid = np.log(hid[order].astype(float)) if numeric_hidden else None
    n_seed = rel_v.shape[-1]
    oshape = rel_v.shape[:-2]

    def crossings(mean_rel: np.ndarray):
        out_r = np.full(oshape, np.nan)
        out_h = np.full(oshape, np.nan)
        state = np.zeros(oshape, dtype=np.int8)
        for idx in np.ndindex(*oshape):
            xr_, st = boundary_crossing(logratio[idx], mean_rel[idx], thr)
            state[idx] = st
            if st == 0:
                out_r[idx] = math.exp(xr_)
                if loghid is not None:
                    xh, _ = boundary_crossing(loghid, mean_rel[idx], thr)
                    out_h[idx] = math.exp(xh)
        return out_r, out_h, state

    with warnings.catch_warnings():
        # all-NaN slices (every seed diverged) are expected and give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        b_r, b_h, state = crossings(np.nanmean(rel_v, axis=-1))
        rng = np.random.default_rng(seed)
        boot_r = np.full((n_boot, *oshape), np.nan)
        boot_h = np.full((n_boot, *oshape), np.nan)
        for b in range(n_boot):
            pick = rng.integers(0, n_seed, n_seed)
            boot_r[b], boot_h[b], _ = crossings(np.nanmean(rel_v[..., pick], axis=-1))
        q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
        lo_r, hi_r = np.nanpercentile(boot_r, q, axis=0)
        lo_h, hi_h = np.nanpercentile(boot_h, q, axis=0)
        found = np.isfinite(boot_r).mean(axis=0)
    coords = {d: ds[d] for d in others}
    out = xr.Dataset(coords=coords)
    cm = f"seed-mean relative accuracy first reaches {thr}; linear interpolation in log scale"
    out["boundary_ratio"] = cf(xr.DataArray(b_r, dims=others), "trainable-parameter ratio at the phase boundary",
                               "1", comment=cm)
    out["boundary_ratio_lower"] = cf(xr.DataArray(lo_r, dims=others), f"lower {ci:.0%} bootstrap bound of "
                                     "boundary_ratio", "1")
    out["boundary_ratio_upper"] = cf(xr.DataArray(hi_r, dims=others), f"upper {ci:.0%} bootstrap bound of "
                                     "boundary_ratio", "1")
    if numeric_hidden:
        out["boundary_hidden"] = cf(xr.DataArray(b_h, dims=others), f"{along} at the phase boundary", "1",
                                    comment=cm)
        out["boundary_hidden_lower"] = cf(xr.DataArray(lo_h, dims=others), f"lower {ci:.0%} bootstrap bound of "
                                          "boundary_hidden", "1")
        out["boundary_hidden_upper"] = cf(xr.DataArray(hi_h, dims=others), f"upper {ci:.0%} bootstrap bound of "
                                          "boundary_hidden", "1")
    st = xr.DataArray(state, dims=others)
    st.attrs.update(long_name="crossing state", units="1",
                    flag_meanings="crossing_found above_threshold_everywhere threshold_never_reached",
                    comment="0 crossing found, 1 at or above the threshold at every size, 2 never reached")
    out["crossing_state"] = st
    out["bootstrap_found"] = cf(xr.DataArray(found, dims=others), "fraction of bootstrap resamples with a crossing",
                                "1")
    out.attrs.update(threshold=thr, along=along, n_boot=int(n_boot), ci=float(ci), bootstrap_seed=int(seed))
    return out


def phase_diagram_data(ds: xr.Dataset, x: str = "hidden", y: str = "train") -> xr.Dataset:
    """The numbers a phase-diagram plot draws: seed means and spreads over the grid.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`assemble`; every dim other than ``x``, ``y`` and ``seed`` must have
        length 1 (select with ``ds.sel(...)`` first).
    x, y : str
        Dims on the horizontal axis and the rows.

    Returns
    -------
    xarray.Dataset
        Dims ``(y, x)``: ``accuracy_mean``, ``accuracy_std`` (over ok seeds),
        ``relative_mean``, ``trainable_ratio``, ``n_ok`` (seeds that finished).
    """
    for d in (x, y):
        if d not in ds.dims:
            raise ValueError(f"{d!r} is not a dim of the Dataset (dims: {list(ds.dims)})")
    extra = [d for d in ds.dims if d not in (x, y, "seed") and ds.sizes[d] > 1]
    if extra:
        raise ValueError(f"select one value of {extra} first, e.g. ds.sel({extra[0]}=...)")
    ds = ds.squeeze([d for d in ds.dims if d not in (x, y, "seed")], drop=True)
    ok = ds["status"] == STATUS_OK
    acc = ds["test_accuracy"].where(ok)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = xr.Dataset({
            "accuracy_mean": acc.mean("seed"),
            "accuracy_std": acc.std("seed", ddof=1) if ds.sizes["seed"] > 1 else acc.mean("seed") * np.nan,
            "relative_mean": ds["relative_accuracy"].where(ok).mean("seed"),
            "trainable_ratio": ds["trainable_ratio"],
            "n_ok": ok.sum("seed"),
        })
    return out.transpose(y, x)

