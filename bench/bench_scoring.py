"""End-to-end benchmark of nightly scoring: messages/second, peak memory, and the issue-8 queue share.

    python bench/bench_scoring.py                         # quick tiny linear model, all three measurements
    python bench/bench_scoring.py --model artifacts/model --transformer path/to/transformer_model
    python bench/bench_scoring.py --large-mb 256          # scale the ~1 GB peak-RSS case down when short of time
    python bench/bench_scoring.py --only issue8
    python bench/bench_scoring.py --model artifacts/linear --transformer artifacts/transformer \
        --also blend=artifacts/blend --only throughput --messages 2000   # every family on one mailbox

Each measurement runs the real command (`python -m mailguard.cli score ...`) as a
subprocess, so parse + score + write + report are all counted. Peak RSS sums the
scorer and its worker processes, sampled every 0.1 s. Results: a printed table and
bench/results/scoring.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import make_mailbox  # noqa: E402  (bench/ is not a package)


def quick_linear_model(path: Path) -> Path:
    """Train a small linear model on the generator's own sentences (a stand-in when no trained model exists)."""
    from mailguard.taxonomy import LABELS
    from models.linear import LinearClassifier

    sol, sex = LABELS.index("solicitation"), LABELS.index("sexual")
    rows: list[tuple[str, int | None]] = [(s.format(t=t), None) for s in make_mailbox.SENTENCES for t in make_mailbox.TOPICS]
    rows += [(v, sex if "sexy" in v else sol) for v in make_mailbox.VIOLATIONS for _ in range(5)]
    # Vendor marketing *is* commercial solicitation: the very flags issue 8 is about.
    rows += [(b, sol if any(w in b for w in ("Save", "discount", "deal", "Book")) else None)
             for b in make_mailbox.BULK_LINES for _ in range(3)]
    Y = np.zeros((len(rows), len(LABELS)), dtype=int)
    for i, (_, j) in enumerate(rows):
        if j is not None:
            Y[i, j] = 1
    LinearClassifier(max_features=50_000).fit([t for t, _ in rows], Y).save(path)
    return path


def run_scorer(inputs: list[Path], out: Path, model: str, workers: int, extra: list[str] | None = None,
               cwd: Path = ROOT) -> dict[str, Any]:
    """Run `mailguard score` once into a fresh ``out``; return wall time, peak RSS of the process tree and summary."""
    shutil.rmtree(out, ignore_errors=True)  # a kept folder would make the run a no-op (it is idempotent)
    cmd = [sys.executable, "-m", "mailguard.cli", "score", *map(str, inputs), "--out", str(out), "--model", model,
           "--workers", str(workers), "--quiet", *(extra or [])]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.1)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"scorer failed ({proc.returncode}): {stderr.strip()}")
    summary = json.loads((out / "summary.json").read_text())
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(peak / 2**20, 1), "summary": summary}


def run_figures(r: dict[str, Any]) -> dict[str, Any]:
    """Return the figures every benchmark row reports for one :func:`run_scorer` result."""
    s = r["summary"]
    return {"messages": s["totals"]["rows"], "wall_s": r["wall_s"],
            "end_to_end_msg_per_s": round(s["totals"]["rows"] / r["wall_s"], 1),
            "scoring_msg_per_s": s["messages_per_second"], "peak_rss_mb": r["peak_rss_mb"]}


def bench_throughput(work: Path, models: dict[str, str], count: int, all_workers: int) -> list[dict[str, Any]]:
    mbox = work / f"throughput-{count}.mbox"
    if not mbox.exists():
        make_mailbox.write_mbox(mbox, make_mailbox.messages("throughput", seed=8, count=count))
    rows = []
    for name, model in models.items():
        for workers in sorted({1, all_workers}):
            r = run_scorer([mbox], work / f"out-{name}-{workers}", model, workers)
            rows.append({"case": "throughput", "model": name, "workers": workers,
                         "mailbox_mb": round(mbox.stat().st_size / 1e6, 1), **run_figures(r)})
            print(f"  throughput {name} workers={workers}: {rows[-1]['end_to_end_msg_per_s']} msg/s end to end")
    return rows


def bench_memory(work: Path, model: str, size_mb: float, all_workers: int) -> dict[str, Any]:
    mbox = work / f"large-{int(size_mb)}mb.mbox"
    if not mbox.exists():
        make_mailbox.write_mbox(mbox, make_mailbox.messages("large", seed=8, size_bytes=int(size_mb * 2**20)))
    r = run_scorer([mbox], work / "out-large", model, all_workers)
    row = {"case": "peak_rss", "model": "linear", "workers": all_workers,
           "mailbox_mb": round(mbox.stat().st_size / 1e6, 1), **run_figures(r)}
    print(f"  peak RSS on {row['mailbox_mb']} MB: {row['peak_rss_mb']} MB")
    return row


