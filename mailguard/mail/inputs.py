"""Where raw messages come from: input discovery, format detection and streaming splitters.

This module only cuts inputs into units (raw message bytes or table rows) with
their ``source``; ``readers.py`` turns each unit into a ``Message``. Every
splitter streams: memory stays bounded by one message (at most ``max_bytes``),
whatever the size of the mailbox or table.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import hashlib
import io
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mailguard.errors import InputError

Format = Literal["mbox", "maildir", "eml_dir", "eml", "jsonl", "csv", "parquet"]

REQUIRED_COLUMNS = ("message_id", "body")
OPTIONAL_COLUMNS = ("subject", "from", "sender", "to", "cc", "date")
# Context headers a tabular export may carry as extra columns (matched case-insensitively, "_" as "-").
_CONTEXT = frozenset({"list-id", "list-unsubscribe", "precedence", "auto-submitted", "x-auto-response-suppress"})
# Bytes of a too-large message kept so that its Message-ID can still be reported.
_HEAD_BYTES = 64 * 1024
_LINE_CHUNK = 64 * 1024
# An mbox "From " line that is clearly an envelope (asctime date) even without the blank line before it.
_ENVELOPE = re.compile(rb"^From \S+ +(\S+ +)?\w{3} \w{3} +\d{1,2} \d{1,2}:\d{2}(:\d{2})? ")
# After a blank line, any "From <who> ... hh:mm" line: tools vary in their date format.
_LOOSE_ENVELOPE = re.compile(rb"^From \S+ .*\d{1,2}:\d{2}")
_ESCAPED_FROM = re.compile(rb"^>+From ")
_HEADER_LINE = re.compile(rb"^[!-9;-~]{1,76}:")
_SUFFIXES: dict[str, Format] = {
    ".mbox": "mbox",
    ".mbx": "mbox",
    ".eml": "eml",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


@dataclass(frozen=True)
class RawMessage:
    """The bytes of one message as stored, or why they could not be read whole."""

    source: str
    data: bytes  # the whole message; only its head when ``error`` is set
    digest: str  # sha256 of the whole message bytes (stable id for error records)
    error: str = ""  # "<kind>: <explanation>" when the message could not be read whole


@dataclass(frozen=True)
class RawRow:
    """One row of a tabular export, or why it could not be read."""

    source: str
    values: dict[str, Any]
    error: str = ""


def iter_inputs(patterns: Sequence[str]) -> list[Path]:
    """Return the paths the patterns name (globs expanded, ``**`` recursive), in order, without repeats.

    Raises ``InputError`` for a pattern that matches nothing.
    """
    paths: list[Path] = []
    seen: set[Path] = set()
    for pattern in patterns:
        pattern = os.path.expanduser(str(pattern))
        if glob.has_magic(pattern):
            found = [Path(p) for p in sorted(glob.glob(pattern, recursive=True))]
        else:
            found = [Path(pattern)] if os.path.lexists(pattern) else []
        if not found:
            raise InputError(f"no input matches {pattern!r}")
        for p in found:
            if p not in seen:
                seen.add(p)
                paths.append(p)
    return paths


def detect_format(path: Path) -> Format:
    """Return the input format of ``path``; raise ``InputError`` if it cannot be opened or recognised."""
    if not os.path.lexists(path):
        raise InputError(f"input {path} does not exist")
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            raise InputError(f"cannot read folder {path}: permission denied")
        if (path / "cur").is_dir() or (path / "new").is_dir():
            return "maildir"
        if any(True for _ in _walk_eml(path)):
            return "eml_dir"
        raise InputError(f"folder {path} is neither a Maildir (cur/, new/) nor a folder of .eml files")
    suffix = path.suffix.lower()
    head = _read_head(path)
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if head.startswith(b"From "):
        return "mbox"
    if _HEADER_LINE.match(head.lstrip(b"\r\n")):
        return "eml"
    raise InputError(
        f"cannot tell the format of {path}: expected an mbox, a .eml message, a Maildir or eml folder, "
        "or a .jsonl/.csv/.parquet export"
    )


def _read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(4096)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from e


def _open_binary(path: Path) -> io.BufferedReader:
    try:
        return path.open("rb")
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from e


# -- raw mail ---------------------------------------------------------------


def iter_mbox(path: Path, max_bytes: int) -> Iterator[RawMessage]:
    """Yield the messages of an mbox file one at a time (source ``path#N``, N from 0).

    A ``From `` line starts a message when it is the first line, is a
    well-formed envelope (``From sender Mon Mar  3 13:05:00 2025``), or follows a
    blank line and carries a time; so an unescaped "From what I hear" in a body
    does not split it. ``>From `` lines are unescaped
    (mboxrd). A message over ``max_bytes`` is yielded as a ``too_large`` unit
    holding only its head. Every ``From `` line yields a unit, even an empty
    one; data before the first ``From `` line is a message only if not blank.
    """
    fh = _open_binary(path)
    with fh:
        index = 0
        unit = _MboxUnit(max_bytes)
        at_line_start, prev_blank, first, started = True, True, True, False
        while True:
            try:
                line = fh.readline(_LINE_CHUNK)
            except OSError as e:  # a file that fails half-way: report the message being read, then stop
                yield RawMessage(f"{path}#{index}", b"", "", f"unreadable_file: read failed ({e.strerror or e})")
                return
            if not line:
                break
            if (
                at_line_start
                and line.startswith(b"From ")
                and (first or _ENVELOPE.match(line) or (prev_blank and _LOOSE_ENVELOPE.match(line)))
            ):
                if started or not unit.is_blank():
                    yield unit.finish(f"{path}#{index}")
                    index += 1
                unit, started = _MboxUnit(max_bytes), True
            else:
                if at_line_start and _ESCAPED_FROM.match(line):
                    line = line[1:]
                unit.add(line)
            ends_line = line.endswith(b"\n")
            if ends_line:
                prev_blank = line.strip() == b"" if at_line_start else False
            at_line_start, first = ends_line, False
        if started or not unit.is_blank():
            yield unit.finish(f"{path}#{index}")


class _MboxUnit:
    """Bytes of the message being split off an mbox, capped at ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.parts: list[bytes] = []
        self.size = 0
        self.hasher = hashlib.sha256()
        self.head = b""
        self.blank = True

    def add(self, line: bytes) -> None:
        self.size += len(line)
        self.hasher.update(line)
        if self.blank and line.strip():
            self.blank = False
        if self.size <= self.max_bytes:
            self.parts.append(line)
        elif not self.head:  # just went over: keep the head for the Message-ID, drop the rest
            self.head = b"".join([*self.parts, line])[:_HEAD_BYTES]
            self.parts = []

    def is_blank(self) -> bool:
        return self.blank

    def finish(self, source: str) -> RawMessage:
        digest = self.hasher.hexdigest()
        if self.size > self.max_bytes:
            return RawMessage(source, self.head, digest, _too_large(self.size, self.max_bytes))
        data = b"".join(self.parts)
        # The blank line before the next "From " belongs to the mbox format, not to the message.
        if data.endswith(b"\n\n"):
            data = data[:-1]
        elif data.endswith(b"\r\n\r\n"):
            data = data[:-2]
        return RawMessage(source, data, digest)


def _too_large(size: int, max_bytes: int) -> str:
    return f"too_large: message is {size:,} bytes, over the {max_bytes:,}-byte limit"


def read_file_unit(path: Path, max_bytes: int) -> RawMessage:
    """Return the message stored in one file (Maildir entry or .eml), or an error unit for it."""
    source = str(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
            if len(data) > max_bytes:
                hasher, size = hashlib.sha256(data), len(data)
                while chunk := fh.read(1 << 20):
                    hasher.update(chunk)
                    size += len(chunk)
                return RawMessage(source, data[:_HEAD_BYTES], hasher.hexdigest(), _too_large(size, max_bytes))
    except OSError as e:
        digest = hashlib.sha256(source.encode("utf-8", "surrogateescape")).hexdigest()
        return RawMessage(source, b"", digest, f"unreadable_file: {e.strerror or type(e).__name__}")
    return RawMessage(source, data, hashlib.sha256(data).hexdigest())


def iter_maildir(root: Path) -> Iterator[Path]:
    """Yield the message files of a Maildir (``cur/`` and ``new/``, Maildir++ ``.Folder``s too), sorted.

    ``tmp/`` is skipped: it holds deliveries still being written. Anything in
    ``cur``/``new`` that is not a readable file is still yielded so that it
    becomes an ``unreadable_file`` record instead of vanishing.
    """
    folders = [root]
    with contextlib.suppress(OSError):
        folders += sorted(p for p in root.iterdir() if p.name.startswith(".") and p.is_dir())
    for folder in folders:
        for sub in ("cur", "new"):
            d = folder / sub
            try:
                names = sorted(n for n in os.listdir(d) if not n.startswith("."))
            except OSError:
                continue
            yield from (d / n for n in names)


def _walk_eml(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.lower().endswith(".eml"):
                yield Path(dirpath) / name


def iter_eml_dir(root: Path) -> Iterator[Path]:
    """Yield every ``.eml`` file under ``root``, recursively, in sorted (deterministic) order."""
    return _walk_eml(root)


# -- tabular exports --------------------------------------------------------


def _check_columns(path: Path, columns: Sequence[str]) -> None:
    lower = {c.strip().lower() for c in columns if isinstance(c, str)}
    missing = [c for c in REQUIRED_COLUMNS if c not in lower]
    if missing:
        raise InputError(
            f"{path} lacks required column(s) {', '.join(missing)}; expected message_id, body "
            "and optionally subject, from, to, cc, date"
        )


def _lower_keys(values: dict[Any, Any]) -> dict[str, Any]:
    return {str(k).strip().lower(): v for k, v in values.items()}


def iter_jsonl_rows(path: Path, max_bytes: int) -> Iterator[RawRow]:
    """Yield the rows of a JSON Lines export (source ``path:LINE``, 1-based; blank lines skipped).

    The first object decides the schema: if it lacks a required column the file
    is rejected with ``InputError``; later rows missing one become error rows.
    """
    fh = _open_binary(path)
    with fh:
        lineno, checked = 0, False
        while True:
            line = fh.readline(max_bytes + 1)
            if not line:
                return
            lineno += 1
            source = f"{path}:{lineno}"
            if len(line) > max_bytes and not line.endswith(b"\n"):
                size = len(line)
                while (rest := fh.readline(1 << 20)) and not rest.endswith(b"\n"):
                    size += len(rest)
                size += len(rest)
                yield RawRow(source, {}, _too_large(size, max_bytes))
                continue
            if not line.strip():
                continue
            try:
                values = json.loads(line.decode("utf-8", errors="replace"))
            except (ValueError, RecursionError):
                yield RawRow(source, {}, "bad_row: line is not valid JSON")
                continue
            if not isinstance(values, dict):
                yield RawRow(source, {}, f"bad_row: line holds a JSON {type(values).__name__}, not an object")
                continue
            values = _lower_keys(values)
            if not checked:
                _check_columns(path, list(values))
                checked = True
            yield RawRow(source, values)


def iter_csv_rows(path: Path, max_bytes: int) -> Iterator[RawRow]:
    """Yield the rows of a CSV export with a header row (source ``path:ROW``; ROW 1 is the first record).

    Read as UTF-8 (a BOM is allowed; undecodable bytes become U+FFFD). Fields up
    to ``max_bytes`` are accepted; a row the csv module cannot parse becomes an
    error row and reading goes on.
    """
    fh = _open_binary(path)
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline="")
    # The csv module's field limit is process-wide; only ever raise it.
    csv.field_size_limit(max(csv.field_size_limit(), min(max_bytes + 1, sys.maxsize)))
    with text:
        reader = csv.reader(text)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(f"{path} is empty; expected a CSV header row with message_id and body") from None
        except csv.Error as e:
            raise InputError(f"{path} has an unreadable CSV header: {e}") from e
        _check_columns(path, header)
        columns = [h.strip().lower() for h in header]
        row_no = 0
        while True:
            row_no += 1
            source = f"{path}:{row_no}"
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                yield RawRow(source, {}, "bad_row: CSV row could not be parsed (field too large or bad quoting)")
                continue
            if not any(cell.strip() for cell in row):
                continue  # a blank record is not a message (it still counts, as in a spreadsheet)
            if len(row) != len(columns):
                yield RawRow(source, {}, f"bad_row: row has {len(row)} fields, header has {len(columns)}")
                continue
            yield RawRow(source, dict(zip(columns, row, strict=True)))


def iter_parquet_rows(path: Path, batch_rows: int = 1024) -> Iterator[RawRow]:
    """Yield the rows of a Parquet export in batches of ``batch_rows`` (source ``path:ROW``, from 1)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as e:
        raise InputError(f"cannot read {path} as Parquet: {str(e).splitlines()[0] if str(e) else e}") from e
    names = pf.schema_arrow.names
    _check_columns(path, names)
    wanted = {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS}
    columns = [n for n in names if n.strip().lower() in wanted or n.strip().lower().replace("_", "-") in _CONTEXT]
    row_no = 0
    batches = pf.iter_batches(batch_size=batch_rows, columns=columns)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (OSError, pa.ArrowException):
            yield RawRow(f"{path}:{row_no + 1}", {}, "unreadable_file: Parquet data after this row is corrupt")
            return
        for values in batch.to_pylist():
            row_no += 1
            yield RawRow(f"{path}:{row_no}", _lower_keys(values))
