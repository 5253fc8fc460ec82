"""Calibration: expected calibration error, reliability diagrams and per-label temperature scaling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import expit, logit

from mailguard.taxonomy import LABELS
from pipelines.metrics import pyplot

#: Number of equal-width probability bins for ECE and reliability diagrams.
N_BINS = 15

_EPS = 1e-6  # keeps logit() finite for probabilities of exactly 0 or 1


def _bin_index(proba: np.ndarray, n_bins: int) -> np.ndarray:
    # Bins are [0, 1/n), [1/n, 2/n), ..., [(n-1)/n, 1]: 1.0 belongs to the last bin.
    return np.minimum((np.asarray(proba, dtype=float) * n_bins).astype(int), n_bins - 1)


def expected_calibration_error(y: np.ndarray, proba: np.ndarray, n_bins: int = N_BINS) -> float:
    """Return the ECE of one label: the support-weighted mean |positive rate - mean probability| over bins.

    Uses ``n_bins`` equal-width bins on [0, 1]; empty bins contribute nothing.
    Returns NaN for an empty input.
    """
    y = np.asarray(y, dtype=float)
    proba = np.asarray(proba, dtype=float)
    if len(y) == 0:
        return float("nan")
    idx = _bin_index(proba, n_bins)
    ece = 0.0
    for b in range(n_bins):
        mask = idx == b
        if mask.any():
            ece += mask.sum() / len(y) * abs(y[mask].mean() - proba[mask].mean())
    return float(ece)


def ece_per_label(Y: np.ndarray, proba: np.ndarray, n_bins: int = N_BINS) -> dict[str, float]:
    """Return the expected calibration error of each label, keyed by label name."""
    Y, proba = np.asarray(Y), np.asarray(proba, dtype=float)
    return {lb: expected_calibration_error(Y[:, j], proba[:, j], n_bins) for j, lb in enumerate(LABELS)}


def reliability_table(Y: np.ndarray, proba: np.ndarray, n_bins: int = N_BINS) -> pd.DataFrame:
    """Return reliability-diagram data: one row per label and non-empty bin.

    Columns: ``label, bin, bin_lower, bin_upper, mean_confidence, fraction_positive, count``.
    A perfectly calibrated model has ``fraction_positive == mean_confidence`` in every bin.
    """
    Y, proba = np.asarray(Y), np.asarray(proba, dtype=float)
    rows = []
    for j, lb in enumerate(LABELS):
        idx = _bin_index(proba[:, j], n_bins)
        for b in range(n_bins):
            mask = idx == b
            if not mask.any():
                continue
            rows.append({
                "label": lb,
                "bin": b,
                "bin_lower": b / n_bins,
                "bin_upper": (b + 1) / n_bins,
                "mean_confidence": float(proba[mask, j].mean()),
                "fraction_positive": float(Y[mask, j].mean()),
                "count": int(mask.sum()),
            })
    columns = ["label", "bin", "bin_lower", "bin_upper", "mean_confidence", "fraction_positive", "count"]
    return pd.DataFrame(rows, columns=columns)


def plot_reliability(table: pd.DataFrame, path: str | Path) -> Path:
    """Draw the reliability diagram of every label (one panel each) to a PNG at ``path``; return it."""
    plt = pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(2, 5, figsize=(15, 6), sharex=True, sharey=True)
    for ax, lb in zip(axes.ravel(), LABELS, strict=True):
        part = table[table["label"] == lb]
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        if len(part):
            ax.plot(part["mean_confidence"], part["fraction_positive"], marker="o")
        ax.set_title(lb, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    fig.supxlabel("mean predicted probability")
    fig.supylabel("fraction positive")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def fit_temperatures(proba_val: np.ndarray, Y_val: np.ndarray) -> np.ndarray:
    """Return one temperature per label that minimises validation log-loss of ``sigmoid(logit(p) / T)``.

    ``T > 1`` softens over-confident scores, ``T < 1`` sharpens timid ones. A label
    whose validation data has a single class keeps ``T = 1`` (nothing to fit).
    Temperature scaling is monotone, so ranking metrics (AUCs) are unchanged.
    """
    Y_val, proba_val = np.asarray(Y_val, dtype=float), np.asarray(proba_val, dtype=float)
    logits = logit(np.clip(proba_val, _EPS, 1 - _EPS))
    temps = np.ones(len(LABELS))
    for j in range(len(LABELS)):
        y, z = Y_val[:, j], logits[:, j]
        if y.min() == y.max():
            continue

        def nll(log_t: float, y: np.ndarray = y, z: np.ndarray = z) -> float:
            p = np.clip(expit(z / np.exp(log_t)), _EPS, 1 - _EPS)
            return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

        # Optimise log T so that T stays positive; e^±4 covers any sensible temperature.
        res = minimize_scalar(nll, bounds=(-4.0, 4.0), method="bounded")
        temps[j] = float(np.exp(res.x))
    return temps


def apply_temperatures(proba: np.ndarray, temperatures: np.ndarray) -> np.ndarray:
    """Return ``proba`` rescaled per label as ``sigmoid(logit(p) / T)``."""
    proba = np.asarray(proba, dtype=float)
    return expit(logit(np.clip(proba, _EPS, 1 - _EPS)) / np.asarray(temperatures, dtype=float))
