"""GPU readiness, checked without a GPU where the logic allows, and on one where it does not.

* the CuPy API the library reaches (every ``xp.<name>``) against the attribute lists of the
  oldest and the newest CuPy the ``gpu`` extra allows (``tests/data/cupy-*-api.txt``) and
  against the CuPy installed, if any;
* the array radix select (the GPU's dynamic-sparsity threshold and sparse masks) against
  ``numpy.partition`` and a stable sort, on NumPy arrays through the same code;
* the fused CuPy kernels' element-wise bodies evaluated through NumPy against the array
  implementation, bit for bit, and float64 eigenvalue sums in every implementation;
* the loss without ``put_along_axis``; host synchronisations of NTT and DST; one sweep
  worker per GPU; ``--device`` on every training subcommand; ``benchmarks/gpu_check.py``
  without a GPU;
* ``gpu``-marked tests for a machine with one (run by ``benchmarks/gpu_check.py``).

Regenerate an attribute list after installing a CuPy release::

    python tests/spectral_physics/test_gpu_readiness.py --write-api
"""

from __future__ import annotations

import ast
import multiprocessing
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib

from spectral_physics import SpectralMLP, kernels

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"


# ---------------------------------------------------------------------- the CuPy API
#: submodules whose members are listed too (dotted)
_SUBMODULES = ("linalg", "random", "fft", "cuda", "cuda.runtime")


def _ufunc_methods(u) -> list[str]:
    """The methods of a CuPy ufunc that work: every ufunc has them all, most raise
    ``NotImplementedError`` (``at`` needs a scatter operation; ``reduce``, ``accumulate``
    exist for ``add`` and ``multiply``, ``reduceat`` is taken for ``add`` only)."""
    out = ["outer"] if getattr(u, "nin", 0) == 2 else []
    if getattr(u, "_scatter_op", None) is not None:
        out.append("at")
    if u.__name__ in ("cupy_add", "cupy_multiply"):
        out += ["reduce", "accumulate"]
    if u.__name__ == "cupy_add":
        out.append("reduceat")
    return out


def cupy_api_names(cp) -> list[str]:
    """Public names of a CuPy module: top level, the members of ``_SUBMODULES``, usable ufunc methods."""
    names = {n for n in dir(cp) if not n.startswith("_")}
    for sub in _SUBMODULES:
        obj = cp
        for part in sub.split("."):
            obj = getattr(obj, part, None)
        if obj is not None:
            names |= {f"{sub}.{n}" for n in dir(obj) if not n.startswith("_")}
    for n in list(names):
        if "." not in n and isinstance(getattr(cp, n, None), cp.ufunc):
            names |= {f"{n}.{m}" for m in _ufunc_methods(getattr(cp, n))}
    return sorted(names)


