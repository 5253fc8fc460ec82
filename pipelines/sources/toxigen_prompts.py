"""ToxiGen prompt files: hateful and neutral statements about thirteen groups, split and deduplicated."""

from __future__ import annotations

import gzip
import logging
import re
from pathlib import Path

import pandas as pd

from mailguard.errors import InputError
from pipelines.sources.common import build_frame, corpus_glob

log = logging.getLogger(__name__)

CORPUS = "toxigen_prompts"

# MANIFEST §3 (toxigen_prompts) mapping, group -> (labels, weak). Also used for §4 (toxigen_annotated),
# whose target_group names are the same (mental_dis / physical_dis spelled short there).
# "trans": the MANIFEST says gender (gender identity); mailguard's taxonomy puts gender identity under
# sexual_orientation ("sexual orientation or gender identity"), so the taxonomy wins and the row is weak.
GROUP_LABELS: dict[str, tuple[tuple[str, ...], bool]] = {
    "women": (("gender",), False),
    "trans": (("sexual_orientation",), True),
    "lgbtq": (("sexual_orientation",), False),
    "bisexual": (("sexual_orientation",), False),
    "muslim": (("religion",), False),
    "jewish": (("religion",), True),  # ≈: ToxiGen files it under "race"
    "black": (("race",), False),
    "asian": (("race",), False),
    "native_american": (("race",), False),
    "latino": (("national_origin",), True),  # ≈: race≈/national_origin≈; ethnicity of origin fits the latter
    "chinese": (("national_origin",), True),  # ≈: partly racial
    "mexican": (("national_origin",), False),
    "middle_east": (("national_origin",), True),  # ≈: partly racial
    "immigrant": (("national_origin",), False),
    "mental_disability": (("disability",), False),
    "physical_disability": (("disability",), False),
}

_FILE_NAME = re.compile(r"^(hate|neutral)_(.+)_1k\.txt\.gz$")
# MANIFEST §3: each line is ~6 sentences joined by the literal two characters backslash + n, then '-'.
_SEPARATOR = "\\n-"


def split_prompt(line: str) -> list[str]:
    """Return the example sentences of one prompt line, without list dashes, blanks dropped."""
    sentences = []
    for part in line.split(_SEPARATOR):
        sentence = part.strip().removeprefix("-").strip()
        if sentence:
            sentences.append(sentence)
    return sentences


def load(root: Path) -> pd.DataFrame:
    """Return the unique sentences of every prompt file: hate_<group> -> the group's label, neutral_* -> clean.

    MANIFEST §3: the 1,000 lines per file recombine very few sentences, so sentences are deduplicated
    per file. neutral_* files -> clean (exact): hard negatives that mention the group benignly.
    """
    paths = corpus_glob(root, CORPUS, "*_1k.txt.gz")
    texts: list[str] = []
    labels: list[tuple[str, ...]] = []
    weak: list[bool] = []
    for path in paths:
        match = _FILE_NAME.match(path.name)
        if match is None or match.group(2) not in GROUP_LABELS:
            log.warning("%s: skipping %s (unknown group)", CORPUS, path.name)
            continue
        kind, group = match.groups()
        group_labels, group_weak = GROUP_LABELS[group]
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                sentences = dict.fromkeys(s for line in fh for s in split_prompt(line))
        except (OSError, EOFError, UnicodeDecodeError) as e:
            raise InputError(f"{CORPUS}: cannot read {path}: {e}") from e
        for sentence in sentences:
            texts.append(sentence)
            labels.append(group_labels if kind == "hate" else ())
            weak.append(group_weak if kind == "hate" else False)
    return build_frame(texts, labels, weak, CORPUS)
