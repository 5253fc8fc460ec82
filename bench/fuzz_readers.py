"""Fuzz benchmark of the mail readers and the scoring batch: crashes, hangs, seconds per message, peak memory.

    python bench/fuzz_readers.py                      # 10,000+ malformed messages in every format
    python bench/fuzz_readers.py --n 2000 --out /tmp/fuzz.json

Malformed mail from ``tests/mailfuzz.py`` (broken MIME, lying charsets, hostile HTML such as
``<a<a<a...``, "From Bob at 10:30" body lines, odd dates, broken attachments, ...) is written as
mboxrd and mboxo files, a Maildir, a folder of ``.eml`` files and single ``.eml`` files, and
odd export rows as JSONL, CSV and Parquet (lone surrogates, nested and binary cells, timestamps
and ``date32`` values beyond year 9999, invalid UTF-8). The Maildir and the ``.eml`` folder also
get a FIFO, a link to ``/dev/zero``, links out of the mail store, a link loop and a non-UTF-8
file name. Every message is read by ``mailguard.mail.read_messages`` and scored alone by
``serve.scoring.batch.score_batch`` (a tiny linear model), and its row is converted to the
results' Arrow schema, all under the nightly run's time budget.

Each input runs in a forked child that the parent watches: an exception out of the readers or
the batch is a **crash**; a child that makes no progress for ``--hang-seconds`` is killed and
counted as a **hang** (naming the last message it finished); a record count other than the
number of messages written is **lost** (or extra) records. Reported per format and in total:
messages, records, errors by kind (``timeout`` included), the slowest message (read, score) in
seconds and the peak resident memory of a child. Results: a printed table and
``bench/results/fuzz_readers.json``; the exit code is 1 when anything crashed, hung or got lost.
"""

from __future__ import annotations

import argparse
import inspect
import json
import multiprocessing
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import mailfuzz  # noqa: E402  (tests/mailfuzz.py: the shared generator of malformed mail)

from mailguard.errors import InputError  # noqa: E402
from mailguard.mail import Message, parse_message_bytes, read_messages  # noqa: E402
from mailguard.taxonomy import LABELS  # noqa: E402
from models.linear import LinearClassifier  # noqa: E402
from models.registry import LoadedModel  # noqa: E402
from models.saved import load_classifier  # noqa: E402
from serve.scoring.batch import score_batch  # noqa: E402
from serve.scoring.outputs import to_arrow  # noqa: E402
from serve.scoring.settings import ScoreSettings  # noqa: E402

try:  # the same script measures a checkout from before the time budget existed (--n small, for a baseline)
    from serve.scoring.settings import DEFAULT_MESSAGE_SECONDS
except ImportError:
    DEFAULT_MESSAGE_SECONDS = 0.0
_BUDGETED = "message_seconds" in inspect.signature(read_messages).parameters

RESULTS = ROOT / "bench" / "results" / "fuzz_readers.json"


@dataclass
class Job:
    """One input to read and score, and how many records it must give back (None: not exactly known)."""

    fmt: str
    path: str
    messages: int
    expect_records: int | None


@dataclass
class Outcome:
    """What reading and scoring one input did."""

    fmt: str
    path: str
    messages: int
    expect_records: int | None
    records: int = 0
    ok: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    crashes: list[str] = field(default_factory=list)
    hang: str = ""  # the last message finished before the child stopped making progress
    input_error: str = ""  # the reader refused the input as a whole (InputError)
    max_read_seconds: float = 0.0
    max_score_seconds: float = 0.0
    slowest: str = ""
    peak_rss_mb: float = 0.0
    wall_seconds: float = 0.0

    @property
    def lost(self) -> int:
        """Return how many records are missing (or, negative, extra) against the messages written."""
        return 0 if self.expect_records is None or self.hang or self.crashes else self.expect_records - self.records


# -- the corpus -----------------------------------------------------------------------------------------


