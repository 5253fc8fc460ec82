"""Identity-term bias metrics (Jigsaw Unintended Bias style) and neutral-mention false positives.

Target: "any violation" — the gold target is 1 when a text has any label, the
score is the maximum probability over labels. For each identity subgroup
(texts mentioning one of its terms) three AUCs are computed (Borkan et al., 2019):

- Subgroup AUC: only texts in the subgroup. Low: the model confuses violations and
  non-violations that mention the identity.
- BPSN AUC (background positive, subgroup negative): violations outside the subgroup
  against non-violations inside it. Low: neutral mentions score too high (false positives).
- BNSP AUC (background negative, subgroup positive): violations inside the subgroup
  against non-violations outside it. Low: attacks on the group score too low (misses).

Final metric = 0.25 x overall AUC + 0.75 x mean of the three generalised power
means (p = -5) of the per-subgroup AUCs; the power mean weights the worst subgroups most.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from mailguard.taxonomy import LABELS

#: Identity subgroups and the terms that put a text in them (matched case-insensitively on word boundaries).
#: Names match the ``identity_group`` values of the functional suite where the suite has the group.
IDENTITY_TERMS: Final[dict[str, tuple[str, ...]]] = {
    "women": ("woman", "women", "female", "females", "girl", "girls", "lady", "ladies"),
    "gay": ("gay", "gays", "lesbian", "lesbians", "homosexual", "homosexuals", "queer", "bisexual"),
    "trans": ("trans", "transgender", "transsexual", "nonbinary", "non-binary"),
    "muslim": ("muslim", "muslims", "islam", "islamic"),
    "jewish": ("jew", "jews", "jewish", "judaism"),
    "christian": ("christian", "christians", "christianity", "catholic", "catholics"),
    "black": ("black", "blacks", "african american", "african americans"),
    "asian": ("asian", "asians"),
    "mexican": ("mexican", "mexicans", "latino", "latinos", "latina", "latinas", "hispanic", "hispanics"),
    "immigrant": ("immigrant", "immigrants", "migrant", "migrants", "refugee", "refugees"),
    "disabled": ("disabled", "disability", "disabilities", "wheelchair", "deaf", "blind", "autistic"),
    "old": ("old", "elderly", "senior", "seniors", "older", "boomer", "boomers"),
    "young": ("young", "youth", "teenager", "teenagers", "millennial", "millennials", "kid", "kids"),
}

#: Power of the generalised mean over subgroups; negative so the worst subgroup dominates.
POWER: Final[float] = -5.0
#: Weight of the overall AUC in the final metric (the three subgroup means share the rest).
OVERALL_WEIGHT: Final[float] = 0.25
#: Subgroups with fewer test texts than this are skipped (their AUCs would be noise).
MIN_SUBGROUP_SIZE: Final[int] = 30


def _pattern(terms: Sequence[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(t).replace(r"\ ", r"\s+") for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)


_PATTERNS: Final[dict[str, re.Pattern[str]]] = {g: _pattern(t) for g, t in IDENTITY_TERMS.items()}


def identity_masks(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Return, per identity subgroup, a boolean array: does each text mention one of its terms."""
    return {g: np.array([bool(p.search(t)) for t in texts], dtype=bool) for g, p in _PATTERNS.items()}


