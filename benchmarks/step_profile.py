"""Where a training step's time goes: each fused kernel alone, and a step taken apart op by op.

Part 1 times every kernel of ``spectral_physics.kernels`` on the 500 x 784 float32 block of
784-500-10 (median of ``--repeats`` calls, cache-hot) with the compiled loops and with the
array expressions. Part 2 replays 300 steps of ``spectral`` training on MNIST (batch 200,
Adam) with a timer around each operation, so the matrix products can be told apart from the
element-wise work and the Python around it. Run it once with ``OPENBLAS_NUM_THREADS=1`` and
once without to see how the two split across threads.

    python benchmarks/step_profile.py [--repeats 300] [--data-root DIR]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import time

import numpy as np

from spectral_physics import SpectralMLP, kernels, load_dataset
from spectral_physics.losses import softmax_cross_entropy
from spectral_physics.optim import Adam


def _median_ms(fn, repeats: int) -> float:
    fn()  # compile / warm up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def kernel_table(repeats: int) -> None:
    rng = np.random.default_rng(0)
    f32 = np.float32
    phi, g = rng.normal(size=(2, 500, 784)).astype(f32)
    lam_in, lam_out = rng.normal(size=784).astype(f32), rng.normal(size=500).astype(f32)
    m, v = np.zeros_like(phi), np.zeros_like(phi)
    k = int(0.9 * phi.size)
    cases = {
        "W = (lam_in - lam_out) * phi": lambda: kernels.spectral_weight(phi, lam_in, lam_out),
        "dL/dphi, dL/dlam_in, dL/dlam_out": lambda: kernels.spectral_grads(g.copy(), phi, lam_in, lam_out),
        "Adam update": lambda: kernels.adam_update(phi, g, m, v, None, 0.9, 0.999, 1e-9, 1e-7),
        "90th-percentile threshold of |W|": lambda: kernels.kth_smallest_abs(phi, k),
    }
    copy_ms = _median_ms(lambda: g.copy(), repeats)
    print("| kernel (500 x 784 float32) | compiled (ms) | array expressions (ms) |\n|---|---|---|")
    for name, fn in cases.items():
        row = []
        for choice in ("numba", "array"):
            prev = kernels.set_implementation(choice)
            try:
                row.append(_median_ms(fn, repeats))
            finally:
                kernels.set_implementation(prev)
        if name.startswith("dL/dphi"):  # the g.copy() that keeps g intact is not the kernel's
            row = [r - copy_ms for r in row]
        print(f"| {name} | {row[0]:.3f} | {row[1]:.3f} |")


def step_table(data_root) -> None:
    data = load_dataset("mnist", root=data_root)
    x, y = data.x_train, data.y_train
    net = SpectralMLP([784, 500, 10], train="spectral", activation="relu", seed=0)
    l1, l2 = net.layers
    opt = Adam(1e-3)
    perm = np.random.default_rng(0).permutation(len(y))
    tot = collections.defaultdict(float)

    def lap(name, t0):
        t = time.perf_counter()
        tot[name] += t - t0
        return t

    for _ in range(2):  # the first epoch warms up; the second is reported
        tot.clear()
        start = time.perf_counter()
        for s in range(300):
            t = time.perf_counter()
            idx = perm[s * 200:(s + 1) * 200]
            xb, yb = x[idx], y[idx]
            t = lap("gather the batch", t)
            w1 = kernels.spectral_weight(l1.phi, l1.lam_in, l1.lam_out)
            w2 = kernels.spectral_weight(l2.phi, l2.lam_in, l2.lam_out)
            t = lap("kernels: form W", t)
            z1 = xb @ w1.T
            t = lap("products", t)
            z1 += l1.bias
            h = np.maximum(z1, 0)
            t = lap("bias, activation and its derivative", t)
            z2 = h @ w2.T
            t = lap("products", t)
            z2 += l2.bias
            t = lap("bias, activation and its derivative", t)
            loss, d2 = softmax_cross_entropy(z2, yb)
            (z2.argmax(axis=-1) == yb).sum()
            t = lap("loss and accuracy count", t)
            g2 = d2.T @ h
            dh = d2 @ w2
            t = lap("products", t)
            dh *= h > 0
            b2, b1 = d2.sum(0), dh.sum(0)
            t = lap("bias, activation and its derivative", t)
            g1 = dh.T @ xb
            t = lap("products", t)
            p2 = kernels.spectral_grads(g2, l2.phi, l2.lam_in, l2.lam_out)
            p1 = kernels.spectral_grads(g1, l1.phi, l1.lam_in, l1.lam_out)
            t = lap("kernels: gradient chain", t)
            grads = [dict(zip(("phi", "lam_in", "lam_out"), p1), bias=b1),
                     dict(zip(("phi", "lam_in", "lam_out"), p2), bias=b2)]
            opt.step(net.params, grads)
            lap("kernels: Adam (8 arrays)", t)
        total = time.perf_counter() - start
    print(f"\n300 steps of spectral 784-500-10 on MNIST: {total:.3f} s")
    print("| part | s per 300 steps |\n|---|---|")
    for name, secs in sorted(tot.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {secs:.3f} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=300)
    p.add_argument("--data-root", default=None)
    args = p.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f}; OPENBLAS_NUM_THREADS="
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}\n")
    kernel_table(args.repeats)
    step_table(args.data_root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
