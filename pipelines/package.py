"""Package trained models for scoring: pick the ONNX runtime, build the cascade, set the operating point.

Each step writes a JSON report next to the packaged model (numbers only: safe to log to MLflow).
Runtime and cascade are measured on the test split; thresholds are chosen on the validation split.
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mailguard.errors import ConfigError, ModelFormatError
from mailguard.taxonomy import LABELS
from models.saved import load_classifier
from pipelines.dataset import load_split
from pipelines.metrics import ThresholdRule

log = logging.getLogger(__name__)

REPORT_FILE = "packaging_report.json"


def package_onnx(
    model_dir: Path, dataset_path: Path, out_dir: Path, *, max_int8_drop: float = 0.005, min_agreement: float = 0.99
) -> dict[str, Any]:
    """Export a transformer to an inference-only ONNX folder (family ``onnx``) in ``out_dir``; return the report.

    fp32 and int8 are both measured against the torch model on the test split; int8 is kept when every
    label's decisions at the shipped thresholds agree on at least ``min_agreement`` of the test messages
    and no label's PR-AUC drops more than ``max_int8_drop``; otherwise fp32 is packaged.
    """
    from models.onnx_export import agreement, export_onnx, int8_keeps_decisions, onnx_classifier, quantize_int8

    clf = load_classifier(model_dir)
    if clf.family != "transformer":
        raise ModelFormatError(f"only transformer models are exported to ONNX, {model_dir} is {clf.family!r}")
    test = load_split(dataset_path, "test")
    texts, Y = test["text"].tolist(), test[list(LABELS)].to_numpy()
    with tempfile.TemporaryDirectory() as work:
        fp32_path = export_onnx(clf, work)  # type: ignore[arg-type]
        candidates = {"fp32": onnx_classifier(clf, fp32_path, "fp32"),  # type: ignore[arg-type]
                      "int8": onnx_classifier(clf, quantize_int8(fp32_path), "int8")}  # type: ignore[arg-type]
        report: dict[str, Any] = {p: agreement(clf, c, texts, Y) for p, c in candidates.items()}
        report["int8_ok"] = int8_keeps_decisions(report["int8"], max_drop=max_int8_drop, min_agreement=min_agreement)
        report["chosen"] = "int8" if report["int8_ok"] else "fp32"
        candidates[report["chosen"]].save(out_dir)
    report["n_test"] = len(test)
    _write_report(out_dir, {"onnx": report})
    log.info("packaged %s as ONNX %s (int8 ok: %s)", model_dir, report["chosen"], report["int8_ok"])
    return report


def package_cascade(
    cheap_dir: Path, expensive_dir: Path, dataset_path: Path, out_dir: Path, *, target_recall: float = 0.99
) -> dict[str, float]:
    """Build a cascade (cheap model gates the expensive one) with gates chosen on validation; save it to
    ``out_dir`` and return its recall loss and speed-up on the test split."""
    from models.cascade import CascadeClassifier, cascade_report

    cheap, expensive = load_classifier(cheap_dir), load_classifier(expensive_dir)
    val, test = load_split(dataset_path, "validation"), load_split(dataset_path, "test")
    cascade = CascadeClassifier.from_fitted(
        cheap, expensive, val["text"].tolist(), val[list(LABELS)].to_numpy(), target_recall=target_recall
    )
    cascade.data_revision_ = getattr(expensive, "data_revision_", "")
    cascade.mlflow_run_id_ = getattr(expensive, "mlflow_run_id_", "")
    cascade.save(out_dir)
    report = cascade_report(cascade, test["text"].tolist(), test[list(LABELS)].to_numpy())
    report["target_recall"] = target_recall
    _write_report(out_dir, {"cascade": report})
    return report


def package_thresholds(
    model_dir: Path, dataset_path: Path, out_dir: Path, *, rule: ThresholdRule, precision_target: float = 0.8
) -> dict[str, Any]:
    """Choose a model's per-label thresholds again on the validation split with ``rule``; save a copy to
    ``out_dir`` and return the old and new thresholds with validation precision and recall at each.

    Changes the operating point without retraining. Refuses a dataset other than the one the model was
    trained on (its validation rows could overlap the model's training rows).
    """
    from pipelines.metrics import choose_thresholds, label_metrics
    from pipelines.train import data_revision

    clf = load_classifier(model_dir)
    revision, trained_on = data_revision(dataset_path), str(getattr(clf, "data_revision_", ""))
    if trained_on and revision != trained_on:
        raise ConfigError(f"{model_dir} was trained on data revision {trained_on}, {dataset_path} is {revision}; "
                          "choose thresholds on the validation split of the model's own dataset")
    val = load_split(dataset_path, "validation")
    Y = val[list(LABELS)].to_numpy()
    proba = clf.score_texts(val["text"].tolist()).proba
    old = np.array(clf.thresholds_, dtype=float)
    clf.set_thresholds(choose_thresholds(proba, Y, rule=rule, precision_target=precision_target))
    clf.save(out_dir)
    before, after = label_metrics(Y, proba, old), label_metrics(Y, proba, clf.thresholds_)
    report: dict[str, Any] = {"rule": rule, "precision_target": precision_target, "n_validation": len(val), "per_label": {
        lb: {"old_threshold": float(old[j]), "new_threshold": float(clf.thresholds_[j]),
             **{f"{when}_{k}": float(m[lb][k]) for when, m in (("old", before), ("new", after))
                for k in ("precision", "recall")}}
        for j, lb in enumerate(LABELS)
    }}
    _write_report(out_dir, {"thresholds": report})
    log.info("re-chose thresholds of %s with rule %s -> %s", model_dir, rule, out_dir)
    return report


def _write_report(out_dir: Path, report: dict[str, Any]) -> None:
    path = out_dir / REPORT_FILE
    existing = json.loads(path.read_text()) if path.is_file() else {}
    existing.update(report)
    path.write_text(json.dumps(existing, indent=2, default=float) + "\n", encoding="utf-8")
