"""The one atomic write of the library: every result file appears whole or not at all.

A file is written to a temporary name in its destination folder, flushed to disk, given
the permissions a plain ``open()`` would have given it (``0o666`` minus the umask, so
collaborators on a shared file system can read results), and renamed over the final
name. A crash or a kill mid-write leaves any previous file untouched and, at worst, a
temporary file named ``.<name>.<random>.tmp`` that :func:`remove_stale_temporaries`
cleans up.

Example
-------
>>> import json, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> with atomic_path(d / "result.json") as tmp:
...     _ = tmp.write_text(json.dumps({"accuracy": 0.97}))
>>> json.loads((d / "result.json").read_text())
{'accuracy': 0.97}
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "write_text_atomic", "write_json_atomic", "remove_stale_temporaries", "TMP_SUFFIX"]

TMP_SUFFIX = ".tmp"


def _umask() -> int:
    # os.umask can only be read by setting it; restore at once
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    The caller writes the whole file to the yielded path (any writer that takes a path:
    ``xarray.Dataset.to_netcdf``, ``numpy.savez``, ``Path.write_text``, ...). On leaving the
    block without an exception the file is fsynced, its mode set to ``0o666 & ~umask``
    and renamed to ``path``; on an exception it is removed and ``path`` is untouched.
    The parent folder is created if missing.

    Parameters
    ----------
    path : path-like
        Final name.

    Yields
    ------
    pathlib.Path
        The temporary file (exists, empty).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        # mkstemp creates 0600; results are meant to be shared like any other file
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json_atomic(path: str | os.PathLike, obj: Any, **dump_kwargs: Any) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (NaN allowed, as Python's json writes it)."""
    return write_text_atomic(path, json.dumps(obj, allow_nan=True, **dump_kwargs))


def remove_stale_temporaries(folder: str | os.PathLike, older_than: float = 3600.0) -> list[Path]:
    """Delete temporary files of interrupted atomic writes in ``folder``.

    Only files named like :func:`atomic_path` names them (``.<name>.<random>.tmp``) and
    last modified more than ``older_than`` seconds ago are removed, so a write in progress
    in another process is left alone.

    Returns
    -------
    list of pathlib.Path
        The files removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now = time.time()
    removed = []
    for p in folder.glob(f".*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if p.is_file() and now - p.stat().st_mtime > older_than:
                p.unlink()
                removed.append(p)
    return removed
