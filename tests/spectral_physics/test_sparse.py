"""Masks, wiring baselines, topology turnover and dynamic sparse training (float64 checks)."""

import numpy as np
import pytest

from spectral_physics import Callback, SpectralMLP, fit
from spectral_physics.backend import to_numpy
from spectral_physics.sparse import (
    DynamicSparseTraining,
    TopologyTurnover,
    apply_masks,
    configure_sparsity,
    logit_snip_masks,
    magnitude_masks,
    make_masks,
    network_density,
    random_masks,
    snip_masks,
    weight_gradients,
)


@pytest.fixture(scope="module")
def toy():
    """A small separable 3-class problem: labels from a fixed random linear teacher."""
    g = np.random.default_rng(0)
    x = g.normal(size=(600, 12))
    y = np.argmax(x @ g.normal(size=(12, 3)), axis=1)
    return x[:500], y[:500], x[500:], y[500:]


def _dense(net):
    return [to_numpy(layer.dense_weight()).copy() for layer in net.layers]


# ---------------------------------------------------------------------- mask builders
def test_magnitude_masks_keep_exactly_the_largest_entries():
    net = SpectralMLP([12, 10, 3], train="spectral", seed=1, dtype="float64")
    masks = magnitude_masks(net, 0.3)
    for layer, m in zip(net.layers, masks):
        w = np.abs(to_numpy(layer.dense_weight())).ravel()
        m = to_numpy(m).ravel()
        k = int(round(0.3 * w.size))
        assert m.sum() == k
        assert w[m].min() >= w[~m].max()


def test_global_magnitude_uses_one_threshold():
    net = SpectralMLP([12, 10, 3], train="direct", seed=1, dtype="float64")
    masks = magnitude_masks(net, 0.2, scope="global")
    w = [np.abs(to_numpy(layer.dense_weight())).ravel() for layer in net.layers]
    m = [to_numpy(q).ravel() for q in masks]
    kept = np.concatenate([a[b] for a, b in zip(w, m)])
    dropped = np.concatenate([a[~b] for a, b in zip(w, m)])
    assert kept.size == round(0.2 * (120 + 30))
    assert kept.min() >= dropped.max()


def test_random_masks_exact_count_and_seeded():
    net = SpectralMLP([12, 10, 3], train="spectral", seed=0)
    a = random_masks(net, 0.25, seed=3)
    b = random_masks(net, 0.25, seed=3)
    c = random_masks(net, 0.25, seed=4)
    assert [int(to_numpy(m).sum()) for m in a] == [30, 8]  # round(0.25 * 120), round(0.25 * 30)
    assert all(np.array_equal(to_numpy(p), to_numpy(q)) for p, q in zip(a, b))
    assert not np.array_equal(to_numpy(a[0]), to_numpy(c[0]))


def test_network_density_is_exact():
    net = SpectralMLP([4, 5, 2], train="eigen", seed=0)
    m0 = np.zeros((5, 4), bool)
    m0[0, :3] = True  # 3 of 20
    apply_masks(net, [m0, None])
    rep = network_density(net)
    assert rep["kept"] == 3 + 10 and rep["total"] == 30
    assert rep["density"] == pytest.approx(13 / 30, abs=0)
    assert rep["per_layer"][0] == {"layer": 0, "kept": 3, "total": 20, "density": 0.15}


def test_scaled_random_rescales_weights_by_inverse_sqrt_density():
    for preset in ("direct", "spectral", "svd", "qr"):
        net = SpectralMLP([12, 10, 3], train=preset, seed=2, dtype="float64")
        before = _dense(net)
        masks = random_masks(net, 0.25, seed=0)
        apply_masks(net, masks, rescale=True)
        dens = [to_numpy(m).mean() for m in masks]
        for b, layer, d in zip(before, net.layers, dens):
            np.testing.assert_allclose(to_numpy(layer.dense_weight()), b / np.sqrt(d), rtol=1e-12, atol=1e-14)


def test_weight_gradients_match_backprop_of_direct_network(toy):
    x, y = toy[0][:40], toy[1][:40]
    net = SpectralMLP([12, 7, 3], train="direct", activation="tanh", seed=0, dtype="float64")
    from spectral_physics.losses import softmax_cross_entropy

    g = weight_gradients(net, x, lambda f: softmax_cross_entropy(f, y)[1])
    _, grads = net.loss_and_grad(x, y)
    for a, b in zip(g, grads):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b["weight"]), rtol=1e-12, atol=1e-14)


