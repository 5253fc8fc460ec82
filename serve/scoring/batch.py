"""The pure per-batch step: a list of ``Message`` records in, one results row per record out.

Nothing here touches files or the ledger, so the same function can run in-process, in a
worker process, or under a distributed engine unchanged. The only clock is the time budget
(``settings.message_seconds``), armed where the work runs; see :mod:`mailguard.deadline`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mailguard.deadline import MessageTimeout, time_limit
from mailguard.mail.context import message_context
from mailguard.mail.message import Message
from mailguard.segments import Section
from mailguard.taxonomy import LABELS, SCORE_COLUMNS
from models.base import Classifier, Evidence
from models.registry import LoadedModel
from serve.scoring.settings import QueueRules, ScoreSettings

#: Column order of ``results.parquet`` (docs/ARCHITECTURE.md "Results table").
RESULT_COLUMNS: tuple[str, ...] = (
    "message_id", "source", "status", "error", "date", "sender", "to", "cc", "subject", "body", "quoted",
    "html_text", "attachment_text", "attachments", "unscored_attachments", "truncated", *SCORE_COLUMNS, "labels",
    "evidence", "model_version", "run_id", "direction", "bulk", "context_reason", "duplicate_of", "queue",
    "queue_reason", "content_hash",
)
#: Columns holding message text: in ``results.parquet`` only, never in ``results.csv``.
TEXT_COLUMNS: tuple[str, ...] = ("body", "quoted", "html_text", "attachment_text")
#: ``results.csv`` leaves out the message text itself.
CSV_COLUMNS: tuple[str, ...] = tuple(c for c in RESULT_COLUMNS if c not in TEXT_COLUMNS)
#: ``queue_reason`` of a message flagged only for text it quotes or forwards.
QUOTED_ONLY_REASON = "in quoted/forwarded text"
#: ``queue_reason`` of inbound bulk mail queued because a harassment label scored high (``QueueRules.high_score``).
HIGH_SCORE_BULK_REASON = "high score despite bulk headers"
_BOOL_COLUMNS = ("bulk", "queue", "truncated")
#: The Arrow schema of every part file and of ``results.parquet``.
RESULT_SCHEMA = pa.schema([
    pa.field(c, pa.float64() if c in SCORE_COLUMNS else pa.bool_() if c in _BOOL_COLUMNS
             else pa.timestamp("us", tz="UTC") if c == "date" else pa.string())
    for c in RESULT_COLUMNS
])


def score_batch(
    messages: Sequence[Message],
    model: LoadedModel,
    settings: ScoreSettings,
    duplicate_of: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return one results row per message (``RESULT_COLUMNS``), in input order.

    Only readable messages that are not duplicates are scored; error rows and
    duplicates get NaN scores (the runner copies a duplicate's scores from its
    first copy). ``duplicate_of[i]`` is the source of the first copy of message
    ``i``, or "" when it is the first. Scoring runs under ``settings.message_seconds``
    per message (see :func:`score_documents_within`): a message over budget gets an
    error row ``timeout: ...`` and the others are scored as usual.
    """
    dups = list(duplicate_of) if duplicate_of is not None else [""] * len(messages)
    if len(dups) != len(messages):
        raise ValueError(f"duplicate_of has {len(dups)} entries for {len(messages)} messages")
    to_score = [i for i, m in enumerate(messages) if m.status == "ok" and not dups[i]]
    proba = np.full((len(messages), len(LABELS)), np.nan)
    evidence: list[dict[str, list[Evidence]]] = [{} for _ in messages]
    cut = np.zeros(len(messages), dtype=bool)
    rows_of = list(messages)
    if to_score:
        done = score_documents_within(
            model.classifier, [messages[i].sections() for i in to_score], settings.message_seconds
        )
        for i, result in zip(to_score, done, strict=True):
            if isinstance(result, MessageTimeout):
                rows_of[i] = replace(messages[i], status="error", error=f"timeout: scoring the message {result}")
                continue
            proba[i], evidence[i], cut[i] = result
    thresholds = np.asarray(model.classifier.thresholds_, dtype=float)
    rows = [
        _row(m, proba[i], evidence[i], bool(cut[i]), thresholds, model, settings, dups[i])
        for i, m in enumerate(rows_of)
    ]
    return results_frame(rows)


def as_duplicate(frame: pd.DataFrame, i: int, first_source: str, read_truncated: bool) -> None:
    """Make row ``i`` of a results table the row ``score_batch`` gives a later copy of a message.

    For an engine that scores copies before it knows which came first: the row loses its
    own scores, labels, evidence and queue decision (the first copy's are copied in when the
    batch is committed) and says which copy it repeats. ``read_truncated`` is the message's
    own ``truncated`` as read (a duplicate is not scored, so the scorer cut nothing of it).
    """
    frame.loc[i, list(SCORE_COLUMNS)] = np.nan
    frame.at[i, "status"], frame.at[i, "error"] = "ok", ""
    frame.at[i, "labels"], frame.at[i, "evidence"] = "", "{}"
    frame.at[i, "truncated"] = read_truncated
    frame.at[i, "duplicate_of"] = first_source
    frame.at[i, "queue"], frame.at[i, "queue_reason"] = False, ""


Scored = tuple[np.ndarray, dict[str, list[Evidence]], bool]


