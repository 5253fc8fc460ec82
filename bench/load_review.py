"""Load test of the review app: 50 concurrent reviewers decide a shared queue of 5,000 items on SQLite.

Run: ``python bench/load_review.py [--reviewers 50 --items 5000 --max-seconds 900]``. Starts the app with
uvicorn in a subprocess on a free loopback port, drives it with one httpx client per reviewer thread, prints
a table, writes bench/results/load_review.json, and fails (exit 1) if any decision was lost or duplicated.
Each reviewer loops: list pending items, pick one, open it, decide; a 409 (someone else was faster) moves
on to another item.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailguard.taxonomy import LABELS  # noqa: E402
from serve.review.db import session_scope  # noqa: E402
from serve.review.loader import load_results  # noqa: E402
from serve.review.models import Decision, Item, User  # noqa: E402
from serve.review.security import hash_password  # noqa: E402

SECRET = "bench-secret-key-0123456789abcdef"
PASSWORD = "bench password 123"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def synthetic_results(n: int, seed: int = 7) -> pd.DataFrame:
    """Return ``n`` flagged, queued result rows with random scores (no real mail)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        flagged = rng.sample(LABELS, rng.choice([1, 1, 2]))
        row = {f"score_{lb}": (rng.uniform(0.5, 1) if lb in flagged else rng.uniform(0, 0.3)) for lb in LABELS}
        row |= {
            "message_id": f"<bench-{i}@city.example>", "content_hash": f"h{i}", "source": "bench", "status": "ok",
            "date": pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(minutes=i), "sender": f"s{i % 300}@city.example",
            "to": "team@city.example", "cc": "", "subject": f"Bench message {i}", "body": f"Synthetic body {i}.",
            "quoted": "", "attachments": "", "labels": ";".join(lb for lb in LABELS if lb in flagged),
            "evidence": json.dumps({lb: "Synthetic" for lb in flagged}), "model_version": "1", "run_id": "bench",
            "direction": rng.choice(["internal", "outbound", "inbound"]), "bulk": False, "context_reason": "",
            "duplicate_of": "", "queue": True,
        }  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) >= 2 else (values[0] if values else 0.0)


class Reviewer(threading.Thread):
    """One simulated reviewer: logs in, then decides pending items until none are left or time is up."""

    def __init__(self, base: str, name: str, deadline: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.base, self.name, self.deadline, self.rng = base, name, deadline, random.Random(seed)
        self.decided: list[int] = []
        self.conflicts = 0
        self.taken = 0
        self.errors: list[str] = []
        self.lat: dict[str, list[float]] = {"queue": [], "item": [], "decision": []}

    def _timed(self, kind: str, fn):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        r = fn()
        self.lat[kind].append(time.perf_counter() - t)
        return r

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=60) as c:
            token = CSRF.search(c.get("/login").text).group(1)  # type: ignore[union-attr]
            r = c.post("/login", data={"username": self.name, "password": PASSWORD, "csrf_token": token})
            if r.status_code != 303:
                self.errors.append(f"login {r.status_code}")
                return
            token = CSRF.search(c.get("/login").text).group(1)  # type: ignore[union-attr]
            while time.monotonic() < self.deadline:
                q = self._timed("queue", lambda: c.get("/api/queue", params={"status": "pending", "page_size": 100}))
                items = q.json()["items"]
                if not items:
                    return
                pick = self.rng.choice(items)
                item = self._timed("item", lambda p=pick: c.get(f"/api/items/{p['id']}")).json()
                if item["status"] != "pending":
                    self.taken += 1  # decided by someone else since the list was fetched: the page shows it
                    continue
                if self.rng.random() < 0.5:
                    body = {"decision": "confirmed", "labels": item["labels"], "version": item["version"]}
                else:
                    body = {"decision": "not_violation", "version": item["version"]}
                r = self._timed(
                    "decision",
                    lambda i=item, b=body: c.post(f"/api/items/{i['id']}/decision", json=b, headers={"X-CSRF-Token": token}),
                )
                if r.status_code == 200:
                    self.decided.append(item["id"])
                elif r.status_code == 409:
                    self.conflicts += 1  # another reviewer was faster: pick another item
                else:
                    self.errors.append(f"decision {r.status_code}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reviewers", type=int, default=50)
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--max-seconds", type=float, default=900.0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load_review.json")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mailguard-bench-"))
    db_url = f"sqlite:///{tmp / 'review.db'}"
    t0 = time.perf_counter()
    counts = load_results(synthetic_results(args.items), db_url)
    load_s = time.perf_counter() - t0
    pw = hash_password(PASSWORD)
    names = [f"rev{i:02d}" for i in range(args.reviewers)]
    with session_scope(db_url) as s:
        s.add_all(User(username=n, password_hash=pw, roles="reviewer", active=True) for n in names)

    port = _free_port()
    env = os.environ | {"MAILGUARD_REVIEW_DB": db_url, "MAILGUARD_SECRET_KEY": SECRET, "PYTHONPATH": str(ROOT)}
    code = (
        "import uvicorn; from serve.review.main import create_app; "
        f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning', access_log=False)"
    )
    server = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{base}/login", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        start = time.perf_counter()
        deadline = time.monotonic() + args.max_seconds
        reviewers = [Reviewer(base, n, deadline, seed=i) for i, n in enumerate(names)]
        for r in reviewers:
            r.start()
        for r in reviewers:
            r.join()
        wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=30)

    decided = [i for r in reviewers for i in r.decided]
    with session_scope(db_url) as s:
        db_decisions = [d.item_id for d in s.query(Decision)]
        still_pending = s.query(Item).filter(Item.status == "pending").count()
    lat = {k: [x for r in reviewers for x in r.lat[k]] for k in ("queue", "item", "decision")}
    result = {
        "reviewers": args.reviewers, "items": args.items, "load_counts": counts, "load_seconds": round(load_s, 2),
        "wall_seconds": round(wall, 2), "decisions": len(decided),
        "decisions_per_second": round(len(decided) / wall, 2) if wall else 0.0,
        "conflicts_409": sum(r.conflicts for r in reviewers),
        "already_decided_on_open": sum(r.taken for r in reviewers), "errors": [e for r in reviewers for e in r.errors],
        "latency_ms": {
            k: {"p50": round(1000 * statistics.median(v), 1), "p95": round(1000 * _p(v, 95), 1), "n": len(v)}
            for k, v in lat.items() if v
        },
        "db_decisions": len(db_decisions), "db_distinct_items": len(set(db_decisions)), "still_pending": still_pending,
    }  # fmt: skip
    result["ok"] = (
        len(decided) == len(set(decided)) == args.items
        and sorted(decided) == sorted(db_decisions)
        and len(set(db_decisions)) == len(db_decisions)
        and still_pending == 0
        and not result["errors"]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    print(f"{'metric':<28}{'value':>14}")
    for key in ("reviewers", "items", "wall_seconds", "decisions", "decisions_per_second", "conflicts_409",
                "already_decided_on_open"):
        print(f"{key:<28}{result[key]:>14}")
    for kind, v in result["latency_ms"].items():
        print(f"{kind + ' p50 / p95 ms':<28}{v['p50']:>7} / {v['p95']:<6}")
    print(f"{'lost or duplicated':<28}{'none' if result['ok'] else 'YES':>14}")
    print(f"wrote {args.out}")
    if not result["ok"]:
        print("FAILED: decisions lost, duplicated or errored", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
