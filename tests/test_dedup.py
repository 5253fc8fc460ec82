"""Duplicate handling: exact duplicates merge with the union of labels, near duplicates group and thin out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mailguard.taxonomy import LABELS
from mailguard.text import normalise_for_matching
from pipelines.dedup import band_rows, near_duplicate_groups
from pipelines.prepare import drop_near_duplicates, merge_exact_duplicates, merge_template_groups
from pipelines.sources.common import build_frame


def frame(rows: list[tuple[str, set[str], bool, str]]) -> tuple[pd.DataFrame, pd.Series]:
    """Return (adapter-schema frame, normalised keys) from (text, labels, weak, source) tuples."""
    parts = [build_frame([t], [labels], [weak], source) for t, labels, weak, source in rows]
    df = pd.concat(parts, ignore_index=True)
    return df, pd.Series([normalise_for_matching(t) for t in df["text"]])


def positives(row: pd.Series) -> set[str]:
    return {lb for lb in LABELS if row[lb]}


def test_near_duplicates_share_a_group_and_different_texts_do_not() -> None:
    base = "please remember to submit your quarterly expense reports to finance by friday afternoon"
    texts = [
        base,
        base + " thanks",  # one word added: Jaccard of 3-shingles ~0.93
        "the quarterly picnic is cancelled because of the weather forecast for saturday",
        base.replace("friday", "monday"),  # one word changed in the middle
        "short",
        "",
    ]
    groups = near_duplicate_groups(texts, threshold=0.8)
    assert groups[0] == groups[1]
    assert len({groups[0], groups[2], groups[4], groups[5]}) == 4
    # a changed word breaks 3 of 13 shingles: J = 10/16 < 0.8, so not grouped at 0.8, grouped at 0.5
    assert groups[3] != groups[0]
    assert near_duplicate_groups(texts, threshold=0.5)[3] == near_duplicate_groups(texts, threshold=0.5)[0]


def test_group_ids_are_deterministic_and_numbered_by_first_appearance() -> None:
    texts = [f"message number {i} about the budget meeting on level {i % 3}" for i in range(50)]
    first, second = near_duplicate_groups(texts, 0.8), near_duplicate_groups(texts, 0.8)
    assert np.array_equal(first, second)
    assert first[0] == 0 and np.all(np.diff(np.maximum.accumulate(first)) <= 1)


def test_banding_proposes_most_pairs_at_the_threshold() -> None:
    rows = band_rows(0.8)
    bands = 128 // rows
    assert 1 - (1 - 0.8**rows) ** bands >= 0.9
    assert band_rows(0.95) > band_rows(0.5)  # stricter threshold -> more selective bands


def test_exact_duplicates_merge_with_union_of_labels_and_are_counted() -> None:
    df, keys = frame(
        [
            ("Go back home, you people!", {"national_origin"}, False, "ethos"),
            ("go back home you people", {"race"}, False, "mlma_hate_speech_en"),  # same normalised text
            ("Lunch at noon?", set(), False, "sms_spam_collection"),
            ("lunch at noon", set(), True, "youtube_spam_collection"),
        ]
    )
    merged, merged_keys, removed, conflicts = merge_exact_duplicates(df, keys)
    assert removed == 2 and conflicts == 1 and len(merged) == 2
    first = merged.iloc[0]
    assert first["text"] == "Go back home, you people!" and first["source"] == "ethos"  # first occurrence kept
    assert positives(first) == {"national_origin", "race"}
    assert bool(first["weak"])  # disagreeing duplicates make the merged label uncertain
    assert not bool(merged.iloc[1]["weak"])  # agreeing duplicates: strong if any copy was strong
    assert merged_keys.is_unique


def test_a_reviewer_decision_overrides_corpus_labels_of_the_same_text() -> None:
    df, keys = frame(
        [
            ("Join our charity run this weekend", {"solicitation"}, True, "enron_spam"),
            ("join our charity run this weekend!", set(), False, "review"),
        ]
    )
    merged, _, removed, _ = merge_exact_duplicates(df, keys)
    assert removed == 1
    assert merged.iloc[0]["source"] == "review"
    assert positives(merged.iloc[0]) == set()


def test_near_duplicates_with_the_same_labels_are_removed_and_differing_ones_kept_grouped() -> None:
    spam = "limited offer buy cheap watches online today with free shipping and no hidden fees at all"
    df, keys = frame(
        [
            (spam, {"solicitation"}, True, "enron_spam"),
            (spam + " now", {"solicitation"}, False, "enron_spam"),  # strong copy: preferred over the weak one
            (spam + " ok", set(), False, "sms_spam_collection"),  # same group, other labels: kept
            ("the committee meets on tuesday to review the annual budget and staffing", set(), False, "enron_spam"),
        ]
    )
    kept, removed, groups = drop_near_duplicates(df, keys, 0.8)
    assert removed == 1 and groups == 1 and len(kept) == 3
    assert kept["text"].tolist()[0] == spam + " now"
    assert kept["group_id"].iloc[0] == kept["group_id"].iloc[1] != kept["group_id"].iloc[2]


def test_authored_rows_sharing_a_template_share_a_group() -> None:
    groups = np.array([0, 1, 2, 3])
    templates = np.array(["t1", "", "t1", ""])
    merged = merge_template_groups(groups, templates)
    assert merged[0] == merged[2]
    assert len({merged[0], merged[1], merged[3]}) == 3


def test_near_duplicate_search_finds_the_one_pair_among_thousands_of_unrelated_texts() -> None:
    # Speed on 100k real texts is measured by `mailguard data prepare`, not asserted here.
    rng = np.random.default_rng(0)
    vocab = np.array([f"w{i}" for i in range(5000)])
    texts = [" ".join(rng.choice(vocab, size=rng.integers(8, 60))) for _ in range(3_000)]
    texts[1] = texts[0] + " extra"
    groups = near_duplicate_groups(texts, 0.8)
    assert groups[0] == groups[1]
    assert len(np.unique(groups)) >= 2_990  # random texts are not near duplicates of each other
