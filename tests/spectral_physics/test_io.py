"""Model files: round trip, damaged files, newer format versions, crafted headers."""

import json
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

from spectral_physics import PRESETS, SpectralMLP, load_network, save_network
from spectral_physics.io import FORMAT_VERSION, ModelFileError, read_header
from spectral_physics.limits import MAX_PARAMETERS, check_network_size, stored_parameters


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


# ----------------------------------------------------------------------------- header schema


def _good(tmp_path, net=None):
    path = tmp_path / "good.npz"
    save_network(net if net is not None else SpectralMLP([6, 4, 3], seed=0), path)
    return path


def _rewrite(path, name, change_header=None, change_arrays=None):
    """A copy of ``path`` named ``name`` with its header and/or arrays changed, via np.savez."""
    with np.load(path) as f:
        arrays = dict(f)
    header = json.loads(str(arrays["__header__"]))
    if change_header is not None:
        header = change_header(header)
    arrays["__header__"] = np.array(json.dumps(header))
    if change_arrays is not None:
        change_arrays(arrays)
    out = path.with_name(name)
    np.savez(out, **arrays)
    return out


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(h):
        d = h
        for k in keys[:-1]:
            d = d[k]
        d[keys[-1]] = value
        return h

    return change


def _drop(*keys):
    def change(h):
        d = h
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]
        return h

    return change


CRAFTED = [
    ("list-header", lambda h: [h], "JSON list"),
    ("no-config", _drop("config"), "'config' is missing"),
    ("null-config", _set("config", None), "'config' is null"),
    ("short-sparsity", _set("sparsity", [None]), "'sparsity'"),
    ("bad-sparsity", _set("sparsity", [0.5, 2]), "'sparsity'"),
    ("bool-sparsity", _set("sparsity", [True, None]), "'sparsity'"),
    ("string-version", _set("format_version", "1"), "'format_version'"),
    ("negative-version", _set("format_version", -5), "'format_version'"),
    ("bool-version", _set("format_version", True), "'format_version'"),
    ("zero-version", _set("format_version", 0), "'format_version'"),
    ("no-version", _drop("format_version"), "'format_version' is missing"),
    ("number-package", _set("package_version", 1), "'package_version'"),
    ("no-sizes", _drop("config", "sizes"), "'config.sizes' is missing"),
    ("string-sizes", _set("config", "sizes", ["6", 4, 3]), "'config.sizes'"),
    ("bool-sizes", _set("config", "sizes", [6, True, 3]), "'config.sizes'"),
    ("one-size", _set("config", "sizes", [6]), "'config.sizes'"),
    ("bad-train", _set("config", "train", "bogus"), "'config.train'"),
    ("list-train", _set("config", "train", ["phi"]), "'config.train'"),
    ("bad-activation", _set("config", "activation", None), "'config.activation'"),
    ("negative-seed", _set("config", "seed", -1), "'config.seed'"),
    ("empty-seed", _set("config", "seed", []), "'config.seed'"),
    ("bool-seed", _set("config", "seed", True), "'config.seed'"),
    ("int-dtype", _set("config", "dtype", "int32"), "'config.dtype'"),
    ("bogus-dtype", _set("config", "dtype", "no-such-type"), "'config.dtype'"),
    ("bad-init", _set("config", "init", "xavier"), "'config.init'"),
    ("string-bias", _set("config", "bias", "yes"), "'config.bias'"),
    ("list-history", _set("history", []), "'history'"),
    ("bad-records", _set("history", {"records": "x"}), "'history.records'"),
    ("bad-best-epoch", _set("history", {"records": [], "best_epoch": "2"}), "'history.best_epoch'"),
    ("list-metadata", _set("metadata", [1]), "'metadata'"),
]


@pytest.mark.parametrize(("name", "change", "field"), CRAFTED, ids=[c[0] for c in CRAFTED])
def test_crafted_headers_raise_model_file_error_naming_file_and_field(tmp_path, name, change, field):
    path = _rewrite(_good(tmp_path), f"{name}.npz", change)
    for read in (read_header, load_network):
        with pytest.raises(ModelFileError) as err:
            read(path)
        assert f"{name}.npz" in str(err.value) and field in str(err.value)


