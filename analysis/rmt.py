"""Random-matrix statistics of arrays: level spacings, Marchenko-Pastur, power-law tails.

One idea: numbers in, numbers out. Every function takes numpy arrays (a spectrum, a
weight matrix, a sample) and returns floats, arrays or small frozen dataclasses; nothing
here knows about networks or xarray. :mod:`spectral_physics.analysis.eigenstats` applies
these functions to the layers of a network and collects the results in a Dataset.

Worked example:

>>> import numpy as np
>>> from spectral_physics.analysis.rmt import spacing_ratio, gram_spectrum, fit_marchenko_pastur
>>> rng = np.random.default_rng(0)
>>> h = rng.normal(size=(400, 400)); h = (h + h.T) / 2          # a GOE matrix
>>> round(spacing_ratio(np.linalg.eigvalsh(h)), 2)                # GOE: ~0.53
0.53
>>> w = rng.normal(size=(2000, 500))                              # Wishart, Q = 4
>>> fit = fit_marchenko_pastur(gram_spectrum(w), q=4.0)
>>> round(fit.lambda_plus, 1), round(fit.lambda_minus, 2)         # (1 +- 1/2)^2
(2.2, 0.25)

Conventions
-----------
* ``gram_spectrum(W)`` returns the ``M = min(W.shape)`` eigenvalues of the Gram matrix
  of the smaller side divided by ``N = max(W.shape)``, i.e. the non-zero eigenvalues
  of ``W^T W / N`` for ``W`` of shape (N, M). For iid entries of variance sigma^2 they
  follow Marchenko-Pastur with aspect ratio ``Q = N / M >= 1``. Never forms an
  eigendecomposition of the larger side: a 2000 x 784 matrix takes ~0.1 s.
* The real spectra whose level statistics we report (``spacing_ratio``) need no
  unfolding: the ratio of consecutive spacings is independent of the local density
  (Oganesyan and Huse 2007; Atas et al. 2013).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import linalg, optimize
from scipy.spatial import cKDTree

__all__ = [
    # reference values
    "R_POISSON",
    "R_GOE",
    "R_GUE",
    "CSR_POISSON_2D",
    "CSR_GINIBRE",
    # level statistics
    "spacing_ratios",
    "spacing_ratio",
    "ComplexSpacingRatio",
    "complex_spacing_ratio",
    "circular_law_radius",
    # singular values and Marchenko-Pastur
    "gram_spectrum",
    "singular_values",
    "marchenko_pastur_edges",
    "marchenko_pastur_pdf",
    "marchenko_pastur_cdf",
    "ks_distance",
    "MarchenkoPasturFit",
    "fit_marchenko_pastur",
    # power-law tails
    "PowerLawFit",
    "fit_power_law",
    # distributions
    "summary_stats",
    "histogram",
    "near_zero_fraction",
]

R_POISSON = 2.0 * math.log(2.0) - 1.0
#: <r> of the Gaussian orthogonal ensemble, large-N numerics of Atas et al., PRL 110, 084101 (2013).
R_GOE = 0.5307
#: <r> of the Gaussian unitary ensemble, same source.
R_GUE = 0.5996
#: ``(<|z|>, <cos theta>)`` of the complex spacing ratio for uncorrelated points in the plane
#: (Sa, Ribeiro and Prosen, PRX 10, 021019 (2020)): exactly (2/3, 0).
CSR_POISSON_2D = (2.0 / 3.0, 0.0)
#: ``(<|z|>, <cos theta>)`` for the complex Ginibre ensemble, same source (large-N numerics).
CSR_GINIBRE = (0.7381, -0.2405)


# ---------------------------------------------------------------------------
# level statistics
# ---------------------------------------------------------------------------


def _finite_1d(values, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size and not np.isfinite(v).all():
        v = v[np.isfinite(v)]
    return v


def spacing_ratios(values) -> np.ndarray:
    """Consecutive spacing ratios ``r_n = min(s_n, s_{n+1}) / max(s_n, s_{n+1})``.

    Parameters
    ----------
    values : array_like, shape (n,)
        A real spectrum in any order; NaNs are dropped, the rest sorted.

    Returns
    -------
    numpy.ndarray, shape (m - 2,)
        Ratios in [0, 1] of the ``m`` distinct levels. Exact degeneracies are merged
        first (as one removes symmetry degeneracies): eigenvalues that never moved from a
        shared initial value (``lam_in = 1`` of MNIST pixels that are always zero) are one
        level, not a pile of zero spacings. Empty when fewer than 3 distinct levels.
    """
    v = _finite_1d(values, "values")
    if v.size < 3:
        raise ValueError(f"values must hold at least 3 finite numbers, got {v.size}")
    v = np.unique(v)
    if v.size < 3:
        return np.empty(0)
    s = np.diff(v)
    a, b = s[:-1], s[1:]
    hi = np.maximum(a, b)
    ok = hi > 0
    return np.minimum(a, b)[ok] / hi[ok]


def spacing_ratio(values) -> float:
    """Mean consecutive spacing ratio <r> of a real spectrum.

    References: Poisson ``R_POISSON`` = 2 ln 2 - 1 = 0.386, GOE ``R_GOE`` = 0.531,
    GUE ``R_GUE`` = 0.600.

    Parameters
    ----------
    values : array_like, shape (n,), n >= 3

    Returns
    -------
    float
        <r> over distinct levels, NaN when there are fewer than 3.
    """
    r = spacing_ratios(values)
    return float(r.mean()) if r.size else float("nan")


@dataclass(frozen=True)
class ComplexSpacingRatio:
    """Complex spacing-ratio statistics (Sa, Ribeiro and Prosen 2020).

    Attributes
    ----------
    mean_abs : float
        ``<|z|>``; 2D Poisson 2/3, Ginibre ~0.74.
    mean_cos : float
        <cos arg z>; 2D Poisson 0, Ginibre ~-0.24 (level repulsion pushes the nearest
        and next-nearest neighbours to opposite sides).
    z : numpy.ndarray, complex
        The ratios themselves.
    """

    mean_abs: float
    mean_cos: float
    z: np.ndarray

    def __repr__(self) -> str:
        return (f"ComplexSpacingRatio(mean_abs={self.mean_abs:.4g}, mean_cos={self.mean_cos:.4g}, "
                f"z: {np.shape(self.z)[0] if np.ndim(self.z) else 0} ratios)")


def complex_spacing_ratio(
    eigenvalues, *, conjugate_pairs: bool | None = None, bulk: float | None = None
) -> ComplexSpacingRatio:
    """Complex spacing ratio ``z_k = (NN_k - l_k) / (NNN_k - l_k)`` of a complex spectrum.

    ``NN_k`` and ``NNN_k`` are the nearest and next-nearest neighbours of ``l_k`` in
    the plane (Euclidean distance).

    Parameters
    ----------
    eigenvalues : array_like of complex, shape (n,)
    conjugate_pairs : bool or None
        Spectra of real matrices are symmetric under conjugation, which places a
        mirror image next to every eigenvalue near the real axis. With ``True`` only
        eigenvalues with Im > 0 are kept and neighbours are looked up among them (the
        usual treatment of real non-symmetric matrices). ``None`` (default) decides
        from the data: True when the multiset of eigenvalues equals its conjugate.
    bulk : float in (0, 1], optional
        Average only over eigenvalues within ``bulk`` times the largest distance from
        the spectrum's centroid (neighbours are still looked up among all of them).
        Points at the edge of the support have both neighbours on the inner side, which
        pulls <cos theta> towards 0 at finite N; compare a network with a random
        matrix of the same size and the same ``bulk`` rather than with the large-N
        references when in doubt.

    Returns
    -------
    ComplexSpacingRatio
    """
    z = np.asarray(eigenvalues, dtype=np.complex128).ravel()
    z = z[np.isfinite(z)]
    if conjugate_pairs is None:
        scale = max(float(np.abs(z).max(initial=0.0)), 1e-300)
        a = np.sort_complex(np.round(z / scale, 9))
        b = np.sort_complex(np.round(np.conj(z) / scale, 9))
        conjugate_pairs = bool(z.size) and np.array_equal(a, b)
    if conjugate_pairs:
        z = z[z.imag > 1e-12 * max(float(np.abs(z).max(initial=0.0)), 1e-300)]
    if z.size < 3:
        raise ValueError(f"eigenvalues must hold at least 3 usable points, got {z.size}")
    pts = np.column_stack([z.real, z.imag])
    _, idx = cKDTree(pts).query(pts, k=3)
    keep = np.ones(z.size, dtype=bool)
    if bulk is not None:
        if not 0 < bulk <= 1:
            raise ValueError(f"bulk must lie in (0, 1], got {bulk}")
        centre = z.real.mean() + 1j * (0.0 if conjugate_pairs else z.imag.mean())
        dist = np.abs(z - centre)
        keep = dist <= bulk * dist.max()
    num = (z[idx[:, 1]] - z)[keep]
    den = (z[idx[:, 2]] - z)[keep]
    ok = np.abs(den) > 0
    ratio = num[ok] / den[ok]
    absz = np.abs(ratio)
    cos = np.divide(ratio.real, absz, out=np.ones_like(absz), where=absz > 0)
    return ComplexSpacingRatio(float(absz.mean()), float(cos.mean()), ratio)


# ---------------------------------------------------------------------------
# singular values and Marchenko-Pastur
# ---------------------------------------------------------------------------


def _one_blas_thread():
    """Run small dense eigenproblems on one BLAS thread when threadpoolctl is installed.

    A 784 x 784 symmetric eigenproblem takes ~0.1 s on one thread, while a
    multithreaded OpenBLAS on an oversubscribed machine (more runnable threads than
    cores) was measured at 3 to 9 s for the same call. Without threadpoolctl this is a
    no-op.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def gram_spectrum(w, *, normalize: bool = True) -> np.ndarray:
    """Eigenvalues of the Gram matrix of the smaller side of ``w``.

    Parameters
    ----------
    w : array_like, shape (a, b)
    normalize : bool
        Divide by ``N = max(a, b)`` (the Marchenko-Pastur convention ``W^T W / N``).

    Returns
    -------
    numpy.ndarray, shape (min(a, b),)
        Ascending, clipped at 0, float64.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or 0 in w.shape:
        raise ValueError(f"w must be a non-empty 2-D matrix, got shape {w.shape}")
    g = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    # LAPACK's MRRR driver (evr) is 3-6x faster than numpy's default here (784^2: 0.15 s)
    with _one_blas_thread():
        ev = np.clip(linalg.eigvalsh(g, driver="evr", check_finite=False), 0.0, None)
    return ev / max(w.shape) if normalize else ev


def singular_values(w) -> np.ndarray:
    """Singular values of ``w`` (descending) via the Gram matrix of its smaller side.

    Accurate to ~sqrt(machine eps) * s_max for the smallest singular values, which is
    ample for densities; use ``numpy.linalg.svd`` when tiny singular values matter.
    """
    return np.sqrt(gram_spectrum(w, normalize=False))[::-1]


def _check_mp(sigma2: float, q: float) -> None:
    if not (np.isfinite(sigma2) and sigma2 > 0):
        raise ValueError(f"sigma2 must be positive, got {sigma2}")
    if not (np.isfinite(q) and q >= 1):
        raise ValueError(f"q must be >= 1 (N / M with N >= M), got {q}")


def marchenko_pastur_edges(sigma2: float, q: float) -> tuple[float, float]:
    """Support ``sigma^2 (1 -+ 1/sqrt(Q))^2`` of the Marchenko-Pastur law (Q = N/M >= 1)."""
    _check_mp(sigma2, q)
    c = 1.0 / math.sqrt(q)
    return sigma2 * (1.0 - c) ** 2, sigma2 * (1.0 + c) ** 2


def marchenko_pastur_pdf(x, sigma2: float, q: float) -> np.ndarray:
    """Marchenko-Pastur density ``Q / (2 pi sigma^2 x) sqrt((l+ - x)(x - l-))`` (zero outside)."""
    lo, hi = marchenko_pastur_edges(sigma2, q)
    x = np.asarray(x, dtype=np.float64)
    inside = (x > lo) & (x < hi) & (x > 0)
    xs = np.where(inside, x, 1.0)
    val = q / (2.0 * math.pi * sigma2 * xs) * np.sqrt(np.clip((hi - xs) * (xs - lo), 0.0, None))
    return np.where(inside, val, 0.0)


# the integrand below is smooth and even in theta, so the trapezoid rule converges
# exponentially: 513 nodes give the CDF to ~1e-12
_THETA = np.linspace(0.0, math.pi, 513)


def _mp_cdf_grid(sigma2: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    # x = c - d cos(theta) removes the square-root edges: the integrand
    # Q d^2 sin^2(theta) / (2 pi sigma^2 x) is smooth, so the trapezoid rule is accurate.
    lo, hi = marchenko_pastur_edges(sigma2, q)
    c, d = (hi + lo) / 2.0, (hi - lo) / 2.0
    x = c - d * np.cos(_THETA)
    x_safe = np.where(x > 0, x, 1.0)
    f = np.where(x > 0, q * d * d * np.sin(_THETA) ** 2 / (2.0 * math.pi * sigma2 * x_safe), 0.0)
    cdf = np.concatenate([[0.0], np.cumsum((f[1:] + f[:-1]) * 0.5 * np.diff(_THETA))])
    return x, cdf / cdf[-1]


def marchenko_pastur_cdf(x, sigma2: float, q: float) -> np.ndarray:
    """Cumulative Marchenko-Pastur distribution (Q >= 1, so no atom at zero)."""
    grid, cdf = _mp_cdf_grid(sigma2, q)
    return np.interp(np.asarray(x, dtype=np.float64), grid, cdf, left=0.0, right=1.0)


def ks_distance(sorted_sample: np.ndarray, cdf_values: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between an ascending sample and model CDF values at it."""
    n = sorted_sample.size
    i = np.arange(1, n + 1) / n
    return float(max(np.max(i - cdf_values), np.max(cdf_values - (i - 1.0 / n))))


