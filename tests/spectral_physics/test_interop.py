"""Import and export of dense networks (spectral_physics.interop) on real files.

Every source file is written by the real library in the test (torch.save, torch.onnx,
safetensors, onnx.helper, h5py in Keras' own layouts: Keras 3 ``.keras`` and the
legacy ``.h5``, checked against files saved by Keras 3.15 when this was written), never
committed. The round trips run on 1,000 MNIST test images for 784-300-100-10 with
ReLU and tanh: import, export to every format, import again, identical logits. Bad
files are one-line errors with exit status 2.

The optional packages (torch, safetensors, h5py, onnx) are skipped where missing on a
developer's machine, but fail the test under CI (``CI`` or
``SPECTRAL_PHYSICS_REQUIRE_DATA`` set): ``.ci/run`` installs them.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from spectral_physics import SpectralMLP, config, load_network, save_network
from spectral_physics.interop import (
    InteropError,
    MissingDependencyError,
    as_spectral,
    detect_format,
    export_network,
    from_direct,
    from_torch,
    load_any,
    read_dense,
)
from spectral_physics.io import read_header

SIZES = [784, 300, 100, 10]
ACTS = ["relu", "tanh"]
EXPORTS = [".safetensors", ".onnx", ".pt"]


def need(module: str):
    """Import an optional package; skip without it, except under CI, where it must be installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI") or config.get("SPECTRAL_PHYSICS_REQUIRE_DATA"):
            pytest.fail(f"{module} is not installed; .ci/run installs the interop extra and torch")
        pytest.skip(f"{module} is not installed")


def cli(*argv, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "spectral_physics.cli", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def main(*argv, capsys) -> subprocess.CompletedProcess:
    """``spectral-physics ARGV`` in this process (what the console script runs), as a CompletedProcess."""
    from spectral_physics.cli import main as cli_main

    capsys.readouterr()
    try:
        code = cli_main([str(a) for a in argv])
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(argv), code, out, err)


def assert_one_line_error(res: subprocess.CompletedProcess, *needles: str) -> str:
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert res.returncode == 2, (res.returncode, res.stderr)
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def mnist(data_root):
    from spectral_physics.datasets import load_dataset

    return load_dataset("mnist", root=data_root)


@pytest.fixture(scope="module")
def x1000(mnist) -> np.ndarray:
    return np.ascontiguousarray(mnist.x_test[:1000], dtype=np.float32)


def torch_mlp(act: str, seed: int = 0):
    torch = need("torch")
    torch.manual_seed(seed)
    nn = torch.nn
    a = {"relu": nn.ReLU, "tanh": nn.Tanh}[act]
    return nn.Sequential(nn.Linear(784, 300), a(), nn.Linear(300, 100), a(), nn.Linear(100, 10)).eval()


def torch_logits(model, x: np.ndarray) -> np.ndarray:
    torch = need("torch")
    with torch.no_grad():
        return model(torch.from_numpy(np.array(x))).numpy()


