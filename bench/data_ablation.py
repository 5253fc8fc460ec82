"""Measure what the training data did (issue 3): the same linear baseline trained on different data.

Variants share one prepared dataset, so validation and test splits are identical and
leak-free; only the *training* rows change:

- ``issue2_sources``: only the five corpora of the first skeleton (ETHOS, Davidson,
  ToxiGen annotated, Enron-Spam, SMS Spam): the "before" model;
- ``all_public``: every public corpus, without the authored workplace corpus;
- ``all``: every public corpus plus the authored corpus and realistic clean mail: the "after" model.

Each is evaluated on the test split, the functional suite and the held-out clean mail.
Prints a table and writes ``bench/results/data_ablation.json`` and ``docs/data_ablation.md``.

    python bench/data_ablation.py            # about 20-30 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

from mailguard.taxonomy import LABELS
from pipelines.evaluate import evaluate
from pipelines.params import load_pipeline_params, override
from pipelines.train import train

ISSUE2_SOURCES = ["ethos", "davidson_hate_offensive", "toxigen_annotated", "enron_spam", "sms_spam_collection"]
VARIANTS: dict[str, dict[str, list[str]]] = {
    "issue2_sources": {"only_sources": ISSUE2_SOURCES, "exclude_sources": []},
    "all_public": {"only_sources": [], "exclude_sources": ["authored", "clean_mail"]},
    "all": {"only_sources": [], "exclude_sources": []},
}
COMMAND = "python bench/data_ablation.py"


def run(params_path: Path, dataset: Path, suite: Path, variants: list[str]) -> dict[str, dict]:
    """Return evaluation metrics per variant (train + evaluate each in a scratch folder)."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in variants:
            # the table reports no planted section, so it is not measured (as before params carried its roots)
            changes = {"train.family": "linear", "evaluate.planted_max_texts": 0,
                       **{f"train.{k}": v for k, v in VARIANTS[name].items()}}
            params = override(load_pipeline_params(params_path), changes)
            model_dir = Path(tmp) / name
            train(params, dataset, model_dir, register=False)
            results[name] = evaluate(model_dir, dataset, suite, Path(tmp) / f"eval-{name}", params, log_to_mlflow=False)
    return results


def table(results: dict[str, dict]) -> str:
    """Return a markdown table: per-label test PR-AUC and suite accuracy per variant."""
    names = list(results)
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]

    def row(title: str, get) -> None:  # type: ignore[no-untyped-def]
        cells = []
        for n in names:
            v = get(results[n])
            cells.append("—" if v is None else f"{v:.3f}")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")

    for label in LABELS:
        row(f"test PR-AUC {label}", lambda m, lb=label: m["test"]["per_label"][lb]["pr_auc"])
    row("test macro PR-AUC", lambda m: m["test"]["macro_pr_auc"])
    row("suite accuracy (exact label set)", lambda m: m["suite"]["accuracy"])
    for label in LABELS:
        row(f"suite accuracy {label}", lambda m, lb=label: m["suite"]["per_label_accuracy"].get(lb))
    funcs = sorted(results[names[0]]["suite"]["per_functionality"])
    for f in funcs:
        row(f"suite: {f}", lambda m, f=f: m["suite"]["per_functionality"][f]["accuracy"])
    row("clean-mail FPR (any label)", lambda m: (m.get("clean_mail") or {}).get("any_label_fpr"))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--data", type=Path, default=Path("data/processed/dataset.parquet"))
    parser.add_argument("--suite", type=Path, default=Path("data/functional"))
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--json", type=Path, default=Path("bench/results/data_ablation.json"))
    parser.add_argument("--markdown", type=Path, default=Path("docs/data_ablation.md"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    results = run(args.params, args.data, args.suite, args.variants)
    md = table(results)
    print(md)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"command": COMMAND, "results": results}, indent=2, default=str) + "\n")
    args.markdown.write_text(
        "# What the training data did (linear baseline)\n\n"
        "Same prepared dataset and test split for every column; only the training rows differ "
        "(see `bench/data_ablation.py`). `issue2_sources` is the skeleton's data (before), "
        "`all_public` adds every public corpus, `all` adds the authored corpus and clean mail (after).\n\n"
        f"Reproduce: `{COMMAND}`\n\n{md}\n"
    )


if __name__ == "__main__":
    main()
