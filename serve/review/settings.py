"""The one validated settings object of the review app, read from the environment or mailguard.toml."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mailguard.config import load_toml
from mailguard.errors import ConfigError

DEFAULT_DB = "sqlite:///review.db"
DEFAULT_TOML = Path("mailguard.toml")


def normalise_db_url(url: str) -> str:
    """Return ``url`` with PostgreSQL URLs pinned to the psycopg 3 driver; raise ``ConfigError`` if unsupported."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("sqlite:", "postgresql+psycopg://")):
        return url
    raise ConfigError(f"unsupported review database URL {url.split(':', 1)[0]}:...; use sqlite:///FILE or postgresql://")


class ReviewSettings(BaseSettings):
    """Settings of the review app; every field can be set by an environment variable."""

    model_config = SettingsConfigDict(env_prefix="MAILGUARD_REVIEW_", populate_by_name=True, extra="ignore")

    db: str = Field(default=DEFAULT_DB, description="SQLAlchemy URL (MAILGUARD_REVIEW_DB)")
    # Signs session cookies and keys the sender pseudonyms: changing it renames every alias.
    secret_key: SecretStr = Field(validation_alias=AliasChoices("MAILGUARD_SECRET_KEY", "secret_key"), min_length=16)
    cookie_secure: bool = False  # set true when served over TLS (MAILGUARD_REVIEW_COOKIE_SECURE)
    session_max_age_s: int = 8 * 3600  # one working day
    login_max_failures: int = 5  # per username + IP within the window, then 429
    login_window_s: int = 15 * 60
    page_size: int = Field(default=25, ge=1, le=500)
    migrate_on_startup: bool = True

    @field_validator("db")
    @classmethod
    def _db_url(cls, value: str) -> str:
        try:
            return normalise_db_url(value)
        except ConfigError as e:
            raise ValueError(str(e)) from e


def db_url_from_toml(path: Path = DEFAULT_TOML) -> str | None:
    """Return ``[review] db`` from ``mailguard.toml`` if the file exists and sets it, else None."""
    if not path.is_file():
        return None
    value = load_toml(path).get("review", {}).get("db")
    return str(value) if value else None


def load_settings(db: str | None = None, *, toml_path: Path = DEFAULT_TOML) -> ReviewSettings:
    """Return settings from the environment; ``db`` (a CLI flag) wins, then env, then mailguard.toml.

    Raises ``ConfigError`` with one readable line when a value is missing or invalid.
    """
    import os

    from pydantic import ValidationError

    overrides: dict[str, object] = {}
    if db:
        overrides["db"] = db
    elif not os.environ.get("MAILGUARD_REVIEW_DB"):
        from_toml = db_url_from_toml(toml_path)
        if from_toml:
            overrides["db"] = from_toml
    try:
        return ReviewSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"invalid review settings ({problems}); the secret key comes from MAILGUARD_SECRET_KEY") from e


def resolve_db_url(db: str | None, *, toml_path: Path = DEFAULT_TOML) -> str:
    """Return the database URL for commands that need no secret: flag, env, mailguard.toml, default."""
    import os

    raw = db or os.environ.get("MAILGUARD_REVIEW_DB") or db_url_from_toml(toml_path) or DEFAULT_DB
    return normalise_db_url(raw)
