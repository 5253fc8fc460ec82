"""Text helpers: obfuscation is undone without moving offsets; duplicate detection ignores form."""

from __future__ import annotations

import pytest

from mailguard.text import deobfuscate, normalise_for_matching


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("you are a r3t@rd.", "you are a retard."),  # leetspeak inside a word, punctuation kept
        ("(h0m0)", "(homo)"),
        ("$lut", "slut"),
        ("f a g g o t", "faggot     "),  # spaced letters joined, padded to keep the length
        ("b-i-t-c-h please", "bitch     please"),
    ],
)
def test_obfuscated_words_read_as_the_words_they_hide(text: str, expected: str) -> None:
    assert deobfuscate(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Meeting at 10am in Room 3B, Q3 report, mp3 file, COVID-19, the 4th floor",
        "Call 555-1234 or write to a.b@city.gov or see https://city.gov/a1b2c3",
        "Win 1000$ now!!! I have 2 kids. ID: AB12CD34. e.g. i.e.",
    ],
)
def test_ordinary_text_with_digits_addresses_and_links_is_left_alone(text: str) -> None:
    assert deobfuscate(text) == text


def test_deobfuscation_keeps_length_and_is_idempotent() -> None:
    text = "Re: n1gg3r jokes and s l u r s in the 3rd floor kitchen"
    once = deobfuscate(text)
    assert len(once) == len(text)
    assert deobfuscate(once) == once


def test_normalised_text_ignores_case_punctuation_and_spacing() -> None:
    assert normalise_for_matching("Hello,   WORLD!\n") == normalise_for_matching("hello world")
