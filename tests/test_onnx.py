"""ONNX Runtime scoring of the transformer: agreement with torch, int8 rule, saved runtime, torch-free load."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mailguard.errors import ModelFormatError
from models import load_classifier
from models.onnx_runtime import compare_runtimes, export_runtimes, onnx_forward, use_best_runtime
from models.transformer import TransformerClassifier

_spec = importlib.util.spec_from_file_location("tiny_base", Path(__file__).parent / "fixtures/transformer/tiny_base.py")
tiny = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(tiny)  # type: ignore[union-attr]

LONG = "Thanks for the update. " * 80 + "Please buy my crypto course now."  # several windows of 128 tokens


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> TransformerClassifier:
    base = tiny.build_tiny_base(tmp_path_factory.mktemp("tiny_base"))
    Y = tiny.labels()
    clf = TransformerClassifier(base_model=str(base), epochs=25, learning_rate=1e-2, batch_size=4, patience=100,
                                num_threads=1)
    return clf.fit(tiny.TEXTS, Y, X_val=tiny.TEXTS, Y_val=Y)


@pytest.fixture(scope="module")
def exported(fitted: TransformerClassifier, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return export_runtimes(fitted, tmp_path_factory.mktemp("onnx"))


def test_onnx_fp32_agrees_with_torch(fitted: TransformerClassifier, exported: dict[str, Path]) -> None:
    texts = [*tiny.TEXTS, LONG, ""]
    torch_proba = fitted.score_with(texts, fitted.torch_forward()).proba
    onnx_proba = fitted.score_with(texts, onnx_forward(exported["onnx"], 1)).proba
    assert np.abs(torch_proba - onnx_proba).max() < 1e-4


def test_compare_runtimes_reports_and_chooses(fitted: TransformerClassifier, exported: dict[str, Path]) -> None:
    report = compare_runtimes(fitted, tiny.TEXTS, tiny.labels(), work_dir=exported["onnx"].parent)
    assert report["max_abs_diff"]["onnx"] < 1e-4 and report["max_abs_diff"]["onnx-int8"] < 0.05
    assert set(report["pr_auc"]["torch"]) == {"age", "solicitation"}  # only labels with positives
    assert report["chosen_runtime"] == ("onnx-int8" if report["int8_ok"] else "onnx")
    json.dumps(report)  # numbers and paths only: loggable


def test_int8_is_refused_when_a_label_loses_pr_auc(fitted: TransformerClassifier, exported: dict[str, Path]) -> None:
    # a negative allowance means any drop at all, even zero, breaks the rule
    report = compare_runtimes(fitted, tiny.TEXTS, tiny.labels(), work_dir=exported["onnx"].parent, max_drop=-1.0)
    assert not report["int8_ok"] and report["chosen_runtime"] == "onnx"


def test_saved_int8_model_scores_with_onnx_runtime_without_torch(
    fitted: TransformerClassifier, exported: dict[str, Path], tmp_path: Path
) -> None:
    report = {"chosen_runtime": "onnx-int8", "files": {k: str(v) for k, v in exported.items()}}
    use_best_runtime(fitted, report).save(tmp_path / "model")
    fitted.use_runtime("torch")
    assert (tmp_path / "model" / "model.int8.onnx").is_file()
    expected = load_classifier(tmp_path / "model").predict_proba([LONG])
    code = (
        "import sys, json; from models import load_classifier; "
        f"c = load_classifier({str(tmp_path / 'model')!r}); p = c.predict_proba([{LONG!r}]); "
        "print(json.dumps([c.runtime_, 'torch' in sys.modules, p.tolist()]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path.cwd())
    runtime, torch_imported, proba = json.loads(out.stdout.strip().splitlines()[-1])
    assert runtime == "onnx-int8" and not torch_imported
    np.testing.assert_allclose(proba, expected, atol=1e-6)


def test_load_refuses_onnx_runtime_without_its_file(fitted: TransformerClassifier, exported: dict[str, Path],
                                                    tmp_path: Path) -> None:
    fitted.use_runtime("onnx", exported["onnx"]).save(tmp_path / "model")
    fitted.use_runtime("torch")
    (tmp_path / "model" / "model.onnx").unlink()
    with pytest.raises(ModelFormatError, match=r"model\.onnx"):
        load_classifier(tmp_path / "model")
