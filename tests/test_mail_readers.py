"""Reading every supported input into exactly one Message per message, whatever is wrong with it."""

from __future__ import annotations

import email.utils
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mailguard.errors import InputError
from mailguard.mail import Message, iter_inputs, parse_message_bytes, read_messages, synthetic_message_id

FIX = Path(__file__).parent / "fixtures" / "mail"
ERROR_KINDS = {"parse_error", "decode_error", "empty_body", "too_large", "too_deep", "unreadable_file", "bad_row"}


def by_id(messages: list[Message]) -> dict[str, Message]:
    return {m.message_id: m for m in messages}


def assert_error_named(m: Message, kind: str) -> None:
    assert m.status == "error"
    assert m.error.split(":", 1)[0] == kind, m.error
    assert re.fullmatch(r"[a-z_]+: .+", m.error)


# -- formats ----------------------------------------------------------------


def test_eml_folder_is_read_recursively_in_sorted_order_skipping_other_files() -> None:
    msgs = list(read_messages(FIX / "eml"))
    names = [Path(m.source).name for m in msgs]
    # Top folder first, then nested/, each sorted; notes.txt is not a message.
    assert [n[:2] for n in names] == [f"{i:02d}" for i in range(1, 13)]
    assert Path(msgs[-1].source).parent.name == "nested"


def test_plain_message_headers_become_fields() -> None:
    (m,) = read_messages(FIX / "eml" / "01_plain.eml")
    assert m.status == "ok"
    assert m.message_id == "<plain-0001@cityofexample.gov>"  # folded header, whitespace stripped
    assert m.source == str(FIX / "eml" / "01_plain.eml")
    assert m.sender == "maria.gonzalez@cityofexample.gov"
    assert m.to == ("greg.lawson@cityofexample.gov",)
    assert m.cc == ("linda.chen@cityofexample.gov",)  # display name with a comma does not split the address
    assert m.date == datetime(2025, 3, 3, 13, 5, tzinfo=UTC)
    assert m.body.startswith("Greg, overtime is 14% over plan")
    assert m.headers == {"Sender-Domain": "cityofexample.gov", "Recipient-Domains": "cityofexample.gov"}
    assert len(m.content_hash) == 64


def test_maildir_reads_cur_and_new_but_not_tmp() -> None:
    msgs = list(read_messages(FIX / "maildir"))
    assert [m.message_id for m in msgs] == [
        "<md-1@cityofexample.gov>",
        "<md-2@cityofexample.gov>",
        "<md-3@govtechdigest.example.com>",
    ]
    assert msgs[0].source == str(FIX / "maildir" / "cur" / "1741000000.M1P1.host:2,S")
    assert msgs[2].headers["List-Id"] == "<digest.govtechdigest.example.com>"
    assert msgs[2].headers["Precedence"] == "bulk"


def test_mbox_sources_count_from_zero_and_from_lines_are_unescaped() -> None:
    msgs = list(read_messages(FIX / "truncated.mbox"))
    assert [m.source for m in msgs] == [f"{FIX / 'truncated.mbox'}#0", f"{FIX / 'truncated.mbox'}#1"]
    assert "\nFrom the desk of the Budget Office" in msgs[0].body
    # ">>From" loses one level and is then an ordinary quoted line.
    assert msgs[0].quoted == ">From here on, a doubly escaped line."


def test_truncated_last_mbox_message_still_yields_its_text() -> None:
    last = list(read_messages(FIX / "truncated.mbox"))[-1]
    assert last.status == "ok"
    assert last.body == "Plan review comments are attached."
    assert last.attachments == ("comments.pdf",)


def test_mbox_without_blank_line_before_envelope_still_splits_and_keeps_body_from_lines(tmp_path: Path) -> None:
    box = tmp_path / "inbox"  # no suffix: sniffed from the first "From " line
    box.write_bytes(
        b"From a@x.gov Mon Mar  3 13:05:00 2025\nSubject: one\n\nFirst.\n"
        b"From b@x.gov Mon Mar  3 13:06:00 2025\nSubject: two\n\nFrom what I hear, fine.\nFrom me\n"
    )
    msgs = list(read_messages(box))
    assert [m.subject for m in msgs] == ["one", "two"]
    assert msgs[1].body == "From what I hear, fine.\nFrom me"  # not envelopes: no blank line, no date


