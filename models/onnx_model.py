"""The inference-only transformer family: a tokenizer and an ONNX graph scored with ONNX Runtime.

A packaged folder holds ``tokenizer.json``, ``model.onnx`` (fp32) or ``model.int8.onnx``, and the
shared metadata (labels, thresholds, scoring unit). Loading, scoring and re-thresholding it imports
neither torch nor transformers; exporting and quantising a trained transformer is the packaging
pipeline's job (:mod:`models.onnx_export`).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from mailguard.errors import ModelFormatError
from mailguard.taxonomy import LABELS
from models.base import Classifier
from models.tokens import TOKENIZER_FILE, Forward, SpecialIds, encode_units, forward_units, plain_tokenizer

ONNX_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}


def onnx_forward(onnx_path: str | Path, num_threads: int | None = None) -> Forward:
    """Return a unit scorer running ``onnx_path`` with ONNX Runtime on CPU (sigmoid of the logits)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if num_threads:
        options.intra_op_num_threads = num_threads
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])

    def forward(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        (logits,) = session.run(["logits"], {"input_ids": input_ids, "attention_mask": attention_mask})
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=float)

    return forward


class OnnxClassifier(Classifier):
    """A trained transformer exported to ONNX: same tokenizer, same units, same thresholds, no torch."""

    family = "onnx"
    made_by = "mailguard package onnx"

    def __init__(self, *, max_length: int = 128, batch_size: int = 32, precision: str = "fp32",
                 num_threads: int | None = None) -> None:
        self.max_length = max_length
        self.batch_size = batch_size
        self.precision = precision
        self.num_threads = num_threads

    @classmethod
    def from_files(cls, onnx_path: Path, tokenizer: Tokenizer, ids: SpecialIds, *, max_length: int, batch_size: int,
                   precision: str, num_threads: int | None = None) -> OnnxClassifier:
        """Return a classifier scoring with the graph at ``onnx_path`` (thresholds default to 0.5)."""
        if precision not in ONNX_FILES:
            raise ValueError(f"precision must be one of {tuple(ONNX_FILES)}, got {precision!r}")
        clf = cls(max_length=max_length, batch_size=batch_size, precision=precision, num_threads=num_threads)
        clf.tokenizer_, clf.special_ids_, clf.onnx_path_ = tokenizer, ids, Path(onnx_path)
        clf.classes_ = np.array(LABELS)
        clf.thresholds_ = np.full(len(LABELS), 0.5)
        return clf

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Return probabilities (n, labels), each text one unit of at most ``max_length`` tokens."""
        units = encode_units(self.tokenizer_, list(X), self.max_length, self.special_ids_)
        return forward_units(units, self._session(), batch_size=self.batch_size, pad_id=self.special_ids_.pad,
                             n_labels=len(LABELS))

    def _session(self) -> Forward:
        if getattr(self, "_forward", None) is None:
            self._forward = onnx_forward(self.onnx_path_, self.num_threads)
        return self._forward

    def _save_payload(self, path: Path) -> dict[str, Any]:
        target = path / ONNX_FILES[self.precision]
        if Path(self.onnx_path_).resolve() != target.resolve():
            shutil.copyfile(self.onnx_path_, target)
        self.tokenizer_.save(str(path / TOKENIZER_FILE))
        return {
            "files": {"onnx": target.name, "tokenizer": TOKENIZER_FILE},
            "special_ids": {"cls": self.special_ids_.cls, "sep": self.special_ids_.sep, "pad": self.special_ids_.pad},
        }

    @classmethod
    def _load_payload(cls, path: Path, meta: dict[str, Any]) -> OnnxClassifier:
        params = meta.get("params", {})
        precision = params.get("precision", "fp32")
        if precision not in ONNX_FILES:
            raise ModelFormatError(f"ONNX model at {path} has unknown precision {precision!r}")
        onnx_path, tokenizer_path = path / ONNX_FILES[precision], path / TOKENIZER_FILE
        missing = [p.name for p in (onnx_path, tokenizer_path) if not p.is_file()]
        if missing or "special_ids" not in meta:
            raise ModelFormatError(f"ONNX model at {path} is incomplete: missing {', '.join(missing) or 'special_ids'}")
        tokenizer = plain_tokenizer(Tokenizer.from_file(str(tokenizer_path)))
        return cls.from_files(onnx_path, tokenizer, SpecialIds(**meta["special_ids"]),
                              max_length=int(params.get("max_length", 128)), batch_size=int(params.get("batch_size", 32)),
                              precision=precision, num_threads=params.get("num_threads"))
