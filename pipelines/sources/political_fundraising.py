"""Political campaign fundraising e-mails: every one a solicitation (never the `political` label)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.sources.common import build_frame, corpus_files, read_table, require_columns

CORPUS = "political_fundraising_emails"
FILE = "training.csv"

# MANIFEST §13 mapping: every row -> solicitation (campaign fundraising / GOTV asks: a non-job-related
# cause). Partisan, but not harassment, so NOT political: `political` means offending someone's beliefs.
LABELS_OF_EVERY_ROW = ("solicitation",)


def load(root: Path) -> pd.DataFrame:
    """Return one row per e-mail, text = subject + blank line + body."""
    (path,) = corpus_files(root, CORPUS, [FILE])
    df = read_table(path, CORPUS, encoding="utf-8", dtype=str, keep_default_na=False)
    require_columns(df, ["subject", "body"], CORPUS, path)
    texts = [
        f"{subject.strip()}\n\n{body.strip()}".strip() for subject, body in zip(df["subject"], df["body"], strict=True)
    ]
    return build_frame(texts, [LABELS_OF_EVERY_ROW] * len(texts), [False] * len(texts), CORPUS)
