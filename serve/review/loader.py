"""Loading the nightly results table into the review queue: an idempotent upsert of flagged messages."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import select, tuple_

from mailguard.errors import InputError
from mailguard.evidence import EvidenceFormatError, parse_evidence
from mailguard.mail.message import content_digest
from mailguard.taxonomy import LABELS, check_label, score_column
from serve.review.db import migrate, session_scope
from serve.review.models import Item, ItemLabel

REQUIRED_COLUMNS = ("message_id", "labels")
_CHUNK = 500
#: Fields a re-load may change; an item whose values all match is "unchanged".
_SCORING_FIELDS = (
    "source", "date", "sender", "to", "cc", "subject", "body", "quoted", "html_text", "attachment_text",
    "attachments", "unscored_attachments", "truncated", "scores", "max_score", "labels", "evidence",
    "model_version", "run_id", "direction", "bulk", "context_reason", "queue_reason",
)  # fmt: skip


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, list | tuple) or hasattr(value, "tolist"):
        return "; ".join(str(v) for v in (value.tolist() if hasattr(value, "tolist") else value))
    return str(value)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    if value is None or value is pd.NA:  # a missing cell of a nullable boolean column
        return False
    return bool(value) and not (isinstance(value, float) and math.isnan(value))


def _labels(raw: Any) -> list[str]:
    try:
        found = {check_label(p) for p in _text(raw).split(";") if p.strip()}
    except ValueError as e:
        raise InputError(f"results table has {e}") from e
    return [lb for lb in LABELS if lb in found]


def _evidence(raw: Any) -> str:
    try:
        data = parse_evidence(raw)
    except EvidenceFormatError as e:
        raise InputError(f"results table has an unusable evidence value: {e}") from e
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def _date(value: Any) -> datetime | None:
    ts = pd.to_datetime(value, utc=True, errors="coerce") if value is not None else pd.NaT
    return None if pd.isna(ts) else ts.tz_convert(None).to_pydatetime()


def review_rows(results: pd.DataFrame) -> pd.DataFrame:
    """Return the rows of ``results`` that belong in the review queue.

    Those are rows with ``queue`` true (when the column exists), non-empty ``labels`` and no
    ``duplicate_of``. Raises ``InputError`` when a required column is missing.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise InputError(f"results table lacks column(s) {', '.join(missing)}")
    keep = results["labels"].map(lambda v: bool(_text(v).strip()))
    if "queue" in results.columns:
        keep &= results["queue"].map(_flag)
    if "duplicate_of" in results.columns:
        keep &= results["duplicate_of"].map(lambda v: not _text(v).strip())
    if "status" in results.columns:
        keep &= results["status"].map(lambda v: _text(v) in {"", "ok"})
    return results.loc[keep]


def _item_values(row: dict[str, Any]) -> dict[str, Any]:
    labels = _labels(row.get("labels"))
    scores = {}
    for lb in LABELS:
        v = row.get(score_column(lb))
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            scores[lb] = round(float(v), 6)
    content_hash = _text(row.get("content_hash")) or content_digest(_text(row.get("subject")), _text(row.get("body")))
    return {
        "message_id": _text(row["message_id"]),
        "content_hash": content_hash,
        "source": _text(row.get("source")),
        "date": _date(row.get("date")),
        "sender": _text(row.get("sender")),
        "to": _text(row.get("to")),
        "cc": _text(row.get("cc")),
        "subject": _text(row.get("subject")),
        "body": _text(row.get("body")),
        "quoted": _text(row.get("quoted")),
        # Results written before the scoring unit lack the next columns: empty, as the scorer read nothing there.
        "html_text": _text(row.get("html_text")),
        "attachment_text": _text(row.get("attachment_text")),
        "attachments": _text(row.get("attachments")),
        "unscored_attachments": _text(row.get("unscored_attachments")),
        "truncated": _flag(row.get("truncated")),
        "scores": json.dumps(scores, sort_keys=True),
        "max_score": max((scores.get(lb, 0.0) for lb in labels), default=0.0),
        "labels": ";".join(labels),
        "evidence": _evidence(row.get("evidence")),
        "model_version": _text(row.get("model_version")),
        "run_id": _text(row.get("run_id")),
        "direction": _text(row.get("direction")) or "unknown",
        "bulk": _flag(row.get("bulk")),
        "context_reason": _text(row.get("context_reason")),
        "queue_reason": _text(row.get("queue_reason")),
    }


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _set_labels(item: Item, values: dict[str, Any]) -> None:
    scores = json.loads(values["scores"])
    wanted = {lb: scores.get(lb, 0.0) for lb in values["labels"].split(";") if lb}
    item.item_labels = [ItemLabel(label=lb, score=s) for lb, s in wanted.items()]


def load_results(results: pd.DataFrame, db_url: str) -> dict[str, int]:
    """Return counts ``inserted``/``updated``/``unchanged``/``skipped`` after upserting flagged rows.

    Items are keyed by (message_id, content_hash); loading the same run twice inserts and
    updates nothing. A re-scored item keeps its review status and decisions.
    """
    migrate(db_url)
    wanted = review_rows(results)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in wanted.to_dict(orient="records"):
        values = _item_values(rec)
        rows[(values["message_id"], values["content_hash"])] = values  # last copy of a key wins
    counts = {"inserted": 0, "updated": 0, "unchanged": 0, "skipped": len(results) - len(wanted)}
    with session_scope(db_url) as session:
        for chunk in _chunks(list(rows.values()), _CHUNK):
            keys = [(v["message_id"], v["content_hash"]) for v in chunk]
            existing = {
                (it.message_id, it.content_hash): it
                for it in session.scalars(select(Item).where(tuple_(Item.message_id, Item.content_hash).in_(keys)))
            }
            for values in chunk:
                item = existing.get((values["message_id"], values["content_hash"]))
                if item is None:
                    item = Item(**values)
                    _set_labels(item, values)
                    session.add(item)
                    counts["inserted"] += 1
                elif all(getattr(item, f) == values[f] for f in _SCORING_FIELDS):
                    counts["unchanged"] += 1
                else:
                    for f in _SCORING_FIELDS:
                        setattr(item, f, values[f])
                    _set_labels(item, values)
                    counts["updated"] += 1
            session.flush()
    return counts


def load_results_file(path: str, db_url: str) -> dict[str, int]:
    """Return the load counts after reading a results Parquet/CSV/JSONL file and loading it."""
    from pathlib import Path

    p = Path(path)
    try:
        if p.suffix == ".parquet":
            df = pd.read_parquet(p)
        elif p.suffix == ".csv":
            df = pd.read_csv(p, keep_default_na=False)
        elif p.suffix in {".jsonl", ".json"}:
            df = pd.read_json(p, lines=p.suffix == ".jsonl")
        else:
            raise InputError(f"unknown results format {p.suffix!r}; expected .parquet, .csv or .jsonl")
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read results file {p}: {e}") from e
    return load_results(df, db_url)
