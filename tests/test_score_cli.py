"""`mailguard score`: what IT relies on when the nightly job runs unattended."""

from __future__ import annotations

import json
import shutil
import stat
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from mailguard.cli import app
from mailguard.taxonomy import LABELS, SCORE_COLUMNS
from models.linear import LinearClassifier

FIXTURES = Path(__file__).parent / "fixtures" / "scoring"
NIGHT = FIXTURES / "night.mbox"
MAILDIR = FIXTURES / "maildir"
TOKEN = "Quokkazeta"  # appears in every fixture body, never in anything but results


def tiny_model(path: Path) -> Path:
    """Fit a linear model on 20 literal texts (solicitation, sexual, clean) and save it to ``path``."""
    sol, sex = LABELS.index("solicitation"), LABELS.index("sexual")
    texts = [
        ("buy cheap watches now special discount offer", sol), ("limited time offer buy now discount", sol),
        ("join my business opportunity earn money fast", sol), ("special offer cheap deal buy today", sol),
        ("donate to my church fundraiser buy tickets", sol), ("discount sale buy cheap now", sol),
        ("send me sexy photos tonight", sex), ("you look hot in that dress tonight", sex),
        ("lets have a naughty night together", sex), ("sexy pictures of you please", sex),
        ("meeting agenda for tuesday budget review", None), ("please bring the quarterly figures", None),
        ("the parking permits are ready", None), ("lunch on monday works for me", None),
        ("library schedule for the holidays", None), ("committee minutes attached", None),
        ("can you review the contract draft", None), ("the printer on floor two is broken", None),
        ("reminder timesheets due friday", None), ("thanks for your help with the report", None),
    ]
    Y = np.zeros((len(texts), len(LABELS)), dtype=int)
    for i, (_, j) in enumerate(texts):
        if j is not None:
            Y[i, j] = 1
    LinearClassifier().fit([t for t, _ in texts], Y).save(path)
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("model") / "m")


@pytest.fixture()
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean working directory (no stray mailguard.toml) holding copies of the fixtures."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(NIGHT, tmp_path / "night.mbox")
    shutil.copytree(MAILDIR, tmp_path / "maildir")
    return tmp_path


def score(*args: str | Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["score", *map(str, args)])


def results(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "results.parquet")


def summary(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "summary.json").read_text())


def by_source(frame: pd.DataFrame, suffix: str) -> pd.Series:
    rows = frame[frame["source"].str.endswith(suffix)]
    assert len(rows) == 1, f"expected one row for {suffix}, got {len(rows)}"
    return rows.iloc[0]


def test_happy_path_writes_results_csv_summary_and_self_contained_report(work: Path, model_dir: Path) -> None:
    res = score("maildir", "--out", "out", "--model", model_dir, "--workers", "1", "--org-domain", "city.gov")
    assert res.exit_code == 0, res.output
    frame = results(work / "out")
    assert list(frame["message_id"]) == ["<staff-2@city.gov>", "<staff-4@city.gov>"]
    assert (frame["status"] == "ok").all()
    assert by_source(frame, "M1P100.mailhost:2,S")["labels"] == "solicitation"
    lunch = by_source(frame, "M2P100.mailhost:2,S")
    assert lunch["attachments"] == "notes.txt; floorplan.pdf"  # every attachment listed, text ones scored
    assert lunch["labels"] == ""
    csv = pd.read_csv(work / "out" / "results.csv")
    assert "body" not in csv.columns and "quoted" not in csv.columns and len(csv) == 2
    html = (work / "out" / "report.html").read_text()
    assert "data:image/png;base64," in html and "src=\"http" not in html and "<link" not in html
    assert summary(work / "out")["labels"]["solicitation"] == 1


def test_results_schema_matches_the_architecture_contract(work: Path, model_dir: Path) -> None:
    score("night.mbox", "--out", "out", "--model", model_dir, "--workers", "1")
    expected = ["message_id", "source", "status", "error", "date", "sender", "to", "cc", "subject", "body", "quoted",
                "html_text", "attachment_text", "attachments", "unscored_attachments", "truncated", *SCORE_COLUMNS,
                "labels", "evidence", "model_version", "run_id", "direction", "bulk", "context_reason", "duplicate_of",
                "queue", "queue_reason", "content_hash"]
    frame = results(work / "out")
    assert list(frame.columns) == expected
    flagged = by_source(frame, "night.mbox#1")
    assert set(json.loads(flagged["evidence"])) == {"solicitation"}
    assert flagged["model_version"].startswith("path:")


