"""Model families behind one prediction API.

``load_classifier(path).predict_proba(texts) -> array (n, len(LABELS))``.
"""

from models.base import Classifier, ScoredTexts
from models.saved import load_classifier

__all__ = ["Classifier", "ScoredTexts", "load_classifier"]
