"""Database engines and schema migration for the review app (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mailguard.errors import ConfigError
from serve.review.files import create_private
from serve.review.settings import normalise_db_url, sqlite_path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: How long a SQLite writer waits for the lock before failing: long enough for 50 concurrent reviewers.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers proceed while one writer commits; busy_timeout makes writers queue, not fail.
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@lru_cache(maxsize=16)
def get_engine(db_url: str) -> Engine:
    """Return the shared engine for ``db_url`` (created once per URL and process).

    Statement parameters are hidden from error messages: they can hold message text. A SQLite file
    is created 0600 before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
    """
    url = normalise_db_url(db_url)
    if url.startswith("sqlite"):
        db_file = sqlite_path(url)
        if db_file is not None:
            create_private(db_file)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, pool_size=64,
            max_overflow=16, hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_size=20, max_overflow=40, pool_pre_ping=True, hide_parameters=True)


@lru_cache(maxsize=16)
def session_factory(db_url: str) -> sessionmaker[Session]:
    """Return the session factory bound to the engine for ``db_url``."""
    return sessionmaker(get_engine(db_url), expire_on_commit=False)


@contextmanager
def session_scope(db_url: str) -> Iterator[Session]:
    """Yield a session that commits on success and rolls back on error."""
    session = session_factory(db_url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def migrate(db_url: str, revision: str = "head") -> None:
    """Upgrade the database at ``db_url`` to ``revision``; raise ``ConfigError`` if it cannot be reached."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with get_engine(db_url).begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except SQLAlchemyError as e:
        raise ConfigError(f"cannot migrate review database: {type(e).__name__}: {str(e).splitlines()[0]}") from e
