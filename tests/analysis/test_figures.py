"""Paper figures: the numbers behind each plot, the figure registry, reproducible PDFs.

The expensive Datasets (sweeps, pruning, sparse training, NTT) are replaced by small
synthetic ones with known numbers written where the plan expects them; the cheap ones
(eigen network and its analyses, transfer operator) are computed by the
plan itself with a tiny teacher-student schedule, which also exercises skipping
Datasets already on disk.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import xarray as xr
from spectral_physics.analysis import read_netcdf, write_netcdf
from spectral_physics.analysis.figures import read_png_text, save_figure
from spectral_physics.analysis.plots import (
    plot_accuracy_vs_hidden,
    plot_ntt_comparison,
    plot_pruning_curves,
    plot_sparse_vs_direct,
    plot_transfer_operator,
)
from spectral_physics.analysis.reproduce import plan, reproduce
from spectral_physics.figures import FIGURES, draw

TS = "teacher-student"
TINY = {
    "presets_sweep": None,  # synthetic file below; never computed in these tests
    "pruning": None,
    "sparse": None,
    "ntt": None,
    "eigen_net": {"dataset": TS, "subset": 200, "n_test": 100, "sizes_hidden": [9], "train": "eigen",
                  "activation": "tanh", "init": "paper", "seeds": [0, 1], "epochs": 1, "lr": 1e-2},
    "analysis_samples": 100,
    "transfer": {"sizes": [3, 3, 2], "epochs": 1},
}


# ------------------------------------------------------------------ synthetic Datasets
def sweep_dataset() -> xr.Dataset:
    """train x hidden x seed; eigen crosses 0.99 of direct between hidden 10 and 100."""
    trains, hidden, seeds = ["direct", "eigen"], [10, 100, 1000], [0, 1, 2]
    direct = np.array([0.90, 0.95, 0.97])
    rel_eigen = np.array([0.98, 1.00, 1.00])
    noise = np.array([-0.01, 0.0, 0.01])
    acc = np.empty((2, 3, 3))
    acc[0] = direct[:, None] + noise[None, :]
    acc[1] = acc[0] * rel_eigen[:, None]
    ds = xr.Dataset(
        {
            "test_accuracy": (("train", "hidden", "seed"), acc),
            "relative_accuracy": (("train", "hidden", "seed"), acc / acc[0][None]),
            "trainable_ratio": (("train", "hidden"), np.array([[1.0, 1.0, 1.0], [0.01, 0.011, 0.012]])),
            "n_trainable": (("train", "hidden"), np.array([[100, 1000, 10000], [1, 11, 120]])),
            "status": (("train", "hidden", "seed"), np.zeros((2, 3, 3), dtype=np.int8)),
        },
        coords={"train": trains, "hidden": hidden, "seed": seeds},
    )
    ds.attrs["threshold"] = 0.99
    return ds


def pruning_dataset() -> xr.Dataset:
    fr = np.linspace(0, 1, 5)
    curves = ["spectral: eigenvalue", "spectral: random", "direct: connectivity"]
    base = np.stack([1 - fr**3, 1 - fr, 1 - fr**2])  # (curve, fraction)
    post = base[None, :, :, None] + np.array([-0.02, 0.0, 0.02])[None, None, None, :]
    post = np.concatenate([post, post - 0.1])  # two data sets
    filt = np.array([[0.9, 0.8], [0.9, 0.5]])[None, :, :, None] + np.array([0.0, 0.02])
    filt = np.concatenate([filt, filt - 0.1])
    return xr.Dataset(
        {
            "post_accuracy": (("dataset", "curve", "fraction_removed", "seed"), post),
            "filter_accuracy": (("dataset", "filter_curve", "filter_fraction", "filter_seed"), filt),
        },
        coords={"dataset": ["mnist", "fashion-mnist"], "curve": curves, "fraction_removed": fr,
                "seed": [0, 1, 2], "filter_curve": ["filter: eigenvalue", "filter: random"],
                "filter_fraction": [0.0, 0.8], "filter_seed": [0, 1]},
    )


def sparse_dataset() -> xr.Dataset:
    dens = [1.0, 0.5, 0.1]
    acc = np.full((3, 2, 2, 2), 0.9)
    acc[:, :, -1, :] = np.array([[0.95, 0.96], [0.9, 0.93], [0.8, 0.9]])[:, :, None] + np.array([-0.01, 0.01])
    flips = np.zeros((3, 2, 2, 2))
    flips[1:, 1] = 500.0  # spectral: 500 of 1000 weights flip per epoch; direct: frozen
    flips[1:, 1, 0] = 300.0  # first epoch 300 -> mean over epochs 400
    return xr.Dataset(
        {
            "test_accuracy": (("density", "train", "epoch", "seed"), acc),
            "mask_step_flips": (("density", "train", "epoch", "seed"), flips),
            "n_weights": ((), 1000),
        },
        coords={"density": dens, "train": ["direct", "spectral"], "epoch": [1, 2], "seed": [0, 1]},
    )


def ntt_dataset() -> xr.Dataset:
    dens = [0.1, 0.03, 0.01]
    wirings = ["ntt", "random", "dense"]
    acc = np.empty((1, 3, 3, 2))
    acc[0, 0] = np.array([0.95, 0.93, 0.90])[:, None] + [-0.01, 0.01]
    acc[0, 1] = np.array([0.94, 0.90, 0.80])[:, None] + [-0.01, 0.01]
    acc[0, 2] = 0.97
    return xr.Dataset({"test_accuracy": (("dataset", "wiring", "density", "seed"), acc)},
                      coords={"dataset": ["mnist"], "wiring": wirings, "density": dens, "seed": [0, 1]})


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    """A plan output folder: synthetic Datasets, the rest computed by the plan, all figures drawn."""
    out = tmp_path_factory.mktemp("reproduce")
    for name, ds in (("presets_sweep", sweep_dataset()), ("pruning", pruning_dataset()),
                     ("sparse", sparse_dataset()), ("ntt", ntt_dataset())):
        write_netcdf(ds, out / "data" / f"{name}.nc")
    report = reproduce(schedule=TINY, out=out, workers=1, progress=False)
    return out, report


# ------------------------------------------------------------------ data behind each plot
def test_accuracy_vs_hidden_plots_seed_means_and_sems():
    ds = sweep_dataset()
    fig = plot_accuracy_vs_hidden(ds)
    p = fig.plotted
    np.testing.assert_allclose(p["hidden"], [10, 100, 1000])
    np.testing.assert_allclose(p["accuracy"]["direct"], [0.90, 0.95, 0.97])
    np.testing.assert_allclose(p["accuracy_sem"]["direct"], np.full(3, 0.01 / np.sqrt(3)))
    np.testing.assert_allclose(p["relative"]["eigen"], [0.98, 1.0, 1.0])
    np.testing.assert_allclose(p["ratio"]["eigen"], [0.01, 0.011, 0.012])
    assert fig.axes[0].get_xlabel() and fig.axes[1].get_ylabel()


def test_pruning_curves_plot_means_per_dataset():
    ds = pruning_dataset()
    p = plot_pruning_curves(ds).plotted
    fr = np.linspace(0, 1, 5)
    np.testing.assert_allclose(p["post"]["mnist"]["spectral: eigenvalue"], 1 - fr**3)
    np.testing.assert_allclose(p["post"]["fashion-mnist"]["spectral: random"], 1 - fr - 0.1)
    np.testing.assert_allclose(p["filter"]["mnist"]["filter: random"], [0.91, 0.51])


def test_pruning_curves_one_row_per_activation():
    ds = pruning_dataset()
    ds3 = xr.concat([ds, ds - 0.05], dim="activation").assign_coords(activation=["tanh", "relu"])
    fig = plot_pruning_curves(ds3)
    p = fig.plotted
    assert p["activation"] == ["tanh", "relu"] and len(fig.axes) == 4  # 2 activations x 2 data sets
    fr = np.linspace(0, 1, 5)
    np.testing.assert_allclose(p["post"]["tanh"]["mnist"]["spectral: eigenvalue"], 1 - fr**3)
    np.testing.assert_allclose(p["post"]["relu"]["fashion-mnist"]["spectral: random"], 1 - fr - 0.15)
    np.testing.assert_allclose(p["filter"]["relu"]["mnist"]["filter: random"], [0.86, 0.46])
    assert fig.axes[2].get_title() == "MNIST, relu"
    # one activation as a scalar coordinate (pruning_experiment's layout): the single-row figure
    one = plot_pruning_curves(ds.assign_coords(activation="tanh"))
    assert "activation" not in one.plotted and len(one.axes) == 2


def test_sparse_turnover_is_flips_per_epoch_over_weights():
    p = plot_sparse_vs_direct(sparse_dataset()).plotted
    np.testing.assert_allclose(p["density"], [0.1, 0.5, 1.0])
    np.testing.assert_allclose(p["turnover"]["spectral"], [0.4, 0.4, 0.0])
    np.testing.assert_allclose(p["turnover"]["direct"], 0.0)
    np.testing.assert_allclose(p["accuracy"]["spectral"], [0.9, 0.93, 0.96])


def test_ntt_comparison_plots_means_and_dense_line():
    fig = plot_ntt_comparison(ntt_dataset())
    p = fig.plotted
    np.testing.assert_allclose(p["density"], [0.01, 0.03, 0.1])
    np.testing.assert_allclose(p["accuracy"]["mnist"]["ntt"], [0.90, 0.93, 0.95])
    assert p["dense"]["mnist"] == pytest.approx(0.97)
    dense = [ln for ln in fig.axes[0].lines if ln.get_label() == "dense"]
    assert len(dense) == 1 and np.allclose(dense[0].get_ydata(), p["dense"]["mnist"])


def test_phase_diagram_figure_draws_boundary_at_known_ratio(out_dir, tmp_path):
    out, _ = out_dir
    files = draw("phase_diagram", {"presets_sweep": out / "data" / "presets_sweep.nc"}, tmp_path)
    assert files["pdf"].stat().st_size > 1000
    meta = json.loads(files["json"].read_text())
    assert meta["threshold"] == 0.99 and meta["n_boot"] == 500
    from spectral_physics.analysis.phase import phase_boundary
    from spectral_physics.analysis.plots import plot_sweep

    ds = sweep_dataset()
    boundary = phase_boundary(ds, n_boot=50)
    p = plot_sweep(ds, boundary).plotted
    # relative accuracy 0.98 at ratio 0.01 and 1.00 at 0.011: 0.99 half-way in log(ratio)
    np.testing.assert_allclose(p["eigen"]["boundary_ratio"], np.sqrt(0.01 * 0.011), rtol=1e-6)
    assert p["eigen"]["boundary_ratio_lower"] <= p["eigen"]["boundary_ratio"] <= p["eigen"]["boundary_ratio_upper"]
    np.testing.assert_allclose(p["relative_grid"][1], [0.98, 1.0, 1.0], atol=1e-12)
    assert p["threshold"] == 0.99
    # the threshold drawn is the boundary's, not the Dataset attribute's
    assert plot_sweep(ds, phase_boundary(ds, threshold=0.985, n_boot=5)).plotted["threshold"] == 0.985
    with pytest.raises(TypeError):
        plot_sweep(ds)  # the plot runs no bootstrap: the caller passes phase_boundary(ds)
    with pytest.raises(ValueError, match="phase-boundary"):
        plot_sweep(ds, ds)


def test_transfer_operator_figure_shows_matrix_and_symbols(out_dir):
    out, _ = out_dir
    ds = read_netcdf(out / "data" / "transfer_operator.nc")
    p = plot_transfer_operator(ds).plotted
    np.testing.assert_array_equal(p["operator"], ds.operator.values)
    assert p["group_sizes"] == [3, 3, 2] and p["operator"].shape == (8, 8)
    assert np.all(np.triu(p["operator"], 1) == 0)  # lower block-bidiagonal: nothing above the diagonal
    sym = p["symbolic"]
    assert len(sym) == 4 and sym[0][1] == "0" and "phi" in sym[2][0] and "lambda" in sym[2][0]
    fig = plot_transfer_operator(ds)
    assert "->" not in fig.axes[-1].get_title() and "$i$" in fig.axes[0].get_ylabel()  # mathtext, not code


def test_figures_from_existing_plot_functions_draw_the_dataset(out_dir):
    out, _ = out_dir
    from spectral_physics.analysis.figures import paper_style

    rel = read_netcdf(out / "data" / "relevance.nc")
    assert FIGURES["input_relevance"].needs == ("relevance",)
    with paper_style():
        f = FIGURES["input_relevance"].plot(rel)
    want = rel.input_relevance.mean("seed").where(rel.pixel_std > 0).values  # constant pixels masked
    np.testing.assert_allclose(f.plotted["input_relevance"].ravel(), want.ravel())
    assert np.array_equal(np.isnan(f.plotted["input_relevance"]).ravel(), rel.pixel_std.values.ravel() == 0)
    es = read_netcdf(out / "data" / "eigenstats.nc")
    with paper_style():
        f = FIGURES["eigenvalue_statistics"].plot(es)
    assert list(f.plotted["r"]) == [0]  # the paper figure shows the first layer
    assert np.isclose(f.plotted["r"][0]["trained"]["mean"][0],
                      float(es.lam_in_r.sel(source="trained", layer=0).mean("seed")))
    hs = read_netcdf(out / "data" / "homeostasis.nc")
    with paper_style():
        f = FIGURES["homeostasis"].plot(hs)
    cv = f.plotted["cv"][int(hs.layer[0])]  # bars: seed means, as drawn
    np.testing.assert_allclose(cv["cv"], hs.activity_cv.isel(layer=0).mean("seed").values)
    np.testing.assert_allclose([b.get_height() for b in f.axes[2].patches[: len(cv["cv"])]], cv["cv"])
    assert cv["n_seeds"] == hs.sizes["seed"] == 2


# ------------------------------------------------------------------ what a referee checks
def _errorbars(ax) -> int:
    from matplotlib.container import ErrorbarContainer

    return sum(isinstance(c, ErrorbarContainer) for c in ax.containers)


def _bands(ax) -> int:
    from matplotlib.collections import PolyCollection

    return sum(isinstance(c, PolyCollection) for c in ax.collections)


def _line_colors(ax) -> dict:
    from matplotlib.colors import to_hex
    from matplotlib.container import ErrorbarContainer

    out = {ln.get_label(): to_hex(ln.get_color()) for ln in ax.lines if not ln.get_label().startswith("_")}
    out.update({c.get_label(): to_hex(c.lines[0].get_color()) for c in ax.containers
                if isinstance(c, ErrorbarContainer) and c.lines[0] is not None})  # errorbar: label on the container
    return out


def _sweep_figure(ds):
    from spectral_physics.analysis.phase import phase_boundary
    from spectral_physics.analysis.plots import plot_sweep

    return plot_sweep(ds, phase_boundary(ds, n_boot=20))


def test_every_curve_with_seeds_has_error_bars_or_bands():
    fig = plot_accuracy_vs_hidden(sweep_dataset())
    assert _bands(fig.axes[0]) == 2 and _errorbars(fig.axes[1]) == 2  # one per preset
    ds = pruning_dataset()
    fig = plot_pruning_curves(ds)
    p = fig.plotted
    sem = ds.post_accuracy.sel(dataset="mnist", curve="spectral: random").std("seed", ddof=1) / np.sqrt(3)
    np.testing.assert_allclose(p["post_sem"]["mnist"]["spectral: random"], sem.values)
    np.testing.assert_allclose(p["filter_sem"]["mnist"]["filter: random"], [0.01, 0.01])  # 2 seeds 0.02 apart
    assert _bands(fig.axes[0]) == 3 and _errorbars(fig.axes[0]) == 2
    fig = plot_sparse_vs_direct(sparse_dataset())
    np.testing.assert_allclose(fig.plotted["accuracy_sem"]["spectral"], [0.01, 0.01, 0.01])
    assert _errorbars(fig.axes[0]) == _errorbars(fig.axes[1]) == 2
    fig = plot_ntt_comparison(ntt_dataset())
    np.testing.assert_allclose(fig.plotted["accuracy_sem"]["mnist"]["ntt"], [0.01, 0.01, 0.01])
    assert fig.plotted["dense_sem"]["mnist"] == 0.0 and _errorbars(fig.axes[0]) == 2  # dense: a line
    fig = _sweep_figure(sweep_dataset())
    p = fig.plotted
    np.testing.assert_allclose(p["direct"]["accuracy_sem"], np.full(3, 0.01 / np.sqrt(3)))
    assert "relative_sem" in p["eigen"] and _errorbars(fig.axes[0]) == 2
    assert _errorbars(fig.axes[1]) >= 2  # relative accuracy, plus the boundary's interval
    # and the legend says what the bars are
    assert any("s.e.m." in leg.get_title().get_text() for leg in fig.legends)


def test_one_colour_per_preset_and_ranking_across_figures():
    from matplotlib.colors import to_hex
    from spectral_physics.analysis._plotting import COLORS

    acc = _line_colors(plot_accuracy_vs_hidden(sweep_dataset()).axes[0])
    sparse = _line_colors(plot_sparse_vs_direct(sparse_dataset()).axes[0])
    sweep = _line_colors(_sweep_figure(sweep_dataset()).axes[0])
    assert acc["direct"] == sparse["direct"] == sweep["direct"] == to_hex(COLORS["direct"])
    assert acc["eigen"] == sweep["eigen"] == to_hex(COLORS["eigen"])
    assert sparse["spectral"] == to_hex(COLORS["spectral"]) != sparse["direct"]
    prune = _line_colors(plot_pruning_curves(pruning_dataset()).axes[0])
    # colour = ranking: the random ranking is grey for the trained presets and the filter alike
    assert prune["spectral: random"] == prune["filter: random"] == to_hex(COLORS["random"])
    assert prune["spectral: eigenvalue"] == prune["filter: eigenvalue"] == to_hex(COLORS["eigenvalue"])
    ntt = _line_colors(plot_ntt_comparison(ntt_dataset()).axes[0])
    assert ntt["random"] == to_hex(COLORS["random"]) and ntt["ntt"] == to_hex(COLORS["ntt"])


def test_every_preset_has_its_own_colour_and_marker():
    # a preset missing from COLORS falls back on the palette by position, and so shares
    # another preset's colour (qr took spectral's in accuracy_vs_hidden and eigen-out's
    # in sparse_vs_direct before it was named)
    from matplotlib.colors import to_hex
    from spectral_physics.analysis._plotting import COLORS, MARKERS

    from spectral_physics.presets import PRESETS

    assert set(PRESETS) <= set(COLORS) and set(PRESETS) <= set(MARKERS)
    assert len({COLORS[p] for p in PRESETS}) == len({MARKERS[p] for p in PRESETS}) == len(PRESETS)
    ds = sparse_dataset()
    ds = xr.concat([ds, ds.sel(train=["spectral"]).assign_coords(train=["qr"])], "train", data_vars="minimal")
    sparse = _line_colors(plot_sparse_vs_direct(ds).axes[0])
    assert set(sparse) == {"direct", "spectral", "qr"}
    assert all(sparse[p] == to_hex(COLORS[p]) for p in sparse)


def test_every_wiring_has_its_own_marker_and_variants_their_parents_hue():
    # ntt-global and global-magnitude (in the FULL comparison) fell back on the palette by
    # position before they were named: global-magnitude took scaled-random's colour and
    # ntt-global random's marker
    from matplotlib.colors import to_hex
    from spectral_physics.analysis._plotting import COLORS, LINESTYLES, MARKERS
    from spectral_physics.analysis.experiments.ntt import EXTRA_WIRINGS, WIRINGS

    drawn = [w for w in WIRINGS + EXTRA_WIRINGS if w != "dense"]  # dense is a line without markers
    assert set(drawn) <= set(COLORS) and set(drawn) <= set(MARKERS)
    assert len({MARKERS[w] for w in drawn}) == len(drawn)
    parents = {"ntt-global": "ntt", "global-magnitude": "magnitude", "snip-layer": "snip",
               "logit-snip-layer": "logit-snip"}
    assert set(LINESTYLES) == set(parents) == set(EXTRA_WIRINGS)
    solid = [w for w in drawn if w not in parents]
    assert len({COLORS[w] for w in solid}) == len(solid)
    assert all(COLORS[v] == COLORS[p] and LINESTYLES[v] == "--" for v, p in parents.items())
    ds = ntt_dataset()
    ds = ds.assign_coords(wiring=[{"random": "ntt-global"}.get(str(w), str(w)) for w in ds.wiring.values])
    fig = plot_ntt_comparison(ds)
    lines = {c.get_label(): c.lines[0] for c in fig.axes[0].containers}
    assert lines["ntt-global"].get_linestyle() == "--" and lines["ntt"].get_linestyle() == "-"
    assert lines["ntt-global"].get_marker() == "X" and to_hex(lines["ntt-global"].get_color()) == COLORS["ntt"].lower()


def test_markers_are_not_clipped():
    figs = [plot_accuracy_vs_hidden(sweep_dataset()), plot_pruning_curves(pruning_dataset()),
            plot_sparse_vs_direct(sparse_dataset()), plot_ntt_comparison(ntt_dataset()),
            _sweep_figure(sweep_dataset())]
    for fig in figs:
        for ax in fig.axes:
            for ln in ax.lines:
                if ln.get_marker() not in ("None", None, "", " ", "_", "|"):
                    assert not ln.get_clip_on(), f"{ln.get_label()!r} markers clipped at the axes' edge"
    lo, hi = figs[1].axes[0].get_xlim()  # pruning: fractions 0 and 1 inside the axes
    assert lo < 0 and hi > 1


def test_phase_diagram_draws_a_boundary_marker_for_every_preset():
    ds = sweep_dataset()
    fig = _sweep_figure(ds)
    p = fig.plotted
    assert p["boundary_markers"] == {"direct": "above everywhere", "eigen": "crossing"}
    assert p["eigen"]["boundary_marker"]["ratio"] == pytest.approx(p["eigen"]["boundary_ratio"])
    assert p["direct"]["crossing_state"] == 1 and p["direct"]["boundary_marker"]["ratio"] == 1.0

    def drawn(ax, marker):
        return [(float(ln.get_xdata()[0]), float(ln.get_ydata()[0])) for ln in ax.lines if ln.get_marker() == marker]

    ax_b = fig.axes[1]
    assert drawn(ax_b, "D") == [pytest.approx((p["eigen"]["boundary_ratio"], 0.99))]
    assert drawn(ax_b, "<") == [pytest.approx((1.0, 0.99))]
    # a preset that never reaches the threshold: a right-pointing triangle at its largest ratio
    low = ds.copy(deep=True)
    low["relative_accuracy"].loc[{"train": "eigen"}] = 0.5
    fig = _sweep_figure(low)
    p = fig.plotted
    assert p["boundary_markers"]["eigen"] == "not reached" and p["eigen"]["crossing_state"] == 2
    assert drawn(fig.axes[1], ">") == [pytest.approx((0.012, 0.99))]
    assert "boundary_ratio" not in p["eigen"] and not drawn(fig.axes[1], "D")
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "not reached" in legend and not any(t.startswith("crossing") for t in legend)  # only marks drawn


def test_quick_schedule_is_noted_on_every_figure(tmp_path):
    from spectral_physics.analysis._plotting import schedule_label

    data = tmp_path / "data"
    for name, ds in (("presets_sweep", sweep_dataset()), ("ntt", ntt_dataset())):
        write_netcdf(ds, data / f"{name}.nc")
    (data / "schedule.json").write_text(json.dumps({"label": "quick", "fingerprint": "x", "schedule": {}}))
    files = draw("ntt_comparison", {"ntt": data / "ntt.nc"}, tmp_path / "out")
    assert json.loads(files["json"].read_text())["schedule"] == "quick"
    # draw stamps the label on the Datasets; every plot function notes it from ds.attrs
    ds = sweep_dataset().assign_attrs(schedule_label="quick")
    for fig in (plot_accuracy_vs_hidden(ds), _sweep_figure(ds),
                plot_pruning_curves(pruning_dataset().assign_attrs(schedule_label="quick")),
                plot_sparse_vs_direct(sparse_dataset().assign_attrs(schedule_label="quick")),
                plot_ntt_comparison(ntt_dataset().assign_attrs(schedule_label="quick"))):
        assert fig.plotted["schedule"] == "quick"
        assert any("quick schedule" in t.get_text() for t in fig.texts)
    assert "schedule" not in plot_accuracy_vs_hidden(sweep_dataset()).plotted  # unknown schedule: no note
    # the quick preset sweep names itself
    assert schedule_label(sweep_dataset().assign_attrs(spec=json.dumps({"name": "presets-quick"}))) == "quick"


def test_figures_drawn_by_the_plan_name_its_schedule(out_dir, tmp_path):
    out, report = out_dir  # reproduce(schedule=TINY): label "custom", written to data/schedule.json
    label = json.loads((out / "data" / "schedule.json").read_text())["label"]
    assert label == report["schedule"] != "full"
    files = draw("phase_diagram", {"presets_sweep": out / "data" / "presets_sweep.nc"}, tmp_path)
    assert json.loads(files["json"].read_text())["schedule"] == label
    from spectral_physics.analysis.figures import paper_style

    ds = read_netcdf(out / "data" / "presets_sweep.nc")
    with paper_style():
        assert "schedule" not in FIGURES["phase_diagram"].plot(ds).plotted  # no label: no note
        fig = FIGURES["phase_diagram"].plot(ds.assign_attrs(schedule_label="full"))
        assert "schedule" not in fig.plotted and not fig.texts  # the full schedule needs none
        fig = FIGURES["phase_diagram"].plot(ds.assign_attrs(schedule_label=label))
    assert fig.plotted["schedule"] == label and f"{label} schedule" in fig.texts[0].get_text()


# ------------------------------------------------------------------ registry and plan
def test_registry_modules_and_plan_agree():
    import importlib

    from spectral_physics.analysis import reproduce as rp

    assert rp.FIGURES is FIGURES  # the plan reads the one registry
    for name, entry in FIGURES.items():
        mod = importlib.import_module(f"spectral_physics.figures.fig_{name}")
        assert mod.NAME == name == entry.name and callable(mod.plot) and entry.summary
        assert entry.module is mod
        assert all(n in rp._DATA_STEPS for n in entry.needs)
    with pytest.raises(ValueError, match="unknown figure"):
        draw("no_such_figure", {}, ".")
    with pytest.raises(ValueError, match="presets_sweep"):
        draw("phase_diagram", {}, ".")


def test_paper_style_is_package_data():
    from importlib import resources

    import matplotlib
    from spectral_physics.analysis.figures import STYLE_PATH, paper_style

    assert STYLE_PATH == resources.files("spectral_physics.figures") / "paper.mplstyle"
    assert STYLE_PATH.is_file()
    with paper_style():
        assert matplotlib.rcParams["font.family"] == ["serif"] and matplotlib.rcParams["pdf.fonttype"] == 42
def test_plan_orders_dependencies_and_rejects_unknown_names():
    names = [s.name for s in plan(only=["phase_diagram"])]
    assert names == ["presets_sweep", "fig:phase_diagram"]
    assert [s.name for s in plan(only=["homeostasis"])][:2] == ["eigen_net", "homeostasis"]
    with pytest.raises(ValueError, match="only"):
        plan(only=["no_such_figure"])


def test_every_figure_script_writes_pdf_png_and_provenance(out_dir):
    out, report = out_dir
    status = {s["name"]: s["status"] for s in report["steps"]}
    for name in ("presets_sweep", "pruning", "sparse", "ntt"):
        assert status[name] == "exists"  # Datasets on disk are reused, not recomputed
    assert status["transfer_operator"] == "computed"
    for fig in FIGURES:
        pdf, png, side = (out / f"{fig}.{ext}" for ext in ("pdf", "png", "json"))
        assert pdf.stat().st_size > 1000 and pdf.read_bytes().startswith(b"%PDF")
        assert png.stat().st_size > 1000
        meta = json.loads(side.read_text())
        assert meta["figure"] == fig and meta["git_revision"]
        assert all(s["sha256"] for s in meta["sources"])
        prov = json.loads(read_png_text(png)["provenance"])
        assert prov["sources"] == meta["sources"]
    assert json.loads((out / "reproduce.json").read_text())["steps"]


@pytest.mark.parametrize("figure", ["accuracy_vs_hidden", "phase_diagram", "transfer_operator"])
def test_regenerated_pdf_is_byte_identical(out_dir, tmp_path, figure):
    out, _ = out_dir
    paths = {n: out / "data" / (n + ".nc") for n in FIGURES[figure].needs}
    digests = []
    for k in range(2):
        files = draw(figure, paths, tmp_path / f"run{k}")
        digests.append(hashlib.sha256(files["pdf"].read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    assert digests[0] == hashlib.sha256((out / f"{figure}.pdf").read_bytes()).hexdigest()


def test_save_figure_rejects_bad_names(tmp_path):
    from matplotlib.figure import Figure

    with pytest.raises(ValueError, match="name"):
        save_figure(Figure(), "../escape", tmp_path)
    with pytest.raises(ValueError, match="formats"):
        save_figure(Figure(), "ok", tmp_path, formats=["jpg"])


def test_quick_and_full_schedules_are_valid():
    from spectral_physics.analysis.experiments import NTTConfig, SparseConfig
    from spectral_physics.analysis.reproduce import FULL, QUICK
    from spectral_physics.analysis.sweep import load_spec

    for sch in (QUICK, FULL):
        spec = load_spec(sch["presets_sweep"])
        assert spec.axes["train"][0] == "direct" and len(spec.seeds) >= 3  # error bars over seeds
        a = SparseConfig.from_dict(sch["sparse"])
        assert 1.0 in a.densities and len(a.seeds) >= 3
        assert len(NTTConfig.from_dict(sch["ntt"]).seeds) >= 2
        assert len(sch["pruning"]["seeds"]) >= 3 and len(sch["pruning"]["filter"]["seeds"]) >= 2
    assert len(FULL["presets_sweep"]["seeds"]) == 5
    assert FULL["presets_sweep"]["epochs"] > QUICK["presets_sweep"]["epochs"]
    # the papers' grids (REPRODUCTION.md, "Paper protocols and the full schedule")
    pr = FULL["pruning"]
    assert pr["activations"] == ["tanh", "relu", "elu"] and len(pr["seeds"]) == 5 and pr["fraction_step"] == 0.05
    np.testing.assert_allclose(pr["filter"]["fractions"], np.arange(20) * 0.05)
    assert {"spectral:eigenvalue", "direct:connectivity", "spectral:random"} <= set(pr["post_curves"])
    sp = SparseConfig.from_dict(FULL["sparse"])
    assert sp.sizes == (784, 500, 500, 10) and sp.activation == "tanh" and len(sp.seeds) == 5
    assert min(sp.densities) == 0.02 and 0.5 in sp.densities
    nt = NTTConfig.from_dict(FULL["ntt"])
    assert nt.sizes == (784, 300, 100, 10) and nt.ntt_steps == 18720 and nt.epochs == 50


@pytest.mark.parametrize("which", ["QUICK", "FULL"])
def test_step_pruning_passes_the_schedule(which, monkeypatch, tmp_path):
    from spectral_physics.analysis import reproduce as rp
    from spectral_physics.analysis.experiments import pruning as pm

    seen = {}

    def fake(config, results_dir, **kw):
        seen["config"], seen["kw"] = config, kw
        return xr.Dataset()

    monkeypatch.setattr(pm, "pruning_experiment", fake)
    monkeypatch.setattr(rp, "write_netcdf", lambda ds, path: None)
    sch = getattr(rp, which)
    rp._step_pruning({"schedule": sch, "out": tmp_path, "data_root": None, "inner_progress": False, "workers": 3,
                      "scheduler": None}, tmp_path / "pruning.nc")
    assert seen["kw"]["workers"] == 3 and seen["kw"]["scheduler"] is None  # reproduce's pool
    c = seen["config"]
    p = sch["pruning"]
    assert list(c.activations) == (p["activations"] if "activations" in p else [p["activation"]])
    if "post_curves" in p:
        assert list(c.post_curves) == p["post_curves"]
    else:  # QUICK keeps the default curves (its numbers must not move)
        assert c.post_curves == pm.PruningConfig().post_curves
    assert list(c.filter_fractions) == p["filter"]["fractions"] and c.epochs == p["epochs"]


def test_reproduce_refuses_to_mix_schedules(out_dir):
    out, _ = out_dir
    with pytest.raises(ValueError, match="another schedule"):
        reproduce(schedule=dict(TINY, analysis_samples=50), out=out, only=["transfer_operator"], progress=False)


def test_figure_script_command_line(out_dir, tmp_path):
    import subprocess
    import sys

    out, _ = out_dir
    module = ["-m", "spectral_physics.figures.fig_ntt_comparison"]
    # from another folder: the module is found as an installed package, not by its path
    ok = subprocess.run([sys.executable, *module, "--data", str(out / "data"), "--out", str(tmp_path)],
                        capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert not ok.stderr  # no runpy warning: the package does not import its figure modules
    assert (tmp_path / "ntt_comparison.pdf").stat().st_size > 1000
    missing = subprocess.run([sys.executable, *module, "--data", str(tmp_path / "none")], capture_output=True,
                             text=True, cwd=tmp_path)
    assert missing.returncode == 2 and "reproduce --only ntt_comparison" in missing.stderr
