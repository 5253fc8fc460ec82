"""`mailguard package onnx|cascade|thresholds`: make a trained model fast to score on CPU or move its operating
point; optionally register the result."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from mailguard.cli.app import app, log_progress, run_or_exit

package_app = typer.Typer(help="Package trained models for scoring (ONNX Runtime, cascade, operating point).",
                          no_args_is_help=True)
app.add_typer(package_app, name="package")

DataOpt = Annotated[Path, typer.Option("--data", help="Prepared dataset (parquet).")]
RegisterOpt = Annotated[bool, typer.Option(help="Register the packaged model as a new version of 'mailguard'.")]


def _register(model_dir: Path) -> str:
    from models.registry import log_and_register
    from models.saved import read_metadata

    meta = read_metadata(model_dir)
    run_id = meta.get("mlflow_run_id") or ""
    if not run_id:
        import mlflow

        from models.registry import configure_mlflow

        configure_mlflow()
        with mlflow.start_run(run_name=f"package-{meta['family']}") as run:
            run_id = run.info.run_id
    tags = {"family": meta["family"], "data_revision": meta.get("data_revision", "")}
    return log_and_register(model_dir, run_id=run_id, tags=tags)


def _package(build: Callable[[], None], out: Path, register: bool) -> None:
    """Run one packaging step (which writes ``out``), then register ``out`` if asked; errors are one line."""
    log_progress()

    def _run() -> None:
        build()
        if register:
            typer.echo(f"registered as mailguard version {_register(out)}")

    run_or_exit(_run)


@package_app.command("onnx")
def onnx_command(
    model: Annotated[Path, typer.Argument(help="Trained transformer model folder.")],
    out: Annotated[Path, typer.Option(help="Folder for the packaged model.")],
    data: DataOpt = Path("data/processed/dataset.parquet"),
    max_int8_drop: Annotated[float, typer.Option(help="Keep int8 only if no label's PR-AUC drops more.")] = 0.005,
    register: RegisterOpt = False,
) -> None:
    """Export to an inference-only ONNX folder (fp32 or int8, whichever keeps the decisions; no torch needed)."""

    def _run() -> None:
        from pipelines.package import package_onnx

        report = package_onnx(model, data, out, max_int8_drop=max_int8_drop)
        summary = {p: {"min_decision_agreement": min(report[p]["decision_agreement"].values()),
                       "max_pr_auc_drop": max(report[p]["pr_auc_drop"].values(), default=0.0),
                       "seconds": report[p]["seconds"]["candidate"]} for p in ("fp32", "int8")}
        typer.echo(json.dumps({**summary, "int8_ok": report["int8_ok"], "chosen": report["chosen"]}, indent=2))

    _package(_run, out, register)


@package_app.command("cascade")
def cascade_command(
    cheap: Annotated[Path, typer.Option(help="Cheap model folder (the linear baseline).")],
    expensive: Annotated[Path, typer.Option(help="Expensive model folder (the transformer).")],
    out: Annotated[Path, typer.Option(help="Folder for the cascade.")],
    data: DataOpt = Path("data/processed/dataset.parquet"),
    target_recall: Annotated[float, typer.Option(help="Share of validation positives the gate must pass.")] = 0.99,
    register: RegisterOpt = False,
) -> None:
    """Build a cascade: only messages the cheap model cannot clear are scored by the transformer."""

    def _run() -> None:
        from pipelines.package import package_cascade

        report = package_cascade(cheap, expensive, data, out, target_recall=target_recall)
        typer.echo(json.dumps(report, indent=2, default=float))

    _package(_run, out, register)


@package_app.command("thresholds")
def thresholds_command(
    model: Annotated[Path, typer.Argument(help="Trained model folder (any family).")],
    out: Annotated[Path, typer.Option(help="Folder for the copy with new thresholds.")],
    rule: Annotated[str, typer.Option(help="best_f1 | precision_target (chosen on the validation split).")],
    precision_target: Annotated[float, typer.Option(help="Validation precision each label must reach.")] = 0.8,
    data: DataOpt = Path("data/processed/dataset.parquet"),
    register: RegisterOpt = False,
) -> None:
    """Choose per-label thresholds again on validation (a new operating point) without retraining."""

    def _run() -> None:
        from pipelines.metrics import check_threshold_rule
        from pipelines.package import package_thresholds

        checked = check_threshold_rule(rule, "--rule")
        report = package_thresholds(model, data, out, rule=checked, precision_target=precision_target)
        for lb, m in report["per_label"].items():
            typer.echo(f"{lb:<20} threshold {m['old_threshold']:.3f} -> {m['new_threshold']:.3f}   "
                       f"validation precision {m['old_precision']:.3f} -> {m['new_precision']:.3f}, "
                       f"recall {m['old_recall']:.3f} -> {m['new_recall']:.3f}")

    _package(_run, out, register)


@package_app.command("convert")
def convert_command(
    model: Annotated[Path, typer.Argument(help="Model folder saved with a pickled linear payload (linear.joblib).")],
    out: Annotated[Path, typer.Option(help="New folder for the converted copy.")],
    register: RegisterOpt = False,
) -> None:
    """Re-save a model whose linear payload is a pickle as arrays + JSON (which loading never executes).

    Unpickling runs code: convert only a model you trained yourself or otherwise trust.
    """

    def _run() -> None:
        from models.linear_payload import convert_pickled

        converted = convert_pickled(model, out)
        typer.echo(f"converted {len(converted)} linear payload(s) into {out}")

    _package(_run, out, register)