def test_mbox_message_over_the_size_limit_is_an_error_record_with_its_id(tmp_path: Path) -> None:
    box = tmp_path / "big.mbox"
    big = b"x" * 200 + b"\n"
    box.write_bytes(
        b"From a@x Mon Mar  3 13:05:00 2025\nMessage-ID: <big@x>\nSubject: big\n\n" + big * 100 + b"\n"
        b"From a@x Mon Mar  3 13:06:00 2025\nMessage-ID: <small@x>\nSubject: small\n\nhi\n"
    )
    big_msg, small = read_messages(box, max_bytes=5_000)
    assert_error_named(big_msg, "too_large")
    assert big_msg.message_id == "<big@x>" and big_msg.body == ""
    assert small.status == "ok" and small.body == "hi"


def test_jsonl_rows_with_problems_become_error_records_one_per_row() -> None:
    msgs = list(read_messages(FIX / "export.jsonl"))
    src = str(FIX / "export.jsonl")
    assert [m.source for m in msgs] == [f"{src}:{n}" for n in (1, 3, 4, 5, 6, 7, 8)]  # line 2 is blank
    ok1, synthetic, empty, not_json, a_list, no_body, numeric = msgs
    assert ok1.cc == ("linda.chen@cityofexample.gov", "tom.becker@cityofexample.gov")  # JSON list of addresses
    assert ok1.date == datetime(2025, 4, 1, 14, 15, tzinfo=UTC)
    # An empty message_id gets the content-derived id rather than failing the row.
    assert synthetic.status == "ok" and synthetic.message_id == synthetic_message_id(synthetic.content_hash)
    assert_error_named(empty, "empty_body")
    assert empty.message_id == "<row-3@cityofexample.gov>"
    assert_error_named(not_json, "bad_row")
    assert_error_named(a_list, "bad_row")
    assert_error_named(no_body, "bad_row")
    assert "body" in no_body.error
    assert numeric.message_id == "7" and numeric.date is None  # unparseable date is not an error
    assert numeric.body == "Fixed." and numeric.quoted.startswith("On Tue, Apr 1, 2025")


def test_csv_handles_multiline_fields_context_columns_nul_and_bad_rows() -> None:
    msgs = list(read_messages(FIX / "export.csv"))
    src = str(FIX / "export.csv")
    assert [m.source for m in msgs] == [f"{src}:{n}" for n in (1, 2, 4, 6)]  # blank records skipped
    first, digest, short_row, nul = msgs
    assert first.body == "Bid opening is April 15.\nBring the budget sheet."
    assert first.to == ("maria.gonzalez@cityofexample.gov", "linda.chen@cityofexample.gov")
    assert "List-Id" not in first.headers  # an empty cell is an absent header
    assert digest.headers["List-Id"] == "<digest.example.com>"
    assert_error_named(short_row, "bad_row")
    assert nul.body == "Parking lot closed"


