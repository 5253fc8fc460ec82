"""The one validated settings object of the review app, read from the environment or mailguard.toml."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mailguard.config import load_toml
from mailguard.errors import ConfigError
from serve.review.security import secret_key_problem

DEFAULT_DB = "sqlite:///review.db"
DEFAULT_TOML = Path("mailguard.toml")
SECRET_KEY_ENV = "MAILGUARD_SECRET_KEY"
SECRET_KEY_FILE_ENV = "MAILGUARD_REVIEW_SECRET_KEY_FILE"
#: The generated key sits next to a SQLite database as ``<database file>.secret-key``.
KEY_FILE_SUFFIX = ".secret-key"
#: Where the generated key sits for a server database (PostgreSQL), under $XDG_STATE_HOME or ~/.local/state.
SERVER_DB_KEY_FILE = Path("mailguard") / "review-secret.key"


def normalise_db_url(url: str) -> str:
    """Return ``url`` with PostgreSQL URLs pinned to the psycopg 3 driver; raise ``ConfigError`` if unsupported."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("sqlite:", "postgresql+psycopg://")):
        return url
    raise ConfigError(f"unsupported review database URL {url.split(':', 1)[0]}:...; use sqlite:///FILE or postgresql://")


def sqlite_path(db_url: str) -> Path | None:
    """Return the file of a SQLite database URL, or None for an in-memory or server database."""
    url = normalise_db_url(db_url)
    if not url.startswith("sqlite") or "///" not in url:
        return None
    path = url.split("///", 1)[1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def default_key_file(db_url: str) -> Path:
    """Return where a generated secret key lives for ``db_url``: next to a SQLite file, else in the state folder."""
    db_file = sqlite_path(db_url)
    if db_file is not None:
        return db_file.with_name(db_file.name + KEY_FILE_SUFFIX)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / SERVER_DB_KEY_FILE


def resolve_secret_key(db_url: str) -> str:
    """Return the secret key: MAILGUARD_SECRET_KEY if set, else the key file (generated on first use).

    The key file is MAILGUARD_REVIEW_SECRET_KEY_FILE, or ``default_key_file(db_url)``. Raises
    ``ConfigError`` for a weak key or an unusable key file.
    """
    from serve.review.keyfile import read_or_create_key

    given = os.environ.get(SECRET_KEY_ENV, "")
    if given:
        problem = secret_key_problem(given)
        if problem:
            raise ConfigError(f"{SECRET_KEY_ENV} is too weak: {problem}; unset it to have one generated")
        return given
    configured = os.environ.get(SECRET_KEY_FILE_ENV, "")
    return read_or_create_key(Path(configured) if configured else default_key_file(db_url))


class ReviewSettings(BaseSettings):
    """Settings of the review app; every field can be set by an environment variable."""

    model_config = SettingsConfigDict(env_prefix="MAILGUARD_REVIEW_", populate_by_name=True, extra="ignore")

    db: str = Field(default=DEFAULT_DB, description="SQLAlchemy URL (MAILGUARD_REVIEW_DB)")
    # Signs session cookies and keys the sender pseudonyms: changing it renames every alias.
    # load_settings fills it from the generated key file when MAILGUARD_SECRET_KEY is not set.
    secret_key: SecretStr = Field(validation_alias=AliasChoices(SECRET_KEY_ENV, "secret_key"))
    # "auto": the cookie is Secure when the request came over HTTPS (after trusted proxy headers).
    cookie_secure: Literal["auto"] | bool = "auto"
    session_idle_timeout_s: int = Field(default=30 * 60, ge=10)  # a session unused this long ends
    session_max_age_s: int = Field(default=8 * 3600, ge=60)  # and any session ends after one working day
    login_max_failures: int = Field(default=5, ge=1)  # per user name + address within the window, then 429
    # Per user name from addresses it never logged in from (guessing spread over many addresses),
    # and per address over all user names (one address spraying names). A (user, address) pair
    # that logged in within login_known_address_days is held only to login_max_failures, so no one
    # can lock a user out of the places they work from.
    login_user_max_failures: int = Field(default=20, ge=1)
    login_ip_max_failures: int = Field(default=50, ge=1)
    login_known_address_days: int = Field(default=30, ge=0)
    login_window_s: int = Field(default=15 * 60, ge=1)
    # Proxy addresses whose X-Forwarded-For/-Proto uvicorn believes (uvicorn's forwarded_allow_ips,
    # comma-separated IPs or CIDRs, "*" for any). Default: none, so the peer address is the client.
    trusted_proxies: str = ""
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)  # larger request bodies get 413 unread
    page_size: int = Field(default=25, ge=1, le=500)
    migrate_on_startup: bool = True

    @field_validator("db")
    @classmethod
    def _db_url(cls, value: str) -> str:
        try:
            return normalise_db_url(value)
        except ConfigError as e:
            raise ValueError(str(e)) from e

    @field_validator("secret_key")
    @classmethod
    def _strong_key(cls, value: SecretStr) -> SecretStr:
        problem = secret_key_problem(value.get_secret_value())
        if problem:
            raise ValueError(f"the secret key is too weak: {problem}")
        return value


def db_url_from_toml(path: Path = DEFAULT_TOML) -> str | None:
    """Return ``[review] db`` from ``mailguard.toml`` if the file exists and sets it, else None."""
    if not path.is_file():
        return None
    value = load_toml(path).get("review", {}).get("db")
    return str(value) if value else None


def load_settings(db: str | None = None, *, toml_path: Path = DEFAULT_TOML) -> ReviewSettings:
    """Return settings from the environment; ``db`` (a CLI flag) wins, then env, then mailguard.toml.

    Without MAILGUARD_SECRET_KEY the key comes from the key file, generated on first start (see
    ``resolve_secret_key``). Raises ``ConfigError`` with one readable line when a value is missing or invalid.
    """
    from pydantic import ValidationError

    overrides: dict[str, object] = {}
    if db:
        overrides["db"] = db
    elif not os.environ.get("MAILGUARD_REVIEW_DB"):
        from_toml = db_url_from_toml(toml_path)
        if from_toml:
            overrides["db"] = from_toml
    if not os.environ.get(SECRET_KEY_ENV):
        db_url = str(overrides.get("db") or os.environ.get("MAILGUARD_REVIEW_DB") or DEFAULT_DB)
        overrides["secret_key"] = resolve_secret_key(db_url)
    try:
        return ReviewSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in e.errors())
        hint = ""
        if any(SECRET_KEY_ENV in str(err["loc"]) or "secret_key" in str(err["loc"]) for err in e.errors()):
            hint = f"; set {SECRET_KEY_ENV} to 32+ random bytes (or unset it to have one generated)"
        raise ConfigError(f"invalid review settings ({problems}){hint}") from e


def resolve_db_url(db: str | None, *, toml_path: Path = DEFAULT_TOML) -> str:
    """Return the database URL for commands that need no secret: flag, env, mailguard.toml, default."""
    raw = db or os.environ.get("MAILGUARD_REVIEW_DB") or db_url_from_toml(toml_path) or DEFAULT_DB
    return normalise_db_url(raw)
