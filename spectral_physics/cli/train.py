"""``spectral-physics train``: train one network and save it."""

from __future__ import annotations

import argparse
import json
import sys

from . import CLIError, positive_float, positive_int

__all__ = ["register", "parse_sizes"]


def parse_sizes(text: str) -> list[int]:
    """``"784,500,10"`` -> ``[784, 500, 10]``, with a one-line error for anything else."""
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"sizes must be comma-separated integers, got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes needs at least two positive integers, got {text!r}")
    return sizes


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that loads a data set."""
    p.add_argument("--dataset", default="mnist",
                   help="mnist, fashion-mnist, cifar10 or teacher-student (default: mnist)")
    p.add_argument("--data-root", default=None, help="directory with the data files (default: search path)")
    p.add_argument("--subset", type=positive_int, default=None, help="use only this many training examples")


def load_data(args, seed: int = 0):
    """Load the data set named on the command line."""
    from spectral_physics.datasets import load_dataset, teacher_student

    if args.dataset == "teacher-student":
        data = teacher_student(seed=seed)
    else:
        data = load_dataset(args.dataset, root=args.data_root)
    if args.subset is not None:
        data = data.subset(args.subset, seed=seed)
    return data


def register(sub) -> None:
    from spectral_physics.activations import ACTIVATIONS
    from spectral_physics.layers import PRESETS
    from spectral_physics.sparse import SPARSE_MODES

    p = sub.add_parser("train", help="train a spectral network", description="Train one network and save it.")
    add_data_arguments(p)
    p.add_argument("--sizes", type=parse_sizes, default=[784, 500, 10], help="e.g. 784,500,10")
    p.add_argument("--train", default="spectral", help=f"preset ({', '.join(PRESETS)}) or names joined by +")
    p.add_argument("--activation", default="relu", choices=sorted(ACTIVATIONS))
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lr", type=positive_float, default=None, help="learning rate (optimiser default)")
    p.add_argument("--optimizer", default="adam", choices=["adam", "adamax", "sgd"])
    p.add_argument("--batch-size", type=positive_int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init", default="default", choices=["default", "paper"])
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--device", default=None, choices=["cpu", "gpu"])
    p.add_argument("--val-fraction", type=float, default=0.0)
    p.add_argument("--patience", type=positive_int, default=None)
    p.add_argument("--l1-eigen", type=float, default=0.0, help="L1 penalty on lam_in and lam_out")
    p.add_argument("--sparsity", type=float, default=None, help="fraction of weights removed, e.g. 0.9")
    p.add_argument("--sparse-mode", default="dynamic-percentile", choices=SPARSE_MODES,
                   help="how --sparsity acts (see spectral_physics.sparse.configure_sparsity)")
    p.add_argument("--sparse-every", type=positive_int, default=100,
                   help="steps between mask re-choices for --sparse-mode dst (default 100)")
    p.add_argument("--max-loss", type=positive_float, default=None,
                   help="explosion bound: a step loss above it stops training as diverged (default 1e6)")
    p.add_argument("--out", default=None, help="save the trained network here (.npz), after every epoch")
    p.add_argument("--json", action="store_true", help="print one JSON object with the results")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from spectral_physics import SpectralMLP, fit
    from spectral_physics.train import DivergenceError

    if args.epochs < 0:
        raise CLIError(f"--epochs must be >= 0, got {args.epochs}")
    data = load_data(args, seed=args.seed)
    if args.sizes[0] != data.x_train.shape[1] or args.sizes[-1] != data.n_classes:
        raise CLIError(f"--sizes {','.join(map(str, args.sizes))} does not fit {data.name}: it needs "
                       f"{data.x_train.shape[1]} inputs and {data.n_classes} outputs")
    net = SpectralMLP(args.sizes, train=args.train, activation=args.activation, seed=args.seed,
                      device=args.device, dtype=args.dtype, init=args.init)
    callbacks = []
    if args.sparsity is not None:
        from spectral_physics.sparse import configure_sparsity

        callbacks = list(configure_sparsity(net, args.sparsity, args.sparse_mode, seed=args.seed,
                                                  every=args.sparse_every) or [])
    if args.out is not None:
        from spectral_physics.io import Checkpoint

        # last, so the saved records carry every other callback's annotations; it also saves
        # at the end (the network fit returns, even with --epochs 0)
        callbacks.append(Checkpoint(args.out))
    l1 = {"lam_in": args.l1_eigen, "lam_out": args.l1_eigen} if args.l1_eigen else None
    try:
        hist = fit(net, data, epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                   lr=args.lr, val_fraction=args.val_fraction, patience=args.patience, seed=args.seed,
                   progress=not args.no_progress and sys.stderr.isatty(), l1=l1, callbacks=callbacks,
                   **({} if args.max_loss is None else {"max_loss": args.max_loss}))
    except DivergenceError as exc:
        raise CLIError(str(exc)) from None
    test_acc = net.accuracy(data.x_test, data.y_test)
    result = {
        "dataset": data.name, "sizes": args.sizes, "train": net.preset, "activation": net.activation,
        "seed": args.seed, "epochs": len(hist.records), "trainable_parameters": net.n_trainable,
        "test_accuracy": test_acc, "epoch_seconds": hist["seconds"], "history": hist.records,
        "out": args.out,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for r in hist.records:
            val = f"  val {r['val_accuracy']:.4f}" if r["val_accuracy"] is not None else ""
            if "mask_flips" in r:
                val += f"  mask flips {r['mask_flips']}"
            print(f"epoch {r['epoch']:3d}  loss {r['loss']:.4f}  train {r['train_accuracy']:.4f}{val}"
                  f"  test {r['test_accuracy']:.4f}  {r['seconds']:.2f} s")
        print(f"{net.preset} {args.sizes}: {net.n_trainable} trainable parameters, "
              f"test accuracy {test_acc:.4f}" + (f", saved to {args.out}" if args.out else ""))
    return 0
