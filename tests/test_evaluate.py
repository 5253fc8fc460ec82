"""Evaluation on a tiny dataset and tiny linear model: reports, plots, predictions and MLflow logging."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from fixtures.evaluation.tiny import SUITE, tiny_clean_mail, tiny_dataset, tiny_model, tiny_suite
from typer.testing import CliRunner

from mailguard.taxonomy import LABELS
from pipelines import evaluate as ev
from pipelines.params import PipelineParams, override


def tiny_params(params: PipelineParams, root: Path, **changes: Any) -> PipelineParams:
    """Return params.yaml set for the tiny fixtures: their suite and clean mail under ``root``, no written mail."""
    return override(params, {
        "evaluate.min_subgroup_size": 2,  # the tiny test split has two texts per identity term
        "evaluate.suite_root": SUITE,
        "evaluate.written_eval": False,
        "evaluate.planted_max_texts": 0,
        "data.clean_mail_root": tiny_clean_mail(root / "clean_mail"),
        **changes,
    })


@pytest.fixture()
def tiny(tmp_path: Path, pipeline_params: PipelineParams) -> tuple[Path, Path, PipelineParams]:
    """A tiny prepared dataset and model, and params pointing at the tiny suite and clean mail."""
    dataset = tiny_dataset(tmp_path / "data" / "dataset.parquet")
    return dataset, tiny_model(dataset, tmp_path / "model"), tiny_params(pipeline_params, tmp_path)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory, pipeline_params: PipelineParams) -> tuple[dict[str, Any], Path]:
    """One evaluation of the tiny model, shared by the tests that only read its outputs."""
    tmp = tmp_path_factory.mktemp("evaluated")
    dataset = tiny_dataset(tmp / "data" / "dataset.parquet")
    model = tiny_model(dataset, tmp / "model")
    params = tiny_params(pipeline_params, tmp, **{"evaluate.temperature_scaling": True})
    result = ev.evaluate(model, dataset, SUITE, tmp / "reports", params, log_to_mlflow=False)
    return result, tmp / "reports"


def _strict_json(path: Path) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def test_evaluate_writes_metrics_with_every_section(evaluated: tuple[dict[str, Any], Path]) -> None:
    result, out = evaluated
    saved = _strict_json(out / "metrics.json")  # NaN must be written as null for dvc and json readers
    assert saved == result
    assert set(saved) >= {"meta", "data", "test", "suite", "bias", "clean_mail"}
    assert len(saved["meta"]["data_fingerprint"]) == 16
    for key in ("macro_pr_auc", "macro_roc_auc", "macro_f1", "micro_pr_auc", "micro_f1"):
        assert isinstance(saved["test"][key], float)
    for label in LABELS:
        m = saved["test"]["per_label"][label]
        assert {"roc_auc", "pr_auc", "precision", "recall", "f1", "threshold", "support"} <= set(m)
        assert label in saved["test"]["ece"]
        assert 0 <= saved["test"]["ece_temperature_scaled"][label] <= 1
    assert saved["data"]["n_test"] == 30
    assert set(saved["suite"]["per_functionality"]) == set(tiny_suite()["functionality"])
    assert {"final_metric", "overall_auc", "subgroups", "skipped", "neutral_fpr"} <= set(saved["bias"])
    assert set(saved["bias"]["neutral_fpr"]) == {"muslim", "women", "black", "disabled"}
    assert saved["clean_mail"]["n"] == 6


def test_evaluate_writes_dvc_plots_and_pngs(evaluated: tuple[dict[str, Any], Path]) -> None:
    _, out = evaluated
    plots = out / "plots"
    for label in LABELS:  # every label has test positives in the tiny data
        assert list(pd.read_csv(plots / "pr_curves" / f"{label}.csv").columns) == ["recall", "precision", "threshold"]
        assert {"mean_confidence", "fraction_positive"} <= set(pd.read_csv(plots / "reliability" / f"{label}.csv"))
    assert list(pd.read_csv(plots / "suite_functionality.csv").columns) == ["functionality", "accuracy", "n"]
    assert "bpsn_auc" in pd.read_csv(plots / "bias_subgroups.csv").columns
    assert pd.read_csv(plots / "label_confusion.csv", index_col=0).index.tolist() == [*LABELS, "clean"]
    for name in ("pr_curves", "reliability", "label_confusion", "bias_subgroups", "suite_functionality"):
        assert (plots / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "model_card.md").is_file() and (out / "model_card.html").is_file()


def test_text_stays_out_of_the_notext_predictions(evaluated: tuple[dict[str, Any], Path]) -> None:
    _, out = evaluated
    local = [json.loads(line) for line in (out / "predictions_test.jsonl").read_text().splitlines()]
    assert len(local) == 30 and "text" in local[0] and "evidence" in local[0]
    for name in ("predictions_test_notext.jsonl", "predictions_suite_notext.jsonl"):
        records = [json.loads(line) for line in (out / name).read_text().splitlines()]
        assert records and not any({"text", "evidence"} & set(r) for r in records)
    assert "religion" in local[0]["proba"] and isinstance(local[0]["gold"], list)


def test_suite_accuracy_needs_the_exact_label_set() -> None:
    suite = tiny_suite().set_index("functionality").loc[["derog_religion", "derog_gender", "derog_race"]].reset_index()
    pred = suite[list(LABELS)].to_numpy().copy()
    pred[1, LABELS.index("sexual")] = 1  # right label plus an extra one: wrong
    pred[2] = 0  # missed entirely: wrong
    acc = ev.suite_accuracy(suite, pred)
    assert acc["accuracy"] == pytest.approx(1 / 3)
    assert acc["per_functionality"]["derog_gender"] == {"accuracy": 0.0, "n": 1}
    assert acc["per_label_accuracy"]["sexual"] == pytest.approx(2 / 3)
    assert acc["per_label_accuracy"]["race"] == pytest.approx(2 / 3)


def test_fingerprint_follows_evaluation_data_only(tiny: tuple[Path, Path, PipelineParams]) -> None:
    dataset, _, params = tiny
    before = ev.current_fingerprint(dataset, SUITE, params)
    df = pd.read_parquet(dataset)
    train_row = int(np.flatnonzero(df["split"] == "train")[0])
    df.loc[train_row, "text"] = "a changed training text"
    df.to_parquet(dataset, index=False)
    assert ev.current_fingerprint(dataset, SUITE, params) == before
    test_row = int(np.flatnonzero(df["split"] == "test")[0])
    df.loc[test_row, "religion"] = 1 - df.loc[test_row, "religion"]
    df.to_parquet(dataset, index=False)
    assert ev.current_fingerprint(dataset, SUITE, params) != before


def test_missing_dataset_is_a_readable_error(tmp_path: Path) -> None:
    from mailguard.errors import InputError

    with pytest.raises(InputError, match="mailguard data prepare"):
        ev.load_test_split(tmp_path / "nope.parquet")


def test_evaluation_is_logged_to_the_model_run_without_text(
    tiny: tuple[Path, Path, PipelineParams], tmp_path: Path, mlflow_store: str
) -> None:
    import mlflow

    from models.registry import configure_mlflow

    dataset, model, params = tiny
    configure_mlflow()
    with mlflow.start_run() as run:
        pass
    ev.evaluate(model, dataset, SUITE, tmp_path / "reports", params, run_id=run.info.run_id)
    logged = mlflow.get_run(run.info.run_id).data.metrics
    assert "eval.test.macro_pr_auc" in logged and "eval.bias.final_metric" in logged
    assert ev.logged_metrics(run.info.run_id)["meta"]["data_fingerprint"]
    artifacts = Path(mlflow.get_run(run.info.run_id).info.artifact_uri.removeprefix("file://"))
    files = [p for p in artifacts.rglob("*") if p.is_file()]
    names = {p.relative_to(artifacts).as_posix() for p in files}
    assert {"evaluation/metrics.json", "evaluation/model_card.html", "evaluation/plots/pr_curves/age.csv"} <= names
    texts = pd.read_parquet(dataset)["text"].str.split("\n\n").str[-1].tolist() + tiny_suite()["text"].tolist()
    for path in files:
        content = path.read_bytes().decode("utf-8", errors="ignore")
        leaked = [t for t in texts if t in content]
        assert not leaked, f"{path.name} contains message text: {leaked[:2]}"


def test_evaluate_cli_reports_one_line(tiny: tuple[Path, Path, PipelineParams], tmp_path: Path) -> None:
    from mailguard.cli import app

    dataset, model, params = tiny
    out = tmp_path / "reports"
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params.as_dict()), encoding="utf-8")
    result = CliRunner().invoke(
        app, ["evaluate", str(model), "--data", str(dataset), "--no-suite", "--out", str(out), "--no-mlflow",
              "--params", str(params_file)],
    )
    assert result.exit_code == 0, result.output
    assert "macro PR-AUC" in result.output
    assert "suite" not in _strict_json(out / "metrics.json")


def test_evaluate_cli_turns_a_bad_model_into_exit_2(tmp_path: Path) -> None:
    from mailguard.cli import app

    params = Path(__file__).resolve().parents[1] / "params.yaml"
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path), "--no-mlflow", "--params", str(params)])
    assert result.exit_code == 2
    assert "error:" in result.output


def test_evaluate_cli_refuses_a_missing_params_file_in_one_line(tmp_path: Path) -> None:
    from mailguard.cli import app

    result = CliRunner().invoke(app, ["evaluate", str(tmp_path), "--no-mlflow", "--params", str(tmp_path / "no.yaml")])
    assert result.exit_code == 2
    assert "cannot read params file" in result.output and "Traceback" not in result.output