@dataclass(frozen=True)
class MarchenkoPasturFit:
    """Result of ``fit_marchenko_pastur``.

    Attributes
    ----------
    sigma2, q : float
        Entry variance and aspect ratio N/M of the fitted law.
    lambda_minus, lambda_plus : float
        Its edges.
    ks : float
        Kolmogorov-Smirnov distance between the eigenvalues and the fitted law.
    n : int
        Number of eigenvalues.
    n_above : int
        Eigenvalues above ``lambda_plus`` (outliers/spikes: learned structure).
    q_fixed : bool
        Whether ``q`` was given rather than fitted.
    """

    sigma2: float
    q: float
    lambda_minus: float
    lambda_plus: float
    ks: float
    n: int
    n_above: int
    q_fixed: bool

    def asdict(self) -> dict:
        return asdict(self)


def fit_marchenko_pastur(eigenvalues, q: float | None = None) -> MarchenkoPasturFit:
    """Fit a Marchenko-Pastur law to a Gram spectrum by minimising the KS distance.

    Parameters
    ----------
    eigenvalues : array_like, shape (M,)
        Eigenvalues of ``W^T W / N`` as returned by ``gram_spectrum``.
    q : float or None
        Aspect ratio N/M >= 1. Given: only sigma^2 is fitted (the null model of iid
        entries for a matrix of that shape). None: sigma^2 and Q are both fitted.

    Returns
    -------
    MarchenkoPasturFit

    Notes
    -----
    The start comes from the moments (mean = sigma^2, second moment =
    sigma^4 (1 + 1/Q)), then a coarse grid and Nelder-Mead on the KS distance, which
    is robust to a few spikes above the bulk that would bias a moment fit.
    """
    ev = np.sort(_finite_1d(eigenvalues, "eigenvalues"))
    if ev.size < 3:
        raise ValueError(f"eigenvalues must hold at least 3 finite numbers, got {ev.size}")
    if ev[-1] <= 0:
        raise ValueError("eigenvalues are all zero: no Marchenko-Pastur fit")
    m1 = float(ev.mean())
    m2 = float((ev**2).mean())
    inv_q0 = float(np.clip(m2 / m1**2 - 1.0, 1e-4, 1.0))

    def ks(log_s2: float, c: float) -> float:
        qq = 1.0 / c**2
        return ks_distance(ev, marchenko_pastur_cdf(ev, math.exp(log_s2), qq))

    if q is not None:
        _check_mp(1.0, float(q))
        c_fix = 1.0 / math.sqrt(float(q))
        grid = np.log(m1) + np.linspace(-2.0, 2.0, 41)
        vals = [ks(g, c_fix) for g in grid]
        k = int(np.argmin(vals))
        res = optimize.minimize_scalar(
            lambda t: ks(t, c_fix),
            bounds=(grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]),
            method="bounded",
            options={"xatol": 1e-5},
        )
        log_s2 = float(res.x) if res.fun <= vals[k] else float(grid[k])
        c = c_fix
    else:
        # c = 1/sqrt(Q) in (0, 1]; search (log sigma2, c) on a grid, then refine.
        g_s = np.log(m1) + np.linspace(-1.5, 1.5, 21)
        g_c = np.concatenate([np.linspace(0.02, 1.0, 17), [inv_q0**0.5]])
        g_c = np.unique(np.clip(g_c, 0.02, 1.0))
        best = min(((ks(s, cc), s, cc) for s in g_s for cc in g_c), key=lambda t: t[0])

        def obj(p):
            cc = float(np.clip(p[1], 1e-3, 1.0))
            return ks(p[0], cc) + (abs(p[1] - cc) * 10.0)

        res = optimize.minimize(
            obj,
            x0=[best[1], best[2]],
            method="Nelder-Mead",
            options={"xatol": 1e-5, "fatol": 1e-6, "initial_simplex": None},
        )
        if res.fun <= best[0]:
            log_s2, c = float(res.x[0]), float(np.clip(res.x[1], 1e-3, 1.0))
        else:
            log_s2, c = best[1], best[2]
    sigma2 = math.exp(log_s2)
    qq = 1.0 / c**2
    lo, hi = marchenko_pastur_edges(sigma2, qq)
    return MarchenkoPasturFit(
        sigma2=sigma2,
        q=qq,
        lambda_minus=lo,
        lambda_plus=hi,
        ks=ks(log_s2, c),
        n=int(ev.size),
        n_above=int(np.count_nonzero(ev > hi)),
        q_fixed=q is not None,
    )


