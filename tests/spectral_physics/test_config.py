"""Environment variables: defaults, bad values, explicit arguments over the environment, README."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from spectral_physics import SpectralMLP, config, kernels
from spectral_physics.backend import resolve_device
from spectral_physics.datasets import _mirror_bases, cache_dir

README = Path(__file__).resolve().parents[2] / "README.md"
NAMES = sorted(config.VARIABLES)


@pytest.fixture
def clean(monkeypatch):
    """No SPECTRAL_PHYSICS_* variable set (and no XDG cache), restored afterwards."""
    for name in [*NAMES, "XDG_CACHE_HOME"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_every_variable_in_the_sources_is_in_the_table():
    root = Path(__file__).resolve().parents[2]
    found = set()
    for sub in ("spectral_physics", "analysis", "figures", "tests", "benchmarks"):
        for path in (root / sub).rglob("*.py"):
            found |= set(re.findall(r"SPECTRAL_PHYSICS_[A-Z_]*[A-Z]", path.read_text(encoding="utf-8")))
    assert found <= set(config.VARIABLES), found - set(config.VARIABLES)


@pytest.mark.parametrize(
    "name, want",
    [
        ("SPECTRAL_PHYSICS_DEVICE", "cpu"),
        ("SPECTRAL_PHYSICS_KERNELS", "auto"),
        ("SPECTRAL_PHYSICS_DATA", ()),
        ("SPECTRAL_PHYSICS_CACHE", None),
        ("SPECTRAL_PHYSICS_MIRROR", ()),
        ("SPECTRAL_PHYSICS_REQUIRE_DATA", False),
    ],
)
def test_defaults_when_unset_or_empty(clean, name, want):
    assert config.get(name) == want
    clean.setenv(name, "")
    assert config.get(name) == want
    clean.setenv(name, "   ")
    assert config.get(name) == want


def test_known_answers_from_the_environment(clean, tmp_path):
    clean.setenv("SPECTRAL_PHYSICS_DEVICE", " CUDA ")
    assert config.get("SPECTRAL_PHYSICS_DEVICE") == "gpu"
    clean.setenv("SPECTRAL_PHYSICS_KERNELS", "Array")
    assert config.get("SPECTRAL_PHYSICS_KERNELS") == "array"
    clean.setenv("SPECTRAL_PHYSICS_DATA", f"{tmp_path / 'a'}{os.pathsep} {os.pathsep}~/b")
    assert config.get("SPECTRAL_PHYSICS_DATA") == (tmp_path / "a", Path("~/b").expanduser())
    clean.setenv("SPECTRAL_PHYSICS_CACHE", "~/c")
    assert config.get("SPECTRAL_PHYSICS_CACHE") == Path("~/c").expanduser()
    clean.setenv("SPECTRAL_PHYSICS_MIRROR", " http://a/x, http://b/{name}\nhttp://c ")
    assert config.get("SPECTRAL_PHYSICS_MIRROR") == ("http://a/x", "http://b/{name}", "http://c")
    clean.setenv("SPECTRAL_PHYSICS_REQUIRE_DATA", "1")
    assert config.get("SPECTRAL_PHYSICS_REQUIRE_DATA") is True
    clean.setenv("SPECTRAL_PHYSICS_REQUIRE_DATA", "0")
    assert config.get("SPECTRAL_PHYSICS_REQUIRE_DATA") is False


def test_read_at_call_time_not_at_import(clean):
    # the remembered parse must follow a change of the variable
    clean.setenv("SPECTRAL_PHYSICS_KERNELS", "array")
    assert config.get("SPECTRAL_PHYSICS_KERNELS") == "array"
    clean.setenv("SPECTRAL_PHYSICS_KERNELS", "numba")
    assert config.get("SPECTRAL_PHYSICS_KERNELS") == "numba"
    clean.delenv("SPECTRAL_PHYSICS_KERNELS")
    assert config.get("SPECTRAL_PHYSICS_KERNELS") == "auto"


@pytest.mark.parametrize(
    "name, raw",
    [
        ("SPECTRAL_PHYSICS_DEVICE", "quantum"),
        ("SPECTRAL_PHYSICS_KERNELS", "fortran"),
        ("SPECTRAL_PHYSICS_REQUIRE_DATA", "true"),
        ("SPECTRAL_PHYSICS_REQUIRE_DATA", "2"),
    ],
)
def test_bad_values_name_the_variable(clean, name, raw):
    clean.setenv(name, raw)
    with pytest.raises(ValueError, match=f"{name}='{raw}'.*must be"):
        config.get(name)


def test_unknown_name():
    name = "SPECTRAL_PHYSICS_" + "NOPE"  # split so the source scan above does not find it
    with pytest.raises(KeyError, match=name):
        config.get(name)


def test_explicit_arguments_win_over_the_environment(clean):
    clean.setenv("SPECTRAL_PHYSICS_DEVICE", "quantum")  # never read when device= is given
    assert config.get("SPECTRAL_PHYSICS_DEVICE", "CPU") == "cpu"
    assert resolve_device("cpu") == "cpu"
    assert SpectralMLP([3, 2], device="cpu").device == "cpu"
    with pytest.raises(ValueError, match="SPECTRAL_PHYSICS_DEVICE='quantum'"):
        resolve_device(None)
    with pytest.raises(ValueError, match=r"^device must be one of .*got 'tpu'"):
        resolve_device("tpu")


def test_set_implementation_wins_over_the_environment(clean):
    clean.setenv("SPECTRAL_PHYSICS_KERNELS", "array")
    a = np.zeros(3)
    prev = kernels.set_implementation("auto")
    try:
        assert kernels._choice() == "auto"
        kernels.set_implementation(None)  # back to the variable
        assert kernels.kernel_implementation(a) == "array"
        clean.setenv("SPECTRAL_PHYSICS_KERNELS", "nonsense")
        with pytest.raises(ValueError, match="SPECTRAL_PHYSICS_KERNELS='nonsense'"):
            kernels.kernel_implementation(a)
        with pytest.raises(ValueError, match="^choice must be one of"):
            kernels.set_implementation("nonsense")
    finally:
        kernels.set_implementation(prev)


def test_datasets_read_through_config(clean, tmp_path):
    assert cache_dir() == Path.home() / ".cache" / "spectral-physics"
    clean.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("mnist") == tmp_path / "xdg" / "spectral-physics" / "mnist"
    clean.setenv("SPECTRAL_PHYSICS_CACHE", str(tmp_path / "cache"))
    assert cache_dir("mnist") == tmp_path / "cache" / "mnist"
    clean.setenv("SPECTRAL_PHYSICS_MIRROR", "http://a/, http://b/{name}-files")
    assert _mirror_bases("mnist") == ["http://a/mnist/", "http://b/mnist-files"]


def test_readme_table_is_generated_from_config():
    text = README.read_text(encoding="utf-8")
    m = re.search(r"<!-- environment-variables:[^\n]*-->\n(.*?)<!-- end environment-variables -->", text, re.S)
    assert m, "README lacks the generated environment-variable table"
    assert m.group(1) == config.markdown_table(), "regenerate with spectral_physics.config.markdown_table()"
    for name in NAMES:
        assert f"`{name}`" in m.group(1)
