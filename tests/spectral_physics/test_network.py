"""SpectralMLP: shapes, structure, bad input, devices, ensembles."""

import numpy as np
import pytest

from spectral_physics import PRESETS, SpectralMLP
from spectral_physics.backend import to_numpy


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_weight_formula_and_operator(preset, rng):
    net = SpectralMLP([5, 4, 3], train=preset, seed=1, dtype="float64")
    for layer in net.layers:
        if layer.parametrisation != "direct":
            layer.lam_in = rng.normal(size=layer.n_in)
            layer.lam_out = rng.normal(size=layer.n_out)
    for k, layer in enumerate(net.layers):
        w = to_numpy(layer.dense_weight())
        phi = to_numpy(layer.phi)
        lin, lout = to_numpy(layer.lam_in), to_numpy(layer.lam_out)
        np.testing.assert_allclose(w, (lin[None, :] - lout[:, None]) * phi, atol=1e-14)
        a = net.transfer_operator(k)
        n_in = layer.n_in
        big_phi = np.eye(n_in + layer.n_out)
        big_phi[n_in:, :n_in] = phi
        lam = np.diag(np.r_[lin, lout])
        # A = Phi Lambda Phi^-1 with Phi^-1 = 2I - Phi
        np.testing.assert_allclose(a, big_phi @ lam @ (2 * np.eye(len(lam)) - big_phi), atol=1e-12)
        np.testing.assert_allclose(np.sort(np.linalg.eigvals(a).real), np.sort(np.r_[lin, lout]), atol=1e-8)


def test_default_init_gives_same_weights_for_every_preset():
    ws = {p: [to_numpy(w) for w in SpectralMLP([6, 5, 3], train=p, seed=4, dtype="float64").weights()]
          for p in PRESETS}
    for p in PRESETS:
        for a, b in zip(ws["direct"], ws[p]):
            np.testing.assert_allclose(a, b, atol=1e-12, err_msg=p)


def test_network_operator_blocks():
    net = SpectralMLP([3, 4, 2], train="eigen", seed=0, dtype="float64")
    a = net.network_operator()
    assert a.shape == (9, 9)
    np.testing.assert_allclose(a[3:7, :3], to_numpy(net.weights()[0]))
    np.testing.assert_allclose(a[7:, 3:7], to_numpy(net.weights()[1]))
    assert np.allclose(np.triu(a, 1), 0)


def test_layers_expose_writable_arrays():
    net = SpectralMLP([3, 2], train="eigen", seed=0)
    net.layers[0].lam_out = [0.5, -0.5]
    assert net.layers[0].lam_out.dtype == np.float32
    np.testing.assert_allclose(net.layers[0].lam_out, [0.5, -0.5])
    with pytest.raises(ValueError, match="lam_out"):
        net.layers[0].lam_out = [1.0, 2.0, 3.0]
    d = SpectralMLP([3, 2], train="direct", seed=0)
    d.layers[0].weight = np.ones((2, 3))
    assert np.all(d.layers[0].phi == 1)
    s = SpectralMLP([3, 2], train="svd", seed=0)
    assert {"s", "U", "V"} <= set(s.layers[0].arrays)
    q = SpectralMLP([3, 2], train="qr", seed=0)
    assert q.layers[0].R.shape == (2, 2)


@pytest.mark.parametrize(
    ("kwargs", "call", "match"),
    [
        ({"train": "nope"}, None, "train"),
        ({"activation": "sigmoidish"}, None, "activation"),
        ({"sizes": [3]}, None, "sizes"),
        ({"sizes": [3, 0, 2]}, None, "sizes"),
        ({"dtype": "int32"}, None, "dtype"),
        ({"device": "tpu"}, None, "device"),
        ({}, ("x_shape",), "x must have shape"),
        ({}, ("labels",), "y must lie"),
        ({}, ("nan",), "NaN"),
        ({}, ("y_shape",), "y must have shape"),
    ],
)
def test_bad_input_raises_value_error_naming_argument(kwargs, call, match):
    args = {"sizes": [4, 3, 2], **kwargs}
    sizes = args.pop("sizes")
    if call is None:
        with pytest.raises(ValueError, match=match):
            SpectralMLP(sizes, **args)
        return
    net = SpectralMLP(sizes, **args)
    x, y = np.zeros((5, 4)), np.zeros(5, dtype=int)
    if call[0] == "x_shape":
        x = np.zeros((5, 3))
    elif call[0] == "labels":
        y = np.array([0, 1, 2, 0, 1])
    elif call[0] == "nan":
        x[2, 1] = np.nan
    elif call[0] == "y_shape":
        y = np.zeros(4, dtype=int)
    with pytest.raises(ValueError, match=match):
        net.loss_and_grad(x, y)


