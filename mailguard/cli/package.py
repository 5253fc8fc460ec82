"""`mailguard package onnx|student|cascade|thresholds`: make a trained model fast to score on CPU or move its
operating point; optionally register the result."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from mailguard.cli.app import app, log_progress, run_or_exit

package_app = typer.Typer(help="Package trained models for scoring (ONNX Runtime, cascade, operating point).",
                          no_args_is_help=True)
app.add_typer(package_app, name="package")

DataOpt = Annotated[Path, typer.Option("--data", help="Prepared dataset (parquet).")]
RegisterOpt = Annotated[bool, typer.Option(help="Register the packaged model as a new version of 'mailguard'.")]
CacheOpt = Annotated[Path | None, typer.Option(
    "--cache", help="Folder caching the expensive model's window scores per split (each window read once).")]
TestRowsOpt = Annotated[int | None, typer.Option(
    help="Judge on a random sample of this many test (and validation) rows; default all.")]


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
    quantization: Annotated[str, typer.Option(help="blockwise (8-bit weight blocks, int8 compute) | static (QDQ, "
                                                   "calibrated) | dynamic.")] = "blockwise",
    block_size: Annotated[int, typer.Option(help="blockwise: inputs sharing one weight scale.")] = 32,
    keep_fp32: Annotated[str, typer.Option(help="Comma-separated parts left in fp32: head, first, last, attention.")]
    = "head",
    calibration_windows: Annotated[int, typer.Option(help="static: windows whose activations fix the ranges.")] = 512,
    calibrate_method: Annotated[str, typer.Option(help="static: minmax | entropy | percentile.")] = "minmax",
    rethreshold: Annotated[str, typer.Option(help="none | match (copy fp32's validation decisions) | rule "
                                                  "(the model's threshold rule on int8's validation scores).")] = "match",
    params_file: Annotated[Path, typer.Option("--params", help="Where the threshold rule is read (rethreshold=rule).")]
    = Path("params.yaml"),
    max_int8_drop: Annotated[float, typer.Option(help="Keep int8 only if no label's PR-AUC drops more.")] = 0.005,
    min_agreement: Annotated[float, typer.Option(help="... and every label's decisions agree on this share.")] = 0.99,
    fp32_out: Annotated[Path | None, typer.Option(help="Also save the fp32 package here (to compare them).")] = None,
    threads: Annotated[int | None, typer.Option(help="ONNX Runtime threads of the packaged model (default: the "
                                                     "transformer's; 1 when scoring with one worker per core).")] = None,
    test_rows: TestRowsOpt = None,
    cache: CacheOpt = None,
    register: RegisterOpt = False,
) -> None:
    """Export to an inference-only ONNX folder (fp32 or int8, whichever keeps the decisions; no torch needed)."""

    def _run() -> None:
        from pipelines.package import Int8Options, package_onnx

        options = Int8Options(quantization=_choice(quantization, ("blockwise", "static", "dynamic"), "--quantization"),
                              block_size=block_size,
                              keep_fp32=tuple(p.strip() for p in keep_fp32.split(",") if p.strip()),
                              calibration_windows=calibration_windows, calibrate_method=calibrate_method,
                              rethreshold=_choice(rethreshold, ("none", "match", "rule"), "--rethreshold"),  # type: ignore[arg-type]
                              test_rows=test_rows, **_threshold_rule(params_file, rethreshold == "rule"))
        report = package_onnx(model, data, out, options, max_int8_drop=max_int8_drop, min_agreement=min_agreement,
                              cache_dir=cache, fp32_out=fp32_out, num_threads=threads)
        variants = [p for p in ("int8", "int8_rethresholded") if p in report]
        for p in variants:
            typer.echo(f"{p}: decisions agreeing with fp32 per label (test, {report['n_test']} messages)")
            for lb, v in report[p]["decision_agreement"].items():
                typer.echo(f"  {lb:<20} {v:.4f}   PR-AUC drop {report[p]['pr_auc_drop'].get(lb, float('nan')):+.4f}")
        typer.echo(json.dumps({"fp32_vs_torch_max_abs_diff": report["fp32"]["max_abs_diff"],
                               "seconds_per_window": report["seconds_per_window"],
                               **{f"{p}_min_decision_agreement": min(report[p]["decision_agreement"].values()) for p in variants},
                               **{f"{p}_ok": report[f"{p}_ok"] for p in variants}, "chosen": report["chosen"]}, indent=2))

    _package(_run, out, register)


@package_app.command("student")
def student_command(
    teacher: Annotated[Path, typer.Argument(help="Trained transformer or packaged ONNX model folder (the teacher).")],
    out: Annotated[Path, typer.Option(help="Folder for the student.")],
    data: DataOpt = Path("data/processed/dataset.parquet"),
    max_windows_per_text: Annotated[int, typer.Option(help="Windows of one training text the teacher reads.")] = 6,
    max_units: Annotated[int, typer.Option(help="Distillation windows in all.")] = 150_000,
    epochs: Annotated[int, typer.Option(help="Training epochs (early stopping on held-out windows).")] = 8,
    hidden: Annotated[int, typer.Option(help="Hidden units of the student's head.")] = 256,
    threads: Annotated[int | None, typer.Option(help="torch threads while training.")] = None,
    test_rows: TestRowsOpt = None,
    cache: CacheOpt = None,
    register: RegisterOpt = False,
) -> None:
    """Distil a transformer into a static-embedding student (numpy only) to screen windows in a cascade."""

    def _run() -> None:
        from pipelines.distill import DistillConfig
        from pipelines.package import package_student

        config = DistillConfig(max_windows_per_text=max_windows_per_text, max_units=max_units, epochs=epochs,
                               hidden=hidden, num_threads=threads)
        report = package_student(teacher, data, out, config, cache_dir=cache, test_rows=test_rows)
        typer.echo(f"student decisions agreeing with the teacher per label (test, {report['test']['n']} messages)")
        for lb, v in report["test"]["decision_agreement"].items():
            typer.echo(f"  {lb:<20} {v:.4f}")
        typer.echo(json.dumps({"units": report["units"], "best_holdout_flag_pr_auc": report["best_holdout_flag_pr_auc"],
                               "student_seconds_per_window": report["student_seconds_per_window"]}, indent=2))

    _package(_run, out, register)


@package_app.command("cascade")
def cascade_command(
    cheap: Annotated[Path, typer.Option(help="Cheap model folder (a student, or the linear baseline).")],
    expensive: Annotated[Path, typer.Option(help="Expensive model folder (the transformer, ONNX or torch).")],
    out: Annotated[Path, typer.Option(help="Folder for the cascade.")],
    data: DataOpt = Path("data/processed/dataset.parquet"),
    target_recall: Annotated[float, typer.Option(help="Share of validation positives the gate must pass.")] = 0.99,
    gate_on: Annotated[str, typer.Option(help="labels (gold positives) | teacher (the expensive model's own flags, "
                                              "at the windows that raised them).")] = "labels",
    curve: Annotated[str, typer.Option(help="With --gate-on teacher: more target recalls to report, comma-separated.")]
    = "",
    test_rows: TestRowsOpt = None,
    val_rows: Annotated[int | None, typer.Option(help="Fit the gates on a random sample of this many validation "
                                                       "rows (overrides --test-rows there); default all.")] = None,
    cache: CacheOpt = None,
    register: RegisterOpt = False,
) -> None:
    """Build a cascade: only windows the cheap model cannot clear are scored by the expensive model."""

    def _run() -> None:
        from pipelines.package import package_cascade

        points = tuple(float(v) for v in curve.split(",") if v.strip())
        report = package_cascade(cheap, expensive, data, out, target_recall=target_recall,
                                 gate_on=_choice(gate_on, ("labels", "teacher"), "--gate-on"),  # type: ignore[arg-type]
                                 curve=points, cache_dir=cache, test_rows=test_rows, val_rows=val_rows)
        if "curve" not in report:
            typer.echo(json.dumps(report, indent=2, default=float))
            return
        typer.echo("target recall | escalated windows | min decision agreement | max recall loss (test)")
        for p in report["curve"]:
            typer.echo(f"{p['target_recall']:13.3f} | {p['escalated_windows']:17.3f} | {p['min_decision_agreement']:22.4f} | "
                       f"{p['max_recall_loss']:+.4f}")
        typer.echo(json.dumps({"check": report["check"], "gates": report["gates"]}, default=float))

    _package(_run, out, register)


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    from mailguard.errors import ConfigError

    if value not in allowed:
        raise ConfigError(f"{option} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _threshold_rule(params_file: Path, needed: bool) -> dict[str, Any]:
    """Return the transformer's threshold rule settings from params.yaml (only read when ``needed``)."""
    if not needed:
        return {}
    from pipelines.params import load_pipeline_params

    train = load_pipeline_params(params_file).train
    return {"rule": train.rule_for("transformer"), "precision_target": train.precision_target,
            "min_recall": train.min_recall}


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