def _api_files() -> dict[str, set[str]]:
    out = {}
    for path in sorted(DATA.glob("cupy-*-api.txt")):
        version = path.name[len("cupy-"): -len("-api.txt")]
        out[version] = {ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")}
    return out


#: names (or calls) that stand for the array module of device arrays in the library
_BASE_NAMES = {"xp", "cp", "cupy"}
_BASE_CALLS = {"array_module", "get_xp", "_cupy"}


def _is_array_module(node) -> bool:
    if isinstance(node, ast.Name):
        return node.id in _BASE_NAMES
    if isinstance(node, ast.Attribute):
        return node.attr == "xp"  # self.xp, net.xp, layer.xp, ...
    if isinstance(node, ast.Call):
        f = node.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
        return name in _BASE_CALLS
    return False


def library_xp_names() -> dict[str, set[str]]:
    """Every ``xp.a.b`` chain in spectral_physics/ and analysis/: dotted name -> files."""
    found: dict[str, set[str]] = {}
    for folder in ("spectral_physics", "analysis"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Attribute):
                    continue
                parts, cur = [], node
                while isinstance(cur, ast.Attribute):
                    parts.append(cur.attr)
                    cur = cur.value
                    if _is_array_module(cur):
                        found.setdefault(".".join(reversed(parts)), set()).add(str(path.relative_to(REPO)))
                        break
    # a chain is found once per prefix (xp.add.at gives add.at and, from its inner node, add)
    return found


def _missing(names, api: set[str]) -> list[str]:
    """Names of ``names`` absent from ``api``; a chain is checked as deep as ``api`` lists."""
    bad = []
    for name in names:
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            listed = any(a.startswith(prefix + ".") for a in api) or prefix in api
            if depth > 1 and not any(a.startswith(".".join(parts[: depth - 1]) + ".") for a in api):
                break  # the parent's members are not listed (e.g. an object's method): stop there
            if not listed:
                bad.append(name)
                break
    return bad


def test_the_library_reaches_a_known_set_of_cupy_names():
    names = library_xp_names()
    # the walk sees the code: the names the GPU path is known to use are among its findings
    for name in ("add.at", "cumsum", "take_along_axis", "ElementwiseKernel", "cuda.runtime.getDeviceCount"):
        assert name in names, name
    assert "put_along_axis" not in names, names.get("put_along_axis")  # CuPy has it only from 14.0


def test_every_cupy_name_the_library_uses_exists_in_each_checked_cupy():
    apis = _api_files()
    assert len(apis) >= 2, f"expected the oldest and the newest checked CuPy in {DATA}, found {sorted(apis)}"
    names = library_xp_names()
    for version, api in apis.items():
        missing = _missing(names, api)
        assert missing == [], {m: sorted(names[m]) for m in missing} | {"cupy": version}


def test_the_installed_cupy_has_every_name_too():
    cp = pytest.importorskip("cupy")  # installed by .ci/run from the gpu extra; imports without a GPU
    missing = _missing(library_xp_names(), set(cupy_api_names(cp)))
    assert missing == [], (cp.__version__, missing)


def _gpu_extra() -> tuple[str, str]:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    (req,) = meta["project"]["optional-dependencies"]["gpu"]
    m = re.fullmatch(r"cupy-cuda12x>=([\d.]+),<([\d.]+)", req.replace(" ", ""))
    assert m, f"the gpu extra must read cupy-cuda12x>=LOW,<HIGH, got {req!r}"
    return m.group(1), m.group(2)


def _v(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def test_the_gpu_extra_allows_exactly_the_checked_cupy_range():
    low, high = _gpu_extra()
    versions = sorted(_api_files(), key=_v)
    assert _v(versions[0])[: len(_v(low))] == _v(low) or _v(versions[0]) == _v(low) + (0,), (low, versions)
    assert _v(versions[-1]) < _v(high) and _v(versions[-1])[0] == _v(high)[0] - 1, (high, versions)
    # the numpy bound lets both ends install: 13.6 takes NumPy >= 1.22, 14 needs NumPy 2
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    numpy_req = next(d for d in meta["project"]["dependencies"] if d.startswith("numpy"))
    assert _v(numpy_req.split(">=")[1].split(",")[0]) >= (1, 22)


def test_ci_installs_the_gpu_extra_in_its_own_step():
    run = (REPO / ".ci" / "run").read_text()
    assert 'pip install -e ".[gpu]"' in run
    assert run.index('".[gpu]"') < run.index("pytest")


# ---------------------------------------------------------------------- loss
@pytest.mark.parametrize("lead", [(), (3,), (2, 3)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_entropy_gradient_is_the_put_along_axis_one_bit_for_bit(rng, lead, dtype):
    from spectral_physics.losses import softmax_cross_entropy

    logits = rng.normal(size=lead + (7, 5)).astype(dtype)
    labels = rng.integers(0, 5, size=lead + (7,))
    loss, d = softmax_cross_entropy(logits, labels)
    z = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(z - np.log(np.exp(z).sum(axis=-1, keepdims=True)))
    np.put_along_axis(p, labels[..., None], np.take_along_axis(p, labels[..., None], axis=-1) - 1, axis=-1)
    p /= 7
    assert d.dtype == np.dtype(dtype) and loss.shape == lead
    np.testing.assert_array_equal(d, p)


# ---------------------------------------------------------------------- radix select
def _awkward_block(rng, lead, dtype, shape=(40, 30)):
    """Normal entries with ties, +-0, both NaNs, +-inf and subnormals."""
    w = rng.normal(size=lead + shape).astype(dtype)
    f = w.reshape(lead + (-1,))
    f[..., ::7] = 0.0
    f[..., 3::11] = -0.0
    f[..., 1::5] = -f[..., 2::5]  # |w| ties with opposite signs
    f[..., 4::13] = np.nan
    f[..., 6::17] = -np.nan
    f[..., 8::19] = np.inf
    f[..., 9::23] = -np.inf
    f[..., 10::29] = np.finfo(dtype).smallest_subnormal
    return w


@pytest.mark.parametrize("lead", [(), (3,), (2, 2)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_threshold_equals_partition_on_numpy(rng, lead, dtype):
    w = _awkward_block(rng, lead, dtype)
    flat = np.abs(w.reshape(lead + (-1,)))
    n = flat.shape[-1]
    finite = int(np.min((~np.isnan(flat)).sum(axis=-1)))
    for k in sorted({1, 2, 3, 100, n // 2, finite - 1, finite, finite + 1, n - 1, n}):
        got = kernels._radix_kth_smallest_abs(w, k)
        want = np.partition(flat, k - 1, axis=-1)[..., k - 1]
        assert got.dtype == w.dtype and got.shape == lead
        np.testing.assert_array_equal(got, want)  # NaN where partition has NaN


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_threshold_edge_blocks(dtype):
    one = np.array([[-2.5]], dtype=dtype)
    assert kernels._radix_kth_smallest_abs(one, 1) == 2.5
    nan = np.full((2, 3), np.nan, dtype=dtype)
    assert np.isnan(kernels._radix_kth_smallest_abs(nan, 1))
    zeros = np.array([[-0.0, 0.0], [0.0, -0.0]], dtype=dtype)
    t = kernels._radix_kth_smallest_abs(zeros, 4)
    assert t == 0 and not np.signbit(t)  # as abs(-0.0) = +0.0
    same = np.full((3, 4, 5), -7.0, dtype=dtype)
    np.testing.assert_array_equal(kernels._radix_kth_smallest_abs(same, 11), [7.0] * 3)
    with pytest.raises(ValueError, match="k must"):
        kernels.radix_select(np.zeros((1, 3), np.uint32), 4)


def test_radix_select_on_integer_keys_with_duplicates(rng):
    for dtype, top in ((np.uint32, 2**32), (np.uint64, 2**64)):
        keys = rng.integers(0, 50, size=(4, 999), dtype=np.uint64).astype(dtype)
        keys[1] = rng.integers(0, top - 1, size=999, dtype=np.uint64, endpoint=True).astype(dtype)
        keys[2] = dtype(top - 1)  # all equal, the largest key
        for k in (1, 500, 999):
            np.testing.assert_array_equal(kernels.radix_select(keys, k), np.partition(keys, k - 1, axis=1)[:, k - 1])


def _top_k_reference(a, k):
    """Keep the k largest, NaN lowest, -0 == 0, ties to the lowest index (a stable sort)."""
    a = np.where(np.isnan(a), -np.inf, a) + 0.0
    order = np.argsort(-a, axis=-1, kind="stable")[..., :k]
    m = np.zeros(a.shape, bool)
    np.put_along_axis(m, order, True, axis=-1)
    return m


@pytest.mark.parametrize("lead", [(), (3,)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_top_k_mask_keeps_exactly_k_with_ties_to_the_lowest_index(rng, lead, dtype):
    a = _awkward_block(rng, lead, dtype, shape=(600,))
    a.reshape(-1, 600)[:, 50:120] = 0.25  # a long tie
    for k in (1, 2, 60, 100, 300, 599, 600, 700):
        got = kernels.top_k_mask(a, k)
        assert got.dtype == bool and got.shape == a.shape
        np.testing.assert_array_equal(got.sum(axis=-1), np.minimum(k, 600))
        np.testing.assert_array_equal(got, _top_k_reference(a, min(k, 600)))


def test_sparse_masks_are_chosen_with_array_operations_only(monkeypatch):
    import spectral_physics.sparse as sparse

    net = SpectralMLP([20, 16, 3], train="spectral", seed=[0, 1])
    want_layer = [np.asarray(m) for m in sparse.magnitude_masks(net, 0.3)]

    def no_host(*_a, **_k):
        raise AssertionError("a mask went to the host")

    monkeypatch.setattr(sparse, "to_numpy", no_host)
    masks = sparse.magnitude_masks(net, 0.3, "global")
    kept = sum(m.reshape(2, -1).sum(axis=1) for m in masks)
    np.testing.assert_array_equal(kept, [round(0.3 * sum(layer.n_in * layer.n_out for layer in net.layers))] * 2)
    for m, w in zip(sparse.magnitude_masks(net, 0.3), want_layer):
        np.testing.assert_array_equal(m, w)
    # equal to a stable-sort selection of |W| per member and layer (no ties in random weights)
    for layer, m in zip(net.layers, want_layer):
        a = np.abs(layer.dense_weight()).reshape(2, -1)
        np.testing.assert_array_equal(m.reshape(2, -1), _top_k_reference(a, round(0.3 * a.shape[1])))


def test_dst_reselection_reads_nothing_back_until_the_epoch_ends(monkeypatch):
    import spectral_physics.sparse as sparse

    net = SpectralMLP([20, 16, 3], train="spectral", seed=0)
    dst = sparse.DynamicSparseTraining(0.4, every=1)
    calls = []
    real = sparse.to_numpy
    monkeypatch.setattr(sparse, "to_numpy", lambda a: calls.append(1) or real(a))
    dst.on_train_begin(net)
    for s in range(5):
        net.layers[0].phi = np.asarray(net.layers[0].phi) * 1.01 + 0.001 * s  # W moves
        dst.on_step_end(net, 1, s + 1)
    assert calls == [] and len(dst.updates) == 5
    dst.on_epoch_end(net, 1, {})
    assert len(calls) == 5 * len(net.layers)  # one read per layer and re-selection, at the epoch's end
    assert all(isinstance(f, int) for u in dst.updates for f in u["flips"])


# ---------------------------------------------------------------------- fused CuPy kernels
def _eval_body(body: str, env: dict) -> None:
    """Run a fused kernel's element-wise body through NumPy (the operations are +-*/ and calls)."""
    funcs = {"sqrt": np.sqrt, "fabs": np.abs, "_sp_max": np.maximum}
    for stmt in (s.strip() for s in body.split(";")):
        if not stmt:
            continue
        m = re.fullmatch(r"(?:T\s+)?(\w+)\s*=\s*(.+)", stmt)
        assert m, f"unexpected statement {stmt!r}"
        assert re.fullmatch(r"[\w\s+\-*/().,]+", m.group(2)), f"unexpected operation in {stmt!r}"
        env[m.group(1)] = eval(m.group(2), {"__builtins__": {}}, {**funcs, **env})  # noqa: S307


def _params(text: str) -> list[tuple[str, str]]:
    return [tuple(p.split()) for p in text.split(",")]


def test_fused_kernel_sources_are_well_formed():
    from spectral_physics import _cupy_kernels as ck

    assert "--fmad=false" in ck.OPTIONS
    for name, (ins, outs, body) in ck.ELEMENTWISE.items():
        params = _params(ins) + _params(outs)
        assert all(t == "T" for t, _ in params), name  # one dtype: scalars are passed in the arrays' dtype
        declared = {p for _, p in params} | set(re.findall(r"\bT\s+(\w+)\s*=", body))
        used = set(re.findall(r"\b[a-z_]\w*\b", body)) - {"sqrt", "fabs", "_sp_max"}
        assert used <= declared, (name, used - declared)
        assigned = set(re.findall(r"(?:^|;)\s*(?:T\s+)?(\w+)\s*=", body))
        assert {p for _, p in _params(outs)} <= assigned, name
    for name, spec in ck.REDUCTIONS.items():
        assert spec[2] == "static_cast<double>(g * phi)" and spec[3] == "a + b" and spec[5] == "0", name


def test_fused_kernels_are_cupy_objects_when_cupy_is_installed():
    pytest.importorskip("cupy")
    from spectral_physics import _cupy_kernels as ck

    for name in (*ck.ELEMENTWISE, *ck.REDUCTIONS):  # parsing the parameter lists needs no GPU
        ck._kernel.cache_clear()
        k = ck._kernel(name)
        assert type(k).__name__ in ("ElementwiseKernel", "ReductionKernel")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_optimiser_bodies_equal_the_array_expressions_bit_for_bit(rng, dtype):
    from spectral_physics import _cupy_kernels as ck

    t = np.dtype(dtype).type
    p0, g = rng.normal(size=(2, 5, 7)).astype(dtype)
    m0, v0 = rng.normal(size=(5, 7)).astype(dtype), rng.random((5, 7)).astype(dtype)
    g[0, :3] = [0.0, -0.0, 1e-30]
    prev = kernels.set_implementation("array")
    try:
        for name, update, consts in (("adam", kernels.adam_update, (0.9, 0.999, 0.0123, 1e-7)),
                                     ("adamax", kernels.adamax_update, (0.9, 0.999, 0.0456, 1e-7))):
            p, m, v = p0.copy(), m0.copy(), v0.copy()
            update(p, g, m, v, None, *consts)
            second = "v" if name == "adam" else "u"
            env = {"g": g, "p": p0.copy(), "m": m0.copy(), second: v0.copy(),
                   **dict(zip(("beta1", "beta2", "step", "eps"), (t(c) for c in consts)))}
            _eval_body(ck.ELEMENTWISE[name][2], env)
            for want, key in ((p, "p"), (m, "m"), (v, second)):
                assert env[key].dtype == np.dtype(dtype)
                np.testing.assert_array_equal(env[key], want, err_msg=f"{name}: {key}")
        p, v = p0.copy(), m0.copy()
        kernels.sgd_update(p, g, v, None, 0.9, 0.05)
        env = {"g": g, "p": p0.copy(), "v": m0.copy(), "momentum": t(0.9), "lr": t(0.05)}
        _eval_body(ck.ELEMENTWISE["sgd"][2], env)
        np.testing.assert_array_equal(env["p"], p)
        np.testing.assert_array_equal(env["v"], v)
    finally:
        kernels.set_implementation(prev)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_weight_and_gradient_bodies_equal_the_array_expressions(rng, dtype):
    from spectral_physics import _cupy_kernels as ck

    g, phi = rng.normal(size=(2, 3, 6, 9)).astype(dtype)
    lam_in, lam_out = rng.normal(size=(3, 9)).astype(dtype), rng.normal(size=(3, 6)).astype(dtype)
    prev = kernels.set_implementation("array")
    try:
        env = {"lam_in": lam_in[..., None, :], "lam_out": lam_out[..., :, None], "phi": phi}
        _eval_body(ck.ELEMENTWISE["spectral_weight"][2], env)
        np.testing.assert_array_equal(env["w"], kernels.spectral_weight(phi, lam_in, lam_out))
        dphi, dlam_in, dlam_out = kernels.spectral_grads(g.copy(), phi, lam_in, lam_out)
        env = {"g": g, "lam_in": lam_in[..., None, :], "lam_out": lam_out[..., :, None]}
        _eval_body(ck.ELEMENTWISE["spectral_dphi"][2], env)
        np.testing.assert_array_equal(env["dphi"], dphi)
        # the reductions: float64 sums of the products rounded in the dtype
        prod = (g * phi).astype(np.float64)
        np.testing.assert_allclose(dlam_in, prod.sum(axis=-2).astype(dtype), rtol=0, atol=0)
        np.testing.assert_allclose(dlam_out, (-prod.sum(axis=-1)).astype(dtype), rtol=0, atol=0)
    finally:
        kernels.set_implementation(prev)


def _ulps(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.abs(a - b) / np.spacing(np.maximum(np.abs(a), np.abs(b)).astype(a.dtype))


@pytest.mark.parametrize("lead", [(), (4,)])
def test_eigenvalue_sums_agree_between_compiled_and_array_beyond_float32_rounding(rng, lead):
    # long sums of float32 products: float32 accumulation would be ~1e-5 off, float64 to <= 1 ulp
    g = rng.normal(size=lead + (3000, 200)).astype(np.float32)
    phi = rng.normal(size=lead + (3000, 200)).astype(np.float32)
    lam_in, lam_out = np.zeros(lead + (200,), np.float32), np.zeros(lead + (3000,), np.float32)
    exact = (g * phi).astype(np.float64)
    out = {}
    for impl in ("numba", "array"):
        prev = kernels.set_implementation(impl)
        try:
            out[impl] = kernels.spectral_grads(g.copy(), phi, lam_in, lam_out, want_dphi=False)
        finally:
            kernels.set_implementation(prev)
    for i, axis in ((1, -2), (2, -1)):
        ref = exact.sum(axis=axis) * (1 if i == 1 else -1)
        for impl in ("numba", "array"):
            assert _ulps(out[impl][i], ref.astype(np.float32)).max() <= 1, (impl, i)
        assert _ulps(out["numba"][i], out["array"][i]).max() <= 1
    f32 = -(g * phi).sum(axis=-1)  # what float32 accumulation gave before
    assert _ulps(f32, (-exact.sum(axis=-1)).astype(np.float32)).max() > 1


def test_optimiser_scratch_arrays_only_for_the_array_expressions():
    from spectral_physics.optim import Adam

    p = np.zeros((3, 4), np.float32)
    prev = kernels.set_implementation("auto")
    try:
        assert Adam()._init_state(p)["tmp"] is None
        kernels.set_implementation("array")
        assert Adam()._init_state(p)["tmp"].shape == p.shape
    finally:
        kernels.set_implementation(prev)


# ---------------------------------------------------------------------- NTT host synchronisations
_CONVERSIONS = {"float", "int", "bool", "to_numpy", "item", "tolist", "get", "asnumpy"}


def _conversions_in(func_node) -> list[str]:
    out = []
    for node in ast.walk(func_node):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name in _CONVERSIONS:
                out.append(f"{name} (line {node.lineno})")
    return out


def test_the_ntt_step_path_has_no_host_conversion():
    tree = ast.parse((REPO / "spectral_physics" / "ntt.py").read_text())
    funcs = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    calls = next(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "NTTObjective")
    step = next(n for n in calls.body if isinstance(n, ast.FunctionDef) and n.name == "__call__")
    for node in (step, funcs["_evaluate"], funcs["_targets"], funcs["_kernel_forward"], funcs["_kernel_adjoint"]):
        assert _conversions_in(node) == [], node.name


def test_ntt_steps_keep_the_loss_on_the_device(monkeypatch):
    import spectral_physics.ntt as ntt
    from spectral_physics import fit
    from spectral_physics.sparse import apply_masks, magnitude_masks

    x = np.random.default_rng(0).normal(size=(192, 12))
    teacher = ntt.make_teacher([12, 10, 3], seed=0, dtype="float64")
    student = teacher.copy()
    apply_masks(student, magnitude_masks(student, 0.5))
    obj = ntt.NTTObjective(teacher, density=0.5)
    conv = []
    real = ntt.to_numpy
    monkeypatch.setattr(ntt, "to_numpy", lambda a: conv.append(1) or real(a))

    def no_check(*_a, **_k):
        raise AssertionError("_check_x reads isfinite(x).all() back to the host")

    monkeypatch.setattr(SpectralMLP, "_check_x", no_check)
    loss, grads, out = obj(student, x[:64])
    monkeypatch.undo()
    assert conv == [] and out is None and isinstance(loss, np.generic | np.ndarray) and loss.dtype == np.float64
    want, _, want_grads = ntt.ntt_loss_and_grad(student, x[:64], *ntt.teacher_targets(teacher, x[:64]),
                                                density=0.5)
    assert float(loss) == want  # the device path and the host path give one number
    for a, b in zip(grads, want_grads):
        np.testing.assert_array_equal(a["weight"], b["weight"])
    obj.losses.clear()
    fit(student, (x, None), epochs=2, batch_size=64, drop_last=True, lr=1e-3, loss_and_grad=obj, progress=False)
    vals = obj.loss_values()
    assert len(vals) == 6 and all(isinstance(v, float) for v in vals)


# ---------------------------------------------------------------------- sweeps
def test_a_gpu_sweep_defaults_to_one_worker_per_gpu(monkeypatch):
    from spectral_physics.analysis.sweep import execute

    import spectral_physics.backend as backend

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    for n, want in ((0, 1), (1, 1), (3, 3)):
        monkeypatch.setattr(backend, "gpu_count", lambda n=n: n)
        assert execute.default_workers("gpu") == want
        assert execute.default_workers("cpu") == (os.cpu_count() or 1)
    monkeypatch.setenv("SPECTRAL_PHYSICS_DEVICE", "gpu")
    assert execute.default_workers(None) == 3
    monkeypatch.setattr(backend, "gpu_count", lambda: 1)
    ex, close = execute.make_executor(device="gpu")
    assert isinstance(ex, execute.SerialExecutor)  # one GPU: in this process, one CUDA context
    close()
    monkeypatch.setattr(backend, "gpu_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    ex, close = execute.make_executor(device="gpu")  # no process starts before a submit
    try:
        assert ex._max_workers == 2 and ex._initializer is execute._use_gpu and ex._initargs[1] == ["3", "5"]
    finally:
        close()
    ex, close = execute.make_executor(workers=4, device="gpu")  # told otherwise: four workers, round robin
    assert ex._max_workers == 4
    close()
    ex, close = execute.make_executor(device="cpu")
    assert getattr(ex, "_max_workers", 1) == (os.cpu_count() or 1)
    close()


def test_gpu_workers_are_pinned_round_robin(monkeypatch):
    from spectral_physics.analysis.sweep import execute

    counter = multiprocessing.get_context("spawn").Value("i", 0)
    seen = []
    for _ in range(5):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
        execute._use_gpu(counter, ["3", "5"])
        seen.append(os.environ["CUDA_VISIBLE_DEVICES"])
    assert seen == ["3", "5", "3", "5", "3"]


def test_run_sweep_passes_the_device_to_its_tasks_and_executor(tmp_path, monkeypatch):
    import spectral_physics.analysis.sweep.run as run
    from spectral_physics.analysis.sweep import SweepSpec

    seen = {}

    class Stop(Exception):
        pass

    def fake_run_tasks(fn, tasks, store, **kw):
        seen.update(kw, tasks=tasks)
        raise Stop

    monkeypatch.setattr(run, "run_tasks", fake_run_tasks)
    spec = SweepSpec.from_dict({"dataset": "teacher-student", "seeds": [0], "epochs": 1,
                                "axes": {"hidden": [4]}})
    for given, env, want in ((None, None, "cpu"), ("gpu", None, "gpu"), (None, "gpu", "gpu"), ("CPU", "gpu", "cpu")):
        if env:
            monkeypatch.setenv("SPECTRAL_PHYSICS_DEVICE", env)
        else:
            monkeypatch.delenv("SPECTRAL_PHYSICS_DEVICE", raising=False)
        with pytest.raises(Stop):
            run.run_sweep(spec, tmp_path / f"r{len(seen)}{given}{env}", device=given, progress=False)
        assert seen["device"] == want and {t["device"] for t in seen["tasks"].values()} == {want}


def test_an_ensemble_point_moves_the_test_set_once_and_broadcasts_it_there(monkeypatch):
    import spectral_physics.analysis.sweep.run as run

    from spectral_physics.datasets import teacher_student

    data = teacher_student(n_train=200, n_test=50, n_features=10, n_classes=3, seed=0)
    seen = []
    real = SpectralMLP.accuracy

    def accuracy(self, x, y):
        seen.append(x)
        return real(self, x, y)

    monkeypatch.setattr(SpectralMLP, "accuracy", accuracy)
    params = {"hidden": [4], "train": "eigen", "activation": "relu", "dtype": "float32", "init": "default",
              "bias": True, "sparsity": 0.0, "epochs": 1, "batch_size": 50, "optimizer": "adam", "lr": 1e-2}
    acc, *_ = run._train(params, [0, 1, 2], data, "cpu", ensemble=True)
    (x,) = seen
    assert x.shape == (3, 50, 10) and x.strides[0] == 0 and x.dtype == np.float32  # a view, one copy under it
    assert acc.shape == (3,)


# ---------------------------------------------------------------------- command line
def _parser():
    from spectral_physics.cli import build_parser

    return build_parser()


@pytest.mark.parametrize("argv", [
    ["train"], ["ntt", "--density", "0.1"], ["sweep", "spec.toml", "--out", "x.nc"], ["reproduce"],
    ["experiment", "sparse", "--results", "r"], ["experiment", "ntt", "--results", "r"],
    ["experiment", "pruning", "--results", "r"],
])
def test_every_training_subcommand_takes_device(argv):
    args = _parser().parse_args(argv + ["--device", "gpu"])
    assert args.device == "gpu"
    assert _parser().parse_args(argv).device is None


def test_a_gpu_request_without_a_gpu_fails_in_one_line(tmp_path, capsys, monkeypatch):
    from spectral_physics.analysis.sweep import EXAMPLE_SPEC

    from spectral_physics import backend
    from spectral_physics.cli import main

    if backend.gpu_count():
        pytest.skip("a GPU is present")
    assert "device" in EXAMPLE_SPEC and "one worker per GPU" in EXAMPLE_SPEC
    spec = tmp_path / "spec.toml"
    spec.write_text(EXAMPLE_SPEC)
    monkeypatch.chdir(tmp_path)
    for argv in (["sweep", str(spec), "--out", str(tmp_path / "d.nc"), "--device", "gpu"],
                 ["experiment", "sparse", "--results", str(tmp_path / "r"), "--device", "gpu"]):
        rc = main(argv + ["--no-progress"])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and len(err) == 1 and ("CuPy" in err[0] or "CUDA" in err[0]), err
    assert not (tmp_path / "d.points").exists() and not (tmp_path / "r").exists()  # nothing was started


def test_default_device_sets_and_restores_the_variable(monkeypatch):
    from spectral_physics import backend

    monkeypatch.setenv("SPECTRAL_PHYSICS_DEVICE", "cpu")
    with backend.default_device("cpu") as dev:
        assert dev == "cpu" and os.environ["SPECTRAL_PHYSICS_DEVICE"] == "cpu"
    monkeypatch.delenv("SPECTRAL_PHYSICS_DEVICE")
    with backend.default_device(None):
        assert "SPECTRAL_PHYSICS_DEVICE" not in os.environ
    with backend.default_device("cpu"):
        assert os.environ["SPECTRAL_PHYSICS_DEVICE"] == "cpu"
    assert "SPECTRAL_PHYSICS_DEVICE" not in os.environ


def test_gpu_count_is_zero_without_cupy(monkeypatch):
    import builtins

    from spectral_physics import backend

    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "cupy":
            raise ImportError("no cupy")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    assert backend.gpu_count() == 0


def test_gpu_check_script_without_a_gpu_exits_2_in_one_line(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # hides any GPU, so this holds everywhere
    out = tmp_path / "g.json"
    res = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--out", str(out)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu_check: ") and res.stdout == "", res.stderr
    assert not out.exists()


# ---------------------------------------------------------------------- the GPU code path on a fake CuPy
class _FakeArray(np.ndarray):
    """A NumPy array that says it is a CuPy array, so the library takes its GPU code path."""

    __module__ = "cupy"

    def get(self):
        return self.view(np.ndarray).copy()


def _fake(a):
    if isinstance(a, np.ndarray) and not isinstance(a, _FakeArray):
        return a.view(_FakeArray)
    if isinstance(a, tuple | list):
        return type(a)(_fake(v) for v in a)
    return a


_T = r"static_cast<(\w+)>\((.*)\)"


def _c_expr(expr: str) -> str:
    """The two C casts of the reduction kernels as NumPy casts."""
    m = re.fullmatch(_T, expr.strip())
    if not m:
        return expr
    return f"({_c_expr(m.group(2))}).astype({'float64' if m.group(1) == 'double' else 'T'})"


class _FakeElementwise:
    def __init__(self, in_params, out_params, operation, name="kernel", preamble="", options=(), **kw):
        self.ins, self.outs, self.op = _params(in_params), _params(out_params), operation
        assert "--fmad=false" in options

    def __call__(self, *args):
        assert len(args) in (len(self.ins), len(self.ins) + len(self.outs)), "argument count"
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        dtype = arrays[0].dtype
        assert all(a.dtype == dtype for a in args), "every T argument has one dtype"
        shape = np.broadcast_shapes(*(a.shape for a in arrays))
        outs = list(args[len(self.ins):]) or [np.empty(shape, dtype).view(_FakeArray) for _ in self.outs]
        assert all(o.shape == shape for o in outs), "outputs have the broadcast shape"
        env = {n: (np.broadcast_to(np.asarray(a), shape) if isinstance(a, np.ndarray) else a)
               for (_, n), a in zip(self.ins, args)}
        env.update({n: np.asarray(o).copy() for (_, n), o in zip(self.outs, outs)})
        _eval_body(self.op, env)
        for (_, n), o in zip(self.outs, outs):
            o[...] = env[n]
        return outs[0] if len(outs) == 1 else tuple(outs)


class _FakeReduction:
    def __init__(self, in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name="r",
                 reduce_type=None, options=(), **kw):
        assert reduce_expr == "a + b" and identity == "0" and reduce_type == "double" and "--fmad=false" in options
        self.ins, self.map, self.post = _params(in_params), _c_expr(map_expr), post_map_expr

    def __call__(self, *args, axis=None):
        t = args[0].dtype.type
        env = {n: np.asarray(a) for (_, n), a in zip(self.ins, args)}
        mapped = eval(self.map, {"__builtins__": {}}, {**env, "float64": np.float64, "T": t})  # noqa: S307
        a = mapped.sum(axis=axis)
        lhs, rhs = (v.strip() for v in self.post.split("=", 1))
        out = eval(_c_expr(rhs), {"__builtins__": {}}, {"a": a, "float64": np.float64, "T": t})  # noqa: S307
        return np.asarray(out).view(_FakeArray)


def _fake_cupy():
    import types

    mod = types.ModuleType("cupy")
    mod.ndarray = _FakeArray
    mod.ElementwiseKernel, mod.ReductionKernel = _FakeElementwise, _FakeReduction
    mod.asarray = lambda a, dtype=None: np.array(np.asarray(a), dtype=dtype, copy=True).view(_FakeArray)
    mod.asnumpy = lambda a: np.asarray(a).copy()
    mod.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
        get_current_stream=lambda: types.SimpleNamespace(synchronize=lambda: None))

    def attr(name):
        obj = getattr(np, name)
        if isinstance(obj, np.ufunc) or not callable(obj) or isinstance(obj, type):
            return obj  # ufuncs keep the subclass of their inputs; add.at works in place
        return lambda *a, **k: _fake(obj(*a, **k))

    mod.__getattr__ = attr
    return mod


@pytest.fixture
def fake_gpu(monkeypatch):
    """``device="gpu"`` on NumPy arrays dressed as CuPy arrays, with ``ElementwiseKernel`` and
    ``ReductionKernel`` evaluating the fused kernels' sources through NumPy."""
    from spectral_physics import _cupy_kernels

    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy())
    _cupy_kernels._kernel.cache_clear()
    yield
    _cupy_kernels._kernel.cache_clear()


@pytest.mark.parametrize("preset", ["spectral", "direct", "svd"])
@pytest.mark.parametrize("optimizer", ["adam", "adamax", "sgd"])
def test_training_on_the_gpu_code_path_follows_the_array_expressions(fake_gpu, preset, optimizer):
    """The whole GPU path (fused kernels, device threshold) gives the CPU array path's numbers."""
    from spectral_physics import fit
    from spectral_physics.backend import to_numpy
    from spectral_physics.datasets import teacher_student

    data = teacher_student(n_train=300, n_test=60, n_features=12, n_classes=3, seed=1)
    out = {}
    for device in ("gpu", "cpu"):
        prev = kernels.set_implementation("auto" if device == "gpu" else "array")
        try:
            net = SpectralMLP([12, 16, 3], train=preset, seed=[3, 4], dtype="float64", device=device)
            for layer in net.layers:
                layer.sparsity = 0.3
            if device == "gpu":
                assert type(net.layers[0].bias).__name__ == "_FakeArray"
                assert kernels.kernel_implementation(net.layers[0].bias) == "cupy"
            h = fit(net, data, epochs=2, batch_size=50, optimizer=optimizer, lr=1e-2, progress=False)
            out[device] = ([to_numpy(a) for p in net.params for a in p.values()], h)
        finally:
            kernels.set_implementation(prev)
    for a, b in zip(out["gpu"][0], out["cpu"][0]):
        assert type(a) is np.ndarray
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert out["gpu"][1]["test_accuracy"] == out["cpu"][1]["test_accuracy"]


def test_dst_ntt_and_sweep_points_run_on_the_gpu_code_path(fake_gpu):
    from spectral_physics.analysis.sweep import run

    from spectral_physics import ntt
    from spectral_physics.datasets import teacher_student

    x = np.random.default_rng(0).normal(size=(200, 12))
    res = {}
    for device in ("gpu", "cpu"):
        prev = kernels.set_implementation("auto" if device == "gpu" else "array")
        try:
            teacher = ntt.make_teacher([12, 10, 3], seed=0, dtype="float64", device=device)
            r = ntt.neural_tangent_transfer(teacher, x, 0.4, steps=12, batch_size=32, mask_every=4, val_size=32,
                                            val_every=5, progress=False)
            res[device] = r
        finally:
            kernels.set_implementation(prev)
    np.testing.assert_allclose(res["gpu"].history["val_loss"], res["cpu"].history["val_loss"], rtol=1e-12)
    assert res["gpu"].history["mask_changes"] == res["cpu"].history["mask_changes"]
    for a, b in zip(res["gpu"].masks, res["cpu"].masks):
        np.testing.assert_array_equal(np.asarray(a), b)
    data = teacher_student(n_train=200, n_test=40, n_features=10, n_classes=3, seed=0)
    params = {"hidden": [6], "train": "eigen", "activation": "tanh", "dtype": "float64", "init": "default",
              "bias": True, "sparsity": 0.5, "epochs": 1, "batch_size": 50, "optimizer": "adam", "lr": 1e-2}
    acc_g = run._train(params, [0, 1], data, "gpu", ensemble=True)[0]
    acc_c = run._train(params, [0, 1], data, "cpu", ensemble=True)[0]
    np.testing.assert_array_equal(acc_g, acc_c)


# ---------------------------------------------------------------------- on a GPU
@pytest.fixture
def cp():
    """CuPy on a machine with a usable CUDA device; the test skips elsewhere."""
    from spectral_physics import backend

    cupy = pytest.importorskip("cupy")
    if not backend.gpu_count():
        pytest.skip("no usable CUDA device")
    return cupy


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gpu_fused_kernels_equal_the_array_expressions_on_the_gpu(cp, rng, dtype):
    def dev(*shape):
        return cp.asarray(rng.normal(size=shape).astype(dtype))

    g, phi, lam_in, lam_out = dev(3, 60, 90), dev(3, 60, 90), dev(3, 90), dev(3, 60)
    p0, m0 = dev(3, 60, 90), dev(3, 60, 90)
    v0 = cp.abs(m0)

    def both(fn):
        out = []
        for impl in ("auto", "array"):
            prev = kernels.set_implementation(impl)
            try:
                assert kernels.kernel_implementation(phi) == ("cupy" if impl == "auto" else "array")
                out.append([cp.asnumpy(a) for a in fn() if a is not None])
            finally:
                kernels.set_implementation(prev)
        return out

    a, b = both(lambda: [kernels.spectral_weight(phi, lam_in, lam_out)])
    np.testing.assert_array_equal(a[0], b[0])
    a, b = both(lambda: kernels.spectral_grads(g.copy(), phi, lam_in, lam_out))
    np.testing.assert_array_equal(a[0], b[0])
    for x, y in zip(a[1:], b[1:]):  # float64 sums in another order: within one ulp of the dtype
        assert _ulps(x, y).max() <= 1
    for update in (kernels.adam_update, kernels.adamax_update):
        def run(update=update):
            p, m, v = p0.copy(), m0.copy(), v0.copy()
            for _ in range(3):
                update(p, g, m, v, None, 0.9, 0.999, 0.01, 1e-7)
            return p, m, v

        for x, y in zip(*both(run)):
            np.testing.assert_array_equal(x, y)

    def sgd():
        p, v = p0.copy(), m0.copy()
        kernels.sgd_update(p, g, v, None, 0.9, 0.05)
        return p, v

    for x, y in zip(*both(sgd)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gpu_threshold_and_masks_equal_the_cpu_and_never_synchronise(cp, rng, dtype):
    import cupyx

    w = _awkward_block(rng, (3,), dtype, shape=(500, 784))
    wd = cp.asarray(w)
    flat = np.abs(w.reshape(3, -1))
    for k in (1, 1000, 200_000, 391_000, 392_000):
        kernels.kth_smallest_abs(wd, k)  # warm-up outside the guard: kernels compile
        with cupyx.allow_synchronize(False):
            t = kernels.kth_smallest_abs(wd, k)
            m = kernels.top_k_mask(wd.reshape(3, -1), k)
        np.testing.assert_array_equal(cp.asnumpy(t), np.partition(flat, k - 1, axis=-1)[:, k - 1])
        np.testing.assert_array_equal(cp.asnumpy(m), _top_k_reference(w.reshape(3, -1), k))


@pytest.mark.gpu
def test_gpu_training_step_dst_and_ntt_never_synchronise(cp, rng):
    import cupyx

    from spectral_physics import ntt
    from spectral_physics.losses import softmax_cross_entropy
    from spectral_physics.optim import Adam
    from spectral_physics.sparse import DynamicSparseTraining, apply_masks, magnitude_masks

    net = SpectralMLP([64, 128, 10], train="spectral", seed=[0, 1, 2, 3], device="gpu")
    for layer in net.layers:
        layer.sparsity = 0.9
    x = cp.asarray(rng.normal(size=(4, 32, 64)).astype(np.float32))
    y = cp.asarray(rng.integers(0, 10, size=(4, 32)))
    opt = Adam()

    def step():
        logits = net.forward(x, check=False)
        loss, d = softmax_cross_entropy(logits, y)
        opt.step(net.params, net.backward(d))
        return loss

    step()
    with cupyx.allow_synchronize(False):
        for _ in range(3):
            step()
    for layer in net.layers:
        layer.sparsity = None
    dst = DynamicSparseTraining(0.2, every=1)
    dst.on_train_begin(net)
    with cupyx.allow_synchronize(False):
        dst.on_step_end(net, 1, 1)
    teacher = ntt.make_teacher([16, 12, 3], seed=0, device="gpu")
    student = teacher.copy()
    apply_masks(student, magnitude_masks(student, 0.5))
    obj = ntt.NTTObjective(teacher, density=0.5)
    xb = cp.asarray(rng.normal(size=(16, 16)).astype(np.float32))
    obj(student, xb)
    with cupyx.allow_synchronize(False):
        loss, grads, _ = obj(student, xb)
    assert np.isfinite(obj.loss_values()[-1])


@pytest.mark.gpu
def test_gpu_sweep_point_trains_an_ensemble_on_the_device(cp):
    import spectral_physics.analysis.sweep.run as run

    from spectral_physics.datasets import teacher_student

    data = teacher_student(n_train=400, n_test=100, n_features=10, n_classes=3, seed=0)
    params = {"hidden": [8], "train": "spectral", "activation": "relu", "dtype": "float32", "init": "default",
              "bias": True, "sparsity": 0.5, "epochs": 1, "batch_size": 50, "optimizer": "adam", "lr": 1e-2}
    acc_g, *_ = run._train(params, [0, 1], data, "gpu", ensemble=True)
    acc_c, *_ = run._train(params, [0, 1], data, "cpu", ensemble=True)
    np.testing.assert_allclose(acc_g, acc_c, atol=0.1)  # float32 rounding may move a mask entry or two


if __name__ == "__main__":  # pragma: no cover - maintenance: store the API of the installed CuPy
    if sys.argv[1:] != ["--write-api"]:
        sys.exit("usage: python tests/spectral_physics/test_gpu_readiness.py --write-api")
    import cupy

    path = DATA / f"cupy-{cupy.__version__}-api.txt"
    path.write_text(f"# public names of CuPy {cupy.__version__} (cupy-cuda12x): top level, "
                    f"{', '.join(_SUBMODULES)} members, ufunc methods; one per line\n"
                    + "\n".join(cupy_api_names(cupy)) + "\n")
    print(f"wrote {path}")
