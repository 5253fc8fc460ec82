"""Writing and exporting the append-only audit log; entries hold ids and counts, never message text."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailguard.csvsafe import SafeDictWriter
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


def _row(e: AuditEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at.isoformat(timespec="seconds") + "Z",
        "actor": e.actor,
        "action": e.action,
        "item_id": "" if e.item_id is None else e.item_id,
        "ip": e.ip,
        "detail": e.detail,
    }


def audit_rows(session: Session) -> list[dict[str, Any]]:
    """Return every audit event in order as plain dicts with the AUDIT_COLUMNS keys."""
    return [_row(e) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def snapshot(session: Session) -> tuple[int, int]:
    """Return (highest event id, number of events up to it): what an export started now will contain."""
    last, n = session.execute(select(func.max(AuditEvent.id), func.count(AuditEvent.id))).one()
    return int(last or 0), int(n or 0)


def iter_audit_csv(db_url: str, upto_id: int, batch: int = 1000) -> Iterator[str]:
    """Yield the audit log up to event ``upto_id`` as CSV text, header first, ``batch`` events at a time.

    Reads through its own session: a streamed export outlives the request's session.
    """
    from serve.review.db import session_scope

    buf = io.StringIO()
    writer = SafeDictWriter(buf, fieldnames=AUDIT_COLUMNS)
    writer.writeheader()
    after = 0
    while True:
        with session_scope(db_url) as session:
            stmt = select(AuditEvent).where(AuditEvent.id > after, AuditEvent.id <= upto_id)
            events = list(session.scalars(stmt.order_by(AuditEvent.id).limit(batch)))
        writer.writerows(_row(e) for e in events)
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
        if len(events) < batch:
            return
        after = events[-1].id


def write_audit_csv(rows: list[dict[str, Any]], fh: Any) -> None:
    """Write ``rows`` as CSV with a header to the text file object ``fh``."""
    writer = SafeDictWriter(fh, fieldnames=AUDIT_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)


def export_audit_csv(db_url: str, out_path: str | Path) -> int:
    """Return the number of audit events written as CSV to ``out_path`` (0600; the export itself is audited first)."""
    from serve.review.db import migrate, session_scope
    from serve.review.files import private_output

    migrate(db_url)
    with session_scope(db_url) as session:
        rows = audit_rows(session)
        record(session, "audit_export", actor="cli", rows=len(rows))
    with private_output(Path(out_path), "w", newline="", encoding="utf-8") as fh:
        write_audit_csv(rows, fh)
    return len(rows)
