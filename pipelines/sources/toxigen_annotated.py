"""ToxiGen human-annotated subset: human toxicity >= 4 -> the target group's label, <= 2 -> clean."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from pipelines.sources.common import build_frame, corpus_files, read_table, require_columns
from pipelines.sources.toxigen_prompts import GROUP_LABELS

CORPUS = "toxigen_annotated"
FILE = "toxigen.csv"

# MANIFEST §4: `label` is the generation-prompt type, not the human judgement; use toxicity_human (1-5 mean).
TOXIC_AT_LEAST = 4.0
CLEAN_AT_MOST = 2.0
# MANIFEST §4: target_group uses §3's names, with mental_dis / physical_dis short forms.
GROUP_ALIASES = {"mental_dis": "mental_disability", "physical_dis": "physical_disability"}
# MANIFEST §4: `lewd` can flag sexual content (≈sexual).
LEWD = "contains lewd content"


def strip_bytes_wrapper(text: str) -> str:
    """Return ``text`` without a Python bytes-literal wrapper (``b'...'`` / ``b"..."``), escapes decoded."""
    text = str(text)
    if len(text) >= 3 and text[0] == "b" and text[1] in "'\"" and text[-1] == text[1]:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text[2:-1]
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        return text[2:-1]
    return text


def load(root: Path) -> pd.DataFrame:
    """Return annotated ToxiGen rows: toxic -> the group's label, benign -> clean, the middle dropped.

    MANIFEST §4 mapping: toxicity_human >= 4 -> the target group's category (weak where §3's group
    mapping is ≈); <= 2 -> clean (topical hard negatives); in between -> dropped as ambiguous.
    ``lewd == "contains lewd content"`` adds sexual (≈, weak) on a kept row.
    """
    (path,) = corpus_files(root, CORPUS, [FILE])
    df = read_table(path, CORPUS, encoding="utf-8")
    require_columns(df, ["text", "target_group", "toxicity_human", "lewd"], CORPUS, path)

    texts: list[str] = []
    labels: list[set[str]] = []
    weak: list[bool] = []
    toxicity = pd.to_numeric(df["toxicity_human"], errors="coerce")
    for raw, group, score, lewd in zip(df["text"], df["target_group"], toxicity, df["lewd"], strict=True):
        group = GROUP_ALIASES.get(str(group), str(group))
        if group not in GROUP_LABELS or pd.isna(score):
            continue
        if score >= TOXIC_AT_LEAST:
            group_labels, row_weak = GROUP_LABELS[group]
            found = set(group_labels)
        elif score <= CLEAN_AT_MOST:
            found, row_weak = set(), False
        else:
            continue
        if lewd == LEWD:
            found.add("sexual")
            row_weak = True
        texts.append(strip_bytes_wrapper(raw))
        labels.append(found)
        weak.append(row_weak)
    return build_frame(texts, labels, weak, CORPUS)
