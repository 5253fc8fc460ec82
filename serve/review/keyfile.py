"""The generated secret key: written once, 0600, where the settings say; read back on every later start."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from mailguard.errors import ConfigError
from serve.review.files import FILE_MODE, private_parent
from serve.review.security import new_secret_key, secret_key_problem

log = logging.getLogger(__name__)


def read_or_create_key(path: Path) -> str:
    """Return the secret key stored in ``path``, generating one there (0600) if the file does not exist.

    Raises ``ConfigError`` when the file is readable by others, unreadable, or holds a weak key.
    """
    path = path.expanduser()
    if not path.exists():
        _create(path)
    try:
        st = path.stat()
        if st.st_mode & 0o077:
            raise ConfigError(f"secret key file {path} is readable by other users; run: chmod 600 {path}")
        key = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError(f"cannot read secret key file {path}: {e.strerror or e}") from e
    problem = secret_key_problem(key)
    if problem:
        raise ConfigError(f"secret key in {path} is too weak: {problem}")
    return key


def _create(path: Path) -> None:
    # Written to a temp file, then hard-linked into place: a second process starting at the same
    # moment either wins the link or reads the complete key the first one linked.
    private_parent(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        os.write(fd, (new_secret_key() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
        log.warning(
            "generated a new secret key in %s (mode 0600); keep it with the database: it signs sessions "
            "and keys every pseudonym, so losing it renames every alias", path,
        )  # fmt: skip
    except FileExistsError:
        pass  # another process created it first; use theirs
    except OSError as e:
        raise ConfigError(f"cannot create secret key file {path}: {e.strerror or e}") from e
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
