"""Functional test suite: HateCheck-style targeted cases in e-mail register, never trained on.

Each case tests one *functionality* (explicit derogation, negated hate, counter-speech, vendor quotes,
...) with gold labels, so that evaluation can say which behaviours a model gets wrong instead of one
aggregate score. Cases come from ``data/functional/``: templates expanded over identity groups plus
hand-written cases. Wording, names and fillers are disjoint from the authored training corpus.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd

from mailguard.config import load_yaml_mapping
from mailguard.errors import InputError
from mailguard.taxonomy import LABELS, check_label

SUITE_COLUMNS: Final[tuple[str, ...]] = (
    "case_id",
    "functionality",
    "label_focus",
    "text",
    "identity_group",
    "template_id",
    *LABELS,
)

_SLOT = re.compile(r"\{(\w+)\}")
# Deliberately a different substitution table from the authored corpus's augmentation.
_LEET: Final[dict[str, str]] = {"a": "@", "e": "3", "i": "!", "o": "0", "s": "$", "l": "1"}


@dataclass(frozen=True)
class Group:
    """One targeted identity group: its key, policy label, plural term and slurs."""

    key: str
    label: str
    term: str
    slurs: tuple[str, ...]


def load_suite(root: Path) -> pd.DataFrame:
    """Return the functional test suite under ``root`` (``evaluate.suite_root``), one row per case.

    Columns: ``case_id``, ``functionality``, ``label_focus`` (the policy label the case is about,
    "" if none), ``text``, ``identity_group`` (the group a templated or group-specific case names,
    "" otherwise), ``template_id`` and the ten gold label columns (int 0/1). Deterministic: the
    same files always give the same table.
    """
    groups = load_groups(root)
    fillers = _load_yaml(root / "fillers.yaml")
    rows = [*_templated_cases(_load_yaml(root / "templates.yaml"), groups), *_hand_cases(root, groups)]
    for i, row in enumerate(rows):
        row["text"] = _frame(row["text"], fillers, i)
    return pd.DataFrame(rows, columns=list(SUITE_COLUMNS))


def load_groups(root: Path) -> dict[str, Group]:
    """Return the suite's identity groups by key; raise ``InputError`` if the file is invalid."""
    spec = _load_yaml(root / "groups.yaml").get("groups")
    if not isinstance(spec, dict) or not spec:
        raise InputError(f"{root / 'groups.yaml'} needs a non-empty 'groups' mapping")
    groups: dict[str, Group] = {}
    for key, g in spec.items():
        try:
            groups[str(key)] = Group(str(key), check_label(g["label"]), str(g["term"]), tuple(g.get("slurs", ())))
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{root / 'groups.yaml'}: group {key!r} is invalid: {e}") from e
    return groups


def spell_variant(word: str, method: str) -> str:
    """Return a deterministic misspelling of ``word``: leet, spaced, swap, drop (one missing) or mask."""
    if method == "leet":
        return "".join(_LEET.get(c.lower(), c) for c in word)
    if method == "spaced":
        return " ".join(word)
    if len(word) < 4:
        return word
    mid = len(word) // 2
    if method == "swap":
        return word[: mid - 1] + word[mid] + word[mid - 1] + word[mid + 1 :]
    if method == "drop":
        return word[:mid] + word[mid + 1 :]
    if method == "mask":
        return word[0] + "".join("*" if c.lower() in "aeiou" else c for c in word[1:-1]) + word[-1]
    raise ValueError(f"unknown spelling variant {method!r}")


def iter_suite_template_strings(root: Path) -> Iterator[str]:
    """Yield every raw template string and hand-written case text of the suite."""
    for spec in _load_yaml(root / "templates.yaml")["functionalities"].values():
        yield from map(str, spec["templates"])
    for spec in _load_yaml(root / "cases.yaml")["functionalities"].values():
        for case in spec["cases"]:
            yield str(case["text"]) if isinstance(case, dict) else str(case)


def iter_suite_filler_values(root: Path) -> Iterator[str]:
    """Yield every suite filler value that is not an identity term (names, units, framing)."""
    fillers = _load_yaml(root / "fillers.yaml")
    for values in fillers.values():
        yield from map(str, values)


