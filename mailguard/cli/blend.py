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
    params_file: Annotated[Path, typer.Option("--params", help="Thresholds follow its train section.")]
    = Path("params.yaml"),
    register: RegisterOpt = False,
) -> None:
    """Blend trained models: per label, a logistic regression over their log-odds, fitted on validation."""

    def _run() -> None:
        from pipelines.blend import package_blend
        from pipelines.params import load_pipeline_params

        report = package_blend(list(member), data, out, load_pipeline_params(params_file).train)
        typer.echo(f"blend of {len(member)} models -> {out}; validation macro PR-AUC "
                   f"{report['validation_macro_pr_auc']:.3f}")

    _package(_run, out, register)