def build_corpus(work: Path, n: int, seed: int) -> list[Job]:
    """Write at least ``n`` malformed messages across every input format under ``work``; return the jobs."""
    n_raw, n_rows = int(n * 0.7), n - int(n * 0.7)
    cases = [c.data for c in mailfuzz.malformed_cases(seed, n_raw)]
    shares = {"mbox": 0.36, "mboxo": 0.14, "maildir": 0.28, "eml_dir": 0.2}
    jobs: list[Job] = []
    start = 0
    work.mkdir(parents=True, exist_ok=True)
    outside = work / "outside-the-store"
    for fmt, share in shares.items():
        chunk = cases[start : start + int(n_raw * share)]
        start += len(chunk)
        if fmt in ("mbox", "mboxo"):
            path = work / f"fuzz-{fmt}.mbox"
            (mailfuzz.write_mbox if fmt == "mbox" else mailfuzz.write_mboxo)(path, chunk)
            jobs.append(Job(fmt, str(path), len(chunk), len(chunk)))
        else:
            root = work / fmt
            if fmt == "maildir":
                mailfuzz.write_maildir(root, chunk)
            else:
                mailfuzz.write_eml_dir(root, chunk)
            added = mailfuzz.write_hostile_entries(root, outside)
            jobs.append(Job(fmt, str(root), len(chunk) + len(added), len(chunk) + len(added)))
    singles = work / "single"
    singles.mkdir()
    for i, data in enumerate(cases[start:]):  # the rest: one .eml input each (a FIFO or empty one is refused)
        path = singles / f"single-{i:04d}.eml"
        path.write_bytes(data)
        jobs.append(Job("eml", str(path), 1, 1))
    fifo = singles / "named-fifo.eml"
    os.mkfifo(fifo)
    jobs.append(Job("eml", str(fifo), 1, 0))  # named directly: refused as an input, at once, never opened blocking

    rows = mailfuzz.malformed_rows(seed, n_rows)
    third = len(rows) // 3
    jsonl, csv, parquet = rows[:third], rows[third : 2 * third], rows[2 * third :]
    path = work / "fuzz.jsonl"
    jobs.append(Job("jsonl", str(path), len(jsonl), mailfuzz.write_jsonl(path, jsonl, seed)))
    path = work / "fuzz.csv"
    jobs.append(Job("csv", str(path), len(csv) + 1, mailfuzz.write_csv(path, csv, seed)))
    for file, count in mailfuzz.write_parquet_files(work / "parquet", parquet).items():
        jobs.append(Job("parquet", str(file), count, count))
    return jobs


def tiny_model(path: Path) -> Path:
    """Fit and save a linear model on a dozen literal texts: scoring cost, not accuracy, is measured."""
    texts = [
        ("buy cheap watches now special discount offer", "solicitation"), ("join my business earn money fast", "solicitation"),
        ("send me sexy photos tonight", "sexual"), ("you look hot in that dress tonight", "sexual"),
        ("old geezers like you should retire", "age"), ("too old to learn the new system grandpa", "age"),
        ("meeting agenda for tuesday budget review", None), ("please bring the quarterly figures", None),
        ("the parking permits are ready", None), ("lunch on monday works for me", None),
        ("library schedule for the holidays", None), ("committee minutes attached", None),
    ]
    Y = np.zeros((len(texts), len(LABELS)), dtype=int)
    for i, (_, label) in enumerate(texts):
        if label:
            Y[i, LABELS.index(label)] = 1
    LinearClassifier(min_df=1).fit([t for t, _ in texts], Y).save(path)
    return path


# -- one input, in a child process ------------------------------------------------------------------------


def warm_model(model_dir: Path) -> LoadedModel:
    """Return the model loaded and warmed up (first-call costs such as the sentencizer are paid here, once)."""
    model = LoadedModel(load_classifier(model_dir), "fuzz")
    warm = parse_message_bytes(b"Subject: warm up\n\nThe first sentence. A second one.\n")
    score_batch([warm], model, ScoreSettings(out=Path("/nonexistent"), workers=1))
    return model


