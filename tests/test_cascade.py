"""The cascade: the gate keeps recall on validation, only escalated windows reach the expensive model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from mailguard.segments import WindowConfig
from mailguard.taxonomy import LABELS
from models import load_classifier
from models.base import Classifier
from models.cascade import CascadeClassifier, cascade_report, escalated, fit_gate
from models.linear import LinearClassifier

SOL = LABELS.index("solicitation")
# Solicitation versus ordinary office mail; three phrasings of each so the linear model generalises a little.
SPAM = ["buy my crypto course now", "discount offer click here to buy", "limited offer buy tickets today"]
HAM = ["the report is attached", "meeting moved to three pm", "thanks for the update on the budget"]


def _data(n: int) -> tuple[list[str], np.ndarray]:
    texts = [(SPAM if i % 4 == 0 else HAM)[i % 3] + f" ref {i}" for i in range(n)]
    Y = np.zeros((n, len(LABELS)), dtype=int)
    Y[[i for i in range(n) if i % 4 == 0], SOL] = 1
    return texts, Y


class CountingModel(LinearClassifier):
    """The linear model, counting how many units it is asked to score (stands in for the transformer)."""

    scored = 0

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        CountingModel.scored += len(X)
        return super().predict_proba(X)


@pytest.fixture()
def cascade() -> CascadeClassifier:
    X, Y = _data(40)
    X_val, Y_val = _data(20)
    cheap = LinearClassifier(C=0.5).fit(X, Y)
    expensive = CountingModel().fit(X, Y)
    return CascadeClassifier.from_fitted(cheap, expensive, X_val, Y_val, target_recall=0.99)


def test_gate_lets_the_target_share_of_positives_through() -> None:
    rng = np.random.default_rng(0)
    proba = rng.random((200, len(LABELS)))
    Y = (rng.random((200, len(LABELS))) < 0.2).astype(int)
    Y[:, 3] = 0  # a label never seen in validation
    gates = fit_gate(proba, Y, target_recall=0.9, fallback=np.full(len(LABELS), 0.7))
    for j in range(len(LABELS)):
        if Y[:, j].any():
            assert (proba[Y[:, j] > 0, j] >= gates[j]).mean() >= 0.9
            assert gates[j] > 0  # and it does screen something out
    assert gates[3] == 0.7  # nothing to measure recall on: the given fallback (the cheap model's threshold)
    assert fit_gate(proba, Y)[3] == 0.0  # or, without one, escalate everything rather than guess


def test_fit_gate_rejects_an_impossible_target() -> None:
    with pytest.raises(ValueError, match="target_recall"):
        fit_gate(np.zeros((2, len(LABELS))), np.zeros((2, len(LABELS))), target_recall=1.5)


def test_cascade_keeps_recall_on_validation_and_escalates_only_some(cascade: CascadeClassifier) -> None:
    X_val, Y_val = _data(20)
    up = escalated(cascade.cheap_scores(X_val), cascade.gates_)
    assert up[Y_val[:, SOL] > 0].all()  # every validation positive reaches the expensive model
    CountingModel.scored = 0
    proba = cascade.predict_proba(X_val)  # one unit per (one-sentence) text
    assert CountingModel.scored == up.sum() < len(X_val)
    cleared = ~up
    assert (proba[cleared] < cascade.thresholds_).all()  # a cleared text is never flagged
    report = cascade_report(cascade, X_val, Y_val)
    assert report["recall_cascade"] == report["recall_expensive"] and report["recall_loss"] == 0.0
    assert 0 < report["escalated_fraction"] < 1


def test_cascade_saves_both_models_and_gates(cascade: CascadeClassifier, tmp_path: Path) -> None:
    cascade.expensive_ = LinearClassifier().fit(*_data(40))  # a savable family for the expensive side
    cascade.set_thresholds(np.full(len(LABELS), 0.4))
    X = _data(12)[0]
    cascade.save(tmp_path / "cascade")
    assert (tmp_path / "cascade" / "cheap").is_dir() and (tmp_path / "cascade" / "expensive").is_dir()
    reloaded = load_classifier(tmp_path / "cascade")
    assert isinstance(reloaded, CascadeClassifier)
    np.testing.assert_array_equal(reloaded.gates_, cascade.gates_)
    np.testing.assert_array_equal(reloaded.expensive_.thresholds_, np.full(len(LABELS), 0.4))
    np.testing.assert_array_equal(reloaded.predict_proba(X), cascade.predict_proba(X))


def test_long_mail_sends_only_its_suspicious_sentences_to_the_expensive_model(cascade: CascadeClassifier) -> None:
    mail = "\n\n".join(["the report is attached"] * 30 + ["buy my crypto course now"])
    cascade.set_scoring_unit(WindowConfig(context=0))  # each sentence alone: the tiny models were fitted on such
    CountingModel.scored = 0
    scored = cascade.score_texts([mail])
    assert 0 < CountingModel.scored < 10  # of 31 windows, only the pitch and its neighbours are escalated
    assert "crypto" in scored.evidence[0]["solicitation"][0].text


def test_cascade_fit_needs_validation_data() -> None:
    clf: Classifier = CascadeClassifier(cheap=LinearClassifier(), expensive=LinearClassifier())
    with pytest.raises(ValueError, match="validation"):
        clf.fit(*_data(8))
