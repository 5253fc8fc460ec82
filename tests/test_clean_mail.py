"""Committed clean raw mail: every file is a real, parseable message, renders differ in substance and eval stays held out."""

from __future__ import annotations

import email
import email.policy
import itertools
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from mailguard.errors import InputError
from mailguard.mail import Message
from mailguard.taxonomy import LABELS
from mailguard.text import normalise_for_matching
from pipelines.clean_mail import STAFF_DOMAIN, clean_mail_rows, load_clean_mail_messages, write_clean_mail

#: The committed corpus under test (``data.clean_mail_root`` of params.yaml).
CLEAN_MAIL = Path(__file__).resolve().parents[1] / "data" / "clean_mail"
REQUIRED_HEADERS = ("From", "To", "Date", "Message-ID", "Subject")
SPLITS = ("train", "eval")


@pytest.fixture(scope="module")
def messages() -> dict[str, list[Message]]:
    return {split: load_clean_mail_messages(split, CLEAN_MAIL) for split in SPLITS}


def _template(msg: Message) -> str:
    return Path(msg.source.split("#", 1)[0]).stem.rsplit("-", 1)[0]


def _by_template(msgs: list[Message]) -> dict[str, list[Message]]:
    groups: dict[str, list[Message]] = defaultdict(list)
    for m in msgs:
        groups[_template(m)].append(m)
    return groups


def _sender_org(msg: Message) -> str | None:
    """The organisation behind a sender: its domain, or for City mail a role mailbox (hr@, servicedesk@).

    Personal City addresses (first.last@) belong to no organisation: staff write in both splits.
    """
    local, _, domain = msg.sender.lower().rpartition("@")
    if domain != STAFF_DOMAIN:
        return domain
    return None if "." in local else f"{local}@{domain}"


@pytest.mark.parametrize("split", SPLITS)
def test_every_file_has_the_rfc822_headers(split: str) -> None:
    files = sorted((CLEAN_MAIL / split).glob("*.eml"))
    assert files
    for path in files:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        missing = [h for h in REQUIRED_HEADERS if not msg[h]]
        assert missing == [], f"{path.name} lacks {missing}"


def test_every_file_parses_with_the_mail_reader(messages: dict[str, list[Message]]) -> None:
    assert len(messages["train"]) >= 240
    assert len(messages["eval"]) >= 120
    for msg in (*messages["train"], *messages["eval"]):
        assert msg.status == "ok", msg.source
        assert msg.date is not None and msg.sender and msg.subject and msg.body.strip()


def test_many_templates_each_rendered_several_times(messages: dict[str, list[Message]]) -> None:
    groups = {split: _by_template(msgs) for split, msgs in messages.items()}
    assert len(groups["train"]) >= 60
    assert len(groups["eval"]) >= 30
    for split, by_template in groups.items():
        sizes = {t: len(ms) for t, ms in by_template.items()}
        assert min(sizes.values()) >= 4, (split, min(sizes, key=sizes.__getitem__))


def test_no_two_messages_share_a_normalised_text(messages: dict[str, list[Message]]) -> None:
    texts = [normalise_for_matching(m.text) for split in SPLITS for m in messages[split]]
    assert len(set(texts)) == len(texts)


def test_renders_of_one_template_differ_in_substance_not_only_names(messages: dict[str, list[Message]]) -> None:
    # Word-set overlap between any two renders of a template stays well below that of name-only swaps (> 0.9).
    for split in SPLITS:
        for template, msgs in _by_template(messages[split]).items():
            words = [set(normalise_for_matching(m.text).split()) for m in msgs]
            for a, b in itertools.combinations(words, 2):
                assert len(a & b) / len(a | b) < 0.8, f"{split}/{template} renders are near copies"


def test_train_and_eval_share_no_text_and_no_template(messages: dict[str, list[Message]]) -> None:
    train_texts = {normalise_for_matching(m.text) for m in messages["train"]}
    eval_texts = {normalise_for_matching(m.text) for m in messages["eval"]}
    assert train_texts.isdisjoint(eval_texts)
    train = clean_mail_rows("train", CLEAN_MAIL)
    held_out = clean_mail_rows("eval", CLEAN_MAIL)
    assert set(train["template_id"]).isdisjoint(held_out["template_id"])