def _child(job: Job, model: LoadedModel, message_seconds: float | None, max_bytes: int, batch_size: int,
           progress: str, result: str) -> None:
    outcome = Outcome(job.fmt, job.path, job.messages, job.expect_records)
    budget = {"message_seconds": message_seconds} if _BUDGETED else {}
    settings = ScoreSettings(out=Path("/nonexistent"), workers=1, **budget)  # type: ignore[arg-type]
    errors: Counter[str] = Counter()
    started = time.perf_counter()
    batch: list[Message] = []

    def score(batch: list[Message]) -> None:
        t1 = time.perf_counter()
        try:
            frame = score_batch(batch, model, settings)
            to_arrow(frame)  # the part file's schema: text that Parquet cannot hold crashed runs before
            statuses = list(zip(frame["status"], frame["error"], strict=True))
        except Exception:
            outcome.crashes.append("score_batch: " + traceback.format_exc(limit=3).splitlines()[-1])
            statuses = [("crash", "")] * len(batch)
        seconds = time.perf_counter() - t1
        if seconds > max(outcome.max_read_seconds, outcome.max_score_seconds):
            outcome.slowest = batch[0].source
        outcome.max_score_seconds = max(outcome.max_score_seconds, seconds)
        outcome.records += len(batch)
        for status, error in statuses:
            outcome.ok += status == "ok"
            if status == "error":
                errors[str(error).split(":", 1)[0]] += 1
        mark.write(f"scored {len(batch)}\n")
        mark.flush()

    with open(progress, "w", encoding="utf-8") as mark:
        t0 = time.perf_counter()
        try:
            # The first record is read here (so that an unreadable input fails at once): time it with the first.
            records = read_messages(job.path, max_bytes=max_bytes, **budget)  # type: ignore[arg-type]
        except InputError as e:
            outcome.input_error = str(e)
            records = iter(())
        except Exception:
            outcome.crashes.append("read_messages: " + traceback.format_exc(limit=3).splitlines()[-1])
            records = iter(())
        while True:
            try:
                msg = next(records)
            except StopIteration:
                break
            except Exception:  # the reader raised: the contract is broken, the rest of the input is lost
                outcome.crashes.append("reader: " + traceback.format_exc(limit=3).splitlines()[-1])
                break
            seconds = time.perf_counter() - t0
            if seconds > max(outcome.max_read_seconds, outcome.max_score_seconds):
                outcome.slowest = msg.source
            outcome.max_read_seconds = max(outcome.max_read_seconds, seconds)
            mark.write(msg.source.replace("\n", " ") + "\n")
            mark.flush()
            batch.append(msg)
            if len(batch) >= batch_size:
                score(batch)
                batch = []
            t0 = time.perf_counter()
        if batch:
            score(batch)
    outcome.errors = dict(errors)
    outcome.wall_seconds = time.perf_counter() - started
    outcome.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(result).write_text(json.dumps(asdict(outcome)), encoding="utf-8")


