"""One review item: the reviewer page and JSON, decisions (optimistically locked) and audited reveals."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from serve.review import audit
from serve.review.decisions import DecisionConflict, InvalidDecision, ItemNotFound, history, record_decision
from serve.review.deps import ClientIp, Db, Investigator, Reviewer, Settings
from serve.review.highlight import highlight
from serve.review.models import Item, User
from serve.review.presenters import addresses, identity_out, item_out
from serve.review.queue import neighbours
from serve.review.schemas import DecisionIn, IdentityOut, ItemOut
from serve.review.security import pseudonym
from serve.review.templating import render

router = APIRouter(tags=["items"])


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
    except (ItemNotFound, DecisionConflict, InvalidDecision) as e:
        db.rollback()  # nothing to keep; frees the write lock the unmatched UPDATE took
        status = 404 if isinstance(e, ItemNotFound) else 409 if isinstance(e, DecisionConflict) else 422
        raise HTTPException(status_code=status, detail=str(e)) from e
    db.commit()  # release SQLite's write lock before any rendering
    return item


def _page(
    request: Request, db: Session, item: Item, user: User, settings: Settings, *, status_code: int = 200,
    error: str = "", identity: dict[str, object] | None = None,
) -> Response:  # fmt: skip
    secret = settings.secret_key.get_secret_value()
    evidence = json.loads(item.evidence or "{}")
    labels = item.label_list
    body = highlight(item.body, evidence, labels)
    subject = highlight(item.subject, evidence, [lb for lb in labels if lb not in body.found])
    missing = {lb: evidence[lb] for lb in labels if evidence.get(lb) and lb not in body.found | subject.found}
    prev_id, next_id = neighbours(db, item)
    reviewers = db.scalars(select(User).where(User.active.is_(True), User.id != user.id).order_by(User.username))
    return render(
        request, "item.html", status_code=status_code, user=user, item=item, body_html=body.html,
        subject_html=subject.html, missing_evidence=missing, scores=json.loads(item.scores or "{}"),
        sender=pseudonym(item.sender, secret), to=[pseudonym(a, secret) for a in addresses(item.to)],
        cc=[pseudonym(a, secret) for a in addresses(item.cc)], identity=identity, error=error,
        history=history(db, item.id), prev_id=prev_id, next_id=next_id,
        escalate_choices=[u.username for u in reviewers if u.can_review],
        can_reveal="investigator" in user.role_set,
    )  # fmt: skip


@router.get("/api/items/{item_id}", response_model=ItemOut)
def item_api(item_id: int, db: Db, user: Reviewer, settings: Settings, ip: ClientIp) -> ItemOut:
    item = _item(db, item_id)
    out = item_out(db, item, settings.secret_key.get_secret_value())
    _audit_now(db, "view_item", user, item, ip)
    return out


@router.post("/api/items/{item_id}/decision", response_model=ItemOut)
def decide_api(item_id: int, body: DecisionIn, db: Db, user: Reviewer, settings: Settings, ip: ClientIp) -> ItemOut:
    item = _decide(db, item_id, user, body, ip)
    return item_out(db, item, settings.secret_key.get_secret_value())


@router.post("/api/items/{item_id}/reveal", response_model=IdentityOut)
def reveal_api(item_id: int, db: Db, user: Investigator, ip: ClientIp) -> IdentityOut:
    item = _item(db, item_id)
    _audit_now(db, "reveal", user, item, ip)
    return identity_out(item)


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, item_id: int, db: Db, user: Reviewer, settings: Settings, ip: ClientIp) -> Response:
    item = _item(db, item_id)
    response = _page(request, db, item, user, settings)
    _audit_now(db, "view_item", user, item, ip)
    return response


@router.post("/items/{item_id}/decision", response_class=HTMLResponse)
def decide_page(
    request: Request,
    item_id: int,
    db: Db,
    user: Reviewer,
    settings: Settings,
    ip: ClientIp,
    decision: Annotated[str, Form()],
    version: Annotated[int, Form()],
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
def reveal_page(request: Request, item_id: int, db: Db, user: Investigator, settings: Settings, ip: ClientIp) -> Response:
    item = _item(db, item_id)
    response = _page(request, db, item, user, settings, identity=identity_out(item).model_dump())
    _audit_now(db, "reveal", user, item, ip)
    return response
