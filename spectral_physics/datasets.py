"""Data sets: MNIST, Fashion-MNIST, CIFAR-10 and a synthetic teacher-student task.

One idea: from a data set's name to its arrays, the files found on one search order
(or downloaded), verified and decoded; long because every way the files can be damaged
is told apart and named.

Every loader returns a :class:`Dataset`: flattened images as a C-contiguous
``float32`` array of shape ``(n, d)`` scaled to ``[0, 1]``, ``int64`` labels,
the image shape needed to undo the flattening, and the number of classes.

Example
-------
>>> from spectral_physics.datasets import find_dataset, load_dataset, teacher_student
>>> data = load_dataset("mnist")            # the IDX files, from the search order below
>>> data
Dataset('mnist', train=60000, test=10000, features=784, classes=10, image_shape=(28, 28))
>>> small = data.subset(1000, seed=0)
>>> small.x_train.shape, small.x_train.dtype, small.y_train.dtype
((1000, 784), dtype('float32'), dtype('int64'))
>>> find_dataset("mnist")                  # where it is read from, e.g. '/home/me/shared/data/mnist'
DataFiles('mnist', '.../mnist', 4 files, from ...)
>>> toy = teacher_student(n_train=500, n_test=100, n_features=20, n_classes=3, seed=1)
>>> toy.x_train.shape, toy.x_test.shape, toy.n_classes
((500, 20), (100, 20), 3)

Where the files are looked for
------------------------------
One search order serves the library, the command line and the test suite (its
``data_root`` fixture calls :func:`find_dataset`). :func:`search_path` lists it, and
``spectral-physics data where`` prints it with what each place holds. For
``load_dataset(name, root=...)`` the first complete set of files wins:

1. the explicit ``root`` (``--data-root`` on the command line): the files directly in
   it, then in ``root/<name>/``;
2. ``$SPECTRAL_PHYSICS_DATA/<name>/`` (several directories may be joined with
   ``os.pathsep``);
3. ``../shared/data/<name>/`` relative to the current directory, the project's layout of
   a checkout with the shared data folder beside it (run from the checkout's top);
4. ``../shared/data/<name>/`` relative to the repository checkout the package is
   imported from (:func:`checkout_dir`: an editable install or ``PYTHONPATH``; skipped
   for a package installed into site-packages), so it works from any directory;
5. Debian's system location ``/usr/share/datasets/<name>/`` (the package
   ``dataset-fashion-mnist`` installs there; see :data:`SYSTEM_DATA_DIRS`);
6. the user cache ``$SPECTRAL_PHYSICS_CACHE/<name>/``, else
   ``$XDG_CACHE_HOME/spectral-physics/<name>/``, else
   ``~/.cache/spectral-physics/<name>/`` (see :func:`cache_dir`).

A folder met twice (e.g. 3 and 4 when the current directory is the checkout) is
searched once. A directory holding only part of a set (say the training files but not
the test files) is an error naming the missing files, except the cache, whose missing
files are downloaded. Checksums are verified when the files are read
(``verify=True``); ``spectral-physics data verify`` checks them without loading.

Downloads
---------
With ``download=True`` (the default) and nothing found, the files are fetched into the
cache from the mirrors in :data:`MIRRORS` (or from the base URLs in
``$SPECTRAL_PHYSICS_MIRROR``, which replace them); :func:`download_dataset` (or
``spectral-physics data download``) does so on request. The mirrors' hosts are probed
first, all at once, for at most :data:`OFFLINE_CHECK_TIMEOUT` seconds, so an offline
machine gets its answer at once rather than a stalled connection per file. Each file
goes to a temporary file in the cache directory, is verified against
:data:`KNOWN_SHA256`, fsynced and renamed into place, so the cache never holds a
half-written or unverified file; cache folders created for a download that failed are
removed again. When the files are nowhere, :class:`DatasetNotFoundError` lists every
place searched and every URL tried, says whether ``$SPECTRAL_PHYSICS_DATA`` is set (and
to what), and how to fix it, in Python's words (``root=``) or, through
:meth:`DatasetNotFoundError.for_cli`, the command line's (``--data-root``).

File formats
------------
MNIST and Fashion-MNIST: the four IDX files ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each raw or gzip-compressed (``.gz``); gzip is
recognised by content, not by name. The SHA-256 of the *uncompressed* bytes is
checked (``verify=True``), since the gzip bytes differ between encoders.

CIFAR-10: the binary version only (never the pickled one), either the archive
``cifar-10-binary.tar.gz`` or its extracted folder ``cifar-10-batches-bin/``
(or the ``.bin`` files directly). Each record is one label byte and
3 x 32 x 32 pixel bytes in channel-major (CHW) order; images are returned in
HWC order, flattened, so ``x.reshape(-1, 32, 32, 3)`` gives the pictures. The
checksum of the canonical archive (170,052,171 bytes) is known and checked; the
extracted ``.bin`` files have no published checksums and are only validated
structurally.

Decoded data sets are kept in memory (a small LRU cache keyed on the resolved
paths, sizes and modification times), so loading the same files again in one
process is nearly free. The cached arrays are read-only; ``subset`` and any
arithmetic return fresh, writable arrays. :func:`clear_cache` empties the cache.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import math
import os
import socket
import struct
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import config
from .atomic import atomic_path

__all__ = [
    "CIFAR10_ARCHIVE",
    "CIFAR10_MD5",
    "CIFAR10_SIZE",
    "DATASET_NAMES",
    "DataFiles",
    "Dataset",
    "DatasetError",
    "DatasetNotFoundError",
    "KNOWN_SHA256",
    "MIRRORS",
    "OFFLINE_CHECK_TIMEOUT",
    "SHARED_DATA",
    "SYSTEM_DATA_DIRS",
    "SearchLocation",
    "cache_dir",
    "canonical_name",
    "checkout_dir",
    "clear_cache",
    "download_dataset",
    "find_dataset",
    "inspect_location",
    "load_dataset",
    "read_idx",
    "teacher_student",
]

#: Names accepted by :func:`load_dataset`.
DATASET_NAMES: tuple[str, ...] = ("mnist", "fashion-mnist", "cifar10", "teacher-student")

# names of the variables read through spectral_physics.config (meanings and defaults there)
ENV_DATA = "SPECTRAL_PHYSICS_DATA"
ENV_CACHE = "SPECTRAL_PHYSICS_CACHE"
ENV_MIRROR = "SPECTRAL_PHYSICS_MIRROR"

#: System-wide data directories searched after ``$SPECTRAL_PHYSICS_DATA``.
SYSTEM_DATA_DIRS: tuple[str, ...] = ("/usr/share/datasets",)

#: Base URLs tried in order for each data set; ``$SPECTRAL_PHYSICS_MIRROR`` replaces them.
MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
    "cifar10": ["https://www.cs.toronto.edu/~kriz/"],
}

CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"
#: Size in bytes and MD5 of the canonical CIFAR-10 binary archive (as published by its authors).
CIFAR10_SIZE = 170_052_171
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"

# SHA-256 of the canonical files ("digest set/file"): the *uncompressed* IDX files
# (gzip bytes differ between encoders) and the CIFAR-10 archive itself.
_SHA256_TABLE = """
ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db mnist/train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5 mnist/train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7 mnist/t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2 mnist/t10k-labels-idx1-ubyte
c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888 fashion-mnist/train-images-idx3-ubyte
bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9 fashion-mnist/train-labels-idx1-ubyte
5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b fashion-mnist/t10k-images-idx3-ubyte
0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34 fashion-mnist/t10k-labels-idx1-ubyte
c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd cifar10/cifar-10-binary.tar.gz
"""  # noqa: E501 - one digest and file per line, as sha256sum prints them

#: ``KNOWN_SHA256[name][file]``: SHA-256 (hex) of each canonical file, uncompressed for IDX.
KNOWN_SHA256: dict[str, dict[str, str]] = {}
for _digest, _path in (line.split() for line in _SHA256_TABLE.strip().splitlines()):
    _set, _file = _path.split("/")
    KNOWN_SHA256.setdefault(_set, {})[_file] = _digest
del _digest, _path, _set, _file

#: Seconds before a stalled download connection is given up.
DOWNLOAD_TIMEOUT = 60.0

IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801

# (role, canonical file name, magic number); the order is train images, train labels, test ...
_IDX_ROLES: tuple[tuple[str, str, int], ...] = (
    ("train_images", "train-images-idx3-ubyte", IDX_IMAGES_MAGIC),
    ("train_labels", "train-labels-idx1-ubyte", IDX_LABELS_MAGIC),
    ("test_images", "t10k-images-idx3-ubyte", IDX_IMAGES_MAGIC),
    ("test_labels", "t10k-labels-idx1-ubyte", IDX_LABELS_MAGIC),
)

# IDX type codes (third header byte) -> big-endian NumPy dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_CIFAR_DIR = "cifar-10-batches-bin"
_CIFAR_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_CIFAR_TEST = "test_batch.bin"
_CIFAR_PIXELS = 3 * 32 * 32
_CIFAR_RECORD = 1 + _CIFAR_PIXELS

_SPECS: dict[str, dict[str, Any]] = {
    "mnist": {"kind": "idx", "image_shape": (28, 28), "n_classes": 10},
    "fashion-mnist": {"kind": "idx", "image_shape": (28, 28), "n_classes": 10},
    "cifar10": {"kind": "cifar", "image_shape": (32, 32, 3), "n_classes": 10},
}

_ALIASES = {
    "fashion": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "cifar-10": "cifar10",
    "teacher_student": "teacher-student",
    "teacherstudent": "teacher-student",
}


class DatasetError(ValueError):
    """A data file is missing, corrupt, truncated or fails verification.

    The message always names the file (or the directories searched).
    """


# --------------------------------------------------------------------------------------
# The Dataset container
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification data set split into training and test parts.

    Parameters
    ----------
    name : str
        Short name, e.g. ``"mnist"``.
    x_train : ndarray, shape (n_train, d), float32
        Training inputs, one flattened image per row (C order). For image data
        the values lie in ``[0, 1]`` (pixel / 255); synthetic sets may differ.
    y_train : ndarray, shape (n_train,), int64
        Training labels in ``0 .. n_classes - 1``.
    x_test : ndarray, shape (n_test, d), float32
        Test inputs.
    y_test : ndarray, shape (n_test,), int64
        Test labels.
    image_shape : tuple of int
        Shape of one input before flattening, with ``prod(image_shape) == d``:
        ``(28, 28)`` for MNIST, ``(32, 32, 3)`` (HWC) for CIFAR-10, ``(d,)``
        for vector data.
    n_classes : int
        Number of classes.
    info : dict, optional
        Provenance: the files read and whether they were verified, or the
        generator's settings. Not part of the repr; shared with the cached
        copy, so treat it as read-only.

    Notes
    -----
    Inputs are converted to C-contiguous float32 and labels to int64 on
    construction (no copy when they already are). Arrays returned by
    :func:`load_dataset` are read-only because they are shared through an
    in-process cache; ``x.copy()`` gives a writable array.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...]
    n_classes: int
    info: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        put = functools.partial(object.__setattr__, self)
        put("image_shape", tuple(int(s) for s in self.image_shape))
        put("n_classes", int(self.n_classes))
        if self.n_classes < 1:
            raise ValueError(f"n_classes must be >= 1, got {self.n_classes}")
        d = math.prod(self.image_shape)
        for split in ("train", "test"):
            x = np.ascontiguousarray(getattr(self, f"x_{split}"), dtype=np.float32)
            y = np.ascontiguousarray(getattr(self, f"y_{split}"))
            if x.ndim != 2:
                raise ValueError(f"x_{split} must be 2-D (n, d), got shape {x.shape}")
            if x.shape[1] != d:
                raise ValueError(
                    f"x_{split} has {x.shape[1]} features but image_shape={self.image_shape} "
                    f"holds {d}"
                )
            if y.ndim != 1 or y.shape[0] != x.shape[0]:
                raise ValueError(
                    f"y_{split} must have shape ({x.shape[0]},) to match x_{split}, got {y.shape}"
                )
            if y.dtype.kind not in "iu":
                raise ValueError(f"y_{split} must hold integer labels, got dtype {y.dtype}")
            y = y.astype(np.int64, copy=False)
            if y.size and (y.min() < 0 or y.max() >= self.n_classes):
                raise ValueError(
                    f"y_{split} has labels in [{y.min()}, {y.max()}], outside "
                    f"0..{self.n_classes - 1} (n_classes={self.n_classes})"
                )
            put(f"x_{split}", x)
            put(f"y_{split}", y)

    @property
    def n_train(self) -> int:
        """Number of training examples."""
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test examples."""
        return int(self.x_test.shape[0])

    @property
    def n_features(self) -> int:
        """Input dimension ``d`` (784 for MNIST, 3072 for CIFAR-10)."""
        return int(self.x_train.shape[1])

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={self.n_train}, test={self.n_test}, "
            f"features={self.n_features}, classes={self.n_classes}, "
            f"image_shape={self.image_shape})"
        )

    def subset(self, n_train: int, seed: int = 0, n_test: int | None = None) -> Dataset:
        """A smaller data set drawn without replacement by a seeded permutation.

        Parameters
        ----------
        n_train : int
            Number of training examples to keep, ``1 <= n_train <= self.n_train``.
        seed : int, default 0
            Seed of ``numpy.random.Generator(PCG64(SeedSequence(seed)))``.
        n_test : int or None, default None
            Number of test examples to keep; ``None`` keeps the whole test set.

        Returns
        -------
        Dataset
            Same name, image shape and classes; ``x_train`` of shape
            ``(n_train, d)``. The chosen rows keep their original order, and
            with one seed a smaller subset is contained in a larger one.
        """
        n_train = _check_count("n_train", n_train, 1, self.n_train)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
        idx = np.sort(rng.permutation(self.n_train)[:n_train])
        x_test, y_test = self.x_test, self.y_test
        if n_test is not None:
            n_test = _check_count("n_test", n_test, 0, self.n_test)
            jdx = np.sort(rng.permutation(self.n_test)[:n_test])
            x_test, y_test = self.x_test[jdx], self.y_test[jdx]
        info = dict(self.info)
        info["subset"] = {"n_train": n_train, "n_test": n_test, "seed": seed}
        return Dataset(
            self.name, self.x_train[idx], self.y_train[idx], x_test, y_test,
            self.image_shape, self.n_classes, info,
        )

    def standardized(self) -> Dataset:
        """Inputs shifted and scaled by the training set's global mean and standard deviation.

        The reference NTT code's preprocessing. Both splits use the training statistics, so
        nothing about the test set leaks into training; a constant training set (standard
        deviation 0) is only shifted.

        Returns
        -------
        Dataset
            ``x = (x - mean) / std`` for both splits, float32; ``info["standardized"]``
            holds ``mean`` and ``std``.
        """
        x = self.x_train
        mean = float(x.sum(dtype=np.float64)) / max(x.size, 1)
        # squared deviations summed in row blocks: no float64 copy of the training set
        step = max(1, (1 << 22) // max(x.shape[1], 1))
        ss = sum(float(np.square(x[i : i + step] - np.float32(mean)).sum(dtype=np.float64))
                 for i in range(0, x.shape[0], step))
        std = (ss / max(x.size, 1)) ** 0.5
        scale = std if std > 0 else 1.0
        info = dict(self.info)
        info["standardized"] = {"mean": mean, "std": std}
        return Dataset(
            self.name, (self.x_train - mean) / scale, self.y_train, (self.x_test - mean) / scale,
            self.y_test, self.image_shape, self.n_classes, info,
        )


def _check_count(arg: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{arg} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{arg} must be in [{low}, {high}], got {value}")
    return int(value)


# --------------------------------------------------------------------------------------
# IDX files
# --------------------------------------------------------------------------------------


#: Largest uncompressed IDX payload :func:`read_idx` accepts by default (1 GiB; the MNIST
#: training images are 47 MB). The size the header declares is checked against it before
#: anything is read, so a small gzip file that inflates to gigabytes is refused at once.
MAX_IDX_BYTES = 1 << 30

# Bytes decompressed per read: bounds the temporary buffer of a gzip read.
_IDX_CHUNK = 1 << 22


def _read_exact(stream, n: int) -> bytes:
    """Up to ``n`` bytes of ``stream``; fewer only at the end of the data."""
    parts, got = [], 0
    while got < n:
        part = stream.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_idx_stream(stream, path: Path, magic: int | None, sha256: str | None,
                     item_shape: tuple[int, ...] | None, max_bytes: int | None) -> np.ndarray:
    head = _read_exact(stream, 4)
    if not head:
        raise DatasetError(f"{path}: empty file")
    if len(head) < 4:
        raise DatasetError(f"{path}: truncated IDX file ({len(head)} bytes, no header)")
    found = int.from_bytes(head, "big")
    if magic is not None and found != magic:
        raise DatasetError(
            f"{path}: wrong magic number 0x{found:08x}, expected 0x{magic:08x} "
            "(not an IDX file of the expected kind)"
        )
    if head[:2] != b"\x00\x00" or head[2] not in _IDX_DTYPES:
        raise DatasetError(f"{path}: not an IDX file (magic number 0x{found:08x})")
    dtype, ndim = _IDX_DTYPES[head[2]], head[3]
    header = 4 + 4 * ndim
    raw_dims = _read_exact(stream, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DatasetError(f"{path}: truncated IDX header ({4 + len(raw_dims)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}I", raw_dims)
    if item_shape is not None and tuple(dims[1:]) != tuple(item_shape):
        raise DatasetError(
            f"{path}: the header declares items of shape {tuple(dims[1:])} (dimensions {dims}), "
            f"expected {tuple(item_shape)}"
        )
    count = math.prod(dims)
    nbytes = count * dtype.itemsize
    expected = header + nbytes
    if max_bytes is not None and nbytes > max_bytes:
        raise DatasetError(
            f"{path}: the header declares dimensions {dims} ({nbytes:,} bytes of data), more than "
            f"the limit of {max_bytes:,} bytes; the file is corrupt or not the expected data set"
        )
    try:
        out = np.empty(count, dtype=dtype)
    except MemoryError:
        raise DatasetError(f"{path}: cannot allocate the {nbytes:,} bytes its header declares "
                           f"(dimensions {dims})") from None
    buf = memoryview(out.view(np.uint8))
    got = 0
    while got < nbytes:
        n = stream.readinto(buf[got:got + _IDX_CHUNK])
        if not n:
            break
        got += n
    if got < nbytes:
        raise DatasetError(
            f"{path}: truncated: the header declares dimensions {dims} ({expected} bytes) "
            f"but the data has {header + got} bytes"
        )
    # One byte more must be end of data; for gzip this read also checks the CRC and length.
    if stream.read(1):
        raise DatasetError(
            f"{path}: has trailing bytes: the header declares dimensions {dims} ({expected} bytes) "
            "but the data goes on past them"
        )
    if sha256 is not None:
        digest = hashlib.sha256(head)
        digest.update(raw_dims)
        digest.update(buf)
        got_hex = digest.hexdigest()
        if got_hex != sha256.lower():
            raise DatasetError(
                f"{path}: SHA-256 of the uncompressed data is {got_hex}, expected {sha256}; "
                "the file is corrupt or not the canonical release "
                "(for a local file, verify=False skips this check)"
            )
    out.flags.writeable = False
    return out.reshape(dims)


def read_idx(
    path: str | os.PathLike[str],
    *,
    magic: int | None = None,
    sha256: str | None = None,
    item_shape: Sequence[int] | None = None,
    max_bytes: int | None = MAX_IDX_BYTES,
) -> np.ndarray:
    """Read one IDX file (raw or gzip-compressed) into an array, streaming.

    The header (magic number, dimensions) is read and checked first; then exactly the
    number of bytes it declares is read into the result, and the data must end there.
    Nothing is read whole, so memory stays at the size of the result.

    Parameters
    ----------
    path : path-like
        The file. Gzip is detected from the content, not the suffix.
    magic : int, optional
        Required magic number, e.g. ``0x00000803`` (unsigned bytes, 3 dims:
        images) or ``0x00000801`` (unsigned bytes, 1 dim: labels).
    sha256 : str, optional
        Expected SHA-256 (hex) of the uncompressed bytes.
    item_shape : sequence of int, optional
        Required dimensions after the first (the item count), e.g. ``(28, 28)``
        for MNIST images, ``()`` for labels.
    max_bytes : int or None, default :data:`MAX_IDX_BYTES`
        Largest data size the header may declare; ``None`` for no limit.

    Returns
    -------
    ndarray
        Read-only array with the dimensions of the header, e.g.
        ``(60000, 28, 28)`` uint8 for MNIST training images.

    Raises
    ------
    DatasetError
        Naming the file, for a damaged gzip stream, a wrong magic number, dimensions
        other than ``item_shape`` or above ``max_bytes``, a size that disagrees with the
        header (truncated or padded file), or a checksum mismatch.
    """
    path = Path(path)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from exc
    shape = None if item_shape is None else tuple(int(n) for n in item_shape)
    is_gzip = False
    with fh:
        try:
            is_gzip = fh.read(2) == b"\x1f\x8b"
            fh.seek(0)
            if not is_gzip:
                return _read_idx_stream(fh, path, magic, sha256, shape, max_bytes)
            with gzip.GzipFile(fileobj=fh, mode="rb") as stream:
                return _read_idx_stream(stream, path, magic, sha256, shape, max_bytes)
        except (OSError, EOFError, zlib.error) as exc:
            if not is_gzip:
                raise DatasetError(f"{path}: cannot read ({exc})") from exc
            # BadGzipFile (CRC or length check failed) is an OSError; a cut-off stream is EOFError.
            raise DatasetError(f"{path}: corrupt or truncated gzip data ({exc})") from exc


def _to_unit_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 (n, ...) -> float32 (n, prod(...)) in [0, 1], exactly pixel / 255 in float32."""
    flat = pixels.reshape(pixels.shape[0], -1)
    return np.divide(flat, np.float32(255), dtype=np.float32)


def _item_shape(name: str, magic: int) -> tuple[int, ...]:
    """Dimensions after the count that an IDX file of data set ``name`` must declare."""
    return tuple(_SPECS[name]["image_shape"]) if magic == IDX_IMAGES_MAGIC else ()


def _load_idx(name: str, paths: Sequence[Path], verify: bool) -> Dataset:
    spec = _SPECS[name]
    arrays = {}
    for (role, stem, magic), path in zip(_IDX_ROLES, paths, strict=True):
        digest = KNOWN_SHA256.get(name, {}).get(stem) if verify else None
        if digest is not None and _stat_key(path) in _VERIFIED:
            digest = None
        arrays[role] = (path, read_idx(path, magic=magic, sha256=digest,
                                       item_shape=_item_shape(name, magic)))
    parts = {}
    for split in ("train", "test"):
        ipath, images = arrays[f"{split}_images"]
        lpath, labels = arrays[f"{split}_labels"]
        if images.shape[1:] != spec["image_shape"]:
            raise DatasetError(
                f"{ipath}: images are {images.shape[1:]}, expected {spec['image_shape']} for {name}"
            )
        if images.shape[0] != labels.shape[0]:
            raise DatasetError(
                f"{ipath} holds {images.shape[0]} images but {lpath} holds "
                f"{labels.shape[0]} labels"
            )
        if labels.size and labels.max() >= spec["n_classes"]:
            bad = int(np.argmax(labels >= spec["n_classes"]))
            raise DatasetError(
                f"{lpath}: label {labels[bad]} at index {bad} is outside "
                f"0..{spec['n_classes'] - 1}"
            )
        parts[split] = (_to_unit_float(images), labels.astype(np.int64))
    info = {"files": [str(p) for p in paths], "verified": bool(verify)}
    return Dataset(name, *parts["train"], *parts["test"], spec["image_shape"], spec["n_classes"],
                   info)


# --------------------------------------------------------------------------------------
# CIFAR-10 (binary version)
# --------------------------------------------------------------------------------------


def _file_digests(path: Path) -> tuple[str, str]:
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def _check_cifar_archive(path: Path) -> None:
    """Compare ``path`` with the canonical CIFAR-10 binary archive (size, SHA-256, MD5)."""
    size = path.stat().st_size
    if size != CIFAR10_SIZE:
        raise DatasetError(
            f"{path}: {size} bytes, but the canonical {CIFAR10_ARCHIVE} has {CIFAR10_SIZE} "
            "(truncated, or a different file; for a local file, verify=False skips this check)"
        )
    sha, md5 = _file_digests(path)
    want = KNOWN_SHA256["cifar10"][CIFAR10_ARCHIVE]
    if sha != want or md5 != CIFAR10_MD5:
        raise DatasetError(
            f"{path}: checksum mismatch (SHA-256 {sha}, MD5 {md5}; expected {want}, "
            f"{CIFAR10_MD5}); the archive is corrupt "
            "(for a local file, verify=False skips this check)"
        )


def _parse_cifar_batch(blob: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    if len(blob) == 0 or len(blob) % _CIFAR_RECORD:
        raise DatasetError(
            f"{where}: {len(blob)} bytes is not a positive multiple of the "
            f"{_CIFAR_RECORD}-byte CIFAR-10 record (truncated or not a CIFAR-10 batch)"
        )
    records = np.frombuffer(blob, dtype=np.uint8).reshape(-1, _CIFAR_RECORD)
    labels = records[:, 0]
    if labels.max() >= 10:
        bad = int(np.argmax(labels >= 10))
        raise DatasetError(f"{where}: label {labels[bad]} of record {bad} is outside 0..9")
    # Records store each image channel-major (CHW); the Dataset convention is HWC.
    pixels = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return pixels, labels.astype(np.int64)


def _cifar_blobs_from_archive(path: Path) -> dict[str, bytes]:
    wanted = {f"{_CIFAR_DIR}/{m}": m for m in (*_CIFAR_TRAIN, _CIFAR_TEST)}
    blobs: dict[str, bytes] = {}
    try:
        # Iterating the members in order reads the gzip stream once; random access would
        # re-decompress from the start for every member.
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                key = member.name.removeprefix("./")
                if key in wanted and member.isfile():
                    fh = tar.extractfile(member)
                    assert fh is not None
                    blobs[wanted[key]] = fh.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{path}: corrupt or truncated archive ({exc})") from exc
    missing = [f"{_CIFAR_DIR}/{m}" for m in wanted.values() if m not in blobs]
    if missing:
        raise DatasetError(f"{path}: archive lacks member(s) {', '.join(missing)}")
    return blobs


def _load_cifar(paths: Sequence[Path], verify: bool) -> Dataset:
    if len(paths) == 1:
        archive = paths[0]
        if verify and _stat_key(archive) not in _VERIFIED:
            _check_cifar_archive(archive)
        blobs = _cifar_blobs_from_archive(archive)
        where = {m: f"{archive}:{_CIFAR_DIR}/{m}" for m in blobs}
    else:
        blobs, where = {}, {}
        for p in paths:
            try:
                blobs[p.name] = p.read_bytes()
            except OSError as exc:
                raise DatasetError(f"{p}: cannot read ({exc})") from exc
            where[p.name] = str(p)
    train = [_parse_cifar_batch(blobs[m], where[m]) for m in _CIFAR_TRAIN]
    x_test, y_test = _parse_cifar_batch(blobs[_CIFAR_TEST], where[_CIFAR_TEST])
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    spec = _SPECS["cifar10"]
    info = {"files": [str(p) for p in paths], "verified": bool(verify and len(paths) == 1)}
    return Dataset("cifar10", _to_unit_float(x_train), y_train, _to_unit_float(x_test), y_test,
                   spec["image_shape"], spec["n_classes"], info)


# --------------------------------------------------------------------------------------
# Finding files
# --------------------------------------------------------------------------------------


def cache_dir(name: str | None = None) -> Path:
    """The user cache directory for downloaded data.

    Parameters
    ----------
    name : str, optional
        Data set name; when given, its sub-directory is returned.

    Returns
    -------
    Path
        ``$SPECTRAL_PHYSICS_CACHE``, else ``$XDG_CACHE_HOME/spectral-physics``,
        else ``~/.cache/spectral-physics`` (plus ``/<name>``). Not created here.
    """
    env = config.get(ENV_CACHE)
    if env is not None:
        base = env
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "spectral-physics"
    return base / _canonical_name(name) if name is not None else base


def canonical_name(name: str) -> str:
    """The canonical name of a data set (``"Fashion_MNIST"`` -> ``"fashion-mnist"``).

    Raises
    ------
    ValueError
        For a name that is not in :data:`DATASET_NAMES` (nor an alias of one).
    """
    return _canonical_name(name)


def _canonical_name(name: str) -> str:
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, got {name!r}")
    key = name.strip().lower().replace("_", "-")
    key = _ALIASES.get(key, _ALIASES.get(key.replace("-", ""), key))
    if key not in DATASET_NAMES:
        raise ValueError(
            f"name={name!r} is not a known data set; choose one of {', '.join(DATASET_NAMES)}"
        )
    return key


def _idx_candidates(stem: str) -> list[str]:
    # Some redistributions spell the files "train-images.idx3-ubyte".
    dotted = stem.replace("-idx", ".idx")
    return [stem, f"{stem}.gz", dotted, f"{dotted}.gz"]


def _scan(name: str, directory: Path) -> tuple[list[Path] | None, list[str], bool]:
    """Files of ``name`` in ``directory``: (complete list or None, missing names, partial?)."""
    if _SPECS[name]["kind"] == "idx":
        found, missing = [], []
        for _, stem, _ in _IDX_ROLES:
            hit = next((directory / c for c in _idx_candidates(stem)
                        if (directory / c).is_file()), None)
            if hit is None:
                missing.append(f"{stem}[.gz]")
            else:
                found.append(hit)
        if not missing:
            return found, [], False
        return None, missing, bool(found)
    archive = directory / CIFAR10_ARCHIVE
    if archive.is_file():
        return [archive], [], False
    for sub in (directory / _CIFAR_DIR, directory):
        members = [sub / m for m in (*_CIFAR_TRAIN, _CIFAR_TEST)]
        present = [p.is_file() for p in members]
        if all(present):
            return members, [], False
        if any(present):
            lacking = [str(p) for p, ok in zip(members, present, strict=True) if not ok]
            return None, lacking, True
    return None, [CIFAR10_ARCHIVE], False


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_mtime_ns, st.st_size)


#: Where a checkout's shared data lives, relative to the current directory and to the checkout.
SHARED_DATA = ("..", "shared", "data")

# how each kind of location is named in messages: (Python words, command-line words)
_SOURCE_WORDS = {
    "root": ("root=", "--data-root"),
    "env": (f"${ENV_DATA}", f"${ENV_DATA}"),
    "cwd": ("../shared/data beside the current directory", "../shared/data beside the current directory"),
    "checkout": ("../shared/data beside the checkout", "../shared/data beside the checkout"),
    "system": ("system", "system"),
    "cache": ("cache", "cache"),
}


@dataclass(frozen=True)
class SearchLocation:
    """One place of the data search path (see :func:`search_path`).

    Attributes
    ----------
    source : str
        ``"root"`` (``root=``, ``--data-root``), ``"env"`` (``$SPECTRAL_PHYSICS_DATA``),
        ``"cwd"`` (``../shared/data`` beside the current directory), ``"checkout"``
        (``../shared/data`` beside the repository checkout the package runs from),
        ``"system"`` or ``"cache"``.
    path : Path
        The folder holding one ``<name>/`` folder per data set; a ``root`` may also hold
        the files themselves.
    """

    source: str
    path: Path

    def directories(self, name: str) -> list[Path]:
        """The folders where the files of data set ``name`` may lie, in the order searched."""
        name = _canonical_name(name)
        return [self.path, self.path / name] if self.source == "root" else [self.path / name]

    def describe(self, cli: bool = False) -> str:
        """How this place was chosen, in words (``cli=True``: the command line's words)."""
        return _SOURCE_WORDS[self.source][1 if cli else 0]


@dataclass(frozen=True)
class DataFiles:
    """A complete set of files of one data set, as :func:`find_dataset` found it.

    Attributes
    ----------
    name : str
        Canonical data set name (``"mnist"``).
    directory : Path
        The folder holding the files.
    files : tuple of Path
        The files :func:`load_dataset` reads (IDX: train images, train labels, test
        images, test labels; CIFAR-10: the archive, or the six ``.bin`` batches).
    location : SearchLocation
        The place of the search path where they were found.
    """

    name: str
    directory: Path
    files: tuple[Path, ...]
    location: SearchLocation

    def __repr__(self) -> str:
        return (f"DataFiles({self.name!r}, {str(self.directory)!r}, {len(self.files)} files, "
                f"from {self.location.source})")

    def verify(self) -> list[str]:
        """Decode every file and compare it with its published checksum.

        Returns
        -------
        list of str
            The problems found, one message per bad file naming it; ``[]`` when every
            file matches :data:`KNOWN_SHA256` (CIFAR-10 ``.bin`` batches have no published
            checksum and are only checked structurally).
        """
        problems = []
        if _SPECS[self.name]["kind"] == "idx":
            for (_, stem, magic), path in zip(_IDX_ROLES, self.files, strict=True):
                try:
                    read_idx(path, magic=magic, sha256=KNOWN_SHA256[self.name][stem],
                             item_shape=_item_shape(self.name, magic))
                except DatasetError as exc:
                    problems.append(str(exc))
        elif len(self.files) == 1:
            try:
                _check_cifar_archive(self.files[0])
            except DatasetError as exc:
                problems.append(str(exc))
        else:
            for path in self.files:
                try:
                    _parse_cifar_batch(path.read_bytes(), str(path))
                except (OSError, DatasetError) as exc:
                    problems.append(str(exc))
        return problems


def checkout_dir() -> Path | None:
    """The repository checkout the package is imported from, or ``None`` when it is installed.

    Returns
    -------
    Path or None
        The folder holding ``pyproject.toml`` of ``spectral-physics`` next to the
        ``spectral_physics/`` package folder (an editable install or ``PYTHONPATH``).
    """
    top = Path(__file__).resolve().parent.parent
    try:
        text = (top / "pyproject.toml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return top if 'name = "spectral-physics"' in text else None


def search_path(root: str | os.PathLike[str] | None = None) -> list[SearchLocation]:
    """The places :func:`load_dataset` looks in, in order (see the module docstring).

    Parameters
    ----------
    root : path-like, optional
        An explicit folder (``root=`` in Python, ``--data-root`` on the command line);
        searched first.

    Returns
    -------
    list of SearchLocation
        ``root``; each folder of ``$SPECTRAL_PHYSICS_DATA``; ``../shared/data`` beside the
        current directory; ``../shared/data`` beside the checkout the package runs from
        (:func:`checkout_dir`; absent for an installed package); :data:`SYSTEM_DATA_DIRS`;
        the cache (:func:`cache_dir`). The same folder may appear twice (e.g. when the
        current directory is the checkout); it is searched once.
    """
    out = []
    if root is not None:
        out.append(SearchLocation("root", Path(root).expanduser()))
    out += [SearchLocation("env", part) for part in config.get(ENV_DATA)]
    try:
        out.append(SearchLocation("cwd", Path(os.path.normpath(Path.cwd().joinpath(*SHARED_DATA)))))
    except OSError:  # the current directory was deleted
        pass
    checkout = checkout_dir()
    if checkout is not None:
        out.append(SearchLocation("checkout", Path(os.path.normpath(checkout.joinpath(*SHARED_DATA)))))
    out += [SearchLocation("system", Path(base)) for base in SYSTEM_DATA_DIRS]
    out.append(SearchLocation("cache", cache_dir()))
    return out


def inspect_location(location: SearchLocation, name: str) -> tuple[DataFiles | None, str]:
    """What ``location`` holds of data set ``name``, without reading the files.

    Returns
    -------
    files : DataFiles or None
        The complete set, or ``None``.
    status : str
        ``"complete"``, ``"no such directory"``, ``"no <name> files"`` or
        ``"incomplete, missing ..."``.
    """
    name = _canonical_name(name)
    status = "no such directory"
    for directory in location.directories(name):
        if not directory.is_dir():
            continue
        files, missing, partial = _scan(name, directory)
        if files is not None:
            return DataFiles(name, directory, tuple(files), location), "complete"
        if partial:
            return None, f"incomplete, missing {', '.join(missing)}"
        status = f"no {name} files"
    return None, status


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


def _locate(name: str, root, looked: list[tuple[str, str, str]]) -> DataFiles | None:
    """The first complete set on the search path; each place that lacks it is added to ``looked``.

    A place holding part of a set is an error, except the cache (downloads fill it).
    """
    seen: list[Path] = []
    for location in search_path(root):
        if any(_same(location.path, s) for s in seen) and location.source != "root":
            continue
        seen.append(location.path)
        files, status = inspect_location(location, name)
        if files is not None:
            return files
        if status.startswith("incomplete") and location.source != "cache":
            raise DatasetError(f"{location.directories(name)[-1]}: incomplete {name} set, "
                               f"{status.removeprefix('incomplete, ')}")
        looked.append((str(location.directories(name)[-1]), location.source, status))
    return None


def find_dataset(name: str, root: str | os.PathLike[str] | None = None) -> DataFiles | None:
    """Where :func:`load_dataset` would read data set ``name`` from; nothing is read or downloaded.

    Parameters
    ----------
    name : str
        ``"mnist"``, ``"fashion-mnist"`` or ``"cifar10"`` (aliases as :func:`load_dataset`).
    root : path-like, optional
        As ``load_dataset(root=...)``.

    Returns
    -------
    DataFiles or None
        The first complete set of files on :func:`search_path`, or ``None``.

    Raises
    ------
    DatasetError
        When a place before it holds an incomplete set (as :func:`load_dataset` does).
    """
    name = _canonical_name(name)
    if name not in _SPECS:
        raise ValueError(f"{name} is generated, not read from files")
    return _locate(name, root, [])


class DatasetNotFoundError(DatasetError):
    """No place of the search path holds the data set, and it was not downloaded.

    ``str(error)`` speaks to Python callers (``root=``, ``download=True``);
    :meth:`for_cli` says the same in the words of the command line (``--data-root``,
    ``spectral-physics data download``). Both say whether ``$SPECTRAL_PHYSICS_DATA`` is
    set, and to what.

    Attributes
    ----------
    name : str
    looked : list of (str, str, str)
        ``(folder, source, what was there)`` for every place searched, in order.
    tried : list of str
        Download attempts (URL and outcome); empty when none was made.
    download : bool
        Whether downloading was allowed.
    cache : str
        The cache folder of the data set.
    env : str or None
        ``$SPECTRAL_PHYSICS_DATA`` (the folders joined by ``os.pathsep``), ``None`` if unset.
    """

    def __init__(self, name: str, looked: Sequence[tuple[str, str, str]], tried: Sequence[str] = (),
                 download: bool = False, cache: str = "", env: str | None = None) -> None:
        self.name, self.looked, self.tried = name, [tuple(x) for x in looked], list(tried)
        self.download, self.cache, self.env = bool(download), str(cache), env
        super().__init__(self._message(cli=False))

    def __reduce__(self):  # pickled intact from worker processes
        return type(self), (self.name, self.looked, self.tried, self.download, self.cache, self.env)

    def _env_words(self) -> str:
        return f"{ENV_DATA} is not set" if self.env is None else f"{ENV_DATA} is set to {self.env!r}"

    def _message(self, cli: bool) -> str:
        offline = bool(self.tried) and all("not tried" in t for t in self.tried)
        head = f"{self.name}: data files not found"
        if not self.download:
            head += " (download=False)" if not cli else ""
        elif offline:
            head += " and the download mirrors cannot be reached (offline?)"
        elif self.tried:
            head += " and the download failed"
        places = [(folder, _SOURCE_WORDS[source][1 if cli else 0], status) for folder, source, status in self.looked]
        if cli:
            where = "; ".join(f"{folder} ({words}): {status}" for folder, words, status in places)
            text = f"{head}. Looked in: {where}."
            if self.tried:
                text += " Download: " + "; ".join(self.tried) + "."
            return (f"{text} {self._env_words()}. Give --data-root DIR (a folder holding {self.name}/), "
                    f"set {ENV_DATA}=DIR, or run 'spectral-physics data download {self.name}' on a machine with "
                    f"internet; 'spectral-physics data where' shows the search order.")
        lines = [head + "."]
        lines.append("Looked in, in this order:")
        lines += [f"  - {folder} ({words}): {status}" for folder, words, status in places]
        if self.tried:
            lines += ["Tried to download:"] + [f"  - {t}" for t in self.tried]
        lines.append(f"{self._env_words()}.")
        fetch = (f"load_dataset({self.name!r}, download=True)" if not self.download
                 else f"spectral_physics.datasets.download_dataset({self.name!r})")
        lines.append(f"Pass root=DIR (a folder holding '{self.name}/'), set {ENV_DATA}=DIR, put the files in "
                     f"{self.cache}, or download them on a machine with internet: {fetch}.")
        return "\n".join(lines)

    def for_cli(self) -> str:
        """The message in the command line's words, on one line."""
        return self._message(cli=True)


# Files this process downloaded and verified itself; (resolved path, mtime_ns, size).
_VERIFIED: set[tuple[str, int, int]] = set()


@functools.lru_cache(maxsize=4)
def _load_cached(name: str, key: tuple[tuple[str, int, int], ...], verify: bool) -> Dataset:
    paths = [Path(k[0]) for k in key]
    if _SPECS[name]["kind"] == "idx":
        data = _load_idx(name, paths, verify)
    else:
        data = _load_cifar(paths, verify)
    for arr in (data.x_train, data.y_train, data.x_test, data.y_test):
        # Shared through the cache: in-place edits would leak into later loads.
        arr.flags.writeable = False
    return data


def clear_cache() -> None:
    """Forget the data sets decoded so far in this process."""
    _load_cached.cache_clear()


# --------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------


def _mirror_bases(name: str, mirrors: Sequence[str] | None = None) -> list[str]:
    env = tuple(mirrors) if mirrors else config.get(ENV_MIRROR)
    if env:
        return [base.format(name=name) if "{name}" in base else f"{base.rstrip('/')}/{name}/"
                for base in env]
    return list(MIRRORS.get(name, []))


def _progress_bar(total: int | None, desc: str, progress: bool | str) -> Any:
    from .progress import progress_bar

    return progress_bar(total=total, desc=desc, unit="B", progress=progress, unit_scale=True, unit_divisor=1024)


def _download(url: str, dest: Path, check: Callable[[Path], None], progress: bool) -> None:
    """Fetch ``url`` to ``dest`` atomically; ``check(tmp)`` must pass before the rename."""
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            bar = _progress_bar(total, dest.name, progress)
            written = 0
            try:
                while chunk := resp.read(1 << 20):
                    out.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
            finally:
                bar.close()
        if total is not None and written != total:
            raise DatasetError(f"{url}: connection closed after {written} of {total} bytes")
        try:
            check(tmp)
        except DatasetError as exc:
            # Name what was fetched, not the temporary file that is about to be removed.
            raise DatasetError(str(exc).replace(str(tmp), url)) from exc
    _VERIFIED.add(_stat_key(dest))


#: Seconds the offline check waits for each mirror host (name lookup and TCP connect together).
OFFLINE_CHECK_TIMEOUT = 3.0


def _endpoint(url: str) -> tuple[str, int] | None:
    """The host and port a request for ``url`` connects to (its proxy's, where one applies)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if not parts.hostname:
            return None
    default = 443 if parts.scheme == "https" else 80
    try:
        return parts.hostname, parts.port or default
    except ValueError:  # a malformed port: let the download itself report it
        return None


def _probe(endpoints: Iterable[tuple[str, int]], timeout: float) -> dict[tuple[str, int], str | None]:
    """Connect to every endpoint at once; ``None`` where it answers, else why not.

    The name lookup happens inside the connection attempt, so a machine without a network
    (or with a resolver that never answers) is told apart in at most ``timeout`` seconds,
    instead of a stalled download per file and mirror.
    """
    results: dict[tuple[str, int], str | None] = {}
    threads = []

    def attempt(host: str, port: int) -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                results[(host, port)] = None
        except OSError as exc:
            results[(host, port)] = f"cannot connect to {host}:{port} ({exc})"

    for host, port in dict.fromkeys(endpoints):
        t = threading.Thread(target=attempt, args=(host, port), daemon=True)
        t.start()
        threads.append(((host, port), t))
    deadline = time.monotonic() + timeout
    for key, t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
        if key not in results:
            results[key] = f"no answer from {key[0]}:{key[1]} within {timeout:g} s"
    return results


def _fetch_missing(name: str, directory: Path, progress: bool | str, tried: list[str],
                   mirrors: Sequence[str] | None = None) -> None:
    """Download the files of ``name`` that ``directory`` lacks; append failures to ``tried``."""
    if _SPECS[name]["kind"] == "idx":
        jobs = []
        for _, stem, magic in _IDX_ROLES:
            if any((directory / c).is_file() for c in _idx_candidates(stem)):
                continue
            digest = KNOWN_SHA256[name][stem]
            jobs.append((f"{stem}.gz", functools.partial(_check_idx_download, magic=magic,
                                                         sha256=digest,
                                                         item_shape=_item_shape(name, magic))))
    else:
        jobs = [(CIFAR10_ARCHIVE, _check_cifar_archive)]
    bases = _mirror_bases(name, mirrors)
    if not bases:
        tried.append(f"no mirrors configured for {name} (MIRRORS[{name!r}] is empty)")
        raise DatasetError("no mirrors")
    # one probe per host first: an offline machine is told at once, not after a timeout per file
    reach = _probe([e for e in (_endpoint(b) for b in bases) if e], OFFLINE_CHECK_TIMEOUT) if jobs else {}
    for filename, check in jobs:
        for base in bases:
            url = f"{base.rstrip('/')}/{filename}"
            why = reach.get(_endpoint(url))  # type: ignore[arg-type]
            if why:
                tried.append(f"{url}: not tried, {why}")
                continue
            try:
                _download(url, directory / filename, check, progress)
                break
            except (OSError, urllib.error.URLError, http.client.HTTPException,
                    DatasetError) as exc:
                tried.append(f"{url}: {exc}")
        else:
            raise DatasetError(f"could not download {filename}")


def _check_idx_download(path: Path, *, magic: int, sha256: str, item_shape: tuple[int, ...]) -> None:
    read_idx(path, magic=magic, sha256=sha256, item_shape=item_shape)


def _download_into(name: str, directory: Path, progress: bool | str, tried: list[str],
                   mirrors: Sequence[str] | None = None) -> list[Path] | None:
    """Fetch what ``directory`` lacks of ``name``; the complete files, or ``None`` (failures in ``tried``).

    Folders this call created are removed again when nothing could be downloaded into them.
    """
    created = []
    d = directory
    while not d.exists() and d.parent != d:
        created.append(d)
        d = d.parent
    files = None
    try:
        _fetch_missing(name, directory, progress, tried, mirrors)
    except DatasetError:
        pass
    else:
        files, missing, _ = _scan(name, directory)
        if files is None:
            tried.append(f"after downloading, {directory} still lacks {', '.join(missing)}")
    if files is None:
        for folder in created:  # deepest first; stops at the first that is not empty
            try:
                folder.rmdir()
            except OSError:
                break
    return files


def download_dataset(name: str, root: str | os.PathLike[str] | None = None, *, progress: bool | str = False,
                     mirrors: Sequence[str] | None = None) -> Path:
    """Download the files of a data set that its folder lacks, verified, and return the folder.

    For a machine with internet access; :func:`load_dataset` also downloads into the cache
    when nothing on :func:`search_path` holds the files.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "cifar10"}
        The data set (aliases as :func:`load_dataset`).
    root : path-like, optional
        Download into ``root/<name>/``; default: the cache, :func:`cache_dir` ``(name)``.
    progress : bool or str, default False
        Progress report per file (see :mod:`spectral_physics.progress`).
    mirrors : sequence of str, optional
        Base URLs to try, in the form of ``$SPECTRAL_PHYSICS_MIRROR`` (``{name}`` or
        ``<name>/`` appended); default: that variable, else :data:`MIRRORS`.

    Returns
    -------
    Path
        The folder now holding the complete, verified set.

    Raises
    ------
    DatasetError
        When the files cannot be downloaded (listing every URL tried) or are corrupt.
    """
    name = _canonical_name(name)
    if name not in _SPECS:
        raise ValueError(f"{name} is generated, not downloaded")
    directory = Path(root).expanduser() / name if root is not None else cache_dir(name)
    tried: list[str] = []
    files = _download_into(name, directory, progress, tried, mirrors)
    if files is None:
        raise DatasetError("\n".join([f"{name}: could not download into {directory}.", "Tried:"]
                                     + [f"  - {t}" for t in tried]))
    problems = DataFiles(name, directory, tuple(files), SearchLocation("root", directory)).verify()
    if problems:
        raise DatasetError(f"{directory}: " + "; ".join(problems))
    return directory


# --------------------------------------------------------------------------------------
# Public loaders
# --------------------------------------------------------------------------------------


def load_dataset(
    name: str,
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool | str = False,
    verify: bool = True,
) -> Dataset:
    """Load MNIST, Fashion-MNIST or CIFAR-10 from the first place that holds it (or download it).

    Parameters
    ----------
    name : {"mnist", "fashion-mnist", "cifar10", "teacher-student"}
        Data set (case and ``_``/``-`` are ignored; ``"fashion"``, ``"cifar-10"``
        are accepted). ``"teacher-student"`` returns :func:`teacher_student`
        with its defaults and ignores the other arguments.
    root : path-like, optional
        Directory holding the files directly or in a ``<name>/`` sub-folder;
        searched first (:func:`search_path` gives the whole order). It must exist.
    download : bool, default True
        Fetch missing files into :func:`cache_dir` when no location has them. The
        mirrors are probed first (:data:`OFFLINE_CHECK_TIMEOUT` seconds at most), so an
        offline machine fails at once instead of waiting on every file.
    progress : bool or str, default False
        Progress report while downloading (see :mod:`spectral_physics.progress`).
    verify : bool, default True
        Check local files with known checksums (the four IDX files of
        MNIST/Fashion-MNIST, the CIFAR-10 archive) against
        :data:`KNOWN_SHA256`. Downloads are always verified.

    Returns
    -------
    Dataset
        ``x_train`` (n_train, d) float32 in [0, 1], read-only; ``y_train``
        (n_train,) int64; likewise for the test split. MNIST and Fashion-MNIST:
        60000 + 10000 images, d = 784, ``image_shape=(28, 28)``. CIFAR-10:
        50000 + 10000 images, d = 3072, ``image_shape=(32, 32, 3)`` (HWC).

    Raises
    ------
    ValueError
        For an unknown ``name``.
    DatasetNotFoundError
        When no location holds the files and they were not downloaded: the message
        lists every location searched and every URL tried, says whether
        ``$SPECTRAL_PHYSICS_DATA`` is set, and how to fix it.
    DatasetError
        When ``root`` is not a directory, a location holds an incomplete set, a file
        is corrupt, truncated, has a wrong magic number or checksum, or image and
        label counts differ.
    """
    name = _canonical_name(name)
    if name == "teacher-student":
        return teacher_student()
    if root is not None and not Path(root).expanduser().is_dir():
        raise DatasetError(f"root={str(root)!r} is not a directory")
    looked: list[tuple[str, str, str]] = []
    found = _locate(name, root, looked)
    if found is not None:
        return _load_cached(name, tuple(_stat_key(p) for p in found.files), bool(verify))
    cache = cache_dir(name)
    tried: list[str] = []
    if download:
        files = _download_into(name, cache, progress, tried)
        if files is not None:
            return _load_cached(name, tuple(_stat_key(p) for p in files), bool(verify))
    dirs = config.get(ENV_DATA)
    raise DatasetNotFoundError(name, looked, tried, download=bool(download), cache=str(cache),
                               env=os.pathsep.join(map(str, dirs)) if dirs else None)


def teacher_student(
    n_train: int = 10000,
    n_test: int = 2000,
    n_features: int = 100,
    n_classes: int = 10,
    hidden: Sequence[int] = (64,),
    seed: int = 0,
) -> Dataset:
    """Gaussian inputs labelled by a random teacher network; needs no files.

    Inputs are i.i.d. standard normal, **not** scaled to [0, 1]. The teacher is
    an MLP ``n_features -> *hidden -> n_classes`` with tanh hidden units,
    weights ``W_k ~ N(0, 1/fan_in)`` of shape (out, in) and biases
    ``b_k ~ N(0, 0.1^2)``; the label is the argmax of its output, computed in
    float64 from the float32 inputs that are returned, so a student can fit the
    labels exactly. Classes are generally not balanced.

    Parameters
    ----------
    n_train, n_test : int
        Number of training (>= 1) and test (>= 0) examples.
    n_features : int
        Input dimension d (>= 1).
    n_classes : int
        Number of classes (>= 2).
    hidden : sequence of int
        Hidden layer widths of the teacher; ``()`` gives a linear teacher.
    seed : int
        Seeds ``numpy.random.SeedSequence``; the teacher, the training inputs
        and the test inputs use three spawned child streams, so changing
        ``n_train`` leaves the teacher and the test set unchanged.

    Returns
    -------
    Dataset
        Name ``"teacher-student"``, ``x_train`` (n_train, n_features) float32,
        ``y_train`` (n_train,) int64, ``image_shape=(n_features,)``;
        ``info["teacher"]`` holds the teacher's ``(W, b)`` pairs (float64).
    """
    n_train = _check_count("n_train", n_train, 1, np.iinfo(np.int64).max)
    n_test = _check_count("n_test", n_test, 0, np.iinfo(np.int64).max)
    n_features = _check_count("n_features", n_features, 1, np.iinfo(np.int64).max)
    n_classes = _check_count("n_classes", n_classes, 2, np.iinfo(np.int64).max)
    try:
        hidden = tuple(hidden)
    except TypeError:
        msg = f"hidden must be a sequence of positive integers, got {hidden!r}"
        raise ValueError(msg) from None
    for width in hidden:
        _check_count("hidden", width, 1, np.iinfo(np.int64).max)
    hidden = tuple(int(h) for h in hidden)

    s_teacher, s_train, s_test = np.random.SeedSequence(seed).spawn(3)
    rng = np.random.Generator(np.random.PCG64(s_teacher))
    sizes = (n_features, *hidden, n_classes)
    teacher = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        w = rng.normal(0.0, 1.0 / math.sqrt(fan_in), size=(fan_out, fan_in))
        b = rng.normal(0.0, 0.1, size=fan_out)
        teacher.append((w, b))

    def draw(stream: np.random.SeedSequence, n: int) -> tuple[np.ndarray, np.ndarray]:
        x = np.random.Generator(np.random.PCG64(stream)).standard_normal((n, n_features))
        x = x.astype(np.float32)
        a = x.astype(np.float64)
        for k, (w, b) in enumerate(teacher):
            a = a @ w.T + b
            if k < len(teacher) - 1:
                a = np.tanh(a)
        return x, np.argmax(a, axis=1).astype(np.int64)

    x_train, y_train = draw(s_train, n_train)
    x_test, y_test = draw(s_test, n_test)
    info = {"generator": "teacher_student", "seed": seed, "hidden": hidden, "teacher": teacher}
    return Dataset("teacher-student", x_train, y_train, x_test, y_test, (n_features,),
                   n_classes, info)
