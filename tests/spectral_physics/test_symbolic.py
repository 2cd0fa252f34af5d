"""Symbolic transfer operators: identities proved by SymPy, cross-checks with the numeric core."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from spectral_physics.cli import main
from spectral_physics.symbolic import (
    MAX_SYMBOLIC_NODES,
    N_IN,
    N_OUT,
    NetworkOperator,
    TransferOperator,
    compression_expr,
    latex,
    network_count_expr,
    pretty,
    trainable_count_expr,
)

PRESETS = ["direct", "eigen-out", "eigen", "spectral", "svd", "qr"]


def S(name: str) -> sp.Symbol:
    """The operator's symbols are real symbols named as in the papers."""
    return sp.Symbol(name, real=True)


def zero(expr) -> bool:
    return sp.simplify(expr) == sp.zeros(*expr.shape) if hasattr(expr, "shape") else sp.simplify(expr) == 0


# --------------------------------------------------------------------- identities (proofs)
@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("n_in, n_out", [(2, 3), (3, 2)])
def test_identities_proved_for_every_preset(preset, n_in, n_out):
    op = TransferOperator(n_in, n_out, preset)
    checks = op.verify(charpoly=(n_in, n_out) == (2, 3))
    assert checks == {k: True for k in checks} and len(checks) == 4


def test_phi_inverse_is_two_minus_phi_by_simplify():
    op = TransferOperator(2, 3)
    eye = sp.eye(5)
    assert zero(op.Phi * (2 * eye - op.Phi) - eye)
    assert op.Phi_inv == 2 * eye - op.Phi
    assert op.Phi.inv() == op.Phi_inv  # SymPy's own inverse agrees
    assert op.verify_inverse()


def test_A_phi_equals_phi_lambda_and_weight_formula():
    op = TransferOperator(2, 3)
    assert zero(op.A * op.Phi - op.Phi * op.Lambda)
    for i in range(3):
        for j in range(2):
            w = (S(f"lambda^in_{j + 1}") - S(f"lambda^out_{i + 1}")) * S(f"phi_{i + 1}{j + 1}")
            assert sp.simplify(op.A[2 + i, j] - w) == 0
            assert sp.simplify(op.weights[i, j] - w) == 0
    # upper-right block vanishes, diagonal blocks are diag(lam_in), diag(lam_out)
    assert op.A[:2, 2:] == sp.zeros(2, 3)
    assert op.A[:2, :2] == sp.diag(S("lambda^in_1"), S("lambda^in_2"))


def test_eigenvalues_of_A_are_the_lambdas():
    op = TransferOperator(2, 3, "spectral")
    lams = [S("lambda^in_1"), S("lambda^in_2")] + [S(f"lambda^out_{i}") for i in (1, 2, 3)]
    assert op.A.eigenvals() == {lam: 1 for lam in lams}
    x = sp.Symbol("x")
    assert sp.expand(op.A.charpoly(x).as_expr(x) - sp.Mul(*(x - lam for lam in lams))) == 0
    # eigenvectors are the columns of Phi
    for k, lam in enumerate(lams):
        v = op.Phi[:, k]
        assert zero(op.A * v - lam * v)


def test_direct_preset_is_W_with_fixed_eigenvalues():
    op = TransferOperator(2, 2, "direct", bias=False)
    W = sp.Matrix(2, 2, lambda i, j: S(f"w_{i + 1}{j + 1}"))
    assert op.weights == W and op.phi == W
    assert op.Lambda == sp.diag(1, 1, 0, 0)
    assert op.A == sp.Matrix(sp.BlockMatrix([[sp.eye(2), sp.zeros(2)], [W, sp.zeros(2)]]))
    assert op.trainable_symbols == tuple(W) and op.frozen_symbols == ()


def test_presets_split_trainable_and_frozen_symbols():
    eo = TransferOperator(2, 3, "eigen-out")
    assert set(eo.trainable_symbols) == {S(f"lambda^out_{i}") for i in (1, 2, 3)} | {
        S(f"b_{i}") for i in (1, 2, 3)
    }
    assert S("lambda^in_1") in eo.frozen_symbols and S("phi_11") in eo.frozen_symbols
    eig = TransferOperator(2, 3, "eigen", bias=False)
    assert set(eig.frozen_symbols) == set(eig.inputs["phi"])
    assert set(eig.trainable_symbols) == set(eig.inputs["lam_in"]) | set(eig.inputs["lam_out"])


