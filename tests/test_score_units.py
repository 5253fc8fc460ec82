"""Building blocks of nightly scoring that IT and a distributed engine rely on directly."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from test_score_cli import NIGHT, tiny_model

from mailguard.errors import ConfigError
from mailguard.mail import read_messages
from models.saved import load_classifier
from serve.scoring.batch import RESULT_COLUMNS, ScoringModel, score_batch, should_queue
from serve.scoring.progress import estimate_total
from serve.scoring.settings import QueueRules, ScoreSettings, parse_day

NIGHTLY = Path(__file__).resolve().parents[1] / "serve" / "deploy" / "nightly.sh"


def test_score_batch_is_a_pure_table_per_batch(tmp_path: Path) -> None:
    model = ScoringModel(load_classifier(tiny_model(tmp_path / "m")), version="v1", run_id="r1")
    messages = list(read_messages(NIGHT))
    settings = ScoreSettings(out=tmp_path / "never-written", org_domains=("city.gov",))
    first = score_batch(messages, model, settings)
    assert list(first.columns) == list(RESULT_COLUMNS) and len(first) == len(messages)
    pd.testing.assert_frame_equal(first, score_batch(messages, model, settings))
    assert not (tmp_path / "never-written").exists()
    assert set(first["model_version"]) == {"v1"} and set(first["run_id"]) == {"r1"}


@pytest.mark.parametrize(
    ("labels", "direction", "bulk", "rules", "queued"),
    [
        ("", "internal", False, QueueRules(), False),  # clean mail never queues
        ("sexual", "internal", False, QueueRules(), True),
        ("solicitation", "inbound", True, QueueRules(), False),  # inbound bulk: reported, not queued
        ("solicitation", "inbound", True, QueueRules(inbound_bulk_labels=frozenset({"solicitation"})), True),
        ("solicitation", "inbound", False, QueueRules(), True),  # a person writing in: queued
        ("solicitation", "inbound", False, QueueRules(queue_inbound=False), False),
        ("sexual", "unknown", True, QueueRules(), True),  # no org domains configured: cannot tell, so queue
    ],
)
def test_queue_rules(labels: str, direction: str, bulk: bool, rules: QueueRules, queued: bool) -> None:
    assert should_queue(labels, direction, bulk, rules) is queued


def test_days_are_utc_and_until_includes_its_day() -> None:
    assert parse_day("2026-11-28") == datetime(2026, 11, 28, tzinfo=UTC)
    assert parse_day("2026-11-28", end=True) == datetime(2026, 11, 29, tzinfo=UTC)
    assert parse_day("2026-11-28T00:00:00-05:00") == datetime(2026, 11, 28, 5, tzinfo=UTC)
    with pytest.raises(ConfigError):
        parse_day("yesterday")


def test_estimate_counts_mbox_separators_across_read_chunks(tmp_path: Path) -> None:
    mbox = tmp_path / "x.mbox"
    head = "From a Mon Mar  3 13:05:00 2025\nSubject: 1\n\n"
    filler = "x" * ((1 << 22) - 3 - len(head))  # the next "\nFrom " straddles the 4 MiB read boundary
    mbox.write_text(f"{head}{filler}\nFrom b Mon Mar  3 13:06:00 2025\nSubject: 2\n\nhi\n\n"
                    "From Bob at 10:30 the budget is fine\n\nFrom c Mon Mar  3 13:07:00 2025\n\nbye\n")
    assert estimate_total([mbox]) == 3 == len(list(read_messages(mbox)))  # the readers' own rule


def test_nightly_script_scores_the_previous_local_day(tmp_path: Path) -> None:
    env = {**os.environ, "MAILGUARD_BIN": "echo", "MAILGUARD_DAY": "2026-03-08", "TZ": "America/New_York",
           "MAILGUARD_RESULTS": str(tmp_path)}
    out = subprocess.run(["sh", str(NIGHTLY), "--quiet"], env=env, capture_output=True, text=True, check=True).stdout
    # 8 March 2026 is a 23-hour day in New York (DST starts): both bounds carry their own offset.
    assert ("--since 2026-03-08T00:00:00-05:00 --until 2026-03-09T00:00:00-04:00 "
            f"--out {tmp_path}/2026-03-08 --quiet") in out
