"""Should solicitation be the maximum over sentence windows, or also read the whole message?

    python bench/solicitation_aggregation.py --model artifacts/linear [--model artifacts/transformer ...]

For each model, both ways of scoring ``solicitation`` get their own threshold, chosen on the validation
split with the model's own rule (as training does), and are then compared on held-out mail only:
recall on the separately written evaluation mail's solicitation, the share of its ordinary mail and of
held-out Enron mailboxes flagged, and test PR-AUC. Prints a table and writes
``bench/results/solicitation_aggregation.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailguard.taxonomy import LABELS  # noqa: E402
from models.saved import load_classifier, read_metadata  # noqa: E402
from pipelines.dataset import load_split  # noqa: E402
from pipelines.mail_eval import enron_heldout_report, written_eval_report  # noqa: E402
from pipelines.metrics import choose_thresholds  # noqa: E402
from pipelines.params import load_pipeline_params  # noqa: E402

SOL = LABELS.index("solicitation")


def measure(model_dir: Path, dataset: Path, rule: str, precision_target: float, min_recall: float) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score

    clf = load_classifier(model_dir)
    written_root = ROOT / load_pipeline_params(ROOT / "params.yaml").data.written_root
    windows = clf.window_config_
    val, test = load_split(dataset, "validation"), load_split(dataset, "test")
    out: dict[str, Any] = {"model": str(model_dir), "family": read_metadata(model_dir)["family"]}
    for name, labels in (("window_max", ()), ("max_with_whole_message", ("solicitation",))):
        started = time.perf_counter()
        clf.set_scoring_unit(windows, labels)
        val_proba = clf.score_texts(val["text"].tolist()).proba
        threshold = choose_thresholds(val_proba, val[list(LABELS)].to_numpy(), rule=rule,  # type: ignore[arg-type]
                                      precision_target=precision_target, min_recall=min_recall)[SOL]
        thresholds = np.array(clf.thresholds_, dtype=float)
        thresholds[SOL] = threshold
        clf.set_thresholds(thresholds)
        test_proba = clf.score_texts(test["text"].tolist()).proba
        written = written_eval_report(clf, written_root)
        enron = enron_heldout_report(clf, test)
        out[name] = {
            "threshold": float(threshold),
            "test_pr_auc": float(average_precision_score(test["solicitation"], test_proba[:, SOL])),
            "written_recall": written["per_label"]["solicitation"]["recall"],
            "written_precision": written["per_label"]["solicitation"]["precision"],
            "written_ordinary_flagged": written["ordinary_any_label_fpr"],
            "written_long_ordinary_flagged": written["long_ordinary_any_label_fpr"],
            "enron_heldout_solicitation": enron.get("solicitation_rate", float("nan")),
            "seconds": time.perf_counter() - started,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", required=True, help="saved-model folder (repeatable)")
    parser.add_argument("--data", type=Path, default=ROOT / "data/processed/dataset.parquet")
    parser.add_argument("--rule", default="best_f1")
    parser.add_argument("--precision-target", type=float, default=0.8)
    parser.add_argument("--min-recall", type=float, default=0.6)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/solicitation_aggregation.json")
    args = parser.parse_args()
    results = [measure(m, args.data, args.rule, args.precision_target, args.min_recall) for m in args.model]
    keys = ["threshold", "test_pr_auc", "written_recall", "written_precision", "written_ordinary_flagged",
            "written_long_ordinary_flagged", "enron_heldout_solicitation"]
    for r in results:
        print(f"\n{r['model']} ({r['family']})")
        print(f"{'':32}" + "".join(f"{k:>16}" for k in ("window_max", "max+whole")))
        for k in keys:
            print(f"{k:32}" + "".join(f"{r[v][k]:>16.3f}" for v in ("window_max", "max_with_whole_message")))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join(sys.argv), "results": results}, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
