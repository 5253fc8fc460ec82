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


# -- a model folder is data, never code (issue 14, item 7) -----------------------------------------------


class _Boom:
    """Unpickling this creates a file: proof that loading ran code."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (Path(self.marker),))


def test_saved_linear_model_is_arrays_and_json_and_scores_identically(tmp_path: Path) -> None:
    clf = _fitted().set_thresholds(np.linspace(0.1, 0.9, len(LABELS)))
    clf.save(tmp_path / "m")
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert names == ["linear.json", "linear.npz", "mailguard_model.json"]
    with np.load(tmp_path / "m" / "linear.npz", allow_pickle=False) as npz:  # no object arrays anywhere
        assert all(npz[k].dtype != object for k in npz.files)
    loaded = load_classifier(tmp_path / "m")
    probe = [*TEXTS, "an unseen text about a geezer selling oils", ""]
    np.testing.assert_array_equal(loaded.predict_proba(probe), clf.predict_proba(probe))
    np.testing.assert_array_equal(loaded.score_texts(probe).proba, clf.score_texts(probe).proba)


def test_a_pickled_payload_is_refused_without_being_run(tmp_path: Path) -> None:
    import joblib

    _fitted().save(tmp_path / "m")
    meta_path = tmp_path / "m" / META_FILE
    meta = json.loads(meta_path.read_text())
    meta["payload"] = "linear.joblib"
    meta_path.write_text(json.dumps(meta))
    marker = tmp_path / "pwned"
    joblib.dump({"word": _Boom(str(marker)), "char": None, "estimators": []}, tmp_path / "m" / "linear.joblib")
    with pytest.raises(ModelFormatError, match="pickle"):
        load_classifier(tmp_path / "m")
    assert not marker.exists()


def test_a_trusted_pickled_model_converts_to_the_same_scores(tmp_path: Path) -> None:
    import joblib

    from models.linear_payload import PAYLOAD_ARRAYS, PAYLOAD_JSON, convert_pickled

    clf = _fitted().set_thresholds(np.full(len(LABELS), 0.4))
    clf.save(tmp_path / "old")
    # What older mailguard versions wrote: one joblib pickle of the fitted scikit-learn objects.
    (tmp_path / "old" / PAYLOAD_JSON).unlink()
    (tmp_path / "old" / PAYLOAD_ARRAYS).unlink()
    state = {"word": clf.word_vectorizer_, "char": clf.char_vectorizer_, "estimators": clf.estimators_}
    joblib.dump(state, tmp_path / "old" / "linear.joblib", compress=3)
    meta_path = tmp_path / "old" / META_FILE
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "payload": "linear.joblib"}))

    assert convert_pickled(tmp_path / "old", tmp_path / "new") == [tmp_path / "new"]
    assert not (tmp_path / "new" / "linear.joblib").exists()
    loaded = load_classifier(tmp_path / "new")
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), clf.predict_proba(TEXTS))
    np.testing.assert_allclose(loaded.thresholds_, clf.thresholds_)


def test_a_folder_models_version_covers_every_payload_file(tmp_path: Path) -> None:
    from models.registry import resolve_model

    _fitted().save(tmp_path / "a")
    LinearClassifier(C=0.5, min_df=1).fit(TEXTS, _targets()).save(tmp_path / "b")
    before = resolve_model(str(tmp_path / "a")).version
    assert before.startswith("path:") and resolve_model(str(tmp_path / "a")).version == before  # stable
    # Swap the payload under an unchanged metadata file: a different model, so a different version.
    for name in ("linear.npz", "linear.json"):
        (tmp_path / "a" / name).write_bytes((tmp_path / "b" / name).read_bytes())
    assert resolve_model(str(tmp_path / "a")).version != before
