"""Models benchmark: how fast each way of scoring mail is end to end, and how often it decides as the teacher does.

    python bench/bench_models.py --torch artifacts/transformer --onnx artifacts/transformer-onnx-fp32 \
        --int8 artifacts/transformer-onnx --student artifacts/student \
        --cascade artifacts/cascade-0.95 --cascade artifacts/cascade-0.98 --cascade artifacts/cascade-0.99 \
        --data data/processed/dataset.parquet --cache artifacts/cache

Every variant scores the same generated realistic mailbox (``bench/make_mailbox.py throughput``: staff
mail with replies, HTML alternatives, attachments, 15 % inbound bulk, a few planted violations) with the
real command (``mailguard score``, parse + score + write + report), one variant at a time; the fast ones
(student, cascades) read ``--messages`` messages, the teacher alone the first ``--teacher-messages`` of
them and torch the first ``--torch-messages`` (the mailbox generator is deterministic, so these are
prefixes of one mailbox). Reported per variant: messages per second (the run's own rate, and wall clock
including start-up), peak RSS of the process tree, and per-label decision agreement with the teacher
(``--onnx``, else ``--torch``) on the messages both scored. With ``--data``, decision agreement and
recall per label on the test split too, from window scores (each test window read once per model;
``--cache`` keeps them between runs, as ``mailguard package`` does).

Prints a table and writes bench/results/models.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

import make_mailbox  # noqa: E402  (bench/ is not a package)
from bench_scoring import run_scorer  # noqa: E402

TARGET_MSG_PER_S = 170.0  # 100,000 messages in under 10 minutes on the 2-core machine
TARGET_AGREEMENT = 0.98  # of the teacher's decisions, every label
TARGET_RECALL_LOSS = 0.01  # recall given up against the teacher, any label


def mailbox(work: Path, count: int) -> Path:
    """Return the throughput mailbox of ``count`` messages (written once)."""
    path = work / f"throughput-{count}.mbox"
    if not path.exists():
        make_mailbox.write_mbox(path, make_mailbox.messages("throughput", seed=8, count=count))
    return path


def decisions(results: Path) -> tuple[list[str], np.ndarray]:
    """Return the message ids and 0/1 decisions (n, labels) of a results table (scored rows only)."""
    import pandas as pd

    from mailguard.taxonomy import LABELS

    df = pd.read_parquet(results, columns=["message_id", "status", "labels"])
    df = df[df["status"].eq("ok")]
    flags = np.array([[lb in set(str(v).split(";")) for lb in LABELS] for v in df["labels"].fillna("")], dtype=bool)
    return df["message_id"].astype(str).tolist(), flags.reshape(len(df), len(LABELS))


def mailbox_agreement(reference: tuple[list[str], np.ndarray], candidate: tuple[list[str], np.ndarray]) -> dict[str, Any]:
    """Return per-label decision agreement on the messages both runs scored, and how many flags each made."""
    from mailguard.taxonomy import LABELS

    ref_pos = {m: i for i, m in enumerate(reference[0])}
    common = [(ref_pos[m], i) for i, m in enumerate(candidate[0]) if m in ref_pos]
    r = reference[1][[a for a, _ in common]]
    c = candidate[1][[b for _, b in common]]
    return {"messages": len(common),
            "decision_agreement": {lb: float((r[:, j] == c[:, j]).mean()) if common else float("nan")
                                   for j, lb in enumerate(LABELS)},
            "flagged_teacher": {lb: int(r[:, j].sum()) for j, lb in enumerate(LABELS)},
            "flagged": {lb: int(c[:, j].sum()) for j, lb in enumerate(LABELS)}}


def test_split_agreement(variants: dict[str, Path], reference: str, data: Path, cache: Path | None) -> dict[str, Any]:
    """Return, per variant, decisions on the test split against the reference's (window scores, cached)."""
    from mailguard.taxonomy import LABELS
    from models import load_classifier
    from models.onnx_export import decision_report
    from pipelines.dataset import load_split
    from pipelines.window_scores import cascade_window_scores, message_scores, model_cache, split_windows, unit_scores

    test = load_split(data, "test")
    Y = test[list(LABELS)].to_numpy()
    ref = load_classifier(variants[reference])
    windows = split_windows(test["text"].tolist(), ref.window_config_)
    name = f"test-{len(test)}"

    def window_proba(folder: Path) -> np.ndarray:
        model = load_classifier(folder)
        if model.family == "cascade":
            cheap = unit_scores(model.cheap_, windows.units)  # type: ignore[attr-defined]
            inner = folder / "expensive"
            expensive = unit_scores(model.expensive_, windows.units, model_cache(cache, inner, name))  # type: ignore[attr-defined]
            return cascade_window_scores(cheap, expensive, model.gates_, model.thresholds_)[0]  # type: ignore[attr-defined]
        return unit_scores(model, windows.units, model_cache(cache, folder, name) if model.family != "student" else None)

    ref_proba = message_scores(windows, window_proba(variants[reference]), ref)
    out: dict[str, Any] = {}
    for variant, folder in variants.items():
        if variant == "torch":  # the same weights as ONNX fp32 (checked by `mailguard package onnx`), 5x slower
            continue
        model = load_classifier(folder)
        proba = ref_proba if variant == reference else message_scores(windows, window_proba(folder), model)
        report = decision_report(ref_proba, ref.thresholds_, proba, model.thresholds_, Y)
        out[variant] = {"decision_agreement": report["decision_agreement"], "recall": report["recall"]["candidate"],
                        "recall_teacher": report["recall"]["reference"],
                        "recall_loss": {lb: report["recall"]["reference"][lb] - report["recall"]["candidate"][lb]
                                        for lb in report["recall"]["reference"]},
                        "pr_auc": report["pr_auc"]["candidate"], "messages": len(test)}
        print(f"  test split: {variant} agreement >= {min(report['decision_agreement'].values()):.4f}", flush=True)
    return out


