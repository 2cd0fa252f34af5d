"""User errors on the command line: exit status 2, one line on stderr, nothing written.

Every test runs ``python -m spectral_physics.cli`` as a real subprocess on real files
in ``tmp_path`` (crafted model files, IDX files that inflate to gigabytes), and checks
the exit status, that stderr is exactly one line naming the argument or the file, and
that the output folder is still empty afterwards.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spectral_physics import SpectralMLP, save_network

MODEL_COMMANDS = ["eigenstats", "nodes", "homeostasis", "prune"]


def cli(*argv: str, cwd: Path, memory_limit: int | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SPECTRAL_PHYSICS_MIRROR"}
    env.update(MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1", SPECTRAL_PHYSICS_CACHE=str(cwd / "cache"))

    def limit() -> None:
        if memory_limit is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    return subprocess.run([sys.executable, "-m", "spectral_physics.cli", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, preexec_fn=limit)


def assert_one_line_error(res: subprocess.CompletedProcess, *needles: str) -> str:
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert res.returncode == 2, (res.returncode, res.stderr)
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture
def out_dir(tmp_path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


def assert_nothing_written(out_dir: Path) -> None:
    assert sorted(p.name for p in out_dir.iterdir()) == []


# ----------------------------------------------------------------------------- model files


def _crafted(directory: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, text the error must contain); all next to a good 784-8-10 model."""
    good = directory / "good.npz"
    save_network(SpectralMLP([784, 8, 10], seed=0), good)
    with np.load(good) as f:
        arrays = dict(f)
    header = json.loads(str(arrays.pop("__header__")))

    def write(name: str, h) -> Path:
        path = directory / f"{name}.npz"
        np.savez(path, __header__=np.array(json.dumps(h)), **arrays)
        return path

    no_config = {k: v for k, v in header.items() if k != "config"}
    huge = json.loads(json.dumps(header))
    huge["config"]["sizes"] = [784, 2_000_000, 10]
    out = {
        "list-header": (write("list-header", [1, 2]), "JSON list"),
        "no-config": (write("no-config", no_config), "'config' is missing"),
        "null-config": (write("null-config", {**header, "config": None}), "'config' is null"),
        "short-sparsity": (write("short-sparsity", {**header, "sparsity": [None]}), "'sparsity'"),
        "huge-sizes": (write("huge-sizes", huge), "'config.sizes'"),
    }
    net = SpectralMLP([784, 8, 10], seed=0)
    net.layers[0].phi = np.full((8, 784), np.nan)
    save_network(net, directory / "nan.npz")
    out["nan"] = (directory / "nan.npz", "'layer0/phi' holds 6272 NaN")
    (directory / "text.npz").write_text("not a model\n")
    out["text"] = (directory / "text.npz", "not a spectral-physics model file")
    return out


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    return _crafted(tmp_path_factory.mktemp("models"))


@pytest.mark.parametrize("command", MODEL_COMMANDS)
@pytest.mark.parametrize("kind", ["list-header", "no-config", "null-config", "short-sparsity"])
def test_crafted_headers_are_one_line_errors(crafted, out_dir, command, kind):
    path, needle = crafted[kind]
    res = cli(command, path, "--out", out_dir / "result.nc", cwd=out_dir.parent)
    assert_one_line_error(res, str(path), needle)
    assert_nothing_written(out_dir)


@pytest.mark.parametrize("command", ["eigenstats", "prune"])
@pytest.mark.parametrize("kind", ["huge-sizes", "nan", "text"])
def test_huge_non_finite_and_text_models_are_one_line_errors(crafted, out_dir, command, kind):
    path, needle = crafted[kind]
    res = cli(command, path, "--out", out_dir / "result.nc", cwd=out_dir.parent)
    line = assert_one_line_error(res, str(path), needle)
    assert "Internal Error" not in line and "allow_pickle" not in line
    assert_nothing_written(out_dir)


# ----------------------------------------------------------------------------- network size


def test_train_refuses_a_network_above_the_size_guard(out_dir):
    res = cli("train", "--dataset", "teacher-student", "--sizes", "100,1000000,10", "--epochs", "1",
              "--out", out_dir / "m.npz", cwd=out_dir.parent)
    assert_one_line_error(res, "sizes [100, 1000000, 10]", "max_parameters")
    assert_nothing_written(out_dir)


