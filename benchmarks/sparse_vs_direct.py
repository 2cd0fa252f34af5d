"""Sparse spectral training versus sparse direct training (Chicchi et al., PRE 104, 054312 (2021)).

784-500-500-10 tanh on MNIST, Adam 1e-3, batch 200. For every density (fraction of weights
kept) and sparse mode, train a ``direct`` and a ``spectral`` network and record the test
accuracy and the topology turnover (mask entries flipped per epoch). Modes
(:func:`spectral_physics.sparse.configure_sparsity`): ``dynamic-percentile`` (the paper's
method: entries of ``|W|`` below the percentile zeroed at every forward pass),
``static-magnitude``, ``static-random``, ``dst`` (mask re-chosen every ``--every`` steps).

Every (density, train, mode) run is written to its own netCDF file in ``--out`` when it
finishes and skipped when present, so an interrupted run resumes; ``--out/summary.md`` is
rebuilt at the end (``xarray.open_mfdataset(out/"*.nc")`` combines the files).

Examples
--------
Quick (a few minutes on 2 cores)::

    python benchmarks/sparse_vs_direct.py --quick --out benchmarks/out/sparse_quick

Longer::

    python benchmarks/sparse_vs_direct.py --epochs 10 --seeds 0,1,2 --out benchmarks/out/sparse
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

from spectral_physics import SpectralMLP, fit
from spectral_physics.datasets import load_dataset
from spectral_physics.sparse import configure_sparsity, network_density


def _floats(s: str) -> list[float]:
    return [float(v) for v in s.split(",") if v.strip()]


def _ints(s: str) -> list[int]:
    return [int(v) for v in s.split(",") if v.strip()]


def _strs(s: str) -> list[str]:
    return [v.strip() for v in s.split(",") if v.strip()]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/sparse"))
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--sizes", type=_ints, default=[784, 500, 500, 10])
    p.add_argument("--activation", default="tanh")
    p.add_argument("--densities", type=_floats, default=[1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02])
    p.add_argument("--trains", type=_strs, default=["direct", "spectral"])
    p.add_argument("--modes", type=_strs, default=["dynamic-percentile"])
    p.add_argument("--every", type=int, default=100, help="re-selection period of mode dst (steps)")
    p.add_argument("--seeds", type=_ints, default=[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--init", choices=["default", "paper"], default="default")
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--data-root", default=None)
    p.add_argument("--quick", action="store_true", help="1 epoch on 20k training images, 1 seed")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    if a.quick:
        a.epochs, a.seeds, a.n_train = 1, [0], a.n_train or 20000
    return a


def run_one(data, a, density: float, train: str, mode: str) -> xr.Dataset:
    seeds = a.seeds if len(a.seeds) > 1 else a.seeds[0]
    net = SpectralMLP(a.sizes, train=train, activation=a.activation, seed=seeds, init=a.init)
    cbs = configure_sparsity(net, 1.0 - density, mode, every=a.every) if density < 1 else []
    t0 = time.perf_counter()
    hist = fit(net, data, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, progress=not a.no_progress,
               callbacks=cbs)
    wall = time.perf_counter() - t0
    acc = np.asarray(hist["test_accuracy"], dtype=np.float64).reshape(a.epochs, -1)  # (epoch, seed)
    n_seeds = acc.shape[1]

    def per_epoch(key):  # dense runs have no turnover callback: zeros
        v = np.asarray([r.get(key, 0) for r in hist.records], dtype=np.float64).reshape(a.epochs, -1)
        return np.broadcast_to(v, (a.epochs, n_seeds))

    flips, sflips = per_epoch("mask_flips"), per_epoch("mask_step_flips")
    dens = np.atleast_1d(np.asarray(network_density(net)["density"], dtype=np.float64))
    dims = ("density", "train", "mode", "epoch", "seed")
    coords = {"density": [density], "train": [train], "mode": [mode], "epoch": np.arange(1, a.epochs + 1),
              "seed": np.atleast_1d(a.seeds)}
    ds = xr.Dataset(
        {
            "test_accuracy": (dims, acc[None, None, None], {"long_name": "test accuracy", "units": "1"}),
            "mask_flips": (dims, flips[None, None, None],
                           {"long_name": "mask entries changed over the epoch (all layers)", "units": "1"}),
            "mask_step_flips": (dims, sflips[None, None, None],
                                {"long_name": "mask entries changed between steps, summed over the epoch",
                                 "units": "1"}),
            "measured_density": (("density", "train", "mode", "seed"), dens[None, None, None],
                                 {"long_name": "fraction of weights kept by the final mask", "units": "1"}),
            "wall_seconds": (("density", "train", "mode"), [[[wall]]],
                             {"long_name": "training wall time (shared CPU, noisy)", "units": "s"}),
        },
        coords=coords,
        attrs={"sizes": json.dumps(a.sizes), "activation": a.activation, "dataset": a.dataset,
               "epochs": a.epochs, "lr": a.lr, "batch_size": a.batch_size, "init": a.init,
               "n_train": int(data.x_train.shape[0]), "every": a.every},
    )
    ds["density"].attrs.update(long_name="target fraction of weights kept", units="1")
    return ds


def main(argv=None) -> int:
    a = parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    data = load_dataset(a.dataset, root=a.data_root)
    if a.n_train:
        data = data.subset(a.n_train, seed=0)
    parts = []
    for density in a.densities:
        for mode in (a.modes if density < 1 else ["dense"]):
            for train in a.trains:
                path = a.out / f"{train}_{mode}_d{density:g}.nc"
                if not path.exists():
                    print(f"[run ] {train} {mode} density={density:g}", file=sys.stderr)
                    ds = run_one(data, a, density, train, mode)
                    tmp = path.with_suffix(".nc.tmp")
                    ds.to_netcdf(tmp, engine="netcdf4")
                    tmp.replace(path)
                    acc = ds.test_accuracy.isel(epoch=-1).values.ravel()
                    print(f"[done] {path.name}: test accuracy {acc}", file=sys.stderr)
                parts.append(path)
    summary = summarize(parts)
    (a.out / "summary.md").write_text(summary)
    print(summary)
    return 0


def summarize(paths: list[Path]) -> str:
    rows = {}
    for p in paths:
        with xr.open_dataset(p, engine="netcdf4") as ds:
            d, t, m = float(ds.density[0]), str(ds.train.values[0]), str(ds["mode"].values[0])
            acc = ds.test_accuracy.isel(epoch=-1).values.ravel()
            flips = ds.mask_flips.isel(epoch=-1).values.ravel()
            rows[(d, m, t)] = (acc, flips)
    trains = sorted({k[2] for k in rows})
    lines = ["| density | mode | " + " | ".join(f"{t} acc." for t in trains) + " | "
             + " | ".join(f"{t} flips (last epoch)" for t in trains) + " |",
             "|" + "---|" * (2 + 2 * len(trains))]
    for d, m in sorted({(k[0], k[1]) for k in rows}, key=lambda v: (-v[0], v[1])):
        accs, fl = [], []
        for t in trains:
            if (d, m, t) not in rows:
                accs.append("")
                fl.append("")
                continue
            acc, flips = rows[(d, m, t)]
            accs.append(f"{acc.mean():.4f}" + (f" ± {acc.std():.4f}" if acc.size > 1 else ""))
            fl.append(f"{flips.mean():.0f}")
        lines.append(f"| {d:.0%} | {m} | " + " | ".join(accs) + " | " + " | ".join(fl) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
