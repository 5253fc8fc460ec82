"""Planted violations: is a violating paragraph still caught inside long ordinary mail, and in every container?

Held-out violating texts (the functional suite's violating cases and the evidence of the separately
written evaluation mail) are planted, each as its own paragraph, at the start, middle and end of
held-out ordinary long mail (the realistic clean-mail eval set, the written eval portion's ordinary
mail, and Enron ham of one mailbox), and put into the other places a reader sees text: behind ``> ``,
after a hand-typed ``-----Original Message-----``, only in the HTML alternative, only in a ``.docx``
or ``.pdf`` attachment. The containers are real RFC 822 mail, parsed like logged mail.

:func:`planted_report` gives only numbers and counts (the report may be logged to MLflow). A text
counts as caught *with the right label* when every one of its gold labels is flagged; in a container
each gold label's evidence must also carry the container's origin. Pipelines never import ``serve``:
mail is scored by a :data:`MailScorer`, by default :func:`section_scorer` (the classifier's own
``score_documents`` over ``Message.sections()``, which the nightly ``score_batch`` calls too);
``bench/bench_planted.py`` passes one that goes through ``score_batch`` itself.
"""

from __future__ import annotations

import html
import io
import itertools
import random
import re
import tarfile
import textwrap
import zlib
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path, PurePosixPath
from typing import Any, Final, TypeVar

import numpy as np

from mailguard.errors import InputError
from mailguard.mail import Message, parse_message_bytes, split_quoted_reply
from mailguard.taxonomy import LABELS
from mailguard.text import normalise_for_matching
from models.base import Classifier
from pipelines.clean_mail import STAFF_DOMAIN, load_clean_mail_messages
from pipelines.functional_suite import load_suite
from pipelines.sources.common import corpus_files
from pipelines.sources.enron_spam import decode_mail, restore_form
from pipelines.written_mail import WrittenMessage, read_pass

#: MANIFEST §10: the ham of enron6 is the mailbox of lokay-m, the mailbox held out for evaluation.
ENRON_HOLDOUT: Final[tuple[str, str]] = ("enron6.tar.gz", "ham")
TEXT_SOURCES: Final[tuple[str, ...]] = ("functional_suite", "written_eval")
HOST_SOURCES: Final[tuple[str, ...]] = ("clean_mail_eval", "written_eval_ordinary", "enron_ham_lokay")
POSITIONS: Final[tuple[str, ...]] = ("start", "middle", "end")
#: Container -> the origin its evidence must carry (``mailguard.segments.ORIGINS``).
CONTAINERS: Final[dict[str, str]] = {
    "quoted_gt": "quoted", "original_message": "quoted", "html_only": "html", "docx": "attachment", "pdf": "attachment",
}
MIN_HOST_PARAGRAPHS: Final[int] = 3  # so that start, middle and end are three different places
MAX_HOST_CHARS: Final[int] = 20_000  # a few Enron digests run to 100k characters; they would dominate the run time
BATCH: Final[int] = 256  # messages scored per call: bounds memory with a transformer

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# The preprocessed Enron text is tokenised ("- - - - - original message - - - - -") and Lotus Notes forwards
# ("- - - ... forwarded by jane doe / hou / ect on 05 / 02 / 2000") are not known to split_quoted_reply.
_ENRON_FORWARD = re.compile(r"^[\s>]*(?:-\s*){5,}\s*(?:original message|forwarded by)\b", re.IGNORECASE)
# A Lotus Notes header block: "jane doe" / "09 / 15 / 2000 08 : 46 am" / "to : ..." starts the earlier mail.
_NOTES_DATE = re.compile(r"^\s*\d{1,2}\s*/\s*\d{1,2}\s*/\s*\d{2,4}\s+\d{1,2}\s*:\s*\d{2}\s*(?:am|pm)?\s*$", re.I)
_NOTES_TO = re.compile(r"^\s*to\s*:", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.?!:]\s*$")
_ENRON_SHORT_LINE = 60  # the corpus is wrapped at about 75 columns: a shorter line that ends a sentence ends a paragraph

