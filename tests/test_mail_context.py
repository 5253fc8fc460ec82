"""Direction (internal/outbound/inbound/unknown) and bulk status from a message's headers."""

from __future__ import annotations

from typing import Any

import pytest

from mailguard.mail import Message, message_context, parse_message_bytes

ORG = ["cityofexample.gov"]


def msg(sender: str = "", to: tuple[str, ...] = (), cc: tuple[str, ...] = (), headers: Any = None) -> Message:
    return Message(message_id="<m@x>", source="t", sender=sender, to=to, cc=cc, headers=headers or {})


@pytest.mark.parametrize(
    ("sender", "to", "cc", "expected"),
    [
        ("a@cityofexample.gov", ("b@cityofexample.gov",), (), "internal"),
        ("a@parks.cityofexample.gov", ("b@CityOfExample.gov",), ("c@it.cityofexample.gov",), "internal"),  # subdomains
        ("a@cityofexample.gov", ("b@cityofexample.gov",), ("vendor@paving.example.com",), "outbound"),
        ("a@cityofexample.gov", ("x@notcityofexample.gov",), (), "outbound"),  # suffix is not a subdomain
        ("resident@mailbox.example.net", ("311@cityofexample.gov",), (), "inbound"),
        ("a@cityofexample.gov", (), (), "internal"),  # no recipients given: nothing leaves the org
        ("a@cityofexample.gov", ("undisclosed-recipients:;",), (), "internal"),  # unreadable recipients ignored
        ("", ("b@cityofexample.gov",), (), "unknown"),
        ("not an address", ("b@cityofexample.gov",), (), "unknown"),
        ("a@", (), (), "unknown"),
        ("a@bad domain.gov", (), (), "unknown"),
    ],
)
def test_direction(sender: str, to: tuple[str, ...], cc: tuple[str, ...], expected: str) -> None:
    assert message_context(msg(sender, to, cc), ORG).direction == expected


def test_direction_is_unknown_without_org_domains_and_org_domains_are_normalised() -> None:
    m = msg("a@cityofexample.gov", ("b@cityofexample.gov",))
    assert message_context(m, []).direction == "unknown"
    assert message_context(m, ["", "  "]).direction == "unknown"
    assert message_context(m, ["@CityOfExample.gov."]).direction == "internal"


@pytest.mark.parametrize(
    ("headers", "sender", "reason"),
    [
        ({"List-Id": "<digest.example.com>"}, "x@example.com", "list-id"),
        ({"List-Unsubscribe": "<https://x/u>"}, "x@example.com", "list-unsubscribe"),
        ({"Precedence": "Bulk"}, "x@example.com", "precedence=bulk"),
        ({"Precedence": "junk"}, "x@example.com", "precedence=junk"),
        ({"Auto-Submitted": "auto-replied; owner-email=x"}, "x@example.com", "auto-submitted=auto-replied"),
        ({"X-Auto-Response-Suppress": "All"}, "x@example.com", "x-auto-response-suppress"),
        ({}, "no-reply@vendor.example.com", "sender=noreply"),
        ({}, "MAILER-DAEMON", "sender=mailerdaemon"),
        ({}, "newsletter+april@govtech.example.com", "sender=newsletter"),
        (
            {"list-id": "<l>", "PRECEDENCE": "list", "List-Unsubscribe": "<u>"},
            "news@example.com",
            "list-id; list-unsubscribe; precedence=list; sender=news",
        ),
    ],
)
def test_bulk_rules_each_fire_and_are_named(headers: dict[str, str], sender: str, reason: str) -> None:
    ctx = message_context(msg(sender, headers=headers), ORG)
    assert ctx.bulk is True
    assert ctx.reason == reason


@pytest.mark.parametrize(
    "headers",
    [{}, {"Auto-Submitted": "no"}, {"Precedence": "first-class"}, {"List-Id": ""}, {"Precedence": None}],
)
def test_ordinary_mail_is_not_bulk(headers: dict[str, Any]) -> None:
    ctx = message_context(msg("dave.kowalski@cityofexample.gov", headers=headers), ORG)
    assert (ctx.bulk, ctx.reason) == (False, "")


def test_malformed_values_never_raise() -> None:
    weird = Message(
        message_id="<m@x>",
        source="t",
        sender=None,  # type: ignore[arg-type]
        to=(None, 3, "@@"),  # type: ignore[arg-type]
        headers={None: "x", "Precedence": 7, "Auto-Submitted": "\x00"},  # type: ignore[dict-item]
    )
    ctx = message_context(weird, [None, "cityofexample.gov"])  # type: ignore[list-item]
    assert ctx.direction == "unknown"
    assert ctx.reason == ""  # a NUL-only Auto-Submitted is empty, not a rule


def test_context_from_a_parsed_message_with_garbage_headers() -> None:
    raw = b"From: <<<@@>>>\nTo: ;;;,,,<>\nPrecedence: \x00bulk\nList-Id:\nSubject: s\n\nhello\n"
    ctx = message_context(parse_message_bytes(raw), ORG)
    assert ctx.direction == "unknown"
    assert ctx.reason == "precedence=bulk"  # the NUL is dropped when the header is read; empty List-Id does not fire
