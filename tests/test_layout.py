"""The layout rules of docs/design.md section 6: import direction, no cycles, no path loading, module size."""

from __future__ import annotations

import ast
import collections
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: installed package -> folder of the repository
ROOTS = {"spectral_physics": "spectral_physics", "spectral_physics.analysis": "analysis",
         "spectral_physics.figures": "figures"}
MAX_LINES = 700


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg, folder in ROOTS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO / folder).with_suffix("").parts
            if rel[-1] == "__init__":
                rel = rel[:-1]
            mods[".".join((pkg, *rel))] = path
    return mods


def _imports(name: str, path: Path, mods: dict[str, Path], module_level: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    base = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    nodes = tree.body if module_level else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                b = base
                for _ in range(node.level - 1):
                    b = b.rsplit(".", 1)[0]
                m = b + ("." + node.module if node.module else "")
            else:
                m = node.module or ""
            subs = [f"{m}.{a.name}" for a in node.names if f"{m}.{a.name}" in mods]
            targets = subs or [m]
        else:
            continue
        out |= {t for t in targets if t != name and not name.startswith(t + ".")}
    return out


def test_no_import_cycles_at_module_level():
    mods = _modules()
    graph = {n: {t for t in _imports(n, p, mods, True) if t in mods} for n, p in mods.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(u, stack):
        state[u] = 1
        stack.append(u)
        for v in graph[u]:
            if state.get(v) == 1:
                cycles.append(stack[stack.index(v):] + [v])
            elif not state.get(v):
                visit(v, stack)
        stack.pop()
        state[u] = 2

    for m in mods:
        if not state.get(m):
            visit(m, [])
    assert cycles == []


def test_the_core_never_imports_analysis_or_figures():
    mods = _modules()
    bad = collections.defaultdict(set)
    for name, path in mods.items():
        if name.startswith(("spectral_physics.analysis", "spectral_physics.figures")) or ".cli" in name:
            continue  # the CLI of the core finds analysis commands through entry points only
        for t in _imports(name, path, mods, module_level=False):
            if t.startswith(("spectral_physics.analysis", "spectral_physics.figures", "analysis", "figures")):
                bad[name].add(t)
    assert dict(bad) == {}


def test_no_library_module_loads_python_files_by_path_or_imports_top_level_analysis():
    offenders = []
    for name, path in _modules().items():
        text = path.read_text()
        if "spec_from_file_location" in text or "runpy" in text or "sys.path.insert" in text:
            offenders.append(name)
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] in (
                    "analysis", "figures", "benchmarks"):
                offenders.append(f"{name}: from {node.module}")
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] in ("analysis", "figures", "benchmarks")
                                                    for a in node.names):
                offenders.append(f"{name}: import")
    assert offenders == []


def test_long_modules_say_which_one_idea_they_hold():
    long = {}
    for name, path in _modules().items():
        n = len(path.read_text().splitlines())
        if n > MAX_LINES:
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            long[name] = ("One idea:" in doc, n)
    assert all(ok for ok, _ in long.values()), long
