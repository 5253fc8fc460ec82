"""The contract every mailguard classifier follows (scikit-learn estimator + evidence)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from mailguard.taxonomy import LABELS
from mailguard.text import split_windows


@dataclass(frozen=True)
class ScoredTexts:
    """Per-label probabilities for a batch of texts, and the window that drove each label."""

    proba: np.ndarray  # (n, len(LABELS)) in [0, 1]
    evidence: list[dict[str, str]]  # per text: label -> window text, for labels at or over threshold


class Classifier(BaseEstimator):  # type: ignore[misc]
    """Multi-label classifier over :data:`mailguard.taxonomy.LABELS`.

    Follows the scikit-learn contract: ``__init__`` only stores keyword-only
    parameters, ``fit`` returns ``self``, learned state ends in ``_`` and the
    columns of ``predict_proba`` follow ``classes_`` (always ``LABELS``).
    Subclasses implement ``fit``, ``predict_proba``, ``_save_payload`` and
    ``_load_payload`` and set ``family``.
    """

    family: ClassVar[str] = ""
    classes_: np.ndarray
    thresholds_: np.ndarray

    # -- to implement -----------------------------------------------------
    def fit(
        self,
        X: Sequence[str],
        Y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        X_val: Sequence[str] | None = None,
        Y_val: np.ndarray | None = None,
    ) -> Classifier:
        raise NotImplementedError

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def _save_payload(self, path: Path) -> dict[str, Any]:
        """Write family-specific files into ``path``; return extra metadata to store."""
        raise NotImplementedError

    @classmethod
    def _load_payload(cls, path: Path, meta: dict[str, Any]) -> Classifier:
        raise NotImplementedError

    # -- shared behaviour -------------------------------------------------
    def predict(self, X: Sequence[str]) -> np.ndarray:
        """Return 0/1 decisions (n, labels) at the stored per-label thresholds."""
        return (self.predict_proba(X) >= self.thresholds_).astype(np.int8)

    def set_thresholds(self, thresholds: np.ndarray) -> Classifier:
        """Store per-label decision thresholds (chosen on validation data); return ``self``."""
        thresholds = np.asarray(thresholds, dtype=float)
        if thresholds.shape != (len(LABELS),):
            raise ValueError(f"expected {len(LABELS)} thresholds, got shape {thresholds.shape}")
        self.thresholds_ = thresholds
        return self

    def score_texts(self, X: Sequence[str], max_chars: int = 600) -> ScoredTexts:
        """Return probabilities per text (max over its windows) and evidence per flagged label.

        Long texts are split into overlapping sentence windows; each label's score is
        the maximum over the windows and its evidence is the window that gave it.
        """
        windows: list[str] = []
        owner: list[int] = []
        for i, text in enumerate(X):
            for w in split_windows(text, max_chars=max_chars):
                windows.append(w)
                owner.append(i)
        return aggregate_windows(len(X), windows, np.asarray(owner), self.predict_proba(windows), self.thresholds_)

    def save(self, path: str | Path) -> Path:
        """Save the fitted model as a self-describing folder; return its path."""
        from models.saved import save_classifier

        return save_classifier(self, Path(path))


def aggregate_windows(
    n_texts: int, windows: list[str], owner: np.ndarray, window_proba: np.ndarray, thresholds: np.ndarray
) -> ScoredTexts:
    """Return per-text max-over-windows probabilities and, per flagged label, the argmax window."""
    proba = np.zeros((n_texts, len(LABELS)), dtype=float)
    best = np.full((n_texts, len(LABELS)), -1, dtype=int)
    for w, i in enumerate(owner):
        better = window_proba[w] > proba[i]
        proba[i, better] = window_proba[w, better]
        best[i, better] = w
    evidence: list[dict[str, str]] = []
    for i in range(n_texts):
        ev = {}
        for j, label in enumerate(LABELS):
            if proba[i, j] >= thresholds[j] and best[i, j] >= 0:
                ev[label] = windows[best[i, j]]
        evidence.append(ev)
    return ScoredTexts(proba=proba, evidence=evidence)
