"""The torch network of the transformer family: a sentence encoder, masked mean pooling, a linear head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from mailguard.errors import ModelFormatError, ModelNotFoundError

ENCODER_DIR = "encoder"
HEAD_FILE = "head.safetensors"


class PooledClassifier(torch.nn.Module):
    """Encoder + masked mean pooling (the pooling all-MiniLM was trained with) + dropout + linear head."""

    def __init__(self, encoder: Any, n_labels: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(encoder.config.hidden_size, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return self.head(self.dropout(pooled))


def new_network(base: str, n_labels: int, dropout: float) -> PooledClassifier:
    """Return a fresh network on the pretrained encoder at ``base`` (a local folder or a hub id)."""
    from transformers import AutoModel

    try:
        encoder = AutoModel.from_pretrained(base)
    except (OSError, ValueError) as e:
        raise ModelNotFoundError(f"cannot load base model {base!r}: {e}") from e
    return PooledClassifier(encoder, n_labels, dropout)


def save_network(model: PooledClassifier, path: Path) -> None:
    """Write the encoder (``encoder/``) and the head (``head.safetensors``) into the folder ``path``."""
    model.encoder.save_pretrained(path / ENCODER_DIR)
    save_file({k: v.contiguous() for k, v in model.head.state_dict().items()}, str(path / HEAD_FILE))


def load_network(path: Path, n_labels: int, device: str = "cpu") -> PooledClassifier:
    """Return the network saved in the folder ``path``, in eval mode."""
    from transformers import AutoModel

    try:
        encoder = AutoModel.from_pretrained(path / ENCODER_DIR)
        head = load_file(str(path / HEAD_FILE))
    except (OSError, ValueError) as e:
        raise ModelFormatError(f"cannot read transformer weights in {path}: {e}") from e
    model = PooledClassifier(encoder, n_labels)
    try:
        model.head.load_state_dict(head)
    except RuntimeError as e:
        raise ModelFormatError(f"head weights in {path} do not fit the encoder: {e}") from e
    return model.to(device).eval()