def score_documents_within(
    classifier: Classifier, documents: Sequence[Sequence[Section]], seconds: float | None
) -> list[Scored | MessageTimeout]:
    """Return, per document, its (scores, evidence, cut) or the ``MessageTimeout`` it ran into.

    The batch is scored in one call under the sum of its budgets (``seconds`` each), which
    keeps the model's batching; only if that runs out is each document scored alone under
    its own budget, so the one that overruns is found and the others keep their scores.
    """
    budget = seconds * len(documents) if seconds else None
    try:
        with time_limit(budget):
            scored = classifier.score_documents(documents)
        return [(scored.proba[k], scored.evidence[k], bool(scored.truncated[k])) for k in range(len(documents))]
    except MessageTimeout as e:
        if len(documents) == 1:  # it was already alone: scoring it again would only spend the budget twice
            return [e]
    out: list[Scored | MessageTimeout] = []
    for doc in documents:
        try:
            with time_limit(seconds):
                one = classifier.score_documents([doc])
            out.append((one.proba[0], one.evidence[0], bool(one.truncated[0])))
        except MessageTimeout as e:
            out.append(e)
    return out


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


def should_queue(
    labels: str, direction: str, bulk: bool, rules: QueueRules, scores: Mapping[str, float] | None = None
) -> bool:
    """Return whether a flagged row enters the review queue under ``rules`` (see ``QueueRules``)."""
    return queue_rule(labels, direction, bulk, rules, scores)[0]


def queue_rule(
    labels: str, direction: str, bulk: bool, rules: QueueRules, scores: Mapping[str, float] | None = None
) -> tuple[bool, str]:
    """Return whether a flagged row enters the queue by direction and bulk status, and a reason when notable.

    Bulk status comes from headers the sender sets (List-Id, Precedence, X-Auto-Response-Suppress,
    a noreply address), so it only lowers priority: inbound bulk mail with a flagged harassment
    label scoring at least ``rules.high_score`` (``scores`` by label) is queued all the same.
    """
    if not labels:
        return False, ""
    if direction == "inbound":
        if not rules.queue_inbound:
            return False, ""
        if bulk:
            flagged = labels.split(";")
            if any(lb in rules.inbound_bulk_labels for lb in flagged):
                return True, ""
            high = rules.high_score is not None and scores is not None and any(
                lb in rules.high_score_labels and scores.get(lb, 0.0) >= rules.high_score for lb in flagged
            )
            return (True, HIGH_SCORE_BULK_REASON) if high else (False, "")
    return True, ""


def quoted_only(evidence: dict[str, list[Evidence]]) -> bool:
    """Return True when every flagged label fired only on quoted or forwarded text."""
    return bool(evidence) and all(all(e.origin == "quoted" for e in items) for items in evidence.values())


def queue_decision(labels: str, evidence: dict[str, list[Evidence]], direction: str, bulk: bool,
                   rules: QueueRules, scores: Mapping[str, float] | None = None) -> tuple[bool, str]:
    """Return whether a row is queued and why (``QUOTED_ONLY_REASON``, ``HIGH_SCORE_BULK_REASON`` or "")."""
    queued, reason = queue_rule(labels, direction, bulk, rules, scores)
    if not queued:
        return False, ""
    if quoted_only(evidence):
        return rules.quoted_only == "queue", QUOTED_ONLY_REASON
    return True, reason


def evidence_json(evidence: dict[str, list[Evidence]]) -> str:
    """Return the results-table form of evidence: ``{label: [{text, origin, field, start, end, ...}]}``."""
    if not evidence:
        return "{}"
    return json.dumps({lb: [e.as_dict() for e in items] for lb, items in evidence.items()}, ensure_ascii=False,
                      sort_keys=True)


def _row(
    msg: Message,
    scores: np.ndarray,
    evidence: dict[str, list[Evidence]],
    truncated: bool,
    thresholds: np.ndarray,
    model: LoadedModel,
    settings: ScoreSettings,
    duplicate_of: str,
) -> dict[str, Any]:
    direction, bulk, reason = "", False, ""
    if msg.status == "ok":
        ctx = message_context(msg, settings.org_domains)
        direction, bulk, reason = str(ctx.direction), bool(ctx.bulk), str(ctx.reason)
    labels = flagged_labels(scores, thresholds)
    by_label = {lb: float(sc) for lb, sc in zip(LABELS, scores, strict=True)}
    queue, queue_reason = queue_decision(labels, evidence, direction, bulk, settings.queue, by_label)
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
        "html_text": msg.html_text,
        "attachment_text": msg.attachment_text,
        "attachments": "; ".join(msg.attachments),
        "unscored_attachments": "; ".join(msg.unscored_attachments),
        "truncated": msg.truncated or truncated,
        "labels": labels,
        "evidence": evidence_json(evidence),
        "model_version": model.version,
        "run_id": model.run_id,
        "direction": direction,
        "bulk": bulk,
        "context_reason": reason,
        "duplicate_of": duplicate_of,
        "queue": queue and not duplicate_of,
        "queue_reason": queue_reason if queue and not duplicate_of else "",
        "content_hash": msg.content_hash,
    }
    row.update({col: float(s) for col, s in zip(SCORE_COLUMNS, scores, strict=True)})
    return row


def limit_compute_threads(threads: int) -> None:
    """Keep this scoring process's numeric libraries to ``threads`` threads (call after loading the model).

    Loading a torch model may set its own thread count (the one it trained with); a worker that shares
    the machine's cores with others must not take them all.
    """
    import sys

    os.environ["OMP_NUM_THREADS"] = str(threads)  # ONNX Runtime and numpy pools created from here on
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