def test_eval_comes_from_other_senders_lists_and_wording(messages: dict[str, list[Message]]) -> None:
    orgs = {split: {_sender_org(m) for m in messages[split]} - {None} for split in SPLITS}
    assert orgs["train"] and orgs["eval"]
    assert orgs["train"].isdisjoint(orgs["eval"])
    lists = {split: {m.headers["List-Id"] for m in messages[split] if "List-Id" in m.headers} for split in SPLITS}
    assert lists["train"].isdisjoint(lists["eval"])

    # No sentence-length line of eval text appears in train: eval is not train reworded by name only.
    def long_lines(msgs: list[Message]) -> set[str]:
        lines = (normalise_for_matching(line) for m in msgs for line in m.text.splitlines())
        return {line for line in lines if len(line) >= 30}

    assert long_lines(messages["train"]).isdisjoint(long_lines(messages["eval"]))


def test_the_mix_looks_like_real_staff_mail(messages: dict[str, list[Message]]) -> None:
    for split, low in (("train", 1), ("eval", 2)):
        msgs = messages[split]
        lists = [m for m in msgs if m.headers.get("Precedence") == "list"]
        bulk = [m for m in msgs if "List-Unsubscribe" in m.headers and m.headers.get("Precedence") == "bulk"]
        auto = [m for m in msgs if m.headers.get("Auto-Submitted") == "auto-generated"]
        replied = [m for m in msgs if m.headers.get("Auto-Submitted") == "auto-replied"]
        assert len(lists) >= 40 // low and len(bulk) >= 60 // low and len(auto) >= 40 // low and len(replied) >= 8
        assert sum(bool(m.quoted) for m in msgs) >= 20 // low  # replies are split into new text and quote
        # Mixed case, not the lower-cased tokenised text of the public corpora.
        assert all(any(c.isupper() for c in m.text) for m in msgs)
    raw = [(CLEAN_MAIL / "train" / f).read_bytes() for f in ("apwa_reporter-001.eml", "road_closure-001.eml")]
    assert all(b"multipart/alternative" in r and b"text/html" in r for r in raw)


def test_rows_follow_the_dataset_schema_and_are_all_clean() -> None:
    rows = clean_mail_rows("train", CLEAN_MAIL)
    assert list(rows.columns) == ["text", *LABELS, "source", "weak", "template_id", "kind"]
    assert rows[list(LABELS)].to_numpy().sum() == 0
    assert (rows["source"] == "clean_mail").all() and not rows["weak"].any()
    assert rows["template_id"].str.startswith("clean_mail.").all()
    assert (rows["text"].str.len() > 50).all()


def test_committed_files_are_what_the_templates_render(tmp_path: Path) -> None:
    shutil.copy(CLEAN_MAIL / "templates.yaml", tmp_path / "templates.yaml")
    counts = write_clean_mail(tmp_path)
    for split in SPLITS:
        committed = sorted(p.name for p in (CLEAN_MAIL / split).glob("*.eml"))
        assert sorted(p.name for p in (tmp_path / split).glob("*.eml")) == committed
        assert counts[split] == len(committed)
        for name in committed:
            assert (tmp_path / split / name).read_bytes() == (CLEAN_MAIL / split / name).read_bytes(), name


def test_committed_mail_stays_small() -> None:
    total = sum(p.stat().st_size for p in CLEAN_MAIL.rglob("*") if p.is_file())
    assert total < 1_200_000


def test_a_template_that_varies_only_names_is_rejected(tmp_path: Path) -> None:
    spec = yaml.safe_load((CLEAN_MAIL / "templates.yaml").read_text(encoding="utf-8"))
    spec["templates"][0]["vary"] = spec["templates"][0]["vary"][:1]
    (tmp_path / "templates.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(InputError, match="vary"):
        write_clean_mail(tmp_path)


def test_unknown_split_and_empty_folder_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="split"):
        load_clean_mail_messages("test", CLEAN_MAIL)
    with pytest.raises(InputError, match="no clean-mail"):
        clean_mail_rows("eval", root=tmp_path)


def test_a_broken_file_is_reported_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "empty-001.eml").write_bytes(b"From: a@b.c\nTo: d@e.f\n\n")
    with pytest.raises(InputError, match="did not parse"):
        load_clean_mail_messages("eval", root=tmp_path)
