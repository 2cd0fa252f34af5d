"""``spectral-physics reproduce``: compute every missing Dataset and draw every paper figure.

Examples
--------
::

    spectral-physics reproduce --quick                      # minutes on 2 cores, qualitative
    spectral-physics reproduce --quick --only pruning_curves phase_diagram
    spectral-physics reproduce --workers 8 --out results/paper   # paper-scale schedules
    spectral-physics reproduce --scheduler tcp://host:8786       # sweeps on a Dask cluster
    spectral-physics reproduce --list
    spectral-physics reproduce --from results/paper          # every figure from committed Datasets
    spectral-physics reproduce --estimate [--quick]          # predicted time per step, no training

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
    p.add_argument("--workers", type=positive_int, default=None,
                   help="worker processes of the sweep and the experiments (default: all cores, or one per "
                        "GPU with --device gpu; 1: all in this process)")
    p.add_argument("--device", default=None, choices=["cpu", "gpu"],
                   help="where the networks train (sets SPECTRAL_PHYSICS_DEVICE for every step and its "
                        "workers; default: SPECTRAL_PHYSICS_DEVICE, else cpu)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler for the sweep and the experiments")
    p.add_argument("--out", type=Path, default=None,
                   help="figure folder; each schedule's Datasets in OUT/quick/data or OUT/full/data "
                        "(default: figures/out; with --from, the folder read)")
    p.add_argument("--from", dest="source", type=Path, default=None, metavar="DIR",
                   help="compute nothing: draw every figure from the Datasets an earlier run left in DIR (its "
                        "--out, e.g. results/paper; the full schedule's, or the quick one's with --quick); "
                        "exit status 1 when a figure's Datasets are missing")
    p.add_argument("--data-root", default=None,
                   help="folder holding mnist/ and fashion-mnist/, searched first (default: the search order "
                        "of 'spectral-physics data where')")
    p.add_argument("--blas-threads", type=positive_int, default=None, metavar="N",
                   help="BLAS threads of this process and of each worker process it starts (default: 1; "
                        "more only pays on an idle machine)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress report (default: a bar on a terminal, lines per step and per 10%% of a "
                        "step's runs in a log)")
    p.add_argument("--list", action="store_true", help="print the plan and exit")
    p.add_argument("--estimate", action="store_true",
                   help="predict each step's wall time from a short calibration on this machine (trains "
                        "nothing of the schedule), print the table and write it to OUT/estimate-quick.json or "
                        "OUT/estimate-full.json")
    p.set_defaults(func=_run)


def _list(steps, args) -> int:
    """The plan, what of it exists, and how far each unfinished grid step's run store is."""
    from spectral_physics.analysis.reproduce import schedule_label, schedule_of, stored_runs, work_dir

    work = work_dir(args.out, schedule_label(args.quick))
    for s in steps:
        where = work / "data" / s.output if s.kind == "data" else args.out / f"{s.output}.pdf"
        state = "exists" if where.exists() else "missing"
        line = f"{s.kind:7s} {s.name:28s} {state:8s} {where}"
        progress = stored_runs(s.name, schedule_of(args.quick), work) if state == "missing" else None
        if progress is not None:
            line += f" ({progress[0]} of {progress[1]} runs stored)"
        print(line)
    return 0


def _run(args) -> int:
    from spectral_physics.analysis.reproduce import plan, reproduce

    from spectral_physics.cli import check_output_dir

    try:
        steps = plan(args.only)
    except ValueError as exc:
        from spectral_physics.cli import CLIError

        raise CLIError(str(exc)) from None
    if args.source is not None:
        return _redraw(args)
    if args.out is None:
        args.out = Path("figures/out")
    if args.list:
        return _list(steps, args)
    if args.estimate:
        return _estimate(args)
    check_output_dir(args.out, "--out")  # before minutes of work
    from spectral_physics.backend import default_device

    with default_device(args.device):
        rep = reproduce(quick=args.quick, only=args.only, out=args.out, workers=args.workers,
                        scheduler=args.scheduler, data_root=args.data_root, progress=not args.no_progress,
                        blas_threads=args.blas_threads)
    for s in rep["steps"]:
        print(f"{s['name']:28s} {s['status']:9s} {s['seconds']:8.1f} s")
    print(f"total {rep['seconds']:.1f} s; figures in {args.out}, Datasets in {rep['work_dir']}/data")
    _print_claims(rep)
    return 0


