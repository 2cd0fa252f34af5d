"""``spectral-physics ntt``: Neural Tangent Transfer, then supervised training under the found mask.

Example::

    spectral-physics ntt --dataset mnist --sizes 784,300,100,10 --density 0.03 --out ntt.npz
"""

from __future__ import annotations

import argparse
import json

from . import CLIError

__all__ = ["register", "run"]


def _number(kind, low=None, low_open=True):
    def conv(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if low is not None and (v <= low if low_open else v < low):
            raise argparse.ArgumentTypeError(f"must be {'>' if low_open else '>='} {low}, got {text!r}")
        return v

    return conv


def register(sub) -> None:
    from spectral_physics.activations import ACTIVATIONS
    from spectral_physics.ntk import KINDS
    from spectral_physics.ntt import NTT_DEFAULTS

    from .train import add_data_arguments, parse_sizes

    p = sub.add_parser(
        "ntt", help="label-free sparse wiring by Neural Tangent Transfer",
        description="Neural Tangent Transfer (Liu and Zenke 2020): optimise a magnitude-pruned copy of a "
        "random dense teacher to match its outputs and NTK on unlabeled training images, then train the "
        "found sparse network with labels under its fixed mask.")
    add_data_arguments(p)
    p.add_argument("--sizes", type=parse_sizes, default=[784, 300, 100, 10], help="e.g. 784,300,100,10")
    p.add_argument("--activation", default="relu", choices=sorted(ACTIVATIONS), help="hidden-layer activation")
    p.add_argument("--density", type=float, required=True, help="kept fraction of every layer, in (0, 1]")
    p.add_argument("--steps", type=_number(int, 0, False), default=1000, help="NTT steps (default 1000)")
    p.add_argument("--lr", type=_number(float, 0), default=NTT_DEFAULTS["lr"], help="Adam learning rate of NTT")
    p.add_argument("--batch-size", type=_number(int, 2, False), default=NTT_DEFAULTS["batch_size"],
                   help="unlabeled images per NTT step")
    p.add_argument("--lambda-k", type=_number(float, 0, False), default=NTT_DEFAULTS["lambda_k"],
                   help="weight of the kernel distance in the NTT loss")
    p.add_argument("--lambda-2", type=_number(float, 0, False), default=NTT_DEFAULTS["lambda_2"],
                   help="L2 penalty on the student's weights")
    # 0 is refused: "every 0 steps" reads as "constantly"; a value >= --steps says "never" plainly
    p.add_argument("--mask-every", type=_number(int, 0), default=NTT_DEFAULTS["mask_every"],
                   help=f"re-choose the mask every this many steps (default {NTT_DEFAULTS['mask_every']}; "
                        "a value >= --steps keeps the initial mask)")
    p.add_argument("--kind", default=NTT_DEFAULTS["kind"], choices=list(KINDS), help="student kernel matched")
    p.add_argument("--scope", default="layer", choices=["layer", "global"],
                   help="magnitude masks per layer or with one global threshold (default: layer)")
    p.add_argument("--val-size", type=_number(int, 2, False), default=64,
                   help="held-out images the validation losses are measured on")
    p.add_argument("--val-every", type=_number(int, 1, False), default=100,
                   help="NTT steps between validation points (and progress lines in a log)")
    p.add_argument("--epochs", type=_number(int, 0, False), default=10,
                   help="supervised epochs under the found mask (0: skip)")
    p.add_argument("--sup-lr", type=_number(float, 0), default=1e-3,
                   help="Adam learning rate of the supervised phase")
    p.add_argument("--sup-batch-size", type=_number(int, 1, False), default=64,
                   help="examples per step of the supervised phase")
    p.add_argument("--no-standardize", dest="standardize", action="store_false",
                   help="keep the inputs as loaded (default: standardise with the training mean and std, "
                        "as the reference NTT code does; the NTT loss balance depends on the input scale)")
    p.add_argument("--seed", type=int, default=0, help="seed of the teacher, the data order and --subset")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="floating-point type")
    p.add_argument("--device", default=None, choices=["cpu", "gpu"],
                   help="where the teacher and the student train (default: SPECTRAL_PHYSICS_DEVICE, else cpu)")
    p.add_argument("--out", default=None, help="save the sparse network here (.npz)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the results")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress report (default: a bar on a terminal, a line per 10%% of the steps in a log)")
    p.set_defaults(func=run)


def run(args) -> int:
    from spectral_physics.ntt import make_teacher, neural_tangent_transfer, supervised_phase
    from spectral_physics.sparse import check_density
    from spectral_physics.train import DivergenceError

    from . import check_output_file
    from .train import load_data

    check_density(args.density, "--density")
    check_output_file(args.out, "--out", (".npz",))
    data = load_data(args, seed=args.seed)
    if args.sizes[0] != data.x_train.shape[1] or args.sizes[-1] != data.n_classes:
        raise CLIError(f"--sizes {','.join(map(str, args.sizes))} does not fit {data.name}: it needs "
                       f"{data.x_train.shape[1]} inputs and {data.n_classes} outputs")
    if args.standardize:
        data = data.standardized()
    progress = not args.no_progress  # a bar on a terminal; in a log, a line per 10 % of the steps
    teacher = make_teacher(args.sizes, activation=args.activation, seed=args.seed, dtype=args.dtype,
                           device=args.device)
    try:
        res = neural_tangent_transfer(
            teacher, data.x_train, args.density, steps=args.steps, lr=args.lr, batch_size=args.batch_size,
            lambda_k=args.lambda_k, lambda_2=args.lambda_2, mask_every=args.mask_every, kind=args.kind,
            scope=args.scope, val_size=args.val_size, val_every=args.val_every, seed=args.seed, progress=progress)
        net = res.student
        hist = None
        if args.epochs:
            hist = supervised_phase(net, data, epochs=args.epochs, lr=args.sup_lr,
                                    batch_size=args.sup_batch_size, seed=args.seed, progress=progress)
    except DivergenceError as exc:
        raise CLIError(str(exc)) from None
    test_acc = net.accuracy(data.x_test, data.y_test)
    result = {
        "dataset": data.name, "sizes": args.sizes, "activation": args.activation, "density": args.density,
        "standardized_inputs": args.standardize,
        "ntt": res.config, "ntt_history": res.history, "supervised_epochs": args.epochs,
        "test_accuracy": test_acc, "out": args.out,
    }
    if args.out is not None:
        from spectral_physics.io import save_network

        save_network(net, args.out, history=hist, metadata={"ntt": res.config, "ntt_history": res.history,
                                                             "standardized_inputs": args.standardize})
    if args.json:
        print(json.dumps(result))
    else:
        h = res.history
        print(f"NTT {args.steps} steps: validation loss {h['val_loss'][0]:.4g} -> {h['val_loss'][-1]:.4g} "
              f"(kernel {h['val_kernel_dist'][0]:.4g} -> {h['val_kernel_dist'][-1]:.4g}, "
              f"outputs {h['val_target_dist'][0]:.4g} -> {h['val_target_dist'][-1]:.4g}), "
              f"{h['seconds'][-1]:.1f} s")
        print(f"density {args.density}: test accuracy {test_acc:.4f} after {args.epochs} supervised epochs"
              + (f", saved to {args.out}" if args.out else ""))
    return 0