T = TypeVar("T")


@dataclass(frozen=True)
class ViolatingText:
    """A held-out violating text and its gold labels."""

    text: str
    labels: tuple[str, ...]
    source: str  # one of TEXT_SOURCES


@dataclass(frozen=True)
class Host:
    """Ordinary long mail (new text only) that violating texts are planted into."""

    text: str
    source: str  # one of HOST_SOURCES


@dataclass(frozen=True)
class PlantedText:
    """A host with a violating paragraph in it; ``text[start:end]`` is the violating text."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class MailVerdict:
    """What a scorer said about one message: the flagged labels and the origins of each one's evidence."""

    labels: frozenset[str]
    origins: dict[str, frozenset[str]]


#: Scores parsed mail as the nightly run does: one verdict per message, in order.
MailScorer = Callable[[Sequence[Message]], list[MailVerdict]]
V = TypeVar("V", ViolatingText, Host)


# -- the texts and the hosts --------------------------------------------------------------------------------


def violating_texts(suite_root: Path, written_root: Path) -> list[ViolatingText]:
    """Return the held-out violating texts: every suite case with a gold label, every written eval violation.

    ``suite_root`` is the functional suite, ``written_root`` the written corpus (its ``eval/`` portion is read).

    A written message gives one text: its evidence sentences in the order they appear, as one paragraph,
    with the message's labels.
    """
    suite = load_suite(suite_root)
    out = [
        ViolatingText(str(row.text).strip(), tuple(lb for lb in LABELS if getattr(row, lb)), "functional_suite")
        for row in suite.itertuples(index=False)
        if any(getattr(row, lb) for lb in LABELS)
    ]
    for message in _written_eval(written_root):
        if message.kind not in ("violation", "solicitation"):
            continue
        sentences = sorted({t for _, t in message.evidence}, key=lambda t: (message.text.find(t), t))
        out.append(ViolatingText(" ".join(sentences), message.labels, "written_eval"))
    return _distinct(out)


def host_mail(datasets_root: Path, *, clean_mail_root: Path, written_root: Path) -> list[Host]:
    """Return held-out ordinary mail (new text only) of ``MIN_HOST_PARAGRAPHS`` or more paragraphs and at most
    ``MAX_HOST_CHARS`` characters, from every host source, without repeated texts.

    The hosts are the ``eval/`` portions of the clean mail and written corpora and the held-out Enron mailbox
    of the public corpora under ``datasets_root``.
    """
    bodies = [(m.body, "clean_mail_eval") for m in load_clean_mail_messages("eval", clean_mail_root)]
    bodies += [(m.body, "written_eval_ordinary") for m in _written_eval(written_root) if m.kind == "ordinary"]
    bodies += [(b, "enron_ham_lokay") for b in enron_ham_bodies(datasets_root)]
    hosts = [Host(new_text(body), source) for body, source in bodies]
    return _distinct([h for h in hosts if len(paragraph_spans(h.text)) >= MIN_HOST_PARAGRAPHS
                      and len(h.text) <= MAX_HOST_CHARS])


def enron_ham_bodies(datasets_root: Path) -> list[str]:
    """Return the bodies (subject line dropped) of the held-out Enron ham, paragraphs restored, cut at the first quote."""
    archive_name, folder = ENRON_HOLDOUT
    (archive,) = corpus_files(datasets_root, "enron_spam", [archive_name])
    bodies: list[str] = []
    try:
        with tarfile.open(archive, mode="r|gz") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if not member.isfile() or len(parts) < 2 or parts[-2] != folder or not parts[-1].endswith(".txt"):
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    _subject, _, body = decode_mail(handle.read()).partition("\n")
                    bodies.append(restore_form(restore_enron_paragraphs(cut_enron_quote(body))))
    except (OSError, EOFError, tarfile.TarError, zlib.error) as e:
        raise InputError(f"enron_spam: cannot read archive {archive}: {e}") from e
    return bodies


