"""Marking evidence in message text as escaped HTML: mail text is never rendered as markup.

Evidence items carry the results column they index (``field``) and character offsets into it
(see :mod:`mailguard.evidence`). An item is marked where its offsets say when the text there is the
item's text; otherwise (results from before offsets, or an edited text) the item's text is searched for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from mailguard.evidence import describe


@dataclass(frozen=True)
class Highlighted:
    """Escaped HTML of a text with evidence marked, and the labels with evidence found in it."""

    html: Markup
    found: frozenset[str]


def _locate(text: str, item: dict[str, Any], field: str) -> tuple[int, int] | None:
    span = str(item.get("text", "")).strip()
    if not span:
        return None
    start, end = item.get("start"), item.get("end")
    if item.get("field", field) != field:
        return None
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text) and text[start:end].strip() == span:
        return start, end
    i = text.find(span)
    if i >= 0:
        return i, i + len(span)
    # The scorer may have normalised whitespace or case; match words separated by any whitespace.
    pattern = r"\s+".join(re.escape(w) for w in span.split()[:200])
    m = re.search(pattern, text, flags=re.IGNORECASE)
    return (m.start(), m.end()) if m else None


def highlight(text: str, evidence: dict[str, list[dict[str, Any]]], labels: list[str], field: str = "body") -> Highlighted:
    """Return ``text`` (the results column ``field``) escaped, each flagged label's evidence in a labelled ``<mark>``."""
    spans: list[tuple[int, int, str, str]] = []  # start, end, label, where from
    for lb in labels:
        for item in evidence.get(lb, []):
            loc = _locate(text, item, field)
            if loc:
                spans.append((loc[0], loc[1], lb, describe(item)))
    if not spans:
        return Highlighted(Markup(escape(text)), frozenset())
    cuts = sorted({0, len(text), *(p for s in spans for p in s[:2])})
    out: list[str] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = str(escape(text[a:b]))
        covering = [s for s in spans if s[0] <= a and b <= s[1]]
        if not covering:
            out.append(piece)
            continue
        starting = list(dict.fromkeys(s[2] for s in covering if s[0] == a))
        badges = "".join(f'<span class="evlabel">{escape(lb)}</span>' for lb in starting)
        names = " ".join(dict.fromkeys(s[2] for s in covering))
        title = "; ".join(dict.fromkeys(f"{s[2]} ({s[3]})" for s in covering))
        out.append(f'<mark class="evidence" data-labels="{escape(names)}" title="{escape(title)}">{badges}{piece}</mark>')
    return Highlighted(Markup("".join(out)), frozenset(s[2] for s in spans))
