"""Ensemble training versus one-by-one training, per member step and its matrix-product floor.

Usage::

    python benchmarks/ensemble_benchmark.py [--hidden 32,128] [--presets direct,eigen,spectral]
        [--members 8] [--subset 20000] [--repeats 5] [--blas-threads 1,2] [--profile] [--json out.json]

For each hidden width ``H`` (network 784-H-10, ReLU, batch 200, Adam, float32, MNIST
subset of ``--subset`` images, one epoch) and preset, three ways of training ``E``
members are timed, interleaved within each repeat:

``one-by-one``
    ``E`` separate ``fit`` calls, one seed each;
``ensemble``
    one ``fit`` of ``SpectralMLP(sizes, seed=[0, ..., E-1])``: each member its own data
    order, one batched product ``(E, B, N_in) @ (E, N_in, N_out)`` per layer;
``shared``
    the same ensemble with ``fit(..., shared_order=True)``: one data order, the first
    layer's products as one ``(B, 784) @ (784, E*H)`` and one ``(E*H, B) @ (B, 784)``.

Times are the optimisation steps only (``History`` ``seconds``: evaluation and the one-off
checks of ``fit`` excluded). The *floor* of each way is the time of exactly the matrix
products its steps perform (per step: two forward products, two weight gradients
``delta^T a`` and the backward product ``delta @ W2``; the first layer's input gradient
is never formed), on preallocated float32 arrays of the same shapes, measured in the
same repeat. Reported per member and step: the step time, its floor and their ratio
(best of the interleaved repeats), and the same as process CPU time, which a shared
machine disturbs less (with one BLAS thread it is the work done). ``--profile`` also
takes one ensemble step of each kind apart (gather, forward + loss + backward,
optimiser, divergence check).

BLAS threads are set per block with threadpoolctl (``--blas-threads 1,2``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from spectral_physics import Callback, SpectralMLP, fit, load_dataset

BATCH = 200
MODES = ("one-by-one", "ensemble", "shared")


def _products(mode: str, e: int, h: int, n_in: int = 784, n_out: int = 10, batch: int = BATCH):
    """A closure doing one step's matrix products of ``mode`` on preallocated arrays."""
    rng = np.random.default_rng(0)

    def f(*shape):
        return rng.random(shape, dtype=np.float32)

    if mode == "one-by-one":  # one network; the step is repeated E times by the caller
        x, w1, w2 = f(batch, n_in), f(h, n_in), f(n_out, h)
        a, d2, d1 = f(batch, h), f(batch, n_out), f(batch, h)
        z1, z2, g1, g2, dh = f(batch, h), f(batch, n_out), f(h, n_in), f(n_out, h), f(batch, h)

        def step():
            for _ in range(e):
                np.matmul(x, w1.T, out=z1)
                np.matmul(a, w2.T, out=z2)
                np.matmul(d2.T, a, out=g2)
                np.matmul(d2, w2, out=dh)
                np.matmul(d1.T, x, out=g1)
        return step
    a, d2, d1 = f(e, batch, h), f(e, batch, n_out), f(e, batch, h)
    w1, w2 = f(e, h, n_in), f(e, n_out, h)
    z2, g2, dh = f(e, batch, n_out), f(e, n_out, h), f(e, batch, h)
    t = lambda m: m.swapaxes(-1, -2)  # noqa: E731
    if mode == "ensemble":
        x, z1, g1 = f(e, batch, n_in), f(e, batch, h), f(e, h, n_in)

        def first():
            np.matmul(x, t(w1), out=z1)

        def first_grad():
            np.matmul(t(d1), x, out=g1)
    else:  # shared: one input batch, the members' first-layer weights stacked
        x, z1, g1 = f(batch, n_in), f(batch, e * h), f(e * h, n_in)
        w1s, d1s = w1.reshape(e * h, n_in), f(batch, e * h)

        def first():
            np.matmul(x, w1s.T, out=z1)

        def first_grad():
            np.matmul(d1s.T, x, out=g1)

    def step():
        first()
        np.matmul(a, t(w2), out=z2)
        np.matmul(t(d2), a, out=g2)
        np.matmul(d2, w2, out=dh)
        first_grad()
    return step