def identity_terms(root: Path) -> set[str]:
    """Return the identity terms and slurs of the suite: the only fillers it may share with training data."""
    terms: set[str] = set()
    for g in load_groups(root).values():
        terms.add(g.term)
        terms.update(g.slurs)
    return terms


def _templated_cases(spec: Mapping[str, Any], groups: Mapping[str, Group]) -> Iterator[dict[str, Any]]:
    for functionality, fspec in _functionalities(spec, "templates.yaml").items():
        clean = fspec.get("gold") == "clean"
        method = fspec.get("obfuscate")
        n = 0
        for t, template in enumerate(fspec["templates"], start=1):
            for g in groups.values():
                if "{slur}" in template and not g.slurs:
                    continue
                text = _fill(str(template), g, t, method)
                n += 1
                yield _row(
                    f"{functionality}.{n:03d}",
                    functionality,
                    g.label,
                    text,
                    g.key,
                    f"fs.{functionality}.{t:02d}",
                    () if clean else (g.label,),
                )


def _hand_cases(root: Path, groups: Mapping[str, Group]) -> Iterator[dict[str, Any]]:
    spec = _load_yaml(root / "cases.yaml")
    for functionality, fspec in _functionalities(spec, "cases.yaml").items():
        for i, case in enumerate(fspec["cases"], start=1):
            case = case if isinstance(case, dict) else {"text": case}
            group = groups.get(str(case.get("group", "")))
            focus = fspec.get("label_focus", "")
            gold = case.get("labels", fspec.get("gold", []))
            if group is not None:
                focus = group.label if focus == "group" else focus
                gold = [group.label] if gold == "group" else gold
            try:
                labels = tuple(check_label(lb) for lb in gold)
                focus = check_label(focus) if focus else ""
            except (TypeError, ValueError) as e:
                raise InputError(f"cases.yaml: {functionality} case {i}: {e}") from e
            yield _row(
                f"{functionality}.{i:03d}",
                functionality,
                focus,
                str(case["text"]),
                group.key if group else "",
                f"fs.{functionality}.h{i:02d}",
                labels,
            )


def _fill(template: str, group: Group, t: int, method: str | None) -> str:
    """Fill ``{group}``/``{Group}``/``{slur}``; obfuscate the slur if present, else the group's identity word."""
    slur = group.slurs[t % len(group.slurs)] if group.slurs else ""
    term = group.term
    if method and "{slur}" in template:
        slur = " ".join(spell_variant(w, method) for w in slur.split(" "))
    elif method:
        head, _, rest = term.partition(" ")
        term = spell_variant(head, method) + (f" {rest}" if rest else "")
    values = {"group": term, "slur": slur}

    def sub(m: re.Match[str]) -> str:
        slot = m.group(1)
        value = values[slot.lower()]
        return value[:1].upper() + value[1:] if slot[:1].isupper() else value

    return _SLOT.sub(sub, template)


def _frame(text: str, fillers: Mapping[str, Any], i: int) -> str:
    """Return ``text`` with a suite-only opener and/or closer on three cases in four (deterministic)."""
    names, units = fillers["names"], fillers["units"]
    unit = units[(i // 3) % len(units)]
    parts = [text]
    if i % 4 in (1, 3):
        opener = fillers["openers"][i % len(fillers["openers"])]
        parts.insert(0, opener.format(person=names[i % len(names)], unit=unit))
    if i % 4 in (2, 3):
        closer = fillers["closers"][(i // 2) % len(fillers["closers"])]
        parts.append(closer.format(person=names[(i + 7) % len(names)], unit=unit))
    return "\n\n".join(parts)


def _row(
    case_id: str,
    functionality: str,
    focus: str,
    text: str,
    group: str,
    template_id: str,
    labels: tuple[str, ...],
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "case_id": case_id,
        "functionality": functionality,
        "label_focus": focus,
        "text": text,
        "identity_group": group,
        "template_id": template_id,
    }
    row.update({lb: int(lb in labels) for lb in LABELS})
    return row


def _functionalities(spec: Mapping[str, Any], name: str) -> dict[str, Any]:
    funcs = spec.get("functionalities")
    if not isinstance(funcs, dict) or not funcs:
        raise InputError(f"suite file {name} needs a non-empty 'functionalities' mapping")
    return funcs


def _load_yaml(path: Path) -> dict[str, Any]:
    return load_yaml_mapping(path, "suite file", InputError)
