"""Splits: decided by a hash of each row's split key, so added data never moves an existing row; no leaks."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.splits import hash_split, stable_splits


def _split(keys: list[str], groups: list[int] | None = None, **kw: object) -> tuple[np.ndarray, np.ndarray]:
    groups = list(range(len(keys))) if groups is None else groups
    options = {"seed": 13, "validation_fraction": 0.1, "test_fraction": 0.2} | kw
    return stable_splits(keys, np.asarray(groups), **options)  # type: ignore[arg-type]


def test_fractions_hold_and_the_same_key_always_gets_the_same_split() -> None:
    keys = [f"text:{i}" for i in range(20_000)]
    splits, keep = _split(keys)
    assert keep.all()
    assert abs((splits == "test").mean() - 0.2) < 0.01 and abs((splits == "validation").mean() - 0.1) < 0.01
    assert hash_split("text:7", 13, 0.1, 0.2) == splits[7]


def test_adding_rows_never_moves_an_existing_row() -> None:
    before, _ = _split([f"text:{i}" for i in range(1000)])
    after, _ = _split([f"new:{i}" for i in range(500)] + [f"text:{i}" for i in range(1000)])
    assert (after[500:] == before).all()


def test_rows_sharing_a_key_share_a_split() -> None:
    keys = ["written:msg-1"] * 5 + ["enron-owner:lokay-m"] * 7
    splits, _ = _split(keys, fixed={"enron-owner:lokay-m": "test"})
    assert len(set(splits[:5])) == 1 and set(splits[5:]) == {"test"}


def test_a_near_duplicate_group_keeps_only_its_most_held_out_members() -> None:
    keys = [f"text:{i}" for i in range(400)]
    splits, _ = _split(keys)
    train, test = int(np.flatnonzero(splits == "train")[0]), int(np.flatnonzero(splits == "test")[0])
    groups = list(range(len(keys)))
    groups[train] = groups[test]  # the two are near duplicates
    _, keep = _split(keys, groups)
    assert not keep[train] and keep[test] and keep.sum() == len(keys) - 1


def test_bad_fractions_or_fixed_splits_are_refused() -> None:
    with pytest.raises(ValueError, match="sum to less than 1"):
        _split(["a"], validation_fraction=0.5, test_fraction=0.5)
    with pytest.raises(ValueError, match="fixed splits"):
        _split(["a"], fixed={"a": "holdout"})
