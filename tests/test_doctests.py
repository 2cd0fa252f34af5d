"""Every docstring example of the installed packages runs and prints what it shows.

The examples are collected through the *installed* module names (``spectral_physics``,
``spectral_physics.analysis.*``, ``spectral_physics.figures.*``), not through the file
tree: ``analysis/`` and ``figures/`` install under ``spectral_physics`` (package_dir), and
``pytest --doctest-modules analysis`` would import them a second time as a top-level
``analysis`` package, a copy whose classes and registries are not the library's.

Each docstring is one test (id: the object's qualified name), run by :mod:`doctest` with
``ELLIPSIS`` (as pytest's doctest default) in a fresh temporary working directory, so
examples may write files. ``# doctest: +SKIP`` is kept for lines that would train for
minutes. An example that needs MNIST (it fails with ``DatasetError`` where the files are
missing) skips like the other data tests, and fails under
``SPECTRAL_PHYSICS_REQUIRE_DATA=1``.

Run just these: ``python3 -m pytest -q tests/test_doctests.py``.
"""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil

import pytest

PACKAGES = ("spectral_physics", "spectral_physics.analysis", "spectral_physics.figures")
OPTIONFLAGS = doctest.ELLIPSIS


def module_names() -> list[str]:
    """Every module of the installed packages (``__main__`` modules excluded)."""
    names: set[str] = set()
    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)
        names.add(pkg)
        for info in pkgutil.walk_packages(mod.__path__, pkg + "."):
            if info.name.rsplit(".", 1)[-1] != "__main__":
                names.add(info.name)
    return sorted(names)


def collect() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(exclude_empty=True)
    tests: list[doctest.DocTest] = []
    for name in module_names():
        module = importlib.import_module(name)
        tests.extend(t for t in finder.find(module, name) if t.examples)
    return sorted(tests, key=lambda t: t.name)


MODULES = module_names()
DOCTESTS = collect()


def test_collected_through_installed_names() -> None:
    import spectral_physics.analysis
    import spectral_physics.figures

    assert any(n.startswith("spectral_physics.analysis.") for n in MODULES)
    assert any(n.startswith("spectral_physics.figures.") for n in MODULES)
    # the modules under analysis/ and figures/ are the library's, not top-level copies
    assert not any(n.split(".")[0] in ("analysis", "figures") for n in MODULES)
    assert spectral_physics.analysis.__name__ == "spectral_physics.analysis"
    assert spectral_physics.figures.__name__ == "spectral_physics.figures"
    assert len(DOCTESTS) >= 40, f"only {len(DOCTESTS)} docstring examples found"
    n_examples = sum(len(t.examples) for t in DOCTESTS)
    print(f"{len(DOCTESTS)} docstrings with examples ({n_examples} examples) in {len(MODULES)} modules")


@pytest.mark.parametrize("test", DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_docstring_example(test: doctest.DocTest, tmp_path, monkeypatch, request) -> None:
    monkeypatch.chdir(tmp_path)
    test.globs = dict(test.globs)  # a fresh namespace per run (the finder copied the module's)
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    out = io.StringIO()
    try:
        result = runner.run(test, out=out.write, clear_globs=True)
    finally:
        import matplotlib.pyplot as plt

        plt.close("all")
    if result.failed:
        report = out.getvalue()
        if "DatasetError" in report:
            request.getfixturevalue("data_root")  # skips without MNIST (fails under REQUIRE_DATA)
        pytest.fail(f"{result.failed} of {result.attempted} examples failed in {test.name}\n{report}",
                    pytrace=False)
