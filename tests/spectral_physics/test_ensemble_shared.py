"""Ensembles sharing one data order: the first layer's products of all members as one product.

``fit(..., shared_order=True)`` feeds every member the same batch ``x`` (batch, N_0); the
first layer then computes ``x @ [W_1; ...; W_E]^T`` and ``[delta_1, ..., delta_E]^T x``
as one product each (``SpectralLayer.forward(x, shared=True)``). Each member must equal
the network built with its seed and trained alone with the shared data-order seed, and
the gradients must match finite differences.
"""

import numpy as np
import pytest

from spectral_physics import PRESETS, SpectralMLP, fit, teacher_student
from spectral_physics.backend import to_numpy


@pytest.fixture(scope="module")
def data():
    return teacher_student(n_train=300, n_test=100, n_features=12, n_classes=3, hidden=(16,), seed=0)


def _generic(net, rng):
    """Move the eigenvalues and biases away from their symmetric start (all members)."""
    e = net.ensemble_size or 1
    for layer in net.layers:
        lead = (e,) if net.ensemble_size else ()
        layer.bias = rng.normal(0, 0.3, size=lead + (layer.n_out,))
        layer.lam_in = rng.normal(1.0, 0.5, size=lead + (layer.n_in,))
        layer.lam_out = rng.normal(0.0, 0.5, size=lead + (layer.n_out,))


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_shared_forward_equals_broadcast_forward(preset, rng, device):
    net = SpectralMLP([12, 7, 5, 3], train=preset, activation="tanh", seed=[0, 1, 2], dtype="float64",
                      device=device)
    _generic(net, rng)
    x = rng.normal(size=(9, 12))
    shared = to_numpy(net.forward(x, shared=True))
    per_member = to_numpy(net.forward(np.broadcast_to(x, (3, 9, 12))))
    assert shared.shape == (3, 9, 3)
    np.testing.assert_allclose(shared, per_member, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_shared_gradients_equal_per_member_gradients(preset, rng):
    net = SpectralMLP([12, 7, 5, 3], train=preset, activation="tanh", seed=[0, 1, 2], dtype="float64")
    _generic(net, rng)
    x, y = rng.normal(size=(9, 12)), rng.integers(0, 3, size=9)
    loss_s, g_s = net.loss_and_grad(x, y, shared=True)
    loss_b, g_b = net.loss_and_grad(np.broadcast_to(x, (3, 9, 12)), np.broadcast_to(y, (3, 9)))
    np.testing.assert_allclose(loss_s, loss_b, rtol=1e-13)
    for gs, gb in zip(g_s, g_b):
        assert gs.keys() == gb.keys()
        for k in gs:
            np.testing.assert_allclose(gs[k], gb[k], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("preset", ["direct", "eigen", "spectral", "svd", "qr"])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_shared_gradients_against_finite_differences(preset, activation, rng):
    """Every trainable scalar of every member against central differences of that member's loss."""
    e = 2
    net = SpectralMLP([4, 5, 3], train=preset, activation=activation, seed=[3, 4], dtype="float64")
    _generic(net, rng)
    x, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    _, grads = net.loss_and_grad(x, y, shared=True)
    eps = 1e-6
    for k, layer in enumerate(net.layers):
        for name, p in layer.params.items():
            g = to_numpy(grads[k][name])
            num = np.zeros_like(g)
            flat, nflat = p.reshape(e, -1), num.reshape(e, -1)
            for m in range(e):
                for i in range(flat.shape[1]):
                    old = flat[m, i]
                    flat[m, i] = old + eps
                    lp, _ = net.loss_and_grad(x, y, shared=True)
                    flat[m, i] = old - eps
                    lm, _ = net.loss_and_grad(x, y, shared=True)
                    flat[m, i] = old
                    nflat[m, i] = (lp[m] - lm[m]) / (2 * eps)
            if name == "R":  # only the upper triangle is a parameter
                num = np.triu(num)
            err = np.linalg.norm(g - num) / max(np.linalg.norm(g) + np.linalg.norm(num), 1e-12)
            assert err < 1e-6, f"layer {k} {name}: relative error {err:.2e}"


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_members_equal_networks_trained_alone_float64(preset, data):
    """Shared order, float64: each member follows the network trained alone with that order.

    The shared product sums each entry over the same inputs as the member's own product
    (the products are split along the output axis only, not re-associated), so the two
    agree to rounding; with OpenBLAS they agree bit for bit.
    """
    seeds, order = [1, 2, 3], 11
    ens = SpectralMLP([12, 16, 3], train=preset, seed=seeds, dtype="float64")
    he = fit(ens, data, epochs=2, batch_size=64, lr=1e-2, progress=False, shared_order=True, seed=order)
    for e, s in enumerate(seeds):
        single = SpectralMLP([12, 16, 3], train=preset, seed=s, dtype="float64")
        hs = fit(single, data, epochs=2, batch_size=64, lr=1e-2, progress=False, seed=order)
        for le, ls in zip(ens.layers, single.layers):
            for k in ls.arrays:
                np.testing.assert_allclose(le.arrays[k][e], ls.arrays[k], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(he["loss"][-1][e], hs["loss"][-1], rtol=1e-10)
        assert he.records[-1]["test_accuracy"][e] == hs.records[-1]["test_accuracy"]
        assert he.records[-1]["train_accuracy"][e] == hs.records[-1]["train_accuracy"]


def test_members_equal_networks_trained_alone_float32_with_masks_and_validation(data):
    seeds, order = [5, 6], 2
    ens = SpectralMLP([12, 16, 8, 3], train="spectral", seed=seeds)
    for layer in ens.layers:
        layer.sparsity = 0.5
    fit(ens, data, epochs=2, batch_size=50, lr=1e-2, val_fraction=0.2, progress=False, shared_order=True,
        seed=order)
    for e, s in enumerate(seeds):
        single = SpectralMLP([12, 16, 8, 3], train="spectral", seed=s)
        for layer in single.layers:
            layer.sparsity = 0.5
        fit(single, data, epochs=2, batch_size=50, lr=1e-2, val_fraction=0.2, progress=False, seed=order)
        for le, ls in zip(ens.layers, single.layers):
            for k in ls.arrays:
                np.testing.assert_allclose(le.arrays[k][e], ls.arrays[k], rtol=0, atol=1e-6)


def test_default_order_is_the_first_members_seed_and_default_off_is_unchanged(data):
    a = SpectralMLP([12, 16, 3], train="eigen", seed=[4, 9])
    fit(a, data, epochs=1, batch_size=50, progress=False, shared_order=True)
    b = SpectralMLP([12, 16, 3], train="eigen", seed=9)
    fit(b, data, epochs=1, batch_size=50, progress=False, seed=4)
    np.testing.assert_allclose(a.layers[0].lam_in[1], b.layers[0].lam_in, atol=1e-6)
    # without the option each member keeps its own order (and differs from the shared run)
    c = SpectralMLP([12, 16, 3], train="eigen", seed=[4, 9])
    fit(c, data, epochs=1, batch_size=50, progress=False)
    d = SpectralMLP([12, 16, 3], train="eigen", seed=9)
    fit(d, data, epochs=1, batch_size=50, progress=False)
    np.testing.assert_allclose(c.layers[0].lam_in[1], d.layers[0].lam_in, atol=1e-6)
    assert not np.allclose(c.layers[0].lam_in[1], a.layers[0].lam_in[1])


def test_shared_order_on_a_single_network_changes_nothing(data):
    nets = [SpectralMLP([12, 16, 3], train="spectral", seed=3) for _ in range(2)]
    fit(nets[0], data, epochs=1, batch_size=50, progress=False)
    fit(nets[1], data, epochs=1, batch_size=50, progress=False, shared_order=True)
    for la, lb in zip(nets[0].layers, nets[1].layers):
        for k in la.arrays:
            np.testing.assert_array_equal(la.arrays[k], lb.arrays[k])


def test_shared_order_takes_one_seed(data):
    net = SpectralMLP([12, 3], seed=[0, 1])
    with pytest.raises(ValueError, match="one data-order seed"):
        fit(net, data, epochs=1, progress=False, shared_order=True, seed=[0, 1])


def test_custom_objective_sees_the_shared_batch(data):
    from spectral_physics.train import cross_entropy_loss_and_grad

    shapes = []

    def hook(net, x, y):
        shapes.append((x.shape, y.shape))
        return cross_entropy_loss_and_grad(net, x, y, shared=True)

    net = SpectralMLP([12, 16, 3], seed=[0, 1, 2])
    h = fit(net, data, epochs=1, batch_size=100, progress=False, shared_order=True, loss_and_grad=hook)
    assert shapes[0] == ((100, 12), (100,))
    assert len(h.records[0]["train_accuracy"]) == 3


def test_shared_input_shape_is_checked():
    net = SpectralMLP([12, 3], seed=[0, 1])
    with pytest.raises(ValueError, match="x must have shape"):
        net.forward(np.zeros((2, 5, 12)), shared=True)


def test_sweep_spec_key_shared_data_order(tmp_path):
    from spectral_physics.analysis.sweep import SweepSpec, run_sweep
    from spectral_physics.analysis.sweep.run import _load_data

    base = {"dataset": "teacher-student", "subset": 200, "n_test": 100, "epochs": 1, "seeds": [0, 1],
            "data_seed": 3, "axes": {"train": ["direct", "eigen"]},
            "fixed": {"hidden": 8, "lr": 0.01, "batch_size": 50}}
    plain = SweepSpec.from_dict(base)
    shared = SweepSpec.from_dict({**base, "shared_data_order": True})
    assert "shared_data_order" not in plain.to_dict()  # older specs keep their fingerprints
    assert shared.fingerprint() != plain.fingerprint()
    assert SweepSpec.from_dict(shared.to_dict()).fingerprint() == shared.fingerprint()
    with pytest.raises(ValueError, match="shared_data_order"):
        SweepSpec.from_dict({**base, "shared_data_order": "yes"})
    ds = run_sweep(shared, tmp_path / "s", workers=1, progress=False)
    one = run_sweep(shared, tmp_path / "one", workers=1, progress=False, ensemble=False)
    np.testing.assert_array_equal(ds.test_accuracy.values, one.test_accuracy.values)
    # member 1 of the eigen point is seed 1 trained alone on the order of data_seed
    d = _load_data("teacher-student", 200, 3, 100, None)
    net = SpectralMLP([d.n_features, 8, d.n_classes], train="eigen", seed=1)
    fit(net, (d.x_train, d.y_train), epochs=1, batch_size=50, lr=0.01, progress=False, seed=3)
    assert float(ds.test_accuracy.sel(train="eigen").values[1]) == net.accuracy(d.x_test, d.y_test)
