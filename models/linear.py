"""TF-IDF (word + character n-grams) with one-vs-rest logistic regression: the fast baseline."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from mailguard.taxonomy import LABELS
from mailguard.text import deobfuscate
from models.base import Classifier, Progress, TrainingCallback
from models.linear_payload import load_linear, save_linear


class LinearClassifier(Classifier):
    """Multi-label TF-IDF + logistic regression classifier (one binary model per label).

    Word n-grams catch slurs and phrases; character n-grams (within word
    boundaries) catch obfuscation such as leetspeak and inserted spaces.
    ``class_weight="balanced"`` handles the strong label imbalance.
    """

    family = "linear"

    def __init__(
        self,
        *,
        word_ngrams: tuple[int, int] = (1, 2),
        char_ngrams: tuple[int, int] = (2, 5),
        max_features: int = 200_000,
        min_df: int = 2,
        C: float = 4.0,
        class_weight: str | None = "balanced",
        max_iter: int = 2000,
        random_state: int = 0,
    ) -> None:
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.max_features = max_features
        self.min_df = min_df
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state

    def _features(self, X: Sequence[str]) -> sparse.csr_matrix:
        X = [deobfuscate(x) for x in X]
        return sparse.hstack([self.word_vectorizer_.transform(X), self.char_vectorizer_.transform(X)]).tocsr()

    def fit(
        self,
        X: Sequence[str],
        Y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        X_val: Sequence[str] | None = None,
        Y_val: np.ndarray | None = None,
        callbacks: Sequence[TrainingCallback] = (),
    ) -> LinearClassifier:
        """Fit one logistic regression per label; return ``self``. Validation data is unused here."""
        started = time.perf_counter()
        Y = np.asarray(Y)
        if Y.ndim != 2 or Y.shape != (len(X), len(LABELS)):
            raise ValueError(f"Y must have shape ({len(X)}, {len(LABELS)}), got {Y.shape}")
        min_df = self.min_df if len(X) >= 50 else 1
        self.word_vectorizer_ = TfidfVectorizer(
            ngram_range=tuple(self.word_ngrams), min_df=min_df, max_features=self.max_features,
            sublinear_tf=True, strip_accents="unicode", lowercase=True,
        )
        self.char_vectorizer_ = TfidfVectorizer(
            analyzer="char_wb", ngram_range=tuple(self.char_ngrams), min_df=min_df,
            max_features=self.max_features, sublinear_tf=True, lowercase=True,
        )
        plain = [deobfuscate(x) for x in X]  # leetspeak and spaced letters read as the words they hide
        self.word_vectorizer_.fit(plain)
        self.char_vectorizer_.fit(plain)
        features = self._features(X)
        self.estimators_: list[LogisticRegression | float] = []
        for j in range(len(LABELS)):
            y = Y[:, j]
            if y.min() == y.max():  # label absent (or always present) in training data: constant prior
                self.estimators_.append(float(y.mean()))
                continue
            est = LogisticRegression(
                C=self.C, class_weight=self.class_weight, max_iter=self.max_iter,
                random_state=self.random_state, solver="liblinear",
            )
            est.fit(features, y, sample_weight=sample_weight)
            self.estimators_.append(est)
        self.classes_ = np.array(LABELS)
        if not hasattr(self, "thresholds_"):
            self.thresholds_ = np.full(len(LABELS), 0.5)
        seconds = time.perf_counter() - started
        for cb in callbacks:  # one "epoch": the solver runs to convergence
            cb.on_step(Progress(1, 1, 1, 1, len(X), seconds))
            cb.on_epoch(1, {"fit_seconds": seconds})
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Return probabilities (n, labels), columns in ``LABELS`` order."""
        X = list(X)
        out = np.zeros((len(X), len(LABELS)), dtype=float)
        if not X:
            return out
        features = self._features(X)
        for j, est in enumerate(self.estimators_):
            out[:, j] = est if isinstance(est, float) else est.predict_proba(features)[:, 1]
        return out

    def _save_payload(self, path: Path) -> dict[str, Any]:
        # Arrays + JSON, never a pickle: loading a model folder must not run code from it.
        return save_linear(path, self.word_vectorizer_, self.char_vectorizer_, list(self.estimators_))

    @classmethod
    def _load_payload(cls, path: Path, meta: dict[str, Any]) -> LinearClassifier:
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in meta.get("params", {}).items()}
        clf = cls(**params)  # type: ignore[arg-type]
        clf.word_vectorizer_, clf.char_vectorizer_, clf.estimators_ = load_linear(path, meta)
        return clf
