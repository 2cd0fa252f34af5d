"""MNIST compression-versus-accuracy phase diagram: run (or resume) the sweep, draw it, summarise it.

Usage::

    python benchmarks/phase_diagram.py --out results/mnist_phase.nc --workers 2
    python benchmarks/phase_diagram.py --out results/mnist_phase.nc --plot-only

The sweep is ``benchmarks/specs/mnist_phase.toml`` (6 presets x 7 hidden sizes from 20
to 2000 x 3 seeds; 8000 training images, 2 epochs). The script resumes an interrupted
run, writes the Dataset to ``--out``, the figure next to it (``.png``) and prints a
Markdown table of the phase boundary.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPEC = HERE / "specs" / "mnist_phase.toml"


def summary_table(ds, b) -> str:
    """Markdown: accuracy per preset and size, and the boundary per preset."""
    import numpy as np
    from spectral_physics.analysis.phase import phase_diagram_data

    d = phase_diagram_data(ds)
    hidden = [int(h) for h in d.hidden.values]
    lines = ["| preset | " + " | ".join(f"N={h}" for h in hidden) + " |",
             "|---|" + "---|" * len(hidden)]
    for tr in d.train.values:
        cells = []
        for h in hidden:
            c = d.sel(train=tr, hidden=h)
            cells.append(f"{float(c.accuracy_mean):.4f} ± {float(np.nan_to_num(c.accuracy_std)):.4f} "
                         f"(r={float(c.trainable_ratio):.3g})")
        lines.append(f"| {tr} | " + " | ".join(cells) + " |")
    lines += ["", f"Phase boundary: seed-mean relative accuracy reaches {b.attrs['threshold']:g} "
              f"(95% bootstrap interval over seeds, {b.attrs['n_boot']} resamples)", "",
              "| preset | boundary trainable ratio | interval | boundary hidden size | interval | state |",
              "|---|---|---|---|---|---|"]
    states = {0: "crossing", 1: "above at all sizes", 2: "never reached"}
    for tr in b.train.values:
        s = b.sel(train=tr)
        lines.append(
            f"| {tr} | {float(s.boundary_ratio):.4g} | [{float(s.boundary_ratio_lower):.4g}, "
            f"{float(s.boundary_ratio_upper):.4g}] | {float(s.boundary_hidden):.0f} | "
            f"[{float(s.boundary_hidden_lower):.0f}, {float(s.boundary_hidden_upper):.0f}] | "
            f"{states[int(s.crossing_state)]} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--spec", default=str(SPEC))
    p.add_argument("--out", default="results/mnist_phase.nc")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--plot-only", action="store_true", help="only draw and summarise an existing --out")
    args = p.parse_args(argv)

    from spectral_physics.analysis._xr import read_netcdf
    from spectral_physics.analysis.phase import phase_boundary
    from spectral_physics.analysis.plots import plot_sweep
    from spectral_physics.analysis.sweep import run_sweep

    out = Path(args.out)
    if args.plot_only:
        ds = read_netcdf(out)
    else:
        ds = run_sweep(args.spec, out.with_suffix(".points"), out=out, resume=True, workers=args.workers)
    b = phase_boundary(ds, threshold=args.threshold, n_boot=1000)
    fig = plot_sweep(ds, boundary=b)
    png = out.with_suffix(".png")
    fig.savefig(png, dpi=130)
    print(summary_table(ds, b))
    print(f"\nfigure: {png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
