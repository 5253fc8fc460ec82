"""Distil a trained transformer (the teacher) into a static-embedding student (family ``student``).

Read top to bottom: the defaults (:class:`DistillConfig`), the units (every training text cut into
the windows the teacher scores, ordinary mail included), the teacher's probabilities for them
(cached: the only expensive step), the student network and its training loop (soft binary
cross-entropy against the teacher, windows the teacher flags weighted up, early stopping on
held-out windows), then thresholds that copy the teacher's decisions and the saved folder.

The student learns the teacher's scores, not the gold labels: it is judged by how often it agrees
with the teacher, and in a cascade it only decides which windows the teacher must read.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mailguard.errors import ModelFormatError
from mailguard.segments import WindowConfig, make_windows, text_sections
from mailguard.taxonomy import LABELS
from models.base import Classifier
from models.student import StudentClassifier, StudentWeights
from models.tokens import SpecialIds, encode_units, pad_batch
from models.transformer import train_batches
from pipelines.window_scores import unit_scores

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistillConfig:
    """How a student is distilled; every field is a ``mailguard package student`` option."""

    max_windows_per_text: int = 6  # long mail gives many near-identical windows; the teacher pays per window
    max_units: int = 150_000  # distillation windows in all (the teacher scores each once, then they are cached)
    holdout_fraction: float = 0.05  # of the texts, held out for early stopping and the student's thresholds
    hidden: int = 256  # units of the head's hidden layer
    epochs: int = 8
    patience: int = 2  # epochs without better held-out agreement before stopping
    batch_size: int = 128
    learning_rate: float = 2e-3  # Adam, head and token table alike
    flag_weight: float = 4.0  # extra weight of windows the teacher flags: they are where decisions are made
    max_token_logit: float = 4.0  # pooling weights stay within exp(+-this): no single token swamps a window
    random_state: int = 13
    num_threads: int | None = None  # torch threads while training (None: torch's default)


# -- units: what the teacher reads --------------------------------------------------------------
def distill_units(texts: Sequence[str], windows: WindowConfig, config: DistillConfig) -> tuple[list[str], np.ndarray]:
    """Return distinct window texts of ``texts`` (at most ``max_windows_per_text`` each, ``max_units`` in all)
    and, per window, the index of the text it came from (the first one, for a window shared by several)."""
    rng = random.Random(config.random_state)
    seen: dict[str, int] = {}
    for i, text in enumerate(texts):
        cut = [w.text for w in make_windows(text_sections(text), windows)[0]]
        if len(cut) > config.max_windows_per_text:
            cut = rng.sample(cut, config.max_windows_per_text)
        for w in cut:
            seen.setdefault(w, i)
    units = list(seen)
    if len(units) > config.max_units:
        units = rng.sample(units, config.max_units)
    return units, np.array([seen[u] for u in units], dtype=np.int64)


def teacher_token_embeddings(teacher_dir: Path) -> np.ndarray:
    """Return the teacher's token embedding matrix (vocab, dim) from its saved folder (torch or ONNX weights)."""
    from safetensors.numpy import load_file

    for weights in sorted((teacher_dir / "encoder").glob("*.safetensors")):
        arrays = load_file(str(weights))
        for name, array in arrays.items():
            if name.endswith("word_embeddings.weight"):
                return np.asarray(array, dtype=np.float32)
    for graph in sorted(teacher_dir.glob("*.onnx")):
        import onnx
        from onnx import numpy_helper

        for init in onnx.load(str(graph)).graph.initializer:
            if "word_embeddings" in init.name and len(init.dims) == 2:
                return np.asarray(numpy_helper.to_array(init), dtype=np.float32)
    raise ModelFormatError(f"no token embedding matrix found in {teacher_dir} (expected a transformer or ONNX teacher)")