def dense_of(model) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(W (out, in), b) of each Linear of a torch Sequential."""
    lins = [m for m in model if hasattr(m, "weight")]
    return ([m.weight.detach().numpy().copy() for m in lins], [m.bias.detach().numpy().copy() for m in lins])


# Keras layouts (as saved by Keras 3.15 with model.save("m.keras") and model.save("m.h5")):
#   .keras: zip of config.json, metadata.json, model.weights.h5 with layers/<group>/vars/{0,1}
#           (kernel (in, out), bias) and the layer's name as the attribute vars.attrs["name"];
#   .h5:    root attribute model_config, model_weights/<name> with attribute weight_names.

def _keras_config(ws, bs, act: str, output: str, extra_layers=()) -> tuple[dict, list[str]]:
    names = ["dense" if k == 0 else f"dense_{k}" for k in range(len(ws))]
    layers = [{"module": "keras.layers", "class_name": "InputLayer",
               "config": {"batch_shape": [None, ws[0].shape[1]], "dtype": "float32", "name": "input_layer"}}]
    for k, (w, b, name) in enumerate(zip(ws, bs, names)):
        layers.append({"module": "keras.layers", "class_name": "Dense",
                       "config": {"name": name, "units": int(w.shape[0]),
                                  "activation": act if k < len(ws) - 1 else output, "use_bias": b is not None},
                       "build_config": {"input_shape": [None, int(w.shape[1])]}})
        if k == 0:
            layers.extend(extra_layers)
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}, names


def write_keras(path: Path, ws, bs, act: str, output: str = "softmax", *, name_attrs: bool = True,
                extra_layers=()) -> Path:
    h5py = need("h5py")
    cfg, names = _keras_config(ws, bs, act, output, extra_layers)
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_group("vars").attrs["name"] = "sequential"
        for k, (w, b, name) in enumerate(zip(ws, bs, names)):
            g = f.create_group(f"layers/{'dense' if k == 0 else f'dense_{k}'}/vars")
            if name_attrs:
                g.attrs["name"] = name
            g["0"] = np.ascontiguousarray(w.T)
            if b is not None:
                g["1"] = b
        for layer in extra_layers:
            f.create_group(f"layers/{layer['config']['name']}/vars").attrs["name"] = layer["config"]["name"]
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.15.1", "date_saved": "2026-01-01@00:00:00"}))
        zf.writestr("config.json", json.dumps(cfg))
        zf.writestr("model.weights.h5", buf.getvalue())
    return path


def write_keras_h5(path: Path, ws, bs, act: str, output: str = "softmax", *, keras2_names: bool = False) -> Path:
    h5py = need("h5py")
    cfg, names = _keras_config(ws, bs, act, output)
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(cfg)
        f.attrs["keras_version"] = "3.15.1"
        f.attrs["backend"] = "torch"
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([n.encode() for n in names])
        for w, b, name in zip(ws, bs, names):
            g = mw.create_group(name)
            roles = [("kernel", np.ascontiguousarray(w.T))] + ([("bias", b)] if b is not None else [])
            wn = [(f"{name}/{r}:0" if keras2_names else f"sequential/{name}/{r}") for r, _ in roles]
            g.attrs["weight_names"] = np.array([n.encode() for n in wn])
            for n, (_, arr) in zip(wn, roles):
                g[n] = arr
        f.create_group("model_weights/top_level_model_weights").attrs["weight_names"] = np.array([], dtype="f8")
    return path


def write_onnx_matmul(path: Path, ws, bs, act: str, *, bad_op: str | None = None) -> Path:
    onnx = need("onnx")
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, cur = [], [], "x"
    for k, (w, b) in enumerate(zip(ws, bs)):
        inits += [numpy_helper.from_array(np.ascontiguousarray(w.T), f"W{k}"), numpy_helper.from_array(b, f"b{k}")]
        nodes += [helper.make_node("MatMul", [cur, f"W{k}"], [f"m{k}"], name=f"matmul{k}"),
                  helper.make_node("Add", [f"m{k}", f"b{k}"], [f"z{k}"], name=f"add{k}")]
        cur = f"z{k}"
        if k < len(ws) - 1:
            op = bad_op or {"relu": "Relu", "tanh": "Tanh"}[act]
            nodes.append(helper.make_node(op, [cur], [f"a{k}"], name=f"act{k}"))
            cur = f"a{k}"
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 784])],
                              [helper.make_tensor_value_info(cur, TensorProto.FLOAT, ["n", 10])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def torch_onnx_export(model, path: Path, x_shape=(1, 784)) -> Path:
    torch = need("torch")
    need("onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.zeros(*x_shape), str(path), dynamo=False, input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    return path


SOURCES = ["pytorch", "torch-module", "safetensors", "safetensors-metadata", "keras", "keras-h5",
           "onnx-gemm", "onnx-matmul"]


def make_source(kind: str, act: str, model, tmp: Path):
    """Write the model in format ``kind``; return (network loaded from it, source path or None)."""
    ws, bs = dense_of(model)
    if kind == "pytorch":
        torch = need("torch")
        path = tmp / "model.pt"
        torch.save(model.state_dict(), path)
        return load_any(path, activation=act), path
    if kind == "torch-module":
        return from_torch(model), None
    if kind == "safetensors":
        need("safetensors")
        from safetensors.torch import save_file

        path = tmp / "model.safetensors"
        save_file(model.state_dict(), str(path))
        return load_any(path, activation=act), path
    if kind == "safetensors-metadata":
        need("safetensors")
        from safetensors.numpy import save_file

        path = tmp / "model_meta.safetensors"
        names = {0: "fc1", 1: "fc2", 2: "fc10"}  # natural order: fc2 before fc10
        tensors = {f"{names[k]}.{r}": a for k, (w, b) in enumerate(zip(ws, bs))
                   for r, a in (("weight", w), ("bias", b))}
        save_file(tensors, str(path), metadata={"activation": act})
        return load_any(path), path
    if kind == "keras":
        path = write_keras(tmp / "model.keras", ws, bs, act)
        return load_any(path), path
    if kind == "keras-h5":
        path = write_keras_h5(tmp / "model.h5", ws, bs, act)
        return load_any(path), path
    if kind == "onnx-gemm":
        path = torch_onnx_export(model, tmp / "model.onnx")
        return load_any(path), path
    if kind == "onnx-matmul":
        path = write_onnx_matmul(tmp / "model_mm.onnx", ws, bs, act)
        return load_any(path), path
    raise AssertionError(kind)


def check_exported_with_real_library(path: Path, act: str, x: np.ndarray, expected: np.ndarray) -> None:
    """The exported file, read by its own library, gives the same logits."""
    suffix = path.suffix
    if suffix == ".onnx":
        onnx = need("onnx")
        from onnx.reference import ReferenceEvaluator

        out = ReferenceEvaluator(onnx.load(str(path))).run(None, {"input": x})[0]
    else:
        torch = need("torch")
        model = torch_mlp(act, seed=99)
        if suffix == ".pt":
            sd = torch.load(path, weights_only=True)
        else:
            from safetensors.torch import load_file

            sd = load_file(str(path))
        model.load_state_dict(sd, strict=True)
        out = torch_logits(model, x)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- round trips


@pytest.mark.data
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("kind", SOURCES)
def test_import_export_import_gives_identical_outputs(kind, act, x1000, tmp_path):
    model = torch_mlp(act)
    ref = torch_logits(model, x1000)
    net, _ = make_source(kind, act, model, tmp_path)
    assert net.sizes == SIZES and net.activation == act and net.preset == "direct"
    out = np.asarray(net.forward(x1000))
    # the imported network computes the source model's logits (float32 rounding only)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    assert (out.argmax(1) == ref.argmax(1)).mean() > 0.999
    for suffix in EXPORTS:
        path = export_network(net, tmp_path / f"export{suffix}")
        again = load_any(path)  # the export states its activation: no activation= needed
        assert again.sizes == SIZES and again.activation == act
        np.testing.assert_array_equal(np.asarray(again.forward(x1000)), out)
        check_exported_with_real_library(path, act, x1000, out)
        # and once more through every format: still identical
        for suffix2 in EXPORTS:
            path2 = export_network(again, tmp_path / f"again{suffix2}")
            np.testing.assert_array_equal(np.asarray(load_any(path2).forward(x1000)), out)


@pytest.mark.parametrize("preset", ["direct", "eigen-out", "eigen", "spectral", "svd", "qr"])
@pytest.mark.parametrize("suffix", EXPORTS + [".npz"])
def test_export_of_every_preset_with_masks_keeps_the_outputs(preset, suffix, tmp_path):
    for mod in {".safetensors": ["safetensors"], ".onnx": ["onnx"], ".pt": ["torch"], ".npz": []}[suffix]:
        need(mod)
    rng = np.random.default_rng(3)
    net = SpectralMLP([20, 12, 8, 5], train=preset, activation="elu", seed=4, init="paper")
    net.layers[0].mask = rng.random((12, 20)) > 0.4
    net.layers[2].mask = rng.random((5, 8)) > 0.3
    x = rng.normal(size=(64, 20)).astype(np.float32)
    want = np.asarray(net.forward(x))
    path = export_network(net, tmp_path / f"net{suffix}")
    back = load_any(path)
    np.testing.assert_allclose(np.asarray(back.forward(x)), want, rtol=1e-6, atol=1e-6)
    if suffix != ".npz":  # the exported W is the effective one: masked entries are zeros
        w0 = np.asarray(back.weights()[0])
        assert np.all(w0[~net.layers[0].mask] == 0)
        np.testing.assert_array_equal(w0, np.asarray(net.weights()[0]))
    if suffix == ".onnx":
        from onnx.reference import ReferenceEvaluator

        onnx = need("onnx")
        got = ReferenceEvaluator(onnx.load(str(path))).run(None, {"input": x})[0]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_float64_networks_export_and_import_in_float64(tmp_path):
    need("safetensors")
    net = SpectralMLP([6, 5, 3], train="eigen", activation="tanh", seed=1, dtype="float64")
    back = load_any(export_network(net, tmp_path / "n.safetensors"))
    assert back.dtype == np.float64
    x = np.random.default_rng(0).normal(size=(4, 6))
    np.testing.assert_array_equal(back.forward(x), net.forward(x))


def test_keras_files_without_name_attributes_keras2_names_and_dropout(tmp_path):
    rng = np.random.default_rng(0)
    ws = [rng.normal(size=(7, 9)).astype("f4"), rng.normal(size=(4, 7)).astype("f4")]
    bs = [rng.normal(size=7).astype("f4"), None]
    dropout = [{"module": "keras.layers", "class_name": "Dropout", "config": {"name": "dropout", "rate": 0.5}}]
    x = rng.normal(size=(5, 9)).astype("f4")
    want = np.maximum(x @ ws[0].T + bs[0], 0) @ ws[1].T
    for path in (write_keras(tmp_path / "a.keras", ws, bs, "relu", "linear", name_attrs=False),
                 write_keras(tmp_path / "b.keras", ws, bs, "relu", "softmax", extra_layers=dropout),
                 write_keras_h5(tmp_path / "c.h5", ws, bs, "relu", "linear", keras2_names=True)):
        stack = read_dense(path)
        assert stack.sizes == [9, 7, 4] and stack.biases[1] is None
        np.testing.assert_allclose(np.asarray(stack.to_network().forward(x)), want, rtol=1e-5, atol=1e-5)
    assert any("dropout" in n for n in read_dense(tmp_path / "b.keras").notes)
    assert read_dense(tmp_path / "b.keras").output == "softmax"


def test_state_dict_layer_order_is_natural_or_explicit(tmp_path):
    need("safetensors")
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    # square hidden layers: the shape chain cannot tell the order, the names do
    t = {f"{name}.{r}": rng.normal(size=shape).astype("f4") for name, (o, i) in
         [("layer10", (3, 6)), ("layer2", (6, 6)), ("layer1", (6, 5))]
         for r, shape in (("weight", (o, i)), ("bias", (o,)))}
    save_file(t, str(tmp_path / "s.safetensors"))
    assert read_dense(tmp_path / "s.safetensors").names == ["layer1", "layer2", "layer10"]
    with pytest.raises(InteropError, match="mismatched shape chain"):
        read_dense(tmp_path / "s.safetensors", layer_order=["layer2", "layer1", "layer10"])
    with pytest.raises(InteropError, match="does not name each layer once"):
        read_dense(tmp_path / "s.safetensors", layer_order=["layer1", "layer10"])


def test_pytorch_registration_order_and_checkpoint_dicts(tmp_path):
    torch = need("torch")

    class Net(torch.nn.Module):  # registered out of natural order: out before hidden
        def __init__(self):
            super().__init__()
            self.out = torch.nn.Linear(6, 3)
            self.hidden = torch.nn.Linear(5, 6)

    net = Net()
    torch.save({"state_dict": net.state_dict(), "activation": "tanh", "epoch": 3}, tmp_path / "ckpt.pt")
    stack = read_dense(tmp_path / "ckpt.pt")
    assert stack.names == ["hidden", "out"] and stack.activation == "tanh"  # natural order chains, file order not
    torch.save(torch.nn.Sequential(torch.nn.Linear(5, 6)), tmp_path / "pickled.pt")
    with pytest.raises(InteropError, match="weights_only"):
        read_dense(tmp_path / "pickled.pt")


def test_from_direct_and_as_spectral_keep_the_function_in_every_preset():
    rng = np.random.default_rng(1)
    direct = SpectralMLP([10, 7, 4], train="direct", activation="tanh", seed=2, dtype="float64")
    for layer in direct.layers:
        layer.bias = rng.normal(size=layer.n_out)
    direct.layers[1].mask = rng.random((4, 7)) > 0.5
    x = rng.normal(size=(6, 10))
    want = direct.forward(x)
    counts = {"direct": 10 * 7 + 7 * 4, "eigen-out": 7 + 4, "eigen": 10 + 7 + 7 + 4, "svd": 7 + 4 + 10 + 7 + 7 + 4,
              "qr": 28 + 10 + 10 + 7 + 7 + 4, "spectral": 10 * 7 + 7 * 4 + 10 + 7 + 7 + 4}
    for preset, n in counts.items():
        net = as_spectral(direct, train=preset)
        np.testing.assert_allclose(net.forward(x), want, rtol=1e-10, atol=1e-10)
        assert net.n_trainable == n + 7 + 4  # biases
        for layer in net.layers:
            np.testing.assert_array_equal(np.asarray(layer.lam_in), 1.0)
            np.testing.assert_array_equal(np.asarray(layer.lam_out), 0.0)
    ws = [np.asarray(w) for w in direct.weights()]
    net = from_direct(ws, None, "tanh", train="eigen", dtype="float64")
    assert not net.bias and net.n_trainable == 10 + 7 + 7 + 4
    with pytest.raises(ValueError, match="takes 4 inputs"):
        from_direct([ws[0], ws[0][:4, :4]], None, "relu")


def test_missing_optional_package_names_the_extra(tmp_path, monkeypatch):
    need("safetensors")
    net = SpectralMLP([4, 3, 2], seed=0)
    path = export_network(net, tmp_path / "n.safetensors")
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(MissingDependencyError, match=r"spectral-physics\[interop\]"):
        load_any(path, activation="relu")
    with pytest.raises(ImportError):  # also an ImportError for code that catches those
        export_network(net, tmp_path / "m.safetensors")


def test_detect_format_reads_content_not_names(tmp_path):
    need("safetensors")
    net = SpectralMLP([4, 3, 2], seed=0)
    save_network(net, tmp_path / "a.npz")
    export_network(net, tmp_path / "b.safetensors")
    (tmp_path / "b.safetensors").rename(tmp_path / "b.bin")
    assert detect_format(tmp_path / "a.npz") == "npz"
    assert detect_format(tmp_path / "b.bin") == "safetensors"
    (tmp_path / "c.txt").write_text("hello")
    with pytest.raises(InteropError, match="not a recognised model file"):
        detect_format(tmp_path / "c.txt")


# ----------------------------------------------------------------------------- command line


@pytest.fixture(scope="module")
def trained_in_torch(mnist, tmp_path_factory):
    """A 784-300-100-10 ReLU network trained one epoch on 10,000 MNIST images in PyTorch, as safetensors."""
    torch = need("torch")
    need("safetensors")
    from safetensors.torch import save_file

    model = torch_mlp("relu", seed=1).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.from_numpy(np.array(mnist.x_train[:10000], dtype=np.float32))
    y = torch.from_numpy(np.array(mnist.y_train[:10000], dtype=np.int64))
    gen = torch.Generator().manual_seed(0)
    for idx in torch.randperm(10000, generator=gen).split(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    model.eval()
    d = tmp_path_factory.mktemp("torch_trained")
    save_file(model.state_dict(), str(d / "model.safetensors"), metadata={"activation": "relu"})
    save_file(model.state_dict(), str(d / "bare.safetensors"))
    torch.save(model.state_dict(), d / "model.pt")
    return model, d


@pytest.mark.data
def test_eigenstats_of_a_torch_trained_safetensors_file(trained_in_torch, tmp_path, capsys):
    import xarray as xr
    from spectral_physics.analysis.rmt import fit_power_law, gram_spectrum

    model, d = trained_in_torch
    res = cli("eigenstats", d / "model.safetensors", "--out", tmp_path / "s.nc", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    with xr.open_dataset(tmp_path / "s.nc") as ds:
        alpha = ds.tail_alpha.sel(source="trained").values
        assert ds.sizes["layer"] == 3 and alpha.shape == (3,)
        assert np.isfinite(alpha).all()
    ws, _ = dense_of(model)
    want = [fit_power_law(gram_spectrum(w), min_tail=10).alpha for w in ws]
    np.testing.assert_allclose(alpha, want, rtol=1e-4)
    # the same file without the metadata field needs --activation, and says so
    res = main("eigenstats", d / "bare.safetensors", "--out", tmp_path / "t.nc", capsys=capsys)
    assert_one_line_error(res, str(d / "bare.safetensors"), "--activation")
    res = main("eigenstats", d / "bare.safetensors", "--activation", "relu", "--out", tmp_path / "t.nc", capsys=capsys)
    assert res.returncode == 0, res.stderr


@pytest.mark.data
def test_every_analysis_accepts_an_imported_file(trained_in_torch, data_root, tmp_path, capsys):
    _, d = trained_in_torch
    model = d / "model.pt"
    runs = {
        "nodes": ["nodes", model, "--activation", "relu", "--data-root", data_root, "--n-eval", "200",
                  "--no-pruning", "--out", tmp_path / "n.nc"],
        "homeostasis": ["homeostasis", model, "--activation", "relu", "--data-root", data_root, "--n-eval", "200",
                        "--permutations", "50", "--out", tmp_path / "h.nc"],
        "prune": ["prune", model, "--activation", "relu", "--data-root", data_root, "--n-test", "300",
                  "--fractions", "0,0.5", "--ranking", "connectivity,random", "--out", tmp_path / "p.nc",
                  "--no-progress"],
    }
    for name, argv in runs.items():
        res = main(*argv, capsys=capsys)
        assert res.returncode == 0, (name, res.stderr[-2000:])
    for f in ("n.nc", "h.nc", "p.nc"):
        assert (tmp_path / f).stat().st_size > 0


@pytest.mark.data
def test_import_and_export_commands(trained_in_torch, x1000, tmp_path, capsys):
    model, d = trained_in_torch
    ref = torch_logits(model, x1000)
    res = main("import", d / "model.pt", "--activation", "relu", "--out", tmp_path / "net.npz", capsys=capsys)
    assert res.returncode == 0, res.stderr
    net = load_network(tmp_path / "net.npz")
    np.testing.assert_allclose(np.asarray(net.forward(x1000)), ref, rtol=1e-5, atol=1e-5)
    for suffix in EXPORTS:
        res = main("export", tmp_path / "net.npz", "--to", tmp_path / f"net{suffix}", capsys=capsys)
        assert res.returncode == 0, res.stderr
        np.testing.assert_array_equal(np.asarray(load_any(tmp_path / f"net{suffix}").forward(x1000)),
                                      np.asarray(net.forward(x1000)))
    res = main("export", tmp_path / "net.npz", "--to", tmp_path / "net.tflite", capsys=capsys)
    assert_one_line_error(res, "--to", ".tflite")


@pytest.mark.data
def test_train_init_from_trains_only_the_eigenvalues(trained_in_torch, data_root, tmp_path, capsys):
    model, d = trained_in_torch
    res = cli("train", "--init-from", d / "model.safetensors", "--train", "eigen", "--dataset", "fashion-mnist",
              "--data-root", data_root, "--subset", "2000", "--epochs", "1", "--out", tmp_path / "ft.npz",
              "--json", "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["trainable_parameters"] == 2004 and out["sizes"] == SIZES and out["activation"] == "relu"
    tuned = load_network(tmp_path / "ft.npz")
    ws, _ = dense_of(model)
    for layer, w in zip(tuned.layers, ws):
        np.testing.assert_array_equal(np.asarray(layer.phi), w)  # phi = imported W, frozen
        assert not np.allclose(np.asarray(layer.lam_out), 0.0)  # the eigenvalues moved
    # the file says where it started, so eigenstats does not rebuild a seeded "initial" network
    assert read_header(tmp_path / "ft.npz")["metadata"] == {"init_from": str(d / "model.safetensors")}
    res = main("eigenstats", tmp_path / "ft.npz", "--out", tmp_path / "ft.nc", capsys=capsys)
    assert res.returncode == 0 and "initial: not known" in res.stdout
    res = main("train", "--init-from", d / "model.safetensors", "--sizes", "784,10", "--epochs", "0",
               "--data-root", data_root, capsys=capsys)
    assert_one_line_error(res, "--sizes", "784,300,100,10")
    res = main("train", "--init-from", d / "model.safetensors", "--activation", "tanh", "--epochs", "0",
               "--data-root", data_root, capsys=capsys)
    assert_one_line_error(res, "relu", "tanh")


# ----------------------------------------------------------------------------- bad files


def _bad_files(tmp: Path) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """name -> (file, texts the one-line error must contain)."""
    torch = need("torch")
    need("onnx")
    need("h5py")
    need("safetensors")
    from safetensors.numpy import save_file

    nn = torch.nn
    out: dict[str, tuple[Path, tuple[str, ...]]] = {}
    conv = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    torch.save(conv.state_dict(), tmp / "conv.pt")
    out["conv-state-dict"] = (tmp / "conv.pt", ("layer '0'", "convolution"))
    torch_onnx_export(conv, tmp / "conv.onnx", x_shape=(1, 1, 28, 28))
    out["conv-onnx"] = (tmp / "conv.onnx", ("(Conv)", "convolution"))
    bn = nn.Sequential(nn.Linear(784, 30), nn.BatchNorm1d(30), nn.ReLU(), nn.Linear(30, 10))
    torch.save(bn.state_dict(), tmp / "bn.pt")
    out["batchnorm"] = (tmp / "bn.pt", ("layer '1'", "normalisation"))
    rng = np.random.default_rng(0)
    chain = {"fc1.weight": rng.normal(size=(300, 784)).astype("f4"), "fc1.bias": np.zeros(300, "f4"),
             "fc2.weight": rng.normal(size=(10, 200)).astype("f4"), "fc2.bias": np.zeros(10, "f4")}
    save_file(chain, str(tmp / "chain.safetensors"), metadata={"activation": "relu"})
    out["shape-chain"] = (tmp / "chain.safetensors", ("layer 'fc2'", "mismatched shape chain", "200 inputs"))
    ws = [rng.normal(size=(30, 784)).astype("f4"), rng.normal(size=(10, 30)).astype("f4")]
    bs = [np.zeros(30, "f4"), np.zeros(10, "f4")]
    write_onnx_matmul(tmp / "sigmoid.onnx", ws, bs, "relu", bad_op="Sigmoid")
    out["unknown-activation-onnx"] = (tmp / "sigmoid.onnx", ("act0 (Sigmoid)", "unknown activation"))
    write_keras(tmp / "gelu.keras", ws, bs, "gelu")
    out["unknown-activation-keras"] = (tmp / "gelu.keras", ("layer 'dense'", "unknown activation 'gelu'"))
    save_file(dict(zip(["a.weight", "a.bias", "b.weight", "b.bias"], [ws[0], bs[0], ws[1], bs[1]])),
              str(tmp / "swish.safetensors"), metadata={"activation": "swish"})
    out["unknown-activation-metadata"] = (tmp / "swish.safetensors", ("metadata field 'activation'", "swish"))
    mixed = nn.Sequential(nn.Linear(784, 30), nn.ReLU(), nn.Linear(30, 20), nn.Tanh(), nn.Linear(20, 10))
    torch_onnx_export(mixed, tmp / "mixed.onnx")
    out["mixed-activations"] = (tmp / "mixed.onnx", ("different activations",))
    save_file(dict(zip(["a.weight", "a.bias", "b.weight", "b.bias"], [ws[0], bs[0], ws[1], bs[1]])),
              str(tmp / "bare.safetensors"))
    out["no-activation"] = (tmp / "bare.safetensors", ("does not say which activation", "--activation"))
    # truncated files: half of a good file of each format
    good = SpectralMLP([784, 30, 10], seed=0)
    for suffix in (".safetensors", ".onnx", ".pt"):
        src = export_network(good, tmp / f"good{suffix}")
        cut = tmp / f"truncated{suffix}"
        cut.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
        out[f"truncated{suffix}"] = (cut, ("not a readable",))
    for name, path in (("keras", write_keras(tmp / "good.keras", ws, bs, "relu")),
                       ("h5", write_keras_h5(tmp / "good.h5", ws, bs, "relu"))):
        cut = tmp / f"truncated.{name}"
        cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        out[f"truncated.{name}"] = (cut, ("not a readable",))
    return out


BAD = ["conv-state-dict", "conv-onnx", "batchnorm", "shape-chain", "unknown-activation-onnx",
       "unknown-activation-keras", "unknown-activation-metadata", "mixed-activations", "no-activation",
       "truncated.safetensors", "truncated.onnx", "truncated.pt", "truncated.keras", "truncated.h5"]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return _bad_files(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("kind", BAD)
def test_bad_files_are_one_line_errors_naming_the_layer_or_file(bad_files, kind, tmp_path, capsys):
    path, needles = bad_files[kind]
    with pytest.raises(InteropError) as info:
        load_any(path)
    assert str(path) in str(info.value)
    res = main("import", path, "--out", tmp_path / "net.npz", capsys=capsys)
    assert_one_line_error(res, str(path), *needles)
    assert not (tmp_path / "net.npz").exists()


@pytest.mark.parametrize("kind", ["conv-state-dict", "truncated.onnx", "shape-chain", "unknown-activation-keras"])
def test_bad_files_fail_every_analysis_in_one_line(bad_files, kind, tmp_path, capsys):
    path, needles = bad_files[kind]
    for command in ("eigenstats", "nodes", "homeostasis", "prune"):
        res = main(command, path, "--activation", "relu", "--out", tmp_path / "r.nc", capsys=capsys)
        assert_one_line_error(res, str(path), *needles)
    res = main("train", "--init-from", path, "--activation", "relu", "--epochs", "0", "--dataset",
               "teacher-student", capsys=capsys)
    assert_one_line_error(res, str(path), *needles)
    assert not (tmp_path / "r.nc").exists()


@pytest.mark.parametrize("kind", ["conv-onnx"])
def test_bad_files_in_a_real_process(bad_files, kind, tmp_path):
    path, needles = bad_files[kind]
    for argv in (("import", path, "--out", tmp_path / "n.npz"), ("eigenstats", path, "--out", tmp_path / "s.nc")):
        assert_one_line_error(cli(*argv, cwd=tmp_path), str(path), *needles)
