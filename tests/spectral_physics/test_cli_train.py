"""``spectral-physics train`` end to end, and its error handling."""

import json
import subprocess
import sys

import pytest

from spectral_physics import load_network
from spectral_physics.cli import main


def test_train_json_on_teacher_student(tmp_path, capsys):
    out = tmp_path / "run.npz"
    rc = main(["train", "--dataset", "teacher-student", "--subset", "500", "--sizes", "100,32,10",
               "--train", "eigen", "--epochs", "2", "--lr", "0.05", "--batch-size", "50", "--seed", "1",
               "--out", str(out), "--json", "--no-progress"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["trainable_parameters"] == (100 + 32 + 32) + (32 + 10 + 10)
    assert len(res["epoch_seconds"]) == 2 and 0 <= res["test_accuracy"] <= 1
    net, hist = load_network(out, with_history=True)
    assert net.preset == "eigen" and len(hist.records) == 2


@pytest.mark.data
def test_train_mnist_subset_human_output(tmp_path, capsys, data_root):
    rc = main(["train", "--dataset", "mnist", "--data-root", str(data_root), "--subset", "2000",
               "--sizes", "784,64,10", "--train", "direct", "--epochs", "1", "--no-progress"])
    assert rc == 0
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--sizes", "784,x,10"],
        ["train", "--lr", "-0.1"],
        ["train", "--train", "bogus", "--dataset", "teacher-student", "--sizes", "100,10"],
        ["train", "--activation", "softsign"],
        ["train", "--dataset", "teacher-student", "--sizes", "784,10"],
        ["train", "--dataset", "nope"],
        ["train", "--batch-size", "0"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as info:
        raise SystemExit(main(argv + ["--no-progress"]))
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "error" in err and "Traceback" not in err


def test_console_script_is_installed():
    res = subprocess.run([sys.executable, "-m", "spectral_physics.cli", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "train" in res.stdout
    res = subprocess.run([sys.executable, "-m", "spectral_physics.cli", "train", "--sizes", "0,1"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_train_with_dynamic_percentile_sparsity_reports_turnover(capsys):
    rc = main(["train", "--dataset", "teacher-student", "--subset", "400", "--sizes", "100,32,10",
               "--train", "spectral", "--epochs", "2", "--batch-size", "50", "--sparsity", "0.8",
               "--json", "--no-progress"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    flips = [r["mask_flips"] for r in res["history"]]
    assert len(flips) == 2 and all(f > 0 for f in flips)


def _cli(args, cwd, env_extra=None):
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "spectral_physics.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env)


def _one_line_divergence(res):
    assert res.returncode == 2, res.stderr
    err = res.stderr.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert "training diverged" in err and "epoch 1, step 1" in err


@pytest.mark.data
def test_infinite_learning_rate_exits_2_and_writes_no_model(tmp_path, data_root):
    """One step in all (200 examples, batch 200): the weights blow up in the very last update."""
    res = _cli(["train", "--sizes", "784,8,10", "--subset", "200", "--epochs", "1", "--lr", "inf",
                "--out", "m.npz"], tmp_path, {"SPECTRAL_PHYSICS_DATA": str(data_root)})
    _one_line_divergence(res)
    assert not (tmp_path / "m.npz").exists()


def test_infinite_learning_rate_on_teacher_student_exits_2(tmp_path):
    res = _cli(["train", "--dataset", "teacher-student", "--sizes", "100,8,10", "--subset", "200",
                "--epochs", "1", "--lr", "inf", "--out", "m.npz", "--no-progress"], tmp_path)
    _one_line_divergence(res)
    assert not (tmp_path / "m.npz").exists()


def test_zero_epochs_still_saves_the_network(tmp_path, capsys):
    out = tmp_path / "init.npz"
    rc = main(["train", "--dataset", "teacher-student", "--subset", "200", "--sizes", "100,8,10",
               "--epochs", "0", "--out", str(out), "--no-progress"])
    assert rc == 0
    net, hist = load_network(out, with_history=True)
    assert net.sizes == [100, 8, 10]
    assert hist is not None and hist.records == []


def test_max_loss_option_bounds_the_loss(capsys):
    rc = main(["train", "--dataset", "teacher-student", "--subset", "200", "--sizes", "100,8,10",
               "--epochs", "1", "--max-loss", "0.5", "--no-progress"])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "exceeds max_loss=0.5" in err
