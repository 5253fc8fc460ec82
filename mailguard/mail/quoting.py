"""Separate what a sender wrote from the earlier mail a reply or forward carries.

Both parts are scored, but a reviewer must know whose words they read: the
person who wrote the remark, or someone quoting or forwarding it (evidence in
the quoted part is marked ``quoted``). The split is line based:

* ``>``-prefixed lines are quoted wherever they are, so interleaved and
  bottom-posted replies keep their new lines;
* an attribution line ("On Tue, 3 Mar 2024, Jane Doe wrote:") is quoted; when
  no ``>`` lines follow it (top-posting clients that do not prefix), everything
  from it on is quoted;
* "-----Original Message-----", "---------- Forwarded message ---------",
  "Begin forwarded message:", an Outlook header block ("From: / Sent: / To: /
  Subject:") and a ``____`` separator line followed by such a block start the
  earlier mail: everything from there on is quoted;
* a signature (after a ``-- `` line) is the sender's own text and stays in the new
  part; so does everything after a ``--`` line that is not followed by earlier mail.
"""

from __future__ import annotations

import re

# How far below an Outlook "From:" line its Sent/To/Subject lines may appear.
_HEADER_BLOCK_LINES = 8

_ATTRIBUTION = re.compile(
    r"^\s*(on\s.{1,300}\s(wrote|writes)\s*:|.{1,200}\s(wrote|writes)\s*:|"
    r"le\s.{1,300}\sa\s[ée]crit\s*:|am\s.{1,300}\sschrieb.{0,200}:|el\s.{1,300}\sescribi[óo]\s*:)\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(r"^\s*(on|le|am|el)\s.{4,}$", re.IGNORECASE)
_HARD_MARKER = re.compile(
    r"^\s*(-{2,}\s*original message\s*-{2,}|-{2,}\s*forwarded message\s*-{2,}|begin forwarded message\s*:"
    r"|-{2,}\s*(urspr[üu]ngliche nachricht|message d'origine|mensaje original)\s*-{2,})\s*$",
    re.IGNORECASE,
)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
_FROM_LINE = re.compile(r"^\s*\*?(from|von|de)\s*:\*?\s*\S", re.IGNORECASE)
_SENT_LINE = re.compile(r"^\s*\*?(sent|date|gesendet|envoy[ée])\s*:", re.IGNORECASE)
_TO_LINE = re.compile(r"^\s*\*?(to|subject|an|betreff|[àa]|objet|cc)\s*:", re.IGNORECASE)
_QUOTED = re.compile(r"^\s*>")


def split_quoted_reply(text: str) -> tuple[str, str]:
    """Return ``(new_text, quoted_text)``: what the sender wrote, and the earlier mail plus signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _hard_cut(lines)
    attribution = _attribution(lines, cut)
    if attribution is not None:
        start, end = attribution
        if any(_QUOTED.match(line) for line in lines[end:cut]):
            quoted_idx = set(range(start, end))
        else:
            cut, quoted_idx = start, set()
    else:
        quoted_idx = set()

    new: list[str] = []
    quoted: list[str] = []
    for i, line in enumerate(lines[:cut]):
        (quoted if i in quoted_idx or _QUOTED.match(line) else new).append(line)
    return _tidy(new), _tidy(quoted + lines[cut:])


def _hard_cut(lines: list[str]) -> int:
    """Return the index of the first line of forwarded/original mail, or ``len(lines)``."""
    for i, line in enumerate(lines):
        if _QUOTED.match(line):
            continue
        if _HARD_MARKER.match(line):
            return i
        if _FROM_LINE.match(line) and _is_header_block(lines, i):
            prev = _previous_nonblank(lines, i)
            if prev is not None and (_UNDERSCORES.match(lines[prev]) or _HARD_MARKER.match(lines[prev])):
                return prev
            return i
    return len(lines)


def _is_header_block(lines: list[str], i: int) -> bool:
    window = lines[i + 1 : i + 1 + _HEADER_BLOCK_LINES]
    return any(_SENT_LINE.match(x) for x in window) and any(_TO_LINE.match(x) for x in window)


def _previous_nonblank(lines: list[str], i: int) -> int | None:
    for j in range(i - 1, max(i - 4, -1), -1):
        if lines[j].strip():
            return j
    return None


def _attribution(lines: list[str], cut: int) -> tuple[int, int] | None:
    """Return ``(start, end)`` line indexes of the first attribution line (maybe wrapped over two)."""
    for i in range(cut):
        line = lines[i]
        if _QUOTED.match(line) or len(line) > 400:
            continue
        if _ATTRIBUTION.match(line) and not _looks_like_prose(line):
            return i, i + 1
        # Clients wrap long attributions: "On Tue, 3 Mar 2024 at 10:02, Jane Doe <\njane@x.gov> wrote:".
        if i + 1 < cut and _ATTRIBUTION_START.match(line) and _ATTRIBUTION.match(line + " " + lines[i + 1]):
            return i, i + 2
    return None


def _looks_like_prose(line: str) -> bool:
    # "As the auditor wrote: ..." mid-paragraph is prose; a real attribution names a date or an address.
    return not re.search(r"\d|@|\bon\b", line, re.IGNORECASE)


def _tidy(lines: list[str]) -> str:
    return "\n".join(lines).strip()