def test_weight_gradients_ignore_masks_and_sparsity(toy):
    """The probe runs the dense network: masked copies give the unmasked network's gradients."""
    from spectral_physics.losses import softmax_cross_entropy

    x, y = toy[0][:40], toy[1][:40]
    dense = SpectralMLP([12, 7, 5, 3], train="direct", activation="elu", seed=3, dtype="float64")
    sparse = dense.copy()
    apply_masks(sparse, magnitude_masks(sparse, 0.3))
    sparse.layers[1].sparsity = 0.5
    want = [b["weight"] for b in dense.loss_and_grad(x, y)[1]]
    got = weight_gradients(sparse, x, lambda f: softmax_cross_entropy(f, y)[1])
    for a, b in zip(got, want):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-12, atol=1e-14)


def test_logit_snip_scores_match_finite_differences():
    g = np.random.default_rng(1)
    x = g.normal(size=(5, 4))
    net = SpectralMLP([4, 3, 2], train="direct", activation="elu", seed=0, dtype="float64")
    grads = weight_gradients(net, x, lambda f: 2.0 * f)
    w = net.layers[0].weight
    eps = 1e-6
    for i, j in [(0, 0), (2, 3), (1, 2)]:
        old = w[i, j]
        w[i, j] = old + eps
        fp = (to_numpy(net.forward(x)) ** 2).sum()
        w[i, j] = old - eps
        fm = (to_numpy(net.forward(x)) ** 2).sum()
        w[i, j] = old
        assert to_numpy(grads[0])[i, j] == pytest.approx((fp - fm) / (2 * eps), rel=1e-6, abs=1e-9)


def test_snip_and_logit_snip_give_exact_global_density(toy):
    net = SpectralMLP([12, 10, 3], train="spectral", seed=0, dtype="float64")
    for masks in (snip_masks(net, toy[0][:64], toy[1][:64], 0.1), logit_snip_masks(net, toy[0][:64], 0.1)):
        assert sum(int(to_numpy(m).sum()) for m in masks) == round(0.1 * 150)


def test_ensemble_masks_are_per_member():
    ens = SpectralMLP([6, 5, 3], train="spectral", seed=[0, 1])
    masks = magnitude_masks(ens, 0.4)
    for e in range(2):
        single = magnitude_masks(ens.member(e), 0.4)
        for m, s in zip(masks, single):
            assert np.array_equal(to_numpy(m)[e], to_numpy(s))


# ---------------------------------------------------------------------- training
def test_masked_weights_of_direct_network_never_change(toy):
    net = SpectralMLP([12, 16, 3], train="direct", activation="tanh", seed=0, dtype="float64")
    apply_masks(net, magnitude_masks(net, 0.3))
    before = _dense(net)
    fit(net, toy, epochs=3, batch_size=50, lr=1e-2, progress=False)
    for b, layer in zip(before, net.layers):
        m = to_numpy(layer.mask)
        after = to_numpy(layer.dense_weight())
        assert np.array_equal(after[~m], b[~m])  # bit for bit
        assert np.abs(after[m] - b[m]).max() > 1e-3  # the kept ones did train


def test_direct_dynamic_percentile_never_moves_entries_that_stayed_masked(toy):
    """Under direct training an entry masked at every step gets no gradient and no Adam state."""

    class AlwaysMasked(Callback):
        def on_train_begin(self, net):
            self.m = None

        def on_step_end(self, net, epoch, step):
            cur = [~to_numpy(layer.last_mask) for layer in net.layers]
            self.m = cur if self.m is None else [a & b for a, b in zip(self.m, cur)]

    net = SpectralMLP([12, 16, 3], train="direct", activation="tanh", seed=0, dtype="float64")
    configure_sparsity(net, 0.7, "dynamic-percentile", turnover=False)
    before = _dense(net)
    cb = AlwaysMasked()
    fit(net, toy, epochs=2, batch_size=50, lr=1e-2, progress=False, callbacks=[cb])
    for b, layer, m in zip(before, net.layers, cb.m):
        assert m.sum() > 0.5 * m.size
        assert np.array_equal(to_numpy(layer.dense_weight())[m], b[m])


