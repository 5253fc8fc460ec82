"""YouTube Spam Collection v1: self-promotion and selling comments -> solicitation, the rest clean."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.sources.common import build_frame, corpus_glob, read_table, require_columns, tidy_tweet

CORPUS = "youtube_spam_collection"

# MANIFEST §12 mapping (exact): CLASS 1 -> solicitation (self-promotion, selling, fundraising appeals);
# CLASS 0 -> clean (casual comments).
CLASS_LABELS: dict[int, tuple[str, ...]] = {1: ("solicitation",), 0: ()}


def load(root: Path) -> pd.DataFrame:
    """Return one row per comment of every ``Youtube0*.csv`` (CONTENT, CLASS)."""
    texts: list[str] = []
    labels: list[tuple[str, ...]] = []
    for path in corpus_glob(root, CORPUS, "Youtube*.csv"):
        df = read_table(path, CORPUS, encoding="utf-8")
        require_columns(df, ["CONTENT", "CLASS"], CORPUS, path)
        for content, cls in zip(df["CONTENT"].astype(str), pd.to_numeric(df["CLASS"], errors="coerce"), strict=True):
            if cls in CLASS_LABELS:
                texts.append(tidy_tweet(content))
                labels.append(CLASS_LABELS[int(cls)])
    return build_frame(texts, labels, [False] * len(texts), CORPUS)
