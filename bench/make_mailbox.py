"""Deterministic generator of large, realistic mailboxes for the scoring benchmarks.

    python bench/make_mailbox.py throughput out.mbox --count 20000   # staff mail + some inbound, 20k messages
    python bench/make_mailbox.py large big.mbox --size-mb 1024       # ~1 GB with attachments (peak-RSS bench)
    python bench/make_mailbox.py mixed mixed.mbox --count 5000       # staff mail + inbound bulk (issue 8)

The same arguments always give the same bytes. Messages look like a city's logged
mail: replies with quoted text, HTML alternatives, text and PDF attachments,
newsletters with List-Id/Precedence headers, and a small share of messages that
break the acceptable-use policy (solicitation, sexual remarks) so that flags occur.
"""

from __future__ import annotations

import argparse
import base64
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ORG = "city.example.gov"
DEPARTMENTS = ["parks", "water", "finance", "planning", "library", "transport", "housing", "clerk", "it", "hr"]
FIRST = ["alice", "bob", "carol", "dan", "erin", "frank", "gina", "hector", "ines", "jamal", "kim", "luis", "maya",
         "nora", "omar", "priya", "quinn", "rosa", "sam", "tariq", "uma", "victor", "wen", "xavier", "yara", "zoe"]
TOPICS = ["budget review", "permit backlog", "council agenda", "overtime request", "bridge inspection",
          "library hours", "street resurfacing", "water main repair", "procurement update", "staff training",
          "zoning hearing", "snow removal plan", "IT outage", "parking enforcement", "grant application"]
SENTENCES = [
    "Please find the latest figures for the {t} attached.", "Can we move the {t} meeting to Thursday afternoon?",
    "The contractor confirmed the schedule for the {t}.", "I have updated the spreadsheet with the {t} numbers.",
    "Could you review the draft before it goes to the council?", "Thanks for pulling this together so quickly.",
    "The residents on Elm Street called again about the {t}.", "Let me know if you need anything else from my side.",
    "We still need sign-off from finance on the {t}.", "The inspection report flags two items we should fix first.",
    "I will be out of the office on Friday; Rosa is covering.", "Attached is the memo the director asked for.",
    "Please update the tracker once the {t} is approved.", "The vendor quote came in under the estimate.",
]
VIOLATIONS = [
    "I'm selling my cousin's energy supplements, buy two and get one free, cash only, let me know.",
    "Join my business opportunity, earn money fast from home, message me for the discount code.",
    "You looked really sexy at the party, send me some photos tonight.",
    "Donate to my church fundraiser and buy raffle tickets from me at lunch.",
]
BULK_VENDORS = [("news", "officesupply.example"), ("offers", "travelclub.example"), ("digest", "govtech.example"),
                ("noreply", "webinarhub.example"), ("newsletter", "citymag.example")]
BULK_LINES = [
    "Save 30% on all printer paper this week only, limited time offer.", "Special discount for government buyers.",
    "Register now for our free webinar on smart city sensors.", "Top 10 stories in municipal technology this week.",
    "Book your conference hotel today and get a free upgrade.", "Click here to claim your exclusive member deal.",
    "You are receiving this because you subscribed to our newsletter.",
]


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)}.{rng.choice(FIRST)[:1]}{rng.randint(1, 99)}@{rng.choice(DEPARTMENTS)}.{ORG}"


def _paragraphs(rng: random.Random, topic: str, n: int) -> str:
    return "\n\n".join(" ".join(rng.choice(SENTENCES).format(t=topic) for _ in range(rng.randint(2, 5)))
                       for _ in range(n))


