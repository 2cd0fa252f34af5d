"""``spectral-physics experiment``: run one paper experiment of the library from the command line.

Every field of the experiment's configuration dataclass is an option of the same name
(``--densities 1,0.1,0.02`` for a tuple, ``--n-train 5000`` for an int), so the command
follows the library exactly; ``--config FILE.toml`` sets fields from a file first.

Example
-------
::

    spectral-physics experiment sparse --sizes 784,128,10 --densities 1,0.1 --epochs 1 \\
        --n-train 2000 --results sparse.runs --out sparse.nc
    spectral-physics experiment ntt --datasets mnist --n-train 3000 --ntt-steps 60 --epochs 1 \\
        --results ntt.runs --out ntt.nc
    spectral-physics experiment pruning --datasets mnist --protocols post --epochs 3 \\
        --results pruning.runs --out pruning.nc

Each finished run is saved in ``--results`` at once; running the same command again
resumes (``--overwrite`` starts again).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from pathlib import Path
from typing import Any

from spectral_physics.cli import positive_int

__all__ = ["register", "EXPERIMENTS"]

#: name -> (module, config class, experiment function), imported when the command runs
EXPERIMENTS = {
    "sparse": ("spectral_physics.analysis.experiments.sparse", "SparseConfig", "sparse_vs_direct",
               "sparse spectral versus sparse direct training, with topology turnover"),
    "ntt": ("spectral_physics.analysis.experiments.ntt", "NTTConfig", "ntt_comparison",
            "Neural Tangent Transfer versus the other sparse wirings"),
    "pruning": ("spectral_physics.analysis.experiments.pruning", "PruningConfig", "pruning_experiment",
                "node pruning: post-training and the pre-training filter"),
}


def _parser_for(annotation: Any):
    """An argparse type for a config field's annotation (tuples are comma-separated)."""
    text = str(annotation)
    scalar = float if "float" in text else int if "int" in text else str
    if "bool" in text:
        def boolean(v: str) -> bool:
            if v.lower() in ("1", "true", "yes"):
                return True
            if v.lower() in ("0", "false", "no"):
                return False
            raise argparse.ArgumentTypeError(f"expected true or false, got {v!r}")
        return boolean
    if "tuple" in text:
        def many(v: str) -> tuple:
            try:
                return tuple(scalar(t.strip()) for t in v.split(",") if t.strip())
            except ValueError:
                raise argparse.ArgumentTypeError(f"expected comma-separated {scalar.__name__} values, "
                                                 f"got {v!r}") from None
        return many

    def one(v: str):
        if "None" in text and v.lower() == "none":
            return None
        try:
            return scalar(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {scalar.__name__}, got {v!r}") from None
    return one


def _config_class(name: str):
    import importlib

    module, cls, fn, _ = EXPERIMENTS[name]
    mod = importlib.import_module(module)
    return getattr(mod, cls), getattr(mod, fn)


def register(sub) -> None:
    """Add the ``experiment`` subcommand (one sub-subcommand per experiment)."""
    p = sub.add_parser("experiment", help="run a paper experiment (sparse, ntt, pruning) into a resumable run store",
                       description=__doc__.split("\n\n")[1].replace("``", "'"),
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    kinds = p.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    for name, (*_, help_text) in EXPERIMENTS.items():
        config_cls, _ = _config_class(name)
        q = kinds.add_parser(name, help=help_text, description=f"{help_text.capitalize()}.",
                             formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        q.add_argument("--results", type=Path, required=True, help="folder of the per-run result files")
        q.add_argument("--out", type=Path, default=None, help="netCDF file for the combined Dataset")
        q.add_argument("--config", type=Path, default=None, help="TOML file of configuration fields")
        q.add_argument("--data-root", default=None,
                       help="folder holding the data sets, searched first (default: the search order of "
                            "'spectral-physics data where')")
        q.add_argument("--workers", type=positive_int, default=1, help="runs in parallel (local processes)")
        q.add_argument("--device", default=None, choices=["cpu", "gpu"],
                       help="where the runs train (sets SPECTRAL_PHYSICS_DEVICE for them; default: "
                            "SPECTRAL_PHYSICS_DEVICE, else cpu)")
        q.add_argument("--overwrite", action="store_true", help="delete finished runs and start again")
        q.add_argument("--no-progress", action="store_true",
                       help="no progress report (default: a bar on a terminal, a line per 10%% of the runs in a log)")
        hints = typing.get_type_hints(config_cls)
        for f in dataclasses.fields(config_cls):
            default = f.default
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
            q.add_argument(f"--{f.name.replace('_', '-')}", dest=f"field_{f.name}", metavar=f.name.upper(),
                           type=_parser_for(hints[f.name]),
                           default=None, help=f"(config default: {shown})")
        q.set_defaults(func=run, experiment=name)


def run(args: argparse.Namespace) -> int:
    """Build the configuration, run the experiment, write the Dataset."""
    config_cls, experiment = _config_class(args.experiment)
    values: dict[str, Any] = {}
    if args.config is not None:
        import tomllib

        try:
            values.update(tomllib.loads(args.config.read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SystemExit(f"spectral-physics experiment: error: --config {args.config}: {exc}") from None
    values.update({k[len("field_"):]: v for k, v in vars(args).items() if k.startswith("field_") and v is not None})
    try:
        config = config_cls.from_dict(values)
    except (TypeError, ValueError) as exc:
        print(f"spectral-physics experiment: error: {exc}", file=sys.stderr)
        return 2
    from spectral_physics.cli import check_output_dir, check_output_file

    check_output_file(args.out, "--out", (".nc",))  # before any run: a wrong name costs nothing
    check_output_dir(args.results, "--results")
    from spectral_physics.backend import default_device

    with default_device(args.device):
        ds = experiment(config, args.results, resume=True, overwrite=args.overwrite, data_root=args.data_root,
                        workers=args.workers, progress=not args.no_progress)
    if args.out is not None:
        from ._xr import write_netcdf

        write_netcdf(ds, args.out)
        print(f"written to {args.out}")
    print(f"{args.experiment}: {dict(ds.sizes)}; results in {args.results}")
    return 0