def escalated_on_mailbox(cascade_dir: Path, mbox: Path, limit: int) -> float:
    """Return the share of the mailbox's windows a cascade sends to its expensive model."""
    from mailguard.mail import read_messages
    from mailguard.segments import make_windows
    from models import load_classifier
    from models.cascade import escalated

    cascade = load_classifier(cascade_dir)
    units: list[str] = []
    for i, msg in enumerate(read_messages(mbox)):
        if i >= limit:
            break
        if msg.status == "ok":
            units.extend(w.text for w in make_windows(msg.sections(), cascade.window_config_)[0])
    cheap = cascade.cheap_.predict_proba(units)  # type: ignore[attr-defined]
    return float(escalated(cheap, cascade.gates_).mean()) if units else 0.0  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch", type=Path, help="trained transformer folder (torch fp32)")
    parser.add_argument("--onnx", type=Path, help="ONNX fp32 folder (the teacher's decisions are this model's)")
    parser.add_argument("--int8", type=Path, help="ONNX int8 folder")
    parser.add_argument("--student", type=Path, help="student folder")
    parser.add_argument("--cascade", type=Path, action="append", default=[], help="cascade folder (repeatable)")
    parser.add_argument("--messages", type=int, default=20_000, help="mailbox size for the fast variants")
    parser.add_argument("--teacher-messages", type=int, default=2_000, help="first messages the teacher alone scores")
    parser.add_argument("--torch-messages", type=int, default=500, help="first messages torch scores")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="`mailguard score --workers`")
    parser.add_argument("--data", type=Path, help="prepared dataset: also measure agreement on its test split")
    parser.add_argument("--cache", type=Path, help="window-score cache (as `mailguard package --cache`)")
    parser.add_argument("--work", type=Path, help="folder for mailboxes and outputs (default: temporary)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "models.json")
    args = parser.parse_args(argv)

    from models.saved import read_metadata

    variants: dict[str, Path] = {k: v for k, v in (("torch", args.torch), ("onnx-fp32", args.onnx),
                                                     ("onnx-int8", args.int8), ("student", args.student)) if v}
    for folder in args.cascade:
        recall = read_metadata(folder).get("target_recall", "?")
        variants[f"cascade@{recall}"] = folder
    reference = "onnx-fp32" if args.onnx else "torch"
    if reference not in variants:
        parser.error("give the teacher: --onnx (preferred) or --torch")
    work = args.work or Path(tempfile.mkdtemp(prefix="mailguard-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = {v: args.torch_messages if v == "torch" else args.teacher_messages if v in ("onnx-fp32", "onnx-int8")
             else args.messages for v in variants}

    rows: dict[str, dict[str, Any]] = {}
    runs: dict[str, tuple[list[str], np.ndarray]] = {}
    for variant, folder in sorted(variants.items(), key=lambda kv: kv[0] != reference):  # the reference first
        mbox = mailbox(work, sizes[variant])
        load_before = os.getloadavg()[0]
        r = run_scorer([mbox], work / f"out-{variant}", str(folder), args.workers)
        runs[variant] = decisions(work / f"out-{variant}" / "results.parquet")
        scored = r["summary"]["totals"]["rows"]
        rows[variant] = {"model": str(folder), "messages": scored, "wall_s": r["wall_s"],
                         "msg_per_s": r["summary"]["messages_per_second"],
                         "wall_msg_per_s": round(scored / r["wall_s"], 1), "peak_rss_mb": r["peak_rss_mb"],
                         # the machine is shared: its 1-minute load before and after says how busy it was
                         "load_before": round(load_before, 2), "load_after": round(os.getloadavg()[0], 2)}
        if variant.startswith("cascade"):
            rows[variant]["escalated_windows"] = escalated_on_mailbox(folder, mbox, sizes[variant])
        print(f"  {variant}: {rows[variant]['msg_per_s']} msg/s, peak RSS {r['peak_rss_mb']} MB", flush=True)
    for variant in variants:
        rows[variant]["mailbox_agreement"] = mailbox_agreement(runs[reference], runs[variant])
    test = test_split_agreement(variants, reference, args.data, args.cache) if args.data else {}

    print(f"\n{'variant':<16} {'msg/s':>8} {'wall msg/s':>10} {'RSS MB':>7} {'messages':>8} "
          f"{'agree (mailbox)':>15} {'agree (test)':>12} {'max recall loss':>15}")
    for variant, row in rows.items():
        t = test.get(variant, {})
        agree_test = min(t["decision_agreement"].values()) if t else float("nan")
        loss = max(t["recall_loss"].values(), default=0.0) if t else float("nan")
        print(f"{variant:<16} {row['msg_per_s']:8.1f} {row['wall_msg_per_s']:10.1f} {row['peak_rss_mb']:7.0f} "
              f"{row['messages']:8d} {min(row['mailbox_agreement']['decision_agreement'].values()):15.4f} "
              f"{agree_test:12.4f} {loss:15.4f}")
    targets = {v: {"msg_per_s": rows[v]["msg_per_s"] >= TARGET_MSG_PER_S,
                   "agreement": min(test[v]["decision_agreement"].values()) >= TARGET_AGREEMENT if v in test else None,
                   "recall_loss": max(test[v]["recall_loss"].values(), default=0.0) <= TARGET_RECALL_LOSS
                   if v in test else None}
               for v in rows if v.startswith(("cascade", "student"))}
    payload = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "setup": {"messages": args.messages, "teacher_messages": args.teacher_messages,
                  "torch_messages": args.torch_messages, "workers": args.workers, "reference": reference,
                  "mailbox": "bench/make_mailbox.py throughput --seed 8", "data": str(args.data or "")},
        "targets": {"msg_per_s": TARGET_MSG_PER_S, "min_decision_agreement": TARGET_AGREEMENT,
                    "max_recall_loss": TARGET_RECALL_LOSS, "met": targets},
        "results": rows, "test_split": test,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
