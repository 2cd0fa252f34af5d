"""Saving paper figures: one style, reproducible bytes, provenance next to every file.

Every paper figure (:data:`spectral_physics.figures.FIGURES`) is built with a plot function of
:mod:`spectral_physics.analysis.plots` inside :func:`paper_style` and handed to :func:`save_figure`
(both by :func:`spectral_physics.figures.draw`), which writes

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
>>> import tempfile
>>> paths = save_figure(fig, "demo", tempfile.mkdtemp(), sources=[])
>>> sorted(p.suffix for p in paths.values())
['.json', '.pdf', '.png']
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.style
from matplotlib.figure import Figure

from spectral_physics.atomic import atomic_path, write_text_atomic

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

#: the shared Matplotlib style: package data of ``spectral_physics.figures``, found by
#: importlib.resources in a wheel, an editable install or a clone alike
STYLE_PATH = resources.files("spectral_physics.figures") / "paper.mplstyle"

# producer string written into every PDF instead of matplotlib's version-bearing default
_PRODUCER = "spectral-physics figures (matplotlib)"


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Context in which figures pick up ``paper.mplstyle`` (rcParams are read at creation)."""
    # as_file: a real path for matplotlib even if the package were imported from a zip
    with resources.as_file(STYLE_PATH) as style, matplotlib.rc_context():
        matplotlib.style.use(str(style))
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
    write_text_atomic(side, json.dumps(prov, indent=2, sort_keys=True) + "\n")
    written["json"] = side
    return written


def _save_one(fig: Figure, path: Path, fmt: str, name: str, prov: dict[str, Any], prov_json: str) -> Path:
    if fmt == "pdf":
        # no dates and no revision: the bytes depend on the data and the code's drawing only
        meta = {"Title": name, "Creator": "spectral-physics", "Producer": _PRODUCER,
                "CreationDate": None, "ModDate": None}
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="pdf", metadata=meta)
    elif fmt == "png":
        meta = {"Title": name, "Software": f"spectral-physics {prov['spectral_physics_version']}",
                "Source": ", ".join(s["path"] for s in prov["sources"]) or "computed in the script",
                "provenance": prov_json}
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", metadata=meta)
    else:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="svg", metadata={"Date": None, "Creator": "spectral-physics"})
    return path


def read_png_text(path: str | os.PathLike) -> dict[str, str]:
    """The text chunks of a PNG file (e.g. to read back a figure's provenance)."""
    from PIL import Image

    with Image.open(path) as im:
        return dict(getattr(im, "text", {}) or im.info)
