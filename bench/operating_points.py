"""Operating points: what each threshold rule costs in recall and buys in ordinary mail left alone.

    python bench/operating_points.py --model linear=artifacts/linear --model transformer=artifacts/transformer
    python bench/operating_points.py --model ... --blend linear,transformer     # also a stacker over two of them

Thresholds are always chosen on the validation split (the rules of ``pipelines.metrics.choose_thresholds``:
best F1 or the lowest threshold reaching a precision target, a recall floor, and a cap on the share of
validation ordinary mail a label may flag). Each rule is then measured on held-out mail only: recall per
label on the separately written evaluation mail, the share of its ordinary mail flagged, the held-out
realistic clean mail and the held-out Enron mailboxes. Scores are computed once per model and cached in
``--cache`` (delete it after retraining). ``--blend`` approximates ``models.blend`` by stacking the
members' message-level scores (the real blend stacks window scores, then takes the maximum); build the
real one with ``mailguard package blend``. Prints a table and writes ``bench/results/operating_points.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mailguard.taxonomy import LABELS  # noqa: E402
from pipelines.metrics import choose_thresholds  # noqa: E402
from pipelines.params import load_pipeline_params  # noqa: E402
from pipelines.train import ordinary_mail  # noqa: E402

RULES = [  # (name, rule, min_recall, cap on validation ordinary mail per label)
    ("best_f1", "best_f1", 0.0, None),
    ("best_f1 + cap 0.3%", "best_f1", 0.0, 0.003),
    ("precision 0.8 + recall 0.6", "precision_target", 0.6, None),
    ("precision 0.8 + recall 0.6 + cap 1%", "precision_target", 0.6, 0.01),
    ("precision 0.8 + recall 0.6 + cap 0.3%", "precision_target", 0.6, 0.003),
    ("precision 0.8 + recall 0.6 + cap 0.1%", "precision_target", 0.6, 0.001),
]


def held_out_sets(dataset: Path) -> dict[str, Any]:
    """Return the validation split and the held-out mail sets as sections, with their gold labels and kinds."""
    from mailguard.segments import text_sections
    from pipelines.clean_mail import load_clean_mail_messages
    from pipelines.dataset import read_prepared
    from pipelines.units import mail_sections
    from pipelines.written_mail import read_portion

    data = load_pipeline_params(ROOT / "params.yaml").data
    df = read_prepared(dataset)
    val, test = df[df["split"] == "validation"].reset_index(drop=True), df[df["split"] == "test"]
    written = read_portion("eval", ROOT / data.written_root)
    ham = test[test["split_key"].str.startswith("enron-owner:") & (test["unit"] == "message")]
    return {
        "validation": val,
        "documents": {
            "validation": [text_sections(t) for t in val["text"]],  # as training chooses thresholds
            "written": [mail_sections(m.subject, m.body) for m in written],
            "clean_mail": [m.sections() for m in load_clean_mail_messages("eval", ROOT / data.clean_mail_root)],
            "enron": [mail_sections("", t) for t in ham["text"]],
        },
        "written_gold": np.array([[lb in m.labels for lb in LABELS] for m in written], dtype=bool),
        "written_ordinary": np.array([m.kind == "ordinary" for m in written], dtype=bool),
    }


def model_scores(name: str, path: Path, sets: dict[str, Any], cache: Path) -> dict[str, np.ndarray]:
    """Return (and cache) the model's message-level scores on every set."""
    from models.saved import load_classifier

    out: dict[str, np.ndarray] = {}
    clf = None
    for key, docs in sets["documents"].items():
        file = cache / f"{name}_{key}.npy"
        if not file.is_file():
            clf = clf or load_classifier(path)
            cache.mkdir(parents=True, exist_ok=True)
            np.save(file, clf.score_documents(docs).proba)
        out[key] = np.load(file)
    return out


def stacked(members: list[dict[str, np.ndarray]], Y_val: np.ndarray) -> dict[str, np.ndarray]:
    """Return the blend's per-label stacker (models.blend) fitted on validation, applied to every set."""
    from models.blend import apply_stacker, fit_stacker

    coef, intercept = fit_stacker([m["validation"] for m in members], Y_val)
    return {k: apply_stacker([m[k] for m in members], coef, intercept) for k in members[0]}


def measure(scores: dict[str, np.ndarray], sets: dict[str, Any]) -> list[dict[str, Any]]:
    val = sets["validation"]
    Y_val, ordinary = val[list(LABELS)].to_numpy(), ordinary_mail(val)
    gold, written_ordinary = sets["written_gold"], sets["written_ordinary"]
    rows = []
    for name, rule, min_recall, cap in RULES:
        th = choose_thresholds(scores["validation"], Y_val, rule=rule, min_recall=min_recall,  # type: ignore[arg-type]
                               ordinary=ordinary if cap else None, max_ordinary_rate=cap)
        flags = {k: v >= th for k, v in scores.items()}
        recall = {lb: float(flags["written"][gold[:, j], j].mean()) for j, lb in enumerate(LABELS)}
        rows.append({
            "rule": name,
            "written_macro_recall": float(np.mean(list(recall.values()))),
            "written_min_recall": float(min(recall.values())),
            "written_ordinary_flagged": float(flags["written"][written_ordinary].any(axis=1).mean()),
            "clean_mail_flagged": float(flags["clean_mail"].any(axis=1).mean()),
            "enron_heldout_flagged": float(flags["enron"].any(axis=1).mean()),
            "enron_heldout_solicitation": float(flags["enron"][:, LABELS.index("solicitation")].mean()),
            "written_recall": recall,
            "thresholds": {lb: float(t) for lb, t in zip(LABELS, th, strict=True)},
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="name=saved-model folder (repeatable)")
    parser.add_argument("--blend", help="comma-separated model names to stack (message-level approximation)")
    parser.add_argument("--data", type=Path, default=ROOT / "data/processed/dataset.parquet")
    parser.add_argument("--cache", type=Path, default=ROOT / "bench/results/.scores")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/operating_points.json")
    args = parser.parse_args()
    sets = held_out_sets(args.data)
    scores = {n: model_scores(n, Path(p), sets, args.cache) for n, p in (m.split("=", 1) for m in args.model)}
    if args.blend:
        names = args.blend.split(",")
        scores["+".join(names)] = stacked([scores[n] for n in names], sets["validation"][list(LABELS)].to_numpy())
    results = {name: measure(s, sets) for name, s in scores.items()}
    cols = ["written_macro_recall", "written_min_recall", "written_ordinary_flagged", "clean_mail_flagged",
            "enron_heldout_flagged", "enron_heldout_solicitation"]
    print(f"{'model':22}{'rule':40}" + "".join(f"{c.replace('written_', 'w_').replace('enron_heldout', 'enron'):>20}" for c in cols))
    for name, rows in results.items():
        for r in rows:
            print(f"{name:22}{r['rule']:40}" + "".join(f"{r[c]:>20.3f}" for c in cols))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"command": " ".join(sys.argv), "results": results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
