"""The preset table: counts against the old formulas and SymPy, and every reader agreeing with it."""

from __future__ import annotations

import numpy as np
import pytest

import spectral_physics
from spectral_physics import SpectralMLP, layers, presets, pruning, symbolic
from spectral_physics.presets import EXPLICIT, PRESETS, Preset, get_preset, trainable_count

NAMES = ["direct", "eigen-out", "eigen", "spectral", "svd", "qr"]
EXPLICIT_SETS = ["lam_out+phi", "lam_in+phi", ("phi",), ("lam_in",), ["lam_out", "lam_in"]]
SHAPES = [(1, 1), (2, 3), (3, 2), (5, 5), (784, 500), (500, 10), (10, 784)]


def _old_count(preset, n_in, n_out, bias=True):
    """The formula layers.trainable_count had before the table (kept verbatim as the reference)."""
    names = {
        "direct": ("weight",), "eigen-out": ("lam_out",), "eigen": ("lam_in", "lam_out"),
        "spectral": ("phi", "lam_in", "lam_out"), "svd": ("s", "lam_in", "lam_out"),
        "qr": ("R", "lam_in", "lam_out"),
    }[preset]
    r = min(n_in, n_out)
    size = {"weight": n_in * n_out, "phi": n_in * n_out, "lam_in": n_in, "lam_out": n_out,
            "s": r, "R": r * (r + 1) // 2}
    return sum(size[n] for n in names) + (n_out if bias else 0)


def test_the_table():
    assert list(PRESETS) == NAMES
    assert layers.PRESETS is PRESETS and spectral_physics.PRESETS is PRESETS
    assert spectral_physics.trainable_count is trainable_count is layers.trainable_count
    rows = {n: (p.parametrisation, p.trainable, p.stored) for n, p in PRESETS.items()}
    assert rows == {
        "direct": ("direct", ("weight",), ("weight",)),
        "eigen-out": ("phi", ("lam_out",), ("phi", "lam_in", "lam_out")),
        "eigen": ("phi", ("lam_in", "lam_out"), ("phi", "lam_in", "lam_out")),
        "spectral": ("phi", ("phi", "lam_in", "lam_out"), ("phi", "lam_in", "lam_out")),
        "svd": ("svd", ("s", "lam_in", "lam_out"), ("U", "s", "V", "lam_in", "lam_out")),
        "qr": ("qr", ("R", "lam_in", "lam_out"), ("R", "Q", "lam_in", "lam_out")),
    }
    assert PRESETS["direct"].fixed == ("lam_in", "lam_out")
    assert PRESETS["eigen-out"].frozen == ("phi", "lam_in")
    with pytest.raises(AttributeError):
        PRESETS["eigen"].trainable = ("phi",)  # frozen rows


@pytest.mark.parametrize("preset", NAMES)
@pytest.mark.parametrize("bias", [True, False])
def test_counts_equal_old_formulas_and_sympy(preset, bias):
    expr = symbolic.trainable_count_expr(preset, bias=bias)
    for n_in, n_out in SHAPES:
        want = _old_count(preset, n_in, n_out, bias)
        assert PRESETS[preset].count(n_in, n_out, bias) == want
        assert trainable_count(preset, n_in, n_out, bias) == want
        assert expr.subs({symbolic.N_IN: n_in, symbolic.N_OUT: n_out}) == want
    for n_in, n_out in [(2, 3), (3, 2)]:
        op = symbolic.TransferOperator(n_in, n_out, preset, bias=bias)
        assert op.n_trainable == PRESETS[preset].count(n_in, n_out, bias)  # symbols counted one by one


def test_known_counts():
    # README: eigen on 784-500-10 trains 2,304 numbers (biases included) against 397,510 for direct
    assert sum(trainable_count("eigen", a, b) for a, b in [(784, 500), (500, 10)]) == 2304
    assert sum(trainable_count("direct", a, b) for a, b in [(784, 500), (500, 10)]) == 397510
    assert SpectralMLP([784, 500, 10], train="eigen").n_trainable == 2304


@pytest.mark.parametrize("train", NAMES + EXPLICIT_SETS)
def test_layers_and_symbolic_store_what_the_table_says(train):
    spec = get_preset(train)
    net = SpectralMLP([4, 3], train=train, dtype="float64")
    layer = net.layers[0]
    assert layer.spec == spec
    assert (layer.preset, layer.parametrisation) == (spec.name, spec.parametrisation)
    assert layer.trainable == spec.trainable + ("bias",)
    assert set(layer.arrays) == set(spec.stored + spec.fixed + ("bias",))
    op = symbolic.TransferOperator(4, 3, train)
    assert op.spec == spec and op.input_names == spec.stored + ("bias",)
    assert op.trainable == layer.trainable
    assert op.n_trainable == layer.n_trainable == spec.count(4, 3)


@pytest.mark.parametrize(
    "train, name, trainable",
    [
        ("lam_out+phi", "phi+lam_out", ("phi", "lam_out")),
        (["lam_out", "lam_in"], "lam_in+lam_out", ("lam_in", "lam_out")),
        ({"phi"}, "phi", ("phi",)),
    ],
)
def test_explicit_sets(train, name, trainable):
    p = get_preset(train)
    assert (p.name, p.parametrisation, p.trainable, p.stored) == (name, "phi", trainable, EXPLICIT)
    assert layers.parse_train(train) == (name, "phi", trainable)
    assert get_preset(p) is p


# a lone name must be a preset: "phi" alone is refused (pass ["phi"]), as it always was
@pytest.mark.parametrize("bad", ["bogus", "phi", "phi+bogus", [], "eigen+phi", ["weight"]])
def test_bad_names(bad):
    with pytest.raises(ValueError, match="^train must be one of"):
        get_preset(bad)
    with pytest.raises(ValueError, match="^preset must be one of"):
        symbolic.TransferOperator(2, 2, bad)


def test_rows_are_checked():
    with pytest.raises(ValueError, match="parametrisation"):
        Preset("x", "fourier", ("phi",), ("phi",))
    with pytest.raises(ValueError, match="subset"):
        Preset("x", "svd", ("phi",), presets.STORED["svd"])


@pytest.mark.parametrize("param", ["svd", "qr"])
@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)])
def test_factorise_reconstructs_phi(param, shape):
    phi = np.random.default_rng(0).normal(size=shape)
    f = layers.factorise(param, phi)
    assert set(f) == set(presets.STORED[param]) - {"lam_in", "lam_out"}
    if param == "svd":
        got = (f["U"] * f["s"]) @ f["V"]
    else:
        assert np.array_equal(f["R"], np.triu(f["R"]))
        got = f["R"] @ f["Q"] if shape[0] <= shape[1] else f["Q"] @ f["R"]
    np.testing.assert_allclose(got, phi, atol=1e-12)
    with pytest.raises(ValueError, match="factorise"):
        layers.factorise("phi", phi)


def test_with_preset_reads_the_table():
    net = SpectralMLP([4, 3, 2], train="eigen", dtype="float64")
    assert pruning.with_preset(net, "spectral").preset == "spectral"
    with pytest.raises(ValueError, match="parametrisation"):
        pruning.with_preset(net, "svd")