def test_csv_accepts_fields_larger_than_the_csv_module_default(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    body = "word " * 40_000  # 200 kB, over csv's 128 kB default field limit
    path.write_text(f'message_id,body\n<m1@x>,"{body}"\n', encoding="utf-8")
    (m,) = read_messages(path)
    assert m.status == "ok" and len(m.body) == len(body.strip())


def test_parquet_is_read_across_row_groups() -> None:
    assert pq.ParquetFile(FIX / "export.parquet").num_row_groups == 3
    msgs = list(read_messages(FIX / "export.parquet"))
    assert [m.source.rsplit(":", 1)[1] for m in msgs] == ["1", "2", "3", "4", "5"]
    assert msgs[0].date == datetime(2025, 4, 1, 14, 15, tzinfo=UTC)
    assert msgs[2].message_id.startswith("<sha256-")  # null id → synthetic
    assert msgs[3].sender == "" and msgs[3].headers == {}  # null optional columns
    assert msgs[4].body == ""  # null body but a subject: still readable


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_table_missing_a_required_column_raises_input_error_at_once(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"export{suffix}"
    if suffix == ".jsonl":
        path.write_text('{"message_id": "<a@x>", "subject": "no body"}\n')
    elif suffix == ".csv":
        path.write_text("message_id,subject\n<a@x>,no body\n")
    else:
        pq.write_table(pa.table({"message_id": ["<a@x>"], "subject": ["no body"]}), path)
    with pytest.raises(InputError, match="body"):
        read_messages(path)  # raised by the call itself, before iteration


def test_unreadable_parquet_raises_input_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match="Parquet"):
        read_messages(path)


# -- malformed messages -------------------------------------------------------


def test_each_malformed_eml_gives_one_record_with_a_named_cause_or_readable_text() -> None:
    msgs = by_id(list(read_messages(FIX / "eml")))
    # Declared boundary never used: read with the boundary the body really uses.
    assert msgs["<broken-0007@cityofexample.gov>"].body == "Invoice 4471 matches the purchase order. OK to approve?"
    unknown = msgs["<charset-0008@cityofexample.gov>"]
    assert unknown.status == "ok" and unknown.body.startswith("Plan review is complete: café")
    assert unknown.subject == "Plan review é"  # unknown charset in an encoded word falls back too
    nul = msgs["<nul-0009@cityofexample.gov>"]
    assert nul.subject == "Nulls here" and nul.body == "Parking lot closed Friday."
    assert_error_named(msgs["<empty-0010@cityofexample.gov>"], "empty_body")
    assert msgs["<b64-0011@cityofexample.gov>"].body.startswith("Snow crews start at six")


def test_missing_message_id_gets_a_stable_synthetic_id_and_bad_date_is_none() -> None:
    path = FIX / "eml" / "nested" / "12_no_message_id.eml"
    (first,) = read_messages(path)
    (again,) = read_messages(path)
    assert first.message_id == again.message_id == synthetic_message_id(first.content_hash)
    assert first.date is None and first.status == "ok"


def test_synthetic_id_ignores_whitespace_and_case_but_not_content() -> None:
    a = parse_message_bytes(b"Subject: Garage\n\nLevel P2  is closed.\n")
    b = parse_message_bytes(b"Subject: garage\n\nlevel p2 is closed\n")
    c = parse_message_bytes(b"Subject: Garage\n\nLevel P1 is closed.\n")
    assert a.message_id == b.message_id != c.message_id


def test_binary_junk_is_a_decode_error_without_message_text() -> None:
    junk = bytes(range(256)) * 40
    m = parse_message_bytes(b"\x01" + junk, source="junk")
    assert_error_named(m, "decode_error")
    assert m.body == "" and m.source == "junk"


def test_huge_header_does_not_stop_reading() -> None:
    to = ", ".join(f"user{i}@example.org" for i in range(20_000))
    raw = f"From: a@cityofexample.gov\nTo: {to}\nX-Junk: {'x' * 300_000}\nSubject: s\n\nhello\n".encode()
    m = parse_message_bytes(raw)
    assert m.status == "ok" and m.body == "hello"
    assert len(m.to) > 1_000 and m.headers["Recipient-Domains"] == "example.org"


def test_deep_nesting_is_an_error_record_naming_the_limit() -> None:
    inner = "Content-Type: text/plain\n\ndeep text\n"
    for i in range(40):
        inner = f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n{inner}--b{i}--\n'
    m = parse_message_bytes(("Message-ID: <deep@x>\n" + inner).encode())
    assert_error_named(m, "too_deep")
    assert m.message_id == "<deep@x>" and "20" in m.error


def test_single_eml_over_size_limit_is_an_error_record(tmp_path: Path) -> None:
    path = tmp_path / "big.eml"
    path.write_bytes(b"Message-ID: <big@x>\nSubject: big\n\n" + b"y" * 10_000)
    (m,) = read_messages(path, max_bytes=1_000)
    assert_error_named(m, "too_large")
    assert m.message_id == "<big@x>"


def test_long_bodies_are_cut_to_the_character_cap() -> None:
    m = parse_message_bytes(b"Subject: s\n\n" + b"abcd " * 100_000)
    assert m.status == "ok" and 199_000 < len(m.body) <= 200_000


def test_unreadable_entries_in_a_maildir_become_error_records(tmp_path: Path) -> None:
    root = tmp_path / "md"
    (root / "cur").mkdir(parents=True)
    (root / "cur" / "1_ok").write_bytes(b"Subject: fine\n\nhello\n")
    (root / "cur" / "2_dir").mkdir()  # a folder where a message file should be
    os.symlink(root / "missing", root / "cur" / "3_dangling")
    msgs = list(read_messages(root))
    assert [Path(m.source).name for m in msgs] == ["1_ok", "2_dir", "3_dangling"]
    assert msgs[0].status == "ok"
    for m in msgs[1:]:
        assert_error_named(m, "unreadable_file")
    assert msgs[1].message_id != msgs[2].message_id


def test_permission_denied_file_in_a_folder_is_an_error_record(tmp_path: Path) -> None:
    folder = tmp_path / "emls"
    folder.mkdir()
    (folder / "a.eml").write_bytes(b"Subject: fine\n\nhello\n")
    locked = folder / "b.eml"
    locked.write_bytes(b"Subject: secret\n\nhello\n")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: file permissions are not enforced, chmod 000 cannot make a file unreadable")
        ok, denied = read_messages(folder)
        assert ok.status == "ok"
        assert_error_named(denied, "unreadable_file")
        with pytest.raises(InputError, match="cannot read"):
            read_messages(locked)
    finally:
        locked.chmod(0o644)


def test_one_record_per_message_even_when_most_fail(tmp_path: Path) -> None:
    box = tmp_path / "mixed.mbox"
    parts = [
        b"Subject: ok\n\nfine\n",
        b"",
        b"\x01" + bytes(range(256)) * 20,
        b"Subject: ok again\n\nfine\n",
        b"Content-Type: multipart/mixed; boundary=x\n\n--x\n" * 30,
    ]
    box.write_bytes(b"".join(b"From a@x Mon Mar  3 13:05:00 2025\n" + p + b"\n\n" for p in parts))
    msgs = list(read_messages(box))
    assert len(msgs) == len(parts)
    assert [m.status for m in msgs][:4] == ["ok", "error", "error", "ok"]
    for m in msgs:
        assert m.status == "ok" or m.error.split(":")[0] in ERROR_KINDS


# -- paths and patterns ---------------------------------------------------------


def test_missing_unknown_and_empty_inputs_raise_one_line_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_messages(tmp_path / "nope.mbox")
    with pytest.raises(InputError, match="cannot tell the format"):
        read_messages(FIX / "not_mail.bin")
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(InputError, match="neither a Maildir"):
        read_messages(tmp_path / "empty_folder")


def test_iter_inputs_expands_globs_keeps_order_and_rejects_patterns_matching_nothing(tmp_path: Path) -> None:
    for name in ("b.mbox", "a.mbox", "c.eml"):
        (tmp_path / name).write_text("From a@x Mon Mar  3 13:05:00 2025\n\nhi\n")
    paths = iter_inputs([str(tmp_path / "*.mbox"), str(tmp_path / "c.eml"), str(tmp_path / "a.mbox")])
    assert [p.name for p in paths] == ["a.mbox", "b.mbox", "c.eml"]
    with pytest.raises(InputError) as err:
        iter_inputs([str(tmp_path / "*.mbox"), str(tmp_path / "logs" / "*.jsonl")])
    assert "logs" in str(err.value) and "\n" not in str(err.value)


def test_error_strings_never_carry_message_text(tmp_path: Path) -> None:
    secret = "ZEBRA-SECRET-PHRASE"
    box = tmp_path / "s.mbox"
    nested = f"Subject: {secret}\n"
    inner = f"Content-Type: text/plain\n\n{secret}\n"
    for i in range(30):
        inner = f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n{inner}--b{i}--\n'
    raws = [nested + "\n", nested + inner, "Subject: x\n\n" + secret * 10_000]
    box.write_text("".join(f"From a@x Mon Mar  3 13:05:00 2025\n{r}\n\n" for r in raws))
    msgs = list(read_messages(box, max_bytes=50_000))
    assert [m.status for m in msgs] == ["ok", "error", "error"]
    assert all(secret not in m.error for m in msgs)


def test_date_without_zone_is_taken_as_utc() -> None:
    m = parse_message_bytes(b"Date: Mon, 3 Mar 2025 08:05:00 -0000\nSubject: s\n\nx\n")
    assert m.date == datetime(2025, 3, 3, 8, 5, tzinfo=UTC)
    assert email.utils.format_datetime(m.date)  # a real, formattable datetime


# -- hostile inputs (issue 14) ------------------------------------------------------


def within(seconds: float, work):  # type: ignore[no-untyped-def]
    """Return ``work()``, failing the test (instead of hanging it) if it takes longer than ``seconds``."""
    import threading

    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["value"] = work()
        except BaseException as e:  # handed to the test's thread below
            box["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: it would hang the nightly run"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]


def test_maildir_entries_that_hang_or_escape_become_error_records(tmp_path: Path) -> None:
    root, outside = tmp_path / "md", tmp_path / "elsewhere"
    (root / "cur").mkdir(parents=True)
    outside.mkdir()
    (outside / "shadow").write_bytes(b"Subject: not mail of this store\n\nroot:x:0:0\n")
    cur = root / "cur"
    (cur / "1_ok").write_bytes(b"Subject: fine\n\nhello\n")
    os.mkfifo(cur / "2_fifo")  # open() would block until someone writes
    os.symlink("/dev/zero", cur / "3_zero")  # endless
    os.symlink(outside / "shadow", cur / "4_escape")  # out of the mail store
    os.symlink("1_ok", cur / "5_inside")  # a link that stays in the store is read
    os.symlink("6_loop", cur / "6_loop")
    (root / ".Folder").mkdir()
    os.symlink(outside, root / ".Folder" / "cur")  # a Maildir++ folder whose cur/ leads out

    msgs = within(10, lambda: list(read_messages(root)))
    by_name = {Path(m.source).name: m for m in msgs}
    assert sorted(by_name) == ["1_ok", "2_fifo", "3_zero", "4_escape", "5_inside", "6_loop", "shadow"]
    assert by_name["1_ok"].status == by_name["5_inside"].status == "ok"
    for name in ("2_fifo", "3_zero", "4_escape", "6_loop", "shadow"):
        assert_error_named(by_name[name], "unreadable_file")
        assert by_name[name].subject == "" and "root:x" not in by_name[name].body
    assert "FIFO" in by_name["2_fifo"].error and "outside" in by_name["4_escape"].error


def test_an_input_named_directly_must_be_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.mbox")
    os.symlink("/dev/zero", tmp_path / "zero.mbox")
    for name in ("pipe.mbox", "zero.mbox"):
        with pytest.raises(InputError, match="not a regular file"):
            within(10, lambda name=name: read_messages(tmp_path / name))


def test_eml_folder_reports_links_to_folders_and_keeps_non_utf8_names(tmp_path: Path) -> None:
    folder, outside = tmp_path / "emls", tmp_path / "elsewhere"
    folder.mkdir()
    outside.mkdir()
    (outside / "x.eml").write_bytes(b"Subject: elsewhere\n\nhi\n")
    (folder / os.fsdecode(b"caf\xe9.eml")).write_bytes(b"Subject: latin-1 name\n\nhello\n")
    os.symlink(outside, folder / "linked")
    msgs = list(read_messages(folder))
    assert [m.source.rsplit("/", 1)[1] for m in msgs] == ["caf\\xe9.eml", "linked"]
    assert msgs[0].status == "ok" and msgs[0].source.encode("utf-8")  # any UTF-8 writer takes it
    assert_error_named(msgs[1], "unreadable_file")


def test_mbox_splits_only_on_full_envelopes_from_real_tools() -> None:
    path = FIX / "envelopes.mbox"
    msgs = list(read_messages(path))
    assert [m.message_id for m in msgs] == [f"<env-{i}@city.example.gov>" for i in range(1, 7)]
    body = msgs[3].body
    for line in ("From Bob at 10:30 the crew", "From what I hear", "From 9:00 to 17:30", "From Mon to Fri",
                 "From: a header-looking line"):
        assert line in body  # after a blank line, still text: not a separator


def test_parquet_values_python_cannot_hold_become_rows_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "odd.parquet"
    pq.write_table(pa.table({
        "message_id": ["<a@x>", "<b@x>", "<c@x>"],
        "body": pa.array([b"plain bytes body", b"\xff\xfe caf\xe9", bytes(range(256))], pa.binary()),
        "subject": pa.array([{"d": 1}, {"d": 2**31 - 1}, {"d": 3}], pa.struct([("d", pa.date32())])),
        "date": pa.array([2**62, 1_743_000_000_000, 2**62], pa.timestamp("ms")),  # year ~146 million
    }), path)
    a, b, c = read_messages(path)
    assert a.status == "ok" and a.body == "plain bytes body" and a.date is None  # undated, like a bad CSV date
    assert a.subject == '{"d": "1970-01-02"}'
    assert_error_named(b, "bad_row")  # a date32 beyond year 9999 inside a struct cell
    assert "subject" in b.error
    assert_error_named(c, "decode_error")  # bytes that are not text
    assert c.date is None


def test_parquet_date32_extremes_and_text_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "dates.parquet"
    pq.write_table(pa.table({
        "message_id": ["<a@x>", "<b@x>"],
        "body": pa.array([b"caf\xe9 is open", b"ok"], pa.binary()).view(pa.string()),
        "date": pa.array([2**31 - 1, 20_000], pa.date32()),
    }), path)
    a, b = read_messages(path)
    assert (a.status, a.date, a.body) == ("ok", None, "café is open")
    assert b.date == datetime(2024, 10, 4, tzinfo=UTC)


def test_lone_surrogates_in_a_jsonl_export_become_replacement_characters(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text('{"message_id": "<a\\ud800@x>", "body": "The budget \\udc00 review is Tuesday, room 4.",'
                    ' "subject": {"nested": "\\ud83d"}}\n')
    (m,) = read_messages(path)
    assert m.status == "ok"
    for text in (m.message_id, m.body, m.subject):
        text.encode("utf-8")  # strict: Parquet and CSV writers would refuse a lone surrogate
    assert "\ufffd" in m.body
