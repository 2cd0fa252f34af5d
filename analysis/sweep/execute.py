"""Running independent runs on any executor, each result saved to a :class:`RunStore` as it lands.

:func:`run_tasks` is the one execution loop of the library's experiments: it submits
every run whose record is missing to a :class:`concurrent.futures.Executor` (in process,
a local process pool, a Dask cluster, or any executor passed in), keeps a bounded window
of tasks in flight, writes each finished record from the submitting process (workers need
no shared file system), and on the first failure saves what has finished before
re-raising, so ``resume=True`` continues from there.
"""

from __future__ import annotations

import concurrent.futures as cf_futures
import contextlib
import functools
import os
from collections.abc import Callable, Mapping
from typing import Any

from .spec import _is_int
from .store import RunStore

__all__ = ["SerialExecutor", "default_workers", "make_executor", "run_tasks"]


class SerialExecutor(cf_futures.Executor):
    """Runs each task in the calling process at ``submit`` (``workers=1``: no process start-up)."""

    def submit(self, fn, /, *args, **kwargs):
        """Run ``fn(*args, **kwargs)`` now; return a finished future with its result or exception."""
        fut: cf_futures.Future = cf_futures.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(exc, KeyboardInterrupt):
                raise
            fut.set_exception(exc)
        return fut


