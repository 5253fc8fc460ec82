"""One review item: the reviewer page and JSON, decisions (optimistically locked) and audited reveals."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from mailguard.evidence import parse_evidence
from serve.review import audit
from serve.review.decisions import (
    DecisionConflict,
    InvalidDecision,
    ItemClosed,
    ItemNotFound,
    NotAllowed,
    decide_blocker,
    history,
    record_decision,
    reopen_item,
)
from serve.review.deps import MAX_DB_INT, ClientIp, Db, Investigator, ItemId, Reviewer, Settings
from serve.review.highlight import FIELDS, highlight_message
from serve.review.models import CONFIRMED, NOT_VIOLATION, Item, User
from serve.review.presenters import (
    addresses,
    evidence_panel,
    identity_out,
    item_out,
    queue_notice,
    readable_attachments,
)
from serve.review.queue import neighbours
from serve.review.schemas import DecisionIn, IdentityOut, ItemOut, ReopenIn
from serve.review.security import pseudonym
from serve.review.templating import render

router = APIRouter(tags=["items"])

_STATUS = {ItemNotFound: 404, NotAllowed: 403, DecisionConflict: 409, ItemClosed: 409, InvalidDecision: 422}


def _item(db: Session, item_id: int) -> Item:
    item = db.get(Item, item_id)
    if item is None:
        raise HTTPException(status_code=404, detail=f"no review item {item_id}")
    return item


def _audit_now(db: Session, action: str, user: User, item: Item, ip: str) -> None:
    # Written last and committed at once: SQLite's single write lock is held for one INSERT only.
    audit.record(db, action, actor=user.username, item_id=item.id, ip=ip)
    db.commit()


def _decide(db: Session, item_id: int, user: User, body: DecisionIn, ip: str) -> Item:
    try:
        item = record_decision(
            db, item_id, user, decision=body.decision, version=body.version, labels=body.labels,
            note=body.note, escalate_to=body.escalate_to, ip=ip,
        )  # fmt: skip
    except tuple(_STATUS) as e:
        db.rollback()  # nothing to keep; frees the write lock the unmatched UPDATE took
        raise HTTPException(status_code=_STATUS[type(e)], detail=str(e)) from e
    db.commit()  # release SQLite's write lock before any rendering
    return item


def _reopen(db: Session, item_id: int, user: User, body: ReopenIn, ip: str) -> Item:
    try:
        item = reopen_item(db, item_id, user, version=body.version, note=body.note, ip=ip)
    except tuple(_STATUS) as e:
        db.rollback()
        raise HTTPException(status_code=_STATUS[type(e)], detail=str(e)) from e
    db.commit()
    return item


def _page(
    request: Request, db: Session, item: Item, user: User, settings: Settings, *, status_code: int = 200,
    error: str = "", identity: dict[str, object] | None = None,
) -> Response:  # fmt: skip
    secret = settings.secret_key.get_secret_value()
    evidence = parse_evidence(item.evidence)
    labels = item.label_list
    marked = highlight_message({f: getattr(item, f) for f in FIELDS}, evidence, labels)
    panel = evidence_panel(evidence, labels, marked.placed)
    missing = [(lb, row) for lb, rows in panel.items() for row in rows if row.anchor is None and row.text]
    scores = json.loads(item.scores or "{}")
    by_score = sorted(labels, key=lambda lb: -float(scores.get(lb, 0.0)))  # the strongest reason first
    prev_id, next_id = neighbours(db, item)
    reviewers = db.scalars(select(User).where(User.active.is_(True), User.id != user.id).order_by(User.username))
    return render(
        request, "item.html", status_code=status_code, user=user, item=item, marked=marked.fields,
        evidence_in={f: f in marked.placed.values() for f in FIELDS}, evidence_panel=panel, panel_labels=by_score,
        missing_evidence=missing, queue_notice=queue_notice(item.queue_reason),
        read_attachments=readable_attachments(item.attachments, item.unscored_attachments), scores=scores,
        sender=pseudonym(item.sender, secret), to=[pseudonym(a, secret) for a in addresses(item.to)],
        cc=[pseudonym(a, secret) for a in addresses(item.cc)], identity=identity, error=error,
        history=history(db, item.id), prev_id=prev_id, next_id=next_id,
        escalate_choices=[u.username for u in reviewers if u.can_review],
        can_reveal=user.can_reveal, decide_blocker=decide_blocker(item, user),
        can_reopen=user.can_reveal and item.status in (CONFIRMED, NOT_VIOLATION),
    )  # fmt: skip


@router.get("/api/items/{item_id}", response_model=ItemOut)
def item_api(item_id: ItemId, db: Db, user: Reviewer, settings: Settings, ip: ClientIp) -> ItemOut:
    item = _item(db, item_id)
    out = item_out(db, item, settings.secret_key.get_secret_value())
    _audit_now(db, "view_item", user, item, ip)
    return out


@router.post("/api/items/{item_id}/decision", response_model=ItemOut)
def decide_api(item_id: ItemId, body: DecisionIn, db: Db, user: Reviewer, settings: Settings, ip: ClientIp) -> ItemOut:
    item = _decide(db, item_id, user, body, ip)
    return item_out(db, item, settings.secret_key.get_secret_value())


@router.post("/api/items/{item_id}/reveal", response_model=IdentityOut)
def reveal_api(item_id: ItemId, db: Db, user: Investigator, ip: ClientIp) -> IdentityOut:
    item = _item(db, item_id)
    _audit_now(db, "reveal", user, item, ip)
    return identity_out(item)


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, item_id: ItemId, db: Db, user: Reviewer, settings: Settings, ip: ClientIp) -> Response:
    item = _item(db, item_id)
    response = _page(request, db, item, user, settings)
    _audit_now(db, "view_item", user, item, ip)
    return response


@router.post("/items/{item_id}/decision", response_class=HTMLResponse)
def decide_page(
    request: Request,
    item_id: ItemId,
    db: Db,
    user: Reviewer,
    settings: Settings,
    ip: ClientIp,
    decision: Annotated[str, Form()],
    version: Annotated[int, Form(ge=1, le=MAX_DB_INT)],
    labels: Annotated[list[str] | None, Form()] = None,
    note: Annotated[str, Form(max_length=5000)] = "",
    escalate_to: Annotated[str, Form()] = "",
) -> Response:
    body = DecisionIn.model_construct(
        decision=decision, version=version, labels=labels or [], note=note, escalate_to=escalate_to
    )
    try:
        item = _decide(db, item_id, user, body, ip)
    except HTTPException as e:
        if e.status_code == 404:
            raise
        db.rollback()
        return _page(request, db, _item(db, item_id), user, settings, status_code=e.status_code, error=str(e.detail))
    _, next_id = neighbours(db, item)
    request.session["flash"] = f"Item {item.id}: {item.status.replace('_', ' ')}."
    return RedirectResponse(f"/items/{next_id}" if next_id else "/queue", status_code=303)


@router.post("/items/{item_id}/reveal", response_class=HTMLResponse)
def reveal_page(request: Request, item_id: ItemId, db: Db, user: Investigator, settings: Settings, ip: ClientIp) -> Response:
    item = _item(db, item_id)
    response = _page(request, db, item, user, settings, identity=identity_out(item).model_dump())
    _audit_now(db, "reveal", user, item, ip)
    return response


@router.post("/api/items/{item_id}/reopen", response_model=ItemOut)
def reopen_api(item_id: ItemId, body: ReopenIn, db: Db, user: Investigator, settings: Settings, ip: ClientIp) -> ItemOut:
    item = _reopen(db, item_id, user, body, ip)
    return item_out(db, item, settings.secret_key.get_secret_value())


@router.post("/items/{item_id}/reopen", response_class=HTMLResponse)
def reopen_page(
    request: Request,
    item_id: ItemId,
    db: Db,
    user: Investigator,
    settings: Settings,
    ip: ClientIp,
    version: Annotated[int, Form(ge=1, le=MAX_DB_INT)],
    note: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    try:
        item = _reopen(db, item_id, user, ReopenIn.model_construct(version=version, note=note), ip)
    except HTTPException as e:
        if e.status_code == 404:
            raise
        return _page(request, db, _item(db, item_id), user, settings, status_code=e.status_code, error=str(e.detail))
    request.session["flash"] = f"Item {item.id} reopened."
    return RedirectResponse(f"/items/{item.id}", status_code=303)
