"""Reading the prepared dataset (written by ``prepare``): the one place that checks its schema."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mailguard.errors import InputError
from mailguard.taxonomy import LABELS

SPLITS = ("train", "validation", "test")


def read_prepared(dataset_path: Path) -> pd.DataFrame:
    """Return the whole prepared dataset (parquet), checked for the columns every stage needs."""
    try:
        df = pd.read_parquet(dataset_path)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read prepared dataset {dataset_path} (run `mailguard data prepare`): {e}") from e
    missing = [c for c in ("text", "split", *LABELS) if c not in df.columns]
    if missing:
        raise InputError(f"prepared dataset {dataset_path} lacks columns {missing}")
    return df.reset_index(drop=True)


def load_split(dataset_path: Path, split: str) -> pd.DataFrame:
    """Return the rows of one split (``train``, ``validation`` or ``test``) of the prepared dataset."""
    df = read_prepared(dataset_path)
    return df[df["split"] == split].reset_index(drop=True)
