"""Helpers every corpus adapter shares: the row schema, file checks, tweet tidying."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from mailguard.errors import InputError
from mailguard.taxonomy import LABELS

#: Columns of every adapter's frame (the prepared dataset minus ``split`` and ``group_id``). ``split_key``
#: names the unit that must not span splits (a mailbox owner, a written message; "" = the row itself).
COLUMNS: tuple[str, ...] = ("text", *LABELS, "source", "weak", "template_id", "split_key")

_MENTION = re.compile(r"(?<![\w@])@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_RETWEET = re.compile(r"^\s*(?:RT\s+)+", re.IGNORECASE)


def corpus_files(root: Path, corpus: str, names: Iterable[str]) -> list[Path]:
    """Return ``root/corpus/name`` for each name; raise ``InputError`` naming the first missing one."""
    paths = [Path(root) / corpus / name for name in names]
    for path in paths:
        if not path.is_file():
            raise InputError(
                f"{corpus}: file {path} is missing; point data.datasets_root (or --datasets-root) at the "
                f"public corpora, or run `mailguard data fetch --only {corpus}`"
            )
    return paths


def corpus_glob(root: Path, corpus: str, pattern: str) -> list[Path]:
    """Return the files of ``root/corpus`` matching ``pattern`` (sorted); raise ``InputError`` if none."""
    folder = Path(root) / corpus
    paths = sorted(folder.glob(pattern))
    if not paths:
        raise InputError(
            f"{corpus}: no files matching {pattern!r} in {folder}; point data.datasets_root (or --datasets-root) "
            f"at the public corpora, or run `mailguard data fetch --only {corpus}`"
        )
    return paths


def read_table(path: Path, corpus: str, **kwargs: object) -> pd.DataFrame:
    """Return ``pandas.read_csv(path, **kwargs)``; raise ``InputError`` if the file cannot be parsed."""
    try:
        return pd.read_csv(path, **kwargs)  # type: ignore[call-overload]
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise InputError(f"{corpus}: cannot read {path}: {e}") from e


def require_columns(df: pd.DataFrame, columns: Iterable[str], corpus: str, path: Path) -> None:
    """Raise ``InputError`` if ``df`` (read from ``path``) lacks any of ``columns``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{corpus}: {path} lacks columns {missing}; is it the file the MANIFEST describes?")


def build_frame(
    texts: Sequence[str],
    labels: Sequence[Iterable[str]],
    weak: Sequence[bool],
    source: str,
) -> pd.DataFrame:
    """Return a frame in the adapter schema: one row per text, a 0/1 column per label.

    ``labels[i]`` names the positive labels of row ``i`` (empty = clean).
    """
    if not len(texts) == len(labels) == len(weak):
        raise ValueError("texts, labels and weak must have the same length")
    data: dict[str, object] = {"text": [str(t) for t in texts]}
    label_sets = [set(ls) for ls in labels]
    for ls in label_sets:
        unknown = ls.difference(LABELS)
        if unknown:
            raise ValueError(f"unknown labels {sorted(unknown)}")
    for label in LABELS:
        data[label] = [int(label in ls) for ls in label_sets]
    data["source"] = source
    data["weak"] = [bool(w) for w in weak]
    data["template_id"] = ""
    data["split_key"] = ""
    frame = pd.DataFrame(data, columns=list(COLUMNS))
    for label in LABELS:
        frame[label] = frame[label].astype("int64")
    return frame


def tidy_tweet(text: str) -> str:
    """Return a tweet with HTML entities decoded, handles masked as ``@USER``, links as ``URL``, no ``RT``."""
    text = html.unescape(str(text))
    text = _RETWEET.sub("", text)
    text = _URL.sub("URL", text)
    return _MENTION.sub("@USER", text)
