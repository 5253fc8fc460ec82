"""MIME to text: the readable body, text attachments and attachment names of a parsed message.

Everything here is lenient by design: logged mail is full of lying charsets,
broken base64 and half-written HTML, and one bad part must never stop a run.
The only failure reported upward is :class:`MimeTooDeepError`, because a
message nested deeper than any mail client produces is treated as an error
record rather than silently cut (see ``extract_text``).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email.message
import quopri
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from mailguard.text import clean_whitespace

#: Deepest MIME nesting read; real clients rarely exceed 5 (forward of a signed reply with inline images).
DEFAULT_MAX_DEPTH = 20

# Charsets that are a superset-free "try me first" mistake: UTF-16/32 text is often valid UTF-8 by accident.
_WIDE_CHARSETS = ("utf-16", "utf-32", "utf_16", "utf_32")
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(=\?)")
_FOLD = re.compile(r"\r?\n[ \t]*")
_WS = re.compile(r"[ \t\r\n\f\v\u00a0\u2000-\u200b\u3000]+")


class MimeTooDeepError(ValueError):
    """A message whose MIME parts nest deeper than the configured limit."""


@dataclass(frozen=True)
class MimeText:
    """The text content of one message, split by role."""

    body: str  # inline text parts joined; text/plain preferred over HTML
    attachment_text: str  # decoded text of text/* attachments
    attachments: tuple[str, ...]  # file names of every attachment (text ones included)
    forwarded: str  # text of attached messages (message/rfc822): earlier mail, kept as context


def decode_bytes(data: bytes, charset: str | None = None) -> str:
    """Return ``data`` decoded to text without ever raising; NUL characters removed.

    Order: valid UTF-8 first (a declared Latin-1 over UTF-8 bytes is the most
    common lie in logged mail), then the declared charset if Python knows it as
    a text encoding, then cp1252 with replacement characters. UTF-16/32
    declarations are tried first, since their bytes can pass as UTF-8.
    """
    declared = _text_codec(charset)
    order: list[str] = []
    if declared and declared.startswith(_WIDE_CHARSETS):
        order.append(declared)
    order.append("utf-8")
    if declared and declared not in order:
        order.append(declared)
    for name in order:
        try:
            return data.decode(name).replace("\x00", "")
        except (UnicodeError, LookupError, ValueError, TypeError):
            continue
    return data.decode("cp1252", errors="replace").replace("\x00", "")


def _text_codec(charset: str | None) -> str | None:
    """Return the canonical codec name of ``charset`` if it is a usable text encoding, else None."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    if not name or len(name) > 64 or name.startswith("unknown"):
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    # base64_codec, rot13 and friends are codecs but not text encodings.
    if not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def decode_header_value(raw: str, max_chars: int = 10_000) -> str:
    """Return a raw header value as readable text: unfolded, encoded words decoded, NULs removed.

    ``raw`` is the value as the compat32 parser stores it (8-bit bytes kept as
    surrogate escapes). Undecodable pieces fall back like :func:`decode_bytes`.
    """
    raw = raw[: max_chars * 4]  # bound the work on enormous headers before decoding
    try:
        data = raw.encode("utf-8", "surrogateescape")
    except UnicodeError:
        data = raw.encode("utf-8", "replace")
    text = _FOLD.sub(" ", decode_bytes(data))
    if "=?" in text:
        text = _ENCODED_WORD.sub(_decode_word, _BETWEEN_WORDS.sub(r"\1\2", text))
    return _WS.sub(" ", text.replace("\x00", "")).strip()[:max_chars]


