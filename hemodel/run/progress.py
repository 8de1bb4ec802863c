"""Progress of long runs: a terminal bar, and a listener for front-ends.

Every long computation (a simulation, a PSA, a sensitivity analysis) counts its work on a
:func:`progress_bar`. On a terminal that is a tqdm bar. A front-end such as the analyst app
(:mod:`hemodel.app`) runs a computation inside :func:`listening` and is told the fraction
done after every batch; its listener may raise :class:`Cancelled` to stop the run at the next
batch. The listener is a context variable, so it follows the computation into the thread
that runs it and never reaches other threads or worker processes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from tqdm.auto import tqdm

#: Called with (work done, total work) after each update of a bar.
Listener = Callable[[float, float], None]

_listener: ContextVar[Listener | None] = ContextVar("hemodel_progress_listener", default=None)


class Cancelled(Exception):
    """A run stopped on request (raised by a listener)."""


def progress_enabled(progress: bool | None) -> bool:
    """``True``/``False`` as given; ``None``: only on a terminal, and never under CI."""
    if progress is not None:
        return bool(progress)
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Tell ``listener`` the progress of every bar opened inside the ``with`` block."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


class _Bar(tqdm):
    """A tqdm bar that also tells the current listener how far it is."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._done = float(kwargs.get("initial", 0) or 0)
        self._tell = _listener.get()

    def update(self, n: float | None = 1):
        shown = super().update(n)
        self._done += n or 0
        if self._tell is not None:
            self._tell(self._done, float(self.total or 0))
        return shown


def progress_bar(total: float, desc: str, unit: str, progress: bool | None, **options) -> tqdm:
    """A progress bar over ``total`` units of work, shown when :func:`progress_enabled` says
    so; ``options`` go to tqdm (``initial``, ``leave``, ``smoothing``, ...)."""
    return _Bar(
        total=total, desc=desc, unit=unit, disable=not progress_enabled(progress), **options
    )
