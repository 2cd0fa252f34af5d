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
            if ln.get_linestyle() == "None" and ln.get_marker() in ("_", "|"):
                continue  # error-bar caps: mean +- sem, checked where the sem is
            if len(ln.get_ydata()) > 2:  # reference lines (axhline, axvline) have two points
                assert found(ln.get_ydata()), f"line {ln.get_label()!r} not in fig.plotted"
        for p in ax.patches:
            if isinstance(p, StepPatch):
                assert found(p.get_data().values), f"stairs {p.get_label()!r} not in fig.plotted"
        for im in ax.images:
            assert found(im.get_array()), "image not in fig.plotted"


# code names a figure must not show (mathtext instead: $\lambda^{\mathrm{in}}$, $W^\top W$, ...)
_CODE_NAMES = ("lam_in", "lam_out", "W^T", "phi_i .", "phi .", "<r>", "(rho=", "<|", "slope of z - b")


def _figure_text(fig) -> list[str]:
    """Every string drawn on ``fig``: titles, axis and tick labels, legends, figure texts."""
    out = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        out += [ax.get_title(loc=loc) for loc in ("left", "center", "right")]
        out += [ax.get_xlabel(), ax.get_ylabel()]
        out += [t.get_text() for t in (*ax.get_xticklabels(), *ax.get_yticklabels(), *ax.texts)]
        leg = ax.get_legend()
        if leg is not None:
            out += [t.get_text() for t in leg.get_texts()] + [leg.get_title().get_text()]
    for leg in fig.legends:
        out += [t.get_text() for t in leg.get_texts()] + [leg.get_title().get_text()]
    return [t for t in out if t]


def _assert_math_labels(fig) -> str:
    text = "\n".join(_figure_text(fig))
    for code in _CODE_NAMES:
        assert code not in text, f"code name {code!r} on the figure"
    return text


def _color(artist) -> tuple:
    from matplotlib.colors import to_rgb

    for get in ("get_edgecolor", "get_facecolor", "get_color"):
        c = np.asarray(getattr(artist, get)(), dtype=float) if hasattr(artist, get) else np.zeros(0)
        if c.size and (c.ndim == 1 or len(c)):
            c = c.reshape(-1, c.shape[-1])[0]
            return tuple(np.round(to_rgb(c[:3]), 3))
    raise AssertionError(f"no colour on {artist}")


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
    # every seed-mean histogram carries its standard-error band
    dens = fig.plotted["lam_in_density"][0]
    sem = ds.lam_in_density.sel(source="trained", layer=0).std("seed", ddof=1).values / np.sqrt(3)
    np.testing.assert_allclose(dens["sem"]["trained"], sem)
    np.testing.assert_allclose(dens["band"]["trained"]["upper"] - dens["band"]["trained"]["lower"], 2 * sem)
    esd = fig.plotted["esd"][0]
    assert set(esd["sem"]) == {"trained", "random"} and set(esd["band"]) <= {"trained", "random"}
    assert (esd["trained"] * np.diff(esd["edges"])).sum() == pytest.approx(1.0)  # mean of per-seed densities


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


def test_labels_are_mathtext_not_code_names(net_and_data):
    pytest.importorskip("spectral_physics.pruning")
    net, x, y, _ = net_and_data
    text = _assert_math_labels(plots.plot_eigenstats(eigenstats(net, bins=12)))
    for math in (r"$\lambda^{\mathrm{in}}$", r"$\lambda^{\mathrm{out}}$", r"$W^\top W$", r"\langle r\rangle",
                 r"$W^\top W/N$", r"\lambda_+"):
        assert math in text, math
    text = _assert_math_labels(plots.plot_homeostasis(hs.homeostasis(net, x, y, n_permutations=50)))
    assert r"\phi_i\cdot x" in text and r"|g_i|" in text and r"\rho=" in text
    ds = node_correspondence(net, x, y, image_shape=(4, 4), fractions=[0.0, 0.5, 1.0])
    assert r"\lambda^{\mathrm{out}}" in _assert_math_labels(plots.plot_node_correspondence(ds))
    assert r"\lambda^{\mathrm{in}}" in _assert_math_labels(plots.plot_input_relevance(ds))


def test_one_colour_per_state_across_panels_and_figures(net_and_data):
    from matplotlib.colors import to_rgb
    from spectral_physics.analysis._plotting import COLORS

    net, x, y, _ = net_and_data
    want = {st: tuple(np.round(to_rgb(COLORS[st]), 3)) for st in ("trained", "initial", "frozen", "random")}
    assert len(set(want.values())) == 4  # the states never share a colour
    ds = hs.homeostasis(net, x, y, n_permutations=50)
    fig = plots.plot_homeostasis(ds)
    scatter, hist, bars = fig.axes[:3]
    for coll in scatter.collections:  # drive-gain points, labelled "<state> (rho=...)"
        assert _color(coll) == want[coll.get_label().split()[0]]
    for patch in hist.patches:
        if patch.get_label() in want:
            assert _color(patch) == want[patch.get_label()]
    for patch, st in zip(bars.patches, fig.plotted["cv"][0]["states"]):
        assert tuple(np.round(to_rgb(patch.get_facecolor()[:3]), 3)) == want[st]
    es = plots.plot_eigen_distributions(eigenstats(net, bins=12))
    for patch in es.axes[0].patches:
        if patch.get_label() in want:
            assert _color(patch) == want[patch.get_label()]


