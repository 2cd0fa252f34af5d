"""One command for the GPU: the gpu-marked tests, epoch timings, an ensemble and a sweep, in one JSON.

Usage::

    python benchmarks/gpu_check.py [--out gpu_check.json] [--data-root DIR] [--budget 450]

Run from the repository root on a machine with CuPy (``pip install -e ".[gpu,test]"``) and
one CUDA device. Without a usable device (CuPy missing, no driver, no GPU) it prints one
line on stderr and exits with status 2, before doing anything else.

Parts, each small enough that the whole run stays under 8 minutes on one modern GPU
(``--budget`` seconds in all, default 450; a part that would start after the budget is
recorded as skipped):

1. ``tests``: ``pytest -m gpu`` (the GPU half of the device-parametrised tests, and the
   GPU checks of ``tests/spectral_physics/test_gpu_readiness.py``: fused kernels against
   the array expressions, the device threshold and masks, no host synchronisation).
2. ``epochs``: seconds per training epoch (60,000 images, batch 200, float32, Adam) of
   784-500-10 and 784-2000-10 for ``direct``, ``eigen`` and ``spectral``: on the GPU, next
   to the bare matrix products of that epoch on the GPU (CuPy floor) and on the CPU
   (NumPy floor, :func:`epoch_benchmark.floor_seconds`), and the same epoch on the CPU.
   With MNIST present, ``benchmarks/epoch_benchmark.py --device gpu`` itself runs too.
3. ``ensemble``: 64 networks 784-64-10 trained as one ensemble against one network alone
   (per-member cost, and member 0 against the network trained alone).
4. ``sweep``: ``spectral-physics sweep --device gpu`` on a 2 x 2 grid with 2 seeds (one
   worker per GPU), its wall time and statuses.

Data: MNIST when found (``--data-root`` or ``SPECTRAL_PHYSICS_DATA``), else random
images of the same shape (the timings do not depend on the pixels; accuracies are then
meaningless and recorded as such). Exit status 0 when every part ran and passed, 1 when a
part failed, 2 without a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def no_gpu_reason() -> str | None:
    """Why no CUDA device is usable, in one line, or ``None`` when one is."""
    try:
        import cupy
    except Exception as exc:  # noqa: BLE001 - ImportError or a broken install
        return f"CuPy is not importable ({type(exc).__name__}: {exc}); pip install -e '.[gpu]'"
    try:
        n = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as exc:  # noqa: BLE001 - driver errors come in many types
        return f"no usable CUDA device ({' '.join(str(exc).split())})"
    return None if n > 0 else "no CUDA device found"


def _data(root):
    """(x_train, y_train, x_test, y_test, name): MNIST if found, else random images of its shape."""
    import numpy as np

    try:
        from spectral_physics import load_dataset

        d = load_dataset("mnist", root=root)
        return d.x_train, d.y_train, d.x_test, d.y_test, "mnist"
    except Exception:  # noqa: BLE001 - any missing or damaged file: fall back to random data
        rng = np.random.default_rng(0)
        x = rng.random((70000, 784), dtype=np.float32)
        y = rng.integers(0, 10, 70000)
        return x[:60000], y[:60000], x[60000:], y[60000:], "random (MNIST not found)"


def _epoch_seconds(net, data, epochs: int) -> tuple[float, float | None]:
    from spectral_physics import fit

    h = fit(net, data, epochs=epochs, batch_size=200, progress=False)
    return statistics.median(r["seconds"] for r in h.records), h.records[-1]["test_accuracy"]


def part_tests(deadline: float) -> dict:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "tests"]
    try:
        res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True,
                             timeout=max(30, deadline - time.perf_counter()))
        out, rc = res.stdout + res.stderr, res.returncode
    except subprocess.TimeoutExpired as exc:
        out, rc = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or ""), -1
    lines = [ln for ln in out.splitlines() if ln.strip()]
    summary = next((ln for ln in reversed(lines) if " passed" in ln or " failed" in ln or "error" in ln), "")
    return {"command": " ".join(cmd[2:]), "returncode": rc, "summary": summary.strip("= "),
            "seconds": time.perf_counter() - t0, "ok": rc == 0, "tail": lines[-15:]}


def part_epochs(data, name: str) -> dict:
    import cupy
    import numpy as np
    from epoch_benchmark import floor_seconds

    from spectral_physics import SpectralMLP, kernels

    x, y, xt, yt = data
    n = len(y)
    rows = []
    for sizes in ([784, 500, 10], [784, 2000, 10]):
        for preset in ("direct", "eigen", "spectral"):
            net = SpectralMLP(sizes, train=preset, seed=0, device="gpu")
            _epoch_seconds(net, (x[:4000], y[:4000]), 1)  # warm-up: kernels compiled, pools filled
            gpu_s, gpu_acc = _epoch_seconds(net, (x, y, xt, yt), 2)
            impl = kernels.kernel_implementation(next(iter(net.params[0].values())))  # "cupy": fused kernels
            gpu_floor = floor_seconds(cupy, n, sizes, 200, preset, repeats=2)
            cpu_floor = floor_seconds(np, n, sizes, 200, preset, repeats=1)
            cpu = SpectralMLP(sizes, train=preset, seed=0, device="cpu")
            _epoch_seconds(cpu, (x[:2000], y[:2000]), 1)  # warm-up: Numba kernels loaded
            cpu_s, cpu_acc = _epoch_seconds(cpu, (x, y, xt, yt), 1)
            row = {"sizes": sizes, "preset": preset, "kernels": impl,
                   "gpu_epoch_s": gpu_s, "gpu_floor_s": gpu_floor, "gpu_ratio_to_floor": gpu_s / gpu_floor,
                   "cpu_epoch_s": cpu_s, "numpy_floor_s": cpu_floor, "cpu_ratio_to_floor": cpu_s / cpu_floor,
                   "gpu_epoch_vs_numpy_floor": cpu_floor / gpu_s, "speedup_vs_cpu": cpu_s / gpu_s,
                   "gpu_test_accuracy": gpu_acc, "cpu_test_accuracy_after_1_epoch": cpu_acc}
            rows.append(row)
            print(f"  {'-'.join(map(str, sizes)):12s} {preset:9s} gpu {gpu_s:.3f} s (floor {gpu_floor:.3f}), "
                  f"cpu {cpu_s:.3f} s (floor {cpu_floor:.3f}), x{row['speedup_vs_cpu']:.1f}", flush=True)
    return {"data": name, "rows": rows, "ok": all(r["kernels"] == "cupy" for r in rows)}


def part_epoch_script(root, tmp: Path) -> dict:
    import epoch_benchmark

    out = tmp / "epoch_benchmark.json"
    argv = ["--device", "gpu", "--presets", "direct,eigen,spectral", "--epochs", "2", "--json", str(out)]
    if root:
        argv += ["--data-root", str(root)]
    rc = epoch_benchmark.main(argv)
    return {"argv": argv, "returncode": rc, "result": json.loads(out.read_text()), "ok": rc == 0}


def part_ensemble(data) -> dict:
    import numpy as np

    from spectral_physics import SpectralMLP
    from spectral_physics.backend import to_numpy

    x, y, xt, yt = data
    sub = (x[:10000], y[:10000], xt, yt)
    sizes, members = [784, 64, 10], 64
    ens = SpectralMLP(sizes, train="spectral", seed=list(range(members)), device="gpu")
    _epoch_seconds(ens, (x[:2000], y[:2000]), 1)
    ens_s, ens_acc = _epoch_seconds(ens, sub, 2)
    one = SpectralMLP(sizes, train="spectral", seed=0, device="gpu")  # equals member 0 at the start
    _epoch_seconds(one, (x[:2000], y[:2000]), 1)
    one_s, one_acc = _epoch_seconds(one, sub, 2)
    # member 0 against seed 0 trained alone from the same start: same data order, same steps
    w_ens = to_numpy(ens.member(0).layers[0].dense_weight()).astype(np.float64)
    w_one = to_numpy(one.layers[0].dense_weight()).astype(np.float64)
    rel = float(np.abs(w_ens - w_one).max() / max(np.abs(w_one).max(), 1e-30))
    cpu = SpectralMLP(sizes, train="spectral", seed=list(range(members)), device="cpu")
    _epoch_seconds(cpu, (x[:1000], y[:1000]), 1)
    cpu_s, _ = _epoch_seconds(cpu, sub, 1)
    return {"sizes": sizes, "members": members, "train_examples": len(sub[1]),
            "ensemble_epoch_s": ens_s, "single_epoch_s": one_s,
            "per_member_s": ens_s / members, "speedup_vs_one_by_one": members * one_s / ens_s,
            "cpu_ensemble_epoch_s": cpu_s, "speedup_vs_cpu": cpu_s / ens_s,
            "ensemble_test_accuracy_mean": float(np.mean(ens_acc)), "single_test_accuracy": one_acc,
            "member0_vs_alone_max_rel_weight_diff": rel,
            "ok": rel < 1e-2 and bool(np.all(np.isfinite(ens_acc)))}


def part_sweep(root, tmp: Path, deadline: float) -> dict:
    spec = tmp / "spec.toml"
    dataset = "mnist" if root is not None else "teacher-student"
    spec.write_text(
        f'name = "gpu-check"\ndataset = "{dataset}"\nsubset = 2000\nn_test = 2000\nepochs = 1\n'
        'seeds = [0, 1]\n' + (f'data_root = "{root}"\n' if root is not None else "")
        + '[axes]\ntrain = ["direct", "eigen"]\nhidden = [32, 128]\n'
        '[fixed]\nlr = 0.01\nbatch_size = 200\n')
    out = tmp / "sweep.nc"
    cmd = [sys.executable, "-m", "spectral_physics.cli", "sweep", str(spec), "--out", str(out), "--device", "gpu",
           "--no-progress"]
    t0 = time.perf_counter()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=max(30, deadline - time.perf_counter()))
        rc, err = res.returncode, res.stderr
    except subprocess.TimeoutExpired:
        rc, err = -1, "timed out"
    rec = {"command": "spectral-physics sweep SPEC --out OUT --device gpu", "dataset": dataset,
           "returncode": rc, "seconds": time.perf_counter() - t0,
           "stderr_first_line": err.splitlines()[0] if err.strip() else ""}
    if rc == 0:
        import xarray as xr

        with xr.open_dataset(out) as ds:
            rec["status"] = ds.status.values.ravel().tolist()
            rec["test_accuracy"] = ds.test_accuracy.values.ravel().tolist()
    rec["ok"] = rc == 0 and all(s == 0 for s in rec.get("status", [1])) and "device gpu" in rec["stderr_first_line"]
    return rec


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="gpu_check.json", help="JSON file with every figure (default gpu_check.json)")
    p.add_argument("--data-root", default=None, help="folder holding mnist/ (default: SPECTRAL_PHYSICS_DATA)")
    p.add_argument("--budget", type=float, default=450.0, help="seconds for all parts (default 450)")
    args = p.parse_args(argv)
    why = no_gpu_reason()
    if why is not None:
        print(f"gpu_check: {why}; nothing was run", file=sys.stderr)
        return 2
    import cupy
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent))  # epoch_benchmark, beside this file
    t_start = time.perf_counter()
    deadline = t_start + args.budget
    x, y, xt, yt, name = _data(args.data_root)
    root = args.data_root
    if root is None and name == "mnist":
        from spectral_physics import config

        root = next((str(d) for d in config.get("SPECTRAL_PHYSICS_DATA") if (d / "mnist").is_dir()), None)
    props = cupy.cuda.runtime.getDeviceProperties(0)
    report = {"gpu": props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"]),
              "gpu_memory_gib": props["totalGlobalMem"] / 2**30, "gpus": int(cupy.cuda.runtime.getDeviceCount()),
              "cupy": cupy.__version__, "cuda_runtime": int(cupy.cuda.runtime.runtimeGetVersion()),
              "numpy": np.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
              "machine": platform.machine(), "data": name, "budget_s": args.budget, "parts": {}}
    plan = [
        ("tests", 150, lambda tmp: part_tests(min(deadline, time.perf_counter() + 150))),
        ("epochs", 120, lambda tmp: part_epochs((x, y, xt, yt), name)),
        ("epoch_benchmark_script", 40, lambda tmp: part_epoch_script(root, tmp) if name == "mnist"
         else {"skipped": "MNIST not found", "ok": True}),
        ("ensemble", 40, lambda tmp: part_ensemble((x, y, xt, yt))),
        ("sweep", 60, lambda tmp: part_sweep(root if name == "mnist" else None, tmp,
                                             min(deadline, time.perf_counter() + 120))),
    ]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for part, guess, run in plan:
            left = deadline - time.perf_counter()
            if left < guess / 2:
                report["parts"][part] = {"skipped": f"time budget ({left:.0f} s left, ~{guess} s needed)",
                                         "ok": False}
                continue
            print(f"gpu_check: {part} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            try:
                rec = run(tmp)
            except Exception as exc:  # noqa: BLE001 - recorded, and the other parts still run
                rec = {"error": f"{type(exc).__name__}: {exc}", "ok": False}
            rec.setdefault("seconds", time.perf_counter() - t0)
            report["parts"][part] = rec
    report["seconds"] = time.perf_counter() - t_start
    report["ok"] = all(r.get("ok") for r in report["parts"].values())
    Path(args.out).write_text(json.dumps(report, indent=1, default=str))
    print(f"gpu_check: {'all parts passed' if report['ok'] else 'some parts FAILED'} in {report['seconds']:.0f} s; "
          f"wrote {args.out}", file=sys.stderr)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
