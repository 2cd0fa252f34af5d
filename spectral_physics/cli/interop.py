"""``spectral-physics import | export``: models from and to PyTorch, safetensors, Keras, ONNX.

Examples::

    spectral-physics import model.pt --activation relu --out net.npz
    spectral-physics import model.keras --out net.npz --train eigen
    spectral-physics export net.npz --to net.onnx

``import`` reads the dense layers of a model file (PyTorch state dict, safetensors,
Keras ``.keras`` / ``.h5``, ONNX) into a network computing the same logits and saves it
as ``.npz``; ``export`` writes any model file the analyses accept as safetensors, ONNX
or a PyTorch state dict (format from the suffix of ``--to``). See
:mod:`spectral_physics.interop`.
"""

from __future__ import annotations

import json
import sys

from . import CLIError

__all__ = ["register_import", "register_export"]


def _model_arguments(p) -> None:
    from spectral_physics.activations import ACTIVATIONS

    p.add_argument("model", metavar="MODEL",
                   help="model file: .npz, PyTorch .pt/.pth, .safetensors, .keras, Keras .h5 or .onnx")
    p.add_argument("--activation", default=None, choices=sorted(ACTIVATIONS),
                   help="hidden-layer activation of a state dict whose file does not state it")
    p.add_argument("--layers", default=None, metavar="NAME,NAME,...",
                   help="layer names of a state dict in the order they are applied (default: from the file)")


def _layer_order(args):
    if args.layers is None:
        return None
    order = [s.strip() for s in args.layers.split(",") if s.strip()]
    if not order:
        raise CLIError(f"--layers must name at least one layer, got {args.layers!r}")
    return order


def register_import(sub) -> None:
    p = sub.add_parser("import", help="import a PyTorch, safetensors, Keras or ONNX model",
                       description="Read the dense layers of a model file into a spectral network computing the "
                                   "same logits and save it (.npz).")
    _model_arguments(p)
    p.add_argument("--out", required=True, metavar="PATH.npz", help="save the network here")
    p.add_argument("--train", default="direct",
                   help="preset of the saved network (default direct; e.g. eigen: phi = W, lam_in = 1, "
                        "lam_out = 0, eigenvalues trainable)")
    p.add_argument("--dtype", default=None, choices=["float32", "float64"],
                   help="default: float64 when the file is, else float32")
    p.add_argument("--json", action="store_true", help="print one JSON object describing the import")
    p.set_defaults(func=run_import)


def run_import(args) -> int:
    from spectral_physics.interop import detect_format, load_any, read_dense
    from spectral_physics.io import save_network

    fmt = detect_format(args.model)
    if fmt == "npz":
        net = load_any(args.model, activation=args.activation)
        if args.train != "direct" or args.dtype:
            from spectral_physics.interop import as_spectral

            net = as_spectral(net, train=args.train, dtype=args.dtype)
        summary = f"npz {args.model}: sizes {','.join(map(str, net.sizes))}, {net.activation}"
        notes: list[str] = []
        output = "identity"
    else:
        stack = read_dense(args.model, layer_order=_layer_order(args))
        net = stack.to_network(args.activation, train=args.train, dtype=args.dtype)
        summary, notes, output = stack.summary(), stack.notes, stack.output
    save_network(net, args.out, metadata={"imported_from": str(args.model), "imported_format": fmt,
                                          "imported_output": output, "import_notes": notes})
    if args.json:
        print(json.dumps({"model": str(args.model), "format": fmt, "sizes": net.sizes,
                          "activation": net.activation, "train": net.preset, "output": output, "notes": notes,
                          "trainable_parameters": net.n_trainable, "out": str(args.out)}))
    else:
        print(summary)
        print(f"saved {net.preset} network ({net.n_trainable} trainable parameters) to {args.out}")
    return 0


def register_export(sub) -> None:
    from spectral_physics.interop import EXPORT_FORMATS

    p = sub.add_parser("export", help="export a model as safetensors, ONNX or a PyTorch state dict",
                       description="Write a model's effective dense weights (mask * W, any preset) and biases as "
                                   "safetensors, ONNX or a PyTorch state dict.")
    _model_arguments(p)
    p.add_argument("--to", required=True, metavar="FILE",
                   help=f"destination; the format comes from its suffix ({', '.join(EXPORT_FORMATS)})")
    p.add_argument("--member", type=int, default=None, help="ensemble member to export (ensembles only)")
    p.set_defaults(func=run_export)


def run_export(args) -> int:
    from pathlib import Path

    from spectral_physics.interop import EXPORT_FORMATS, export_network, load_any

    to = Path(args.to)
    if to.suffix.lower() not in EXPORT_FORMATS:
        raise CLIError(f"--to {args.to}: cannot tell the format from the suffix {to.suffix!r}; use one of "
                       f"{', '.join(EXPORT_FORMATS)}")
    net = load_any(args.model, activation=args.activation, layer_order=_layer_order(args))
    if net.ensemble_size:
        if args.member is None:
            raise CLIError(f"{args.model} holds an ensemble of {net.ensemble_size}; pick one with --member E")
        if not 0 <= args.member < net.ensemble_size:
            raise CLIError(f"--member must lie in [0, {net.ensemble_size - 1}], got {args.member}")
        net = net.member(args.member)
    elif args.member is not None:
        raise CLIError(f"--member applies to ensembles; {args.model} holds a single network")
    export_network(net, to)
    print(f"wrote {to} ({EXPORT_FORMATS[to.suffix.lower()]}: {net.preset} network, sizes "
          f"{','.join(map(str, net.sizes))}, {net.activation})", file=sys.stdout)
    return 0