def cut_enron_quote(body: str) -> str:
    """Return an Enron body up to its first quoted or forwarded part (tokenised and Lotus Notes markers included)."""
    lines = body.split("\n")
    for i, line in enumerate(lines):
        notes_header = _NOTES_DATE.match(line) and any(_NOTES_TO.match(x) for x in lines[i + 1 : i + 3])
        if _ENRON_FORWARD.match(line) or notes_header:
            lines = lines[: i - 1 if notes_header and i > 0 else i]  # a Notes header starts with the sender's name
            break
    return split_quoted_reply("\n".join(lines))[0]


def restore_enron_paragraphs(text: str) -> str:
    """Return Enron text with blank lines put back after short lines that end a sentence (preprocessing removed them)."""
    out: list[str] = []
    for line in text.split("\n"):
        out.append(line)
        if _SENTENCE_END.search(line) and len(line.strip()) < _ENRON_SHORT_LINE:
            out.append("")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def new_text(body: str) -> str:
    """Return what the sender of ``body`` wrote (quoted and forwarded mail cut off), stripped."""
    return split_quoted_reply(body)[0].strip()


def _written_eval(written_root: Path) -> list[WrittenMessage]:
    root = written_root / "eval"
    paths = sorted(root.glob("*.yaml"))
    if not paths:
        raise InputError(f"no written evaluation mail (*.yaml) in {root}")
    messages = []
    for path in paths:
        found, problems = read_pass(path)
        if problems:
            raise InputError(f"{len(problems)} problem(s) in {path}, e.g. {problems[0]}")
        messages += found
    return messages


