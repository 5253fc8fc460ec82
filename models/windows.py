"""Token windows over long mail, shared by the torch and ONNX Runtime transformer paths.

Each text is tokenised once (no truncation) with a fast ``tokenizers.Tokenizer``;
its tokens are cut into overlapping windows of at most ``max_length`` tokens
(special tokens included) whose starts are ``stride`` tokens apart. Each window
remembers the character span it covers, so that evidence is an exact substring
of the input. This module needs neither torch nor transformers, so that scoring
with ONNX Runtime imports neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer

from mailguard.text import deobfuscate
from models.base import ScoredTexts, aggregate_windows

#: ``forward(input_ids, attention_mask) -> probabilities (batch, labels)``; both inputs int64 (batch, seq).
Forward = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SpecialIds:
    """The token ids a BERT-style encoder expects around and after each window."""

    cls: int
    sep: int
    pad: int


@dataclass(frozen=True)
class TokenWindows:
    """Token windows of a batch of texts: ids (special tokens added), owner text, character span."""

    ids: list[np.ndarray]  # per window, int64 token ids including [CLS] ... [SEP]
    owner: np.ndarray  # (n_windows,) index of the text each window belongs to
    spans: list[tuple[int, int]]  # per window, [start, end) character offsets into its text


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


def window_starts(n_tokens: int, size: int, stride: int) -> list[int]:
    """Return the first token of each window so that every token is covered and the last window ends the text."""
    if n_tokens <= size:
        return [0]
    starts = list(range(0, n_tokens - size, stride))
    starts.append(n_tokens - size)  # the last window is flush with the end so nothing is cut off
    return starts


def make_windows(
    tokenizer: Tokenizer, texts: Sequence[str], max_length: int, stride: int, ids: SpecialIds
) -> TokenWindows:
    """Return the token windows of ``texts``; every text gets at least one window (empty text: [CLS][SEP])."""
    size = max_length - 2  # room for [CLS] and [SEP]
    if size < 1 or stride < 1:
        raise ValueError(f"max_length must be >= 3 and window_stride >= 1, got {max_length}, {stride}")
    # Undo leetspeak and spaced letters before tokenising; same length, so offsets index the original text.
    encodings = tokenizer.encode_batch([deobfuscate(t) for t in texts], add_special_tokens=False)
    out_ids: list[np.ndarray] = []
    owner: list[int] = []
    spans: list[tuple[int, int]] = []
    for i, enc in enumerate(encodings):
        tok = np.asarray(enc.ids, dtype=np.int64)
        offsets = enc.offsets
        for start in window_starts(len(tok), size, stride):
            piece = tok[start : start + size]
            out_ids.append(np.concatenate(([ids.cls], piece, [ids.sep])).astype(np.int64))
            owner.append(i)
            spans.append((offsets[start][0], offsets[start + len(piece) - 1][1]) if len(piece) else (0, 0))
    return TokenWindows(ids=out_ids, owner=np.asarray(owner, dtype=np.int64), spans=spans)


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


def score_windows(
    texts: Sequence[str],
    tokenizer: Tokenizer,
    forward: Forward,
    *,
    max_length: int,
    stride: int,
    batch_size: int,
    ids: SpecialIds,
    thresholds: np.ndarray,
    n_labels: int,
) -> ScoredTexts:
    """Return per-text max-over-windows probabilities and the evidence span of each flagged label."""
    texts = list(texts)
    if not texts:
        return ScoredTexts(proba=np.zeros((0, n_labels)), evidence=[])
    windows = make_windows(tokenizer, texts, max_length, stride, ids)
    window_proba = np.zeros((len(windows.ids), n_labels), dtype=float)
    for batch in length_batches([len(w) for w in windows.ids], batch_size):
        input_ids, mask = pad_batch([windows.ids[k] for k in batch], ids.pad)
        window_proba[batch] = forward(input_ids, mask)
    evidence_text = [texts[i][a:b] for i, (a, b) in zip(windows.owner, windows.spans, strict=True)]
    return aggregate_windows(len(texts), evidence_text, windows.owner, window_proba, thresholds)
