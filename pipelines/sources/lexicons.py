"""Small keyword lexicons that split untargeted abuse into policy categories (weak labels).

The MANIFEST (§2 Davidson, §5 OLID) says these corpora give no target category, so any per-category
label needs keyword heuristics. The lists are deliberately short and high-precision: a term goes in
only if its use in abusive text almost always addresses that category. Every row labelled through a
lexicon is marked ``weak`` so training down-weights it. Matching is on whole words, case-insensitive,
with an optional plural ``s``/``es`` and an optional leading ``#`` (hashtags).
"""

from __future__ import annotations

import re
from typing import Final

# Slurs and epithets, grouped by the policy label they offend. Spelling variants common on Twitter included.
SLURS: Final[dict[str, tuple[str, ...]]] = {
    "race": (
        "nigger",
        "negro",
        "coon",
        "jigaboo",
        "porch monkey",
        "jungle bunny",
        "sambo",
        "darkie",
        "spook",
        "cracker",
        "whitey",
        "white trash",
        "redskin",
        "gook",
        "zipperhead",
    ),
    "national_origin": (
        "wetback",
        "beaner",
        "spic",
        "chink",
        "paki",
        "towelhead",
        "raghead",
        "camel jockey",
        "gypsy",
        "illegals",
        "illegal alien",
    ),
    "religion": ("kike", "heeb", "muzzie", "mohammedan", "christfag"),
    "sexual_orientation": ("faggot", "fag", "fagg", "faggit", "dyke", "homo", "tranny", "shemale", "lesbo"),
}

# Terms counted only on rows the annotators called *hate* (Davidson class 0). In the "offensive" class
# they are overwhelmingly casual in-group usage or generic swearing (Davidson et al. 2017, and their 2019
# paper on racial bias in abuse datasets); labelling those would teach the model a dialect (African-American
# English) rather than the policy.
HATE_ONLY_SLURS: Final[dict[str, tuple[str, ...]]] = {
    "race": ("nigga", "niggah"),
    "sexual_orientation": ("queer", "no homo"),
    "gender": ("bitch", "cunt", "whore", "slut", "hoe", "skank", "thot", "twat"),
}

# Explicit sexual vocabulary (MANIFEST §2: Davidson class 1 "often sexual", ≈sexual).
SEXUAL_TERMS: Final[tuple[str, ...]] = (
    "pussy",
    "cock",
    "blowjob",
    "blow job",
    "titties",
    "tits",
    "boobs",
    "cum",
    "horny",
    "porn",
    "nudes",
    "suck my dick",
    "suck dick",
    "dick pic",
    "deepthroat",
    "jizz",
    "dildo",
    "orgasm",
    "threesome",
    "sex tape",
    "booty call",
)

# Political affiliation words (MANIFEST §5: OLID OFF+TIN+GRP is often political, ≈political).
POLITICAL_TERMS: Final[tuple[str, ...]] = (
    "liberal",
    "lib",
    "libtard",
    "leftist",
    "lefty",
    "left wing",
    "leftwing",
    "democrat",
    "dems",
    "dnc",
    "socialist",
    "communist",
    "commie",
    "antifa",
    "progressive",
    "snowflake",
    "conservative",
    "republican",
    "gop",
    "rnc",
    "maga",
    "trumper",
    "trump supporter",
    "right wing",
    "rightwing",
    "alt right",
    "altright",
    "nazi",
    "fascist",
    "tory",
    "tories",
    "libertarian",
    "kavanaugh supporter",
    "gun nut",
    "nra",
)


def _compile(terms: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(t).replace(r"\ ", r"\s+") for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![\w])#?(?:{alternatives})(?:s|es)?(?![\w])", re.IGNORECASE)


_SLUR_PATTERNS: Final[dict[str, re.Pattern[str]]] = {label: _compile(terms) for label, terms in SLURS.items()}
_HATE_ONLY_PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    label: _compile(terms) for label, terms in HATE_ONLY_SLURS.items()
}
_SEXUAL_PATTERN: Final[re.Pattern[str]] = _compile(SEXUAL_TERMS)
_POLITICAL_PATTERN: Final[re.Pattern[str]] = _compile(POLITICAL_TERMS)


def slur_labels(text: str, *, hate: bool) -> set[str]:
    """Return the policy labels whose slur lexicon matches ``text``; ``hate`` adds the hate-only terms."""
    found = {label for label, pattern in _SLUR_PATTERNS.items() if pattern.search(text)}
    if hate:
        found.update(label for label, pattern in _HATE_ONLY_PATTERNS.items() if pattern.search(text))
    return found


def mentions_sexual_terms(text: str) -> bool:
    """Return True if ``text`` contains explicit sexual vocabulary."""
    return _SEXUAL_PATTERN.search(text) is not None


def mentions_political_terms(text: str) -> bool:
    """Return True if ``text`` names a political affiliation or movement."""
    return _POLITICAL_PATTERN.search(text) is not None
