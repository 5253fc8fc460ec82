"""Evaluation on mail the way users meet it: the separately written evaluation mail, held-out real Enron ham.

Both are scored exactly like nightly mail: a message is its sections (subject, new text, quoted text),
each read as sentence windows, maximum per label (``Classifier.score_documents``). Results are counts
and rates only (no text), so they can go to MLflow and the model card.

- ``written_eval``: ``data/written/eval`` was written in separate passes (other departments, personas and
  topics) and is never read by ``prepare``: per-label recall and precision at the shipped thresholds,
  the share of ordinary mail given any label, and the same for long ordinary mail (3+ paragraphs:
  digests, newsletters, forwarded articles, technical threads).
- ``enron_heldout``: every ham message of the mailbox owners held out as test (``data.fixed_splits``),
  whole messages: the share given ``solicitation`` and the share given any label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mailguard.taxonomy import LABELS
from models.base import Classifier
from pipelines.units import mail_sections
from pipelines.written_mail import WrittenMessage, read_portion

CLEAN_KINDS = ("ordinary", "group_mention", "counter_speech", "incident_report")


def _paragraphs(body: str) -> int:
    return sum(1 for p in body.split("\n\n") if p.strip())


def _flags(clf: Classifier, documents: list[list[Any]]) -> np.ndarray:
    return clf.score_documents(documents).proba >= np.asarray(clf.thresholds_, dtype=float)


def written_eval_report(clf: Classifier, root: Path) -> dict[str, Any]:
    """Return recall per label, precision per label and false-positive rates on the written evaluation mail.

    ``root`` is the written corpus (``data.written_root``); only its ``eval/`` portion is read.
    """
    messages: list[WrittenMessage] = read_portion("eval", root)
    flags = _flags(clf, [mail_sections(m.subject, m.body) for m in messages])
    gold = np.array([[lb in m.labels for lb in LABELS] for m in messages], dtype=bool)
    kinds = np.array([m.kind for m in messages])
    clean = np.asarray(~gold.any(axis=1), dtype=bool)
    ordinary = np.asarray(kinds == "ordinary", dtype=bool)
    long_ordinary = ordinary & np.array([_paragraphs(m.body) >= 3 for m in messages])
    per_label: dict[str, dict[str, float]] = {}
    for j, lb in enumerate(LABELS):
        pos, hit = gold[:, j], flags[:, j]
        per_label[lb] = {
            "n": int(pos.sum()),
            "recall": float(hit[pos].mean()) if pos.any() else float("nan"),
            "precision": float(pos[hit].mean()) if hit.any() else float("nan"),
        }
    recalls = [v["recall"] for v in per_label.values() if v["n"]]
    return {
        "n": len(messages),
        "per_label": per_label,
        "macro_recall": float(np.mean(recalls)) if recalls else float("nan"),
        "min_recall": float(np.min(recalls)) if recalls else float("nan"),
        "exact_match": float((flags == gold).all(axis=1).mean()),
        "clean_any_label_fpr": _rate(flags, clean),
        "ordinary_any_label_fpr": _rate(flags, ordinary),
        "long_ordinary_any_label_fpr": _rate(flags, long_ordinary),
        "per_kind_any_label": {str(k): _rate(flags, np.asarray(kinds == k, dtype=bool)) for k in CLEAN_KINDS},
        "n_ordinary": int(ordinary.sum()),
        "n_long_ordinary": int(long_ordinary.sum()),
    }


def _rate(flags: np.ndarray, mask: np.ndarray) -> float:
    return float(flags[mask].any(axis=1).mean()) if mask.any() else float("nan")


def enron_heldout_report(clf: Classifier, test: pd.DataFrame) -> dict[str, Any]:
    """Return flag rates on the whole ham messages of the held-out Enron mailbox owners in ``test``."""
    rows = test[test["split_key"].astype(str).str.startswith("enron-owner:") & (test["unit"] == "message")]
    if rows.empty:
        return {"n": 0}
    flags = _flags(clf, [mail_sections("", text) for text in rows["text"].tolist()])
    sol = LABELS.index("solicitation")
    per_owner = {
        str(owner.removeprefix("enron-owner:")): {"n": len(idx), "any_label": float(flags[idx].any(axis=1).mean())}
        for owner, idx in rows.reset_index(drop=True).groupby("split_key").indices.items()
    }
    return {
        "n": len(rows),
        "solicitation_rate": float(flags[:, sol].mean()),
        "any_label_rate": float(flags.any(axis=1).mean()),
        "per_label_rate": {lb: float(flags[:, j].mean()) for j, lb in enumerate(LABELS)},
        "per_owner": per_owner,
    }
