"""The City's e-mail policy taxonomy: the one list of labels everything imports."""

from __future__ import annotations

from typing import Final

#: Label order is part of every saved model and every results table. Never reorder.
LABELS: Final[tuple[str, ...]] = (
    "age",
    "sexual_orientation",
    "religion",
    "national_origin",
    "disability",
    "race",
    "gender",
    "political",
    "sexual",
    "solicitation",
)

#: One line per label, tied to the policy wording.
DESCRIPTIONS: Final[dict[str, str]] = {
    "age": "Offensively addresses someone's age (ageist insults, 'too old/young' slurs).",
    "sexual_orientation": "Offensively addresses someone's sexual orientation or gender identity.",
    "religion": "Offensively addresses someone's religious beliefs or religious group.",
    "national_origin": "Offensively addresses someone's national origin, ethnicity of origin or immigration status.",
    "disability": "Offensively addresses someone's physical or mental disability.",
    "race": "Racial slurs or offensive comments about someone's race or colour.",
    "gender": "Gender-specific derogatory or demeaning comments.",
    "political": "Offensively addresses someone's political beliefs or affiliation.",
    "sexual": "Messages with sexual implications: sexual remarks, innuendo, explicit content.",
    "solicitation": "Solicits or proselytizes for commercial ventures, outside organisations or non-job-related causes.",
}

#: Labels that describe harassment of a person or group (everything but solicitation).
HARASSMENT_LABELS: Final[tuple[str, ...]] = tuple(lb for lb in LABELS if lb != "solicitation")

N_LABELS: Final[int] = len(LABELS)


def score_column(label: str) -> str:
    """Return the results-table column holding the probability for ``label``."""
    return f"score_{check_label(label)}"


SCORE_COLUMNS: Final[tuple[str, ...]] = tuple(f"score_{lb}" for lb in LABELS)


def check_label(label: str) -> str:
    """Return ``label`` normalised (lower case, ``-``/space to ``_``); raise ``ValueError`` if unknown."""
    norm = label.strip().lower().replace("-", "_").replace(" ", "_")
    if norm not in DESCRIPTIONS:
        raise ValueError(f"unknown label {label!r}; expected one of: {', '.join(LABELS)}")
    return norm
