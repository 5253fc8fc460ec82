"""Read logged mail from any supported input into ``Message`` records, exactly one per input message.

Supported inputs (detected from the path): an mbox file, a Maildir, a folder
of ``.eml`` files (recursive), a single ``.eml`` file, and tabular exports
(``.jsonl``, ``.csv``, ``.parquet``) with columns ``message_id`` and ``body``
(required) and ``subject``, ``from``, ``to``, ``cc``, ``date`` (optional).

Contract: ``InputError`` is raised only when the path itself cannot be opened
or is not a recognised input (raised when ``read_messages`` is called, not
half-way through). Every problem with one message becomes a record with
``status="error"`` and ``error="<kind>: <explanation>"``, never message text.
Kinds: ``parse_error``, ``decode_error`` (the body is binary, not text),
``empty_body``, ``too_large``, ``too_deep`` (MIME nesting over the limit),
``unreadable_file`` (also: not a regular file, a link out of the input folder),
``bad_row``, ``timeout`` (reading took longer than ``message_seconds``).

Choices worth knowing:

* A message with no Message-ID (or a table row with an empty ``message_id``)
  gets ``synthetic_message_id(content_hash)``, so re-reading gives the same id.
  Error records without one get an id from the hash of their raw bytes (rows:
  of their source).
* ``empty_body`` means nothing to score or show: no subject, body, quoted
  text, attachment text or attachment.
* ``body``, ``quoted``, ``html_text`` and ``attachment_text`` are each cut to
  ``max_body_chars`` (default 200,000); the message stays ``ok`` and ``truncated``
  says that some text was not read (the results table shows it).
* Table bodies are taken as plain text (no MIME/HTML decoding) but are split
  into new and quoted text like mail.
"""

from __future__ import annotations

import email
import email.message
import email.utils
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import chain
from pathlib import Path
from typing import Any

from mailguard.deadline import MessageTimeout, time_limit
from mailguard.errors import InputError
from mailguard.mail.context import address_domain
from mailguard.mail.inputs import (
    RawMessage,
    RawRow,
    Shard,
    detect_format,
    iter_csv_rows,
    iter_eml_dir,
    iter_jsonl_rows,
    iter_maildir,
    iter_mbox,
    iter_parquet_rows,
    read_file_unit,
    source_name,
)
from mailguard.mail.message import Message, content_digest, synthetic_message_id
from mailguard.mail.mime import (
    DEFAULT_MAX_DEPTH,
    MimeTooDeepError,
    decode_bytes,
    decode_header_value,
    extract_text,
    looks_binary,
)
from mailguard.mail.quoting import split_quoted_reply
from mailguard.text import normalise_for_matching

#: Largest raw message (or table body) read; bigger ones become ``too_large`` error records.
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
#: Longest body / quoted / attachment text kept; longer text is cut (mail that long is logs or data, not prose).
DEFAULT_MAX_BODY_CHARS = 200_000
#: Seconds one message may take to read (parse, MIME, attachments); None = no limit. See mailguard.deadline.
DEFAULT_MESSAGE_SECONDS: float | None = None
#: The only headers kept in ``Message.headers`` (plus the computed Sender-Domain and Recipient-Domains).
CONTEXT_HEADERS = ("List-Id", "List-Unsubscribe", "Precedence", "Auto-Submitted", "X-Auto-Response-Suppress")

_WS = re.compile(r"\s+")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Raw header bytes looked at for addresses; a To: line bigger than this is an attack, not a mailing.
_MAX_ADDRESS_HEADER = 200_000


def read_messages(
    path: str | Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_body_chars: int = DEFAULT_MAX_BODY_CHARS,
    max_depth: int = DEFAULT_MAX_DEPTH,
    message_seconds: float | None = DEFAULT_MESSAGE_SECONDS,
) -> Iterator[Message]:
    """Return an iterator of one ``Message`` per message in the input at ``path``, streamed.

    Each message is read under a deadline of ``message_seconds`` (when given, and when
    called from the main thread): one that takes longer becomes a ``timeout`` error record.
    Raises ``InputError`` (immediately) when ``path`` is missing, unreadable, of
    an unknown format, or a table without the required columns.
    """
    path = Path(path)
    fmt = detect_format(path)
    opts = _Options(max_bytes, max_body_chars, max_depth, message_seconds)
    if fmt == "eml":
        unit = read_file_unit(path, max_bytes)
        if unit.error.startswith("unreadable_file"):
            raise InputError(f"cannot read {source_name(path)}: {unit.error.split(': ', 1)[1]}")
        return iter([_timed_raw(unit, opts)])
    messages: Iterator[Message]
    if fmt == "mbox":
        messages = (_timed_raw(u, opts) for u in iter_mbox(path, max_bytes))
    elif fmt in ("maildir", "eml_dir"):
        files = iter_maildir(path) if fmt == "maildir" else iter_eml_dir(path)
        # Entries are read only inside the folder named: a link out of it becomes an error record.
        messages = (_timed_raw(read_file_unit(f, max_bytes, root=path), opts) for f in files)
    else:
        rows: Iterator[RawRow]
        if fmt == "jsonl":
            rows = iter_jsonl_rows(path, max_bytes)
        elif fmt == "csv":
            rows = iter_csv_rows(path, max_bytes)
        else:
            rows = iter_parquet_rows(path)
        messages = (_timed_row(r, opts) for r in rows)
    # Pull the first record now so that an unopenable file or a bad table schema raises here.
    first = next(messages, None)
    return messages if first is None else chain([first], messages)