# -- the student network (training only; scoring is numpy in models.student) ---------------------
class StudentNet(torch.nn.Module):
    """Weighted-mean and max pooling of token vectors, then a one-hidden-layer head (as ``student_logits``)."""

    def __init__(self, table: np.ndarray, hidden: int, max_token_logit: float) -> None:
        super().__init__()
        self.max_token_logit = max_token_logit
        # sparse gradients: a batch touches a few thousand of the vocabulary's rows, Adam updates only those
        self.table = torch.nn.Embedding.from_pretrained(torch.from_numpy(table.copy()), freeze=False, sparse=True)
        self.token_logit = torch.nn.Embedding(table.shape[0], 1, sparse=True)
        torch.nn.init.zeros_(self.token_logit.weight)  # every token pools with weight 1 to start: a plain mean
        self.hidden = torch.nn.Linear(2 * table.shape[1], hidden)
        self.out = torch.nn.Linear(hidden, len(LABELS))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        vectors = self.table(ids)
        keep = mask.unsqueeze(-1).bool()
        pool = torch.exp(self.token_logit(ids).clamp(-self.max_token_logit, self.max_token_logit)) * keep
        mean = (vectors * pool).sum(1) / pool.sum(1)
        loudest = vectors.masked_fill(~keep, float("-inf")).max(1).values
        logits: torch.Tensor = self.out(torch.relu(self.hidden(torch.cat([mean, loudest], dim=1))))
        return logits

    def weights(self) -> StudentWeights:
        """Return the arrays numpy scores with (pooling weights clamped as in training)."""

        def arr(t: torch.Tensor) -> np.ndarray:
            return np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float32)

        return StudentWeights(
            table=arr(self.table.weight),
            token_logit=arr(self.token_logit.weight[:, 0].clamp(-self.max_token_logit, self.max_token_logit)),
            w1=arr(self.hidden.weight.T), b1=arr(self.hidden.bias), w2=arr(self.out.weight.T), b2=arr(self.out.bias),
        )


def agreement_score(student_proba: np.ndarray, teacher_flags: np.ndarray) -> float:
    """Return the mean over labels (with teacher flags) of the student's PR-AUC at finding the teacher's flags."""
    from sklearn.metrics import average_precision_score

    scores = [average_precision_score(teacher_flags[:, j], student_proba[:, j])
              for j in range(teacher_flags.shape[1]) if teacher_flags[:, j].any()]
    return float(np.mean(scores)) if scores else float("nan")


def train_student(
    units: list[np.ndarray], teacher_proba: np.ndarray, teacher_thresholds: np.ndarray, holdout: np.ndarray,
    table: np.ndarray, config: DistillConfig,
) -> tuple[StudentWeights, dict[str, Any]]:
    """Return the student weights of the epoch that best finds the teacher's flags on the held-out units, and
    the per-epoch history (losses, held-out agreement, seconds)."""
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    torch.manual_seed(config.random_state)
    rng = np.random.default_rng(config.random_state)
    net = StudentNet(table, config.hidden, config.max_token_logit)
    optimizers = [torch.optim.SparseAdam([net.table.weight, net.token_logit.weight], lr=config.learning_rate),
                  torch.optim.Adam([*net.hidden.parameters(), *net.out.parameters()], lr=config.learning_rate)]
    flags = teacher_proba >= teacher_thresholds
    target = torch.from_numpy(teacher_proba.astype(np.float32))
    weight = torch.from_numpy(np.where(flags.any(axis=1), config.flag_weight, 1.0).astype(np.float32))
    train_idx, held_idx = np.flatnonzero(~holdout), np.flatnonzero(holdout)
    lengths = np.array([len(u) for u in units])
    pad = 0  # masked out: any id will do

    def held_out_proba(weights: StudentWeights) -> np.ndarray:
        from models.student import student_logits

        logits = np.concatenate([student_logits(weights, [units[k] for k in held_idx[a : a + 1024]])
                                 for a in range(0, len(held_idx), 1024)]) if len(held_idx) else np.zeros((0, len(LABELS)))
        return 1.0 / (1.0 + np.exp(-logits))

    best_score, best_weights = -np.inf, net.weights()
    history: list[dict[str, float]] = []
    bad_epochs = 0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        net.train()
        total, seen = 0.0, 0
        for batch in train_batches(lengths[train_idx], config.batch_size, rng):
            rows = train_idx[batch]
            ids, mask = pad_batch([units[k] for k in rows], pad)
            logits = net(torch.from_numpy(ids), torch.from_numpy(mask))
            per_row = torch.nn.functional.binary_cross_entropy_with_logits(logits, target[rows], reduction="none").mean(1)
            loss = (per_row * weight[rows]).sum() / weight[rows].sum()
            for optimizer in optimizers:
                optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()
            total += float(loss.detach()) * len(rows)
            seen += len(rows)
        weights = net.weights()
        score = agreement_score(held_out_proba(weights), flags[held_idx]) if len(held_idx) else -total / max(seen, 1)
        history.append({"epoch": epoch, "train_loss": total / max(seen, 1), "holdout_flag_pr_auc": score,
                        "seconds": time.perf_counter() - started})
        log.info("student epoch %d: loss %.4f, held-out flag PR-AUC %.4f (%.0f s)", epoch, history[-1]["train_loss"],
                 score, history[-1]["seconds"])
        if np.isnan(score) or score >= best_score:  # on a tie the later, better-fitted epoch wins
            best_score, best_weights, bad_epochs = (best_score if np.isnan(score) else score), weights, 0
        else:
            bad_epochs += 1
            if bad_epochs > config.patience:
                break
    return best_weights, {"epochs": history, "best_holdout_flag_pr_auc": best_score}


