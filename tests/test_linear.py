"""The linear baseline follows the scikit-learn estimator contract and round-trips through its saved format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from mailguard.errors import ModelFormatError, ModelNotFoundError
from mailguard.taxonomy import LABELS
from models import load_classifier
from models.linear import LinearClassifier
from models.saved import META_FILE

# Two violating phrasings for two labels, and clean workplace text: enough to overfit.
TEXTS = [
    "old geezers like you should retire already",
    "you are too old to learn the new system grandpa",
    "buy my essential oils, 20% off for coworkers",
    "join my crypto club and make money fast",
    "the budget meeting moved to thursday",
    "please review the attached permit application",
    "timesheets are due friday at noon",
    "the elevator on floor three is out of order",
]
AGE, SOLICIT = LABELS.index("age"), LABELS.index("solicitation")


def _targets() -> np.ndarray:
    Y = np.zeros((len(TEXTS), len(LABELS)), dtype=int)
    Y[[0, 1], AGE] = 1
    Y[[2, 3], SOLICIT] = 1
    return Y


def _fitted() -> LinearClassifier:
    return LinearClassifier(C=20.0, min_df=1).fit(TEXTS, _targets())


def test_init_only_stores_parameters_and_clone_keeps_them() -> None:
    clf = LinearClassifier(C=2.0, word_ngrams=(1, 1))
    assert clf.get_params()["C"] == 2.0
    assert not [k for k in vars(clf) if k.endswith("_")]  # no learned state before fit
    assert clone(clf).get_params() == clf.get_params()


def test_fit_returns_self_with_learned_state_and_label_columns() -> None:
    clf = LinearClassifier(min_df=1)
    assert clf.fit(TEXTS, _targets()) is clf
    assert list(clf.classes_) == list(LABELS)
    assert clf.predict_proba(["anything"]).shape == (1, len(LABELS))


def test_overfits_a_handful_of_messages() -> None:
    proba = _fitted().predict_proba(TEXTS)
    assert (proba[[0, 1], AGE] > 0.5).all() and (proba[4:, AGE] < 0.5).all()
    assert (proba[[2, 3], SOLICIT] > 0.5).all() and (proba[4:, SOLICIT] < 0.5).all()
    # Labels never seen positive stay at their (zero) prior.
    assert proba[:, LABELS.index("religion")].max() == 0.0


def test_save_and_load_give_identical_scores_and_thresholds(tmp_path: Path) -> None:
    clf = _fitted().set_thresholds(np.linspace(0.1, 0.9, len(LABELS)))
    clf.save(tmp_path / "m")
    loaded = load_classifier(tmp_path / "m")
    assert isinstance(loaded, LinearClassifier)
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), clf.predict_proba(TEXTS))
    np.testing.assert_allclose(loaded.thresholds_, clf.thresholds_)
    meta = json.loads((tmp_path / "m" / META_FILE).read_text())
    assert meta["labels"] == list(LABELS) and meta["family"] == "linear"
    assert "scikit-learn" in meta["versions"]


def test_evidence_names_the_sentence_that_drove_a_flag() -> None:
    clf = _fitted()
    long_text = " ".join(["The parking garage on Elm Street reopens on Monday."] * 20)
    long_text += " Old geezers like you should retire already."
    scored = clf.score_texts([long_text, "timesheets are due friday at noon"])
    (top, *_rest) = scored.evidence[0]["age"]
    assert top.text == "Old geezers like you should retire already."
    assert long_text[top.start : top.end] == top.text and top.origin == "body"
    assert scored.evidence[1] == {}


def test_fit_rejects_targets_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="shape"):
        LinearClassifier().fit(TEXTS, np.zeros((len(TEXTS), 3)))


def test_loading_refuses_folders_that_are_not_models_or_use_another_label_set(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        load_classifier(tmp_path)
    _fitted().save(tmp_path / "m")
    meta_path = tmp_path / "m" / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["labels"] = ["spam", "ham"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="labels"):
        load_classifier(tmp_path / "m")