_BLAS_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def worker_blas_threads(threads: int = 1, *, override: bool = False):
    """Let worker processes started inside this block use ``threads`` BLAS threads each.

    Several workers with a multi-threaded BLAS each would oversubscribe the cores; the
    variables must be in the environment when a worker starts, before it imports NumPy.
    ``override=False`` keeps a value the user already set.
    """
    saved = {k: os.environ.get(k) for k in _BLAS_VARS}
    for k in _BLAS_VARS:
        if override:
            os.environ[k] = str(threads)
        else:
            os.environ.setdefault(k, str(threads))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _blas_limited(fn: Callable[[Any], Any], threads: int, task: Any) -> Any:
    """``fn(task)`` with at most ``threads`` BLAS threads, wherever it runs.

    Module level, so that a partial of it pickles: a Dask worker or any executor passed in
    was started before the environment variables of :func:`worker_blas_threads` could reach
    it, so the limit has to travel with the task.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads, user_api="blas"):
        return fn(task)


def _gpu_devices() -> list[str]:
    """CUDA device ids this process may use: ``CUDA_VISIBLE_DEVICES`` if set, else all it counts."""
    from spectral_physics.backend import gpu_count

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip():
        ids = [d.strip() for d in visible.split(",") if d.strip()]
        return ids[: gpu_count()] if ids else []
    return [str(i) for i in range(gpu_count())]


def default_workers(device: str | None = None) -> int:
    """Local worker processes a sweep uses when not told: one per GPU for ``device="gpu"``
    (each CUDA context costs memory and the kernels of one GPU queue on one device anyway),
    else one per CPU core (``os.cpu_count()``).

    ``device`` ``None`` reads ``SPECTRAL_PHYSICS_DEVICE``. Without CuPy or a CUDA device the
    GPU count is 0 and one (in-process) worker is used, whose first run then says what is
    missing.
    """
    from spectral_physics import config

    if config.get("SPECTRAL_PHYSICS_DEVICE", device, argument="device") == "gpu":
        return max(1, len(_gpu_devices()))
    return os.cpu_count() or 1


def _use_gpu(counter, devices: list[str]) -> None:
    """Worker initialiser: pin this worker to one GPU, round robin over ``devices``.

    Runs in a fresh (spawned) worker before anything imports CuPy, so restricting
    ``CUDA_VISIBLE_DEVICES`` makes the chosen GPU the worker's device 0.
    """
    with counter.get_lock():
        i = counter.value
        counter.value += 1
    os.environ["CUDA_VISIBLE_DEVICES"] = devices[i % len(devices)]


def make_executor(workers: int | None = None, scheduler: str | None = None, client: Any = None,
                  device: str | None = None):
    """The executor a sweep runs on, and a function that releases it.

    Parameters
    ----------
    workers : int, optional
        Local worker processes (default :func:`default_workers`: one per GPU for a GPU
        sweep, else ``os.cpu_count()``); ``1`` runs in this process.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:port``); needs ``dask[distributed]``.
    client : dask.distributed.Client, optional
        An existing client; its executor is used and the client is left open.
    device : {"cpu", "gpu"}, optional
        Where the runs train (``None``: ``SPECTRAL_PHYSICS_DEVICE``). It sets the default
        number of workers, and with ``"gpu"`` and several local workers each worker is
        pinned to one GPU (``CUDA_VISIBLE_DEVICES``, round robin), so no two workers open
        contexts on every device.

    Returns
    -------
    executor : concurrent.futures.Executor
    close : callable
        Shuts down what this function started.
    """
    if client is not None and scheduler is not None:
        raise ValueError("give either client or scheduler, not both")
    if client is not None:
        ex = client.get_executor(pure=False)
        return ex, lambda: None
    if scheduler is not None:
        try:
            from dask.distributed import Client
        except ImportError as exc:
            raise RuntimeError(
                "scheduler= needs dask.distributed: pip install 'spectral-physics[distributed]'"
            ) from exc
        try:
            cl = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise OSError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        return cl.get_executor(pure=False), cl.close
    if workers is None:
        workers = default_workers(device)
    if not _is_int(workers) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if workers == 1:
        return SerialExecutor(), lambda: None
    import multiprocessing

    # spawn: fresh interpreters that pick up the single-threaded BLAS settings (and, for
    # the GPU, that have not initialised CUDA, which a forked child could not use)
    ctx = multiprocessing.get_context("spawn")
    pin: dict[str, Any] = {}
    from spectral_physics import config

    if config.get("SPECTRAL_PHYSICS_DEVICE", device, argument="device") == "gpu":
        devices = _gpu_devices()
        if devices:
            pin = {"initializer": _use_gpu, "initargs": (ctx.Value("i", 0), devices)}
    ex = cf_futures.ProcessPoolExecutor(max_workers=int(workers), mp_context=ctx, **pin)
    return ex, lambda: ex.shutdown(wait=True, cancel_futures=True)


def _window(executor: cf_futures.Executor, n: int) -> int:
    """How many tasks to keep submitted: one at a time in process, a few per pool worker."""
    if isinstance(executor, SerialExecutor):
        return 1
    workers = getattr(executor, "_max_workers", None)
    return max(1, 2 * int(workers)) if workers else max(1, n)


def run_tasks(
    fn: Callable[[Any], Any],
    tasks: Mapping[str, Any],
    store: RunStore,
    *,
    executor: cf_futures.Executor | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    validate: Callable[[Any], bool] | None = None,
    progress: bool = True,
    desc: str = "runs",
    on_result: Callable[[str, Any], None] | None = None,
    device: str | None = None,
    blas_threads: int | None = None,
) -> dict[str, Any]:
    """Compute every run of ``tasks`` that ``store`` lacks; return all records.

    Parameters
    ----------
    fn : callable
        ``fn(task) -> record``: a module-level function (pickled to worker processes).
        The record is a dict (``kind="json"`` stores) or an ``xarray.Dataset``.
    tasks : mapping
        Run key -> task (picklable). Keys are file-name stems.
    store : RunStore
        Opened (:meth:`RunStore.open`) by the caller; it decides resume or overwrite.
    executor : concurrent.futures.Executor, optional
        Used as is and left open. Otherwise one is made from ``workers``, ``scheduler``,
        ``client`` (:func:`make_executor`) and shut down on return.
    validate : callable, optional
        Extra check of a stored record (see :meth:`RunStore.load`).
    progress : bool or str
        Progress over runs, finished runs counted from the start: a bar on a terminal, a
        line per 10 % in a log (see :mod:`spectral_physics.progress`).
    desc : str
        Label of the bar.
    on_result : callable, optional
        ``on_result(key, record)`` after each new record is written.
    device : {"cpu", "gpu"}, optional
        Where the runs train; passed to :func:`make_executor` (one worker per GPU by default).
    blas_threads : int, optional
        BLAS threads of each run, set through threadpoolctl where the run executes, so it
        holds on a Dask cluster or a given executor too. ``None``: local pool workers start
        with one (``OPENBLAS_NUM_THREADS=1`` etc.) and in-process runs keep this process's.

    Returns
    -------
    dict
        Run key -> record, in the order of ``tasks``.

    Raises
    ------
    Exception
        The first error of a run, after the runs finished so far are written.
    """
    from spectral_physics.progress import progress_bar

    if blas_threads is not None:
        if not _is_int(blas_threads) or int(blas_threads) < 1:
            raise ValueError(f"blas_threads must be a positive integer, got {blas_threads!r}")
        fn = functools.partial(_blas_limited, fn, int(blas_threads))
    todo = store.pending(tasks, validate)
    close = lambda: None  # noqa: E731
    if todo and executor is None:
        executor, close = make_executor(workers, scheduler, client, device=device)
    bar = progress_bar(total=len(tasks), initial=len(tasks) - len(todo), progress=progress, unit="run", desc=desc,
                       leave=True)
    queue = iter(todo)
    inflight: dict[cf_futures.Future, str] = {}
    window = _window(executor, len(todo)) if todo else 0
    blas = contextlib.nullcontext if isinstance(executor, SerialExecutor) else worker_blas_threads

    def submit_more() -> None:
        with blas():  # worker processes start inside submit
            while len(inflight) < window:
                key = next(queue, None)
                if key is None:
                    return
                inflight[executor.submit(fn, tasks[key])] = key

    def save(key: str, rec: Any) -> None:
        store.save(key, rec)
        bar.update(1)
        if on_result is not None:
            on_result(key, rec)

    error: BaseException | None = None
    try:
        submit_more()
        while inflight:
            done, _ = cf_futures.wait(inflight, return_when=cf_futures.FIRST_COMPLETED)
            for fut in done:
                key = inflight.pop(fut)
                try:
                    rec = fut.result()
                except Exception as exc:  # noqa: BLE001 - re-raised below, after saving finished runs
                    error = error or exc
                    continue
                save(key, rec)
            if error is not None:
                break
            submit_more()
    finally:
        for fut in inflight:
            fut.cancel()
        bar.close()
        close()  # waits for running tasks of a pool this function started
    if error is not None:
        # runs that finished while the failure was handled: less to recompute on resume
        for fut, key in inflight.items():
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                save(key, fut.result())
        raise error
    out = {}
    for key in tasks:
        rec = store.load(key, validate)
        if rec is None:
            raise RuntimeError(f"run {key!r} has no valid record in {store.directory} after it finished")
        out[key] = rec
    return out
