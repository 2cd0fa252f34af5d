"""Node rankings, genuine node removal, pruning curves and the prune CLI."""

import numpy as np
import pytest
import xarray as xr

from spectral_physics import PRESETS, SpectralMLP, save_network
from spectral_physics.backend import to_numpy
from spectral_physics.pruning import (
    node_scores,
    post_training_pruning,
    pretraining_filter,
    prune_nodes,
    pruning_curve,
    select_nodes,
    with_preset,
    zero_nodes,
)


def _generic(net, seed=0):
    """Move eigenvalues and biases off their symmetric start so every array matters."""
    g = np.random.default_rng(seed)
    for layer in net.layers:
        layer.lam_in = g.uniform(-1, 1, layer.n_in)
        layer.lam_out = g.uniform(-1, 1, layer.n_out)
        layer.bias = g.normal(size=layer.n_out)
    return net


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("activation", ["tanh", "elu"])
def test_pruned_network_equals_zeroed_network(preset, activation, rng):
    net = SpectralMLP([6, 9, 7, 3], train=preset, activation=activation, seed=1, dtype="float64")
    if preset != "direct":
        _generic(net)
    remove = [[0, 4, 8], [2, 6]]
    small = prune_nodes(net, remove=remove)
    assert small.sizes == [6, 9 - 3, 7 - 2, 3]
    assert small.preset == net.preset and small.activation == net.activation
    zeroed = zero_nodes(net, remove=remove)
    x = rng.normal(size=(11, 6))
    np.testing.assert_allclose(to_numpy(small.forward(x)), to_numpy(zeroed.forward(x)), rtol=0, atol=1e-12)
    # the zeroed network really differs from the full one (the test is not vacuous)
    assert np.abs(to_numpy(zeroed.forward(x)) - to_numpy(net.forward(x))).max() > 1e-6


def test_pruning_k_nodes_by_fraction_shrinks_by_exactly_k():
    net = _generic(SpectralMLP([6, 10, 10, 3], train="spectral", seed=0, dtype="float64"))
    small = prune_nodes(net, 0.35, ranking="eigenvalue")  # round(0.35 * 20) = 7 nodes
    assert sum(net.sizes[1:-1]) - sum(small.sizes[1:-1]) == 7
    assert small.sizes[0] == 6 and small.sizes[-1] == 3
    # kept arrays are the right rows / columns of the original ones
    rem = select_nodes(node_scores(net, "eigenvalue"), 0.35)
    keep0 = np.setdiff1d(np.arange(10), rem[0])
    np.testing.assert_array_equal(to_numpy(small.layers[0].lam_out), to_numpy(net.layers[0].lam_out)[keep0])
    np.testing.assert_array_equal(to_numpy(small.layers[1].lam_in), to_numpy(net.layers[1].lam_in)[keep0])
    keep1 = np.setdiff1d(np.arange(10), rem[1])
    np.testing.assert_array_equal(to_numpy(small.layers[1].phi), to_numpy(net.layers[1].phi)[np.ix_(keep1, keep0)])


def test_static_masks_are_sliced_with_the_nodes(rng):
    from spectral_physics.sparse import apply_masks, random_masks

    net = _generic(SpectralMLP([5, 8, 3], train="spectral", seed=0, dtype="float64"))
    apply_masks(net, random_masks(net, 0.5, seed=1))
    small = prune_nodes(net, remove=[[1, 2]])
    x = rng.normal(size=(4, 5))
    np.testing.assert_allclose(to_numpy(small.forward(x)), to_numpy(zero_nodes(net, remove=[[1, 2]]).forward(x)),
                               atol=1e-12, rtol=0)
    assert small.layers[0].mask.shape == (6, 5)


def test_svd_and_qr_pruned_layers_keep_orthonormal_frozen_factors():
    for preset in ("svd", "qr"):
        net = _generic(SpectralMLP([6, 9, 3], train=preset, seed=0, dtype="float64", init="paper"))
        small = prune_nodes(net, remove=[[0, 1, 2, 3]])
        for layer in small.layers:
            q = to_numpy(layer.V if preset == "svd" else layer.Q)
            r = min(layer.n_in, layer.n_out)
            gram = q @ q.T if q.shape[0] == r else q.T @ q
            np.testing.assert_allclose(gram, np.eye(r), atol=1e-12)