def run_job(job: Job, model: LoadedModel, message_seconds: float | None, max_bytes: int, hang_seconds: float,
            scratch: Path, batch_size: int = 1) -> Outcome:
    """Return the outcome of ``job`` run in a forked child that is killed after ``hang_seconds`` without progress."""
    progress, result = scratch / "progress.txt", scratch / "result.json"
    for p in (progress, result):
        p.unlink(missing_ok=True)
    ctx = multiprocessing.get_context("fork")  # the parent has the libraries loaded: children start at once
    child = ctx.Process(target=_child, args=(job, model, message_seconds, max_bytes, batch_size, str(progress),
                                             str(result)))
    started = time.monotonic()
    child.start()
    last_size, last_change = -1, time.monotonic()
    while child.is_alive():
        child.join(0.2)
        size = progress.stat().st_size if progress.exists() else 0
        if size != last_size:
            last_size, last_change = size, time.monotonic()
        elif time.monotonic() - last_change > hang_seconds:
            child.kill()
            child.join()
            done = [x for x in progress.read_text(encoding="utf-8").splitlines() if not x.startswith("scored ")] \
                if progress.exists() else []
            return Outcome(job.fmt, job.path, job.messages, job.expect_records, records=len(done),
                           hang=done[-1] if done else "(before the first message)",
                           wall_seconds=time.monotonic() - started)
    if not result.exists():
        return Outcome(job.fmt, job.path, job.messages, job.expect_records,
                       crashes=[f"child died with exit code {child.exitcode}"], wall_seconds=time.monotonic() - started)
    return Outcome(**json.loads(result.read_text(encoding="utf-8")))


# -- the whole benchmark ----------------------------------------------------------------------------------------


def run_benchmark(n: int = 10_000, seed: int = 14, message_seconds: float | None = DEFAULT_MESSAGE_SECONDS,
                  hang_seconds: float = 60.0, max_bytes: int = mailfuzz.FUZZ_MAX_BYTES, batch_size: int = 1,
                  work: Path | None = None, code: str = "") -> dict[str, Any]:
    """Build the corpus, read and score every input, and return the report (see the module docstring).

    ``batch_size`` 1 scores each message alone, so ``max_score_seconds`` is per message; a
    larger batch (as the nightly run scores) is faster and reports the slowest batch instead.
    """
    owned = work is None
    work = Path(tempfile.mkdtemp(prefix="mailguard-fuzz-")) if work is None else work
    try:
        t0 = time.perf_counter()
        jobs = build_corpus(work / "corpus", n, seed)
        built = time.perf_counter() - t0
        model = warm_model(tiny_model(work / "model"))
        scratch = work / "scratch"
        scratch.mkdir()
        outcomes = [run_job(job, model, message_seconds, max_bytes, hang_seconds, scratch, batch_size) for job in jobs]
        return report(outcomes, n=n, seed=seed, message_seconds=message_seconds, hang_seconds=hang_seconds,
                      max_bytes=max_bytes, batch_size=batch_size, code=code or _code_version(),
                      build_seconds=built, wall_seconds=time.perf_counter() - t0)
    finally:
        if owned:
            shutil.rmtree(work, ignore_errors=True)


