"""BBQ Age contexts: neutral narratives about old and young people, used as clean hard negatives."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mailguard.errors import InputError
from pipelines.sources.common import build_frame, corpus_files

CORPUS = "bbq_age"
FILE = "Age.jsonl"


def load(root: Path) -> pd.DataFrame:
    """Return each distinct ``context`` of Age.jsonl as a clean row.

    MANIFEST §9: "this is not harassment data ... clean hard negatives that mention age", so every
    context -> clean (exact: there is no abusive text). Questions and answers are not used; the same
    context recurs across question polarities, hence the deduplication.
    """
    (path,) = corpus_files(root, CORPUS, [FILE])
    contexts: dict[str, None] = {}
    try:
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{CORPUS}: {path} line {number} is not JSON: {e.msg}") from e
                context = record.get("context") if isinstance(record, dict) else None
                if isinstance(context, str) and context.strip():
                    contexts[context] = None
    except OSError as e:
        raise InputError(f"{CORPUS}: cannot read {path}: {e}") from e
    texts = list(contexts)
    return build_frame(texts, [()] * len(texts), [False] * len(texts), CORPUS)
