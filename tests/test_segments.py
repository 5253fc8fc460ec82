"""The scoring unit: sentences of e-mail text, each read with its neighbours; maximum over windows per label."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from keyword_model import KeywordModel, keyword_model

from mailguard.segments import Section, WindowConfig, make_windows, sentence_spans
from mailguard.taxonomy import LABELS

MAIL = """Hi team,

Dr. Patel from 12 St. Mary's St. will join us at 10 a.m. on Tue. The agenda is at https://www.cityofexample.gov/budget/fy26.pdf. for details, e.g. the capital plan.
- item one: the budget
- item two: the 3.5% raise

Thanks,
Jane Doe
Budget Analyst | City of Example
(555) 123-4567 ext. 204"""


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


def test_email_text_splits_into_sentences_lines_and_list_items() -> None:
    assert _sentences(MAIL) == [
        "Hi team,",
        "Dr. Patel from 12 St. Mary's St. will join us at 10 a.m. on Tue.",  # abbreviations do not end a sentence
        "The agenda is at https://www.cityofexample.gov/budget/fy26.pdf.",  # nor does a dot inside a URL
        "for details, e.g. the capital plan.",
        "- item one: the budget",  # each bullet is its own unit
        "- item two: the 3.5% raise",
        "Thanks,\nJane Doe\nBudget Analyst | City of Example",  # signature lines are short pieces, merged
        "(555) 123-4567 ext. 204",
    ]


def test_hard_wrapped_paragraph_is_read_as_prose_not_line_by_line() -> None:
    text = ("The council asked staff to return in March with a revised fee schedule that\n"
            "reflects the new cost study. Staff will also bring options for a phased\nincrease.")
    assert _sentences(text) == [
        "The council asked staff to return in March with a revised fee schedule that\nreflects the new cost study.",
        "Staff will also bring options for a phased\nincrease.",
    ]


def test_each_window_is_a_sentence_with_its_neighbours_and_offsets_index_the_stored_text() -> None:
    text = "The report is attached. He wrote that they are lazy. That is unacceptable. See you Monday."
    windows, cut = make_windows([Section("quoted", text, "quoted", base=100)])
    assert not cut and len(windows) == 4
    second = windows[1]
    assert second.text == "The report is attached. He wrote that they are lazy. That is unacceptable."
    assert text[second.centre_start - 100 : second.centre_end - 100] == "He wrote that they are lazy."
    assert (second.lo, second.hi) == (0, 2)
    assert make_windows([Section("body", text)], WindowConfig(context=0))[0][1].text == "He wrote that they are lazy."


def test_neighbours_never_cross_sections_and_windows_stay_under_the_cap() -> None:
    windows, _ = make_windows([Section("subject", "Lunch"), Section("body", "x " * 150 + "end. Short one.")],
                              WindowConfig(max_window_chars=200))
    assert windows[0].text == "Lunch"
    assert all(len(w.text) <= 400 for w in windows)  # a 300-char sentence is cut at 400 and never padded past 200


def test_window_cap_marks_the_message_as_cut() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(50))
    windows, cut = make_windows([Section("body", text)], WindowConfig(max_windows=10))
    assert cut and len(windows) == 10


def test_splitting_is_linear_on_hostile_text() -> None:
    # No whitespace, no punctuation, one huge line: cut into bounded pieces, never quadratic.
    started = time.perf_counter()
    spans = sentence_spans("a" * 400_000)
    assert time.perf_counter() - started < 20 and len(spans) >= 1000


def test_message_score_is_the_maximum_over_windows_and_evidence_is_the_sentence() -> None:
    clf = keyword_model(sexual=("sexy",))
    mail = "\n\n".join(["Budget meeting moved to Tuesday."] * 8 + ["Send me sexy photos tonight."] + ["Thanks."] * 3)
    scored = clf.score_texts([mail, "Budget meeting moved to Tuesday."])
    sexual = LABELS.index("sexual")
    assert scored.proba[0, sexual] == 0.9 and scored.proba[1, sexual] == 0.1
    (top,) = scored.evidence[0]["sexual"]  # the neighbours also fired, but only the sentence is evidence
    assert top.text == "Send me sexy photos tonight." and mail[top.start : top.end] == top.text
    assert top.window_start < top.start and top.window_end > top.end
    assert scored.evidence[1] == {}


def test_whole_message_labels_take_the_larger_of_window_and_message_scores() -> None:
    clf = keyword_model(solicitation=("raffle tickets",))
    mail = "I am selling raffle\n\ntickets for my son's team."  # the phrase spans two sentences
    clf.set_scoring_unit(WindowConfig(context=0))
    assert clf.score_texts([mail]).proba[0, LABELS.index("solicitation")] == 0.1
    clf.set_scoring_unit(WindowConfig(context=0), ["solicitation"])
    scored = clf.score_texts([mail])
    assert scored.proba[0, LABELS.index("solicitation")] == 0.9
    assert np.all(scored.proba[0, [j for j, lb in enumerate(LABELS) if lb != "solicitation"]] == 0.1)
    assert scored.evidence[0]["solicitation"]  # still points at a sentence of the message


class _DilutedKeywordModel(KeywordModel):
    """Fires on a keyword only in short units: a long window around the remark is diluted below threshold."""

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        out = super().predict_proba(X)
        out[[len(t) > 120 for t in X]] = 0.1
        return out


def test_evidence_is_the_remark_even_when_a_diluted_window_leaves_only_the_greeting_firing_everywhere() -> None:
    clf = _DilutedKeywordModel(keywords={"national_origin": ("go back home",)}).fit([], np.zeros((0, len(LABELS))))
    mail = ("Jen,\n\nThose people should go back home. "
            "The quarterly budget figures and every vendor quote for the new shelving are attached to this message.")
    scored = clf.score_texts([mail])
    assert scored.proba[0, LABELS.index("national_origin")] == 0.9
    top = scored.evidence[0]["national_origin"][0]  # the greeting's windows all fired; the remark's last one did not
    assert top.text == "Those people should go back home." and mail[top.start : top.end] == top.text
    assert [e.text for e in scored.evidence[0]["national_origin"]] == [top.text]  # the greeting is not evidence
