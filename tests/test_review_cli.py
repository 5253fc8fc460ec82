"""``mailguard review`` commands: add-user, load, export, audit-export, and settings resolution."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fixtures.review.support import RESULTS, SECRET
from typer.testing import CliRunner

from mailguard.cli import app
from mailguard.errors import ConfigError
from serve.review.settings import load_settings, normalise_db_url, resolve_db_url

runner = CliRunner()


def test_cli_loads_adds_users_and_exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILGUARD_SECRET_KEY", SECRET)
    results = tmp_path / "results.parquet"
    results.write_bytes(RESULTS.read_bytes())
    r = runner.invoke(app, ["review", "load", str(results)])
    assert r.exit_code == 0, r.output
    assert "inserted=5" in r.output and (tmp_path / "review.db").is_file()  # defaults next to the results
    db = f"sqlite:///{tmp_path / 'review.db'}"
    assert "unchanged=5" in runner.invoke(app, ["review", "load", str(results), "--db", db]).output
    r = runner.invoke(
        app, ["review", "add-user", "rita", "--role", "reviewer", "--role", "admin", "--password-stdin", "--db", db],
        input="a long password 1\n",
    )  # fmt: skip
    assert r.exit_code == 0 and "added rita (reviewer, admin)" in r.output, r.output
    bad = runner.invoke(app, ["review", "add-user", "x", "--role", "boss", "--password-stdin", "--db", db], input="p" * 12)
    assert bad.exit_code == 2 and "roles must be" in bad.output
    out = tmp_path / "reviewed.parquet"
    r = runner.invoke(app, ["review", "export", str(out), "--db", db])
    assert r.exit_code == 0 and "wrote 0 reviewed" in r.output and len(pd.read_parquet(out)) == 0
    audit = tmp_path / "audit.csv"
    r = runner.invoke(app, ["review", "audit-export", str(audit), "--db", db])
    assert r.exit_code == 0, r.output
    assert {"user_added", "export"} <= set(pd.read_csv(audit)["action"])


def test_missing_results_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    r = runner.invoke(app, ["review", "load", str(tmp_path / "nope.parquet"), "--db", f"sqlite:///{tmp_path}/r.db"])
    assert r.exit_code == 2 and r.output.startswith("error: cannot read results file")


def test_db_url_comes_from_flag_then_env_then_mailguard_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "mailguard.toml"
    toml.write_text('[review]\ndb = "postgresql://u:p@db/review"\n')
    monkeypatch.delenv("MAILGUARD_REVIEW_DB", raising=False)
    assert resolve_db_url(None, toml_path=toml) == "postgresql+psycopg://u:p@db/review"
    monkeypatch.setenv("MAILGUARD_REVIEW_DB", "sqlite:///env.db")
    assert resolve_db_url(None, toml_path=toml) == "sqlite:///env.db"
    assert resolve_db_url("sqlite:///flag.db", toml_path=toml) == "sqlite:///flag.db"
    with pytest.raises(ConfigError, match="unsupported"):
        normalise_db_url("mysql://x")


def test_settings_take_a_strong_key_or_generate_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILGUARD_SECRET_KEY", raising=False)
    monkeypatch.delenv("MAILGUARD_REVIEW_SECRET_KEY_FILE", raising=False)
    db = f"sqlite:///{tmp_path}/x.db"
    generated = load_settings(db).secret_key.get_secret_value()  # no key set: one is generated next to the db
    assert generated == (tmp_path / "x.db.secret-key").read_text().strip() and len(generated) == 64
    monkeypatch.setenv("MAILGUARD_SECRET_KEY", " " * 16)
    with pytest.raises(ConfigError, match="MAILGUARD_SECRET_KEY"):
        load_settings(db)
    monkeypatch.setenv("MAILGUARD_SECRET_KEY", SECRET)
    monkeypatch.setenv("MAILGUARD_REVIEW_COOKIE_SECURE", "true")
    s = load_settings(db)
    assert s.cookie_secure is True and s.secret_key.get_secret_value() == SECRET
    monkeypatch.delenv("MAILGUARD_REVIEW_COOKIE_SECURE")
    assert load_settings(db).cookie_secure == "auto"
