"""The blend: a per-label stacker over fitted members; it saves, reloads and keeps its thresholds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_cascade import _data

from mailguard.taxonomy import LABELS
from models import load_classifier
from models.blend import BlendClassifier
from models.linear import LinearClassifier

SOL = LABELS.index("solicitation")


@pytest.fixture()
def blend() -> BlendClassifier:
    X, Y = _data(40)
    members = [LinearClassifier(C=0.5).fit(X, Y), LinearClassifier(C=4.0, char_ngrams=(2, 3)).fit(X, Y)]
    return BlendClassifier.from_fitted(members, *_data(20))


def test_blend_ranks_the_validation_positives_first(blend: BlendClassifier) -> None:
    X_val, Y_val = _data(20)
    proba = blend.score_texts(X_val).proba[:, SOL]
    assert proba[Y_val[:, SOL] > 0].min() > proba[Y_val[:, SOL] == 0].max()
    assert blend.coef_.shape == (len(LABELS), 2)


def test_blend_round_trips_with_its_thresholds(blend: BlendClassifier, tmp_path: Path) -> None:
    thresholds = np.linspace(0.2, 0.7, len(LABELS))
    blend.set_thresholds(thresholds)
    X = _data(12)[0]
    blend.save(tmp_path / "blend")
    reloaded = load_classifier(tmp_path / "blend")
    assert isinstance(reloaded, BlendClassifier) and len(reloaded.members_) == 2
    np.testing.assert_array_equal(reloaded.thresholds_, thresholds)
    np.testing.assert_allclose(reloaded.predict_proba(X), blend.predict_proba(X))


def test_blend_fit_needs_validation_data() -> None:
    with pytest.raises(ValueError, match="validation"):
        BlendClassifier(members=[LinearClassifier()]).fit(*_data(8))