def test_negative_learning_rate_rejected():
    from spectral_physics import fit

    net = SpectralMLP([4, 2], seed=0)
    with pytest.raises(ValueError, match="lr"):
        fit(net, (np.zeros((4, 4)), np.zeros(4, dtype=int)), lr=-0.1, progress=False)


def test_same_seed_same_network_on_every_device(device):
    a = SpectralMLP([5, 4, 3], train="spectral", seed=9, device="cpu")
    b = SpectralMLP([5, 4, 3], train="spectral", seed=9, device=device)
    for la, lb in zip(a.layers, b.layers):
        for name in la.arrays:
            np.testing.assert_array_equal(to_numpy(la.arrays[name]), to_numpy(lb.arrays[name]))


@pytest.mark.parametrize("preset", ["direct", "eigen", "spectral", "svd"])
def test_loss_and_grad_agree_across_devices(device, preset, rng):
    x, y = rng.normal(size=(8, 5)), rng.integers(0, 3, size=8)
    ref = SpectralMLP([5, 4, 3], train=preset, seed=2, dtype="float64")
    other = SpectralMLP([5, 4, 3], train=preset, seed=2, dtype="float64", device=device)
    l1, g1 = ref.loss_and_grad(x, y)
    l2, g2 = other.loss_and_grad(x, y)
    assert abs(l1 - l2) < 1e-12
    for a, b in zip(g1, g2):
        for k in a:
            np.testing.assert_allclose(to_numpy(a[k]), to_numpy(b[k]), atol=1e-12)


def test_gpu_request_without_cupy_names_what_is_missing(monkeypatch):
    import builtins

    from conftest import GPU_OK

    if GPU_OK:
        pytest.skip("a GPU is present")
    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "cupy":
            raise ImportError("no cupy")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(RuntimeError, match="CuPy"):
        SpectralMLP([3, 2], device="gpu")


def test_device_from_environment(monkeypatch):
    monkeypatch.setenv("SPECTRAL_PHYSICS_DEVICE", "cpu")
    assert SpectralMLP([3, 2]).device == "cpu"
    monkeypatch.setenv("SPECTRAL_PHYSICS_DEVICE", "quantum")
    with pytest.raises(ValueError, match="device"):
        SpectralMLP([3, 2])


@pytest.mark.parametrize("preset", ["direct", "eigen", "qr"])
def test_ensemble_members_equal_single_networks(preset, rng):
    seeds = [3, 5, 8]
    ens = SpectralMLP([6, 5, 3], train=preset, seed=seeds, dtype="float64")
    x = rng.normal(size=(3, 7, 6))
    y = rng.integers(0, 3, size=(3, 7))
    losses, grads = ens.loss_and_grad(x, y)
    for e, s in enumerate(seeds):
        single = SpectralMLP([6, 5, 3], train=preset, seed=s, dtype="float64")
        l1, g1 = single.loss_and_grad(x[e], y[e])
        assert abs(float(losses[e]) - l1) < 1e-12
        for ge, gs in zip(grads, g1):
            for k in gs:
                np.testing.assert_allclose(ge[k][e], gs[k], atol=1e-12)
        m = ens.member(e)
        np.testing.assert_allclose(m.forward(x[e]), single.forward(x[e]), atol=1e-12)


def test_forward_pass_with_affine_maps_equals_the_network(rng):
    from spectral_physics.network import affine, forward_pass

    net = SpectralMLP([6, 5, 4, 3], train="spectral", activation="tanh", seed=2, dtype="float64")
    x = rng.normal(size=(7, 6))
    zs, acts = net.forward_trace(x)
    maps = [affine(layer.weight_matrix(), layer.bias) for layer in net.layers]
    zs2, acts2 = forward_pass(x, maps, net.act)
    for a, b in zip(zs + acts, zs2 + acts2):
        np.testing.assert_array_equal(a, b)
    # resumed from the pre-activations of the first layer, keeping only the output
    out = forward_pass(zs[0], maps[1:], net.act, from_pre=True, trace=False)
    np.testing.assert_array_equal(out, acts[-1])
    assert forward_pass(zs[-1], [], net.act, from_pre=True, trace=False) is zs[-1]  # nothing follows


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_accuracy_of_non_finite_logits_is_nan_not_class_0():
    x = np.zeros((10, 4))
    y = np.zeros(10, dtype=int)  # argmax of NaN logits reads class 0: all would count as correct
    net = SpectralMLP([4, 3], train="direct", seed=0)
    assert net.accuracy(x, y) == 1.0  # finite (all-zero) logits: ties read as class 0, legitimately
    net.layers[0].bias[...] = np.nan
    assert np.isnan(net.accuracy(x, y))
    ens = SpectralMLP([4, 3], train="direct", seed=[0, 1])
    ens.layers[0].bias[1] = np.inf
    acc = ens.accuracy(np.broadcast_to(x, (2, 10, 4)), np.broadcast_to(y, (2, 10)))
    assert np.isfinite(acc[0]) and np.isnan(acc[1])