def test_header_sizes_must_match_the_stored_arrays(tmp_path):
    path = _rewrite(_good(tmp_path), "wider.npz", _set("config", "sizes", [6, 5, 3]))
    with pytest.raises(ModelFileError, match=r"wider\.npz.*'layer0/phi' has shape \(4, 6\).*'config.sizes'"):
        load_network(path)
    deeper = _rewrite(_good(tmp_path), "deeper.npz",
                      lambda h: _set("sparsity", None)(_set("config", "sizes", [6, 4, 3, 2])(h)))
    with pytest.raises(ModelFileError, match=r"'layer2/phi' is missing"):
        load_network(deeper)
    stray = _rewrite(_good(tmp_path), "stray.npz",
                     change_arrays=lambda a: a.update({"layer7/phi": np.zeros((2, 2))}))
    with pytest.raises(ModelFileError, match=r"'layer7/phi' does not belong"):
        load_network(stray)
    ints = _rewrite(_good(tmp_path), "ints.npz",
                    change_arrays=lambda a: a.update({"layer0/phi": np.zeros((4, 6), dtype=np.int64)}))
    with pytest.raises(ModelFileError, match=r"'layer0/phi' has dtype int64"):
        load_network(ints)


def test_huge_claimed_sizes_are_refused_before_any_allocation(tmp_path):
    # a small file whose header claims a 784-200000-10 network: the size guard refuses it
    # (before the fix the constructor drew ~1.9 GB of initial weights first)
    path = _rewrite(_good(tmp_path, SpectralMLP([784, 8, 10], seed=0)), "huge.npz",
                    _set("config", "sizes", [784, 200_000, 10]))
    assert path.stat().st_size < 100_000
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=r"huge\.npz.*'config.sizes'.*max_parameters"):
            load_network(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


def _npy_bytes(shape, descr="<f8", payload=b""):
    header = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)}).encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def test_npy_member_claiming_a_huge_shape_is_refused(tmp_path):
    good = _good(tmp_path)
    crafted = tmp_path / "claims.npz"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(crafted, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "layer0/phi.npy":
                data = _npy_bytes((100_000, 100_000), payload=bytes(64))  # claims 80 GB
            zout.writestr(item.filename, data)
    with pytest.raises(ModelFileError, match=r"claims\.npz.*'layer0/phi' claims shape \(100000, 100000\)"):
        load_network(crafted)
    # the same trick on the header string itself
    big_header = tmp_path / "bighead.npz"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(big_header, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "__header__.npy":
                data = _npy_bytes((), descr="<U1000000000", payload=bytes(64))
            zout.writestr(item.filename, data)
    with pytest.raises(ModelFileError, match=r"bighead\.npz"):
        read_header(big_header)


def test_text_file_is_not_a_model_file(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("accuracy 0.97\n")
    with pytest.raises(ModelFileError, match=r"notes\.npz: not a spectral-physics model file") as err:
        load_network(path)
    assert "pickle" not in str(err.value)
    npy = tmp_path / "array.npz"
    np.save(npy.with_suffix(".npy"), np.zeros(3))
    npy.with_suffix(".npy").rename(npy)
    with pytest.raises(ModelFileError, match=r"array\.npz: not a spectral-physics model file"):
        load_network(npy)


def test_non_finite_parameters_are_refused_unless_asked(tmp_path):
    net = SpectralMLP([6, 4, 3], seed=0)
    net.layers[1].lam_out = np.array([0.0, np.nan, np.inf])
    path = tmp_path / "diverged.npz"
    save_network(net, path)
    with pytest.raises(ModelFileError, match=r"diverged\.npz: array 'layer1/lam_out' holds 2 NaN or infinite"):
        load_network(path)
    back = load_network(path, check_finite=False)
    assert np.isnan(back.layers[1].lam_out[1])


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("init", ["default", "paper"])
def test_round_trip_ensembles_pass_the_shape_checks(tmp_path, preset, init, rng):
    # the file-format table in io.py must agree with what every layer stores
    net = SpectralMLP([5, 7, 3], train=preset, seed=[1, 2], init=init, bias=False)
    net.layers[1].mask = rng.random((2, 3, 7)) > 0.3
    path = tmp_path / "ens.npz"
    save_network(net, path)
    back = load_network(path)
    assert back.ensemble_size == 2 and back.config() == net.config()
    x = rng.normal(size=(2, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(back.forward(x), net.forward(x))


# ----------------------------------------------------------------------------- size guard


def test_size_guard_refuses_huge_networks_before_allocating():
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"\[784, 1000000, 10\].*max_parameters=50,000,000"):
            SpectralMLP([784, 1_000_000, 10])
        with pytest.raises(ValueError, match="max_parameters"):
            SpectralMLP([784, 300_000, 10])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


def test_size_guard_counts_ensemble_members_and_takes_a_limit():
    assert stored_parameters([4, 3, 2]) == (12 + 4 + 6) + (6 + 3 + 4)
    assert stored_parameters([4, 3, 2], n_members=3) == 3 * stored_parameters([4, 3, 2])
    assert check_network_size([784, 2000, 10]) <= MAX_PARAMETERS
    with pytest.raises(ValueError, match="x 40 ensemble members"):
        SpectralMLP([784, 2000, 10], seed=list(range(40)))
    with pytest.raises(ValueError, match="max_parameters=100"):
        check_network_size([10, 10], max_parameters=100)
