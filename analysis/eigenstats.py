"""Eigenvalue statistics of spectral networks as xarray Datasets.

One idea: a network in, a Dataset out. :func:`eigenstats` (one network) and
:func:`eigenstats_ensemble` (dim ``seed``) collect, per layer and side by side for the
trained network, its initial state and a random null, the statistics of ``lam_in``,
``lam_out``, the transfer-operator spectrum and the weights' Gram spectrum, with CF
attributes and provenance; :func:`check_transfer_operator` verifies that the operator's
eigenvalues are the layer's lambdas. The random-matrix statistics themselves (spacing
ratios, Marchenko-Pastur fits, power-law tails, ...) are array functions in
:mod:`spectral_physics.analysis.rmt`.

Example
-------
>>> from spectral_physics import SpectralMLP
>>> from spectral_physics.analysis.eigenstats import eigenstats
>>> ds = eigenstats(SpectralMLP([20, 16, 3], train="eigen", init="paper", seed=0))
>>> sorted(ds.source.values.tolist())
['initial', 'random', 'trained']
"""

from __future__ import annotations

import numpy as np

from .rmt import (
    CSR_GINIBRE,
    CSR_POISSON_2D,
    R_GOE,
    R_GUE,
    R_POISSON,
    _one_blas_thread,
    circular_law_radius,
    complex_spacing_ratio,
    fit_marchenko_pastur,
    fit_power_law,
    gram_spectrum,
    histogram,
    spacing_ratio,
    summary_stats,
)

__all__ = [
    "SOURCES",
    "DEFAULT_QUANTILES",
    "check_transfer_operator",
    "eigenstats",
    "eigenstats_ensemble",
    "ensemble_summary",
]

SOURCES = ("trained", "initial", "random")
_STAT_KEYS = ("mean", "std", "skewness", "excess_kurtosis", "min", "max", "mean_abs", "near_zero_fraction")
_STAT_META = {
    "mean": ("mean of {}", None),
    "std": ("standard deviation of {}", None),
    "skewness": ("skewness of {}", "1"),
    "excess_kurtosis": ("excess kurtosis of {}", "1"),
    "min": ("minimum of {}", None),
    "max": ("maximum of {}", None),
    "mean_abs": ("mean absolute value of {}", None),
    "near_zero_fraction": ("fraction of near-zero {}", "1"),
}
DEFAULT_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def check_transfer_operator(net, k: int, *, dense: bool = False) -> dict[str, float]:
    """Check that the eigenvalues of ``net.transfer_operator(k)`` are the layer's lambdas.

    Fast path (no eigendecomposition): ``A`` must be block lower-triangular with
    ``diag(A) = (lam_in, lam_out)`` (so its eigenvalues are exactly those numbers) and
    the columns of ``Phi = [[I, 0], [phi, I]]`` must be its eigenvectors,
    ``A Phi = Phi Lambda``, whose only non-trivial block is
    ``A_21 + diag(lam_out) phi - phi diag(lam_in) = 0``. ``phi`` comes from the layer,
    ``A`` from the core's operator construction, so this checks one against the other.

    Parameters
    ----------
    net : SpectralMLP
        Single network.
    k : int
        Layer index.
    dense : bool
        Also compute ``numpy.linalg.eigvals(A)`` and compare with the lambdas after
        sorting (O((N_in + N_out)^3); for small layers and tests).

    Returns
    -------
    dict
        ``structure_error`` (max ``|upper block|`` and ``|diag(A) - lambdas|``),
        ``eigvec_residual`` (max ``|A Phi - Phi Lambda| / max(|A_21|, tiny)``),
        ``eig_error`` (dense check, NaN unless ``dense``): all should be ~1e-15 to 1e-7
        (float32 parameters are compared after conversion, so exact zeros are expected
        for the structure).
    """
    from ._net import LayerArrays

    layer = net.layers[k]
    la = LayerArrays(layer)
    a = np.asarray(net.transfer_operator(k), dtype=np.float64)
    n_in, n_out = layer.n_in, layer.n_out
    if a.shape != (n_in + n_out, n_in + n_out):
        raise ValueError(f"transfer_operator({k}) has shape {a.shape}, expected {(n_in + n_out,) * 2}")
    lam = np.concatenate([la.lam_in, la.lam_out])
    structure = max(
        float(np.abs(a[:n_in, n_in:]).max(initial=0.0)),
        float(np.abs(np.diag(a) - lam).max()),
        float(np.abs(a[:n_in, :n_in] - np.diag(la.lam_in)).max()),
        float(np.abs(a[n_in:, n_in:] - np.diag(la.lam_out)).max()),
    )
    a21 = a[n_in:, :n_in]
    resid = a21 + la.lam_out[:, None] * la.phi - la.phi * la.lam_in[None, :]
    scale = max(float(np.abs(a21).max(initial=0.0)), 1e-300)
    eig_error = float("nan")
    if dense:
        ev = np.linalg.eigvals(a)
        # a defective (Jordan) block perturbs eigenvalues by ~eps^(1/m); compare sorted lists
        eig_error = float(np.abs(np.sort_complex(ev) - np.sort_complex(lam.astype(complex))).max())
    return {
        "structure_error": structure,
        "eigvec_residual": float(np.abs(resid).max()) / scale,
        "eig_error": eig_error,
    }


