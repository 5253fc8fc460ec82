"""Packaging a trained transformer for fast CPU scoring: ONNX export, int8 quantisation, agreement checks.

This is the training side of the ``onnx`` family (:mod:`models.onnx_model`): it needs torch to export,
the packaged folder does not. int8 is kept only when it keeps what users see: the per-label decisions
at the shipped thresholds and the PR-AUC of each label (:func:`agreement`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mailguard.errors import ModelFormatError
from mailguard.taxonomy import LABELS
from models.base import Classifier
from models.onnx_model import ONNX_FILES, OnnxClassifier
from models.transformer import TransformerClassifier

OPSET = 18
MAX_INT8_PR_AUC_DROP = 0.005  # int8 is kept only if no label's PR-AUC falls by more than this
MIN_INT8_AGREEMENT = 0.99  # and every label's decisions agree with fp32 on at least this share of messages


def export_onnx(clf: TransformerClassifier, out_dir: str | Path) -> Path:
    """Return the path of ``model.onnx`` (fp32 logits, dynamic batch and sequence) written into ``out_dir``."""
    out = Path(out_dir) / ONNX_FILES["fp32"]
    out.parent.mkdir(parents=True, exist_ok=True)
    model = clf.model_.eval()
    ids = clf.special_ids_
    # batch 2 and length 6 so the exporter does not specialise either axis to 0/1
    input_ids = torch.tensor([[ids.cls, 1000, 1001, 1002, 1003, ids.sep], [ids.cls, 1004, ids.sep, ids.pad, ids.pad, ids.pad]])
    mask = (torch.arange(6).unsqueeze(0) < torch.tensor([[6], [3]])).long()
    dyn = {0: torch.export.Dim.DYNAMIC, 1: torch.export.Dim.DYNAMIC}
    try:
        torch.onnx.export(
            model, (input_ids, mask), str(out), input_names=["input_ids", "attention_mask"], output_names=["logits"],
            dynamic_shapes=(dyn, dyn), opset_version=OPSET, external_data=False, verbose=False,
        )
    except Exception as e:  # the exporter raises many unrelated types; one actionable error is enough
        raise ModelFormatError(f"ONNX export of the transformer failed: {e}") from e
    return out


def quantize_int8(onnx_path: str | Path, per_channel: bool = True) -> Path:
    """Return the path of ``model.int8.onnx`` next to ``onnx_path``: dynamic quantisation, int8 weights."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    onnx_path = Path(onnx_path)
    out = onnx_path.with_name(ONNX_FILES["int8"])
    # MatMul weights carry nearly all the cost; per-channel scales keep the small head accurate
    quantize_dynamic(onnx_path, out, weight_type=QuantType.QInt8, per_channel=per_channel, op_types_to_quantize=["MatMul", "Gemm"])
    return out


def onnx_classifier(clf: TransformerClassifier, onnx_path: Path, precision: str) -> OnnxClassifier:
    """Return the ONNX family model scoring with ``onnx_path``, carrying ``clf``'s thresholds, unit and lineage."""
    out = OnnxClassifier.from_files(onnx_path, clf.tokenizer_, clf.special_ids_, max_length=clf.max_length,
                                    batch_size=clf.batch_size, precision=precision, num_threads=clf.num_threads)
    out.set_thresholds(np.asarray(clf.thresholds_, dtype=float).copy())
    out.set_scoring_unit(clf.window_config_, clf.message_labels_)
    out.data_revision_ = getattr(clf, "data_revision_", "")
    out.mlflow_run_id_ = getattr(clf, "mlflow_run_id_", "")
    return out


def agreement(reference: Classifier, candidate: Classifier, texts: Sequence[str], Y: np.ndarray) -> dict[str, Any]:
    """Return how far ``candidate`` is from ``reference`` in what users see, on ``texts`` with gold ``Y``.

    Keys: ``decision_agreement`` per label (share of texts where both flag or both do not, each at its
    own thresholds), ``pr_auc`` per model and label (labels without positives left out), ``pr_auc_drop``
    per label (reference minus candidate), ``max_abs_diff``, ``seconds`` per model. Numbers only.
    """
    from sklearn.metrics import average_precision_score

    Y = np.asarray(Y)
    proba, seconds = {}, {}
    for name, clf in (("reference", reference), ("candidate", candidate)):
        started = time.perf_counter()
        proba[name] = clf.score_texts(list(texts)).proba
        seconds[name] = time.perf_counter() - started
    flags_ref = proba["reference"] >= reference.thresholds_
    flags_new = proba["candidate"] >= candidate.thresholds_
    present = [j for j in range(len(LABELS)) if Y[:, j].any()]
    pr_auc = {name: {LABELS[j]: float(average_precision_score(Y[:, j], p[:, j])) for j in present}
              for name, p in proba.items()}
    return {
        "decision_agreement": {lb: float((flags_ref[:, j] == flags_new[:, j]).mean()) for j, lb in enumerate(LABELS)},
        "pr_auc": pr_auc,
        "pr_auc_drop": {lb: pr_auc["reference"][lb] - pr_auc["candidate"][lb] for lb in pr_auc["reference"]},
        "max_abs_diff": float(np.abs(proba["reference"] - proba["candidate"]).max(initial=0.0)),
        "seconds": seconds,
        "n": len(texts),
    }


def int8_keeps_decisions(report: dict[str, Any], *, max_drop: float = MAX_INT8_PR_AUC_DROP,
                         min_agreement: float = MIN_INT8_AGREEMENT) -> bool:
    """Return True when an :func:`agreement` report of int8 against fp32 passes both rules."""
    return (all(v >= min_agreement for v in report["decision_agreement"].values())
            and all(d <= max_drop for d in report["pr_auc_drop"].values()))
