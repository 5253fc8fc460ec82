"""OLID / OffensEval 2019 training tweets: NOT as clean, group-directed political offence as political."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from pipelines.sources.common import build_frame, corpus_files, read_table, require_columns, tidy_tweet
from pipelines.sources.lexicons import mentions_political_terms

CORPUS = "olid"
# Only the training file: the level-A/B/C test files stay out so OLID's own test set remains untouched.
FILE = "olid-training-v1.0.tsv"


def load(root: Path) -> pd.DataFrame:
    """Return OLID training tweets: NOT -> clean; OFF+TIN+GRP naming a political group -> political (weak).

    MANIFEST §5 mapping: NOT -> clean (exact). OFF+TIN+GRP -> group-directed offence, "many of these are
    political ... so ≈political, and the rest need heuristics": rows whose text names a political
    affiliation (lexicons.POLITICAL_TERMS) -> political, weak. Everything else that is offensive is
    dropped: OFF+TIN+GRP without a political term (group unknown), OFF+TIN+IND (personal insult, no
    protected category), OFF+TIN+OTH and OFF+UNT (untargeted profanity). Dropping, rather than keeping
    them as all-zero, avoids teaching the model that abuse aimed at an unnamed group is acceptable.
    """
    (path,) = corpus_files(root, CORPUS, [FILE])
    # MANIFEST §5: read the training TSV with QUOTE_NONE (tweets contain stray quotes).
    df = read_table(path, CORPUS, sep="\t", quoting=csv.QUOTE_NONE, keep_default_na=False, dtype=str, encoding="utf-8")
    require_columns(df, ["tweet", "subtask_a", "subtask_b", "subtask_c"], CORPUS, path)

    texts: list[str] = []
    labels: list[set[str]] = []
    weak: list[bool] = []
    for row in df.itertuples(index=False):
        text = tidy_tweet(row.tweet)
        if row.subtask_a == "NOT":
            texts.append(text)
            labels.append(set())
            weak.append(False)
        elif (row.subtask_a, row.subtask_b, row.subtask_c) == ("OFF", "TIN", "GRP") and mentions_political_terms(text):
            texts.append(text)
            labels.append({"political"})
            weak.append(True)
    return build_frame(texts, labels, weak, CORPUS)
