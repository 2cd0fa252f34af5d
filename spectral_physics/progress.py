"""Progress reports: a tqdm bar on a terminal, a line now and then in a log file, or nothing.

Every long loop of the library (training steps, downloads, runs of an experiment, the
steps of ``reproduce``) reports through :func:`progress_bar`, whose ``progress``
argument means the same everywhere:

* ``False`` or ``None``: nothing is shown.
* ``True`` or ``"auto"``: a ``tqdm.auto`` bar where someone watches (standard error is a
  terminal, or the code runs in a Jupyter kernel); otherwise, e.g. when standard error
  goes to a file or a batch system's log, one plain line at every further 10 % of the
  total and at least every :data:`LOG_SECONDS` seconds while work goes on, and one at the
  end; nothing at all for work done within :data:`LOG_DELAY` seconds (a short run stays
  silent, and a command's one-line error stays one line). A log never fills with
  carriage-return bar redraws, and a long step still shows that it is alive.
* ``"bar"``: a tqdm bar even when standard error is not a terminal (forced).
* ``"log"``: the plain lines even on a terminal.

Example
-------
>>> from spectral_physics.progress import progress_bar, progress_mode
>>> progress_mode(False), progress_mode("log")
('off', 'log')
>>> import io
>>> log = io.StringIO()
>>> with progress_bar(total=4, desc="demo", unit="step", progress="log", file=log, delay=0) as bar:
...     for _ in range(4):
...         bar.update(1)
>>> [line.split(",")[0] for line in log.getvalue().splitlines()]
['demo: 1/4 step (25%)', 'demo: 2/4 step (50%)', 'demo: 3/4 step (75%)', 'demo: 4/4 step (100%)']
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

__all__ = ["LOG_DELAY", "LOG_FRACTION", "LOG_SECONDS", "progress_bar", "progress_mode"]

#: In ``"log"`` mode, a line at every further fraction of the total (10 %) ...
LOG_FRACTION = 0.1
#: ... and at least every this many seconds while work goes on ...
LOG_SECONDS = 60.0
#: ... but nothing before this many seconds have passed.
LOG_DELAY = 5.0

_MODES = {"auto": "auto", "bar": "bar", "log": "log", "off": "off", "none": "off"}


def _watched(file: Any) -> bool:
    """Whether a person sees ``file`` live: a terminal, or a Jupyter kernel's stream."""
    try:
        if file is not None and file.isatty():
            return True
    except (AttributeError, ValueError, OSError):  # closed or odd streams
        pass
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:  # the test tqdm.autonotebook uses
        shell = ipython.get_ipython()
        return shell is not None and "IPKernelApp" in shell.config
    except Exception:  # noqa: BLE001 - any failure means: not a notebook
        return False


def progress_mode(progress: bool | str | None, file: TextIO | None = None) -> str:
    """What ``progress`` asks for here: ``"off"``, ``"bar"`` or ``"log"``.

    Parameters
    ----------
    progress : bool, str or None
        See the module docstring: ``False``/``None``, ``True``/``"auto"``, ``"bar"``, ``"log"``
        (``"off"`` and ``"none"`` mean ``False``).
    file : text stream, optional
        Where the report goes (default: ``sys.stderr``); ``"auto"`` looks at it.

    Returns
    -------
    str
        ``"off"``, ``"bar"`` or ``"log"``.

    Raises
    ------
    ValueError
        For any other value.
    """
    if progress is None or progress is False:
        return "off"
    if progress is True:
        mode = "auto"
    elif isinstance(progress, str) and progress.strip().lower() in _MODES:
        mode = _MODES[progress.strip().lower()]
    else:
        raise ValueError(f"progress must be True, False, 'auto', 'bar', 'log' or 'off', got {progress!r}")
    if mode == "auto":
        return "bar" if _watched(sys.stderr if file is None else file) else "log"
    return mode


