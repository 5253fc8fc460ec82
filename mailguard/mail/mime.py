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
from html import unescape

from mailguard.mail.attachments import AttachmentLimits, read_attachment
from mailguard.text import clean_whitespace, normalise_for_matching

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
    attachment_text: str  # readable attachments' text, blank-line separated (see attachment_spans)
    attachments: tuple[str, ...]  # file names of every attachment (readable or not)
    forwarded: str  # text of attached messages (message/rfc822): earlier mail
    html_text: str = ""  # the HTML alternative's text, when it says something the plain part does not
    attachment_spans: tuple[tuple[str, int, int], ...] = ()  # (name, start, end) in attachment_text
    unscored_attachments: tuple[str, ...] = ()  # "name (reason)" for attachments without readable text
    truncated: bool = False  # a part was cut by a size limit


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


class _HtmlText:
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
        self.lines: list[str] = []
        self._line: list[str] = []
        self._line_depth = 0
        self._skip = 0
        self._quote_depth = 0
        self._pre = 0

    def start(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip += 1
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

    def end(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip -= 1
            return
        if tag in self._BLOCK:
            self._newline()
            if tag == "blockquote" and self._quote_depth:
                self._quote_depth -= 1
            elif tag == "pre" and self._pre:
                self._pre -= 1
            elif tag == "p":
                self._newline(force=True)

    def data(self, data: str | None) -> None:
        if not data or self._skip:
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


# Outlook's downlevel-revealed conditionals ("<![if !supportLists]>") are not HTML; libxml2 drops their content.
_DOWNLEVEL = re.compile(r"<!\[(?:end)?if[^<>\]]{0,200}\]>", re.IGNORECASE)
# A tag with no "<" inside it: linear even on "<<<<...", unlike "<[^>]*>".
_TAG = re.compile(r"<[^<>]*>")


def html_to_text(html: str) -> str:
    """Return the readable text of an HTML document: scripts/styles dropped, blocks on their own lines.

    Entities are unescaped; ``<blockquote>`` lines get a ``"> "`` prefix so a
    quoted reply in HTML mail is recognised like a plain-text one. libxml2 parses
    in linear time (the standard library's ``html.parser`` is quadratic on hostile
    input such as many unclosed tags) and the tree is walked without recursion.
    """
    from lxml import etree
    from lxml import html as lxml_html

    if not html.strip():
        return ""
    html = _DOWNLEVEL.sub("", html.replace("\x00", ""))
    parser = lxml_html.HTMLParser(remove_pis=True, no_network=True, default_doctype=False, huge_tree=True)
    try:
        root = lxml_html.document_fromstring(html, parser=parser)
    except (etree.ParserError, ValueError):  # "Document is empty" and friends: nothing visible
        return ""
    if any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log):
        # Nesting past libxml2's depth limit drops what lies below it: never let markup hide text.
        return clean_whitespace(unescape(_TAG.sub(" ", html)))
    out = _HtmlText()
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else ""  # comments, entities: no tag of their own
        if event == "start":
            out.start(tag.lower())
            if tag:
                out.data(element.text)
        else:
            out.end(tag.lower())
            out.data(element.tail)
    return out.text()


@dataclass
class _Acc:
    body: list[str] = field(default_factory=list)
    attachment_texts: list[tuple[str, str]] = field(default_factory=list)  # (name, text)
    attachments: list[str] = field(default_factory=list)
    unscored: list[str] = field(default_factory=list)
    forwarded: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    has_plain: bool = False
    truncated: bool = False

    def extend(self, other: _Acc) -> None:
        self.body += other.body
        self.attachment_texts += other.attachment_texts
        self.attachments += other.attachments
        self.unscored += other.unscored
        self.forwarded += other.forwarded
        self.html += other.html
        self.has_plain = self.has_plain or other.has_plain
        self.truncated = self.truncated or other.truncated


def extract_text(
    msg: email.message.Message,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_chars: int = 200_000,
    attachment_limits: AttachmentLimits = AttachmentLimits(),
) -> MimeText:
    """Return the body text, HTML-only text, attachment text and names, and forwarded text of ``msg``.

    ``multipart/alternative`` takes its text/plain alternative as the body when that
    has any text, else the first non-empty one (HTML converted); the HTML alternative
    is kept as ``html_text`` when it differs materially from the plain text (recipients
    read the HTML). A multipart whose boundary never appears is read as plain text, as
    mail clients show it. Each decoded part is cut to ``max_chars`` (HTML to four times
    that before conversion) and ``truncated`` says so. Attachments are read within
    ``attachment_limits``; those without readable text are listed with the reason.
    Raises :class:`MimeTooDeepError` past ``max_depth``.
    """
    acc = _Acc()
    _collect(msg, 0, acc, _Limits(max_depth, max_chars, attachment_limits))
    pieces: list[str] = []
    spans: list[tuple[str, int, int]] = []
    pos = 0
    for name, text in acc.attachment_texts:
        text = text.replace("\r\n", "\n").strip()
        if not text:
            continue
        if pieces:
            pos += 2  # the blank line between attachments
        spans.append((name, pos, pos + len(text)))
        pieces.append(text)
        pos += len(text)
    return MimeText(
        body=_join(acc.body),
        attachment_text="\n\n".join(pieces),
        attachments=tuple(acc.attachments),
        forwarded=_join(acc.forwarded),
        html_text=_join(acc.html),
        attachment_spans=tuple(spans),
        unscored_attachments=tuple(acc.unscored),
        truncated=acc.truncated,
    )


@dataclass(frozen=True)
class _Limits:
    depth: int
    chars: int
    attachment: AttachmentLimits


def _join(pieces: list[str]) -> str:
    return "\n\n".join(p for p in (s.strip() for s in pieces) if p)


def differs_materially(html_text: str, plain_text: str, min_words: int = 4) -> bool:
    """Return True when some line of ``html_text`` is mostly absent from ``plain_text``.

    Word trigrams of each HTML line are looked up in the plain text's trigrams (linear
    time): link text and layout differ between the two alternatives of every newsletter,
    but a line only the HTML shows has most of its trigrams missing.
    """
    plain = normalise_for_matching(plain_text).split()
    known = {tuple(plain[i : i + 3]) for i in range(len(plain) - 2)}
    for line in html_text.split("\n"):
        words = normalise_for_matching(line).split()
        if len(words) < min_words:
            continue
        grams = [tuple(words[i : i + 3]) for i in range(len(words) - 2)]
        if sum(g not in known for g in grams) > len(grams) / 2:
            return True
    return False


def _collect(part: email.message.Message, depth: int, acc: _Acc, limits: _Limits) -> None:
    if depth > limits.depth:
        raise MimeTooDeepError(f"MIME parts nested more than {limits.depth} levels")
    ctype = part.get_content_type()
    maintype = ctype.split("/", 1)[0]
    if part.is_multipart():
        children = [p for p in part.get_payload() if isinstance(p, email.message.Message)]
        if maintype == "message":
            # An attached message is earlier mail: scored, and marked as quoted/forwarded.
            inner = _Acc()
            for child in children:
                _collect(child, depth + 1, inner, limits)
            acc.forwarded += inner.body + inner.html + inner.forwarded
            inner.body, inner.html, inner.forwarded, inner.has_plain = [], [], [], False
            acc.extend(inner)
        elif ctype == "multipart/alternative":
            _collect_alternative(children, depth, acc, limits)
        else:
            for child in children:
                _collect(child, depth + 1, acc, limits)
        return

    if maintype == "multipart" and depth < limits.depth:
        salvaged = _reparse_multipart(part)
        if salvaged is not None:
            _collect(salvaged, depth + 1, acc, limits)
            return
    name = _filename(part)
    is_attachment = name is not None or _disposition(part) == "attachment"
    if is_attachment:
        _collect_attachment(part, name or f"(unnamed {ctype})", ctype, depth, acc, limits)
    elif maintype == "text" or maintype == "multipart" or ctype == "message/rfc822":
        subtype = ctype.split("/", 1)[1] if maintype == "text" else "plain"
        text, cut = _part_text(part, html=subtype == "html", max_chars=limits.chars)
        acc.truncated = acc.truncated or cut
        if maintype == "message":
            acc.forwarded.append(text)
        else:
            acc.body.append(text)
            acc.has_plain = acc.has_plain or (subtype != "html" and bool(text.strip()))
    # Inline non-text parts without a name (logos in multipart/related, signatures) are not attachments.


def _collect_alternative(children: list[email.message.Message], depth: int, acc: _Acc, limits: _Limits) -> None:
    options = []
    for child in children:
        option = _Acc()
        _collect(child, depth + 1, option, limits)
        options.append(option)
    chosen = next((o for o in options if o.has_plain and _join(o.body)), None)
    chosen = chosen or next((o for o in options if _join(o.body)), None)
    if chosen is not None:
        acc.extend(chosen)
        plain = _join(chosen.body)
        for option in options:  # what recipients of the HTML alternative read and the plain part does not say
            html = _join(option.body)
            if option is not chosen and not option.has_plain and html and differs_materially(html, plain):
                acc.html.append(html)
                break
    for option in options:  # still list attachments hidden in the other alternatives
        if option is not chosen:
            acc.attachments += [a for a in option.attachments if a not in acc.attachments]
            acc.unscored += [u for u in option.unscored if u not in acc.unscored]


def _collect_attachment(
    part: email.message.Message, name: str, ctype: str, depth: int, acc: _Acc, limits: _Limits
) -> None:
    acc.attachments.append(name)
    try:
        charset = part.get_content_charset()
    except (ValueError, TypeError, LookupError, UnicodeError):
        charset = None

    def eml_to_text(data: bytes) -> str:
        inner = _Acc()
        _collect(email.message_from_bytes(data), depth + 1, inner, limits)
        return _join(inner.body + inner.forwarded + [t for _, t in inner.attachment_texts])

    found = read_attachment(
        name, ctype, _part_bytes(part), charset=charset, decode=decode_bytes, html_to_text=html_to_text,
        eml_to_text=eml_to_text, limits=limits.attachment,
    )
    acc.truncated = acc.truncated or found.truncated
    if found.text is None:
        acc.unscored.append(f"{name} ({found.reason})")
    elif looks_binary(found.text):  # a "text" attachment that is really binary is listed, not scored
        acc.unscored.append(f"{name} (binary data, not text)")
    elif found.text.strip():
        acc.attachment_texts.append((name, found.text))
    else:
        acc.unscored.append(f"{name} (empty)")


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


def _part_text(part: email.message.Message, *, html: bool, max_chars: int) -> tuple[str, bool]:
    """Return the decoded text of a part (HTML converted) and whether a size limit cut it."""
    data = _part_bytes(part)
    try:
        charset = part.get_content_charset()
    except (ValueError, TypeError, LookupError, UnicodeError):
        charset = None
    limit = max_chars * 4 if html else max_chars
    decoded = decode_bytes(data[: limit * 4], charset)
    cut = len(data) > limit * 4 or len(decoded) > limit
    text = decoded[:limit]
    if html:
        text = html_to_text(text)
        cut = cut or len(text) > max_chars
        text = text[:max_chars]
    return text, cut


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
