"""``mailguard score``: nightly batch scoring of logged mail (a thin wrapper over ``serve.scoring``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailguard.cli.app import app, run_or_exit
from mailguard.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd


@app.command("score")
def score(
    inputs: Annotated[list[str] | None, typer.Argument(
        help="Mailboxes, Maildirs, .eml files, CSV/JSONL/Parquet exports, or globs of them "
             "(default: inputs in [score] of mailguard.toml).", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (results, report, checkpoint).")] = None,
    model: Annotated[str | None, typer.Option(help="Model alias (champion), models:/mailguard/N, or a model folder.")] = None,
    since: Annotated[str | None, typer.Option(help="Only messages dated on/after this day (YYYY-MM-DD, UTC) or time.")] = None,
    until: Annotated[str | None, typer.Option(help="Only messages dated up to and including this day, or before this time.")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Worker processes (default: CPU count; 1 = in-process); with --engine ray, scoring actors.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Messages per batch and per checkpoint.")] = None,
    rescore: Annotated[bool, typer.Option("--rescore", help="Score again messages already scored by this model.")] = False,
    review_db: Annotated[str | None, typer.Option(help="Database URL of the review app to load results into.")] = None,
    org_domain: Annotated[list[str] | None, typer.Option(help="Organisation mail domain (repeatable).")] = None,
    config: Annotated[Path | None, typer.Option(help="mailguard.toml to read (default: ./mailguard.toml if present).")] = None,
    log_format: Annotated[str | None, typer.Option(help="Log lines as 'text' or 'json'.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or info logs: only warnings and errors.")] = False,
    message_seconds: Annotated[float | None, typer.Option(
        help="Seconds one message may take to read, and to score, before it becomes a timeout error row "
             "(0: no limit; default 10).")] = None,
    keep_days: Annotated[int | None, typer.Option(
        help="After the run, delete day folders (YYYY-MM-DD) beside --out older than this many days (0: keep all).")] = None,
    engine: Annotated[str | None, typer.Option(
        help="Who scores: 'local' (this machine's worker processes, the default) or 'ray' (a Ray cluster; "
             "pip install 'mailguard[ray]', see docs/scale-out.md).")] = None,
    ray_address: Annotated[str | None, typer.Option(
        help="With --engine ray: the cluster to join ('auto', host:port or ray://host:10001); "
             "default: start Ray on this machine.")] = None,
) -> None:
    """Score logged mail into DIR/results.parquet, results.csv, summary.json and report.html.

    Exit codes: 0 every message scored; 1 some messages could not be read (they
    still have a row, with status=error); 2 the run could not proceed.
    Re-running the same command resumes an interrupted run and scores nothing twice.
    """
    from serve.scoring.logs import configure_logging
    from serve.scoring.progress import PeriodicLog, TerminalBar
    from serve.scoring.runner import run_scoring
    from serve.scoring.settings import ScoreSettings, load_score_settings, parse_day

    def prepare() -> tuple[list[str], ScoreSettings]:
        overrides = {
            "out": out, "model": model, "workers": workers, "batch_size": batch_size, "review_db": review_db,
            "org_domains": org_domain or None, "log_format": log_format, "rescore": rescore or None,
            "quiet": quiet or None, "message_seconds": message_seconds, "keep_days": keep_days,
            "engine": engine, "ray_address": ray_address,
            "since": parse_day(since) if since else None,
            "until": parse_day(until, end=True) if until else None,
        }
        settings, configured = load_score_settings(config, overrides)
        chosen = list(inputs or configured)
        if not chosen:
            raise ConfigError("no input: name mailboxes on the command line or set inputs in [score] of mailguard.toml")
        return chosen, settings

    chosen, settings = run_or_exit(prepare)
    configure_logging(sys.stderr, settings.log_format, settings.quiet)
    progress = None
    if not settings.quiet:  # a bar for people at a terminal; periodic log lines for cron and journals
        progress = TerminalBar(sys.stderr) if sys.stderr.isatty() else PeriodicLog()
    loader: Callable[[pd.DataFrame, str], dict[str, int]] | None = None
    if settings.review_db:
        from serve.review.loader import load_results

        loader = load_results
    outcome = run_or_exit(lambda: run_scoring(chosen, settings, progress, loader))
    raise typer.Exit(outcome.exit_code)
