"""fit(): determinism, divergence, early stopping, callbacks, checkpoints, ensembles, objective hooks."""

import numpy as np
import pytest

from spectral_physics import Callback, DivergenceError, SpectralMLP, fit, load_network, teacher_student
from spectral_physics.io import Checkpoint
from spectral_physics.optim import SGD, Adam
from spectral_physics.train import cross_entropy_loss_and_grad


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
    seen = []

    class Check(Callback):  # runs after the checkpoint: the file of this epoch is there
        def on_epoch_end(self, net, epoch, record):
            seen.append((len(load_network(path, with_history=True)[1].records),
                         np.array(load_network(path).layers[0].lam_in), np.array(net.layers[0].lam_in)))

    net = SpectralMLP([12, 16, 3], train="eigen", seed=0)
    fit(net, data, epochs=2, batch_size=100, lr=0.05, progress=False, callbacks=[Checkpoint(path), Check()])
    assert [n for n, _, _ in seen] == [1, 2]
    for _, saved, live in seen:
        np.testing.assert_array_equal(saved, live)
    loaded, hist = load_network(path, with_history=True)
    assert len(hist.records) == 2
    np.testing.assert_array_equal(loaded.layers[0].lam_in, net.layers[0].lam_in)


def test_checkpoint_every_and_final_save_holds_the_restored_best(tmp_path, data):
    path = tmp_path / "best.npz"
    saves = []

    class Count(Callback):
        def on_epoch_end(self, net, epoch, record):
            saves.append(path.exists())

    net = SpectralMLP([12, 16, 3], train="direct", seed=0)
    h = fit(net, data, epochs=30, batch_size=50, lr=0.3, optimizer="sgd", val_fraction=0.3, patience=2,
            progress=False, callbacks=[Count(), Checkpoint(path, every=2)])
    assert h.stopped_early and saves[:2] == [False, False] and saves[2]  # first save after epoch 2
    loaded, hist = load_network(path, with_history=True)
    assert hist.best_epoch == h.best_epoch and len(hist.records) == len(h.records)
    np.testing.assert_array_equal(loaded.layers[0].weight, net.layers[0].weight)
    with pytest.raises(ValueError, match="every"):
        Checkpoint(path, every=0)


def test_train_and_io_import_in_one_direction():
    import ast
    import inspect

    import spectral_physics.io as io_mod
    import spectral_physics.train as train_mod

    def imported(mod):
        names = set()
        for node in ast.walk(ast.parse(inspect.getsource(mod))):
            if isinstance(node, ast.ImportFrom):
                names.add(("." * node.level) + (node.module or ""))
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        return names

    assert not {".io", "spectral_physics.io"} & imported(train_mod)
    assert ".train" in imported(io_mod)


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


def test_optimizer_instance_with_lr_l1_or_l2_is_an_error(data):
    net = SpectralMLP([12, 3], seed=0)
    for kw, named in (({"lr": 0.1}, "lr"), ({"l1": {"lam_in": 1e-3}}, "l1"), ({"l2": {"*": 1e-3}}, "l2"),
                      ({"lr": 0.1, "l2": {"*": 1e-3}}, "lr, l2")):
        with pytest.raises(ValueError, match=f"Optimizer instance.*pass {named} "):
            fit(net, data, epochs=1, optimizer=SGD(lr=0.1), progress=False, **kw)
    # alone, the instance is used as it is
    h = fit(net, data, epochs=1, optimizer=Adam(lr=1e-2), progress=False)
    assert len(h.records) == 1


def test_default_objective_as_explicit_hook_is_bit_for_bit(data):
    nets = [SpectralMLP([12, 16, 3], train="spectral", seed=4) for _ in range(2)]
    h0 = fit(nets[0], data, epochs=2, batch_size=50, lr=1e-2, progress=False)
    calls = []

    def hook(net, x, y):
        calls.append(x.shape)
        return cross_entropy_loss_and_grad(net, x, y)

    h1 = fit(nets[1], data, epochs=2, batch_size=50, lr=1e-2, progress=False, loss_and_grad=hook)
    assert len(calls) == 2 * 12 and calls[0] == (50, 12)
    for a, b in zip(_arrays(nets[0]), _arrays(nets[1])):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    assert h0["loss"] == h1["loss"] and h0["train_accuracy"] == h1["train_accuracy"]


