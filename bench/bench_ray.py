"""Ray engine vs local engine on one machine, and the cluster size 10 million messages in 8 hours need (issue 15).

    python bench/bench_ray.py                                  # 20,000 messages, artifacts/linear, 2 workers
    python bench/bench_ray.py --messages 2000 --out /tmp/ray.json   # a quick look

Both runs are the real command (`python -m mailguard.cli score ... --engine local|ray`) on
the same generated mailbox (bench/make_mailbox.py, as bench/bench_scoring.py uses), so
reading, scoring, writing and the report are all counted; the Ray run starts its own
local Ray instance with ``--workers`` CPUs (its start-up is in ``wall_s``, not in the
engine's ``scoring_msg_per_s``). Peak RSS sums the process tree (for Ray: the GCS, the
raylet and the actors, which Ray starts as descendants of the command). The projection
divides the needed rate (10 M / 8 h) by per-actor throughput times actors per node;
for the transformer it takes the per-worker rate of bench/results/scoring_segments.json
(2 workers on this machine), since one actor per core scores like one worker per core.
Results: bench/results/ray.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

import make_mailbox  # noqa: E402  (bench/ is not a package)
from bench_scoring import run_figures, run_scorer  # noqa: E402

#: The archive job the projection is for: 10 million messages in one 8-hour night.
TARGET_MESSAGES, TARGET_HOURS = 10_000_000, 8


def nodes_needed(per_actor_msg_s: float, actors_per_node: int) -> dict[str, Any]:
    """Return the nodes (and actors) that score TARGET_MESSAGES in TARGET_HOURS at ``per_actor_msg_s`` each."""
    need = TARGET_MESSAGES / (TARGET_HOURS * 3600)
    actors = math.ceil(need / per_actor_msg_s)
    return {"needed_msg_per_s": round(need, 1), "per_actor_msg_per_s": round(per_actor_msg_s, 1),
            "actors": actors, "actors_per_node": actors_per_node, "nodes": math.ceil(actors / actors_per_node)}


def transformer_per_worker(path: Path) -> float:
    """Return the transformer's scoring msg/s per worker with every core busy (bench_scoring.py's widest run)."""
    rows = [r for r in json.loads(path.read_text())["results"]
            if r.get("case") == "throughput" and r.get("model") == "transformer"]
    widest = max(rows, key=lambda r: r["workers"])
    return float(widest["scoring_msg_per_s"]) / widest["workers"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="artifacts/linear", help="linear model folder (or alias)")
    parser.add_argument("--messages", type=int, default=20_000, help="generated messages")
    parser.add_argument("--workers", type=int, default=2, help="local worker processes = Ray actors = Ray CPUs")
    parser.add_argument("--node-cpus", type=int, default=16, help="cores per cluster node in the projection")
    parser.add_argument("--transformer-bench", type=Path, default=ROOT / "bench" / "results" / "scoring_segments.json")
    parser.add_argument("--first", choices=["local", "ray"], default="local", help="engine to run first")
    parser.add_argument("--work", type=Path, default=None, help="folder for the mailbox and outputs (default: temp)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ray.json")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="mailguard-bench-ray-"))
    work.mkdir(parents=True, exist_ok=True)
    mbox = work / f"night-{args.messages}.mbox"
    if not mbox.exists():
        make_mailbox.write_mbox(mbox, make_mailbox.messages("throughput", seed=8, count=args.messages))

    runs: dict[str, dict[str, Any]] = {}
    for engine in ("local", "ray") if args.first == "local" else ("ray", "local"):
        # RAY_ADDRESS would send the run to some other cluster; this compares engines on this machine.
        os.environ.pop("RAY_ADDRESS", None)
        r = run_scorer([mbox], work / f"out-{engine}", args.model, args.workers, ["--engine", engine])
        runs[engine] = {"engine": engine, "workers": args.workers, **run_figures(r)}
        print(f"  {engine}: {runs[engine]['end_to_end_msg_per_s']} msg/s end to end, "
              f"{runs[engine]['scoring_msg_per_s']} msg/s scoring, peak {r['peak_rss_mb']} MB")

    local, ray = runs["local"], runs["ray"]
    ratio = {"end_to_end": round(ray["end_to_end_msg_per_s"] / local["end_to_end_msg_per_s"], 3),
             "scoring": round(ray["scoring_msg_per_s"] / local["scoring_msg_per_s"], 3)}
    overhead_ok = ratio["scoring"] >= 0.75  # the bar: Ray within 25 % of the local engine on one machine
    # One 1-CPU actor per core for both (docs/scale-out.md): the per-actor rate is the per-worker rate with
    # every core busy (Ray gives a 1-CPU actor OMP_NUM_THREADS=1, so a transformer actor keeps to its core).
    projection = {
        "linear": nodes_needed(ray["scoring_msg_per_s"] / args.workers, args.node_cpus),
        "transformer": nodes_needed(transformer_per_worker(args.transformer_bench), args.node_cpus),
    }
    payload = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "model": args.model, "mailbox_mb": round(mbox.stat().st_size / 1e6, 1),
        "runs": [local, ray], "ran_first": args.first,
        "throughput_ratio_ray_over_local": ratio,
        "ray_within_25_percent": overhead_ok,
        "projection": {"target": f"{TARGET_MESSAGES:,} messages in {TARGET_HOURS} h",
                       "node_cpus": args.node_cpus, **projection},
        "transformer_source": str(args.transformer_bench.relative_to(ROOT)
                                  if args.transformer_bench.is_relative_to(ROOT) else args.transformer_bench),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"  ratio ray/local: {ratio}; within 25 %: {overhead_ok}")
    for name, p in projection.items():
        print(f"  {name}: {p['actors']} actors at {p['per_actor_msg_per_s']} msg/s -> {p['nodes']} x "
              f"{args.node_cpus}-core nodes")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
