"""The checkpoint of a scoring run: which input items are done, in which part, and first copies.

A small SQLite file in ``DIR/.state/``. A batch counts as done only once its part
file is in place *and* the ledger transaction naming it has committed, so a run
killed at any moment resumes with nothing lost and nothing counted twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from serve.scoring.outputs import FILE_MODE

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    item_key TEXT PRIMARY KEY, part INTEGER NOT NULL, model_version TEXT NOT NULL, generation INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS items_part ON items(part);
CREATE TABLE IF NOT EXISTS firsts (dedup_key TEXT PRIMARY KEY, source TEXT NOT NULL, scores TEXT NOT NULL,
    labels TEXT NOT NULL, evidence TEXT NOT NULL);
"""
_CHUNK = 500  # stays far below SQLite's limit on bound parameters


def item_key(source: str, message_id: str, content_hash: str) -> str:
    """Return the key of one input item: where it was read, its Message-ID and its content."""
    return hashlib.sha256(f"{source}\x00{message_id}\x00{content_hash}".encode("utf-8", "surrogatepass")).hexdigest()


def dedup_key(message_id: str, content_hash: str, model_version: str) -> str:
    """Return the key under which copies of one message are the same (Message-ID + content + model)."""
    return f"{message_id}\x00{content_hash}\x00{model_version}"


class Ledger:
    """The SQLite checkpoint of one output folder."""

    def __init__(self, path: Path) -> None:
        new = not path.exists()
        self._db = sqlite3.connect(path, isolation_level=None)
        if new:
            os.chmod(path, FILE_MODE)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    # -- run state ----------------------------------------------------------
    def meta(self, key: str, default: str = "") -> str:
        """Return the stored value of ``key``."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``."""
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def next_part(self) -> int:
        """Return the number the next part file gets."""
        return int(self.meta("next_part", "0"))

    def start_generation(self, rescore: bool) -> int:
        """Return the generation this run must reach; ``rescore`` starts a new one unless one is unfinished.

        An interrupted ``--rescore`` run is finished by the next run, with or without
        ``--rescore``, instead of starting over.
        """
        generation = int(self.meta("generation", "0"))
        if rescore and self.meta("rescore_pending") != "1":
            generation += 1
            self._db.execute("BEGIN")
            self.set_meta("generation", str(generation))
            self.set_meta("rescore_pending", "1")
            self._db.execute("COMMIT")
        return generation

    def finish_generation(self) -> None:
        """Record that every input of the current generation is done."""
        self.set_meta("rescore_pending", "0")

    # -- items --------------------------------------------------------------
    def done(self, keys: Sequence[str], model_version: str, generation: int) -> set[str]:
        """Return the subset of ``keys`` already scored with ``model_version`` in ``generation`` or later."""
        found: set[str] = set()
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0]
                for r in self._db.execute(
                    f"SELECT item_key FROM items WHERE item_key IN ({marks}) AND model_version = ? AND generation >= ?",
                    (*chunk, model_version, generation),
                )
            )
        return found

    def done_keys(self, model_version: str, generation: int) -> Iterator[str]:
        """Yield every item key already scored with ``model_version`` in ``generation`` or later."""
        yield from (r[0] for r in self._db.execute(
            "SELECT item_key FROM items WHERE model_version = ? AND generation >= ?", (model_version, generation)))

    def firsts(self, keys: Sequence[str]) -> dict[str, tuple[str, list[float], str, str]]:
        """Return the committed first copies by dedup key: (source, scores, labels, evidence)."""
        out: dict[str, tuple[str, list[float], str, str]] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = list(keys[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            for key, source, scores, labels, evidence in self._db.execute(
                f"SELECT dedup_key, source, scores, labels, evidence FROM firsts WHERE dedup_key IN ({marks})", chunk
            ):
                out[key] = (source, json.loads(scores), labels, evidence)
        return out

    def commit_part(
        self,
        number: int,
        items: Sequence[str],
        model_version: str,
        generation: int,
        firsts: Sequence[tuple[str, str, list[float], str, str]],
    ) -> None:
        """Mark ``items`` done in part ``number`` and store its first copies, in one transaction.

        ``firsts`` holds (dedup key, source, scores, labels, evidence) of the rows
        that later copies of the same message will be marked duplicates of.
        """
        self._db.execute("BEGIN")
        self._db.executemany(
            "INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?)",
            [(k, number, model_version, generation) for k in items],
        )
        self._db.executemany(
            "INSERT OR REPLACE INTO firsts VALUES (?, ?, ?, ?, ?)",
            [(k, src, json.dumps(s), lb, ev) for k, src, s, lb, ev in firsts],
        )
        self.set_meta("next_part", str(number + 1))
        self._db.execute("COMMIT")

    def parts(self) -> list[int]:
        """Return the numbers of the part files that hold at least one current row, in order."""
        return [r[0] for r in self._db.execute("SELECT DISTINCT part FROM items ORDER BY part")]

    def current_in_part(self, number: int) -> set[str]:
        """Return the item keys whose current row lives in part ``number``."""
        return {r[0] for r in self._db.execute("SELECT item_key FROM items WHERE part = ?", (number,))}
