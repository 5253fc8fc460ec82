"""Training rows at the scoring unit: a long mail becomes its sentence windows, labelled by where its evidence is.

Nightly scoring reads a message as sentence windows (:mod:`mailguard.segments`) and takes the maximum per
label, so a model should learn on the same units. A written message with a violation in its third
paragraph gives positive rows for the windows that read the offending sentence(s) and clean rows for the
rest of the mail; an ordinary long mail (a newsletter, a digest, a technical thread) gives clean windows
and, as a whole, one clean message row. Messages whose label describes the whole mail (solicitation) keep
a whole-message row too, which is what ``train.scoring_unit.message_labels`` scores.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from mailguard.mail.quoting import split_quoted_reply
from mailguard.segments import Section, WindowConfig, make_windows

#: Labels that describe a whole message rather than one sentence of it.
MESSAGE_LEVEL = frozenset({"solicitation"})


@dataclass(frozen=True)
class UnitRow:
    """One training row: a window or a whole message, its labels, and which it is."""

    text: str
    labels: frozenset[str]
    unit: str  # "window" | "message"


def mail_sections(subject: str, body: str) -> list[Section]:
    """Return the sections scoring would read for a mail given as subject and body text."""
    new, quoted = split_quoted_reply(body)
    parts = [("subject", subject.strip(), "subject"), ("body", new, "body"), ("quoted", quoted, "quoted")]
    return [Section(origin, text, field) for origin, text, field in parts if text.strip()]


def _evidence_spans(sections: Sequence[Section], evidence: Iterable[tuple[str, str]]) -> list[tuple[int, int, int, str]]:
    """Return ``(section, start, end, label)`` of each evidence text found in ``sections``."""
    spans = []
    for label, text in evidence:
        text = text.strip()
        for k, section in enumerate(sections):
            i = section.text.find(text)
            if i >= 0:
                spans.append((k, i, i + len(text), label))
                break
    return spans


def unit_rows(
    subject: str,
    body: str,
    labels: Iterable[str],
    evidence: Iterable[tuple[str, str]],
    *,
    config: WindowConfig,
    clean_windows: int,
    key: str,
) -> list[UnitRow]:
    """Return the training rows of one mail: windows (labelled by evidence) and, where it fits, the whole mail.

    Every window that reads an evidence sentence is kept with that evidence's label; of the others
    (clean) at most ``clean_windows`` are kept, chosen by a hash of ``key`` (deterministic, so the same
    data always gives the same rows). The whole mail is a row when it is clean or its labels are all
    message level; a long mail whose harassment sits in one paragraph is represented by its windows
    only, since a whole-mail row would teach that ordinary paragraphs carry the label.
    """
    labels = frozenset(labels)
    sections = mail_sections(subject, body)
    spans = _evidence_spans(sections, evidence)
    windows, _ = make_windows(sections, config)
    positive: list[UnitRow] = []
    clean: list[UnitRow] = []
    for w in windows:
        hit = frozenset(lb for k, a, b, lb in spans if k == w.section and a < w.end and w.start < b)
        (positive if hit else clean).append(UnitRow(w.text, hit, "window"))
    rng = np.random.default_rng(zlib.crc32(key.encode("utf-8")))
    # In a fundraiser or a sales pitch every paragraph serves the ask: its other windows are not clean.
    budget = 0 if labels & MESSAGE_LEVEL else max(clean_windows, 0)
    keep_clean = [clean[i] for i in sorted(rng.permutation(len(clean))[:budget])]
    rows = positive + keep_clean
    whole = "\n\n".join(s.text for s in sections)
    if (not labels or labels <= MESSAGE_LEVEL) and (len(windows) > 1 or not rows):
        rows.append(UnitRow(whole, labels, "message"))
    if labels and not positive and not labels <= MESSAGE_LEVEL:
        # evidence not found (or none given): the whole mail carries the labels rather than losing them
        rows.append(UnitRow(whole, labels, "message"))
    return rows
