"""Committed clean raw mail: every file is a real, parseable message and eval stays held out."""

from __future__ import annotations

import email
import email.policy
import shutil
from pathlib import Path

import pytest

from mailguard.errors import InputError
from mailguard.mail import Message
from mailguard.taxonomy import LABELS
from mailguard.text import normalise_for_matching
from pipelines.clean_mail import (
    CLEAN_MAIL_ROOT,
    clean_mail_rows,
    load_clean_mail_messages,
    write_clean_mail,
)

REQUIRED_HEADERS = ("From", "To", "Date", "Message-ID", "Subject")


@pytest.fixture(scope="module")
def messages() -> dict[str, list[Message]]:
    return {split: load_clean_mail_messages(split) for split in ("train", "eval")}


@pytest.mark.parametrize("split", ["train", "eval"])
def test_every_file_has_the_rfc822_headers(split: str) -> None:
    files = sorted((CLEAN_MAIL_ROOT / split).glob("*.eml"))
    assert files
    for path in files:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        missing = [h for h in REQUIRED_HEADERS if not msg[h]]
        assert missing == [], f"{path.name} lacks {missing}"


def test_every_file_parses_with_the_mail_reader(messages: dict[str, list[Message]]) -> None:
    assert len(messages["train"]) >= 200
    assert len(messages["eval"]) >= 100
    for msg in (*messages["train"], *messages["eval"]):
        assert msg.status == "ok", msg.source
        assert msg.date is not None and msg.sender and msg.subject and msg.body.strip()


def test_train_and_eval_share_no_text_and_no_template(messages: dict[str, list[Message]]) -> None:
    train_texts = {normalise_for_matching(m.text) for m in messages["train"]}
    eval_texts = {normalise_for_matching(m.text) for m in messages["eval"]}
    assert train_texts.isdisjoint(eval_texts)
    train = clean_mail_rows("train")
    held_out = clean_mail_rows("eval")
    assert set(train["template_id"]).isdisjoint(held_out["template_id"])


def test_the_mix_looks_like_real_staff_mail(messages: dict[str, list[Message]]) -> None:
    train = messages["train"]
    lists = [m for m in train if "List-Id" in m.headers]
    auto = [m for m in train if m.headers.get("Auto-Submitted", "").startswith("auto-")]
    assert len(lists) >= 60 and len(auto) >= 30
    assert any(m.quoted for m in train)  # reply threads are split into new text and quote
    raw = [(CLEAN_MAIL_ROOT / "train" / f).read_bytes() for f in ("apwa_reporter-001.eml", "road_closure-001.eml")]
    assert all(b"multipart/alternative" in r and b"text/html" in r for r in raw)
    # Mixed case, not the lower-cased tokenised text of the public corpora.
    assert sum(any(c.isupper() for c in m.text) for m in train) == len(train)


def test_rows_follow_the_dataset_schema_and_are_all_clean() -> None:
    rows = clean_mail_rows("train")
    assert list(rows.columns) == ["text", *LABELS, "source", "weak", "template_id", "kind"]
    assert rows[list(LABELS)].to_numpy().sum() == 0
    assert (rows["source"] == "clean_mail").all() and not rows["weak"].any()
    assert rows["template_id"].str.startswith("clean_mail.").all()
    assert (rows["text"].str.len() > 50).all()


def test_committed_files_are_what_the_templates_render(tmp_path: Path) -> None:
    shutil.copy(CLEAN_MAIL_ROOT / "templates.yaml", tmp_path / "templates.yaml")
    counts = write_clean_mail(tmp_path)
    for split in ("train", "eval"):
        committed = sorted(p.name for p in (CLEAN_MAIL_ROOT / split).glob("*.eml"))
        assert sorted(p.name for p in (tmp_path / split).glob("*.eml")) == committed
        assert counts[split] == len(committed)
        for name in committed[::25]:
            assert (tmp_path / split / name).read_bytes() == (CLEAN_MAIL_ROOT / split / name).read_bytes()


def test_committed_mail_stays_small() -> None:
    total = sum(p.stat().st_size for p in CLEAN_MAIL_ROOT.glob("*/*.eml"))
    assert total < 600_000


def test_unknown_split_and_empty_folder_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="split"):
        load_clean_mail_messages("test")
    with pytest.raises(InputError, match="no clean-mail"):
        clean_mail_rows("eval", root=tmp_path)


def test_a_broken_file_is_reported_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "empty-001.eml").write_bytes(b"From: a@b.c\nTo: d@e.f\n\n")
    with pytest.raises(InputError, match="did not parse"):
        load_clean_mail_messages("eval", root=tmp_path)