def read_shard(
    shard: Shard,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_body_chars: int = DEFAULT_MAX_BODY_CHARS,
    max_depth: int = DEFAULT_MAX_DEPTH,
    message_seconds: float | None = DEFAULT_MESSAGE_SECONDS,
) -> Iterator[Message]:
    """Return an iterator of one ``Message`` per message in ``shard`` (``mailguard.mail.inputs.plan_shards``).

    The messages, sources and errors are those ``read_messages`` gives for that part of the
    input; a ``whole`` shard is ``read_messages`` itself. Raises ``InputError`` like it.
    """
    if shard.kind == "whole":
        return read_messages(shard.path, max_bytes=max_bytes, max_body_chars=max_body_chars, max_depth=max_depth,
                             message_seconds=message_seconds)
    detect_format(shard.path)  # the same checks as a whole read: missing, unreadable, not a regular file
    opts = _Options(max_bytes, max_body_chars, max_depth, message_seconds)
    if shard.kind == "mbox_range":
        units = iter_mbox(shard.path, max_bytes, start=shard.start, end=shard.end, first_index=shard.first_index)
        return (_timed_raw(u, opts) for u in units)
    rows = iter_parquet_rows(shard.path, row_groups=shard.row_groups, first_row=shard.first_row)
    return (_timed_row(r, opts) for r in rows)


@dataclass(frozen=True, slots=True)
class _Options:
    max_bytes: int
    max_body_chars: int
    max_depth: int
    max_seconds: float | None = None


_DEFAULTS = _Options(DEFAULT_MAX_BYTES, DEFAULT_MAX_BODY_CHARS, DEFAULT_MAX_DEPTH)
# Bytes of a timed-out message searched for its Message-ID (headers only; parsing them is cheap).
_TIMEOUT_HEAD_BYTES = 64 * 1024


def _within_budget(opts: _Options, read: Callable[[], Message], on_timeout: Callable[[str], Message]) -> Message:
    """Return ``read()``, or ``on_timeout(error)`` when it ran past ``opts.max_seconds``."""
    try:
        with time_limit(opts.max_seconds):
            return read()
    except MessageTimeout as e:
        return on_timeout(f"timeout: reading the message {e}")


def _timed_raw(raw: RawMessage, opts: _Options) -> Message:
    def timed_out(error: str) -> Message:
        head_id = _message_id_from_head(raw.data[:_TIMEOUT_HEAD_BYTES])
        return _error(raw.source, error, head_id or synthetic_message_id(raw.digest))

    return _within_budget(opts, lambda: message_from_raw(raw, opts), timed_out)


def _timed_row(row: RawRow, opts: _Options) -> Message:
    def timed_out(error: str) -> Message:
        return _error(row.source, error, synthetic_message_id(content_digest("row", row.source)))

    return _within_budget(opts, lambda: message_from_row(row, opts), timed_out)


def parse_message_bytes(data: bytes, source: str = "<bytes>") -> Message:
    """Return the ``Message`` for one raw RFC 5322 message (never raises; problems become error records)."""
    return message_from_raw(RawMessage(source, data, hashlib.sha256(data).hexdigest()), _DEFAULTS)


def message_from_raw(raw: RawMessage, opts: _Options = _DEFAULTS) -> Message:
    """Return the ``Message`` for one raw unit; every failure becomes an error record."""
    if raw.error:
        return _error(raw.source, raw.error, _message_id_from_head(raw.data) or synthetic_message_id(raw.digest))
    fallback_id = synthetic_message_id(raw.digest)
    try:
        parsed = email.message_from_bytes(raw.data)  # compat32: the most lenient parser in the stdlib
    except RecursionError:
        return _error(raw.source, _too_deep(opts), fallback_id)
    except Exception as e:  # one unparseable message must not stop the run
        return _error(raw.source, f"parse_error: {type(e).__name__} in the mail parser", fallback_id)
    try:
        return _build(parsed, raw, opts)
    except (MimeTooDeepError, RecursionError):
        fields = _safe_header_fields(parsed)
        msg_id = str(fields.pop("message_id", "")) or fallback_id
        return _error(raw.source, _too_deep(opts), msg_id, **fields)
    except Exception as e:  # same contract as above for anything the MIME walk hits
        return _error(raw.source, f"parse_error: {type(e).__name__} while reading MIME parts", fallback_id)


