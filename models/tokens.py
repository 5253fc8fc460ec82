"""Token ids for the transformer family, shared by the torch and ONNX Runtime paths.

Each text is one scoring unit (a sentence with its neighbours, or a training row; see
:mod:`mailguard.segments`): it is tokenised with a fast ``tokenizers.Tokenizer``, cut to
``max_length`` tokens (special tokens included) and scored in batches of similar length.
This module needs neither torch nor transformers, so that scoring with ONNX Runtime imports neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer

from mailguard.text import deobfuscate

#: ``forward(input_ids, attention_mask) -> probabilities (batch, labels)``; both inputs int64 (batch, seq).
Forward = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SpecialIds:
    """The token ids a BERT-style encoder expects around and after each window."""

    cls: int
    sep: int
    pad: int


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