def _layer_sources(net, initial, rng) -> dict[str, list[dict[str, np.ndarray]]]:
    """Raw arrays (lam_in, lam_out, w) per source and layer."""
    from ._net import layer_arrays

    def grab(n):
        return [{"lam_in": la.lam_in, "lam_out": la.lam_out, "w": la.w} for la in layer_arrays(n)]

    out = {"trained": grab(net)}
    out["initial"] = grab(initial) if initial is not None else None
    rand = []
    for arr in out["trained"]:
        # the null network: every array replaced by iid Gaussians with the same mean and
        # standard deviation, shapes unchanged (masked zeros kept where the mask is static)
        r = {}
        for name, v in arr.items():
            r[name] = rng.normal(v.mean(), v.std(), size=v.shape)
        rand.append(r)
    out["random"] = rand
    return out


def _edges(values: list[np.ndarray], bins: int) -> np.ndarray:
    v = np.concatenate([np.ravel(a) for a in values if a is not None and a.size])
    v = v[np.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 1.0)
    if hi - lo < 1e-12 * max(1.0, abs(lo)):
        lo, hi = lo - 0.5 * max(abs(lo), 1e-3), hi + 0.5 * max(abs(hi), 1e-3)
    pad = 1e-9 * (hi - lo)
    return np.linspace(lo - pad, hi + pad, bins + 1)


def _pad(v: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.nan)
    out[: v.size] = v
    return out


def _weight_stats(w: np.ndarray, esd: np.ndarray, *, min_tail: int, bulk: float | None) -> dict[str, float]:
    nan = float("nan")
    out: dict[str, float] = {}
    q_shape = max(w.shape) / min(w.shape)
    out["mp_q_shape"] = q_shape
    keys = ("sigma2", "q", "lambda_minus", "lambda_plus", "ks", "n_above")
    usable = esd.size >= 3 and esd.max() > 0
    for tag, q in (("", None), ("_fixed_q", q_shape)):
        if usable:
            fit = fit_marchenko_pastur(esd, q=q)
            for key in keys:
                out[f"mp_{key}{tag}"] = float(getattr(fit, key))
        else:
            for key in keys:
                out[f"mp_{key}{tag}"] = nan
    try:
        pl = fit_power_law(esd, min_tail=min(min_tail, max(2, esd.size)))
        out.update(tail_alpha=pl.alpha, tail_alpha_stderr=pl.alpha_stderr, tail_xmin=pl.xmin,
                   tail_ks=pl.ks, tail_n=float(pl.n_tail))
    except ValueError:
        out.update(tail_alpha=nan, tail_alpha_stderr=nan, tail_xmin=nan, tail_ks=nan, tail_n=nan)
    out["esd_r"] = spacing_ratio(esd) if esd.size >= 3 else nan
    out["spectral_norm"] = float(np.sqrt(esd.max() * max(w.shape))) if esd.size else nan
    if w.shape[0] == w.shape[1] and w.shape[0] >= 3:
        with _one_blas_thread():
            ev = np.linalg.eigvals(w)
        out["circular_radius"] = circular_law_radius(w)
        out["spectral_radius"] = float(np.abs(ev).max())
        try:
            csr = complex_spacing_ratio(ev, bulk=bulk)
            out["csr_abs"], out["csr_cos"] = csr.mean_abs, csr.mean_cos
        except ValueError:
            out["csr_abs"] = out["csr_cos"] = nan
        out["_eig"] = ev
    else:
        out.update(circular_radius=nan, spectral_radius=nan, csr_abs=nan, csr_cos=nan)
    return out


