"""Seeded generator of malformed raw e-mail, for robustness tests of anything that reads mail.

``malformed_messages(seed, n)`` yields ``n`` raw messages (bytes) covering
broken MIME boundaries, bad base64 / quoted-printable, unknown and lying
charsets, NUL bytes, enormous headers and bodies, deeply nested multiparts,
binary junk, truncation, empty messages, hostile HTML (``<a<a<a...``, deep
nesting), body lines that look like mbox separators ("From Bob at 10:30"),
odd dates and broken attachments. The same seed always gives the same bytes.
``malformed_cases`` yields the same messages with their kind and, where the
outcome is certain, the error kind a reader must report. ``write_mbox`` (mboxrd),
``write_mboxo`` (no escaping: the ambiguous kind), ``write_maildir`` and
``write_eml_dir`` store them in real mailbox formats.

Tables: ``malformed_rows`` gives export rows with odd values (lone surrogates,
nested objects, bytes, huge and NUL-laden cells, formula cells), and
``write_jsonl`` / ``write_csv`` / ``write_parquet_files`` store them with the
damage each format allows (invalid JSON and UTF-8, short rows, a broken quote;
timestamps and ``date32`` values beyond year 9999, struct and binary cells).
``write_hostile_entries`` adds what a mail store should never hold: a FIFO, a
link to ``/dev/zero``, links out of the store, a link loop, a non-UTF-8 name.

Used by tests/test_mail_fuzz.py and reusable by any test that reads mail (the
nightly scoring tests, for one): ``from mailfuzz import malformed_messages``
works because pytest puts ``tests/`` (which has no ``__init__.py``) on ``sys.path``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def _hostile_html(rng: random.Random) -> FuzzCase:
    """HTML that is quadratic for CPython's html.parser or deeper than libxml2 keeps: must stay linear."""
    n = rng.randint(20_000, 150_000)
    html = rng.choice(
        [
            "<a" * n,  # many unclosed tags: minutes in html.parser
            f"<p>{_text(rng, 10)} " + "<a" * n,
            "<div>" * (n // 2) + _text(rng, 10) + "</div>" * (n // 2),  # nesting past libxml2's depth limit
            "<" * (2 * n),
            "<!--" * n + _text(rng, 5),
            '<a x="' * n,
            "<table><tr><td>" * (n // 10) + _text(rng, 10),
            "&#" + "9" * n + ";" + _text(rng, 5),
        ]
    )
    if rng.random() < 0.5:
        raw = _headers(rng, "Content-Type: text/html; charset=utf-8") + "\n" + html
    else:
        raw = (
            _headers(rng, 'Content-Type: multipart/alternative; boundary="h1"')
            + f"\n--h1\nContent-Type: text/plain\n\n{_text(rng, 12)}\n--h1\nContent-Type: text/html\n\n{html}\n--h1--\n"
        )
    return FuzzCase("hostile_html", raw.encode())


# Body lines a person writes that begin like an mbox separator but are not one.
_FROM_BODY_LINES = (
    "From Bob at 10:30 the crew starts on Elm Street.",
    "From what I hear, the permit is approved.",
    "From 9:00 to 17:30 the office is closed.",
    "From the desk of the Budget Office",
    "From Mon to Fri the garage opens at 7:00.",
    "From: someone quoted in the body",
    ">From an escaped line",
    "From Bob Mon 10:30 about the agenda",
)


def _from_lines(rng: random.Random) -> FuzzCase:
    """A message whose body holds "From ..." lines after blank lines: one message, never split."""
    lines = []
    for _ in range(rng.randint(1, 6)):
        lines += ["", rng.choice(_FROM_BODY_LINES), _text(rng, 8)]
    raw = _headers(rng) + "\n" + _text(rng, 10) + "\n" + "\n".join(lines) + "\n"
    return FuzzCase("from_lines", raw.encode())


def _odd_date(rng: random.Random) -> FuzzCase:
    date = rng.choice(
        [
            "Fri, 31 Dec 9999 23:59:59 -1200",  # beyond year 9999 once in UTC
            "Mon, 1 Jan 0001 00:00:00 +1400",
            "Mon, 1 Jan 99999 00:00:00 +0000",
            "Mon, 1 Jan 2025 00:00:00 +9999",
            "99999999999999999999999",
            "Tue, 30 Feb 2025 25:61:61 +0000",
            "2025-13-45T99:99:99Z",
            "-1",
        ]
    )
    raw = _headers(rng).replace("Date:", "X-Old-Date:", 1) + f"Date: {date}\n\n{_text(rng, 20)}\n"
    return FuzzCase("odd_date", raw.encode())


def _bad_attachment(rng: random.Random) -> FuzzCase:
    variant = rng.randrange(4)
    if variant == 0:  # not a PDF at all
        name, ctype, data = "report.pdf", "application/pdf", bytes(rng.getrandbits(8) for _ in range(3000))
    elif variant == 1:  # a PDF header over junk
        name, ctype = "scan.pdf", "application/pdf"
        data = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" + b"(" * 5000 + b"\ntrailer"
    elif variant == 2:  # a .docx that is not a zip
        name, ctype, data = "memo.docx", "application/octet-stream", b"PK\x03\x04" + b"\x00" * 500
    else:  # a .docx whose document nests deeply
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("word/document.xml", "<w:document>" + "<w:p>" * 20_000 + _text(rng, 5) + "</w:p>" * 20_000)
        name, ctype, data = "deep.docx", "application/octet-stream", buf.getvalue()
    att = base64.b64encode(data).decode()
    raw = (
        _headers(rng, 'Content-Type: multipart/mixed; boundary="a1"')
        + f"\n--a1\nContent-Type: text/plain\n\n{_text(rng, 15)}\n--a1\n"
        + f'Content-Type: {ctype}\nContent-Disposition: attachment; filename="{name}"\n'
        + f"Content-Transfer-Encoding: base64\n\n{att}\n--a1--\n"
    )
    return FuzzCase("bad_attachment", raw.encode())


def _encoded_word_flood(rng: random.Random) -> FuzzCase:
    words = " ".join(f"=?utf-8?B?{base64.b64encode(_text(rng, 1).encode()).decode()}?=" for _ in range(5_000))
    raw = _headers(rng).replace("Subject:", "X-Subject:", 1) + f"Subject: {words}\n\n{_text(rng, 10)}\n"
    return FuzzCase("encoded_word_flood", raw.encode())


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
    (_hostile_html, 1),
    (_from_lines, 6),
    (_odd_date, 4),
    (_bad_attachment, 3),
    (_encoded_word_flood, 1),
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


def write_mboxo(path: Path, messages: Iterable[bytes]) -> int:
    """Write ``messages`` to an mboxo file (no escaping: body "From " lines stay as they are); return the count."""
    count = 0
    with path.open("wb") as fh:
        for data in messages:
            fh.write(b"From fuzz@example.invalid Mon Apr  7 10:00:00 2025\n" + data)
            fh.write(b"\n\n" if not data.endswith(b"\n") else b"\n")
            count += 1
    return count


def write_eml_dir(root: Path, messages: Iterable[bytes]) -> list[Path]:
    """Write ``messages`` as ``.eml`` files under ``root`` (some in sub-folders); return them in reading order."""
    paths = []
    for i, data in enumerate(messages):
        folder = root / f"box{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        p = folder / f"{i:06d}.eml"
        p.write_bytes(data)
        paths.append(p)
    return sorted(paths)


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


# -- hostile file-system entries -----------------------------------------------


def write_hostile_entries(root: Path, outside: Path) -> list[str]:
    """Add to the Maildir (or .eml folder) ``root`` entries a reader must neither follow nor hang on.

    ``outside`` is a folder beyond ``root`` holding a readable "secret" message. Returns the
    names added, each of which must come back as exactly one ``unreadable_file`` record,
    except the last (a non-UTF-8 file name: a normal message). Linux only; entries the
    platform cannot make are left out.
    """
    eml = not (root / "cur").is_dir()
    folder = root if eml else root / "cur"
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "secret.eml").write_bytes(b"Subject: outside the mail store\n\nroot:x:0:0\n")
    suffix = ".eml" if eml else ""
    made: list[str] = []

    def add(name: str, make: Callable[[Path], None]) -> None:
        try:
            make(folder / (name + suffix))
            made.append(name + suffix)
        except (OSError, NotImplementedError):
            pass

    add("zz_fifo", lambda p: os.mkfifo(p))
    add("zz_dev_zero", lambda p: os.symlink("/dev/zero", p))
    add("zz_escape", lambda p: os.symlink(outside / "secret.eml", p))
    add("zz_escape_relative", lambda p: os.symlink(os.path.relpath(outside / "secret.eml", folder), p))
    add("zz_loop", lambda p: os.symlink(p.name, p))
    add("zz_dangling", lambda p: os.symlink(folder / "nowhere", p))
    if eml:
        add("zz_linked_folder", lambda p: os.symlink(outside, p))  # never entered, still reported
    else:
        add("zz_folder", lambda p: p.mkdir())  # a folder where a message file should be
        linked = root / ".Linked"
        linked.mkdir(exist_ok=True)
        os.symlink(outside, linked / "cur")  # a Maildir++ folder whose cur/ leads out of the store
        made.append(".Linked/cur/secret.eml")
    name = os.fsdecode(b"zz_latin1_\xe9t\xe9") + suffix
    (folder / name).write_bytes(b"Subject: non-UTF-8 file name\n\nhello\n")
    made.append(name)
    return made


# -- tabular exports -------------------------------------------------------------------


def malformed_rows(seed: int, n: int) -> list[dict[str, Any]]:
    """Return ``n`` export rows (message_id, body, subject, from, to, date) with odd values, from ``seed``."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        row: dict[str, Any] = {
            "message_id": f"<row-{seed}-{i}@cityofexample.gov>",
            "body": _text(rng, rng.randint(0, 40)),
            "subject": _text(rng, 4),
            "from": f"user{rng.randint(1, 99)}@cityofexample.gov",
            "to": f"someone{rng.randint(1, 99)}@example.org",
            "date": f"2025-04-{rng.randint(1, 28):02d}T10:00:00Z",
        }
        damage = rng.randrange(12)
        col = rng.choice(["message_id", "body", "subject", "from", "to", "date"])
        if damage == 0:
            row[col] = "\ud800" + _text(rng, 3) + "\udfff"  # lone surrogates (JSON can carry them)
        elif damage == 1:
            row[col] = {"nested": [_text(rng, 2), {"deeper": rng.random()}], "n": rng.randint(0, 10**30)}
        elif damage == 2:
            row[col] = rng.choice([None, "", 0, -1, 1e308, True, [], [None, "a@b.c", 7]])
        elif damage == 3:
            row[col] = "\x00" * rng.randint(1, 50) + _text(rng, 3)
        elif damage == 4:
            row[col] = rng.choice(["=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)", "\t=1", "\r=1"])
        elif damage == 5:
            row["body"] = _text(rng, 3) * rng.randint(5_000, 40_000)
        elif damage == 6:
            row["date"] = rng.choice(["99999-01-01", "0000-00-00", "9999-12-31T23:59:59-12:00", "1e400", "-1"])
        elif damage == 7:
            row.pop(rng.choice(["body", "message_id"]))
        rows.append(row)
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]], seed: int) -> int:
    """Write ``rows`` as JSON Lines with line damage (invalid JSON and UTF-8, arrays, blanks); return records.

    Returns how many records the reader must give back (blank lines are not records).
    The first line is always a good row: it decides the schema.
    """
    rng = random.Random(seed)
    records = 0
    with path.open("wb") as fh:
        for i, row in enumerate(rows):
            damage = rng.randrange(10) if i else 9
            if damage == 0:
                line = json.dumps(row)[: rng.randint(1, 20)].encode()  # cut short: not JSON
            elif damage == 1:
                line = b"[1, 2, 3]"
            elif damage == 2:
                line = json.dumps(row).encode()[:-1] + b"\xff\xfe\x00}"
            elif damage == 3:
                fh.write(b"   \n")  # a blank line is skipped, not a record
                line = json.dumps(row).encode()
            else:
                line = json.dumps(row).encode()
            fh.write(line + b"\n")
            records += 1
    return records


def write_csv(path: Path, rows: list[dict[str, Any]], seed: int) -> int:
    """Write ``rows`` as CSV with damage (short rows, invalid UTF-8, NUL, a last row with an open quote).

    Returns how many records the reader must give back.
    """
    import csv

    rng = random.Random(seed)
    columns = ["message_id", "body", "subject", "from", "to", "date"]
    buf = io.StringIO()
    writer = csv.writer(buf)  # "\r\n" lines: fields holding \r or \n are quoted
    writer.writerow(columns)

    def cell(value: Any) -> str:
        text = value if isinstance(value, str) else "" if value is None else json.dumps(value, default=str)
        return text.encode("utf-8", "replace").decode("utf-8")  # CSV files cannot carry lone surrogates

    records = 0
    for row in rows:
        cells = [cell(row.get(c)) for c in columns]
        damage = rng.randrange(10)
        if damage == 0:
            cells = cells[: rng.randint(1, len(cells) - 1)]
        elif damage == 1:
            cells.append("extra")
        if not any(c.strip() for c in cells):
            cells[0] = "<blank-row@x>"  # an all-blank record is skipped by design: keep the count exact
        writer.writerow(cells)
        records += 1
    data = buf.getvalue().encode("utf-8")
    data = data.replace(b"budget", b"bud\xffg\xe9t", 50)  # invalid UTF-8 here and there
    data += b'<open-quote@x>,"this field never ends\n<and@x>,swallows the rest\n'
    path.write_bytes(data)
    return records + 1


def write_parquet_files(folder: Path, rows: list[dict[str, Any]]) -> dict[Path, int]:
    """Write ``rows`` across Parquet files whose columns hold what Python cannot always represent.

    Returns each file with the number of records it holds. One file per odd schema:
    timestamps and ``date32`` values beyond year 9999, struct, binary and list cells,
    text that is not UTF-8, a time zone nobody knows.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    out: dict[Path, int] = {}
    chunks = [rows[i::6] for i in range(6)]

    def text(values: list[Any]) -> list[str | None]:
        return [v.encode("utf-8", "replace").decode() if isinstance(v, str) else None if v is None else
                json.dumps(v, default=str) for v in values]

    for k, chunk in enumerate(chunks):
        if not chunk:
            continue
        n = len(chunk)
        ids = text([r.get("message_id") for r in chunk])
        bodies = text([r.get("body") for r in chunk])
        columns: dict[str, Any] = {"message_id": pa.array(ids, pa.string()), "body": pa.array(bodies, pa.string())}
        if k == 0:  # timestamps up to year ~146 million
            columns["date"] = pa.array([(2**62 if i % 3 == 0 else 1_743_000_000_000 + i) for i in range(n)],
                                       pa.timestamp("ms"))
        elif k == 1:  # date32 at its extremes
            columns["date"] = pa.array([(2**31 - 1 if i % 2 else -(2**31)) for i in range(n)], pa.date32())
        elif k == 2:  # struct cells, with bytes and dates inside
            columns["subject"] = pa.array([{"t": b"\xff\x00" + bytes([i % 256]), "d": i} for i in range(n)],
                                          pa.struct([("t", pa.binary()), ("d", pa.date32())]))
            columns["body"] = pa.array([{"text": b, "n": i} for i, b in enumerate(bodies)])
        elif k == 3:  # binary bodies and subjects, some of them not text at all
            columns["body"] = pa.array([(b or "").encode() if i % 4 else bytes(range(256)) for i, b in
                                        enumerate(bodies)], pa.binary())
            columns["to"] = pa.array([[b"a@x.org", None, b"\xff@y"] for _ in range(n)], pa.list_(pa.binary()))
        elif k == 4:  # "text" that is not UTF-8
            columns["body"] = pa.array([(b or "").encode() + b"\xff\xfe" for b in bodies], pa.binary()).view(
                pa.string())
        else:  # a zone tzdata has never heard of, far in the past
            columns["date"] = pa.array([-(2**62)] * n, pa.timestamp("ms", tz="Mars/Olympus_Mons"))
        path = folder / f"export-{k}.parquet"
        pq.write_table(pa.table(columns), path, row_group_size=max(1, n // 3))
        out[path] = n
    return out
