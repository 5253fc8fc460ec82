"""Recording reviewer decisions with optimistic locking: a stale version is a conflict, never an overwrite."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailguard.errors import MailguardError
from mailguard.taxonomy import LABELS
from serve.review import audit
from serve.review.models import CONFIRMED, ESCALATED, NOT_VIOLATION, Decision, Item, User, utcnow

DECISIONS = (CONFIRMED, NOT_VIOLATION, ESCALATED)


class ItemNotFound(MailguardError):
    """No review item has the requested id."""


class DecisionConflict(MailguardError):
    """Someone else decided on the item after this reviewer loaded it."""


class InvalidDecision(MailguardError):
    """The decision is incomplete or inconsistent (no labels to confirm, no one to escalate to...)."""


def record_decision(
    session: Session,
    item_id: int,
    reviewer: User,
    *,
    decision: str,
    version: int,
    labels: list[str] | None = None,
    note: str = "",
    escalate_to: str = "",
    ip: str = "",
) -> Item:
    """Return the item after recording ``decision`` on it, if it is still at ``version``.

    Raises ``ItemNotFound``, ``InvalidDecision``, or ``DecisionConflict`` when another decision
    bumped the version since the reviewer loaded the item. The caller commits.
    """
    if decision not in DECISIONS:
        raise InvalidDecision(f"unknown decision {decision!r}; expected one of {', '.join(DECISIONS)}")
    chosen = [lb for lb in LABELS if lb in set(labels or [])]
    unknown = sorted(set(labels or []) - set(LABELS))
    if unknown:
        raise InvalidDecision(f"unknown label(s): {', '.join(unknown)}")
    if decision == CONFIRMED and not chosen:
        raise InvalidDecision("tick at least one label that applies to confirm a violation")
    target: User | None = None
    if decision == ESCALATED:
        target = session.scalar(select(User).where(User.username == escalate_to, User.active.is_(True)))
        if target is None or not target.can_review or target.id == reviewer.id:
            raise InvalidDecision("escalate to another active reviewer or investigator")
        if not note.strip():
            raise InvalidDecision("add a note saying why the item is escalated")
    now = utcnow()
    values: dict[str, object] = {"status": decision, "version": Item.version + 1}
    if decision == ESCALATED:
        values |= {"assigned_to_id": target.id if target else None}
    else:
        values |= {
            "confirmed_labels": ";".join(chosen) if decision == CONFIRMED else "",
            "decided_by_id": reviewer.id,
            "decided_at": now,
            "assigned_to_id": None,
        }
    # The WHERE on version is the lock: only one of two concurrent decisions can match it.
    result = session.execute(
        update(Item).where(Item.id == item_id, Item.version == version).values(**values),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        current = session.get(Item, item_id)
        if current is None:
            raise ItemNotFound(f"no review item {item_id}")
        session.refresh(current)
        who = current.decided_by.username if current.decided_by else "another reviewer"
        raise DecisionConflict(
            f"item {item_id} changed since you opened it (now '{current.status}' by {who}, version "
            f"{current.version}); reload it and decide again"
        )
    session.add(
        Decision(
            item_id=item_id,
            reviewer_id=reviewer.id,
            decision=decision,
            labels=";".join(chosen) if decision == CONFIRMED else "",
            note=note.strip(),
            escalated_to_id=target.id if target else None,
            item_version=version,
            decided_at=now,
        )
    )
    audit.record(
        session, "decision", actor=reviewer.username, item_id=item_id, ip=ip, decision=decision,
        labels=chosen if decision == CONFIRMED else [], escalated_to=escalate_to if target else "",
    )  # fmt: skip
    session.flush()
    item = session.get(Item, item_id)
    assert item is not None  # the UPDATE just matched it
    session.refresh(item)
    return item


def history(session: Session, item_id: int) -> list[Decision]:
    """Return the decisions recorded on an item, oldest first."""
    return list(session.scalars(select(Decision).where(Decision.item_id == item_id).order_by(Decision.id)))
