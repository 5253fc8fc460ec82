"""Marking evidence in the item page's texts: offsets first, each item in its own field, always escaped."""

from __future__ import annotations

from serve.review.highlight import anchor_id, highlight, highlight_message
from serve.review.presenters import evidence_panel, queue_notice, readable_attachments


def _item(text: str, field: str, start: int, **kw: object) -> dict[str, object]:
    return {"text": text, "field": field, "start": start, "end": start + len(text), **kw}


def test_offsets_choose_the_occurrence_that_fired() -> None:
    # The same sentence twice: the scorer's offsets point at the second, so the second is marked.
    text = "Say it. Say it."
    marked = highlight(text, {"race": [_item("Say it.", "body", 8, origin="body")]}, ["race"])
    assert marked.html.startswith("Say it. <mark") and marked.found == {"race"}


def test_each_item_is_marked_only_in_the_field_it_names() -> None:
    texts = {"body": "Hello there.", "quoted": "> Hello there.", "subject": "Hello there."}
    evidence = {"sexual": [_item("Hello there.", "quoted", 2, origin="quoted", score=0.9)]}
    m = highlight_message(texts, evidence, ["sexual"])
    assert "<mark" not in m.fields["body"].html and "<mark" not in m.fields["subject"].html
    assert '&gt; <mark class="evidence" data-labels="sexual" data-origins="quoted"' in m.fields["quoted"].html
    assert m.placed == {("sexual", 0): "quoted"}


def test_stale_offsets_fall_back_to_the_text_and_unfound_items_are_not_placed() -> None:
    texts = {"body": "Edited: you are too old to learn.", "subject": "Re"}
    evidence = {"age": [_item("too old to learn", "body", 0)], "race": [_item("not in the text", "body", 3)]}
    m = highlight_message(texts, evidence, ["age", "race"])
    assert "<mark" in m.fields["body"].html and m.placed == {("age", 0): "body"}


def test_legacy_items_without_a_field_are_searched_body_first() -> None:
    texts = {"subject": "too old", "body": "He is too old.", "quoted": ""}
    m = highlight_message(texts, {"age": [{"text": "too old"}], "gender": [{"text": "He is"}]}, ["age", "gender"])
    assert m.placed == {("age", 0): "body", ("gender", 0): "body"}
    subject_only = highlight_message({"subject": "Old timer", "body": "Hi."}, {"age": [{"text": "Old"}]}, ["age"])
    assert subject_only.placed == {("age", 0): "subject"}
    assert 'title="age (subject)"' in subject_only.fields["subject"].html


def test_marks_say_label_origin_and_score_and_carry_an_anchor() -> None:
    item = _item("Buy oils", "attachment_text", 0, origin="attachment", attachment="notes.docx", score=0.79)
    html = highlight("Buy oils now", {"solicitation": [item]}, ["solicitation"], field="attachment_text").html
    assert html == (
        '<mark class="evidence" data-labels="solicitation" data-origins="attachment" '
        'title="solicitation (attachment notes.docx, score 0.79)">'
        f'<span class="evanchor" id="{anchor_id("solicitation", 0)}"></span>'
        '<span class="evlabel">solicitation</span>Buy oils</mark> now'
    )


def test_two_labels_on_one_sentence_share_the_mark() -> None:
    text = "Go back home."
    ev = {"race": [_item(text, "body", 0)], "national_origin": [_item(text, "body", 0)]}
    html = highlight(text, ev, ["national_origin", "race"]).html
    assert html.count("<mark") == 1 and 'data-labels="national_origin race"' in html
    assert 'id="ev-national_origin-0"' in html and 'id="ev-race-0"' in html


def test_mail_text_evidence_and_names_are_escaped() -> None:
    text = "<script>x()</script> and <b>this</b>"
    item = _item("<b>this</b>", "body", 25, origin='"><img src=x>', attachment="<i>.pdf", score=0.5)
    html = str(highlight(text, {"race": [item]}, ["race"]).html)
    assert "<script>" not in html and "<b>" not in html and "<img" not in html and "<i>" not in html
    assert html.startswith("&lt;script&gt;x()&lt;/script&gt; and <mark")
    assert "&lt;b&gt;this&lt;/b&gt;</mark>" in html and 'data-origins="&#34;&gt;&lt;img src=x&gt;"' in html


def test_evidence_panel_lists_best_first_with_where_and_anchor() -> None:
    evidence = {
        "sexual": [
            {"text": "weaker", "origin": "body", "score": 0.6},
            {"text": "stronger", "origin": "html", "score": 0.9},
            {"text": "missing", "origin": "quoted", "score": 0.7},
        ]
    }
    rows = evidence_panel(evidence, ["sexual"], {("sexual", 0): "body", ("sexual", 1): "html_text"})["sexual"]
    assert [(r.text, r.where, r.score, r.anchor) for r in rows] == [
        ("stronger", "HTML version only", 0.9, "ev-sexual-1"),
        ("missing", "quoted/forwarded text", 0.7, None),
        ("weaker", "message text", 0.6, "ev-sexual-0"),
    ]
    assert evidence_panel({"age": [{"text": "old"}]}, ["age"], {})["age"][0].score is None  # legacy: no score


def test_queue_notice_and_readable_attachments() -> None:
    from serve.scoring.batch import QUOTED_ONLY_REASON  # the scorer's wording is what the notice keys on

    assert queue_notice(QUOTED_ONLY_REASON).startswith("Flagged only in quoted/forwarded text")
    assert queue_notice("") == "" and queue_notice("something new") == "Queued: something new."
    names = readable_attachments("a, b.txt; notes.docx; photo.png", "photo.png (not text)")
    assert names == ["a, b.txt", "notes.docx"]
