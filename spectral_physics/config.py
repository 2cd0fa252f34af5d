"""The environment variables of spectral-physics, in one place.

Every ``SPECTRAL_PHYSICS_*`` variable the package (and its test suite) reads is a
:class:`Variable` in :data:`VARIABLES`, with its meaning, allowed values and default;
code reads one only through :func:`get`. README's section "Environment variables"
is :func:`markdown_table`, and a test keeps the two equal.

When they are read
------------------
At call time: :func:`get` looks at ``os.environ`` every time it is called, i.e. when
the value is needed (a network is built with ``device=None``, a data set is looked
for, a kernel runs), never at import. So a variable set or changed after
``import spectral_physics`` -- in a notebook, by a test's ``monkeypatch.setenv``, by
a sweep setting up a worker -- takes effect at the next use, and a bad value is an
error where it is used rather than an import failure of the whole package. A read
costs about a microsecond (the last parse of each variable is remembered as long as
its text is unchanged), which is nothing beside the block-sized work of any caller,
the fused kernels included.

Precedence
----------
An explicit argument always wins over the environment, which wins over the
default: ``get(name, value)`` returns ``value`` (checked the same way) when it is
not ``None``. E.g. ``SpectralMLP(sizes, device="cpu")`` ignores
``SPECTRAL_PHYSICS_DEVICE``, :func:`spectral_physics.kernels.set_implementation`
overrides ``SPECTRAL_PHYSICS_KERNELS``, and ``load_dataset(name, root=...)``
searches ``root`` before ``SPECTRAL_PHYSICS_DATA``. An empty variable counts as unset.

``SPECTRAL_PHYSICS_DATA`` is one step of the data search order, not the only one: after
it come ``../shared/data`` beside the current directory and beside the checkout, the
system and the cache folders. The whole order is documented once, in
:mod:`spectral_physics.datasets` (:func:`~spectral_physics.datasets.search_path`), and
the library, the command line and the test suite all use it.

Bad values
----------
A value outside the allowed ones raises :class:`ValueError` naming the variable and
its allowed values (for an explicit argument, naming the argument).

Example
-------
>>> from spectral_physics import config
>>> config.VARIABLES["SPECTRAL_PHYSICS_DEVICE"].default       # when unset or empty
'cpu'
>>> config.get("SPECTRAL_PHYSICS_DEVICE", "CUDA")      # an explicit value wins, normalised
'gpu'
>>> config.get("SPECTRAL_PHYSICS_KERNELS", "fortran", argument="choice")
Traceback (most recent call last):
    ...
ValueError: choice must be one of ('auto', 'numba', 'array'), got 'fortran'
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "VARIABLES",
    "Variable",
    "get",
    "markdown_table",
]


class _Invalid(Exception):
    """Raised by a parser; :func:`get` turns it into a ValueError naming the source."""


def _choice(allowed: tuple[str, ...], aliases: dict[str, str] | None = None) -> Callable[[str], str]:
    aliases = aliases or {}

    def parse(raw: str) -> str:
        key = raw.strip().lower()
        key = aliases.get(key, key)
        if key not in allowed:
            raise _Invalid(f"must be one of {allowed}" + (f" (or {', '.join(aliases)})" if aliases else ""))
        return key

    return parse


def _flag(raw: str) -> bool:
    key = raw.strip()
    if key not in ("0", "1"):
        # "true"/"yes" would silently mean "off" under a plain == "1" test: refuse them
        raise _Invalid("must be '0' or '1'")
    return key == "1"


def _directories(raw: str) -> tuple[Path, ...]:
    return tuple(Path(p.strip()).expanduser() for p in raw.split(os.pathsep) if p.strip())


def _directory(raw: str) -> Path:
    return Path(raw.strip()).expanduser()


def _urls(raw: str) -> tuple[str, ...]:
    import re

    return tuple(u for u in re.split(r"[\s,]+", raw.strip()) if u)


@dataclass(frozen=True)
class Variable:
    """One environment variable.

    Attributes
    ----------
    name : str
        ``SPECTRAL_PHYSICS_...``.
    meaning : str
        What it sets (one sentence, Markdown).
    allowed : str
        The values accepted (Markdown).
    default : Any
        What :func:`get` returns when the variable is unset or empty.
    default_text : str
        The default as shown to people (Markdown).
    read_by : str
        Who reads it, and so when it takes effect.
    parse : callable
        Text -> value; raises ``_Invalid`` with the reason for a bad value.
    what : str
        What the value is, for error messages (``"device"``).
    """

    name: str
    meaning: str
    allowed: str
    default: Any
    default_text: str
    read_by: str
    parse: Callable[[str], Any]
    what: str


#: every ``SPECTRAL_PHYSICS_*`` variable, by name
VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in (
        Variable(
            name="SPECTRAL_PHYSICS_DEVICE",
            meaning="Device of networks built with `device=None` (every array on the CPU through "
                    "NumPy, or on the GPU through CuPy).",
            allowed="`cpu`, `gpu` (also `cuda`, `cupy`); any case",
            default="cpu",
            default_text="`cpu`",
            read_by="`backend.resolve_device`, each time a network, layer or loaded model is placed",
            parse=_choice(("cpu", "gpu"), {"cuda": "gpu", "cupy": "gpu"}),
            what="device",
        ),
        Variable(
            name="SPECTRAL_PHYSICS_KERNELS",
            meaning="Implementation of the fused element-wise kernels: `auto` takes the Numba loops "
                    "(NumPy arrays) or the fused CuPy kernels (CuPy arrays) where they apply, `numba` does "
                    "the same but raises where the Numba loops are unavailable, `array` always uses array "
                    "expressions, on both devices.",
            allowed="`auto`, `numba`, `array`; any case",
            default="auto",
            default_text="`auto`",
            read_by="`kernels`, at each kernel call unless `kernels.set_implementation` chose",
            parse=_choice(("auto", "numba", "array")),
            what="kernel implementation",
        ),
        Variable(
            name="SPECTRAL_PHYSICS_DATA",
            meaning="Directories holding `<name>/` data set folders (e.g. `mnist/`), searched after "
                    "`root=` (`--data-root`) and before `../shared/data` beside the current directory and "
                    "beside the checkout, the system and the cache directories (`datasets.search_path`; "
                    "`spectral-physics data where` prints the order).",
            allowed="directories joined by `os.pathsep` (`:`; `;` on Windows); `~` is expanded",
            default=(),
            default_text="none (the rest of the search order still applies)",
            read_by="`datasets.search_path`: `load_dataset`, `spectral-physics data`, every `--data-root` "
                    "command and the tests' `data_root` fixture, at each call",
            parse=_directories,
            what="list of directories",
        ),
        Variable(
            name="SPECTRAL_PHYSICS_CACHE",
            meaning="Cache directory that downloads go to (and are found in).",
            allowed="a directory; `~` is expanded",
            default=None,
            default_text="`$XDG_CACHE_HOME/spectral-physics`, else `~/.cache/spectral-physics`",
            read_by="`datasets.cache_dir`, at each call",
            parse=_directory,
            what="directory",
        ),
        Variable(
            name="SPECTRAL_PHYSICS_MIRROR",
            meaning="Base URLs to download data sets from, tried in order, replacing the built-in "
                    "`datasets.MIRRORS`; `{name}` in a URL is replaced by the data set name, else "
                    "`<name>/` is appended.",
            allowed="URLs separated by whitespace or commas",
            default=(),
            default_text="none (the built-in mirrors)",
            read_by="`datasets.load_dataset(download=True)`, `datasets.download_dataset` and "
                    "`spectral-physics data download`, at each download",
            parse=_urls,
            what="list of URLs",
        ),
        Variable(
            name="SPECTRAL_PHYSICS_REQUIRE_DATA",
            meaning="`1`: data-dependent tests fail instead of skipping where the data files are "
                    "missing (CI sets it, so CI never passes by skipping).",
            allowed="`0`, `1`",
            default=False,
            default_text="`0`",
            read_by="the tests' `data_root` fixture",
            parse=_flag,
            what="flag",
        ),
    )
}

# name -> (text last parsed, its value): parse once per distinct text
_LAST: dict[str, tuple[str, Any]] = {}


def get(name: str, value: Any = None, *, argument: str | None = None) -> Any:
    """The value of a setting: ``value`` if given, else the environment's, else the default.

    Parameters
    ----------
    name : str
        A key of :data:`VARIABLES`.
    value : optional
        An explicit argument (e.g. ``device=`` of a constructor); when not ``None`` it wins
        over the environment and is checked and normalised as the variable would be.
    argument : str, optional
        The argument's name for error messages about ``value`` (default: the variable's
        ``what``, e.g. ``"device"``).

    Returns
    -------
    Any
        ``DEVICE``, ``KERNELS``: the normalised choice (``str``); ``DATA``: a tuple of
        :class:`~pathlib.Path`; ``CACHE``: a ``Path`` or ``None``; ``MIRROR``: a tuple of
        ``str``; ``REQUIRE_DATA``: ``bool``.

    Raises
    ------
    KeyError
        For a name that is not in :data:`VARIABLES`.
    ValueError
        For a bad value, naming the variable (or ``argument``) and the allowed values.
    """
    var = VARIABLES.get(name)
    if var is None:
        raise KeyError(f"{name!r} is not a spectral-physics environment variable; known: {sorted(VARIABLES)}")
    if value is not None:
        try:
            return var.parse(str(value))
        except _Invalid as exc:
            raise ValueError(f"{argument or var.what} {exc}, got {value!r}") from None
    raw = os.environ.get(name, "")
    last = _LAST.get(name)
    if last is not None and last[0] == raw:
        return last[1]
    if not raw.strip():
        out = var.default
    else:
        try:
            out = var.parse(raw)
        except _Invalid as exc:
            raise ValueError(f"environment variable {name}={raw!r}: {var.what} {exc}") from None
    _LAST[name] = (raw, out)
    return out


def markdown_table() -> str:
    """The table of :data:`VARIABLES` in README's section "Environment variables".

    Returns
    -------
    str
        A Markdown table, one row per variable, ending with a newline.
    """
    rows = ["| Variable | Meaning | Allowed values | Default | Read by |", "|---|---|---|---|---|"]
    for v in VARIABLES.values():
        rows.append(f"| `{v.name}` | {v.meaning} | {v.allowed} | {v.default_text} | {v.read_by} |")
    return "\n".join(rows) + "\n"
