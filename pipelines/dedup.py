"""Near-duplicate detection: MinHash over word shingles with LSH banding, in numpy.

Texts are compared as sets of word ``k``-shingles of their normalised form (``mailguard.text.
normalise_for_matching``). Each text gets a MinHash signature of ``num_perm`` 64-bit hashes; LSH
bands of ``rows`` hashes propose candidate pairs, and a candidate counts as a near duplicate when
the share of equal signature entries (an unbiased Jaccard estimate) reaches the threshold. Groups
are the connected components of the verified pairs. Hashing uses blake2b per distinct word and fixed
multipliers, so results do not depend on ``PYTHONHASHSEED`` or on the machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

SHINGLE_WORDS = 3  # word 3-grams: robust to small edits, still specific for tweet-length texts
NUM_PERM = 128  # signature length: Jaccard estimate with standard error ~0.04
_CHUNK_SHINGLES = 1 << 16  # shingles hashed per numpy step (bounds memory at ~64 MB per temporary)
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _word_hash(word: str) -> int:
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


def _mix(x: np.ndarray) -> np.ndarray:
    """Return splitmix64-finalised ``x`` (uint64), so that arithmetic combinations hash well."""
    with np.errstate(over="ignore"):
        x = x ^ (x >> np.uint64(30))
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x = x ^ (x >> np.uint64(27))
        x = x * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def shingle_hashes(texts: Sequence[str], k: int = SHINGLE_WORDS) -> tuple[np.ndarray, np.ndarray]:
    """Return (hashes, offsets): the uint64 hashes of every text's word ``k``-shingles, concatenated.

    Text ``i`` owns ``hashes[offsets[i]:offsets[i + 1]]``. A text with fewer than ``k`` words is
    one shingle of all its words; an empty text has none. ``texts`` should already be normalised.
    """
    lengths = np.fromiter((len(text.split()) for text in texts), dtype=np.int64, count=len(texts))
    # factorising all tokens at once (in C) leaves only the distinct words to hash in Python
    codes, vocabulary = pd.factorize(pd.Series(" ".join(texts).split(), dtype=object))
    vocabulary_hashes = np.fromiter((_word_hash(w) for w in vocabulary), dtype=np.uint64, count=len(vocabulary))
    word_hashes = vocabulary_hashes[codes] if len(codes) else np.zeros(0, dtype=np.uint64)
    word_starts = np.concatenate(([0], np.cumsum(lengths)))
    n_shingles = np.where(lengths >= k, lengths - k + 1, np.minimum(lengths, 1))
    offsets = np.concatenate(([0], np.cumsum(n_shingles)))
    # position (in word_hashes) of each shingle's first word, and the end of the text it belongs to
    doc_of_shingle = np.repeat(np.arange(len(texts)), n_shingles)
    starts = word_starts[doc_of_shingle] + (np.arange(offsets[-1]) - offsets[doc_of_shingle])
    ends = word_starts[doc_of_shingle + 1]
    padded = np.concatenate((word_hashes, np.zeros(k, dtype=np.uint64)))
    combined = np.zeros(len(starts), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(k):
            inside = (starts + j) < ends  # a short text's shingle must not borrow the next text's words
            term = _mix(padded[starts + j] + np.uint64(j + 1)) * inside.astype(np.uint64)
            combined = combined * np.uint64(0x9E3779B97F4A7C15) + term
    return _mix(combined), offsets


def minhash_signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int = NUM_PERM) -> np.ndarray:
    """Return the (n_texts, num_perm) uint64 MinHash signatures; a text with no shingles gets all-max."""
    n = len(offsets) - 1
    rng = np.random.default_rng(0x5EED)  # fixed: signatures must be comparable across runs
    mult = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) | np.uint64(1)
    add = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    signatures = np.full((n, num_perm), _MASK64, dtype=np.uint64)
    nonempty = np.flatnonzero(np.diff(offsets) > 0)
    doc = 0
    while doc < len(nonempty):
        # take whole texts until the chunk holds about _CHUNK_SHINGLES shingles (at least one text)
        first = nonempty[doc]
        stop = np.searchsorted(offsets[nonempty + 1], offsets[first] + _CHUNK_SHINGLES, side="right")
        stop = max(stop, doc + 1)
        docs = nonempty[doc:stop]
        lo, hi = offsets[docs[0]], offsets[docs[-1] + 1]
        with np.errstate(over="ignore"):
            # multiply-add with odd multipliers permutes 64-bit values; the inputs are already mixed
            permuted = hashes[lo:hi, None] * mult[None, :] + add[None, :]
        signatures[docs] = np.minimum.reduceat(permuted, offsets[docs] - lo, axis=0)
        doc = stop
    return signatures


def band_rows(threshold: float, num_perm: int = NUM_PERM, recall_at_threshold: float = 0.9) -> int:
    """Return the rows per LSH band: the most selective banding that still proposes ~90 % of pairs at ``threshold``."""
    best = 1
    for rows in range(1, num_perm + 1):
        if num_perm % rows:
            continue
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= recall_at_threshold:
            best = rows
    return best


def candidate_pairs(signatures: np.ndarray, rows: int) -> np.ndarray:
    """Return unique (i, j) pairs, i < j, that share at least one LSH band (star-linked within a bucket)."""
    n, num_perm = signatures.shape
    empty = np.all(signatures == _MASK64, axis=1)
    rng = np.random.default_rng(0xBA4D)
    weights = rng.integers(1, 2**63, size=rows, dtype=np.uint64) | np.uint64(1)
    found: list[np.ndarray] = []
    for start in range(0, num_perm - rows + 1, rows):
        with np.errstate(over="ignore"):
            keys = _mix((signatures[:, start : start + rows] * weights[None, :]).sum(axis=1, dtype=np.uint64))
        keys = np.where(empty, np.arange(n, dtype=np.uint64) ^ _MASK64, keys)  # empty texts match nothing
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        new_bucket = np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1]))
        bucket_first = np.maximum.accumulate(np.where(new_bucket, np.arange(n), 0))
        members = ~new_bucket
        # linking each member to its bucket's first text keeps the pair count linear in bucket size
        found.append(np.stack((order[bucket_first[members]], order[members]), axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(found)
    pairs = np.sort(pairs, axis=1)
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)


def near_duplicate_groups(texts: Sequence[str], threshold: float, k: int = SHINGLE_WORDS) -> np.ndarray:
    """Return a group id per text (0..n_groups-1, in order of first appearance); near duplicates share one.

    Two texts are near duplicates when the estimated Jaccard similarity of their word ``k``-shingle
    sets is at least ``threshold``; groups are closed transitively. ``texts`` should be normalised.
    """
    n = len(texts)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
    hashes, offsets = shingle_hashes(texts, k)
    signatures = minhash_signatures(hashes, offsets)
    pairs = candidate_pairs(signatures, band_rows(threshold))
    keep = np.zeros(len(pairs), dtype=bool)
    for lo in range(0, len(pairs), 50_000):
        chunk = pairs[lo : lo + 50_000]
        similarity = (signatures[chunk[:, 0]] == signatures[chunk[:, 1]]).mean(axis=1)
        keep[lo : lo + 50_000] = similarity >= threshold
    pairs = pairs[keep]
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, components = connected_components(graph, directed=False)
    # renumber by first appearance so ids are stable and readable
    _, first_index, inverse = np.unique(components, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first_index))
    return rank[inverse].astype(np.int64)
