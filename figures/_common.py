"""Shared command line of the figure scripts: ``python figures/fig_X.py [--data DIR] [--out DIR]``.

Each script defines ``NAME`` (the output file stem), ``NEEDS`` (the Datasets it reads, as
named in :mod:`spectral_physics.analysis.reproduce`) and ``make(paths, out_dir)``. Run
``spectral-physics reproduce --only NAME`` to compute missing Datasets first.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(module_name: str, name: str, needs: tuple[str, ...], make, argv=None) -> int:
    from spectral_physics.analysis.reproduce import _DATA_STEPS

    ap = argparse.ArgumentParser(description=f"Draw figure {name!r} from its Dataset(s).")
    ap.add_argument("--data", type=Path, default=Path("figures/out/data"), help="folder of the Datasets")
    ap.add_argument("--out", type=Path, default=Path("figures/out"), help="folder of the figure files")
    a = ap.parse_args(argv)
    paths = {n: a.data / _DATA_STEPS[n].output for n in needs}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        ap.exit(2, f"missing Dataset(s) {missing}; run `spectral-physics reproduce --only {name}` first\n")
    for fmt, path in make(paths, a.out).items():
        print(f"{fmt}: {path}")
    return 0
