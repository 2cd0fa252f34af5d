"""Eigenvalue-node correspondence (spectral_physics.analysis.nodes): exact ablations and rank correlations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from spectral_physics.analysis import nodes

from spectral_physics import SpectralMLP, fit


def _toy(rng, n=300, d=10, c=3):
    x = rng.normal(size=(n, d))
    y = (x[:, :c] + 0.3 * rng.normal(size=(n, c))).argmax(axis=1)
    return x, y


@pytest.fixture
def trained(rng):
    x, y = _toy(rng)
    net = SpectralMLP([10, 12, 8, 3], train="eigen", init="paper", seed=2, dtype="float64", activation="tanh")
    fit(net, (x, y), epochs=4, batch_size=32, lr=1e-2, progress=False)
    return net, x, y


def _without(net, k, i):
    """Copy with hidden node i of hidden layer k removed by hand (its column of phi_{k+1} zeroed)."""
    new = net.copy()
    phi = np.array(new.layers[k + 1].phi)
    phi[:, i] = 0.0
    new.layers[k + 1].phi = phi
    return new


def test_ablation_is_exact(trained):
    net, x, y = trained
    imp = nodes.ablation_importance(net, x, y, max_elements=5000)  # small chunks on purpose
    base_loss, _ = net.loss_and_grad(x, y)
    assert imp["baseline_accuracy"] == pytest.approx(net.accuracy(x, y))
    assert imp["baseline_loss"] == pytest.approx(base_loss, rel=1e-12)
    for k, n in enumerate(net.sizes[1:-1]):
        assert imp["acc_drop"][k].shape == (n,)
        for i in (0, n // 2, n - 1):
            cut = _without(net, k, i)
            loss, _ = cut.loss_and_grad(x, y)
            assert imp["acc_drop"][k][i] == pytest.approx(net.accuracy(x, y) - cut.accuracy(x, y), abs=1e-12)
            assert imp["loss_increase"][k][i] == pytest.approx(loss - base_loss, rel=1e-9, abs=1e-12)


def test_propagate_resumes_the_one_forward_pass(trained):
    """_propagate from layer k's pre-activations gives the logits of the full float64 pass."""
    from spectral_physics.analysis._net import forward64, layer_arrays

    net, x, _ = trained
    arrays = layer_arrays(net)
    zs, acts = forward64(net, x, arrays)
    np.testing.assert_allclose(acts[-1], np.asarray(net.forward(x)), rtol=1e-13, atol=1e-13)
    for k in range(len(arrays)):
        np.testing.assert_array_equal(nodes._propagate(net, arrays, k, zs[k]), acts[-1])
    # stacked (chunked) inputs broadcast like the ablations use them
    stacked = nodes._propagate(net, arrays, 1, np.stack([zs[1], 2 * zs[1]]))
    np.testing.assert_array_equal(stacked[0], acts[-1])


def test_node_scores_definitions(trained):
    net, x, _ = trained
    sc = nodes.node_scores(net, x)
    w = [np.asarray(a) for a in net.weights()]
    np.testing.assert_allclose(sc["abs_lam_out"][1], np.abs(np.asarray(net.layers[1].lam_out)))
    np.testing.assert_allclose(sc["abs_lam_in_next"][0], np.abs(np.asarray(net.layers[1].lam_in)))
    np.testing.assert_allclose(sc["in_norm"][0], np.abs(w[0]).sum(axis=1))
    np.testing.assert_allclose(sc["out_norm"][1], np.abs(w[2]).sum(axis=0))
    acts = net.forward_trace(x)[1]
    np.testing.assert_allclose(sc["mean_activation"][0], np.abs(np.asarray(acts[1])).mean(axis=0))


def test_rank_correlations_known_answers(rng):
    a = rng.random(50)
    assert nodes.rank_correlations(a, 3 * a + 1)["spearman"] == pytest.approx(1.0)
    assert nodes.rank_correlations(a, -a)["kendall"] == pytest.approx(-1.0)
    assert np.isnan(nodes.rank_correlations(a, np.zeros(50))["spearman"])  # constant truth: no ranking


