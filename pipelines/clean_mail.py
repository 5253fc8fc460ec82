"""Realistic clean staff mail: raw .eml newsletters, list traffic, notifications and announcements.

The only clean e-mail in the public corpora (Enron-Spam ham) is lower-cased and tokenised, so a
model trained on it flags ordinary mailing-list mail as solicitation. ``data/clean_mail/`` holds
full RFC 822 messages rendered once from ``data/clean_mail/templates.yaml`` by
``write_clean_mail`` and committed; training reads ``train/``, evaluation reads the held-out ``eval/``
(its templates never appear in ``train/``). Everything here is clean: all ten labels are 0.
"""

from __future__ import annotations

import hashlib
import html
import random
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Final

import pandas as pd
import yaml

from mailguard.errors import InputError
from mailguard.mail import Message, read_messages
from mailguard.taxonomy import LABELS
from mailguard.text import normalise_for_matching

#: Where ``write_clean_mail`` renders the committed corpus by default; the pipeline reads ``data.clean_mail_root``.
CLEAN_MAIL_ROOT: Final[Path] = Path(__file__).resolve().parents[1] / "data" / "clean_mail"
SPLITS: Final[tuple[str, ...]] = ("train", "eval")
#: Each template renders one message per entry of its ``vary`` list; fewer than this many entries is an
#: error, because renders that differ only in names would make the eval FPR coarser than it looks.
MIN_VARIANTS: Final[int] = 4
#: Draws of the shared fillers tried per variant before a variant whose text repeats is given up.
_TRIES_PER_VARIANT: Final[int] = 4
STAFF_DOMAIN: Final[str] = "riverton.gov"

_SLOT = re.compile(r"\{(\w+)\}")
_BASE_DATE = datetime(2025, 1, 6, 7, 0, tzinfo=timezone(timedelta(hours=-7)))


def clean_mail_rows(split: str, root: Path) -> pd.DataFrame:
    """Return one clean row per message of ``root/split``: the prepared-dataset schema minus ``split``.

    Columns: ``text`` (``Message.text``: subject, new body text, text attachments), the ten label
    columns (all 0), ``source`` ("clean_mail"), ``weak`` (False), ``template_id`` (``clean_mail.<template>``)
    and ``kind`` ("hard_negative", matching the authored corpus).
    """
    rows: list[dict[str, Any]] = []
    for msg in load_clean_mail_messages(split, root):
        row: dict[str, Any] = {"text": msg.text}
        row.update({lb: 0 for lb in LABELS})
        row.update(source="clean_mail", weak=False, template_id=_template_id(msg), kind="hard_negative")
        rows.append(row)
    return pd.DataFrame(rows, columns=["text", *LABELS, "source", "weak", "template_id", "kind"])


def load_clean_mail_messages(split: str, root: Path) -> list[Message]:
    """Return the parsed messages of ``root/split`` ("train" or "eval"), sorted by file name.

    Raises ``InputError`` if the split is unknown, its folder is missing or empty, or a file
    does not parse: these files are ours, so a bad one is a bug, not data to skip.
    """
    if split not in SPLITS:
        raise InputError(f"unknown clean-mail split {split!r}; expected one of {', '.join(SPLITS)}")
    folder = root / split
    if not folder.is_dir() or not any(folder.glob("*.eml")):
        raise InputError(f"no clean-mail .eml files in {folder}; run pipelines.clean_mail.write_clean_mail()")
    messages = sorted(read_messages(folder), key=lambda m: m.source)
    bad = [m.source for m in messages if m.status != "ok"]
    if bad:
        raise InputError(f"{len(bad)} clean-mail file(s) did not parse, e.g. {bad[0]}")
    return messages


