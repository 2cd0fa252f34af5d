"""Command-line interface: ``spectral-physics SUBCOMMAND ...``.

Subcommands are discovered through the ``spectral_physics.commands`` entry-point
group, so packages built on the core (``analysis``) add commands without the
core importing them. Each entry point is a ``register(subparsers)`` function
that adds a parser whose ``func(args) -> int`` does the work.

Errors a user can cause (bad arguments, missing files, bad values) end with a
one-line message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

__all__ = ["main", "CLIError", "build_parser", "positive_int", "positive_float"]


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


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, status 2, as argparse does, minus the usage block
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spectral-physics", description=__doc__.splitlines()[0])
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
    args = parser.parse_args(argv)
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
    except (CLIError, ValueError, FileNotFoundError, OSError, RuntimeError) as exc:
        # ValueError covers ModelFileError and DatasetError, whose messages name the file
        print(f"spectral-physics {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"spectral-physics {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
