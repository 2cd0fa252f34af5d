"""Shared fixtures.

Data-dependent tests ask for the ``data_root`` fixture. Where the MNIST files
are missing they skip, unless ``SPECTRAL_PHYSICS_REQUIRE_DATA=1`` (set by
``.ci/run``), in which case they fail: CI must never pass by skipping.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spectral_physics import config


def _has_mnist(root: Path) -> bool:
    return (root / "mnist" / "train-images-idx3-ubyte.gz").exists()


def _data_dir() -> Path | None:
    dirs = config.get("SPECTRAL_PHYSICS_DATA")
    if dirs:
        # several directories may be joined with os.pathsep, as load_dataset searches them
        return next((d for d in dirs if _has_mnist(d)), dirs[0])
    here = Path(__file__).resolve().parents[1]
    guess = here.parent / "shared" / "data"
    return guess if guess.is_dir() else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    """Directory holding ``mnist/`` and ``fashion-mnist/`` IDX files."""
    root = _data_dir()
    ok = root is not None and _has_mnist(root)
    if not ok:
        msg = f"MNIST files not found (SPECTRAL_PHYSICS_DATA={root})"
        if config.get("SPECTRAL_PHYSICS_REQUIRE_DATA"):
            pytest.fail(msg + " and SPECTRAL_PHYSICS_REQUIRE_DATA=1")
        pytest.skip(msg)
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