def _decode_word(m: re.Match[str]) -> str:
    charset, enc, payload = m.group(1).split("*", 1)[0], m.group(2).lower(), m.group(3)
    try:
        if enc == "b":
            data = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=False)
        else:
            data = quopri.decodestring(payload.replace("_", " ").encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return m.group(0)
    return decode_bytes(data, charset)


class _HtmlText(HTMLParser):
    """Collect the visible text of an HTML document, one output line per block."""

    _SKIP = frozenset({"script", "style", "head", "title", "template", "svg", "object"})
    _BLOCK = frozenset(
        {
            "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "fieldset",
            "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
            "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr", "ul",
        }
    )  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._line_depth = 0
        self._skip: list[str] = []
        self._quote_depth = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":  # a missing </head> must not hide the whole body
            self._skip = [t for t in self._skip if t != "head"]
        if tag in self._SKIP:
            self._skip.append(tag)
            return
        if tag == "br":
            self._newline(force=True)
        elif tag == "hr":
            # Outlook separates a reply from the earlier message with <hr>; keep the marker quoting.py knows.
            self._newline()
            self._append("_" * 32)
            self._newline()
        elif tag in ("td", "th"):
            self._append(" ")
        elif tag in self._BLOCK:
            self._newline()
            if tag == "blockquote":
                self._quote_depth += 1
            elif tag == "pre":
                self._pre += 1
            elif tag == "li":
                self._append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            if tag in self._skip:
                while self._skip and self._skip.pop() != tag:
                    pass
            return
        if tag in self._BLOCK:
            self._newline()
            if tag == "blockquote" and self._quote_depth:
                self._quote_depth -= 1
            elif tag == "pre" and self._pre:
                self._pre -= 1
            elif tag == "p":
                self._newline(force=True)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            first, *rest = data.split("\n")
            self._append(first)
            for line in rest:
                self._newline(force=True)
                self._append(line)
            return
        self._append(_WS.sub(" ", data))

    def _append(self, text: str) -> None:
        if not text or (text == " " and not self._line):
            return
        if not self._line:
            self._line_depth = self._quote_depth
        self._line.append(text)

    def _newline(self, force: bool = False) -> None:
        line = "".join(self._line).strip()
        self._line = []
        if line:
            self.lines.append("> " * self._line_depth + line)
        elif force:
            self.lines.append("")

    def text(self) -> str:
        self._newline()
        return clean_whitespace("\n".join(self.lines))


_TAG = re.compile(r"<[^>]*>")


def html_to_text(html: str) -> str:
    """Return the readable text of an HTML document: scripts/styles dropped, blocks on their own lines.

    Entities are unescaped; ``<blockquote>`` lines get a ``"> "`` prefix so a
    quoted reply in HTML mail is recognised like a plain-text one.
    """
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except AssertionError:
        # html.parser still asserts on a few malformed declarations ("<![if"); fall back to tag stripping.
        import html as html_mod

        return clean_whitespace(html_mod.unescape(_TAG.sub(" ", html)))
    return parser.text()


@dataclass
class _Acc:
    body: list[str] = field(default_factory=list)
    attachment_text: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)
    has_plain: bool = False

    def extend(self, other: _Acc) -> None:
        self.body += other.body
        self.attachment_text += other.attachment_text
        self.attachments += other.attachments
        self.forwarded += other.forwarded
        self.has_plain = self.has_plain or other.has_plain


def extract_text(
    msg: email.message.Message, *, max_depth: int = DEFAULT_MAX_DEPTH, max_chars: int = 200_000
) -> MimeText:
    """Return the body text, text-attachment text, attachment names and forwarded text of ``msg``.

    ``multipart/alternative`` picks its text/plain alternative when that has any
    text, else the first non-empty one (HTML converted). A multipart whose
    boundary never appears is read as plain text, as mail clients show it.
    Each decoded part is cut to ``max_chars`` (HTML to four times that before
    conversion) so that one huge part cannot stall the run; the caller applies
    the final length cap. Raises :class:`MimeTooDeepError` past ``max_depth``.
    """
    acc = _Acc()
    _collect(msg, 0, acc, max_depth, max_chars)
    return MimeText(
        body=_join(acc.body),
        attachment_text=_join(acc.attachment_text),
        attachments=tuple(acc.attachments),
        forwarded=_join(acc.forwarded),
    )


def _join(pieces: list[str]) -> str:
    return "\n\n".join(p for p in (s.strip() for s in pieces) if p)