def _duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class _Lines:
    """The ``"log"`` mode: the parts of the tqdm interface the library uses, as plain lines."""

    def __init__(self, iterable: Iterable | None, total: int | None, desc: str, unit: str, initial: int,
                 file: TextIO | None, delay: float) -> None:
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except TypeError:
                total = None
        self.iterable, self.total, self.desc, self.unit = iterable, total, desc or "progress", unit
        self.n = int(initial)
        self.file = file
        self.postfix = ""
        self.t0 = self.t_last = time.monotonic()
        self.n_first = self.n_last = self.n
        self.closed = False
        self.delay = float(delay)
        self.written = False
        self._next_mark = self._mark_after(self.n)

    def _mark_after(self, n: int) -> float:
        if not self.total:
            return float("inf")
        step = max(1.0, LOG_FRACTION * self.total)
        return (int(n / step) + 1) * step

    def _write(self) -> None:
        now = time.monotonic()
        elapsed = now - self.t0
        if self.total:
            text = f"{self.desc}: {self.n}/{self.total} {self.unit} ({100 * self.n / self.total:.0f}%)"
        else:
            text = f"{self.desc}: {self.n} {self.unit}"
        text += f", {_duration(elapsed)} elapsed"
        done = self.n - self.n_first
        if self.total and 0 < done and self.n < self.total:
            text += f", ~{_duration(elapsed / done * (self.total - self.n))} left"
        if self.postfix:
            text += f" [{self.postfix}]"
        print(text, file=sys.stderr if self.file is None else self.file, flush=True)
        self.t_last, self.n_last, self.written = now, self.n, True

    def update(self, n: int | float = 1) -> None:
        self.n += int(n)
        now = time.monotonic()
        if now - self.t0 < self.delay:
            return
        if self.n >= self._next_mark or (now - self.t_last >= LOG_SECONDS and self.n != self.n_last):
            self._next_mark = self._mark_after(self.n)
            self._write()

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = str(s)

    def set_postfix(self, ordered_dict: Any = None, refresh: bool = True, **kwargs: Any) -> None:
        items = dict(ordered_dict or {}, **kwargs)
        self.postfix = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in items.items())

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or "progress"

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.written and self.n != self.n_last:
            self._write()

    def __iter__(self):
        for item in self.iterable if self.iterable is not None else ():
            yield item
            self.update(1)
        self.close()

    def __enter__(self) -> _Lines:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress_bar(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
                 progress: bool | str | None = True, leave: bool = False, initial: int = 0,
                 file: TextIO | None = None, delay: float | None = None, **tqdm_kw: Any) -> Any:
    """A progress report over ``iterable`` or ``total`` units, as ``progress`` asks.

    Parameters
    ----------
    iterable : iterable, optional
        Iterate over the result to advance it by one per item (as ``tqdm(iterable)``).
    total : int, optional
        Number of units (default: ``len(iterable)`` where it has one).
    desc, unit : str
        Label and unit name (``"step"``, ``"run"``, ``"B"``).
    progress : bool, str or None
        ``False``/``None`` off, ``True``/``"auto"`` a bar on a terminal and lines elsewhere,
        ``"bar"`` always a bar, ``"log"`` always lines (see the module docstring).
    leave : bool
        Whether a tqdm bar stays on screen when closed.
    initial : int
        Units already done (a resumed experiment).
    file : text stream, optional
        Default ``sys.stderr``.
    delay : float, optional
        Seconds before anything is shown (default: :data:`LOG_DELAY` for lines, 0 for a bar).
    **tqdm_kw
        Passed to ``tqdm.auto.tqdm`` in bar mode (``unit_scale=True``, ...).

    Returns
    -------
    object
        Has ``update(n)``, ``set_postfix(**kw)``, ``set_postfix_str(s)``, ``set_description(s)``,
        ``close()``; is an iterator when ``iterable`` is given, and a context manager.
    """
    mode = progress_mode(progress, file)
    if mode == "log":
        return _Lines(iterable, total, desc, unit, initial, file, LOG_DELAY if delay is None else delay)
    from tqdm.auto import tqdm

    kw: dict[str, Any] = {"dynamic_ncols": True, **tqdm_kw}
    return tqdm(iterable, total=total, desc=desc or None, unit=unit, leave=leave, initial=initial,
                disable=mode == "off", file=sys.stderr if file is None else file, delay=delay or 0, **kw)
