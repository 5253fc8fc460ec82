"""The contract every mailguard classifier follows (scikit-learn estimator + evidence), and the one
scoring path every family shares: sentences read with their neighbours, maximum per label.

A family implements ``predict_proba(texts)`` for short texts (the scoring unit: a sentence with its
neighbours, a training row). :meth:`Classifier.score_documents` cuts each message into windows
(:mod:`mailguard.segments`), scores them all through that one method, and keeps, per label, the
maximum over windows. Linear, transformer (torch or ONNX Runtime) and cascade models all score
mail this way; none keeps a private path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
from sklearn.base import BaseEstimator

from mailguard.segments import Section, Window, WindowConfig, make_windows, text_sections
from mailguard.taxonomy import LABELS
from models.saved import save_classifier

#: ``texts -> probabilities (n, labels)`` for short texts: what a family computes per window.
UnitScorer = Callable[[list[str]], np.ndarray]
#: Windows scored per call of the unit scorer: bounds memory on a batch of huge messages.
WINDOW_CHUNK = 4096
#: Evidence sentences kept per flagged label, best first.
MAX_EVIDENCE = 3
#: Sentences per message and label that are read alone to rank evidence.
MAX_CANDIDATES = 20


@dataclass(frozen=True)
class Progress:
    """Where a training run is: numbers only (safe to log and to show; never text)."""

    epoch: int
    epochs: int
    step: int  # optimisation steps done in this epoch
    steps: int  # steps per epoch
    rows: int  # training rows seen in this epoch
    seconds: float  # since the epoch started


class TrainingCallback(Protocol):
    """What ``fit`` reports while it trains; every family accepts a list of these."""

    def on_step(self, progress: Progress) -> None:
        """Called after each optimisation step (families without steps call it once per epoch)."""

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        """Called after each epoch with its metrics (losses, validation PR-AUC, seconds)."""


@dataclass(frozen=True)
class Evidence:
    """A sentence that fired for a label, where it is stored, and the window it was read in."""

    score: float
    origin: str  # subject | body | html | quoted | attachment
    field: str  # results column whose text the offsets index
    start: int  # the sentence
    end: int
    window_start: int  # the sentence with its neighbours, as the model read it
    window_end: int
    text: str  # the sentence itself
    attachment: str = ""  # file name when origin == "attachment"

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form written to the results table."""
        out: dict[str, Any] = {
            "text": self.text, "origin": self.origin, "field": self.field, "start": self.start, "end": self.end,
            "window": [self.window_start, self.window_end], "score": round(float(self.score), 4),
        }
        if self.attachment:
            out["attachment"] = self.attachment
        return out


@dataclass(frozen=True)
class ScoredTexts:
    """Per-label probabilities for a batch of messages, and the evidence of each flagged label."""

    proba: np.ndarray  # (n, len(LABELS)) in [0, 1]: per label, the maximum over the message's windows
    evidence: list[dict[str, list[Evidence]]]  # per message: flagged label -> sentences, best first
    truncated: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # window cap reached
    n_windows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))


