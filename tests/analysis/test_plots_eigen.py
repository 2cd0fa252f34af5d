"""Plots of the eigenstats, nodes and homeostasis Datasets: ``fig.plotted`` against the Dataset.

Every plot function records the numbers it draws in ``fig.plotted``; the tests compare that
with the Dataset, and ``_drawn_in_plotted`` checks that what the artists show is in it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from spectral_physics.analysis import homeostasis as hs  # noqa: E402
from spectral_physics.analysis import plots  # noqa: E402
from spectral_physics.analysis.eigenstats import eigenstats, eigenstats_ensemble  # noqa: E402
from spectral_physics.analysis.nodes import node_correspondence  # noqa: E402
from spectral_physics.analysis.rmt import R_GOE, R_POISSON, marchenko_pastur_pdf  # noqa: E402

from spectral_physics import SpectralMLP, fit  # noqa: E402


def _arrays(tree):
    """Every numeric array in a ``fig.plotted`` tree."""
    if isinstance(tree, dict):
        return [a for v in tree.values() for a in _arrays(v)]
    a = np.asarray(tree)
    return [a] if a.dtype.kind in "fiu" and a.ndim else []


def _drawn_in_plotted(fig) -> None:
    """Every data line, step histogram and image of ``fig`` shows an array of ``fig.plotted``."""
    from matplotlib.patches import StepPatch

    have = _arrays(fig.plotted)

    def found(v):
        v = np.asarray(v, dtype=float).ravel()
        return any(a.size == v.size and np.allclose(a.ravel(), v, equal_nan=True) for a in have)

    for ax in fig.axes:
        for ln in ax.lines:
            if len(ln.get_ydata()) > 2:  # reference lines (axhline, axvline) have two points
                assert found(ln.get_ydata()), f"line {ln.get_label()!r} not in fig.plotted"
        for p in ax.patches:
            if isinstance(p, StepPatch):
                assert found(p.get_data().values), f"stairs {p.get_label()!r} not in fig.plotted"
        for im in ax.images:
            assert found(im.get_array()), "image not in fig.plotted"


@pytest.fixture(scope="module")
def net_and_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 16))
    y = (x[:, :3] + 0.3 * rng.normal(size=(300, 3))).argmax(axis=1)
    net = SpectralMLP([16, 12, 3], train="eigen", init="paper", seed=0)
    rec = hs.HomeostasisRecorder(x[:100])
    fit(net, (x.astype(np.float32), y), epochs=2, batch_size=50, lr=1e-2, progress=False, callbacks=[rec])
    return net, x, y, rec


def test_eigen_plots_draw_the_dataset(net_and_data):
    net, *_ = net_and_data
    ds = eigenstats(net, bins=12)
    fig = plots.plot_eigen_distributions(ds)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    dens = fig.plotted["lam_out_density"][0]
    np.testing.assert_allclose(dens["trained"], ds.lam_out_density.sel(source="trained", layer=0).values)
    np.testing.assert_allclose(dens["edges"], ds.lam_out_edges.sel(layer=0).values)
    assert set(fig.plotted["lam_in_density"]) == {0, 1}
    _drawn_in_plotted(fig)

    fig = plots.plot_weight_spectrum(ds)
    mp = fig.plotted["esd"][0]["mp"]
    sel = ds.sel(source="trained", layer=0)
    assert mp["sigma2"] == float(sel.mp_sigma2_fixed_q) and mp["q"] == float(sel.mp_q_shape)
    np.testing.assert_allclose(mp["pdf"], marchenko_pastur_pdf(mp["x"], mp["sigma2"], mp["q"]))
    assert mp["lambda_plus"] == float(sel.mp_lambda_plus_fixed_q)
    esd = fig.plotted["esd"][0]
    widths = np.diff(esd["edges"])
    assert (esd["trained"] * widths).sum() == pytest.approx(1.0)  # a density of the trained spectrum
    _drawn_in_plotted(fig)

    fig = plots.plot_level_statistics(ds)
    r = fig.plotted["r"][0]
    assert r["variables"] == ["lam_in_r", "lam_out_r", "lambda_r", "esd_r"]
    np.testing.assert_allclose(r["trained"]["mean"], [float(sel[v]) for v in r["variables"]])
    assert "sem" not in r["trained"]  # one network: no error bars
    assert r["references"] == {"poisson": R_POISSON, "goe": R_GOE}
    heights = [p.get_height() for p in fig.axes[0].patches[:4]]  # the first source's bars
    np.testing.assert_allclose(heights, r[str(ds.source.values[0])]["mean"])

    fig = plots.plot_eigenstats(ds)
    assert set(fig.plotted) == {"lam_in_density", "lam_out_density", "esd", "r"}
    np.testing.assert_allclose(fig.plotted["r"][1]["random"]["mean"][0], float(ds.lam_in_r.sel(source="random",
                                                                                                layer=1)))
    _drawn_in_plotted(fig)
    with pytest.raises(ValueError, match="eigenstats"):
        plots.plot_eigenstats(ds[["lam_in"]])


def test_eigen_plots_average_an_ensemble():
    ds = eigenstats_ensemble(SpectralMLP([16, 12, 3], train="eigen", init="paper", seed=[0, 1, 2]), bins=8)
    fig = plots.plot_level_statistics(ds)
    r = fig.plotted["r"][0]["trained"]
    lam_in_r = ds.lam_in_r.sel(source="trained", layer=0)
    assert r["mean"][0] == pytest.approx(float(lam_in_r.mean("seed")))
    assert r["sem"][0] == pytest.approx(float(lam_in_r.std("seed", ddof=1)) / np.sqrt(3))
    from matplotlib.container import ErrorbarContainer

    assert any(isinstance(c, ErrorbarContainer) for c in fig.axes[0].containers)  # error bars over seeds
    fig = plots.plot_eigenstats(ds)
    np.testing.assert_allclose(fig.plotted["lam_in_density"][0]["trained"],
                               ds.lam_in_density.sel(source="trained", layer=0).mean("seed").values)
    _drawn_in_plotted(fig)


def test_node_plots(net_and_data):
    pytest.importorskip("spectral_physics.pruning")
    net, x, y, _ = net_and_data
    ds = node_correspondence(net, x, y, image_shape=(4, 4), fractions=[0.0, 0.5, 1.0])
    fig = plots.plot_node_correspondence(ds)
    p = fig.plotted
    assert p["scores"] == [str(s) for s in ds.score.values]
    np.testing.assert_allclose(p["spearman"][0]["loss_increase"],
                               np.nan_to_num(ds.spearman.sel(layer=0, truth="loss_increase").values))
    np.testing.assert_allclose(p["pruning"]["eigenvalue"], ds.pruning_accuracy.sel(ranking="eigenvalue").values)
    np.testing.assert_allclose(p["pruning"]["fraction_removed"], [0.0, 0.5, 1.0])
    n = int(ds.n_hidden.sel(layer=0))
    np.testing.assert_allclose(p["scatter"][0]["loss_increase"], ds.loss_increase.sel(layer=0).values[:n])
    np.testing.assert_allclose(p["scatter"][0]["abs_lam_out"],
                               ds.node_score.sel(layer=0, score="abs_lam_out").values[:n])
    np.testing.assert_allclose(p["input_relevance"], ds.input_relevance.values)
    _drawn_in_plotted(fig)
    fig = plots.plot_input_relevance(ds)
    np.testing.assert_allclose(fig.plotted["input_relevance"], ds.input_relevance.values)
    assert fig.plotted["color_limit"] == pytest.approx(float(np.abs(ds.input_relevance).max()))
    _drawn_in_plotted(fig)


def test_homeostasis_plots(net_and_data):
    net, x, y, rec = net_and_data
    ds = hs.homeostasis(net, x, y, n_permutations=200)
    fig = plots.plot_homeostasis(ds)
    p = fig.plotted
    np.testing.assert_allclose(p["cv"][0]["cv"], ds.activity_cv.sel(layer=0).values)
    assert p["cv"][0]["states"] == [str(s) for s in ds.state.values]
    np.testing.assert_allclose([b.get_height() for b in fig.axes[2].patches], p["cv"][0]["cv"])
    pts = p["drive_gain"][0]["trained"]
    np.testing.assert_allclose(pts["drive"], ds.drive.sel(state="trained", layer=0).values)
    np.testing.assert_allclose(pts["gain"], ds.gain.sel(state="trained", layer=0).values)
    assert pts["spearman"] == float(ds.drive_gain_spearman.sel(state="trained", layer=0))
    act = p["activity"][0]
    n = int(ds.n_hidden.sel(layer=0))
    assert act["trained"].sum() == np.isfinite(ds.activity_abs_mean.sel(state="trained", layer=0).values[:n]).sum()
    tc = rec.to_dataset()
    fig = plots.plot_homeostasis_timecourse(tc)
    np.testing.assert_allclose(fig.plotted["cv"][0], tc.activity_cv.sel(layer=0).values)
    np.testing.assert_array_equal(fig.plotted["epoch"], tc.epoch.values)
    _drawn_in_plotted(fig)


def test_every_plot_function_is_exported_and_documents_plotted():
    import inspect

    from spectral_physics.analysis import plots_experiments, plots_network

    names = {n for n, f in inspect.getmembers(plots, inspect.isfunction) if n.startswith("plot_")}
    assert names == set(plots.__all__)
    assert set(plots.__all__) == set(plots_network.__all__) | set(plots_experiments.__all__)
    for n in plots.__all__:
        assert "fig.plotted" in getattr(plots, n).__doc__, n
