"""Must-show accuracies on real MNIST (784-500-10, ReLU, batch 200).

- direct reaches >= 97 % test accuracy in 5 epochs;
- eigen (two sets of eigenvalues) clearly beats eigen-out at equal epochs;
- spectral matches direct within 1 point.
"""

import pytest

from spectral_physics import SpectralMLP, fit, load_dataset

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def mnist(data_root):
    return load_dataset("mnist", root=data_root)


@pytest.fixture(scope="module")
def direct_accuracy(mnist):
    net = SpectralMLP([784, 500, 10], train="direct", activation="relu", seed=0)
    fit(net, mnist, epochs=5, batch_size=200, lr=1e-3, progress=False)
    return net.accuracy(mnist.x_test, mnist.y_test)


def test_direct_reaches_97_percent_in_5_epochs(direct_accuracy):
    assert direct_accuracy >= 0.97


def test_spectral_matches_direct_within_one_point(mnist, direct_accuracy):
    net = SpectralMLP([784, 500, 10], train="spectral", activation="relu", seed=0)
    fit(net, mnist, epochs=5, batch_size=200, lr=1e-3, progress=False)
    acc = net.accuracy(mnist.x_test, mnist.y_test)
    assert abs(acc - direct_accuracy) <= 0.01, (acc, direct_accuracy)


def test_two_sets_of_eigenvalues_beat_one(mnist):
    acc = {}
    for preset in ("eigen", "eigen-out"):
        net = SpectralMLP([784, 500, 10], train=preset, activation="relu", seed=0)
        fit(net, mnist, epochs=2, batch_size=200, lr=0.05, progress=False)
        acc[preset] = net.accuracy(mnist.x_test, mnist.y_test)
    # measured: eigen 0.913, eigen-out 0.772 (lr 0.05, 2 epochs)
    assert acc["eigen"] >= acc["eigen-out"] + 0.05, acc
    assert acc["eigen"] >= 0.85, acc
