"""Identity-term bias metrics on tiny hand-made examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mailguard.taxonomy import LABELS
from pipelines.fairness import (
    bias_report,
    bnsp_auc,
    bpsn_auc,
    identity_attacks_flagged,
    identity_masks,
    identity_mention_auc,
    neutral_identity_fpr,
    power_mean,
    stance_contrast,
    subgroup_auc,
)

# Six texts: three mention the subgroup. Text 1 is a neutral mention scored high (a false-positive risk).
IN_GROUP = np.array([True, True, True, False, False, False])
Y = np.array([1, 0, 0, 1, 0, 0])
SCORE = np.array([0.9, 0.8, 0.2, 0.7, 0.1, 0.3])
TEXTS = [
    "muslims are vermin",
    "my muslim neighbour brought food",
    "the muslim prayer room is on floor two",
    "you people are vermin",
    "meeting at noon",
    "budget approved",
]


def test_subgroup_auc_only_looks_inside_the_subgroup() -> None:
    # In the subgroup the positive (0.9) outranks both negatives (0.8, 0.2).
    assert subgroup_auc(Y, SCORE, IN_GROUP) == pytest.approx(1.0)


def test_bpsn_auc_catches_neutral_mentions_scored_high() -> None:
    # Background positive 0.7 against subgroup negatives 0.8 (lost) and 0.2 (won).
    assert bpsn_auc(Y, SCORE, IN_GROUP) == pytest.approx(0.5)


def test_bnsp_auc_compares_subgroup_positives_with_background_negatives() -> None:
    # Subgroup positive 0.9 against background negatives 0.1 and 0.3.
    assert bnsp_auc(Y, SCORE, IN_GROUP) == pytest.approx(1.0)


def test_power_mean_with_p_minus_5_is_pulled_towards_the_worst() -> None:
    # ((0.5^-5 + 1^-5) / 2)^(-1/5) = 16.5^-0.2
    assert power_mean([0.5, 1.0], p=-5) == pytest.approx(16.5**-0.2)
    assert 0.5 < power_mean([0.5, 1.0], p=-5) < 0.6 < np.mean([0.5, 1.0])
    assert power_mean([0.0, 1.0], p=-5) == 0.0
    assert np.isnan(power_mean([], p=-5))


def test_identity_terms_match_whole_words_only() -> None:
    masks = identity_masks(["The GOLD standard", "Oldham office", "an OLD colleague", "Muslims and Jews", ""])
    assert masks["old"].tolist() == [False, False, True, False, False]
    assert masks["muslim"].tolist() == [False, False, False, True, False]
    assert masks["jewish"].tolist() == [False, False, False, True, False]


def test_bias_report_combines_overall_and_subgroup_means() -> None:
    Ymat = np.zeros((6, len(LABELS)), dtype=int)
    Ymat[:, LABELS.index("religion")] = Y
    P = np.full((6, len(LABELS)), 0.05)
    P[:, LABELS.index("religion")] = SCORE
    report = bias_report(Ymat, P, TEXTS, min_subgroup_size=3)
    # Overall: 0.9 beats all 4 negatives, 0.7 beats 3 of 4 -> 7/8.
    assert report["overall_auc"] == pytest.approx(7 / 8)
    assert set(report["subgroups"]) == {"muslim"}
    assert report["final_metric"] == pytest.approx(0.25 * 7 / 8 + 0.75 * (1.0 + 0.5 + 1.0) / 3)
    assert report["skipped"]["women"] == "0 texts < 3"


def test_subgroup_without_violations_is_skipped_with_reason() -> None:
    Ymat = np.zeros((4, len(LABELS)), dtype=int)
    Ymat[0, 0] = 1
    texts = ["go away grandpa", "my deaf colleague", "our deaf intern", "hello"]
    report = bias_report(Ymat, np.random.default_rng(0).random((4, len(LABELS))), texts, min_subgroup_size=2)
    assert "AUC is undefined" in report["skipped"]["disabled"]
    assert report["final_metric"] == report["overall_auc"]  # nothing measurable: no subgroup penalty
    assert "note" in report


def test_neutral_identity_fpr_counts_flags_on_unlabelled_identity_mentions() -> None:
    rows = [
        ("ident_neutral", "my wife is muslim", "muslim", ""),
        ("ident_neutral", "muslim holidays calendar", "muslim", ""),
        ("ident_neutral", "our deaf colleague", "disabled", ""),
        ("derog", "muslims are vermin", "muslim", "religion"),  # labelled: not a neutral mention
        ("clean", "lunch at noon", "", ""),  # no identity: not counted
    ]
    suite = pd.DataFrame(
        [{"functionality": f, "text": t, "identity_group": g, **{lb: int(lb == gold) for lb in LABELS}}
         for f, t, g, gold in rows]
    )
    pred = np.zeros((5, len(LABELS)), dtype=int)
    pred[0, LABELS.index("religion")] = 1  # one of two neutral muslim mentions flagged
    pred[3, LABELS.index("religion")] = 1
    pred[4, LABELS.index("sexual")] = 1
    assert neutral_identity_fpr(suite, pred) == {
        "disabled": {"n": 1, "fpr": 0.0},
        "muslim": {"n": 2, "fpr": 0.5},
    }


def test_stance_contrast_reports_flags_on_clean_pairs_and_catches_on_violating_ones() -> None:
    rows = [
        ("religion.stance_neg.01", "religion"),  # asserted demeaning claim: a violation
        ("religion.stance_neg.01", ""),  # the same claim rejected: clean
        ("religion.stance_pos.02", ""),  # a respectful claim: clean
        ("religion.explicit.03", "religion"),  # not a stance pair: ignored
        ("", ""),  # a public-corpus row: ignored
    ]
    test = pd.DataFrame([{"template_id": t, **{lb: int(lb == gold) for lb in LABELS}} for t, gold in rows])
    pred = np.zeros((5, len(LABELS)), dtype=int)
    pred[[0, 1, 3], LABELS.index("religion")] = 1
    assert stance_contrast(test, pred) == {
        "n_clean": 2, "clean_flagged": 0.5, "n_violating": 1, "violations_caught": 1.0,
    }
    assert stance_contrast(test.iloc[3:], pred[3:]) == {}


def test_attacks_and_neutral_mentions_are_measured_together() -> None:
    rows = [("muslims are vermin", "muslim", "religion"), ("muslims ruin everything", "muslim", "religion"),
            ("my wife is muslim", "muslim", ""), ("our deaf colleague", "disabled", ""), ("lunch", "", "")]
    suite = pd.DataFrame([{"text": t, "identity_group": g, **{lb: int(lb == gold) for lb in LABELS}}
                          for t, g, gold in rows])
    proba = np.zeros((5, len(LABELS)))
    proba[:, LABELS.index("religion")] = [0.9, 0.3, 0.2, 0.4, 0.99]  # the unrelated "lunch" is not counted
    # Pairs (attack, neutral): (0.9, 0.2) (0.9, 0.4) (0.3, 0.2) right, (0.3, 0.4) wrong -> 3/4.
    assert identity_mention_auc(suite, proba) == pytest.approx(0.75)
    pred = (proba >= 0.5).astype(int)
    assert identity_attacks_flagged(suite, pred) == 0.5
