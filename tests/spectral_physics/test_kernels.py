"""Fused kernels: known answers, and the compiled loops against the array expressions."""

import numpy as np
import pytest

from spectral_physics import kernels

SHAPES = [(), (3,)]  # a single network and an ensemble of three


@pytest.fixture
def impl():
    prev = kernels.set_implementation("auto")
    yield
    kernels.set_implementation(prev)


def _blocks(rng, lead, dtype, n_out=5, n_in=7):
    phi = rng.normal(size=lead + (n_out, n_in)).astype(dtype)
    g = rng.normal(size=lead + (n_out, n_in)).astype(dtype)
    return g, phi, rng.normal(size=lead + (n_in,)).astype(dtype), rng.normal(size=lead + (n_out,)).astype(dtype)


def _both(fn):
    """``fn()`` under the compiled kernels and under the array expressions."""
    out = []
    for choice in ("numba", "array"):
        prev = kernels.set_implementation(choice)
        try:
            out.append(fn())
        finally:
            kernels.set_implementation(prev)
    return out


def test_known_answers(kernel_impl):
    phi = np.array([[1.0, 2.0], [3.0, 4.0]])
    lam_in, lam_out = np.array([2.0, -1.0]), np.array([0.5, 1.0])
    np.testing.assert_array_equal(kernels.spectral_weight(phi, lam_in, lam_out), [[1.5, -3.0], [3.0, -8.0]])
    g = np.array([[1.0, 1.0], [1.0, 2.0]])
    dphi, dlam_in, dlam_out = kernels.spectral_grads(g, phi, lam_in, lam_out)
    np.testing.assert_array_equal(dphi, [[1.5, -1.5], [1.0, -4.0]])
    np.testing.assert_array_equal(dlam_in, [4.0, 10.0])  # column sums of G * phi
    np.testing.assert_array_equal(dlam_out, [-3.0, -11.0])  # minus row sums


@pytest.mark.parametrize("lead", SHAPES)
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-13), ("float32", 2e-5)])
def test_spectral_kernels_agree(rng, lead, dtype, rtol):
    g, phi, lam_in, lam_out = _blocks(rng, lead, dtype)
    a, b = _both(lambda: kernels.spectral_weight(phi, lam_in, lam_out))
    assert a.dtype == b.dtype == np.dtype(dtype) and a.shape == phi.shape
    np.testing.assert_allclose(a, b, rtol=rtol)
    (d1, i1, o1), (d2, i2, o2) = _both(lambda: kernels.spectral_grads(g.copy(), phi, lam_in, lam_out))
    for x, y in ((d1, d2), (i1, i2), (o1, o2)):
        assert x.dtype == y.dtype == np.dtype(dtype) and x.shape == y.shape
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol)
    assert kernels.spectral_grads(g.copy(), phi, lam_in, lam_out, want_dphi=False)[0] is None


def test_eigenvalue_sums_accumulate_in_float64(impl):
    # 10^4 rows of float32 ones plus one large entry: a float32 running sum loses the small terms
    n_out = 10_000
    phi = np.ones((n_out, 1), np.float32)
    g = np.full((n_out, 1), 1e-4, np.float32)
    g[0, 0] = 1e4
    _, dlam_in, _ = kernels.spectral_grads(g, phi, np.zeros(1, np.float32), np.zeros(n_out, np.float32))
    assert dlam_in.dtype == np.float32
    np.testing.assert_allclose(dlam_in, [1e4 + 0.9999], rtol=1e-7)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-14), ("float32", 1e-5)])
def test_optimiser_kernels_agree(rng, dtype, rtol):
    p0, g = rng.normal(size=(2, 4, 6)).astype(dtype)
    m0, v0 = rng.normal(size=(4, 6)).astype(dtype), rng.random((4, 6)).astype(dtype)

    def run(update, *consts):
        p, m, v = p0.copy(), m0.copy(), v0.copy()
        update(p, g, m, v, None, *consts)
        return p, m, v

    for update, consts in ((kernels.adam_update, (0.9, 0.999, 0.01, 1e-7)),
                           (kernels.adamax_update, (0.9, 0.999, 0.01, 1e-7))):
        for x, y in zip(*_both(lambda: run(update, *consts))):  # noqa: B023 - called at once
            assert x.dtype == np.dtype(dtype)
            np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol)

    def sgd():
        p, v = p0.copy(), m0.copy()
        kernels.sgd_update(p, g, v, None, 0.9, 0.1)
        return p, v

    for x, y in zip(*_both(sgd)):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol)


