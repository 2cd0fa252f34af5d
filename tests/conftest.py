"""Shared fixtures.

Data-dependent tests ask for the ``data_root`` fixture: the folder holding ``mnist/``
that ``load_dataset`` itself would read, found by the library's one search order
(``spectral_physics.datasets.find_dataset``: ``$SPECTRAL_PHYSICS_DATA``, then
``../shared/data`` beside the current directory and beside the checkout, the system
and cache folders). Where the MNIST files are missing they skip, unless
``SPECTRAL_PHYSICS_REQUIRE_DATA=1`` (set by ``.ci/run``), in which case they fail: CI
must never pass by skipping.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spectral_physics import config


def _data_dir() -> tuple[Path | None, str]:
    """The folder holding ``mnist/`` on the library's search path, or None and why not."""
    from spectral_physics.datasets import DatasetError, find_dataset, search_path

    try:
        found = find_dataset("mnist")
    except DatasetError as exc:
        return None, str(exc)
    if found is None or found.location.source == "root":
        places = ", ".join(str(loc.path) for loc in search_path())
        return None, f"MNIST files not found in {places}"
    return found.directory.parent, ""


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Directory holding ``mnist/`` and ``fashion-mnist/`` IDX files."""
    root, why = _data_dir()
    if root is None:
        if config.get("SPECTRAL_PHYSICS_REQUIRE_DATA"):
            pytest.fail(why + " and SPECTRAL_PHYSICS_REQUIRE_DATA=1")
        pytest.skip(why)
    return root


def _gpu_available() -> tuple[bool, str]:
    try:
        import cupy
    except ImportError:
        return False, "CuPy is not installed"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return False, "no CUDA device"
    except Exception as exc:  # noqa: BLE001 - any driver failure means no GPU
        return False, f"no usable CUDA device ({exc})"
    return True, ""


GPU_OK, GPU_REASON = _gpu_available()

DEVICES = [
    "cpu",
    pytest.param("gpu", marks=[pytest.mark.gpu, pytest.mark.skipif(not GPU_OK, reason=GPU_REASON)]),
]


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Parametrises a test over the CPU and (where present) the GPU."""
    return request.param


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(params=["numba", "array"])
def kernel_impl(request):
    """Runs a test with the compiled kernels and again with the array expressions."""
    from spectral_physics import kernels

    prev = kernels.set_implementation(request.param)
    yield request.param
    kernels.set_implementation(prev)
