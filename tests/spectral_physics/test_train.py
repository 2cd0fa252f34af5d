"""fit(): determinism, divergence, early stopping, callbacks, checkpoints, ensembles."""

import numpy as np
import pytest

from spectral_physics import Callback, DivergenceError, SpectralMLP, fit, load_network, teacher_student


@pytest.fixture(scope="module")
def data():
    return teacher_student(n_train=600, n_test=200, n_features=12, n_classes=3, hidden=(16,), seed=0)


def _arrays(net):
    return [{k: np.array(v) for k, v in layer.arrays.items()} for layer in net.layers]


def test_same_seed_same_result_bit_for_bit(data):
    runs = []
    for _ in range(2):
        net = SpectralMLP([12, 16, 3], train="spectral", seed=4)
        h = fit(net, data, epochs=2, batch_size=50, lr=1e-2, progress=False)
        runs.append((_arrays(net), h.as_dict()["loss"]))
    for a, b in zip(runs[0][0], runs[1][0]):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    assert runs[0][1] == runs[1][1]


def test_training_reduces_loss_and_history_is_complete(data):
    net = SpectralMLP([12, 16, 3], train="eigen", seed=0)
    h = fit(net, data, epochs=3, batch_size=50, lr=0.05, val_fraction=0.2, progress=False)
    losses = h["loss"]
    assert losses[-1] < losses[0]
    rec = h.records[-1]
    assert set(rec) >= {"epoch", "loss", "train_accuracy", "val_accuracy", "test_accuracy", "seconds"}
    assert 0 <= rec["test_accuracy"] <= 1 and rec["seconds"] > 0


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf weights, on purpose
def test_divergence_names_epoch_and_step(data):
    net = SpectralMLP([12, 16, 3], train="direct", seed=0)

    class Blowup(Callback):
        def on_step_end(self, net, epoch, step):
            if epoch == 2 and step == 3:
                net.layers[0].weight[...] = np.inf

    with pytest.raises(DivergenceError, match=r"epoch 2, step 4") as info:
        fit(net, data, epochs=3, batch_size=100, lr=1e-3, progress=False, callbacks=[Blowup()])
    assert (info.value.epoch, info.value.step) == (2, 4)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # inf weights, on purpose
def test_divergence_names_ensemble_members(data):
    net = SpectralMLP([12, 16, 3], train="direct", seed=[0, 1, 2])

    class Blowup(Callback):
        def on_step_end(self, net, epoch, step):
            if epoch == 1 and step == 2:
                net.layers[0].weight[1] = np.inf

    with pytest.raises(DivergenceError, match=r"member\(s\) \[1\]: .* epoch 1, step 3") as info:
        fit(net, data, epochs=2, batch_size=100, lr=1e-3, progress=False, callbacks=[Blowup()])
    assert info.value.members == [1] and (info.value.epoch, info.value.step) == (1, 3)
    assert np.isfinite(info.value.loss[0]) and not np.isfinite(info.value.loss[1])


def test_early_stopping_restores_best(data):
    net = SpectralMLP([12, 16, 3], train="direct", seed=0)
    seen = []

    class Spy(Callback):
        def on_epoch_end(self, net, epoch, record):
            seen.append((record["val_accuracy"], _arrays(net)))

    h = fit(net, data, epochs=30, batch_size=50, lr=0.3, optimizer="sgd", val_fraction=0.3, patience=2,
            progress=False, callbacks=[Spy()])
    assert h.stopped_early and len(h.records) < 30
    best = int(np.argmax([s[0] for s in seen]))
    assert h.best_epoch == best + 1
    for k, v in _arrays(net)[0].items():
        np.testing.assert_array_equal(v, seen[best][1][0][k])


def test_checkpoint_written_every_epoch(tmp_path, data):
    path = tmp_path / "run.npz"

    class Check(Callback):
        def on_epoch_end(self, net, epoch, record):
            self.before = path.exists()

    net = SpectralMLP([12, 16, 3], train="eigen", seed=0)
    fit(net, data, epochs=2, batch_size=100, lr=0.05, progress=False, checkpoint=str(path))
    loaded, hist = load_network(path, with_history=True)
    assert len(hist.records) == 2
    np.testing.assert_array_equal(loaded.layers[0].lam_in, net.layers[0].lam_in)


def test_ensemble_training_equals_members_trained_alone(data):
    seeds = [1, 2, 3]
    ens = SpectralMLP([12, 16, 3], train="spectral", seed=seeds)
    he = fit(ens, data, epochs=2, batch_size=64, lr=1e-2, progress=False)
    for e, s in enumerate(seeds):
        single = SpectralMLP([12, 16, 3], train="spectral", seed=s)
        hs = fit(single, data, epochs=2, batch_size=64, lr=1e-2, progress=False)
        for le, ls in zip(ens.layers, single.layers):
            for k in ls.arrays:
                np.testing.assert_allclose(le.arrays[k][e], ls.arrays[k], rtol=0, atol=1e-6)
        assert abs(he.records[-1]["test_accuracy"][e] - hs.records[-1]["test_accuracy"]) < 1e-9


@pytest.mark.parametrize(("kw", "match"), [({"epochs": -1}, "epochs"), ({"batch_size": 0}, "batch_size"),
                                           ({"val_fraction": 1.5}, "val_fraction"),
                                           ({"patience": 2}, "patience")])
def test_bad_fit_arguments(kw, match, data):
    with pytest.raises(ValueError, match=match):
        fit(SpectralMLP([12, 3], seed=0), data, progress=False, **kw)


def test_bad_training_data_is_rejected(data):
    net = SpectralMLP([12, 3], seed=0)
    x = np.array(data.x_train)
    x[5, 0] = np.nan
    with pytest.raises(ValueError, match="x_train"):
        fit(net, (x, data.y_train), progress=False)
    with pytest.raises(ValueError, match="y_train"):
        fit(net, (data.x_train, data.y_train + 5), progress=False)


@pytest.mark.parametrize("preset", ["direct", "eigen", "spectral"])
def test_training_on_each_device_matches_the_cpu(device, preset, data):
    """Same seed, same data order: the device run follows the CPU run (float64, 1e-8)."""
    from spectral_physics.backend import to_numpy

    nets = []
    for dev in ("cpu", device):
        net = SpectralMLP([12, 16, 3], train=preset, seed=6, dtype="float64", device=dev)
        fit(net, data, epochs=2, batch_size=50, lr=1e-2, progress=False)
        nets.append(net)
    for a, b in zip(nets[0].layers, nets[1].layers):
        for k in a.arrays:
            np.testing.assert_allclose(to_numpy(a.arrays[k]), to_numpy(b.arrays[k]), atol=1e-8)
