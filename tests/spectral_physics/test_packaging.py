"""The version is stated once and every packaging file agrees with it.

``spectral_physics/_version.py`` holds the version; the installed metadata (read by
setuptools from it), ``CITATION.cff`` and ``CHANGELOG.md`` must all match it, and the
MIT license the metadata declares must be in the repository.
"""

import re
from importlib.metadata import version
from pathlib import Path

import pytest

import spectral_physics

ROOT = Path(__file__).resolve().parents[2]


def test_installed_metadata_version_is_the_package_version():
    assert version("spectral-physics") == spectral_physics.__version__


def test_version_is_not_restated_in_pyproject():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    assert re.search(r"^version\s*=", project, flags=re.MULTILINE) is None
    assert re.search(r'^dynamic\s*=\s*\[[^\]]*"version"', project, flags=re.MULTILINE)
    assert "spectral_physics._version.__version__" in text


def test_citation_version_is_the_package_version():
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    for key in ("cff-version", "message", "title", "version", "authors", "date-released", "license"):
        assert key in cff, key
    assert str(cff["version"]) == spectral_physics.__version__
    assert cff["license"] == "MIT"


def test_changelog_has_a_section_for_the_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    heading = rf"^## \[{re.escape(spectral_physics.__version__)}\]"
    assert re.search(heading, text, flags=re.MULTILINE), f"no '## [{spectral_physics.__version__}]' section"


def test_license_is_mit():
    path = ROOT / "LICENSE"
    assert path.is_file()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "Permission is hereby granted, free of charge" in text


def test_importing_the_cli_main_module_runs_nothing(monkeypatch, capsys):
    """Sphinx's autosummary imports every module; ``cli/__main__`` must not parse the importer's argv."""
    import importlib
    import sys

    monkeypatch.setattr(sys, "argv", ["sphinx-build", "html"])
    sys.modules.pop("spectral_physics.cli.__main__", None)
    importlib.import_module("spectral_physics.cli.__main__")
    assert capsys.readouterr().err == ""
