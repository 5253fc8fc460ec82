"""Authored workplace corpus: e-mail-register violations and hard negatives generated from YAML templates.

The public corpora are tweets, comments and spam; they have almost no workplace mail, no age
harassment and little coworker solicitation. This module fills those gaps from small, reviewed
YAML files in ``data/authored/`` (templates × slot fillers), expanded at run time so that no
large generated data is committed. Generation is deterministic for a given seed.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd

from mailguard.config import load_yaml_mapping
from mailguard.errors import InputError
from mailguard.taxonomy import LABELS, check_label
from mailguard.text import normalise_for_matching

#: Positives generated per label before deduplication (the floor after dedup is 300).
POSITIVES_PER_LABEL: Final[int] = 380
#: Obfuscated copies (leetspeak, spacing, swaps...) added per positive template.
OBFUSCATED_PER_TEMPLATE: Final[int] = 3
#: Hard negatives generated per positive row, so clean mail is never the minority.
NEGATIVE_RATIO: Final[float] = 1.15
#: Frame families of ``stance.yaml`` and, per claim polarity, whether the family's texts carry the label.
STANCE_CARRIES_LABEL: Final[dict[str, dict[str, bool]]] = {
    "affirm": {"negative": True, "positive": False},
    "reject": {"negative": False, "positive": True},
    "condemn": {"negative": False},
}
#: Filled messages per stance claim x frame (different names, departments and e-mail framing).
STANCE_FILLS_PER_FRAME: Final[int] = 2
#: Share of non-thread messages still wrapped in a reply thread, and of messages with a subject line.
THREAD_RATE: Final[float] = 0.15
SUBJECT_RATE: Final[float] = 0.35

OBFUSCATIONS: Final[tuple[str, ...]] = ("leet", "spaced", "swap", "drop", "mask")

_SLOT = re.compile(r"\{(\w+)\}")
_LEET: Final[dict[str, str]] = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7", "g": "9"}


@dataclass(frozen=True)
class Template:
    """One authored template: text with ``{slot}`` placeholders and the labels it carries."""

    template_id: str
    text: str
    labels: tuple[str, ...]  # empty for a hard negative
    style: str  # explicit / implicit / sarcastic / thread for positives; the category for negatives
    fillers: Mapping[str, Sequence[str]]  # template-file fillers over the common ones
    obfuscate_slots: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """Return ``positive`` or ``hard_negative``."""
        return "positive" if self.labels else "hard_negative"


def generate_authored(root: Path, *, seed: int) -> pd.DataFrame:
    """Return the authored corpus generated from the templates under ``root``: one row per distinct message.

    Columns: ``text``, the ten label columns (int 0/1), ``source`` ("authored"), ``weak`` (False),
    ``template_id`` (e.g. ``age.explicit.03``; obfuscated and threaded copies keep their template's id
    so that a split by template keeps every variant of a sentence together) and ``kind``
    (``positive`` | ``hard_negative``).
    """
    common = _load_yaml(root / "common.yaml")
    positives, negatives = load_templates(root)
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()

    def add(text: str, tmpl: Template) -> None:
        key = normalise_for_matching(text)
        if key in seen:
            return
        seen.add(key)
        row: dict[str, Any] = {"text": text}
        row.update({lb: int(lb in tmpl.labels) for lb in LABELS})
        row.update(source="authored", weak=False, template_id=tmpl.template_id, kind=tmpl.kind)
        rows.append(row)

    per_label = _count_by_primary_label(positives)
    for tmpl in positives:
        n_plain = math.ceil(POSITIVES_PER_LABEL / per_label[tmpl.labels[0]])
        for _ in range(n_plain):
            body, _filled = fill_template(tmpl, common, rng)
            add(frame_message(body, common, rng, thread=tmpl.style == "thread"), tmpl)
        for i in range(OBFUSCATED_PER_TEMPLATE):
            body, filled = fill_template(tmpl, common, rng)
            method = OBFUSCATIONS[(i + rng.randrange(len(OBFUSCATIONS))) % len(OBFUSCATIONS)]
            hidden = obfuscate_terms(body, _obfuscation_targets(tmpl, filled, body), method, rng)
            if hidden != body:
                add(frame_message(hidden, common, rng, thread=tmpl.style == "thread"), tmpl)

    n_negative = math.ceil(NEGATIVE_RATIO * len(rows) / len(negatives))
    for tmpl in negatives:
        for _ in range(n_negative):
            body, _filled = fill_template(tmpl, common, rng)
            add(frame_message(body, common, rng, thread=False), tmpl)

    for tmpl in load_stance_templates(root):
        for _ in range(STANCE_FILLS_PER_FRAME):
            body, _filled = fill_template(tmpl, common, rng)
            add(frame_message(body, common, rng, thread=False), tmpl)

    columns = ["text", *LABELS, "source", "weak", "template_id", "kind"]
    return pd.DataFrame(rows, columns=columns)


def load_templates(root: Path) -> tuple[list[Template], list[Template]]:
    """Return (positive templates, hard-negative templates) read from ``root``; raise ``InputError`` if invalid."""
    positives: list[Template] = []
    for path in sorted((root / "labels").glob("*.yaml")):
        spec = _load_yaml(path)
        try:
            label = check_label(str(spec["label"]))
        except (KeyError, ValueError) as e:
            raise InputError(f"authored template file {path} needs a valid 'label': {e}") from e
        positives.extend(
            _templates_from(
                spec,
                path,
                prefix=label,
                default_labels=(label,),
                obfuscate_slots=tuple(spec.get("obfuscate_slots", ())),
                keywords=tuple(spec.get("keywords", ())),
            )
        )
    negatives = _templates_from(_load_yaml(root / "hard_negatives.yaml"), root / "hard_negatives.yaml", "neg", ())
    if not positives or not negatives:
        raise InputError(f"no authored templates found under {root}")
    return positives, negatives


def load_stance_templates(root: Path) -> list[Template]:
    """Return the stance pairs of ``stance.yaml`` (none when the file is absent) as templates.

    Every claim of a label is put into every frame of each family that applies to its polarity; the
    label rule is ``STANCE_CARRIES_LABEL``. All frames of one claim share the template id
    ``<label>.stance_neg.<nn>`` / ``<label>.stance_pos.<nn>`` (so a claim stays in one split); the
    label's slur-condemning frames share ``<label>.stance_term.01``. Slots resolve against common.yaml,
    the label's ``labels/<label>.yaml`` fillers, ``stance.yaml`` fillers and the label entry's fillers,
    in that order of precedence (last wins); ``{term}`` takes the values of the entry's ``term_slot``.
    """
    path = root / "stance.yaml"
    if not path.exists():
        return []
    spec = _load_yaml(path)
    frames = spec.get("frames") or {}
    shared = _fillers(spec)
    out: list[Template] = []
    for label, entry in (spec.get("labels") or {}).items():
        try:
            label = check_label(str(label))
            label_fillers = _fillers(_load_yaml(root / "labels" / f"{label}.yaml"))
            fillers = {**label_fillers, **shared, **_fillers(entry)}
            fillers["term"] = list(label_fillers[str(entry["term_slot"])])
        except (KeyError, ValueError, IndexError, TypeError) as e:
            raise InputError(f"{path}: stance entry {label!r} is incomplete or names an unknown label/slot: {e}") from e
        for polarity in ("negative", "positive"):
            for i, claim in enumerate(entry.get(polarity) or (), start=1):
                tid = f"{label}.stance_{polarity[:3]}.{i:02d}"
                for family, rule in STANCE_CARRIES_LABEL.items():
                    if polarity not in rule:
                        continue
                    labels = (label,) if rule[polarity] else ()
                    for frame in frames.get(family) or ():
                        text = str(frame).replace("{claim}", claim).replace("{Claim}", _capitalise_template(claim))
                        out.append(Template(tid, text, labels, f"stance_{family}", fillers))
        for frame in frames.get("term_condemn") or ():
            out.append(Template(f"{label}.stance_term.01", str(frame), (), "stance_term_condemn", fillers))
    return out


def _capitalise_template(text: str) -> str:
    """Return ``text`` with its first letter capitalised; a leading ``{slot}`` becomes ``{Slot}``."""
    if text.startswith("{"):
        return "{" + text[1:2].upper() + text[2:]
    return text[:1].upper() + text[1:]


def fill_template(tmpl: Template, common: Mapping[str, Any], rng: random.Random) -> tuple[str, dict[str, str]]:
    """Return the template text with every slot filled, and the value chosen for each slot.

    A slot name used twice gets the same value; ``{Name}`` gives the value of ``name`` capitalised.
    """
    pools = {**common.get("fillers", {}), **tmpl.fillers}
    chosen: dict[str, str] = {}

    def pick(match: re.Match[str]) -> str:
        slot = match.group(1)
        key = slot.lower()
        if key not in pools:
            raise InputError(f"template {tmpl.template_id} uses unknown slot {{{slot}}}")
        if key not in chosen:
            chosen[key] = str(rng.choice(pools[key]))
        value = chosen[key]
        return value[:1].upper() + value[1:] if slot[:1].isupper() else value

    return _SLOT.sub(pick, tmpl.text), chosen


def frame_message(body: str, common: Mapping[str, Any], rng: random.Random, *, thread: bool) -> str:
    """Return ``body`` dressed as e-mail: optional subject line, greeting, sign-off and quoted thread.

    The subject comes first because a scored message's text is subject + new body.
    """
    fillers = common["fillers"]
    ctx = {
        "recipient": rng.choice(fillers["name"]),
        "sender": rng.choice(fillers["name"]),
        "surname": rng.choice(common["surnames"]),
        "sender_dept": rng.choice(fillers["dept"]),
    }
    ctx["recipient_lower"] = ctx["recipient"].lower()
    ctx["surname_lower"] = ctx["surname"].lower()
    for key in ("dept", "day", "time", "system", "site", "room", "name"):
        ctx[key] = rng.choice(fillers[key])
    ctx["subject"] = rng.choice(common["subjects"]).format(**ctx)
    parts: list[str] = []
    if rng.random() < SUBJECT_RATE:
        parts.append(ctx["subject"])
    if rng.random() < 0.7:
        parts.append(rng.choice(common["greetings"]).format(**ctx))
    parts.append(body)
    if rng.random() < 0.7:
        parts.append(rng.choice(common["signoffs"]).format(**ctx))
    if thread or rng.random() < THREAD_RATE:
        header = rng.choice(common["thread_headers"]).format(**ctx)
        quoted = [q.format(**ctx) for q in rng.sample(common["quoted"], k=rng.randint(1, 2))]
        parts.append(header + "\n" + "\n".join(f"> {q}" for q in quoted))
    return "\n\n".join(parts)


def obfuscate_terms(text: str, terms: Sequence[str], method: str, rng: random.Random) -> str:
    """Return ``text`` with every whole-word occurrence of ``terms`` disguised by ``method``.

    Methods imitate how people dodge filters: ``leet`` (0/3/4/5 for letters), ``spaced``
    (g a y), ``swap`` (two adjacent letters swapped), ``drop`` (one letter missing), ``mask`` (f*g).
    """
    # longest first so a phrase is disguised before its words; ties by the term itself, never by set
    # order (that depends on PYTHONHASHSEED and made the corpus, and so the data revision, vary by run)
    for term in sorted(set(terms), key=lambda t: (len(t), t), reverse=True):
        pattern = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)
        text = pattern.sub(lambda m: obfuscate_word(m.group(0), method, rng), text)
    return text


def obfuscate_word(word: str, method: str, rng: random.Random) -> str:
    """Return one disguised spelling of ``word`` (each word of a phrase treated separately)."""
    if " " in word:
        return " ".join(obfuscate_word(w, method, rng) for w in word.split(" "))
    if len(word) < 3:
        return word
    inner = range(1, len(word) - 1)
    if method == "leet":
        idx = [i for i, c in enumerate(word) if c.lower() in _LEET]
        if not idx:
            return word
        keep = {rng.choice(idx)} | {i for i in idx if rng.random() < 0.5}
        return "".join(_LEET[c.lower()] if i in keep else c for i, c in enumerate(word))
    if method == "spaced":
        return rng.choice([" ", ".", "-", "  "]).join(word)
    if method == "swap":
        i = rng.choice(range(1, len(word) - 2)) if len(word) > 3 else 1
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if method == "drop":
        i = rng.choice(list(inner))
        return word[:i] + word[i + 1 :]
    if method == "mask":
        vowels = [i for i in inner if word[i].lower() in "aeiou"] or list(inner)
        masked = {rng.choice(vowels)} | {i for i in vowels if rng.random() < 0.5}
        return "".join("*" if i in masked else c for i, c in enumerate(word))
    raise ValueError(f"unknown obfuscation {method!r}; expected one of {OBFUSCATIONS}")


def iter_template_strings(root: Path) -> Iterator[str]:
    """Yield every raw template string of the authored corpus (positives and hard negatives)."""
    positives, negatives = load_templates(root)
    for tmpl in (*positives, *negatives, *load_stance_templates(root)):
        yield tmpl.text


def iter_filler_values(root: Path) -> Iterator[str]:
    """Yield every slot-filler and framing value of the authored corpus."""
    common = _load_yaml(root / "common.yaml")
    specs = [_load_yaml(p) for p in sorted((root / "labels").glob("*.yaml"))]
    specs.append(_load_yaml(root / "hard_negatives.yaml"))
    if (root / "stance.yaml").exists():
        stance = _load_yaml(root / "stance.yaml")
        specs.append(stance)
        specs.extend(entry for entry in (stance.get("labels") or {}).values() if isinstance(entry, dict))
    for values in common.get("fillers", {}).values():
        yield from map(str, values)
    for key in ("greetings", "signoffs", "surnames", "subjects", "quoted"):
        yield from map(str, common.get(key, ()))
    for spec in specs:
        for values in spec.get("fillers", {}).values():
            yield from map(str, values)


def _templates_from(
    spec: Mapping[str, Any],
    path: Path,
    prefix: str,
    default_labels: tuple[str, ...],
    obfuscate_slots: tuple[str, ...] = (),
    keywords: tuple[str, ...] = (),
) -> list[Template]:
    fillers = _fillers(spec)
    groups = spec.get("templates")
    if not isinstance(groups, dict):
        raise InputError(f"authored template file {path} needs a 'templates' mapping of style -> list")
    out: list[Template] = []
    for style, items in groups.items():
        for i, item in enumerate(items, start=1):
            text, labels = (item["text"], tuple(item["labels"])) if isinstance(item, dict) else (item, default_labels)
            try:
                labels = tuple(check_label(lb) for lb in labels)
            except ValueError as e:
                raise InputError(f"{path}: template {style} #{i}: {e}") from e
            out.append(
                Template(f"{prefix}.{style}.{i:02d}", str(text), labels, str(style), fillers, obfuscate_slots, keywords)
            )
    return out


def _fillers(spec: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Return a spec's ``fillers`` mapping with lower-case slot names (empty when it has none)."""
    return {str(k).lower(): list(v) for k, v in (spec.get("fillers") or {}).items()}


def _obfuscation_targets(tmpl: Template, filled: Mapping[str, str], body: str) -> list[str]:
    """Return the words to disguise: the filled insult/group slots, else the first keyword present."""
    targets = [filled[s] for s in tmpl.obfuscate_slots if s in filled]
    if targets:
        return targets
    for kw in tmpl.keywords:
        if re.search(rf"(?<!\w){re.escape(kw)}(?!\w)", body, re.IGNORECASE):
            return [kw]
    return []


def _count_by_primary_label(templates: Sequence[Template]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in templates:
        counts[t.labels[0]] = counts.get(t.labels[0], 0) + 1
    return counts


def _load_yaml(path: Path) -> dict[str, Any]:
    return load_yaml_mapping(path, "authored data file", InputError)
