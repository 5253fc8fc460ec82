"""Recording reviewer decisions with optimistic locking: a stale version is a conflict, never an overwrite.

Who may decide: anyone who reviews may decide a pending item; an escalated item only its assignee or
an investigator; a decided item nobody, until an investigator reopens it (audited, with a reason).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailguard.errors import MailguardError
from mailguard.taxonomy import LABELS
from serve.review import audit
from serve.review.models import CONFIRMED, ESCALATED, NOT_VIOLATION, PENDING, REOPENED, Decision, Item, User, utcnow

DECISIONS = (CONFIRMED, NOT_VIOLATION, ESCALATED)
FINAL = (CONFIRMED, NOT_VIOLATION)


class ItemNotFound(MailguardError):
    """No review item has the requested id."""


class DecisionConflict(MailguardError):
    """Someone else decided on the item after this reviewer loaded it."""


class InvalidDecision(MailguardError):
    """The decision is incomplete or inconsistent (no labels to confirm, no one to escalate to...)."""


class NotAllowed(MailguardError):
    """This user may not change this item (escalated to someone else; reopening needs an investigator)."""


class ItemClosed(MailguardError):
    """The item already has a final decision; only a reopen changes it."""


def decide_blocker(item: Item, user: User) -> str:
    """Return why ``user`` may not decide ``item`` now, or "" when they may."""
    if item.status in FINAL:
        who = item.decided_by.username if item.decided_by else "a reviewer"
        return f"item {item.id} is decided ({item.status.replace('_', ' ')} by {who}); an investigator can reopen it"
    if item.status == ESCALATED and item.assigned_to_id != user.id and not user.can_reveal:
        who = item.assigned_to.username if item.assigned_to else "another reviewer"
        return f"item {item.id} is escalated to {who}; only {who} or an investigator can decide it"
    return ""


def _current(session: Session, item_id: int, version: int) -> Item:
    item = session.get(Item, item_id, populate_existing=True)
    if item is None:
        raise ItemNotFound(f"no review item {item_id}")
    if item.version != version:
        raise _conflict(item)
    return item


def _conflict(item: Item) -> DecisionConflict:
    who = item.decided_by.username if item.decided_by else "another reviewer"
    return DecisionConflict(
        f"item {item.id} changed since you opened it (now '{item.status}' by {who}, version "
        f"{item.version}); reload it and decide again"
    )


def _lock_update(session: Session, item: Item, version: int, values: dict[str, object]) -> None:
    # The WHERE on version is the lock: only one of two concurrent changes can match it.
    result = session.execute(
        update(Item).where(Item.id == item.id, Item.version == version).values(**values),
        execution_options={"synchronize_session": False},
    )
    session.refresh(item)
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise _conflict(item)


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

    Raises ``ItemNotFound``, ``InvalidDecision``, ``DecisionConflict`` when another decision bumped
    the version since the reviewer loaded the item, ``ItemClosed`` when it is decided, ``NotAllowed``
    when it is escalated to someone else. The caller commits.
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
    item = _current(session, item_id, version)
    blocker = decide_blocker(item, reviewer)
    if blocker:
        raise ItemClosed(blocker) if item.status in FINAL else NotAllowed(blocker)
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
    _lock_update(session, item, version, values)
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
    session.refresh(item)
    return item


def reopen_item(session: Session, item_id: int, user: User, *, version: int, note: str, ip: str = "") -> Item:
    """Return the decided item set back to pending by investigator ``user``, with ``note`` saying why.

    The decision it undoes stays in the history; the reopen is a history entry and an audit record.
    Raises ``NotAllowed`` for anyone but an investigator, ``InvalidDecision`` without a note or for an
    item that is not decided, ``ItemNotFound`` and ``DecisionConflict`` as ``record_decision`` does.
    """
    if not user.can_reveal:
        raise NotAllowed("only an investigator can reopen a decided item")
    if not note.strip():
        raise InvalidDecision("add a note saying why the decision is reopened")
    item = _current(session, item_id, version)
    if item.status not in FINAL:
        raise InvalidDecision(f"item {item_id} is {item.status.replace('_', ' ')}, not decided: nothing to reopen")
    previous, by = item.status, item.decided_by.username if item.decided_by else ""
    values: dict[str, object] = {
        "status": PENDING, "version": Item.version + 1, "confirmed_labels": "", "decided_by_id": None,
        "decided_at": None, "assigned_to_id": None,
    }  # fmt: skip
    _lock_update(session, item, version, values)
    session.add(
        Decision(
            item_id=item_id, reviewer_id=user.id, decision=REOPENED, labels="", note=note.strip(),
            item_version=version, decided_at=utcnow(),
        )
    )  # fmt: skip
    audit.record(session, "reopen", actor=user.username, item_id=item_id, ip=ip, previous=previous, decided_by=by)
    session.flush()
    session.refresh(item)
    return item


def history(session: Session, item_id: int) -> list[Decision]:
    """Return the decisions recorded on an item, oldest first."""
    return list(session.scalars(select(Decision).where(Decision.item_id == item_id).order_by(Decision.id)))
