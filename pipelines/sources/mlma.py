"""MLMA multi-aspect hate speech (English): offensive tweets by target, 'normal' ones as clean."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.sources.common import build_frame, corpus_files, read_table, require_columns, tidy_tweet

CORPUS = "mlma_hate_speech_en"
FILE = "en_dataset_with_stop_words.csv"

# MANIFEST §7 (mlma_hate_speech_en): `sentiment` joins offensive/hateful/disrespectful/abusive/fearful/normal by '_'.
# "fearful" is the annotator's own reaction, not a property of the tweet, so it alone does not make a row abusive.
ABUSIVE_ASPECTS = frozenset({"offensive", "hateful", "disrespectful", "abusive"})
# MANIFEST §7 mapping: target -> (label, weak). origin mixes in race (≈); "other" has no label of its own.
TARGET_LABELS: dict[str, tuple[str, bool]] = {
    "disability": ("disability", False),
    "gender": ("gender", False),
    "sexual_orientation": ("sexual_orientation", False),
    "religion": ("religion", False),
    "origin": ("national_origin", True),
}
# MANIFEST §7: group african_descent -> race (instead of origin's national_origin); left_wing_people -> political≈.
RACE_GROUPS = frozenset({"african_descent"})
POLITICAL_GROUPS = frozenset({"left_wing_people"})


def load(root: Path) -> pd.DataFrame:
    """Return MLMA tweets: abusive ones labelled by target/group, exactly-'normal' ones as clean (weak).

    MANIFEST §7: sentiment == normal -> clean≈ (weak). A row with an abusive aspect takes its target's
    label (origin -> national_origin≈, but african_descent -> race≈; left_wing_people adds political≈);
    rows where annotators also said "normal" are weak. Abusive rows with target "other" and no mapped
    group, and rows that are neither abusive nor exactly normal (e.g. "fearful"), are dropped as ambiguous.
    """
    (path,) = corpus_files(root, CORPUS, [FILE])
    df = read_table(path, CORPUS, encoding="utf-8", dtype=str, keep_default_na=False)
    require_columns(df, ["tweet", "sentiment", "target", "group"], CORPUS, path)

    texts: list[str] = []
    labels: list[set[str]] = []
    weak: list[bool] = []
    for tweet, sentiment, target, group in zip(df["tweet"], df["sentiment"], df["target"], df["group"], strict=True):
        aspects = set(sentiment.split("_"))
        text = tidy_tweet(tweet)
        if aspects == {"normal"}:
            texts.append(text)
            labels.append(set())
            weak.append(True)
            continue
        if not aspects & ABUSIVE_ASPECTS:
            continue
        found: set[str] = set()
        row_weak = "normal" in aspects
        if group in RACE_GROUPS:
            found.add("race")
            row_weak = True
        elif target in TARGET_LABELS:
            label, label_weak = TARGET_LABELS[target]
            found.add(label)
            row_weak = row_weak or label_weak
        if group in POLITICAL_GROUPS:
            found.add("political")
            row_weak = True
        if found:
            texts.append(text)
            labels.append(found)
            weak.append(row_weak)
    return build_frame(texts, labels, weak, CORPUS)
