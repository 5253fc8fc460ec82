"""Files the review app writes hold mail, decisions or keys: they are created 0600 whatever the umask."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

FILE_MODE = 0o600
DIR_MODE = 0o700

log = logging.getLogger(__name__)


def private_parent(path: Path) -> None:
    """Create the folder of ``path`` (0700) when it does not exist yet; an existing folder is left as it is."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=DIR_MODE)


def create_private(path: Path) -> None:
    """Make sure ``path`` exists as a 0600 file: create it empty if missing, else tighten a looser mode."""
    private_parent(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        # O_CREAT's mode only ever loses bits to the umask; fchmod also fixes a file that existed.
        if os.fstat(fd).st_mode & 0o777 != FILE_MODE:
            try:
                os.fchmod(fd, FILE_MODE)
            except PermissionError:
                log.warning("cannot restrict %s to its owner (0600): it belongs to another user", path)
    finally:
        os.close(fd)


@contextlib.contextmanager
def private_output(path: str | Path, mode: str = "w", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Yield a file object writing to a 0600 temp file next to ``path``; move it into place on success.

    An export half-written by a failed run never appears under its final name.
    """
    final = Path(path)
    private_parent(final)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    try:
        with open(fd, mode, **open_kwargs) as fh:
            yield fh
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
