"""The pure per-batch step: a list of ``Message`` records in, one results row per record out.

Nothing here touches files, the ledger or the clock, so the same function can run
in-process, in a worker process, or under a distributed engine unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mailguard.mail.context import message_context
from mailguard.mail.message import Message
from mailguard.taxonomy import LABELS, SCORE_COLUMNS
from models.base import Classifier
from serve.scoring.settings import QueueRules, ScoreSettings

#: Column order of ``results.parquet`` (docs/ARCHITECTURE.md "Results table").
RESULT_COLUMNS: tuple[str, ...] = (
    "message_id", "source", "status", "error", "date", "sender", "to", "cc", "subject", "body", "quoted",
    "attachments", *SCORE_COLUMNS, "labels", "evidence", "model_version", "run_id", "direction", "bulk",
    "context_reason", "duplicate_of", "queue", "content_hash",
)
#: ``results.csv`` leaves out the message text itself.
CSV_COLUMNS: tuple[str, ...] = tuple(c for c in RESULT_COLUMNS if c not in ("body", "quoted"))
_BOOL_COLUMNS = ("bulk", "queue")
#: The Arrow schema of every part file and of ``results.parquet``.
RESULT_SCHEMA = pa.schema([
    pa.field(c, pa.float64() if c in SCORE_COLUMNS else pa.bool_() if c in _BOOL_COLUMNS
             else pa.timestamp("us", tz="UTC") if c == "date" else pa.string())
    for c in RESULT_COLUMNS
])


@dataclass(frozen=True)
class ScoringModel:
    """A loaded classifier and the lineage written on every row it scores."""

    classifier: Classifier
    version: str
    run_id: str = ""


def score_batch(
    messages: Sequence[Message],
    model: ScoringModel,
    settings: ScoreSettings,
    duplicate_of: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return one results row per message (``RESULT_COLUMNS``), in input order.

    Only readable messages that are not duplicates are scored; error rows and
    duplicates get NaN scores (the runner copies a duplicate's scores from its
    first copy). ``duplicate_of[i]`` is the source of the first copy of message
    ``i``, or "" when it is the first.
    """
    dups = list(duplicate_of) if duplicate_of is not None else [""] * len(messages)
    if len(dups) != len(messages):
        raise ValueError(f"duplicate_of has {len(dups)} entries for {len(messages)} messages")
    to_score = [i for i, m in enumerate(messages) if m.status == "ok" and not dups[i]]
    proba = np.full((len(messages), len(LABELS)), np.nan)
    evidence: list[dict[str, str]] = [{} for _ in messages]
    if to_score:
        scored = model.classifier.score_texts([messages[i].text for i in to_score])
        proba[to_score] = scored.proba
        for i, ev in zip(to_score, scored.evidence, strict=True):
            evidence[i] = ev
    thresholds = np.asarray(model.classifier.thresholds_, dtype=float)
    rows = [
        _row(m, proba[i], evidence[i], thresholds, model, settings, dups[i]) for i, m in enumerate(messages)
    ]
    return results_frame(rows)


def results_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Return ``rows`` as a results table with the fixed column order and dtypes (also when empty)."""
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    frame["date"] = pd.to_datetime(frame["date"], utc=True).astype("datetime64[us, UTC]")
    for col in SCORE_COLUMNS:
        frame[col] = frame[col].astype("float64")
    for col in _BOOL_COLUMNS:
        frame[col] = frame[col].astype(bool)
    for col in RESULT_COLUMNS:
        if col not in SCORE_COLUMNS and col not in _BOOL_COLUMNS and col != "date":
            frame[col] = frame[col].astype(str)
    return frame


def flagged_labels(scores: np.ndarray, thresholds: np.ndarray) -> str:
    """Return the ";"-joined labels whose score reaches its threshold ("" when clean or unscored)."""
    return ";".join(lb for lb, s, t in zip(LABELS, scores, thresholds, strict=True) if s >= t)


def should_queue(labels: str, direction: str, bulk: bool, rules: QueueRules) -> bool:
    """Return whether a flagged row enters the review queue under ``rules`` (see ``QueueRules``)."""
    if not labels:
        return False
    if direction == "inbound":
        if not rules.queue_inbound:
            return False
        if bulk:
            return any(lb in rules.inbound_bulk_labels for lb in labels.split(";"))
    return True


def _row(
    msg: Message,
    scores: np.ndarray,
    evidence: dict[str, str],
    thresholds: np.ndarray,
    model: ScoringModel,
    settings: ScoreSettings,
    duplicate_of: str,
) -> dict[str, Any]:
    direction, bulk, reason = "", False, ""
    if msg.status == "ok":
        ctx = message_context(msg, settings.org_domains)
        direction, bulk, reason = str(ctx.direction), bool(ctx.bulk), str(ctx.reason)
    labels = flagged_labels(scores, thresholds)
    row: dict[str, Any] = {
        "message_id": msg.message_id,
        "source": msg.source,
        "status": msg.status,
        "error": msg.error,
        "date": msg.date,
        "sender": msg.sender,
        "to": ", ".join(msg.to),
        "cc": ", ".join(msg.cc),
        "subject": msg.subject,
        "body": msg.body,
        "quoted": msg.quoted,
        "attachments": "; ".join(msg.attachments),
        "labels": labels,
        "evidence": json.dumps(evidence, ensure_ascii=False, sort_keys=True) if evidence else "{}",
        "model_version": model.version,
        "run_id": model.run_id,
        "direction": direction,
        "bulk": bulk,
        "context_reason": reason,
        "duplicate_of": duplicate_of,
        "queue": should_queue(labels, direction, bulk, settings.queue) and not duplicate_of,
        "content_hash": msg.content_hash,
    }
    row.update({col: float(s) for col, s in zip(SCORE_COLUMNS, scores, strict=True)})
    return row
