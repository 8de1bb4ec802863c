"""Progress of long runs: a terminal bar, and a listener for front-ends.

Every long computation (a simulation, a PSA, a sensitivity analysis) counts its work on a
:func:`progress_bar`. On a terminal that is a tqdm bar on stderr; piped, under CI or with
``progress=False`` there is none. Work that cannot count its steps shows an
:func:`elapsed_bar` instead, so that a slow run can be told from a hung one. A front-end
such as the analyst app (:mod:`hemodel.app`) runs a computation inside :func:`listening` and
is told the fraction done after every batch; its listener may raise :class:`Cancelled` to
stop the run at the next batch. The listener is a context variable, so it follows the
computation into the thread that runs it and never reaches other threads or worker
processes.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from tqdm.auto import tqdm

#: Called with (work done, total work) after each update of a bar.
Listener = Callable[[float, float], None]

_listener: ContextVar[Listener | None] = ContextVar("hemodel_progress_listener", default=None)


class Cancelled(Exception):
    """A run stopped on request (raised by a listener)."""


#: Values of the ``CI`` environment variable that do not mean "running under CI".
_NOT_CI = frozenset({"", "0", "false", "no", "off"})


def under_ci() -> bool:
    """Whether the ``CI`` environment variable says this runs under continuous integration
    (set, and not ``0``, ``false``, ``no`` or ``off``)."""
    return os.environ.get("CI", "").strip().lower() not in _NOT_CI


def progress_enabled(progress: bool | None) -> bool:
    """``True``/``False`` as given; ``None``: only when stderr is a terminal, and not under
    CI (CI logs are rarely terminals, but runners that attach a pseudo-terminal would
    otherwise log every redraw of the bar)."""
    if progress is not None:
        return bool(progress)
    return sys.stderr.isatty() and not under_ci()


def _width_options() -> dict:
    """tqdm draws nothing on a terminal that reports zero columns (a fresh pseudo-terminal,
    a serial console): give it 80 columns and 24 rows there."""
    try:
        columns = os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):  # stderr is not a terminal, or replaced
        return {}
    return {} if columns else {"ncols": 80, "nrows": 24, "dynamic_ncols": False}


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


def progress_bar(
    total: float | None, desc: str, unit: str, progress: bool | None, **options
) -> tqdm:
    """A progress bar over ``total`` units of work (``None``: unknown), shown when
    :func:`progress_enabled` says so; ``options`` go to tqdm (``initial``, ``leave``,
    ``smoothing``, ...)."""
    shown = progress_enabled(progress)
    if shown:
        options = {**options, **_width_options()}
    return _Bar(total=total, desc=desc, unit=unit, disable=not shown, **options)


@contextmanager
def elapsed_bar(desc: str, progress: bool | None, every: float = 1.0) -> Iterator[tqdm]:
    """A bar for work that does not count its steps: it shows the time elapsed (and any
    postfix set on it), redrawn every ``every`` seconds from a thread."""
    bar = progress_bar(None, desc, "", progress, bar_format="{desc}: {elapsed} elapsed{postfix}")
    stop = threading.Event()

    def redraw() -> None:
        while not stop.wait(every):
            bar.refresh()

    ticker = threading.Thread(target=redraw, daemon=True)
    with bar:
        if not bar.disable:
            ticker.start()
        try:
            yield bar
        finally:
            stop.set()
            if ticker.is_alive():
                ticker.join()


def about(seconds: float) -> str:
    """A rough duration for people: ``"about 40 s"``, ``"about 4 min"``, ``"about 1.5 h"``."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"