def test_rankings_have_known_values():
    net = _generic(SpectralMLP([4, 5, 3], train="spectral", seed=0, dtype="float64"))
    w0, w1 = to_numpy(net.layers[0].weight_matrix()), to_numpy(net.layers[1].weight_matrix())
    np.testing.assert_allclose(node_scores(net, "eigenvalue")[0], np.abs(to_numpy(net.layers[0].lam_out)))
    np.testing.assert_allclose(node_scores(net, "eigenvalue-in")[0], np.abs(to_numpy(net.layers[1].lam_in)))
    np.testing.assert_allclose(node_scores(net, "connectivity")[0], np.abs(w0).sum(axis=1))
    np.testing.assert_allclose(node_scores(net, "outgoing")[0], np.abs(w1).sum(axis=0))
    x = np.random.default_rng(0).normal(size=(8, 4))
    a = np.maximum(x @ w0.T + to_numpy(net.layers[0].bias), 0)  # relu
    np.testing.assert_allclose(node_scores(net, "activation", x=x)[0], a.mean(axis=0))
    r1, r2 = node_scores(net, "random", seed=3), node_scores(net, "random", seed=3)
    np.testing.assert_array_equal(r1[0], r2[0])


def test_select_nodes_uses_one_global_threshold():
    scores = [np.array([5.0, 1.0, 3.0]), np.array([2.0, 0.5, 4.0, 6.0])]
    rem = select_nodes(scores, 3 / 7)  # the 3 smallest overall: 0.5, 1.0, 2.0
    assert [r.tolist() for r in rem] == [[1], [0, 1]]
    assert [r.tolist() for r in select_nodes(scores, 0)] == [[], []]


def test_with_preset_converts_eigen_to_spectral():
    net = _generic(SpectralMLP([4, 5, 3], train="eigen", seed=0, dtype="float64"))
    full = with_preset(net, "spectral")
    assert full.preset == "spectral" and "phi" in full.layers[0].trainable
    x = np.random.default_rng(0).normal(size=(3, 4))
    np.testing.assert_array_equal(to_numpy(full.forward(x)), to_numpy(net.forward(x)))
    with pytest.raises(ValueError, match="train"):
        with_preset(net, "svd")


# ---------------------------------------------------------------------- bad input
def test_pruning_every_node_of_a_layer_names_the_argument():
    net = SpectralMLP([4, 5, 6, 3], train="spectral", seed=0)
    with pytest.raises(ValueError, match="remove would remove every node of hidden layer 0"):
        prune_nodes(net, remove=[range(5), []])
    with pytest.raises(ValueError, match="fraction would remove every node"):
        prune_nodes(net, 1.0, ranking="random")
    with pytest.raises(ValueError, match="fraction"):
        prune_nodes(net, 1.5, ranking="random")
    with pytest.raises(ValueError, match=r"remove\[1\] must index"):
        prune_nodes(net, remove=[[0], [6]])
    with pytest.raises(ValueError, match="exactly one of fraction or remove"):
        prune_nodes(net)


def test_bad_ranking_and_network_are_refused():
    net = SpectralMLP([4, 5, 3], train="direct", seed=0)
    with pytest.raises(ValueError, match="ranking 'eigenvalue' needs a spectral preset"):
        node_scores(net, "eigenvalue")
    with pytest.raises(ValueError, match="ranking must be one of"):
        node_scores(net, "size")
    with pytest.raises(ValueError, match="needs data: pass x"):
        node_scores(net, "activation")
    with pytest.raises(ValueError, match="single network"):
        prune_nodes(SpectralMLP([4, 5, 3], seed=[0, 1]), 0.2, ranking="random")
    with pytest.raises(ValueError, match="hidden layer"):
        prune_nodes(SpectralMLP([4, 3], seed=0), 0.2, ranking="random")


# ---------------------------------------------------------------------- curves
@pytest.fixture(scope="module")
def toy_data():
    from types import SimpleNamespace

    g = np.random.default_rng(0)
    x = g.normal(size=(700, 10)).astype(np.float32)
    y = np.argmax(x @ g.normal(size=(10, 3)), axis=1)
    return SimpleNamespace(name="toy", x_train=x[:500], y_train=y[:500], x_test=x[500:], y_test=y[500:])