def planted_recall(results: Path) -> dict[str, Any]:
    """Return how many planted staff violations (make_mailbox.VIOLATIONS) were flagged and queued."""
    import pandas as pd

    df = pd.read_parquet(results, columns=["body", "labels", "queue", "direction"])
    planted = df[df["direction"].eq("internal") & df["body"].fillna("").map(
        lambda b: any(v in b for v in make_mailbox.VIOLATIONS))]
    flagged = planted["labels"].fillna("") != ""
    return {"staff_violations_planted": len(planted), "staff_violations_flagged": int(flagged.sum()),
            "staff_violations_queued": int(planted["queue"].sum()),
            "staff_violation_recall": round(float(flagged.mean()), 4) if len(planted) else None}


def bench_issue8(work: Path, model: str, count: int, all_workers: int) -> dict[str, Any]:
    """Return the share of a mixed mailbox (staff + inbound bulk) that is flagged and that reaches the queue."""
    work.mkdir(parents=True, exist_ok=True)
    mbox = work / f"mixed-{count}.mbox"
    if not mbox.exists():
        make_mailbox.write_mbox(mbox, make_mailbox.messages("mixed", seed=8, count=count))
    org = ["--org-domain", make_mailbox.ORG]
    default = run_scorer([mbox], work / "out-mixed", model, all_workers, org)["summary"]
    queue_all = work / "queue-all.toml"
    queue_all.write_text("[queue]\ninbound_bulk_labels = ['*']\n")
    before = run_scorer([mbox], work / "out-mixed-all", model, all_workers, [*org, "--config", str(queue_all)])["summary"]
    rows = default["totals"]["rows"]
    result = {
        "case": "issue8_mixed", "messages": rows,
        "inbound_bulk": default["by_direction"].get("inbound", {}).get("bulk", 0),
        "flagged": default["totals"]["flagged"],
        "queued_if_bulk_queued": before["totals"]["queued"],
        "queued_default_rules": default["totals"]["queued"],
        "queue_share_if_bulk_queued": round(before["totals"]["queued"] / rows, 4),
        "queue_share_default_rules": round(default["totals"]["queued"] / rows, 4),
        "by_direction": default["by_direction"],
        **planted_recall(work / "out-mixed" / "results.parquet"),
    }
    print(f"  issue 8: queue share {result['queue_share_if_bulk_queued']:.2%} if bulk is queued, "
          f"{result['queue_share_default_rules']:.2%} with the default rules")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="linear model folder or alias (default: train a quick one)")
    parser.add_argument("--transformer", default="", help="transformer model folder or alias (optional)")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=MODEL",
                        help="another model to time for throughput, e.g. blend=artifacts/blend (repeatable)")
    parser.add_argument("--messages", type=int, default=20_000, help="throughput mailbox size")
    parser.add_argument("--large-mb", type=float, default=1024, help="peak-RSS mailbox size in MB (default ~1 GB)")
    parser.add_argument("--mixed", type=int, default=5_000, help="issue-8 mixed mailbox size")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="'all workers' setting")
    parser.add_argument("--only", choices=["throughput", "memory", "issue8"], action="append")
    parser.add_argument("--work", type=Path, default=None, help="folder for mailboxes and outputs (default: temp)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scoring.json")
    args = parser.parse_args()
    only = set(args.only or ["throughput", "memory", "issue8"])
    work = args.work or Path(tempfile.mkdtemp(prefix="mailguard-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    linear = args.model or str(quick_linear_model(work / "quick-linear"))
    models = {"linear": linear, **({"transformer": args.transformer} if args.transformer else {})}
    models.update(dict(m.split("=", 1) for m in args.also))

    results: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    if "throughput" in only:
        results += bench_throughput(work, models, args.messages, args.workers)
    if "memory" in only:
        results.append(bench_memory(work, linear, args.large_mb, args.workers))
    if "issue8" in only:
        extra["issue8"] = {name: bench_issue8(work / name, path, args.mixed, args.workers)
                           for name, path in models.items()}

    header = ["case", "model", "workers", "messages", "mailbox_mb", "wall_s", "end_to_end_msg_per_s",
              "scoring_msg_per_s", "peak_rss_mb"]
    print("\n" + " | ".join(header))
    for row in results:
        print(" | ".join(str(row[h]) for h in header))
    payload = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
               "linear_model": "quick tiny linear model (bench/bench_scoring.py)" if not args.model else args.model,
               "large_mb_requested": args.large_mb, "results": results, **extra}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
