"""Everything a reader sees is scored, and evidence says where it came from and points at the stored text."""

from __future__ import annotations

import io
import json
from email.message import EmailMessage
from pathlib import Path

import pandas as pd
import pytest
from keyword_model import keyword_model

from mailguard.mail import parse_message_bytes
from models.registry import LoadedModel
from serve.scoring.batch import QUOTED_ONLY_REASON, score_batch
from serve.scoring.settings import QueueRules, ScoreSettings

OFFENCE = "Send me sexy photos tonight."
ORDINARY = "The budget meeting moved to Tuesday at ten. Please bring the capital plan figures.\n\nThanks,\nDana"


def _score(raw: bytes, rules: QueueRules = QueueRules()) -> pd.Series:
    msg = parse_message_bytes(raw, source="test.eml")
    model = LoadedModel(keyword_model(sexual=("sexy",)), version="v1")
    frame = score_batch([msg], model, ScoreSettings(out=Path("unused"), org_domains=("cityofexample.gov",), queue=rules))
    return frame.iloc[0]


def _mail(body: str = ORDINARY) -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "dana@cityofexample.gov", "team@cityofexample.gov", "Budget"
    m.set_content(body)
    return m


def _evidence(row: pd.Series) -> dict:
    items = json.loads(row["evidence"])["sexual"]
    assert items[0]["text"] == OFFENCE
    return items[0]


def _points_at_stored_text(row: pd.Series, item: dict) -> None:
    assert row[item["field"]][item["start"] : item["end"]] == item["text"]


def test_a_violation_in_the_middle_of_a_long_mail_is_found_with_its_offsets() -> None:
    body = ORDINARY.replace("figures.", f"figures.\n\nAlso, {OFFENCE}\n\nThe room is 204.")
    row = _score(_mail(body).as_bytes())
    item = json.loads(row["evidence"])["sexual"][0]
    assert row["labels"] == "sexual" and item["origin"] == "body" and OFFENCE in item["text"]
    _points_at_stored_text(row, item)
    assert row["queue"] and row["queue_reason"] == ""


@pytest.mark.parametrize(
    "reply",
    [
        f"Sounds good.\n\n> {OFFENCE}\n> See you there.",
        f"Sounds good.\n\n-----Original Message-----\nFrom: Bob\nSent: Monday\n\n{OFFENCE}",
        f"Sounds good.\n\nOn Mon, Mar 3, 2025 at 9:00 AM Bob <bob@cityofexample.gov> wrote:\n> {OFFENCE}",
    ],
    ids=["gt-prefix", "original-message", "on-wrote"],
)
def test_quoted_text_is_scored_marked_quoted_and_queued_with_a_reason(reply: str) -> None:
    row = _score(_mail(reply).as_bytes())
    item = json.loads(row["evidence"])["sexual"][0]
    assert item["origin"] == "quoted" and item["field"] == "quoted" and OFFENCE in item["text"]
    _points_at_stored_text(row, item)
    assert row["queue"] and row["queue_reason"] == QUOTED_ONLY_REASON
    assert not _score(_mail(reply).as_bytes(), QueueRules(quoted_only="report"))["queue"]  # the other setting


def test_a_forwarded_message_part_is_quoted_text() -> None:
    outer = _mail("FYI, see below.")
    outer.add_attachment(_mail(OFFENCE))  # message/rfc822
    row = _score(outer.as_bytes())
    assert _evidence(row)["origin"] == "quoted"
    _points_at_stored_text(row, _evidence(row))


def test_html_alternative_that_says_more_than_the_plain_part_is_scored_as_html() -> None:
    m = _mail()
    m.add_alternative(f"<p>{ORDINARY}</p><p style='font-size:1px'>{OFFENCE}</p>", subtype="html")
    row = _score(m.as_bytes())
    item = _evidence(row)
    assert item["origin"] == "html" and item["field"] == "html_text" and OFFENCE not in row["body"]
    _points_at_stored_text(row, item)


def test_html_alternative_with_the_same_text_is_not_stored_twice() -> None:
    m = _mail()
    m.add_alternative("<p>" + ORDINARY.replace("\n\n", "</p><p>") + "</p>", subtype="html")
    assert _score(m.as_bytes())["html_text"] == ""


def _docx(text: str) -> bytes:
    import docx

    doc = docx.Document()
    doc.add_paragraph("Meeting notes for the facilities committee.")
    doc.add_paragraph(text)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _pdf(text: str) -> bytes:
    """Return a one-page PDF whose text layer is ``text`` (hand-built: no PDF writer needed)."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref))
    return out.getvalue()


def _encrypted_pdf(text: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf(text))))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "maintype", "subtype", "data"),
    [
        ("notes.docx", "application", "vnd.openxmlformats-officedocument.wordprocessingml.document", _docx(OFFENCE)),
        ("notes.pdf", "application", "pdf", _pdf(OFFENCE)),
        ("notes.txt", "text", "plain", OFFENCE.encode()),
        ("notes.html", "text", "html", f"<html><body><p>{OFFENCE}</p></body></html>".encode()),
        ("earlier.eml", "application", "octet-stream", _mail(OFFENCE).as_bytes()),
    ],
)
def test_attachment_text_is_scored_and_evidence_names_the_attachment(
    name: str, maintype: str, subtype: str, data: bytes
) -> None:
    m = _mail("Please see the attached notes.")
    m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    row = _score(m.as_bytes())
    item = _evidence(row)
    assert item["origin"] == "attachment" and item["attachment"] == name and item["field"] == "attachment_text"
    _points_at_stored_text(row, item)
    assert row["unscored_attachments"] == ""


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("locked.pdf", _encrypted_pdf(OFFENCE), "encrypted"),
        ("broken.pdf", b"%PDF-1.4\n" + b"\x00garbage" * 50, "corrupt"),
        ("broken.docx", b"PK\x03\x04 not really a zip", "corrupt"),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not text"),
        ("huge.txt", b"a" * (11 * 1024 * 1024), "too large"),
    ],
)
def test_unreadable_attachments_are_listed_with_a_reason_and_the_message_keeps_its_row(
    name: str, data: bytes, reason: str
) -> None:
    m = _mail()
    m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    row = _score(m.as_bytes())
    assert row["status"] == "ok" and row["labels"] == ""
    assert row["unscored_attachments"].startswith(f"{name} ({reason}")
    assert name in row["attachments"]


def test_text_cut_by_a_size_limit_is_marked_on_the_row() -> None:
    from mailguard.mail.readers import DEFAULT_MAX_BODY_CHARS

    row = _score(_mail("word " * (DEFAULT_MAX_BODY_CHARS // 4)).as_bytes())
    assert row["truncated"] and row["status"] == "ok"
    assert not _score(_mail().as_bytes())["truncated"]
