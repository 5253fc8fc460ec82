"""A classifier with fixed, readable behaviour for tests of the shared scoring path (no learning involved)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mailguard.taxonomy import LABELS
from models.base import Classifier


class KeywordModel(Classifier):
    """Scores 0.9 for a label when one of its keywords is in the unit, 0.1 otherwise; counts units scored."""

    family = "keyword"

    def __init__(self, *, keywords: dict[str, tuple[str, ...]] | None = None) -> None:
        self.keywords = keywords

    def fit(self, X: Sequence[str], Y: np.ndarray, sample_weight: np.ndarray | None = None, **_: Any) -> KeywordModel:
        self.classes_ = np.array(LABELS)
        self.thresholds_ = np.full(len(LABELS), 0.5)
        self.units_seen_: list[str] = []
        return self

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        out = np.full((len(X), len(LABELS)), 0.1)
        for i, text in enumerate(X):
            self.units_seen_.append(text)
            plain = " ".join(text.lower().split())
            for label, words in (self.keywords or {}).items():
                if any(w in plain for w in words):
                    out[i, LABELS.index(label)] = 0.9
        return out


def keyword_model(**keywords: tuple[str, ...]) -> KeywordModel:
    """Return a fitted :class:`KeywordModel` for ``label=(word, ...)`` keywords."""
    return KeywordModel(keywords=keywords).fit([], np.zeros((0, len(LABELS))))
