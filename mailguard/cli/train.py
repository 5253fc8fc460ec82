"""`mailguard train`: fit the configured model on the prepared dataset and register it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from mailguard.cli.app import app, log_progress, run_or_exit
from mailguard.config import load_params
from mailguard.errors import ConfigError


def apply_overrides(params: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return ``params`` with ``dotted.key=value`` overrides applied (values parsed as YAML)."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        node = params
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {part} is not a section")
        node[leaf] = yaml.safe_load(raw)
    return params


@app.command()
def train(
    params_file: Annotated[Path, typer.Option("--params", help="Pipeline parameters.")] = Path("params.yaml"),
    data: Annotated[Path, typer.Option(help="Prepared dataset (parquet).")] = Path("data/processed/dataset.parquet"),
    out: Annotated[Path, typer.Option(help="Folder for the trained model.")] = Path("artifacts/model"),
    family: Annotated[str | None, typer.Option(help="Override train.family: linear | transformer.")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="Override a parameter: train.linear.C=2")] = [],  # noqa: B006
    register: Annotated[bool, typer.Option(help="Log to MLflow and register as model 'mailguard'.")] = True,
    if_no_champion: Annotated[
        bool, typer.Option("--if-no-champion", help="Do nothing when a champion is already registered.")
    ] = False,
) -> None:
    """Train a classifier, choose per-label thresholds on validation, and register it in MLflow."""
    log_progress()

    def _run() -> None:
        from models.registry import get_alias_version
        from pipelines.train import train as run_training

        params = apply_overrides(load_params(params_file), list(set_))
        if family:
            params.setdefault("train", {})["family"] = family
        if if_no_champion:
            version = get_alias_version("champion")
            if version is not None:
                typer.echo(f"champion already registered (mailguard version {version}); not training")
                return
        result = run_training(params, data, out, register=register, show_progress=True)
        typer.echo(
            f"trained {params['train'].get('family', 'linear')} model -> {result.model_dir} "
            f"(run {result.run_id}, version {result.version}, {result.seconds:.0f} s); "
            f"validation macro PR-AUC {result.validation.get('macro_pr_auc', float('nan')):.3f}"
        )

    run_or_exit(_run)
