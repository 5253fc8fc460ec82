"""Streaming, restartable scoring of logged mail into an output folder.

Messages flow from the readers in batches through an engine into part files;
memory holds only the batches in flight. The local engine (here) reads in this
process and scores in worker processes; the Ray engine (``ray_engine.py``) reads and
scores on a Ray cluster. Both hand their results to the same ``Committer``: a SQLite
ledger records which input items are done, so the same command after a crash (even
``kill -9``) resumes, and a second run with the same model scores nothing again.
"""

from __future__ import annotations

import fcntl
import logging
import multiprocessing
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from mailguard.errors import ConfigError, InputError, MailguardError
from mailguard.mail import iter_inputs, read_messages
from mailguard.mail.message import Message
from models.registry import LoadedModel, resolve_model
from serve.scoring import outputs
from serve.scoring.batch import limit_compute_threads, score_batch
from serve.scoring.commit import Committer, ItemRef, RunStats
from serve.scoring.ledger import Ledger, item_key
from serve.scoring.logs import event
from serve.scoring.progress import ProgressInfo
from serve.scoring.report import write_reports
from serve.scoring.retention import remove_old_results
from serve.scoring.settings import ScoreSettings

ProgressCallback = Callable[[ProgressInfo, bool], None]
#: ``load_results(results, db_url) -> counts``: how results reach the review database (injected by the CLI).
ReviewLoader = Callable[[pd.DataFrame, str], dict[str, int]]

#: Batches queued per worker beyond the one it is scoring: keeps workers busy, memory bounded.
IN_FLIGHT_PER_WORKER = 2


class ScoringEngine(Protocol):
    """Reads and scores ``paths``, handing every results batch to ``committer`` in input order."""

    def score(self, paths: Sequence[Path], committer: Committer, progress: Callable[..., None]) -> None:
        """Score every message of ``paths``; call ``progress()`` now and then and ``progress(True)`` at the end."""


@dataclass(frozen=True)
class ScoreOutcome:
    """The result of a scoring run: where it wrote, and the counts behind its exit code."""

    out: Path
    rows: int
    error_rows: int
    stats: RunStats
    summary: dict[str, Any]
    review_counts: dict[str, int] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """Return 0 when every message was scored, 1 when some could not be (they still have a row)."""
        return 1 if self.error_rows else 0


def run_scoring(
    inputs: Sequence[str],
    settings: ScoreSettings,
    on_progress: ProgressCallback | None = None,
    load_results: ReviewLoader | None = None,
) -> ScoreOutcome:
    """Score every message of ``inputs`` (paths or globs) into ``settings.out``; return the outcome.

    ``load_results(results, db_url)`` loads the results into the review database when
    ``settings.review_db`` is set (the CLI passes the review app's loader; scoring does not know it).
    Raises a ``MailguardError`` when the run cannot proceed: no input, unknown
    model, output folder in use or not ours (``OutputError``), review database unusable.
    """
    paths = _unique(iter_inputs(list(inputs)))
    outputs.check_output_folder(settings.out)
    if settings.review_db and load_results is None:
        raise ConfigError("a review database is set but no review loader was given to the scoring run")
    load_results = load_results if settings.review_db else None
    model = _resolve(settings.model)
    try:
        with _open_engine(settings, model) as engine:
            return _score_into(paths, settings, model, engine, load_results, on_progress)
    except OSError as e:  # disk full, folder not writable: IT fixes the cause and re-runs to resume
        where = e.filename or settings.out
        raise MailguardError(
            f"cannot write results under {where}: {e.strerror or e}; fix it and run the same command again to resume"
        ) from e
    except sqlite3.Error as e:  # the checkpoint ledger: disk full, or a corrupt file
        raise MailguardError(
            f"cannot update the checkpoint in {settings.out / outputs.STATE}: {e}; fix it and run the same command "
            "again (or delete that output folder to start over)"
        ) from e


