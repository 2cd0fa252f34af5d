"""``spectral-physics train``: train one network and save it."""

from __future__ import annotations

import argparse
import json

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
    p.add_argument("--data-root", default=None,
                   help="folder holding the data sets, searched first (default: the search order of "
                        "'spectral-physics data where')")
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
    p.add_argument("--sizes", type=parse_sizes, default=None,
                   help="e.g. 784,500,10 (default 784,500,10; with --init-from, the model's)")
    p.add_argument("--train", default="spectral", help=f"preset ({', '.join(PRESETS)}) or names joined by +")
    p.add_argument("--activation", default=None, choices=sorted(ACTIVATIONS),
                   help="hidden-layer activation (default relu; with --init-from, the model's)")
    p.add_argument("--epochs", type=int, default=5, help="passes over the training set")
    p.add_argument("--lr", type=positive_float, default=None, help="learning rate (optimiser default)")
    p.add_argument("--optimizer", default="adam", choices=["adam", "adamax", "sgd"], help="optimiser")
    p.add_argument("--batch-size", type=positive_int, default=200, help="examples per step")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation, data order and --subset")
    p.add_argument("--init", default="default", choices=["default", "paper"],
                   help="initialisation: Glorot W for every preset, or the papers' values")
    p.add_argument("--init-from", default=None, metavar="MODEL",
                   help="start from this model's weights (.npz, .pt, .safetensors, .keras, .h5, .onnx): "
                        "phi = W, lam_in = 1, lam_out = 0, then --train picks what trains (e.g. eigen)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="floating-point type")
    p.add_argument("--device", default=None, choices=["cpu", "gpu"],
                   help="where the network trains (default: SPECTRAL_PHYSICS_DEVICE, else cpu)")
    p.add_argument("--val-fraction", type=float, default=0.0,
                   help="fraction of the training set held out for validation")
    p.add_argument("--patience", type=positive_int, default=None,
                   help="stop after this many epochs without a better validation loss (default: never)")
    p.add_argument("--l1-eigen", type=float, default=0.0, help="L1 penalty on lam_in and lam_out")
    p.add_argument("--sparsity", type=float, default=None, help="fraction of weights removed, e.g. 0.9")
    p.add_argument("--sparse-mode", default="dynamic-percentile", choices=SPARSE_MODES,
                   help="how --sparsity acts (see spectral_physics.sparse.configure_sparsity; default: "
                        "dynamic-percentile)")
    p.add_argument("--sparse-every", type=positive_int, default=100,
                   help="steps between mask re-choices for --sparse-mode dst (default 100)")
    p.add_argument("--max-loss", type=positive_float, default=None,
                   help="explosion bound: a step loss above it stops training as diverged (default 1e6)")
    p.add_argument("--out", default=None, help="save the trained network here (.npz), after every epoch")
    p.add_argument("--json", action="store_true", help="print one JSON object with the results")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress report (default: a bar on a terminal, a line per 10%% of the steps in a log)")
    p.set_defaults(func=run)


def _init_from(args):
    """The network of ``--init-from`` (any file load_any reads), checked against --sizes, --activation, --init."""
    from spectral_physics.interop import load_any

    base = load_any(args.init_from, activation=args.activation, device=args.device)
    if base.ensemble_size:
        raise CLIError(f"--init-from {args.init_from} holds an ensemble of {base.ensemble_size}; export one member "
                       "first (spectral-physics export --member E)")
    if args.sizes is not None and args.sizes != base.sizes:
        raise CLIError(f"--sizes {','.join(map(str, args.sizes))} differs from the sizes of --init-from "
                       f"{args.init_from} ({','.join(map(str, base.sizes))}); leave --sizes out")
    if args.init != "default":
        raise CLIError("--init chooses how a new network starts; it does not apply with --init-from")
    args.sizes = base.sizes
    return base


def run(args) -> int:
    from spectral_physics import SpectralMLP, fit
    from spectral_physics.train import DivergenceError

    from . import check_output_file

    if args.epochs < 0:
        raise CLIError(f"--epochs must be >= 0, got {args.epochs}")
    check_output_file(args.out, "--out", (".npz",))
    base = _init_from(args) if args.init_from is not None else None  # fixes args.sizes
    args.sizes = args.sizes or [784, 500, 10]
    data = load_data(args, seed=args.seed)
    if args.sizes[0] != data.x_train.shape[1] or args.sizes[-1] != data.n_classes:
        raise CLIError(f"--sizes {','.join(map(str, args.sizes))} does not fit {data.name}: it needs "
                       f"{data.x_train.shape[1]} inputs and {data.n_classes} outputs")
    if base is not None:
        from spectral_physics.interop import as_spectral

        net = as_spectral(base, train=args.train, dtype=args.dtype, device=args.device, seed=args.seed)
    else:
        net = SpectralMLP(args.sizes, train=args.train, activation=args.activation or "relu", seed=args.seed,
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
        # --init-from: the start was that model, not this seed's initialisation (eigenstats'
        # "initial" reference then cannot be rebuilt)
        meta = {"init_from": str(args.init_from)} if args.init_from else None
        callbacks.append(Checkpoint(args.out, metadata=meta))
    l1 = {"lam_in": args.l1_eigen, "lam_out": args.l1_eigen} if args.l1_eigen else None
    try:
        hist = fit(net, data, epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                   lr=args.lr, val_fraction=args.val_fraction, patience=args.patience, seed=args.seed,
                   progress=not args.no_progress, l1=l1, callbacks=callbacks,
                   **({} if args.max_loss is None else {"max_loss": args.max_loss}))
    except DivergenceError as exc:
        raise CLIError(str(exc)) from None
    test_acc = net.accuracy(data.x_test, data.y_test)
    result = {
        "dataset": data.name, "sizes": args.sizes, "train": net.preset, "activation": net.activation,
        "seed": args.seed, "epochs": len(hist.records), "trainable_parameters": net.n_trainable,
        "test_accuracy": test_acc, "epoch_seconds": hist["seconds"], "history": hist.records,
        "out": args.out, "init_from": args.init_from,
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
