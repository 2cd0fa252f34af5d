"""Optimisers against hand-computed updates."""

import numpy as np
import pytest

from spectral_physics.optim import SGD, Adam, Adamax, make_optimizer


def test_adam_first_steps_match_formula(kernel_impl):
    p = {"w": np.array([1.0, -2.0])}
    g1, g2 = np.array([0.5, -4.0]), np.array([-1.0, 2.0])
    opt = Adam(lr=0.1, eps=1e-8)
    opt.step([p], [{"w": g1}])
    # first Adam step moves every coordinate by lr * sign(g) (up to eps)
    np.testing.assert_allclose(p["w"], [0.9, -1.9], atol=1e-7)
    opt.step([p], [{"w": g2}])
    m = 0.9 * 0.1 * g1 + 0.1 * g2
    v = 0.999 * 0.001 * g1**2 + 0.001 * g2**2
    step = 0.1 * (m / (1 - 0.81)) / (np.sqrt(v / (1 - 0.999**2)) + 1e-8)
    np.testing.assert_allclose(p["w"], np.array([0.9, -1.9]) - step, rtol=1e-6)


def test_sgd_momentum_and_penalties(kernel_impl):
    p = {"w": np.array([2.0])}
    opt = SGD(lr=0.1, momentum=0.5, l2={"w": 0.25}, l1={"w": 1.0})
    opt.step([p], [{"w": np.array([1.0])}])
    # g = 1 + 2*0.25*2 + 1*sign(2) = 3; v = 3; w = 2 - 0.3
    np.testing.assert_allclose(p["w"], [1.7])
    opt.step([p], [{"w": np.array([0.0])}])
    g = 0 + 0.5 * 1.7 + 1.0
    np.testing.assert_allclose(p["w"], [1.7 - 0.1 * (0.5 * 3 + g)])


def test_adamax_first_step(kernel_impl):
    p = {"w": np.array([0.0, 0.0])}
    Adamax(lr=0.015, eps=0.0).step([p], [{"w": np.array([3.0, -0.5])}])
    np.testing.assert_allclose(p["w"], [-0.015, 0.015])


def test_penalty_applies_only_to_named_arrays():
    p = {"lam_in": np.array([1.0]), "phi": np.array([1.0])}
    SGD(lr=1.0, momentum=0.0, l1={"lam_in": 0.5}).step([p], [{"lam_in": np.zeros(1), "phi": np.zeros(1)}])
    assert p["lam_in"][0] == 0.5 and p["phi"][0] == 1.0


@pytest.mark.parametrize("bad", [{"lr": -1.0}, {"lr": 0.0}, {"lr": float("nan")}])
def test_bad_learning_rate(bad):
    with pytest.raises(ValueError, match="lr"):
        Adam(**bad)


def test_make_optimizer():
    assert isinstance(make_optimizer("adamax"), Adamax)
    assert make_optimizer("adam", 0.5).lr == 0.5
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer("lbfgs")
    with pytest.raises(ValueError, match="l1"):
        SGD(l1={"w": -1.0})
