"""Known-answer tests of the random-matrix array functions (spectral_physics.analysis.rmt).

Random-matrix references are checked by simulation with fixed seeds; every
tolerance is about 3-4 standard errors of the simulated estimate plus the
finite-size bias measured for the matrix sizes used here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from spectral_physics.analysis import rmt


# ---------------------------------------------------------------- level statistics
def test_spacing_ratio_goe(rng):
    # 20 GOE matrices of 200: stderr of <r> ~0.003, finite-N bias ~+0.003
    rs = []
    for _ in range(20):
        h = rng.normal(size=(200, 200))
        rs.append(rmt.spacing_ratio(np.linalg.eigvalsh((h + h.T) / 2)))
    assert abs(np.mean(rs) - rmt.R_GOE) < 0.012


def test_spacing_ratio_gue(rng):
    rs = []
    for _ in range(20):
        h = rng.normal(size=(200, 200)) + 1j * rng.normal(size=(200, 200))
        rs.append(rmt.spacing_ratio(np.linalg.eigvalsh((h + h.conj().T) / 2)))
    assert abs(np.mean(rs) - rmt.R_GUE) < 0.012


def test_spacing_ratio_poisson(rng):
    # uncorrelated levels of any density: <r> = 2 ln 2 - 1 exactly; stderr ~0.001
    assert rmt.R_POISSON == pytest.approx(2 * math.log(2) - 1)
    assert abs(rmt.spacing_ratio(rng.exponential(size=100_000)) - rmt.R_POISSON) < 0.005


def test_spacing_ratio_edge_cases():
    assert rmt.spacing_ratio([0.0, 1.0, 3.0]) == pytest.approx(0.5)
    assert rmt.spacing_ratio([3.0, 0.0, 1.0, np.nan]) == pytest.approx(0.5)  # order and NaN ignored
    assert math.isnan(rmt.spacing_ratio([1.0, 1.0, 1.0]))  # all degenerate: no ratio
    # degenerate levels merge: a pile of frozen eigenvalues is one level
    assert rmt.spacing_ratio([0.0, 1.0, 1.0, 1.0, 3.0]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="values"):
        rmt.spacing_ratio([1.0, 2.0])


def test_complex_spacing_ratio_poisson_2d(rng):
    n = 40_000
    z = np.sqrt(rng.random(n)) * np.exp(2j * np.pi * rng.random(n))  # uniform in the disk
    c = rmt.complex_spacing_ratio(z, conjugate_pairs=False, bulk=0.9)
    assert abs(c.mean_abs - 2 / 3) < 0.01
    assert abs(c.mean_cos) < 0.015


def test_complex_spacing_ratio_ginibre(rng):
    # real Ginibre: conjugate pairs detected, upper half-plane used; bulk avoids the edge
    a, c_ = [], []
    for _ in range(10):
        ev = np.linalg.eigvals(rng.normal(size=(300, 300)))
        c = rmt.complex_spacing_ratio(ev, bulk=0.7)
        a.append(c.mean_abs)
        c_.append(c.mean_cos)
    assert abs(np.mean(a) - rmt.CSR_GINIBRE[0]) < 0.02
    assert abs(np.mean(c_) - rmt.CSR_GINIBRE[1]) < 0.05
    assert np.mean(c_) < -0.15  # clearly repelled, unlike 2D Poisson


def test_circular_law(rng):
    n = 400
    w = rng.normal(size=(n, n)) / math.sqrt(n)
    assert rmt.circular_law_radius(w) == pytest.approx(1.0, abs=0.01)
    assert np.abs(np.linalg.eigvals(w)).max() == pytest.approx(1.0, abs=0.1)
    with pytest.raises(ValueError, match="square"):
        rmt.circular_law_radius(w[:3])


# ---------------------------------------------------------------- singular values, MP
@pytest.mark.parametrize("shape", [(50, 30), (30, 50)])
def test_singular_values_via_gram(rng, shape):
    w = rng.normal(size=shape)
    np.testing.assert_allclose(rmt.singular_values(w), np.linalg.svd(w, compute_uv=False), rtol=1e-10)
    np.testing.assert_allclose(rmt.gram_spectrum(w), np.sort(np.linalg.svd(w, compute_uv=False) ** 2) / 50)


def test_marchenko_pastur_density_and_cdf():
    lo, hi = rmt.marchenko_pastur_edges(2.0, 4.0)
    assert (lo, hi) == pytest.approx((2.0 * 0.25, 2.0 * 2.25))
    x = np.linspace(lo, hi, 200_001)
    pdf = rmt.marchenko_pastur_pdf(x, 2.0, 4.0)
    assert np.trapezoid(pdf, x) == pytest.approx(1.0, abs=1e-3)
    mean = np.trapezoid(pdf * x, x)
    assert mean == pytest.approx(2.0, abs=1e-3)  # mean eigenvalue = sigma^2
    cdf = rmt.marchenko_pastur_cdf([lo - 1, 0.5 * (lo + hi), hi + 1], 2.0, 4.0)
    mid = np.trapezoid(pdf[x <= 0.5 * (lo + hi)], x[x <= 0.5 * (lo + hi)])
    assert cdf[0] == 0 and cdf[2] == 1 and cdf[1] == pytest.approx(mid, abs=1e-4)
    with pytest.raises(ValueError, match="q"):
        rmt.marchenko_pastur_edges(1.0, 0.5)


@pytest.mark.parametrize("q_given", [True, False])
def test_marchenko_pastur_fit_wishart(rng, q_given):
    n, m, sigma = 2000, 500, 0.3
    w = rng.normal(scale=sigma, size=(n, m))
    fit_ = rmt.fit_marchenko_pastur(rmt.gram_spectrum(w), q=4.0 if q_given else None)
    assert fit_.sigma2 == pytest.approx(sigma**2, rel=0.02)
    assert fit_.q == pytest.approx(4.0, rel=0.0 if q_given else 0.05)
    assert fit_.lambda_minus == pytest.approx(sigma**2 * 0.25, rel=0.05)
    assert fit_.lambda_plus == pytest.approx(sigma**2 * 2.25, rel=0.02)
    assert fit_.ks < 0.03 and fit_.n_above <= 2


def test_marchenko_pastur_fit_sees_spikes(rng):
    # a rank-3 signal on top of noise shows up as eigenvalues above the fitted edge
    n, m = 1000, 400
    w = rng.normal(size=(n, m)) + 3.0 * rng.normal(size=(n, 3)) @ rng.normal(size=(3, m)) / math.sqrt(m)
    fit_ = rmt.fit_marchenko_pastur(rmt.gram_spectrum(w), q=n / m)
    assert fit_.n_above == 3
    assert fit_.sigma2 == pytest.approx(1.0, rel=0.05)


# ---------------------------------------------------------------- power-law tails
def test_power_law_pareto(rng):
    alpha, xm = 2.5, 2.0
    x = xm * (1.0 + rng.pareto(alpha - 1.0, size=5000))  # density ~ x^-alpha for x >= xm
    pl = rmt.fit_power_law(x)
    assert pl.alpha == pytest.approx(alpha, abs=0.1)
    assert pl.xmin == pytest.approx(xm, rel=0.25)
    assert pl.alpha_stderr == pytest.approx((pl.alpha - 1) / math.sqrt(pl.n_tail))
    fixed = rmt.fit_power_law(x, xmin=xm)
    assert fixed.alpha == pytest.approx(1 + x.size / np.log(x / xm).sum())


def test_power_law_selects_xmin_above_body(rng):
    body = rng.uniform(0.05, 1.0, size=3000)
    tail = 1.0 + rng.pareto(2.0, size=2000)  # alpha = 3 above x = 1
    pl = rmt.fit_power_law(np.concatenate([body, tail]))
    assert 0.9 < pl.xmin < 1.6
    assert pl.alpha == pytest.approx(3.0, abs=0.2)


# ---------------------------------------------------------------- distributions
def test_summary_stats_and_histogram(rng):
    v = rng.normal(1.0, 2.0, size=200_000)
    st = rmt.summary_stats(v, quantiles=(0.5, 0.975))
    assert st["mean"] == pytest.approx(1.0, abs=0.02)
    assert st["std"] == pytest.approx(2.0, abs=0.02)
    assert abs(st["skewness"]) < 0.02 and abs(st["excess_kurtosis"]) < 0.05
    np.testing.assert_allclose(st["quantiles"], [1.0, 1.0 + 2 * 1.959964], atol=0.03)
    edges = np.linspace(-10, 12, 45)
    dens = rmt.histogram(v, edges)
    assert (dens * np.diff(edges)).sum() == pytest.approx(1.0)
    assert rmt.near_zero_fraction([0.0, 0.005, 0.5, -1.0], rtol=0.01) == 0.5
    assert rmt.near_zero_fraction([0.0, 0.2, -1.0], rtol=0.0, atol=0.25) == pytest.approx(2 / 3)
