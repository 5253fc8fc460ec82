"""The one record every mail reader yields, whatever the input format."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Status = Literal["ok", "error"]


@dataclass(frozen=True)
class Message:
    """One logged e-mail message, or the error that stopped it from being read.

    ``body`` is the *new* text of the message (what the sender wrote); ``quoted``
    holds the earlier message of a reply, kept for context and not scored.
    A record with ``status == "error"`` still carries its ``message_id`` and
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
    attachments: tuple[str, ...] = ()  # file names of all attachments
    attachment_text: str = ""  # decoded text of text/* attachments, scored with the body
    headers: dict[str, str] = field(default_factory=dict)  # context headers (List-Id, Precedence, ...)
    content_hash: str = ""  # sha256 of the normalised subject+body+attachment text

    @property
    def text(self) -> str:
        """Return the text that is scored: subject, new body text and text attachments."""
        parts = [self.subject.strip(), self.body.strip(), self.attachment_text.strip()]
        return "\n\n".join(p for p in parts if p)


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
