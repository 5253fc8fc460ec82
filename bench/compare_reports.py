"""Print a side-by-side markdown comparison of evaluation reports (metrics.json files written by `mailguard evaluate`).

    python bench/compare_reports.py linear=reports/champion/metrics.json transformer=reports/transformer/metrics.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mailguard.taxonomy import LABELS


def _fmt(value: Any) -> str:
    return "—" if value is None else f"{value:.3f}"


def _planted(report: dict[str, Any], position: str) -> float | None:
    return (((report.get("planted") or {}).get("positions") or {}).get(position) or {}).get("rate")


def compare(reports: dict[str, dict[str, Any]]) -> str:
    """Return markdown tables: per-label test PR-AUC and F1, headline numbers, suite accuracy per functionality."""
    names = list(reports)
    head = "| | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names)
    lines = ["### Test split, per label (PR-AUC / F1 at the stored threshold)", "", head]
    written = [r for r in reports.values() if r.get("written_eval")]
    for lb in LABELS:
        cells = [f"{_fmt(r['test']['per_label'][lb]['pr_auc'])} / {_fmt(r['test']['per_label'][lb]['f1'])}"
                 for r in reports.values()]
        lines.append(f"| {lb} | " + " | ".join(cells) + " |")
    lines += ["", "### Headline numbers", "", head]
    rows = {
        "test macro PR-AUC": lambda r: r["test"]["macro_pr_auc"],
        "test macro F1": lambda r: r["test"]["macro_f1"],
        "functional suite accuracy (exact label set)": lambda r: r["suite"]["accuracy"],
        "identity bias final metric (higher is fairer)": lambda r: r["bias"]["final_metric"],
        "neutral identity mentions flagged (mean over groups)": lambda r: sum(
            v["fpr"] for v in r["bias"]["neutral_fpr"].values()) / len(r["bias"]["neutral_fpr"]),
        "suite: attacks on a group vs neutral mentions, ROC-AUC (threshold-free)": lambda r: r["bias"].get(
            "identity_mention_auc"),
        "suite: attacks on a group flagged (any label)": lambda r: r["bias"].get("identity_attacks_flagged"),
        "held-out stance pairs: clean ones flagged": lambda r: (r["bias"].get("stance_test") or {}).get("clean_flagged"),
        "held-out stance pairs: violating ones caught": lambda r: (r["bias"].get("stance_test") or {}).get(
            "violations_caught"),
        "held-out realistic clean mail flagged (any label)": lambda r: (r.get("clean_mail") or {}).get("any_label_fpr"),
        "written evaluation mail: macro recall": lambda r: (r.get("written_eval") or {}).get("macro_recall"),
        "written evaluation mail: lowest label recall": lambda r: (r.get("written_eval") or {}).get("min_recall"),
        "written evaluation mail: ordinary mail flagged": lambda r: (r.get("written_eval") or {}).get(
            "ordinary_any_label_fpr"),
        "written evaluation mail: long ordinary mail flagged": lambda r: (r.get("written_eval") or {}).get(
            "long_ordinary_any_label_fpr"),
        "written evaluation mail: group mentions flagged": lambda r: ((r.get("written_eval") or {}).get(
            "per_kind_any_label") or {}).get("group_mention"),
        "held-out Enron mailboxes: any label": lambda r: (r.get("enron_heldout") or {}).get("any_label_rate"),
        "held-out Enron mailboxes: solicitation": lambda r: (r.get("enron_heldout") or {}).get("solicitation_rate"),
        "planted in long mail, caught with the right label (start)": lambda r: _planted(r, "start"),
        "planted in long mail, caught with the right label (middle)": lambda r: _planted(r, "middle"),
        "planted in long mail, caught with the right label (end)": lambda r: _planted(r, "end"),
        "planted texts caught alone (the ceiling)": lambda r: ((r.get("planted") or {}).get("standalone") or {}).get(
            "rate"),
    }
    for title, get in rows.items():
        lines.append(f"| {title} | " + " | ".join(_fmt(get(r)) for r in reports.values()) + " |")
    if written:
        lines += ["", "### Written evaluation mail, recall per label (at the stored threshold)", "", head]
        for lb in LABELS:
            lines.append(f"| {lb} | " + " | ".join(
                _fmt(((r.get("written_eval") or {}).get("per_label") or {}).get(lb, {}).get("recall"))
                for r in reports.values()) + " |")
    lines += ["", "### Functional suite accuracy per functionality", "", head]
    for f in sorted(reports[names[0]]["suite"]["per_functionality"]):
        lines.append(f"| {f} | " + " | ".join(
            _fmt(r["suite"]["per_functionality"].get(f, {}).get("accuracy")) for r in reports.values()) + " |")
    return "\n".join(lines)


def main() -> None:
    pairs = [arg.split("=", 1) for arg in sys.argv[1:]]
    if not pairs or any(len(p) != 2 for p in pairs):
        sys.exit("usage: compare_reports.py NAME=metrics.json [NAME=metrics.json ...]")
    print(compare({name: json.loads(Path(path).read_text()) for name, path in pairs}))


if __name__ == "__main__":
    main()
