"""`mailguard evaluate` and `mailguard promote`: measure a model, and move `champion` only when the gates pass."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mailguard.cli.app import app, log_progress, run_or_exit

if TYPE_CHECKING:
    from pipelines.params import PipelineParams

#: Exit code when promotion was refused by the gates (distinct from 2: could not run at all).
EXIT_REFUSED = 1


def _evaluation_params(params_file: Path, suite: Path | None) -> PipelineParams:
    """Return the validated parameters, with ``--suite`` (when given) as ``evaluate.suite_root``."""
    from pipelines.params import load_pipeline_params, override

    params = load_pipeline_params(params_file)
    return params if suite is None else override(params, {"evaluate.suite_root": suite})


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@app.command()
def evaluate(
    model: Annotated[str, typer.Argument(help="Model folder, alias (champion), mailguard@alias or models:/mailguard/N.")]
    = "champion",
    data: Annotated[Path, typer.Option(help="Prepared dataset (parquet).")] = Path("data/processed/dataset.parquet"),
    suite: Annotated[Path | None, typer.Option(help="Functional test suite folder (default: evaluate.suite_root).")]
    = None,
    no_suite: Annotated[bool, typer.Option("--no-suite", help="Skip the functional suite.")] = False,
    out: Annotated[Path, typer.Option(help="Folder for metrics.json, plots/, predictions and the card.")]
    = Path("reports"),
    params_file: Annotated[Path, typer.Option("--params", help="Pipeline parameters (evaluate and data roots).")]
    = Path("params.yaml"),
    mlflow: Annotated[bool, typer.Option(help="Log numbers, plots and card to the model's MLflow run.")] = True,
    run_id: Annotated[str | None, typer.Option(help="MLflow run to log to (default: the model's own run).")] = None,
    card: Annotated[Path | None, typer.Option(help="Also write the model card here, e.g. docs/model_card.md.")]
    = None,
) -> None:
    """Evaluate a model on the test split, functional suite and clean mail; write reports/ and the model card."""
    log_progress()

    def _run() -> None:
        from pipelines.evaluate import evaluate as run_evaluation

        params = _evaluation_params(params_file, suite)
        result = run_evaluation(
            model, data, None if no_suite else params.evaluate.suite_root, out, params,
            log_to_mlflow=mlflow, run_id=run_id, card_dest=card,
        )
        test, bias = result["test"], result["bias"]
        suite_acc = (result.get("suite") or {}).get("accuracy")
        typer.echo(
            f"{result['meta']['model_version']}: test macro PR-AUC {_fmt(test['macro_pr_auc'])}, "
            f"macro F1 {_fmt(test['macro_f1'])}; suite accuracy {_fmt(suite_acc)}; "
            f"bias final metric {_fmt(bias['final_metric'])} -> {out / 'metrics.json'}"
        )

    run_or_exit(_run)


@app.command()
def promote(
    challenger: Annotated[str, typer.Argument(help="Registered version (3), alias (challenger) or MLflow run id.")],
    force: Annotated[bool, typer.Option(help="Promote even if gates fail (needs --reason).")] = False,
    reason: Annotated[str, typer.Option(help="Why; required with --force, recorded either way.")] = "",
    data: Annotated[Path, typer.Option(help="Prepared dataset (parquet).")] = Path("data/processed/dataset.parquet"),
    suite: Annotated[Path | None, typer.Option(help="Functional test suite folder (default: evaluate.suite_root).")]
    = None,
    out: Annotated[Path, typer.Option(help="Folder for both models' evaluations.")] = Path("reports/promotion"),
    log_file: Annotated[Path, typer.Option("--log", help="Promotion log (JSON lines, committed).")]
    = Path("reports/promotions.jsonl"),
    params_file: Annotated[Path, typer.Option("--params", help="Pipeline parameters (evaluate and data roots).")]
    = Path("params.yaml"),
    card: Annotated[Path | None, typer.Option(help="Write the new champion's model card here.")] = None,
) -> None:
    """Make CHALLENGER the champion if it is no worse on any gate than the current champion."""
    log_progress()

    def _run() -> int:
        from pipelines.promote import comparison_table
        from pipelines.promote import promote as run_promotion

        params = _evaluation_params(params_file, suite)
        decision = run_promotion(
            challenger, dataset_path=data, suite_root=params.evaluate.suite_root, out_dir=out, force=force,
            reason=reason, log_path=log_file, params=params, card_dest=card,
        )
        if decision.gates:
            typer.echo(comparison_table(decision.gates, decision.champion_version, decision.challenger_version))
        for gate in decision.failed:
            typer.echo(f"FAILED {gate.name}: {gate.rule}")
        messages = {
            "already_champion": f"version {decision.challenger_version} is already the champion; nothing to do",
            "first_champion": f"no champion yet: version {decision.challenger_version} is now the champion",
            "promoted": f"all gates pass: version {decision.challenger_version} replaces "
            f"{decision.champion_version} as champion",
            "forced": f"FORCED: version {decision.challenger_version} replaces {decision.champion_version} "
            f"despite {len(decision.failed)} failing gate(s); reason recorded: {decision.reason}",
            "refused": f"refused: version {decision.challenger_version} stays challenger; "
            f"{decision.champion_version} remains champion",
        }
        typer.echo(messages[decision.action])
        return 0 if decision.action != "refused" else EXIT_REFUSED

    code = run_or_exit(_run)
    if code:
        raise typer.Exit(code)
