"""Train/validation/test assignment: stable under added data, and group-aware.

Each row's split comes from a hash of its *split key* (a written message, a mailbox owner, an authored
template, or the text itself), so adding rows never moves an existing row to another split and older
models stay comparable on the new test split. Near-duplicate groups that straddle splits keep only
their most held-out members. (An earlier scheme stratified by label per group; any added data could
move rows between splits, which leaked training rows into the test split of a retrained model.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

SPLITS: tuple[str, ...] = ("train", "validation", "test")


#: Order of "held out": a near-duplicate group that straddles splits keeps its members in the latest one.
HELD_OUT_ORDER: tuple[str, ...] = ("train", "validation", "test")


def hash_split(key: str, seed: int, validation_fraction: float, test_fraction: float) -> str:
    """Return the split of ``key``: a position on [0, 1) from a hash of (seed, key), cut by the fractions."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    if position < test_fraction:
        return "test"
    return "validation" if position < test_fraction + validation_fraction else "train"


def stable_splits(
    keys: Sequence[str],
    groups: np.ndarray,
    *,
    seed: int,
    validation_fraction: float,
    test_fraction: float,
    fixed: dict[str, str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (split of each row, mask of rows to keep).

    A row's split is ``fixed[key]`` when its key is listed (e.g. a held-out mailbox owner), else
    :func:`hash_split` of its key. Rows of one near-duplicate group (``groups``) that land in different
    splits would leak held-out text into training: only the members in the most held-out split are kept.
    """
    if validation_fraction < 0 or test_fraction < 0 or validation_fraction + test_fraction >= 1:
        raise ValueError(
            f"validation_fraction ({validation_fraction}) and test_fraction ({test_fraction}) must be >= 0 "
            "and sum to less than 1"
        )
    fixed = fixed or {}
    bad = sorted({v for v in fixed.values() if v not in SPLITS})
    if bad:
        raise ValueError(f"fixed splits must be one of {SPLITS}, got {bad}")
    cache: dict[str, str] = {}
    splits = []
    for key in keys:
        if key not in cache:
            cache[key] = fixed.get(key) or hash_split(key, seed, validation_fraction, test_fraction)
        splits.append(cache[key])
    split_arr = np.asarray(splits, dtype=object)
    rank = pd.Series([HELD_OUT_ORDER.index(s) for s in splits])
    top = rank.groupby(np.asarray(groups)).transform("max")
    keep = (rank == top).to_numpy()
    return split_arr, keep
