"""Calibration error, reliability data and temperature scaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from mailguard.taxonomy import LABELS
from pipelines.calibration import (
    apply_temperatures,
    ece_per_label,
    expected_calibration_error,
    fit_temperatures,
    plot_reliability,
    reliability_table,
)


def test_ece_with_one_example_per_bin_is_mean_absolute_gap() -> None:
    # 15 bins: 0.2 -> bin 3, 0.4 -> 6, 0.7 -> 10, 0.9 -> 13; gaps .2 .4 .3 .1.
    y = np.array([0, 0, 1, 1])
    p = np.array([0.2, 0.4, 0.7, 0.9])
    assert expected_calibration_error(y, p) == pytest.approx((0.2 + 0.4 + 0.3 + 0.1) / 4)


def test_ece_compares_bin_averages_not_single_examples() -> None:
    # Both in bin 7 ([0.467, 0.533)): positive rate 0.5 vs mean score 0.51.
    assert expected_calibration_error(np.array([1, 0]), np.array([0.5, 0.52])) == pytest.approx(0.01)


def test_probability_one_falls_in_the_last_bin() -> None:
    assert expected_calibration_error(np.array([1]), np.array([1.0])) == pytest.approx(0.0)


def test_ece_per_label_and_reliability_table_cover_every_label() -> None:
    rng = np.random.default_rng(1)
    P = rng.random((200, len(LABELS)))
    Y = (rng.random((200, len(LABELS))) < P).astype(int)
    ece = ece_per_label(Y, P)
    assert set(ece) == set(LABELS)
    table = reliability_table(Y, P)
    assert set(table["label"]) == set(LABELS)
    assert table.groupby("label")["count"].sum().eq(200).all()


def test_reliability_plot_is_written_as_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    P = rng.random((50, len(LABELS)))
    path = plot_reliability(reliability_table((P > 0.5).astype(int), P), tmp_path / "r.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_temperature_scaling_recovers_overconfidence_and_keeps_ranking() -> None:
    rng = np.random.default_rng(3)
    z = rng.normal(0, 1.5, size=(3000, len(LABELS)))
    Y = (rng.random(z.shape) < expit(z)).astype(int)
    overconfident = expit(3 * z)  # the model's logits are three times too large
    temps = fit_temperatures(overconfident, Y)
    assert np.all((temps > 2.4) & (temps < 3.6))
    scaled = apply_temperatures(overconfident, temps)
    assert ece_per_label(Y, scaled)["age"] < ece_per_label(Y, overconfident)["age"]
    assert roc_auc_score(Y[:, 0], scaled[:, 0]) == pytest.approx(roc_auc_score(Y[:, 0], overconfident[:, 0]))


def test_label_with_one_class_keeps_temperature_one() -> None:
    P = np.full((10, len(LABELS)), 0.3)
    assert np.all(fit_temperatures(P, np.zeros((10, len(LABELS)))) == 1.0)
