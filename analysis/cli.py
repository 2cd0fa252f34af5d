"""``spectral-physics eigenstats | nodes | homeostasis``: analyses of saved networks.

Each command loads one or more model files written by ``spectral-physics train``,
prints a short table per layer, and optionally writes the Dataset (``--out x.nc``,
netCDF-4) and a figure (``--plot x.png``). Registered through the
``spectral_physics.commands`` entry points in ``pyproject.toml``.

Examples
--------
::

    spectral-physics eigenstats eigen.npz --out stats.nc
    spectral-physics nodes eigen.npz --dataset mnist --n-eval 2000 --out nodes.nc
    spectral-physics homeostasis eigen.npz --dataset mnist --out homeo.nc --plot homeo.png
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from spectral_physics.cli import positive_int

__all__ = ["register_eigenstats", "register_nodes", "register_homeostasis"]


def _error(msg: str) -> Exception:
    from spectral_physics.cli import CLIError

    return CLIError(msg)


def _common(p, *, data_required: bool) -> None:
    p.add_argument("models", nargs="+", metavar="MODEL", help="model file(s) written by 'spectral-physics train', or "
                   "PyTorch (.pt), .safetensors, Keras (.keras, .h5) or .onnx files of dense layers")
    p.add_argument("--activation", default=None, choices=["elu", "identity", "relu", "tanh"],
                   help="hidden activation of an imported state dict whose file does not state it")
    p.add_argument("--dataset", default=None if not data_required else "mnist",
                   help="mnist, fashion-mnist, cifar10" + (" (default: mnist)" if data_required else
                                                           " (recorded only; not needed)"))
    p.add_argument("--data-root", default=None,
                   help="folder holding the data sets, searched first (default: the search order of "
                        "'spectral-physics data where')")
    p.add_argument("--out", default=None, metavar="PATH.nc", help="write the Dataset here (netCDF-4)")
    p.add_argument("--plot", default=None, metavar="PATH.png",
                   help=f"save the figure here ({', '.join(PLOT_SUFFIXES)})")


#: file types --plot can write
PLOT_SUFFIXES = (".png", ".pdf", ".svg")


def _check_outputs(args) -> None:
    """--out and --plot: right suffix and a writable folder, checked before any work."""
    from spectral_physics.cli import check_output_file

    check_output_file(args.out, "--out", (".nc",))
    check_output_file(args.plot, "--plot", PLOT_SUFFIXES)


def _data_arguments(p) -> None:
    p.add_argument("--n-eval", type=positive_int, default=2000,
                   help="test examples used (seeded random subset; default 2000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the test subset and random baselines")


def _load_models(paths, activation=None):
    from spectral_physics.interop import load_any

    nets = []
    for p in paths:
        if not Path(p).exists():
            raise _error(f"model file not found: {p}")
        nets.append(load_any(p, device="cpu", activation=activation))  # .npz or an imported format
    sizes = nets[0].sizes
    for p, n in zip(paths, nets):
        if n.sizes != sizes:
            raise _error(f"{p}: sizes {n.sizes} differ from {paths[0]}: {sizes}; analyse them separately")
    return nets


def _initial_known(path) -> bool:
    """Whether a model file's initial state can be rebuilt from its seed and configuration.

    Not for an imported format, nor for a library file that was imported
    (``spectral-physics import``) or fine-tuned from another model (``train --init-from``):
    their start was not the library's seeded initialisation.
    """
    from spectral_physics.io import ModelFileError, read_header

    if Path(path).suffix.lower() != ".npz":
        return False
    try:
        meta = read_header(path).get("metadata") or {}
    except (OSError, ModelFileError):
        return False
    return not ({"imported_from", "init_from"} & set(meta))


def _load_eval(args, nets):
    from spectral_physics.datasets import load_dataset

    data = load_dataset(args.dataset, root=args.data_root)
    if data.x_test.shape[1] != nets[0].sizes[0] or data.n_classes != nets[0].sizes[-1]:
        raise _error(f"{args.models[0]} has sizes {nets[0].sizes}, which do not fit {data.name} "
                     f"({data.x_test.shape[1]} inputs, {data.n_classes} classes)")
    n = min(args.n_eval, data.x_test.shape[0])
    idx = np.sort(np.random.default_rng(np.random.SeedSequence([args.seed, 11])).permutation(data.x_test.shape[0])[:n])
    return data, data.x_test[idx], data.y_test[idx]


def _finish(args, ds, plot_fn) -> None:
    from ._xr import write_netcdf

    if args.out:
        ds.attrs["models"] = ", ".join(str(m) for m in args.models)
        if args.dataset:
            ds.attrs["dataset"] = args.dataset
        path = write_netcdf(ds, args.out)
        print(f"wrote {path}")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        fig = plot_fn(ds)
        from spectral_physics.atomic import atomic_path

        with atomic_path(args.plot) as tmp:
            fig.savefig(tmp, dpi=130, bbox_inches="tight", format=Path(args.plot).suffix.lstrip(".") or "png")
        print(f"wrote {args.plot}")


def _pm(ds, name, sel, fmt="{:.3f}") -> str:
    """'value' or 'mean +- sem' over seeds."""
    v = np.asarray(ds[name].sel(sel).values, dtype=float)
    v = v[np.isfinite(v)] if v.ndim else v
    if np.ndim(v) == 0:
        return fmt.format(float(v)) if np.isfinite(v) else "nan"
    if v.size == 0:
        return "nan"
    if v.size == 1:
        return fmt.format(v[0])
    return f"{fmt.format(v.mean())}+-{fmt.format(v.std(ddof=1) / math.sqrt(v.size))}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    w = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w[i]) if i else str(c).ljust(w[i]) for i, c in enumerate(r))  # noqa: E731
    return "\n".join([line(header), "  ".join("-" * x for x in w), *[line(r) for r in rows]])


# ------------------------------------------------------------------ eigenstats
def register_eigenstats(sub) -> None:
    p = sub.add_parser("eigenstats", help="eigenvalue and weight-spectrum statistics of saved networks",
                       description="Eigenvalue statistics (trained vs initial vs random null), "
                                   "Marchenko-Pastur fits, power-law tails, spacing ratios.")
    _common(p, data_required=False)
    p.add_argument("--bins", type=positive_int, default=50, help="histogram bins per layer (default 50)")
    p.add_argument("--near-zero", type=float, default=0.01,
                   help="|lambda| <= this * max|lambda| counts as near zero (default 0.01)")
    p.add_argument("--dense-check", action="store_true",
                   help="also check eigvals(transfer operator) densely (slow for wide layers)")
    p.set_defaults(func=run_eigenstats)


def run_eigenstats(args) -> int:
    from .eigenstats import eigenstats_ensemble
    from .plots import plot_eigenstats
    from .rmt import R_GOE, R_POISSON

    _check_outputs(args)
    nets = _load_models(args.models, args.activation)
    if not 0 <= args.near_zero < 1:
        raise _error(f"--near-zero must lie in [0, 1), got {args.near_zero}")
    unknown = [p for p in args.models if not _initial_known(p)]
    ds = eigenstats_ensemble(nets, bins=args.bins, near_zero_rtol=args.near_zero, dense_check=args.dense_check,
                             initial=None if unknown else "auto")
    if len(nets) == 1:
        ds = ds.isel(seed=0)
    net = nets[0]
    print(f"eigenvalue statistics: {net.preset} {net.sizes}, {net.activation}, {len(nets)} network(s)"
          + ("  (mean+-sem over seeds)" if len(nets) > 1 else ""))
    print(f"references: <r> Poisson {R_POISSON:.3f}, GOE {R_GOE:.3f}; near zero: |lam| <= "
          f"{args.near_zero:g} max|lam|")
    if unknown:
        print(f"initial: not known for {unknown[0]}{' and others' if len(unknown) > 1 else ''} (imported, or "
              "trained from an imported start), so its rows are NaN; the random null stays")
    for k in ds.layer.values:
        print(f"\nlayer {k}: {int(ds.n_in.sel(layer=k))} -> {int(ds.n_out.sel(layer=k))}")
        rows = []
        for src in ("trained", "initial", "random"):
            s = {"layer": k, "source": src}
            rows.append([
                src,
                _pm(ds, "lam_in_mean", s, "{:.3f}") + " / " + _pm(ds, "lam_in_std", s, "{:.3f}"),
                _pm(ds, "lam_out_mean", s, "{:.3f}") + " / " + _pm(ds, "lam_out_std", s, "{:.3f}"),
                _pm(ds, "lam_in_near_zero_fraction", s, "{:.3f}"),
                _pm(ds, "lam_out_near_zero_fraction", s, "{:.3f}"),
                _pm(ds, "lambda_r", s),
                _pm(ds, "mp_sigma2_fixed_q", s, "{:.3g}"),
                _pm(ds, "mp_ks_fixed_q", s),
                _pm(ds, "mp_n_above_fixed_q", s, "{:.0f}"),
                _pm(ds, "tail_alpha", s, "{:.2f}"),
                _pm(ds, "esd_r", s),
            ])
        print(_table(["source", "lam_in mean/std", "lam_out mean/std", "lam_in~0", "lam_out~0", "<r> lam",
                      "MP sigma2", "MP KS", "above l+", "tail alpha", "<r> W^TW"], rows))
    if "operator_structure_error" in ds:
        print(f"\ntransfer operators: eigenvalues = lambdas (block-triangular, A Phi = Phi Lambda); "
              f"max structure error {float(ds.operator_structure_error.max()):.1e}, "
              f"max eigenvector residual {float(ds.operator_eigvec_residual.max()):.1e}")
    _finish(args, ds, plot_eigenstats)
    return 0


# ------------------------------------------------------------------ nodes
def register_nodes(sub) -> None:
    p = sub.add_parser("nodes", help="does |lambda| predict node importance? (exact ablations)",
                       description="Exact single-node ablations on a test subset, rank correlations with "
                                   "|lam_out|, |lam_in|, weight norms, activity; pruning curves.")
    _common(p, data_required=True)
    _data_arguments(p)
    p.add_argument("--no-pruning", action="store_true", help="skip the pruning curves")
    p.set_defaults(func=run_nodes)


def run_nodes(args) -> int:
    from .nodes import SCORES, node_correspondence_ensemble
    from .plots import plot_node_correspondence

    _check_outputs(args)
    nets = _load_models(args.models, args.activation)
    data, x, y = _load_eval(args, nets)
    ds = node_correspondence_ensemble(nets, x, y, image_shape=data.image_shape, seed=args.seed,
                                      pruning=not args.no_pruning)
    if len(nets) == 1:
        ds = ds.isel(seed=0)
    net = nets[0]
    print(f"node correspondence: {net.preset} {net.sizes}, {len(nets)} network(s), {y.size} {data.name} "
          f"test examples; baseline accuracy {_pm(ds, 'baseline_accuracy', {}, '{:.4f}')}")
    for k in ds.layer.values:
        n = int(ds.n_hidden.sel(layer=k))
        drop = ds.acc_drop.sel(layer=k).values[..., :n]
        print(f"\nhidden layer after weights {k} ({n} nodes): single-node accuracy drop max "
              f"{np.nanmax(drop):.4f}, nodes with zero drop {np.mean(drop == 0):.0%}")
        rows = []
        for sc in SCORES:
            s = {"layer": k, "score": sc}
            rows.append([sc, _pm(ds, "spearman", {**s, "truth": "loss_increase"}),
                         _pm(ds, "kendall", {**s, "truth": "loss_increase"}),
                         _pm(ds, "spearman", {**s, "truth": "acc_drop"})])
        print(_table(["score", "Spearman(loss)", "Kendall(loss)", "Spearman(acc)"], rows))
    if "pruning_accuracy" in ds:
        fr = ds.fraction_removed.values
        show = [f for f in (0.1, 0.3, 0.5, 0.7, 0.9) if np.any(np.isclose(fr, f))]
        rows = [[str(r)] + [_pm(ds, "pruning_accuracy", {"ranking": r, "fraction_removed": f}, "{:.3f}")
                            for f in show] for r in ds.ranking.values]
        print("\npruning (accuracy after removing the lowest-ranked fraction of hidden nodes, no retraining)")
        print(_table(["ranking"] + [f"{f:.0%}" for f in show], rows))
    _finish(args, ds, plot_node_correspondence)
    return 0


# ------------------------------------------------------------------ homeostasis
def register_homeostasis(sub) -> None:
    p = sub.add_parser("homeostasis", help="test the homeostatic-plasticity reading of lam_out",
                       description="Drive-gain correlation, activity spread trained vs frozen eigenvalues "
                                   "(permutation test), silencing.")
    _common(p, data_required=True)
    _data_arguments(p)
    p.add_argument("--permutations", type=positive_int, default=5000, help="permutations of the CV test")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.set_defaults(func=run_homeostasis)


def run_homeostasis(args) -> int:
    from ._xr import write_netcdf
    from .homeostasis import homeostasis
    from .plots import plot_homeostasis

    _check_outputs(args)
    nets = _load_models(args.models, args.activation)
    if not 0 < args.alpha < 1:
        raise _error(f"--alpha must lie in (0, 1), got {args.alpha}")
    data, x, y = _load_eval(args, nets)
    results = []
    for path, net in zip(args.models, nets):
        ds = homeostasis(net, x, y, n_permutations=args.permutations, alpha=args.alpha,
                         image_shape=data.image_shape, seed=args.seed)
        results.append(ds)
        print(f"homeostasis: {path}: {net.preset} {net.sizes}, {net.activation}, {y.size} {data.name} test examples")
        for k in ds.layer.values:
            rows = []
            for st in ds.state.values:
                s = {"layer": k, "state": st}
                rows.append([str(st), _pm(ds, "activity_cv", s), _pm(ds, "drive_gain_spearman", s),
                             _pm(ds, "drive_gain_p", s, "{:.2g}"),
                             f"{float(np.nanmean(ds.fraction_active.sel(s))):.3f}"])
            print(f"\nhidden layer after weights {k} ({int(ds.n_hidden.sel(layer=k))} nodes)")
            print(_table(["state", "activity CV", "rho(drive,gain)", "p", "frac active"], rows))
            lk = ds.sel(layer=k)
            print(f"CV trained - frozen = {float(lk.cv_difference):+.3f} (p narrower {float(lk.cv_p):.3g}, "
                  f"p wider {float(lk.cv_p_greater):.3g})  ->  verdict: {str(lk.verdict.values)}")
            if "n_silenced_nodes" in ds:
                for crit in ds.criterion.values:
                    c = lk.sel(criterion=crit)
                    print(f"silenced by |{crit}| ~ 0: {int(c.n_silenced_nodes)} nodes, removing them costs "
                          f"{float(c.silence_nodes_acc_drop):+.4f} accuracy "
                          f"(as many random nodes: {float(c.random_nodes_acc_drop):+.4f})")
        if "n_silenced_inputs" in ds:
            print(f"\nsilenced inputs (|lam_in| near zero): {int(ds.n_silenced_inputs)}, removing them costs "
                  f"{float(ds.silence_inputs_acc_drop):+.4f} accuracy "
                  f"(as many random inputs: {float(ds.random_inputs_acc_drop):+.4f})")
        print(f"verdict: {ds.attrs['verdict']}\n")
    if args.out:
        outs = [args.out] if len(results) == 1 else [
            str(Path(args.out).with_name(f"{Path(args.out).stem}_{i}{Path(args.out).suffix}"))
            for i in range(len(results))]
        for out, ds, model in zip(outs, results, args.models):
            ds.attrs["models"] = str(model)
            ds.attrs["dataset"] = args.dataset
            print(f"wrote {write_netcdf(ds, out)}")
    if args.plot:
        args_out, args.out = args.out, None
        _finish(args, results[0], plot_homeostasis)
        args.out = args_out
    return 0
