"""Empirical NTK: brute-force Jacobian Gram matrices, known answers, memory and input checks."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from spectral_physics import SpectralMLP
from spectral_physics.ntk import empirical_ntk, ntk_memory_estimate, stacked_matmul


def _jacobian(net, x):
    """Explicit per-parameter Jacobian (n, k, P) from one backward pass per sample and output."""
    k = net.sizes[-1]
    rows = []
    for a in range(x.shape[0]):
        for c in range(k):
            net.forward(x[a : a + 1])
            e = np.zeros((1, k))
            e[0, c] = 1.0
            g = net.backward(e)
            rows.append(np.concatenate([g[l][n].ravel() for l in range(len(g)) for n in sorted(g[l])]))
    return np.array(rows).reshape(x.shape[0], k, -1)


def _gram(j1, j2):
    return np.einsum("acp,bdp->abcd", j1, j2)


def _net(preset, act, masked, rng, sizes=(6, 8, 5, 3)):
    net = SpectralMLP(list(sizes), train=preset, activation=act, seed=3, dtype="float64", init="paper")
    for layer in net.layers:
        if layer.use_bias:
            layer.bias = 0.3 * rng.normal(size=layer.n_out)
        if masked:
            layer.mask = rng.random((layer.n_out, layer.n_in)) < 0.5
    return net


CASES = [
    ("direct", "relu", False), ("direct", "tanh", True), ("direct", "relu", True),
    ("eigen-out", "tanh", True), ("eigen", "relu", False), ("eigen", "tanh", True),
    ("spectral", "tanh", False), ("spectral", "relu", True), ("lam_in+phi", "elu", True),
    ("svd", "tanh", True), ("qr", "relu", True),
]


@pytest.mark.parametrize("preset,act,masked", CASES)
def test_sparse_ntk_equals_bruteforce_gram(preset, act, masked, rng):
    net = _net(preset, act, masked, rng)
    x1, x2 = rng.normal(size=(3, 6)), rng.normal(size=(4, 6))
    ref = _gram(_jacobian(net, x1), _jacobian(net, x2))
    theta = empirical_ntk(net, x1, x2)
    assert theta.shape == (3, 4, 3, 3)
    assert np.abs(theta - ref).max() <= 1e-10 * max(1.0, np.abs(ref).max())
    tr = empirical_ntk(net, x1, x2, trace=True)
    np.testing.assert_allclose(tr, np.einsum("abcc->ab", ref), rtol=0, atol=1e-10 * np.abs(ref).max())


def test_qr_tall_layer_and_svd_unmasked(rng):
    # qr with N_out > N_in takes the other factor order (phi = Q R)
    for preset in ("qr", "svd"):
        net = _net(preset, "tanh", False, rng, sizes=(4, 7, 3))
        x = rng.normal(size=(3, 4))
        ref = _gram(_jacobian(net, x), _jacobian(net, x))
        assert np.abs(empirical_ntk(net, x) - ref).max() <= 1e-10 * np.abs(ref).max()


@pytest.mark.parametrize("preset", ["direct", "spectral"])
def test_masked_dense_kernel_is_gram_over_all_entries_of_masked_w(preset, rng):
    net = _net(preset, "tanh", True, rng)
    # the masked-dense kernel treats every entry of M * W as a free parameter
    free = SpectralMLP(net.sizes, train="direct", activation="tanh", dtype="float64")
    for lf, ln in zip(free.layers, net.layers):
        lf.weight = ln.weight_matrix()
        lf.bias = ln.bias
    x1, x2 = rng.normal(size=(3, 6)), rng.normal(size=(2, 6))
    ref = _gram(_jacobian(free, x1), _jacobian(free, x2))
    theta = empirical_ntk(net, x1, x2, kind="masked-dense")
    assert np.abs(theta - ref).max() <= 1e-10 * np.abs(ref).max()
    # and differs from the sparse kernel, which counts kept weights only
    assert np.abs(empirical_ntk(net, x1, x2, kind="sparse") - theta).max() > 1e-3


def test_linear_network_known_answer(rng):
    # f = W x + b: Theta(x, x')_{cc'} = (x . x' + 1) delta_cc'
    net = SpectralMLP([5, 3], train="direct", dtype="float64")
    x1, x2 = rng.normal(size=(4, 5)), rng.normal(size=(2, 5))
    theta = empirical_ntk(net, x1, x2)
    expect = (x1 @ x2.T + 1)[:, :, None, None] * np.eye(3)
    np.testing.assert_allclose(theta, expect, rtol=1e-12, atol=1e-12)
    # masked: only kept weights count, so x . x' becomes sum_j M_cj x_j x'_j
    m = np.array([[1, 0, 1, 0, 1], [0, 0, 0, 1, 1], [1, 1, 1, 1, 1]], dtype=bool)
    net.layers[0].mask = m
    theta = empirical_ntk(net, x1, x2)
    for c in range(3):
        np.testing.assert_allclose(theta[:, :, c, c], (x1 * m[c]) @ x2.T + 1, rtol=1e-12)
    np.testing.assert_allclose(empirical_ntk(net, x1, x2, kind="masked-dense"), expect, rtol=1e-12)


def test_eigenvalue_kernel_of_spectral_net_is_the_eigen_preset_kernel(rng):
    kw = dict(activation="tanh", seed=5, dtype="float64", init="paper")
    spec = SpectralMLP([6, 7, 3], train="spectral", **kw)
    eig = SpectralMLP([6, 7, 3], train="eigen", **kw)
    x = rng.normal(size=(4, 6))
    a = empirical_ntk(spec, x, wrt=("lam_in", "lam_out", "bias"))
    np.testing.assert_allclose(a, empirical_ntk(eig, x), rtol=1e-12, atol=1e-14)
    # the full spectral kernel adds the (positive semi-definite) phi part
    full = empirical_ntk(spec, x, trace=True)
    assert np.linalg.eigvalsh(full - empirical_ntk(eig, x, trace=True)).min() > -1e-10


def test_kernel_symmetric_psd_and_dense_kinds_agree(rng):
    net = SpectralMLP([6, 9, 4], train="direct", activation="relu", seed=1, dtype="float64")
    x = rng.normal(size=(5, 6))
    theta = empirical_ntk(net, x)
    np.testing.assert_allclose(theta, theta.transpose(1, 0, 3, 2), atol=1e-12)
    gram = theta.transpose(0, 2, 1, 3).reshape(20, 20)
    assert np.linalg.eigvalsh(gram).min() > -1e-10
    np.testing.assert_allclose(empirical_ntk(net, x, kind="masked-dense"), theta, atol=1e-12)


def test_sparse_kernel_at_low_density_uses_the_same_numbers(rng):
    # below 30 % density the metric product goes through scipy.sparse
    net = _net("direct", "tanh", False, rng, sizes=(40, 30, 3))
    for layer in net.layers:
        layer.mask = rng.random((layer.n_out, layer.n_in)) < 0.05
    x1, x2 = rng.normal(size=(3, 40)), rng.normal(size=(2, 40))
    ref = _gram(_jacobian(net, x1), _jacobian(net, x2))
    assert np.abs(empirical_ntk(net, x1, x2) - ref).max() <= 1e-10 * np.abs(ref).max()


@pytest.mark.parametrize("kind", ["sparse", "masked-dense"])
@pytest.mark.parametrize("preset", ["direct", "spectral"])
def test_lenet_kernel_is_small_and_within_its_estimate(kind, preset):
    net = SpectralMLP([784, 300, 100, 10], train=preset, seed=0)
    rng = np.random.default_rng(0)
    for layer in net.layers:
        layer.mask = rng.random((layer.n_out, layer.n_in)) < 0.03
    x = rng.random((64, 784)).astype(np.float32)
    est = ntk_memory_estimate(net, 32, 32, kind)
    assert est < 100 * 2**20
    tracemalloc.start()
    try:
        theta = empirical_ntk(net, x[:32], x[32:], kind=kind)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert theta.shape == (32, 32, 10, 10) and theta.dtype == np.float32
    assert peak <= est
    assert np.isfinite(theta).all()


def test_bad_inputs(rng):
    net = SpectralMLP([6, 5, 3], train="direct", dtype="float64")
    x = rng.normal(size=(3, 6))
    with pytest.raises(ValueError, match="x2"):
        empirical_ntk(net, x, rng.normal(size=(3, 5)))
    with pytest.raises(ValueError, match="x1"):
        empirical_ntk(net, rng.normal(size=(6,)), x)
    with pytest.raises(ValueError, match="kind"):
        empirical_ntk(net, x, kind="dense")
    with pytest.raises(ValueError, match="wrt"):
        empirical_ntk(net, x, wrt=("phi",))
    with pytest.raises(ValueError, match="ensemble"):
        empirical_ntk(SpectralMLP([6, 5, 3], seed=[0, 1]), x)
    with pytest.raises(ValueError, match="memory_budget"):
        empirical_ntk(net, x, memory_budget=0)


def test_memory_budget_refuses_before_allocating():
    net = SpectralMLP([784, 300, 100, 10], train="direct", seed=0)
    x = np.zeros((20000, 784), dtype=np.float32)  # a (20000, 20000, 10, 10) kernel is 160 GB
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="memory_budget"):
            empirical_ntk(net, x, x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    with pytest.raises(ValueError, match="memory_budget"):
        empirical_ntk(net, x[:64], x[:64], memory_budget=2**20)


def test_stacked_matmul_is_matmul_of_every_slice():
    """One 2-D product of all rows equals the stack's per-slice products, broadcast stacks too."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 3, 5))
    b = rng.standard_normal((5, 2))
    got = stacked_matmul(a, b)
    assert got.shape == (4, 3, 2)
    np.testing.assert_allclose(got, np.stack([s @ b for s in a]), rtol=1e-12, atol=1e-12)
    eye = np.broadcast_to(np.eye(5), (4, 5, 5))  # the logits' deltas: read-only, zero strides
    np.testing.assert_array_equal(stacked_matmul(eye, b), np.broadcast_to(b, (4, 5, 2)))
    v = rng.standard_normal(5)  # no leading dims: a vector
    np.testing.assert_allclose(stacked_matmul(v, b), v @ b, rtol=1e-12, atol=1e-12)


def test_stacked_matmul_names_shapes_that_do_not_chain():
    a = np.zeros((4, 3, 5))
    with pytest.raises(ValueError, match="must be a matrix"):
        stacked_matmul(a, np.zeros(5))
    with pytest.raises(ValueError, match="do not chain"):
        stacked_matmul(a, np.zeros((4, 2)))
