"""The functional suite covers the behaviours evaluation reports on, and shares nothing with training data."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from mailguard.taxonomy import LABELS
from mailguard.text import normalise_for_matching
from pipelines.authored import generate_authored, iter_filler_values, iter_template_strings
from pipelines.functional_suite import (
    SUITE_COLUMNS,
    identity_terms,
    iter_suite_filler_values,
    iter_suite_template_strings,
    load_suite,
    spell_variant,
)

NEAR_DUPLICATE_JACCARD = 0.5
DATA = Path(__file__).resolve().parents[1] / "data"
SUITE, AUTHORED = DATA / "functional", DATA / "authored"  # the committed suite and training templates under test


@pytest.fixture(scope="module")
def suite() -> pd.DataFrame:
    return load_suite(SUITE)


@pytest.fixture(scope="module")
def authored() -> pd.DataFrame:
    return generate_authored(AUTHORED, seed=13)


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = normalise_for_matching(text).split()
    return {tuple(words[i : i + 3]) for i in range(max(len(words) - 2, 1))}


def test_suite_has_the_contract_columns_and_unique_case_ids(suite: pd.DataFrame) -> None:
    assert list(suite.columns) == list(SUITE_COLUMNS)
    assert suite["case_id"].is_unique
    assert set(suite[list(LABELS)].stack().unique()) <= {0, 1}
    assert (suite["text"].str.strip() != "").all()


def test_suite_covers_at_least_25_functionalities_with_8_cases_each(suite: pd.DataFrame) -> None:
    sizes = suite.groupby("functionality").size()
    assert len(sizes) >= 25
    assert sizes.min() >= 8, sizes[sizes < 8]


def test_every_label_is_a_gold_positive_at_least_8_times(suite: pd.DataFrame) -> None:
    positives = suite[list(LABELS)].sum()
    assert (positives >= 8).all(), positives[positives < 8]


def test_templated_hateful_functionalities_have_8_cases_per_label(suite: pd.DataFrame) -> None:
    hateful = suite[(suite["identity_group"] != "") & (suite[list(LABELS)].sum(axis=1) > 0)]
    per_label = hateful.groupby(["functionality", "label_focus"]).size()
    templated = per_label.drop("derogation_stereotype", level=0)
    assert templated.min() >= 8, templated[templated < 8]


def test_contrast_functionalities_are_clean(suite: pd.DataFrame) -> None:
    # The whole point of these cases: a model that flags them is over-triggering on words.
    clean = [
        "negation_of_hate",
        "negated_negative_statement",
        "identity_neutral",
        "identity_positive",
        "counter_speech_quote",
        "reporting_harassment",
        "policy_discussion",
        "abuse_of_objects",
        "job_commerce",
        "sanctioned_charity",
        "profanity_untargeted",
        "workplace_idioms",
    ]
    rows = suite[suite["functionality"].isin(clean)]
    assert set(rows["functionality"]) == set(clean)
    assert rows[list(LABELS)].to_numpy().sum() == 0


def test_hateful_case_carries_its_groups_label(suite: pd.DataFrame) -> None:
    row = suite[suite["functionality"].eq("negated_positive_statement") & suite["identity_group"].eq("immigrant")]
    assert not row.empty
    assert (row["national_origin"] == 1).all()
    assert (row[[lb for lb in LABELS if lb != "national_origin"]].to_numpy() == 0).all()


def test_obfuscated_cases_hide_the_identity_word(suite: pd.DataFrame) -> None:
    spaced = suite[suite["functionality"].eq("obfuscated_spaced_letters") & suite["identity_group"].eq("muslim")]
    assert spaced["text"].str.contains("M u s l i m s").all()
    assert not spaced["text"].str.contains("Muslims").any()
    assert spell_variant("Muslims", "drop") == "Musims"
    assert spell_variant("Muslims", "swap") == "Mulsims"


def test_suite_is_deterministic(suite: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(suite, load_suite(SUITE))


def test_suite_templates_are_not_training_templates() -> None:
    authored = {normalise_for_matching(t) for t in iter_template_strings(AUTHORED)}
    shared = [t for t in iter_suite_template_strings(SUITE) if normalise_for_matching(t) in authored]
    assert shared == []


def test_suite_fillers_are_disjoint_from_training_fillers_except_identity_terms() -> None:
    exempt = {normalise_for_matching(t) for t in identity_terms(SUITE)}
    authored = {normalise_for_matching(v) for v in iter_filler_values(AUTHORED)}
    suite_values = {normalise_for_matching(re.sub(r"\{\w+\}", " ", v)) for v in iter_suite_filler_values(SUITE)}
    shared = sorted((suite_values & authored) - exempt - {""})
    assert shared == []


def test_no_suite_text_is_a_near_duplicate_of_an_authored_text(suite: pd.DataFrame, authored: pd.DataFrame) -> None:
    authored_shingles = [_shingles(t) for t in authored["text"]]
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for i, sh in enumerate(authored_shingles):
        for s in sh:
            index[s].append(i)
    exact = {normalise_for_matching(t) for t in authored["text"]}
    offenders = []
    for text in suite["text"]:
        assert normalise_for_matching(text) not in exact
        mine = _shingles(text)
        overlap: dict[int, int] = defaultdict(int)
        for s in mine:
            for i in index.get(s, ()):
                overlap[i] += 1
        for i, n in overlap.items():
            jaccard = n / (len(mine) + len(authored_shingles[i]) - n)
            if jaccard >= NEAR_DUPLICATE_JACCARD:
                offenders.append((text, authored["text"].iloc[i], round(jaccard, 2)))
    assert offenders == []
