"""Saving paper figures: one style, reproducible bytes, provenance next to every file.

Every figure script in ``figures/`` builds a Figure with a plot function of
:mod:`spectral_physics.analysis.plots` inside :func:`paper_style` and hands it to :func:`save_figure`,
which writes

* ``<name>.pdf``: vector, byte-identical when regenerated from the same data (no
  creation or modification date, fixed producer string, no git revision inside);
* ``<name>.png``: 300 dpi raster with the provenance as PNG text chunks (``Title``,
  ``Software``, ``Source``, ``provenance``);
* ``<name>.json``: the same provenance as a sidecar (Dataset files with their SHA-256,
  package version, git revision, matplotlib version).

Example
-------
>>> from matplotlib.figure import Figure
>>> from spectral_physics.analysis.figures import paper_style, save_figure, COLUMN
>>> with paper_style():
...     fig = Figure(figsize=(COLUMN, 2.4))
...     _ = fig.subplots().plot([0, 1], [0, 1])
>>> paths = save_figure(fig, "demo", "figures/out", sources=[])      # doctest: +SKIP
>>> sorted(p.suffix for p in paths.values())                         # doctest: +SKIP
['.json', '.pdf', '.png']
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.style
from matplotlib.figure import Figure

from ._xr import git_revision, package_versions

__all__ = [
    "COLUMN",
    "TWO_COLUMN",
    "STYLE_PATH",
    "paper_style",
    "figure_provenance",
    "save_figure",
    "read_png_text",
]

#: one-column and two-column figure widths (inches), as in most physics journals
COLUMN = 3.4
TWO_COLUMN = 7.0

#: the shared Matplotlib style (lives next to the figure scripts)
STYLE_PATH = Path(__file__).resolve().parents[1] / "figures" / "paper.mplstyle"

# used when the package runs without the repository's figures/ folder (e.g. from a wheel)
_FALLBACK_RC = {
    "font.family": "serif", "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
    "xtick.labelsize": 7, "ytick.labelsize": 7, "text.usetex": False, "mathtext.fontset": "dejavuserif",
    "axes.prop_cycle": matplotlib.cycler(color=["#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7",
                                                "#56B4E9", "#F0E442", "#000000"]),
    "savefig.dpi": 300, "pdf.fonttype": 42, "svg.hashsalt": "spectral-physics",
    "figure.constrained_layout.use": True,
}

# producer string written into every PDF instead of matplotlib's version-bearing default
_PRODUCER = "spectral-physics figures (matplotlib)"


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Context in which figures pick up ``figures/paper.mplstyle`` (rcParams are read at creation)."""
    style: Any = str(STYLE_PATH) if STYLE_PATH.is_file() else _FALLBACK_RC
    with matplotlib.rc_context():
        matplotlib.style.use(style)
        # a fixed salt makes SVG ids, and thus SVG bytes, reproducible
        matplotlib.rcParams["svg.hashsalt"] = "spectral-physics"
        yield


def _sha256(path: Path) -> str | None:
    try:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return None


def figure_provenance(name: str, sources: Iterable[str | os.PathLike] = (),
                      extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What a figure was drawn from: its Dataset files (path, SHA-256), versions, git revision.

    Parameters
    ----------
    name : str
        Figure name (file stem).
    sources : iterable of path
        Dataset files (netCDF) the figure reads.
    extra : mapping, optional
        Anything else worth recording (schedule, selection).
    """
    versions = package_versions()
    return {
        "figure": name,
        "sources": [{"path": str(Path(p)), "sha256": _sha256(Path(p))} for p in sources],
        "spectral_physics_version": versions.get("spectral-physics", "unknown"),
        "git_revision": git_revision(),
        "versions": versions,
        **dict(extra or {}),
    }


def save_figure(fig: Figure, name: str, out_dir: str | os.PathLike = "figures/out", *,
                sources: Iterable[str | os.PathLike] = (), extra: Mapping[str, Any] | None = None,
                formats: Iterable[str] = ("pdf", "png")) -> dict[str, Path]:
    """Write ``fig`` as PDF and PNG plus a provenance sidecar JSON.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    name : str
        File stem; letters, digits, ``-`` and ``_`` only.
    out_dir : path
        Created if missing.
    sources, extra
        See :func:`figure_provenance`.
    formats : iterable of {"pdf", "png", "svg"}

    Returns
    -------
    dict of str to pathlib.Path
        Format (and ``"json"``) to the file written.
    """
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"name must be a non-empty file stem of letters, digits, '-' or '_', got {name!r}")
    formats = list(formats)
    bad = [f for f in formats if f not in ("pdf", "png", "svg")]
    if bad:
        raise ValueError(f"formats must be among 'pdf', 'png', 'svg', got {bad}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prov = figure_provenance(name, sources, extra)
    prov_json = json.dumps(prov, sort_keys=True)
    written: dict[str, Path] = {}
    # the style's savefig/pdf settings (dpi, bbox, TrueType fonts) are read at save time
    with paper_style():
        for fmt in formats:
            written[fmt] = _save_one(fig, out / f"{name}.{fmt}", fmt, name, prov, prov_json)
    side = out / f"{name}.json"
    prov["files"] = {fmt: p.name for fmt, p in written.items()}
    side.write_text(json.dumps(prov, indent=2, sort_keys=True) + "\n")
    written["json"] = side
    return written


def _save_one(fig: Figure, path: Path, fmt: str, name: str, prov: dict[str, Any], prov_json: str) -> Path:
    if fmt == "pdf":
        # no dates and no revision: the bytes depend on the data and the code's drawing only
        meta = {"Title": name, "Creator": "spectral-physics", "Producer": _PRODUCER,
                "CreationDate": None, "ModDate": None}
        fig.savefig(path, format="pdf", metadata=meta)
    elif fmt == "png":
        meta = {"Title": name, "Software": f"spectral-physics {prov['spectral_physics_version']}",
                "Source": ", ".join(s["path"] for s in prov["sources"]) or "computed in the script",
                "provenance": prov_json}
        fig.savefig(path, format="png", metadata=meta)
    else:
        fig.savefig(path, format="svg", metadata={"Date": None, "Creator": "spectral-physics"})
    return path


def read_png_text(path: str | os.PathLike) -> dict[str, str]:
    """The text chunks of a PNG file (e.g. to read back a figure's provenance)."""
    from PIL import Image

    with Image.open(path) as im:
        return dict(getattr(im, "text", {}) or im.info)
