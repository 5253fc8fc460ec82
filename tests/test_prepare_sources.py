"""Corpus adapters: each maps its corpus's rows to policy labels as its MANIFEST section says."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from mailguard.errors import InputError
from mailguard.taxonomy import LABELS
from pipelines.sources import ADAPTERS, COLUMNS, load_source
from pipelines.sources.lexicons import mentions_political_terms, mentions_sexual_terms, slur_labels

FIXTURES = Path(__file__).parent / "fixtures" / "datasets"
SOURCES_DIR = Path(__file__).resolve().parents[1] / "pipelines" / "sources"


def labelled(name: str) -> dict[str, tuple[frozenset[str], bool]]:
    """Return {text: (positive labels, weak)} of one adapter run on the fixtures."""
    df = load_source(name, FIXTURES)
    return {
        row.text: (frozenset(lb for lb in LABELS if getattr(row, lb)), bool(row.weak))
        for row in df.itertuples(index=False)
    }


CLEAN: frozenset[str] = frozenset()


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_every_adapter_returns_the_shared_schema(name: str) -> None:
    df = load_source(name, FIXTURES)
    assert list(df.columns) == list(COLUMNS)
    assert len(df) > 0
    assert set(df["source"]) == {name}
    assert (df["template_id"] == "").all()
    assert df["weak"].dtype == bool
    for label in LABELS:
        assert set(df[label].unique()) <= {0, 1}


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_missing_corpus_files_raise_a_readable_input_error(name: str, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=name):
        load_source(name, tmp_path)


def test_ethos_takes_categories_from_the_multi_label_file_and_drops_uncategorised_hate() -> None:
    rows = labelled("ethos")
    assert rows["Women should never be put in charge of a team"] == (frozenset({"gender"}), False)
    # sexual_orientation at 0.33 agreement is below the 0.5 cut
    assert rows["People in wheelchairs are a useless burden"] == (frozenset({"disability"}), False)
    assert "I will find you and hurt you" not in rows  # violence only: hateful, no policy category
    assert rows["What a lovely video, thanks for sharing it"] == (CLEAN, True)  # isHate < 0.5 -> clean≈


def test_davidson_uses_lexicons_on_abusive_tweets_and_keeps_neither_as_clean() -> None:
    rows = labelled("davidson_hate_offensive")
    assert rows["@USER: go back to your trailer you white trash"] == (frozenset({"race"}), True)
    assert rows["@USER those fags again & again"] == (frozenset({"sexual_orientation"}), True)
    assert rows["shut up you stupid bitch"] == (frozenset({"gender"}), True)  # hate class: gendered slur counts
    assert rows["send nudes lol URL"] == (frozenset({"sexual"}), True)
    assert rows["great game tonight see you all at the stadium"] == (CLEAN, False)
    # offensive-class gendered swearing and hate without a lexicon hit are dropped, not kept as clean
    assert not any("late again" in t or "hate every single" in t for t in rows)


def test_olid_keeps_not_as_clean_and_political_group_offence_only() -> None:
    rows = labelled("olid")
    assert rows == {
        "@USER what a great day at the park URL": (CLEAN, False),
        "@USER liberals are all brainless idiots": (frozenset({"political"}), True),
    }


def test_toxigen_prompts_are_split_on_the_literal_separator_and_deduplicated() -> None:
    df = load_source("toxigen_prompts", FIXTURES)
    rows = labelled("toxigen_prompts")
    assert df["text"].is_unique
    assert rows["women cannot do maths"] == (frozenset({"gender"}), False)
    assert rows["women are too emotional to lead"] == (frozenset({"gender"}), False)
    assert rows["many women work in engineering"] == (CLEAN, False)  # neutral file: hard negative
    assert rows["jews control everything"] == (frozenset({"religion"}), True)  # ≈ mapping is weak
    assert not any("\\n" in t or t.startswith("-") for t in rows)


def test_toxigen_annotated_uses_human_toxicity_and_strips_the_bytes_wrapper() -> None:
    rows = labelled("toxigen_annotated")
    assert rows["asians are bad at everything"] == (frozenset({"race"}), False)
    assert rows["it's great to be mexican, honestly"] == (CLEAN, False)
    assert "women are people too" not in rows  # toxicity 3: ambiguous middle, dropped
    assert rows["she only got promoted for her body"] == (frozenset({"gender", "sexual"}), True)  # lewd -> sexual≈
    assert rows["don\u2019t hire the mentally ill"] == (frozenset({"disability"}), False)  # escapes decoded


def test_mlma_maps_targets_and_groups() -> None:
    rows = labelled("mlma_hate_speech_en")
    assert rows["@USER women belong in the kitchen"] == (frozenset({"gender"}), False)
    assert rows["@USER immigrants should all go home"] == (frozenset({"national_origin"}), True)
    assert rows["@USER african people are the problem"] == (frozenset({"race"}), True)
    assert rows["@USER lefties are all morons"] == (frozenset({"political"}), True)
    assert rows["@USER have a nice day everyone"] == (CLEAN, True)
    assert len(rows) == 5  # target "other" without a mapped group, and fearful-only, are dropped


def test_enron_reads_tar_gz_in_place_ham_clean_spam_solicitation_in_restored_form() -> None:
    rows = labelled("enron_spam")  # the corpus is lowercased and tokenised; case and spacing are restored
    assert rows["Meeting moved\nThe gas nomination meeting moves to 3 pm.\n"] == (CLEAN, False)
    assert rows["Cheap meds\nBuy now at our caf\u00e9 pharmacy, 80% off!\n"] == (frozenset({"solicitation"}), True)
    assert len(rows) == 4  # both archives read; Summary.txt is not a mail


def test_sms_youtube_and_fundraising_are_solicitation_sources() -> None:
    sms = labelled("sms_spam_collection")
    assert sms["WINNER! claim your free prize now, call 09061234567"] == (frozenset({"solicitation"}), True)
    assert sms["meet at the caf\u00e9 at five?"] == (CLEAN, True)  # Latin-1 decoded
    youtube = labelled("youtube_spam_collection")
    assert youtube["check out my channel for free beats URL"] == (frozenset({"solicitation"}), False)
    assert youtube["this song never gets old"] == (CLEAN, False)
    fundraising = load_source("political_fundraising_emails", FIXTURES)
    assert (fundraising["solicitation"] == 1).all()
    assert (fundraising["political"] == 0).all()  # partisan asks are solicitation, not political harassment
    assert fundraising["text"].iloc[0].startswith("$5 before midnight\n\nChip in")


def test_bbq_contexts_are_unique_clean_rows() -> None:
    df = load_source("bbq_age", FIXTURES)
    assert len(df) == 2
    assert (df[list(LABELS)].to_numpy() == 0).all()


def test_lexicons_match_whole_words_plurals_and_hashtags_only() -> None:
    assert slur_labels("those fags", hate=False) == {"sexual_orientation"}
    assert slur_labels("a faggot", hate=False) == {"sexual_orientation"}
    assert slur_labels("shut up bitch", hate=False) == set()  # gendered swearing: hate class only
    assert slur_labels("shut up bitch", hate=True) == {"gender"}
    assert slur_labels("spicy food and a homogeneous mix", hate=True) == set()  # no substring hits
    assert mentions_political_terms("#MAGA people again") and mentions_political_terms("those liberals")
    assert not mentions_political_terms("a deliberate act")
    assert mentions_sexual_terms("send nudes") and not mentions_sexual_terms("cucumber salad")


def test_no_adapter_mentions_crows_pairs() -> None:
    assert "crows_pairs" not in ADAPTERS
    for path in SOURCES_DIR.glob("*.py"):
        assert "crows_pairs" not in path.read_text(encoding="utf-8").lower(), path.name


_OPENED: list[str] = []
_RECORDING: list[bool] = [False]


def _record_open(event: str, args: tuple[object, ...]) -> None:
    if _RECORDING[0] and event == "open" and args and isinstance(args[0], str | bytes | Path):
        _OPENED.append(str(args[0]))


def test_no_adapter_opens_the_crows_pairs_files(tmp_path: Path) -> None:
    # A copy of every fixture corpus, CrowS-Pairs included, under one root: loading them all must never touch it.
    root = tmp_path / "datasets"
    shutil.copytree(FIXTURES, root)
    if not getattr(sys, "_mailguard_open_hook", False):
        sys.addaudithook(_record_open)  # hooks cannot be removed; _RECORDING switches it off again
        sys._mailguard_open_hook = True  # type: ignore[attr-defined]
    _OPENED.clear()
    _RECORDING[0] = True
    try:
        frames = [load_source(name, root) for name in ADAPTERS]
    finally:
        _RECORDING[0] = False
    assert sum(len(f) for f in frames) > 0
    assert any("ethos" in p for p in _OPENED), "the audit hook saw no corpus file opened"
    assert not [p for p in _OPENED if "crows_pairs" in p]
    assert (root / "crows_pairs" / "crows_pairs_anonymized.csv").is_file()