def _distinct(items: list[V]) -> list[V]:
    """Return ``items`` without repeats of the same text (case, punctuation and spacing ignored), first kept."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = normalise_for_matching(item.text)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def sample_by_source(items: Sequence[T], source_of: Callable[[T], Hashable], n: int | None, seed: int) -> list[T]:
    """Return up to ``n`` items (all when None): each source shuffled by ``seed``, then taken in turn.

    Taking the sources in turn keeps them balanced under a small cap, and makes round-robin pairing
    with hosts cycle through the host sources.
    """
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(source_of(item), []).append(item)
    for source, group in groups.items():
        random.Random(f"{seed}:{source}").shuffle(group)
    turns = [item for row in itertools.zip_longest(*groups.values()) for item in row if item is not None]
    return turns if n is None else turns[: max(n, 0)]


# -- planting ------------------------------------------------------------------------------------------------


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Return the ``(start, end)`` of each paragraph of ``text`` (blank-line separated, blank ones skipped)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in [*_PARAGRAPH_BREAK.finditer(text), None]:
        end = m.start() if m else len(text)
        if text[pos:end].strip():
            spans.append((pos, end))
        pos = m.end() if m else len(text)
    return spans


def plant(host: str, text: str, position: str) -> PlantedText:
    """Return ``host`` with ``text`` as its own paragraph before its first paragraph, in its middle, or after its end.

    The host is kept byte for byte: removing ``text`` and one blank line next to it gives ``host`` back.
    """
    host, text = host.strip(), text.strip()
    spans = paragraph_spans(host)
    if position not in POSITIONS:
        raise ValueError(f"unknown position {position!r}; expected one of {POSITIONS}")
    if position == "end" or not spans:
        joined = f"{host}\n\n{text}" if host else text
        return PlantedText(joined, len(joined) - len(text), len(joined))
    at = spans[0][0] if position == "start" else spans[len(spans) // 2][0]
    return PlantedText(f"{host[:at]}{text}\n\n{host[at:]}", at, at + len(text))


def caught(flagged: Collection[str], gold: Collection[str]) -> bool:
    """Return True when every gold label is flagged (extra labels do not matter; no gold label: never caught)."""
    return bool(gold) and set(gold) <= set(flagged)


# -- containers ----------------------------------------------------------------------------------------------


def container_mail(host: str, text: str, container: str) -> bytes:
    """Return an RFC 822 message whose new text is ``host`` and which carries ``text`` only in ``container``."""
    msg = EmailMessage()
    msg["From"], msg["To"] = f"alex.rivera@{STAFF_DOMAIN}", f"facilities-team@{STAFF_DOMAIN}"
    msg["Subject"], msg["Date"] = "Notes from this week", "Mon, 03 Mar 2025 09:12:00 -0700"
    if container == "quoted_gt":
        quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in text.split("\n"))
        msg.set_content(f"{host}\n\n{quoted}\n")
    elif container == "original_message":
        header = (f"-----Original Message-----\nFrom: Jordan Avery <jordan.avery@{STAFF_DOMAIN}>\n"
                  f"Sent: Monday, March 3, 2025 8:40 AM\nTo: Alex Rivera <alex.rivera@{STAFF_DOMAIN}>\n"
                  "Subject: Notes from this week")
        msg.set_content(f"{host}\n\n{header}\n\n{text}\n")
    elif container == "html_only":
        msg.set_content(f"{host}\n")
        paragraphs = [host[a:b] for a, b in paragraph_spans(host)] + [text]
        body = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
        msg.add_alternative(f"<html><body>{body}</body></html>", subtype="html")
    elif container == "docx":
        msg.set_content(f"{host}\n")
        msg.add_attachment(docx_bytes(text), maintype="application",
                           subtype="vnd.openxmlformats-officedocument.wordprocessingml.document", filename="notes.docx")
    elif container == "pdf":
        msg.set_content(f"{host}\n")
        msg.add_attachment(pdf_bytes(text), maintype="application", subtype="pdf", filename="notes.pdf")
    else:
        raise ValueError(f"unknown container {container!r}; expected one of {tuple(CONTAINERS)}")
    return msg.as_bytes()


def docx_bytes(text: str) -> bytes:
    """Return a Word document: a heading line, then ``text`` one paragraph per line."""
    import docx

    doc = docx.Document()
    doc.add_paragraph("Notes")
    for line in text.split("\n"):
        doc.add_paragraph(line)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def pdf_text(text: str) -> str:
    """Return ``text`` as :func:`pdf_bytes` stores it (WinAnsi: characters outside it become "?")."""
    return text.encode("cp1252", "replace").decode("cp1252")


def pdf_bytes(text: str) -> bytes:
    """Return a one-page PDF whose text layer is ``text`` wrapped at 90 columns (hand-built: no PDF writer needed)."""
    lines = [ln for para in pdf_text(text).split("\n") for ln in textwrap.wrap(para, 90, break_on_hyphens=False) or [""]]
    shown = " T* ".join("(" + ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj" for ln in lines)
    content = f"BT /F1 11 Tf 14 TL 72 740 Td {shown} ET".encode("cp1252")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def words_inside(needle: str, haystack: str) -> bool:
    """Return True when the words of ``needle`` appear, in order and together, in ``haystack`` (case, punctuation ignored)."""
    words = normalise_for_matching(needle)
    return bool(words) and f" {words} " in f" {normalise_for_matching(haystack)} "


def covered(msg: Message, text: str, origin: str) -> bool:
    """Return True when ``text`` is inside a scored section of ``msg`` with ``origin``."""
    return msg.status == "ok" and any(s.origin == origin and words_inside(text, s.text) for s in msg.sections())


# -- scoring and the report ----------------------------------------------------------------------------------


def section_scorer(classifier: Classifier) -> MailScorer:
    """Return a scorer that reads each message's sections with ``classifier`` (the path ``score_batch`` takes)."""

    def score(messages: Sequence[Message]) -> list[MailVerdict]:
        ok = [i for i, m in enumerate(messages) if m.status == "ok"]
        verdicts = [MailVerdict(frozenset(), {}) for _ in messages]
        scored = classifier.score_documents([messages[i].sections() for i in ok])
        for i, proba, evidence in zip(ok, scored.proba, scored.evidence, strict=True):
            verdicts[i] = MailVerdict(
                frozenset(_flagged(proba, classifier.thresholds_)),
                {lb: frozenset(e.origin for e in items) for lb, items in evidence.items()},
            )
        return verdicts

    return score