def test_homeostasis_ensemble_draws_means_with_errors(net_and_data):
    import xarray as xr
    from matplotlib.container import ErrorbarContainer

    net, x, y, _ = net_and_data
    one = hs.homeostasis(net, x, y, n_permutations=50)
    other = one.copy(deep=True)
    other["activity_cv"] = one.activity_cv * 1.2
    other["activity_abs_mean"] = one.activity_abs_mean * 1.1
    other["drive_gain_spearman"] = one.drive_gain_spearman + 0.1
    ds = xr.concat([one, other], dim="seed").assign_coords(seed=[0, 1])
    fig = plots.plot_homeostasis(ds)
    p = fig.plotted
    cv = ds.activity_cv.sel(layer=0).transpose("seed", "state").values
    np.testing.assert_allclose(p["cv"][0]["cv"], cv.mean(axis=0))
    np.testing.assert_allclose(p["cv"][0]["sem"], cv.std(axis=0, ddof=1) / np.sqrt(2))
    assert p["cv"][0]["n_seeds"] == 2
    assert any(isinstance(c, ErrorbarContainer) for c in fig.axes[2].containers)  # CV error bars
    assert set(p["activity"][0]["sem"]) == {"trained", "frozen"}  # histogram bands
    rho = p["drive_gain"][0]["trained"]
    assert rho["spearman"] == pytest.approx(float(ds.drive_gain_spearman.sel(state="trained", layer=0).mean()))
    assert rho["spearman_sem"] == pytest.approx(0.1 / 2)  # two seeds 0.1 apart: sem = 0.1 / 2
    np.testing.assert_allclose(rho["drive"], one.drive.sel(state="trained", layer=0).values)  # seed 0's nodes
    assert p["scatter_seed"] == 0
    _drawn_in_plotted(fig)


def test_input_relevance_masks_constant_pixels_and_centres_on_initial_value():
    import xarray as xr

    rng = np.random.default_rng(1)
    std = np.ones((6, 6), dtype=np.float32)
    std[0, :] = std[:, 0] = 0.0  # border pixels never vary
    lam = 1.0 + 0.3 * rng.normal(size=(3, 6, 6))
    lam[:, std == 0] = 1.0  # no gradient: lam_in stays at its initial value
    ds = xr.Dataset({"input_relevance": (("seed", "row", "col"), lam), "pixel_std": (("row", "col"), std)},
                    coords={"seed": [0, 1, 2]})
    fig = plots.plot_input_relevance(ds)
    p = fig.plotted
    img = p["input_relevance"]
    assert np.all(np.isnan(img[std == 0])) and np.all(np.isfinite(img[std > 0]))
    np.testing.assert_array_equal(p["mask"], std == 0)
    np.testing.assert_allclose(img[std > 0], lam.mean(axis=0)[std > 0])
    assert p["center"] == 1.0
    assert p["color_limit"] == pytest.approx(np.abs(lam.mean(axis=0) - 1)[std > 0].max())
    vmin, vmax = fig.axes[0].images[0].get_clim()  # diverging scale centred on the initial value
    assert (vmin + vmax) / 2 == pytest.approx(1.0) and vmax - 1 == pytest.approx(p["color_limit"])
    sem = lam.std(axis=0, ddof=1) / np.sqrt(3)
    np.testing.assert_allclose(p["input_relevance_sem"][std > 0], sem[std > 0])
    assert np.all(np.isnan(p["input_relevance_sem"][std == 0])) and p["n_seeds"] == 3
    _drawn_in_plotted(fig)
    # without pixel_std nothing is masked
    assert np.isfinite(plots.plot_input_relevance(ds.drop_vars("pixel_std")).plotted["input_relevance"]).all()


def test_quick_schedule_is_noted_on_the_figure(net_and_data):
    from spectral_physics.analysis._plotting import schedule_label

    net, *_ = net_and_data
    ds = eigenstats(net, bins=12)
    plain = plots.plot_eigenstats(ds)
    assert "schedule" not in plain.plotted and not any("schedule" in t.get_text() for t in plain.texts)
    ds.attrs["schedule_label"] = "quick"
    fig = plots.plot_eigenstats(ds)
    assert fig.plotted["schedule"] == "quick"
    assert any("quick schedule" in t.get_text() for t in fig.texts)
    assert fig.plotted["schedule_note"] in [t.get_text() for t in fig.texts]
    ds.attrs["schedule_label"] = "full"
    assert "schedule" not in plots.plot_eigenstats(ds).plotted  # the full schedule needs no note
    assert schedule_label(type("D", (), {"attrs": {"spec": '{"name": "presets-quick"}'}})()) == "quick"


def test_every_plot_function_is_exported_and_documents_plotted():
    import inspect

    from spectral_physics.analysis import plots_experiments, plots_network

    names = {n for n, f in inspect.getmembers(plots, inspect.isfunction) if n.startswith("plot_")}
    assert names == set(plots.__all__)
    assert set(plots.__all__) == set(plots_network.__all__) | set(plots_experiments.__all__)
    for n in plots.__all__:
        assert "fig.plotted" in getattr(plots, n).__doc__, n
