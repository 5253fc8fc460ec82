"""A calibrated blend of fitted models: per label, a logistic regression over the members' log-odds.

The linear model and the transformer make different mistakes (the linear one keys on words, the
transformer on phrasing), so a blend can beat both. The stacker is fitted on validation scores
(maximum over windows, what thresholds are chosen on) and is saved as plain numbers in JSON; each
member is saved in its own folder. Messages are scored by the shared path in :mod:`models.base`,
so every window is scored by every member and combined before the maximum is taken.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from mailguard.errors import ModelFormatError
from mailguard.taxonomy import LABELS
from models.base import Classifier, TrainingCallback

STACKER_FILE = "stacker.json"
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def fit_stacker(member_proba: Sequence[np.ndarray], Y: np.ndarray, C: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Return per-label stacker weights (labels, members) and intercepts (labels,) fitted on the members'
    probabilities (each (n, labels)) for gold ``Y``; a label without both classes averages the log-odds."""
    features = np.stack([_logit(p) for p in member_proba], axis=2)  # (n, labels, members)
    n_members = len(member_proba)
    coef, intercept = np.zeros((len(LABELS), n_members)), np.zeros(len(LABELS))
    for j in range(len(LABELS)):
        y = Y[:, j]
        if y.min() == y.max():  # nothing to learn from: average the members' log-odds
            coef[j] = 1.0 / n_members
            continue
        stacker = LogisticRegression(C=C, max_iter=1000).fit(features[:, j, :], y)
        coef[j], intercept[j] = stacker.coef_[0], stacker.intercept_[0]
    return coef, intercept


def apply_stacker(member_proba: Sequence[np.ndarray], coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Return the blended probabilities (n, labels) of the members' probabilities."""
    logits = np.stack([_logit(p) for p in member_proba], axis=2)
    z = (logits * coef[None, :, :]).sum(axis=2) + intercept[None, :]
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


class BlendClassifier(Classifier):
    """Per-label logistic regression over the log-odds of several fitted classifiers.

    Build it with :meth:`from_fitted` (members trained already, stacker fitted on validation);
    ``fit`` fits clones of the members first. ``C`` is the stacker's inverse regularisation.
    """

    family = "blend"

    def __init__(self, *, members: Sequence[Classifier] | None = None, C: float = 1.0) -> None:
        self.members = members
        self.C = C

    @classmethod
    def from_fitted(
        cls, members: Sequence[Classifier], X_val: Sequence[str], Y_val: np.ndarray, C: float = 1.0
    ) -> BlendClassifier:
        """Return a blend of fitted ``members`` whose stacker is fitted on ``X_val``/``Y_val``."""
        clf = cls(members=list(members), C=C)
        clf.members_ = list(members)
        clf._fit_stacker(X_val, np.asarray(Y_val))
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
    ) -> BlendClassifier:
        """Fit clones of the members on the training data and the stacker on validation data; return ``self``."""
        from sklearn.base import clone

        if not self.members:
            raise ValueError("a blend needs at least one member classifier")
        if X_val is None or Y_val is None:
            raise ValueError("a blend needs validation data (X_val, Y_val) to fit its stacker")
        self.members_ = [clone(m).fit(X, Y, sample_weight, X_val=X_val, Y_val=Y_val, callbacks=callbacks)
                         for m in self.members]
        self._fit_stacker(X_val, np.asarray(Y_val))
        return self

    def _fit_stacker(self, X_val: Sequence[str], Y_val: np.ndarray) -> None:
        if Y_val.shape != (len(X_val), len(LABELS)):
            raise ValueError(f"Y_val must have shape ({len(X_val)}, {len(LABELS)}), got {Y_val.shape}")
        self.coef_, self.intercept_ = fit_stacker([m.score_texts(X_val).proba for m in self.members_], Y_val, self.C)
        self.classes_ = np.array(LABELS)
        first = self.members_[0]
        self.set_scoring_unit(first.window_config_, first.message_labels_)
        if not hasattr(self, "thresholds_"):
            self.thresholds_ = np.full(len(LABELS), 0.5)

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Return blended unit probabilities (n, labels)."""
        X = list(X)
        if not X:
            return np.zeros((0, len(LABELS)))
        return apply_stacker([m.predict_proba(X) for m in self.members_], self.coef_, self.intercept_)

    def _save_payload(self, path: Path) -> dict[str, Any]:
        names = []
        for k, member in enumerate(self.members_):
            name = f"member{k}-{member.family}"
            member.save(path / name)
            names.append(name)
        stacker = {"labels": list(LABELS), "coef": self.coef_.tolist(), "intercept": self.intercept_.tolist()}
        (path / STACKER_FILE).write_text(json.dumps(stacker, indent=2) + "\n", encoding="utf-8")
        return {"members": names, "stacker": STACKER_FILE}

    @classmethod
    def _load_payload(cls, path: Path, meta: dict[str, Any]) -> BlendClassifier:
        from models.saved import load_classifier

        names = meta.get("members")
        if not isinstance(names, list) or not names:
            raise ModelFormatError(f"blend model at {path} lists no members in its metadata")
        try:
            stacker = json.loads((path / STACKER_FILE).read_text(encoding="utf-8"))
            coef = np.asarray(stacker["coef"], dtype=float)
            intercept = np.asarray(stacker["intercept"], dtype=float)
        except (OSError, ValueError, KeyError) as e:
            raise ModelFormatError(f"cannot read the blend's stacker in {path}: {e}") from e
        if stacker.get("labels") != list(LABELS) or coef.shape != (len(LABELS), len(names)):
            raise ModelFormatError(f"blend stacker in {path} does not match its members and this label set")
        members = [load_classifier(path / name) for name in names]
        clf = cls(members=members, C=float(meta.get("params", {}).get("C", 1.0)))
        clf.members_, clf.coef_, clf.intercept_ = members, coef, intercept
        return clf
