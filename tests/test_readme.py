"""Every code block of README.md runs, and shows what it prints.

Which blocks run:

* ```` ```python ````: each block is written to ``block.py`` in a fresh temporary
  directory and run there as a script in its own interpreter, so a block must define
  everything it uses (and may guard a process pool with ``if __name__ == "__main__":``).
* ```` ```bash ```` blocks whose first command starts with ``spectral-physics``: run by
  ``bash -e`` in a fresh temporary directory.
* ```` ```console ```` blocks: each ``$ `` line is a command and the lines after it are
  the output it prints (stdout), compared as a doctest with ``ELLIPSIS`` (a ``...``
  stands for any text, lines included); trailing spaces are ignored. Printed floats may
  differ from the README's at rounding level (:func:`_close`), since training's
  floating point differs between CPUs; integers and all text must be the same.

Markers, an HTML comment on the line right before a block's fence:

* ``<!-- not-run: REASON -->``: the block needs what CI has not (a GPU, a cluster, a
  checkout); it is counted and reported with its reason, never silently dropped.
* ``<!-- continues -->``: the block runs after the block before it, in the same
  directory (a transcript split by prose, e.g. train a model, then analyse it).

Other blocks (``toml``, the layout listing, ``pip install`` lines) are not commands of
the package and are not run; an unlabelled block that starts with ``spectral-physics``
or ``$`` is an error, so a command cannot escape the test by its missing label.

The data-dependent blocks (those that mention ``mnist``) need the ``data_root``
fixture: they skip without the files, or fail under ``SPECTRAL_PHYSICS_REQUIRE_DATA=1``.

The blocks are subprocesses with one BLAS thread each, so the selected groups start
together at the first test, ``min(cpu_count, 4)`` at a time (``README_TEST_JOBS``
overrides), and each test waits for its own group: the whole file takes about the time
of its slowest blocks rather than their sum.
"""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TIMEOUT = 600  # seconds per block; the slowest (reproduce --quick) takes well under a minute

_FENCE = re.compile(r"^```(\S*)\s*$")
_NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(.+?)\s*-->\s*$")
_CONTINUES = re.compile(r"^<!--\s*continues\s*-->\s*$")


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    body: str
    not_run: str | None = None
    continues: bool = False

    @property
    def first_command(self) -> str:
        for ln in self.body.splitlines():
            if ln.strip() and not ln.lstrip().startswith("#"):
                return ln.strip()
        return ""

    @property
    def kind(self) -> str:
        """``python``, ``bash``, ``console`` (run), ``not-run``, or ``other``."""
        if self.not_run is not None:
            return "not-run"
        if self.lang == "python":
            return "python"
        if self.lang == "bash" and self.first_command.startswith("spectral-physics"):
            return "bash"
        if self.lang == "console":
            return "console"
        return "other"

    @property
    def needs_data(self) -> bool:
        return "mnist" in self.body


@dataclass
class Group:
    blocks: list[Block] = field(default_factory=list)

    @property
    def id(self) -> str:
        return "+".join(f"L{b.line}-{b.kind}" for b in self.blocks)


def parse(text: str) -> list[Block]:
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if j == len(lines):
            raise AssertionError(f"README.md:{start + 1}: code block never closed")
        prev = lines[start - 1].strip() if start > 0 else ""
        nr = _NOT_RUN.match(prev)
        blocks.append(Block(line=start + 1, lang=m.group(1), body="\n".join(lines[start + 1:j]) + "\n",
                            not_run=nr.group(1) if nr else None, continues=bool(_CONTINUES.match(prev))))
        i = j + 1
    return blocks


def groups(blocks: list[Block]) -> list[Group]:
    out: list[Group] = []
    for b in blocks:
        if b.kind in ("not-run", "other"):
            continue
        if b.continues:
            assert out, f"README.md:{b.line}: <!-- continues --> before the first runnable block"
            out[-1].blocks.append(b)
        else:
            out.append(Group([b]))
    return out


BLOCKS = parse(README.read_text(encoding="utf-8"))
GROUPS = groups(BLOCKS)


