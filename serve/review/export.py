"""Exporting reviewed items as labelled training rows for ``prepare`` (params data.review_exports)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import select

from mailguard.errors import InputError
from mailguard.taxonomy import LABELS
from serve.review import audit
from serve.review.db import migrate, session_scope
from serve.review.files import private_output
from serve.review.models import CONFIRMED, NOT_VIOLATION, Item
from serve.review.presenters import reviewer_alias
from serve.review.settings import resolve_secret_key

#: Column order of an export: the prepared-dataset columns first, then decision metadata.
EXPORT_COLUMNS = ("text", *LABELS, "source", "decision", "reviewer", "decided_at", "item_id", "model_version")


def review_text(subject: str, body: str) -> str:
    """Return the training text of an item: subject and new body, as the scorer saw them."""
    return "\n\n".join(p for p in (subject.strip(), body.strip()) if p)


def reviewed_frame(db_url: str, secret_key: str) -> pd.DataFrame:
    """Return one training row per finally decided item (confirmed or not a violation)."""
    rows = []
    with session_scope(db_url) as session:
        stmt = select(Item).where(Item.status.in_((CONFIRMED, NOT_VIOLATION))).order_by(Item.id)
        for it in session.scalars(stmt):
            confirmed = set(it.confirmed_list) if it.status == CONFIRMED else set()
            rows.append(
                {
                    "text": review_text(it.subject, it.body),
                    **{lb: int(lb in confirmed) for lb in LABELS},
                    "source": "review",
                    "decision": it.status,
                    "reviewer": reviewer_alias(it.decided_by.username, secret_key) if it.decided_by else "",
                    "decided_at": it.decided_at.isoformat(timespec="seconds") + "Z" if it.decided_at else "",
                    "item_id": it.id,
                    "model_version": it.model_version,
                }
            )
    frame = pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))
    return frame.astype({lb: "int64" for lb in LABELS} | {"item_id": "int64"})


def export_reviewed(db_url: str, out_path: str | Path, *, secret_key: str | None = None, actor: str = "cli") -> int:
    """Return the number of reviewed items written to ``out_path`` (.parquet or .jsonl, 0600) as training rows.

    Confirmed labels are 1, everything else 0; a not-a-violation decision gives a row of zeros.
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
