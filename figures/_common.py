"""Shared command line of the figure modules: ``python -m spectral_physics.figures.fig_X [--data DIR] [--out DIR]``.

The Datasets are read from ``--data`` under the file names of the data steps of
:mod:`spectral_physics.analysis.reproduce`; run ``spectral-physics reproduce --only NAME`` to
compute missing Datasets first.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(name: str, argv=None) -> int:
    """Draw figure ``name`` of :data:`spectral_physics.figures.FIGURES`; 2 when a Dataset is missing."""
    from spectral_physics.analysis.reproduce import _DATA_STEPS
    from spectral_physics.figures import FIGURES, draw

    entry = FIGURES[name]
    ap = argparse.ArgumentParser(prog=f"python -m spectral_physics.figures.fig_{name}",
                                 description=f"Draw figure {name!r} from its Dataset(s): {entry.summary}.")
    ap.add_argument("--data", type=Path, default=Path("figures/out/data"), help="folder of the Datasets")
    ap.add_argument("--out", type=Path, default=Path("figures/out"), help="folder of the figure files")
    a = ap.parse_args(argv)
    paths = {n: a.data / _DATA_STEPS[n].output for n in entry.needs}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        ap.exit(2, f"missing Dataset(s) {missing}; run `spectral-physics reproduce --only {name}` first\n")
    for fmt, path in draw(name, paths, a.out).items():
        print(f"{fmt}: {path}")
    return 0
