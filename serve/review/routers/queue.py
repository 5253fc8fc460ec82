"""The review queue: a page and a JSON route over the same filtered, sorted, paginated query."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from mailguard.taxonomy import LABELS
from serve.review import audit
from serve.review.deps import ClientIp, Db, Reviewer, Settings
from serve.review.presenters import item_summary
from serve.review.queue import DIRECTION_GROUPS, STATUS_FILTERS, QueueFilters, list_queue
from serve.review.schemas import QueueOut
from serve.review.security import pseudonym
from serve.review.templating import render

router = APIRouter(tags=["queue"])

#: Highest page number accepted (422 beyond): far past any real queue, and its offset fits every database.
MAX_PAGE = 1_000_000


def _day(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(status_code=422, detail=f"{name} must be a date like 2025-01-31") from None


def queue_filters(
    settings: Settings,
    status: Annotated[str, Query()] = "open",
    label: Annotated[str, Query()] = "",
    direction: Annotated[str, Query()] = "",
    model_version: Annotated[str, Query(max_length=120)] = "",
    date_from: Annotated[str, Query()] = "",
    date_to: Annotated[str, Query()] = "",
    sort: Annotated[Literal["score", "date"], Query()] = "score",
    order: Annotated[Literal["desc", "asc"], Query()] = "desc",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int | None, Query(ge=1, le=500)] = None,
) -> QueueFilters:
    """Return validated queue filters from the query string (422 on an unknown value)."""
    if status not in STATUS_FILTERS:
        raise HTTPException(status_code=422, detail=f"status must be one of {', '.join(STATUS_FILTERS)}")
    if label and label not in LABELS:
        raise HTTPException(status_code=422, detail=f"label must be one of {', '.join(LABELS)}")
    if direction and direction not in DIRECTION_GROUPS:
        raise HTTPException(status_code=422, detail=f"direction must be one of {', '.join(DIRECTION_GROUPS)}")
    return QueueFilters(
        status=status, label=label, direction=direction, model_version=model_version,
        date_from=_day(date_from, "date_from"), date_to=_day(date_to, "date_to"), sort=sort, order=order,
        page=page, page_size=page_size or settings.page_size,
    )  # fmt: skip


Filters = Annotated[QueueFilters, Depends(queue_filters)]


@router.get("/api/queue", response_model=QueueOut)
def queue_api(db: Db, user: Reviewer, settings: Settings, f: Filters, ip: ClientIp) -> QueueOut:
    page = list_queue(db, f)
    secret = settings.secret_key.get_secret_value()
    out = QueueOut(
        items=[item_summary(it, secret) for it in page.items], total=page.total, page=f.page,
        page_size=f.page_size, label_counts=page.label_counts, direction_counts=page.direction_counts,
    )  # fmt: skip
    audit.record(db, "view_queue", actor=user.username, ip=ip, filters=f.as_dict(), shown=len(page.items))
    db.commit()  # write last and commit at once: SQLite holds its one write lock only this long
    return out


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, db: Db, user: Reviewer, settings: Settings, f: Filters, ip: ClientIp) -> Response:
    page = list_queue(db, f)
    secret = settings.secret_key.get_secret_value()
    base = {k: v for k, v in f.as_dict().items() if k not in {"page"}}
    response = render(
        request, "queue.html", user=user, page=page, f=f, base=base, statuses=STATUS_FILTERS,
        alias=lambda addr: pseudonym(addr, secret), n_pages=page.pages(f.page_size),
    )  # fmt: skip
    audit.record(db, "view_queue", actor=user.username, ip=ip, filters=f.as_dict(), shown=len(page.items))
    db.commit()
    return response
