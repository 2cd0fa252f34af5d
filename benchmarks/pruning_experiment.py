"""Single-hidden-layer spectral pruning (Buffoni et al., Sci. Rep. 12, 11201 (2022)).

For each data set, activation and hidden width this script runs

* post-training pruning: train ``spectral`` (rank by eigenvalue, connectivity, outgoing,
  activation, random) and ``direct`` (the paper's baseline: rank by connectivity; also
  outgoing, activation, random), prune without retraining, evaluate on the test set;
* the pre-training filter: train ``eigen`` (phi frozen), rank, prune, rebuild, train the
  survivors fully (``spectral``) and evaluate.

Each combination is written to its own netCDF file in ``--out`` as soon as it is done and
skipped when the file exists, so an interrupted run resumes where it stopped. A summary
table (accuracy at a few fractions) is printed at the end and written to
``--out/summary.md``.

Examples
--------
Quick (CI, a few minutes on 2 cores)::

    python benchmarks/pruning_experiment.py --quick --out benchmarks/out/pruning_quick

Closer to the paper (5 seeds, 20 filter epochs; hours on a laptop)::

    python benchmarks/pruning_experiment.py --epochs 20 --seeds 0,1,2,3,4 --hidden 500,2000 \\
        --filter-full-epochs 20 --out benchmarks/out/pruning
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

from spectral_physics.datasets import load_dataset
from spectral_physics.pruning import default_fractions, post_training_pruning, pretraining_filter

SPECTRAL_RANKINGS = ("eigenvalue", "connectivity", "outgoing", "activation", "random")
DIRECT_RANKINGS = ("connectivity", "outgoing", "activation", "random")
REPORT_FRACTIONS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)


def _ints(s: str) -> list[int]:
    return [int(v) for v in s.split(",") if v.strip()]


def _strs(s: str) -> list[str]:
    return [v.strip() for v in s.split(",") if v.strip()]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("benchmarks/out/pruning"), help="output directory")
    p.add_argument("--datasets", type=_strs, default=["mnist", "fashion-mnist"])
    p.add_argument("--activations", type=_strs, default=["tanh", "relu", "elu"])
    p.add_argument("--hidden", type=_ints, default=[500], help="hidden widths, comma separated")
    p.add_argument("--seeds", type=_ints, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=5, help="training epochs of the post-training protocol")
    p.add_argument("--filter-eigen-epochs", type=int, default=5)
    p.add_argument("--filter-full-epochs", type=int, default=5)
    p.add_argument("--filter-l1", type=float, default=None, help="L1 penalty on eigenvalues in the filter")
    p.add_argument("--filter-fractions", type=float, nargs="+", default=[0.5, 0.7, 0.8, 0.9, 0.95])
    p.add_argument("--filter-rankings", type=_strs, default=["eigenvalue", "connectivity", "random"])
    p.add_argument("--spectral-rankings", type=_strs, default=list(SPECTRAL_RANKINGS),
                   help="rankings of the post-training spectral network")
    p.add_argument("--direct-rankings", type=_strs, default=list(DIRECT_RANKINGS),
                   help="rankings of the post-training direct network")
    p.add_argument("--trains", type=_strs, default=["spectral", "direct"], help="post-training presets")
    p.add_argument("--fraction-step", type=float, default=0.05)
    p.add_argument("--n-train", type=int, default=None, help="training subset size (default: all)")
    p.add_argument("--protocols", type=_strs, default=["post", "filter"])
    p.add_argument("--init", choices=["default", "paper"], default="paper",
                   help="initialisation of the spectral arrays (paper: the authors' random eigenvalues)")
    p.add_argument("--data-root", default=None, help="directory holding mnist/ and fashion-mnist/")
    p.add_argument("--quick", action="store_true",
                   help="1 seed, 1 epoch, 20k training images, filter at 3 fractions with 1+1 epochs")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    if a.quick:
        a.seeds, a.epochs, a.n_train = [0], 1, a.n_train or 20000
        a.filter_eigen_epochs, a.filter_full_epochs = 1, 1
        a.filter_fractions = [0.5, 0.8, 0.9]
    return a


def _save(ds: xr.Dataset, path: Path) -> None:
    tmp = path.with_suffix(".nc.tmp")
    ds.to_netcdf(tmp, engine="netcdf4")
    tmp.replace(path)


def main(argv=None) -> int:
    a = parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    progress = not a.no_progress
    fractions = default_fractions(a.fraction_step)
    files: list[Path] = []
    for dname in a.datasets:
        data = load_dataset(dname, root=a.data_root)
        if a.n_train:
            data = data.subset(a.n_train, seed=0)
        for act in a.activations:
            for h in a.hidden:
                sizes = [data.x_train.shape[1], h, data.n_classes]
                tag = f"{dname}_{act}_h{h}" + ("" if a.init == "paper" else f"-init{a.init}")
                jobs = []
                if "post" in a.protocols:
                    for train in a.trains:
                        ranks = a.spectral_rankings if train != "direct" else a.direct_rankings
                        jobs.append((a.out / f"post_{train}_{tag}.nc", "post", train, ranks))
                if "filter" in a.protocols:
                    jobs.append((a.out / f"filter_{tag}.nc", "filter", "eigen", a.filter_rankings))
                for path, proto, train, ranks in jobs:
                    files.append(path)
                    if path.exists():
                        print(f"[skip] {path} exists", file=sys.stderr)
                        continue
                    t0 = time.perf_counter()
                    print(f"[run ] {proto} {train} {tag}", file=sys.stderr)
                    common = dict(activation=act, seeds=a.seeds, init=a.init, rankings=ranks, progress=progress,
                                  attrs={"dataset": dname, "n_train": int(data.x_train.shape[0])})
                    if proto == "post":
                        ds = post_training_pruning(data, sizes, train=train, epochs=a.epochs,
                                                   fractions=fractions, **common)
                    else:
                        ds = pretraining_filter(data, sizes, eigen_epochs=a.filter_eigen_epochs,
                                                full_epochs=a.filter_full_epochs, l1=a.filter_l1,
                                                fractions=[0.0, *a.filter_fractions], **common)
                    ds.attrs["wall_seconds"] = time.perf_counter() - t0
                    _save(ds, path)
                    print(f"[done] {path} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    summary = summarize(files)
    (a.out / "summary.md").write_text(summary)
    print(summary)
    return 0


def summarize(files: list[Path]) -> str:
    """Markdown table: mean (and spread over seeds) accuracy at a few fractions removed."""
    lines = ["| protocol | train | data set | act. | hidden | ranking | "
             + " | ".join(f"{f:.0%} removed" for f in REPORT_FRACTIONS) + " |",
             "|" + "---|" * (6 + len(REPORT_FRACTIONS))]
    for path in files:
        if not path.exists():
            continue
        ds = xr.open_dataset(path, engine="netcdf4")
        proto, train = path.stem.split("_")[0], path.stem.split("_")[1]
        train = "eigen->spectral" if proto == "filter" else train
        _, dname, act, h = path.stem.rsplit("_", 3) if proto == "post" else ("", *path.stem.split("_")[1:])
        for r in ds.ranking.values:
            cells = []
            for f in REPORT_FRACTIONS:
                hit = np.flatnonzero(np.isclose(ds.fraction_removed.values, f))
                if hit.size == 0:
                    cells.append("")
                    continue
                v = ds.accuracy.sel(ranking=r).isel(fraction_removed=hit[0]).values.ravel()
                cells.append(f"{np.nanmean(v):.3f}" + (f" ± {np.nanstd(v):.3f}" if v.size > 1 else ""))
            lines.append(f"| {proto} | {train} | {dname} | {act} | {h[1:]} | {r} | " + " | ".join(cells) + " |")
        ds.close()
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
