"""`mailguard data prepare` and `mailguard data fetch`: thin wrappers over pipelines.prepare / pipelines.fetch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailguard.cli.app import app, log_progress, run_or_exit

if TYPE_CHECKING:
    from pipelines.prepare import PrepareSummary

data_app = typer.Typer(help="Fetch the public corpora and prepare the training dataset.", no_args_is_help=True)
app.add_typer(data_app, name="data")

#: Exit code when some corpora could not be fetched (the others were).
EXIT_SOME_FAILED = 1


@data_app.command("prepare")
def prepare_command(
    params: Annotated[
        Path, typer.Option("--params", help="params.yaml to read (data, and train.scoring_unit for long mail).")
    ] = Path("params.yaml"),
    datasets_root: Annotated[
        Path | None, typer.Option("--datasets-root", help="Folder of public corpora (default: data.datasets_root).")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Output folder for dataset/, dataset.parquet, prepare_stats.json.")
    ] = Path("data/processed"),
    card: Annotated[Path, typer.Option("--card", help="Where to write the dataset card.")] = Path(
        "docs/dataset_card.md"
    ),
) -> None:
    """Load, clean, deduplicate and split every enabled source; write the dataset and its card."""
    from pipelines.params import load_pipeline_params
    from pipelines.prepare import prepare

    log_progress()

    def run() -> PrepareSummary:
        loaded = load_pipeline_params(params)
        return prepare(loaded, datasets_root or loaded.data.datasets_root, out, card_path=card)

    summary = run_or_exit(run)
    splits = ", ".join(f"{name} {count}" for name, count in summary.rows_per_split.items())
    typer.echo(f"prepared {summary.rows} rows ({splits}) in {summary.seconds:.0f} s -> {summary.dataset_path}")


@data_app.command("fetch")
def fetch_command(
    dest: Annotated[Path, typer.Option("--dest", help="Folder to write <corpus>/ folders into.")] = Path("data/raw"),
    only: Annotated[list[str] | None, typer.Option("--only", help="Fetch only this corpus (repeatable).")] = None,
    mirror: Annotated[
        str | None,
        typer.Option("--mirror", help="Base URL laid out as <mirror>/<corpus>/<file>, e.g. file:///srv/mirror."),
    ] = None,
) -> None:
    """Download the public corpora, verify their checksums, and print each one's licence and citation."""
    from pipelines.fetch import fetch

    log_progress()
    results = run_or_exit(lambda: fetch(dest, only or None, mirror))
    for result in results:
        if result.ok:
            note = " (evaluation only: never train on it)" if result.use == "evaluation" else ""
            typer.echo(f"{result.corpus}: ok, {len(result.files)} files ({result.downloaded} downloaded){note}")
            typer.echo(f"  licence: {result.licence}")
            typer.echo(f"  cite: {result.citation}")
        else:
            typer.echo(f"{result.corpus}: FAILED: {result.error}", err=True)
    if not all(r.ok for r in results):
        raise typer.Exit(EXIT_SOME_FAILED)