def test_falls_back_where_the_compiled_loops_do_not_apply(rng, impl):
    g, phi, lam_in, lam_out = _blocks(rng, (), "float64")
    assert kernels.kernel_implementation(phi, lam_in, lam_out) == "numba"
    phi_t = np.asfortranarray(phi)  # same values, not C-contiguous
    assert kernels.kernel_implementation(phi_t, lam_in, lam_out) == "array"
    assert kernels.kernel_implementation(phi.astype(np.float32), lam_in, lam_out) == "array"
    np.testing.assert_allclose(kernels.spectral_weight(phi_t, lam_in, lam_out),
                               kernels.spectral_weight(phi, lam_in, lam_out), rtol=1e-15)


def test_empty_and_read_only_blocks(rng, impl):
    empty = np.zeros((4, 0))
    assert kernels.spectral_weight(empty, np.zeros(0), np.zeros(4)).shape == (4, 0)
    dphi, dlam_in, dlam_out = kernels.spectral_grads(empty.copy(), empty, np.zeros(0), np.zeros(4))
    assert dphi.shape == (4, 0) and dlam_in.shape == (0,) and dlam_out.tolist() == [0.0] * 4
    g, phi, lam_in, lam_out = _blocks(rng, (), "float64")
    want = kernels.spectral_grads(g.copy(), phi, lam_in, lam_out, want_dphi=False)
    phi.flags.writeable = False  # read-only input: the array expressions, same numbers
    assert kernels.kernel_implementation(g, phi) == "array"
    got = kernels.spectral_grads(g.copy(), phi, lam_in, lam_out, want_dphi=False)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-13)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-13)


def test_implementation_choice(monkeypatch, impl):
    with pytest.raises(ValueError, match="choice"):
        kernels.set_implementation("fortran")
    kernels.set_implementation("array")
    assert kernels.kernel_implementation(np.zeros(3)) == "array"
    kernels.set_implementation("numba")
    monkeypatch.setattr(kernels, "_compiled", lambda: None)  # as if Numba were not installed
    with pytest.raises(ImportError, match="Numba"):
        kernels.kernel_implementation(np.zeros(3))
    kernels.set_implementation("auto")
    assert kernels.kernel_implementation(np.zeros(3)) == "array"


@pytest.mark.parametrize("lead", SHAPES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kth_smallest_abs_equals_partition(rng, lead, dtype, kernel_impl, monkeypatch):
    monkeypatch.setattr(kernels, "_RADIX_MIN", 0)  # the radix select on a small block too
    w = rng.normal(size=lead + (40, 30)).astype(dtype)
    flat = w.reshape(lead + (-1,))
    flat[..., ::7] = 0.0  # ties at zero
    flat[..., 1::5] = -flat[..., 2::5]  # ties of |w| with opposite signs
    n = 1200
    for k in (1, 2, 600, 1080, 1199, n):
        got = kernels.kth_smallest_abs(w, k)
        want = np.partition(np.abs(flat), k - 1, axis=-1)[..., k - 1]
        assert got.dtype == w.dtype and got.shape == lead
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="k must"):
        kernels.kth_smallest_abs(w, 0)


def test_kth_smallest_abs_known_answer_and_nan(kernel_impl, monkeypatch):
    monkeypatch.setattr(kernels, "_RADIX_MIN", 0)
    w = np.array([[3.0, -1.0], [-2.0, np.nan]], dtype=np.float32)
    assert [float(kernels.kth_smallest_abs(w, k)) for k in (1, 2, 3)] == [1.0, 2.0, 3.0]
    assert np.isnan(kernels.kth_smallest_abs(w, 4))  # NaN sorts last, as in numpy.partition


