"""SMS Spam Collection v.1: spam -> solicitation, ham -> clean (both approximate)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mailguard.errors import InputError
from pipelines.sources.common import build_frame, corpus_files

CORPUS = "sms_spam_collection"
FILE = "SMSSpamCollection"

# MANIFEST §11 mapping: spam -> solicitation≈ (prizes, premium-rate services, offers);
# ham -> clean≈ (personal SMS, not workplace register). Both approximate, so both weak.
CLASS_LABELS: dict[str, tuple[tuple[str, ...], bool]] = {
    "spam": (("solicitation",), True),
    "ham": ((), True),
}


def load(root: Path) -> pd.DataFrame:
    """Return one row per SMS line (``label<TAB>text``); lines with another label are skipped."""
    (path,) = corpus_files(root, CORPUS, [FILE])
    texts: list[str] = []
    labels: list[tuple[str, ...]] = []
    weak: list[bool] = []
    try:
        # MANIFEST §11: not UTF-8-clean; Latin-1 decodes every byte.
        with path.open(encoding="latin-1") as fh:
            for line in fh:
                label, sep, text = line.rstrip("\r\n").partition("\t")
                if sep and label in CLASS_LABELS:
                    row_labels, row_weak = CLASS_LABELS[label]
                    texts.append(text)
                    labels.append(row_labels)
                    weak.append(row_weak)
    except OSError as e:
        raise InputError(f"{CORPUS}: cannot read {path}: {e}") from e
    return build_frame(texts, labels, weak, CORPUS)
