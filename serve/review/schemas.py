"""Request and response schemas of the JSON API, separate from the ORM models so internals never leak."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

#: Versions beyond PostgreSQL's INTEGER could not match any item: 422, not a failed query.
_MAX_VERSION = 2**31 - 1


class DecisionIn(BaseModel):
    """A reviewer's decision; ``version`` is the item version the reviewer saw."""

    decision: str = Field(pattern="^(confirmed|not_violation|escalated)$")
    version: int = Field(ge=1, le=_MAX_VERSION)
    labels: list[str] = Field(default_factory=list, max_length=50)
    note: str = Field(default="", max_length=5000)
    escalate_to: str = Field(default="", max_length=80)


class ReopenIn(BaseModel):
    """An investigator's reopening of a decided item; ``note`` says why (required)."""

    version: int = Field(ge=1, le=_MAX_VERSION)
    note: str = Field(min_length=1, max_length=5000)


class ItemSummary(BaseModel):
    """One queue row: no message body, sender pseudonymised."""

    id: int
    subject: str
    date: datetime | None
    sender: str
    labels: list[str]
    max_score: float
    status: str
    direction: str
    queue_reason: str  # why the scorer queued it ("" for the ordinary rule), e.g. "in quoted/forwarded text"
    model_version: str
    version: int


class QueueOut(BaseModel):
    """A page of the queue with its counts."""

    items: list[ItemSummary]
    total: int
    page: int
    page_size: int
    label_counts: dict[str, int]
    direction_counts: dict[str, int]


class DecisionOut(BaseModel):
    """One recorded decision in an item's history."""

    decision: str
    reviewer: str
    labels: list[str]
    note: str
    escalated_to: str | None
    decided_at: datetime


class ItemOut(BaseModel):
    """An item as a reviewer sees it: text, scores, evidence; identities pseudonymised."""

    id: int
    subject: str
    body: str
    quoted: str
    date: datetime | None
    sender: str
    to: list[str]
    cc: list[str]
    html_text: str  # text only the HTML alternative shows ("" when it says what the plain part says)
    attachment_text: str  # readable attachments' text, one after another
    attachments: str
    unscored_attachments: str  # "; "-joined "name (reason)" of attachments whose text was not read
    truncated: bool  # some text was cut by a size limit and not scored
    labels: list[str]
    scores: dict[str, float]
    # {label: [item]} best first, as mailguard.evidence.parse_evidence reads it; start/end index the field named
    evidence: dict[str, list[dict[str, Any]]]
    direction: str
    bulk: bool
    context_reason: str
    queue_reason: str
    model_version: str
    run_id: str
    status: str
    confirmed_labels: list[str]
    assigned_to: str | None
    decided_by: str | None
    decided_at: datetime | None
    version: int
    history: list[DecisionOut] = Field(default_factory=list)


class IdentityOut(BaseModel):
    """Real addresses behind an item's pseudonyms, for investigators only."""

    item_id: int
    sender: str
    to: list[str]
    cc: list[str]
