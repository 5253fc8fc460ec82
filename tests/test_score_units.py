"""Building blocks of nightly scoring that IT and a distributed engine rely on directly."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from test_score_cli import NIGHT, tiny_model

from mailguard.errors import ConfigError
from mailguard.mail import parse_message_bytes, read_messages
from mailguard.taxonomy import LABELS, SCORE_COLUMNS
from models.linear import LinearClassifier
from models.registry import LoadedModel
from models.saved import load_classifier
from serve.scoring.batch import (
    HIGH_SCORE_BULK_REASON,
    RESULT_COLUMNS,
    queue_rule,
    score_batch,
    should_queue,
)
from serve.scoring.progress import estimate_total
from serve.scoring.settings import QueueRules, ScoreSettings, load_score_settings, parse_day

NIGHTLY = Path(__file__).resolve().parents[1] / "serve" / "deploy" / "nightly.sh"


def test_score_batch_is_a_pure_table_per_batch(tmp_path: Path) -> None:
    model = LoadedModel(load_classifier(tiny_model(tmp_path / "m")), version="v1", run_id="r1")
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


def _scores(**high: float) -> dict[str, float]:
    return {lb: high.get(lb, 0.0) for lb in LABELS}


@pytest.mark.parametrize(
    ("labels", "scores", "rules", "queued", "reason"),
    [
        # A sender sets X-Auto-Response-Suppress (or List-Id, Precedence...) and harasses: queued all the same.
        ("race", _scores(race=0.97), QueueRules(), True, HIGH_SCORE_BULK_REASON),
        ("race", _scores(race=0.6), QueueRules(), False, ""),  # flagged but not high: bulk lowers priority
        ("solicitation", _scores(solicitation=0.99), QueueRules(), False, ""),  # marketing is what bulk is
        ("race", _scores(race=0.97), QueueRules(high_score=None), False, ""),  # the override turned off
        ("race", _scores(race=0.97), QueueRules(queue_inbound=False), False, ""),  # no inbound at all: respected
        ("sexual", _scores(sexual=0.95), QueueRules(high_score_labels=frozenset({"race"})), False, ""),
    ],
)
def test_bulk_headers_cannot_hide_a_high_harassment_score(
    labels: str, scores: dict[str, float], rules: QueueRules, queued: bool, reason: str
) -> None:
    assert queue_rule(labels, "inbound", True, rules, scores) == (queued, reason)


def test_high_score_settings_are_read_and_checked(tmp_path: Path) -> None:
    config = tmp_path / "mailguard.toml"
    config.write_text("[queue]\nhigh_score = 0.8\nhigh_score_labels = ['race', 'sexual']\n"
                      "[score]\nmessage_seconds = 2.5\nkeep_days = 30\n")
    settings, _ = load_score_settings(config, {"out": tmp_path / "o"})
    assert settings.queue.high_score == 0.8 and settings.queue.high_score_labels == {"race", "sexual"}
    assert settings.message_seconds == 2.5 and settings.keep_days == 30
    defaults, _ = load_score_settings(None, {"out": tmp_path / "o"})
    assert defaults.queue.high_score == 0.9 and "solicitation" not in defaults.queue.high_score_labels
    assert defaults.message_seconds == 10.0 and defaults.keep_days == 0
    config.write_text("[queue]\nhigh_score_queues_bulk = false\n[score]\nmessage_seconds = 0\n")
    off, _ = load_score_settings(config, {"out": tmp_path / "o"})
    assert off.queue.high_score is None and off.message_seconds is None
    for bad in ("[queue]\nhigh_score = 1.5\n", "[score]\nmessage_seconds = -1\n", "[score]\nkeep_days = 'x'\n",
                "[queue]\nhigh_score_labels = ['spam']\n"):
        config.write_text(bad)
        with pytest.raises(ConfigError):
            load_score_settings(config, {"out": tmp_path / "o"})


class _Sleepy(LinearClassifier):
    """The tiny model, but scoring any window that mentions SLOWPOKE takes forever."""

    def predict_proba(self, X):  # type: ignore[no-untyped-def]
        X = list(X)
        if any("SLOWPOKE" in x for x in X):
            time.sleep(30)
        return super().predict_proba(X)


def test_a_message_over_its_scoring_budget_gets_a_timeout_row_and_the_batch_is_scored(tmp_path: Path) -> None:
    clf = load_classifier(tiny_model(tmp_path / "m"))
    clf.__class__ = _Sleepy
    model = LoadedModel(clf, version="v1")
    messages = [parse_message_bytes(f"Message-ID: <{i}@x>\nSubject: s\n\n{text}\n".encode(), f"src#{i}")
                for i, text in enumerate(["buy cheap watches now", "SLOWPOKE here", "lunch on monday"])]
    settings = ScoreSettings(out=tmp_path / "never", message_seconds=0.3)
    started = time.monotonic()
    frame = score_batch(messages, model, settings)
    assert time.monotonic() - started < 20
    assert list(frame.columns) == list(RESULT_COLUMNS) and list(frame["source"]) == ["src#0", "src#1", "src#2"]
    assert list(frame["status"]) == ["ok", "error", "ok"]
    assert frame.at[1, "error"] == "timeout: scoring the message took longer than 0.3 s"
    assert frame.loc[1, list(SCORE_COLUMNS)].isna().all() and not frame.at[1, "queue"]
    assert frame.at[0, "labels"] == "solicitation"  # the others keep their scores


def test_engine_and_ray_address_settings_are_checked(tmp_path: Path) -> None:
    config = tmp_path / "mailguard.toml"
    config.write_text('[score]\nengine = "spark"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="engine must be one of local, ray"):
        load_score_settings(config, {"out": tmp_path / "o"})
    config.write_text('[score]\nengine = "ray"\nray_address = "ray://head:10001"\nray_actor_gpus = 1\n',
                      encoding="utf-8")
    loaded, _ = load_score_settings(config, {"out": tmp_path / "o"})
    assert (loaded.engine, loaded.ray_address, loaded.ray_actor_gpus) == ("ray", "ray://head:10001", 1.0)
    with pytest.raises(ConfigError, match="ray_address must be auto, host:port or ray://host:port"):
        load_score_settings(config, {"out": tmp_path / "o", "ray_address": "head"})
    with pytest.raises(ConfigError, match="ray_actor_cpus must be a number above 0"):
        load_score_settings(config, {"out": tmp_path / "o", "ray_actor_cpus": 0})


def test_the_ray_engine_without_ray_installed_is_one_line_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from serve.scoring.runner import run_scoring

    monkeypatch.setitem(sys.modules, "serve.scoring.ray_engine", None)  # import fails as without the extra
    model = tiny_model(tmp_path / "m")
    with pytest.raises(ConfigError, match=r"the ray engine needs Ray: pip install 'mailguard\[ray\]'"):
        run_scoring([str(NIGHT)], ScoreSettings(out=tmp_path / "out", model=str(model), engine="ray"))


def test_scoring_workers_share_the_cores_instead_of_each_taking_them_all() -> None:
    from serve.scoring.runner import worker_threads

    assert worker_threads(1, cpus=2) == 2
    assert worker_threads(2, cpus=2) == 1
    assert worker_threads(3, cpus=16) == 5
    assert worker_threads(8, cpus=2) == 1  # never zero
