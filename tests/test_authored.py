"""The authored workplace corpus: enough distinct positives per label, more hard negatives, reproducible."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pandas as pd
import pytest

from mailguard.errors import InputError
from mailguard.taxonomy import LABELS
from mailguard.text import normalise_for_matching
from pipelines.authored import (
    generate_authored,
    load_stance_templates,
    load_templates,
    obfuscate_terms,
    obfuscate_word,
)

#: The committed templates under test (``data.authored_root`` of params.yaml).
AUTHORED = Path(__file__).resolve().parents[1] / "data" / "authored"


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    return generate_authored(AUTHORED, seed=13)


def test_rows_follow_the_dataset_schema(corpus: pd.DataFrame) -> None:
    assert list(corpus.columns) == ["text", *LABELS, "source", "weak", "template_id", "kind"]
    assert (corpus["source"] == "authored").all()
    assert not corpus["weak"].any()
    assert set(corpus[list(LABELS)].stack().unique()) <= {0, 1}
    assert set(corpus["kind"]) == {"positive", "hard_negative"}


def test_every_label_has_at_least_300_distinct_positives(corpus: pd.DataFrame) -> None:
    positives = corpus[corpus["kind"] == "positive"]
    counts = positives[list(LABELS)].sum()
    assert (counts >= 300).all(), counts[counts < 300]


def test_generated_texts_are_distinct_after_normalisation(corpus: pd.DataFrame) -> None:
    assert corpus["text"].map(normalise_for_matching).is_unique


def test_hard_negatives_outnumber_positives_and_are_clean(corpus: pd.DataFrame) -> None:
    negatives = corpus[corpus["kind"] == "hard_negative"]
    positives = corpus[corpus["kind"] == "positive"]
    assert len(negatives) >= len(positives)
    assert negatives[list(LABELS)].to_numpy().sum() == 0
    assert (positives[list(LABELS)].sum(axis=1) >= 1).all()


def test_hard_negatives_cover_the_contrast_categories(corpus: pd.DataFrame) -> None:
    categories = set(corpus.loc[corpus["kind"] == "hard_negative", "template_id"].str.split(".").str[1])
    expected = {"identity_neutral", "policy_talk", "reporting", "counter_speech", "procurement"}
    expected |= {"sanctioned_charity", "idioms", "health_hr", "civic"}
    assert expected <= categories


def test_template_ids_name_the_label_and_style(corpus: pd.DataFrame) -> None:
    pattern = re.compile(r"^[a-z_]+\.[a-z_]+\.\d{2}$")
    assert corpus["template_id"].map(lambda t: bool(pattern.match(t))).all()
    positives = corpus[corpus["kind"] == "positive"]
    # A positive's template prefix is one of its own labels (multi-label templates carry more).
    prefix_is_label = positives.apply(lambda r: r[r["template_id"].split(".")[0]] == 1, axis=1)
    assert prefix_is_label.all()
    styles = set(positives["template_id"].str.split(".").str[1])
    assert {"explicit", "implicit", "sarcastic", "thread"} <= styles


def test_every_label_has_each_style() -> None:
    positives, _ = load_templates(AUTHORED)
    styles: dict[str, set[str]] = {}
    for t in positives:
        styles.setdefault(t.labels[0], set()).add(t.style)
    assert set(styles) == set(LABELS)
    assert all({"explicit", "implicit", "sarcastic", "thread"} <= s for s in styles.values())


def test_some_rows_are_multi_label_and_some_are_reply_threads(corpus: pd.DataFrame) -> None:
    both = corpus[(corpus["sexual"] == 1) & (corpus["gender"] == 1)]
    assert len(both) >= 10
    threads = corpus[corpus["text"].str.contains(r"\n> ", regex=True)]
    assert len(threads) >= 500


def test_obfuscated_copies_are_in_the_corpus(corpus: pd.DataFrame) -> None:
    positives = corpus.loc[corpus["kind"] == "positive", "text"]
    assert positives.str.contains(r"\b[a-z]+[0-9][a-z0-9]*[a-z]\b", regex=True).sum() >= 50  # leetspeak like g4y
    assert positives.str.contains(r"\b\w\*+\w", regex=True).sum() >= 50  # masked like f*g


def test_same_seed_same_corpus_other_seed_other_fillers(corpus: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(corpus, generate_authored(AUTHORED, seed=13))
    other = generate_authored(AUTHORED, seed=14)
    assert set(other["template_id"]) == set(corpus["template_id"])
    assert not other["text"].head(50).equals(corpus["text"].head(50))


def test_obfuscation_methods_disguise_a_word() -> None:
    rng = random.Random(0)
    assert obfuscate_word("gay", "spaced", rng).replace(" ", "").replace(".", "").replace("-", "") == "gay"
    assert obfuscate_word("retard", "drop", rng) != "retard" and len(obfuscate_word("retard", "drop", rng)) == 5
    assert sorted(obfuscate_word("retard", "swap", rng)) == sorted("retard")
    assert any(c.isdigit() for c in obfuscate_word("Muslims", "leet", rng))
    assert "*" in obfuscate_word("faggot", "mask", rng)
    text = obfuscate_terms("Tell the old geezer to leave.", ["old geezer"], "mask", rng)
    assert "old geezer" not in text and text.startswith("Tell the ")


def _write_minimal_root(root: Path, label_yaml: str) -> None:
    (root / "labels").mkdir(parents=True)
    (root / "common.yaml").write_text(
        "fillers: {name: [Al]}\ngreetings: ['Hi']\nsignoffs: ['Bye']\nsurnames: [X]\n"
        "subjects: ['s']\nthread_headers: ['h']\nquoted: ['q']\n",
        encoding="utf-8",
    )
    (root / "labels" / "age.yaml").write_text(label_yaml, encoding="utf-8")
    (root / "hard_negatives.yaml").write_text("templates:\n  idioms: ['You killed it, {name}!']\n", encoding="utf-8")


def test_unknown_label_is_a_readable_input_error(tmp_path: Path) -> None:
    _write_minimal_root(tmp_path, "label: oldness\ntemplates:\n  explicit: ['x {name}']\n")
    with pytest.raises(InputError, match="label"):
        generate_authored(tmp_path, seed=13)


def test_unknown_slot_is_a_readable_input_error(tmp_path: Path) -> None:
    _write_minimal_root(tmp_path, "label: age\ntemplates:\n  explicit: ['{nobody} is old']\n")
    with pytest.raises(InputError, match="nobody"):
        generate_authored(tmp_path, seed=13)


def test_stance_pairs_label_the_stance_not_the_words(corpus: pd.DataFrame) -> None:
    stance = corpus[corpus["template_id"].str.contains(r"\.stance_")]
    label_of = stance["template_id"].str.split(".").str[0]
    carries = stance.apply(lambda r: r[r["template_id"].split(".")[0]] == 1, axis=1)
    # A demeaning claim is a violation when asserted and clean when rejected or condemned, and the
    # reverse for a respectful claim; slur-condemning messages are clean.
    neg = stance["template_id"].str.contains("stance_neg")
    pos = stance["template_id"].str.contains("stance_pos")
    assert carries[neg].any() and not carries[neg].all()
    assert carries[pos].any() and not carries[pos].all()
    assert not carries[stance["template_id"].str.contains("stance_term")].any()
    # Only the template's own label is ever set, and every identity label has pairs.
    assert (stance[list(LABELS)].sum(axis=1) <= 1).all()
    assert set(label_of) == set(LABELS) - {"sexual", "solicitation"}
    rejected = stance[neg & stance["text"].str.contains("It's simply not true that")]
    assert len(rejected) > 0 and rejected[list(LABELS)].to_numpy().sum() == 0


def test_a_slur_in_a_clean_stance_text_is_only_ever_quoted(corpus: pd.DataFrame) -> None:
    clean_terms = corpus[corpus["template_id"].str.contains("stance_term")]
    assert len(clean_terms) >= 8
    assert clean_terms["text"].str.contains('"', regex=False).all()


def test_stance_file_with_an_unknown_slot_is_a_readable_input_error(tmp_path: Path) -> None:
    _write_minimal_root(tmp_path, "label: age\nfillers: {insult: [geezer]}\ntemplates:\n  explicit: ['old {name}']\n")
    (tmp_path / "stance.yaml").write_text(
        "frames: {affirm: ['{claim}.']}\nlabels:\n  age: {term_slot: nothing, negative: ['x']}\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match="stance"):
        load_stance_templates(tmp_path)


def test_obfuscation_does_not_depend_on_the_interpreters_hash_seed() -> None:
    # Same-length terms were once taken in set order, which PYTHONHASHSEED changes from run to run:
    # the corpus, and so the prepared dataset's revision, differed between identical runs.
    import os
    import subprocess
    import sys

    code = ("import random; from pipelines.authored import obfuscate_terms; "
            "print(obfuscate_terms('skin care and Primerica and leggings and Tupperware', "
            "['skin care', 'Primerica', 'leggings', 'Tupperware'], 'drop', random.Random(3)))")
    root = Path(__file__).resolve().parents[1]
    outputs = {
        subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2", "3", "4")
    }
    assert len(outputs) == 1
