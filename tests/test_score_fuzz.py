"""Malformed mail never stops the nightly run: one row per message, each failure naming its cause."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from mailfuzz import (  # tests/ is on sys.path (no __init__.py)
    malformed_messages,
    malformed_rows,
    write_csv,
    write_hostile_entries,
    write_jsonl,
    write_maildir,
    write_parquet_files,
)
from test_score_cli import score, tiny_model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("model") / "m")


def test_a_thousand_malformed_messages_give_a_thousand_rows_and_no_crash(tmp_path: Path, model_dir: Path) -> None:
    files = write_maildir(tmp_path / "fuzz", malformed_messages(seed=8, n=1000))
    hostile = write_hostile_entries(tmp_path / "fuzz", tmp_path / "outside")  # FIFO, /dev/zero, links out
    rows = malformed_rows(seed=8, n=300)
    tables = {tmp_path / "rows.jsonl": write_jsonl(tmp_path / "rows.jsonl", rows[:100], seed=8),
              tmp_path / "rows.csv": write_csv(tmp_path / "rows.csv", rows[100:200], seed=8),
              **write_parquet_files(tmp_path / "pq", rows[200:])}
    res = score(tmp_path / "fuzz", *tables, "--out", tmp_path / "out", "--model", model_dir, "--workers", "1",
                "--batch-size", "100", "--quiet")
    assert res.exit_code in (0, 1), res.output  # 1: some messages were unreadable, which is expected here
    assert res.exception is None or isinstance(res.exception, SystemExit)
    frame = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert len(files) == 1000
    assert len(frame) == len(files) + len(hostile) + sum(tables.values())
    assert frame["source"].is_unique
    errors = frame[frame["status"] == "error"]
    assert len(errors) > 0, "the fuzz set should contain unreadable messages"
    assert errors["error"].map(lambda e: re.fullmatch(r"[a-z_]+: \S.*", e) is not None).all()
    assert (frame.loc[frame["status"] == "ok", "error"] == "").all()
    assert not frame["body"].str.contains("root:x:0:0").any()  # nothing read from outside the mail store