def _score_into(
    paths: list[Path],
    settings: ScoreSettings,
    model: LoadedModel,
    engine: ScoringEngine,
    load_results: Callable[[pd.DataFrame, str], dict[str, int]] | None,
    on_progress: ProgressCallback | None,
) -> ScoreOutcome:
    started = time.monotonic()
    started_at = datetime.now(UTC)
    out = outputs.private_dir(settings.out)
    outputs.private_dir(out / outputs.PARTS)
    state = outputs.private_dir(out / outputs.STATE)
    with _exclusive(state / "lock", out):
        ledger = Ledger(state / "ledger.sqlite")
        try:
            stats = RunStats()
            stats.stale_files_removed = len(outputs.prune_parts(out, set(ledger.parts()), ledger.next_part()))
            generation = ledger.start_generation(settings.rescore)
            event("run_started", inputs=len(paths), model_version=model.version, engine=settings.engine,
                  workers=settings.workers, batch_size=settings.batch_size, out=str(out), rescore=settings.rescore,
                  since=settings.since, until=settings.until, resumed_parts=len(ledger.parts()))
            if stats.stale_files_removed:  # left by a killed run, or superseded by a rescore
                event("stale_files_removed", count=stats.stale_files_removed)
            total = _estimate(paths) if on_progress is not None else None
            committer = Committer(ledger, out, model.version, generation, stats)
            engine.score(paths, committer, lambda final=False: _report_progress(on_progress, stats, total, started,
                                                                                final))
            rows = outputs.build_results(out, ledger.parts(), _current_rows(ledger))
            outputs.prune_parts(out, set(ledger.parts()), ledger.next_part())  # drop parts a rescore superseded
            stats.elapsed_seconds = time.monotonic() - started
            info = _run_info(settings, model, stats, paths, started_at)
            summary = write_reports(out, info)  # before loading: a database outage still leaves the report
            review_counts: dict[str, int] = {}
            if load_results is not None:
                review_counts = _load_review(out, settings.review_db, load_results)
                summary = write_reports(out, {**info, "review_db_loaded": review_counts})
            ledger.finish_generation()
        finally:
            ledger.close()
    _apply_retention(settings, out)
    error_rows = int(summary["totals"]["errors"])
    event("run_finished", rows=rows, scored=stats.scored, skipped_done=stats.skipped_done, errors=error_rows,
          queued=summary["totals"]["queued"], messages_per_second=summary["messages_per_second"],
          elapsed_seconds=round(stats.elapsed_seconds, 2))
    if error_rows:
        event("messages_failed", level=logging.WARNING, errors=error_rows, errors_by_kind=summary["errors_by_kind"])
    return ScoreOutcome(out, rows, error_rows, stats, summary, review_counts)


# -- model and workers --------------------------------------------------------------------------------


def _resolve(spec: str) -> LoadedModel:
    resolved = resolve_model(spec)
    if resolved.path is None:  # resolve_model always gives the folder; workers load their own copy from it
        raise MailguardError(f"model {spec} has no saved folder to give the scoring workers")
    return resolved


def _open_engine(settings: ScoreSettings, model: LoadedModel) -> AbstractContextManager[ScoringEngine]:
    """Return the engine of ``settings.engine``, ready to score (a Ray engine connects to its cluster here)."""
    if settings.engine != "ray":
        return nullcontext(_LocalEngine(settings, model))
    try:
        from serve.scoring.ray_engine import RayEngine
    except ImportError as e:  # the optional extra is not installed
        raise ConfigError(f"the ray engine needs Ray: pip install 'mailguard[ray]' ({e})") from e
    return RayEngine(settings, model)


_WORKER_MODEL: LoadedModel | None = None  # one loaded model per worker process (set by the initializer)


