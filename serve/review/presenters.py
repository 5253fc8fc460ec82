"""Turning ORM items into what reviewers see: pseudonymised identities, parsed scores and evidence."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from mailguard.evidence import parse_evidence
from serve.review.decisions import history
from serve.review.models import Item
from serve.review.schemas import DecisionOut, IdentityOut, ItemOut, ItemSummary
from serve.review.security import pseudonym


def addresses(raw: str) -> list[str]:
    """Return the addresses in a "; "- or ","-separated header value."""
    return [a.strip() for a in raw.replace(",", ";").split(";") if a.strip()]


def reviewer_alias(username: str, secret: str) -> str:
    """Return the pseudonym under which a reviewer appears in exported training data."""
    return pseudonym(username, secret, prefix="Reviewer")


def item_summary(item: Item, secret: str) -> ItemSummary:
    """Return the queue row for ``item``."""
    return ItemSummary(
        id=item.id, subject=item.subject, date=item.date, sender=pseudonym(item.sender, secret),
        labels=item.label_list, max_score=item.max_score, status=item.status, direction=item.direction,
        model_version=item.model_version, version=item.version,
    )  # fmt: skip


def item_out(session: Session, item: Item, secret: str) -> ItemOut:
    """Return the full reviewer view of ``item`` with identities pseudonymised."""
    return ItemOut(
        id=item.id, subject=item.subject, body=item.body, quoted=item.quoted, date=item.date,
        sender=pseudonym(item.sender, secret),
        to=[pseudonym(a, secret) for a in addresses(item.to)],
        cc=[pseudonym(a, secret) for a in addresses(item.cc)],
        attachments=item.attachments, labels=item.label_list, scores=json.loads(item.scores or "{}"),
        evidence=parse_evidence(item.evidence), direction=item.direction, bulk=item.bulk,
        context_reason=item.context_reason, model_version=item.model_version, run_id=item.run_id,
        status=item.status, confirmed_labels=item.confirmed_list,
        assigned_to=item.assigned_to.username if item.assigned_to else None,
        decided_by=item.decided_by.username if item.decided_by else None,
        decided_at=item.decided_at, version=item.version,
        history=[
            DecisionOut(
                decision=d.decision, reviewer=d.reviewer.username, labels=[x for x in d.labels.split(";") if x],
                note=d.note, escalated_to=d.escalated_to.username if d.escalated_to else None,
                decided_at=d.decided_at,
            )
            for d in history(session, item.id)
        ],
    )  # fmt: skip


def identity_out(item: Item) -> IdentityOut:
    """Return the real addresses of ``item`` (only for the audited reveal action)."""
    return IdentityOut(item_id=item.id, sender=item.sender, to=addresses(item.to), cc=addresses(item.cc))
