"""Seeded generator of malformed raw e-mail, for robustness tests of anything that reads mail.

``malformed_messages(seed, n)`` yields ``n`` raw messages (bytes) covering
broken MIME boundaries, bad base64 / quoted-printable, unknown and lying
charsets, NUL bytes, enormous headers and bodies, deeply nested multiparts,
binary junk, truncation and empty messages. The same seed always gives the
same bytes. ``malformed_cases`` yields the same messages with their kind and,
where the outcome is certain, the error kind a reader must report.
``write_mbox`` / ``write_maildir`` store them in real mailbox formats.

Used by tests/test_mail_fuzz.py and reusable by any test that reads mail (the
nightly scoring tests, for one): ``from mailfuzz import malformed_messages``
works because pytest puts ``tests/`` (which has no ``__init__.py``) on ``sys.path``.
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: Size limit the expectations below assume; pass it to the reader as ``max_bytes``.
FUZZ_MAX_BYTES = 1_000_000
#: MIME depth limit the expectations assume (mailguard's default).
FUZZ_MAX_DEPTH = 20

_WORDS = [
    "budget",
    "permit",
    "council",
    "meeting",
    "street",
    "water",
    "invoice",
    "schedule",
    "report",
    "crew",
    "park",
    "library",
    "review",
    "please",
    "thanks",
    "attached",
    "agenda",
    "overtime",
    "bridge",
    "inspection",
    "request",
    "approve",
    "draft",
    "update",
]


@dataclass(frozen=True)
class FuzzCase:
    """One generated message: what kind of damage it has, its bytes, and the certain outcome if any."""

    kind: str
    data: bytes
    expect_error: str | None = None  # error kind the reader must report, e.g. "too_deep"; None = any outcome


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def _headers(rng: random.Random, extra: str = "", *, message_id: bool = True) -> str:
    lines = [
        f"From: Staff {rng.randint(1, 999)} <user{rng.randint(1, 999)}@cityofexample.gov>",
        f"To: someone{rng.randint(1, 99)}@cityofexample.gov",
        f"Subject: {_text(rng, 4)}",
        f"Date: Mon, {rng.randint(1, 28)} Apr 2025 10:{rng.randint(10, 59)}:00 -0500",
    ]
    if message_id and rng.random() < 0.8:
        lines.append(f"Message-ID: <fuzz.{rng.getrandbits(48):x}@cityofexample.gov>")
    return "\n".join(lines) + ("\n" + extra if extra else "") + "\n"


def _broken_boundary(rng: random.Random) -> FuzzCase:
    variant = rng.randrange(4)
    body = _text(rng, 30)
    if variant == 0:  # declared boundary never used
        raw = (
            _headers(rng, 'Content-Type: multipart/mixed; boundary="declared"')
            + f"\n--other\nContent-Type: text/plain\n\n{body}"
        )
    elif variant == 1:  # no closing boundary
        raw = (
            _headers(rng, 'Content-Type: multipart/alternative; boundary="b1"')
            + f"\n--b1\nContent-Type: text/plain\n\n{body}\n--b1\nContent-Type: text/html\n\n<p>{body}"
        )
    elif variant == 2:  # no boundary parameter at all
        raw = _headers(rng, "Content-Type: multipart/mixed") + f"\n{body}\n"
    else:  # boundary with odd characters and a preamble, parts without headers
        raw = (
            _headers(rng, 'Content-Type: multipart/mixed; boundary="=_?*\'"')
            + f"\npreamble\n--=_?*'\n\n{body}\n--=_?*'--\nepilogue"
        )
    return FuzzCase("broken_boundary", raw.encode())


def _bad_base64(rng: random.Random) -> FuzzCase:
    payload = base64.b64encode(_text(rng, 40).encode()).decode()
    cut = rng.randrange(1, len(payload))
    damage = rng.choice(["!!", "====", "\x80\x81", "@@@", " ", ""])
    payload = payload[:cut] + damage + payload[cut + rng.randrange(0, 3) :]
    raw = _headers(rng, "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64") + "\n" + payload
    return FuzzCase("bad_base64", raw.encode("utf-8", "surrogateescape"))


def _bad_qp(rng: random.Random) -> FuzzCase:
    body = _text(rng, 30)
    damage = rng.choice(["=ZZ", "=", "=\r", "=4", "=E9=", "=\n=\n=", "=C3=A9=C3"])
    pos = rng.randrange(len(body))
    raw = _headers(rng, "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable")
    return FuzzCase("bad_qp", (raw + "\n" + body[:pos] + damage + body[pos:]).encode())


def _unknown_charset(rng: random.Random) -> FuzzCase:
    charset = rng.choice(["x-klingon", "utf-9", "", "iso-8859-99", "unknown-8bit", "base64", "rot13", "a" * 300])
    body = _text(rng, 25).encode() + bytes(rng.randrange(128, 256) for _ in range(20))
    subject = f"Subject: =?{charset or 'x'}?Q?caf=E9_{rng.randint(0, 9)}?=\n"
    raw = _headers(rng, f'Content-Type: text/plain; charset="{charset}"').replace("Subject:", "X-Old-Subject:", 1)
    return FuzzCase("unknown_charset", (raw + subject).encode() + b"\n" + body)


def _lying_charset(rng: random.Random) -> FuzzCase:
    text = "Café, naïve résumé – “quoted” " + _text(rng, 20)
    declared, actual = rng.choice(
        [
            ("us-ascii", "utf-8"),
            ("utf-8", "cp1252"),
            ("iso-8859-1", "utf-8"),
            ("utf-16", "utf-8"),
            ("shift_jis", "cp1252"),
        ]
    )
    raw = _headers(rng, f"Content-Type: text/plain; charset={declared}\nContent-Transfer-Encoding: 8bit")
    return FuzzCase("lying_charset", raw.encode() + b"\n" + text.encode(actual, "replace"))


def _nul_bytes(rng: random.Random) -> FuzzCase:
    body = bytearray(_text(rng, 40).encode())
    for _ in range(rng.randint(1, 20)):
        body.insert(rng.randrange(len(body) + 1), 0)
    head = _headers(rng).encode().replace(b"Subject: ", b"Subject: \x00\x00", 1)
    return FuzzCase("nul_bytes", head + b"\n" + bytes(body))


def _huge_header(rng: random.Random) -> FuzzCase:
    variant = rng.randrange(3)
    if variant == 0:
        extra = "X-Junk: " + "x" * rng.randint(100_000, 400_000)
    elif variant == 1:
        extra = "To: " + ", ".join(f"u{i}@example.org" for i in range(rng.randint(2_000, 15_000)))
    else:
        extra = "\n".join(f"X-H{i}: {_text(rng, 3)}" for i in range(rng.randint(2_000, 10_000)))
    return FuzzCase("huge_header", (_headers(rng, extra) + "\n" + _text(rng, 20)).encode())


def _huge_body(rng: random.Random) -> FuzzCase:
    size = rng.choice([rng.randint(200_000, 900_000), rng.randint(FUZZ_MAX_BYTES + 10_000, 1_500_000)])
    line = (_text(rng, 12) + "\n").encode()
    body = (line * (size // len(line) + 1))[:size]
    raw = _headers(rng).encode() + b"\n" + body
    return FuzzCase("huge_body", raw, "too_large" if len(raw) > FUZZ_MAX_BYTES else None)


def _deep_nesting(rng: random.Random) -> FuzzCase:
    depth = rng.choice([rng.randint(2, FUZZ_MAX_DEPTH - 1), rng.randint(FUZZ_MAX_DEPTH + 2, 60), rng.randint(300, 400)])
    inner = f"Content-Type: text/plain\n\n{_text(rng, 10)}\n"
    for i in range(depth):
        inner = f'Content-Type: multipart/mixed; boundary="d{i}"\n\n--d{i}\n{inner}--d{i}--\n'
    ctype, rest = inner.split("\n", 1)
    raw = _headers(rng, ctype) + rest
    # Depth counts the top-level multipart as 0; the text part sits at ``depth``.
    return FuzzCase("deep_nesting", raw.encode(), "too_deep" if depth > FUZZ_MAX_DEPTH else None)


def _binary_junk(rng: random.Random) -> FuzzCase:
    junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(2_000, 20_000)))
    # Start with a byte that cannot begin a header line, so the whole thing is body.
    return FuzzCase("binary_junk", b"\x01" + junk, "decode_error")


def _truncated(rng: random.Random) -> FuzzCase:
    att = base64.b64encode(bytes(rng.getrandbits(8) for _ in range(600))).decode()
    full = (
        _headers(rng, 'Content-Type: multipart/mixed; boundary="t1"')
        + f"\n--t1\nContent-Type: text/plain\n\n{_text(rng, 40)}\n--t1\n"
        + 'Content-Type: application/pdf\nContent-Disposition: attachment; filename="a.pdf"\n'
        + f"Content-Transfer-Encoding: base64\n\n{att}\n--t1--\n"
    ).encode()
    return FuzzCase("truncated", full[: rng.randint(len(full) // 4, len(full) - 1)])


def _empty(rng: random.Random) -> FuzzCase:
    variant = rng.randrange(3)
    if variant == 0:
        return FuzzCase("empty", b"", "empty_body")
    if variant == 1:
        return FuzzCase("empty", b"\n\n\n", "empty_body")
    raw = _headers(rng, message_id=False).replace("Subject:", "X-Subject:", 1) + "\n"
    return FuzzCase("empty", raw.encode(), "empty_body")


def _header_garbage(rng: random.Random) -> FuzzCase:
    lines = [
        rng.choice(["From: <<<@@>>>", "From: ", "From: \xff\xfe@\xe9.com", "From: a@b@c", "From: (comment only)"]),
        rng.choice(["To: ;;;,,,<>", "To: undisclosed-recipients:;", "Cc: \x80\x81", "To: a@[1.2.3.4]"]),
        rng.choice(["Date: yesterday", "Date: Mon, 99 Foo 20250 99:99:99 +9999", "Date: \x00", "Date: 0"]),
        rng.choice(["Subject: =?utf-8?B?!!!?=", "Subject: =?utf-8?Q?=ZZ?=", "Subject: \xe9t\xe9", "Subject"]),
        rng.choice(["Message-ID: < a b c >", "Message-ID:", "Message-ID: " + "<" * 2000]),
        rng.choice(["no colon header line", ": empty name", "X-\x80: v", "Precedence: \x00bulk"]),
        rng.choice(
            ["Content-Type: text/plain; charset", "Content-Type: ;;;", 'Content-Type: text/html; charset="utf-8']
        ),
    ]
    rng.shuffle(lines)
    body = "\n" + _text(rng, 30) + "\n"
    return FuzzCase("header_garbage", "\n".join(lines).encode("latin-1", "replace") + b"\n" + body.encode())


def _html_garbage(rng: random.Random) -> FuzzCase:
    body = _text(rng, 30)
    html = rng.choice(
        [
            f"<html><head><style>p{{}}</style><p>{body}",
            f"<script>var x = '{body}';",
            f"<div><![if !supportLists]>{body}<![endif]></div>",
            f"<p>{body}<<<>>><b><i></p></b>&#xZZZ;&bogus;&#99999999;",
            f"<!DOCTYPE html><!-- {body}",
            f"<table><tr><td>{body}" * 50,
        ]
    )
    raw = _headers(rng, "Content-Type: text/html; charset=utf-8") + "\n" + html
    return FuzzCase("html_garbage", raw.encode())


def _crlf(rng: random.Random) -> FuzzCase:
    case = rng.choice([_bad_qp, _lying_charset, _broken_boundary])(rng)
    return FuzzCase("crlf_" + case.kind, case.data.replace(b"\n", b"\r\n"), case.expect_error)


# (generator, weight): huge messages are rare so the whole run stays fast.
_KINDS: tuple[tuple[Callable[[random.Random], FuzzCase], int], ...] = (
    (_broken_boundary, 10),
    (_bad_base64, 10),
    (_bad_qp, 10),
    (_unknown_charset, 10),
    (_lying_charset, 10),
    (_nul_bytes, 8),
    (_huge_header, 1),
    (_huge_body, 1),
    (_deep_nesting, 6),
    (_binary_junk, 4),
    (_truncated, 8),
    (_empty, 4),
    (_header_garbage, 10),
    (_html_garbage, 6),
    (_crlf, 6),
)

KINDS: tuple[str, ...] = tuple(fn.__name__.lstrip("_") for fn, _ in _KINDS)


def malformed_cases(seed: int, n: int) -> Iterator[FuzzCase]:
    """Yield ``n`` malformed messages with their kind and certain outcome, deterministically from ``seed``."""
    rng = random.Random(seed)
    fns = [fn for fn, _ in _KINDS]
    weights = [w for _, w in _KINDS]
    for i in range(n):
        # Cover every kind at least once before sampling by weight.
        fn = fns[i] if i < len(fns) else rng.choices(fns, weights)[0]
        yield fn(rng)


def malformed_messages(seed: int, n: int) -> Iterator[bytes]:
    """Yield ``n`` malformed raw messages (bytes), deterministically from ``seed``."""
    return (case.data for case in malformed_cases(seed, n))


_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


def write_mbox(path: Path, messages: Iterable[bytes]) -> int:
    """Write ``messages`` to an mboxrd file at ``path`` (``>From `` escaping); return how many were written."""
    count = 0
    with path.open("wb") as fh:
        for data in messages:
            fh.write(b"From fuzz@example.invalid Mon Apr  7 10:00:00 2025\n")
            fh.write(_FROM_LINE.sub(rb">\1", data))
            fh.write(b"\n\n" if not data.endswith(b"\n") else b"\n")
            count += 1
    return count


def write_maildir(root: Path, messages: Iterable[bytes]) -> list[Path]:
    """Write ``messages`` as files in a new Maildir at ``root``; return the file paths in reading order."""
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    paths = []
    for i, data in enumerate(messages):
        p = root / "cur" / f"{1743000000 + i:012d}.fuzz{i:06d}.host:2,S"
        p.write_bytes(data)
        paths.append(p)
    return paths