def test_one_row_per_message_even_when_some_fail_exits_1(work: Path, model_dir: Path) -> None:
    res = score("night.mbox", "--out", "out", "--model", model_dir, "--workers", "1")
    assert res.exit_code == 1, res.output
    frame = results(work / "out")
    assert len(frame) == 8 and frame["source"].is_unique
    failed = frame[frame["status"] == "error"]
    assert list(failed["message_id"]) == ["<empty-1@city.gov>"]
    assert failed.iloc[0]["error"].startswith("empty_body:")
    assert failed[list(SCORE_COLUMNS)].isna().all().all()
    assert summary(work / "out")["errors_by_kind"] == {"empty_body": 1}


def test_missing_input_exits_2_with_one_line(work: Path, model_dir: Path) -> None:
    res = score("nothing-*.mbox", "--out", "out", "--model", model_dir)
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and "no input matches" in res.output
    assert "Traceback" not in res.output


def test_unknown_model_alias_exits_2_without_traceback(work: Path, mlflow_store: str) -> None:
    shutil.copy(NIGHT, Path.cwd() / "night.mbox")
    res = score("night.mbox", "--out", "out", "--model", "no-such-alias")
    assert res.exit_code == 2
    # (a fresh MLflow store logs its own set-up lines first; ours is the one error line)
    errors = [line for line in res.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "no-such-alias" in errors[0]
    assert "Traceback" not in res.output


@pytest.mark.parametrize(
    "config",
    ["[score\nmodel = 'x'\n", "[score]\nworkerz = 3\n", "[score]\nbatch_size = 0\n",
     "[queue]\ninbound_bulk_labels = ['spam']\n"],
    ids=["not-toml", "unknown-key", "bad-value", "unknown-label"],
)
def test_invalid_config_exits_2(work: Path, model_dir: Path, config: str) -> None:
    (work / "mailguard.toml").write_text(config)
    res = score("night.mbox", "--out", "out", "--model", model_dir)
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error: ") and "Traceback" not in res.output


def test_unreadable_config_exits_2(work: Path, model_dir: Path) -> None:
    res = score("night.mbox", "--out", "out", "--model", model_dir, "--config", work / "missing.toml")
    assert res.exit_code == 2 and "cannot read config file" in res.output


def test_config_supplies_defaults_and_cli_overrides_them(work: Path, model_dir: Path) -> None:
    (work / "mailguard.toml").write_text(
        f"[organisation]\ndomains = ['city.gov']\n[score]\nmodel = '{model_dir}'\nout = 'nightly'\n"
        "workers = 1\nbatch_size = 2\ninputs = ['night.mbox']\n"
    )
    res = score("--batch-size", "3")
    assert res.exit_code == 1, res.output  # the fixture holds one unreadable message
    info = summary(work / "nightly")
    assert info["batch_size"] == 3 and info["workers"] == 1
    assert by_source(results(work / "nightly"), "night.mbox#0")["direction"] == "internal"


def test_since_until_keep_the_day_and_undated_mail(work: Path, model_dir: Path) -> None:
    res = score("night.mbox", "--out", "out", "--model", model_dir, "--workers", "1",
                "--since", "2026-11-28", "--until", "2026-11-28")
    assert res.exit_code == 1
    frame = results(work / "out")
    assert "<old-1@city.gov>" not in set(frame["message_id"])  # dated 2026-11-20
    assert "<staff-3@city.gov>" in set(frame["message_id"])  # no Date header: kept and counted
    run = summary(work / "out")["this_run"]
    assert run["out_of_window"] == 1 and run["undated"] == 1 and len(frame) == 7


def test_until_excludes_the_next_day(work: Path, model_dir: Path) -> None:
    score("night.mbox", "--out", "out", "--model", model_dir, "--workers", "1", "--until", "2026-11-27")
    assert set(results(work / "out")["message_id"]) == {"<old-1@city.gov>", "<staff-3@city.gov>"}


def test_rerun_scores_nothing_new_and_rescore_scores_again(work: Path, model_dir: Path) -> None:
    args = ("night.mbox", "maildir", "--out", "out", "--model", model_dir, "--workers", "1", "--batch-size", "3")
    score(*args)
    first = results(work / "out")
    score(*args)
    assert summary(work / "out")["this_run"]["scored"] == 0
    assert summary(work / "out")["this_run"]["skipped_done"] == len(first)
    pd.testing.assert_frame_equal(results(work / "out"), first)
    parts = sorted((work / "out" / "parts").iterdir())
    score(*args, "--rescore")
    assert summary(work / "out")["this_run"]["scored"] == len(first)
    assert len(list((work / "out" / "parts").iterdir())) == len(parts)  # superseded parts are removed
    again = results(work / "out")
    assert len(again) == len(first) and again["source"].is_unique
    pd.testing.assert_frame_equal(again[list(SCORE_COLUMNS)], first[list(SCORE_COLUMNS)])


def test_duplicate_copies_are_scored_once_and_point_at_the_first(work: Path, model_dir: Path) -> None:
    score("night.mbox", "maildir", "--out", "out", "--model", model_dir, "--workers", "1", "--batch-size", "2")
    frame = results(work / "out")
    first, copy = by_source(frame, "night.mbox#0"), by_source(frame, "night.mbox#6")
    assert first["duplicate_of"] == "" and copy["duplicate_of"] == first["source"]  # same mbox
    deal = by_source(frame, "night.mbox#1")
    maildir_copy = by_source(frame, "M1P100.mailhost:2,S")  # same message, another mailbox
    assert maildir_copy["duplicate_of"] == deal["source"]
    assert maildir_copy["labels"] == deal["labels"] == "solicitation"
    assert maildir_copy[list(SCORE_COLUMNS)].tolist() == deal[list(SCORE_COLUMNS)].tolist()
    assert deal["queue"] and not maildir_copy["queue"]  # a reviewer sees it once
    reused = by_source(frame, "night.mbox#7")  # same Message-ID as #1, different text
    assert reused["duplicate_of"] == "" and reused["content_hash"] != deal["content_hash"]
    assert summary(work / "out")["totals"]["duplicates"] == 2


def test_inbound_bulk_is_reported_but_not_queued_by_default(work: Path, model_dir: Path) -> None:
    score("night.mbox", "--out", "out", "--model", model_dir, "--workers", "1", "--org-domain", "city.gov")
    news = by_source(results(work / "out"), "night.mbox#2")
    assert news["labels"] == "solicitation" and news["direction"] == "inbound" and news["bulk"]
    assert not news["queue"]
    assert by_source(results(work / "out"), "night.mbox#1")["queue"]  # staff-sent: queued

    (work / "mailguard.toml").write_text("[queue]\ninbound_bulk_labels = ['solicitation']\n")
    score("night.mbox", "--out", "out2", "--model", model_dir, "--workers", "1", "--org-domain", "city.gov")
    assert by_source(results(work / "out2"), "night.mbox#2")["queue"]

    (work / "mailguard.toml").write_text("[queue]\ninbound_bulk_labels = ['*']\nqueue_inbound = false\n")
    score("night.mbox", "--out", "out3", "--model", model_dir, "--workers", "1", "--org-domain", "city.gov")
    frame = results(work / "out3")
    assert not frame[frame["direction"] == "inbound"]["queue"].any()


def test_outputs_are_private_to_the_service_user(work: Path, model_dir: Path) -> None:
    score("night.mbox", "--out", "out", "--model", model_dir, "--workers", "1")
    out = work / "out"
    for folder in (out, out / "parts", out / ".state"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    files = [out / n for n in ("results.parquet", "results.csv", "summary.json", "report.html")]
    files += list((out / "parts").iterdir()) + [out / ".state" / "ledger.sqlite"]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_json_logs_hold_events_and_counts_never_message_text(work: Path, model_dir: Path) -> None:
    res = score("night.mbox", "maildir", "--out", "out", "--model", model_dir, "--workers", "1",
                "--log-format", "json", "--org-domain", "city.gov")
    lines = [json.loads(line) for line in res.stderr.splitlines() if line.strip()]
    events = [line["event"] for line in lines]
    assert events[0] == "run_started" and "run_finished" in events
    finished = next(line for line in lines if line["event"] == "run_finished")
    assert finished["rows"] == 10 and finished["errors"] == 1
    assert TOKEN not in res.stderr and "Budget review" not in res.stderr and "@" not in res.stderr


def test_quiet_prints_nothing_when_all_is_well(work: Path, model_dir: Path) -> None:
    res = score("maildir", "--out", "out", "--model", model_dir, "--workers", "1", "--quiet")
    assert res.exit_code == 0 and res.output == ""


def test_review_db_receives_every_row(work: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[pd.DataFrame] = []

    def load_results(frame: pd.DataFrame, db_url: str) -> dict[str, int]:
        assert db_url == "sqlite:///review.db"
        received.append(frame)
        return {"inserted": len(frame)}

    fake = types.ModuleType("serve.review.loader")
    fake.load_results = load_results  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "serve.review.loader", fake)
    res = score("night.mbox", "--out", "out", "--model", model_dir, "--workers", "1", "--review-db",
                "sqlite:///review.db")
    assert res.exit_code == 1
    assert sum(len(f) for f in received) == 8
    assert summary(work / "out")["review_db_loaded"] == {"inserted": 8}


def test_unwritable_output_folder_exits_2_with_one_line(work: Path, model_dir: Path) -> None:
    (work / "taken").write_text("a file where the output folder should be")
    res = score("maildir", "--out", work / "taken" / "out", "--model", model_dir, "--workers", "1")
    assert res.exit_code == 2 and res.output.startswith("error: cannot write results under")
    assert "Traceback" not in res.output
