"""Static sparse masks: dense masked products against the kept-weights-only products.

For each network, batch and mask density, times one ``net.loss_and_grad`` (forward and
backward, no optimiser step; median over ``--calls`` calls after two warm-up calls) with
``SPECTRAL_PHYSICS_KERNELS=array`` (the dense ``M * W`` products) and with the default
kernels, which multiply by the kept weights only when the mask keeps at most
``kernels.SPARSE_DENSITY`` of them. Masks are layer-wise random at the given density, as
NTT's baselines draw them. Prints a Markdown table and the load average.

    OPENBLAS_NUM_THREADS=1 python benchmarks/sparse_products.py [--calls 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from spectral_physics import SpectralMLP, kernels
from spectral_physics.sparse import apply_masks, make_masks

CASES = (([784, 300, 100, 10], "relu", 64), ([784, 500, 500, 10], "tanh", 200))
DENSITIES = (0.01, 0.03, 0.05, 0.1, 0.15)


def time_call(net, x, y, calls: int) -> float:
    times = []
    for i in range(calls + 2):
        t = time.perf_counter()
        net.loss_and_grad(x, y, check=False)
        if i >= 2:  # the first calls compile the kernels and build the masks' index
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=100)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"load average at start {os.getloadavg()[0]:.1f}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
          f"SPARSE_DENSITY={kernels.SPARSE_DENSITY}")
    print("| network, batch | density | dense masked (ms) | kept weights only (ms) | speed-up |")
    print("|---|---|---|---|---|")
    for sizes, act, batch in CASES:
        x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], size=batch)
        for density in DENSITIES:
            net = SpectralMLP(sizes, train="direct", activation=act, seed=0)
            apply_masks(net, make_masks("random", net, density, seed=0))
            ms = []
            for choice in ("array", None):
                prev = kernels.set_implementation(choice)
                try:
                    ms.append(1e3 * time_call(net, x, y, args.calls))
                finally:
                    kernels.set_implementation(prev)
            name = "-".join(map(str, sizes))
            print(f"| {name} {act}, {batch} | {density:g} | {ms[0]:.2f} | {ms[1]:.2f} | {ms[0] / ms[1]:.2f}x |",
                  flush=True)
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
