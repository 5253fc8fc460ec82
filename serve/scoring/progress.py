"""Progress of a scoring run: a redrawn bar on a terminal, periodic log lines otherwise (cron, systemd)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mailguard.mail.inputs import count_mbox, detect_format, iter_eml_dir, iter_maildir
from serve.scoring.logs import event


@dataclass(frozen=True)
class ProgressInfo:
    """Where a run stands: messages read so far, of how many (when known), and how fast."""

    read: int
    scored: int
    total: int | None
    elapsed: float

    @property
    def rate(self) -> float:
        """Return messages read per second so far."""
        return self.read / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Return the estimated seconds left, or None when the total is unknown."""
        if self.total is None or self.rate <= 0:
            return None
        return max(self.total - self.read, 0) / self.rate


def estimate_total(paths: Iterable[Path]) -> int | None:
    """Return a quick count of the messages in ``paths``, or None when a format cannot be counted cheaply.

    Counted the way the readers split them: mbox files by their envelope lines
    (``mailguard.mail.inputs.count_mbox``, the readers' own rule), Maildirs and ``.eml``
    folders by the entries the readers will visit, ``.eml`` files as one; tabular exports
    (CSV, JSONL, Parquet) and anything that is not a regular file give up.
    """
    total = 0
    for path in paths:
        if path.is_dir():
            fmt = detect_format(path)
            total += sum(1 for _ in (iter_maildir(path) if fmt == "maildir" else iter_eml_dir(path)))
        elif not path.is_file():  # a FIFO or a device: never opened here (it could block or never end)
            return None
        elif path.suffix.lower() == ".eml":
            total += 1
        elif path.suffix.lower() in ("", ".mbox", ".mbx", ".mail"):
            total += count_mbox(path)
        else:
            return None
    return total


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


class TerminalBar:
    """A one-line progress bar with count, rate and ETA, redrawn in place on a terminal."""

    def __init__(self, stream: TextIO, width: int = 30, every: float = 0.2) -> None:
        self.stream, self.width, self.every, self._last = stream, width, every, 0.0

    def __call__(self, info: ProgressInfo, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < self.every:
            return
        self._last = now
        if info.total:
            done = min(info.read / info.total, 1.0)
            bar = "#" * int(done * self.width)
            head = f"[{bar:<{self.width}}] {info.read}/{info.total}"
        else:
            head = f"{info.read} messages"
        self.stream.write(f"\r{head}  {info.rate:,.0f} msg/s  ETA {_clock(info.eta)} ")
        if final:
            self.stream.write("\n")
        self.stream.flush()


class PeriodicLog:
    """Progress as a ``progress`` log event every ``every`` seconds: what cron mail and journals want."""

    def __init__(self, every: float = 60.0) -> None:
        self.every, self._last = every, time.monotonic()

    def __call__(self, info: ProgressInfo, final: bool = False) -> None:
        now = time.monotonic()
        if final or now - self._last < self.every:
            return
        self._last = now
        event("progress", read=info.read, scored=info.scored, total=info.total,
              messages_per_second=round(info.rate, 1), eta_seconds=None if info.eta is None else round(info.eta))
