"""The paper figures: one table saying which figure is drawn from which Datasets, and how.

One idea: the registry. :data:`FIGURES` maps each figure name (its file stem) to a
:class:`PaperFigure`, which names the Datasets it reads (data steps of
:mod:`spectral_physics.analysis.reproduce`) and the module ``fig_<name>`` that draws it.
Each such module defines

* ``plot(*datasets) -> matplotlib.figure.Figure``: the Datasets in the order of
  ``needs``; it may select, compute what the figure shows (e.g. the phase boundary) and
  restyle for the paper's widths, and calls a plot function of
  :mod:`spectral_physics.analysis.plots` (so the figure carries ``fig.plotted``);
* optionally ``provenance(fig, *datasets) -> dict``: extra entries of the provenance
  record (threshold, selected layer or seed);

and runs as ``python -m spectral_physics.figures.fig_<name> --data DIR --out DIR``.
:func:`draw` reads the Datasets, calls ``plot`` inside
:func:`spectral_physics.analysis.figures.paper_style` and writes PDF, PNG and provenance
JSON with :func:`spectral_physics.analysis.figures.save_figure`.

The modules are imported when a figure is drawn, not with this package: ``python -m
spectral_physics.figures.fig_<name>`` then runs a module that is not already imported,
and :mod:`spectral_physics.analysis.figures` can import this package to locate
``paper.mplstyle`` (package data here) without an import cycle.

Example
-------
>>> from spectral_physics.figures import FIGURES
>>> FIGURES["phase_diagram"].needs
('presets_sweep',)
>>> import tempfile
>>> from pathlib import Path
>>> from spectral_physics.analysis.sweep import run_sweep
>>> work = Path(tempfile.mkdtemp())
>>> _ = run_sweep({"dataset": "teacher-student", "subset": 300, "n_test": 100, "epochs": 1, "seeds": [0, 1],
...                "axes": {"train": ["direct", "eigen"], "hidden": [8, 16]}},
...               work / "sweep.points", out=work / "presets_sweep.nc", workers=1, progress=False)
>>> paths = draw("phase_diagram", {"presets_sweep": work / "presets_sweep.nc"}, work / "out")
>>> sorted(paths), paths["pdf"].name
(['json', 'pdf', 'png'], 'phase_diagram.pdf')
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["PaperFigure", "FIGURES", "draw"]


@dataclass(frozen=True)
class PaperFigure:
    """One paper figure of :data:`FIGURES`.

    Attributes
    ----------
    name : str
        File stem of the figure (``<name>.pdf``, ``.png``, ``.json``); the module that
        draws it is ``spectral_physics.figures.fig_<name>``.
    needs : tuple of str
        Datasets it reads, as named by the data steps of
        :mod:`spectral_physics.analysis.reproduce`, in the order ``plot`` takes them.
    summary : str
        What the figure shows, in one line.
    """

    name: str
    needs: tuple[str, ...]
    summary: str

    @property
    def module(self) -> ModuleType:
        """The module ``fig_<name>`` (imported on first use)."""
        return importlib.import_module(f"{__name__}.fig_{self.name}")

    @property
    def plot(self):
        """``plot(*datasets) -> matplotlib.figure.Figure`` of the figure's module."""
        return self.module.plot

    def provenance(self, fig, *datasets) -> dict[str, Any]:
        """Extra provenance entries of a drawn figure (empty when the module defines none)."""
        extra = getattr(self.module, "provenance", None)
        return dict(extra(fig, *datasets)) if extra is not None else {}


FIGURES: dict[str, PaperFigure] = {f.name: f for f in (
    PaperFigure("accuracy_vs_hidden", ("presets_sweep",),
                "accuracy versus hidden size per preset, relative accuracy versus the trainable-parameter ratio"),
    PaperFigure("pruning_curves", ("pruning",),
                "node-pruning curves (eigenvalue, connectivity, random, pre-training filter), MNIST and Fashion-MNIST"),
    PaperFigure("sparse_vs_direct", ("sparse",),
                "sparse spectral versus sparse direct training against density, with the topology turnover"),
    PaperFigure("ntt_comparison", ("ntt",), "NTT versus the other wirings against density"),
    PaperFigure("eigenvalue_statistics", ("eigenstats",),
                "eigenvalue distributions, weight spectrum with its Marchenko-Pastur fit, spacing ratios (layer 0)"),
    PaperFigure("input_relevance", ("relevance",), "the first layer's lam_in as a 28x28 image (mean over seeds)"),
    PaperFigure("homeostasis", ("homeostasis",),
                "gain versus drive, activity spread trained versus frozen eigenvalues, activity CV"),
    PaperFigure("phase_diagram", ("presets_sweep",),
                "compression-versus-accuracy phase diagram with its bootstrapped boundary"),
    PaperFigure("transfer_operator", ("transfer_operator",),
                "a network's transfer operator as numbers next to its symbolic form"),
)}


def draw(name: str, paths: Mapping[str, str | os.PathLike], out_dir: str | os.PathLike = "figures/out", *,
         formats: Iterable[str] = ("pdf", "png")) -> dict[str, Path]:
    """Draw figure ``name`` from its Datasets and write it with its provenance.

    Parameters
    ----------
    name : str
        A key of :data:`FIGURES`.
    paths : mapping of str to path
        Dataset name (each of ``FIGURES[name].needs``) to its netCDF file; other keys are
        ignored, so one mapping can serve every figure.
    out_dir : path
        Folder of the figure files (created if missing).
    formats : iterable of {"pdf", "png", "svg"}

    Returns
    -------
    dict of str to pathlib.Path
        Format (and ``"json"``, the provenance sidecar) to the file written.
    """
    from spectral_physics.analysis import read_netcdf
    from spectral_physics.analysis.figures import paper_style, save_figure

    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; figures: {sorted(FIGURES)}")
    entry = FIGURES[name]
    missing = [n for n in entry.needs if n not in paths]
    if missing:
        raise ValueError(f"figure {name!r} needs the Dataset(s) {missing}; got paths for {sorted(paths)}")
    sources = [Path(paths[n]) for n in entry.needs]
    datasets = [read_netcdf(p) for p in sources]
    # the schedule reproduce computed the Datasets with (schedule.json next to them): plot
    # functions note a reduced ("quick") schedule on the figure from this attribute
    label = _schedule_label(sources)
    if label is not None:
        for ds in datasets:
            ds.attrs.setdefault("schedule_label", label)
    with paper_style():  # rcParams are read when the figure is created
        fig = entry.plot(*datasets)
    extra = {"schedule": label} if label is not None else {}
    extra.update(entry.provenance(fig, *datasets))
    return save_figure(fig, name, out_dir, sources=sources, extra=extra, formats=formats)


def _schedule_label(sources: Iterable[Path]) -> str | None:
    """``label`` of the ``schedule.json`` beside the Dataset files (``"quick"``, ``"full"``), or None."""
    import json

    for folder in dict.fromkeys(Path(p).parent for p in sources):
        try:
            label = json.loads((folder / "schedule.json").read_text()).get("label")
        except (OSError, ValueError, AttributeError):
            continue
        if label:
            return str(label)
    return None
