"""Splits: every group in one split, fractions held per label, reproducible by seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipelines.splits import assign_splits, group_strata

NAMES = ("rare", "common")


def synthetic(n_groups: int = 3000, seed: int = 1) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Return (labels, groups, sources): groups of 1-3 rows, 'rare' in ~3 % of groups, 'common' in ~30 %."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4, size=n_groups)
    groups = np.repeat(np.arange(n_groups), sizes)
    rare = np.repeat(rng.random(n_groups) < 0.03, sizes)
    common = np.repeat(rng.random(n_groups) < 0.3, sizes)
    labels = np.stack([rare, common], axis=1).astype(int)
    sources = ["a" if g % 2 else "b" for g in groups]
    return labels, groups, sources


def split(labels: np.ndarray, groups: np.ndarray, sources: list[str], seed: int = 13) -> np.ndarray:
    return assign_splits(labels, groups, sources, NAMES, seed=seed, validation_fraction=0.1, test_fraction=0.2)


def test_every_group_lies_in_exactly_one_split() -> None:
    labels, groups, sources = synthetic()
    splits = split(labels, groups, sources)
    per_group = pd.Series(splits).groupby(groups).nunique()
    assert (per_group == 1).all()
    assert set(splits) == {"train", "validation", "test"}


def test_each_label_is_split_in_the_requested_proportions() -> None:
    labels, groups, sources = synthetic()
    splits = split(labels, groups, sources)
    for j, name in enumerate(NAMES):
        positive = labels[:, j] == 1
        share_test = (splits[positive] == "test").mean()
        share_val = (splits[positive] == "validation").mean()
        assert abs(share_test - 0.2) < 0.04, (name, share_test)
        assert abs(share_val - 0.1) < 0.04, (name, share_val)
    clean = labels.sum(axis=1) == 0
    assert abs((splits[clean] == "test").mean() - 0.2) < 0.03


def test_the_seed_fixes_the_split() -> None:
    labels, groups, sources = synthetic(500)
    assert np.array_equal(split(labels, groups, sources, seed=5), split(labels, groups, sources, seed=5))
    assert not np.array_equal(split(labels, groups, sources, seed=5), split(labels, groups, sources, seed=6))


def test_a_group_is_stratified_by_its_rarest_label() -> None:
    labels = np.array([[0, 1], [1, 0], [0, 1], [0, 0]])
    groups = np.array([0, 0, 1, 2])  # group 0 has both labels
    strata = group_strata(labels, groups, ["s", "s", "s", "s"], NAMES)
    assert strata.to_dict() == {0: "rare|s", 1: "common|s", 2: "clean|s"}


def test_invalid_fractions_are_rejected() -> None:
    labels, groups, sources = synthetic(10)
    with pytest.raises(ValueError, match="sum to less than 1"):
        assign_splits(labels, groups, sources, NAMES, seed=1, validation_fraction=0.5, test_fraction=0.5)