# -- the whole step -------------------------------------------------------------------------------
def distill(
    teacher: Classifier, texts: Sequence[str], table: np.ndarray, config: DistillConfig = DistillConfig(),
    cache: Path | None = None,
) -> tuple[StudentClassifier, dict[str, Any]]:
    """Return a student distilled from ``teacher`` over the windows of ``texts``, and a report (numbers only).

    ``teacher`` must have a tokenizer (``tokenizer_``, ``special_ids_``, ``max_length``: a transformer or
    ONNX model); ``table`` is its token embedding matrix, the student's starting point. The student's
    thresholds copy the teacher's decisions on the held-out windows (best F1 against the teacher's flags).
    """
    from pipelines.metrics import choose_thresholds

    tokenizer: Tokenizer | None = getattr(teacher, "tokenizer_", None)
    ids: SpecialIds | None = getattr(teacher, "special_ids_", None)
    if tokenizer is None or ids is None:
        raise ModelFormatError(f"a {teacher.family!r} model has no tokenizer to distil from; use a transformer or ONNX teacher")
    if table.shape[0] < tokenizer.get_vocab_size():
        raise ModelFormatError(f"token table has {table.shape[0]} rows for a vocabulary of {tokenizer.get_vocab_size()}")
    max_length = int(getattr(teacher, "max_length", 128))
    started = time.perf_counter()
    unit_texts, source = distill_units(texts, teacher.window_config_, config)
    holdout = _held_out(source, config.holdout_fraction)
    teacher_proba = unit_scores(teacher, unit_texts, cache)
    teacher_seconds = time.perf_counter() - started
    units = encode_units(tokenizer, unit_texts, max_length, ids)
    weights, history = train_student(units, teacher_proba, np.asarray(teacher.thresholds_), holdout, table, config)

    student = StudentClassifier.from_weights(weights, tokenizer, ids, max_length=max_length)
    student.set_scoring_unit(teacher.window_config_, teacher.message_labels_)
    check = holdout if holdout.any() else np.ones(len(units), dtype=bool)
    student_proba = student.predict_proba([unit_texts[k] for k in np.flatnonzero(check)])
    teacher_flags = (teacher_proba[check] >= teacher.thresholds_).astype(int)
    student.set_thresholds(choose_thresholds(student_proba, teacher_flags, rule="best_f1"))
    student_flags = student_proba >= student.thresholds_
    report = {
        "config": asdict(config), "units": len(units), "texts": len(texts), "holdout_units": int(holdout.sum()),
        "teacher_flagged_units": {lb: int((teacher_proba[:, j] >= teacher.thresholds_[j]).sum()) for j, lb in enumerate(LABELS)},
        "holdout_window_agreement": {lb: float((student_flags[:, j] == teacher_flags[:, j].astype(bool)).mean())
                                     for j, lb in enumerate(LABELS)},
        "teacher_seconds": teacher_seconds, "seconds": time.perf_counter() - started, **history,
    }
    return student, report


def _held_out(source: np.ndarray, fraction: float) -> np.ndarray:
    """Return a mask of units whose text is held out (a hash of the text index: every window of a text together)."""
    if fraction <= 0:
        return np.zeros(len(source), dtype=bool)
    keys = np.array([int(hashlib.sha256(str(int(i)).encode()).hexdigest()[:8], 16) for i in source], dtype=np.int64)
    return keys % 10_000 < int(fraction * 10_000)
