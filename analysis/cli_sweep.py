"""``spectral-physics sweep``: run a phase-diagram sweep from a TOML spec.

Example
-------
::

    spectral-physics sweep --example > spec.toml
    spectral-physics sweep spec.toml --out diagram.nc --workers 2
    spectral-physics sweep spec.toml --out diagram.nc --resume            # after an interruption
    spectral-physics sweep spec.toml --out diagram.nc --scheduler tcp://10.0.0.5:8786
    spectral-physics sweep spec.toml --out diagram.nc --device gpu              # one worker per GPU

Per-point results go to ``--results`` (default: ``diagram.points/`` next to ``--out``);
``--resume`` recomputes only the points missing there.
"""

from __future__ import annotations

import sys
from pathlib import Path

from spectral_physics.cli import positive_int

__all__ = ["register", "run"]


def _threshold(text: str) -> float:
    """``--threshold``: the range the spec's ``threshold`` has, checked before hours of training."""
    import argparse
    import math

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(v) and 0 < v < 2):
        raise argparse.ArgumentTypeError(f"must lie in (0, 2) (accuracy relative to direct), got {text!r}")
    return v


def register(sub) -> None:
    """Add the ``sweep`` subcommand to the ``spectral-physics`` parser."""
    p = sub.add_parser(
        "sweep",
        help="run a compression-versus-accuracy sweep (phase diagram) from a TOML spec",
        description=(
            "Train every grid point of SPEC (the seeds of a point as one ensemble) and write the "
            "combined xarray Dataset to netCDF. Each finished point is saved at once, so an "
            "interrupted sweep continues with --resume."
        ),
    )
    p.add_argument("spec", nargs="?", help="sweep specification (TOML); see --example")
    p.add_argument("--out", "-o", help="netCDF file for the combined Dataset, e.g. diagram.nc")
    p.add_argument("--results", default=None,
                   help="directory of per-point result files (default: OUT without suffix + '.points')")
    p.add_argument("--data-root", default=None,
                   help="folder holding the data sets, searched first; overrides the spec's data_root (default: "
                        "the spec's, else the search order of 'spectral-physics data where')")
    p.add_argument("--device", default=None, choices=["cpu", "gpu"],
                   help="train every point here, overriding the spec's `device` (default: the spec's, "
                        "else SPECTRAL_PHYSICS_DEVICE, else cpu)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="local worker processes (default: all cores, or one per GPU with --device gpu; "
                        "1 runs in this process)")
    p.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="Dask scheduler address (tcp://host:port) to run the points on a cluster")
    p.add_argument("--resume", action="store_true", help="keep finished points, compute only the missing ones")
    p.add_argument("--overwrite", action="store_true", help="delete existing point files and start again")
    p.add_argument("--blas-threads", type=positive_int, default=None, metavar="N",
                   help="BLAS threads per point (default: 1 in pool workers, the library's default with "
                        "--workers 1; use 1 on a busy machine)")
    p.add_argument("--no-ensemble", action="store_true",
                   help="train the seeds of a point one after another instead of as one ensemble")
    p.add_argument("--threshold", type=_threshold, default=None,
                   help="relative accuracy for the printed phase boundary, in (0, 2) (default: the spec's)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress report (default: a bar on a terminal, a line per 10%% of the points in a log)")
    p.add_argument("--example", action="store_true", help="print a commented example spec and exit")
    p.set_defaults(func=run)


def run(args) -> int:
    from spectral_physics.analysis.phase import phase_boundary
    from spectral_physics.analysis.sweep import EXAMPLE_SPEC, load_spec, run_sweep

    from spectral_physics.cli import CLIError

    if args.example:
        sys.stdout.write(EXAMPLE_SPEC)
        return 0
    if not args.spec:
        raise CLIError("give a SPEC.toml (or --example to print one)")
    if not args.out:
        raise CLIError("--out is required, e.g. --out diagram.nc")
    if args.resume and args.overwrite:
        raise CLIError("--resume and --overwrite exclude each other")
    if args.scheduler and args.workers:
        raise CLIError("--workers applies to the local process pool; with --scheduler the cluster decides")
    from spectral_physics.cli import check_output_dir, check_output_file

    out = check_output_file(args.out, "--out", (".nc",))
    results = Path(args.results) if args.results else out.with_suffix(".points")
    check_output_dir(results, "--results")
    from spectral_physics.analysis.sweep.execute import default_workers

    from spectral_physics import config
    from spectral_physics.backend import resolve_device

    spec = load_spec(args.spec)
    if args.data_root is not None:
        if not Path(args.data_root).expanduser().is_dir():
            raise CLIError(f"--data-root {args.data_root}: not a directory")
        spec.data_root = str(args.data_root)  # not part of the fingerprint: a resumed sweep may move its data
    device = config.get("SPECTRAL_PHYSICS_DEVICE", args.device if args.device is not None else spec.device,
                        argument="device")
    resolve_device(device)  # a GPU sweep without CuPy or a CUDA device stops here, in one line
    n = len(spec.points())
    where = "a Dask cluster" if args.scheduler else f"{args.workers or default_workers(device)} worker(s)"
    print(f"sweep {spec.name!r}: {n} points x {len(spec.seeds)} seeds over {', '.join(spec.dims)}; "
          f"device {device}, {where}; point files in {results}", file=sys.stderr)
    try:
        ds = run_sweep(
            spec, results, out=out, resume=args.resume, overwrite=args.overwrite, workers=args.workers,
            scheduler=args.scheduler, ensemble=not args.no_ensemble, blas_threads=args.blas_threads,
            progress=not args.no_progress, device=device,
        )
    except FileExistsError as exc:
        raise CLIError(str(exc).replace("resume=True (--resume)", "--resume")
                       .replace("overwrite=True (--overwrite)", "--overwrite")) from None
    print(f"wrote {out}", file=sys.stderr)
    bad = int((ds.status != 0).sum())
    if bad:
        print(f"warning: {bad} runs diverged (status = 1, metrics NaN)", file=sys.stderr)
    if set(ds.dims) == {"train", "hidden", "seed"} and "direct" in ds.train.values and ds.sizes["hidden"] > 1:
        b = phase_boundary(ds, threshold=args.threshold, n_boot=200)
        print(f"phase boundary (seed-mean accuracy >= {b.attrs['threshold']:g} x direct), "
              "95% bootstrap interval over seeds:")
        for tr in b.train.values:
            sel = b.sel(train=tr)
            state = int(sel.crossing_state)
            if state == 0:
                print(f"  {tr:>10}: trainable ratio {float(sel.boundary_ratio):.4g} "
                      f"[{float(sel.boundary_ratio_lower):.4g}, {float(sel.boundary_ratio_upper):.4g}], "
                      f"hidden {float(sel.boundary_hidden):.0f}")
            else:
                print(f"  {tr:>10}: " + ("at or above the threshold at every size" if state == 1
                                        else "never reaches the threshold"))
    return 0
