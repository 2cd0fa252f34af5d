"""Plots of the eigenstats, nodes and homeostasis Datasets: the numbers behind the artists."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from spectral_physics.analysis import homeostasis as hs  # noqa: E402
from spectral_physics.analysis import plots  # noqa: E402
from spectral_physics.analysis.eigenstats import eigenstats, eigenstats_ensemble, marchenko_pastur_pdf  # noqa: E402
from spectral_physics.analysis.nodes import node_correspondence  # noqa: E402
from spectral_physics import SpectralMLP, fit  # noqa: E402


def _artist(fig, gid):
    for ax in fig.axes:
        for a in [*ax.patches, *ax.lines, *ax.collections, *ax.images, *ax.containers]:
            if getattr(a, "get_gid", lambda: None)() == gid:
                return a
    raise AssertionError(f"no artist with gid {gid!r}")


def _bar_heights(fig, gid):
    """Heights of the bars drawn with ``gid`` (bar() gives every rectangle the gid), in order."""
    h = [p.get_height() for ax in fig.axes for p in ax.patches if p.get_gid() == gid]
    assert h, f"no bars with gid {gid!r}"
    return np.array(h)


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
    st = _artist(fig, "lam_out_density/0/trained")
    np.testing.assert_allclose(st.get_data().values, ds.lam_out_density.sel(source="trained", layer=0).values)
    np.testing.assert_allclose(st.get_data().edges, ds.lam_out_edges.sel(layer=0).values)

    fig = plots.plot_weight_spectrum(ds)
    line = _artist(fig, "esd/0/mp")
    xs, ys = line.get_data()
    sel = ds.sel(source="trained", layer=0)
    np.testing.assert_allclose(ys, marchenko_pastur_pdf(xs, float(sel.mp_sigma2_fixed_q), float(sel.mp_q_shape)))

    fig = plots.plot_level_statistics(ds)
    expected = [float(sel[v]) for v in ("lam_in_r", "lam_out_r", "lambda_r", "esd_r")]
    np.testing.assert_allclose(_bar_heights(fig, "r/0/trained"), expected)
    assert isinstance(plots.plot_eigenstats(ds), Figure)
    with pytest.raises(ValueError, match="eigenstats"):
        plots.plot_eigenstats(ds[["lam_in"]])


def test_eigen_plots_average_an_ensemble():
    ds = eigenstats_ensemble(SpectralMLP([16, 12, 3], train="eigen", init="paper", seed=[0, 1, 2]), bins=8)
    fig = plots.plot_level_statistics(ds)
    np.testing.assert_allclose(_bar_heights(fig, "r/0/trained")[0],
                               float(ds.lam_in_r.sel(source="trained", layer=0).mean("seed")))
    from matplotlib.container import ErrorbarContainer

    assert any(isinstance(c, ErrorbarContainer) for c in fig.axes[0].containers)  # error bars over seeds
    assert isinstance(plots.plot_eigenstats(ds), Figure)


def test_node_plots(net_and_data):
    pytest.importorskip("spectral_physics.pruning")
    net, x, y, _ = net_and_data
    ds = node_correspondence(net, x, y, image_shape=(4, 4), fractions=[0.0, 0.5, 1.0])
    fig = plots.plot_node_correspondence(ds)
    np.testing.assert_allclose(_bar_heights(fig, "spearman/0/loss_increase"),
                               np.nan_to_num(ds.spearman.sel(layer=0, truth="loss_increase").values))
    curve = _artist(fig, "pruning/eigenvalue")
    np.testing.assert_allclose(curve.get_ydata(), ds.pruning_accuracy.sel(ranking="eigenvalue").values)
    img = _artist(plots.plot_input_relevance(ds), "input_relevance")
    np.testing.assert_allclose(img.get_array(), ds.input_relevance.values)


def test_homeostasis_plots(net_and_data):
    net, x, y, rec = net_and_data
    ds = hs.homeostasis(net, x, y, n_permutations=200)
    fig = plots.plot_homeostasis(ds)
    np.testing.assert_allclose(_bar_heights(fig, "cv/0"), ds.activity_cv.sel(layer=0).values)
    pts = _artist(fig, "drive_gain/0/trained").get_offsets()
    np.testing.assert_allclose(pts[:, 0], ds.drive.sel(state="trained", layer=0).values)
    np.testing.assert_allclose(pts[:, 1], ds.gain.sel(state="trained", layer=0).values)
    tc = rec.to_dataset()
    line = _artist(plots.plot_homeostasis_timecourse(tc), "cv/0")
    np.testing.assert_allclose(line.get_ydata(), tc.activity_cv.sel(layer=0).values)
    np.testing.assert_array_equal(line.get_xdata(), tc.epoch.values)