def _floor(mode: str, e: int, h: int, steps: int) -> tuple[float, float]:
    """Wall and CPU seconds of one epoch's products (``steps`` steps) of ``mode``, best of 3."""
    step = _products(mode, e, h)
    step()
    wall = cpu = float("inf")
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return wall, cpu


class _CPUClock(Callback):
    """Process CPU seconds from the start of training to the last step (evaluation excluded)."""

    def on_train_begin(self, net):
        self.start = self.last = time.process_time()

    def on_step_end(self, net, epoch, step):
        self.last = time.process_time()

    @property
    def seconds(self) -> float:
        return self.last - self.start


def _train(mode: str, preset: str, h: int, e: int, data) -> tuple[float, float]:
    """Wall and CPU seconds of one epoch's training steps for all ``e`` members."""
    sizes = [784, h, 10]
    nets = ([SpectralMLP(sizes, train=preset, seed=s) for s in range(e)] if mode == "one-by-one"
            else [SpectralMLP(sizes, train=preset, seed=list(range(e)))])
    wall = cpu = 0.0
    for net in nets:
        clock = _CPUClock()
        hist = fit(net, data, epochs=1, progress=False, batch_size=BATCH, shared_order=mode == "shared",
                   callbacks=[clock])
        wall += hist.records[0]["seconds"]
        cpu += clock.seconds
    return wall, cpu


def profile(preset: str, h: int, e: int, data, steps: int) -> dict[str, dict[str, float]]:
    """Milliseconds per ensemble step, taken apart, for own and shared orders (means over ``steps``)."""
    from spectral_physics.optim import Adam
    from spectral_physics.train import _healthy, cross_entropy_loss_and_grad

    x, y = data.x_train, data.y_train
    out = {}
    for mode in ("ensemble", "shared"):
        net = SpectralMLP([784, h, 10], train=preset, seed=list(range(e)))
        opt = Adam(1e-3)
        shared = mode == "shared"
        rng = np.random.default_rng(0)
        perm = rng.permutation(len(y)) if shared else np.stack([rng.permutation(len(y)) for _ in range(e)])
        parts = {"gather": 0.0, "forward, loss, backward": 0.0, "Adam": 0.0, "divergence check": 0.0}
        for _pass in range(2):  # the first pass warms up
            for k in parts:
                parts[k] = 0.0
            for s in range(steps):
                t0 = time.perf_counter()
                idx = perm[..., s * BATCH:(s + 1) * BATCH]
                xb, yb = x[idx], y[idx]
                t1 = time.perf_counter()
                loss, grads, _ = cross_entropy_loss_and_grad(net, xb, yb, shared=shared)
                t2 = time.perf_counter()
                opt.step(net.params, grads)
                t3 = time.perf_counter()
                _healthy(np, loss, net.params, e, 1e6).all()
                t4 = time.perf_counter()
                for k, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                    parts[k] += dt
        out[mode] = {k: 1e3 * v / steps for k, v in parts.items()}
    return out


