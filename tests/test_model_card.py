"""The model card has every section, the numbers and weaknesses, and an HTML rendering with plots inlined."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from mailguard.taxonomy import DESCRIPTIONS, LABELS
from pipelines.model_card import SECTIONS, known_weaknesses, write_model_card

# Smallest valid PNG (1x1 pixel) standing in for a rendered plot.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def fabricated_metrics() -> dict[str, Any]:
    """A metrics.json as evaluate writes it, with one unmeasurable label (nulls) and a weak group."""
    per_label = {
        lb: {"roc_auc": 0.9, "pr_auc": 0.7, "precision": 0.8, "recall": 0.6, "f1": 0.69, "threshold": 0.42,
             "support": 12, "predicted": 9, "n": 100}
        for lb in LABELS
    }
    per_label["age"] = {**per_label["age"], "roc_auc": None, "pr_auc": None, "f1": None, "support": 0}
    per_label["political"]["pr_auc"] = 0.31
    return {
        "meta": {"model_version": "mailguard/7", "run_id": "abc123", "family": "linear", "data_revision": "d00d",
                 "data_fingerprint": "f1f1", "command": "mailguard evaluate models:/mailguard/7 --data x --out y"},
        "data": {"n_train": 800, "n_validation": 100, "n_test": 100, "test_positives": dict.fromkeys(LABELS, 12),
                 "test_sources": {"authored": 60, "olid": 40}},
        "test": {"macro_roc_auc": 0.9, "macro_pr_auc": 0.68, "macro_precision": 0.8, "macro_recall": 0.6,
                 "macro_f1": 0.69, "micro_roc_auc": 0.91, "micro_pr_auc": 0.7, "micro_precision": 0.8,
                 "micro_recall": 0.6, "micro_f1": 0.69, "per_label": per_label, "excluded_from_macro": ["age"],
                 "ece": {**dict.fromkeys(LABELS, 0.03), "sexual": 0.17}, "n": 100},
        "suite": {"accuracy": 0.81, "n": 40,
                  "per_functionality": {f"func_{i}": {"accuracy": i / 10, "n": 4} for i in range(1, 11)},
                  "per_label_accuracy": dict.fromkeys(LABELS, 0.95)},
        "bias": {"overall_auc": 0.92, "final_metric": 0.88, "power_mean_subgroup_auc": 0.85,
                 "power_mean_bpsn_auc": 0.8, "power_mean_bnsp_auc": 0.9,
                 "subgroups": {"muslim": {"n": 40, "positives": 10, "subgroup_auc": 0.71, "bpsn_auc": 0.64,
                                          "bnsp_auc": 0.93},
                               "women": {"n": 50, "positives": 12, "subgroup_auc": 0.9, "bpsn_auc": 0.88,
                                         "bnsp_auc": 0.91}},
                 "skipped": {"young": "3 texts < 30"},
                 "neutral_fpr": {"muslim": {"n": 20, "fpr": 0.15}, "women": {"n": 20, "fpr": 0.0}}},
        "clean_mail": {"n": 500, "any_label_fpr": 0.012, "per_label_fpr": dict.fromkeys(LABELS, 0.001)},
    }


@pytest.fixture()
def plots(tmp_path: Path) -> Path:
    folder = tmp_path / "reports" / "plots"
    folder.mkdir(parents=True)
    for name in ("pr_curves", "reliability", "label_confusion", "bias_subgroups", "suite_functionality"):
        (folder / f"{name}.png").write_bytes(PNG)
    return folder


def test_card_has_every_section_and_policy_scope(plots: Path, tmp_path: Path) -> None:
    md_path, html_path = write_model_card(fabricated_metrics(), plots, tmp_path / "docs" / "model_card.md")
    md = md_path.read_text()
    for section in SECTIONS:
        assert f"## {section}" in md, section
    assert md.index("## Intended use") < md.index("## Out-of-scope use") < md.index("## Reproduce")
    assert "decision support for human reviewers only" in md
    assert "never the basis for automatic discipline" in md
    for label in LABELS:
        assert DESCRIPTIONS[label] in md
    assert "mailguard evaluate models:/mailguard/7" in md
    assert "| age | 0 | n/a | n/a |" in md  # unmeasurable label shown as n/a, not NaN
    assert "0.420" in md  # thresholds


def test_markdown_links_plots_and_html_embeds_them(plots: Path, tmp_path: Path) -> None:
    md_path, html_path = write_model_card(fabricated_metrics(), plots, tmp_path / "docs" / "model_card.md")
    assert "](../reports/plots/pr_curves.png)" in md_path.read_text()
    html = html_path.read_text()
    assert html.count('src="data:image/png;base64,') == 5
    assert "<table>" in html and "<h2>Known weaknesses</h2>" in html


def test_missing_plots_and_sections_do_not_break_the_card(tmp_path: Path) -> None:
    metrics = fabricated_metrics()
    del metrics["suite"], metrics["clean_mail"]
    md_path, _ = write_model_card(metrics, tmp_path / "no-plots", tmp_path / "card.md")
    md = md_path.read_text()
    assert "![" not in md
    assert "was not available" in md


def test_weaknesses_name_worst_functionalities_groups_and_labels() -> None:
    text = "\n".join(known_weaknesses(fabricated_metrics()))
    for worst in ("func_1 ", "func_2 ", "func_3 ", "func_4 ", "func_5 "):
        assert worst in text
    assert "func_6 " not in text  # only the worst five
    assert "muslim (subgroup 0.710, BPSN 0.640" in text
    assert "muslim (15.00% of 20)" in text
    assert "political (0.310)" in text
    assert "sexual" in text  # ECE above 0.1
    assert "young" in text  # skipped subgroup


def test_dataset_card_is_linked_when_present(plots: Path, tmp_path: Path) -> None:
    card = tmp_path / "docs" / "dataset_card.md"
    card.parent.mkdir()
    card.write_text("# Dataset card\n")
    md_path, _ = write_model_card(fabricated_metrics(), plots, tmp_path / "docs" / "model_card.md", dataset_card=card)
    assert "(dataset_card.md)" in md_path.read_text()
    assert "800 training" in md_path.read_text()
