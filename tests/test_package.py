"""Packaging for CPU scoring: ONNX precision is chosen by measured agreement; the cascade keeps recall."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mailguard.cli import app
from mailguard.taxonomy import LABELS
from models import load_classifier
from models.linear import LinearClassifier
from models.transformer import TransformerClassifier
from pipelines.distill import DistillConfig
from pipelines.package import REPORT_FILE, Int8Options, package_cascade, package_onnx, package_student

_spec = importlib.util.spec_from_file_location("tiny_base", Path(__file__).parent / "fixtures/transformer/tiny_base.py")
tiny = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(tiny)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny transformer and linear model trained on the 8 tiny texts, plus a dataset whose splits are those texts."""
    root = tmp_path_factory.mktemp("package")
    Y = tiny.labels()
    transformer = TransformerClassifier(base_model=str(tiny.build_tiny_base(root / "base")), epochs=25,
                                        learning_rate=1e-2, batch_size=4, patience=100, num_threads=1)
    transformer.fit(tiny.TEXTS, Y, X_val=tiny.TEXTS, Y_val=Y).save(root / "transformer")
    LinearClassifier(min_df=1, C=20.0).fit(tiny.TEXTS, Y).save(root / "linear")
    frames = []
    for split in ("train", "validation", "test"):
        df = pd.DataFrame(Y, columns=list(LABELS))
        df.insert(0, "text", tiny.TEXTS)
        df["split"] = split
        frames.append(df)
    pd.concat(frames).to_parquet(root / "dataset.parquet")
    return {"root": root, "transformer": root / "transformer", "linear": root / "linear",
            "dataset": root / "dataset.parquet"}


def test_onnx_package_reports_agreement_and_scores_with_the_chosen_precision(models: dict[str, Path]) -> None:
    out = models["root"] / "onnx"
    report = package_onnx(models["transformer"], models["dataset"], out, Int8Options(calibration_windows=16),
                          cache_dir=models["root"] / "cache")
    assert report["fp32"]["max_abs_diff"] < 1e-4
    # int8 is judged against fp32 per label at the shipped thresholds; re-chosen thresholds only when that fails
    assert set(report["int8"]["decision_agreement"]) == set(LABELS)
    assert ("int8_rethresholded" in report) != report["int8_ok"]
    assert report["chosen"] in ("int8", "int8_rethresholded", "fp32")
    saved = json.loads((out / REPORT_FILE).read_text())
    assert saved["onnx"]["chosen"] == report["chosen"]
    packaged = load_classifier(out)
    assert packaged.family == "onnx" and packaged.get_params()["precision"] == report["chosen"][:4]
    original = load_classifier(models["transformer"])
    expected = report[report["chosen"]]["thresholds"] if report["chosen"] != "fp32" else list(original.thresholds_)
    np.testing.assert_allclose(packaged.thresholds_, expected)
    diff = abs(packaged.score_texts(tiny.TEXTS).proba - original.score_texts(tiny.TEXTS).proba).max()
    assert diff <= report["int8"]["max_abs_diff"] + 1e-4


def test_rejected_int8_is_judged_again_at_thresholds_matching_fp32_on_validation(models: dict[str, Path]) -> None:
    out = models["root"] / "onnx-strict"
    report = package_onnx(models["transformer"], models["dataset"], out, Int8Options(), min_agreement=1.01)
    assert not report["int8_ok"] and report["int8_rethresholded"]["how"] == "match"
    assert set(report["int8_rethresholded"]["decision_agreement"]) == set(LABELS)
    assert report["chosen"] == "fp32" and load_classifier(out).get_params()["precision"] == "fp32"  # nothing passes 101 %


