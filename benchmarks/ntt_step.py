"""Seconds per NTT step and per empirical NTK for LeNet-300-100 (784-300-100-10).

One NTT step = teacher outputs and kernel on the batch, student loss and exact
gradient, one Adam update (batch 64: kernel on the 32 x 32 cross block, 10 x 10
logit pairs). The floor is the step's matrix products alone (the same shapes on
preallocated arrays, timed in the same run, after the steps of each kernel kind); the ratio step / floor is what the
library adds on top of BLAS. Also times ``empirical_ntk`` alone and measures its peak
memory (tracemalloc). Prints a Markdown table and, with ``--json``, one JSON object.

Timings on a shared machine are noisy: the table gives the median and the
minimum over repeats, and the 1-minute load average when the run started.
Set ``OPENBLAS_NUM_THREADS=1`` when other processes compete for the cores
(OpenBLAS threads spin badly when oversubscribed).

    python benchmarks/ntt_step.py [--steps 30] [--density 0.03] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import tracemalloc

import numpy as np

from spectral_physics.ntk import empirical_ntk, ntk_memory_estimate
from spectral_physics.ntt import make_teacher, ntt_loss_and_grad, teacher_targets
from spectral_physics.optim import Adam
from spectral_physics.sparse import apply_masks, magnitude_masks


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "load_1min": os.getloadavg()[0],
            "numpy": np.__version__, "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "unset")}


def floor_products(sizes: list[int], batch: int, dtype: str) -> list[tuple[int, int, int]]:
    """The (m, k, n) shapes of the matrix products of one masked-dense NTT step.

    Read off ``ntt._evaluate`` and ``ntk.output_signals``: per network (teacher and student)
    the forward pass, the per-output deltas and, per layer, the two factors of the kernel
    block (``a1 @ a2.T`` and the delta pairs); for the student alone the kernel's adjoint,
    the adjoint of the delta recursion and ordinary backpropagation.
    """
    n, h, k, nl = batch, batch // 2, sizes[-1], len(sizes) - 1
    net = [(n, sizes[l], sizes[l + 1]) for l in range(nl)]
    net += [(n * k, sizes[l + 2], sizes[l + 1]) for l in range(nl - 1)]
    net += [(h, sizes[l], h) for l in range(nl)] + [(h * k, sizes[l + 1], h * k) for l in range(nl)]
    student = [(h * k, h * k, sizes[l + 1]) for l in range(nl) for _ in range(2)]
    student += [(h, h, sizes[l]) for l in range(nl) for _ in range(2)]
    student += [(n * k, sizes[l + 1], sizes[l + 2]) for l in range(nl - 2)]
    student += [(sizes[l + 2], n * k, sizes[l + 1]) for l in range(nl - 2)]
    student += [(sizes[l + 1], n, sizes[l]) for l in range(nl)] + [(n, sizes[l + 1], sizes[l]) for l in range(1, nl)]
    return 2 * net + student


def time_floor(shapes: list[tuple[int, int, int]], dtype: str) -> float:
    """Seconds of the products ``shapes`` alone, on preallocated operands and outputs."""
    rng = np.random.default_rng(2)
    ops = [(rng.random((m, q), dtype=np.float32).astype(dtype), rng.random((q, r), dtype=np.float32).astype(dtype),
            np.empty((m, r), dtype=dtype)) for m, q, r in shapes]
    t0 = time.perf_counter()
    for a, b, out in ops:
        np.matmul(a, b, out=out)
    return time.perf_counter() - t0


def time_steps(kind: str, density: float, steps: int, batch: int, dtype: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.random((steps + 2, batch, 784)).astype(dtype)
    teacher = make_teacher([784, 300, 100, 10], seed=0, dtype=dtype)
    student = teacher.copy()
    apply_masks(student, magnitude_masks(student, density))
    opt = Adam(5e-4)
    out = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        f_t, th_t = teacher_targets(teacher, x[i], kind)
        _, _, grads = ntt_loss_and_grad(student, x[i], f_t, th_t, density=density, kind=kind)
        opt.step(student.params, grads)
        out.append(time.perf_counter() - t0)
    return np.array(out[2:])  # the first steps warm caches and allocators


def time_ntk(kind: str, density: float | None, repeats: int, dtype: str) -> tuple[np.ndarray, int, int]:
    rng = np.random.default_rng(1)
    net = make_teacher([784, 300, 100, 10], seed=0, dtype=dtype)
    if density is not None:
        apply_masks(net, magnitude_masks(net, density))
    x = rng.random((64, 784)).astype(dtype)
    empirical_ntk(net, x[:32], x[32:], kind=kind)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        empirical_ntk(net, x[:32], x[32:], kind=kind)
        ts.append(time.perf_counter() - t0)
    tracemalloc.start()
    empirical_ntk(net, x[:32], x[32:], kind=kind)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return np.array(ts), peak, ntk_memory_estimate(net, 32, 32, kind)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--density", type=float, default=0.03)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    info = machine()
    rows = []
    shapes = floor_products([784, 300, 100, 10], args.batch, args.dtype)
    floors = []
    for kind in ("masked-dense", "sparse"):
        ts = time_steps(kind, args.density, args.steps, args.batch, args.dtype)
        floors += [time_floor(shapes, args.dtype) for _ in range(args.steps)]
        rows.append({"what": f"NTT step ({kind} kernel), batch {args.batch}, density {args.density}",
                     "median_s": float(np.median(ts)), "min_s": float(ts.min())})
    floors = np.array(floors[1:])  # the first call allocates
    macs = sum(m * q * r for m, q, r in shapes)
    rows.insert(1, {"what": f"floor: the {len(shapes)} matrix products of a masked-dense step ({macs / 1e6:.0f} M "
                            f"multiply-adds), alone", "median_s": float(np.median(floors)),
                    "min_s": float(floors.min())})
    rows[0]["ratio"] = rows[0]["median_s"] / rows[1]["median_s"]
    for kind, dens in (("sparse", None), ("sparse", args.density), ("masked-dense", args.density)):
        ts, peak, est = time_ntk(kind, dens, max(5, args.steps // 2), args.dtype)
        label = "dense" if dens is None else f"density {dens}"
        rows.append({"what": f"empirical_ntk {kind}, {label}, 32 x 32 inputs, 10 x 10 logits",
                     "median_s": float(np.median(ts)), "min_s": float(ts.min()),
                     "peak_MiB": peak / 2**20, "estimate_MiB": est / 2**20})
    print(f"machine: {info['cpu']}, {info['cores']} cores, load average {info['load_1min']:.2f} at start, "
          f"numpy {info['numpy']}, OPENBLAS_NUM_THREADS={info['OPENBLAS_NUM_THREADS']}, {args.dtype}")
    print("| what | median s | min s | peak MiB |")
    print("|---|---|---|---|")
    for r in rows:
        peak = f"{r['peak_MiB']:.1f}" if "peak_MiB" in r else ""
        print(f"| {r['what']} | {r['median_s']:.4f} | {r['min_s']:.4f} | {peak} |")
    print(f"masked-dense step / floor (medians): {rows[0]['ratio']:.2f}")
    if args.json:
        print(json.dumps({"machine": info, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
