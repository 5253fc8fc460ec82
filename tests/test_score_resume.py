"""Crash safety: a nightly run killed at any moment resumes to exactly the rows of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from test_score_cli import tiny_model  # pytest puts tests/ on sys.path (no __init__.py)

from mailguard.taxonomy import SCORE_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
_TEXTS = (
    "Please find the agenda for the budget review attached.",
    "Buy cheap watches now, special discount offer just for you.",
    "The parking permits for next month are ready at the front desk.",
    "Send me sexy photos tonight.",
    "Lunch on Monday works for me, see you at noon.",
)


def write_mailbox(path: Path, n: int) -> Path:
    """Write an mbox of ``n`` distinct short staff messages."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(
                f"From staff{i % 40}@city.gov Sat Nov 28 09:00:00 2026\n"
                f"From: Staff {i % 40} <staff{i % 40}@city.gov>\nTo: team@city.gov\n"
                f"Subject: note {i}\nDate: Sat, 28 Nov 2026 {i % 24:02d}:{i % 60:02d}:00 +0000\n"
                f"Message-ID: <m{i}@city.gov>\n\n{_TEXTS[i % len(_TEXTS)]} Item {i}.\n\n"
            )
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("model") / "m")


def command(mbox: Path, out: Path, model: Path, workers: int = 1, batch: int = 25) -> list[str]:
    return [sys.executable, "-m", "mailguard.cli", "score", str(mbox), "--out", str(out), "--model", str(model),
            "--workers", str(workers), "--batch-size", str(batch), "--quiet"]


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def comparable(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "results.parquet").sort_values("source").reset_index(drop=True)


def test_sigkill_then_same_command_resumes_to_the_uninterrupted_result(tmp_path: Path, model_dir: Path) -> None:
    mbox = write_mailbox(tmp_path / "night.mbox", 1200)
    reference = tmp_path / "reference"
    assert run(command(mbox, reference, model_dir)).returncode == 0

    out = tmp_path / "out"
    proc = subprocess.Popen(command(mbox, out, model_dir), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "parts" / "part-000003.parquet").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "scorer never wrote its fourth part"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "run finished before it could be killed: make the mailbox bigger"
    assert not (out / "results.parquet").exists()

    resumed = run(command(mbox, out, model_dir)[:-1] + ["--log-format", "json"])
    assert resumed.returncode == 0, resumed.stderr
    finished = json.loads(next(line for line in resumed.stderr.splitlines() if '"run_finished"' in line))
    assert finished["skipped_done"] >= 75  # it resumed: the parts committed before the kill were kept
    assert finished["scored"] + finished["skipped_done"] == 1200
    got, want = comparable(out), comparable(reference)
    assert got["source"].is_unique and len(got) == 1200
    assert list(got["message_id"]) == list(want["message_id"])
    pd.testing.assert_frame_equal(got[list(SCORE_COLUMNS)], want[list(SCORE_COLUMNS)])
    assert list(got["labels"]) == list(want["labels"])


def test_worker_processes_give_the_same_rows_as_one_process(tmp_path: Path, model_dir: Path) -> None:
    mbox = write_mailbox(tmp_path / "night.mbox", 300)
    assert run(command(mbox, tmp_path / "one", model_dir, workers=1)).returncode == 0
    assert run(command(mbox, tmp_path / "two", model_dir, workers=2, batch=15)).returncode == 0
    one, two = pd.read_parquet(tmp_path / "one" / "results.parquet"), pd.read_parquet(tmp_path / "two" / "results.parquet")
    assert list(one["source"]) == list(two["source"])  # results keep input order, whatever the workers
    pd.testing.assert_frame_equal(one[list(SCORE_COLUMNS)], two[list(SCORE_COLUMNS)])
