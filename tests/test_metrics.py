"""Per-label metrics and threshold choice, checked against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mailguard.taxonomy import LABELS
from pipelines.metrics import (
    binary_scores,
    choose_thresholds,
    classification_report,
    label_confusion,
    pr_curve_points,
    threshold_sweep,
)

# The textbook four-example case: positives scored 0.35 and 0.8, negatives 0.1 and 0.4.
Y4 = np.array([0, 0, 1, 1])
P4 = np.array([0.1, 0.4, 0.35, 0.8])


def one_label(y: np.ndarray, p: np.ndarray, column: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Embed one label's gold and scores in a full (n, 10) matrix; other labels have no positives."""
    Y = np.zeros((len(y), len(LABELS)), dtype=int)
    P = np.full((len(y), len(LABELS)), 0.01)
    Y[:, column], P[:, column] = y, p
    return Y, P


def test_binary_scores_match_hand_computed_values() -> None:
    s = binary_scores(Y4, P4, threshold=0.35)
    # 3 of 4 positive/negative pairs are ranked right: 0.8 > both, 0.35 > 0.1 but < 0.4.
    assert s["roc_auc"] == pytest.approx(0.75)
    # Ranked: 0.8 (+) precision 1 at recall .5; 0.4 (-); 0.35 (+) precision 2/3 at recall 1.
    assert s["pr_auc"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # At 0.35 the flags are 0.4, 0.35, 0.8: two true positives, one false positive.
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(1.0)
    assert s["f1"] == pytest.approx(0.8)
    assert (s["support"], s["predicted"]) == (2, 3)


def test_threshold_is_inclusive_like_classifier_predict() -> None:
    assert binary_scores(np.array([1]), np.array([0.5]), threshold=0.5)["predicted"] == 1


def test_label_without_positives_is_nan_and_excluded_from_macro() -> None:
    Y, P = one_label(Y4, P4)
    report = classification_report(Y, P, np.full(len(LABELS), 0.35))
    assert math.isnan(report["per_label"]["religion"]["roc_auc"])
    assert math.isnan(report["per_label"]["religion"]["pr_auc"])
    assert report["excluded_from_macro"] == list(LABELS[1:])
    # Only the one measurable label counts, so the macro figures are its own.
    assert report["macro_roc_auc"] == pytest.approx(0.75)
    assert report["macro_f1"] == pytest.approx(0.8)


def test_micro_average_pools_every_decision() -> None:
    Y = np.zeros((2, len(LABELS)), dtype=int)
    Y[0, 0] = Y[1, 1] = 1
    P = np.zeros((2, len(LABELS)))
    P[0, 0] = 0.9  # hit
    P[1, 0] = 0.9  # false alarm on label 0
    # label 1 of row 1 is missed (score 0)
    report = classification_report(Y, P, np.full(len(LABELS), 0.5))
    assert report["micro_precision"] == pytest.approx(0.5)
    assert report["micro_recall"] == pytest.approx(0.5)
    assert report["micro_f1"] == pytest.approx(0.5)


def test_label_confusion_rows_are_gold_labels_and_clean() -> None:
    Y = np.zeros((4, len(LABELS)), dtype=int)
    Y[0, LABELS.index("race")] = 1
    Y[1, LABELS.index("race")] = 1
    pred = np.zeros_like(Y)
    pred[0, LABELS.index("race")] = 1
    pred[1, LABELS.index("national_origin")] = 1  # race text flagged as national origin
    pred[2, LABELS.index("sexual")] = 1  # clean text flagged
    table = label_confusion(Y, pred)
    assert table.loc["race", "race"] == pytest.approx(0.5)
    assert table.loc["race", "national_origin"] == pytest.approx(0.5)
    assert table.loc["clean", "sexual"] == pytest.approx(0.5)
    assert table.loc["clean", "n"] == 2
    assert table.loc["age"].drop("n").isna().all()


def test_best_f1_threshold_is_the_f1_maximiser() -> None:
    Y, P = one_label(Y4, P4)
    # Candidate thresholds give F1 0.667 (0.1), 0.8 (0.35), 0.5 (0.4), 0.667 (0.8).
    thresholds = choose_thresholds(P, Y, rule="best_f1")
    assert thresholds[0] == pytest.approx(0.35)
    assert np.all(thresholds[1:] == 0.5)  # no validation positives: default


def test_precision_target_picks_lowest_threshold_reaching_it() -> None:
    Y, P = one_label(Y4, P4)
    assert choose_thresholds(P, Y, rule="precision_target", precision_target=0.6)[0] == pytest.approx(0.35)
    assert choose_thresholds(P, Y, rule="precision_target", precision_target=0.9)[0] == pytest.approx(0.8)


def test_unreachable_precision_target_falls_back_to_best_f1() -> None:
    Y, P = one_label(np.array([1, 0, 0]), np.array([0.3, 0.9, 0.1]))  # the top score is a negative
    assert choose_thresholds(P, Y, rule="precision_target", precision_target=0.8)[0] == pytest.approx(0.3)


def test_a_threshold_that_flags_every_message_is_never_chosen() -> None:
    # Flagging all four gives F1 0.667, the best on paper, but a label that fires on all mail is useless.
    Y, P = one_label(np.array([1, 0, 0, 1]), np.array([0.2, 0.3, 0.4, 0.25]))
    threshold = choose_thresholds(P, Y, rule="best_f1")[0]
    assert threshold > P[:, 0].min()
    assert (P[:, 0] >= threshold).sum() < 4


def test_a_label_with_constant_scores_never_fires() -> None:
    # A label without training positives scores a constant prior; it must not flag everything.
    Y, P = one_label(np.array([1, 0, 0, 1]), np.zeros(4))
    threshold = choose_thresholds(P, Y, rule="best_f1")[0]
    assert threshold > 1.0


def test_unknown_threshold_rule_is_refused() -> None:
    Y, P = one_label(Y4, P4)
    with pytest.raises(ValueError, match="threshold rule"):
        choose_thresholds(P, Y, rule="median")  # type: ignore[arg-type]


def test_pr_curve_points_are_thinned_and_skip_labels_without_positives() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    Y, P = one_label(y, rng.random(500))
    points = pr_curve_points(Y, P, max_points=50)
    assert set(points["label"]) == {LABELS[0]}
    assert len(points) <= 50
    assert points["recall"].max() == 1.0 and points["recall"].min() == 0.0  # both ends kept


def test_threshold_sweep_counts_flags_and_false_positives() -> None:
    sweep = threshold_sweep(Y4, P4, np.array([0.3, 0.5])).set_index("threshold")
    assert sweep.loc[0.3, "fpr"] == pytest.approx(0.5)  # 0.4 of the two negatives
    assert sweep.loc[0.3, "recall"] == pytest.approx(1.0)
    assert sweep.loc[0.5, "flagged_share"] == pytest.approx(0.25)
    assert sweep.loc[0.5, "precision"] == pytest.approx(1.0)


def test_ordinary_mail_cap_wins_over_recall() -> None:
    from pipelines.metrics import choose_thresholds

    rng = np.random.default_rng(3)
    n = 2000
    Y = np.zeros((n, len(LABELS)), dtype=int)
    Y[:200, 0] = 1
    proba = rng.random((n, len(LABELS))) * 0.5
    proba[:200, 0] += 0.4  # positives score higher, but overlap with the top of the clean rows
    ordinary = np.zeros(n, dtype=bool)
    ordinary[1000:] = True  # half the rows are ordinary mail
    free = choose_thresholds(proba, Y, rule="best_f1", min_recall=0.95)
    capped = choose_thresholds(proba, Y, rule="best_f1", min_recall=0.95, ordinary=ordinary, max_ordinary_rate=0.01)
    assert (proba[ordinary, 0] >= free[0]).mean() > 0.01  # the recall floor alone flags ordinary mail
    assert (proba[ordinary, 0] >= capped[0]).mean() <= 0.01  # the cap holds, recall gives way
    assert (proba[Y[:, 0] > 0, 0] >= capped[0]).mean() < 0.95