def _code_version() -> str:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "mailguard", "serve",
                                "models"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def report(outcomes: list[Outcome], **settings: Any) -> dict[str, Any]:
    """Return the JSON report: totals, one row per format, every crash and hang."""
    by_format: dict[str, dict[str, Any]] = {}
    for o in outcomes:
        row = by_format.setdefault(o.fmt, {"inputs": 0, "messages": 0, "records": 0, "ok": 0, "errors": Counter(),
                                           "crashes": 0, "hangs": 0, "lost": 0, "inputs_refused": 0,
                                           "max_read_seconds": 0.0, "max_score_seconds": 0.0, "peak_rss_mb": 0.0})
        row["inputs"] += 1
        row["messages"] += o.messages
        row["records"] += o.records
        row["ok"] += o.ok
        row["errors"].update(o.errors)
        row["crashes"] += len(o.crashes)
        row["hangs"] += bool(o.hang)
        row["lost"] += abs(o.lost)
        row["inputs_refused"] += bool(o.input_error)
        for key in ("max_read_seconds", "max_score_seconds", "peak_rss_mb"):
            row[key] = max(row[key], getattr(o, key))
    for row in by_format.values():
        row["errors"] = dict(row["errors"].most_common())
        for key in ("max_read_seconds", "max_score_seconds"):
            row[key] = round(row[key], 3)
        row["peak_rss_mb"] = round(row["peak_rss_mb"], 1)
    slowest = max(outcomes, key=lambda o: max(o.max_read_seconds, o.max_score_seconds))
    totals = {
        "inputs": len(outcomes),
        "messages": sum(o.messages for o in outcomes),
        "records": sum(o.records for o in outcomes),
        "crashes": sum(len(o.crashes) for o in outcomes),
        "hangs": sum(bool(o.hang) for o in outcomes),
        "lost_records": sum(abs(o.lost) for o in outcomes),
        "timeouts": sum(o.errors.get("timeout", 0) for o in outcomes),
        "max_read_seconds_per_message": round(max(o.max_read_seconds for o in outcomes), 3),
        "max_score_seconds_per_message": round(max(o.max_score_seconds for o in outcomes), 3),
        "slowest_message_format": slowest.fmt,
        "peak_rss_mb": round(max(o.peak_rss_mb for o in outcomes), 1),
    }
    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    # Seconds per message are wall-clock: other work on the machine inflates them.
                    "load_average_at_end": [round(x, 1) for x in os.getloadavg()]},
        "settings": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in settings.items()},
        "totals": totals,
        "by_format": by_format,
        "crashes": [{"format": o.fmt, "input": Path(o.path).name, "error": c} for o in outcomes for c in o.crashes],
        "hangs": [{"format": o.fmt, "input": Path(o.path).name, "after": o.hang} for o in outcomes if o.hang],
        "lost": [{"format": o.fmt, "input": Path(o.path).name, "expected": o.expect_records, "records": o.records}
                 for o in outcomes if o.lost],
    }


def print_table(result: dict[str, Any]) -> None:
    """Print the per-format table and the totals."""
    head = f"{'format':<9}{'inputs':>7}{'messages':>9}{'records':>9}{'ok':>7}{'errors':>7}{'timeout':>8}" \
           f"{'crash':>6}{'hang':>5}{'lost':>5}{'max read s':>11}{'max score s':>12}{'peak MB':>9}"
    print(head)
    print("-" * len(head))
    for fmt, r in result["by_format"].items():
        print(f"{fmt:<9}{r['inputs']:>7}{r['messages']:>9}{r['records']:>9}{r['ok']:>7}"
              f"{sum(r['errors'].values()):>7}{r['errors'].get('timeout', 0):>8}{r['crashes']:>6}{r['hangs']:>5}"
              f"{r['lost']:>5}{r['max_read_seconds']:>11.3f}{r['max_score_seconds']:>12.3f}{r['peak_rss_mb']:>9.0f}")
    t = result["totals"]
    print("-" * len(head))
    print(f"{'total':<9}{t['inputs']:>7}{t['messages']:>9}{t['records']:>9}{'':>7}{'':>7}{t['timeouts']:>8}"
          f"{t['crashes']:>6}{t['hangs']:>5}{t['lost_records']:>5}{t['max_read_seconds_per_message']:>11.3f}"
          f"{t['max_score_seconds_per_message']:>12.3f}{t['peak_rss_mb']:>9.0f}")
    for kind in ("crashes", "hangs", "lost"):
        for item in result[kind]:
            print(f"{kind}: {item}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="malformed messages to generate (at least)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--message-seconds", type=float, default=DEFAULT_MESSAGE_SECONDS,
                        help="time budget per message, as in [score] message_seconds (0: none)")
    parser.add_argument("--hang-seconds", type=float, default=60.0, help="no progress for this long = a hang")
    parser.add_argument("--batch-size", type=int, default=1,
                        help="messages per score_batch call (1: each alone, so times are per message)")
    parser.add_argument("--code", default="", help="what code is measured (default: the git revision)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = run_benchmark(args.n, args.seed, args.message_seconds or None, args.hang_seconds,
                           batch_size=args.batch_size, code=args.code)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    t = result["totals"]
    return 1 if t["crashes"] or t["hangs"] or t["lost_records"] else 0


if __name__ == "__main__":
    sys.exit(main())
