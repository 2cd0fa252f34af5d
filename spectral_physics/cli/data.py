"""``spectral-physics data where | verify | download``: where the data sets are, and getting them.

Examples::

    spectral-physics data where                 # the search order and what each place holds
    spectral-physics data verify                # checksums of the files load_dataset would read
    spectral-physics data download mnist        # on a machine with internet: into the cache
    spectral-physics data download --to ../shared/data mnist fashion-mnist

The search order is that of ``spectral_physics.datasets.search_path``: ``--data-root``,
``$SPECTRAL_PHYSICS_DATA``, ``../shared/data`` beside the current directory and beside
the checkout, the system folder, the cache.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import CLIError

__all__ = ["register"]

#: data sets read from files (teacher-student is generated)
FILE_DATASETS = ("mnist", "fashion-mnist", "cifar10")


def _names(values: list[str] | None) -> list[str]:
    from spectral_physics.datasets import canonical_name

    names = []
    for v in values or []:
        try:
            name = canonical_name(v)
        except ValueError:
            raise CLIError(f"unknown data set {v!r}; choose among {', '.join(FILE_DATASETS)}") from None
        if name not in FILE_DATASETS:
            raise CLIError(f"{name} is generated, not read from files; choose among {', '.join(FILE_DATASETS)}")
        names.append(name)
    return names


def register(sub) -> None:
    p = sub.add_parser("data", help="where the data sets are looked for; verify or download them",
                       description="Where the data sets are looked for (the library, the command line and the "
                                   "tests share one search order), their checksums, and downloads.")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    w = actions.add_parser("where", help="the search order and what each place holds",
                           description="Print the data search order and, for each place, which data sets it "
                                       "holds and whether their checksums match.")
    w.add_argument("datasets", nargs="*", metavar="DATASET",
                   help=f"data sets to show (default: {' '.join(FILE_DATASETS)})")
    w.add_argument("--data-root", default=None, help="a folder searched first, as for every other command")
    w.add_argument("--no-verify", action="store_true", help="list the files without checking their checksums")
    w.set_defaults(func=run_where)

    v = actions.add_parser("verify", help="checksums of the files that would be read",
                           description="Check the checksums of the files load_dataset would read; exit status "
                                       "1 when a file does not match or a named data set is missing.")
    v.add_argument("datasets", nargs="*", metavar="DATASET",
                   help="data sets to check (default: every one found)")
    v.add_argument("--data-root", default=None, help="a folder searched first, as for every other command")
    v.set_defaults(func=run_verify)

    d = actions.add_parser("download", help="download data sets (needs internet access)",
                           description="Download the data sets not found on the search path, verify them, and "
                                       "put them in the cache (or in --to DIR/NAME/).")
    d.add_argument("datasets", nargs="*", metavar="DATASET",
                   help="data sets to download (default: mnist fashion-mnist)")
    d.add_argument("--to", default=None, metavar="DIR",
                   help="download into DIR/NAME/ instead of the cache (e.g. ../shared/data)")
    d.add_argument("--data-root", default=None, help="a folder searched first, as for every other command")
    d.add_argument("--mirror", nargs="+", default=None, metavar="URL",
                   help="base URLs to download from, replacing $SPECTRAL_PHYSICS_MIRROR and the built-in mirrors")
    d.add_argument("--force", action="store_true", help="download even where the data set is found already")
    d.add_argument("--no-progress", action="store_true", help="no progress report")
    d.set_defaults(func=run_download)


def _check_root(args) -> None:
    if args.data_root is not None and not Path(args.data_root).expanduser().is_dir():
        raise CLIError(f"--data-root {args.data_root}: not a directory")


def run_where(args) -> int:
    from spectral_physics.datasets import DatasetError, find_dataset, inspect_location, search_path

    _check_root(args)
    names = _names(args.datasets) or list(FILE_DATASETS)
    locations = search_path(args.data_root)
    print("data search order (the first complete set wins):")
    entries: list = list(locations)  # with a line for each place that is not set
    if not any(loc.source == "env" for loc in locations):
        entries.insert(1 if args.data_root is not None else 0, "$SPECTRAL_PHYSICS_DATA: not set")
    if args.data_root is None:
        entries.insert(0, "--data-root: not given")
    seen: dict[str, int] = {}
    for i, loc in enumerate(entries, 1):
        if isinstance(loc, str):
            print(f"{i}. {loc}")
            continue
        try:
            key = str(loc.path.resolve())
        except OSError:
            key = str(loc.path)
        again = key in seen and loc.source != "root"
        note = f"  (same folder as {seen[key]}: searched once)" if again else ""
        if loc.source == "cache":
            note += "  (downloads go here)"
        print(f"{i}. {loc.describe(cli=True)}: {loc.path}{note}")
        if again:
            continue
        seen[key] = i
        if not loc.path.is_dir():
            print("     no such directory")
            continue
        for name in names:
            files, status = inspect_location(loc, name)
            if files is not None:
                if args.no_verify:
                    status = "complete, checksums not checked (--no-verify)"
                else:
                    problems = files.verify()
                    if problems:
                        status = f"complete, BAD: {problems[0]}" + (
                            f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
                    elif name == "cifar10" and len(files.files) > 1:
                        status = "complete (extracted batches: no published checksums; structure checked)"
                    else:
                        status = "complete, checksums match"
            print(f"     {name:14s} {status}")
    print()
    for name in names:
        try:
            found = find_dataset(name, args.data_root)
        except DatasetError as exc:
            print(f"{name}: {exc}")
            continue
        print(f"{name}: " + (f"read from {found.directory}" if found is not None else
                             f"not found (on a machine with internet: spectral-physics data download {name})"))
    return 0


def run_verify(args) -> int:
    from spectral_physics.datasets import find_dataset

    _check_root(args)
    named = _names(args.datasets)
    names = named or list(FILE_DATASETS)
    bad = checked = 0
    for name in names:
        found = find_dataset(name, args.data_root)
        if found is None:
            if named:
                print(f"{name}: not found (spectral-physics data where shows the search order)")
                bad += 1
            continue
        checked += 1
        problems = found.verify()
        if problems:
            bad += 1
            print(f"{name}: {found.directory}: BAD")
            for p in problems:
                print(f"  {p}")
        else:
            what = ("structure checked (no published checksums for extracted batches)"
                    if name == "cifar10" and len(found.files) > 1 else "checksums match")
            print(f"{name}: {found.directory}: {len(found.files)} files, {what}")
    if not checked and not named:
        raise CLIError("no data set found; 'spectral-physics data where' shows where they are looked for")
    return 1 if bad else 0


def run_download(args) -> int:
    from spectral_physics.datasets import download_dataset, find_dataset

    _check_root(args)
    names = _names(args.datasets) or ["mnist", "fashion-mnist"]
    if args.to is not None:
        to = Path(args.to).expanduser()
        if to.exists() and not to.is_dir():
            raise CLIError(f"--to {args.to}: not a directory")
    for name in names:
        found = None if args.force else find_dataset(name, args.data_root)
        if found is not None:
            print(f"{name}: already at {found.directory} ({found.location.describe(cli=True)}); nothing to download "
                  "(--force downloads anyway)")
            continue
        directory = download_dataset(name, args.to, progress=not args.no_progress, mirrors=args.mirror)
        print(f"{name}: downloaded and verified in {directory}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run as: spectral-physics data ...")
