"""``mailguard review``: serve the reviewer app, manage users, load results, export decisions and the audit log."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Annotated

import typer

from mailguard.cli.app import app, run_or_exit

review_app = typer.Typer(help="Reviewer triage web app: HR and legal reviewers decide on flagged mail.", no_args_is_help=True)
app.add_typer(review_app, name="review")

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (sqlite:///FILE or postgresql://...); else MAILGUARD_REVIEW_DB, "
                 "mailguard.toml [review] db, or sqlite:///review.db"),
]  # fmt: skip


@review_app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: DbOption = None,
) -> None:
    """Run the review web app (MAILGUARD_SECRET_KEY, or a key generated next to the database on first start)."""
    import uvicorn

    from mailguard.cli.app import log_progress
    from serve.review.main import create_app, server_config
    from serve.review.settings import load_settings

    log_progress()  # the line saying where a generated secret key went
    settings = run_or_exit(lambda: load_settings(db))
    application = create_app(settings)
    config = server_config(application, settings, host=host, port=port, log_level="info", access_log=False)
    uvicorn.Server(config).run()


@review_app.command("add-user")
def add_user(
    name: Annotated[str, typer.Argument(help="User name to log in with.")],
    role: Annotated[list[str], typer.Option("--role", help="reviewer, investigator or admin; repeat for several.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    db: DbOption = None,
) -> None:
    """Add a user with one or more roles."""
    from serve.review.settings import resolve_db_url
    from serve.review.users import create_user

    password = _read_password(password_stdin)
    roles = [r for value in role for r in value.split(",")]
    granted = run_or_exit(lambda: create_user(resolve_db_url(db), name, password, roles))
    typer.echo(f"added {name} ({granted.replace(';', ', ')})")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != password:
        typer.echo("error: passwords do not match", err=True)
        raise typer.Exit(2)
    return password


@review_app.command("set-password")
def set_password(
    name: Annotated[str, typer.Argument(help="User whose password to set.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    db: DbOption = None,
) -> None:
    """Set a user's password; every session of that user ends."""
    from serve.review.settings import resolve_db_url
    from serve.review.users import change_password

    password = _read_password(password_stdin)
    ended = run_or_exit(lambda: change_password(resolve_db_url(db), name, password))
    typer.echo(f"password of {name} changed; {ended} session(s) ended")


@review_app.command("revoke-sessions")
def revoke_sessions(
    name: Annotated[str, typer.Argument(help="User whose sessions to end.")],
    db: DbOption = None,
) -> None:
    """End every session of a user now (audited)."""
    from serve.review.settings import resolve_db_url
    from serve.review.users import revoke_sessions as revoke

    ended = run_or_exit(lambda: revoke(resolve_db_url(db), name))
    typer.echo(f"{ended} session(s) of {name} ended")


@review_app.command("grant-investigator")
def grant_investigator(
    name: Annotated[str, typer.Argument(help="User to give the investigator role (never an admin account).")],
    db: DbOption = None,
) -> None:
    """Give a user the investigator role from the server (the web app needs a second admin's approval)."""
    from serve.review.grants import grant_role
    from serve.review.settings import resolve_db_url

    roles = run_or_exit(lambda: grant_role(resolve_db_url(db), name, "investigator"))
    typer.echo(f"{name} now holds: {roles.replace(';', ', ')}")


@review_app.command()
def load(
    results: Annotated[Path, typer.Argument(help="results.parquet (or .csv/.jsonl) written by `mailguard score`.")],
    db: Annotated[str | None, typer.Option("--db", help="Database URL; default: review.db next to RESULTS.")] = None,
) -> None:
    """Load flagged messages of a scoring run into the review queue (idempotent)."""
    from serve.review.loader import load_results_file
    from serve.review.settings import resolve_db_url

    url = db or f"sqlite:///{results.resolve().parent / 'review.db'}"
    counts = run_or_exit(lambda: load_results_file(str(results), resolve_db_url(url)))
    typer.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


@review_app.command()
def export(
    out: Annotated[Path, typer.Argument(help="OUT.parquet or OUT.jsonl")],
    db: DbOption = None,
) -> None:
    """Write reviewed items as labelled training rows (source=review) for data.review_exports (0600)."""
    from serve.review.export import export_reviewed
    from serve.review.settings import resolve_db_url

    n = run_or_exit(lambda: export_reviewed(resolve_db_url(db), out))
    typer.echo(f"wrote {n} reviewed item(s) to {out}")


@review_app.command("audit-export")
def audit_export(
    out: Annotated[Path, typer.Argument(help="OUT.csv")],
    db: DbOption = None,
) -> None:
    """Write the audit log as CSV (0600)."""
    from serve.review.audit import export_audit_csv
    from serve.review.settings import resolve_db_url

    n = run_or_exit(lambda: export_audit_csv(resolve_db_url(db), out))
    typer.echo(f"wrote {n} audit event(s) to {out}")