def worker_threads(workers: int, cpus: int | None = None) -> int:
    """Return the compute threads each of ``workers`` scoring processes may use: the cores shared out, at least 1.

    A transformer saved with ``num_threads=2`` in each of two workers would run four threads on two
    cores; oversubscribed, two workers scored slower than one (bench/results/scoring_segments.json).
    """
    return max(1, (cpus or os.cpu_count() or 1) // max(1, workers))


def _init_worker(model_path: str, version: str, run_id: str, main_pid: int, threads: int) -> None:
    from models.saved import load_classifier

    global _WORKER_MODEL
    _WORKER_MODEL = LoadedModel(load_classifier(model_path), version, run_id)
    limit_compute_threads(threads)
    threading.Thread(target=_exit_with, args=(main_pid,), daemon=True, name="watch-main").start()


def _exit_with(main_pid: int) -> None:
    """End this worker once the main process is gone (killed with -9, it cannot tell its workers)."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(main_pid, 0)
        except ProcessLookupError:
            os._exit(3)
        except PermissionError:  # the pid was reused by another user's process: ours is gone
            os._exit(3)


def _score_in_worker(messages: list[Message], settings: ScoreSettings, dups: list[str]) -> pd.DataFrame:
    if _WORKER_MODEL is None:  # only if the initializer failed, which the pool reports first
        raise RuntimeError("scoring worker has no model")
    return score_batch(messages, _WORKER_MODEL, settings, dups)


class _LocalEngine:
    """This machine's engine: reads in this process, scores in a pool of worker processes (one model each)."""

    def __init__(self, settings: ScoreSettings, model: LoadedModel) -> None:
        self.settings, self.model = settings, model

    def score(self, paths: Sequence[Path], committer: Committer, progress: Callable[..., None]) -> None:
        """Score every message of ``paths`` into ``committer``, in input order."""
        with _BatchPool(self.settings, self.model) as pool:
            _Pipeline(committer, pool, self.settings).run(_in_window(paths, self.settings, committer.stats), progress)


class _BatchPool:
    """Runs ``score_batch`` in-process (one worker) or in a pool of processes, one model each."""

    def __init__(self, settings: ScoreSettings, model: LoadedModel) -> None:
        self.settings, self.model = settings, model
        self.capacity = settings.workers * (1 + IN_FLIGHT_PER_WORKER) if settings.workers > 1 else 1
        self._pool: ProcessPoolExecutor | None = None
        if settings.workers > 1:
            # forkserver: workers start from a clean process, not a fork of one holding SQLite and threads.
            self._pool = ProcessPoolExecutor(
                max_workers=settings.workers, mp_context=multiprocessing.get_context("forkserver"),
                initializer=_init_worker, initargs=(str(model.path), model.version, model.run_id, os.getpid(),
                          worker_threads(settings.workers)),
            )

    def submit(self, messages: list[Message], dups: list[str]) -> Future[pd.DataFrame]:
        """Return a future of the scored batch."""
        if self._pool is not None:
            return self._pool.submit(_score_in_worker, messages, self.settings, dups)
        done: Future[pd.DataFrame] = Future()
        done.set_result(score_batch(messages, self.model, self.settings, dups))
        return done

    def __enter__(self) -> _BatchPool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


# -- the pipeline --------------------------------------------------------------------------------------


class _Pipeline:
    """Batches messages, skips done ones, marks duplicates before scoring, and commits results in input order."""

    def __init__(self, committer: Committer, pool: _BatchPool, settings: ScoreSettings) -> None:
        self.committer, self.pool, self.settings = committer, pool, settings
        self.pending: deque[tuple[Future[pd.DataFrame], list[Message]]] = deque()

    def run(self, messages: Iterable[Message], progress: Callable[..., None]) -> None:
        size = self.settings.batch_size
        batch: list[Message] = []
        for chunk in _chunks(messages, size):
            keys = [item_key(m.source, m.message_id, m.content_hash) for m in chunk]
            done = self.committer.done(keys)
            self.committer.stats.skipped_done += len(done)
            batch.extend(m for m, k in zip(chunk, keys, strict=True) if k not in done)
            while len(batch) >= size:
                self._dispatch(batch[:size])
                batch = batch[size:]
            progress()
        if batch:
            self._dispatch(batch)
        self._drain(0)
        progress(True)

    def _dispatch(self, messages: list[Message]) -> None:
        self._drain(self.pool.capacity - 1)
        dups = [self.committer.first_copy(ItemRef.of(m)) for m in messages]  # a duplicate is never scored
        try:
            future = self.pool.submit(messages, dups)
        except BrokenProcessPool as e:
            raise MailguardError("a scoring worker died (out of memory?); run the same command again to resume") from e
        self.pending.append((future, messages))

    def _drain(self, keep: int) -> None:
        while len(self.pending) > keep:
            future, messages = self.pending.popleft()
            try:
                frame = future.result()
            except BrokenProcessPool as e:
                raise MailguardError(
                    "a scoring worker died (out of memory?); run the same command again to resume"
                ) from e
            self.committer.commit(frame, [ItemRef.of(m) for m in messages])


def _current_rows(ledger: Ledger) -> Callable[[int, pd.DataFrame], pd.Series]:
    def keep(number: int, frame: pd.DataFrame) -> pd.Series:
        current = ledger.current_in_part(number)
        keys = pd.Series(
            [item_key(s, m, h) for s, m, h in zip(frame["source"], frame["message_id"], frame["content_hash"],
                                                   strict=True)],
            index=frame.index,
        )
        return keys.isin(current) & ~keys.duplicated()

    return keep


# -- inputs ----------------------------------------------------------------------------------------------


def _unique(paths: Iterable[Path]) -> list[Path]:
    """Return ``paths`` made absolute, without repeats: a message's ``source`` (part of its checkpoint
    key) must not depend on the directory the command was started from."""
    seen: set[Path] = set()
    out = []
    for p in paths:
        absolute = Path(os.path.abspath(p))
        if absolute.resolve() not in seen:
            seen.add(absolute.resolve())
            out.append(absolute)
    return out


def _in_window(paths: Sequence[Path], settings: ScoreSettings, stats: RunStats) -> Iterator[Message]:
    """Yield the messages of ``paths`` dated inside [since, until); undated messages are kept and counted."""
    for path in paths:
        for msg in read_messages(path, message_seconds=settings.message_seconds):
            stats.read += 1
            if msg.date is None:
                stats.undated += 1
            if not settings.admits(msg.date):
                stats.out_of_window += 1
                continue
            yield msg


def _chunks(items: Iterable[Message], size: int) -> Iterator[list[Message]]:
    chunk: list[Message] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _estimate(paths: Sequence[Path]) -> int | None:
    from serve.scoring.progress import estimate_total

    try:
        return estimate_total(paths)
    except (OSError, MailguardError):  # only a progress estimate: the readers report the real problem
        return None


def _report_progress(on_progress: ProgressCallback | None, stats: RunStats, total: int | None, started: float,
                     final: bool) -> None:
    if on_progress is not None:
        info = ProgressInfo(read=stats.read, scored=stats.scored, total=total, elapsed=time.monotonic() - started)
        on_progress(info, final)


# -- locking, review database, run info ------------------------------------------------------------------


class _exclusive:
    """Hold an exclusive lock on the output folder so two runs never write into it at once."""

    def __init__(self, lock_path: Path, out: Path) -> None:
        self.lock_path, self.out = lock_path, out

    def __enter__(self) -> None:
        self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, outputs.FILE_MODE)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            os.close(self._fd)
            raise InputError(f"output folder {self.out} is in use by another `mailguard score` run") from e

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def _apply_retention(settings: ScoreSettings, out: Path) -> None:
    """Delete nightly day folders beside ``out`` older than ``keep_days``, and log the counts."""
    if settings.keep_days < 1:
        return
    removed = remove_old_results(out.parent, settings.keep_days, date.today(), out)
    if removed.folders or removed.kept_in_use or removed.kept_foreign:
        event("old_results_removed", keep_days=settings.keep_days, folders=removed.folders,
              messages=removed.messages, files=removed.files, kept_in_use=removed.kept_in_use,
              kept_not_mailguard=removed.kept_foreign)


