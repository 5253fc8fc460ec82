"""`mailguard train`: fit the configured model on the prepared dataset and register it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml

from mailguard.cli.app import app, log_progress, run_or_exit
from mailguard.errors import ConfigError

if TYPE_CHECKING:
    from pipelines.params import PipelineParams


def apply_overrides(params: PipelineParams, overrides: list[str]) -> PipelineParams:
    """Return ``params`` with ``dotted.key=value`` overrides applied (values parsed as YAML), validated again."""
    from pipelines.params import override

    changes: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        changes[key] = yaml.safe_load(raw)
    return override(params, changes)


@app.command()
def train(
    params_file: Annotated[Path, typer.Option("--params", help="Pipeline parameters.")] = Path("params.yaml"),
    data: Annotated[Path, typer.Option(help="Prepared dataset (parquet).")] = Path("data/processed/dataset.parquet"),
    out: Annotated[Path, typer.Option(help="Folder for the trained model.")] = Path("artifacts/model"),
    family: Annotated[str | None, typer.Option(help="Override train.family: linear | transformer.")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="Override a parameter: train.linear.C=2")] = [],  # noqa: B006
    register: Annotated[bool, typer.Option(help="Log to MLflow and register as model 'mailguard'.")] = True,
    if_no_champion: Annotated[
        bool, typer.Option("--if-no-champion", help="Do nothing when a model already holds register.alias.")
    ] = False,
) -> None:
    """Train a classifier, choose per-label thresholds on validation, and register it in MLflow."""
    log_progress()

    def _run() -> None:
        from models.registry import get_alias_version
        from pipelines.params import load_pipeline_params, override
        from pipelines.train import train as run_training

        params = apply_overrides(load_pipeline_params(params_file), list(set_))
        if family:
            params = override(params, {"train.family": family})
        if if_no_champion:
            version = get_alias_version(params.registry.alias)
            if version is not None:
                typer.echo(f"{params.registry.alias} already registered (mailguard version {version}); not training")
                return
        result = run_training(params, data, out, register=register, show_progress=True)
        typer.echo(
            f"trained {params.train.family} model -> {result.model_dir} "
            f"(run {result.run_id}, version {result.version}, {result.seconds:.0f} s); "
            f"validation macro PR-AUC {result.validation.get('macro_pr_auc', float('nan')):.3f}"
        )

    run_or_exit(_run)
