"""Execution back-ends behind one interface.

``Executor(workers, backend, scheduler)`` runs ``fn(shared, task)`` for every task and hands
back results keyed by the task's position, whatever the back-end:

- ``"serial"``: in the calling process (the default for one worker and for small runs);
- ``"processes"``: local worker processes (``concurrent.futures``, ``spawn`` context). A
  worker that dies (killed, out of memory) breaks the pool: the pool is rebuilt and every
  task that has not returned is resubmitted, so no task is lost or counted twice;
- ``"dask"``: a Dask ``distributed`` cluster at ``scheduler`` (``tcp://host:port``; reached
  at once, or :class:`SchedulerUnreachable`), or a local one of ``workers`` single-threaded
  processes on 127.0.0.1, over TLS with certificates of its own (``Security.temporary()``:
  no other local user can submit work), serving no HTTP. Lost workers' tasks are rerun.

Local workers never outnumber a ``map``'s tasks nor, without ``oversubscribe=True``,
:data:`OVERSUBSCRIBE` per core, and exit when the process that started them dies.
Tasks must be pure functions of their arguments (hemodel's are: every random number is
keyed by seed, sample, patient and purpose), so a task rerun after a failure returns the
same bits, and their sums combine exactly (:mod:`hemodel.run.sums`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any

BACKENDS = ("serial", "processes", "dask")
#: Below this many patient-strategy simulations, ``workers=None`` runs in-process: starting
#: worker processes (about a second each) would cost more than it saves.
SMALL_RUN = 50_000
#: Cost of one patient-strategy simulation relative to the SimPy engine, to weigh a run's
#: work against :data:`SMALL_RUN` (measured in one process on serena6_us: about 1,300 a
#: second on the SimPy engine, 120,000-160,000 on the array engine in batches of 10,000, where
#: worker processes cost more in start-up and in sending tables back than they save).
ENGINE_COST = {"simpy": 1.0, "array": 0.01}
#: Times a process pool may break (a worker died) in one ``map`` before giving up.
MAX_POOL_RESTARTS = 10
#: Local workers per core beyond which ``oversubscribe=True`` must be passed.
OVERSUBSCRIBE = 4
#: Seconds to reach a Dask scheduler before :class:`SchedulerUnreachable`.
CONNECT_TIMEOUT = 5.0
#: Seconds between a pool worker's checks that the process that started it is alive.
PARENT_CHECK = 0.5
#: Dask settings for the clusters hemodel starts (and its client). By default Dask samples
#: every worker thread 100 times a second for its profiler (about 10% of the CPU of a
#: pure-Python task) and wakes every event loop 50 times a second to watch for blocking;
#: hemodel's tasks need neither. For workers started by hand see docs/cluster.md.
DASK_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}


class SchedulerUnreachable(ConnectionError):
    """A Dask scheduler that did not answer within :data:`CONNECT_TIMEOUT` seconds."""


#: A Dask scheduler's address: tcp:// or tls://, a host name or [IPv6], an optional port.
_ADDRESS = re.compile(r"(tcp|tls)://(\[[0-9A-Fa-f:.]+\]|[\w.-]+)(?::(\d{1,5}))?/?")


def resolve(
    workers: int | None,
    backend: str | None,
    scheduler: str | None,
    work: int | None = None,
    *,
    oversubscribe: bool = False,
) -> tuple[str, int]:
    """The back-end and worker count a request means.

    ``scheduler`` implies ``"dask"`` (0 workers: the cluster's). Without a back-end, one
    worker means ``"serial"`` and more ``"processes"``; ``workers=None`` means every core, or
    one for runs of fewer than :data:`SMALL_RUN` patient-strategy simulations (``work``, at
    the SimPy engine's cost: :data:`ENGINE_COST`). Over :data:`OVERSUBSCRIBE` local workers
    per core need ``oversubscribe``."""
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if scheduler is not None:
        if backend not in (None, "dask"):
            raise ValueError(f"a scheduler address needs backend 'dask', not {backend!r}")
        match = _ADDRESS.fullmatch(str(scheduler))
        if not match or int(match[3] or 0) > 65535:
            from ..scenario.problems import shorten

            like, bad = "tcp://HOST:PORT (or tls://HOST:PORT)", shorten(repr(scheduler))
            raise ValueError(f"a Dask scheduler address looks like {like}, not {bad}")
        return "dask", workers or 0
    cores = os.cpu_count() or 1
    if workers is not None and workers > OVERSUBSCRIBE * cores and not oversubscribe:
        raise ValueError(
            f"workers must be at most {OVERSUBSCRIBE * cores} ({OVERSUBSCRIBE} per core, "
            f"{cores} cores), not {workers}; more need oversubscribe=True"
        )
    if workers is None:
        small = backend is None and work is not None and work < SMALL_RUN
        workers = 1 if small or backend == "serial" else cores
    if backend is None:
        backend = "serial" if workers == 1 else "processes"
    return backend, 1 if backend == "serial" else workers


def _start_worker(parent: int) -> None:
    """Pool workers ignore Ctrl-C (the parent's business) and exit once their parent is no
    longer ``parent`` (it died), checked every :data:`PARENT_CHECK` seconds."""
    import signal

    def exit_with_parent() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK)
        os._exit(1)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=exit_with_parent, daemon=True).start()


def __getattr__(name: str) -> type:
    """``QuietScheduler``, ``QuietWorker``: Dask's, serving no HTTP (status, metrics, proxy).
    Made on first use (importing ``distributed`` takes a second); found by name in workers."""
    if name not in ("QuietScheduler", "QuietWorker"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import distributed

    base = getattr(distributed, name.removeprefix("Quiet"))
    no_http = {"start_http_server": lambda *args, **kwargs: None, "__module__": __name__}
    globals()[name] = type(name, (base,), no_http)
    return globals()[name]


def _local_cluster(workers: int):
    """``workers`` single-threaded Dask workers and a scheduler on 127.0.0.1, TLS, no HTTP."""
    from distributed import Nanny, Security, SpecCluster

    quiet = {"silence_logs": logging.ERROR}
    where = {"host": "127.0.0.1", "protocol": "tls://", "security": Security.temporary()}
    scheduler = {"cls": __getattr__("QuietScheduler"), "options": {**where, "dashboard": False}}
    options = {**where, **quiet, "nthreads": 1, "worker_class": __getattr__("QuietWorker")}
    worker = {"cls": Nanny, "options": options}
    workers = dict.fromkeys(range(workers), worker)
    return SpecCluster(workers, scheduler, worker=worker, security=where["security"], **quiet)


class Executor:
    """Runs tasks on one back-end; a context manager (``close()`` stops what it started).

    ``workers``, ``backend``, ``scheduler``, ``oversubscribe``: see :func:`resolve`; ``work``
    (patient-strategy simulations) lets ``workers=None`` choose in-process execution for
    small runs. A ``scheduler`` is contacted at once (:class:`SchedulerUnreachable`).
    """

    def __init__(
        self,
        workers: int | None = 1,
        backend: str | None = None,
        scheduler: str | None = None,
        *,
        work: int | None = None,
        oversubscribe: bool = False,
    ):
        self.backend, self.workers = resolve(
            workers, backend, scheduler, work, oversubscribe=oversubscribe
        )
        self.scheduler = scheduler
        self.restarts = 0  # process pools rebuilt after a worker died (diagnostics)
        self._pool: ProcessPoolExecutor | None = None
        self._client = None
        self._cluster = None
        if scheduler is not None:
            self._ensure_client()

    def __repr__(self) -> str:
        where = f", scheduler={self.scheduler!r}" if self.scheduler else ""
        return f"Executor(backend={self.backend!r}, workers={self.workers}{where})"

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(finished=exc_type is None)

    def close(self, finished: bool = False) -> None:
        """Stop the worker processes or Dask client/cluster this executor started.
        ``finished``: every task is done, so idle workers are asked to exit (they release
        their semaphores); otherwise they are killed at once (an error or Ctrl-C)."""
        if finished and self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=True)
        self._discard_pool()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    # -- running tasks ----------------------------------------------------------------
    def map(
        self,
        fn: Callable,
        tasks: Sequence,
        shared: Any = None,
        on_result: Callable[[int, Any], None] | None = None,
    ) -> list:
        """``[fn(shared, t) for t in tasks]``, in task order. ``on_result(i, result)`` is
        called in this process as each task finishes (in completion order)."""
        results: list = [None] * len(tasks)
        for i, result in self.imap(fn, tasks, shared):
            results[i] = result
            if on_result is not None:
                on_result(i, result)
        return results

    def imap(self, fn: Callable, tasks: Sequence, shared: Any = None) -> Iterator[tuple[int, Any]]:
        """Yield ``(i, fn(shared, tasks[i]))`` as tasks finish, each ``i`` exactly once."""
        tasks = list(tasks)
        if not tasks:
            return iter(())
        if self.backend == "serial":
            return ((i, fn(shared, t)) for i, t in enumerate(tasks))
        if self.backend == "processes":
            return self._imap_processes(fn, tasks, shared)
        return self._imap_dask(fn, tasks, shared)

    def worker_pids(self) -> list[int]:
        """Process ids of the workers (for diagnostics and fault-injection tests)."""
        if self.backend == "serial":
            return [os.getpid()]
        if self.backend == "processes":
            return sorted(self._ensure_pool(self.workers)._processes or {})
        client = self._ensure_client(self.workers)
        return sorted(client.run(os.getpid, on_error="ignore").values())

    # -- local processes ----------------------------------------------------------------
    def _ensure_pool(self, tasks: int) -> ProcessPoolExecutor:
        """The pool, with (when new) one worker per task up to ``workers`` started; the
        pool starts more on demand, when no worker is idle, up to ``workers``."""
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                self.workers, context, initializer=_start_worker, initargs=(os.getpid(),)
            )
            try:  # start them now (a script without a __main__ guard fails here)
                for f in [self._pool.submit(os.getpid) for _ in range(min(tasks, self.workers))]:
                    f.result(timeout=120)
            except BrokenProcessPool as exc:
                self._discard_pool()
                raise RuntimeError(
                    "worker processes failed to start. A script that runs hemodel with "
                    "workers must guard its entry point with `if __name__ == '__main__':` "
                    "(worker processes are started with 'spawn' and import the script)."
                ) from exc
        return self._pool

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list((pool._processes or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:  # ours: stop them rather than let them finish abandoned tasks
            if p.is_alive():
                p.kill()
        for p in processes:
            p.join(timeout=5)

    def _imap_processes(self, fn, tasks, shared) -> Iterator[tuple[int, Any]]:
        pending = dict(enumerate(tasks))  # tasks whose result has not been handed out
        restarts = 0
        finished = False
        try:
            while pending:
                pool = self._ensure_pool(len(pending))
                futures = {pool.submit(fn, shared, t): i for i, t in pending.items()}
                broken = False
                for fut in as_completed(futures):  # drops each future once handed out
                    i = futures.pop(fut)
                    if isinstance(fut.exception(), BrokenProcessPool):
                        broken = True  # every unfinished task ends like this: collect them
                        continue
                    result = fut.result()  # a task's own exception propagates
                    del pending[i]
                    yield i, result
                if broken:
                    # A worker died. Results already returned are kept; everything else is
                    # submitted again to a fresh pool (tasks are pure, so reruns are exact).
                    restarts += 1
                    self.restarts += 1
                    self._discard_pool()
                    if restarts > MAX_POOL_RESTARTS:
                        raise RuntimeError(
                            f"worker processes died {restarts} times; giving up "
                            f"({len(pending)} tasks unfinished)"
                        )
                    logging.getLogger(__name__).warning(
                        "a worker process died; restarting the pool and resubmitting %d tasks",
                        len(pending),
                    )
            finished = True
        finally:
            if not finished:  # interrupted or failed: stop the workers at once
                self._discard_pool()

    # -- Dask ---------------------------------------------------------------------------
    def _ensure_client(self, tasks: int = 0):
        """The Dask client; a new local cluster gets a worker per task, up to ``workers``."""
        if self._client is None:
            import dask
            from distributed import Client

            with dask.config.set(DASK_CONFIG):
                if self.scheduler is not None:
                    try:
                        self._client = Client(self.scheduler, timeout=CONNECT_TIMEOUT)
                    except Exception as exc:  # timeout, no TLS settings, not a Dask server
                        raise self._unreachable(exc) from exc
                else:
                    self._cluster = _local_cluster(min(tasks, self.workers))
                    self._client = Client(self._cluster)
        return self._client

    def _unreachable(self, error: Exception) -> SchedulerUnreachable:
        from ..scenario.problems import shorten

        known = isinstance(error, (OSError, TypeError))
        reason = shorten(error) if known else "it does not answer as a Dask scheduler"
        return SchedulerUnreachable(
            f"cannot reach the Dask scheduler at {shorten(self.scheduler)}: {reason} "
            "(is it running? is the address right?)"
        )

    def _imap_dask(self, fn, tasks, shared) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed as dask_completed

        client = self._ensure_client(len(tasks))
        wanted = min(len(tasks), self.workers)  # a local cluster grows to a worker per task
        if self._cluster is not None and len(self._cluster.worker_spec) < wanted:
            self._cluster.scale(wanted)
        token = os.urandom(6).hex()
        # one copy of the shared data per worker (wrapped: scatter splits dicts and lists)
        data = (
            client.scatter([shared], broadcast=True, hash=False)[0] if shared is not None else None
        )
        name = getattr(fn, "__name__", "task")
        keys = [f"hemodel-{name}-{token}-{i}" for i in range(len(tasks))]
        futures = client.map(fn, [data] * len(tasks), tasks, key=keys, pure=False, retries=2)
        index = {f.key: i for i, f in enumerate(futures)}
        finished = False
        try:
            # results stream back in the background as tasks finish
            for fut, result in dask_completed(futures, with_results=True):
                i = index[fut.key]
                futures[i] = None  # let the cluster forget the result
                fut.release()
                yield i, result
            finished = True
        finally:
            if not finished:
                client.cancel([f for f in futures if f is not None])
            del data
