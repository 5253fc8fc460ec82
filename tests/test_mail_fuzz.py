"""Thousands of malformed messages: no crash, exactly one record each, every failure names its cause."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mailfuzz import (  # tests/ is on sys.path
    FUZZ_MAX_BYTES,
    KINDS,
    FuzzCase,
    malformed_cases,
    write_maildir,
    write_mbox,
    write_mboxo,
)

from mailguard.mail import Message, read_messages

N = 2_000
ERROR = re.compile(r"(parse_error|decode_error|empty_body|too_large|too_deep|unreadable_file|bad_row|timeout): \S.*")


@pytest.fixture(scope="module")
def cases() -> list[FuzzCase]:
    return list(malformed_cases(seed=2024, n=N))


def check(cases: list[FuzzCase], records: list[Message], source_of: list[str]) -> None:
    assert len(records) == len(cases)
    assert [r.source for r in records] == source_of  # one record per message, in order
    for case, rec in zip(cases, records, strict=True):
        assert rec.message_id, case.kind
        if rec.status == "error":
            assert ERROR.fullmatch(rec.error), (case.kind, rec.error)
        else:
            assert rec.error == "" and rec.content_hash
        if case.expect_error:
            assert rec.error.split(":")[0] == case.expect_error, (case.kind, rec.error)


def test_generator_is_deterministic_and_covers_every_kind(cases: list[FuzzCase]) -> None:
    assert [c.data for c in malformed_cases(seed=2024, n=50)] == [c.data for c in cases[:50]]
    assert [c.data for c in malformed_cases(seed=2025, n=50)] != [c.data for c in cases[:50]]
    seen = {c.kind.removeprefix("crlf_") for c in cases}
    assert set(KINDS) - {"crlf"} <= seen
    assert any(len(c.data) > FUZZ_MAX_BYTES for c in cases)  # enormous bodies reach the limit


def test_fuzzed_mbox_reads_one_record_per_message(cases: list[FuzzCase], tmp_path: Path) -> None:
    path = tmp_path / "fuzz.mbox"
    write_mbox(path, (c.data for c in cases))
    records = list(read_messages(path, max_bytes=FUZZ_MAX_BYTES))
    check(cases, records, [f"{path}#{i}" for i in range(len(cases))])


def test_fuzzed_maildir_reads_one_record_per_file(cases: list[FuzzCase], tmp_path: Path) -> None:
    files = write_maildir(tmp_path / "md", (c.data for c in cases))
    records = list(read_messages(tmp_path / "md", max_bytes=FUZZ_MAX_BYTES))
    check(cases, records, [str(f) for f in files])
    # Some of each outcome, so the test is not passing on an all-error or all-ok reader.
    statuses = {r.status for r in records}
    assert statuses == {"ok", "error"}


def test_fuzzed_mboxo_with_from_lines_in_bodies_keeps_one_record_per_message(
    cases: list[FuzzCase], tmp_path: Path
) -> None:
    path = tmp_path / "fuzz.mboxo"
    write_mboxo(path, (c.data for c in cases))  # no ">From" escaping: body "From ..." lines stay ambiguous
    records = list(read_messages(path, max_bytes=FUZZ_MAX_BYTES))
    check(cases, records, [f"{path}#{i}" for i in range(len(cases))])
    assert any(c.kind == "from_lines" for c in cases)


def test_fuzz_benchmark_sample_has_no_crash_hang_or_lost_record(tmp_path: Path) -> None:
    """A few hundred messages of bench/fuzz_readers.py: every format, hostile entries, read and scored."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import fuzz_readers

    # A lower size limit turns the few enormous messages into quick too_large rows: seconds, not minutes.
    # A generous hang limit: a real hang never progresses, a busy CI machine only progresses slowly.
    result = fuzz_readers.run_benchmark(n=300, seed=3, hang_seconds=120, max_bytes=100_000, batch_size=64,
                                        work=tmp_path)
    totals = result["totals"]
    assert totals["messages"] >= 300
    problems = {k: result[k] for k in ("crashes", "hangs", "lost")}
    assert (totals["crashes"], totals["hangs"], totals["lost_records"]) == (0, 0, 0), problems
    assert set(result["by_format"]) == {"mbox", "mboxo", "maildir", "eml_dir", "eml", "jsonl", "csv", "parquet"}
    assert result["by_format"]["maildir"]["errors"]["unreadable_file"] >= 7  # the hostile entries, each one row
