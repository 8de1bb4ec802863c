"""Execution back-ends behind one interface, and exact sums that combine identically anywhere.

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
same bits. :class:`Moments` holds **exact** sums (a float expansion, as in Shewchuk's
algorithm, computed with ``math.fsum``) and exact sums of squares, so combining chunk
results gives the same bits in any order, for any chunk size and on any back-end.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

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


# -- exact sums ----------------------------------------------------------------------------


def exact_parts(values: Iterable[float]) -> tuple[float, ...]:
    """Non-overlapping floats whose exact (real) sum is the exact sum of ``values``.

    Each step takes the correctly rounded remainder with ``math.fsum``; the remainder
    shrinks by at least 53 bits a step, so a few floats suffice for ordinary data.
    Non-finite input gives a single non-finite part.
    """
    values = list(values)
    total = math.fsum(values)
    if not math.isfinite(total):
        return (total,)
    parts: list[float] = []
    while total != 0.0:
        parts.append(total)
        total = math.fsum(values + [-p for p in parts])
    return tuple(parts)


def exact_array_parts(x: np.ndarray) -> tuple[float, ...]:
    """:func:`exact_parts` of a float array, vectorised (the same parts, about 20× faster).

    Each ``x = q·2^(e−53)`` with an integer ``|q| < 2^53`` (``np.frexp``); ``q`` is split into
    26- and 27-bit halves whose sums per exponent are exact in float64 (``np.bincount``) for
    fewer than 2^26 values, and the few per-exponent sums are added as Python integers. The
    parts are then the correctly rounded total and remainders, as :func:`exact_parts` gives.
    """
    x = np.asarray(x, dtype=float).ravel()
    if not np.isfinite(x).all():
        return (float(np.sum(x)),)
    if x.size == 0:
        return ()
    mantissa, exponent = np.frexp(x)
    q = (mantissa * 2.0**53).astype(np.int64)  # exact: the 53-bit significand
    low = exponent.min()
    total = 0
    block = 1 << 25  # per-exponent sums stay below 2^53
    for a in range(0, x.size, block):
        e, qq = exponent[a : a + block] - low, q[a : a + block]
        high_sums = np.bincount(e, weights=qq >> 26)
        low_sums = np.bincount(e, weights=qq & ((1 << 26) - 1))
        for j in np.flatnonzero((high_sums != 0) | (low_sums != 0)):
            total += ((int(high_sums[j]) << 26) + int(low_sums[j])) << int(j)
    rest = Fraction(total) * Fraction(2) ** (int(low) - 53)  # the exact sum
    parts: list[float] = []
    while rest != 0:
        try:
            part = float(rest)  # correctly rounded
        except OverflowError:
            return (math.inf if rest > 0 else -math.inf,)
        parts.append(part)
        rest -= Fraction(part)
    return tuple(parts)


def _exact_squares(x: np.ndarray) -> np.ndarray:
    """Pairs ``(p, e)`` with ``x·x = p + e`` exactly (Dekker's product; no overflow here)."""
    p = x * x
    c = 134217729.0 * x  # 2**27 + 1: splits x into two 26-bit halves
    hi = c - (c - x)
    lo = x - hi
    e = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo
    return np.concatenate([p, e])


@dataclass(frozen=True)
class Moments:
    """Exact count, sum and (for some columns) sum of squares of table columns.

    Sums are kept as float expansions (:func:`exact_parts`), so :meth:`combine` is exact
    and the means and standard errors derived from it are correctly rounded: the same bits
    for any split of the rows into chunks and any order of combination. NaNs are skipped,
    as pandas does.
    """

    count: dict[str, int]
    sums: dict[str, tuple[float, ...]]
    squares: dict[str, tuple[float, ...]]

    @classmethod
    def of(cls, frame, columns: Sequence[str], squares: Sequence[str] = ()) -> Moments:
        count, sums, sq = {}, {}, {}
        for col in columns:
            x = np.asarray(frame[col], dtype=float)
            nan = np.isnan(x)
            x = x[~nan] if nan.any() else x
            count[col] = len(x)
            sums[col] = exact_array_parts(x)
            if col in squares:
                sq[col] = exact_array_parts(_exact_squares(x))
        return cls(count, sums, sq)

    @staticmethod
    def combine(parts: Sequence[Moments]) -> Moments:
        first = parts[0]
        return Moments(
            {c: sum(p.count[c] for p in parts) for c in first.count},
            {c: exact_parts(x for p in parts for x in p.sums[c]) for c in first.sums},
            {c: exact_parts(x for p in parts for x in p.squares[c]) for c in first.squares},
        )

    def mean(self, col: str) -> float:
        """Correctly rounded mean (NaN without values)."""
        n = self.count[col]
        if n == 0:
            return math.nan
        parts = self.sums[col]
        if not all(math.isfinite(x) for x in parts):
            return math.fsum(parts)
        total, scale = _dyadic(parts)
        return total / (n << scale)  # int / int: correctly rounded

    def sem(self, col: str) -> float:
        """Standard error of the mean, ``sd / sqrt(n)`` with the ``n - 1`` variance."""
        n = self.count[col]
        if n < 2:
            return math.nan
        s, q = self.sums[col], self.squares[col]
        if not all(math.isfinite(x) for x in s + q):
            return math.nan
        (total, a), (total_sq, b) = _dyadic(s), _dyadic(q)
        # var / n = (n·Q − S²) / (n²(n − 1)), over the common denominator 2**(2a + b)
        numerator = max(0, n * (total_sq << 2 * a) - (total * total << b))
        return math.sqrt(numerator / (n * n * (n - 1) << 2 * a + b))


def _dyadic(parts: Sequence[float]) -> tuple[int, int]:
    """``(m, k)`` with ``sum(parts) == m / 2**k`` exactly (finite parts)."""
    ratios = [x.as_integer_ratio() for x in parts]  # denominators are powers of two
    k = max((d.bit_length() - 1 for _, d in ratios), default=0)
    return sum(m << (k - d.bit_length() + 1) for m, d in ratios), k
