"""Group-aware, label-stratified train/validation/test assignment."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

SPLITS: tuple[str, ...] = ("train", "validation", "test")
CLEAN = "clean"


def group_strata(
    labels: np.ndarray, groups: np.ndarray, sources: Sequence[str], label_names: Sequence[str]
) -> pd.Series:
    """Return each group's stratum, ``"<label>|<source>"``, indexed by group id.

    ``<label>`` is the rarest (fewest positive rows overall) positive label of any row in the group, or
    ``clean``; ``<source>`` is the source of the group's first row. Stratifying on the rarest label keeps
    the few rows of scarce labels spread over all splits; adding the source keeps every corpus represented.
    """
    labels = np.asarray(labels)
    frame = pd.DataFrame(labels, columns=list(label_names))
    frame["group"] = np.asarray(groups)
    frame["source"] = list(sources)
    positives = frame[list(label_names)].sum(axis=0)
    by_rarity = sorted(label_names, key=lambda name: (int(positives[name]), list(label_names).index(name)))
    any_positive = frame.groupby("group", sort=True)[list(label_names)].max()
    first_source = frame.groupby("group", sort=True)["source"].first()
    rarest = pd.Series(CLEAN, index=any_positive.index, dtype=object)
    for name in reversed(by_rarity):  # the rarest label is written last and wins
        rarest[any_positive[name] > 0] = name
    return rarest.astype(str) + "|" + first_source.astype(str)


def assign_splits(
    labels: np.ndarray,
    groups: np.ndarray,
    sources: Sequence[str],
    label_names: Sequence[str],
    *,
    seed: int,
    validation_fraction: float,
    test_fraction: float,
) -> np.ndarray:
    """Return the split name (train/validation/test) of every row; all rows of a group share a split.

    Within each stratum (see ``group_strata``) the groups are shuffled and laid end to end on [0, 1)
    by row count, starting at a random offset; a group goes to test, validation or train according to
    where its midpoint falls. This systematic sampling hits the fractions within one group per stratum
    and is unbiased for strata with only a few groups. Each stratum draws from its own generator
    (seeded by ``seed`` and the stratum name), so adding a corpus does not reshuffle the others.
    """
    if validation_fraction < 0 or test_fraction < 0 or validation_fraction + test_fraction >= 1:
        raise ValueError(
            f"validation_fraction ({validation_fraction}) and test_fraction ({test_fraction}) must be >= 0 "
            "and sum to less than 1"
        )
    groups = np.asarray(groups)
    strata = group_strata(labels, groups, sources, label_names)
    sizes = pd.Series(groups).value_counts()
    split_of_group: dict[object, str] = {}
    for stratum, members in strata.groupby(strata, sort=True):
        rng = np.random.default_rng([seed, zlib.crc32(str(stratum).encode("utf-8"))])
        ids = np.asarray(members.index)
        ids = ids[rng.permutation(len(ids))]
        weight = sizes.loc[ids].to_numpy(dtype=float)
        midpoints = (np.cumsum(weight) - weight / 2) / weight.sum()
        position = (midpoints + rng.random()) % 1.0
        names = np.where(
            position < test_fraction,
            "test",
            np.where(position < test_fraction + validation_fraction, "validation", "train"),
        )
        split_of_group.update(zip(ids.tolist(), names.tolist(), strict=True))
    return np.asarray([split_of_group[g] for g in groups.tolist()], dtype=object)
