"""Marking evidence in message text as escaped HTML: mail text is never rendered as markup.

Evidence items carry the results column they index (``field``) and character offsets into it
(see :mod:`mailguard.evidence`). An item is marked where its offsets say when the text there is the
item's text; otherwise (results from before offsets, or an edited text) the item's text is searched for.
Items without a ``field`` (results from before the scoring unit) are looked for in each text in
``FIELDS`` order and marked in the first that holds them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from mailguard.evidence import describe

#: The item columns evidence can point into, in the order legacy items (no ``field``) are searched.
FIELDS = ("body", "subject", "html_text", "quoted", "attachment_text")
#: The origin of text found in a field, for items that do not say theirs.
_FIELD_ORIGINS = {"body": "body", "subject": "subject", "html_text": "html", "quoted": "quoted",
                  "attachment_text": "attachment"}  # fmt: skip


@dataclass(frozen=True)
class Highlighted:
    """Escaped HTML of a text with evidence marked, and the labels with evidence found in it."""

    html: Markup
    found: frozenset[str]


@dataclass(frozen=True)
class MarkedMessage:
    """Every field of a message highlighted, and where each evidence item was marked.

    ``placed`` maps (label, index of the item in ``evidence[label]``) to the field it was marked in;
    items missing from it were found nowhere. Each mark starts with an anchor ``anchor_id(label, index)``.
    """

    fields: dict[str, Highlighted]
    placed: dict[tuple[str, int], str]


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    label: str
    anchor: str
    title: str
    origin: str


def anchor_id(label: str, index: int) -> str:
    """Return the HTML id of the mark of evidence item ``index`` of ``label`` (a link target)."""
    return f"ev-{label}-{index}"


def _locate(text: str, item: dict[str, Any], field: str) -> tuple[int, int] | None:
    span = str(item.get("text", "")).strip()
    if not span:
        return None
    start, end = item.get("start"), item.get("end")
    if item.get("field", field) != field:
        return None
    if (
        isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)
        and text[start:end].strip() == span
    ):  # fmt: skip
        return start, end
    i = text.find(span)
    if i >= 0:
        return i, i + len(span)
    # The scorer may have normalised whitespace or case; match words separated by any whitespace.
    pattern = r"\s+".join(re.escape(w) for w in span.split()[:200])
    m = re.search(pattern, text, flags=re.IGNORECASE)
    return (m.start(), m.end()) if m else None


def _title(label: str, item: dict[str, Any]) -> str:
    score = item.get("score")
    where = describe(item)
    return f"{label} ({where}, score {score:.2f})" if isinstance(score, int | float) else f"{label} ({where})"


def _render(text: str, spans: list[_Span]) -> Highlighted:
    if not spans:
        return Highlighted(Markup(escape(text)), frozenset())
    cuts = sorted({0, len(text), *(p for s in spans for p in (s.start, s.end))})
    out: list[str] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = str(escape(text[a:b]))
        covering = [s for s in spans if s.start <= a and b <= s.end]
        if not covering:
            out.append(piece)
            continue
        starting = [s for s in covering if s.start == a]
        anchors = "".join(f'<span class="evanchor" id="{escape(s.anchor)}"></span>' for s in starting)
        first_labels = dict.fromkeys(s.label for s in starting)
        badges = "".join(f'<span class="evlabel">{escape(lb)}</span>' for lb in first_labels)
        names = " ".join(dict.fromkeys(s.label for s in covering))
        origins = " ".join(dict.fromkeys(s.origin for s in covering))
        title = "; ".join(dict.fromkeys(s.title for s in covering))
        out.append(
            f'<mark class="evidence" data-labels="{escape(names)}" data-origins="{escape(origins)}" '
            f'title="{escape(title)}">{anchors}{badges}{piece}</mark>'
        )
    return Highlighted(Markup("".join(out)), frozenset(s.label for s in spans))


def highlight_message(
    texts: Mapping[str, str], evidence: dict[str, list[dict[str, Any]]], labels: list[str]
) -> MarkedMessage:
    """Return each text of ``texts`` (field name -> text) escaped, with each flagged label's evidence marked in it."""
    spans: dict[str, list[_Span]] = {f: [] for f in texts}
    placed: dict[tuple[str, int], str] = {}
    search_order = sorted(texts, key=lambda f: FIELDS.index(f) if f in FIELDS else len(FIELDS))
    for lb in labels:
        for k, item in enumerate(evidence.get(lb, [])):
            declared = item.get("field")
            for field in [str(declared)] if declared else search_order:
                loc = _locate(texts[field], item, field) if field in texts else None
                if loc:
                    origin = str(item.get("origin") or _FIELD_ORIGINS.get(field, "body"))
                    title = _title(lb, {**item, "origin": origin})
                    spans[field].append(_Span(*loc, lb, anchor_id(lb, k), title, origin))
                    placed[(lb, k)] = field
                    break
    return MarkedMessage({f: _render(t, spans[f]) for f, t in texts.items()}, placed)


def highlight(
    text: str, evidence: dict[str, list[dict[str, Any]]], labels: list[str], field: str = "body"
) -> Highlighted:
    """Return ``text`` (the results column ``field``) escaped, each flagged label's evidence in a labelled ``<mark>``."""
    return highlight_message({field: text}, evidence, labels).fields[field]
