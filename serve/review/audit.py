"""Writing and exporting the append-only audit log; entries hold ids and counts, never message text."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from serve.review.models import AuditEvent

AUDIT_COLUMNS = ("id", "at", "actor", "action", "item_id", "ip", "detail")


def record(
    session: Session, action: str, *, actor: str = "", item_id: int | None = None, ip: str = "", **detail: Any
) -> AuditEvent:
    """Return a new audit event added to ``session`` (committed with the caller's transaction)."""
    event = AuditEvent(
        action=action, actor=actor, item_id=item_id, ip=ip, detail=json.dumps(detail, sort_keys=True, default=str)
    )
    session.add(event)
    return event


def audit_rows(session: Session) -> list[dict[str, Any]]:
    """Return every audit event in order as plain dicts with the AUDIT_COLUMNS keys."""
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    return [
        {
            "id": e.id,
            "at": e.at.isoformat(timespec="seconds") + "Z",
            "actor": e.actor,
            "action": e.action,
            "item_id": "" if e.item_id is None else e.item_id,
            "ip": e.ip,
            "detail": e.detail,
        }
        for e in events
    ]


def write_audit_csv(rows: list[dict[str, Any]], fh: Any) -> None:
    """Write ``rows`` as CSV with a header to the text file object ``fh``."""
    writer = csv.DictWriter(fh, fieldnames=AUDIT_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)


def export_audit_csv(db_url: str, out_path: str | Path) -> int:
    """Return the number of audit events written as CSV to ``out_path`` (the export itself is audited)."""
    from serve.review.db import migrate, session_scope

    migrate(db_url)
    with session_scope(db_url) as session:
        rows = audit_rows(session)
        record(session, "audit_export", actor="cli", rows=len(rows))
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", newline="", encoding="utf-8") as fh:
        write_audit_csv(rows, fh)
    return len(rows)