def test_spectral_dynamic_percentile_topology_turns_over(toy):
    net = SpectralMLP([12, 16, 3], train="spectral", activation="tanh", seed=0, dtype="float64")
    cbs = configure_sparsity(net, 0.7, "dynamic-percentile")
    turn = [c for c in cbs if isinstance(c, TopologyTurnover)][0]
    hist = fit(net, toy, epochs=2, batch_size=50, lr=1e-2, progress=False, callbacks=cbs)
    assert sum(hist["mask_flips"]) > 0
    for rec in turn.records:
        assert rec["kept"] == [int(round(0.3 * 192)), int(round(0.3 * 48))]
        assert all(s >= f for s, f in zip(rec["step_flips"], rec["flips"]))
    ds = turn.to_dataset()
    assert ds.flips.dims == ("epoch", "layer") and int(ds.flips.sum()) == sum(hist["mask_flips"])


def test_eigen_only_dynamic_percentile_also_turns_over(toy):
    # phi frozen: only eigenvalues move, yet they reorder |W| within rows and columns
    net = SpectralMLP([12, 16, 3], train="eigen", activation="tanh", seed=0, dtype="float64", init="paper")
    cbs = configure_sparsity(net, 0.7, "dynamic-percentile")
    hist = fit(net, toy, epochs=2, batch_size=50, lr=1e-2, progress=False, callbacks=cbs)
    assert sum(hist["mask_flips"]) > 0


def test_dst_reselects_at_target_density(toy):
    net = SpectralMLP([12, 16, 3], train="spectral", activation="tanh", seed=0, dtype="float64")
    cbs = configure_sparsity(net, 0.8, "dst", every=5)
    dst = cbs[0]
    assert isinstance(dst, DynamicSparseTraining)
    fit(net, toy, epochs=2, batch_size=50, lr=3e-2, progress=False, callbacks=cbs)
    assert [u["step"] for u in dst.updates] == [5, 10, 15, 20]
    assert sum(sum(u["flips"]) for u in dst.updates) > 0
    assert network_density(net)["kept"] == round(0.2 * 192) + round(0.2 * 48)
    # the mask is the magnitude mask of the current dense W (masked entries included)
    dst.apply(net)
    for layer, m in zip(net.layers, magnitude_masks(net, 0.2)):
        assert np.array_equal(to_numpy(layer.mask), to_numpy(m))


@pytest.mark.parametrize("mode", ["static-magnitude", "static-random"])
def test_static_modes_have_no_turnover(toy, mode):
    net = SpectralMLP([12, 16, 3], train="spectral", seed=0, dtype="float64")
    cbs = configure_sparsity(net, 0.5, mode)
    hist = fit(net, toy, epochs=1, batch_size=100, progress=False, callbacks=cbs)
    assert hist["mask_flips"] == [0]
    assert network_density(net)["density"] == pytest.approx(0.5)


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("density", [0, -0.1, 1.5, float("nan"), "a"])
def test_bad_density_names_the_argument(density):
    net = SpectralMLP([4, 5, 2], seed=0)
    for fn in (lambda: magnitude_masks(net, density), lambda: random_masks(net, density, 0),
               lambda: make_masks("logit-snip", net, density, x=np.zeros((2, 4))),
               lambda: DynamicSparseTraining(density)):
        with pytest.raises(ValueError, match="density"):
            fn()


def test_wrong_mask_shape_names_the_argument():
    net = SpectralMLP([4, 5, 2], seed=0)
    with pytest.raises(ValueError, match=r"masks\[0\] must have shape \(5, 4\)"):
        apply_masks(net, [np.ones((4, 5), bool), None])
    with pytest.raises(ValueError, match="masks must hold one entry per layer"):
        apply_masks(net, [None])
    with pytest.raises(ValueError, match=r"masks\[1\] keeps no entry"):
        apply_masks(net, [None, np.zeros((2, 5), bool)])


def test_bad_sparsity_and_mode_name_the_argument():
    net = SpectralMLP([4, 5, 2], seed=0)
    with pytest.raises(ValueError, match="sparsity"):
        configure_sparsity(net, 1.0)
    with pytest.raises(ValueError, match="mode"):
        configure_sparsity(net, 0.5, "magic")
    with pytest.raises(ValueError, match="method"):
        make_masks("magic", net, 0.5)
    with pytest.raises(ValueError, match="scope"):
        magnitude_masks(net, 0.5, scope="net")
