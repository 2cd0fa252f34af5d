"""``spectral-physics reproduce``: compute every missing Dataset and draw every paper figure.

Examples
--------
::

    spectral-physics reproduce --quick                      # minutes on 2 cores, qualitative
    spectral-physics reproduce --quick --only pruning_curves phase_diagram
    spectral-physics reproduce --workers 8 --out results/paper   # paper-scale schedules
    spectral-physics reproduce --scheduler tcp://host:8786       # sweeps on a Dask cluster
    spectral-physics reproduce --list

Registered as ``reproduce = "spectral_physics.analysis.cli_reproduce:register"`` under the
``spectral_physics.commands`` entry points in ``pyproject.toml``.
"""

from __future__ import annotations

from pathlib import Path

from spectral_physics.cli import positive_int

__all__ = ["register"]


def register(subparsers) -> None:
    """Add the ``reproduce`` subcommand."""
    p = subparsers.add_parser(
        "reproduce", help="compute missing Datasets and draw every paper figure",
        description="Compute every missing Dataset (sweeps resume; Datasets on disk are reused) and draw "
                    "every figure to OUT (PDF, PNG, provenance JSON). --quick: minutes on 2 cores.",
    )
    p.add_argument("--quick", action="store_true", help="small schedules (subsets, 1-2 epochs, 2-3 seeds)")
    p.add_argument("--only", nargs="+", metavar="NAME", default=None,
                   help="figures (or Datasets) to make, with the Datasets they need; see --list")
    p.add_argument("--workers", type=positive_int, default=None, help="sweep worker processes (default: all cores)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler for the sweeps")
    p.add_argument("--out", type=Path, default=Path("figures/out"),
                   help="figure folder; Datasets in OUT/data (default figures/out)")
    p.add_argument("--data-root", default=None, help="directory holding mnist/ and fashion-mnist/")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--list", action="store_true", help="print the plan and exit")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from spectral_physics.analysis.reproduce import plan, reproduce

    try:
        steps = plan(args.only)
    except ValueError as exc:
        from spectral_physics.cli import CLIError

        raise CLIError(str(exc)) from None
    if args.list:
        for s in steps:
            where = args.out / "data" / s.output if s.kind == "data" else args.out / f"{s.output}.pdf"
            state = "exists" if where.exists() else "missing"
            print(f"{s.kind:7s} {s.name:28s} {state:8s} {where}")
        return 0
    rep = reproduce(quick=args.quick, only=args.only, out=args.out, workers=args.workers,
                    scheduler=args.scheduler, data_root=args.data_root, progress=not args.no_progress)
    for s in rep["steps"]:
        print(f"{s['name']:28s} {s['status']:9s} {s['seconds']:8.1f} s")
    print(f"total {rep['seconds']:.1f} s; figures in {args.out}")
    return 0
