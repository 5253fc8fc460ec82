"""End to end in real headless Chromium: log in, filter, open an item, decide with a key, see it leave."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.review.support import PASSWORD, item_id

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_reviewer_triages_an_item_with_the_keyboard(live_server, page) -> None:  # type: ignore[no-untyped-def]
    base, env = live_server
    m1 = item_id(env.db_url, "m1")
    page.goto(f"{base}/queue")
    assert page.url.endswith("/login")  # not logged in: sent to the login page
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/queue")
    assert page.locator("#queue-table tbody tr").count() == 5
    page.screenshot(path=str(DOCS / "review-queue.png"), full_page=True)

    page.select_option("#filter-label", "race")
    page.click("#apply-filters")
    page.wait_for_url("**label=race**")
    rows = page.locator("#queue-table tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-item-id") == str(m1)

    page.keyboard.press("j")  # select the first row, open it with o
    page.keyboard.press("o")
    page.wait_for_url(f"{base}/items/{m1}")
    marks = page.locator("mark.evidence")
    assert marks.count() == 2
    assert "people of that colour" in marks.nth(0).inner_text() and "race" in marks.nth(0).inner_text()
    assert page.locator("#body").inner_text().count("<script>") == 1  # shown as text, never run
    assert not page.locator("details.quoted").evaluate("d => d.open")  # quoted mail starts collapsed
    page.screenshot(path=str(DOCS / "review-item.png"), full_page=True)

    page.keyboard.press("c")  # confirm with the pre-ticked flagged labels
    page.wait_for_url(lambda url: not url.endswith(f"/items/{m1}"))
    assert "confirmed" in page.locator(".flash").inner_text()

    page.goto(f"{base}/queue")
    ids = page.locator("#queue-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.itemId)")
    assert str(m1) not in ids and len(ids) == 4
    page.goto(f"{base}/queue?status=confirmed")
    assert page.locator("#queue-table tbody tr").first.get_attribute("data-item-id") == str(m1)


def test_reviewer_sees_where_evidence_outside_the_body_came_from(live_origins_server, page) -> None:  # type: ignore[no-untyped-def]
    base, env = live_origins_server
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/queue")

    page.goto(f"{base}/items/{item_id(env.db_url, 'm10')}")
    for section in ("#html-only", "#quoted", "#attachments-read"):  # open, because each holds evidence
        assert page.locator(section).evaluate("d => d.open")
    assert page.locator("#html-text mark.evidence").inner_text().startswith("sexual")
    assert (
        page.locator("#quoted-text mark.evidence").get_attribute("title") == "race (quoted/forwarded text, score 0.88)"
    )
    assert "notes.docx" in page.locator("#attachment-text mark.evidence").get_attribute("title")
    assert page.locator("#truncated").is_visible() and page.locator("#unscored-attachments").is_visible()
    page.click('#evidence-panel a[href="#ev-race-0"]')  # the side panel jumps to the quoted line
    assert page.url.endswith("#ev-race-0")
    assert page.locator("#quoted-text mark.evidence").evaluate(
        "m => { const r = m.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }"
    )
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(DOCS / "review-item-origins.png"), full_page=True)

    page.goto(f"{base}/items/{item_id(env.db_url, 'm11')}")
    notice = page.locator("#queue-reason")
    assert notice.is_visible() and notice.inner_text().startswith("Flagged only in quoted/forwarded text")
