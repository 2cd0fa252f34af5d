"""The claims table: Student-t intervals over seeds, one verdict rule, claims built from Datasets.

Known answers: the interval of 1..5 (t(0.975, 4) = 2.776), each verdict from an interval
placed by hand, and claims computed from small Datasets whose differences are set.
"""

import numpy as np
import pytest
import xarray as xr
from spectral_physics.analysis import write_netcdf
from spectral_physics.analysis.claims import (
    claims,
    claims_table,
    holm,
    seed_interval,
    seed_p_value,
    verdict,
    write_claims,
)


def test_seed_interval_known_answer():
    mean, lo, hi, n = seed_interval(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    half = 2.7764451051977987 * np.std([1, 2, 3, 4, 5], ddof=1) / np.sqrt(5)
    assert (mean, n) == (3.0, 5) and lo == pytest.approx(3 - half, rel=1e-12) and hi == pytest.approx(3 + half)
    m, lo, hi, n = seed_interval(np.array([2.0, np.nan, 4.0]), level=0.5)  # NaN seeds dropped
    assert (m, n) == (3.0, 2) and hi - m == pytest.approx(1.0 * np.sqrt(2) / np.sqrt(2))  # t(0.75, 1) = 1
    m, lo, hi, n = seed_interval(np.array([0.7]))
    assert m == 0.7 and n == 1 and np.isnan(lo) and np.isnan(hi)
    assert seed_interval(np.array([]))[3] == 0


@pytest.mark.parametrize("lower, upper, side, reference, want", [
    (0.1, 0.3, +1, 0.0, "supported"), (-0.3, -0.1, +1, 0.0, "contradicted"), (-0.1, 0.3, +1, 0.0, "inconclusive"),
    (0.40, 0.50, -1, 0.53, "supported"), (0.55, 0.60, -1, 0.53, "contradicted"), (0.50, 0.56, -1, 0.53,
                                                                                 "inconclusive"),
    (np.nan, np.nan, +1, 0.0, "inconclusive"), (0.1, 0.2, 0, 0.0, "measured")])
def test_verdict_rule(lower, upper, side, reference, want):
    assert verdict(lower, upper, side, reference) == want


def test_seed_p_value_matches_the_interval():
    v = np.array([1.0, 2.0, 3.0, 4.0, 5.0])  # t = 3 / (1.5811 / sqrt 5) = 4.2426, 4 dof
    assert seed_p_value(v) == pytest.approx(0.013236, abs=1e-6)
    _, lo, hi, _ = seed_interval(v)
    # the 95 % interval's ends are where the two-sided p-value crosses 0.05
    assert seed_p_value(v, reference=lo) == pytest.approx(0.05) and seed_p_value(v, reference=hi) == pytest.approx(0.05)
    assert np.isnan(seed_p_value(np.array([0.3])))
    assert seed_p_value(np.full(4, 0.2), 0.2) == 1.0 and seed_p_value(np.full(4, 0.2), 0.0) == 0.0


@pytest.mark.parametrize("p, want", [
    ([0.001, 0.02, 0.04], [True, True, True]),  # 0.001 <= 0.05/3, 0.02 <= 0.05/2, 0.04 <= 0.05
    ([0.01, 0.03, 0.04], [True, False, False]),  # 0.03 > 0.05/2 stops the descent
    ([0.04, 0.001, np.nan], [False, True, False]),  # NaN counts in m = 3: 0.04 > 0.05/2
    ([], [])])
def test_holm_known_answers(p, want):
    assert holm(np.array(p)).tolist() == want


def _sparse(diff_qr: list[float]) -> xr.Dataset:
    """A sparse Dataset: direct 0.8 everywhere, qr = direct + diff_qr (per seed) at density 0.1, spectral = direct."""
    acc = np.full((2, 3, 2, len(diff_qr)), 0.8)  # density, train, epoch, seed
    acc[0, 2, -1] += diff_qr
    return xr.Dataset({"test_accuracy": (("density", "train", "epoch", "seed"), acc)},
                      coords={"density": [0.1, 1.0], "train": ["direct", "spectral", "qr"], "epoch": [1, 2],
                              "seed": np.arange(len(diff_qr))})


def test_claims_from_datasets(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_netcdf(_sparse([0.05, 0.06, 0.04, 0.05, 0.05]), data / "sparse.nc")
    acc = np.zeros((1, 4, 2, 3))  # dataset, wiring, density, seed
    acc[0, 0] = [[0.70, 0.71, 0.69], [0.60, 0.605, 0.595]]  # ntt
    acc[0, 1] = [[0.80, 0.81, 0.79], [0.50, 0.50, 0.50]]  # random
    acc[0, 2] = [[0.60, 0.60, 0.60], [0.55, 0.56, 0.54]]  # logit-snip
    acc[0, 3] = 0.99  # snip uses labels: not a baseline of the claim
    write_netcdf(xr.Dataset({"test_accuracy": (("dataset", "wiring", "density", "seed"), acc)},
                            coords={"dataset": ["mnist"], "wiring": ["ntt", "random", "logit-snip", "snip"],
                                    "density": [0.1, 0.01], "seed": [0, 1, 2]}), data / "ntt.nc")
    ds = claims(data)
    assert ds.attrs["missing_steps"] == "homeostasis, relevance, eigenstats, pruning, presets_sweep"
    assert list(ds.claim.values) == ["sparse_qr_d0.1", "sparse_spectral_d0.1", "ntt_mnist_d0.1", "ntt_mnist_d0.01"]
    qr = ds.sel(claim="sparse_qr_d0.1")
    assert float(qr["mean"]) == pytest.approx(0.05) and int(qr.n_seeds) == 5 and qr.verdict.item() == "supported"
    # spectral equals direct in every seed: a zero-width interval at the reference
    assert ds.sel(claim="sparse_spectral_d0.1").verdict.item() == "inconclusive"
    # NTT minus the best label-free baseline (random at 10 %, logit-snip at 1 %), SNIP ignored
    assert float(ds.sel(claim="ntt_mnist_d0.1")["mean"]) == pytest.approx(-0.10)
    assert ds.sel(claim="ntt_mnist_d0.1").verdict.item() == "contradicted"
    assert float(ds.sel(claim="ntt_mnist_d0.01")["mean"]) == pytest.approx(0.05)
    assert ds.sel(claim="ntt_mnist_d0.01").verdict.item() == "supported"
    # Holm over the m = 4 sided claims: p = 0 (ntt 10 %), ~1e-4 (qr), 0.0033 (ntt 1 %) pass
    # 0.05/4, 0.05/3, 0.05/2; spectral's p = 1 does not
    assert float(ds.sel(claim="ntt_mnist_d0.01").p_value) == pytest.approx(0.003316, abs=1e-5)
    assert ds.holm.values.tolist() == [True, False, True, True]
    table = claims_table(ds)
    assert table.count("\n") == 2 + 4 and "0.050 [" in table and "| > 0 | supported | yes | C21 |" in table
    assert "after Holm (m = 4)" in table
    paths = write_claims(data, tmp_path / "out")
    assert xr.open_dataset(paths["netcdf"]).verdict.values.tolist() == ds.verdict.values.tolist()
    assert paths["markdown"].read_text().endswith(table)


def test_claims_need_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        claims(tmp_path / "nothing")


def test_unchanged_until_stops_at_the_first_drop():
    from spectral_physics.analysis.claims import _unchanged_until

    acc = xr.DataArray([[0.90, 0.895, 0.85, 0.895], [0.90, 0.899, 0.898, 0.70], [np.nan, 0.9, 0.9, 0.9]],
                       dims=("seed", "fraction_removed"), coords={"fraction_removed": [0.0, 0.1, 0.2, 0.3]})
    # seed 0: the late 0.895 at 0.3 does not count after the drop at 0.2; seed 2 has no unpruned value
    np.testing.assert_array_equal(_unchanged_until(acc), [0.1, 0.2, np.nan])


def test_a_dataset_of_another_layout_is_named_not_fatal(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_netcdf(xr.Dataset({"other": ("x", [1.0])}), data / "sparse.nc")
    ds = claims(data)
    assert ds.sizes["claim"] == 0 and ds.attrs["unreadable_steps"].startswith("sparse (AttributeError")
