"""`mailguard package blend`: a calibrated blend of trained models (stacker and thresholds on validation)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailguard.cli.package import DataOpt, RegisterOpt, _package, package_app


@package_app.command("blend")
def blend_command(
    member: Annotated[list[Path], typer.Option(help="A trained model folder (repeat for each member).")],
    out: Annotated[Path, typer.Option(help="Folder for the blend.")],
    data: DataOpt = Path("data/processed/dataset.parquet"),
    rule: Annotated[str, typer.Option(help="best_f1 | precision_target (chosen on the validation split).")] = "best_f1",
    precision_target: Annotated[float, typer.Option(help="Validation precision each label must reach.")] = 0.8,
    min_recall: Annotated[float, typer.Option(help="Validation recall every label keeps.")] = 0.6,
    register: RegisterOpt = False,
) -> None:
    """Blend trained models: per label, a logistic regression over their log-odds, fitted on validation."""

    def _run() -> None:
        from pipelines.blend import package_blend
        from pipelines.metrics import check_threshold_rule

        report = package_blend(list(member), data, out, rule=check_threshold_rule(rule, "--rule"),
                               precision_target=precision_target, min_recall=min_recall)
        typer.echo(f"blend of {len(member)} models -> {out}; validation macro PR-AUC "
                   f"{report['validation_macro_pr_auc']:.3f}")

    _package(_run, out, register)
