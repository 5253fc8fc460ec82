"""Enron-Spam (preprocessed) subsets, read in place from their tar.gz archives: ham clean, spam solicitation."""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path, PurePosixPath

import pandas as pd

from mailguard.errors import InputError
from pipelines.sources.common import build_frame, corpus_glob

CORPUS = "enron_spam"

# MANIFEST §10 (enron_spam) mapping: ham -> clean (exact; real corporate e-mail);
# spam -> solicitation≈ (mostly advertising, some phishing/scams that are not solicitation), hence weak.
FOLDER_LABELS: dict[str, tuple[tuple[str, ...], bool]] = {
    "ham": ((), False),
    "spam": (("solicitation",), True),
}


def decode_mail(data: bytes) -> str:
    """Return the mail file's text: UTF-8 where valid, Latin-1 otherwise (old spam is often 8-bit)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def subject_and_body(text: str) -> str:
    """Return ``Subject: s\\nbody`` as ``s\\nbody``: the header word would only mark the corpus, not the label."""
    first, _, rest = text.partition("\n")
    if first.lower().startswith("subject:"):
        first = first[len("subject:") :].strip()
    return f"{first}\n{rest}" if first else rest


def load(root: Path) -> pd.DataFrame:
    """Return one row per mail file of every ``enron*.tar.gz``: ham/ -> clean, spam/ -> solicitation (weak).

    The archives are streamed member by member (never unpacked to disk).
    """
    texts: list[str] = []
    labels: list[tuple[str, ...]] = []
    weak: list[bool] = []
    for archive in corpus_glob(root, CORPUS, "enron*.tar.gz"):
        try:
            with tarfile.open(archive, mode="r|gz") as tar:
                for member in tar:
                    parts = PurePosixPath(member.name).parts
                    if not member.isfile() or len(parts) < 2 or parts[-2] not in FOLDER_LABELS:
                        continue
                    if not parts[-1].endswith(".txt"):
                        continue
                    handle = tar.extractfile(member)
                    if handle is None:
                        continue
                    folder_labels, folder_weak = FOLDER_LABELS[parts[-2]]
                    texts.append(subject_and_body(decode_mail(handle.read())))
                    labels.append(folder_labels)
                    weak.append(folder_weak)
        except (OSError, EOFError, tarfile.TarError, zlib.error) as e:
            raise InputError(f"{CORPUS}: cannot read archive {archive}: {e}") from e
    return build_frame(texts, labels, weak, CORPUS)
