"""The Ray engine (``mailguard score --engine ray``): the nightly scoring on a Ray cluster, through Ray Data.

A thin adapter around the pieces the local engine uses. This process (the driver) cuts the
inputs into shards (``mailguard.mail.inputs.plan_shards``); Ray Data runs ``read_shard`` and
``score_batch`` in a pool of actors, each loading the model once from the folder the driver
resolved; the results come back in input order and the driver commits them with the same
``Committer`` as the local engine (duplicates, part files, ledger). So the guarantees are the
local engine's: one row per message, nothing scored twice, resumable after the driver or a
worker is killed. See docs/scale-out.md for where inputs, model and outputs must live.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import ray
import ray.data
from ray._private.utils import read_ray_address

from mailguard.errors import ConfigError, MailguardError
from mailguard.mail.inputs import Shard, plan_shards
from mailguard.mail.message import Message
from mailguard.mail.readers import read_messages, read_shard
from models.registry import LoadedModel
from serve.scoring import outputs
from serve.scoring.batch import RESULT_COLUMNS, limit_compute_threads, results_frame, score_batch
from serve.scoring.commit import Committer, ItemRef
from serve.scoring.ledger import item_key
from serve.scoring.settings import ScoreSettings

#: Shards per actor at least, so that actors finishing early take more work (one big mailbox is cut too).
SHARDS_PER_ACTOR = 4
#: Input bytes per shard, at most and at least. A shard is Ray's unit of retry and the driver's unit of
#: checkpoint (an actor's rows for one shard come back as one block, committed as one part file): a driver killed
#: mid-run loses at most the shards in flight, so they stay small; below 64 KiB a task costs more than it reads.
MAX_SHARD_BYTES = 16 * 2**20
MIN_SHARD_BYTES = 64 * 2**10
#: Seconds an address given with --ray-address has to accept a connection before the run gives up (exit 2).
CONNECT_SECONDS = 10.0
# Columns an actor adds to each results row for the driver (dropped before anything is written).
_SHARD, _POS, _WHAT = "ray_shard", "ray_pos", "ray_disposition"
_READ_OK, _READ_CUT = "read_ok", "read_truncated"
# What became of a message an actor read: scored, already in the ledger, or dated outside --since/--until.
_SCORE, _DONE, _OUT = "score", "done", "out_of_window"


class RayEngine:
    """Scores on a Ray cluster: connects on ``with``, disconnects (or stops the Ray it started) after."""

    def __init__(self, settings: ScoreSettings, model: LoadedModel) -> None:
        self.settings, self.model = settings, model
        self._connected_here = False

    def __enter__(self) -> RayEngine:
        self._connected_here = connect(self.settings.ray_address)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._connected_here:
            ray.shutdown()

    def score(self, paths: Sequence[Path], committer: Committer, progress: Callable[..., None]) -> None:
        """Score every message of ``paths`` on the cluster; commit the results here, in input order."""
        for path in paths:  # an input that cannot be opened stops the run now, before any work (exit 2)
            read_messages(path)
        actors = self.settings.workers
        total = sum(p.stat().st_size for p in paths if p.is_file())
        shards = plan_shards(paths, max(MIN_SHARD_BYTES, min(MAX_SHARD_BYTES, total // (SHARDS_PER_ACTOR * actors))))
        if shards:
            watermarks: dict[int, int] = {}
            for table in self._results(shards, committer):
                _commit_block(table, committer, watermarks)
                progress()
        progress(True)

    def _results(self, shards: list[Shard], committer: Committer) -> Iterator[pa.Table]:
        """Yield the actors' results tables, in input order."""
        settings, model = self.settings, self.model
        capacity = int(ray.available_resources().get("CPU", 0) // settings.ray_actor_cpus)
        if settings.ray_actor_gpus:
            capacity = min(capacity, int(ray.available_resources().get("GPU", 0) // settings.ray_actor_gpus))
        remote: dict[str, Any] = {"num_cpus": settings.ray_actor_cpus}
        if settings.ray_actor_gpus:
            remote["num_gpus"] = settings.ray_actor_gpus
        most = min(settings.workers, len(shards))  # an actor without a shard would only load the model
        items = ray.data.from_items([{"shard": i} for i in range(len(shards))], override_num_blocks=len(shards))
        dataset = items.map_batches(
            _ShardScorer,
            batch_size=1,
            batch_format="numpy",
            # Start with what the cluster holds now; an autoscaling cluster may grow to ``workers`` actors.
            compute=ray.data.ActorPoolStrategy(min_size=max(1, min(most, capacity)), max_size=most),
            fn_constructor_kwargs={
                "model_path": str(model.path), "version": model.version, "run_id": model.run_id,
                # Ray Data puts these in the object store once; an actor reads the done keys in place (numpy).
                "settings": settings, "shards": shards, "done": _done_keys(committer),
            },
            **remote,
        )
        context = dataset.context
        context.execution_options.preserve_order = True  # commits in input order: first copies stay first
        context.enable_progress_bars = False  # our own progress bar and log lines report the run
        context.print_on_execution_start = False
        blocks = iter(dataset.iter_batches(batch_size=None, batch_format="pyarrow"))
        while True:
            try:
                table = next(blocks)
            except StopIteration:
                return
            except MailguardError:
                raise
            except Exception as e:  # Ray wraps a worker's failure in its own exception types
                raise MailguardError(f"the Ray engine failed: {_first_line(e)}; "
                                     "run the same command again to resume") from e
            yield table


def connect(address: str) -> bool:
    """Connect this process to Ray at ``address`` ("" starts Ray here); return whether this call connected.

    An existing connection (a notebook, a test) is used as it is. Raises ``ConfigError``
    with one line when the cluster cannot be reached.
    """
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address:
        # Ray itself waits minutes on a cluster that is gone (a stale /tmp/ray/ray_current_cluster
        # or RAY_ADDRESS included): look first, so a wrong address is one line and exit 2.
        _check_reachable(_cluster_address(address), address)
    else:
        options["include_dashboard"] = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # Ray Data's per-run INFO lines are not ours to print
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)  # "progress bars disabled": we did
    try:
        # "local": a new instance on this machine, never a cluster some earlier `ray start` left behind.
        ray.init(address=address or "local", **options)
    except Exception as e:  # ConnectionError, RuntimeError, ValueError: Ray raises whatever its check found
        raise ConfigError(f"cannot connect to Ray at {address or 'a new local Ray instance'}: {_first_line(e)}") from e
    return True


def _cluster_address(address: str) -> str:
    """Return the host:port that ``address`` names; "auto" is RAY_ADDRESS or the cluster `ray start` last started."""
    if address != "auto":
        return address
    found = os.environ.get("RAY_ADDRESS") or read_ray_address()
    if not found or found == "auto":
        raise ConfigError("no Ray cluster found for ray_address auto: start one (ray start --head), "
                          "set RAY_ADDRESS, or give --ray-address host:port")
    return found


def _check_reachable(address: str, given: str) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()
    except (OSError, ValueError) as e:
        why = getattr(e, "strerror", None) or str(e) or type(e).__name__
        named = address if address == given else f"{address} ({given})"
        raise ConfigError(f"cannot reach the Ray cluster at {named}: {why}; start it (ray start --head) "
                          "or fix --ray-address / ray_address") from e


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _done_keys(committer: Committer) -> np.ndarray:
    """Return the ledger's done item keys as a sorted array of digests, for the actors to skip."""
    keys = np.array([bytes.fromhex(k) for k in committer.done_keys()], dtype="S32")
    keys.sort()
    return keys


def _commit_block(table: pa.Table, committer: Committer, watermarks: dict[int, int]) -> None:
    """Count one block of actor rows and commit its scored rows; rows seen before (a retried shard) are dropped.

    Rows of one shard arrive in reading order, so a shard's highest position committed so far
    tells what a retried actor task delivers again.
    """
    shards = table[_SHARD].to_numpy()
    positions = table[_POS].to_numpy()
    fresh = np.array([p > watermarks.get(int(s), -1) for s, p in zip(shards, positions, strict=True)], dtype=bool)
    for s in np.unique(shards[fresh]):
        watermarks[int(s)] = int(positions[fresh & (shards == s)].max())
    table = table.filter(pa.array(fresh))
    what = table[_WHAT].to_numpy(zero_copy_only=False)
    undated = table["date"].is_null().to_numpy(zero_copy_only=False)
    stats = committer.stats
    stats.read += table.num_rows
    stats.out_of_window += int((what == _OUT).sum())
    stats.undated += int((undated & (what != _OUT)).sum())
    stats.skipped_done += int((what == _DONE).sum())
    scored = table.filter(pc.equal(table[_WHAT], _SCORE))
    if scored.num_rows == 0:
        return
    refs = [ItemRef(s, m, h, ok, cut) for s, m, h, ok, cut in zip(
        *(scored[c].to_pylist() for c in ("source", "message_id", "content_hash", _READ_OK, _READ_CUT)), strict=True)]
    committer.commit(results_frame(scored.select(list(RESULT_COLUMNS)).to_pylist()), refs, claim=True)


class _ShardScorer:
    """One Ray actor: loads the model once, then reads and scores whole shards, one results table per batch."""

    def __init__(self, model_path: str, version: str, run_id: str, settings: ScoreSettings, shards: list[Shard],
                 done: np.ndarray) -> None:
        from models.saved import load_classifier

        self.settings = settings
        self.shards, self.done = shards, done
        classifier = load_classifier(model_path)
        limit_compute_threads(max(1, int(settings.ray_actor_cpus)))
        if settings.ray_actor_gpus:
            _use_gpu(classifier)
        self.model = LoadedModel(classifier, version, run_id, Path(model_path))

    def __call__(self, batch: dict[str, np.ndarray]) -> Iterator[pa.Table]:
        for index in batch["shard"]:
            yield from self._score_shard(int(index))

    def _score_shard(self, index: int) -> Iterator[pa.Table]:
        """Yield results tables for shard ``index``: every message read gets a row (scored, done or out of window)."""
        todo: list[tuple[int, Message]] = []
        skipped: list[tuple[int, Message, str]] = []
        size = self.settings.batch_size
        for pos, msg in enumerate(read_shard(self.shards[index], message_seconds=self.settings.message_seconds)):
            if not self.settings.admits(msg.date):
                skipped.append((pos, msg, _OUT))
            elif self._is_done(msg):
                skipped.append((pos, msg, _DONE))
            else:
                todo.append((pos, msg))
            if len(todo) >= size or len(todo) + len(skipped) >= 8 * size:
                yield self._table(index, todo, skipped)
                todo, skipped = [], []
        if todo or skipped:
            yield self._table(index, todo, skipped)

    def _is_done(self, msg: Message) -> bool:
        if not len(self.done):
            return False
        key = np.array([bytes.fromhex(item_key(msg.source, msg.message_id, msg.content_hash))], dtype="S32")
        at = min(int(np.searchsorted(self.done, key[0])), len(self.done) - 1)
        return bool(self.done[at : at + 1] == key)  # compared as arrays: a digest may end in NUL bytes

    def _table(self, index: int, todo: list[tuple[int, Message]], skipped: list[tuple[int, Message, str]]) -> pa.Table:
        """Return the rows of one batch in reading order, with what the driver needs to commit them."""
        scored = score_batch([m for _, m in todo], self.model, self.settings) if todo else results_frame([])
        marks = results_frame([{"message_id": m.message_id, "source": m.source, "status": m.status, "date": m.date,
                                "content_hash": m.content_hash} for _, m, _ in skipped])
        rows = [(p, m, _SCORE) for p, m in todo] + skipped
        frame = pd.concat([scored, marks], ignore_index=True) if len(marks) else scored
        order = np.argsort([p for p, _, _ in rows], kind="stable")
        table = outputs.to_arrow(frame.iloc[order].reset_index(drop=True))
        rows = [rows[i] for i in order]
        extra = {
            _SHARD: pa.array([index] * len(rows), pa.int64()),
            _POS: pa.array([p for p, _, _ in rows], pa.int64()),
            _WHAT: pa.array([w for _, _, w in rows], pa.string()),
            _READ_OK: pa.array([m.status == "ok" for _, m, _ in rows], pa.bool_()),
            _READ_CUT: pa.array([m.truncated for _, m, _ in rows], pa.bool_()),
        }
        for name, column in extra.items():
            table = table.append_column(name, column)
        return table


def _use_gpu(classifier: Any) -> None:
    """Move a torch model to this actor's GPU (Ray sets CUDA_VISIBLE_DEVICES); other families stay as they are."""
    network: Any = getattr(classifier, "model_", None)
    if hasattr(classifier, "device") and hasattr(network, "to"):
        classifier.device = "cuda"
        classifier.model_ = network.to("cuda")
