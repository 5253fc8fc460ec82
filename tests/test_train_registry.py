"""Training registers a model in MLflow; `champion` resolves to it for scoring, through either API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures.evaluation.tiny import tiny_dataset
from typer.testing import CliRunner

from mailguard.cli import app
from mailguard.errors import ModelNotFoundError
from mailguard.taxonomy import LABELS, SCORE_COLUMNS
from models.registry import get_alias_version, resolve_model
from pipelines.params import PipelineParams, override
from pipelines.train import train

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def params(pipeline_params: PipelineParams) -> PipelineParams:
    """params.yaml with a linear model small enough for the tiny dataset."""
    return override(pipeline_params, {"train.family": "linear", "train.linear.min_df": 1,
                                      "train.linear.max_features": 5000})


def test_first_model_becomes_champion_and_resolves_for_scoring(
    tmp_path: Path, mlflow_store: str, params: PipelineParams
) -> None:
    dataset = tiny_dataset(tmp_path / "dataset.parquet")
    result = train(params, dataset, tmp_path / "model")
    assert result.version == "1" and get_alias_version("champion") == "1"
    assert np.isfinite(result.validation["macro_pr_auc"])

    resolved = resolve_model("champion")
    assert resolved.version == "mailguard/1" and resolved.run_id == result.run_id
    texts = ["old geezers like you should retire", "the budget meeting moved to thursday"]
    local = resolve_model(str(tmp_path / "model"))
    np.testing.assert_allclose(resolved.classifier.predict_proba(texts), local.classifier.predict_proba(texts))
    np.testing.assert_allclose(resolved.classifier.thresholds_, local.classifier.thresholds_)

    # A second training run registers version 2 but leaves the champion where it was.
    assert train(params, dataset, tmp_path / "model2").version == "2"
    assert get_alias_version("champion") == "1"
    assert resolve_model("models:/mailguard/2").version == "mailguard/2"


def test_registered_model_serves_through_mlflow_pyfunc_with_its_signature(
    tmp_path: Path, mlflow_store: str, params: PipelineParams
) -> None:
    import mlflow.pyfunc

    train(params, tiny_dataset(tmp_path / "dataset.parquet"), tmp_path / "model")
    model = mlflow.pyfunc.load_model("models:/mailguard@champion")
    out = model.predict(pd.DataFrame({"text": ["buy my essential oils now", "council agenda posted online"]}))
    assert list(out.columns) == [*SCORE_COLUMNS, "labels"]
    assert out[list(SCORE_COLUMNS)].to_numpy().shape == (2, len(LABELS))
    inputs = model.metadata.get_input_schema().input_names()
    assert inputs == ["text"]


def test_unknown_alias_or_folder_is_a_clear_error(tmp_path: Path, mlflow_store: str) -> None:
    with pytest.raises(ModelNotFoundError, match="no model 'mailguard' alias 'nosuch'"):
        resolve_model("nosuch")
    with pytest.raises(ModelNotFoundError, match="not a saved mailguard model"):
        resolve_model(str(tmp_path))


def test_train_cli_reports_bad_config_in_one_line(tmp_path: Path, mlflow_store: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--params", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "cannot read params file" in result.output and "Traceback" not in result.output

    bad = tmp_path / "params.yaml"
    bad.write_text("train: [unclosed\n")
    result = runner.invoke(app, ["train", "--params", str(bad)])
    assert result.exit_code == 2 and "not valid YAML" in result.output

    result = runner.invoke(app, ["train", "--params", str(REPO / "params.yaml"), "--family", "forest",
                                 "--data", str(tiny_dataset(tmp_path / "d.parquet"))])
    assert result.exit_code == 2 and "train.family: Input should be 'linear' or 'transformer'" in result.output

    result = runner.invoke(app, ["train", "--params", str(REPO / "params.yaml"), "--set", "train.linear.C=strong"])
    assert result.exit_code == 2 and "train.linear.C: Input should be a valid number" in result.output


def test_train_cli_skips_when_a_champion_exists(tmp_path: Path, mlflow_store: str, params: PipelineParams) -> None:
    dataset = tiny_dataset(tmp_path / "dataset.parquet")
    train(params, dataset, tmp_path / "model")
    result = CliRunner().invoke(app, ["train", "--if-no-champion", "--params", str(REPO / "params.yaml"),
                                      "--data", str(dataset)])
    assert result.exit_code == 0 and "champion already registered" in result.output


def test_transformer_budget_keeps_authored_rows_whole_and_fills_the_rest() -> None:
    from pipelines.train import within_budget

    rows = [{"text": f"t{i}", "source": "authored" if i < 30 else "olid", **{lb: int(i % 7 == 0) for lb in LABELS}}
            for i in range(200)]
    df = pd.DataFrame(rows)
    picked = within_budget(df, 80, ["authored"], seed=13)
    assert len(picked) == 80
    assert (picked["source"] == "authored").sum() == 30  # every authored row is kept
    assert within_budget(df, 500, ["authored"], seed=13) is df  # under budget: untouched


def test_threshold_rule_is_set_per_family(params: PipelineParams) -> None:
    from mailguard.errors import ConfigError

    rules = override(params, {"train.threshold_rule": {"linear": "best_f1", "transformer": "precision_target",
                                                       "blend": "precision_target"}}).train
    assert rules.rule_for("transformer") == "precision_target"
    assert rules.rule_for("linear") == "best_f1"
    with pytest.raises(ConfigError, match="no rule for family 'cascade'"):  # no silent default for a family
        rules.rule_for("cascade")
    with pytest.raises(ConfigError, match="train.threshold_rule.linear: Input should be 'best_f1' or 'precision_target'"):
        override(params, {"train.threshold_rule.linear": "highest"})