def any_violation(Y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the "any violation" gold target (any label is 1) and score (max probability over labels)."""
    return (np.asarray(Y).max(axis=1) > 0).astype(int), np.asarray(proba, dtype=float).max(axis=1)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else math.nan


def subgroup_auc(y: np.ndarray, score: np.ndarray, in_group: np.ndarray) -> float:
    """Return the ROC-AUC restricted to subgroup texts (NaN without both classes)."""
    return _auc(y[in_group], score[in_group])


def bpsn_auc(y: np.ndarray, score: np.ndarray, in_group: np.ndarray) -> float:
    """Return the AUC on background positives plus subgroup negatives (NaN without both)."""
    mask = (~in_group & (y == 1)) | (in_group & (y == 0))
    return _auc(y[mask], score[mask])


def bnsp_auc(y: np.ndarray, score: np.ndarray, in_group: np.ndarray) -> float:
    """Return the AUC on background negatives plus subgroup positives (NaN without both)."""
    mask = (~in_group & (y == 0)) | (in_group & (y == 1))
    return _auc(y[mask], score[mask])


def power_mean(values: Sequence[float], p: float = POWER) -> float:
    """Return the generalised mean ``(mean(v ** p)) ** (1 / p)``; NaN for no values."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return math.nan
    if p < 0 and (arr <= 0).any():  # the limit as a value goes to 0: the mean is 0
        return 0.0
    return float(np.mean(arr**p) ** (1.0 / p))


def bias_report(
    Y: np.ndarray,
    proba: np.ndarray,
    texts: Sequence[str],
    min_subgroup_size: int = MIN_SUBGROUP_SIZE,
) -> dict[str, Any]:
    """Return per-subgroup AUCs, the skipped subgroups with reasons, overall AUC and the final bias metric.

    A subgroup is skipped when it has fewer than ``min_subgroup_size`` texts or
    when one of its three AUCs is undefined (no violation or no clean text in it).
    ``final_metric`` is NaN when the overall AUC is undefined; with no usable
    subgroup it equals the overall AUC (nothing to penalise, stated in ``note``).
    """
    y, score = any_violation(Y, proba)
    overall = _auc(y, score)
    subgroups: dict[str, dict[str, float | int]] = {}
    skipped: dict[str, str] = {}
    for group, in_group in identity_masks(texts).items():
        n = int(in_group.sum())
        if n < min_subgroup_size:
            skipped[group] = f"{n} texts < {min_subgroup_size}"
            continue
        aucs = {
            "subgroup_auc": subgroup_auc(y, score, in_group),
            "bpsn_auc": bpsn_auc(y, score, in_group),
            "bnsp_auc": bnsp_auc(y, score, in_group),
        }
        if any(math.isnan(v) for v in aucs.values()):
            skipped[group] = f"{n} texts but {int(y[in_group].sum())} violations: an AUC is undefined"
            continue
        subgroups[group] = {"n": n, "positives": int(y[in_group].sum()), **aucs}
    means = {
        f"power_mean_{key}": power_mean([s[key] for s in subgroups.values()])
        for key in ("subgroup_auc", "bpsn_auc", "bnsp_auc")
    }
    report: dict[str, Any] = {"overall_auc": overall, **means, "subgroups": subgroups, "skipped": skipped}
    if subgroups:
        report["final_metric"] = OVERALL_WEIGHT * overall + (1 - OVERALL_WEIGHT) * float(np.mean(list(means.values())))
    else:
        report["final_metric"] = overall
        report["note"] = "no identity subgroup had enough texts; final_metric is the overall AUC"
    return report


def _mentions_group(suite: pd.DataFrame) -> np.ndarray:
    return (suite["identity_group"].fillna("").astype(str) != "").to_numpy()


def _violates(frame: pd.DataFrame) -> np.ndarray:
    return frame[list(LABELS)].to_numpy().max(axis=1) > 0


def neutral_identity_mask(suite: pd.DataFrame) -> np.ndarray:
    """Return a boolean array over ``suite`` rows: the case mentions an identity group and carries no label."""
    return _mentions_group(suite) & ~_violates(suite)


def neutral_identity_fpr(suite: pd.DataFrame, pred: np.ndarray) -> dict[str, dict[str, float | int]]:
    """Return, per identity group, how many neutral-mention cases there are and the share flagged with any label.

    ``pred`` is the (n, 10) 0/1 prediction matrix aligned with ``suite`` rows.
    A neutral-mention case ("my wife is Muslim", "our deaf colleague") should
    never be flagged; this rate is what the promotion gate watches per group.
    """
    mask = neutral_identity_mask(suite)
    flagged = np.asarray(pred)[mask].max(axis=1) > 0 if mask.any() else np.zeros(0, dtype=bool)
    groups = suite["identity_group"].astype(str).to_numpy()[mask]
    out: dict[str, dict[str, float | int]] = {}
    for group in sorted(set(groups)):
        in_group = groups == group
        out[group] = {"n": int(in_group.sum()), "fpr": float(flagged[in_group].mean())}
    return out


#: Template-id marker of the authored stance pairs (pipelines/authored.py, data/authored/stance.yaml).
STANCE_MARKER: Final[str] = ".stance_"


def stance_contrast(test: pd.DataFrame, pred: np.ndarray) -> dict[str, float | int]:
    """Return how a model handles held-out stance pairs: clean ones flagged, violating ones caught.

    Stance pairs say the same claim about a group with a different stance (asserted vs rejected,
    condemned or quoted to report it), so words alone cannot separate them. The test split holds
    claims never seen in training. ``pred`` is the (n, 10) 0/1 matrix aligned with ``test``. Returns
    ``{}`` when the split has no stance rows (e.g. a dataset prepared without the authored corpus).
    """
    if "template_id" not in test.columns:
        return {}
    is_stance = test["template_id"].fillna("").astype(str).str.contains(STANCE_MARKER, regex=False).to_numpy()
    if not is_stance.any():
        return {}
    gold = _violates(test)[is_stance]
    flagged = np.asarray(pred)[is_stance].max(axis=1) > 0
    return {
        "n_clean": int((~gold).sum()),
        "clean_flagged": float(flagged[~gold].mean()) if (~gold).any() else math.nan,
        "n_violating": int(gold.sum()),
        "violations_caught": float(flagged[gold].mean()) if gold.any() else math.nan,
    }


def identity_attacks_flagged(suite: pd.DataFrame, pred: np.ndarray) -> float:
    """Return the share of suite cases attacking an identity group that get any label: the recall
    that the neutral-mention false-positive rate must be read against (NaN without such cases)."""
    attacks = _violates(suite) & _mentions_group(suite)
    return float((np.asarray(pred)[attacks].max(axis=1) > 0).mean()) if attacks.any() else math.nan


def identity_mention_auc(suite: pd.DataFrame, proba: np.ndarray) -> float:
    """Return the ROC-AUC separating suite attacks on a group from neutral mentions of a group.

    Threshold-free companion of :func:`neutral_identity_fpr`: a model that flags few neutral
    mentions only because it flags little at all scores 0.5 here, not better. The score is the
    maximum probability over labels; NaN without both kinds of case.
    """
    gold = _violates(suite)
    chosen = _mentions_group(suite)  # attacks on a group and neutral mentions of one
    return _auc(gold[chosen].astype(int), np.asarray(proba, dtype=float).max(axis=1)[chosen])


def plot_subgroups(table: pd.DataFrame, path: str | Path) -> Path:
    """Draw per-subgroup AUCs and neutral-mention FPR (columns of ``bias_subgroups.csv``) to a PNG; return it."""
    from pipelines.metrics import pyplot

    plt = pyplot()
    path = Path(path)
    fig, (ax_auc, ax_fpr) = plt.subplots(1, 2, figsize=(11, max(2.5, 0.35 * len(table) + 1)), sharey=True)
    y = np.arange(len(table))
    for k, (col, color) in enumerate(
        (("subgroup_auc", "tab:blue"), ("bpsn_auc", "tab:orange"), ("bnsp_auc", "tab:green"))
    ):
        ax_auc.barh(y + (k - 1) * 0.27, table[col].fillna(0), height=0.27, label=col, color=color)
    ax_auc.set_yticks(y, table["subgroup"])
    ax_auc.set_xlim(0, 1)
    ax_auc.set_xlabel("AUC (identity-mention test texts)")
    ax_auc.legend(fontsize=7)
    ax_fpr.barh(y, table["neutral_fpr"].fillna(0), color="tab:red")
    ax_fpr.set_xlim(0, 1)
    ax_fpr.set_xlabel("false-positive rate, neutral mentions (functional suite)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
