"""Static sparse masks: dense masked products against the kept-weights-only products.

For each network, batch and mask density, times one ``net.loss_and_grad`` (forward and
backward, no optimiser step; median over ``--calls`` calls after two warm-up calls) with
``kernels.SPARSE_DENSITY`` set to 0 (every mask takes the dense ``M * W`` products) and to
1 (every mask takes the compiled loops over its CSR index), so both sides are measured at
every density, above the library's limit too. Masks are layer-wise random at the given
density, as NTT's baselines draw them. ``--epoch`` also times one supervised epoch of
NTT's second phase (LeNet-300-100, Adam 1e-3, batch 64, standardised MNIST, test-set
evaluation included) at 1 %, 3 % and 10 % kept, dense against the library's default limit.
Prints Markdown tables and the load average.

    OPENBLAS_NUM_THREADS=1 python benchmarks/sparse_products.py [--calls 60] [--epoch]
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
DENSITIES = (0.01, 0.03, 0.05, 0.1, 0.15, 0.2)
DEFAULT_LIMIT = kernels.SPARSE_DENSITY


def time_call(net, x, y, calls: int) -> float:
    times = []
    for i in range(calls + 2):
        t = time.perf_counter()
        net.loss_and_grad(x, y, check=False)
        if i >= 2:  # the first calls compile the kernels
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def masked(sizes, act, density, limit):
    """A fresh network (its masks indexed under ``limit``) with random layer-wise masks."""
    kernels.SPARSE_DENSITY = limit
    net = SpectralMLP(sizes, train="direct", activation=act, seed=0)
    apply_masks(net, make_masks("random", net, density, seed=0))
    return net


def products(calls: int) -> None:
    rng = np.random.default_rng(0)
    print("| network, batch | density | dense masked (ms) | kept weights only (ms) | speed-up |")
    print("|---|---|---|---|---|")
    for sizes, act, batch in CASES:
        x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], size=batch)
        for density in DENSITIES:
            ms = [1e3 * time_call(masked(sizes, act, density, limit), x, y, calls) for limit in (0.0, 1.0)]
            name = "-".join(map(str, sizes))
            print(f"| {name} {act}, {batch} | {density:g} | {ms[0]:.2f} | {ms[1]:.2f} | {ms[0] / ms[1]:.2f}x |",
                  flush=True)


def epochs() -> None:
    from spectral_physics.datasets import load_dataset
    from spectral_physics.ntt import make_teacher, supervised_phase

    data = load_dataset("mnist").standardized()
    print("| density | dense masked epoch (s) | default (s) | speed-up |")
    print("|---|---|---|---|")
    for density in (0.01, 0.03, 0.1):
        secs = []
        for limit in (0.0, DEFAULT_LIMIT):
            kernels.SPARSE_DENSITY = limit
            net = make_teacher([784, 300, 100, 10], seed=0)
            apply_masks(net, make_masks("random", net, density, seed=0))
            supervised_phase(net, data, epochs=1, seed=0, progress=False)  # warm-up
            t = time.perf_counter()
            supervised_phase(net, data, epochs=1, seed=1, progress=False)
            secs.append(time.perf_counter() - t)
        print(f"| {density:g} | {secs[0]:.2f} | {secs[1]:.2f} | {secs[0] / secs[1]:.2f}x |", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=60)
    p.add_argument("--epoch", action="store_true", help="also time supervised epochs (needs MNIST)")
    args = p.parse_args(argv)
    print(f"load average at start {os.getloadavg()[0]:.1f}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
          f"library limit SPARSE_DENSITY={DEFAULT_LIMIT}")
    try:
        products(args.calls)
        if args.epoch:
            epochs()
    finally:
        kernels.SPARSE_DENSITY = DEFAULT_LIMIT
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