class Classifier(BaseEstimator):  # type: ignore[misc]
    """Multi-label classifier over :data:`mailguard.taxonomy.LABELS`.

    Follows the scikit-learn contract: ``__init__`` only stores keyword-only
    parameters, ``fit`` returns ``self``, learned state ends in ``_`` and the
    columns of ``predict_proba`` follow ``classes_`` (always ``LABELS``).
    Subclasses implement ``fit``, ``predict_proba`` (short texts: one unit each),
    ``_save_payload`` and ``_load_payload`` and set ``family``.

    ``window_config_`` (how messages are cut into windows) and ``message_labels_``
    (labels that also take a whole-message score) are part of the model: its
    thresholds were chosen under them, so they are saved with it.
    """

    family: ClassVar[str] = ""
    #: for a family made from a trained model rather than trained itself: the command that makes one
    made_by: ClassVar[str] = ""
    classes_: np.ndarray
    thresholds_: np.ndarray
    window_config_: WindowConfig = WindowConfig()
    message_labels_: tuple[str, ...] = ()

    # -- to implement -----------------------------------------------------
    def fit(
        self,
        X: Sequence[str],
        Y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        X_val: Sequence[str] | None = None,
        Y_val: np.ndarray | None = None,
        callbacks: Sequence[TrainingCallback] = (),
    ) -> Classifier:
        if self.made_by:
            raise NotImplementedError(f"{self.family} models are not trained but made by `{self.made_by}`")
        raise NotImplementedError

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Return probabilities (n, labels) for short texts, each read as one unit."""
        raise NotImplementedError

    def _save_payload(self, path: Path) -> dict[str, Any]:
        """Write family-specific files into ``path``; return extra metadata to store."""
        raise NotImplementedError

    @classmethod
    def _load_payload(cls, path: Path, meta: dict[str, Any]) -> Classifier:
        raise NotImplementedError

    # -- shared behaviour -------------------------------------------------
    def predict(self, X: Sequence[str]) -> np.ndarray:
        """Return 0/1 decisions (n, labels) for whole texts at the stored per-label thresholds."""
        return (self.score_texts(X).proba >= self.thresholds_).astype(np.int8)

    def set_thresholds(self, thresholds: np.ndarray) -> Classifier:
        """Store per-label decision thresholds (chosen on validation data); return ``self``."""
        thresholds = np.asarray(thresholds, dtype=float)
        if thresholds.shape != (len(LABELS),):
            raise ValueError(f"expected {len(LABELS)} thresholds, got shape {thresholds.shape}")
        self.thresholds_ = thresholds
        return self

    def set_scoring_unit(self, windows: WindowConfig, message_labels: Sequence[str] = ()) -> Classifier:
        """Store how messages are cut into windows and which labels also read the whole message; return ``self``."""
        unknown = set(message_labels) - set(LABELS)
        if unknown:
            raise ValueError(f"unknown label(s) for whole-message scoring: {sorted(unknown)}")
        self.window_config_ = windows
        self.message_labels_ = tuple(lb for lb in LABELS if lb in set(message_labels))
        return self

    def score_texts(self, X: Sequence[str], unit_scorer: UnitScorer | None = None) -> ScoredTexts:
        """Return :meth:`score_documents` for plain texts, each read as a message body."""
        return self.score_documents([text_sections(x) for x in X], unit_scorer)

    def score_documents(
        self, documents: Sequence[Sequence[Section]], unit_scorer: UnitScorer | None = None
    ) -> ScoredTexts:
        """Return per-message probabilities (maximum over windows) and evidence for each flagged label.

        ``unit_scorer`` replaces ``predict_proba`` (e.g. another runtime of the same model).
        Work is linear in the length of the messages; see :mod:`mailguard.segments`.
        """
        score_units = unit_scorer or (lambda texts: self.predict_proba(texts))
        per_doc = [make_windows(sections, self.window_config_) for sections in documents]
        flat = [w for windows, _ in per_doc for w in windows]
        window_proba = np.zeros((len(flat), len(LABELS)), dtype=float)
        for a in range(0, len(flat), WINDOW_CHUNK):
            window_proba[a : a + WINDOW_CHUNK] = score_units([w.text for w in flat[a : a + WINDOW_CHUNK]])
        whole = self._message_scores(documents, score_units)
        proba = np.zeros((len(documents), len(LABELS)), dtype=float)
        per_doc_scores: list[np.ndarray] = []
        pos = 0
        for d, (windows, _cut) in enumerate(per_doc):
            scores = window_proba[pos : pos + len(windows)]
            pos += len(windows)
            per_doc_scores.append(scores)
            if len(windows):
                proba[d] = scores.max(axis=0)
            if whole is not None:
                cols = [LABELS.index(lb) for lb in self.message_labels_]
                proba[d, cols] = np.maximum(proba[d, cols], whole[d])
        evidence = _evidence_batch(documents, [w for w, _ in per_doc], per_doc_scores, proba, self.thresholds_,
                                   score_units)
        return ScoredTexts(
            proba=proba, evidence=evidence, truncated=np.array([cut for _, cut in per_doc], dtype=bool),
            n_windows=np.array([len(w) for w, _ in per_doc], dtype=int),
        )

    def _message_scores(self, documents: Sequence[Sequence[Section]], score_units: UnitScorer) -> np.ndarray | None:
        """Return the whole-message scores of ``message_labels_`` (n, len(message_labels_)), or None."""
        if not self.message_labels_ or not documents:
            return None
        texts = [whole_message_text(sections, self.window_config_) for sections in documents]
        cols = [LABELS.index(lb) for lb in self.message_labels_]
        out = np.zeros((len(texts), len(cols)))
        for a in range(0, len(texts), WINDOW_CHUNK):
            out[a : a + WINDOW_CHUNK] = score_units(texts[a : a + WINDOW_CHUNK])[:, cols]
        return out

    def save(self, path: str | Path) -> Path:
        """Save the fitted model as a self-describing folder; return its path."""
        return save_classifier(self, Path(path))


def whole_message_text(sections: Sequence[Section], config: WindowConfig) -> str:
    """Return the text a whole-message label reads: the sections joined, cut at what the windows could hold."""
    return "\n\n".join(s.text for s in sections)[: config.max_windows * config.max_window_chars]


def sentence_scores(windows: Sequence[Window], window_scores: np.ndarray) -> np.ndarray:
    """Return per-sentence scores (n_windows, labels): the minimum over the windows that contain the sentence.

    Window ``i`` is centred on sentence ``i`` and contains sentences ``lo..hi``. A remark
    fires every window that reads it; an innocent neighbour is also read by a window
    without the remark, so the minimum singles out the sentence that made the windows fire.
    """
    out = np.full(window_scores.shape, np.inf)
    for i, w in enumerate(windows):
        for s in range(w.lo, min(w.hi, len(windows) - 1) + 1):
            out[s] = np.minimum(out[s], window_scores[i])
    return np.where(np.isinf(out), 0.0, out)


def _evidence_batch(
    documents: Sequence[Sequence[Section]], windows: Sequence[Sequence[Window]], scores: Sequence[np.ndarray],
    proba: np.ndarray, thresholds: np.ndarray, score_units: UnitScorer,
) -> list[dict[str, list[Evidence]]]:
    """Return, per message and flagged label, up to ``MAX_EVIDENCE`` sentences that fired, best first.

    Candidates are the sentences whose every window fired (:func:`sentence_scores`) and the
    sentences of the best window (a remark whose last window is diluted by a long neighbour
    leaves only the greeting before it with every window firing). Each candidate is also read
    alone and ranked by that score; when some candidates fire alone, the others (neighbours that
    fired only beside them) are not evidence. Only flagged messages pay for this.
    """
    candidates: list[tuple[int, int, list[int], list[int]]] = []  # (message, label, fired, best window's)
    by_sentence: dict[int, np.ndarray] = {}  # per flagged message: each sentence's minimum over its windows
    for d in range(len(documents)):
        if not len(windows[d]) or not (proba[d] >= thresholds).any():
            continue
        by_sentence[d] = sentence_scores(windows[d], scores[d])
        for j in range(len(LABELS)):
            if proba[d, j] >= thresholds[j]:
                fired = [int(s) for s in np.flatnonzero(by_sentence[d][:, j] >= thresholds[j])][:MAX_CANDIDATES]
                w = windows[d][int(np.argmax(scores[d][:, j]))]
                best = [s for s in range(w.lo, min(w.hi, len(windows[d]) - 1) + 1) if s not in fired]
                candidates.append((d, j, fired, best))
    wanted = sorted({(d, s) for d, _, fired, best in candidates for s in fired + best})
    alone = dict(zip(wanted, _sentence_texts_scores(documents, windows, wanted, score_units), strict=True))
    out: list[dict[str, list[Evidence]]] = [{} for _ in documents]
    for d, j, fired, best in candidates:
        mins = by_sentence[d]
        fired = fired + [s for s in best if alone[(d, s)][j] >= thresholds[j]]
        on_own = [s for s in fired if alone[(d, s)][j] >= thresholds[j]]
        fired = on_own or fired  # a neighbour fired only beside a remark that fires alone: not evidence
        ranked = sorted(fired, key=lambda s: (-alone[(d, s)][j], -mins[s, j], s))
        items = [_item(documents[d], windows[d][s], float(mins[s, j])) for s in ranked[:MAX_EVIDENCE]]
        if not items:  # only the window (or the whole message) fired: show the best window's centre
            top = int(np.argmax(scores[d][:, j]))
            items = [_item(documents[d], windows[d][top], float(scores[d][top, j]))]
        out[d][LABELS[j]] = items
    return out


def _sentence_texts_scores(
    documents: Sequence[Sequence[Section]], windows: Sequence[Sequence[Window]], wanted: list[tuple[int, int]],
    score_units: UnitScorer,
) -> list[np.ndarray]:
    texts = []
    for d, s in wanted:
        w = windows[d][s]
        section = documents[d][w.section]
        texts.append(section.text[w.centre_start - section.base : w.centre_end - section.base])
    return list(score_units(texts)) if texts else []


def _item(sections: Sequence[Section], w: Window, score: float) -> Evidence:
    section = sections[w.section]
    return Evidence(
        score=score, origin=section.origin, field=section.field, start=w.centre_start, end=w.centre_end,
        window_start=w.start, window_end=w.end,
        text=section.text[w.centre_start - section.base : w.centre_end - section.base], attachment=section.name,
    )
