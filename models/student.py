"""The student family: a distilled screen that reads a window as a bag of its teacher's own tokens.

A window (a sentence with its neighbours, :mod:`mailguard.segments`) is tokenised exactly as the
teacher tokenises it (:func:`models.tokens.encode_units`). Each token looks up a vector in a table
that started as the teacher's token embedding matrix and a learned pooling weight; the window is
the weighted mean and the element-wise maximum of its token vectors (the maximum keeps one loud
word from being averaged away in a long window), and a one-hidden-layer head gives a logit per
label. No attention, no torch: scoring is a gather and two small matrix products in numpy, so it
costs a small fraction of the teacher and screens every window in front of it (:mod:`models.cascade`).

Students are distilled from a trained teacher by :mod:`pipelines.distill` (``mailguard package
student``); this module only scores, saves and loads them. The saved folder holds the arrays in
``student.safetensors``, the teacher's ``tokenizer.json`` and the shared metadata: nothing that runs
code when read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

from mailguard.errors import ModelFormatError
from mailguard.taxonomy import LABELS
from models.base import Classifier
from models.tokens import TOKENIZER_FILE, SpecialIds, encode_units, plain_tokenizer

WEIGHTS_FILE = "student.safetensors"


@dataclass(frozen=True)
class StudentWeights:
    """The learned arrays of a student (all float32)."""

    table: np.ndarray  # (vocab, dim) token vectors
    token_logit: np.ndarray  # (vocab,) pooling weight of each token is exp(token_logit)
    w1: np.ndarray  # (2 * dim, hidden): [weighted mean, max] -> hidden
    b1: np.ndarray  # (hidden,)
    w2: np.ndarray  # (hidden, labels)
    b2: np.ndarray  # (labels,)

    def check(self) -> StudentWeights:
        """Return ``self`` once the shapes fit together; raise ``ModelFormatError`` otherwise."""
        vocab, dim = self.table.shape if self.table.ndim == 2 else (0, 0)
        hidden = self.b1.shape[0] if self.b1.ndim == 1 else -1
        expected = {"token_logit": (vocab,), "w1": (2 * dim, hidden), "b1": (hidden,), "w2": (hidden, len(LABELS)),
                    "b2": (len(LABELS),)}
        wrong = [f"{k} {getattr(self, k).shape} (expected {v})" for k, v in expected.items() if getattr(self, k).shape != v]
        if not vocab or wrong:
            raise ModelFormatError(f"student weights do not fit together: {', '.join(wrong) or 'empty token table'}")
        return self

    def as_dict(self) -> dict[str, np.ndarray]:
        """Return the arrays by name, float32 and contiguous (what is saved)."""
        return {k: np.ascontiguousarray(getattr(self, k), dtype=np.float32) for k in self.__dataclass_fields__}


def student_logits(weights: StudentWeights, units: Sequence[np.ndarray]) -> np.ndarray:
    """Return logits (n, labels) of token-id units (each non-empty): pooled token vectors through the head."""
    from scipy.sparse import csr_matrix

    lengths = np.fromiter((len(u) for u in units), dtype=np.int64, count=len(units))
    flat = np.concatenate(units)
    ends = np.cumsum(lengths)
    pool = np.exp(weights.token_logit[flat])
    # the weighted sum of each unit's token vectors is one sparse (units x vocab) product: no (tokens, dim) copy
    sums = csr_matrix((pool, flat, np.concatenate([[0], ends])), shape=(len(units), len(weights.table))) @ weights.table
    mean = np.asarray(sums) / np.add.reduceat(pool, ends - lengths)[:, None]
    loudest = np.maximum.reduceat(weights.table[flat], ends - lengths, axis=0)
    hidden = np.maximum(np.concatenate([mean, loudest], axis=1) @ weights.w1 + weights.b1, 0.0)
    return np.asarray(hidden @ weights.w2 + weights.b2, dtype=np.float64)


class StudentClassifier(Classifier):
    """A distilled static-embedding screen over the teacher's tokens; scores with numpy alone."""

    family = "student"
    made_by = "mailguard package student"

    def __init__(self, *, max_length: int = 128, batch_size: int = 512) -> None:
        self.max_length = max_length  # tokens per unit, as the teacher cuts them
        self.batch_size = batch_size  # units pooled per numpy pass: bounds the (tokens, dim) gather

    @classmethod
    def from_weights(cls, weights: StudentWeights, tokenizer: Tokenizer, ids: SpecialIds, *, max_length: int,
                     batch_size: int = 512) -> StudentClassifier:
        """Return a student scoring with ``weights`` over ``tokenizer`` (thresholds default to 0.5)."""
        clf = cls(max_length=max_length, batch_size=batch_size)
        clf.weights_, clf.tokenizer_, clf.special_ids_ = weights.check(), tokenizer, ids
        clf.classes_ = np.array(LABELS)
        clf.thresholds_ = np.full(len(LABELS), 0.5)
        return clf

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Return probabilities (n, labels), each text one unit of at most ``max_length`` tokens."""
        units = encode_units(self.tokenizer_, list(X), self.max_length, self.special_ids_)
        return 1.0 / (1.0 + np.exp(-self.logits(units)))

    def logits(self, units: Sequence[np.ndarray]) -> np.ndarray:
        """Return logits (n, labels) of token-id units, in passes of ``batch_size`` units."""
        out = np.zeros((len(units), len(LABELS)), dtype=np.float64)
        for a in range(0, len(units), self.batch_size):
            out[a : a + self.batch_size] = student_logits(self.weights_, units[a : a + self.batch_size])
        return out

    def _save_payload(self, path: Path) -> dict[str, Any]:
        save_file(self.weights_.as_dict(), str(path / WEIGHTS_FILE))
        self.tokenizer_.save(str(path / TOKENIZER_FILE))
        return {
            "files": {"weights": WEIGHTS_FILE, "tokenizer": TOKENIZER_FILE},
            "special_ids": {"cls": self.special_ids_.cls, "sep": self.special_ids_.sep, "pad": self.special_ids_.pad},
            "student": {"vocab": int(self.weights_.table.shape[0]), "dim": int(self.weights_.table.shape[1]),
                        "hidden": int(self.weights_.b1.shape[0]), "teacher": str(getattr(self, "teacher_", ""))},
        }

    @classmethod
    def _load_payload(cls, path: Path, meta: dict[str, Any]) -> StudentClassifier:
        weights_path, tokenizer_path = path / WEIGHTS_FILE, path / TOKENIZER_FILE
        missing = [p.name for p in (weights_path, tokenizer_path) if not p.is_file()]
        if missing or "special_ids" not in meta:
            raise ModelFormatError(f"student model at {path} is incomplete: missing {', '.join(missing) or 'special_ids'}")
        try:
            arrays = load_file(str(weights_path))
            weights = StudentWeights(**{k: arrays[k] for k in StudentWeights.__dataclass_fields__})
        except (OSError, KeyError, ValueError) as e:
            raise ModelFormatError(f"cannot read the student weights in {weights_path}: {e}") from e
        params = meta.get("params", {})
        clf = cls.from_weights(weights, plain_tokenizer(Tokenizer.from_file(str(tokenizer_path))),
                               SpecialIds(**meta["special_ids"]), max_length=int(params.get("max_length", 128)),
                               batch_size=int(params.get("batch_size", 512)))
        clf.teacher_ = str(meta.get("student", {}).get("teacher", ""))
        return clf
