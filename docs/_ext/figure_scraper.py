"""sphinx-gallery image scraper for matplotlib Figures built without pyplot.

The library's plot functions (:mod:`spectral_physics.analysis.plots`) return
:class:`matplotlib.figure.Figure` objects that pyplot does not manage, so the built-in
``"matplotlib"`` scraper never sees them. This one saves every such Figure that an
example's code block leaves in the example's namespace (once each).
"""

from __future__ import annotations


def figure_scraper(block, block_vars, gallery_conf, **kwargs):
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    seen = block_vars.setdefault("spectral_physics_seen_figures", set())
    paths = []
    for value in list(block_vars["example_globals"].values()):
        # pyplot's figures carry a number; the "matplotlib" scraper (run after this one) takes those
        if isinstance(value, Figure) and getattr(value, "number", None) is None and id(value) not in seen:
            seen.add(id(value))
            path = next(block_vars["image_path_iterator"])
            value.savefig(path, dpi=110)
            paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])
