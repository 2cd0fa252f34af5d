"""Hand-derived gradients against central finite differences (float64)."""

import numpy as np
import pytest

from spectral_physics import PRESETS, SpectralMLP, trainable_count
from spectral_physics.backend import to_numpy

ACTS = ["relu", "tanh", "elu", "identity"]


def _fd_check(net, x, y, eps=1e-6):
    loss, grads = net.loss_and_grad(x, y)
    worst = 0.0
    for k, layer in enumerate(net.layers):
        for name, p in layer.params.items():
            g = to_numpy(grads[k][name])
            assert g.shape == p.shape
            num = np.zeros_like(g)
            flat = p.reshape(-1)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + eps
                lp, _ = net.loss_and_grad(x, y)
                flat[i] = old - eps
                lm, _ = net.loss_and_grad(x, y)
                flat[i] = old
                num.reshape(-1)[i] = (lp - lm) / (2 * eps)
            err = np.linalg.norm(g - num) / max(np.linalg.norm(g) + np.linalg.norm(num), 1e-12)
            worst = max(worst, err)
            assert err < 1e-6, f"layer {k} {name}: relative error {err:.2e}"
    return worst


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("activation", ACTS)
def test_finite_differences_every_preset_and_activation(preset, activation, rng, kernel_impl):
    # 3 -> 5 -> 4 -> 3 has a wide layer (qr uses R Q) and a tall one (Q R)
    net = SpectralMLP([3, 5, 4, 3], train=preset, activation=activation, seed=3, dtype="float64")
    # a generic point: eigenvalues away from their symmetric start, biases off zero
    for layer in net.layers:
        layer.bias = rng.normal(0, 0.3, size=layer.n_out)
        layer.lam_in = rng.normal(1.0, 0.5, size=layer.n_in)
        layer.lam_out = rng.normal(0.0, 0.5, size=layer.n_out)
    x = rng.normal(size=(7, 3))
    y = rng.integers(0, 3, size=7)
    _fd_check(net, x, y)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_trainable_count_matches_arrays(preset):
    net = SpectralMLP([6, 4, 9, 2], train=preset, seed=0)
    counted = sum(int(np.prod(p.shape)) for layer in net.layers for name, p in layer.params.items()
                  if name != "R")
    tri = sum(r * (r + 1) // 2 for r in (min(a, b) for a, b in zip(net.sizes[:-1], net.sizes[1:])))
    counted += tri if preset == "qr" else 0
    assert net.n_trainable == counted
    assert net.n_trainable == sum(trainable_count(preset, a, b) for a, b in zip(net.sizes[:-1], net.sizes[1:]))


def test_known_counts():
    assert trainable_count("direct", 784, 500) == 784 * 500 + 500
    assert trainable_count("eigen-out", 784, 500, bias=False) == 500
    assert trainable_count("eigen", 784, 500, bias=False) == 1284
    assert trainable_count("svd", 784, 500, bias=False) == 500 + 1284
    assert trainable_count("qr", 784, 500, bias=False) == 500 * 501 // 2 + 1284


def test_explicit_trainable_set(rng, kernel_impl):
    net = SpectralMLP([3, 4, 2], train=["phi", "lam_out"], activation="tanh", seed=1, dtype="float64")
    assert net.preset == "phi+lam_out"
    assert net.layers[0].trainable == ("phi", "lam_out", "bias")
    _fd_check(net, rng.normal(size=(5, 3)), rng.integers(0, 2, size=5))


@pytest.mark.parametrize("preset", ["direct", "spectral", "qr"])
def test_gradients_through_the_sparse_mask_products(preset, rng, kernel_impl):
    # masks at most 10 % dense: the compiled kept-weights-only products (kernels.SPARSE_DENSITY)
    net = SpectralMLP([20, 10, 3], train=preset, activation="tanh", seed=4, dtype="float64")
    masks = [rng.random((10, 20)) < 0.08, np.zeros((3, 10), dtype=bool)]
    masks[1][[0, 1, 2], [3, 5, 7]] = True
    for layer, m in zip(net.layers, masks):
        layer.mask = m
    x, y = rng.normal(size=(7, 20)), rng.integers(0, 3, size=7)
    net.loss_and_grad(x, y)
    assert all(("index" in layer._cache) == (kernel_impl == "numba") for layer in net.layers)
    _fd_check(net, x, y)
    with pytest.raises(ValueError, match="read-only"):  # the cached index stays the mask's
        net.layers[0].mask[0, 0] = True


def test_sparse_mask_edited_after_a_copy_is_honoured(rng):
    import pickle

    net = SpectralMLP([20, 10, 3], train="spectral", activation="tanh", seed=4, dtype="float64")
    net.layers[0].mask = rng.random((10, 20)) < 0.08
    x = rng.normal(size=(7, 20))
    net.layers[0].forward(x)  # builds the index
    for layer in (net.copy().layers[0], pickle.loads(pickle.dumps(net.layers[0]))):
        # a copy's mask comes back writeable: editing it must not leave a stale index
        layer.mask[:, :3] = True
        layer.mask[0, 5] = not layer.mask[0, 5]
        m = layer.mask.copy()
        z = layer.forward(x)
        np.testing.assert_allclose(z, x @ (layer.dense_weight() * m).T + layer.bias, rtol=1e-12)
        assert not layer.mask.flags.writeable


def test_masked_and_dynamic_sparse_gradients(rng, kernel_impl):
    net = SpectralMLP([4, 6, 3], train="spectral", activation="tanh", seed=2, dtype="float64")
    net.layers[0].mask = rng.random((6, 4)) > 0.4
    net.layers[1].sparsity = 0.5
    _fd_check(net, rng.normal(size=(6, 4)), rng.integers(0, 3, size=6))