def _too_deep(opts: _Options) -> str:
    return f"too_deep: MIME parts nested more than {opts.max_depth} levels"


def _error(source: str, error: str, message_id: str, **fields: Any) -> Message:
    return Message(message_id=message_id, source=source, status="error", error=error, **fields)


def _message_id_from_head(head: bytes) -> str:
    """Return the Message-ID found in the header part of ``head``, or ""."""
    if not head:
        return ""
    end = head.find(b"\n\n")
    try:
        parsed = email.message_from_bytes(head if end < 0 else head[: end + 1])
        value = next((v for k, v in parsed.raw_items() if k.lower() == "message-id"), "")
    except Exception:  # best effort only; the record is an error record anyway
        return ""
    return _WS.sub("", decode_header_value(str(value), max_chars=998))


def _header_values(parsed: email.message.Message) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in parsed.raw_items():
        values.setdefault(str(name).strip().lower(), []).append(value if isinstance(value, str) else str(value))
    return values


def _safe_header_fields(parsed: email.message.Message) -> dict[str, Any]:
    try:
        return _header_fields(_header_values(parsed))
    except Exception:  # only decorates an error record
        return {}


def _header_fields(hv: dict[str, list[str]]) -> dict[str, Any]:
    """Return message_id, date, sender, to, cc, subject and context headers from raw header values."""

    def first(key: str, max_chars: int = 10_000) -> str:
        vals = hv.get(key)
        return decode_header_value(vals[0], max_chars) if vals else ""

    senders = parse_addresses(hv.get("from", [])[:1])
    to, cc = parse_addresses(hv.get("to", [])), parse_addresses(hv.get("cc", []))
    sender = senders[0] if senders else ""
    headers = {name: first(name.lower(), 1000) for name in CONTEXT_HEADERS if name.lower() in hv}
    headers.update(_domain_headers(sender, to + cc))
    return {
        "message_id": _WS.sub("", first("message-id", 998)),
        "date": parse_date(first("date", 200)),
        "sender": sender,
        "to": to,
        "cc": cc,
        "subject": first("subject", 2000),
        "headers": headers,
    }