def test_train_refuses_784_300000_10_before_training(out_dir, data_root):
    res = cli("train", "--data-root", data_root, "--sizes", "784,300000,10", "--epochs", "1",
              "--out", out_dir / "m.npz", cwd=out_dir.parent)
    assert_one_line_error(res, "sizes [784, 300000, 10]", "max_parameters")
    assert "epoch" not in res.stdout
    assert_nothing_written(out_dir)


def test_out_of_memory_is_one_line(out_dir):
    # under the size guard, but more than a 1 GiB address space holds: a real MemoryError
    res = cli("train", "--dataset", "teacher-student", "--sizes", "100,400000,10", "--epochs", "1",
              "--out", out_dir / "m.npz", cwd=out_dir.parent, memory_limit=1 << 30)
    assert_one_line_error(res, "out of memory")
    assert_nothing_written(out_dir)


# ----------------------------------------------------------------------------- data files


def test_gzip_bomb_in_the_data_folder_is_one_line(out_dir, tmp_path):
    # train images: a valid 5-image IDX file followed by 2 GiB of zeros, 2 MB of gzip on disk
    root = tmp_path / "data" / "mnist"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for stem, shape in (("train-images-idx3-ubyte", (5, 28, 28)), ("train-labels-idx1-ubyte", (5,)),
                        ("t10k-images-idx3-ubyte", (3, 28, 28)), ("t10k-labels-idx1-ubyte", (3,))):
        arr = rng.integers(0, 10, shape, dtype=np.uint8)
        raw = bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
        (root / f"{stem}.gz").write_bytes(gzip.compress(raw))
    zeros = gzip.compress(bytes(16 << 20), compresslevel=9)
    with open(root / "train-images-idx3-ubyte.gz", "ab") as fh:
        for _ in range(128):
            fh.write(zeros)
    bomb = root / "train-images-idx3-ubyte.gz"
    res = cli("train", "--data-root", tmp_path / "data", "--sizes", "784,8,10", "--epochs", "1",
              "--out", out_dir / "m.npz", cwd=out_dir.parent, memory_limit=1 << 30)
    assert_one_line_error(res, str(bomb), "trailing bytes")
    assert_nothing_written(out_dir)


# ----------------------------------------------------------------------------- arguments


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("small") / "m.npz"
    save_network(SpectralMLP([100, 8, 10], seed=0), path)
    return path


@pytest.mark.parametrize("fractions", ["step=0", "step=1e-12", "0,nan"])
def test_prune_fractions_are_checked_by_argparse(small_model, out_dir, fractions):
    res = cli("prune", small_model, "--dataset", "teacher-student", "--fractions", fractions,
              "--out", out_dir / "curve.nc", cwd=out_dir.parent)
    assert_one_line_error(res, "argument --fractions", repr(fractions))
    assert "ZeroDivisionError" not in res.stderr
    assert_nothing_written(out_dir)


@pytest.mark.parametrize("threshold", ["-5", "nan"])
def test_sweep_threshold_is_checked_by_argparse(out_dir, threshold):
    spec = out_dir.parent / "spec.toml"
    spec.write_text("")
    res = cli("sweep", spec, "--out", out_dir / "diagram.nc", "--threshold", threshold, cwd=out_dir.parent)
    assert_one_line_error(res, "argument --threshold", repr(threshold))
    assert_nothing_written(out_dir)


def test_ntt_mask_every_zero_is_an_argparse_error(out_dir):
    res = cli("ntt", "--dataset", "teacher-student", "--sizes", "100,8,10", "--density", "0.5",
              "--mask-every", "0", "--out", out_dir / "ntt.npz", cwd=out_dir.parent)
    assert_one_line_error(res, "argument --mask-every", "'0'")
    assert_nothing_written(out_dir)


@pytest.mark.parametrize("extra", [[], ["--sizes", "2,3"]])
def test_symbolic_eigenvectors_needs_network(out_dir, extra):
    res = cli("symbolic", *extra, "--eigenvectors", cwd=out_dir.parent)
    assert_one_line_error(res, "argument --eigenvectors", "--network")
    assert res.stdout == ""
