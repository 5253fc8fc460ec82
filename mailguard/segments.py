"""The scoring unit of every model family: a sentence of what a reader sees, read with its neighbours.

A message is a list of :class:`Section` s (subject, new body text, the HTML alternative when it
says something else, quoted or forwarded mail, each readable attachment). Each section is cut
into sentences:

1. *layout first*: blank lines end a paragraph; a bullet, a numbered item or a ``>`` line starts a
   new block; a paragraph made only of short lines (signatures, address blocks, lists without
   markers) is one block per line. Mail is laid out in lines, and no sentence splitter knows that;
2. *then sentences*: spaCy's rule-based ``sentencizer`` (a maintained splitter that knows "Dr.",
   "St.", "e.g." and URLs) splits each block;
3. a sentence longer than ``max_sentence_chars`` is cut at whitespace, and very short pieces
   ("Thanks,", "Jane Doe") are merged with the next piece of the same paragraph.

Each sentence becomes the centre of one :class:`Window`: the sentence plus up to ``context``
sentences on each side, from the same section, as long as the window stays under
``max_window_chars``. A model scores each window; a message's score per label is the maximum over
its windows (``models.base``). Work is linear in the length of the text; a message with more than
``max_windows`` windows is scored on its first ``max_windows`` and reported as cut.

Offsets are character offsets into the section's text plus its ``base`` (the offset of the section
inside the stored field it came from), so evidence points at the stored text a reviewer sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

#: Where a section's text came from; evidence carries it so reviewers know whose words they read.
ORIGINS = ("subject", "body", "html", "quoted", "attachment")

_BULLET = re.compile(r"^\s*(?:[-*•·◦▪‣–]\s|\d{1,3}[.)]\s|[a-zA-Z][.)]\s|>)")
_SHORT_LINE = 60  # a paragraph whose every line is at most this long is read line by line
_SPLITTER_CHUNK = 2_000  # text handed to the splitter at once: bounds tokenizer work on hostile input


@dataclass(frozen=True)
class Section:
    """One piece of what a reader sees, and where it is stored."""

    origin: str  # one of ORIGINS
    text: str
    field: str = "body"  # the results column holding ``text`` (subject, body, html_text, quoted, attachment_text)
    base: int = 0  # offset of ``text`` inside that column
    name: str = ""  # attachment file name, when origin == "attachment"


@dataclass(frozen=True)
class WindowConfig:
    """How text is cut into scoring windows (stored with every model: thresholds depend on it)."""

    context: int = 1  # sentences on each side of the centre sentence
    max_window_chars: int = 600  # neighbours are dropped (farthest first) to stay under this
    max_sentence_chars: int = 400  # longer sentences are cut at whitespace
    min_sentence_chars: int = 20  # shorter pieces ("Thanks,", "Jane Doe") are merged with the next one of the paragraph
    max_windows: int = 2_000  # per message; beyond it the message is scored on the first ones and marked cut

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> WindowConfig:
        """Return a config from a mapping (unknown keys raise ``ValueError``); defaults for missing keys."""
        values = dict(values or {})
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown window setting(s): {', '.join(sorted(unknown))}")
        config = cls(**{k: int(v) for k, v in values.items()})
        if config.context < 0 or config.max_window_chars < 20 or config.max_sentence_chars < 20 or config.max_windows < 1:
            raise ValueError(f"window settings out of range: {config}")
        return config

    def as_dict(self) -> dict[str, int]:
        """Return the settings as a plain mapping (saved in model metadata)."""
        return {k: int(getattr(self, k)) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Window:
    """A centre sentence with its neighbours; offsets index the section's stored field."""

    section: int  # index into the message's sections
    text: str  # the window text the model reads
    start: int  # window start, in the stored field
    end: int
    centre_start: int  # the centre sentence, in the stored field
    centre_end: int
    lo: int = 0  # first and last sentence read, as indexes of the message's windows (window i is centred on sentence i)
    hi: int = 0