def _domain_headers(sender: str, recipients: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    if sender_domain := address_domain(sender):
        out["Sender-Domain"] = sender_domain
    domains = list(dict.fromkeys(d for d in (address_domain(a) for a in recipients) if d))
    if domains:
        out["Recipient-Domains"] = ",".join(domains)
    return out


def parse_addresses(values: Iterable[str]) -> tuple[str, ...]:
    """Return the bare, lower-cased e-mail addresses in raw address header values (display names dropped)."""
    raw = [v[:_MAX_ADDRESS_HEADER] for v in values]
    out: dict[str, None] = {}  # ordered set: keeps header order, drops repeats
    for _name, addr in email.utils.getaddresses(raw):
        addr = decode_header_value(addr, max_chars=320).strip("<> ").lower()
        if addr:
            out[addr] = None
    return tuple(out)


def parse_date(value: object) -> datetime | None:
    """Return ``value`` (RFC 5322 or ISO 8601 text, or a datetime) as a UTC datetime, or None if unparseable.

    A date without a zone is taken as UTC.
    """
    dt: datetime | None = None
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            dt = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            try:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _build(parsed: email.message.Message, raw: RawMessage, opts: _Options) -> Message:
    fields = _header_fields(_header_values(parsed))
    mime = extract_text(parsed, max_depth=opts.max_depth, max_chars=opts.max_body_chars)
    new, quoted = split_quoted_reply(mime.body)
    quoted = "\n\n".join(p for p in (quoted, mime.forwarded) if p)
    return _finish(
        source=raw.source,
        fallback_id=synthetic_message_id(raw.digest),
        body=new,
        quoted=quoted,
        html_text=mime.html_text,
        attachment_text=mime.attachment_text,
        attachment_spans=mime.attachment_spans,
        attachments=mime.attachments,
        unscored_attachments=mime.unscored_attachments,
        truncated=mime.truncated,
        max_chars=opts.max_body_chars,
        **fields,
    )


def _finish(
    *,
    source: str,
    fallback_id: str,
    message_id: str,
    subject: str,
    body: str,
    quoted: str,
    max_chars: int,
    html_text: str = "",
    attachment_text: str = "",
    attachment_spans: tuple[tuple[str, int, int], ...] = (),
    attachments: tuple[str, ...] = (),
    unscored_attachments: tuple[str, ...] = (),
    truncated: bool = False,
    **fields: Any,
) -> Message:
    """Return the finished record: text fields cut to ``max_chars``, content hash, id, empty/binary checks."""
    cut = [len(t) > max_chars for t in (body, quoted, html_text, attachment_text)]
    body, quoted, html_text, attachment_text = (t[:max_chars] for t in (body, quoted, html_text, attachment_text))
    attachment_spans = tuple((n, a, min(b, max_chars)) for n, a, b in attachment_spans if a < max_chars)
    error = ""
    if looks_binary(body):
        error = "decode_error: body is binary data, not text"
    elif not (subject or body or quoted or html_text or attachment_text or attachments):
        error = "empty_body: no subject, body text or attachment"
    if error:
        return _error(source, error, message_id or fallback_id, subject=subject, **fields)
    content_hash = content_digest(*(normalise_for_matching(t) for t in (subject, body, html_text, attachment_text, quoted)))
    return Message(
        message_id=message_id or synthetic_message_id(content_hash),
        source=source,
        subject=subject,
        body=body,
        quoted=quoted,
        html_text=html_text,
        attachments=attachments,
        attachment_text=attachment_text,
        attachment_spans=attachment_spans,
        unscored_attachments=unscored_attachments,
        truncated=truncated or any(cut),
        content_hash=content_hash,
        **fields,
    )


# -- tabular rows -----------------------------------------------------------


def message_from_row(row: RawRow, opts: _Options = _DEFAULTS) -> Message:
    """Return the ``Message`` for one table row; a bad row becomes an error record."""
    fallback_id = synthetic_message_id(content_digest("row", row.source))
    if row.error:
        return _error(row.source, row.error, fallback_id)
    try:
        return _row_message(row, opts, fallback_id)
    except Exception as e:  # one odd cell must cost its row, never the run
        return _error(row.source, f"bad_row: {type(e).__name__} while reading the row", fallback_id)


def _row_message(row: RawRow, opts: _Options, fallback_id: str) -> Message:
    values = row.values
    missing = [c for c in ("message_id", "body") if c not in values]
    if missing:
        return _error(row.source, f"bad_row: row lacks column {', '.join(missing)}", fallback_id)
    message_id = _WS.sub("", _cell(values, "message_id"))[:998]
    body_text = _cell(values, "body")
    if len(body_text) > opts.max_bytes:
        return _error(row.source, f"too_large: body is {len(body_text):,} characters", message_id or fallback_id)
    sender_list = parse_addresses([_cell(values, "from") or _cell(values, "sender")])
    sender = sender_list[0] if sender_list else ""
    to, cc = parse_addresses([_cell(values, "to")]), parse_addresses([_cell(values, "cc")])
    # A table has every column on every row: an empty cell means the header was absent.
    headers = {
        name: value
        for name in CONTEXT_HEADERS
        if (value := _WS.sub(" ", _cell(values, name.lower(), name.lower().replace("-", "_")))[:1000].strip())
    }
    headers.update(_domain_headers(sender, to + cc))
    new, quoted = split_quoted_reply(body_text.replace("\x00", ""))
    return _finish(
        source=row.source,
        fallback_id=fallback_id,
        message_id=message_id,
        subject=_WS.sub(" ", _cell(values, "subject").replace("\x00", "")).strip()[:2000],
        body=new,
        quoted=quoted,
        max_chars=opts.max_body_chars,
        date=parse_date(values.get("date")),
        sender=sender,
        to=to,
        cc=cc,
        headers=headers,
    )


def _cell(values: dict[str, Any], *names: str) -> str:
    """Return the first present, non-null value among ``names`` as text (lists joined with ", ").

    Whatever a table holds comes out as valid text: bytes are decoded like a mail part,
    structs become JSON, lone surrogates (a JSON ``"\\ud800"``) become U+FFFD.
    """
    for name in names:
        value = values.get(name)
        if value is None or (isinstance(value, float) and value != value):  # NaN is pandas' null
            continue
        if isinstance(value, list | tuple):
            return ", ".join(_text(v) for v in value if v is not None)
        return _text(value)
    return ""


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        text = decode_bytes(bytes(value))
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, default=_text)
    elif isinstance(value, list | tuple):
        text = json.dumps(list(value), ensure_ascii=False, default=_text)
    else:
        text = str(value)
    return _SURROGATE.sub("\ufffd", text)