def _load_review(out: Path, db_url: str, load_results: Callable[[pd.DataFrame, str], dict[str, int]]) -> dict[str, int]:
    """Upsert the results into the review database in slices; return the loader's summed counts."""
    import pyarrow.parquet as pq

    totals: dict[str, int] = {}
    results = pq.ParquetFile(out / outputs.RESULTS_PARQUET)
    for batch in results.iter_batches(batch_size=5000):
        try:
            counts = load_results(batch.to_pandas(), db_url)
        except MailguardError:
            raise
        except Exception as e:  # driver errors (SQLAlchemy, psycopg) have no common base we can name here
            raise ConfigError(f"cannot load results into the review database: {type(e).__name__}: {e}") from e
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + int(value)
    event("review_loaded", **totals)
    return totals


def _run_info(settings: ScoreSettings, model: LoadedModel, stats: RunStats, paths: Sequence[Path],
              started_at: datetime) -> dict[str, Any]:
    return {
        "model_version": model.version,
        "run_id": model.run_id,
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": [str(p) for p in paths],
        "since": settings.since.isoformat() if settings.since else None,
        "until": settings.until.isoformat() if settings.until else None,
        "engine": settings.engine,
        "workers": settings.workers,
        "batch_size": settings.batch_size,
        "this_run": asdict(stats),
        "review_db_loaded": {},
    }
