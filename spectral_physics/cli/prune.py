"""``spectral-physics prune``: accuracy versus fraction of hidden nodes removed.

Example::

    spectral-physics prune model.npz --dataset mnist --ranking eigenvalue,connectivity,random --out curve.nc

Loads a trained network (an ensemble counts one ``seed`` per member), ranks its hidden
nodes, removes the lowest fractions under one global threshold, rebuilds the smaller
networks and evaluates them on the test set without retraining
(:func:`spectral_physics.pruning.pruning_curve`). Writes the curve as netCDF and prints a
short table. Optionally saves one pruned network (``--save-pruned``).
"""

from __future__ import annotations

import argparse
import json
import sys

from . import CLIError

__all__ = ["register"]


#: Smallest ``step=``: 1/step + 1 fractions are evaluated, each a pass over the test set.
MIN_STEP = 1e-4


def _fractions(text: str):
    import numpy as np

    text = text.strip()
    try:
        if text.startswith("step="):
            from spectral_physics.pruning import default_fractions

            step = float(text[5:])
            # 0 would divide by zero and a tiny step asks for billions of fractions
            if not MIN_STEP <= step <= 1:
                raise argparse.ArgumentTypeError(f"step must lie in [{MIN_STEP:g}, 1], got {text!r}")
            return default_fractions(step)
        vals = np.array([float(v) for v in text.split(",") if v.strip()])
    except ValueError:
        raise argparse.ArgumentTypeError(f"fractions must be 'step=0.05' or comma-separated numbers, "
                                         f"got {text!r}") from None
    if vals.size == 0 or not np.isfinite(vals).all() or (vals < 0).any() or (vals > 1).any():
        raise argparse.ArgumentTypeError(f"fractions must lie in [0, 1], got {text!r}")
    return vals


def register(sub) -> None:
    from spectral_physics.pruning import RANKINGS

    p = sub.add_parser("prune", help="node-pruning curve of a trained network",
                       description="Accuracy versus fraction of hidden nodes removed, for a trained network.")
    p.add_argument("model", help="network file (.npz) written by `spectral-physics train --out`, or a PyTorch (.pt), "
                   ".safetensors, Keras (.keras, .h5) or .onnx file of dense layers")
    p.add_argument("--activation", default=None, choices=["elu", "identity", "relu", "tanh"],
                   help="hidden activation of an imported state dict whose file does not state it")
    p.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist, cifar10 or teacher-student")
    p.add_argument("--data-root", default=None,
                   help="folder holding the data sets, searched first (default: the search order of "
                        "'spectral-physics data where')")
    p.add_argument("--ranking", default="eigenvalue,connectivity,random",
                   help=f"comma-separated node rankings among {', '.join(RANKINGS)}")
    p.add_argument("--fractions", type=_fractions, default="step=0.05",
                   help="fractions of hidden nodes removed: 'step=0.05' (default) or e.g. 0,0.5,0.9")
    p.add_argument("--n-test", type=int, default=None, help="evaluate on the first N test examples")
    p.add_argument("--rank-samples", type=int, default=10000,
                   help="training examples used by the activation ranking (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random ranking")
    p.add_argument("--out", required=True, help="netCDF file for the curve (.nc)")
    p.add_argument("--save-pruned", default=None, metavar="PATH",
                   help="also save the network pruned at --prune-fraction by the first ranking (.npz)")
    p.add_argument("--prune-fraction", type=float, default=0.5,
                   help="fraction of hidden nodes removed from the network of --save-pruned")
    p.add_argument("--json", action="store_true", help="print the curve as one JSON object")
    p.add_argument("--no-progress", action="store_true", help="no progress report")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from spectral_physics.interop import load_any
    from spectral_physics.io import save_network
    from spectral_physics.pruning import parse_rankings, prune_nodes, pruning_curve

    from . import check_output_file

    rankings = parse_rankings(args.ranking)
    check_output_file(args.out, "--out", (".nc",))
    check_output_file(args.save_pruned, "--save-pruned", (".npz",))
    if not 0 <= args.prune_fraction < 1:
        raise CLIError(f"--prune-fraction must lie in [0, 1), got {args.prune_fraction}")
    net = load_any(args.model, activation=args.activation)  # .npz or an imported format
    if args.dataset == "teacher-student":
        from spectral_physics.datasets import teacher_student

        data = teacher_student()
    else:
        from spectral_physics.datasets import load_dataset

        data = load_dataset(args.dataset, root=args.data_root)
    if net.sizes[0] != data.x_train.shape[1] or net.sizes[-1] != data.n_classes:
        raise CLIError(f"{args.model} has sizes {net.sizes}, which does not fit {data.name} "
                       f"({data.x_train.shape[1]} inputs, {data.n_classes} classes)")
    x, y = data.x_test, data.y_test
    if args.n_test is not None:
        if args.n_test < 1:
            raise CLIError(f"--n-test must be positive, got {args.n_test}")
        x, y = x[: args.n_test], y[: args.n_test]
    ds = pruning_curve(net, x, y, rankings=rankings, fractions=args.fractions,
                       x_rank=data.x_train[: args.rank_samples], seed=args.seed,
                       progress=not args.no_progress,
                       attrs={"dataset": data.name, "model": str(args.model)})
    from spectral_physics.analysis._xr import write_netcdf

    out = write_netcdf(ds, args.out)
    if args.save_pruned:
        if net.ensemble_size:
            raise CLIError("--save-pruned needs a single network, not an ensemble")
        small = prune_nodes(net, args.prune_fraction, ranking=rankings[0], x=data.x_train[: args.rank_samples],
                            seed=args.seed)
        save_network(small, args.save_pruned, metadata={"pruned_from": str(args.model),
                                                         "fraction": args.prune_fraction, "ranking": rankings[0]})
    mean = ds.accuracy.mean("seed")
    if args.json:
        print(json.dumps({"fraction_removed": ds.fraction_removed.values.tolist(),
                          "accuracy": {r: mean.sel(ranking=r).values.tolist() for r in rankings},
                          "out": str(out)}))
        return 0
    print("removed  " + "  ".join(f"{r:>12s}" for r in rankings))
    for i, f in enumerate(ds.fraction_removed.values):
        print(f"{f:7.2f}  " + "  ".join(f"{float(mean.isel(fraction_removed=i).sel(ranking=r)):12.4f}"
                                         for r in rankings))
    print(f"wrote {out}" + (f"; pruned network saved to {args.save_pruned}" if args.save_pruned else ""))
    if np.isnan(mean.values).any():
        print("note: NaN entries mark fractions that could not be evaluated", file=sys.stderr)
    return 0
