"""Tests for spectral_physics.datasets.

File-format tests build tiny IDX files and CIFAR-10 archives in ``tmp_path``; the
real-data tests use the ``data_root`` fixture; download tests run a local HTTP
server on 127.0.0.1 (ephemeral port, stopped at the end) and never reach the
internet (the default mirrors are emptied in every test that could download).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gzip
import hashlib
import http.server
import io
import os
import resource
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import textwrap
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import spectral_physics.datasets as ds
from spectral_physics.datasets import (
    Dataset,
    DatasetError,
    load_dataset,
    read_idx,
    teacher_student,
)

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
IDX_NAMES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


# ----------------------------------------------------------------------------- helpers


def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    arr = np.asarray(arr)
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(">u1" if code == 0x08 else arr.dtype).tobytes()


def write_fake_mnist(directory: Path, n_train: int = 5, n_test: int = 3, seed: int = 0,
                     gz: bool = True) -> dict[str, np.ndarray]:
    """Write a tiny, well-formed MNIST-like set; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for stem, arr in arrays.items():
        data = idx_bytes(arr)
        if gz:
            (directory / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / stem).write_bytes(data)
    return arrays


def cifar_records(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    chw = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    return labels, chw


def cifar_blob(labels: np.ndarray, chw: np.ndarray) -> bytes:
    rec = np.concatenate([labels[:, None], chw.reshape(len(labels), -1)], axis=1)
    return rec.astype(np.uint8).tobytes()


def build_cifar_archive(path: Path, n_per_batch: int = 2, n_test: int = 3, seed: int = 0,
                        drop: str | None = None, patch: dict[str, bytes] | None = None):
    """A tiny archive in the exact layout of cifar-10-binary.tar.gz."""
    rng = np.random.default_rng(seed)
    members, train = {}, []
    for i in range(1, 6):
        labels, chw = cifar_records(n_per_batch, rng)
        train.append((labels, chw))
        members[f"data_batch_{i}.bin"] = cifar_blob(labels, chw)
    test = cifar_records(n_test, rng)
    members["test_batch.bin"] = cifar_blob(*test)
    members["batches.meta.txt"] = b"airplane\nautomobile\n"
    members.update(patch or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, blob in members.items():
            if name == drop:
                continue
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    y_train = np.concatenate([lab for lab, _ in train])
    chw_train = np.concatenate([img for _, img in train])
    return (y_train, chw_train), test


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` on 127.0.0.1 (ephemeral port) for the duration of the block."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real data locations, an empty cache in tmp_path and no reachable default mirror."""
    for var in ("SPECTRAL_PHYSICS_DATA", "SPECTRAL_PHYSICS_MIRROR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("SPECTRAL_PHYSICS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ds, "SYSTEM_DATA_DIRS", (str(tmp_path / "system"),))
    # ../shared/data beside the current directory is tmp_path/shared/data; no checkout
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.setattr(ds, "checkout_dir", lambda: None)
    monkeypatch.setattr(ds, "MIRRORS", {name: [] for name in ds.MIRRORS})
    monkeypatch.setattr(ds, "DOWNLOAD_TIMEOUT", 10.0)
    return tmp_path


# ----------------------------------------------------------------------------- Dataset


def small_dataset(n_train=20, n_test=8) -> Dataset:
    rng = np.random.default_rng(1)
    return Dataset("toy", rng.random((n_train, 6)), np.arange(n_train) % 3,
                   rng.random((n_test, 6)), np.arange(n_test) % 3, (2, 3), 3)


def test_dataset_coerces_and_has_short_repr():
    d = small_dataset()
    assert d.x_train.dtype == np.float32 and d.x_train.flags.c_contiguous
    assert d.y_train.dtype == np.int64
    assert (d.n_train, d.n_test, d.n_features) == (20, 8, 6)
    text = repr(d)
    assert text == "Dataset('toy', train=20, test=8, features=6, classes=3, image_shape=(2, 3))"
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.name = "other"


@pytest.mark.parametrize(
    ("change", "arg"),
    [
        ({"x_train": np.zeros((4, 5))}, "x_train"),
        ({"x_train": np.zeros(6)}, "x_train"),
        ({"y_train": np.zeros(3, dtype=int)}, "y_train"),
        ({"y_test": np.full(8, 3)}, "y_test"),
        ({"y_test": np.zeros(8)}, "y_test"),
        ({"n_classes": 0}, "n_classes"),
    ],
)
def test_dataset_rejects_bad_arrays(change, arg):
    d = small_dataset()
    fields = {f.name: getattr(d, f.name) for f in dataclasses.fields(d)}
    fields.update(change)
    if arg == "x_train" and fields["x_train"].ndim == 2:
        fields["y_train"] = np.zeros(4, dtype=int)
    with pytest.raises(ValueError, match=arg):
        Dataset(**fields)


def test_subset_is_seeded_nested_and_ordered():
    d = small_dataset(n_train=50, n_test=30)
    a = d.subset(10, seed=3)
    b = d.subset(10, seed=3)
    c = d.subset(10, seed=4)
    big = d.subset(25, seed=3)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    rows = {tuple(r) for r in big.x_train.tolist()}
    assert all(tuple(r) in rows for r in a.x_train.tolist())
    # rows keep their original order
    pos = [int(np.flatnonzero((d.x_train == r).all(axis=1))[0]) for r in a.x_train]
    assert pos == sorted(pos)
    assert a.x_test is d.x_test and a.n_test == 30
    e = d.subset(10, seed=3, n_test=5)
    assert e.x_test.shape == (5, 6) and e.y_test.shape == (5,)
    assert a.name == d.name and a.image_shape == d.image_shape and a.n_classes == 3
    assert a.info["subset"] == {"n_train": 10, "n_test": None, "seed": 3}


@pytest.mark.parametrize(("kwargs", "arg"), [
    ({"n_train": 0}, "n_train"), ({"n_train": 51}, "n_train"), ({"n_train": 2.5}, "n_train"),
    ({"n_train": 5, "n_test": 31}, "n_test"), ({"n_train": 5, "n_test": -1}, "n_test"),
])
def test_subset_rejects_bad_sizes(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        small_dataset(n_train=50, n_test=30).subset(**kwargs)


# ----------------------------------------------------------------------------- teacher-student


def test_teacher_student_labels_are_teacher_argmax():
    d = teacher_student(n_train=300, n_test=50, n_features=12, n_classes=4, hidden=(16, 8),
                        seed=7)
    assert d.x_train.shape == (300, 12) and d.x_train.dtype == np.float32
    assert d.y_train.dtype == np.int64 and d.image_shape == (12,) and d.n_classes == 4
    assert d.x_train.min() < 0  # Gaussian, not scaled to [0, 1]
    a = d.x_test.astype(np.float64)
    layers = d.info["teacher"]
    assert [w.shape for w, _ in layers] == [(16, 12), (8, 16), (4, 8)]
    for k, (w, b) in enumerate(layers):
        a = a @ w.T + b
        a = np.tanh(a) if k < len(layers) - 1 else a
    np.testing.assert_array_equal(np.argmax(a, axis=1), d.y_test)


def test_teacher_student_is_reproducible_and_streams_are_independent():
    a = teacher_student(n_train=100, n_test=40, seed=1)
    b = teacher_student(n_train=100, n_test=40, seed=1)
    c = teacher_student(n_train=100, n_test=40, seed=2)
    more = teacher_student(n_train=200, n_test=40, seed=1)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.x_train, c.x_train)
    np.testing.assert_array_equal(a.x_test, more.x_test)
    np.testing.assert_array_equal(a.y_test, more.y_test)
    np.testing.assert_array_equal(a.x_train, more.x_train[:100])
    default = teacher_student()
    assert default.x_train.shape == (10000, 100) and default.x_test.shape == (2000, 100)
    assert np.all(np.bincount(default.y_train, minlength=10) > 0)
    linear = teacher_student(n_train=20, n_test=0, hidden=(), seed=0)
    assert linear.x_test.shape == (0, 100)
    assert repr(load_dataset("teacher-student")) == repr(default)


@pytest.mark.parametrize(("kwargs", "arg"), [
    ({"n_train": 0}, "n_train"), ({"n_test": -1}, "n_test"), ({"n_features": 0}, "n_features"),
    ({"n_classes": 1}, "n_classes"), ({"hidden": (4, 0)}, "hidden"), ({"hidden": 3}, "hidden"),
])
def test_teacher_student_rejects_bad_arguments(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        teacher_student(**kwargs)


# ----------------------------------------------------------------------------- IDX parsing


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_round_trip(tmp_path, gz):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    data = idx_bytes(arr)
    path = tmp_path / ("f.gz" if gz else "f")
    path.write_bytes(gzip.compress(data) if gz else data)
    got = read_idx(path, magic=0x803, sha256=hashlib.sha256(data).hexdigest())
    np.testing.assert_array_equal(got, arr)
    ints = np.array([-5, 7, 300], dtype=">i4")
    (tmp_path / "i").write_bytes(idx_bytes(ints, code=0x0C))
    np.testing.assert_array_equal(read_idx(tmp_path / "i"), [-5, 7, 300])


def test_small_files_load_exactly_without_verification(isolated):
    root = isolated / "data"
    arrays = write_fake_mnist(root / "mnist", n_train=6, n_test=4)
    d = load_dataset("mnist", root=root, download=False, verify=False)
    assert d.x_train.shape == (6, 784) and d.image_shape == (28, 28) and d.n_classes == 10
    want = arrays["train-images-idx3-ubyte"].reshape(6, -1).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(d.x_train, want)
    np.testing.assert_array_equal(d.y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(d.y_test, arrays["t10k-labels-idx1-ubyte"])
    assert d.x_train.flags.c_contiguous and not d.x_train.flags.writeable
    assert d.info["verified"] is False
    # the same files are decoded once per process
    assert load_dataset("mnist", root=root, download=False, verify=False) is d


def test_known_file_with_wrong_checksum_is_rejected(isolated):
    write_fake_mnist(isolated / "data")
    with pytest.raises(DatasetError, match="SHA-256") as err:
        load_dataset("mnist", root=isolated / "data", download=False)
    assert str(isolated / "data" / "train-images-idx3-ubyte.gz") in str(err.value)


def _wrong_magic(d: Path) -> Path:
    path = d / "train-images-idx3-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[3] = 1  # 0x00000801 is the labels magic
    path.write_bytes(gzip.compress(bytes(raw)))
    return path


def _truncated_raw(d: Path) -> Path:
    path = d / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.unlink()
    out = d / "t10k-images-idx3-ubyte"
    out.write_bytes(raw[:-100])
    return out


def _truncated_gzip(d: Path) -> Path:
    path = d / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-50])
    return path


def _bad_crc(d: Path) -> Path:
    path = d / "train-labels-idx1-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[-8] ^= 0xFF  # the CRC-32 of the gzip trailer
    path.write_bytes(bytes(raw))
    return path


def _trailing_bytes(d: Path) -> Path:
    path = d / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()) + b"\x00"))
    return path


def _count_mismatch(d: Path) -> Path:
    path = d / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(6, dtype=np.uint8))))
    return path


def _label_range(d: Path) -> Path:
    path = d / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.array([1, 10, 2], dtype=np.uint8))))
    return path


def _wrong_image_shape(d: Path) -> Path:
    path = d / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((5, 27, 28), dtype=np.uint8))))
    return path


def _not_idx(d: Path) -> Path:
    path = d / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(b"<html>404</html>"))
    return path


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_wrong_magic, "magic"),
        (_truncated_raw, "truncated"),
        (_truncated_gzip, "gzip"),
        (_bad_crc, "gzip"),
        (_trailing_bytes, "trailing"),
        (_count_mismatch, "5 images"),
        (_label_range, "label 10"),
        (_wrong_image_shape, "(27, 28)"),
        (_not_idx, "magic"),
    ],
)
def test_damaged_files_raise_naming_the_file(isolated, damage, message):
    root = isolated / "data"
    write_fake_mnist(root)
    path = damage(root)
    with pytest.raises(DatasetError, match=message) as err:
        load_dataset("mnist", root=root, download=False, verify=False)
    assert str(path) in str(err.value)


def test_read_idx_rejects_empty_and_short_headers(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(DatasetError, match="empty"):
        read_idx(tmp_path / "empty")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(DatasetError, match="truncated"):
        read_idx(tmp_path / "short")


# ----------------------------------------------------------------------------- look-up order


def test_lookup_order_root_env_shared_system_cache(isolated, monkeypatch):
    # a distinct training-set size marks each location
    write_fake_mnist(isolated / "root" / "mnist", n_train=9)
    write_fake_mnist(isolated / "env" / "mnist", n_train=8)
    write_fake_mnist(isolated / "shared" / "data" / "mnist", n_train=7)  # ../shared/data of the cwd
    write_fake_mnist(isolated / "co" / "shared" / "data" / "mnist", n_train=6)  # ../shared/data of the checkout
    write_fake_mnist(isolated / "system" / "mnist", n_train=5)
    write_fake_mnist(isolated / "cache" / "mnist", n_train=4)
    monkeypatch.setenv("SPECTRAL_PHYSICS_DATA", str(isolated / "env"))
    monkeypatch.setattr(ds, "checkout_dir", lambda: isolated / "co" / "main")

    def n_train(**kw):
        found = ds.find_dataset("mnist", **kw)
        n = load_dataset("mnist", download=False, verify=False, **kw).n_train
        assert found is not None and len(found.files) == 4
        return n, found.location.source

    assert [loc.source for loc in ds.search_path(isolated / "root")] == [
        "root", "env", "cwd", "checkout", "system", "cache"]
    assert n_train(root=isolated / "root") == (9, "root")
    assert n_train(root=isolated / "root" / "mnist") == (9, "root")  # files directly in root
    assert n_train(root=isolated / "cache") == (4, "root")  # a root holding mnist/
    assert n_train() == (8, "env")
    monkeypatch.delenv("SPECTRAL_PHYSICS_DATA")
    assert n_train() == (7, "cwd")
    shutil.rmtree(isolated / "shared")
    assert n_train() == (6, "checkout")
    monkeypatch.setattr(ds, "checkout_dir", lambda: None)
    assert n_train() == (5, "system")
    monkeypatch.setattr(ds, "SYSTEM_DATA_DIRS", ())
    assert n_train() == (4, "cache")
    # an explicit root without the files falls through to the later locations
    (isolated / "elsewhere").mkdir()
    assert n_train(root=isolated / "elsewhere") == (4, "cache")


def test_shared_data_is_found_relative_to_the_current_directory(isolated, monkeypatch):
    """The project's layout: a checkout with ../shared/data beside it, no variable set."""
    write_fake_mnist(isolated / "shared" / "data" / "mnist", n_train=3)
    assert load_dataset("mnist", download=False, verify=False).n_train == 3
    monkeypatch.chdir(isolated)  # elsewhere the same folder is not found
    assert ds.find_dataset("mnist") is None


def test_checkout_dir_is_this_repository():
    top = Path(__file__).resolve().parents[2]
    assert ds.checkout_dir() == top
    assert any(loc.source == "checkout" and loc.path == top.parent / "shared" / "data"
               for loc in ds.search_path())


def test_a_folder_met_twice_is_searched_once(isolated, monkeypatch):
    monkeypatch.setenv("SPECTRAL_PHYSICS_DATA", str(isolated / "shared" / "data"))
    with pytest.raises(DatasetError) as err:
        load_dataset("mnist", download=False)
    assert str(err.value).count(str(isolated / "shared" / "data" / "mnist")) == 1


def test_env_data_accepts_several_directories(isolated, monkeypatch):
    write_fake_mnist(isolated / "b" / "mnist", n_train=3)
    (isolated / "a").mkdir()
    monkeypatch.setenv("SPECTRAL_PHYSICS_DATA", f"{isolated / 'a'}:{isolated / 'b'}")
    assert load_dataset("mnist", download=False, verify=False).n_train == 3


def test_raw_and_dotted_file_names_are_found(isolated):
    arrays = write_fake_mnist(isolated / "raw", gz=False)
    for stem in IDX_NAMES[:2]:
        src = isolated / "raw" / stem
        src.rename(isolated / "raw" / stem.replace("-idx", ".idx"))
    d = load_dataset("mnist", root=isolated / "raw", download=False, verify=False)
    np.testing.assert_array_equal(d.y_train, arrays["train-labels-idx1-ubyte"])


def test_cache_dir_follows_environment(isolated, monkeypatch):
    assert ds.cache_dir("MNIST") == isolated / "cache" / "mnist"
    monkeypatch.delenv("SPECTRAL_PHYSICS_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(isolated / "xdg"))
    assert ds.cache_dir("fashion_mnist") == isolated / "xdg" / "spectral-physics" / "fashion-mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(isolated / "home"))
    assert ds.cache_dir() == isolated / "home" / ".cache" / "spectral-physics"


def test_missing_everywhere_lists_the_locations(isolated, monkeypatch):
    monkeypatch.setenv("SPECTRAL_PHYSICS_DATA", str(isolated / "env"))
    with pytest.raises(ds.DatasetNotFoundError) as err:
        load_dataset("fashion-mnist", download=False)
    text = str(err.value)
    for where in ("env", "shared/data", "system", "cache"):
        assert str(isolated / where / "fashion-mnist") in text
    assert "download=False" in text and "root=" in text and "--data-root" not in text
    assert f"SPECTRAL_PHYSICS_DATA is set to '{isolated / 'env'}'" in text
    cli = err.value.for_cli()
    assert "\n" not in cli and "--data-root" in cli and "root=" not in cli
    assert "spectral-physics data download fashion-mnist" in cli
    monkeypatch.delenv("SPECTRAL_PHYSICS_DATA")
    with pytest.raises(ds.DatasetNotFoundError, match="SPECTRAL_PHYSICS_DATA is not set"):
        load_dataset("fashion-mnist", download=False)


def test_not_found_error_survives_pickling(isolated):
    import pickle

    with pytest.raises(ds.DatasetNotFoundError) as err:
        load_dataset("mnist", download=False)
    again = pickle.loads(pickle.dumps(err.value))
    assert str(again) == str(err.value) and again.for_cli() == err.value.for_cli()


def test_offline_machine_fails_fast_and_leaves_no_cache_folder(isolated, monkeypatch):
    """A resolver that never answers costs OFFLINE_CHECK_TIMEOUT once, not a timeout per file."""
    import time

    real = socket.create_connection

    def stalled(address, *args, **kwargs):
        if address[0] == "mirror.example":
            time.sleep(30)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", stalled)
    monkeypatch.setattr(ds, "OFFLINE_CHECK_TIMEOUT", 0.5)
    monkeypatch.setattr(ds, "DOWNLOAD_TIMEOUT", 60.0)
    monkeypatch.setitem(ds.MIRRORS, "mnist", ["https://mirror.example/a/", "http://mirror.example/b/"])
    t0 = time.monotonic()
    with pytest.raises(ds.DatasetNotFoundError, match="offline") as err:
        load_dataset("mnist")
    assert time.monotonic() - t0 < 3
    assert "no answer from mirror.example:443 within 0.5 s" in str(err.value)
    assert not (isolated / "cache").exists()  # no empty cache folder left behind


def test_partial_set_is_an_error_naming_the_missing_files(isolated):
    write_fake_mnist(isolated / "data")
    (isolated / "data" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte") as err:
        load_dataset("mnist", root=isolated / "data", download=False, verify=False)
    assert str(isolated / "data") in str(err.value)


def test_bad_name_and_root(isolated):
    with pytest.raises(ValueError, match="name"):
        load_dataset("imagenet")
    with pytest.raises(DatasetError, match="root"):
        load_dataset("mnist", root=isolated / "nope")


# ----------------------------------------------------------------------------- CIFAR-10


def test_cifar_archive_values_are_exact_hwc(isolated):
    archive = isolated / "data" / "cifar10" / "cifar-10-binary.tar.gz"
    (y_train, chw_train), (y_test, chw_test) = build_cifar_archive(archive)
    d = load_dataset("cifar10", root=isolated / "data", download=False, verify=False)
    assert d.image_shape == (32, 32, 3) and d.n_classes == 10
    assert d.x_train.shape == (10, 3072) and d.x_test.shape == (3, 3072)
    hwc = chw_train.transpose(0, 2, 3, 1).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(d.x_train.reshape(-1, 32, 32, 3), hwc)
    # one pixel by hand: record 3, row 5, column 7, green channel
    assert d.x_train[3].reshape(32, 32, 3)[5, 7, 1] == np.float32(chw_train[3, 1, 5, 7]) / 255
    np.testing.assert_array_equal(d.y_train, y_train)
    np.testing.assert_array_equal(d.y_test, y_test)
    np.testing.assert_array_equal(
        d.x_test, chw_test.transpose(0, 2, 3, 1).reshape(3, -1).astype(np.float32) / 255)


def test_cifar_extracted_folder_matches_archive(isolated):
    archive = isolated / "a" / "cifar-10-binary.tar.gz"
    build_cifar_archive(archive, seed=4)
    with tarfile.open(archive) as tar:
        for member in tar:
            out = isolated / "b" / "cifar10" / member.name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(tar.extractfile(member).read())
    a = load_dataset("cifar10", root=isolated / "a", download=False, verify=False)
    b = load_dataset("cifar10", root=isolated / "b", download=False)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)


def test_cifar_verify_rejects_a_noncanonical_archive(isolated):
    archive = isolated / "data" / "cifar-10-binary.tar.gz"
    build_cifar_archive(archive)
    with pytest.raises(DatasetError, match="170052171") as err:
        load_dataset("cifar10", root=isolated / "data", download=False)
    assert str(archive) in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"drop": "data_batch_3.bin"}, "cifar-10-batches-bin/data_batch_3.bin"),
        ({"patch": {"data_batch_2.bin": b"\x01" * 3000}}, "data_batch_2.bin: 3000 bytes"),
        ({"patch": {"test_batch.bin": b"\x0a" + b"\x00" * 3072}}, "test_batch.bin: label 10"),
    ],
)
def test_cifar_damaged_archive_names_the_member(isolated, kwargs, message):
    archive = isolated / "data" / "cifar-10-binary.tar.gz"
    build_cifar_archive(archive, **kwargs)
    with pytest.raises(DatasetError, match=message) as err:
        load_dataset("cifar10", root=isolated / "data", download=False, verify=False)
    assert str(archive) in str(err.value)


def test_cifar_truncated_archive(isolated):
    archive = isolated / "data" / "cifar-10-binary.tar.gz"
    build_cifar_archive(archive)
    archive.write_bytes(archive.read_bytes()[:-200])
    with pytest.raises(DatasetError, match="corrupt or truncated") as err:
        load_dataset("cifar10", root=isolated / "data", download=False, verify=False)
    assert str(archive) in str(err.value)


def test_cifar_download_verifies_the_archive(isolated, monkeypatch):
    served = isolated / "www" / "cifar10" / "cifar-10-binary.tar.gz"
    (y_train, _), _ = build_cifar_archive(served, seed=9)
    cache = isolated / "cache" / "cifar10"
    with serve(isolated / "www") as url:
        monkeypatch.setenv("SPECTRAL_PHYSICS_MIRROR", url)
        # the real checksums: a small archive is refused and nothing is left behind
        with pytest.raises(DatasetError, match="170052171") as err:
            load_dataset("cifar10")
        assert f"{url}/cifar10/cifar-10-binary.tar.gz" in str(err.value)
        assert leftovers(cache) == []
        # with its own checksums registered, the same archive downloads and loads
        blob = served.read_bytes()
        monkeypatch.setattr(ds, "CIFAR10_SIZE", len(blob))
        monkeypatch.setattr(ds, "CIFAR10_MD5", hashlib.md5(blob).hexdigest())
        monkeypatch.setitem(ds.KNOWN_SHA256["cifar10"], "cifar-10-binary.tar.gz",
                            hashlib.sha256(blob).hexdigest())
        d = load_dataset("cifar10")
    np.testing.assert_array_equal(d.y_train, y_train)
    assert leftovers(cache) == ["cifar-10-binary.tar.gz"]
    assert (cache / "cifar-10-binary.tar.gz").read_bytes() == blob


# ----------------------------------------------------------------------------- real data


def test_mnist_real(data_root):
    d = load_dataset("mnist", root=data_root, download=False)
    assert d.x_train.shape == (60000, 784) and d.x_test.shape == (10000, 784)
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64
    assert d.image_shape == (28, 28) and d.n_classes == 10
    assert np.bincount(d.y_train).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(d.y_test).tolist() == MNIST_TEST_COUNTS
    assert round(float(d.x_train.mean(dtype=np.float64)), 4) == 0.1307
    assert round(float(d.x_train.std(dtype=np.float64)), 4) == 0.3081
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    assert d.info["verified"] is True
    assert load_dataset("mnist", root=data_root) is d  # decoded once per process
    small = d.subset(1000, seed=0, n_test=200)
    assert small.x_train.shape == (1000, 784) and small.x_train.flags.writeable
    np.testing.assert_array_equal(small.y_train, d.subset(1000, seed=0).y_train)


def test_fashion_mnist_real(data_root):
    d = load_dataset("fashion-mnist", root=data_root / "fashion-mnist", download=False)
    assert d.x_train.shape == (60000, 784) and d.x_test.shape == (10000, 784)
    assert np.bincount(d.y_train).tolist() == [6000] * 10
    assert np.bincount(d.y_test).tolist() == [1000] * 10


# ----------------------------------------------------------------------------- downloads


@pytest.fixture(scope="module")
def mirror_tree(data_root, tmp_path_factory):
    """good/mnist: the real gz files; bad/mnist: labels altered (valid gzip, wrong
    checksum); cut/mnist: labels cut short."""
    top = tmp_path_factory.mktemp("www")
    for tree in ("good", "bad", "cut"):
        shutil.copytree(data_root / "mnist", top / tree / "mnist")
    labels = top / "bad" / "mnist" / "train-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(labels.read_bytes()))
    raw[-1] = (raw[-1] + 1) % 10
    labels.write_bytes(gzip.compress(bytes(raw)))
    cut = top / "cut" / "mnist" / "train-labels-idx1-ubyte.gz"
    cut.write_bytes(cut.read_bytes()[:-1000])
    with serve(top) as url:
        yield url


def test_download_lands_verified_in_cache(isolated, monkeypatch, mirror_tree, capsys):
    monkeypatch.setenv("SPECTRAL_PHYSICS_MIRROR", f"{mirror_tree}/good")
    d = load_dataset("mnist", progress="bar")  # a bar even though stderr is not a terminal here
    assert np.bincount(d.y_train).tolist() == MNIST_TRAIN_COUNTS
    cache = isolated / "cache" / "mnist"
    assert leftovers(cache) == sorted(f"{n}.gz" for n in IDX_NAMES)
    assert d.info["files"][0] == str((cache / "train-images-idx3-ubyte.gz").resolve())
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err  # the progress bar
    # found in the cache next time, without the network
    monkeypatch.setenv("SPECTRAL_PHYSICS_MIRROR", "http://127.0.0.1:9/")
    assert load_dataset("mnist", download=False) is d


@pytest.mark.parametrize(("tree", "message"), [("bad", "SHA-256"), ("cut", "gzip")])
def test_corrupt_download_leaves_nothing(isolated, monkeypatch, mirror_tree, tree, message):
    monkeypatch.setenv("SPECTRAL_PHYSICS_MIRROR", f"{mirror_tree}/{tree}")
    with pytest.raises(DatasetError, match=message) as err:
        load_dataset("mnist")
    text = str(err.value)
    assert f"{mirror_tree}/{tree}/mnist/train-labels-idx1-ubyte.gz" in text
    assert "Looked in" in text
    left = leftovers(isolated / "cache" / "mnist")
    assert "train-labels-idx1-ubyte.gz" not in left
    assert not [n for n in left if n.startswith(".") or n.endswith(".part")]


def test_download_falls_back_to_next_mirror_and_fills_gaps(isolated, monkeypatch, mirror_tree,
                                                           data_root):
    cache = isolated / "cache" / "mnist"
    cache.mkdir(parents=True)
    shutil.copy(data_root / "mnist" / "train-labels-idx1-ubyte.gz", cache)
    monkeypatch.setitem(ds.MIRRORS, "mnist", [f"{mirror_tree}/missing/mnist/",
                                              f"{mirror_tree}/good/mnist/"])
    d = load_dataset("mnist")
    assert np.bincount(d.y_test).tolist() == MNIST_TEST_COUNTS
    assert leftovers(cache) == sorted(f"{n}.gz" for n in IDX_NAMES)


def test_unreachable_mirror_gives_a_clear_error(isolated, monkeypatch):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SPECTRAL_PHYSICS_MIRROR", f"http://127.0.0.1:{port}/{{name}}-files")
    with pytest.raises(DatasetError) as err:
        load_dataset("fashion-mnist")
    text = str(err.value)
    assert f"http://127.0.0.1:{port}/fashion-mnist-files/train-images-idx3-ubyte.gz" in text
    assert str(isolated / "cache" / "fashion-mnist") in text
    assert leftovers(isolated / "cache" / "fashion-mnist") == []


def test_no_mirror_configured(isolated):
    with pytest.raises(DatasetError, match="no mirrors"):
        load_dataset("mnist")


def test_standardized_uses_training_statistics():
    d = Dataset("toy", np.array([[0.0, 2.0], [4.0, 6.0]]), np.array([0, 1]),
                np.array([[3.0, 3.0 + 5**0.5]]), np.array([1]), (2,), 2)
    s = d.standardized()
    # training mean 3, standard deviation sqrt(5)
    np.testing.assert_allclose(s.x_train, (np.array([[0, 2], [4, 6]]) - 3) / 5**0.5, rtol=1e-6)
    np.testing.assert_allclose(s.x_test, [[0.0, 1.0]], atol=1e-6)
    assert s.x_train.dtype == np.float32 and s.info["standardized"] == {"mean": 3.0, "std": 5**0.5}
    np.testing.assert_array_equal(s.y_train, d.y_train)
    flat = Dataset("c", np.full((3, 2), 7.0), np.zeros(3, int), np.full((1, 2), 8.0), np.zeros(1, int), (2,), 1)
    np.testing.assert_array_equal(flat.standardized().x_test, [[1.0, 1.0]])  # constant: only shifted


# ----------------------------------------------------------------------------- streaming IDX reads

# One gzip member of 16 MiB of zeros compresses to ~16 KB; gzip readers treat concatenated
# members as one stream, so repeating it makes a small file that inflates to gigabytes.
_ZEROS_16M = gzip.compress(bytes(16 << 20), compresslevel=9)


def write_bomb(path: Path, head: bytes, inflated_gib: float) -> Path:
    """``head`` (a gzip member) followed by zero members inflating to ``inflated_gib`` GiB."""
    with open(path, "wb") as fh:
        fh.write(head)
        for _ in range(int(inflated_gib * 64)):
            fh.write(_ZEROS_16M)
    return path


def test_header_claiming_more_than_the_limit_is_refused_before_reading(isolated):
    root = isolated / "data"
    write_fake_mnist(root)
    path = root / "train-images-idx3-ubyte.gz"
    # 3 million images of 28 x 28 claimed (2.3 GB), a few bytes present
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">3I", 3_000_000, 28, 28) + bytes(100)))
    with pytest.raises(DatasetError, match="limit") as err:
        read_idx(path, magic=0x803)
    assert str(path) in str(err.value)
    with pytest.raises(DatasetError, match="truncated"):  # no limit: read, and found short
        read_idx(path, magic=0x803, max_bytes=None)
    with pytest.raises(DatasetError, match="limit") as err:
        load_dataset("mnist", root=root, download=False, verify=False)
    assert str(path) in str(err.value)


def test_read_idx_checks_the_item_shape_from_the_header(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(idx_bytes(np.zeros((2, 3, 4), dtype=np.uint8)))
    with pytest.raises(DatasetError, match=r"items of shape \(3, 4\).*expected \(28, 28\)") as err:
        read_idx(path, item_shape=(28, 28))
    assert str(path) in str(err.value)
    assert read_idx(path, item_shape=(3, 4)).shape == (2, 3, 4)


def test_gzip_bomb_is_streamed_not_inflated(isolated):
    root = isolated / "data"
    arrays = write_fake_mnist(root)
    path = root / "train-images-idx3-ubyte.gz"
    write_bomb(path, gzip.compress(idx_bytes(arrays["train-images-idx3-ubyte"])), 0.25)
    assert path.stat().st_size < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match="trailing bytes") as err:
            load_dataset("mnist", root=root, download=False, verify=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(err.value)
    # reading the whole 256 MiB stream before checking the header would peak above it
    assert peak < 16 << 20


_FALLBACK_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import spectral_physics.datasets as ds
    ds.SYSTEM_DATA_DIRS = ()
    ds.checkout_dir = lambda: None  # only the cache (and ../shared/data of the cwd, tmp_path: none)
    d = ds.load_dataset("mnist")
    print(np.bincount(d.y_train).tolist())
""")


def _limit_memory(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def test_gzip_bomb_on_a_mirror_falls_back_to_the_next(isolated, data_root, tmp_path):
    # The first mirror serves a 10 MB train-images file that inflates to 2 GiB past its real
    # data; under a 1 GiB address-space limit, reading it whole was a MemoryError that escaped
    # the mirror fallback. Streamed, it is a corrupt file like any other: the next mirror wins.
    www = tmp_path / "www"
    shutil.copytree(data_root / "mnist", www / "good" / "mnist")
    (www / "bomb" / "mnist").mkdir(parents=True)
    real = (data_root / "mnist" / "train-images-idx3-ubyte.gz").read_bytes()
    write_bomb(www / "bomb" / "mnist" / "train-images-idx3-ubyte.gz", real, 2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPECTRAL_PHYSICS_")}
    cache = isolated / "cache"
    with serve(www) as url:
        env.update(SPECTRAL_PHYSICS_CACHE=str(cache), SPECTRAL_PHYSICS_MIRROR=f"{url}/bomb {url}/good",
                   OPENBLAS_NUM_THREADS="1", no_proxy="127.0.0.1", NO_PROXY="127.0.0.1")
        res = subprocess.run([sys.executable, "-c", _FALLBACK_SCRIPT], env=env, capture_output=True,
                             text=True, timeout=300, preexec_fn=_limit_memory(1 << 30), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == str(MNIST_TRAIN_COUNTS)
    assert leftovers(cache / "mnist") == sorted(f"{n}.gz" for n in IDX_NAMES)


# ----------------------------------------------------------------------------- spectral-physics data


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    from spectral_physics.cli import main

    try:
        rc = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse errors
        rc = exc.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_data_where_shows_the_order_and_what_each_place_holds(isolated, monkeypatch, data_root, capsys):
    (isolated / "shared").mkdir()
    (isolated / "shared" / "data").symlink_to(data_root, target_is_directory=True)  # the project's layout
    write_fake_mnist(isolated / "system" / "mnist")  # wrong checksums
    rc, out, _ = _cli(capsys, "data", "where", "mnist", "cifar10")
    assert rc == 0
    lines = out.splitlines()
    order = [ln.split(":")[0] for ln in lines if ln[:1].isdigit()]
    assert order == ["1. --data-root", "2. $SPECTRAL_PHYSICS_DATA", "3. ../shared/data beside the current directory",
                     "4. system", "5. cache"]
    assert "2. $SPECTRAL_PHYSICS_DATA: not set" in lines
    assert any("mnist" in ln and "complete, checksums match" in ln for ln in lines)
    assert any("mnist" in ln and "BAD" in ln and "SHA-256" in ln for ln in lines)
    assert f"mnist: read from {isolated / 'shared' / 'data' / 'mnist'}" in lines
    assert any(ln.startswith("cifar10: not found") and "data download cifar10" in ln for ln in lines)
    rc, out, _ = _cli(capsys, "data", "where", "--no-verify", "--data-root", isolated / "system")
    assert rc == 0 and "1. --data-root: " + str(isolated / "system") in out and "checksums not checked" in out


def test_data_verify_status(isolated, data_root, capsys):
    rc, out, _ = _cli(capsys, "data", "verify", "--data-root", data_root)
    assert rc == 0 and "mnist: " in out and "checksums match" in out and "fashion-mnist" in out
    write_fake_mnist(isolated / "bad" / "mnist")
    rc, out, _ = _cli(capsys, "data", "verify", "mnist", "--data-root", isolated / "bad")
    assert rc == 1 and "BAD" in out and "train-images-idx3-ubyte" in out
    rc, out, _ = _cli(capsys, "data", "verify", "fashion-mnist")  # nowhere: named, so a failure
    assert rc == 1 and "not found" in out
    rc, _, err = _cli(capsys, "data", "verify")  # nothing anywhere
    assert rc == 2 and "no data set found" in err


def test_data_download_from_a_local_mirror(isolated, mirror_tree, capsys):
    rc, out, err = _cli(capsys, "data", "download", "mnist", "--mirror", f"{mirror_tree}/good", "--no-progress")
    assert rc == 0, err
    cache = isolated / "cache" / "mnist"
    assert f"mnist: downloaded and verified in {cache}" in out
    assert leftovers(cache) == sorted(f"{n}.gz" for n in IDX_NAMES)
    rc, out, _ = _cli(capsys, "data", "download", "mnist", "--mirror", "http://127.0.0.1:9/")
    assert rc == 0 and "already at" in out  # found: nothing to fetch
    to = isolated / "shared-data"
    rc, out, err = _cli(capsys, "data", "download", "mnist", "--to", to, "--force", "--mirror",
                        f"{mirror_tree}/good", "--no-progress")
    assert rc == 0, err
    assert leftovers(to / "mnist") == sorted(f"{n}.gz" for n in IDX_NAMES)


def test_data_download_offline_is_one_quick_line(isolated, capsys):
    import time

    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    rc, _, err = _cli(capsys, "data", "download", "fashion-mnist", "--mirror", f"http://127.0.0.1:{port}/")
    assert time.monotonic() - t0 < 5
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "cannot connect" in err, err
    assert not (isolated / "cache").exists()


def test_a_command_missing_its_data_speaks_command_line(isolated, monkeypatch, capsys):
    rc, _, err = _cli(capsys, "train", "--dataset", "fashion-mnist", "--epochs", "1")
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1, err
    line = lines[0]
    assert line.startswith("spectral-physics train: error: fashion-mnist: data files not found")
    for needle in ("--data-root DIR", "SPECTRAL_PHYSICS_DATA is not set",
                   "spectral-physics data download fashion-mnist",
                   str(isolated / "shared" / "data" / "fashion-mnist"), "spectral-physics data where"):
        assert needle in line, needle
    assert "root=" not in line
    monkeypatch.setenv("SPECTRAL_PHYSICS_DATA", str(isolated / "env"))
    rc, _, err = _cli(capsys, "train", "--dataset", "fashion-mnist", "--epochs", "1")
    assert f"SPECTRAL_PHYSICS_DATA is set to '{isolated / 'env'}'" in err
