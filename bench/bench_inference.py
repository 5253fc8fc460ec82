"""Inference benchmark: messages/second and peak RSS per model variant, each in a fresh process.

Variants: linear baseline, transformer torch fp32, ONNX fp32, ONNX int8, cascade (linear
screen + int8 transformer). All score the same deterministic, e-mail-like bodies of
mixed length, in one process with the same thread count and the same window batch size.

    python bench/bench_inference.py --linear artifacts/linear --transformer artifacts/model

Prints a table with PASS/FAIL against the targets and writes bench/results/inference.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VARIANTS = ("linear", "torch", "onnx", "onnx-int8", "cascade")
MIN_INT8_SPEEDUP = 3.0  # ONNX int8 vs torch fp32 throughput at the same batch size
MAX_RSS_MB = 1536.0  # the scoring host's memory budget per process
CHUNK = 256  # messages handed to score_texts at a time, as the nightly scorer does

_GREETINGS = ["Hi all,", "Hello team,", "Dear colleagues,", "Hi Sam,", "Good morning,", "Hello,", ""]
_SIGNOFFS = ["Thanks,\nAlex", "Best regards,\nJordan Lee\nPublic Works Department", "Cheers,\nPat",
             "Kind regards,\nM. Rivera\nCity Clerk's Office | ext. 4417", "Thanks", ""]
_SENTENCES = [
    "Please find attached the minutes from Tuesday's meeting.",
    "The budget review has been moved to Thursday at 2pm in room 301.",
    "Can you confirm the headcount for the training session by Friday?",
    "The permit application for the Elm Street project is still pending review.",
    "I have updated the shared spreadsheet with the latest figures from the contractor.",
    "Reminder: timesheets are due at the end of the pay period.",
    "Facilities will be testing the fire alarms on the third floor tomorrow morning.",
    "Let me know if you have any questions about the new procurement process.",
    "The council agenda for next week is now posted on the intranet.",
    "We still need two volunteers for the community clean-up on Saturday.",
    "IT will apply security updates tonight, so please save your work and log off.",
    "Thanks for your help with the resident complaint yesterday.",
    "Could you send me the signed contract once legal has reviewed it?",
    "The parking garage will be closed for resurfacing from Monday to Wednesday.",
    "Attached is the draft report; comments are welcome before the end of the week.",
    "Our vendor has asked for an extension on the delivery date.",
    "Please route all invoices through the finance portal from now on.",
    "The quarterly safety inspection found no major issues.",
]
_QUOTE = "On Mon, Mar 3, 2025 at 9:14 AM Chris Doe <cdoe@city.example.gov> wrote:"


def make_mail_bodies(n: int = 2000, seed: int = 0) -> list[str]:
    """Return ``n`` deterministic e-mail bodies: about 50% short, 35% medium, 15% long (quoted threads)."""
    rng = random.Random(seed)
    bodies = []
    for _ in range(n):
        kind = rng.random()
        n_sent = rng.randint(1, 3) if kind < 0.5 else rng.randint(6, 18) if kind < 0.85 else rng.randint(40, 120)
        sentences = [rng.choice(_SENTENCES) for _ in range(n_sent)]
        paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
        body = "\n\n".join(p for p in [rng.choice(_GREETINGS), *paragraphs, rng.choice(_SIGNOFFS)] if p)
        if kind >= 0.85:  # long mail is usually a thread with the earlier message quoted
            body += f"\n\n{_QUOTE}\n" + "\n".join("> " + line for line in paragraphs[: len(paragraphs) // 2])
        bodies.append(body)
    return bodies


# -- worker: one variant in a fresh process ------------------------------------
def _load_variant(variant: str, args: argparse.Namespace) -> Any:
    from models import load_classifier

    if variant == "linear":
        return load_classifier(args.model)
    if variant == "cascade":
        from models.cascade import CascadeClassifier

        if args.cascade:
            clf = load_classifier(args.cascade)
        else:  # no trained cascade given: screen with the linear model's own thresholds as gates
            cheap, expensive = load_classifier(args.linear), load_classifier(args.model)
            clf = CascadeClassifier(cheap=cheap, expensive=expensive)
            clf.cheap_, clf.expensive_, clf.gates_ = cheap, expensive, cheap.thresholds_.copy()
            clf.classes_ = cheap.classes_
            clf.set_thresholds(expensive.thresholds_)
        inner = clf.expensive_
    else:
        clf = inner = load_classifier(args.model)
    if hasattr(inner, "batch_size"):
        inner.batch_size, inner.num_threads = args.batch_size, args.threads
    return clf


def run_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Return throughput and peak RSS of one variant scoring the benchmark mail (run in its own process)."""
    texts = make_mail_bodies(args.n, args.seed)
    started = time.perf_counter()
    clf = _load_variant(args.worker, args)
    load_seconds = time.perf_counter() - started
    clf.score_texts(texts[:16])  # warm-up: lazy sessions, first-call allocations
    started = time.perf_counter()
    for c in range(0, len(texts), CHUNK):
        clf.score_texts(texts[c : c + CHUNK])
    seconds = time.perf_counter() - started
    out: dict[str, Any] = {
        "variant": args.worker, "messages": len(texts), "seconds": seconds, "load_seconds": load_seconds,
        "messages_per_second": len(texts) / seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch_imported": "torch" in sys.modules,
    }
    if args.worker == "cascade":
        from models.cascade import escalated

        out["escalated_fraction"] = float(escalated(clf.cheap_scores(texts), clf.gates_).mean())
    return out


