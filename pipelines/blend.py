"""Build a calibrated blend of trained models (``models.blend``): stacker and thresholds on validation.

The members must have been trained on the same prepared dataset (same data revision): otherwise the
validation rows of one could be training rows of another and the stacker would trust it too much.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from mailguard.errors import ConfigError
from mailguard.taxonomy import LABELS
from models.blend import BlendClassifier
from models.saved import load_classifier
from pipelines.dataset import load_split
from pipelines.metrics import label_metrics
from pipelines.params import TrainParams

log = logging.getLogger(__name__)

REPORT_FILE = "blend_report.json"


def package_blend(
    member_dirs: list[Path],
    dataset_path: Path,
    out_dir: Path,
    train: TrainParams,
    *,
    C: float = 1.0,
) -> dict[str, Any]:
    """Fit a blend of the models in ``member_dirs`` on the validation split, save it to ``out_dir``; return a report.

    Thresholds follow the ``train`` section like training does: ``threshold_rule.blend``,
    ``precision_target``, ``min_recall`` and the cap on validation ordinary mail (``max_ordinary_rate``).
    """
    from pipelines.train import data_revision, operating_point

    members = [load_classifier(d) for d in member_dirs]
    revision = data_revision(dataset_path)
    stale = [str(d) for d, m in zip(member_dirs, members, strict=True) if getattr(m, "data_revision_", "") != revision]
    if stale:
        raise ConfigError(f"blend members must be trained on {dataset_path} (revision {revision}); not: {', '.join(stale)}")
    val = load_split(dataset_path, "validation")
    X, Y = val["text"].tolist(), val[list(LABELS)].to_numpy()
    blend = BlendClassifier.from_fitted(members, X, Y, C=C)
    proba = blend.score_texts(X).proba
    rule = train.rule_for("blend")
    blend.set_thresholds(operating_point(proba, val, train, rule))
    blend.data_revision_ = revision
    blend.save(out_dir)
    per_label = label_metrics(Y, proba, blend.thresholds_)
    report = {
        "members": [str(d) for d in member_dirs],
        "rule": rule, "precision_target": train.precision_target, "min_recall": train.min_recall,
        "max_ordinary_rate": train.max_ordinary_rate,
        "coef": {lb: [float(c) for c in blend.coef_[j]] for j, lb in enumerate(LABELS)},
        "validation": {lb: {k: float(per_label[lb][k]) for k in ("pr_auc", "precision", "recall", "f1")}
                       for lb in LABELS if lb in per_label},
        "validation_macro_pr_auc": float(np.nanmean([per_label[lb]["pr_auc"] for lb in per_label])),
    }
    (out_dir / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    log.info("blended %d models -> %s (validation macro PR-AUC %.3f)", len(members), out_dir,
             report["validation_macro_pr_auc"])
    return report