def test_planted_lam_in_controls_importance(rng):
    # Two classes, every hidden node votes for class 1: W_1[:, i] = lam_in_i * (-1, +1) (lam_out = 0,
    # ReLU activations >= 0), all labels 1. Removing node i lowers the margin by 2 lam_in_i a_i, so the
    # loss rises monotonically in lam_in_i a_i; lam_in spans three decades, a_i varies far less.
    x, _ = _toy(rng, n=400)
    net = SpectralMLP([10, 40, 2], train="eigen", seed=0, dtype="float64")
    net.layers[1].phi = np.stack([-np.ones(40), np.ones(40)])
    net.layers[1].lam_in = np.geomspace(1e-3, 3.0, 40)[rng.permutation(40)]
    y = np.ones(400, dtype=np.int64)
    ds = nodes.node_correspondence(net, x, y, pruning=False)
    rho = float(ds.spearman.sel(layer=0, score="abs_lam_in_next", truth="loss_increase"))
    assert rho > 0.9
    assert (ds.loss_increase.values >= 0).all()
    assert abs(float(ds.spearman.sel(layer=0, score="random", truth="loss_increase"))) < 0.4
    # the stored correlation is scipy's on the stored arrays
    s = ds.node_score.sel(layer=0, score="abs_lam_in_next").values
    t = ds.loss_increase.sel(layer=0).values
    assert rho == pytest.approx(stats.spearmanr(s, t)[0])


def test_dataset_layout_and_padding(trained):
    net, x, y = trained
    ds = nodes.node_correspondence(net, x, y, image_shape=(2, 5), pruning=False)
    assert dict(ds.sizes) == {"layer": 2, "node": 12, "score": len(nodes.SCORES), "truth": 2, "row": 2, "col": 5}
    assert np.isnan(ds.acc_drop.sel(layer=1).values[8:]).all()
    assert np.isfinite(ds.acc_drop.sel(layer=1).values[:8]).all()
    np.testing.assert_allclose(ds.input_relevance.values.ravel(), np.asarray(net.layers[0].lam_in))
    assert ds.attrs["pruning_curves"] == "no"
    with pytest.raises(ValueError, match="image_shape"):
        nodes.input_relevance(net, (3, 3))
    with pytest.raises(ValueError, match="hidden layer"):
        nodes.node_correspondence(SpectralMLP([10, 3]), x, y)


def test_ensemble_over_seeds_with_pruning_curves(rng):
    pytest.importorskip("spectral_physics.pruning")
    x, y = _toy(rng, n=200)
    ens = SpectralMLP([10, 16, 3], train="eigen", init="paper", seed=[4, 5])
    fit(ens, (x.astype(np.float32), y), epochs=2, batch_size=32, lr=1e-2, progress=False)
    ds = nodes.node_correspondence_ensemble(ens, x, y, fractions=[0.0, 0.5, 1.0])
    assert list(ds.seed.values) == [4, 5]
    assert ds.pruning_accuracy.dims == ("seed", "fraction_removed", "ranking")
    assert "eigenvalue" in ds.ranking.values
    # nothing removed: the intact accuracy
    np.testing.assert_allclose(ds.pruning_accuracy.sel(fraction_removed=0.0).values,
                               np.repeat(ds.baseline_accuracy.values[:, None], ds.sizes["ranking"], 1))
    single = nodes.node_correspondence(ens.member(1), x, y, pruning=False)
    np.testing.assert_allclose(ds.loss_increase.sel(seed=5), single.loss_increase)


def test_input_relevance_on_mnist(data_root):
    from spectral_physics.datasets import load_dataset

    data = load_dataset("mnist", root=data_root).subset(3000, seed=0, n_test=300)
    net = SpectralMLP([784, 32, 10], train="spectral", seed=0)
    fit(net, data, epochs=2, batch_size=100, lr=2e-3, progress=False)
    ds = nodes.node_correspondence(net, data.x_test, data.y_test, image_shape=data.image_shape, pruning=False)
    assert ds.input_relevance.dims == ("row", "col") and ds.input_relevance.shape == (28, 28)
    # pixels that are zero in every training image never get a gradient: lam_in stays 1
    dead = (data.x_train.max(axis=0) == 0).reshape(28, 28)
    assert dead.any()
    np.testing.assert_array_equal(ds.input_relevance.values[dead], 1.0)
    assert float(ds.baseline_accuracy) > 0.5


def test_cli_nodes(data_root, tmp_path, capsys):
    from spectral_physics.analysis._xr import read_netcdf

    from spectral_physics import save_network
    from spectral_physics.cli import main

    model = tmp_path / "m.npz"
    save_network(SpectralMLP([784, 16, 10], train="eigen", init="paper", seed=0), model)
    out = tmp_path / "nodes.nc"
    rc = main(["nodes", str(model), "--dataset", "mnist", "--data-root", str(data_root), "--n-eval", "200",
               "--no-pruning", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "abs_lam_out" in text and "Spearman(loss)" in text
    ds = read_netcdf(out)
    assert ds.attrs["n_eval"] == 200 and ds.input_relevance.shape == (28, 28)
    save_network(SpectralMLP([20, 16, 10], seed=0), tmp_path / "bad.npz")
    assert main(["nodes", str(tmp_path / "bad.npz"), "--data-root", str(data_root)]) == 2
    assert "do not fit mnist" in capsys.readouterr().err
