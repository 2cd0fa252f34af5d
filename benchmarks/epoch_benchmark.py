"""Seconds per training epoch next to the bare matrix products that epoch needs.

Usage::

    python benchmarks/epoch_benchmark.py [--presets direct,eigen,spectral] [--epochs 3]
                                         [--blas-threads 1,2] [--device cpu|gpu] [--json out.json]

For each preset the script times ``--epochs`` epochs of ``fit`` on MNIST
(784-500-10, ReLU, batch 200, float32, Adam) after one warm-up epoch, and, in
the same run and interleaved with them, the *floor*: the matrix products one
epoch's steps need (per step: the two forward products, the two weight
gradients ``delta.T @ a`` and the one backward product ``delta @ W2``; ``svd``
and ``qr`` add the product that forms ``phi`` and the one that pulls its
gradient back), on preallocated float32 arrays of the same shapes. The ratio
median(epoch) / median(floor) is what the library adds on top of BLAS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from spectral_physics import SpectralMLP, fit, kernels, load_dataset
from spectral_physics.backend import get_xp, synchronize, to_device


def floor_seconds(xp, n: int, sizes, batch: int, preset: str, repeats: int = 3) -> float:
    """Median time of one epoch's bare matrix products (``out=`` buffers, no allocation)."""
    rng = np.random.default_rng(0)
    n_in, n_hid, n_out = sizes
    f = lambda *s: to_device(rng.random(s, dtype=np.float32), "gpu" if xp is not np else "cpu")  # noqa: E731
    x, w1, w2 = f(batch, n_in), f(n_hid, n_in), f(n_out, n_hid)
    h, d2, d1 = f(batch, n_hid), f(batch, n_out), f(batch, n_hid)
    z1, z2, g1, g2, dh = f(batch, n_hid), f(batch, n_out), f(n_hid, n_in), f(n_out, n_hid), f(batch, n_hid)
    extra = preset in ("svd", "qr")
    if extra:
        r = min(n_in, n_hid)
        a_, b_, p_ = f(n_hid, r), f(r, n_in), f(n_hid, n_in)
        a2, b2, p2 = f(n_out, min(n_hid, n_out)), f(min(n_hid, n_out), n_hid), f(n_out, n_hid)
        t1, t2 = f(r, n_in), f(min(n_hid, n_out), n_hid)
    steps = -(-n // batch)
    times = []
    for _ in range(repeats):
        synchronize(xp)
        t = time.perf_counter()
        for _ in range(steps):
            if extra:
                xp.matmul(a_, b_, out=p_)
                xp.matmul(a2, b2, out=p2)
            xp.matmul(x, w1.T, out=z1)
            xp.matmul(h, w2.T, out=z2)
            xp.matmul(d2.T, h, out=g2)
            xp.matmul(d2, w2, out=dh)
            xp.matmul(d1.T, x, out=g1)
            if extra:
                xp.matmul(a_.T, g1, out=t1)
                xp.matmul(a2.T, g2, out=t2)
        synchronize(xp)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run_presets(presets, data, xp, device: str, n_epochs: int, blas_threads) -> list[dict]:
    """Epoch and floor per preset, interleaved, under the current BLAS thread limit."""
    sizes = [784, 500, 10]
    rows = []
    for preset in presets:
        net = SpectralMLP(sizes, train=preset, seed=0, device=device)
        fit(net, data, epochs=1, progress=False)  # warm-up: allocations, BLAS threads, data to device
        epochs, floors = [], []
        for _ in range(n_epochs):
            floors.append(floor_seconds(xp, len(data.y_train), sizes, 200, preset, repeats=1))
            h = fit(net, data, epochs=1, progress=False)
            epochs.append(h.records[0]["seconds"])
        row = {
            "preset": preset, "blas_threads": blas_threads, "epoch_s": statistics.median(epochs),
            "floor_s": statistics.median(floors), "test_accuracy": h.records[0]["test_accuracy"],
            "trainable": net.n_trainable,
        }
        row["ratio"] = row["epoch_s"] / row["floor_s"]
        rows.append(row)
        print(f"{preset:10s} epoch {row['epoch_s']:.3f} s   floor {row['floor_s']:.3f} s   "
              f"ratio {row['ratio']:.2f}   ({net.n_trainable} trainable)", flush=True)
    return rows


def _blas_threads() -> int | None:
    return max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=None)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", default="direct,eigen-out,eigen,spectral")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--blas-threads", default=None,
                   help="comma-separated BLAS thread counts to run one after the other in this process "
                        "(threadpoolctl), e.g. 1,2; default: leave the BLAS pool as it is")
    p.add_argument("--data-root", default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    data = load_dataset("mnist", root=args.data_root)
    xp = get_xp(args.device)
    probe = SpectralMLP([784, 500, 10], train="spectral", seed=0, device=args.device).layers[0]
    kernel_impl = kernels.kernel_implementation(probe.phi, probe.lam_in, probe.lam_out)
    presets = args.presets.split(",")
    rows = []
    for n in [int(v) for v in args.blas_threads.split(",")] if args.blas_threads else [None]:
        with threadpool_limits(n, user_api="blas") if n else contextlib.nullcontext():
            threads = _blas_threads()
            print(f"device {args.device}, element-wise kernels: {kernel_impl}, BLAS threads: {threads}", flush=True)
            rows += run_presets(presets, data, xp, args.device, args.epochs, threads)
    info = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "numpy": np.__version__, "device": args.device, "kernels": kernel_impl,
            "load_average": os.getloadavg(), "rows": rows}
    try:
        info["blas"] = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:  # noqa: BLE001 - informational only
        pass
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(info, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
