"""Malformed mail never stops the nightly run: one row per message, each failure naming its cause."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from mailfuzz import malformed_messages, write_maildir  # tests/ is on sys.path (no __init__.py)
from test_score_cli import score, tiny_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("model") / "m")


def test_a_thousand_malformed_messages_give_a_thousand_rows_and_no_crash(tmp_path: Path, model_dir: Path) -> None:
    files = write_maildir(tmp_path / "fuzz", malformed_messages(seed=8, n=1000))
    res = score(tmp_path / "fuzz", "--out", tmp_path / "out", "--model", model_dir, "--workers", "1",
                "--batch-size", "100", "--quiet")
    assert res.exit_code in (0, 1), res.output  # 1: some messages were unreadable, which is expected here
    assert res.exception is None or isinstance(res.exception, SystemExit)
    frame = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert len(frame) == len(files) == 1000
    assert frame["source"].is_unique
    errors = frame[frame["status"] == "error"]
    assert len(errors) > 0, "the fuzz set should contain unreadable messages"
    assert errors["error"].map(lambda e: re.fullmatch(r"[a-z_]+: \S.*", e) is not None).all()
    assert (frame.loc[frame["status"] == "ok", "error"] == "").all()