def run(presets, hidden, e, data, repeats, threads, do_profile) -> list[dict]:
    n = len(data.y_train)
    steps = -(-n // BATCH)
    rows = []
    for h in hidden:
        for preset in presets:
            for mode in MODES:  # warm-up: compiled kernels, allocations, BLAS threads
                _train(mode, preset, h, 2, data)
            times: dict[str, list[tuple[float, float]]] = {m: [] for m in MODES}
            floors: dict[str, list[tuple[float, float]]] = {m: [] for m in MODES}
            load0 = os.getloadavg()[0]
            for _ in range(repeats):  # interleaved: load drifts hit every mode alike
                for mode in MODES:
                    floors[mode].append(_floor(mode, e, h, steps))
                    times[mode].append(_train(mode, preset, h, e, data))
            row = {"preset": preset, "hidden": h, "members": e, "steps": steps, "blas_threads": threads,
                   "load_average": [load0, os.getloadavg()[0]]}
            # best of the repeats: on a shared machine the minimum is the least disturbed run
            best = {m: (min(w for w, _ in times[m]), min(c for _, c in times[m])) for m in MODES}
            for mode in MODES:
                (t_m, c_m) = best[mode]
                f_m, fc_m = min(w for w, _ in floors[mode]), min(c for _, c in floors[mode])
                row[mode] = {
                    "epoch_s": t_m, "floor_s": f_m, "step_ms_per_member": 1e3 * t_m / (steps * e),
                    "floor_ms_per_member": 1e3 * f_m / (steps * e), "ratio": t_m / f_m,
                    "speedup_vs_one_by_one": best["one-by-one"][0] / t_m,
                    "cpu_epoch_s": c_m, "cpu_floor_s": fc_m, "cpu_ratio": c_m / fc_m,
                    "cpu_speedup_vs_one_by_one": best["one-by-one"][1] / c_m,
                    "epoch_s_all": [w for w, _ in times[mode]], "floor_s_all": [w for w, _ in floors[mode]],
                }
            if do_profile:
                row["profile_ms_per_step"] = profile(preset, h, e, data, steps)
            rows.append(row)
            cells = "   ".join(
                f"{m}: {row[m]['step_ms_per_member']:.3f} ms/member-step, floor {row[m]['floor_ms_per_member']:.3f}"
                f" (x{row[m]['ratio']:.2f}), speed-up {row[m]['speedup_vs_one_by_one']:.2f}" for m in MODES)
            print(f"784-{h}-10 {preset:9s} threads {threads}: {cells}", flush=True)
            print("    CPU time: " + "   ".join(
                f"{m}: x{row[m]['cpu_ratio']:.2f} of floor, speed-up {row[m]['cpu_speedup_vs_one_by_one']:.2f}"
                for m in MODES), flush=True)
            if do_profile:
                for mode, parts in row["profile_ms_per_step"].items():
                    print(f"    {mode:9s} ms/step: " + ", ".join(f"{k} {v:.3f}" for k, v in parts.items()),
                          flush=True)
    return rows


def markdown(rows) -> str:
    lines = ["| BLAS threads | network | preset | one-by-one ms / floor (ratio) | ensemble ms / floor (ratio) | "
             "shared ms / floor (ratio) | ensemble speed-up | shared speed-up |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [f"{r[m]['step_ms_per_member']:.3f} / {r[m]['floor_ms_per_member']:.3f} ({r[m]['ratio']:.2f})"
                 for m in MODES]
        speed = [f"{r[m]['speedup_vs_one_by_one']:.2f}x" for m in ("ensemble", "shared")]
        lines.append(f"| {r['blas_threads']} | 784-{r['hidden']}-10 | {r['preset']} | " + " | ".join(cells + speed)
                     + " |")
    return "\n".join(lines)


def _blas_threads() -> int | None:
    return max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"), default=None)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", default="32,128", help="hidden widths (784-H-10)")
    p.add_argument("--presets", default="direct,eigen,spectral",
                   help="presets whose phi is stored (not svd/qr: their floors need more products)")
    p.add_argument("--members", type=int, default=8)
    p.add_argument("--subset", type=int, default=20000, help="training images (20000: 100 steps)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--blas-threads", default=None, help="comma-separated BLAS thread counts, e.g. 1,2")
    p.add_argument("--profile", action="store_true", help="also take one ensemble step apart")
    p.add_argument("--data-root", default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--markdown", default=None, help="also write the table to this file")
    args = p.parse_args(argv)
    presets = args.presets.split(",")
    if {"svd", "qr"} & set(presets):
        p.error("svd and qr form phi with an extra product per layer; this floor does not count it")
    data = load_dataset("mnist", root=args.data_root).subset(args.subset, seed=0, n_test=1000)
    hidden = [int(v) for v in args.hidden.split(",")]
    rows = []
    for n in [int(v) for v in args.blas_threads.split(",")] if args.blas_threads else [None]:
        with threadpool_limits(n, user_api="blas") if n else contextlib.nullcontext():
            rows += run(presets, hidden, args.members, data, args.repeats, _blas_threads(), args.profile)
    table = markdown(rows)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(table + "\n")
    if args.json:
        info = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
                "numpy": np.__version__, "subset": args.subset, "members": args.members, "rows": rows}
        with open(args.json, "w") as fh:
            json.dump(info, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