def _collect(part: email.message.Message, depth: int, acc: _Acc, max_depth: int, max_chars: int) -> None:
    if depth > max_depth:
        raise MimeTooDeepError(f"MIME parts nested more than {max_depth} levels")
    ctype = part.get_content_type()
    maintype = ctype.split("/", 1)[0]
    if part.is_multipart():
        children = [p for p in part.get_payload() if isinstance(p, email.message.Message)]
        if maintype == "message":
            # An attached message is earlier mail: context for a reviewer, not what this sender wrote.
            inner = _Acc()
            for child in children:
                _collect(child, depth + 1, inner, max_depth, max_chars)
            acc.forwarded += inner.body + inner.forwarded
            acc.attachment_text += inner.attachment_text
            acc.attachments += inner.attachments
        elif ctype == "multipart/alternative":
            options = []
            for child in children:
                option = _Acc()
                _collect(child, depth + 1, option, max_depth, max_chars)
                options.append(option)
            chosen = next((o for o in options if o.has_plain and _join(o.body)), None)
            chosen = chosen or next((o for o in options if _join(o.body)), None)
            if chosen is not None:
                acc.extend(chosen)
            for option in options:  # still list attachments hidden in the other alternatives
                if option is not chosen:
                    acc.attachments += [a for a in option.attachments if a not in acc.attachments]
        else:
            for child in children:
                _collect(child, depth + 1, acc, max_depth, max_chars)
        return

    if maintype == "multipart" and depth < max_depth:
        salvaged = _reparse_multipart(part)
        if salvaged is not None:
            _collect(salvaged, depth + 1, acc, max_depth, max_chars)
            return
    name = _filename(part)
    is_attachment = name is not None or _disposition(part) == "attachment"
    if maintype == "text" or maintype == "multipart" or ctype == "message/rfc822":
        subtype = ctype.split("/", 1)[1] if maintype == "text" else "plain"
        text = _part_text(part, html=subtype == "html", max_chars=max_chars)
        if is_attachment:
            acc.attachments.append(name or f"(unnamed {ctype})")
            if not looks_binary(text):  # a "text" attachment that is really binary is listed, not scored
                acc.attachment_text.append(text)
        elif maintype == "message":
            acc.forwarded.append(text)
        else:
            acc.body.append(text)
            acc.has_plain = acc.has_plain or (subtype != "html" and bool(text.strip()))
    elif is_attachment:
        acc.attachments.append(name or f"(unnamed {ctype})")
    # Inline non-text parts without a name (logos in multipart/related, signatures) are not attachments.


def looks_binary(text: str, sample: int = 20_000) -> bool:
    """Return True when ``text`` is mostly control or replacement characters (binary data, not prose)."""
    head = text[:sample]
    if not head:
        return False
    bad = sum(1 for ch in head if ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\f") or ch == "\x7f")
    # Prose has next to none; random bytes decoded as cp1252 give about 13 %.
    return bad > 0.05 * len(head)


_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")


def lenient_b64decode(data: bytes) -> bytes:
    """Return base64 ``data`` decoded, ignoring stray characters and broken padding (never raises).

    Decoding stops at the first ``=`` (padding), as the stdlib's non-strict decoder does.
    """
    clean = _NOT_BASE64.sub(b"", data.split(b"=", 1)[0])
    clean = clean[: len(clean) - 1] if len(clean) % 4 == 1 else clean  # a lone 6-bit char carries no byte
    return base64.b64decode(clean + b"=" * (-len(clean) % 4))


def _raw_payload(part: email.message.Message) -> bytes:
    payload = part.get_payload()
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _part_bytes(part: email.message.Message) -> bytes:
    try:
        cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    except (ValueError, TypeError, UnicodeError):
        cte = ""
    if cte == "base64":
        # The stdlib gives up and returns the encoded text when characters and length are both off.
        return lenient_b64decode(_raw_payload(part))
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError, LookupError, UnicodeError, binascii.Error):
        data = None
    return data if isinstance(data, bytes) else _raw_payload(part)


_BOUNDARY_LINE = re.compile(r"--([0-9A-Za-z'()+_,./:=?-]{1,70})[ \t]*\r?\n")


def _reparse_multipart(part: email.message.Message) -> email.message.Message | None:
    """Return ``part`` re-read with the boundary its body actually uses, or None if none is found.

    Senders that declare one boundary and use another (or none) are common
    enough that mail clients recover; so do we, once.
    """
    payload = part.get_payload()
    if not isinstance(payload, str):
        return None
    # Only a body that starts with a boundary line: otherwise a "-----" line in prose would turn
    # everything above it into a dropped preamble.
    m = _BOUNDARY_LINE.match(payload.lstrip("\r\n")[:200])
    if m is None:
        return None
    boundary = m.group(1).removesuffix("--")
    reparsed = email.message_from_string(f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n{payload}')
    return reparsed if reparsed.is_multipart() else None


def _part_text(part: email.message.Message, *, html: bool, max_chars: int) -> str:
    data = _part_bytes(part)
    try:
        charset = part.get_content_charset()
    except (ValueError, TypeError, LookupError, UnicodeError):
        charset = None
    limit = max_chars * 4 if html else max_chars
    text = decode_bytes(data[: limit * 4], charset)[:limit]
    return html_to_text(text) if html else text


def _filename(part: email.message.Message) -> str | None:
    try:
        raw = part.get_filename()
    except (ValueError, TypeError, LookupError, UnicodeError, IndexError):
        return None
    if raw is None:
        return None
    name = decode_header_value(str(raw), max_chars=255)
    # Only the base name: paths in attachment names are noise (and sometimes an attack on the viewer).
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name or None


def _disposition(part: email.message.Message) -> str | None:
    try:
        return part.get_content_disposition()
    except (ValueError, TypeError, LookupError, UnicodeError, IndexError):
        return None