# ---------------------------------------------------------------------------
# power-law tails (Clauset, Shalizi and Newman, SIAM Rev. 51, 661 (2009))
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerLawFit:
    """Continuous power-law tail ``p(x) ~ x^-alpha`` for ``x >= xmin``.

    Attributes
    ----------
    alpha : float
        Maximum-likelihood exponent of the density.
    alpha_stderr : float
        Its asymptotic standard error ``(alpha - 1) / sqrt(n_tail)``.
    xmin : float
        Lower bound of the tail, chosen to minimise ``ks``.
    ks : float
        KS distance between the tail and the fitted power law.
    n_tail : int
        Points with ``x >= xmin``.
    """

    alpha: float
    alpha_stderr: float
    xmin: float
    ks: float
    n_tail: int

    def asdict(self) -> dict:
        return asdict(self)


def fit_power_law(
    x, *, xmin: float | None = None, min_tail: int = 10, max_candidates: int = 400
) -> PowerLawFit:
    """Fit a power-law tail by maximum likelihood with xmin chosen by KS distance.

    Parameters
    ----------
    x : array_like, shape (n,)
        Positive samples (non-positive and non-finite values are dropped), e.g. the
        eigenvalues of ``W^T W / N``.
    xmin : float, optional
        Fix the tail's lower bound instead of scanning for it.
    min_tail : int
        Smallest tail size considered when scanning.
    max_candidates : int
        Scan at most this many candidate xmin values (quantile-spaced among the data
        values) so long spectra stay fast.

    Returns
    -------
    PowerLawFit
        ``alpha = 1 + n / sum(ln(x_i / xmin))`` over the tail (Clauset et al. 2009,
        eq. 3.1) with xmin minimising the KS distance (their section 3.3).
    """
    v = _finite_1d(x, "x")
    v = np.sort(v[v > 0])
    if min_tail < 2:
        raise ValueError(f"min_tail must be >= 2, got {min_tail}")
    if v.size < min_tail:
        raise ValueError(f"x must hold at least min_tail={min_tail} positive values, got {v.size}")

    def fit_at(i0: int, x0: float) -> tuple[float, float]:
        tail = v[i0:]
        n = tail.size
        logs = np.log(tail / x0)
        s = logs.sum()
        if s <= 0:
            return float("nan"), float("inf")
        alpha = 1.0 + n / s
        model = 1.0 - np.exp((1.0 - alpha) * logs)
        emp = np.arange(1, n + 1) / n
        d = max(np.max(emp - model), np.max(model - (emp - 1.0 / n)))
        return alpha, float(d)

    if xmin is not None:
        if not xmin > 0:
            raise ValueError(f"xmin must be positive, got {xmin}")
        i0 = int(np.searchsorted(v, xmin, side="left"))
        if v.size - i0 < 2:
            raise ValueError(f"fewer than 2 samples at or above xmin={xmin}")
        starts = [i0]
    else:
        # first occurrence of each distinct value, keeping at least min_tail points
        first = np.flatnonzero(np.concatenate([[True], np.diff(v) > 0]))
        first = first[first <= v.size - min_tail]
        if first.size > max_candidates:
            first = np.unique(first[np.linspace(0, first.size - 1, max_candidates).astype(int)])
        starts = first.tolist()
    best = None
    for i0 in starts:
        alpha, d = fit_at(i0, float(xmin) if xmin is not None else float(v[i0]))
        if np.isfinite(alpha) and (best is None or d < best[2]):
            best = (i0, alpha, d)
    if best is None:
        raise ValueError("x has no spread above any candidate xmin: no power-law fit")
    i0, alpha, d = best
    if xmin is None:
        xmin = float(v[i0])
    n_tail = int(v.size - i0)
    return PowerLawFit(
        alpha=float(alpha),
        alpha_stderr=float((alpha - 1.0) / math.sqrt(n_tail)),
        xmin=float(xmin),
        ks=float(d),
        n_tail=n_tail,
    )