def test_svd_and_qr_products_of_symbolic_and_frozen_matrices():
    svd = TransferOperator(2, 3, "svd", bias=False)
    U, s, V = svd.inputs["U"], svd.inputs["s"], svd.inputs["V"]
    assert U.shape == (3, 2) and s.shape == (2, 1) and V.shape == (2, 2)
    assert svd.phi == U * sp.diag(*s) * V
    assert set(svd.trainable_symbols) >= set(s) and set(svd.frozen_symbols) == set(U) | set(V)
    qr_wide = TransferOperator(3, 2, "qr", bias=False)  # N_out <= N_in: phi = R Q
    R, Q = qr_wide.inputs["R"], qr_wide.inputs["Q"]
    assert R.shape == (2, 2) and R[1, 0] == 0 and R.is_upper and Q.shape == (2, 3)
    assert qr_wide.phi == R * Q
    qr_tall = TransferOperator(2, 3, "qr", bias=False)  # N_out > N_in: phi = Q R
    assert qr_tall.phi == qr_tall.inputs["Q"] * qr_tall.inputs["R"]
    assert len([s for s in qr_tall.trainable_symbols if str(s).startswith("r_")]) == 3


def test_eigen_out_with_fixed_numbers_for_lam_in():
    op = TransferOperator(2, 1, "eigen-out", bias=False).with_values(lam_in=[1, sp.Rational(1, 2)])
    assert op.weights[0, 1] == S("phi_12") * (sp.Rational(1, 2) - S("lambda^out_1"))
    assert op.symbolic().weights[0, 1] == S("phi_12") * (S("lambda^in_2") - S("lambda^out_1"))
    assert all(op.verify().values())  # proofs use the symbolic formulas
    with pytest.raises(ValueError, match="lam_in must have shape"):
        op.with_values(lam_in=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="unknown array 'weight'"):
        op.with_values(weight=[[1.0, 2.0]])


# --------------------------------------------------------------------- gradients
def test_eigenvalues_move_whole_columns_and_rows():
    op = TransferOperator(3, 2, "spectral", bias=False)
    phi = op.phi
    grads = op.weight_gradients()
    for j in range(3):
        want = sp.zeros(2, 3)
        want[:, j] = phi[:, j]
        assert grads[op.lam_in[j]] == want  # lam_in_j: the column of input j
    for i in range(2):
        want = sp.zeros(2, 3)
        want[i, :] = -phi[i, :]
        assert grads[op.lam_out[i]] == want  # lam_out_i: the row of node i (a gain)
        assert op.support(op.lam_out[i]).sum() == 3
    assert op.support(S("phi_21")).sum() == 1  # an eigenvector entry is local


def test_chain_rule_matches_design_formulas():
    op = TransferOperator(3, 2, "spectral", bias=False)
    G, phi = op.G, op.phi
    rule = op.chain_rule()
    li, lo = op.lam_in, op.lam_out
    for i in range(2):
        for j in range(3):
            assert sp.simplify(rule[phi[i, j]] - G[i, j] * (li[j] - lo[i])) == 0
    for j in range(3):
        assert sp.simplify(rule[li[j]] - sum(G[i, j] * phi[i, j] for i in range(2))) == 0
    for i in range(2):
        assert sp.simplify(rule[lo[i]] + sum(G[i, j] * phi[i, j] for j in range(3))) == 0


@pytest.mark.parametrize("preset", PRESETS)
def test_weight_gradients_exist_for_every_trainable_symbol(preset):
    op = TransferOperator(2, 2, preset, bias=False)
    grads = op.weight_gradients()
    assert set(grads) == set(op.trainable_symbols)
    assert all(any(e != 0 for e in g) for g in grads.values())


def test_preactivation_shows_gain_on_projection():
    op = TransferOperator(2, 2, "eigen")
    z = op.preactivation()
    x = sp.Matrix([S("x_1"), S("x_2")])
    assert zero(z - (op.weights * x + op.bias))
    proj = S("phi_11") * S("x_1") + S("phi_12") * S("x_2")
    assert (-S("lambda^out_1") * proj) in sp.Add.make_args(z[0])


