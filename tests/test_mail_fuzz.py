"""Thousands of malformed messages: no crash, exactly one record each, every failure names its cause."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mailfuzz import FUZZ_MAX_BYTES, KINDS, FuzzCase, malformed_cases, write_maildir, write_mbox  # tests/ on sys.path

from mailguard.mail import Message, read_messages

N = 2_000
ERROR = re.compile(r"(parse_error|decode_error|empty_body|too_large|too_deep|unreadable_file|bad_row): \S.*")


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
