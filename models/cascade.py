"""A cheap model screens every window; only the ones it cannot clear go to the expensive model.

Per label ``j`` the cascade holds a gate ``g_j`` chosen on validation so that at least
``target_recall`` of that label's positives have a cheap score at or above it. A window
(a sentence with its neighbours, see :mod:`models.base`) is escalated when any label
reaches its gate (``max_j(p_j - g_j) >= 0``); the others keep the cheap model's scores,
capped just under the decision threshold so that a window the screen cleared is never
flagged by an uncalibrated cheap score. Messages are then scored by the shared path:
maximum over windows, so a long mail sends only its suspicious sentences to the
expensive model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mailguard.errors import ModelFormatError
from mailguard.taxonomy import LABELS
from models.base import Classifier, TrainingCallback

CHEAP_DIR = "cheap"
EXPENSIVE_DIR = "expensive"


def fit_gate(
    cheap_proba_val: np.ndarray, Y_val: np.ndarray, target_recall: float = 0.99, fallback: np.ndarray | None = None
) -> np.ndarray:
    """Return per-label gates: the highest cheap score that still lets ``target_recall`` of positives through.

    A label with no validation positives has no recall to measure: it gets ``fallback``
    (the cascade passes the cheap model's own thresholds), or 0 (escalate everything) if none.
    """
    if not 0.0 < target_recall <= 1.0:
        raise ValueError(f"target_recall must be in (0, 1], got {target_recall}")
    cheap_proba_val, Y_val = np.asarray(cheap_proba_val, float), np.asarray(Y_val)
    if cheap_proba_val.shape != Y_val.shape or Y_val.shape[1:] != (len(LABELS),):
        raise ValueError(f"expected two arrays of shape (n, {len(LABELS)}), got {cheap_proba_val.shape}, {Y_val.shape}")
    gates = np.zeros(len(LABELS)) if fallback is None else np.asarray(fallback, dtype=float).copy()
    for j in range(len(LABELS)):
        scores = np.sort(cheap_proba_val[Y_val[:, j] > 0, j])
        if len(scores):
            misses = int(np.floor((1.0 - target_recall) * len(scores) + 1e-9))  # positives allowed under the gate
            gates[j] = scores[misses]
    return gates


def escalated(cheap_proba: np.ndarray, gates: np.ndarray) -> np.ndarray:
    """Return a boolean mask of the texts whose cheap score reaches the gate on at least one label."""
    return np.asarray((cheap_proba - gates).max(axis=1, initial=-np.inf) >= 0.0)


def cleared_scores(cheap_proba: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Return the scores of texts the cheap model clears: its own, kept below every threshold (they are
    not on the expensive model's scale, so they must never flag)."""
    return np.minimum(cheap_proba, np.nextafter(np.asarray(thresholds, dtype=float), 0.0))


class CascadeClassifier(Classifier):
    """Cheap screen (e.g. the linear baseline) in front of an expensive model (e.g. the transformer).

    ``fit`` fits clones of both on the training data and the gates on validation data;
    :meth:`from_fitted` builds one from two models already trained. Thresholds default
    to the expensive model's, since it decides every text that could be flagged.
    """

    family = "cascade"

    def __init__(self, *, cheap: Classifier | None = None, expensive: Classifier | None = None,
                 target_recall: float = 0.99) -> None:
        self.cheap = cheap
        self.expensive = expensive
        self.target_recall = target_recall

    @classmethod
    def from_fitted(
        cls, cheap: Classifier, expensive: Classifier, X_val: Sequence[str], Y_val: np.ndarray,
        target_recall: float = 0.99,
    ) -> CascadeClassifier:
        """Return a cascade of two fitted models with gates chosen on ``X_val``/``Y_val``."""
        clf = cls(cheap=cheap, expensive=expensive, target_recall=target_recall)
        clf.cheap_, clf.expensive_ = cheap, expensive
        clf._finish(X_val, Y_val)
        return clf

    def fit(
        self,
        X: Sequence[str],
        Y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        X_val: Sequence[str] | None = None,
        Y_val: np.ndarray | None = None,
        callbacks: Sequence[TrainingCallback] = (),
    ) -> CascadeClassifier:
        """Fit clones of ``cheap`` and ``expensive``, then the gates on validation; return ``self``."""
        from sklearn.base import clone

        if self.cheap is None or self.expensive is None:
            raise ValueError("a cascade needs both a cheap and an expensive classifier")
        if X_val is None or Y_val is None:
            raise ValueError("a cascade needs validation data (X_val, Y_val) to choose its gates")
        self.cheap_ = clone(self.cheap).fit(X, Y, sample_weight, X_val=X_val, Y_val=Y_val, callbacks=callbacks)
        self.expensive_ = clone(self.expensive).fit(X, Y, sample_weight, X_val=X_val, Y_val=Y_val, callbacks=callbacks)
        self._finish(X_val, Y_val)
        return self

    def _finish(self, X_val: Sequence[str], Y_val: np.ndarray) -> None:
        self.gates_ = fit_gate(self.cheap_scores(X_val), Y_val, self.target_recall, fallback=self.cheap_.thresholds_)
        self.classes_ = np.array(LABELS)
        self.set_scoring_unit(self.expensive_.window_config_, self.expensive_.message_labels_)
        self.set_thresholds(np.asarray(self.expensive_.thresholds_, dtype=float).copy())

    def set_thresholds(self, thresholds: np.ndarray) -> CascadeClassifier:
        """Store per-label thresholds here and on the expensive model (it decides and gives evidence); return ``self``."""
        super().set_thresholds(thresholds)
        if hasattr(self, "expensive_"):
            self.expensive_.set_thresholds(self.thresholds_)
        return self

    def cheap_scores(self, X: Sequence[str]) -> np.ndarray:
        """Return the cheap model's probabilities for whole texts, as the gates were fitted on them."""
        return self.cheap_.score_texts(X).proba

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Return unit probabilities: the expensive model's for escalated texts, capped cheap scores for the rest."""
        X = list(X)
        cheap = self.cheap_.predict_proba(X)
        proba = cleared_scores(cheap, self.thresholds_)
        up = np.flatnonzero(escalated(cheap, self.gates_))
        if len(up):
            proba[up] = self.expensive_.predict_proba([X[i] for i in up])
        return proba

    def _save_payload(self, path: Path) -> dict[str, Any]:
        self.cheap_.save(path / CHEAP_DIR)
        self.expensive_.save(path / EXPENSIVE_DIR)
        return {"gates": [float(g) for g in self.gates_], "cheap": CHEAP_DIR, "expensive": EXPENSIVE_DIR,
                "target_recall": float(self.target_recall)}

    @classmethod
    def _load_payload(cls, path: Path, meta: dict[str, Any]) -> CascadeClassifier:
        from models.saved import load_classifier

        gates = meta.get("gates")
        if not isinstance(gates, list) or len(gates) != len(LABELS):
            raise ModelFormatError(f"cascade model at {path} has no valid gates in its metadata")
        cheap, expensive = load_classifier(path / CHEAP_DIR), load_classifier(path / EXPENSIVE_DIR)
        clf = cls(cheap=cheap, expensive=expensive, target_recall=float(meta.get("target_recall", 0.99)))
        clf.cheap_, clf.expensive_ = cheap, expensive
        clf.gates_ = np.asarray(gates, dtype=float)
        return clf


def cascade_report(cascade: CascadeClassifier, texts: Sequence[str], Y: np.ndarray) -> dict[str, float]:
    """Return recall (at the thresholds) of the expensive model alone and of the cascade, and the speed-up.

    Keys: ``escalated_fraction``, ``recall_expensive``/``recall_cascade`` (micro over all
    labels), ``recall_loss`` (their difference), ``max_label_recall_loss``, ``seconds_expensive``,
    ``seconds_cascade``, ``speedup``. Numbers only: safe to log.
    """
    texts, Y = list(texts), np.asarray(Y) > 0
    started = time.perf_counter()
    full = cascade.expensive_.score_texts(texts).proba >= cascade.thresholds_
    seconds_expensive = time.perf_counter() - started
    started = time.perf_counter()
    cheap = cascade.cheap_scores(texts)
    casc = cascade.score_texts(texts).proba >= cascade.thresholds_
    seconds_cascade = time.perf_counter() - started

    def recall(pred: np.ndarray, cols: slice | int = slice(None)) -> float:
        pos = Y[:, cols]
        return float((pred[:, cols] & pos).sum() / pos.sum()) if pos.any() else float("nan")

    losses = [recall(full, j) - recall(casc, j) for j in range(len(LABELS)) if Y[:, j].any()]
    return {
        "escalated_fraction": float(escalated(cheap, cascade.gates_).mean()) if texts else 0.0,
        "recall_expensive": recall(full),
        "recall_cascade": recall(casc),
        "recall_loss": recall(full) - recall(casc),
        "max_label_recall_loss": float(max(losses)) if losses else 0.0,
        "seconds_expensive": seconds_expensive,
        "seconds_cascade": seconds_cascade,
        "speedup": seconds_expensive / seconds_cascade if seconds_cascade > 0 else float("nan"),
    }
