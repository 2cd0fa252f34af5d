"""Test accuracy versus density for NTT and the label-free / labelled baseline wirings.

For each data set and seed, one random dense LeNet-300-100 (Glorot-normal weights,
N(0, 0.01^2) biases: the NTT teacher) is the common starting point. Each wiring
masks a copy of it at each density and the masked network is trained with labels
(Adam 1e-3, batch 64) under the fixed mask:

- ``ntt``: Neural Tangent Transfer (:mod:`spectral_physics.ntt`) from that network as teacher;
- ``random``, ``scaled-random`` (kept weights times 1/sqrt(density)), ``magnitude``
  (layer-wise largest |W| at init), ``snip`` (labelled batch), ``logit-snip`` (label-free),
  from :mod:`spectral_physics.sparse` (SNIP variants use its default global scope);
- ``dense``: the unpruned network (density 1);
- on request (``--wirings``): ``ntt-global`` and ``global-magnitude``, with one magnitude
  threshold over all layers instead of one per layer, and ``snip-layer``, ``logit-snip-layer``
  with layer-wise instead of global SNIP scores, so that every criterion can be compared at
  both scopes.

Results go to a netCDF file (dims ``dataset``, ``wiring``, ``density``, ``seed``),
rewritten after every run so an interrupted sweep keeps what it finished, and a
Markdown table is printed. Inputs are standardised with the training set's mean and
standard deviation (as in the reference NTT code) unless ``--no-standardize``; the
balance of the NTT loss terms depends on that scale.

    python benchmarks/ntt_comparison.py --quick --out ntt_quick.nc          # CI-sized, ~1 min
    OPENBLAS_NUM_THREADS=1 python benchmarks/ntt_comparison.py --ntt-steps 2000 --epochs 5 --out ntt.nc
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import xarray as xr

from spectral_physics.datasets import load_dataset
from spectral_physics.ntt import NTT_DEFAULTS, make_teacher, neural_tangent_transfer, supervised_phase
from spectral_physics.sparse import apply_masks, logit_snip_masks, make_masks, snip_masks

WIRINGS = ("ntt", "random", "scaled-random", "magnitude", "snip", "logit-snip", "dense")
#: extra wirings, not in the default sweep: NTT and magnitude with one global threshold
EXTRA_WIRINGS = ("ntt-global", "global-magnitude", "snip-layer", "logit-snip-layer")


def _csv(kind):
    return lambda text: [kind(t) for t in text.split(",") if t]


def build_dataset(acc, secs, ntt_loss, args, names, densities, wirings, seeds) -> xr.Dataset:
    from spectral_physics.analysis._xr import cf, provenance_attrs

    dims = ("dataset", "wiring", "density", "seed")
    coords = {"dataset": names, "wiring": wirings, "density": densities, "seed": seeds}
    ds = xr.Dataset(coords=coords)
    ds["test_accuracy"] = cf(xr.DataArray(acc, dims=dims), "test accuracy after supervised training", "1")
    ds["train_seconds"] = cf(xr.DataArray(secs, dims=dims),
                             "wall time of wiring search plus supervised training", "s")
    ds["ntt_val_loss"] = cf(xr.DataArray(ntt_loss, dims=dims + ("stage",), coords={"stage": ["start", "end"]}),
                            "NTT validation loss before and after transfer (NaN for other wirings)", "1")
    ds["density"].attrs.update(long_name="kept fraction of the weights of every layer", units="1")
    ds.attrs.update(provenance_attrs(
        analysis="ntt_comparison", architecture=args.sizes, schedule=schedule(args),
        comment="dense wiring: density 1 network, stored at every density"))
    return ds


def schedule(args) -> dict:
    return {"ntt_steps": args.ntt_steps, "ntt_lr": NTT_DEFAULTS["lr"], "ntt_batch": NTT_DEFAULTS["batch_size"],
            "lambda_k": args.lambda_k, "lambda_2": args.lambda_2,
            "mask_every": NTT_DEFAULTS["mask_every"], "ntt_kernel": args.kind,
            "supervised": {"optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": args.epochs},
            "standardized_inputs": args.standardize,
            "train_subset": args.subset, "test_subset": args.test_subset, "snip_batch": args.snip_batch}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=_csv(str), default=["mnist", "fashion-mnist"])
    ap.add_argument("--densities", type=_csv(float), default=[0.1, 0.03, 0.01])
    ap.add_argument("--wirings", type=_csv(str), default=list(WIRINGS))
    ap.add_argument("--seeds", type=_csv(int), default=[0])
    ap.add_argument("--sizes", type=_csv(int), default=[784, 300, 100, 10])
    ap.add_argument("--ntt-steps", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--kind", default="masked-dense", choices=["masked-dense", "sparse"])
    ap.add_argument("--lambda-k", type=float, default=NTT_DEFAULTS["lambda_k"])
    ap.add_argument("--lambda-2", type=float, default=NTT_DEFAULTS["lambda_2"])
    ap.add_argument("--tag", default="", help="appended to the NTT wiring names in the output, e.g. '[l2=0]'")
    ap.add_argument("--subset", type=int, default=None, help="training examples used (default all)")
    ap.add_argument("--test-subset", type=int, default=None)
    ap.add_argument("--snip-batch", type=int, default=128)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--no-standardize", dest="standardize", action="store_false",
                    help="keep pixels in [0, 1] (default: standardise with the training mean and std, "
                         "as the reference NTT code does)")
    ap.add_argument("--quick", action="store_true",
                    help="CI schedule: MNIST only, 3000 training / 1000 test images, 60 NTT steps, 1 epoch")
    ap.add_argument("--out", default="ntt_comparison.nc")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.datasets, args.subset, args.test_subset = ["mnist"], 3000, 1000
        args.ntt_steps, args.epochs = 60, 1
    bad = [w for w in args.wirings if w not in WIRINGS + EXTRA_WIRINGS]
    if bad:
        ap.error(f"unknown wirings {bad}; choose from {WIRINGS + EXTRA_WIRINGS}")

    names, dens, wirings, seeds = args.datasets, args.densities, args.wirings, args.seeds
    labels = [w + args.tag if w.startswith("ntt") else w for w in wirings]
    shape = (len(names), len(wirings), len(dens), len(seeds))
    acc = np.full(shape, np.nan)
    secs = np.full(shape, np.nan)
    ntt_loss = np.full(shape + (2,), np.nan)
    out = Path(args.out)

    def save():
        from spectral_physics.analysis._xr import write_netcdf

        write_netcdf(build_dataset(acc, secs, ntt_loss, args, names, dens, labels, seeds), out)

    for i, name in enumerate(names):
        data = load_dataset(name, root=args.data_root)
        if args.subset or args.test_subset:
            data = data.subset(args.subset or data.n_train, seed=0, n_test=args.test_subset)
        if args.standardize:
            data = data.standardized()
        for s_i, seed in enumerate(seeds):
            base = make_teacher(args.sizes, seed=seed)
            pick = np.random.default_rng(seed).choice(data.n_train, args.snip_batch, replace=False)
            xs, ys = data.x_train[pick], data.y_train[pick]
            for w_i, wiring in enumerate(wirings):
                for d_i, density in enumerate(dens):
                    if wiring == "dense" and d_i > 0:
                        acc[i, w_i, d_i, s_i], secs[i, w_i, d_i, s_i] = acc[i, w_i, 0, s_i], secs[i, w_i, 0, s_i]
                        continue
                    t0 = time.perf_counter()
                    if wiring in ("ntt", "ntt-global"):
                        res = neural_tangent_transfer(base, data.x_train, density, steps=args.ntt_steps,
                                                      kind=args.kind, seed=seed, progress=args.progress,
                                                      lambda_k=args.lambda_k, lambda_2=args.lambda_2,
                                                      scope="global" if wiring == "ntt-global" else "layer")
                        net = res.student
                        ntt_loss[i, w_i, d_i, s_i] = res.history["val_loss"][0], res.history["val_loss"][-1]
                    else:
                        net = base.copy()
                        if wiring != "dense":
                            try:
                                if wiring == "snip-layer":
                                    masks = snip_masks(net, xs, ys, density, scope="layer")
                                elif wiring == "logit-snip-layer":
                                    masks = logit_snip_masks(net, xs, density, scope="layer")
                                else:
                                    masks = make_masks(wiring, net, density, x=xs, y=ys, seed=seed)
                                apply_masks(net, masks, rescale=wiring == "scaled-random")
                            except ValueError as exc:  # e.g. a global score leaving a layer empty
                                print(f"{name} {wiring} {density}: {exc}")
                                continue
                    supervised_phase(net, data, epochs=args.epochs, seed=seed, progress=args.progress)
                    acc[i, w_i, d_i, s_i] = net.accuracy(data.x_test, data.y_test)
                    secs[i, w_i, d_i, s_i] = time.perf_counter() - t0
                    print(f"{name:14s} seed {seed} {labels[w_i]:14s} density {density:<5} test accuracy "
                          f"{acc[i, w_i, d_i, s_i]:.4f}  ({secs[i, w_i, d_i, s_i]:.0f} s)", flush=True)
                    save()
    save()
    print(f"\nschedule: {json.dumps(schedule(args))}")
    print("| data set | wiring | " + " | ".join(f"density {d}" for d in dens) + " |")
    print("|---|---|" + "---|" * len(dens))
    for i, name in enumerate(names):
        for w_i in range(len(wirings)):
            cells = []
            for d_i in range(len(dens)):
                v = acc[i, w_i, d_i]
                cells.append("n/a" if np.isnan(v).all() else
                             (f"{np.nanmean(v):.4f}" + (f" ± {np.nanstd(v):.4f}" if len(seeds) > 1 else "")))
            print(f"| {name} | {labels[w_i]} | " + " | ".join(cells) + " |")
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
