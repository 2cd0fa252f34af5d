"""Command-line interface: ``spectral-physics SUBCOMMAND ...``.

Subcommands are discovered through the ``spectral_physics.commands`` entry-point
group, so packages built on the core (``analysis``) add commands without the
core importing them. Each entry point is a ``register(subparsers)`` function
that adds a parser whose ``func(args) -> int`` does the work.

Errors a user can cause (bad arguments, missing files, bad values) end with a
one-line message on stderr and exit status 2, never a traceback.

Every subcommand's parser is a :class:`_Parser`: options must be spelled out (no
abbreviations, so ``--data`` is never silently ``--dataset`` in one command and an
ambiguity error in another; an unknown option gets a "did you mean"), and ``--help``
shows each option's default (:class:`HelpFormatter`). Commands check their output
paths (:func:`check_output_file`, :func:`check_output_dir`) before any work.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

__all__ = ["main", "CLIError", "HelpFormatter", "build_parser", "check_output_dir", "check_output_file",
           "positive_int", "positive_float"]


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _positive(kind):
    def conv(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if not v > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return v

    conv.__name__ = f"positive_{kind.__name__}"
    return conv


#: argparse ``type=`` converters shared by every subcommand
positive_int = _positive(int)
positive_float = _positive(float)


class HelpFormatter(argparse.HelpFormatter):
    """``--help`` with every option's default, unless the help text already states it.

    Defaults that say nothing (``None``, a flag's ``False``) are left out; lists are shown
    as they are typed (``784,500,10``).
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text.lower() or default is None or default is argparse.SUPPRESS
                or isinstance(default, bool) or action.nargs == 0
                or not (action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE))):
            return text
        if isinstance(default, (list, tuple)):
            shown = ",".join(map(str, default))
        else:
            shown = str(default)
        return f"{text} (default: {shown.replace('%', '%%')})".lstrip()


class _Parser(argparse.ArgumentParser):
    """The parser of every (sub)command: no abbreviated options, defaults in ``--help``, one-line errors."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        if kwargs.get("formatter_class") in (None, argparse.HelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
            kwargs["formatter_class"] = HelpFormatter
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # one line, status 2, as argparse does, minus the usage block
        self.exit(2, f"{self.prog}: error: {message}\n")

    def unknown(self, extra: list[str]):
        """Refuse unknown arguments, suggesting the option meant (``--data`` -> ``--dataset``)."""
        options = [o for a in self._actions for o in a.option_strings if o.startswith("--")]
        hints = []
        for arg in extra:
            if arg.startswith("--"):
                close = difflib.get_close_matches(arg.split("=")[0], options, n=1, cutoff=0.6)
                if close:
                    hints.append(f"{arg.split('=')[0]}: did you mean {close[0]}?")
        self.error(f"unrecognized arguments: {' '.join(extra)}" + (f" ({'; '.join(hints)})" if hints else ""))


def _chosen_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost subcommand parser that ``args`` went through."""
    while True:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            return parser
        name = getattr(args, subs[0].dest, None) if subs[0].dest != argparse.SUPPRESS else None
        if name not in subs[0].choices:
            return parser
        parser = subs[0].choices[name]


def check_output_file(path: str | os.PathLike | None, option: str, suffixes: tuple[str, ...]) -> Path | None:
    """Check an output file named on the command line before any work is done.

    Parameters
    ----------
    path : path-like or None
        The file (``None``: nothing to check).
    option : str
        The option's name for messages (``"--out"``).
    suffixes : tuple of str
        Allowed suffixes (``(".nc",)``); empty for any.

    Returns
    -------
    Path or None

    Raises
    ------
    CLIError
        When the suffix is wrong, the path is a folder, or the folder it goes in cannot be
        created or written.
    """
    if path is None:
        return None
    path = Path(path).expanduser()
    if suffixes and path.suffix.lower() not in suffixes:
        raise CLIError(f"{option} must end in {' or '.join(suffixes)}, got {str(path)!r}")
    if path.is_dir():
        raise CLIError(f"{option} {path} is a folder; give a file name ending in {' or '.join(suffixes) or 'a suffix'}")
    _writable_folder(path.parent, option, path)
    return path


def check_output_dir(path: str | os.PathLike | None, option: str) -> Path | None:
    """Check an output folder named on the command line (it may not exist yet) before any work.

    Raises
    ------
    CLIError
        When the path is a file, or it cannot be created or written.
    """
    if path is None:
        return None
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise CLIError(f"{option} {path} is a file, not a folder")
    _writable_folder(path, option, path)
    return path


def _writable_folder(folder: Path, option: str, path: Path) -> None:
    probe = folder if str(folder) else Path(".")
    while not probe.exists():  # the nearest existing folder decides whether it can be made
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise CLIError(f"{option} {path}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise CLIError(f"{option} {path}: cannot write in {probe} (permission denied)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spectral-physics", description=__doc__.splitlines()[0].replace("``", "'"))
    from spectral_physics import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    eps = sorted(entry_points(group="spectral_physics.commands"), key=lambda e: e.name)
    for ep in eps:
        ep.load()(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line (e.g. DatasetError lists the places it looked)."""
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        _chosen_parser(parser, args).unknown(extra)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MemoryError as exc:
        # NumPy's message names the size and shape; a bare MemoryError has none
        print(f"spectral-physics {args.command}: error: out of memory" + (f": {exc}" if str(exc) else ""),
              file=sys.stderr)
        return 2
    except ValueError as exc:
        # DatasetNotFoundError says how to fix it in the command line's words (--data-root)
        text = exc.for_cli() if hasattr(exc, "for_cli") else _one_line(exc)
        print(f"spectral-physics {args.command}: error: {text}", file=sys.stderr)
        return 2
    except (CLIError, FileNotFoundError, OSError, RuntimeError) as exc:
        # ValueError covers ModelFileError and DatasetError, whose messages name the file
        print(f"spectral-physics {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"spectral-physics {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