def write_clean_mail(root: Path = CLEAN_MAIL_ROOT, seed: int = 13) -> dict[str, int]:
    """Return the number of .eml files written per split after re-rendering ``root/templates.yaml``.

    Existing ``.eml`` files in ``train/`` and ``eval/`` are replaced. Each template renders one message
    per entry of its ``vary`` list (body-level slot values: products, headlines, questions, answers).
    A rendering whose normalised text repeats one already written (in either split) is drawn again,
    so no two messages, within or across splits, share a text.
    """
    spec = _load_templates(root / "templates.yaml")
    rng = random.Random(seed)
    seen: set[str] = set()
    counts = dict.fromkeys(SPLITS, 0)
    for split in SPLITS:
        folder = root / split
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.eml"):
            old.unlink()
    for tmpl in spec["templates"]:
        split = tmpl["split"]
        fillers = {**spec["fillers"], **spec.get("split_fillers", {}).get(split, {})}
        written = 0
        for index in range(len(tmpl["vary"])):
            for _ in range(_TRIES_PER_VARIANT):
                msg = render_message(tmpl, fillers, rng, index)
                key = normalise_for_matching(f"{msg['Subject']}\n{_plain_body(msg)}")
                if key not in seen:
                    break
            else:
                continue
            seen.add(key)
            written += 1
            (root / split / f"{tmpl['id']}-{written:03d}.eml").write_bytes(bytes(msg))
        counts[split] += written
    return counts


def render_message(
    tmpl: Mapping[str, Any], fillers: Mapping[str, list[str]], rng: random.Random, index: int
) -> EmailMessage:
    """Return one RFC 822 message rendered from ``tmpl``: variant ``index`` of its ``vary`` list, with
    names, places and dates drawn from ``fillers``."""
    when = _BASE_DATE + timedelta(days=rng.randrange(330), minutes=rng.randrange(600))
    ctx = _context(fillers, rng, when)

    def fill(text: str) -> str:
        return _SLOT.sub(lambda m: ctx[m.group(1)], text)

    # Variant values may use the shared slots ({city}, {first}, ...), so they are filled first.
    ctx.update({k: fill(str(v)) for k, v in tmpl["vary"][index % len(tmpl["vary"])].items()})

    kind = tmpl["kind"]
    sender = fill(tmpl["from"])
    domain = sender.rsplit("@", 1)[-1].rstrip(">")
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = _recipient(tmpl, kind, ctx)
    msg["Subject"] = fill(tmpl["subject"])
    msg["Date"] = format_datetime(when)
    digest = hashlib.sha1(f"{tmpl['id']}|{index}|{ctx['n']}|{when}".encode()).hexdigest()
    msg["Message-ID"] = f"<{digest[:24]}@{domain}>"
    if str(msg["Subject"]).lower().startswith(("re:", "re :", "aw:")):
        msg["In-Reply-To"] = f"<{digest[24:]}@{domain}>"
        msg["References"] = f"<{digest[24:]}@{domain}>"
    msg["MIME-Version"] = "1.0"
    for name, value in _context_headers(tmpl, kind, domain, digest).items():
        msg[name] = fill(value)
    body = fill(tmpl["body"]).rstrip() + "\n"
    # 8bit keeps the committed files readable; every line is far below the 998-octet limit.
    msg.set_content(body, cte="8bit")
    if tmpl.get("html", kind == "newsletter" or (kind == "announce" and index % 2 == 0)):
        msg.add_alternative(_to_html(str(msg["Subject"]), body), subtype="html", cte="8bit")
        msg.set_boundary(f"=_mg_{digest[:20]}")  # a fixed boundary keeps re-rendering byte-identical
    return msg


