"""MIME to text: which part is read, how HTML and charsets become text, what counts as an attachment."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailguard.mail import parse_message_bytes, read_messages
from mailguard.mail.mime import decode_bytes, decode_header_value, html_to_text, lenient_b64decode, looks_binary

FIX = Path(__file__).parent / "fixtures" / "mail"


def test_plain_alternative_is_preferred_over_html() -> None:
    (m,) = read_messages(FIX / "eml" / "06_attachments.eml")
    assert m.body == "Minutes and the invoice are attached."  # the text/plain alternative, not "<b>invoice</b>"


def test_html_only_mail_becomes_readable_text() -> None:
    (m,) = read_messages(FIX / "eml" / "02_html_only.eml")
    assert m.body.splitlines() == [
        "Hello Aisha,",
        "",
        'Your ticket #48213 is "resolved" & closed.',
        "",
        "- Technician: J. Alvarez",
        "- Status: Resolved",
        "Restart your laptop",
        "and reconnect.",
    ]
    assert "tracking pixel" not in m.body and "color" not in m.body and "Ticket" not in m.body


def test_html_alternative_is_used_when_the_plain_part_is_empty() -> None:
    raw = (
        b'Content-Type: multipart/alternative; boundary="A"\n\n--A\nContent-Type: text/plain\n\n \n'
        b"--A\nContent-Type: text/html\n\n<p>Only the <i>HTML</i> part has text.</p>\n--A--\n"
    )
    assert parse_message_bytes(raw).body == "Only the HTML part has text."


def test_html_blockquote_is_recognised_as_quoted_reply() -> None:
    html = (
        "<div>Sounds good, see you then.</div><div class=gmail_quote>"
        "<div>On Mon, Mar 3, 2025 at 9:00 AM Dave &lt;dave@cityofexample.gov&gt; wrote:<br></div>"
        "<blockquote>Meeting moved to <b>Room 204</b>.</blockquote></div>"
    )
    m = parse_message_bytes(b"Content-Type: text/html\n\n" + html.encode())
    assert m.body == "Sounds good, see you then."
    assert "> Meeting moved to Room 204." in m.quoted


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>caf&eacute; &amp; cr&egrave;me&nbsp;br&ucirc;l&eacute;e</p>", "café & crème brûlée"),
        ("<head><style>x{}</style><body><p>no closing head</p>", "no closing head"),  # </head> missing
        ("<pre>  two  spaces\n  kept</pre>", "two spaces\nkept"),
        ("<div><![if !supportLists]>Outlook list<![endif]></div>", "Outlook list"),
        ("<table><tr><td>Item</td><td>$40</td></tr><tr><td>Tax</td><td>$4</td></tr></table>", "Item $40\nTax $4"),
        ("<script>never closed", ""),
    ],
)
def test_html_to_text_cases(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_declared_latin1_message_is_decoded_and_so_is_its_encoded_subject() -> None:
    (m,) = read_messages(FIX / "eml" / "05_latin1.eml")
    assert m.subject == "Aviso de corte – traducción"
    assert m.body == "El miércoles se cortará el agua. “¿Preguntas?” Llame al 311."


@pytest.mark.parametrize(
    ("data", "charset", "expected"),
    [
        ("café".encode(), "iso-8859-1", "café"),  # lying latin-1 over UTF-8 bytes
        ("café".encode("cp1252"), "utf-8", "café"),  # lying UTF-8 over cp1252 bytes
        ("café".encode("cp1252"), "x-klingon", "café"),  # unknown charset
        ("café".encode("cp1252"), "base64", "café"),  # a codec that is not a text encoding
        ("naïve".encode("utf-16"), "utf-16", "naïve"),
        (b"a\x00b", None, "ab"),  # NUL removed
        (b"\x81\x8d", "us-ascii", "\ufffd\ufffd"),  # undecodable everywhere: replacement, no exception
    ],
)
def test_decode_bytes_never_raises_and_falls_back_sensibly(data: bytes, charset: str | None, expected: str) -> None:
    assert decode_bytes(data, charset) == expected


def test_encoded_word_headers_decode_even_when_broken() -> None:
    assert decode_header_value("=?utf-8?B?UGVybWl0?= =?utf-8?Q?_review?=") == "Permit review"
    assert decode_header_value("=?utf-8?B?!!!?=") in ("", "=?utf-8?B?!!!?=")
    assert decode_header_value("caf\udce9 \x00ok") == "café ok"  # raw 8-bit byte kept by the parser


def test_bad_base64_and_quoted_printable_are_decoded_leniently() -> None:
    assert lenient_b64decode(b"SGVsbG8g!!d29y bGQ") == b"Hello world"
    assert lenient_b64decode(b"SGVsbG8gd29ybGQ=x") == b"Hello world"  # stray trailing char
    qp = b"Content-Transfer-Encoding: quoted-printable\n\nCaf=C3=A9 =ZZ open=\n late=\n"
    assert parse_message_bytes(qp).body == "Café =ZZ open late"


def test_text_attachments_are_scored_and_others_only_listed() -> None:
    (m,) = read_messages(FIX / "eml" / "06_attachments.eml")
    assert m.attachments == ("minutes.txt", "invoice_4471.pdf")  # the unnamed inline image is not an attachment
    assert m.attachment_text == "Minutes: board recommends option B.\nNext meeting April 17."
    assert "option B" in m.text  # what the scorer sees
    assert "PDF" not in m.text


def test_text_part_with_a_filename_counts_as_an_attachment_even_inline() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="M"\n\n--M\nContent-Type: text/plain\n\nSee notes.\n'
        b'--M\nContent-Type: text/plain; name="notes.txt"\n\nNotes body.\n--M\n'
        b'Content-Type: text/plain\nContent-Disposition: attachment; filename="=?utf-8?q?r=C3=A9sum=C3=A9.txt?="\n\n'
        b"CV text.\n--M\nContent-Type: text/plain\nContent-Disposition: attachment; filename=bin.txt\n"
        b"Content-Transfer-Encoding: base64\n\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n--M--\n"
    )
    m = parse_message_bytes(raw)
    assert m.body == "See notes."
    assert m.attachments == ("notes.txt", "résumé.txt", "bin.txt")
    assert m.attachment_text == "Notes body.\n\nCV text."  # binary "text" is listed, not scored


def test_attached_message_is_context_not_new_text() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="M"\n\n--M\nContent-Type: text/plain\n\nFYI, see below.\n'
        b"--M\nContent-Type: message/rfc822\n\nSubject: old\n\nThe earlier message.\n--M--\n"
    )
    m = parse_message_bytes(raw)
    assert m.body == "FYI, see below."
    assert m.quoted == "The earlier message."


def test_nesting_within_the_limit_is_read() -> None:
    inner = "Content-Type: text/plain\n\nsix levels down\n"
    for i in range(6):
        inner = f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n{inner}--b{i}--\n'
    assert parse_message_bytes(inner.encode()).body == "six levels down"


def test_looks_binary_separates_prose_from_bytes() -> None:
    assert not looks_binary("Ordinary prose with\ttabs and\nnewlines.")
    assert looks_binary(bytes(range(256)).decode("cp1252", "replace"))


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<a" * 150_000, ""),  # 300 kB of unclosed tags: minutes in CPython's html.parser
        ("<p>visible " + "<a" * 150_000, "visible"),
        ("<div>" * 100_000 + "deep words" + "</div>" * 100_000, "deep words"),  # past libxml2's depth limit
        ("<" * 300_000 + "x", None),
        ("<!--" * 100_000, ""),
    ],
    ids=["unclosed-tags", "text-then-unclosed", "deep-nesting", "lone-brackets", "open-comments"],
)
def test_hostile_html_is_read_in_linear_time(html: str, expected: str | None) -> None:
    import time

    started = time.perf_counter()
    text = html_to_text(html)
    assert time.perf_counter() - started < 5.0  # milliseconds with libxml2; minutes with html.parser
    if expected is not None:
        assert text == expected
    m = parse_message_bytes(b"Content-Type: text/html\n\n" + html.encode())  # the whole reader, too
    assert m.status in ("ok", "error") and time.perf_counter() - started < 10.0
