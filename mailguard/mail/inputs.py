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
import stat
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
# The mbox envelope, as mutt and mboxrd readers require it: "From <sender> <asctime date>". The sender
# may be "-" (Thunderbird) or empty; a zone may sit before the year (Gmail Takeout: "Mon Jan 16 19:27:44
# +0000 2023") or after it. A body line such as "From Bob at 10:30 ..." is text, blank line or not.
_DAY = rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_ZONE = rb"(?:[+-]\d{4}|[A-Z]{1,5})"
MBOX_ENVELOPE = re.compile(
    rb"From \S*[ \t]+(?:\S+[ \t]+)?" + _DAY + rb",?[ \t]+" + _MONTH + rb"[ \t]+\d{1,2}[ \t]+\d{1,2}:\d{2}(?::\d{2})?"
    rb"(?:[ \t]+" + _ZONE + rb")?[ \t]+\d{4}(?![\d:])"
)
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


def source_name(path: Path | str) -> str:
    """Return ``path`` as text any UTF-8 writer accepts: bytes of a non-UTF-8 file name shown as ``\\xNN``.

    File names are bytes on Linux; Python keeps undecodable ones as lone surrogates,
    which Parquet, CSV and JSON writers refuse. Valid UTF-8 names are unchanged.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def detect_format(path: Path) -> Format:
    """Return the input format of ``path``; raise ``InputError`` if it cannot be opened or recognised."""
    name = source_name(path)
    if not os.path.lexists(path):
        raise InputError(f"input {name} does not exist")
    if path.is_dir():
        if not os.access(path, os.R_OK | os.X_OK):
            raise InputError(f"cannot read folder {name}: permission denied")
        if (path / "cur").is_dir() or (path / "new").is_dir():
            return "maildir"
        if any(True for _ in _walk_eml(path)):
            return "eml_dir"
        raise InputError(f"folder {name} is neither a Maildir (cur/, new/) nor a folder of .eml files")
    suffix = path.suffix.lower()
    head = _read_head(path)
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if head.startswith(b"From "):
        return "mbox"
    if _HEADER_LINE.match(head.lstrip(b"\r\n")):
        return "eml"
    raise InputError(
        f"cannot tell the format of {name}: expected an mbox, a .eml message, a Maildir or eml folder, "
        "or a .jsonl/.csv/.parquet export"
    )


def _read_head(path: Path) -> bytes:
    with _open_binary(path) as fh:
        try:
            return fh.read(4096)
        except OSError as e:
            raise InputError(f"cannot read {source_name(path)}: {e.strerror or e}") from e


_FILE_KINDS = {
    stat.S_IFDIR: "a folder", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device", stat.S_IFLNK: "a symbolic link",
}


def _not_regular(mode: int) -> str:
    return f"not a regular file ({_FILE_KINDS.get(stat.S_IFMT(mode), 'special file')})"


def _open_regular(path: Path | str, *, follow_links: bool = True) -> io.BufferedReader:
    """Return ``path`` opened for reading if it is a regular file; raise ``OSError`` otherwise.

    Opened non-blocking, so a FIFO cannot stall ``open()``, and checked on the open
    descriptor, so a device such as ``/dev/zero`` (endless) is never read.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(0, _not_regular(mode), str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _open_binary(path: Path) -> io.BufferedReader:
    try:
        return _open_regular(path)
    except OSError as e:
        raise InputError(f"cannot read {source_name(path)}: {e.strerror or e}") from e


# -- raw mail ---------------------------------------------------------------


def iter_mbox(
    path: Path, max_bytes: int, *, start: int = 0, end: int | None = None, first_index: int = 0
) -> Iterator[RawMessage]:
    """Yield the messages of an mbox file one at a time (source ``path#N``, N from 0).

    A ``From `` line starts a message when it is the first line or a full
    envelope (``From sender Mon Mar  3 13:05:00 2025``, see ``MBOX_ENVELOPE``), blank
    line before it or not; so an unescaped "From what I hear" or "From Bob at 10:30"
    in a body does not split it. ``>From `` lines are unescaped (mboxrd). A message over ``max_bytes`` is yielded as a ``too_large`` unit
    holding only its head. Every ``From `` line yields a unit, even an empty
    one; data before the first ``From `` line is a message only if not blank.

    ``start``, ``end`` and ``first_index`` read one shard of the file (see ``mbox_shards``):
    the messages whose envelope lines start in ``[start, end)``, numbered from ``first_index``,
    exactly as the whole-file read numbers and cuts them. ``start`` must be 0 or the offset of
    an envelope line, ``end`` the offset of one (or None for the end of the file).
    """
    fh = _open_binary(path)
    name = source_name(path)
    with fh:
        index = first_index
        unit = _MboxUnit(max_bytes)
        at_line_start, first, started = True, True, False
        offset = start
        if start:
            fh.seek(start)
        while True:
            if end is not None and offset >= end:  # the next shard's first envelope line
                break
            try:
                line = fh.readline(_LINE_CHUNK)
            except OSError as e:  # a file that fails half-way: report the message being read, then stop
                yield RawMessage(f"{name}#{index}", b"", "", f"unreadable_file: read failed ({e.strerror or e})")
                return
            if not line:
                break
            offset += len(line)
            if _starts_message(line, at_line_start, first):
                if started or not unit.is_blank():
                    yield unit.finish(f"{name}#{index}")
                    index += 1
                unit, started = _MboxUnit(max_bytes), True
            else:
                if at_line_start and _ESCAPED_FROM.match(line):
                    line = line[1:]
                unit.add(line)
            at_line_start, first = line.endswith(b"\n"), False
        if started or not unit.is_blank():
            yield unit.finish(f"{name}#{index}")


def _starts_message(line: bytes, at_line_start: bool, first: bool) -> bool:
    """Return whether ``line`` (one ``readline`` piece) begins a new mbox message: the rule of ``iter_mbox``."""
    return at_line_start and line.startswith(b"From ") and (first or MBOX_ENVELOPE.match(line) is not None)


def mbox_shards(path: Path, target_bytes: int) -> list[tuple[int, int | None, int]]:
    """Return ``(start, end, first_index)`` byte ranges of about ``target_bytes`` that split ``path`` at messages.

    Each range starts at an envelope line (or the file's start) and ends where the next one
    begins, so ``iter_mbox(path, ..., start=, end=, first_index=)`` over the ranges yields the
    same messages, with the same ``path#N`` sources, as one read of the whole file. The file is
    read once, line by line, with the splitting rule of ``iter_mbox`` itself. Raises
    ``InputError`` if it cannot be read.
    """
    cuts: list[tuple[int, int]] = [(0, 0)]  # (offset, index of the message starting there)
    separators, preamble = 0, False  # a non-blank preamble before the first envelope is message #0
    with _open_binary(path) as fh:
        offset, at_line_start, first = 0, True, True
        next_cut = target_bytes
        while line := fh.readline(_LINE_CHUNK):
            if _starts_message(line, at_line_start, first):
                index = separators + preamble
                if offset >= next_cut and offset > cuts[-1][0]:
                    cuts.append((offset, index))
                    next_cut = offset + target_bytes
                separators += 1
            elif separators == 0 and line.strip():
                preamble = True
            offset += len(line)
            at_line_start, first = line.endswith(b"\n"), False
    return [(start, cuts[i + 1][0] if i + 1 < len(cuts) else None, index) for i, (start, index) in enumerate(cuts)]


def count_mbox(path: Path) -> int:
    """Return the number of messages ``iter_mbox`` finds in ``path``, counted cheaply (no message is built).

    The same separator rule as ``iter_mbox``: the first line if it starts with ``From ``,
    then every line that is a full envelope. Raises ``InputError`` if the file cannot be read.
    """
    count, carry, first = 0, b"", True
    with _open_binary(path) as fh:
        while True:
            chunk = fh.read(1 << 22)
            buf = carry + chunk
            cut = len(buf) if not chunk else buf.rfind(b"\n") + 1  # whole lines only; the rest waits
            whole, carry = buf[:cut], buf[cut:]
            if len(carry) > 1024:  # a very long line: only its start can make it a separator
                carry = carry[:1024]
            if whole:
                if first:
                    count += whole.startswith(b"From ")
                elif MBOX_ENVELOPE.match(whole):
                    count += 1
                first = False
                pos = whole.find(b"\nFrom ")
                while pos >= 0:
                    count += MBOX_ENVELOPE.match(whole, pos + 1) is not None
                    pos = whole.find(b"\nFrom ", pos + 1)
            if not chunk:
                return count


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


def read_file_unit(path: Path, max_bytes: int, root: Path | None = None) -> RawMessage:
    """Return the message stored in one file (Maildir entry or .eml), or an error unit for it.

    Only a regular file is read, and at most ``max_bytes + 1`` bytes of it: a FIFO, a
    device or a folder becomes an ``unreadable_file`` unit. With ``root`` (the folder the
    operator named), a path that resolves outside it (a symbolic link out of the mail
    store, or into it through a linked folder) is refused the same way, never read.
    """
    source = source_name(path)

    def unreadable(why: str) -> RawMessage:
        return RawMessage(source, b"", hashlib.sha256(os.fsencode(path)).hexdigest(), f"unreadable_file: {why}")

    target: Path | str = path
    if root is not None:
        real, base = os.path.realpath(path), os.path.realpath(root)
        if os.path.commonpath([real, base]) != base:
            return unreadable("a link to a file outside the input folder (not read)")
        target = real  # every link resolved and checked: the last one must not change under us
    try:
        with _open_regular(target, follow_links=root is None) as fh:
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(max_bytes + 1)
    except OSError as e:
        return unreadable(e.strerror or type(e).__name__)
    if len(data) > max_bytes:
        # The rest is not read (bounded work); the size comes from the file system.
        digest = hashlib.sha256(data + str(size).encode()).hexdigest()
        return RawMessage(source, data[:_HEAD_BYTES], digest, _too_large(max(size, len(data)), max_bytes))
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


def _walk_eml(root: Path, *, linked_folders: bool = False) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        names = sorted(filenames)
        if linked_folders:  # os.walk lists links to folders with the folders but never enters them
            names = sorted([*names, *(d for d in dirnames if os.path.islink(os.path.join(dirpath, d)))])
        for name in names:
            if name.lower().endswith(".eml") or (linked_folders and name not in filenames):
                yield Path(dirpath) / name


def iter_eml_dir(root: Path) -> Iterator[Path]:
    """Yield every ``.eml`` file under ``root``, recursively, in sorted (deterministic) order.

    A link to a folder is not followed (it could lead anywhere, or in a circle) but is
    yielded, so that it becomes an ``unreadable_file`` record instead of vanishing.
    """
    return _walk_eml(root, linked_folders=True)


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
    name = source_name(path)
    with fh:
        lineno, checked = 0, False
        while True:
            line = fh.readline(max_bytes + 1)
            if not line:
                return
            lineno += 1
            source = f"{name}:{lineno}"
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
        name = source_name(path)
        row_no = 0
        while True:
            row_no += 1
            source = f"{name}:{row_no}"
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


def iter_parquet_rows(
    path: Path, batch_rows: int = 1024, *, row_groups: Sequence[int] | None = None, first_row: int = 0
) -> Iterator[RawRow]:
    """Yield the rows of a Parquet export in batches of ``batch_rows`` (source ``path:ROW``, from 1).

    A cell Python cannot hold (a timestamp or ``date32`` beyond year 9999, a time zone
    nobody knows, text that is not UTF-8) makes its row a ``bad_row`` error row; in the
    ``date`` column it only makes the row undated, as an unreadable date does in CSV and JSONL.
    ``row_groups`` reads only those row groups (one shard, see ``parquet_shards``), whose
    first row follows ``first_row`` rows of the file, so sources match a whole-file read.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = source_name(path)
    fh = _open_binary(path)
    try:
        pf = pq.ParquetFile(fh)
    except (OSError, pa.ArrowException) as e:
        fh.close()
        raise InputError(f"cannot read {name} as Parquet: {str(e).splitlines()[0] if str(e) else e}") from e
    with fh:
        names = pf.schema_arrow.names
        _check_columns(path, names)
        wanted = {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS}
        columns = [n for n in names if n.strip().lower() in wanted or n.strip().lower().replace("_", "-") in _CONTEXT]
        row_no = first_row
        batches = pf.iter_batches(batch_size=batch_rows, row_groups=row_groups, columns=columns)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (OSError, pa.ArrowException):
                yield RawRow(f"{name}:{row_no + 1}", {}, "unreadable_file: Parquet data after this row is corrupt")
                return
            cells = {n.strip().lower(): _column_values(batch.column(n)) for n in batch.schema.names}
            for i in range(batch.num_rows):
                row_no += 1
                values = {col: vals[i] for col, (vals, _bad) in cells.items()}
                bad = [col for col, (_vals, why) in cells.items() if i in why and col != "date"]
                error = ""
                if bad:
                    error = f"bad_row: column {bad[0]} holds a value that cannot be read ({cells[bad[0]][1][i]})"
                yield RawRow(f"{name}:{row_no}", values, error)


def parquet_shards(path: Path, target_bytes: int) -> list[tuple[tuple[int, ...], int]]:
    """Return ``(row groups, rows before them)`` of consecutive row groups of about ``target_bytes`` each.

    Raises ``InputError`` if ``path`` cannot be read as Parquet.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with _open_binary(path) as fh:
        try:
            meta = pq.ParquetFile(fh).metadata
        except (OSError, pa.ArrowException) as e:
            raise InputError(f"cannot read {source_name(path)} as Parquet: {str(e).splitlines()[0] if str(e) else e}") from e
    shards: list[tuple[tuple[int, ...], int]] = []
    groups: list[int] = []
    size = rows = first = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        if groups and size + group.total_byte_size > target_bytes:
            shards.append((tuple(groups), first))
            groups, size, first = [], 0, rows
        groups.append(g)
        size += group.total_byte_size
        rows += group.num_rows
    if groups:
        shards.append((tuple(groups), first))
    return shards


ShardKind = Literal["whole", "mbox_range", "parquet_row_groups"]


@dataclass(frozen=True)
class Shard:
    """A piece of one input that a reader can stream on its own, giving the messages a whole-input read gives.

    ``whole``: the entire input (a Maildir, an ``.eml`` folder or file, a CSV/JSONL export, a small
    mbox or Parquet file). ``mbox_range``: the messages whose envelope lines start in
    ``[start, end)``, numbered from ``first_index``. ``parquet_row_groups``: those row groups,
    numbered after ``first_row`` rows.
    """

    path: Path
    kind: ShardKind = "whole"
    start: int = 0
    end: int | None = None
    first_index: int = 0
    row_groups: tuple[int, ...] = ()
    first_row: int = 0


def plan_shards(paths: Sequence[Path], target_bytes: int) -> list[Shard]:
    """Return ``paths`` cut into shards of about ``target_bytes``, in input order (the order of a whole read).

    Only mbox files (at message boundaries, by byte ranges) and Parquet files (by row groups)
    larger than ``target_bytes`` are cut; every other input is one shard, since its units
    cannot be numbered without reading it (CSV records may span lines, a Maildir can change
    while listed). Raises ``InputError`` for an input that cannot be opened or recognised.
    """
    shards: list[Shard] = []
    for path in paths:
        fmt = detect_format(path)
        size = path.stat().st_size if path.is_file() else 0
        if fmt == "mbox" and size > target_bytes:
            shards += [Shard(path, "mbox_range", start=s, end=e, first_index=i)
                       for s, e, i in mbox_shards(path, target_bytes)]
        elif fmt == "parquet" and size > target_bytes:
            shards += [Shard(path, "parquet_row_groups", row_groups=g, first_row=r)
                       for g, r in parquet_shards(path, target_bytes)]
        else:
            shards.append(Shard(path))
    return shards


def _column_values(column: Any) -> tuple[list[Any], dict[int, str]]:
    """Return the cells of an Arrow column as Python values (None where unreadable), and why each failed."""
    import pyarrow as pa

    try:
        return column.to_pylist(), {}
    except Exception:  # each Arrow type fails its own way (Overflow, Value, ArrowInvalid, Unicode): go cell by cell
        pass
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        # Text that is not UTF-8: hand over the bytes, decoded later like a mail part.
        binary = pa.large_binary() if pa.types.is_large_string(column.type) else pa.binary()
        return column.view(binary).to_pylist(), {}
    values: list[Any] = []
    failed: dict[int, str] = {}
    for i in range(len(column)):
        try:
            values.append(column[i].as_py())
        except Exception as e:  # one cell's problem, reported on its row
            values.append(None)
            failed[i] = type(e).__name__
    return values, failed
