"""Text normalisation shared by data preparation, models and scoring (sentences and windows: ``segments``)."""

from __future__ import annotations

import re
import unicodedata

_WS = re.compile(r"\s+")


def normalise_for_matching(text: str) -> str:
    """Return ``text`` folded for duplicate detection: NFKC, lower case, single spaces, no punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w\s]", " ", text)
    return _WS.sub(" ", text).strip()


def clean_whitespace(text: str) -> str:
    """Return ``text`` with runs of spaces/tabs collapsed and at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"[ \t\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# Characters commonly swapped for letters to dodge filters ("r3t@rd", "$lut").
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "|": "l"})
_TOKEN = re.compile(r"\S+")
_EDGE_PUNCT = ".,;:!?\"'()[]{}<>"
_ADDRESS = re.compile(r"@[\w-]+\.[a-z]{2,}|://|^www\.", re.IGNORECASE)
_ORDINAL_OR_UNIT = re.compile(r"^\d+(st|nd|rd|th|am|pm|s|k|m|x|h|gb|mb|kb)?$", re.IGNORECASE)
# Three or more single letters joined by one separator each ("s l u r", "f.a.g", "b-i-t-c-h").
_SPACED = re.compile(r"(?<![\w])(?:[A-Za-z][ .*_-]){2,}[A-Za-z](?![\w])")


def _unleet(match: re.Match[str]) -> str:
    token = match.group(0)
    if _ADDRESS.search(token):  # e-mail addresses and links are not words
        return token
    word = token.strip(_EDGE_PUNCT)
    letters = sum(ch.isalpha() for ch in word)
    if letters < 2 or len(word) < 4 or word.isalpha() or _ORDINAL_OR_UNIT.match(word):
        return token
    plain = word.translate(_LEET)
    return token.replace(word, plain, 1) if plain.isalpha() else token


def _unspace(match: re.Match[str]) -> str:
    letters = match.group(0)[::2]
    return letters + " " * (len(match.group(0)) - len(letters))


def deobfuscate(text: str) -> str:
    """Return ``text`` with leetspeak words and spaced-out letters undone, at the same length.

    Only words mixing at least two letters with look-alike digits or symbols are changed
    ("r3t@rd" -> "retard", but not "10am", "Q3", "mp3"); runs of three or more single letters
    are joined ("s l u r" -> "slur" plus padding). The length never changes, so character
    offsets found in the result point at the same place in the original (evidence spans).
    """
    return _SPACED.sub(_unspace, _TOKEN.sub(_unleet, text))
