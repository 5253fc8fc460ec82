"""Header context of a message: who it went between (direction) and whether it is bulk mail.

Reviewers triage differently for a colleague-to-colleague remark than for a
vendor newsletter, so scoring records both. Nothing here raises on odd
headers: anything unparseable simply fails to fire a rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from mailguard.mail.message import Message

Direction = Literal["internal", "outbound", "inbound", "unknown"]

_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)*$")
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
# Local parts of automated senders; a suffix like "noreply+billing" or "news.letter" still counts.
_AUTOMATED_SENDER = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster|newsletters?|news|"
    r"bounces?|notifications?|mailman|listserv|majordomo)(?:[-_.+].*)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MessageContext:
    """Direction of a message relative to the organisation, and whether it is bulk/automated mail."""

    direction: Direction
    bulk: bool
    reason: str  # the bulk rules that fired, "; "-joined (e.g. "list-id; precedence=bulk"); "" if none


def message_context(msg: Message, org_domains: Sequence[str]) -> MessageContext:
    """Return the direction and bulk status of ``msg`` given the organisation's mail domains.

    Direction: sender in an org domain (or a subdomain) and every recipient too
    → ``internal``; sender in the org and any recipient outside → ``outbound``;
    sender outside → ``inbound``; no or malformed sender, or no org domains
    configured → ``unknown``. Recipients without a readable domain are ignored.
    """
    orgs = tuple(d for d in (normalise_domain(x) for x in org_domains if isinstance(x, str)) if d)
    return MessageContext(
        direction=_direction(msg, orgs), bulk=bool(rules := _bulk_rules(msg)), reason="; ".join(rules)
    )


def normalise_domain(domain: str) -> str:
    """Return ``domain`` lower-cased without ``@``/dots at the ends, or "" when it is not a valid domain."""
    d = domain.strip().lstrip("@").strip(".").lower()
    return d if _DOMAIN.match(d) else ""


def address_domain(address: str) -> str:
    """Return the normalised domain of an e-mail address, or "" when it has none."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    return normalise_domain(domain) if at and local else ""


def _in_org(domain: str, orgs: tuple[str, ...]) -> bool:
    return any(domain == org or domain.endswith("." + org) for org in orgs)


def _direction(msg: Message, orgs: tuple[str, ...]) -> Direction:
    sender = address_domain(msg.sender) if isinstance(msg.sender, str) else ""
    if not orgs or not sender:
        return "unknown"
    if not _in_org(sender, orgs):
        return "inbound"
    recipients = [address_domain(a) for a in (*msg.to, *msg.cc) if isinstance(a, str)]
    return "internal" if all(_in_org(d, orgs) for d in recipients if d) else "outbound"


def _header(headers: Mapping[str, object], name: str) -> str | None:
    """Return header ``name`` (case-insensitive) as stripped text, or None when absent."""
    if not isinstance(headers, Mapping):
        return None
    lname = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == lname:
            return "" if value is None else str(value).replace("\x00", "").strip()
    return None


def _bulk_rules(msg: Message) -> list[str]:
    headers = msg.headers
    rules: list[str] = []
    if _header(headers, "List-Id"):
        rules.append("list-id")
    if _header(headers, "List-Unsubscribe"):
        rules.append("list-unsubscribe")
    precedence = (_header(headers, "Precedence") or "").lower()
    if precedence in _BULK_PRECEDENCE:
        rules.append(f"precedence={precedence}")
    auto = (_header(headers, "Auto-Submitted") or "").split(";", 1)[0].strip().lower()
    if auto and auto != "no":
        rules.append(f"auto-submitted={auto[:40]}")
    if _header(headers, "X-Auto-Response-Suppress") is not None:
        rules.append("x-auto-response-suppress")
    local = msg.sender.strip().strip("<>").rpartition("@")[0] if isinstance(msg.sender, str) else ""
    m = _AUTOMATED_SENDER.match(local or (msg.sender if isinstance(msg.sender, str) else ""))
    if m:
        rules.append(f"sender={re.sub(r'[-_.]', '', m.group(1).lower())}")
    return rules
