"""Queries behind the review queue: filters, sorting, pagination and counts, shared by pages and API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, TypeVar

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from mailguard.taxonomy import LABELS
from serve.review.models import OPEN_STATUSES, STATUSES, Item, ItemLabel

#: Direction filter values; "staff" is mail staff sent (internal + outbound), as issue 8 asks.
DIRECTION_GROUPS: dict[str, tuple[str, ...]] = {
    "staff": ("internal", "outbound"),
    "inbound": ("inbound",),
    "internal": ("internal",),
    "outbound": ("outbound",),
    "unknown": ("unknown",),
}
STATUS_FILTERS = ("open", *STATUSES, "all")

SortKey = Literal["score", "date"]


@dataclass(frozen=True)
class QueueFilters:
    """What the reviewer asked to see; every field has a neutral default."""

    status: str = "open"
    label: str = ""
    direction: str = ""
    model_version: str = ""
    date_from: date | None = None
    date_to: date | None = None
    sort: SortKey = "score"
    order: Literal["desc", "asc"] = "desc"
    page: int = 1
    page_size: int = 25

    def as_dict(self) -> dict[str, Any]:
        """Return the filters as a JSON-able dict (for audit entries and links)."""
        return {k: (str(v) if isinstance(v, date) else v) for k, v in self.__dict__.items() if v not in ("", None)}


@dataclass
class QueuePage:
    """One page of the queue plus the counts shown around it."""

    items: list[Item]
    total: int
    label_counts: dict[str, int] = field(default_factory=dict)
    direction_counts: dict[str, int] = field(default_factory=dict)
    model_versions: list[str] = field(default_factory=list)

    def pages(self, page_size: int) -> int:
        """Return the number of pages at ``page_size`` items per page (at least 1)."""
        return max(1, -(-self.total // page_size))


_S = TypeVar("_S", bound=Select)  # type: ignore[type-arg]


def _filtered(stmt: _S, f: QueueFilters, *, with_label: bool = True, with_direction: bool = True) -> _S:
    if f.status == "open":
        stmt = stmt.where(Item.status.in_(OPEN_STATUSES))
    elif f.status != "all":
        stmt = stmt.where(Item.status == f.status)
    if with_label and f.label:
        stmt = stmt.where(Item.id.in_(select(ItemLabel.item_id).where(ItemLabel.label == f.label)))
    if with_direction and f.direction:
        stmt = stmt.where(Item.direction.in_(DIRECTION_GROUPS[f.direction]))
    if f.model_version:
        stmt = stmt.where(Item.model_version == f.model_version)
    if f.date_from:
        stmt = stmt.where(Item.date >= datetime.combine(f.date_from, time.min))
    if f.date_to:  # inclusive: everything before the next midnight
        stmt = stmt.where(Item.date < datetime.combine(f.date_to + timedelta(days=1), time.min))
    return stmt


def list_queue(session: Session, f: QueueFilters) -> QueuePage:
    """Return the page of items matching ``f``, its total, and per-label / per-direction counts."""
    total = session.scalar(_filtered(select(func.count(Item.id)), f)) or 0
    stmt = _filtered(select(Item), f)
    if f.sort == "date":
        key: Any = Item.date
    elif f.label:  # sorting by score under a label filter means that label's score
        key = (
            select(ItemLabel.score)
            .where(ItemLabel.item_id == Item.id, ItemLabel.label == f.label)
            .scalar_subquery()
        )
    else:
        key = Item.max_score
    key = key.desc() if f.order == "desc" else key.asc()
    tie = Item.id.desc() if f.order == "desc" else Item.id.asc()
    stmt = stmt.order_by(key.nulls_last(), tie).offset((f.page - 1) * f.page_size).limit(f.page_size)
    items = list(session.scalars(stmt).unique())

    label_stmt = (
        select(ItemLabel.label, func.count())
        .join(Item, Item.id == ItemLabel.item_id)
        .group_by(ItemLabel.label)
    )
    found: dict[str, int] = {r[0]: r[1] for r in session.execute(_filtered(label_stmt, f, with_label=False))}
    dir_stmt = select(Item.direction, func.count(Item.id)).group_by(Item.direction)
    by_dir: dict[str, int] = {r[0]: r[1] for r in session.execute(_filtered(dir_stmt, f, with_direction=False))}
    direction_counts = {g: sum(by_dir.get(d, 0) for d in ds) for g, ds in DIRECTION_GROUPS.items()}
    versions = [v for v in session.scalars(select(Item.model_version).distinct().order_by(Item.model_version)) if v]
    return QueuePage(
        items=items,
        total=total,
        label_counts={lb: int(found.get(lb, 0)) for lb in LABELS},
        direction_counts=direction_counts,
        model_versions=versions,
    )


def neighbours(session: Session, item: Item) -> tuple[int | None, int | None]:
    """Return the ids of the open items before and after ``item`` in default queue order (k/j keys)."""
    s, i = item.max_score, item.id
    base = select(Item.id).where(Item.status.in_(OPEN_STATUSES), Item.id != i)
    after = base.where(or_(Item.max_score < s, and_(Item.max_score == s, Item.id < i)))
    before = base.where(or_(Item.max_score > s, and_(Item.max_score == s, Item.id > i)))
    nxt = session.scalar(after.order_by(Item.max_score.desc(), Item.id.desc()).limit(1))
    prev = session.scalar(before.order_by(Item.max_score.asc(), Item.id.asc()).limit(1))
    return prev, nxt
