"""The ONNX family: exported from a trained transformer, agrees with torch, scores without torch, int8 rule."""

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
from models.onnx_export import agreement, export_onnx, int8_keeps_decisions, onnx_classifier, quantize_int8
from models.onnx_model import OnnxClassifier
from models.transformer import TransformerClassifier

_spec = importlib.util.spec_from_file_location("tiny_base", Path(__file__).parent / "fixtures/transformer/tiny_base.py")
tiny = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(tiny)  # type: ignore[union-attr]

LONG = "Thanks for the update. " * 80 + "Please buy my crypto course now."  # many sentence windows


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> TransformerClassifier:
    base = tiny.build_tiny_base(tmp_path_factory.mktemp("tiny_base"))
    Y = tiny.labels()
    clf = TransformerClassifier(base_model=str(base), epochs=25, learning_rate=1e-2, batch_size=4, patience=100,
                                num_threads=1)
    return clf.fit(tiny.TEXTS, Y, X_val=tiny.TEXTS, Y_val=Y)


@pytest.fixture(scope="module")
def exported(fitted: TransformerClassifier, tmp_path_factory: pytest.TempPathFactory) -> dict[str, OnnxClassifier]:
    fp32 = export_onnx(fitted, tmp_path_factory.mktemp("onnx"))
    return {"fp32": onnx_classifier(fitted, fp32, "fp32"), "int8": onnx_classifier(fitted, quantize_int8(fp32), "int8")}


def test_onnx_fp32_agrees_with_torch(fitted: TransformerClassifier, exported: dict[str, OnnxClassifier]) -> None:
    texts = [*tiny.TEXTS, LONG, ""]
    np.testing.assert_allclose(exported["fp32"].score_texts(texts).proba, fitted.score_texts(texts).proba, atol=1e-4)


def test_agreement_reports_decisions_and_pr_auc_per_label(
    fitted: TransformerClassifier, exported: dict[str, OnnxClassifier]
) -> None:
    report = agreement(fitted, exported["int8"], tiny.TEXTS, tiny.labels())
    assert set(report["pr_auc"]["reference"]) == {"age", "solicitation"}  # only labels with positives
    assert all(0.0 <= v <= 1.0 for v in report["decision_agreement"].values())
    json.dumps(report)  # numbers only: loggable
    same = agreement(fitted, exported["fp32"], tiny.TEXTS, tiny.labels())
    assert int8_keeps_decisions(same)  # fp32 keeps every decision
    assert not int8_keeps_decisions(same, max_drop=-1.0)  # a negative allowance refuses any candidate


def test_saved_onnx_folder_scores_without_torch_or_transformers(
    exported: dict[str, OnnxClassifier], tmp_path: Path
) -> None:
    exported["int8"].save(tmp_path / "model")
    assert (tmp_path / "model" / "model.int8.onnx").is_file()
    assert not (tmp_path / "model" / "head.safetensors").exists()  # no torch weights in the package
    expected = load_classifier(tmp_path / "model").score_texts([LONG]).proba
    code = (
        "import sys, json; from models import load_classifier; "
        f"c = load_classifier({str(tmp_path / 'model')!r}); p = c.score_texts([{LONG!r}]).proba; "
        "c.set_thresholds(c.thresholds_ * 0.9).save(sys.argv[1]); "
        "print(json.dumps([c.family, 'torch' in sys.modules, 'transformers' in sys.modules, p.tolist()]))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "rethresholded")], capture_output=True, text=True,
                         check=True, cwd=Path.cwd())
    family, torch_imported, transformers_imported, proba = json.loads(out.stdout.strip().splitlines()[-1])
    assert family == "onnx" and not torch_imported and not transformers_imported
    np.testing.assert_allclose(proba, expected, atol=1e-6)
    assert load_classifier(tmp_path / "rethresholded").family == "onnx"


def test_load_refuses_an_onnx_folder_without_its_graph(exported: dict[str, OnnxClassifier], tmp_path: Path) -> None:
    exported["fp32"].save(tmp_path / "model")
    (tmp_path / "model" / "model.onnx").unlink()
    with pytest.raises(ModelFormatError, match=r"model\.onnx"):
        load_classifier(tmp_path / "model")
