"""Long computations off the app's event loop: each runs in a thread, reports the fraction
done through :func:`hemodel.run.progress.listening`, and stops at the next batch when the
analyst presses Cancel (the listener raises :class:`~hemodel.run.progress.Cancelled`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

from ..run.progress import Cancelled, listening


class Job:
    """One computation's progress (work done of total) and its cancel flag, shared between
    the thread that computes and the event loop that shows the progress bar."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.done = 0.0
        self.total = 0.0
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def fraction(self) -> float:
        """Share of the current bar done, 0 … 1 (a computation may run several bars)."""
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0

    def listen(self, done: float, total: float) -> None:
        self.done, self.total = done, total
        if self.cancelled:
            raise Cancelled(f"{self.label} cancelled")

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` with this job listening to its progress (in the calling thread)."""
        if self.cancelled:
            raise Cancelled(f"{self.label} cancelled")
        with listening(self.listen):
            return fn(*args)


async def run_job(
    job: Job, fn: Callable[..., Any], *args: Any, report: Callable[[Job], None] | None = None
) -> Any:
    """Run ``fn(*args)`` in a worker thread; call ``report(job)`` on the event loop about
    four times a second until it finishes; return its result or raise its exception."""
    future = asyncio.get_running_loop().run_in_executor(None, job.run, fn, *args)
    while not future.done():
        if report is not None:
            report(job)
        await asyncio.wait([future], timeout=0.25)
    return future.result()