def planted_report(
    classifier: Classifier,
    *,
    datasets_root: Path,
    suite_root: Path,
    clean_mail_root: Path,
    written_root: Path,
    seed: int,
    max_texts: int | None = None,
    max_hosts: int | None = None,
    score_mail: MailScorer | None = None,
) -> dict[str, Any]:
    """Return the planted-violations report (numbers and counts only) on the held-out texts and hosts.

    The texts come from the suite under ``suite_root`` and the written corpus, the hosts from the clean mail
    and written corpora and the public corpora under ``datasets_root`` (see :func:`violating_texts`,
    :func:`host_mail`). ``max_texts`` and ``max_hosts`` cap the samples (taken in turn from each source,
    shuffled by ``seed``; None keeps all); ``score_mail`` scores the container mail (default
    :func:`section_scorer`).
    """
    texts = sample_by_source(violating_texts(suite_root, written_root), lambda t: t.source, max_texts, seed)
    hosts = sample_by_source(host_mail(datasets_root, clean_mail_root=clean_mail_root, written_root=written_root),
                             lambda h: h.source, max_hosts, seed)
    report = measure_planted(classifier, texts, hosts, score_mail=score_mail)
    report["sample"] = {"max_texts": max_texts, "max_hosts": max_hosts, "seed": seed}
    return report


def measure_planted(
    classifier: Classifier,
    texts: Sequence[ViolatingText],
    hosts: Sequence[Host],
    *,
    score_mail: MailScorer | None = None,
) -> dict[str, Any]:
    """Return the report for given texts and hosts: text ``i`` is planted into host ``i mod len(hosts)``."""
    if not texts or not hosts:
        raise ValueError(f"need violating texts and hosts (got {len(texts)} and {len(hosts)})")
    score_mail = score_mail or section_scorer(classifier)
    pairs = [(t, hosts[i % len(hosts)]) for i, t in enumerate(texts)]
    standalone = [_flagged(p, classifier.thresholds_) for p in _proba(classifier, [t.text for t in texts])]
    host_flags = [_flagged(p, classifier.thresholds_) for p in _proba(classifier, [h.text for h in hosts])]
    report: dict[str, Any] = {
        "n_texts": len(texts),
        "n_hosts": len(hosts),
        "texts_by_source": _counts(t.source for t in texts),
        "texts_by_label": {lb: sum(lb in t.labels for t in texts) for lb in LABELS},
        "hosts_by_source": _counts(h.source for h in hosts),
        "hosts_flagged": _hosts_flagged(hosts, host_flags),
        "standalone": _rates(texts, [caught(f, t.labels) for f, t in zip(standalone, texts, strict=True)],
                             [{lb: lb in f for lb in t.labels} for f, t in zip(standalone, texts, strict=True)]),
        "positions": {},
        "containers": {},
        "window_config": classifier.window_config_.as_dict(),
    }
    for position in POSITIONS:
        planted = [plant(h.text, t.text, position) for t, h in pairs]
        scored = [s for a in range(0, len(planted), BATCH)
                  for s in _score_texts(classifier, [p.text for p in planted[a : a + BATCH]])]
        hits = [caught(f, t.labels) for (f, _), t in zip(scored, texts, strict=True)]
        in_place = [hit and all(_overlaps(ev.get(lb, ()), p) for lb in t.labels)
                    for hit, (_, ev), t, p in zip(hits, scored, texts, planted, strict=True)]
        entry = _rates(texts, hits, [{lb: lb in f for lb in t.labels} for (f, _), t in zip(scored, texts, strict=True)])
        entry["in_place"] = _share(in_place)
        entry["by_host_source"] = {s: _share([hit for hit, (_, h) in zip(hits, pairs, strict=True) if h.source == s])
                                   for s in _sources(hosts)}
        report["positions"][position] = entry
    for container, origin in CONTAINERS.items():
        report["containers"][container] = _container_entry(pairs, container, origin, score_mail)
    return report