@lru_cache(maxsize=1)
def _sentencizer() -> Any:
    import sys

    # thinc (under spaCy) probes for torch when imported; the rule-based sentencizer needs none of it, and
    # scoring with a linear or ONNX model must not pay for importing torch. Hide it during the import only.
    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import spacy
    finally:
        if hide and sys.modules.get("torch") is None:
            del sys.modules["torch"]

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def _blocks(text: str) -> Iterator[tuple[int, int, int]]:
    """Yield ``(paragraph, start, end)`` of layout blocks: paragraphs, list items, quoted lines, short lines."""
    lines: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        lines.append((pos, pos + len(line)))
        pos += len(line) + 1
    paragraph: list[tuple[int, int]] = []
    number = 0
    for start, end in [*lines, (len(text), len(text))]:
        if text[start:end].strip():
            paragraph.append((start, end))
            continue
        if paragraph:
            yield from ((number, a, z) for a, z in _paragraph_blocks(text, paragraph))
            number += 1
        paragraph = []


def _paragraph_blocks(text: str, lines: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    if all(len(text[a:b].strip()) <= _SHORT_LINE for a, b in lines) and len(lines) > 1:
        yield from lines
        return
    block_start, block_end = lines[0]
    for start, end in lines[1:]:
        if _BULLET.match(text[start:end]):
            yield block_start, block_end
            block_start = start
        block_end = end
    yield block_start, block_end


def _chunks(text: str, start: int, end: int, size: int) -> Iterator[tuple[int, int]]:
    """Yield pieces of ``text[start:end]`` of at most about ``size`` characters, cut at whitespace."""
    while end - start > size:
        cut = text.rfind(" ", start + size // 2, start + size)
        cut = cut if cut > start else start + size
        yield start, cut
        start = cut
    yield start, end


def sentence_spans(text: str, config: WindowConfig = WindowConfig()) -> list[tuple[int, int]]:
    """Return the ``(start, end)`` character spans of the sentences of ``text``, in order, whitespace-trimmed."""
    pieces: list[tuple[int, int, int]] = []  # (start, end, paragraph number)
    chunks = [(p, a, z) for p, s, e in _blocks(text) for a, z in _chunks(text, s, e, _SPLITTER_CHUNK)]
    docs = _sentencizer().pipe(text[a:z].replace("\n", " ") for _, a, z in chunks)
    for (block, a, _z), doc in zip(chunks, docs, strict=True):
        for sent in doc.sents:
            s, e = a + sent.start_char, a + sent.end_char
            for cs, ce in _chunks(text, s, e, config.max_sentence_chars):
                cs, ce = _trim(text, cs, ce)
                if ce > cs:
                    pieces.append((cs, ce, block))
    return _merge_short(pieces, config.min_sentence_chars)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _merge_short(pieces: list[tuple[int, int, int]], min_chars: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int, int]] = []
    for start, end, block in pieces:
        if out and out[-1][2] == block and (out[-1][1] - out[-1][0]) < min_chars:
            out[-1] = (out[-1][0], end, block)
        else:
            out.append((start, end, block))
    return [(s, e) for s, e, _ in out]


def make_windows(sections: Sequence[Section], config: WindowConfig = WindowConfig()) -> tuple[list[Window], bool]:
    """Return the scoring windows of one message's ``sections`` and whether ``max_windows`` cut it short."""
    windows: list[Window] = []
    for k, section in enumerate(sections):
        spans = sentence_spans(section.text, config)
        first = len(windows)
        for i, (cs, ce) in enumerate(spans):
            if len(windows) >= config.max_windows:
                return windows, True
            lo, hi = i, i
            for _ in range(config.context):  # widen one side at a time while the window fits
                if lo > 0 and spans[hi][1] - spans[lo - 1][0] <= config.max_window_chars:
                    lo -= 1
                if hi + 1 < len(spans) and spans[hi + 1][1] - spans[lo][0] <= config.max_window_chars:
                    hi += 1
            ws, we = spans[lo][0], spans[hi][1]
            windows.append(Window(
                section=k, text=section.text[ws:we], start=section.base + ws, end=section.base + we,
                centre_start=section.base + cs, centre_end=section.base + ce, lo=first + lo, hi=first + hi,
            ))
    return windows, False


def text_sections(text: str) -> list[Section]:
    """Return a plain text (a training row, a table cell) as one body section."""
    return [Section(origin="body", text=text, field="body")]
