"""Individually written City mail (``data/written/``): loading and checking the corpus.

Each file under ``data/written/<portion>/`` is one writing pass: a YAML document with the
brief the writer worked from and a list of messages. The ``train`` portion becomes training,
validation and test rows; the ``eval`` portion was written in separate passes (other briefs,
personas and topics) and is only ever read by evaluation.

A message:

    id: train-03-017          # <pass>-<nnn>, unique in the corpus
    kind: violation           # one of KINDS
    genre: budget_thread      # free slug
    labels: [gender]          # subset of mailguard.taxonomy.LABELS; [] = clean
    evidence:                 # one entry per label at least: exact substrings of subject or body
      - {label: gender, text: "..."}
    subject: "..."
    body: |
      ...

Run ``python -m pipelines.written_mail FILE...`` to check files (exit 1 and one line per problem).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mailguard.errors import InputError
from mailguard.segments import WindowConfig
from mailguard.taxonomy import LABELS

if TYPE_CHECKING:  # the checker (``python -m pipelines.written_mail``) runs without the ML stack
    import pandas as pd

SOURCE = "written"
KINDS = ("ordinary", "group_mention", "counter_speech", "incident_report", "violation", "solicitation")
PORTIONS = ("train", "eval")


@dataclass(frozen=True)
class WrittenMessage:
    """One individually written message and where its violation (if any) sits."""

    id: str
    pass_id: str
    kind: str
    genre: str
    labels: tuple[str, ...]
    evidence: tuple[tuple[str, str], ...]  # (label, exact substring of subject or body)
    subject: str
    body: str

    @property
    def text(self) -> str:
        """Return subject and body as one text, the way a reader sees the mail."""
        return f"{self.subject.strip()}\n\n{self.body.strip()}".strip()


def check_message(raw: Any, where: str) -> list[str]:
    """Return the problems of one raw message mapping (empty when it is well formed)."""
    if not isinstance(raw, dict):
        return [f"{where}: not a mapping"]
    problems = []
    for key in ("id", "kind", "genre", "subject", "body"):
        if not isinstance(raw.get(key), str) or not raw.get(key, "").strip():
            problems.append(f"{where}: missing or empty '{key}'")
    if raw.get("kind") not in KINDS:
        problems.append(f"{where}: kind {raw.get('kind')!r} is not one of {KINDS}")
    labels = raw.get("labels") or []
    if not isinstance(labels, list) or any(lb not in LABELS for lb in labels):
        problems.append(f"{where}: labels {labels!r} must be a list of {LABELS}")
        labels = []
    evidence = raw.get("evidence") or []
    if not isinstance(evidence, list):
        problems.append(f"{where}: evidence must be a list")
        evidence = []
    text = f"{raw.get('subject', '')}\n{raw.get('body', '')}"
    for ev in evidence:
        if not isinstance(ev, dict) or ev.get("label") not in labels or not isinstance(ev.get("text"), str):
            problems.append(f"{where}: evidence entry {ev!r} needs a label from 'labels' and a text")
        elif ev["text"].strip() not in text or not ev["text"].strip():
            problems.append(f"{where}: evidence text is not an exact substring of subject/body: {ev['text'][:60]!r}")
    missing = set(labels) - {ev.get("label") for ev in evidence if isinstance(ev, dict)}
    if missing:
        problems.append(f"{where}: labels without evidence: {sorted(missing)}")
    if raw.get("kind") in ("violation", "solicitation") and not labels:
        problems.append(f"{where}: kind {raw.get('kind')} needs labels")
    if raw.get("kind") in ("ordinary", "group_mention", "counter_speech", "incident_report") and labels:
        problems.append(f"{where}: kind {raw.get('kind')} must have no labels")
    return problems


def read_pass(path: Path) -> tuple[list[WrittenMessage], list[str]]:
    """Return the messages of one pass file and the problems found in it."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        return [], [f"{path}: cannot read: {e}"]
    if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
        return [], [f"{path}: expected a mapping with 'pass', 'brief' and 'messages'"]
    pass_id = str(doc.get("pass", path.stem))
    out: list[WrittenMessage] = []
    problems: list[str] = []
    for k, raw in enumerate(doc["messages"]):
        where = f"{path.name}#{k}" + (f" ({raw.get('id')})" if isinstance(raw, dict) else "")
        found = check_message(raw, where)
        problems += found
        if found:
            continue
        out.append(WrittenMessage(
            id=raw["id"], pass_id=pass_id, kind=raw["kind"], genre=raw["genre"], labels=tuple(raw.get("labels") or []),
            evidence=tuple((ev["label"], ev["text"].strip()) for ev in raw.get("evidence") or []),
            subject=raw["subject"], body=raw["body"],
        ))
    return out, problems


def check_files(paths: Iterable[Path]) -> list[str]:
    """Return every problem in ``paths``, duplicate ids and duplicate bodies across them included."""
    problems: list[str] = []
    ids: dict[str, str] = {}
    bodies: dict[str, str] = {}
    for path in paths:
        messages, found = read_pass(path)
        problems += found
        for m in messages:
            if m.id in ids:
                problems.append(f"{path.name}: duplicate id {m.id} (also in {ids[m.id]})")
            ids[m.id] = path.name
            key = " ".join(m.body.lower().split())
            if key in bodies:
                problems.append(f"{path.name}: {m.id} has the same body as {bodies[key]}")
            bodies[key] = m.id
    return problems


def read_portion(portion: str, root: Path) -> list[WrittenMessage]:
    """Return every well-formed message of ``root/portion`` ("train" or "eval"); raise ``InputError`` on a bad file.

    These files are ours: a problem in one is a bug to fix, not data to skip.
    """
    if portion not in PORTIONS:
        raise InputError(f"unknown written-mail portion {portion!r}; expected one of {', '.join(PORTIONS)}")
    paths = sorted((root / portion).glob("*.yaml"))
    if not paths:
        raise InputError(f"no written mail in {root / portion} (expected <pass>.yaml files)")
    problems = check_files(paths)
    if problems:
        raise InputError(f"{len(problems)} problem(s) in {root / portion}, e.g. {problems[0]}")
    return [m for p in paths for m in read_pass(p)[0]]


def written_rows(
    portion: str, root: Path, *, config: WindowConfig, clean_windows: int
) -> pd.DataFrame:
    """Return training rows (adapter schema plus ``split_key`` and ``unit``) from the written mail of ``root/portion``.

    Each message becomes its scoring units (:func:`pipelines.units.unit_rows`); every row of one message
    shares ``split_key`` ``written:<id>``, so a message never spans two splits.
    """
    import pandas as pd

    from pipelines.units import unit_rows

    rows: list[dict[str, Any]] = []
    for m in read_portion(portion, root):
        key = f"written:{m.id}"
        for unit in unit_rows(m.subject, m.body, m.labels, m.evidence, config=config, clean_windows=clean_windows, key=key):
            row: dict[str, Any] = {"text": unit.text, **{lb: int(lb in unit.labels) for lb in LABELS}}
            row.update(source=SOURCE, weak=False, template_id="", split_key=key, unit=unit.unit)
            rows.append(row)
    return pd.DataFrame(rows, columns=["text", *LABELS, "source", "weak", "template_id", "split_key", "unit"])


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(Path("data/written").glob("*/*.yaml"))
    problems = check_files(paths)
    for p in problems:
        print(p)
    n = sum(len(read_pass(p)[0]) for p in paths)
    print(f"{n} well-formed messages in {len(paths)} files; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
