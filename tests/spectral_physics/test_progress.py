"""Progress reports (bars on a terminal, lines in a log) and compact reprs of result objects."""

from __future__ import annotations

import io

import numpy as np
import pytest

import spectral_physics.progress as progress
from spectral_physics.progress import progress_bar, progress_mode


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_modes():
    assert progress_mode(False) == progress_mode(None) == progress_mode("off") == "off"
    assert progress_mode(True, file=io.StringIO()) == "log"  # a file: lines
    assert progress_mode(True, file=_Terminal()) == "bar"  # a terminal: a bar
    assert progress_mode("bar", file=io.StringIO()) == "bar"  # forced
    assert progress_mode("log", file=_Terminal()) == "log"
    with pytest.raises(ValueError, match="progress"):
        progress_mode("sometimes")


def test_log_lines_are_few_and_plain(monkeypatch):
    log = io.StringIO()
    bar = progress_bar(total=1000, desc="steps", unit="step", progress=True, file=log, delay=0)
    for _ in range(1000):
        bar.update(1)
    bar.set_postfix(loss=0.5)
    bar.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert len(lines) == 10  # one per 10 %
    assert lines[0].startswith("steps: 100/1000 step (10%)") and lines[-1].startswith("steps: 1000/1000")


def test_log_is_silent_for_short_work_and_every_minute_for_slow_work(monkeypatch):
    log = io.StringIO()
    with progress_bar(total=10, progress="log", file=log) as bar:  # default delay: 5 s
        bar.update(10)
    assert log.getvalue() == ""
    clock = iter(np.arange(0.0, 10_000.0, 70.0))  # 70 s per unit: a line each, though < 10 %
    monkeypatch.setattr(progress.time, "monotonic", lambda: float(next(clock)))
    with progress_bar(total=1000, desc="slow", progress="log", file=log) as bar:
        for _ in range(3):
            bar.update(1)
    assert [ln.split(",")[0] for ln in log.getvalue().splitlines()] == [
        "slow: 1/1000 it (0%)", "slow: 2/1000 it (0%)", "slow: 3/1000 it (0%)"]


def test_off_prints_nothing(capsys):
    for _ in progress_bar(range(5), progress=False):
        pass
    assert capsys.readouterr().err == ""


def test_ntt_command_reports_in_a_log(monkeypatch, capsys):
    """`ntt` used to print nothing for minutes when stderr was a file; now a line per 10 %."""
    from spectral_physics.cli import main

    monkeypatch.setattr(progress, "LOG_DELAY", 0.0)
    assert main(["ntt", "--dataset", "teacher-student", "--subset", "300", "--sizes", "100,16,10",
                 "--density", "0.5", "--steps", "40", "--epochs", "0", "--val-every", "20"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("training:")]
    assert 5 <= len(lines) <= 12 and lines[-1].startswith("training: 40/40 step (100%)"), err


def test_result_objects_print_short():
    from spectral_physics.analysis.rmt import complex_spacing_ratio, fit_marchenko_pastur, fit_power_law

    from spectral_physics import SpectralMLP, fit
    from spectral_physics.datasets import teacher_student
    from spectral_physics.ntk import output_signals
    from spectral_physics.ntt import make_teacher, neural_tangent_transfer

    data = teacher_student(n_train=400, n_test=50, n_features=100, n_classes=10, seed=0)
    teacher = make_teacher([100, 64, 32, 10], seed=0)
    res = neural_tangent_transfer(teacher, data.x_train, 0.5, steps=4, val_every=2, progress=False)
    hist = fit(SpectralMLP([100, 16, 10], seed=list(range(8))), data, epochs=30, progress=False)
    rng = np.random.default_rng(0)
    objects = {
        "NTTResult": res,
        "History": hist,
        "ComplexSpacingRatio": complex_spacing_ratio(rng.normal(size=300) + 1j * rng.normal(size=300)),
        "MarchenkoPasturFit": fit_marchenko_pastur(np.linalg.eigvalsh(np.cov(rng.normal(size=(100, 300))))),
        "PowerLawFit": fit_power_law(rng.pareto(2.0, 500) + 1),
        "OutputSignals": output_signals(res.student, data.x_train[:32]),
        "Dataset": data,
        "SpectralMLP": res.student,
    }
    for name, obj in objects.items():
        text = repr(obj)
        assert len(text) < 500, (name, len(text), text[:200])
    assert "16x20" not in repr(res) and "64x100" in repr(res) and "density=0.5" in repr(res)
    assert repr(hist).startswith("History(30 epochs")
