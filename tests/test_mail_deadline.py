"""The per-message time budget: a message that takes too long becomes a timeout record and reading goes on."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

import mailguard.mail.attachments
import mailguard.mail.readers
from mailguard.deadline import MessageTimeout, time_limit
from mailguard.mail import read_messages


def sleepy(seconds: float, budget: float) -> str:
    """Sleep under a deadline; return what happened (module level: a pool worker imports it)."""
    try:
        with time_limit(budget):
            time.sleep(seconds)
    except MessageTimeout:
        return "timed out"
    return "finished"


def test_time_limit_interrupts_and_disarms() -> None:
    started = time.monotonic()
    with pytest.raises(MessageTimeout, match="longer than 0.1 s"), time_limit(0.1):
        time.sleep(5)
    assert time.monotonic() - started < 5
    with time_limit(0.2):
        pass
    time.sleep(0.3)  # an alarm left armed would go off here


def test_time_limit_passes_through_broad_exception_handlers() -> None:
    # Readers end in ``except Exception`` so one broken part never stops a message; a timeout must not be eaten.
    with pytest.raises(MessageTimeout), time_limit(0.1):
        try:
            time.sleep(5)
        except Exception:
            pytest.fail("the timeout was caught as an ordinary error")


def test_nested_limits_keep_the_sooner_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(MessageTimeout), time_limit(0.2), time_limit(5):
        time.sleep(5)
    assert time.monotonic() - started < 5
    with pytest.raises(MessageTimeout), time_limit(0.3):
        with time_limit(0.05):
            pass
        time.sleep(5)  # the outer deadline is re-armed after the inner block


def test_without_a_main_thread_no_deadline_is_armed() -> None:
    result: list[str] = []
    thread = threading.Thread(target=lambda: result.append(sleepy(0.2, 0.05)))
    thread.start()
    thread.join()
    assert result == ["finished"]


def test_deadline_works_in_a_scoring_pool_worker() -> None:
    # The runner's pool: forkserver workers run each task in their main thread.
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver")) as pool:
        assert pool.submit(sleepy, 5, 0.2).result(timeout=30) == "timed out"
        assert pool.submit(sleepy, 0, 1).result(timeout=30) == "finished"


def _mbox(tmp_path: Path) -> Path:
    box = tmp_path / "in.mbox"
    box.write_bytes(b"".join(
        b"From a@x Mon Mar  3 13:05:00 2025\nMessage-ID: <m%d@x>\nSubject: %s\n\nhello\n\n" % (i, subject)
        for i, subject in enumerate([b"fine", b"slow one", b"fine again"])
    ))
    return box


def test_a_message_over_its_budget_is_a_timeout_record_and_reading_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build = mailguard.mail.readers._build

    def slow_build(parsed, raw, opts):  # type: ignore[no-untyped-def]
        if "slow" in str(parsed.get("subject", "")):
            time.sleep(30)  # stands in for any parse that never ends (e.g. html.parser on "<a<a<a...")
        return build(parsed, raw, opts)

    monkeypatch.setattr(mailguard.mail.readers, "_build", slow_build)
    started = time.monotonic()
    first, slow, last = read_messages(_mbox(tmp_path), message_seconds=0.3)
    assert time.monotonic() - started < 10
    assert first.status == last.status == "ok"
    assert slow.status == "error" and slow.error == "timeout: reading the message took longer than 0.3 s"
    assert slow.message_id == "<m1@x>"  # still named, so the row can be found


def test_a_slow_attachment_times_out_the_message_rather_than_being_called_corrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_pdf(data, limits):  # type: ignore[no-untyped-def]
        time.sleep(30)

    monkeypatch.setattr(mailguard.mail.attachments, "_pdf_text", slow_pdf)
    path = tmp_path / "a.eml"
    path.write_bytes(
        b'Message-ID: <pdf@x>\nContent-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\nsee '
        b'attached\n--B\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="a.pdf"\n\n%PDF\n--B--\n'
    )
    (m,) = read_messages(path, message_seconds=0.3)
    assert m.error.startswith("timeout:") and m.message_id == "<pdf@x>"
