"""Planted violations: the share of held-out violating texts caught with the right label inside long mail and containers.

    python bench/bench_planted.py --model champion
    python bench/bench_planted.py --model models:/mailguard/3 --max-texts 100
    python bench/bench_planted.py --model artifacts/model --out bench/results/planted.json

Each violating text (functional suite, written evaluation mail) is planted as a paragraph at the
start, middle and end of held-out ordinary long mail, and put behind ``> ``, after a hand-typed
``-----Original Message-----``, only in the HTML alternative, and only in a .docx / .pdf attachment
(real RFC 822 mail, parsed like logged mail and scored through the nightly ``score_batch``). See
``pipelines/planted.py`` for the definitions. Results: a printed table and a JSON file (numbers only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailguard.errors import MailguardError  # noqa: E402
from mailguard.mail import Message  # noqa: E402
from mailguard.taxonomy import LABELS  # noqa: E402
from models.base import Classifier  # noqa: E402
from models.registry import LoadedModel, resolve_model  # noqa: E402
from pipelines.clean_mail import STAFF_DOMAIN  # noqa: E402
from pipelines.params import load_pipeline_params  # noqa: E402
from pipelines.planted import CONTAINERS, POSITIONS, MailScorer, MailVerdict, planted_report  # noqa: E402
from serve.scoring.batch import score_batch  # noqa: E402
from serve.scoring.settings import ScoreSettings  # noqa: E402


def nightly_scorer(classifier: Classifier, version: str) -> MailScorer:
    """Return a scorer that runs the nightly ``score_batch`` and reads labels and evidence origins from its rows."""
    model = LoadedModel(classifier, version)
    settings = ScoreSettings(out=Path(os.devnull), org_domains=(STAFF_DOMAIN,))

    def score(messages: Sequence[Message]) -> list[MailVerdict]:
        frame = score_batch(messages, model, settings)
        return [
            MailVerdict(
                frozenset(lb for lb in str(labels).split(";") if lb),
                {lb: frozenset(item["origin"] for item in items) for lb, items in json.loads(evidence).items()},
            )
            for labels, evidence in zip(frame["labels"], frame["evidence"], strict=True)
        ]

    return score


def _pct(share: dict[str, Any]) -> str:
    return "   —  " if share.get("rate") is None else f"{share['rate']:6.1%}"


def print_table(report: dict[str, Any]) -> None:
    """Print the report as readable tables."""
    print(f"\n{report['n_texts']} violating texts {report['texts_by_source']}; {report['n_hosts']} hosts "
          f"{report['hosts_by_source']}")
    sources = list(report["hosts_by_source"])
    print("\ncaught with the right label      all  in place  " + "  ".join(f"{s:>21}" for s in sources))
    print(f"  standalone                  {_pct(report['standalone'])}")
    for position in POSITIONS:
        entry = report["positions"][position]
        by_host = "  ".join(f"{_pct(entry['by_host_source'][s]):>21}" for s in sources)
        print(f"  planted at {position:<16} {_pct(entry)}    {_pct(entry['in_place'])}  {by_host}")
    print("\ncontainer          origin       covered  caught (right label + origin)")
    for name in CONTAINERS:
        entry = report["containers"][name]
        print(f"  {name:<16} {entry['origin']:<12} {_pct(entry['covered'])}  {_pct(entry)}")
    print("\nper label (that label flagged)  " + "  ".join(f"{c:>10}" for c in ["standalone", *POSITIONS]))
    for lb in LABELS:
        if lb in report["standalone"]["by_label"]:
            cells = [report["standalone"]["by_label"][lb], *(report["positions"][p]["by_label"][lb] for p in POSITIONS)]
            n = report["standalone"]["by_label"][lb]["n"]
            print(f"  {lb:<18} n={n:<6}    " + "  ".join(f"{_pct(c):>10}" for c in cells))
    print("\nunmodified hosts with any label")
    for source, entry in report["hosts_flagged"].items():
        labels = ", ".join(f"{lb} {k}" for lb, k in entry["by_label"].items() if k)
        print(f"  {source:<24} {_pct(entry)}  ({entry['hits']}/{entry['n']}{'; ' + labels if labels else ''})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="saved-model folder, alias (champion), or models:/mailguard/N")
    parser.add_argument("--max-texts", type=int, default=None, help="violating texts sampled (default: all)")
    parser.add_argument("--max-hosts", type=int, default=None, help="host mails sampled (default: all)")
    parser.add_argument("--seed", type=int, default=None, help="sampling seed (default: evaluate.planted_seed)")
    parser.add_argument("--datasets-root", type=Path, default=None, help="public corpora (default: data.datasets_root)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "planted.json")
    args = parser.parse_args()

    started = datetime.now(UTC)
    t0 = time.perf_counter()
    try:
        params = load_pipeline_params(ROOT / "params.yaml")  # its paths are relative to the repository root
        data = params.data
        resolved = resolve_model(args.model)
        report = planted_report(
            resolved.classifier, datasets_root=args.datasets_root or ROOT / data.datasets_root,
            suite_root=ROOT / params.evaluate.suite_root, clean_mail_root=ROOT / data.clean_mail_root,
            written_root=ROOT / data.written_root, max_texts=args.max_texts, max_hosts=args.max_hosts,
            seed=params.evaluate.planted_seed if args.seed is None else args.seed,
            score_mail=nightly_scorer(resolved.classifier, resolved.version),
        )
    except MailguardError as e:
        raise SystemExit(f"bench_planted: {e}") from e
    seconds = time.perf_counter() - t0
    print_table(report)
    payload = {
        "model": args.model, "model_version": resolved.version, "run_id": resolved.run_id,
        "family": resolved.classifier.family, "command": shlex.join([sys.executable, *sys.argv]),
        "started": started.isoformat(timespec="seconds"), "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "report": report,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\n{seconds:.0f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