# --------------------------------------------------------------------- counts
@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("bias", [True, False])
def test_count_expressions_equal_core_counts(preset, bias):
    from spectral_physics.layers import trainable_count

    expr = trainable_count_expr(preset, bias=bias)
    assert expr.free_symbols <= {N_IN, N_OUT}
    for n_in, n_out in [(1, 1), (2, 3), (3, 2), (5, 5), (784, 500), (10, 784)]:
        want = trainable_count(preset, n_in, n_out, bias=bias)
        assert expr.subs({N_IN: n_in, N_OUT: n_out}) == want
        assert trainable_count_expr(preset, n_in, n_out, bias=bias) == want
    op = TransferOperator(2, 3, preset, bias=bias)
    assert op.n_trainable == op.trainable_count() == trainable_count(preset, 2, 3, bias=bias)


def test_count_formulas_and_compression():
    assert trainable_count_expr("spectral", bias=False) == N_IN * N_OUT + N_IN + N_OUT
    r = sp.Min(N_IN, N_OUT)
    assert sp.simplify(trainable_count_expr("qr", bias=False) - (r * (r + 1) / 2 + N_IN + N_OUT)) == 0
    assert sp.simplify(compression_expr("eigen") - (1 / N_IN + 1 / N_OUT)) == 0
    assert network_count_expr("eigen", [784, 500, 10]) == 784 + 2 * 500 + 2 * 10 + 500
    a, b, c = sp.symbols("a b c", positive=True, integer=True)
    assert network_count_expr("eigen-out", [a, b, c], bias=False) == b + c