def test_sparse_products_known_answer(impl):
    mask = np.zeros((2, 30), dtype=bool)
    mask[0, 1] = mask[1, 0] = mask[1, 2] = True  # 3 of 60 kept: under SPARSE_DENSITY
    w = np.zeros((2, 30))
    w[0, :3], w[1, :3] = [9.0, 2.0, 9.0], [1.0, 9.0, -1.0]  # the 9s are masked out
    x = np.zeros((2, 30))
    x[:, :3] = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    index = kernels.sparse_index(mask)
    assert index.indptr.tolist() == [0, 1, 3] and index.indices.tolist() == [1, 0, 2]
    assert index.flat.tolist() == [1, 30, 32]
    z, x_t = kernels.sparse_forward(x, w, index)
    np.testing.assert_array_equal(z, [[4.0, -2.0], [10.0, -2.0]])  # z[b] = (2 x1, x0 - x2)
    delta = np.array([[1.0, 2.0], [3.0, 4.0]])
    g = kernels.sparse_weight_grad(delta, x_t, index)
    want = np.zeros((2, 30))
    want[0, 1], want[1, 0], want[1, 2] = 1 * 2 + 3 * 5, 2 * 1 + 4 * 4, 2 * 3 + 4 * 6
    np.testing.assert_array_equal(g, want)
    dx = kernels.sparse_input_grad(delta, w, index)
    np.testing.assert_array_equal(dx[:, :3], [[2.0, 2.0, -2.0], [4.0, 6.0, -4.0]])
    assert not dx[:, 3:].any()


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-5)])
def test_sparse_products_equal_the_dense_masked_products(rng, impl, dtype, rtol):
    mask = rng.random((40, 70)) < 0.05
    w, x = rng.normal(size=(40, 70)).astype(dtype), rng.normal(size=(9, 70)).astype(dtype)
    delta = rng.normal(size=(9, 40)).astype(dtype)
    index = kernels.sparse_index(mask)
    z, x_t = kernels.sparse_forward(x, w, index)
    g, dx = kernels.sparse_weight_grad(delta, x_t, index), kernels.sparse_input_grad(delta, w, index)
    for got, want in ((z, x @ (w * mask).T), (g, mask * (delta.T @ x)), (dx, delta @ (w * mask))):
        assert got.dtype == np.dtype(dtype) and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)


def test_sparse_index_only_where_it_pays(rng, impl):
    assert kernels.sparse_index(rng.random((20, 30)) < 0.3) is None  # denser than SPARSE_DENSITY
    assert kernels.sparse_index(rng.random((2, 20, 30)) < 0.05) is None  # an ensemble's mask
    assert kernels.sparse_index(np.zeros((0, 5), dtype=bool)) is None
    index = kernels.sparse_index(rng.random((20, 30)) < 0.05)
    prev = kernels.set_implementation("array")
    try:  # the forced array implementation keeps the dense products
        assert kernels.sparse_forward(np.ones((3, 30)), np.ones((20, 30)), index) is None
    finally:
        kernels.set_implementation(prev)
    assert kernels.sparse_forward(np.ones((3, 30)), np.ones((20, 31)), index) is None  # wrong shape


def test_sparse_products_check_shapes_and_fall_back(rng, impl):
    mask = rng.random((40, 70)) < 0.05
    w, x, delta = rng.normal(size=(40, 70)), rng.normal(size=(9, 70)), rng.normal(size=(9, 40))
    index = kernels.sparse_index(mask)
    x.flags.writeable = False  # data sets are read-only: the compiled forward still applies
    z, x_t = kernels.sparse_forward(np.asfortranarray(x), w, index)
    np.testing.assert_allclose(z, x @ (w * mask).T, rtol=1e-12)
    with pytest.raises(ValueError, match=r"delta must have shape \(9, 40\)"):
        kernels.sparse_weight_grad(rng.normal(size=(6, 40)), x_t, index)  # another batch
    with pytest.raises(ValueError, match="delta must have shape"):
        kernels.sparse_input_grad(rng.normal(size=(9, 41)), w, index)
    compiled = kernels.sparse_weight_grad(delta, x_t, index), kernels.sparse_input_grad(delta, w, index)
    prev = kernels.set_implementation("array")
    try:  # the same numbers from the dense products
        dense = kernels.sparse_weight_grad(delta, x_t, index), kernels.sparse_input_grad(delta, w, index)
    finally:
        kernels.set_implementation(prev)
    for a, b in zip(compiled, dense):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # mixed dtypes promote as the dense products do
    g = kernels.sparse_weight_grad(delta, x_t.astype(np.float32), index)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, mask * (delta.T @ x), rtol=1e-6)
