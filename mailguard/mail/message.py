"""The one record every mail reader yields, whatever the input format."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from mailguard.segments import Section

Status = Literal["ok", "error"]


@dataclass(frozen=True)
class Message:
    """One logged e-mail message, or the error that stopped it from being read.

    ``body`` is the *new* text of the message (what the sender wrote, signature
    included); ``quoted`` holds the earlier mail of a reply or forward (``>`` lines,
    "-----Original Message-----" blocks, attached messages); ``html_text`` the text of
    the HTML alternative when it says something the plain-text part does not;
    ``attachment_text`` the text of readable attachments, one after another, each
    located by ``attachment_spans``. Everything a reader sees is scored, and each
    piece keeps its origin (:meth:`sections`). A record with ``status == "error"`` still carries its ``message_id`` and
    ``source`` so that it yields exactly one output row.
    """

    message_id: str
    source: str  # where it came from: "path" or "path#index" / "path:line"
    status: Status = "ok"
    error: str = ""  # "<kind>: <explanation>" when status == "error", never message text
    date: datetime | None = None  # timezone-aware (UTC) when known
    sender: str = ""
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    subject: str = ""
    body: str = ""
    quoted: str = ""
    html_text: str = ""  # text of the HTML alternative when it differs materially from the plain-text part
    attachments: tuple[str, ...] = ()  # file names of all attachments
    attachment_text: str = ""  # text of readable attachments (txt, html, eml, pdf, docx), blank-line separated
    attachment_spans: tuple[tuple[str, int, int], ...] = ()  # (file name, start, end) of each one in attachment_text
    unscored_attachments: tuple[str, ...] = ()  # "name (reason)" for attachments whose text could not be read
    truncated: bool = False  # some text was cut by a size limit (the rest was not scored)
    headers: dict[str, str] = field(default_factory=dict)  # context headers (List-Id, Precedence, ...)
    content_hash: str = ""  # sha256 of the normalised subject+body+attachment text

    @property
    def text(self) -> str:
        """Return everything a reader sees as one text: subject, body, HTML-only text, quoted mail, attachments."""
        return "\n\n".join(s.text.strip() for s in self.sections() if s.text.strip())

    def sections(self) -> list[Section]:
        """Return what is scored, piece by piece, each with its origin and its place in the stored fields."""
        out = [
            Section(origin, text, field)
            for origin, text, field in (
                ("subject", self.subject, "subject"),
                ("body", self.body, "body"),
                ("html", self.html_text, "html_text"),
                ("quoted", self.quoted, "quoted"),
            )
            if text.strip()
        ]
        for name, start, end in self.attachment_spans:
            out.append(Section("attachment", self.attachment_text[start:end], "attachment_text", start, name))
        return out


def content_digest(*parts: str) -> str:
    """Return a stable hex digest of message content, used for ids and duplicate detection."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def synthetic_message_id(content_hash: str) -> str:
    """Return a stable Message-ID for a message that has none, derived from its content hash."""
    return f"<sha256-{content_hash[:32]}@mailguard.invalid>"
