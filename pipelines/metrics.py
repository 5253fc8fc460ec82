"""Per-label classification metrics, label confusion and validation threshold choice.

Arrays follow :data:`mailguard.taxonomy.LABELS`: ``Y`` is (n, 10) of 0/1 gold labels,
``proba`` is (n, 10) of probabilities and ``thresholds`` is (10,). A label is predicted
when ``proba >= threshold`` (the same rule as :meth:`models.base.Classifier.predict`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from mailguard.errors import ConfigError
from mailguard.taxonomy import LABELS

ThresholdRule = Literal["best_f1", "precision_target"]

#: Threshold used for a label that has no positive example in validation data.
DEFAULT_THRESHOLD = 0.5

#: Gold row of the label confusion matrix for texts with no label at all.
CLEAN_ROW = "clean"


def _check_shapes(Y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    Y = np.asarray(Y).astype(int)
    proba = np.asarray(proba, dtype=float)
    if Y.shape != proba.shape or Y.ndim != 2 or Y.shape[1] != len(LABELS):
        raise ValueError(f"Y and proba must both be (n, {len(LABELS)}); got {Y.shape} and {proba.shape}")
    return Y, proba


def binary_scores(y: np.ndarray, proba: np.ndarray, threshold: float) -> dict[str, float]:
    """Return ROC-AUC, PR-AUC, precision, recall, F1 and counts for one label.

    ROC-AUC is NaN when the label has no positive or no negative example; PR-AUC
    (average precision) is NaN when it has no positive example. Precision is 0
    when nothing is predicted (scikit-learn's ``zero_division=0`` convention).
    """
    y = np.asarray(y).astype(int)
    proba = np.asarray(proba, dtype=float)
    pred = proba >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    support = int(y.sum())
    has_both = 0 < support < len(y)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else math.nan
    f1 = 2 * precision * recall / (precision + recall) if support and precision + recall > 0 else 0.0
    if not support:  # F1 is undefined without positives, like the AUCs
        f1 = math.nan
    return {
        "roc_auc": float(roc_auc_score(y, proba)) if has_both else math.nan,
        "pr_auc": float(average_precision_score(y, proba)) if support else math.nan,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "threshold": float(threshold),
        "support": support,
        "predicted": int(pred.sum()),
        "n": len(y),
    }


def label_metrics(Y: np.ndarray, proba: np.ndarray, thresholds: np.ndarray) -> dict[str, dict[str, float]]:
    """Return :func:`binary_scores` of every label at its threshold, keyed by label name."""
    Y, proba = _check_shapes(Y, proba)
    thresholds = np.asarray(thresholds, dtype=float)
    return {lb: binary_scores(Y[:, j], proba[:, j], float(thresholds[j])) for j, lb in enumerate(LABELS)}


def classification_report(Y: np.ndarray, proba: np.ndarray, thresholds: np.ndarray) -> dict[str, Any]:
    """Return per-label scores plus macro and micro averages.

    Macro averages are the mean over labels with at least one positive example;
    labels without positives are listed under ``"excluded_from_macro"`` (their
    AUCs are NaN and would otherwise make every macro figure NaN). Micro
    averages pool every (text, label) decision.
    """
    Y, proba = _check_shapes(Y, proba)
    thresholds = np.asarray(thresholds, dtype=float)
    per_label = label_metrics(Y, proba, thresholds)
    included = [lb for lb in LABELS if per_label[lb]["support"] > 0]
    excluded = [lb for lb in LABELS if lb not in included]
    report: dict[str, Any] = {"per_label": per_label, "n": int(Y.shape[0])}
    for key in ("roc_auc", "pr_auc", "precision", "recall", "f1"):
        values = [per_label[lb][key] for lb in included if not math.isnan(per_label[lb][key])]
        report[f"macro_{key}"] = float(np.mean(values)) if values else math.nan
    pred = proba >= thresholds
    flat_y, flat_p = Y.ravel(), proba.ravel()
    micro = binary_scores(flat_y, flat_p, 0.0)  # AUCs over pooled scores; counts recomputed below
    tp = int(np.sum(pred & (Y == 1)))
    fp = int(np.sum(pred & (Y == 0)))
    fn = int(np.sum(~pred & (Y == 1)))
    micro_p = tp / (tp + fp) if tp + fp else 0.0
    micro_r = tp / (tp + fn) if tp + fn else math.nan
    report["micro_roc_auc"] = micro["roc_auc"]
    report["micro_pr_auc"] = micro["pr_auc"]
    report["micro_precision"] = float(micro_p)
    report["micro_recall"] = float(micro_r)
    report["micro_f1"] = float(2 * micro_p * micro_r / (micro_p + micro_r)) if micro_p + micro_r > 0 else 0.0
    report["excluded_from_macro"] = excluded
    return report


def label_confusion(Y: np.ndarray, pred: np.ndarray) -> pd.DataFrame:
    """Return how often each label fires (columns) on texts whose gold includes each label (rows).

    Cell (i, j) is the fraction of texts with gold label i on which label j is
    predicted; the last row, ``"clean"``, is over texts with no gold label. The
    ``n`` column holds the number of texts in each row (a row with ``n == 0``
    is all NaN). The diagonal is recall; off-diagonal mass is label confusion.
    """
    Y, pred = _check_shapes(Y, np.asarray(pred, dtype=float))
    pred = pred.astype(bool)
    rows = []
    masks = [Y[:, i] == 1 for i in range(len(LABELS))] + [Y.sum(axis=1) == 0]
    for mask in masks:
        n = int(mask.sum())
        rates = pred[mask].mean(axis=0) if n else np.full(len(LABELS), np.nan)
        rows.append([*rates.tolist(), n])
    return pd.DataFrame(rows, index=[*LABELS, CLEAN_ROW], columns=[*LABELS, "n"])


def pr_curve_points(Y: np.ndarray, proba: np.ndarray, max_points: int = 200) -> pd.DataFrame:
    """Return a long table ``label, recall, precision, threshold`` of each label's PR curve.

    Each curve is thinned to at most ``max_points`` evenly spaced points (ends kept)
    so that the committed plot files stay small. Labels without positives are omitted.
    """
    Y, proba = _check_shapes(Y, proba)
    frames = []
    for j, lb in enumerate(LABELS):
        if Y[:, j].sum() == 0:
            continue
        precision, recall, thr = precision_recall_curve(Y[:, j], proba[:, j])
        thr = np.append(thr, 1.0)  # the last (precision=1, recall=0) point has no threshold
        keep = np.unique(np.linspace(0, len(recall) - 1, num=min(max_points, len(recall))).round().astype(int))
        frames.append(
            pd.DataFrame({"label": lb, "recall": recall[keep], "precision": precision[keep], "threshold": thr[keep]})
        )
    if not frames:
        return pd.DataFrame(columns=["label", "recall", "precision", "threshold"])
    return pd.concat(frames, ignore_index=True)


def threshold_sweep(y: np.ndarray, proba: np.ndarray, grid: np.ndarray | None = None) -> pd.DataFrame:
    """Return precision, recall, false-positive rate and flagged share of one label at each threshold.

    ``grid`` defaults to 0.05..0.95 in steps of 0.05. Precision is NaN where
    nothing is flagged; recall is NaN without positives, FPR without negatives.
    """
    y = np.asarray(y).astype(int)
    proba = np.asarray(proba, dtype=float)
    grid = np.round(np.arange(0.05, 0.951, 0.05), 2) if grid is None else np.asarray(grid, dtype=float)
    pos, neg = y == 1, y == 0
    rows = []
    for t in grid:
        flagged = proba >= t
        tp, fp = int(np.sum(flagged & pos)), int(np.sum(flagged & neg))
        rows.append({
            "threshold": float(t),
            "precision": tp / (tp + fp) if tp + fp else math.nan,
            "recall": tp / pos.sum() if pos.any() else math.nan,
            "fpr": fp / neg.sum() if neg.any() else math.nan,
            "flagged_share": float(flagged.mean()) if len(y) else math.nan,
        })
    return pd.DataFrame(rows)


#: Threshold of a label the model cannot score (probabilities never exceed 1).
NEVER_FIRES = float(np.nextafter(1.0, 2.0))


def check_threshold_rule(value: object, setting: str) -> ThresholdRule:
    """Return ``value`` as a threshold rule; raise ``ConfigError`` naming ``setting`` when it is not one."""
    if value not in get_args(ThresholdRule):
        raise ConfigError(f"{setting} must be best_f1 or precision_target, got {value!r}")
    return value  # type: ignore[return-value]


def choose_thresholds(
    proba_val: np.ndarray,
    Y_val: np.ndarray,
    rule: ThresholdRule = "best_f1",
    precision_target: float = 0.8,
    min_recall: float = 0.0,
    ordinary: np.ndarray | None = None,
    max_ordinary_rate: float | None = None,
) -> np.ndarray:
    """Return one decision threshold per label chosen on validation data.

    Rules (a label fires when ``proba >= threshold``):

    - ``"best_f1"``: the threshold maximising the label's F1 on validation; among
      ties the highest one, since it flags fewer messages for the same F1.
    - ``"precision_target"``: the lowest threshold whose validation precision is at
      least ``precision_target`` (the most recall that keeps reviewers' precision);
      when no threshold reaches the target, falls back to the ``best_f1`` threshold.

    Either rule keeps at least ``min_recall`` of the label's validation positives: a threshold
    with less recall is replaced by the best-F1 threshold among those that keep it (so no
    label is effectively switched off by a precision target reached only by its top few scores).

    ``ordinary`` marks validation rows that are ordinary real mail (clean whole messages: held-out
    mailboxes, written ordinary mail); with ``max_ordinary_rate`` no label may flag more than that
    share of them. This cap wins over ``min_recall``: a user judges a detector first by the ordinary
    mail it flags, and a long mail has many sentences, each a chance to misfire.

    A label with no positive example in validation gets :data:`DEFAULT_THRESHOLD` (0.5).
    Thresholds that would flag every validation message are never chosen; a label whose
    scores are constant (no training positives) gets a threshold above 1 and never fires.
    """
    Y_val, proba_val = _check_shapes(Y_val, proba_val)
    if rule not in ("best_f1", "precision_target"):
        raise ValueError(f"unknown threshold rule {rule!r}; expected 'best_f1' or 'precision_target'")
    out = np.full(len(LABELS), DEFAULT_THRESHOLD)
    for j in range(len(LABELS)):
        y = Y_val[:, j]
        if y.sum() == 0:
            continue
        precision, recall, thr = precision_recall_curve(y, proba_val[:, j])
        precision, recall = precision[:-1], recall[:-1]  # drop the threshold-less end point
        # A threshold at or below the lowest score flags every message: never a useful choice.
        useful = thr > proba_val[:, j].min()
        if not useful.any():  # constant scores: the model learned nothing for this label, so it never fires
            out[j] = NEVER_FIRES
            continue
        precision, recall, thr = precision[useful], recall[useful], thr[useful]
        floor = _ordinary_floor(proba_val[:, j], ordinary, max_ordinary_rate)
        if floor is not None:
            allowed = thr >= floor
            if not allowed.any():  # every positive scores below what ordinary mail reaches: flag nothing
                out[j] = max(floor, float(proba_val[:, j].max()) + 1e-9)
                continue
            precision, recall, thr = precision[allowed], recall[allowed], thr[allowed]
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        best = int(np.flatnonzero(f1 == f1.max())[-1])
        if rule == "precision_target":
            ok = np.flatnonzero(precision >= precision_target)
            best = int(ok[0]) if ok.size else best
        if recall[best] < min_recall:
            keeps = np.flatnonzero(recall >= min_recall)
            if keeps.size:
                best = int(keeps[np.argmax(f1[keeps])])
        out[j] = float(thr[best])
    return out


def _ordinary_floor(scores: np.ndarray, ordinary: np.ndarray | None, max_rate: float | None) -> float | None:
    """Return the lowest threshold that flags at most ``max_rate`` of the ``ordinary`` rows (None: no cap)."""
    if ordinary is None or max_rate is None or not np.asarray(ordinary).any():
        return None
    clean = np.sort(scores[np.asarray(ordinary, dtype=bool)])[::-1]
    allowed = int(np.floor(max_rate * len(clean) + 1e-9))  # ordinary rows the label may flag
    if allowed >= len(clean):
        return None
    return float(np.nextafter(clean[allowed], np.inf))  # strictly above the first row that must not fire


def pyplot() -> Any:
    """Return ``matplotlib.pyplot`` set to the non-interactive Agg backend (servers and CI have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pr_curves(points: pd.DataFrame, path: str | Path) -> Path:
    """Draw every label's precision-recall curve (from :func:`pr_curve_points`) to a PNG at ``path``; return it."""
    plt = pyplot()
    path = Path(path)
    fig, ax = plt.subplots(figsize=(7, 5))
    for label, part in points.groupby("label", sort=False):
        ax.plot(part["recall"], part["precision"], label=str(label), linewidth=1.2)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_label_confusion(confusion: pd.DataFrame, path: str | Path) -> Path:
    """Draw the label confusion matrix (from :func:`label_confusion`) as a heat map PNG at ``path``; return it."""
    plt = pyplot()
    path = Path(path)
    rates = confusion[list(LABELS)].to_numpy(dtype=float)
    fig, ax = plt.subplots(figsize=(8, 6.5))
    im = ax.imshow(np.nan_to_num(rates), vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(len(LABELS)), LABELS, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(confusion)), [f"{i} (n={n})" for i, n in zip(confusion.index, confusion["n"], strict=True)],
                  fontsize=8)
    for (i, j), v in np.ndenumerate(rates):
        if np.isfinite(v) and v >= 0.005:
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white" if v > 0.6 else "black")
    ax.set_xlabel("predicted label")
    ax.set_ylabel("gold label")
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
