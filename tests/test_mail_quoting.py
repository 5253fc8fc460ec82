"""What the sender wrote is told apart from the quoted replies and forwards it carries (both are scored)."""

from __future__ import annotations

from mailguard.mail import split_quoted_reply


def test_top_posted_reply_with_attribution_and_chevrons() -> None:
    text = (
        "Thanks, the deadline is March 24.\n\n"
        "On Mon, Mar 3, 2025 at 2:10 PM Kevin O'Brien <kevin.obrien@cityofexample.gov> wrote:\n"
        "> Is there a deadline?\n> Thanks, Kevin\n"
    )
    new, quoted = split_quoted_reply(text)
    assert new == "Thanks, the deadline is March 24."
    assert quoted.startswith("On Mon, Mar 3, 2025") and quoted.endswith("> Thanks, Kevin")


def test_attribution_wrapped_over_two_lines() -> None:
    text = "Agreed.\n\nOn Tue, 4 Mar 2025 at 10:02, Jane Doe <\njane@cityofexample.gov> wrote:\n> Shall we meet?\n"
    new, quoted = split_quoted_reply(text)
    assert new == "Agreed."
    assert "jane@cityofexample.gov> wrote:" in quoted


def test_interleaved_reply_keeps_every_new_line() -> None:
    text = (
        "On Mon, Mar 3, 2025, Dave wrote:\n"
        "> Can you take the Tuesday shift?\n"
        "Yes, I can.\n"
        "> And Wednesday?\n"
        "No, I have training.\n"
    )
    new, quoted = split_quoted_reply(text)
    assert new == "Yes, I can.\nNo, I have training."
    assert quoted.splitlines() == [
        "On Mon, Mar 3, 2025, Dave wrote:",
        "> Can you take the Tuesday shift?",
        "> And Wednesday?",
    ]


def test_attribution_without_chevrons_quotes_everything_after_it() -> None:
    # Outlook mobile and some web clients quote without ">" prefixes.
    text = "See below.\n\nOn Mon, Mar 3, 2025 at 9:00 AM Rick <rick@cityofexample.gov> wrote:\nOld text here.\nMore old text."
    new, quoted = split_quoted_reply(text)
    assert new == "See below."
    assert quoted.endswith("More old text.")


def test_outlook_original_message_marker() -> None:
    text = (
        "Forwarding for approval.\n\n-----Original Message-----\nFrom: Renewals <r@fleettrack.example.com>\n"
        "Sent: Monday, March 3, 2025 11:42 AM\nTo: Greg\nSubject: Renewal\n\nPlease sign."
    )
    new, quoted = split_quoted_reply(text)
    assert new == "Forwarding for approval."
    assert quoted.startswith("-----Original Message-----") and quoted.endswith("Please sign.")


def test_outlook_header_block_after_underscore_separator() -> None:
    text = (
        "Maria - can you check this?\n\n________________________________\n"
        "From: Renewals <r@fleettrack.example.com>\nSent: Monday, March 3, 2025 11:42 AM\n"
        "To: Greg Lawson\nSubject: Renewal\n\nThe price rises 4%."
    )
    new, quoted = split_quoted_reply(text)
    assert new == "Maria - can you check this?"
    assert quoted.startswith("_____") and "The price rises 4%." in quoted


def test_outlook_header_block_without_separator_and_in_bold_html_form() -> None:
    text = "Looping in Tom.\n\n*From:* Elena Park\n*Sent:* Tuesday, March 4, 2025\n*To:* Tom Becker\n*Subject:* Plans\n\nRevised sheets attached."
    new, quoted = split_quoted_reply(text)
    assert new == "Looping in Tom."
    assert quoted.startswith("*From:* Elena Park")


def test_gmail_forward_marker() -> None:
    text = "FYI\n\n---------- Forwarded message ---------\nFrom: Dana <dana@mailbox.example.net>\nDate: Mon\n\nPothole again."
    assert split_quoted_reply(text) == ("FYI", text[5:])


def test_signature_is_the_senders_own_text() -> None:
    # Readers see the signature (a Bible verse or a sales pitch can sit there): it is scored as body.
    text = "The report is attached.\n\n-- \nPriya Natarajan\nBenefits Coordinator | she/her\n"
    new, quoted = split_quoted_reply(text)
    assert new == text.strip() and quoted == ""


def test_long_text_after_a_dash_line_is_not_treated_as_a_signature() -> None:
    # A "--" cannot be used to hide a whole message from scoring.
    body = "\n".join(f"line {i} of what I really wanted to say" for i in range(15))
    text = "Hi all\n--\n" + body
    new, quoted = split_quoted_reply(text)
    assert new == text and quoted == ""


def test_plain_message_is_all_new_text() -> None:
    text = "From: the desk of the clerk, we wrote a memo.\nAs the auditor wrote: numbers matter."
    assert split_quoted_reply(text) == (text, "")


def test_crlf_and_empty_input() -> None:
    assert split_quoted_reply("Yes.\r\n\r\n> Ok?\r\n") == ("Yes.", "> Ok?")
    assert split_quoted_reply("") == ("", "")
