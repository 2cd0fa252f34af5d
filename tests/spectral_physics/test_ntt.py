"""Neural Tangent Transfer: exact gradient (finite differences), loss parts, the transfer loop, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spectral_physics import SpectralMLP
from spectral_physics.ntk import empirical_ntk
from spectral_physics.ntt import (
    make_teacher,
    neural_tangent_transfer,
    ntt_loss_and_grad,
    supervised_phase,
    teacher_targets,
)
from spectral_physics.sparse import apply_masks, magnitude_masks


def _pair(act, density, rng, sizes=(5, 7, 6, 3)):
    teacher = make_teacher(list(sizes), activation=act, seed=1, dtype="float64", bias_std=0.3)
    student = teacher.copy()
    for layer in student.layers:
        layer.weight = layer.weight + 0.3 * rng.normal(size=layer.weight.shape)
        layer.bias = layer.bias + 0.1 * rng.normal(size=layer.n_out)
    if density < 1:
        apply_masks(student, magnitude_masks(student, density))
    return teacher, student


@pytest.mark.parametrize("act", ["relu", "tanh"])
@pytest.mark.parametrize("kind", ["masked-dense", "sparse"])
@pytest.mark.parametrize("density", [1.0, 0.5])
def test_ntt_gradient_matches_central_differences(act, kind, density, rng):
    teacher, student = _pair(act, density, rng)
    x = rng.normal(size=(6, 5))
    f_t, th_t = teacher_targets(teacher, x, kind)
    # a large lambda_K so the kernel term (the double backpropagation) dominates the check
    kw = dict(density=density, lambda_k=0.7, lambda_2=0.05, kind=kind)
    loss, parts, grads = ntt_loss_and_grad(student, x, f_t, th_t, **kw)
    assert parts["kernel_dist"] * 0.7 > parts["target_dist"]
    eps = 1e-6
    for l, layer in enumerate(student.layers):
        for name, p in layer.params.items():
            num = np.zeros_like(p)
            for idx in np.ndindex(p.shape):
                old = p[idx]
                p[idx] = old + eps
                up = ntt_loss_and_grad(student, x, f_t, th_t, grad=False, **kw)[0]
                p[idx] = old - eps
                down = ntt_loss_and_grad(student, x, f_t, th_t, grad=False, **kw)[0]
                p[idx] = old
                num[idx] = (up - down) / (2 * eps)
            np.testing.assert_allclose(grads[l][name], num, rtol=0, atol=1e-7 * max(1.0, np.abs(num).max()))
            if name == "weight" and layer.mask is not None:
                assert not np.any(grads[l][name][~layer.mask])


def test_loss_parts_match_their_definitions(rng):
    teacher, student = _pair("tanh", 0.5, rng)
    x = rng.normal(size=(8, 5))
    for kind in ("sparse", "masked-dense"):
        f_t, th_t = teacher_targets(teacher, x, kind)
        np.testing.assert_allclose(th_t, empirical_ntk(teacher, x[:4], x[4:]), rtol=1e-12)
        loss, parts, _ = ntt_loss_and_grad(student, x, f_t, th_t, density=0.5, lambda_k=1e-3,
                                           lambda_2=1e-4, kind=kind, grad=False)
        th_s = empirical_ntk(student, x[:4], x[4:], kind=kind)
        f_s = student.forward(x)
        assert parts["kernel_dist"] == pytest.approx(np.mean((th_s - th_t) ** 2), rel=1e-12)
        assert parts["target_dist"] == pytest.approx(np.mean((f_s - f_t) ** 2), rel=1e-12)
        l2 = sum(float((layer.weight_matrix() ** 2).sum()) for layer in student.layers)
        assert parts["l2"] == pytest.approx(l2, rel=1e-12)
        expect = 1e-3 * parts["kernel_dist"] + parts["target_dist"] + 1e-4 / 0.5 * l2
        assert loss == pytest.approx(expect, rel=1e-12)


def test_student_equal_to_teacher_has_only_the_penalty(rng):
    teacher = make_teacher([5, 6, 3], activation="tanh", seed=2, dtype="float64")
    x = rng.normal(size=(4, 5))
    f_t, th_t = teacher_targets(teacher, x)
    loss, parts, grads = ntt_loss_and_grad(teacher.copy(), x, f_t, th_t, density=1.0, lambda_2=0.0)
    assert loss == 0.0 and parts["kernel_dist"] == 0.0 and parts["target_dist"] == 0.0
    assert all(not np.any(g["weight"]) and not np.any(g["bias"]) for g in grads)


def test_teacher_is_glorot_normal_with_small_normal_biases():
    t = make_teacher([400, 300, 10], seed=0, dtype="float64", bias_std=0.01)
    w = t.layers[0].weight
    assert t.preset == "direct"
    assert np.std(w) == pytest.approx(np.sqrt(2 / 700), rel=0.02)
    assert abs(np.mean(w)) < 1e-3
    assert np.std(t.layers[0].bias) == pytest.approx(0.01, rel=0.3)
    assert not np.allclose(make_teacher([400, 300, 10], seed=1, dtype="float64").layers[0].weight, w)


def _blobs(n, d, seed):
    return np.random.default_rng(seed).random((n, d))


def test_transfer_reduces_validation_loss_and_keeps_density():
    x = _blobs(600, 30, 0)
    teacher = make_teacher([30, 40, 20, 5], seed=0)
    res = neural_tangent_transfer(teacher, x, 0.1, steps=120, lr=2e-3, mask_every=30, val_every=40,
                                  progress=False, seed=3)
    h = res.history
    assert h["step"] == [0, 40, 80, 120]
    assert h["val_loss"][-1] < 0.7 * h["val_loss"][0]
    for layer, m in zip(res.student.layers, res.masks):
        assert m.sum() == round(0.1 * m.size)
        assert layer.mask is m
    # re-chosen at 30, 60 (not at 90 or later: no re-choice in the last mask_every steps)
    assert [s for s, _ in h["mask_changes"]] == [30, 60]
    # the teacher is untouched and the run is reproducible
    assert teacher.layers[0].mask is None
    # a caller's callback sees every step and changes nothing
    from spectral_physics.train import Callback

    class Count(Callback):
        steps = 0

        def on_step_end(self, net, epoch, step):
            Count.steps += 1

    again = neural_tangent_transfer(teacher, x, 0.1, steps=120, lr=2e-3, mask_every=30, val_every=40,
                                    progress=False, seed=3, callbacks=[Count()])
    np.testing.assert_array_equal(again.student.layers[0].weight, res.student.layers[0].weight)
    assert Count.steps == 120


def test_supervised_phase_keeps_the_mask_fixed():
    from spectral_physics.datasets import teacher_student

    data = teacher_student(n_train=512, n_test=128, n_features=20, n_classes=3, seed=0)
    teacher = make_teacher([20, 16, 3], seed=0)
    res = neural_tangent_transfer(teacher, data.x_train, 0.3, steps=10, progress=False)
    net = res.student
    before = [layer.weight.copy() for layer in net.layers]
    hist = supervised_phase(net, data, epochs=2, progress=False)
    assert len(hist.records) == 2
    for layer, w0 in zip(net.layers, before):
        np.testing.assert_array_equal(layer.weight[~layer.mask], w0[~layer.mask])
        assert np.any(layer.weight[layer.mask] != w0[layer.mask])


def test_bad_inputs(rng):
    teacher = make_teacher([5, 6, 3], seed=0, dtype="float64")
    x = rng.normal(size=(200, 5))
    for d in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="density"):
            neural_tangent_transfer(teacher, x, d, steps=1, progress=False)
    with pytest.raises(ValueError, match="x"):
        neural_tangent_transfer(teacher, rng.normal(size=(200, 4)), 0.5, steps=1, progress=False)
    with pytest.raises(ValueError, match="direct"):
        neural_tangent_transfer(SpectralMLP([5, 6, 3], train="eigen"), x, 0.5, steps=1, progress=False)
    with pytest.raises(ValueError, match="kind"):
        neural_tangent_transfer(teacher, x, 0.5, steps=1, kind="dense", progress=False)
    f_t, th_t = teacher_targets(teacher, x[:6])
    with pytest.raises(ValueError, match="density"):
        ntt_loss_and_grad(teacher, x[:6], f_t, th_t, density=0.0)
    with pytest.raises(ValueError, match="theta_t"):
        ntt_loss_and_grad(teacher, x[:6], f_t, th_t[:2], density=1.0)
    with pytest.raises(ValueError, match="x"):
        ntt_loss_and_grad(teacher, x[:6, :4], f_t, th_t, density=1.0)


def test_cli_ntt_on_teacher_student_data(tmp_path, capsys):
    from spectral_physics.cli import main
    from spectral_physics.io import load_network

    out = tmp_path / "ntt.npz"
    rc = main(["ntt", "--dataset", "teacher-student", "--subset", "600", "--sizes", "100,32,10",
               "--density", "0.2", "--steps", "20", "--val-every", "10", "--epochs", "1",
               "--out", str(out), "--json", "--no-progress"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["density"] == 0.2 and 0 <= res["test_accuracy"] <= 1
    assert res["ntt_history"]["step"] == [0, 10, 20]
    net = load_network(out)
    assert net.layers[0].mask.mean() == pytest.approx(0.2)
    assert main(["ntt", "--dataset", "teacher-student", "--density", "1.5", "--steps", "1"]) == 2
    assert "density" in capsys.readouterr().err


def test_memory_budget_refuses_a_huge_batch_before_allocating():
    import tracemalloc

    teacher = make_teacher([784, 300, 100, 10], seed=0)
    x = np.zeros((12000, 784), dtype=np.float32)  # a 6000 x 6000 x 10 x 10 kernel: 14 GB
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="memory_budget"):
            neural_tangent_transfer(teacher, x, 0.1, batch_size=10000, progress=False)
        with pytest.raises(ValueError, match="memory_budget"):
            teacher_targets(teacher, x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20


def test_global_scope_keeps_the_overall_density():
    x = _blobs(300, 30, 1)
    teacher = make_teacher([30, 40, 20, 5], seed=0)
    res = neural_tangent_transfer(teacher, x, 0.1, steps=25, mask_every=10, progress=False, scope="global")
    kept = sum(int(m.sum()) for m in res.masks)
    assert kept == round(0.1 * sum(m.size for m in res.masks))
    assert len({round(float(m.mean()), 3) for m in res.masks}) > 1  # layers differ in density
    with pytest.raises(ValueError, match="scope"):
        neural_tangent_transfer(teacher, x, 0.1, steps=1, progress=False, scope="row")


def test_transfer_numbers_are_those_of_the_loop_before_it_used_fit():
    """Recorded with NTT's own training loop (before it ran through fit): same seed, same numbers."""
    x = _blobs(600, 30, 0)
    teacher = make_teacher([30, 40, 20, 5], seed=0, dtype="float64")
    res = neural_tangent_transfer(teacher, x, 0.1, steps=120, lr=2e-3, mask_every=30, val_every=40,
                                  progress=False, seed=3)
    h = res.history
    np.testing.assert_allclose(h["val_loss"], [0.13770714969147357, 0.09299816854436399,
                                               0.06923196573198027, 0.052714507793956394], rtol=1e-7)
    np.testing.assert_allclose(h["val_kernel_dist"], [23.561817742264278, 16.39260502253623,
                                                      8.415729463673266, 5.150509405407454], rtol=1e-7)
    np.testing.assert_allclose(h["train_loss"][1:], [0.1111302889831288, 0.08319299661715404,
                                                     0.0584347401163795], rtol=1e-7)
    assert h["train_loss"][0] is None and h["mask_changes"] == [(30, 45), (60, 73)]
    assert float(res.student.layers[0].weight.sum()) == pytest.approx(6.635200772761193, rel=1e-7)
    x = _blobs(600, 30, 0)
    teacher = make_teacher([30, 40, 20, 5], activation="tanh", seed=0, dtype="float64")
    res = neural_tangent_transfer(teacher, x, 0.2, steps=57, lr=1e-3, mask_every=10, val_every=13,
                                  progress=False, seed=1, scope="global")
    np.testing.assert_allclose(res.history["val_loss"], [0.15429779625370055, 0.08374743947024613,
                                                         0.0738508977221456, 0.07649871500017985,
                                                         0.06308398046722466, 0.06032661581691409], rtol=1e-7)
    assert res.history["mask_changes"] == [(10, 7), (20, 11), (30, 15), (40, 11)]


def test_ntt_objective_runs_under_fit_and_divergence_is_reported():
    from spectral_physics import fit
    from spectral_physics.ntt import NTTObjective
    from spectral_physics.train import DivergenceError

    x = _blobs(200, 30, 2)
    teacher = make_teacher([30, 16, 5], seed=0, dtype="float64")
    student = teacher.copy()
    apply_masks(student, magnitude_masks(student, 0.3))
    obj = NTTObjective(teacher, density=0.3)
    start = obj(student, x[:64])[0]
    obj.losses.clear()
    h = fit(student, (x, None), epochs=3, batch_size=64, drop_last=True, lr=2e-3, loss_and_grad=obj,
            progress=False)
    assert len(obj.losses) == 9 and [r["train_accuracy"] for r in h.records] == [None] * 3
    assert obj(student, x[:64])[0] < start
    with pytest.raises(DivergenceError, match="epoch 1, step 1"):
        neural_tangent_transfer(teacher, x, 0.3, steps=5, lr=float("inf"), progress=False)
    with pytest.raises(ValueError, match="lambda_k"):
        NTTObjective(teacher, density=0.3, lambda_k=-1.0)
