"""Enron-Spam (preprocessed) subsets, read in place from their tar.gz archives: ham clean, spam solicitation.

The "preprocessed" release is lower-cased and tokenised ("stella , this has already been taken care
of ."). Text that looks like that exists nowhere else in the training data, so a model can learn
"tokenised = Enron = clean or spam" instead of the policy. ``restore_form`` undoes the tokenisation
(punctuation spacing, dates, times, contractions, dash rules) and restores sentence case, so Enron
mail reads like mail. Each ham row carries its mailbox owner as ``split_key``: evaluation holds out
whole mailboxes, not rows (``data.fixed_splits``).
"""

from __future__ import annotations

import re
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


_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?:- ){3,}-?"), "-----"),  # "- - - - -" rules
    (re.compile(r" ([.,;:!?%)\]])"), r"\1"),  # no space before closing punctuation
    (re.compile(r"([($\[]) "), r"\1"),  # nor after opening punctuation
    (re.compile(r"(\d): (\d)"), r"\1:\2"),  # 10 : 18 -> 10:18 (after the rule above made it "10: 18")
    (re.compile(r"(\w) / (\w)"), r"\1/\2"),  # 12 / 14 / 99, hou / ect
    (re.compile(r"(\w) @ (\w)"), r"\1@\2"),
    (re.compile(r"(\w) ' (s|t|re|ve|ll|d|m)\b"), r"\1'\2"),  # don ' t -> don't
    (re.compile(r"(\d)\. (\d)"), r"\1.\2"),  # 3 . 5 -> 3.5 after the first rules
    (re.compile(r"(\d), (\d{3})\b"), r"\1,\2"),  # 1 , 000 -> 1,000
)
_SENTENCE_START = re.compile(r"(^|[.!?]\s+|\n\s*)([a-z])")
_LONE_I = re.compile(r"\bi\b(?=[\s'.,;:!?])")


def restore_form(text: str) -> str:
    """Return tokenised, lower-cased Enron text with punctuation spacing undone and sentence case restored."""
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    text = _LONE_I.sub("I", text)
    return _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)


def owner_of(summary: str) -> str:
    """Return the ham mailbox owner named in an archive's ``Summary.txt`` ("" if none)."""
    m = re.search(r"Legitimate\s*-+\s*- Owner:\s*(\S+)", summary)
    return m.group(1) if m else ""


def load(root: Path) -> pd.DataFrame:
    """Return one row per mail file of every ``enron*.tar.gz``: ham/ -> clean, spam/ -> solicitation (weak).

    The archives are streamed member by member (never unpacked to disk). Ham rows get
    ``split_key`` ``enron-owner:<owner>`` (from the archive's Summary.txt); spam rows none.
    """
    texts: list[str] = []
    labels: list[tuple[str, ...]] = []
    weak: list[bool] = []
    keys: list[str] = []
    for archive in corpus_glob(root, CORPUS, "enron*.tar.gz"):
        owner = ""
        try:
            with tarfile.open(archive, mode="r|gz") as tar:
                for member in tar:
                    parts = PurePosixPath(member.name).parts
                    if member.isfile() and parts[-1] == "Summary.txt":
                        handle = tar.extractfile(member)
                        owner = owner_of(decode_mail(handle.read())) if handle is not None else ""
                        continue
                    if not member.isfile() or len(parts) < 2 or parts[-2] not in FOLDER_LABELS:
                        continue
                    if not parts[-1].endswith(".txt"):
                        continue
                    handle = tar.extractfile(member)
                    if handle is None:
                        continue
                    folder_labels, folder_weak = FOLDER_LABELS[parts[-2]]
                    texts.append(restore_form(subject_and_body(decode_mail(handle.read()))))
                    labels.append(folder_labels)
                    weak.append(folder_weak)
                    keys.append(f"enron-owner:{owner or archive.name}" if parts[-2] == "ham" else "")
        except (OSError, EOFError, tarfile.TarError, zlib.error) as e:
            raise InputError(f"{CORPUS}: cannot read archive {archive}: {e}") from e
    frame = build_frame(texts, labels, weak, CORPUS)
    frame["split_key"] = keys
    return frame
