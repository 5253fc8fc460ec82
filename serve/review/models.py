"""ORM models of the review database; the Alembic migrations under migrations/ create the same schema."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: Item statuses. ``pending`` and ``escalated`` are open; the other two are final decisions.
PENDING, ESCALATED, CONFIRMED, NOT_VIOLATION = "pending", "escalated", "confirmed", "not_violation"
STATUSES = (PENDING, ESCALATED, CONFIRMED, NOT_VIOLATION)
OPEN_STATUSES = (PENDING, ESCALATED)
#: Roles; a user may hold several (stored ";"-joined), but never both admin and investigator.
ROLES = ("reviewer", "investigator", "admin")
#: Roles an admin cannot hand out alone on the web: a second admin approves (or the server's CLI grants).
PRIVILEGED_ROLES = ("investigator", "admin")
#: History entry written when an investigator reopens a decided item.
REOPENED = "reopened"


def utcnow() -> datetime:
    """Return the current time in UTC without tzinfo (stored naive, always UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[str] = mapped_column(String(120))  # ";"-joined subset of ROLES
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def role_set(self) -> frozenset[str]:
        """Return the roles this user holds."""
        return frozenset(r for r in self.roles.split(";") if r)

    @property
    def can_review(self) -> bool:
        """Return whether the user may read mail: reviewers and investigators (not plain admins)."""
        return bool(self.role_set & {"reviewer", "investigator"})

    @property
    def can_reveal(self) -> bool:
        """Return whether the user may reveal identities and reopen decisions: investigators that are not admins.

        An account holding both roles (possible only in a database written before migration 0002)
        gets neither power: an admin must never be able to hand themself the investigator's.
        """
        return "investigator" in self.role_set and "admin" not in self.role_set


class Item(Base):
    """One flagged message awaiting (or past) review, keyed by (message_id, content_hash)."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("message_id", "content_hash", name="uq_items_message_content"),
        Index("ix_items_status_score", "status", "max_score"),
        Index("ix_items_status_date", "status", "date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(998))
    content_hash: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(Text, default="")
    date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    sender: Mapped[str] = mapped_column(Text, default="")
    to: Mapped[str] = mapped_column(Text, default="")
    cc: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    quoted: Mapped[str] = mapped_column(Text, default="")
    html_text: Mapped[str] = mapped_column(Text, default="")  # text only the HTML alternative shows
    attachment_text: Mapped[str] = mapped_column(Text, default="")  # readable attachments' text, one after another
    attachments: Mapped[str] = mapped_column(Text, default="")
    unscored_attachments: Mapped[str] = mapped_column(Text, default="")  # "; "-joined "name (reason)"
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)  # some text was cut before scoring
    scores: Mapped[str] = mapped_column(Text, default="{}")  # JSON {label: probability}
    max_score: Mapped[float] = mapped_column(Float, default=0.0)
    labels: Mapped[str] = mapped_column(Text, default="")  # ";"-joined flagged labels
    evidence: Mapped[str] = mapped_column(Text, default="{}")  # JSON {label: [item]} (mailguard.evidence)
    model_version: Mapped[str] = mapped_column(String(120), default="", index=True)
    run_id: Mapped[str] = mapped_column(String(120), default="")
    direction: Mapped[str] = mapped_column(String(20), default="unknown", index=True)
    bulk: Mapped[bool] = mapped_column(Boolean, default=False)
    context_reason: Mapped[str] = mapped_column(Text, default="")
    queue_reason: Mapped[str] = mapped_column(Text, default="")  # why the scorer queued it, e.g. quoted text only
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    confirmed_labels: Mapped[str] = mapped_column(Text, default="")
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Optimistic lock: every decision must name the version it saw; a mismatch is a 409.
    version: Mapped[int] = mapped_column(Integer, default=1)
    loaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    item_labels: Mapped[list[ItemLabel]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    assigned_to: Mapped[User | None] = relationship(foreign_keys=[assigned_to_id], lazy="joined")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")

    @property
    def label_list(self) -> list[str]:
        """Return the flagged labels in taxonomy order."""
        return [lb for lb in self.labels.split(";") if lb]

    @property
    def confirmed_list(self) -> list[str]:
        """Return the labels a reviewer confirmed."""
        return [lb for lb in self.confirmed_labels.split(";") if lb]


class ItemLabel(Base):
    """One flagged label of an item with its score: what label filters, counts and per-label sorting use."""

    __tablename__ = "item_labels"
    __table_args__ = (Index("ix_item_labels_label_score", "label", "score"),)

    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), primary_key=True)
    label: Mapped[str] = mapped_column(String(40), primary_key=True)
    score: Mapped[float] = mapped_column(Float, default=0.0)


class Decision(Base):
    """One recorded decision; append-only history (the item holds the current outcome)."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(20))  # confirmed | not_violation | escalated
    labels: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    escalated_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    item_version: Mapped[int] = mapped_column(Integer)  # the version the decision replaced
    decided_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    reviewer: Mapped[User] = relationship(foreign_keys=[reviewer_id], lazy="joined")
    escalated_to: Mapped[User | None] = relationship(foreign_keys=[escalated_to_id], lazy="joined")


class AuditEvent(Base):
    """Append-only audit log: views, reveals, decisions, exports, logins. Never holds message text."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_login", "action", "actor", "ip", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80), default="")
    action: Mapped[str] = mapped_column(String(40))
    item_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")  # JSON of ids/filters/counts only


class LoginSession(Base):
    """A server-side login session; the cookie carries its random token, stored here only as a hash."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_user_ip", "user_id", "ip", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 hex of the cookie token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_reason: Mapped[str] = mapped_column(String(40), default="")  # logout, idle, expired, password...

    user: Mapped[User] = relationship(lazy="joined")


class LoginAttempt(Base):
    """Failed and refused logins in the current window of one key: a (user, address) pair, a user, an address."""

    __tablename__ = "login_attempts"

    scope: Mapped[str] = mapped_column(String(8), primary_key=True)  # pair | user | ip
    username: Mapped[str] = mapped_column(String(80), primary_key=True)  # "" for scope ip
    ip: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" for scope user
    window_start: Mapped[datetime] = mapped_column(DateTime, index=True)
    # Failed (or still being checked) attempts: a login counts as failed until its password verifies.
    failures: Mapped[int] = mapped_column(Integer, default=0)
    # Attempts turned away over the limit: counted here, audited once per key and window.
    refused: Mapped[int] = mapped_column(Integer, default=0)


class RoleGrant(Base):
    """A privileged role (investigator, admin) asked for by one admin; another admin approves or rejects it."""

    __tablename__ = "role_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | approved | rejected
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)  # None: the CLI
    decided_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id], lazy="joined")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")
