"""Cost of sparsity per training step: dense, static mask, dynamic percentile, turnover count.

Times one ``net.loss_and_grad`` (forward and backward, no optimiser step) of a
784-500-500-10 tanh network on a batch of 200 random inputs, float32, in four
settings per preset: dense; a static 90 % mask; the dynamic percentile
threshold ``sparsity=0.9`` (re-thresholded at every forward pass); the same
plus the per-step mask-flip count of ``TopologyTurnover(per_step=True)``.
Prints a Markdown table of medians over ``--calls`` calls and the load average.

    OPENBLAS_NUM_THREADS=1 python benchmarks/sparsity_cost.py [--calls 30] [--presets direct,spectral]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from spectral_physics import SpectralMLP
from spectral_physics.sparse import TopologyTurnover, apply_masks, magnitude_masks

SETTINGS = ("dense", "static mask (90% sparse)", "dynamic percentile p=0.9", "p=0.9 + per-step turnover count")


def time_setting(preset: str, setting: int, calls: int, x, y) -> float:
    net = SpectralMLP([784, 500, 500, 10], train=preset, activation="tanh", seed=0)
    if setting == 1:
        apply_masks(net, magnitude_masks(net, 0.1))
    elif setting >= 2:
        for layer in net.layers:
            layer.sparsity = 0.9
    turnover = TopologyTurnover(per_step=True) if setting == 3 else None
    if turnover is not None:
        turnover.on_train_begin(net)
    times = []
    for i in range(calls + 2):
        t = time.perf_counter()
        net.loss_and_grad(x, y, check=False)
        if turnover is not None:
            turnover.on_step_end(net, 1, i + 1)
        if i >= 2:  # the first calls compile the kernels and warm the allocator
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=30)
    p.add_argument("--presets", default="direct,spectral")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.random((200, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=200)
    print(f"load average at start {os.getloadavg()[0]:.1f}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    print("| preset | " + " | ".join(SETTINGS) + " |")
    print("|---" * (len(SETTINGS) + 1) + "|")
    for preset in args.presets.split(","):
        ms = [1e3 * time_setting(preset, s, args.calls, x, y) for s in range(len(SETTINGS))]
        print(f"| {preset} | " + " | ".join(f"{m:.1f} ms" for m in ms) + " |", flush=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