def test_pruning_curve_dataset_layout_and_values(toy_data, tmp_path):
    nets = SpectralMLP([10, 12, 3], train="spectral", seed=[0, 1], activation="tanh")
    from spectral_physics import fit

    fit(nets, toy_data, epochs=2, batch_size=50, lr=1e-2, progress=False)
    fr = [0.0, 0.25, 0.5, 1.0]
    ds = pruning_curve(nets, toy_data.x_test, toy_data.y_test,
                       rankings=["eigenvalue", "connectivity", "outgoing", "activation", "random"],
                       fractions=fr, x_rank=toy_data.x_train)
    assert ds.accuracy.dims == ("fraction_removed", "ranking", "seed")
    assert ds.accuracy.attrs["units"] == "1" and "long_name" in ds.accuracy.attrs
    assert list(ds.seed.values) == [0, 1]
    for s in range(2):
        dense = nets.member(s).accuracy(toy_data.x_test, toy_data.y_test)
        np.testing.assert_allclose(ds.accuracy.isel(fraction_removed=0, seed=s).values, dense)
    # all hidden nodes gone: the output is a constant, so one class is predicted everywhere
    counts = np.bincount(toy_data.y_test, minlength=3) / len(toy_data.y_test)
    assert np.all(np.isin(np.round(ds.accuracy.sel(fraction_removed=1.0).values, 10), np.round(counts, 10)))
    assert list(ds.hidden_nodes_kept.sel(ranking="random", seed=0).values) == [12, 9, 6, 0]
    # one point checked against an explicit prune
    m0 = nets.member(0)
    small = prune_nodes(m0, 0.5, ranking="connectivity")
    assert ds.accuracy.sel(fraction_removed=0.5, ranking="connectivity", seed=0) == small.accuracy(
        toy_data.x_test, toy_data.y_test)
    path = tmp_path / "curve.nc"
    ds.to_netcdf(path, engine="netcdf4")
    back = xr.open_dataset(path, engine="netcdf4")
    np.testing.assert_array_equal(back.accuracy.values, ds.accuracy.values)
    assert back.attrs["protocol"].startswith("post-training")


def test_protocol_functions_run_and_keep_the_layout(toy_data):
    post = post_training_pruning(toy_data, [10, 8, 3], seeds=[0, 1], epochs=1, batch_size=100,
                                 rankings=["eigenvalue", "random"], fractions=[0, 0.5])
    assert post.accuracy.shape == (2, 2, 2) and post.test_accuracy_dense.dims == ("seed",)
    filt = pretraining_filter(toy_data, [10, 8, 3], seeds=[0], eigen_epochs=1, full_epochs=1, l1=1e-4,
                              batch_size=100, rankings=["eigenvalue", "connectivity"], fractions=[0, 0.5, 1.0])
    assert filt.accuracy.dims == ("fraction_removed", "ranking", "seed")
    assert np.isnan(filt.accuracy.sel(fraction_removed=1.0)).all()
    assert np.isfinite(filt.accuracy.sel(fraction_removed=0.5)).all()
    assert filt.attrs["protocol"] == "pre-training filter"


# ---------------------------------------------------------------------- CLI
def test_prune_cli_writes_a_curve(tmp_path, data_root):
    from spectral_physics.cli import main

    net = SpectralMLP([784, 20, 10], train="spectral", activation="tanh", seed=0)
    model = tmp_path / "m.npz"
    save_network(net, model)
    out = tmp_path / "curve.nc"
    rc = main(["prune", str(model), "--dataset", "mnist", "--data-root", str(data_root),
               "--ranking", "eigenvalue,connectivity,random", "--fractions", "0,0.5,0.9",
               "--n-test", "500", "--out", str(out), "--no-progress"])
    assert rc == 0
    ds = xr.open_dataset(out, engine="netcdf4")
    assert ds.accuracy.shape == (3, 3, 1)
    assert list(ds.ranking.values) == ["eigenvalue", "connectivity", "random"]


def test_prune_cli_bad_ranking_exits_2(tmp_path, capsys):
    from spectral_physics.cli import main

    model = tmp_path / "m.npz"
    save_network(SpectralMLP([4, 3, 2], seed=0), model)
    rc = main(["prune", str(model), "--dataset", "teacher-student", "--ranking", "size",
               "--out", str(tmp_path / "c.nc")])
    assert rc == 2
    assert "ranking" in capsys.readouterr().err