_WEIGHT_META = {
    "mp_q_shape": ("aspect ratio N/M of the weight matrix", "1"),
    "mp_sigma2": ("Marchenko-Pastur variance (sigma^2 and Q fitted)", "1"),
    "mp_q": ("Marchenko-Pastur aspect ratio (fitted)", "1"),
    "mp_lambda_minus": ("lower Marchenko-Pastur edge (sigma^2 and Q fitted)", "1"),
    "mp_lambda_plus": ("upper Marchenko-Pastur edge (sigma^2 and Q fitted)", "1"),
    "mp_ks": ("KS distance of the Gram spectrum to the fitted Marchenko-Pastur law", "1"),
    "mp_n_above": ("Gram eigenvalues above the fitted upper edge", "1"),
    "mp_sigma2_fixed_q": ("Marchenko-Pastur variance with Q = N/M of the shape", "1"),
    "mp_q_fixed_q": ("Marchenko-Pastur aspect ratio (= N/M of the shape)", "1"),
    "mp_lambda_minus_fixed_q": ("lower Marchenko-Pastur edge, Q from the shape", "1"),
    "mp_lambda_plus_fixed_q": ("upper Marchenko-Pastur edge, Q from the shape", "1"),
    "mp_ks_fixed_q": ("KS distance to the Marchenko-Pastur law with Q from the shape", "1"),
    "mp_n_above_fixed_q": ("Gram eigenvalues above the upper edge, Q from the shape", "1"),
    "tail_alpha": ("power-law exponent of the Gram spectral density tail (MLE)", "1"),
    "tail_alpha_stderr": ("standard error of the tail exponent", "1"),
    "tail_xmin": ("lower bound of the power-law tail (KS-selected)", "1"),
    "tail_ks": ("KS distance of the tail to the fitted power law", "1"),
    "tail_n": ("Gram eigenvalues in the power-law tail", "1"),
    "esd_r": ("mean consecutive spacing ratio of the Gram spectrum", "1"),
    "spectral_norm": ("largest singular value of the weights", "1"),
    "circular_radius": ("circular-law radius sigma sqrt(N) (square weights only)", "1"),
    "spectral_radius": ("largest |eigenvalue| of the weights (square weights only)", "1"),
    "csr_abs": ("mean |z| of the complex spacing ratio (square weights only)", "1"),
    "csr_cos": ("mean cos(arg z) of the complex spacing ratio (square weights only)", "1"),
}


