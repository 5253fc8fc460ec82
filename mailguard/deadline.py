"""A wall-clock budget for the work done on one message, so that no single message can stall a run.

``time_limit(seconds)`` arms ``SIGALRM`` (``setitimer``) in the process and thread that do the
work: the nightly run's main process while it reads mail, each pool worker (tasks run in the
worker's main thread) while it scores, or the only process when ``workers = 1``. When the time is
up, :class:`MessageTimeout` is raised wherever the interpreter is.

Limits worth knowing: a signal handler runs between Python bytecodes, so a single long call into
C (one regular expression, one libxml2 parse) finishes before the timeout fires; the readers only
use linear-time C paths for that reason. Outside the main thread (a thread pool, some distributed
engines) or on a platform without ``setitimer`` no deadline is armed and the work runs unbounded.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class MessageTimeout(BaseException):
    """The time budget of one message ran out.

    A ``BaseException`` on purpose: the mail readers and attachment extractors end in
    ``except Exception`` so that a broken part never stops a message; a timeout must pass
    through those handlers to the code that armed it, not turn into "corrupt attachment".
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(f"took longer than {seconds:g} s")
        self.seconds = seconds


def deadlines_available() -> bool:
    """Return whether :func:`time_limit` can arm a deadline here (main thread, ``setitimer`` present)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Run the block under a deadline of ``seconds`` (None or <= 0: no deadline); raise ``MessageTimeout``.

    Nests: an outer deadline that is due sooner keeps its place, and it is re-armed with
    the time it has left when the inner block ends.
    """
    if not seconds or seconds <= 0 or not deadlines_available():
        yield
        return
    started = time.monotonic()
    outer_left, _interval = signal.getitimer(signal.ITIMER_REAL)
    if outer_left and outer_left <= seconds:  # the outer deadline fires first: it decides
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise MessageTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:  # even if the alarm fired on the way out: never leave our handler installed
            signal.signal(signal.SIGALRM, previous)
            if outer_left:
                # 1 ms at least: zero would disarm the outer deadline instead of firing it.
                signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - started), 0.001))