def _print_claims(rep) -> None:
    from collections import Counter

    from spectral_physics.analysis import read_netcdf

    ds = read_netcdf(rep["claims"]["netcdf"])
    verdicts = Counter(ds.verdict.values.tolist())
    counts = ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items())) or "none"
    held = f"; {int(ds.holm.sum())} decisive after Holm over {int((ds.side != 0).sum())}" if "holm" in ds else ""
    print(f"claims: {counts}{held} (table in {rep['claims']['markdown']})")


def _redraw(args) -> int:
    import sys

    from spectral_physics.analysis.reproduce import redraw

    from spectral_physics.cli import CLIError, check_output_dir

    clash = [flag for flag, on in [("--list", args.list), ("--estimate", args.estimate),
                                   ("--workers", args.workers is not None), ("--scheduler", args.scheduler),
                                   ("--device", args.device), ("--data-root", args.data_root),
                                   ("--blas-threads", args.blas_threads is not None)] if on]
    if clash:
        raise CLIError(f"--from draws from Datasets on disk and computes nothing; drop {', '.join(clash)}")
    if args.out is None:  # figures go into the folder read
        check_output_dir(args.source, "--from")
    else:
        check_output_dir(args.out, "--out")
    try:
        rep = redraw(args.source, out=args.out, only=args.only, quick=args.quick, progress=not args.no_progress)
    except FileNotFoundError as exc:
        raise CLIError(str(exc)) from None
    sch = rep["schedule"]
    print(f"Datasets in {rep['work_dir']}/data: schedule {sch['label']} {sch['fingerprint']}"
          f"{'' if sch['current'] else ' (not the current schedule of that name)'}")
    for s in rep["steps"]:
        print(f"{s['name']:28s} {s['status']:9s} {s['seconds']:8.1f} s")
    for fig, lacking in rep["missing"].items():
        print(f"{fig}: not drawn, missing Dataset(s) {', '.join(lacking)}", file=sys.stderr)
    print(f"{len(rep['figures'])} figures drawn in {rep['seconds']:.1f} s to {args.out or args.source}")
    _print_claims(rep)
    return 1 if rep["missing"] else 0


def _estimate(args) -> int:
    from spectral_physics.analysis.estimate import estimate

    from spectral_physics.backend import default_device

    with default_device(args.device):  # calibrate where the schedule would train
        rep = estimate(quick=args.quick, only=args.only, out=args.out, workers=args.workers,
                       data_root=args.data_root, blas_threads=args.blas_threads, progress=not args.no_progress)
    print(f"predicted wall time of the {rep['label']} schedule on this machine "
          f"({rep['workers']} sweep workers, {rep['blas_threads']} BLAS threads in process)")
    print(f"{'step':28s} {'runs':>6s} {'predicted s':>12s} {'hours':>8s}  on disk")
    for s in rep["steps"]:
        done = s["parts"].get("runs_done", 0)
        state = "yes" if s["status"] == "exists" else (f"{done} runs, {s['parts']['remaining_seconds']:.0f} s left"
                                                       if done else "no")
        print(f"{s['name']:28s} {s['runs']:6d} {s['seconds']:12.1f} {s['seconds'] / 3600:8.2f}  {state}")
    print(f"{'total':28s} {'':6s} {rep['seconds']:12.1f} {rep['seconds'] / 3600:8.2f}")
    if rep["remaining_seconds"] != rep["seconds"]:
        print(f"still to compute (steps not on disk, less their stored runs): {rep['remaining_seconds']:.1f} s")
    print(f"calibration took {rep['calibration_seconds']:.1f} s; table in {rep['json']}")
    return 0
