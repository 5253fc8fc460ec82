"""Retention: delete nightly results older than ``keep_days``, counting what went and naming nothing.

``nightly.sh`` writes one folder per night, ``<results root>/<YYYY-MM-DD>/``; each holds mail
(results, part files, the checkpoint). After a run, the folders beside it whose name is a day
more than ``keep_days`` before today are deleted, but only folders that are ``mailguard score``
outputs, are not links, and are not in use by another run. Anything else in the root is left alone.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from serve.scoring.outputs import STATE, is_run_folder

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Removed:
    """What a retention pass deleted (counts only: logs never name messages)."""

    folders: int = 0
    messages: int = 0  # result rows the deleted folders held, from their summary.json
    files: int = 0
    kept_in_use: int = 0  # old enough, but another run holds it: next time
    kept_foreign: int = 0  # named like a day but not a mailguard output: never touched


def remove_old_results(root: Path, keep_days: int, today: date, current: Path) -> Removed:
    """Delete the day folders under ``root`` older than ``keep_days`` days before ``today``; return counts.

    ``current`` (the folder the run just wrote) is never deleted. ``keep_days < 1`` deletes nothing.
    """
    if keep_days < 1:
        return Removed()
    folders = messages = files = in_use = foreign = 0
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return Removed()
    for entry in entries:
        if not _DAY.fullmatch(entry.name) or entry.is_symlink() or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            day = date.fromisoformat(entry.name)
        except ValueError:
            continue
        folder = Path(entry.path)
        if (today - day).days <= keep_days or os.path.realpath(folder) == os.path.realpath(current):
            continue
        if not is_run_folder(folder):
            foreign += 1
            continue
        lock = _try_lock(folder)
        if lock is None:
            in_use += 1
            continue
        try:
            rows, count = _rows_in(folder), sum(len(names) for _, _, names in os.walk(folder))
            shutil.rmtree(folder)  # never follows links inside the folder
        finally:
            os.close(lock)
        folders, messages, files = folders + 1, messages + rows, files + count
    return Removed(folders, messages, files, in_use, foreign)


def _try_lock(folder: Path) -> int | None:
    """Return an open descriptor holding the folder's run lock, or None if a run holds it now."""
    try:
        fd = os.open(folder / STATE / "lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _rows_in(folder: Path) -> int:
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        return int(summary["totals"]["rows"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0
