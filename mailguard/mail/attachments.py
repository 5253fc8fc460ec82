"""The text of the attachments people read: plain text, HTML, e-mail files, PDF and Word documents.

Every attachment ends in exactly one of two places: its text (scored, evidence names the file) or
a reason it could not be read ("encrypted", "corrupt", "too large", "not text"), which the
results row lists. Limits bound the work an attachment can cause: bytes read, characters kept,
pages walked and seconds spent (checked between pages and paragraphs).
"""

from __future__ import annotations

import email
import io
import logging
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

#: Word's main document part; the only member of a .docx read.
_DOCX_BODY = "word/document.xml"
_TEXT_EXTENSIONS = (".txt", ".text", ".csv", ".md", ".log", ".ics", ".vcf")
_HTML_EXTENSIONS = (".html", ".htm")
_DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings are about file structure, and noisy


@dataclass(frozen=True)
class AttachmentLimits:
    """Bounds on the work one attachment may cause."""

    max_bytes: int = 10 * 1024 * 1024  # larger attachments are listed as too large, not read
    max_chars: int = 100_000  # text kept per attachment; more marks the message as cut
    max_pages: int = 200  # PDF pages read
    max_seconds: float = 5.0  # time spent extracting one attachment (checked between pages/paragraphs)


@dataclass(frozen=True)
class AttachmentText:
    """What an attachment gave: its text, or why there is none; and whether the text was cut."""

    text: str | None
    reason: str = ""  # set when text is None
    truncated: bool = False


def kind_of(name: str, content_type: str) -> str:
    """Return how an attachment is read: ``text``, ``html``, ``eml``, ``pdf``, ``docx`` or ``other``."""
    lower = name.lower()
    if lower.endswith(".pdf") or content_type == "application/pdf":
        return "pdf"
    if lower.endswith(".docx") or content_type == _DOCX_TYPE:
        return "docx"
    if lower.endswith(".eml") or content_type == "message/rfc822":
        return "eml"
    if lower.endswith(_HTML_EXTENSIONS) or content_type == "text/html":
        return "html"
    if lower.endswith(_TEXT_EXTENSIONS) or content_type.startswith("text/"):
        return "text"
    return "other"


def read_attachment(
    name: str,
    content_type: str,
    data: bytes,
    *,
    charset: str | None,
    decode: Callable[[bytes, str | None], str],
    html_to_text: Callable[[str], str],
    eml_to_text: Callable[[bytes], str],
    limits: AttachmentLimits = AttachmentLimits(),
) -> AttachmentText:
    """Return the readable text of one attachment, or the reason it has none (never raises)."""
    kind = kind_of(name, content_type)
    if kind == "other":
        return AttachmentText(None, f"not text ({content_type or 'unknown type'})")
    if len(data) > limits.max_bytes:
        return AttachmentText(None, f"too large ({len(data) / 1e6:.1f} MB > {limits.max_bytes / 1e6:.0f} MB)")
    try:
        if kind == "pdf":
            return _pdf_text(data, limits)
        if kind == "docx":
            return _docx_text(data, limits)
        if kind == "eml":
            return _capped(eml_to_text(data), limits)
        text = decode(data, charset)
        return _capped(html_to_text(text) if kind == "html" else text, limits)
    except Exception as e:  # a hostile or broken file must cost one listed attachment, never the message
        return AttachmentText(None, f"corrupt ({type(e).__name__})")


def _capped(text: str, limits: AttachmentLimits) -> AttachmentText:
    if len(text) > limits.max_chars:
        return AttachmentText(text[: limits.max_chars], truncated=True)
    return AttachmentText(text)


def _pdf_text(data: bytes, limits: AttachmentLimits) -> AttachmentText:
    from pypdf import PdfReader

    started = time.monotonic()
    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:  # many "encrypted" PDFs only restrict printing and open with an empty password
            opened = bool(reader.decrypt(""))
        except Exception:  # unsupported algorithm, broken dictionary: unreadable as encrypted
            opened = False
        if not opened:
            return AttachmentText(None, "encrypted")
    pieces: list[str] = []
    size, cut = 0, False
    for number, page in enumerate(reader.pages):
        if number >= limits.max_pages or size >= limits.max_chars or time.monotonic() - started > limits.max_seconds:
            cut = True
            break
        text = page.extract_text() or ""
        pieces.append(text)
        size += len(text)
    text = "\n\n".join(p.strip() for p in pieces if p.strip())
    if not text and not cut:
        return AttachmentText(None, "no text layer (scanned image?)")
    capped = _capped(text, limits)
    return AttachmentText(capped.text, truncated=cut or capped.truncated)


def _docx_text(data: bytes, limits: AttachmentLimits) -> AttachmentText:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        # A password-protected .docx is an OLE container, not a zip.
        return AttachmentText(None, "encrypted or not a Word document" if data[:4] == b"\xd0\xcf\x11\xe0" else "corrupt")
    try:
        info = archive.getinfo(_DOCX_BODY)
    except KeyError:
        return AttachmentText(None, "corrupt (no document body)")
    if info.file_size > 20 * limits.max_bytes:  # a zip bomb expands far beyond any real document
        return AttachmentText(None, f"too large (document body {info.file_size / 1e6:.0f} MB uncompressed)")
    import docx

    started = time.monotonic()
    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    size, cut = 0, False
    blocks = [p.text for p in document.paragraphs]
    for table in document.tables:
        blocks.extend(" ".join(cell.text for cell in row.cells) for row in table.rows)
    for text in blocks:
        if size >= limits.max_chars or time.monotonic() - started > limits.max_seconds:
            cut = True
            break
        lines.append(text)
        size += len(text) + 1
    capped = _capped("\n".join(lines).strip(), limits)
    return AttachmentText(capped.text, truncated=cut or capped.truncated)


def parse_eml(data: bytes) -> email.message.Message:
    """Return an attached ``.eml`` file parsed leniently (the caller extracts its text)."""
    return email.message_from_bytes(data)
