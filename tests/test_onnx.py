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


def test_static_int8_keeps_the_named_parts_in_fp32_and_the_decisions(
    fitted: TransformerClassifier, exported: dict[str, OnnxClassifier], tmp_path: Path
) -> None:
    import shutil

    import onnx

    from models.onnx_export import calibration_batches, sensitive_nodes
    from models.tokens import encode_units

    fp32_path = Path(shutil.copy(exported["fp32"].onnx_path_, tmp_path / "model.onnx"))
    head = sensitive_nodes(fp32_path, ("head",))
    first = sensitive_nodes(fp32_path, ("first",))
    assert len(head) == 1 and len(first) >= 6 and not set(head) & set(first)  # q, k, v, out, up, down of layer 0
    units = encode_units(fitted.tokenizer_, tiny.TEXTS, fitted.max_length, fitted.special_ids_)
    int8_path = quantize_int8(fp32_path, method="static", keep_fp32=("head",),
                              calibration=calibration_batches(units, fitted.special_ids_.pad, 4))
    graph = onnx.load(str(int8_path)).graph
    producers = {o: n.op_type for n in graph.node for o in n.output}
    quantised = {n.name for n in graph.node if n.op_type in ("MatMul", "Gemm")
                 and any(producers.get(i) == "DequantizeLinear" for i in n.input)}
    assert head[0] not in quantised and len(quantised) >= 12  # QDQ around every other projection
    report = agreement(exported["fp32"], onnx_classifier(fitted, int8_path, "int8"), tiny.TEXTS, tiny.labels())
    assert int8_keeps_decisions(report), report["decision_agreement"]


def test_blockwise_int8_keeps_the_decisions(fitted: TransformerClassifier, exported: dict[str, OnnxClassifier],
                                            tmp_path: Path) -> None:
    import shutil

    import onnx

    fp32_path = Path(shutil.copy(exported["fp32"].onnx_path_, tmp_path / "model.onnx"))
    int8_path = quantize_int8(fp32_path, method="blockwise", block_size=16)
    assert any(n.op_type == "MatMulNBits" for n in onnx.load(str(int8_path)).graph.node)
    report = agreement(exported["fp32"], onnx_classifier(fitted, int8_path, "int8"), tiny.TEXTS, tiny.labels())
    assert int8_keeps_decisions(report) and report["max_abs_diff"] < 0.02


def test_unknown_part_to_keep_in_fp32_is_refused(exported: dict[str, OnnxClassifier]) -> None:
    from models.onnx_export import sensitive_nodes

    with pytest.raises(ValueError, match="embeddings"):
        sensitive_nodes(exported["fp32"].onnx_path_, ("embeddings",))


def test_int8_rule_refuses_one_flipped_decision_in_a_hundred() -> None:
    from models.onnx_export import decision_report

    rng = np.random.default_rng(0)
    Y = (rng.random((200, 10)) < 0.3).astype(int)
    reference = np.clip(Y * 0.6 + rng.random((200, 10)) * 0.3, 0, 1)
    thresholds = np.full(10, 0.5)
    assert int8_keeps_decisions(decision_report(reference, thresholds, reference + 1e-4, thresholds, Y))
    flipped = reference.copy()
    flipped[np.flatnonzero(Y[:, 3])[:2], 3] = 0.0  # two of 200 positives of one label lost: 99.0 % agreement
    report = decision_report(reference, thresholds, flipped, thresholds, Y)
    assert report["decision_agreement"]["national_origin"] == 0.99
    assert int8_keeps_decisions(report, max_drop=1.0) and not int8_keeps_decisions(report, max_drop=1.0, min_agreement=0.995)
    assert report["pr_auc_drop"]["national_origin"] > 0.005 and not int8_keeps_decisions(report)  # ranked last now
    assert report["recall"]["reference"]["national_origin"] > report["recall"]["candidate"]["national_origin"]


def test_matching_thresholds_copy_the_reference_decisions_on_shifted_scores() -> None:
    from models.onnx_export import matching_thresholds

    rng = np.random.default_rng(1)
    reference = rng.random((300, 10))
    flags = reference >= 0.7
    flags[:, 5] = False  # a label the reference never flags keeps its fallback
    candidate = reference**2 + 0.01  # same order, other scale: as quantisation shifts a model's scores
    thresholds = matching_thresholds(candidate, flags, fallback=np.full(10, 0.42))
    np.testing.assert_array_equal(candidate >= thresholds, flags | (np.arange(10) == 5) & (candidate >= 0.42))
    assert thresholds[5] == 0.42