def _staff(rng: random.Random, i: int, when: datetime, attach_kb: int) -> str:
    sender, to = _person(rng), _person(rng)
    topic = rng.choice(TOPICS)
    body = _paragraphs(rng, topic, rng.randint(1, 4))
    if rng.random() < 0.03:
        body = rng.choice(VIOLATIONS) + "\n\n" + body
    subject = topic.capitalize()
    if rng.random() < 0.4:  # a reply with the earlier message quoted below
        subject = "Re: " + subject
        quoted = "\n".join("> " + line for line in _paragraphs(rng, topic, 2).splitlines())
        body += f"\n\nOn {(when - timedelta(hours=3)):%a, %d %b %Y at %H:%M}, {to} wrote:\n{quoted}"
    headers = (f"From: {sender}\nTo: {to}\nSubject: {subject}\nDate: {when:%a, %d %b %Y %H:%M:%S +0000}\n"
               f"Message-ID: <bench.{i}.{rng.getrandbits(32):x}@{ORG}>\nMIME-Version: 1.0\n")
    if attach_kb <= 0 and rng.random() < 0.7:
        return headers + "Content-Type: text/plain; charset=utf-8\n\n" + body + "\n"
    alt = f"=_a{rng.getrandbits(40):x}"
    html = "<html><body><p>" + body.replace("\n\n", "</p><p>") + "</p></body></html>"
    parts = [f'Content-Type: multipart/alternative; boundary="{alt}"\n\n'
             f"--{alt}\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
             f"--{alt}\nContent-Type: text/html; charset=utf-8\n\n{html}\n--{alt}--\n"]
    if rng.random() < 0.3:
        parts.append('Content-Type: text/plain; charset=utf-8\nContent-Disposition: attachment; filename="notes.txt"'
                     f"\n\n{_paragraphs(rng, topic, 2)}\n")
    if attach_kb > 0:
        blob = base64.encodebytes(rng.randbytes(attach_kb * 1024)).decode("ascii")
        parts.append('Content-Type: application/pdf\nContent-Disposition: attachment; filename="report.pdf"\n'
                     f"Content-Transfer-Encoding: base64\n\n{blob}")
    boundary = f"=_b{rng.getrandbits(40):x}"
    mime = "".join(f"--{boundary}\n{p}" for p in parts) + f"--{boundary}--\n"
    return headers + f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n' + mime


def _bulk(rng: random.Random, i: int, when: datetime) -> str:
    local, domain = rng.choice(BULK_VENDORS)
    body = "\n\n".join(rng.choice(BULK_LINES) for _ in range(rng.randint(3, 8)))
    return (f"From: {local}@{domain}\nTo: {_person(rng)}\nSubject: {rng.choice(BULK_LINES)[:40]}\n"
            f"Date: {when:%a, %d %b %Y %H:%M:%S +0000}\nMessage-ID: <bulk.{i}.{rng.getrandbits(32):x}@{domain}>\n"
            f"List-Id: <{local}.{domain}>\nList-Unsubscribe: <mailto:leave@{domain}>\nPrecedence: bulk\n"
            f"Content-Type: text/plain; charset=utf-8\n\n{body}\n")


def messages(kind: str, seed: int, count: int | None = None, size_bytes: int | None = None) -> Iterator[str]:
    """Yield raw messages of the mailbox ``kind`` (throughput, large, mixed) until ``count`` or ``size_bytes``."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 28, tzinfo=UTC)
    bulk_share = {"throughput": 0.15, "large": 0.15, "mixed": 0.6}[kind]
    i, size = 0, 0
    while (count is None or i < count) and (size_bytes is None or size < size_bytes):
        when = start + timedelta(seconds=rng.randint(0, 86_399))
        if rng.random() < bulk_share:
            raw = _bulk(rng, i, when)
        else:
            attach = rng.choice([0, 0, 0, 0, 20, 60, 200]) if kind == "large" else 0
            raw = _staff(rng, i, when, attach)
        size += len(raw)
        i += 1
        yield raw


def write_mbox(path: Path, raws: Iterator[str]) -> int:
    """Write ``raws`` as an mbox file at ``path``; return how many messages were written."""
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for raw in raws:
            fh.write("From bench@city.example.gov Sat Nov 28 00:00:00 2026\n")
            fh.write(raw.replace("\nFrom ", "\n>From "))
            fh.write("\n")
            n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["throughput", "large", "mixed"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=None, help="number of messages")
    parser.add_argument("--size-mb", type=float, default=None, help="stop once the mailbox reaches this size")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    if args.count is None and args.size_mb is None:
        args.count = 20_000
    size = int(args.size_mb * 1024 * 1024) if args.size_mb else None
    n = write_mbox(args.out, messages(args.kind, args.seed, args.count, size))
    print(f"wrote {n} messages, {args.out.stat().st_size / 1e6:.1f} MB to {args.out}")


if __name__ == "__main__":
    main()
