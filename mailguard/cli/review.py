"""``mailguard review``: serve the reviewer app, add users, load results, export decisions and the audit log."""

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
    """Run the review web app (needs MAILGUARD_SECRET_KEY)."""
    import uvicorn

    from serve.review.main import create_app
    from serve.review.settings import load_settings

    application = run_or_exit(lambda: create_app(load_settings(db)))
    uvicorn.run(application, host=host, port=port, log_level="info", access_log=False)


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

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            typer.echo("error: passwords do not match", err=True)
            raise typer.Exit(2)
    roles = [r for value in role for r in value.split(",")]
    granted = run_or_exit(lambda: create_user(resolve_db_url(db), name, password, roles))
    typer.echo(f"added {name} ({granted.replace(';', ', ')})")


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
    """Write reviewed items as labelled training rows (source=review) for data.review_exports."""
    from serve.review.export import export_reviewed
    from serve.review.settings import resolve_db_url

    n = run_or_exit(lambda: export_reviewed(resolve_db_url(db), out))
    typer.echo(f"wrote {n} reviewed item(s) to {out}")


@review_app.command("audit-export")
def audit_export(
    out: Annotated[Path, typer.Argument(help="OUT.csv")],
    db: DbOption = None,
) -> None:
    """Write the audit log as CSV."""
    from serve.review.audit import export_audit_csv
    from serve.review.settings import resolve_db_url

    n = run_or_exit(lambda: export_audit_csv(resolve_db_url(db), out))
    typer.echo(f"wrote {n} audit event(s) to {out}")
