"""Turning ORM items into what reviewers see: pseudonymised identities, parsed scores and evidence."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from mailguard.evidence import describe, parse_evidence
from serve.review.decisions import history
from serve.review.highlight import anchor_id
from serve.review.models import Item
from serve.review.schemas import DecisionOut, IdentityOut, ItemOut, ItemSummary
from serve.review.security import pseudonym


def addresses(raw: str) -> list[str]:
    """Return the addresses in a "; "- or ","-separated header value."""
    return [a.strip() for a in raw.replace(",", ";").split(";") if a.strip()]


#: How the item page words the scorer's queue reasons (``serve.scoring.batch.*_REASON``); others show as they are.
_QUEUE_NOTICES = {
    "in quoted/forwarded text": "Flagged only in quoted/forwarded text: the words that fired were quoted or "
    "forwarded by the sender, and may be someone else's.",
    "high score despite bulk headers": "Queued although it looks like bulk mail: a harassment label scored high.",
}


@dataclass(frozen=True)
class EvidenceRow:
    """One evidence sentence in the item page's side panel."""

    text: str
    where: str  # where it came from, for people: "message text", "attachment minutes.pdf"
    score: float | None  # None for results written before evidence had scores
    anchor: str | None  # id of its mark in the page; None when it was found in no text shown


def queue_notice(reason: str) -> str:
    """Return the notice a reviewer sees for the scorer's ``queue_reason`` ("" when there is none)."""
    reason = reason.strip()
    return _QUEUE_NOTICES.get(reason, f"Queued: {reason}.") if reason else ""


def evidence_panel(
    evidence: dict[str, list[dict[str, Any]]], labels: list[str], placed: dict[tuple[str, int], str]
) -> dict[str, list[EvidenceRow]]:
    """Return, per flagged label with evidence, its evidence best first; ``placed`` says which items were marked."""
    out: dict[str, list[EvidenceRow]] = {}
    for lb in labels:
        rows = []
        for k, item in enumerate(evidence.get(lb, [])):
            score = item.get("score")
            rows.append(
                EvidenceRow(
                    text=str(item.get("text", "")), where=describe(item),
                    score=float(score) if isinstance(score, int | float) else None,
                    anchor=anchor_id(lb, k) if (lb, k) in placed else None,
                )
            )  # fmt: skip
        if rows:
            # The scorer writes the best first; a stable sort keeps that true for hand-made results and
            # leaves legacy items (no scores) in their order.
            out[lb] = sorted(rows, key=lambda r: -(r.score or 0.0))
    return out


def readable_attachments(attachments: str, unscored: str) -> list[str]:
    """Return the names of the attachments whose text was read: all listed ones but the unscored ones."""

    def names(raw: str) -> list[str]:  # "; "-joined by the scorer; a file name may hold a comma
        return [n.strip() for n in raw.split("; ") if n.strip()]

    skipped = {entry.rsplit(" (", 1)[0] for entry in names(unscored)}
    return [a for a in names(attachments) if a not in skipped]


def reviewer_alias(username: str, secret: str) -> str:
    """Return the pseudonym under which a reviewer appears in exported training data."""
    return pseudonym(username, secret, prefix="Reviewer")


def item_summary(item: Item, secret: str) -> ItemSummary:
    """Return the queue row for ``item``."""
    return ItemSummary(
        id=item.id, subject=item.subject, date=item.date, sender=pseudonym(item.sender, secret),
        labels=item.label_list, max_score=item.max_score, status=item.status, direction=item.direction,
        queue_reason=item.queue_reason, model_version=item.model_version, version=item.version,
    )  # fmt: skip


def item_out(session: Session, item: Item, secret: str) -> ItemOut:
    """Return the full reviewer view of ``item`` with identities pseudonymised."""
    return ItemOut(
        id=item.id, subject=item.subject, body=item.body, quoted=item.quoted, date=item.date,
        sender=pseudonym(item.sender, secret),
        to=[pseudonym(a, secret) for a in addresses(item.to)],
        cc=[pseudonym(a, secret) for a in addresses(item.cc)],
        html_text=item.html_text, attachment_text=item.attachment_text, attachments=item.attachments,
        unscored_attachments=item.unscored_attachments, truncated=item.truncated, labels=item.label_list,
        scores=json.loads(item.scores or "{}"), evidence=parse_evidence(item.evidence), direction=item.direction,
        bulk=item.bulk, context_reason=item.context_reason, queue_reason=item.queue_reason,
        model_version=item.model_version, run_id=item.run_id,
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
