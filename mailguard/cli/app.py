"""The one typer app; command modules register themselves on it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import typer

from mailguard.errors import MailguardError

app = typer.Typer(
    name="mailguard",
    help="Find e-mail acceptable-use policy violations: train models, score mail, review flags.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

T = TypeVar("T")

#: Exit code when the run could not proceed (bad model, unreadable config, missing input).
EXIT_CANNOT_PROCEED = 2


def log_progress() -> None:
    """Send library progress logs (counts and timings, never message text) to stderr at INFO level."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def run_or_exit(fn: Callable[[], T]) -> T:
    """Call ``fn``; turn a mailguard error into one readable line on stderr and exit code 2."""
    try:
        return fn()
    except MailguardError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(EXIT_CANNOT_PROCEED) from None


def _show_version(value: bool) -> None:
    if value:
        from mailguard import __version__

        typer.echo(f"mailguard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True, help="Show the version."),
) -> None:
    """Find e-mail acceptable-use policy violations: train models, score mail, review flags."""
