"""The Ray engine gives the local engine's results: same rows, same scores, same ledger (issue 15).

One local Ray instance (2 CPUs) is started for the whole module; each test scores a few
hundred messages cut into several shards (mbox byte ranges, Parquet row groups).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_score_cli import tiny_model  # pytest puts tests/ on sys.path (no __init__.py)
from test_score_resume import ROOT, write_mailbox
from typer.testing import CliRunner

from mailguard.cli.app import app
from mailguard.taxonomy import SCORE_COLUMNS
from serve.scoring.runner import ScoreOutcome, run_scoring
from serve.scoring.settings import ScoreSettings

ray = pytest.importorskip("ray", reason="the Ray engine needs the extra: pip install 'mailguard[ray]'")
ray_engine = pytest.importorskip("serve.scoring.ray_engine")


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """Start one local Ray instance for the module (the engine uses a connection it finds as it is)."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("model") / "m")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Return 240 mbox messages, 20 copies of some of them, a 60-row Parquet export and 4 JSONL rows, 3 of them bad."""
    root = tmp_path_factory.mktemp("inputs")
    night = write_mailbox(root / "night.mbox", 240)
    text = night.read_text(encoding="utf-8")
    first_twenty = text[: text.index("From staff20@")]
    (root / "copies.mbox").write_text(first_twenty, encoding="utf-8")  # same Message-ID and content: duplicates
    rows = [{"message_id": f"<x{i}@city.gov>", "from": "clerk@city.gov", "to": "hr@city.gov",
             "subject": f"row {i}", "date": f"2026-11-28T10:{i % 60:02d}:00Z",
             "body": "Buy cheap watches now, special discount." if i % 4 == 0 else f"Minutes of meeting {i}."}
            for i in range(60)]
    pq.write_table(pa.Table.from_pylist(rows), root / "export.parquet", row_group_size=10)
    bad = root / "bad.jsonl"  # after one good row, rows that are error rows, never exceptions
    bad.write_text('{"message_id": "<b0@city.gov>", "body": "Lunch at noon."}\n{not json\n[1, 2]\n'
                   '{"message_id": "<b3@city.gov>", "subject": "no body"}\n', encoding="utf-8")
    return [night, root / "copies.mbox", root / "export.parquet", bad]