def _member_dataset(
    raw: dict[str, list[dict[str, np.ndarray]] | None],
    edges: dict[str, list[np.ndarray]],
    *,
    quantiles: np.ndarray,
    near_zero_rtol: float,
    min_tail: int,
    bulk: float | None,
    n_node: int,
    n_esd: int,
    n_eig: int,
):
    import xarray as xr

    from ._xr import cf

    n_layer = len(raw["trained"])
    n_src = len(SOURCES)
    nan = np.nan
    data: dict[str, np.ndarray] = {}

    def arr(*shape):
        return np.full(shape, nan)

    for name in ("lam_in", "lam_out"):
        data[name] = arr(n_src, n_layer, n_node)
        for key in _STAT_KEYS:
            data[f"{name}_{key}"] = arr(n_src, n_layer)
        data[f"{name}_quantile"] = arr(n_src, n_layer, quantiles.size)
        data[f"{name}_density"] = arr(n_src, n_layer, edges[name][0].size - 1)
        data[f"{name}_r"] = arr(n_src, n_layer)
    data["lambda_r"] = arr(n_src, n_layer)
    data["esd"] = arr(n_src, n_layer, n_esd)
    for key in _WEIGHT_META:
        data[key] = arr(n_src, n_layer)
    if n_eig:
        data["w_eig_real"] = arr(n_src, n_layer, n_eig)
        data["w_eig_imag"] = arr(n_src, n_layer, n_eig)

    for s, src in enumerate(SOURCES):
        layers = raw[src]
        if layers is None:
            continue
        for k, la in enumerate(layers):
            for name in ("lam_in", "lam_out"):
                v = la[name]
                st = summary_stats(v, quantiles=quantiles, near_zero_rtol=near_zero_rtol)
                data[name][s, k] = _pad(v, n_node)
                for key in _STAT_KEYS:
                    data[f"{name}_{key}"][s, k] = st[key]
                data[f"{name}_quantile"][s, k] = st["quantiles"]
                data[f"{name}_density"][s, k] = histogram(v, edges[name][k])
                data[f"{name}_r"][s, k] = spacing_ratio(v) if v.size >= 3 else nan
            data["lambda_r"][s, k] = spacing_ratio(np.concatenate([la["lam_in"], la["lam_out"]]))
            esd = gram_spectrum(la["w"])
            data["esd"][s, k] = _pad(esd, n_esd)
            ws = _weight_stats(la["w"], esd, min_tail=min_tail, bulk=bulk)
            ev = ws.pop("_eig", None)
            for key, val in ws.items():
                data[key][s, k] = val
            if ev is not None and n_eig:
                data["w_eig_real"][s, k] = _pad(ev.real, n_eig)
                data["w_eig_imag"][s, k] = _pad(ev.imag, n_eig)

    ds = xr.Dataset()
    for name, label in (("lam_in", "input eigenvalue lam_in"), ("lam_out", "output eigenvalue lam_out")):
        ds[name] = cf(xr.DataArray(data[name], dims=("source", "layer", "node")), label, "1",
                      comment="NaN-padded beyond the layer's node count")
        for key in _STAT_KEYS:
            long, units = _STAT_META[key]
            ds[f"{name}_{key}"] = cf(xr.DataArray(data[f"{name}_{key}"], dims=("source", "layer")),
                                     long.format(label), units or "1")
        ds[f"{name}_quantile"] = cf(
            xr.DataArray(data[f"{name}_quantile"], dims=("source", "layer", "quantile")),
            f"quantiles of {label}", "1")
        ds[f"{name}_density"] = cf(
            xr.DataArray(data[f"{name}_density"], dims=("source", "layer", "bin")),
            f"histogram (probability density) of {label}", "1",
            comment=f"bins given by {name}_edges, shared by all sources")
        ds[f"{name}_edges"] = cf(xr.DataArray(np.stack(edges[name]), dims=("layer", "edge")),
                                 f"histogram bin edges of {label}", "1")
        ds[f"{name}_r"] = cf(xr.DataArray(data[f"{name}_r"], dims=("source", "layer")),
                             f"mean consecutive spacing ratio of {label}", "1")
    ds["lambda_r"] = cf(xr.DataArray(data["lambda_r"], dims=("source", "layer")),
                        "mean consecutive spacing ratio of the transfer-operator spectrum", "1",
                        comment="spectrum = lam_in and lam_out of the layer together")
    ds["esd"] = cf(xr.DataArray(data["esd"], dims=("source", "layer", "esd_index")),
                   "eigenvalues of W^T W / N (Gram matrix of the smaller side)", "1",
                   comment="ascending; NaN-padded beyond min(N_in, N_out)")
    for key, (long, units) in _WEIGHT_META.items():
        ds[key] = cf(xr.DataArray(data[key], dims=("source", "layer")), long, units)
    if n_eig:
        ds["w_eig_real"] = cf(xr.DataArray(data["w_eig_real"], dims=("source", "layer", "eig_index")),
                              "real part of the weight eigenvalues (square layers)", "1")
        ds["w_eig_imag"] = cf(xr.DataArray(data["w_eig_imag"], dims=("source", "layer", "eig_index")),
                              "imaginary part of the weight eigenvalues (square layers)", "1")
    return ds


def _coords(ds, sizes, quantiles):

    from ._xr import cf

    n_layer = len(sizes) - 1
    ds = ds.assign_coords(
        source=("source", list(SOURCES)),
        layer=("layer", np.arange(n_layer)),
        quantile=("quantile", quantiles),
        n_in=("layer", np.asarray(sizes[:-1])),
        n_out=("layer", np.asarray(sizes[1:])),
    )
    cf(ds["source"], "which network: trained, initial (rebuilt from the seed) or random null", "1")
    cf(ds["layer"], "layer index k (weights N_k -> N_{k+1})", "1")
    cf(ds["quantile"], "probability level of the quantile", "1")
    cf(ds["n_in"], "input nodes of the layer", "1")
    cf(ds["n_out"], "receiving nodes of the layer", "1")
    return ds