def prepare_onnx(transformer: Path, work: Path) -> dict[str, Path]:
    """Return saved-model folders of the transformer for each runtime (ONNX ones exported into ``work``).

    ``--transformer`` may be a torch transformer folder (exported and quantised here, dynamic int8) or an
    ONNX folder already packaged (then only that precision is benchmarked, under its own name).
    """
    from models import load_classifier
    from models.onnx_export import export_onnx, onnx_classifier, quantize_int8

    clf = load_classifier(transformer)
    if clf.family == "onnx":
        return {"onnx-int8" if clf.get_params()["precision"] == "int8" else "onnx": transformer}
    fp32 = export_onnx(clf, work / "graphs")  # type: ignore[arg-type]
    return {
        "torch": transformer,
        "onnx": onnx_classifier(clf, fp32, "fp32").save(work / "onnx"),  # type: ignore[arg-type]
        "onnx-int8": onnx_classifier(clf, quantize_int8(fp32), "int8").save(work / "onnx-int8"),  # type: ignore[arg-type]
    }


def _spawn(args: list[str], threads: int) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--linear", type=Path, help="saved linear model folder")
    parser.add_argument("--transformer", type=Path, help="saved transformer model folder (any runtime)")
    parser.add_argument("--cascade", type=Path, help="saved cascade folder (default: linear + int8, ungated thresholds)")
    parser.add_argument("--n", type=int, default=2000, help="messages to score")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads for torch / ONNX Runtime / BLAS")
    parser.add_argument("--batch-size", type=int, default=32, help="token windows per forward pass, all variants")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--work-dir", type=Path, help="where ONNX exports go (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "inference.json")
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(run_worker(args)))
        return 0
    if args.prepare:
        print(json.dumps({k: str(v) for k, v in prepare_onnx(args.transformer, args.work_dir).items()}))
        return 0

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if ("linear" in variants or "cascade" in variants) and not args.linear:
        parser.error("--linear is needed for the linear and cascade variants")
    if set(variants) - {"linear"} and not args.transformer:
        parser.error("--transformer is needed for the transformer variants")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="mailguard-bench-"))
    folders: dict[str, str] = {}
    if set(variants) - {"linear"}:
        folders = _spawn(["--prepare", "--transformer", str(args.transformer), "--work-dir", str(work)], args.threads)
    common = ["--n", str(args.n), "--seed", str(args.seed), "--threads", str(args.threads),
              "--batch-size", str(args.batch_size)]
    results = []
    missing = [v for v in variants if v not in ("linear", "cascade") and v not in folders]
    if missing:
        parser.error(f"--transformer {args.transformer} gives no {', '.join(missing)} variant")
    for variant in variants:
        screened = folders.get("onnx-int8") or next(iter(folders.values()), None)  # the cascade's expensive side
        model = args.linear if variant == "linear" else screened if variant == "cascade" else folders[variant]
        extra = ["--linear", str(args.linear)] if variant == "cascade" else []
        extra += ["--cascade", str(args.cascade)] if variant == "cascade" and args.cascade else []
        results.append(_spawn(["--worker", variant, "--model", str(model), *common, *extra], args.threads))
        r = results[-1]
        print(f"{variant:10s} {r['messages_per_second']:9.1f} msg/s  peak RSS {r['peak_rss_mb']:7.0f} MB", flush=True)

    by = {r["variant"]: r for r in results}
    checks = {}
    if "torch" in by and "onnx-int8" in by:
        speedup = by["onnx-int8"]["messages_per_second"] / by["torch"]["messages_per_second"]
        checks["int8_speedup_vs_torch"] = {"value": speedup, "target": f">= {MIN_INT8_SPEEDUP}", "pass": speedup >= MIN_INT8_SPEEDUP}
    worst = max(r["peak_rss_mb"] for r in results)
    checks["peak_rss_mb"] = {"value": worst, "target": f"<= {MAX_RSS_MB:.0f}", "pass": worst <= MAX_RSS_MB}

    print(f"\n{'variant':10s} {'msg/s':>9s} {'seconds':>8s} {'RSS MB':>7s} {'load s':>7s}")
    for r in results:
        print(f"{r['variant']:10s} {r['messages_per_second']:9.1f} {r['seconds']:8.1f} {r['peak_rss_mb']:7.0f} "
              f"{r['load_seconds']:7.1f}" + (f"  escalated {r['escalated_fraction']:.0%}" if "escalated_fraction" in r else ""))
    for name, c in checks.items():
        print(f"{'PASS' if c['pass'] else 'FAIL'}  {name} = {c['value']:.2f} (target {c['target']})")
    report = {
        "results": results, "checks": checks,
        "setup": {"messages": args.n, "threads": args.threads, "batch_size": args.batch_size, "chunk": CHUNK,
                  "cpu_count": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
                  "linear": str(args.linear), "transformer": str(args.transformer),
                  "cascade": str(args.cascade) if args.cascade else "linear + onnx-int8, gates = linear thresholds"},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if all(c["pass"] for c in checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