def test_label_free_hook_max_steps_drop_last_and_generator_seed(data):
    """A label-free objective (mean squared logits) on (x, None): no accuracies, steps capped."""
    from spectral_physics.backend import host_rng

    def shrink(net, x, y):
        assert y is None
        f = net.forward(x, check=False)
        return float((f * f).mean()), net.backward(2.0 * f / f.size), None

    net = SpectralMLP([12, 16, 3], train="direct", seed=0, dtype="float64")
    seen = []

    class Steps(Callback):
        def on_step_end(self, net, epoch, step):
            seen.append((epoch, step))

    # 600 examples, batches of 250, drop_last: 2 steps per epoch; 5 steps = 3 epochs, the last partial
    rng = host_rng(np.random.SeedSequence([0, 1]))
    h = fit(net, (data.x_train, None), epochs=10, batch_size=250, drop_last=True, max_steps=5, lr=1e-2,
            loss_and_grad=shrink, callbacks=[Steps()], seed=rng, progress=False)
    assert seen == [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1)]
    assert [r["epoch"] for r in h.records] == [1, 2, 3]
    assert all(r["train_accuracy"] is None and r["val_accuracy"] is None and r["test_accuracy"] is None
               for r in h.records)
    assert h["loss"][-1] < h["loss"][0]
    # the Generator drew the data order: the integer seed 0 draws from the same stream
    again = SpectralMLP([12, 16, 3], train="direct", seed=0, dtype="float64")
    h2 = fit(again, (data.x_train, None), epochs=10, batch_size=250, drop_last=True, max_steps=5, lr=1e-2,
             loss_and_grad=shrink, seed=0, progress=False)
    assert h2["loss"] == h["loss"]
    with pytest.raises(ValueError, match="loss_and_grad"):
        fit(net, (data.x_train, None), progress=False)
    with pytest.raises(ValueError, match="drop_last"):
        fit(net, (data.x_train[:10], None), batch_size=20, drop_last=True, loss_and_grad=shrink, progress=False)
    with pytest.raises(ValueError, match="max_steps"):
        fit(net, data, max_steps=-1, progress=False)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_divergence_after_the_very_last_update_is_caught(data):
    """One step in all: its loss is finite, the update makes the weights non-finite."""
    net = SpectralMLP([12, 16, 3], train="direct", seed=0)
    with pytest.raises(DivergenceError, match=r"epoch 1, step 1 \(parameters are not finite") as info:
        fit(net, data, epochs=1, batch_size=600, optimizer="sgd", lr=float("inf"), progress=False)
    assert np.isfinite(info.value.loss) and info.value.members is None
    ens = SpectralMLP([12, 16, 3], train="direct", seed=[0, 1, 2])

    def poison(net, x, y):  # an infinite gradient for member 2 only
        loss, grads, logits = cross_entropy_loss_and_grad(net, x, y)
        grads[0]["weight"][2] = np.inf
        return loss, grads, logits

    with pytest.raises(DivergenceError, match=r"member\(s\) \[2\]: .*step 1 \(parameters") as info:
        fit(ens, data, epochs=1, batch_size=600, optimizer="sgd", lr=1e-3, progress=False, loss_and_grad=poison)
    assert info.value.members == [2] and (info.value.epoch, info.value.step) == (1, 1)
    assert np.isfinite(info.value.loss).all()


def test_loss_above_max_loss_diverges(data):
    def big(net, x, y):
        loss, grads, logits = cross_entropy_loss_and_grad(net, x, y)
        return loss * 1e7, grads, logits

    kw = dict(epochs=2, batch_size=100, lr=1e-3, progress=False, loss_and_grad=big)
    with pytest.raises(DivergenceError, match=r"epoch 1, step 1 \(the loss exceeds max_loss=1e\+06\)"):
        fit(SpectralMLP([12, 16, 3], seed=0), data, **kw)
    h = fit(SpectralMLP([12, 16, 3], seed=0), data, max_loss=float("inf"), **kw)
    assert len(h.records) == 2
    h = fit(SpectralMLP([12, 16, 3], seed=0), data, max_loss=1e10, **kw)
    assert len(h.records) == 2
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="max_loss"):
            fit(SpectralMLP([12, 3], seed=0), data, max_loss=bad, progress=False)
