"""Privileged role grants: a second admin approves or rejects what another admin asked for (audited)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from serve.review import audit
from serve.review.deps import Admin, ClientIp, Db, GrantId
from serve.review.grants import GrantError, GrantNotFound, approve_grant, reject_grant
from serve.review.routers.admin import users_page
from serve.review.users import UserError

router = APIRouter(prefix="/admin/grants", tags=["grants"])


@router.post("/{grant_id}/approve", response_class=HTMLResponse)
def approve(request: Request, grant_id: GrantId, db: Db, user: Admin, ip: ClientIp) -> Response:
    try:
        grant = approve_grant(db, grant_id, by=user)
    except GrantNotFound as e:
        raise HTTPException(status_code=404, detail=str(e)) from e
    except (GrantError, UserError) as e:
        db.rollback()
        return users_page(request, db, user, status_code=422, error=str(e))
    asked_by = grant.requested_by.username if grant.requested_by else "cli"
    audit.record(
        db, "grant_approved", actor=user.username, ip=ip, grant=grant.id, username=grant.user.username,
        role=grant.role, requested_by=asked_by, roles=grant.user.roles,
    )  # fmt: skip
    db.commit()
    request.session["flash"] = f"{grant.user.username} now holds the {grant.role} role."
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/{grant_id}/reject", response_class=HTMLResponse)
def reject(request: Request, grant_id: GrantId, db: Db, user: Admin, ip: ClientIp) -> Response:
    try:
        grant = reject_grant(db, grant_id, by=user)
    except GrantNotFound as e:
        raise HTTPException(status_code=404, detail=str(e)) from e
    audit.record(
        db, "grant_rejected", actor=user.username, ip=ip, grant=grant.id, username=grant.user.username, role=grant.role
    )
    db.commit()
    request.session["flash"] = f"Rejected the {grant.role} role for {grant.user.username}."
    return RedirectResponse("/admin/users", status_code=303)
