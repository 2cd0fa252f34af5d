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


def test_figures_from_existing_plot_functions_draw_the_dataset(out_dir):
    out, _ = out_dir
    from spectral_physics.analysis.figures import paper_style

    rel = read_netcdf(out / "data" / "relevance.nc")
    assert FIGURES["input_relevance"].needs == ("relevance",)
    with paper_style():
        f = FIGURES["input_relevance"].plot(rel)
    want = rel.input_relevance.mean("seed").values
    np.testing.assert_allclose(f.plotted["input_relevance"].ravel(), want.ravel())
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
        seen["config"] = config
        return xr.Dataset()

    monkeypatch.setattr(pm, "pruning_experiment", fake)
    monkeypatch.setattr(rp, "write_netcdf", lambda ds, path: None)
    sch = getattr(rp, which)
    rp._step_pruning({"schedule": sch, "out": tmp_path, "data_root": None, "inner_progress": False},
                     tmp_path / "pruning.nc")
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