# --------------------------------------------------------------------- numbers <-> symbols
def _random_layer(preset, n_in, n_out, seed):
    """A float64 core layer with every array drawn at random (not the init's 1 and 0)."""
    from spectral_physics import SpectralMLP

    net = SpectralMLP([n_in, n_out], train=preset, dtype="float64", init="paper", seed=seed)
    layer = net.layers[0]
    rng = np.random.default_rng(seed)
    for name, arr in layer.arrays.items():
        if preset == "direct" and name in ("lam_in", "lam_out"):
            continue  # fixed by the direct convention
        new = rng.normal(size=arr.shape)
        setattr(layer, name, np.triu(new) if name == "R" else new)
    return net, layer


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("n_in, n_out", [(3, 2), (2, 4)])
def test_from_layer_weights_and_operator_match_core(preset, n_in, n_out):
    _, layer = _random_layer(preset, n_in, n_out, seed=n_in * 10 + n_out)
    op = TransferOperator.from_layer(layer)
    assert op.preset == layer.preset and set(op.trainable) == set(layer.trainable)
    assert op.n_trainable == layer.n_trainable
    W = np.asarray(layer.dense_weight())
    np.testing.assert_allclose(op.to_numpy("weights"), W, rtol=0, atol=1e-12)
    np.testing.assert_allclose(op.lambdify()(), W, rtol=0, atol=1e-12)
    np.testing.assert_allclose(op.to_numpy("A"), layer.transfer_operator(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(op.to_numpy("phi"), np.asarray(layer.phi), rtol=0, atol=1e-12)
    # the symbolic function takes fresh arrays too
    f = TransferOperator(n_in, n_out, preset).lambdify("A")
    np.testing.assert_allclose(f(**{n: layer.arrays[n] for n in op.input_names}),
                               layer.transfer_operator(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("preset", PRESETS)
def test_symbolic_gradients_match_core_chain_rule(preset):
    _, layer = _random_layer(preset, 3, 2, seed=7)
    op = TransferOperator.from_layer(layer)
    G = np.random.default_rng(3).normal(size=(2, 3))
    want = layer.grads_from_weight_grad(G.copy())
    got = op.lambdify_gradients()(G)
    assert set(got) == set(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=0, atol=1e-12, err_msg=name)
    # dW/dp substituted with the layer's values, against central differences of the core
    p = op.trainable_symbols[0]
    name = next(n for n in op.input_names if p in op.inputs[n])
    idx = next(i for i, s in op._entries(name) if s == p)
    h = 1e-6
    arr = np.array(layer.arrays[name])
    plus, minus = arr.copy(), arr.copy()
    plus[idx] += h
    minus[idx] -= h
    setattr(layer, name, plus)
    w_plus = np.array(layer.dense_weight())
    setattr(layer, name, minus)
    w_minus = np.array(layer.dense_weight())
    setattr(layer, name, arr)
    dW = np.array(op.weight_gradients([p])[p].evalf(), dtype=float)
    np.testing.assert_allclose(dW, (w_plus - w_minus) / (2 * h), rtol=0, atol=1e-8)


@pytest.mark.parametrize("preset", PRESETS)
def test_symbolic_gradients_match_network_loss_and_grad(preset):
    """G = delta^T x from softmax cross-entropy, chained symbolically, equals the core's grads."""
    net, layer = _random_layer(preset, 3, 2, seed=11)
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 3))
    y = rng.integers(0, 2, size=6)
    _, grads = net.loss_and_grad(x, y)
    W, b = np.asarray(layer.dense_weight()), np.asarray(layer.bias)
    z = x @ W.T + b
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta = (p - np.eye(2)[y]) / len(y)
    got = TransferOperator.from_layer(layer).lambdify_gradients()(delta.T @ x)
    for name, g in got.items():
        np.testing.assert_allclose(g, grads[0][name], rtol=0, atol=1e-12, err_msg=name)


# --------------------------------------------------------------------- whole network
def test_network_operator_structure_and_ownership():
    net = NetworkOperator([2, 3, 2], "spectral")
    A = net.A
    assert A.shape == (7, 7) and A.is_lower
    assert A[5:, :2] == sp.zeros(2, 2)  # only neighbouring groups couple
    assert A[2:5, :2] == net.layers[0].weights and A[5:, 2:5] == net.layers[1].weights
    hidden = [r for r in net.node_table() if r.role == "hidden"]
    assert len(hidden) == 3
    for r in hidden:
        assert r.lam_out == S(f"lambda^out(1)_{r.node}")
        assert r.lam_in == S(f"lambda^in(2)_{r.node}")
        assert r.diagonal == r.lam_out  # default convention, as SpectralMLP.network_operator
    assert NetworkOperator([2, 3, 2], diagonal="in").node_table()[2].diagonal == S("lambda^in(2)_1")


@pytest.mark.parametrize("diagonal", ["out", "in", "tied"])
def test_network_eigen_decomposition_proved(diagonal):
    net = NetworkOperator([2, 2, 1], "spectral", diagonal=diagonal)
    checks = net.verify(charpoly=True)
    assert all(checks.values()), checks
    P = net.eigenvectors()
    assert P.is_lower and all(P[k, k] == 1 for k in range(5))
    if diagonal != "in":  # hidden nodes keep lam_out^(1): one step down is phi^(1) itself
        assert P[2:4, :2] == net.layers[0].phi


def test_tied_network_layers_are_principal_blocks():
    net = NetworkOperator([1, 2, 2], "eigen", diagonal="tied", bias=False)
    assert net.verify()["layer operators are principal blocks"]
    assert S("lambda^in(2)_1") not in net.A.free_symbols
    assert net.n_trainable == 1 + 2 + 2  # lam_in(1), lam_out(1), lam_out(2)
    P = net.eigenvectors()
    assert P[3:5, 1:3] == net.layers[1].phi


def test_direct_deep_network_is_defective():
    with pytest.raises(ValueError, match="defective"):
        NetworkOperator([2, 2, 1], "direct").eigenvectors()
    assert all(NetworkOperator([2, 2], "direct").verify().values())
    with pytest.raises(ValueError, match="tied"):
        NetworkOperator([2, 2, 1], "direct", diagonal="tied")


@pytest.mark.parametrize("preset", PRESETS)
def test_network_operator_matches_core(preset):
    from spectral_physics import SpectralMLP

    net = SpectralMLP([2, 3, 2], train=preset, dtype="float64", init="paper", seed=4)
    op = NetworkOperator.from_network(net)
    np.testing.assert_allclose(op.to_numpy(), net.network_operator(), rtol=0, atol=1e-12)


def test_linear_network_gradients_symbolic_and_numeric():
    from spectral_physics import SpectralMLP

    sym = NetworkOperator([2, 2, 1], "eigen")
    auto, back = sym.loss_gradients(), sym.backprop_gradients()
    assert set(auto) == set(back) == set(sym.trainable_symbols)
    assert all(sp.expand(auto[s] - back[s]) == 0 for s in auto)
    assert sym.end_to_end() == sym.layers[1].weights * sym.layers[0].weights

    net = SpectralMLP([2, 2, 1], train="eigen", activation="identity", dtype="float64",
                      init="paper", seed=2)
    x, y = np.array([[0.3, -1.2]]), np.array([0.7])
    f = net.forward(x)
    grads = net.backward(f - y[:, None])  # dL/df of L = 1/2 (f - y)^2
    op = NetworkOperator.from_network(net)
    subs = {**{s: v for lay in op.layers for s, v in lay.values.items()},
            S("x_1"): 0.3, S("x_2"): -1.2, S("y_1"): 0.7}
    for k, lay in enumerate(op.layers):
        for name in ("lam_in", "lam_out", "bias"):
            got = [float(auto[s].xreplace(subs)) for s in lay.inputs[name]]
            np.testing.assert_allclose(got, grads[k][name], rtol=0, atol=1e-12)


# --------------------------------------------------------------------- printing
def test_latex_and_pretty_names():
    op = TransferOperator(2, 3)
    assert latex(op.lam_in[0]) == r"\lambda^{\mathrm{in}}_{1}"
    assert latex(op.lam_out[2]) == r"\lambda^{\mathrm{out}}_{3}"
    assert pretty(op.lam_out[2]) == "λᵒᵘᵗ₃" and pretty(op.phi[1, 0]) == "φ₂₁"
    assert op.latex("weights").startswith(r"W = \left[\begin{matrix}\phi_{11}")
    assert op.pretty("Phi").startswith("Φ =\n")
    deep = NetworkOperator([1, 1, 1])
    assert latex(deep.layers[1].lam_in[0]) == r"\lambda^{\mathrm{in}(2)}_{1}"
    wide = TransferOperator(1, 10, "spectral", bias=False)
    assert str(wide.phi[9, 0]) == "phi_10,1" and latex(wide.phi[9, 0]) == r"\phi_{10,1}"


# --------------------------------------------------------------------- CLI
def test_cli_layer_pretty_and_latex(capsys):
    assert main(["symbolic", "--sizes", "2,3"]) == 0
    out = capsys.readouterr().out
    assert "Φ =" in out and "λᵒᵘᵗ₃" in out and out.count("proved:") == 4
    assert main(["symbolic", "--sizes", "2,3", "--preset", "eigen", "--latex", "--gradients"]) == 0
    out = capsys.readouterr().out
    assert r"\lambda^{\mathrm{in}}_{1}" in out and r"\frac{\partial W}" in out
    assert "% frozen: \\phi_{11}" in out and "FAILED" not in out


def test_cli_network(capsys):
    assert main(["symbolic", "--network", "2,3,2", "--preset", "svd"]) == 0
    out = capsys.readouterr().out
    assert "A_net =" in out and "group 1 (hidden) node 3" in out
    assert main(["symbolic", "--network", "1,2,1", "--eigenvectors", "--diagonal", "tied"]) == 0
    assert "P_net =" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--sizes=0,3"], "positive integers"),
        (["--sizes=-1,3"], "positive integers"),
        (["--sizes=2.5,3"], "comma-separated positive integers"),
        (["--sizes=a,b"], "comma-separated positive integers"),
        (["--sizes=2"], "exactly 2"),
        (["--sizes=1000000,3"], "grows quadratically"),
        ([f"--sizes={MAX_SYMBOLIC_NODES},1"], "grows quadratically"),
        (["--network=3"], "at least 2"),
        (["--network=4,4,4,4"], "grows quadratically"),
        (["--preset=bogus"], "preset must be one of"),
        (["--network=2,2", "--preset=direct", "--diagonal=tied"], "tied"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(capsys, argv, message):
    assert main(["symbolic", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and err.startswith("spectral-physics symbolic: error:")


def test_from_layer_reads_one_ensemble_member():
    from spectral_physics import SpectralMLP

    net = SpectralMLP([3, 2], train="eigen", dtype="float64", init="paper", seed=[0, 1])
    layer = net.layers[0]
    with pytest.raises(ValueError, match="member"):
        TransferOperator.from_layer(layer)
    op = TransferOperator.from_layer(layer, member=1)
    np.testing.assert_allclose(op.to_numpy(), np.asarray(layer.dense_weight())[1], rtol=0, atol=1e-12)