# ---------------------------------------------------------------------------
# distributions
# ---------------------------------------------------------------------------


def near_zero_fraction(values, *, rtol: float = 0.01, atol: float = 0.0) -> float:
    """Fraction of ``|values| <= max(atol, rtol * max|values|)``.

    Relative by default because presets live on different scales (``eigen`` starts
    ``lam_out`` in +-0.13, ``svd`` starts ``lam_in`` at exactly 0).
    """
    v = np.abs(_finite_1d(values, "values"))
    if v.size == 0:
        return float("nan")
    thr = max(atol, rtol * float(v.max()))
    return float(np.mean(v <= thr))


def summary_stats(
    values,
    *,
    quantiles=(0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99),
    near_zero_rtol: float = 0.01,
) -> dict:
    """Moments, extremes, quantiles and near-zero fraction of a 1-D sample.

    Returns
    -------
    dict
        ``n, mean, std, skewness, excess_kurtosis, min, max, mean_abs,
        near_zero_fraction`` (floats) and ``quantiles`` (array matching ``quantiles``).
        Standard deviation with ``ddof=0``; moments NaN where undefined.
    """
    v = _finite_1d(values, "values")
    q = np.asarray(quantiles, dtype=np.float64)
    if np.any((q < 0) | (q > 1)):
        raise ValueError(f"quantiles must lie in [0, 1], got {quantiles}")
    nan = float("nan")
    if v.size == 0:
        return dict(n=0, mean=nan, std=nan, skewness=nan, excess_kurtosis=nan, min=nan,
                    max=nan, mean_abs=nan, near_zero_fraction=nan, quantiles=np.full(q.shape, nan))
    mean = float(v.mean())
    c = v - mean
    var = float((c**2).mean())
    sd = math.sqrt(var)
    skew = float((c**3).mean() / sd**3) if sd > 0 else nan
    kurt = float((c**4).mean() / var**2 - 3.0) if sd > 0 else nan
    return dict(
        n=int(v.size),
        mean=mean,
        std=sd,
        skewness=skew,
        excess_kurtosis=kurt,
        min=float(v.min()),
        max=float(v.max()),
        mean_abs=float(np.abs(v).mean()),
        near_zero_fraction=near_zero_fraction(v, rtol=near_zero_rtol),
        quantiles=np.quantile(v, q),
    )


def histogram(values, edges) -> np.ndarray:
    """Probability density of ``values`` on the bins ``edges`` (values outside are dropped).

    Returns
    -------
    numpy.ndarray, shape (len(edges) - 1,)
        Normalised so that ``sum(density * diff(edges))`` is the fraction of values
        inside the range (1 when all fall inside), which keeps trained, initial and
        random histograms on a shared binning comparable.
    """
    v = _finite_1d(values, "values")
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0):
        raise ValueError("edges must be a strictly increasing 1-D array of >= 2 values")
    counts, _ = np.histogram(v, bins=e)
    if v.size == 0:
        return np.zeros(e.size - 1)
    return counts / (v.size * np.diff(e))


def circular_law_radius(w) -> float:
    """Circular-law radius ``sigma sqrt(N)`` of a square matrix with iid-like entries.

    ``sigma`` is the standard deviation of the entries (mean removed); the eigenvalues
    of an N x N iid matrix fill the disk of this radius uniformly (Girko; Tao-Vu).
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1]:
        raise ValueError(f"w must be square, got shape {w.shape}")
    return float(np.std(w) * math.sqrt(w.shape[0]))