def eigenstats_ensemble(
    nets,
    *,
    initial: str | None = "auto",
    bins: int = 50,
    quantiles=DEFAULT_QUANTILES,
    near_zero_rtol: float = 0.01,
    min_tail: int = 10,
    csr_bulk: float | None = None,
    random_seed: int = 0,
    check_operator: bool = True,
    dense_check: bool = False,
):
    """Eigenvalue statistics of an ensemble of networks, with dim ``seed``.

    Parameters
    ----------
    nets : SpectralMLP, ensemble SpectralMLP or sequence of them
        Networks of one architecture (``sizes``), e.g. one per seed.
    initial : {"auto", None}
        ``"auto"``: rebuild each network's initial state from its seed and configuration
        (:func:`spectral_physics.analysis._net.initial_network`) as the first null model. ``None``: leave
        the ``initial`` source NaN.
    bins : int
        Histogram bins per layer for ``lam_in`` and ``lam_out``; the edges span all
        sources and seeds of the layer, so densities are comparable side by side.
    quantiles : sequence of float
    near_zero_rtol : float
        An eigenvalue counts as near zero when ``|lam| <= near_zero_rtol * max|lam|`` of
        its layer, source and seed.
    min_tail : int
        Smallest tail used in the power-law fit.
    csr_bulk : float, optional
        ``bulk`` argument of :func:`complex_spacing_ratio` for square layers.
    random_seed : int
        Seed of the random null model (every array replaced by iid Gaussians with the
        trained array's mean and standard deviation).
    check_operator : bool
        Run :func:`check_transfer_operator` on every trained layer (fast path).
    dense_check : bool
        Add the dense eigendecomposition check (small networks only).

    Returns
    -------
    xarray.Dataset
        Dims ``seed``, ``source`` (trained, initial, random), ``layer``, ``node``,
        ``quantile``, ``bin``, ``edge``, ``esd_index`` (and ``eig_index`` when a layer is
        square). Per-layer statistics of ``lam_in`` and ``lam_out`` (moments, quantiles,
        densities, near-zero fraction, spacing ratio ``*_r``), of the transfer-operator
        spectrum (``lambda_r``), of the weights' Gram spectrum ``esd`` (Marchenko-Pastur
        fits with Q free and with Q from the shape, KS distances, power-law tail),
        square-layer complex spectra (circular-law radius, complex spacing ratio), and the
        operator checks ``operator_*`` (trained networks). Error bars over seeds:
        :func:`ensemble_summary`.
    """
    import xarray as xr

    from ._net import as_members, initial_network, spec_of
    from ._xr import cf, provenance_attrs

    members = as_members(nets)
    sizes = members[0].sizes
    for m in members[1:]:
        if m.sizes != sizes:
            raise ValueError(f"nets must share one architecture, got sizes {sizes} and {m.sizes}")
    if initial not in ("auto", None):
        raise ValueError(f"initial must be 'auto' or None, got {initial!r}")
    if not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    if not 0 <= near_zero_rtol < 1:
        raise ValueError(f"near_zero_rtol must lie in [0, 1), got {near_zero_rtol}")
    q = np.asarray(quantiles, dtype=np.float64)
    # one null-model generator per member, keyed on its seed: a member's random null does
    # not depend on its position in the ensemble
    raws = [
        _layer_sources(
            m, initial_network(m) if initial == "auto" else None,
            np.random.default_rng(np.random.SeedSequence([int(random_seed), int(m.seed), 20260])),
        )
        for m in members
    ]
    n_layer = len(sizes) - 1
    edges = {
        name: [
            _edges([r[src][k][name] for r in raws for src in SOURCES if r[src] is not None], bins)
            for k in range(n_layer)
        ]
        for name in ("lam_in", "lam_out")
    }
    n_node = max(sizes)
    n_esd = max(min(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
    square = [a for a, b in zip(sizes[:-1], sizes[1:]) if a == b]
    n_eig = max(square) if square else 0
    parts = []
    for m, raw in zip(members, raws):
        ds = _member_dataset(raw, edges, quantiles=q, near_zero_rtol=near_zero_rtol,
                             min_tail=min_tail, bulk=csr_bulk, n_node=n_node, n_esd=n_esd, n_eig=n_eig)
        if check_operator:
            checks = [check_transfer_operator(m, k, dense=dense_check) for k in range(n_layer)]
            for key, long in (
                ("structure_error", "max deviation of A from [[diag(lam_in), 0], [W, diag(lam_out)]]"),
                ("eigvec_residual", "max |A Phi - Phi Lambda| relative to max |W|"),
                ("eig_error", "max |sorted eigvals(A) - sorted lambdas| (dense check)"),
            ):
                ds[f"operator_{key}"] = cf(
                    xr.DataArray([c[key] for c in checks], dims="layer"), long, "1")
        parts.append(ds)
    seeds = [m.seed for m in members]
    seed_coord = seeds if len(set(seeds)) == len(seeds) else list(range(len(members)))
    out = xr.concat(parts, dim="seed", data_vars="all", coords="minimal", join="exact")
    out = out.assign_coords(seed=("seed", np.asarray(seed_coord)))
    out["network_seed"] = cf(xr.DataArray(np.asarray(seeds), dims="seed"), "seed the network was built with", "1")
    for name in ("lam_in_edges", "lam_out_edges"):
        out[name] = parts[0][name]
    out = _coords(out, sizes, q)
    cf(out["seed"], "ensemble member (its seed when seeds are distinct, else its index)", "1")
    out.attrs.update(provenance_attrs(
        analysis="eigenstats",
        network=spec_of(members[0]),
        seeds=seeds,
        initial=str(initial),
        bins=int(bins),
        near_zero_rtol=float(near_zero_rtol),
        min_tail=int(min_tail),
        csr_bulk=float(csr_bulk) if csr_bulk is not None else "none",
        random_seed=int(random_seed),
        random_null="iid Gaussian arrays with the trained array's mean and std, same shapes",
        references=to_json_refs(),
    ))
    return out


def to_json_refs() -> dict[str, float]:
    """Reference values stored with every eigenstats Dataset."""
    return {
        "r_poisson": R_POISSON, "r_goe": R_GOE, "r_gue": R_GUE,
        "csr_abs_poisson_2d": CSR_POISSON_2D[0], "csr_cos_poisson_2d": CSR_POISSON_2D[1],
        "csr_abs_ginibre": CSR_GINIBRE[0], "csr_cos_ginibre": CSR_GINIBRE[1],
    }


def eigenstats(net, **kwargs):
    """Eigenvalue statistics of one network (trained, initial and random null side by side).

    Same as :func:`eigenstats_ensemble` with the ``seed`` dimension dropped; see it for
    the arguments and the variables.

    Example
    -------
    >>> from spectral_physics import SpectralMLP
    >>> ds = eigenstats(SpectralMLP([20, 16, 3], train="eigen", init="paper", seed=0))
    >>> float(ds.lam_in_r.sel(source="trained", layer=0)) > 0
    True
    """
    from ._net import as_members

    members = as_members(net)
    if len(members) != 1:
        raise ValueError("eigenstats takes one network; use eigenstats_ensemble for several")
    return eigenstats_ensemble(members, **kwargs).isel(seed=0)


def ensemble_summary(ds, dim: str = "seed"):
    """Mean and standard error over ``dim`` for every numeric variable.

    Returns
    -------
    xarray.Dataset
        The variables of ``ds`` without ``dim`` and with a new leading dim ``stat``
        (``mean``, ``sem``); ``sem`` is ``std(ddof=1) / sqrt(n)`` (NaN for n = 1).
    """
    import xarray as xr

    if dim not in ds.dims:
        raise ValueError(f"dim {dim!r} is not a dimension of the Dataset (dims: {list(ds.dims)})")
    n = ds.sizes[dim]
    num = ds[[v for v in ds.data_vars if ds[v].dtype.kind in "fiu" and dim in ds[v].dims]]
    mean = num.mean(dim, keep_attrs=True)
    sem = num.std(dim, ddof=1, keep_attrs=True) / np.sqrt(n) if n > 1 else mean * np.nan
    out = xr.concat([mean, sem], dim="stat", coords="minimal")
    out = out.assign_coords(stat=("stat", ["mean", "sem"]))
    out.attrs = dict(ds.attrs)
    return out
