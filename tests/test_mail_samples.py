"""The bundled sample mail reads cleanly and matches the labels its README documents."""

from __future__ import annotations

import re
from pathlib import Path

from mailguard.mail import message_context, read_messages
from mailguard.taxonomy import LABELS

SAMPLES = Path(__file__).parent.parent / "data" / "samples"
ROW = re.compile(r"^\| (\d+) \| `(<[^`]+>)` \| (.+?) \| ([a-z_, ]+) \|$", re.MULTILINE)


def documented_labels(section: str) -> dict[int, tuple[str, set[str]]]:
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    part = readme.split(section, 1)[1]
    rows = ROW.findall(part.split("\n\n`", 1)[0] if section.startswith("##") else part)
    return {int(n): (mid, {lb.strip() for lb in labels.split(",")}) for n, mid, _subj, labels in rows}


def test_sample_mbox_reads_without_errors_and_is_small() -> None:
    msgs = list(read_messages(SAMPLES / "city_inbox.mbox"))
    assert 30 <= len(msgs) <= 40
    assert all(m.status == "ok" for m in msgs)
    assert len({m.message_id for m in msgs}) == len(msgs)
    assert sum(p.stat().st_size for p in SAMPLES.iterdir()) < 100_000


def test_readme_label_table_matches_the_mbox() -> None:
    msgs = list(read_messages(SAMPLES / "city_inbox.mbox"))
    table = documented_labels("## Policy violations")
    assert 10 <= len(table) <= 14
    assert {lb for _mid, labels in table.values() for lb in labels} == set(LABELS)  # every label appears
    for index, (message_id, labels) in table.items():
        assert msgs[index].message_id == message_id
        assert labels <= set(LABELS)


def test_sample_mbox_exercises_the_reader_features() -> None:
    msgs = list(read_messages(SAMPLES / "city_inbox.mbox"))
    contexts = [message_context(m, ["cityofexample.gov"]) for m in msgs]
    assert {c.direction for c in contexts} == {"internal", "inbound", "outbound"}
    bulk = [c.reason for c in contexts if c.bulk]
    assert any("list-id" in r for r in bulk) and any("auto-submitted" in r for r in bulk)
    assert sum(1 for m in msgs if m.quoted) >= 3
    assert any(m.attachment_text for m in msgs)
    assert any(a.endswith(".pdf") for m in msgs for a in m.attachments)
    assert any("miércoles" in m.body for m in msgs)  # the windows-1252 message


def test_sample_export_rows_read_and_match_the_readme() -> None:
    rows = list(read_messages(SAMPLES / "export.jsonl"))
    assert len(rows) == 8 and all(r.status == "ok" for r in rows)
    table = documented_labels("`export.jsonl` (")
    assert len(table) == 2
    for line, (message_id, labels) in table.items():
        assert rows[line - 1].message_id == message_id
        assert labels <= set(LABELS)
