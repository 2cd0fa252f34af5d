"""Sweep throughput: one-by-one runs versus ensembles versus worker processes.

Usage::

    python benchmarks/sweep_benchmark.py                    # 48 runs: 784-{32,64,128,256}-10 x 3 presets x 4 seeds
    OPENBLAS_NUM_THREADS=1 python benchmarks/sweep_benchmark.py --repeats 3 --markdown /tmp/sweep_benchmarks.md

Every mode runs the same grid from an empty results directory and must produce the same
Dataset (checked; only ``train_time`` differs). Modes:

* ``sequential``: one process, each seed trained alone (48 separate ``fit`` calls);
* ``ensemble``: one process, the 4 seeds of a point as one ensemble (12 ``fit`` calls);
* ``ensemble-2-workers``: ensembles on a local process pool of 2 (start-up included);
* ``sequential-2-workers``: one-by-one runs on the pool.

MNIST is loaded once before the in-process modes are timed; pool workers load it
themselves (that cost is part of their time).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path


def grid(subset: int, n_test: int, epochs: int, dataset: str) -> dict:
    return {
        "name": "sweep-benchmark", "dataset": dataset, "subset": subset, "n_test": n_test, "epochs": epochs,
        "seeds": [0, 1, 2, 3],
        "axes": {"train": ["direct", "eigen", "spectral"], "hidden": [32, 64, 128, 256]},
        "fixed": {"activation": "relu", "lr": 0.01, "batch_size": 200},
    }


MODES = {
    "sequential": {"workers": 1, "ensemble": False},
    "ensemble": {"workers": 1, "ensemble": True},
    "ensemble-2-workers": {"workers": 2, "ensemble": True},
    "sequential-2-workers": {"workers": 2, "ensemble": False},
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subset", type=int, default=10000, help="training images (default 10000: 50 steps per run)")
    p.add_argument("--n-test", type=int, default=2000, help="test images (default 2000)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--repeats", type=int, default=2, help="time each mode this often (interleaved), report the fastest")
    p.add_argument("--modes", default=",".join(MODES), help="comma-separated subset of: " + ", ".join(MODES))
    p.add_argument("--markdown", default=None, help="also write the table to this file")
    args = p.parse_args(argv)

    from spectral_physics.analysis.sweep import SweepSpec, run_sweep
    from spectral_physics.analysis.sweep.run import _load_data

    spec = SweepSpec.from_dict(grid(args.subset, args.n_test, args.epochs, args.dataset))
    n_runs = len(spec.points()) * len(spec.seeds)
    _load_data(args.dataset, args.subset, 0, args.n_test, None)  # warm the in-process data cache
    modes = [m.strip() for m in args.modes.split(",")]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        p.error(f"unknown modes {unknown}; choose from {list(MODES)}")
    walls: dict[str, list[float]] = {m: [] for m in modes}
    train: dict[str, float] = {}
    ref = None
    load0 = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    try:
        # interleaved repeats: slow drifts of the shared machine's load hit every mode alike
        for r in range(args.repeats):
            for mode in modes:
                d = tmp / f"{mode}-{r}"
                t0 = time.perf_counter()
                ds = run_sweep(spec, d, progress=False, **MODES[mode])
                walls[mode].append(time.perf_counter() - t0)
                train[mode] = min(train.get(mode, float("inf")), float(ds.train_time.sum()))
                cmp = ds.drop_vars("train_time").assign_attrs(history="", provenance="")
                if ref is None:
                    ref = cmp
                else:
                    import xarray as xr

                    xr.testing.assert_identical(cmp, ref)
                print(f"{mode:>22} (repeat {r}): {walls[mode][-1]:7.2f} s wall "
                      f"(training steps {float(ds.train_time.sum()):.2f} s)", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results = {m: (min(walls[m]), train[m]) for m in modes}

    base = results.get("sequential", next(iter(results.values())))[0]
    lines = [
        f"Grid: 784-{{32,64,128,256}}-10 x {{direct, eigen, spectral}} x 4 seeds = {n_runs} runs; "
        f"{args.dataset} subset {args.subset} train / {args.n_test} test, {args.epochs} epoch(s), "
        "Adam lr 0.01, batch 200, float32, CPU (NumPy/OpenBLAS).",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"Python {platform.python_version()}. Wall time includes data loading in pool workers, "
        "process start-up, test evaluation and writing per-point files. All modes gave identical "
        "Datasets (train_time aside).",
        f"BLAS threads: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')} in this process "
        "(pool workers always get 1). 1-minute load average "
        f"{load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; best of {args.repeats} interleaved repeats.",
        "",
        "| mode | wall time (s) | runs/s | speed-up vs sequential | sum of training-step time (s) |",
        "|---|---|---|---|---|",
    ]
    for mode, (wall, train_s) in results.items():
        lines.append(f"| {mode} | {wall:.2f} | {n_runs / wall:.2f} | {base / wall:.2f}x | {train_s:.2f} |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
