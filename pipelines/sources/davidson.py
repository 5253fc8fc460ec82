"""Davidson et al. hate / offensive / neither tweets, split into categories by slur lexicons."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.sources.common import build_frame, corpus_files, read_table, require_columns, tidy_tweet
from pipelines.sources.lexicons import mentions_sexual_terms, slur_labels

CORPUS = "davidson_hate_offensive"
FILE = "labeled_data.csv"

# MANIFEST §2 (davidson_hate_offensive): `class` is the coders' majority: 0 hate, 1 offensive, 2 neither.
HATE, OFFENSIVE, NEITHER = 0, 1, 2


def load(root: Path) -> pd.DataFrame:
    """Return Davidson tweets: hate/offensive ones with a lexicon category (weak), 'neither' ones as clean.

    MANIFEST §2 mapping:
    * class 0 (hate) -> category unknown, "mostly race, sexual-orientation or gender slurs": the slur
      lexicons (race, national_origin, religion, sexual_orientation, gender) pick the labels, weak (≈).
    * class 1 (offensive) -> "≈sexual/gender, noisy": explicit sexual vocabulary -> sexual (weak); a
      protected-group slur -> that label (weak). Gendered swear words and in-group variants are *not*
      mapped here (see lexicons.HATE_ONLY_SLURS for why).
    * class 2 (neither) -> clean (exact; tweets, not workplace register).
    Hate/offensive rows that no lexicon places are dropped: they are abusive, so they are not clean, yet
    their policy category is unknown.
    """
    (path,) = corpus_files(root, CORPUS, [FILE])
    df = read_table(path, CORPUS, encoding="utf-8")
    require_columns(df, ["class", "tweet"], CORPUS, path)

    texts: list[str] = []
    labels: list[set[str]] = []
    weak: list[bool] = []
    for cls, tweet in zip(pd.to_numeric(df["class"], errors="coerce"), df["tweet"].astype(str), strict=True):
        text = tidy_tweet(tweet)
        if cls == NEITHER:
            texts.append(text)
            labels.append(set())
            weak.append(False)
            continue
        if cls == HATE:
            found = slur_labels(text, hate=True)
        elif cls == OFFENSIVE:
            found = slur_labels(text, hate=False)
            if mentions_sexual_terms(text):
                found.add("sexual")
        else:
            continue
        if found:
            texts.append(text)
            labels.append(found)
            weak.append(True)
    return build_frame(texts, labels, weak, CORPUS)
