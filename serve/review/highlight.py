"""Marking evidence spans in message text as escaped HTML: mail text is never rendered as markup."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Highlighted:
    """Escaped HTML of a text with evidence marked, and the labels whose span was not found in it."""

    html: Markup
    found: frozenset[str]


def _locate(text: str, span: str) -> tuple[int, int] | None:
    span = span.strip()
    if not span:
        return None
    i = text.find(span)
    if i >= 0:
        return i, i + len(span)
    # The scorer may have normalised whitespace or case; match words separated by any whitespace.
    pattern = r"\s+".join(re.escape(w) for w in span.split())
    m = re.search(pattern, text, flags=re.IGNORECASE)
    return (m.start(), m.end()) if m else None


def highlight(text: str, evidence: dict[str, str], labels: list[str]) -> Highlighted:
    """Return ``text`` escaped, with each flagged label's evidence span wrapped in a labelled ``<mark>``."""
    spans: dict[str, tuple[int, int]] = {}
    for lb in labels:
        loc = _locate(text, evidence.get(lb, ""))
        if loc:
            spans[lb] = loc
    if not spans:
        return Highlighted(Markup(escape(text)), frozenset())
    cuts = sorted({0, len(text), *(p for s in spans.values() for p in s)})
    out: list[str] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = str(escape(text[a:b]))
        covering = [lb for lb, (s, e) in spans.items() if s <= a and b <= e]
        if not covering:
            out.append(piece)
            continue
        starting = [lb for lb in covering if spans[lb][0] == a]
        badges = "".join(f'<span class="evlabel">{escape(lb)}</span>' for lb in starting)
        names = " ".join(covering)
        out.append(f'<mark class="evidence" data-labels="{escape(names)}" title="{escape(names)}">{badges}{piece}</mark>')
    return Highlighted(Markup("".join(out)), frozenset(spans))