def _context(fillers: Mapping[str, list[str]], rng: random.Random, when: datetime) -> dict[str, str]:
    ctx = {k: str(rng.choice(v)) for k, v in fillers.items()}
    # Dates in the body follow the Date header, so a "next Tuesday" never lies in the past.
    soon = when + timedelta(days=rng.randrange(3, 12))
    later = soon + timedelta(days=rng.randrange(7, 30))
    ctx.update(
        date=f"{soon:%A}, {soon:%B} {soon.day}",
        date_short=f"{soon:%b} {soon.day}",
        deadline=f"{later:%B} {later.day}",
        sent=f"{when - timedelta(days=rng.randrange(1, 4)):%a %m/%d/%Y} {rng.randrange(7, 12)}:{rng.randrange(10, 60)} AM",
        year=str(when.year),
        ticket_no=f"{rng.choice(('INC', 'INC', 'REQ', 'RITM'))}00{rng.randrange(40000, 59999)}",
    )
    other = rng.choice([f for f in fillers["first"] if f != ctx["first"]])
    ctx.update(
        first_lower=ctx["first"].lower(),
        last_lower=re.sub(r"\W", "", ctx["last"].lower()),
        last_upper=ctx["last"].upper(),
        other_first=other,
        other_lower=f"{other.lower()}.{re.sub(r'[^a-z]', '', ctx['last'].lower())}",
        city_slug=ctx["city"].lower().replace(" ", ""),
        dept_upper=ctx["dept"].upper(),
        n=str(rng.randrange(1000, 99999)),
    )
    return ctx


def _recipient(tmpl: Mapping[str, Any], kind: str, ctx: Mapping[str, str]) -> str:
    if "to" in tmpl:
        return str(tmpl["to"])
    if kind == "announce":
        return f"All City Staff <allstaff@{STAFF_DOMAIN}>"
    who = ctx["other_first"] if kind in ("direct", "ooo") else ctx["first"]
    return f"{who.lower()}.{ctx['last_lower']}@{STAFF_DOMAIN}"


def _context_headers(tmpl: Mapping[str, Any], kind: str, domain: str, digest: str) -> dict[str, str]:
    """Return the headers mail software adds for this kind of message (what bulk detection reads)."""
    if kind == "newsletter":
        return {
            "List-Id": tmpl["list_id"],
            "List-Unsubscribe": f"<https://{domain}/unsubscribe?u={digest[:16]}>, <mailto:unsubscribe@{domain}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Precedence": "bulk",
        }
    if kind == "list":
        list_addr = tmpl["to"]
        local, _, host = list_addr.partition("@")
        return {
            "List-Id": tmpl["list_id"],
            "List-Unsubscribe": f"<mailto:{local}-leave@{host}>",
            "List-Post": f"<mailto:{list_addr}>",
            "Precedence": "list",
        }
    if kind == "auto":
        return {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
    if kind == "ooo":
        return {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
    if kind == "announce":
        return {"Precedence": "bulk"}
    return {}


def _to_html(subject: str, body: str) -> str:
    """Return a small newsletter-style HTML rendering of a plain-text body."""
    paras = [p for p in body.split("\n\n") if p.strip()]
    inner = "\n".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paras)
    return (
        '<html><body style="font-family:Arial,sans-serif;color:#333">'
        f'<table width="600" align="center"><tr><td><h2>{html.escape(subject)}</h2>\n{inner}\n'
        '<p style="font-size:11px"><a href="https://example.org/preferences">Manage preferences</a></p>'
        "</td></tr></table></body></html>\n"
    )


def _plain_body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def _template_id(msg: Message) -> str:
    stem = Path(msg.source.split("#", 1)[0]).stem
    return f"clean_mail.{stem.rsplit('-', 1)[0]}"


def _load_templates(path: Path) -> dict[str, Any]:
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise InputError(f"cannot read clean-mail templates {path}: {e}") from e
    if not isinstance(spec, dict) or not spec.get("templates") or not spec.get("fillers"):
        raise InputError(f"{path} needs 'fillers' and 'templates'")
    for t in spec["templates"]:
        if t.get("split") not in SPLITS:
            raise InputError(f"{path}: template {t.get('id')!r} needs split: train or eval")
        vary = t.get("vary")
        if not isinstance(vary, list) or len(vary) < MIN_VARIANTS or not all(isinstance(v, dict) for v in vary):
            raise InputError(
                f"{path}: template {t.get('id')!r} needs a 'vary' list of at least {MIN_VARIANTS} mappings"
            )
    return spec
