"""Committing scored batches, the same for every engine: duplicates, part files and the checkpoint ledger.

An engine (the local process pool, or Ray) hands over results tables in input order; the
``Committer`` marks later copies of a message as duplicates of its first copy, writes each
batch as a part file and records it in the ledger in one step, so a run killed at any moment
resumes with nothing lost and nothing counted twice, whichever engine ran it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mailguard.mail.message import Message
from mailguard.taxonomy import SCORE_COLUMNS
from serve.scoring import outputs
from serve.scoring.batch import as_duplicate
from serve.scoring.ledger import Ledger, dedup_key, item_key


@dataclass
class RunStats:
    """What this run did (as opposed to what the results folder holds in total)."""

    read: int = 0
    out_of_window: int = 0
    undated: int = 0
    skipped_done: int = 0
    scored: int = 0  # rows written this run (duplicates and error rows included)
    errors: int = 0
    duplicates: int = 0
    parts_written: int = 0
    stale_files_removed: int = 0
    elapsed_seconds: float = 0.0


@dataclass(frozen=True)
class ItemRef:
    """What the ledger needs to know of one input message besides its results row."""

    source: str
    message_id: str
    content_hash: str
    read_ok: bool  # the reader gave a message to score (status ok), so copies of it are duplicates
    read_truncated: bool  # the reader cut some of its text (a duplicate's row says so, not the scorer's cut)

    @classmethod
    def of(cls, msg: Message) -> ItemRef:
        """Return the reference of a message as the reader gave it."""
        return cls(msg.source, msg.message_id, msg.content_hash, msg.status == "ok", msg.truncated)

    @property
    def key(self) -> str:
        """Return the ledger key of this input item."""
        return item_key(self.source, self.message_id, self.content_hash)

    def dedup_key(self, model_version: str) -> str:
        """Return the key under which copies of this message are the same."""
        return dedup_key(self.message_id, self.content_hash, model_version)

    @property
    def dedup_candidate(self) -> bool:
        """Return whether this message can have copies (it was read, and has content to compare)."""
        return self.read_ok and bool(self.content_hash)


class Committer:
    """Turns results tables into committed parts: first copies, duplicates, part files, ledger rows.

    Engines call :meth:`first_copy` for a message before it is scored (so a duplicate is
    not scored at all), or let :meth:`commit` decide after scoring (``claim=True``) when
    they score out of order; either way the first copy in input order is the one scored.
    """

    def __init__(self, ledger: Ledger, out: Path, model_version: str, generation: int, stats: RunStats) -> None:
        self.ledger, self.out, self.version, self.generation, self.stats = ledger, out, model_version, generation, stats
        self.inflight_firsts: dict[str, str] = {}  # dedup key -> source of a first copy not yet committed
        self.failed_firsts: dict[str, tuple[str, str]] = {}  # dedup key -> (source, error) of an unscorable first

    def done(self, keys: Sequence[str]) -> set[str]:
        """Return the item keys already scored by this model in this generation (nothing to do for them)."""
        return self.ledger.done(keys, self.version, self.generation)

    def done_keys(self) -> Iterator[str]:
        """Yield every item key already scored by this model in this generation."""
        return self.ledger.done_keys(self.version, self.generation)

    def first_copy(self, ref: ItemRef) -> str:
        """Return the source of an earlier copy of ``ref`` (same Message-ID and content), or "" if it is the first.

        The first call for a message registers it as the first copy; asking again gives the same answer.
        """
        if not ref.dedup_candidate:
            return ""
        key = ref.dedup_key(self.version)
        if key in self.inflight_firsts:
            first = self.inflight_firsts[key]
            return "" if first == ref.source else first
        if key in self.failed_firsts:  # its first copy ran out of time: the copies share its error row
            first = self.failed_firsts[key][0]
            return "" if first == ref.source else first
        stored = self.ledger.firsts([key]).get(key)
        if stored is not None and stored[0] != ref.source:
            return stored[0]
        self.inflight_firsts[key] = ref.source
        return ""

    def commit(self, frame: pd.DataFrame, refs: Sequence[ItemRef], *, claim: bool = False) -> None:
        """Write ``frame`` (one results row per ref, in input order) as the next part and record it in the ledger.

        Rows of items the ledger already holds for this model and generation (a batch a
        distributed engine delivered twice) are dropped, so every item keeps exactly one row.
        With ``claim``, duplicates are decided here: a later copy's row becomes the row
        ``score_batch`` gives a duplicate, with its first copy's scores.
        """
        refs = list(refs)
        if len(frame) != len(refs):
            raise ValueError(f"{len(frame)} results rows for {len(refs)} messages")
        frame = frame.reset_index(drop=True)
        done = self.done([r.key for r in refs])
        if done:
            keep = [i for i, r in enumerate(refs) if r.key not in done]
            frame, refs = frame.iloc[keep].reset_index(drop=True), [refs[i] for i in keep]
        if not refs:
            return
        if claim:
            for i, ref in enumerate(refs):
                first = self.first_copy(ref)
                if first:
                    as_duplicate(frame, i, first, ref.read_truncated)
        dkeys = [r.dedup_key(self.version) for r in refs]
        first_rows = [i for i, r in enumerate(refs) if r.dedup_candidate
                      and not frame.at[i, "duplicate_of"] and frame.at[i, "status"] == "ok"]
        for i, r in enumerate(refs):  # scored, but ran out of time: its copies share its error row
            if r.read_ok and frame.at[i, "status"] != "ok" and not frame.at[i, "duplicate_of"]:
                self.failed_firsts[dkeys[i]] = (r.source, str(frame.at[i, "error"]))
        firsts = {  # this batch's first copies, by dedup key
            dkeys[i]: (frame.loc[i, list(SCORE_COLUMNS)].tolist(), str(frame.at[i, "labels"]), str(frame.at[i, "evidence"]))
            for i in first_rows
        }
        self._fill_duplicates(frame, dkeys, firsts)
        number = self.ledger.next_part()
        outputs.write_part(self.out, number, frame)
        self.ledger.commit_part(
            number, [r.key for r in refs], self.version, self.generation,
            [(dkeys[i], refs[i].source, *firsts[dkeys[i]]) for i in first_rows],
        )
        for i, key in enumerate(dkeys):
            if self.inflight_firsts.get(key) == refs[i].source:
                del self.inflight_firsts[key]
        self.stats.scored += len(frame)
        self.stats.parts_written += 1
        self.stats.errors += int((frame["status"] == "error").sum())
        self.stats.duplicates += int((frame["duplicate_of"] != "").sum())

    def _fill_duplicates(
        self, frame: pd.DataFrame, dkeys: list[str], firsts: dict[str, tuple[list[float], str, str]]
    ) -> None:
        """Copy each duplicate's scores, labels and evidence from its first copy (never re-queued)."""
        dup_rows = [i for i in range(len(frame)) if frame.at[i, "duplicate_of"]]
        stored = self.ledger.firsts([dkeys[i] for i in dup_rows if dkeys[i] not in firsts])
        for i in dup_rows:
            found = firsts.get(dkeys[i])
            if found is None and dkeys[i] in stored:
                found = stored[dkeys[i]][1:]
            if found is None and dkeys[i] in self.failed_firsts:
                frame.at[i, "status"], frame.at[i, "error"] = "error", self.failed_firsts[dkeys[i]][1]
                continue
            if found is None:
                continue  # cannot happen with in-order commits; the row keeps NaN scores rather than guess
            scores, labels, evidence = found
            frame.loc[i, list(SCORE_COLUMNS)] = [math.nan if s is None else s for s in scores]
            frame.at[i, "labels"] = labels
            frame.at[i, "evidence"] = evidence
