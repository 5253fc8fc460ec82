"""The ``evidence`` column of the results table, read back by the report, the CLI and the review app.

Written by ``serve.scoring.batch`` as JSON ``{label: [item, ...]}`` with the item that scored highest
first. An item is ``{"text", "origin", "field", "start", "end", "window": [start, end], "score"}`` plus
``"attachment"`` (file name) when it came from an attachment: ``start``/``end`` index the results
column named by ``field`` (``subject``, ``body``, ``html_text``, ``quoted``, ``attachment_text``).
Results written before evidence carried offsets held ``{label: "span text"}``; they still read.
"""

from __future__ import annotations

import json
from typing import Any

ORIGIN_NAMES = {
    "subject": "subject",
    "body": "message text",
    "html": "HTML version only",
    "quoted": "quoted/forwarded text",
    "attachment": "attachment",
}


class EvidenceFormatError(ValueError):
    """An evidence value that is neither the current nor the legacy format."""


def parse_evidence(raw: Any) -> dict[str, list[dict[str, Any]]]:
    """Return evidence as ``{label: [item, ...]}`` from its JSON text or mapping; raise ``EvidenceFormatError``."""
    if raw is None or (isinstance(raw, float) and raw != raw):
        return {}
    if isinstance(raw, dict):
        data: Any = raw
    else:
        text = str(raw).strip()
        if not text:
            return {}
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise EvidenceFormatError("evidence is not JSON") from e
    if not isinstance(data, dict):
        raise EvidenceFormatError("evidence must be a JSON object {label: [items]}")
    out: dict[str, list[dict[str, Any]]] = {}
    for label, value in data.items():
        if isinstance(value, str):  # legacy: the span text only
            out[str(label)] = [{"text": value}] if value else []
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            out[str(label)] = [dict(v) for v in value]
        else:
            raise EvidenceFormatError(f"evidence for {label!r} must be a list of items")
    return out


def describe(item: dict[str, Any]) -> str:
    """Return where an evidence item came from, for people: "quoted/forwarded text", "attachment minutes.pdf"."""
    origin = str(item.get("origin", "body"))
    name = ORIGIN_NAMES.get(origin, origin)
    return f"{name} {item['attachment']}" if origin == "attachment" and item.get("attachment") else name


def top_text(evidence: dict[str, list[dict[str, Any]]]) -> str:
    """Return the text of the highest-scoring evidence item of any label ("" when there is none)."""
    items = [i for items in evidence.values() for i in items]
    if not items:
        return ""
    best = max(items, key=lambda i: float(i.get("score", 0.0)))
    return str(best.get("text", ""))