def _env(data_root: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")  # 2 shared cores: an oversubscribed OpenBLAS spin-waits
    if data_root is not None:
        env["SPECTRAL_PHYSICS_DATA"] = str(data_root)
    # the console script of this interpreter's installation comes first
    bindir = str(Path(sys.executable).parent)
    if shutil.which("spectral-physics", path=bindir):
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    return env


class BlockFailure(Exception):
    """A README block failed; the message is the report."""


def _run(cmd: list[str], cwd: Path, env: dict[str, str], what: str) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise BlockFailure(f"{what} ran past {TIMEOUT} s\n--- stdout ---\n{(exc.stdout or b'')[-6000:]!r}") from None
    if proc.returncode != 0:
        raise BlockFailure(f"{what} exited with status {proc.returncode}\n--- stdout ---\n{proc.stdout[-6000:]}"
                           f"\n--- stderr ---\n{proc.stderr[-6000:]}")
    return proc


def _console_steps(block: Block) -> list[tuple[str, str]]:
    """(command, expected output) pairs of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for ln in block.body.splitlines():
        if ln.startswith("$ "):
            steps.append((ln[2:], []))
        else:
            assert steps, f"README.md:{block.line}: console block must start with a '$ ' line"
            steps[-1][1].append(ln.rstrip())
    return [(cmd, "\n".join(out).strip("\n") + "\n") for cmd, out in steps]


#: a number as the commands print it: sign, digits, decimals, exponent
_NUMBER = r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"


def _close(expected: str, got: str) -> bool:
    """Whether the printed number ``got`` is ``expected`` up to rounding-level differences.

    Integers (counts, sizes, seeds) must be equal. A float in fixed notation may differ by
    10 units of its last printed digit or 2 % of its value, whichever is larger; one in
    scientific notation (residuals, errors) by a factor of 2, and a zero must stay zero.
    """
    if re.fullmatch(r"[-+]?\d+", expected) or re.fullmatch(r"[-+]?\d+", got):
        return expected == got
    e, g = float(expected), float(got)
    if "e" in expected.lower():
        return g == e if e == 0 else 0.5 <= g / e <= 2
    unit = 10.0 ** -len(expected.split(".")[1])
    return abs(g - e) <= max(10 * unit, 0.02 * abs(e))


def _matches_up_to_rounding(expected: str, got: str) -> bool:
    """``got`` is ``expected`` with ``...`` standing for any text and its numbers :func:`_close`.

    The text around the numbers must be the same character for character. Training prints
    the rounding of its floating point, which differs between CPUs: the worked example's
    test accuracy after three epochs was 0.7792 on one machine and 0.7791 on another, with
    the same code and library versions, and the analyses of that network moved in their
    third decimal.
    """
    pattern, numbers, pos = [], [], 0
    for m in re.finditer(r"\.\.\.|" + _NUMBER, expected):
        pattern.append(re.escape(expected[pos:m.start()]))
        if m.group() == "...":
            pattern.append(".*?")
        else:
            pattern.append(f"({_NUMBER})")
            numbers.append(m.group())
        pos = m.end()
    pattern.append(re.escape(expected[pos:]))
    match = re.fullmatch("".join(pattern), got, re.DOTALL)
    return match is not None and all(_close(e, g) for e, g in zip(numbers, match.groups()))


def _check_output(expected: str, got: str, where: str) -> None:
    got = "\n".join(ln.rstrip() for ln in got.splitlines()).strip("\n") + "\n"
    checker = doctest.OutputChecker()
    if not checker.check_output(expected, got, doctest.ELLIPSIS) and not _matches_up_to_rounding(expected, got):
        example = doctest.Example("", expected)
        diff = checker.output_difference(example, got, doctest.ELLIPSIS | doctest.REPORT_UDIFF)
        raise BlockFailure(f"{where}: the output differs from the README\n{diff}")


def _run_block(block: Block, cwd: Path, env: dict[str, str]) -> None:
    where = f"README.md:{block.line}"
    if block.kind == "python":
        script = cwd / f"block_L{block.line}.py"
        script.write_text(block.body, encoding="utf-8")
        _run([sys.executable, script.name], cwd, env, f"{where} (python)")
    elif block.kind == "bash":
        script = cwd / f"block_L{block.line}.sh"
        script.write_text("set -euo pipefail\n" + block.body, encoding="utf-8")
        _run(["bash", script.name], cwd, env, f"{where} (bash)")
    elif block.kind == "console":
        for cmd, expected in _console_steps(block):
            proc = _run(["bash", "-c", "set -euo pipefail\n" + cmd], cwd, env, f"{where}: $ {cmd}")
            _check_output(expected, proc.stdout, f"{where}: $ {cmd}")
    else:  # pragma: no cover - groups() keeps runnable blocks only
        raise AssertionError(block.kind)


def _run_group(group: Group, cwd: Path, env: dict[str, str]) -> str | None:
    """Run a group's blocks in order in ``cwd``; the failure report, or None."""
    cwd.mkdir(parents=True, exist_ok=True)
    try:
        for block in group.blocks:
            _run_block(block, cwd, env)
    except BlockFailure as exc:
        return str(exc)
    return None


def _jobs() -> int:
    value = os.environ.get("README_TEST_JOBS", "").strip()
    if value:
        return max(1, int(value))
    return max(1, min(os.cpu_count() or 1, 4))


class _Runner:
    """Starts the selected groups together and hands each test its own result."""

    def __init__(self, groups: list[Group], root: Path, data_root: Path | None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=_jobs(), thread_name_prefix="readme")
        self._lock = threading.Lock()
        self._futures: dict[str, Future] = {}
        env = _env(data_root)
        for g in groups:  # README order: the slow main job first
            if data_root is None and any(b.needs_data for b in g.blocks):
                continue  # its test asks for data_root itself: skip, or fail under REQUIRE_DATA
            self._futures[g.id] = self._pool.submit(_run_group, g, root / g.id, env)

    def result(self, group: Group) -> str | None:
        return self._futures[group.id].result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def runner(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    selected = [item.callspec.params["group"] for item in request.session.items
                if getattr(item, "originalname", None) == "test_readme_block" and hasattr(item, "callspec")]
    data_root = None
    if any(b.needs_data for g in selected for b in g.blocks):
        try:
            data_root = request.getfixturevalue("data_root")
        except (pytest.skip.Exception, pytest.fail.Exception):
            data_root = None  # each data test meets the same skip or failure on its own
    r = _Runner(selected, tmp_path_factory.mktemp("readme"), data_root)
    yield r
    r.close()


@pytest.mark.parametrize("group", GROUPS, ids=[g.id for g in GROUPS])
def test_readme_block(group: Group, runner: _Runner, request: pytest.FixtureRequest) -> None:
    if any(b.needs_data for b in group.blocks):
        request.getfixturevalue("data_root")  # skips without the files (fails under REQUIRE_DATA)
    report = runner.result(group)
    if report is not None:
        pytest.fail(report, pytrace=False)


def test_readme_blocks_accounted_for() -> None:
    """Every block is run, explicitly not run (with a reason), or not a command at all."""
    for b in BLOCKS:
        if b.lang == "" and (b.first_command.startswith(("spectral-physics", "$ ", "python"))):
            pytest.fail(f"README.md:{b.line}: unlabelled block of commands; label it bash/console/python "
                        f"(or mark it <!-- not-run: REASON -->)", pytrace=False)
        if b.continues and b.not_run is not None:  # pragma: no cover - one marker line only
            pytest.fail(f"README.md:{b.line}: a block cannot both continue and be not-run")
    kinds = [b.kind for b in BLOCKS]
    run = sum(k in ("python", "bash", "console") for k in kinds)
    assert run >= 15, f"only {run} runnable README blocks found: did the parser break?"
    not_run = [b for b in BLOCKS if b.kind == "not-run"]
    lines = [f"README blocks: {run} run ({kinds.count('python')} python, {kinds.count('bash')} bash, "
             f"{kinds.count('console')} console), {len(not_run)} not run, {kinds.count('other')} other"]
    lines += [f"  not run: README.md:{b.line} ({b.lang}): {b.not_run}" for b in not_run]
    print("\n".join(lines))
    for b in not_run:
        assert b.not_run and len(b.not_run) > 3, f"README.md:{b.line}: give the reason it is not run"


def test_printed_floats_match_up_to_rounding_and_nothing_else() -> None:
    expected = "eigen [784, 500, 10]: 2304 trainable parameters, test accuracy 0.7792\n...\nresidual 8.5e-08\n"
    assert _matches_up_to_rounding(expected, expected)
    same = "eigen [784, 500, 10]: 2304 trainable parameters, test accuracy 0.7791\nepoch 1\nresidual 7.9e-08\n"
    assert _matches_up_to_rounding(expected, same)
    assert not _matches_up_to_rounding(expected, same.replace("0.7791", "0.7592"))  # 2.6 %: not rounding
    assert not _matches_up_to_rounding(expected, same.replace("2304", "2305"))  # a count is exact
    assert not _matches_up_to_rounding(expected, same.replace("[784, 500, 10]", "[784, 501, 10]"))
    assert not _matches_up_to_rounding(expected, same.replace("test accuracy", "train accuracy"))
    assert not _matches_up_to_rounding(expected, same.replace("7.9e-08", "2.0e-07"))  # more than a factor 2
    assert _close("0.393", "0.402") and not _close("0.393", "0.404")  # 10 units of the last digit
    assert _close("-0.071", "-0.066") and _close("0.0e+00", "0.0e+00") and not _close("0.0e+00", "1.0e-09")