@pytest.fixture(autouse=True)
def small_shards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut these small inputs into many shards, as a big input is cut on a cluster."""
    monkeypatch.setattr(ray_engine, "MIN_SHARD_BYTES", 4096)


def settings(out: Path, model: Path, engine: str) -> ScoreSettings:
    return ScoreSettings(model=str(model), out=out, workers=2 if engine == "ray" else 1, batch_size=16,
                         engine=engine, log_format="json", quiet=True)


def score(inputs: list[Path], out: Path, model: Path, engine: str) -> ScoreOutcome:
    return run_scoring([str(p) for p in inputs], settings(out, model, engine))


def table(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "results.parquet").sort_values("source").reset_index(drop=True)


def assert_same_results(local: pd.DataFrame, ray_rows: pd.DataFrame) -> None:
    assert list(ray_rows.columns) == list(local.columns)
    assert ray_rows["source"].tolist() == local["source"].tolist()  # same rows, one per message
    np.testing.assert_allclose(ray_rows[list(SCORE_COLUMNS)].to_numpy(float),
                               local[list(SCORE_COLUMNS)].to_numpy(float), atol=1e-6, rtol=0)
    others = [c for c in local.columns if c not in SCORE_COLUMNS and c != "run_id"]
    pd.testing.assert_frame_equal(ray_rows[others], local[others])


@pytest.fixture(scope="module")
def local_reference(inputs: list[Path], model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("local") / "out"
    score(inputs, out, model_dir, "local")
    return table(out)


def test_ray_engine_gives_the_local_engines_rows_scores_and_error_rows(
    inputs: list[Path], model_dir: Path, local_reference: pd.DataFrame, tmp_path: Path
) -> None:
    outcome = score(inputs, tmp_path / "out", model_dir, "ray")
    rows = table(tmp_path / "out")
    assert len(rows) == 240 + 20 + 60 + 4 == outcome.rows
    assert outcome.stats.parts_written > 3  # it really ran as several shards
    assert_same_results(local_reference, rows)
    assert (rows["status"] == "error").sum() == 3 and (rows["duplicate_of"] != "").sum() == 20
    csv = pd.read_csv(tmp_path / "out" / "results.csv", dtype=str, keep_default_na=False)
    assert len(csv) == len(rows)
    assert outcome.summary["this_run"]["read"] == len(rows) and outcome.summary["engine"] == "ray"


def test_rerun_scores_nothing_twice_whichever_engine_scored_first(
    inputs: list[Path], model_dir: Path, local_reference: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    score(inputs, out, model_dir, "ray")
    again = score(inputs, out, model_dir, "ray")
    assert again.stats.scored == 0 and again.stats.skipped_done == len(local_reference)
    assert_same_results(local_reference, table(out))

    local_out = tmp_path / "local"  # the ledger is the same: a folder the local engine filled is done for Ray
    score(inputs, local_out, model_dir, "local")
    assert score(inputs, local_out, model_dir, "ray").stats.scored == 0


def _scoring_actors() -> list[str]:
    """Return the ids of the live scoring actors (from the GCS table: the state API needs a dashboard)."""
    from ray._private.state import actors

    return [a["ActorID"] for a in actors().values() if a["State"] == "ALIVE" and "_ShardScorer" in a["ActorClassName"]]


def test_an_actor_killed_mid_run_still_ends_with_one_row_per_message(
    inputs: list[Path], model_dir: Path, local_reference: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    killed: list[bool] = []

    def kill_one_actor() -> None:
        deadline = time.monotonic() + 120
        actors: list[str] = []
        while not actors or not (out / "parts" / "part-000000.parquet").exists():  # one shard in, most to go
            if time.monotonic() > deadline or (out / "results.parquet").exists():
                return
            actors = actors or _scoring_actors()  # looked up early: the pool is gone once the run ends
            time.sleep(0.005)
        if not (out / "results.parquet").exists():
            # Ray Data's actors are unnamed: a handle from the actor's id (private API, pinned Ray version).
            worker = ray._private.worker.global_worker
            ray.kill(worker.core_worker.get_actor_handle(ray.ActorID.from_hex(actors[0])), no_restart=False)
            killed.append(True)

    killer = threading.Thread(target=kill_one_actor)
    killer.start()
    outcome = score(inputs, out, model_dir, "ray")  # Ray restarts the actor and retries its shard
    killer.join()
    assert killed, "the run finished before an actor could be killed: give it more messages"
    rows = table(out)
    assert outcome.stats.read == outcome.stats.scored == len(rows)  # a retried shard's rows counted once
    assert rows["source"].is_unique and len(rows) == len(local_reference)
    assert_same_results(local_reference, rows)


def test_a_driver_killed_mid_run_resumes_on_the_same_cluster_to_the_local_rows(
    model_dir: Path, tmp_path: Path
) -> None:
    mbox = write_mailbox(tmp_path / "night.mbox", 1200)
    reference = tmp_path / "reference"
    score([mbox], reference, model_dir, "local")
    # The driver is a separate command joining this module's cluster, as on a real one.
    command = [sys.executable, "-m", "mailguard.cli", "score", str(mbox), "--out", str(tmp_path / "out"), "--model",
               str(model_dir), "--engine", "ray", "--ray-address", ray.get_runtime_context().gcs_address,
               "--workers", "2", "--batch-size", "25", "--quiet"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    # A second part file means the first is in the ledger (a part is written, then committed).
    while not (tmp_path / "out" / "parts" / "part-000001.parquet").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "the driver never committed a shard"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed: make the mailbox bigger"

    resumed = subprocess.run([*command[:-1], "--log-format", "json"], cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    finished = json.loads(next(line for line in resumed.stderr.splitlines() if '"run_finished"' in line))
    assert finished["skipped_done"] > 0  # the shards committed before the kill were kept, not scored again
    assert_same_results(table(reference), table(tmp_path / "out"))


@pytest.mark.parametrize("address", ["127.0.0.1:9", "ray://127.0.0.1:9"])
def test_an_unreachable_ray_address_is_one_line_and_exit_2(
    address: str, inputs: list[Path], model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as if this process had no Ray yet
    res = CliRunner().invoke(app, ["score", str(inputs[0]), "--out", str(tmp_path / "out"), "--model",
                                   str(model_dir), "--engine", "ray", "--ray-address", address, "--quiet"])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error: cannot reach the Ray cluster at") and res.output.count("\n") == 1


def test_a_malformed_ray_address_is_refused_before_anything_runs(model_dir: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["score", str(tmp_path), "--out", str(tmp_path / "out"), "--model",
                                   str(model_dir), "--engine", "ray", "--ray-address", "not an address"])
    assert res.exit_code == 2 and "ray_address must be" in res.output and res.output.count("\n") == 1


def test_auto_without_a_cluster_is_one_line_and_exit_2(
    inputs: list[Path], model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray_engine, "read_ray_address", lambda: None)
    res = CliRunner().invoke(app, ["score", str(inputs[0]), "--out", str(tmp_path / "out"), "--model",
                                   str(model_dir), "--engine", "ray", "--ray-address", "auto"])
    assert res.exit_code == 2 and "no Ray cluster found" in res.output and res.output.count("\n") == 1
