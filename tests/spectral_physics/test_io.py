"""Model files: round trip, damaged files, newer format versions."""

import json
import zipfile

import numpy as np
import pytest

from spectral_physics import PRESETS, SpectralMLP, load_network, save_network
from spectral_physics.io import FORMAT_VERSION, ModelFileError


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_round_trip_every_preset(tmp_path, preset, rng):
    net = SpectralMLP([5, 4, 3], train=preset, activation="tanh", seed=7, init="paper")
    net.layers[0].mask = rng.random((4, 5)) > 0.5
    net.layers[1].sparsity = 0.3
    path = tmp_path / "m.npz"
    save_network(net, path, metadata={"note": "x"})
    back = load_network(path)
    assert back.config() == net.config()
    assert back.layers[1].sparsity == 0.3
    np.testing.assert_array_equal(back.layers[0].mask, net.layers[0].mask)
    x = rng.normal(size=(6, 5)).astype(np.float32)
    np.testing.assert_array_equal(back.forward(x), net.forward(x))


def test_newer_format_version_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    save_network(SpectralMLP([3, 2], seed=0), path)
    with np.load(path) as f:
        arrays = dict(f)
    header = json.loads(str(arrays["__header__"]))
    header["format_version"] = FORMAT_VERSION + 1
    arrays["__header__"] = np.array(json.dumps(header))
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match="newer"):
        load_network(path)


def test_damaged_files(tmp_path):
    good = tmp_path / "m.npz"
    save_network(SpectralMLP([3, 2], seed=0), good)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ModelFileError, match="cut.npz"):
        load_network(cut)
    missing = tmp_path / "missing.npz"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(missing, "w") as zout:
        for item in zin.infolist():
            if "layer0/phi" not in item.filename and "layer0/weight" not in item.filename:
                zout.writestr(item, zin.read(item.filename))
    with pytest.raises(ModelFileError, match="damaged"):
        load_network(missing)
    with pytest.raises(FileNotFoundError):
        load_network(tmp_path / "nope.npz")
