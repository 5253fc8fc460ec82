"""Planted-violations benchmark: planting keeps the host, containers put the text where they say, the report is numbers."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from keyword_model import keyword_model

from mailguard.mail import parse_message_bytes
from pipelines.planted import (
    CONTAINERS,
    POSITIONS,
    Host,
    ViolatingText,
    caught,
    container_mail,
    covered,
    cut_enron_quote,
    host_mail,
    measure_planted,
    paragraph_spans,
    pdf_text,
    plant,
    restore_enron_paragraphs,
    sample_by_source,
    section_scorer,
    words_inside,
)

ROOT = Path(__file__).resolve().parents[1]
# A four-paragraph host: start, middle and end are three different places.
HOST = ("Hi all,\n\nThe budget meeting moved to Tuesday at ten. Please bring the capital plan figures.\n\n"
        "The room is 204 on the second floor; parking is in the east lot.\n\nThanks,\nDana")
OFFENCE = "Send me sexy photos tonight, nobody in accounts needs to know."
PITCH = "Zorblat candles are on sale this week, reply with your order and pay by Venmo."


def _model() -> Any:
    return keyword_model(sexual=("sexy",), solicitation=("zorblat",))


@pytest.mark.parametrize(("position", "paragraph"), [("start", 0), ("middle", 2), ("end", 4)])
def test_plant_puts_the_text_in_its_own_paragraph_at_the_position_and_keeps_the_host(position: str, paragraph: int) -> None:
    p = plant(HOST, OFFENCE, position)
    assert p.text[p.start : p.end] == OFFENCE
    assert paragraph_spans(p.text)[paragraph] == (p.start, p.end)  # a paragraph of its own, at the right place
    host_back = p.text[: p.start - 2] + p.text[p.end :] if position == "end" else p.text[: p.start] + p.text[p.end + 2 :]
    assert host_back == HOST


def test_plant_refuses_an_unknown_position() -> None:
    with pytest.raises(ValueError, match="unknown position"):
        plant(HOST, OFFENCE, "footer")


def test_paragraphs_are_split_on_blank_lines_only() -> None:
    text = "one\nstill one\n\n  \n\ntwo\n\nthree"
    assert [text[a:b] for a, b in paragraph_spans(text)] == ["one\nstill one", "two", "three"]


def test_the_right_label_rule_needs_every_gold_label_and_ignores_extra_ones() -> None:
    assert caught({"sexual"}, ("sexual",))
    assert caught({"sexual", "solicitation"}, ("sexual",))  # an extra label does not undo the catch
    assert not caught({"sexual"}, ("sexual", "gender"))  # a gold label missed
    assert not caught({"solicitation"}, ("sexual",))  # flagged, but for the wrong label
    assert not caught({"sexual"}, ())  # a text without gold labels is never "caught"


@pytest.mark.parametrize("container", list(CONTAINERS))
def test_each_container_puts_the_text_only_into_its_origin(container: str) -> None:
    text = "Honestly, “they” make my skin crawl (really) — get them out of this building.\n\nSincerely,\nRocco"
    msg = parse_message_bytes(container_mail(HOST, text, container), source="test.eml")
    expected = pdf_text(text) if container == "pdf" else text
    assert msg.status == "ok"
    assert covered(msg, expected, CONTAINERS[container])
    assert words_inside(HOST, msg.body) and not words_inside(expected, msg.body)  # the host is the new text


def test_the_pdf_holds_what_it_can_encode() -> None:
    assert pdf_text("café “quoted” — ok") == "café “quoted” — ok"  # WinAnsi has these
    assert pdf_text("emoji \U0001f600") == "emoji ?"


def _texts() -> list[ViolatingText]:
    return [
        ViolatingText(OFFENCE, ("sexual",), "functional_suite"),
        ViolatingText(PITCH, ("solicitation",), "written_eval"),
        ViolatingText("Everyone over sixty should just retire already.", ("age",), "functional_suite"),  # unknown
    ]


def _hosts() -> list[Host]:
    return [
        Host(HOST, "clean_mail_eval"),
        Host("Team,\n\nThe printer on floor two is fixed.\n\nIT will patch laptops on Friday.\n\nRegards,\nSam",
             "enron_ham_lokay"),
        Host("Hello,\n\nThe zorblat order form is attached.\n\nDeadline is Monday.\n\nBest,\nLee", "enron_ham_lokay"),
    ]


def test_measure_planted_catches_known_words_everywhere_and_counts_flagged_hosts() -> None:
    report = measure_planted(_model(), _texts(), _hosts())
    assert report["standalone"]["hits"] == 2 and report["standalone"]["n"] == 3
    for position in POSITIONS:
        entry = report["positions"][position]
        assert (entry["hits"], entry["in_place"]["hits"]) == (2, 2)
        assert entry["by_label"]["sexual"]["rate"] == 1.0 and entry["by_label"]["age"]["rate"] == 0.0
        assert entry["by_text_source"]["written_eval"] == {"n": 1, "hits": 1, "rate": 1.0}
    for name, entry in report["containers"].items():
        assert entry["covered"]["rate"] == 1.0, name  # coverage does not depend on the model
        assert entry["hits"] == 2 and entry["parse_errors"] == 0, name
    flagged = report["hosts_flagged"]
    assert flagged["enron_ham_lokay"]["hits"] == 1 and flagged["enron_ham_lokay"]["by_label"]["solicitation"] == 1
    assert flagged["clean_mail_eval"]["hits"] == 0 and flagged["all"]["n"] == 3


def test_a_label_the_host_already_had_counts_as_caught_but_not_in_place() -> None:
    # The pitch's own words are unknown to the model; the host mentions zorblat and fires by itself.
    texts = [ViolatingText("Buy a raffle ticket from me for the hiking club.", ("solicitation",), "written_eval")]
    report = measure_planted(_model(), texts, [_hosts()[2]])
    assert report["standalone"]["hits"] == 0
    for position in POSITIONS:
        assert report["positions"][position]["hits"] == 1
        assert report["positions"][position]["in_place"]["hits"] == 0


def test_the_report_holds_only_numbers_and_names() -> None:
    report = measure_planted(_model(), _texts(), _hosts())
    allowed = {"quoted", "html", "attachment"}  # a container's origin is the only string value

    def leaves(node: Any) -> list[Any]:
        if isinstance(node, dict):
            return [x for v in node.values() for x in leaves(v)]
        return [node]

    assert all(isinstance(v, int | float) or v is None or v in allowed for v in leaves(report))
    dumped = json.dumps(report).lower()
    for word in ("sexy", "zorblat", "printer", "budget", "retire", "dana"):
        assert word not in dumped


def test_the_default_scorer_agrees_with_the_nightly_score_batch() -> None:
    spec = importlib.util.spec_from_file_location("bench_planted", ROOT / "bench" / "bench_planted.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model = _model()
    messages = [parse_message_bytes(container_mail(h.text, t.text, c), source=f"{c}-{i}")
                for c in CONTAINERS for i, (t, h) in enumerate(zip(_texts(), _hosts(), strict=True))]
    assert bench.nightly_scorer(model, "v1")(messages) == section_scorer(model)(messages)


def test_sampling_is_deterministic_and_takes_the_sources_in_turn() -> None:
    items = [("a", i) for i in range(5)] + [("b", i) for i in range(2)]
    first = sample_by_source(items, lambda x: x[0], 4, seed=1)
    assert first == sample_by_source(items, lambda x: x[0], 4, seed=1)
    assert [s for s, _ in first] == ["a", "b", "a", "b"]
    assert len(sample_by_source(items, lambda x: x[0], None, seed=1)) == 7


def test_enron_bodies_are_cut_at_tokenised_and_notes_forwards() -> None:
    body = "please see below .\nthanks\n- - - - - original message - - - - -\nfrom : jane\nold text"
    assert cut_enron_quote(body) == "please see below .\nthanks"
    notes = "fyi , numbers attached .\nchristine stokes\n09 / 15 / 2000 08 : 46 am\nto : steven harris\nsubject : x"
    assert cut_enron_quote(notes) == "fyi , numbers attached ."
    forwarded = "see this .\n- - - - - - - - - forwarded by dennis lee / et & s / enron on 08 / 10 / 2000\nold"
    assert cut_enron_quote(forwarded) == "see this ."


def test_enron_paragraphs_come_back_after_short_lines_that_end_a_sentence() -> None:
    wrapped = "the meeting is moved to the large room on the third floor because of the\nnew budget .\nbring the report ."
    assert restore_enron_paragraphs(wrapped) == wrapped.replace("budget .\n", "budget .\n\n")
    long_line = "x" * 70 + " ."
    assert "\n\n" not in restore_enron_paragraphs(f"{long_line}\nnext line")  # a full-width line is wrapped, not ended


def _tiny_corpora(tmp_path: Path) -> tuple[Path, Path, Path]:
    from email.message import EmailMessage

    clean = tmp_path / "clean_mail"
    (clean / "eval").mkdir(parents=True)
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "it@riverton.gov", "all@riverton.gov", "Patch night"
    m.set_content("Hello,\n\nPatching runs Friday.\n\nSave your work.\n\nIT")
    (clean / "eval" / "patch-001.eml").write_bytes(bytes(m))
    written = tmp_path / "written"  # the written corpus; only its eval/ portion is read
    (written / "eval").mkdir(parents=True)
    (written / "eval" / "eval-01.yaml").write_text(json.dumps({"pass": "eval-01", "brief": "b", "messages": [
        {"id": "eval-01-001", "kind": "ordinary", "genre": "memo", "labels": [], "subject": "Memo",
         "body": "Hi,\n\nThe memo is out.\n\nRead it.\n\nBest"},
        {"id": "eval-01-002", "kind": "ordinary", "genre": "memo", "labels": [], "subject": "Short", "body": "Hi, ok."},
    ]}))
    enron = tmp_path / "datasets" / "enron_spam"
    enron.mkdir(parents=True)
    with tarfile.open(enron / "enron6.tar.gz", "w:gz") as tar:
        for name, text in [("enron6/ham/0001.lokay.ham.txt", "Subject: gas\nvolumes are up .\nsee the report .\n"
                                                              "call me .\n- - - - - original message - - - - -\nold"),
                           ("enron6/spam/0002.spam.txt", "Subject: buy\nbuy now .\nbuy now .\nbuy now .")]:
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return clean, written, tmp_path / "datasets"


def test_host_mail_keeps_long_new_text_from_every_source(tmp_path: Path) -> None:
    clean, written, datasets = _tiny_corpora(tmp_path)
    hosts = host_mail(datasets, clean_mail_root=clean, written_root=written)
    assert sorted(h.source for h in hosts) == ["clean_mail_eval", "enron_ham_lokay", "written_eval_ordinary"]
    enron = next(h for h in hosts if h.source == "enron_ham_lokay")
    # no subject, no spam, cut at the quote; in restored form (capitals, no space before stops) like training
    assert enron.text == "Volumes are up.\n\nSee the report.\n\nCall me."