def test_student_package_and_a_cascade_gated_on_the_teachers_decisions(models: dict[str, Path]) -> None:
    config = DistillConfig(epochs=40, batch_size=8, learning_rate=3e-2, holdout_fraction=0.0, patience=100, num_threads=1)
    report = package_student(models["transformer"], models["dataset"], models["root"] / "student", config)
    assert load_classifier(models["root"] / "student").family == "student"
    assert set(report["test"]["decision_agreement"]) == set(LABELS)
    out = models["root"] / "student-cascade"
    cascade = package_cascade(models["root"] / "student", models["transformer"], models["dataset"], out,
                              target_recall=1.0, gate_on="teacher", curve=(0.5,))
    assert [p["target_recall"] for p in cascade["curve"]] == [0.5, 1.0]
    assert cascade["check"]["max_abs_diff"] < 1e-6  # the curve is computed as the saved cascade scores (to batching noise)
    at_one = cascade["curve"][-1]
    assert at_one["min_decision_agreement"] == 1.0 and at_one["max_recall_loss"] <= 0.0  # validation == test here
    assert 0.0 < at_one["escalated_windows"] < 1.0
    assert load_classifier(out).family == "cascade"
    result = CliRunner().invoke(app, ["package", "cascade", "--cheap", str(models["root"] / "student"), "--expensive",
                                      str(models["transformer"]), "--out", str(models["root"] / "c2"), "--data",
                                      str(models["dataset"]), "--gate-on", "teachers"])
    assert result.exit_code == 2 and "--gate-on must be one of" in result.output


def test_cascade_package_keeps_recall_and_loads_as_one_model(models: dict[str, Path]) -> None:
    out = models["root"] / "cascade"
    report = package_cascade(models["linear"], models["transformer"], models["dataset"], out, target_recall=1.0)
    assert report["recall_loss"] <= 0.0 + 1e-9
    cascade = load_classifier(out)
    assert cascade.family == "cascade"
    assert cascade.predict_proba(tiny.TEXTS).shape == (len(tiny.TEXTS), len(LABELS))


def test_onnx_packaging_of_a_linear_model_is_one_readable_error(models: dict[str, Path]) -> None:
    result = CliRunner().invoke(app, ["package", "onnx", str(models["linear"]), "--out",
                                      str(models["root"] / "x"), "--data", str(models["dataset"])])
    assert result.exit_code == 2
    assert "only transformer models are exported to ONNX" in result.output and "Traceback" not in result.output


def test_thresholds_package_moves_the_operating_point_without_retraining(models: dict[str, Path]) -> None:
    out = models["root"] / "precise"
    result = CliRunner().invoke(app, ["package", "thresholds", str(models["linear"]), "--out", str(out),
                                      "--rule", "precision_target", "--precision-target", "1.0",
                                      "--data", str(models["dataset"])])
    assert result.exit_code == 0, result.output
    report = json.loads((out / REPORT_FILE).read_text())["thresholds"]
    assert report["rule"] == "precision_target"
    per_label = report["per_label"]
    assert set(per_label) == set(LABELS)
    # Every label with validation positives now reaches the target precision, and the copy scores with
    # the new thresholds while the original folder is untouched.
    assert all(m["new_precision"] == 1.0 for m in per_label.values() if m["new_recall"] > 0)
    assert list(load_classifier(out).thresholds_) == [m["new_threshold"] for m in per_label.values()]
    assert list(load_classifier(models["linear"]).thresholds_) == [m["old_threshold"] for m in per_label.values()]


def test_thresholds_are_only_chosen_on_the_models_own_dataset(models: dict[str, Path]) -> None:
    other = LinearClassifier(min_df=1, C=20.0).fit(tiny.TEXTS, tiny.labels())
    other.data_revision_ = "another-dataset"
    other.save(models["root"] / "other")
    result = CliRunner().invoke(app, ["package", "thresholds", str(models["root"] / "other"), "--out",
                                      str(models["root"] / "y"), "--rule", "best_f1", "--data", str(models["dataset"])])
    assert result.exit_code == 2
    assert "trained on data revision another-dataset" in result.output and "Traceback" not in result.output
    bad_rule = CliRunner().invoke(app, ["package", "thresholds", str(models["linear"]), "--out",
                                        str(models["root"] / "z"), "--rule", "best_guess", "--data", str(models["dataset"])])
    assert bad_rule.exit_code == 2 and "--rule must be" in bad_rule.output
