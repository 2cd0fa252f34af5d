"""The run store: one file per finished run in a results folder, fingerprinted and locked.

Every experiment of the library (the presets sweep, sparse vs direct training, the NTT
comparison, node pruning) is a set of independent *runs*, each named by a key. A run's
result is written to ``<folder>/<key>.json`` (a JSON record) or ``<folder>/<key>.nc`` (an
``xarray.Dataset``) through :func:`spectral_physics.atomic.atomic_path` the moment it
finishes, so an interrupted experiment loses at most the runs in flight. The folder's
``store.json`` manifest records a fingerprint of the experiment's configuration: results
of another configuration are never mixed in. While a store is open, an exclusive
``flock`` on ``<folder>/.lock`` keeps a second process from writing into the same folder
(the kernel releases it when the holder dies, even by ``SIGKILL``).

Example
-------
>>> import tempfile
>>> with RunStore(tempfile.mkdtemp(), fingerprint="abc", kind="json").open() as store:
...     _ = store.save("run-0", {"accuracy": 0.9})
...     store.load("run-0")["accuracy"], store.load("run-1")
(0.9, None)
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from spectral_physics.atomic import remove_stale_temporaries, write_json_atomic

__all__ = ["RunStore", "StoreLockedError", "STORE_FORMAT"]

#: version of the record layout written by :class:`RunStore`
STORE_FORMAT = 1
_KINDS = {"json": ".json", "netcdf": ".nc"}
_RESERVED = {"store", "sweep"}


class StoreLockedError(RuntimeError):
    """Another process holds the results folder open for writing."""


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key or "/" in key or key.startswith(".") or key in _RESERVED:
        raise ValueError(f"run key must be a non-empty file-name stem without '/', got {key!r}")
    return key


class RunStore:
    """One file per finished run, in one folder, for one configuration.

    Parameters
    ----------
    directory : path
        The results folder (created by :meth:`open`).
    fingerprint : str
        Identifies the configuration; records and the manifest carry it.
    kind : {"json", "netcdf"}
        Records are JSON-serialisable dicts or ``xarray.Dataset`` objects.
    manifest : mapping, optional
        Extra JSON-serialisable description written to ``store.json`` (e.g. the spec).
    manifest_name : str
        File name of the manifest (the sweep keeps its historical ``sweep.json``).
    label : str
        What the fingerprint identifies, for error messages (e.g. ``"sweep spec"``).
    """

    def __init__(self, directory: str | os.PathLike, *, fingerprint: str, kind: str = "json",
                 manifest: Mapping[str, Any] | None = None, manifest_name: str = "store.json",
                 label: str = "configuration") -> None:
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}")
        self.directory = Path(directory)
        self.fingerprint = str(fingerprint)
        self.kind = kind
        self.suffix = _KINDS[kind]
        self.manifest = dict(manifest or {})
        self.manifest_name = manifest_name
        self.label = label
        self._lock_fd: int | None = None

    def __repr__(self) -> str:
        return f"RunStore({str(self.directory)!r}, fingerprint={self.fingerprint!r}, kind={self.kind!r})"

    # -- opening -------------------------------------------------------------------------

    def _lock(self) -> None:
        import fcntl

        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            finally:
                os.close(fd)
            raise StoreLockedError(
                f"{self.directory} is in use by another process (pid {holder}); wait for it to finish "
                "or use another results folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd

    def open(self, *, resume: bool = True, overwrite: bool = False) -> RunStore:
        """Lock the folder, check it holds this configuration's results, write the manifest.

        Parameters
        ----------
        resume : bool
            Keep and reuse the records already in the folder. With ``resume=False`` a folder
            that already holds records is refused (``FileExistsError``) unless ``overwrite``.
        overwrite : bool
            Delete the existing records first.

        Raises
        ------
        StoreLockedError
            Another process has the folder open.
        FileExistsError
            Records exist and neither ``resume`` nor ``overwrite`` was given.
        ValueError
            The folder holds results of another configuration (``resume=True``).
        """
        if self._lock_fd is not None:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            existing = self.saved_keys()
            manifest_path = self.directory / self.manifest_name
            if existing and not (resume or overwrite):
                raise FileExistsError(
                    f"{self.directory} already holds {len(existing)} result files; pass resume=True (--resume) to "
                    "continue or overwrite=True (--overwrite) to start again"
                )
            if overwrite:
                for key in existing:
                    self.path(key).unlink(missing_ok=True)
                manifest_path.unlink(missing_ok=True)
            elif manifest_path.exists():
                old = _read_json(manifest_path)
                if old is None or old.get("fingerprint") != self.fingerprint:
                    raise ValueError(
                        f"{self.directory} holds results of a different {self.label}; use another results "
                        "folder or overwrite=True (--overwrite)"
                    )
            remove_stale_temporaries(self.directory)
            write_json_atomic(manifest_path, {"format": STORE_FORMAT, "fingerprint": self.fingerprint,
                                              **self.manifest}, default=str)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Release the folder's lock."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> RunStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- records -------------------------------------------------------------------------

    def path(self, key: str) -> Path:
        """File of run ``key``."""
        return self.directory / f"{_check_key(key)}{self.suffix}"

    def saved_keys(self) -> list[str]:
        """Keys of every record file in the folder (valid or not), sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob(f"*{self.suffix}")
                      if not p.name.startswith(".") and p.stem not in _RESERVED and p.name != self.manifest_name)

    def finished(self) -> list[str]:
        """Keys of the records saved for this configuration, read without locking or validating.

        ``[]`` when the folder holds no manifest of this fingerprint (no records, or another
        configuration's, which :meth:`open` would refuse). For predictions (what a resumed
        run still has to do); :meth:`pending` is what a run trusts.
        """
        manifest = _read_json(self.directory / self.manifest_name) if self.directory.is_dir() else None
        if not isinstance(manifest, dict) or manifest.get("fingerprint") != self.fingerprint:
            return []
        return self.saved_keys()

    def save(self, key: str, record: Mapping[str, Any] | xr.Dataset) -> Path:
        """Write one finished run atomically; returns its path.

        A dict record gets ``format``, ``key`` and ``fingerprint`` fields; a Dataset gets
        ``run_key`` and ``run_fingerprint`` attributes.
        """
        path = self.path(key)
        if self.kind == "json":
            if not isinstance(record, Mapping):
                raise TypeError(f"a json store saves mappings, got {type(record).__name__}")
            write_json_atomic(path, {**record, "format": STORE_FORMAT, "key": key, "fingerprint": self.fingerprint})
        else:
            if not isinstance(record, xr.Dataset):
                raise TypeError(f"a netcdf store saves xarray.Dataset objects, got {type(record).__name__}")
            from spectral_physics.analysis._xr import write_netcdf

            ds = record.copy(deep=False)
            ds.attrs = {**record.attrs, "run_key": key, "run_fingerprint": self.fingerprint}
            write_netcdf(ds, path)
        return path

    def load(self, key: str, validate: Callable[[Any], bool] | None = None) -> Any:
        """The record of run ``key``, or ``None`` when it is missing, damaged or not this configuration's.

        Parameters
        ----------
        validate : callable, optional
            Extra check of the record's contents (e.g. one value per seed); ``False`` or
            an exception counts as no record.
        """
        path = self.path(key)
        if not path.exists():
            return None
        if self.kind == "json":
            rec = _read_json(path)
            ok = (isinstance(rec, dict) and rec.get("format") == STORE_FORMAT and rec.get("key") == key
                  and rec.get("fingerprint") == self.fingerprint)
        else:
            from spectral_physics.analysis._xr import read_netcdf

            try:
                rec = read_netcdf(path)
            except (OSError, ValueError, RuntimeError):
                return None
            ok = rec.attrs.get("run_key") == key and rec.attrs.get("run_fingerprint") == self.fingerprint
            if ok:
                rec.attrs = {k: v for k, v in rec.attrs.items() if k not in ("run_key", "run_fingerprint")}
        if not ok:
            return None
        if validate is not None:
            try:
                if not validate(rec):
                    return None
            except (KeyError, TypeError, ValueError, IndexError):
                return None
        return rec

    def pending(self, keys: Iterable[str], validate: Callable[[Any], bool] | None = None) -> list[str]:
        """The keys among ``keys`` without a valid record, in order."""
        return [k for k in keys if self.load(k, validate) is None]


def _read_json(path: Path) -> Any:
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None
