"""Exporting reviewed items as labelled training rows for ``prepare`` (params data.review_exports)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import select

from mailguard.errors import InputError
from mailguard.evidence import parse_evidence
from mailguard.taxonomy import LABELS
from serve.review import audit
from serve.review.db import migrate, session_scope
from serve.review.files import private_output
from serve.review.models import CONFIRMED, NOT_VIOLATION, Item
from serve.review.presenters import reviewer_alias
from serve.review.settings import resolve_secret_key

#: Column order of an export: the prepared-dataset columns first, then decision metadata.
EXPORT_COLUMNS = (
    "text", *LABELS, "source", "unit", "split_key", "decision", "reviewer", "decided_at", "item_id", "model_version",
)
#: The item fields evidence offsets can point into (results columns of the same names).
TEXT_FIELDS = ("subject", "body", "html_text", "quoted", "attachment_text")
#: Labels that describe a whole message (a fundraiser is spread over the mail): its message row carries them.
MESSAGE_LEVEL = frozenset({"solicitation"})


def review_text(item: Item) -> str:
    """Return everything the scorer read of an item, as one text: subject, body, HTML-only, quoted, attachments."""
    return "\n\n".join(p for p in (str(getattr(item, f) or "").strip() for f in TEXT_FIELDS) if p)


def training_rows(item: Item) -> list[tuple[str, str, frozenset[str]]]:
    """Return ``(unit, text, labels)`` rows of a decided item, at the unit the models score.

    Each evidence window (the sentence with the neighbours the model read, cut from the stored field)
    is a row: with the confirmed labels it fired for, or with none when the reviewer said "not a
    violation" (the hard negatives reviewers find are the most valuable rows). Windows of a confirmed item
    that fired only for rejected labels are left out: they may still hold the confirmed remark. The whole message is a
    row too when it is clean, when its confirmed labels describe the whole mail, or when no evidence
    window can be cut from it (older results without offsets).
    """
    confirmed = frozenset(item.confirmed_list) if item.status == CONFIRMED else frozenset()
    windows: dict[tuple[str, int, int], set[str]] = {}
    for label, items in parse_evidence(item.evidence).items():
        for ev in items:
            field, window = str(ev.get("field", "")), ev.get("window")
            text = str(getattr(item, field, "") or "") if field in TEXT_FIELDS else ""
            if isinstance(window, list) and len(window) == 2 and 0 <= int(window[0]) < int(window[1]) <= len(text):
                windows.setdefault((field, int(window[0]), int(window[1])), set()).add(label)
    rows = [("window", str(getattr(item, f))[a:b], frozenset(labels) & confirmed) for (f, a, b), labels in windows.items()
            # a window that fired only for labels the reviewer rejected may still hold the confirmed violation
            if not confirmed or labels & confirmed]
    if not windows or not confirmed or confirmed <= MESSAGE_LEVEL:
        rows.append(("message", review_text(item), confirmed))
    return rows


def reviewed_frame(db_url: str, secret_key: str) -> pd.DataFrame:
    """Return the training rows (:func:`training_rows`) of every finally decided item (confirmed or not a violation).

    All rows of one item share ``split_key`` ``review:<content hash>``, so an item never spans two splits.
    """
    rows = []
    with session_scope(db_url) as session:
        stmt = select(Item).where(Item.status.in_((CONFIRMED, NOT_VIOLATION))).order_by(Item.id)
        for it in session.scalars(stmt):
            meta = {
                "source": "review",
                "split_key": f"review:{it.content_hash}",
                "decision": it.status,
                "reviewer": reviewer_alias(it.decided_by.username, secret_key) if it.decided_by else "",
                "decided_at": it.decided_at.isoformat(timespec="seconds") + "Z" if it.decided_at else "",
                "item_id": it.id,
                "model_version": it.model_version,
            }
            for unit, text, labels in training_rows(it):
                rows.append({"text": text, **{lb: int(lb in labels) for lb in LABELS}, "unit": unit, **meta})
    frame = pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))
    return frame.astype({lb: "int64" for lb in LABELS} | {"item_id": "int64"})


def export_reviewed(db_url: str, out_path: str | Path, *, secret_key: str | None = None, actor: str = "cli") -> int:
    """Return the number of training rows written to ``out_path`` (.parquet or .jsonl, 0600) from reviewed items.

    Confirmed labels are 1, everything else 0; a not-a-violation decision gives rows of zeros.
    The reviewer is pseudonymised with ``secret_key`` (default: the app's key, see ``resolve_secret_key``).
    """
    secret = secret_key or resolve_secret_key(db_url)
    out_path = Path(out_path)
    if out_path.suffix not in {".parquet", ".jsonl"}:
        raise InputError(f"export path must end in .parquet or .jsonl, got {out_path.name}")
    migrate(db_url)
    frame = reviewed_frame(db_url, secret)
    with session_scope(db_url) as session:  # on record before the file exists
        audit.record(session, "export", actor=actor, rows=len(frame), path=out_path.name)
    if out_path.suffix == ".parquet":
        with private_output(out_path, "wb") as fh:
            frame.to_parquet(fh, index=False)
    else:
        with private_output(out_path, "w", encoding="utf-8") as fh:
            frame.to_json(fh, orient="records", lines=True, force_ascii=False)
    return len(frame)