def _container_entry(
    pairs: Sequence[tuple[ViolatingText, Host]], container: str, origin: str, score_mail: MailScorer
) -> dict[str, Any]:
    texts = [t for t, _ in pairs]
    messages = [parse_message_bytes(container_mail(h.text, t.text, container), source=f"planted-{container}-{i}")
                for i, (t, h) in enumerate(pairs)]
    expected = [pdf_text(t.text) if container == "pdf" else t.text for t in texts]
    verdicts = [v for a in range(0, len(messages), BATCH) for v in score_mail(messages[a : a + BATCH])]
    right = [{lb: lb in v.labels and origin in v.origins.get(lb, frozenset()) for lb in t.labels}
             for v, t in zip(verdicts, texts, strict=True)]
    entry = _rates(texts, [bool(r) and all(r.values()) for r in right], right)
    entry["origin"] = origin
    entry["covered"] = _share([covered(m, x, origin) for m, x in zip(messages, expected, strict=True)])
    entry["parse_errors"] = sum(m.status != "ok" for m in messages)
    return entry


def _proba(classifier: Classifier, texts: Sequence[str]) -> np.ndarray:
    parts = [classifier.score_texts(texts[a : a + BATCH]).proba for a in range(0, len(texts), BATCH)]
    return np.vstack(parts) if parts else np.zeros((0, len(LABELS)))


def _score_texts(classifier: Classifier, texts: Sequence[str]) -> Iterator[tuple[set[str], dict[str, Any]]]:
    scored = classifier.score_texts(texts)
    for proba, evidence in zip(scored.proba, scored.evidence, strict=True):
        yield _flagged(proba, classifier.thresholds_), evidence


def _flagged(proba: np.ndarray, thresholds: np.ndarray) -> set[str]:
    return {lb for lb, p, t in zip(LABELS, proba, thresholds, strict=True) if p >= t}


def _overlaps(evidence: Any, planted: PlantedText) -> bool:
    return any(e.start < planted.end and e.end > planted.start for e in evidence)


def _share(hits: Sequence[bool]) -> dict[str, Any]:
    n, k = len(hits), int(sum(hits))
    return {"n": n, "hits": k, "rate": round(k / n, 4) if n else None}


def _rates(texts: Sequence[ViolatingText], hits: Sequence[bool], label_hits: Sequence[dict[str, bool]]) -> dict[str, Any]:
    """Return overall, per-text-source and per-label shares; a label's share counts that label flagged."""
    out = _share(hits)
    out["by_text_source"] = {s: _share([h for h, t in zip(hits, texts, strict=True) if t.source == s])
                             for s in _sources(texts)}
    out["by_label"] = {lb: _share([r[lb] for r in label_hits if lb in r])
                       for lb in LABELS if any(lb in r for r in label_hits)}
    return out


def _hosts_flagged(hosts: Sequence[Host], flags: Sequence[set[str]]) -> dict[str, Any]:
    """Return, per host source and overall, the share of unmodified hosts with any label, and counts per label."""
    out: dict[str, Any] = {}
    for source in [*_sources(hosts), "all"]:
        chosen = [f for f, h in zip(flags, hosts, strict=True) if source in ("all", h.source)]
        out[source] = _share([bool(f) for f in chosen])
        out[source]["by_label"] = {lb: sum(lb in f for f in chosen) for lb in LABELS}
    return out


def _sources(items: Sequence[ViolatingText] | Sequence[Host]) -> list[str]:
    return list(dict.fromkeys(item.source for item in items))


def _counts(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts
