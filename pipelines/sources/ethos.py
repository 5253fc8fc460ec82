"""ETHOS (binary + multi-label): hate comments with target categories, and non-hate comments."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.sources.common import build_frame, corpus_files, read_table, require_columns

CORPUS = "ethos"
BINARY = "Ethos_Dataset_Binary.csv"
MULTI_LABEL = "Ethos_Dataset_Multi_Label.csv"

# MANIFEST §1 (ethos): both files are ';'-separated; values are annotator-agreement fractions, >= 0.5 counts.
AGREEMENT = 0.5
# MANIFEST §1 mapping, exact: multi-label column -> policy label. violence/directed_vs_generalized are not
# policy categories; a hate comment with only those is dropped (hateful, but its category is unknown).
MULTI_LABEL_MAP: dict[str, str] = {
    "gender": "gender",
    "race": "race",
    "national_origin": "national_origin",
    "disability": "disability",
    "religion": "religion",
    "sexual_orientation": "sexual_orientation",
}


def load(root: Path) -> pd.DataFrame:
    """Return ETHOS rows: multi-label hate comments with their categories, non-hate comments as clean (weak).

    MANIFEST §1: isHate < 0.5 -> clean≈ (non-hateful comments, some still rude), hence ``weak``.
    Hate comments take their categories from the multi-label file (which holds exactly the hate comments),
    so the binary file contributes only its non-hate rows.
    """
    binary_path, multi_path = corpus_files(root, CORPUS, [BINARY, MULTI_LABEL])
    binary = read_table(binary_path, CORPUS, sep=";", encoding="utf-8")
    multi = read_table(multi_path, CORPUS, sep=";", encoding="utf-8")
    require_columns(binary, ["comment", "isHate"], CORPUS, binary_path)
    require_columns(multi, ["comment", *MULTI_LABEL_MAP], CORPUS, multi_path)

    texts: list[str] = []
    labels: list[set[str]] = []
    weak: list[bool] = []
    for row in multi.itertuples(index=False):
        found = {label for column, label in MULTI_LABEL_MAP.items() if float(getattr(row, column)) >= AGREEMENT}
        if found:
            texts.append(str(row.comment))
            labels.append(found)
            weak.append(False)
    clean = binary[pd.to_numeric(binary["isHate"], errors="coerce") < AGREEMENT]
    texts.extend(clean["comment"].astype(str))
    labels.extend(set() for _ in range(len(clean)))
    weak.extend(True for _ in range(len(clean)))
    return build_frame(texts, labels, weak, CORPUS)
