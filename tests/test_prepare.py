"""prepare(): the whole data pipeline on tiny corpus fixtures, its outputs, stats and dataset card."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from mailguard.errors import ConfigError, InputError
from mailguard.taxonomy import LABELS
from mailguard.text import normalise_for_matching
from pipelines.params import PipelineParams, override
from pipelines.prepare import OUTPUT_COLUMNS, cap_rows, prepare
from pipelines.sources import ADAPTERS
from pipelines.sources.common import build_frame
from pipelines.splits import SPLITS

FIXTURES = Path(__file__).parent / "fixtures" / "datasets"
WRITTEN = Path(__file__).parent / "fixtures" / "written"


def fixture_run(params: PipelineParams, **data: Any) -> PipelineParams:
    """Return ``params`` set for a run on the corpus fixtures: every public corpus only, tiny splits; ``data`` on top."""
    base = {
        "sources": list(ADAPTERS),
        "validation_fraction": 0.2,
        "test_fraction": 0.2,
        "max_rows_per_source": 100,
        "use_authored": False,
        "use_clean_mail": False,
        "use_written": False,
        "review_exports": [],
        "expand_sources": [],
        "uncapped_clean_sources": [],
        "fixed_splits": {},
    }
    return override(params, {f"data.{key}": value for key, value in (base | data).items()})


@pytest.fixture(scope="module")
def prepared(
    tmp_path_factory: pytest.TempPathFactory, pipeline_params: PipelineParams
) -> tuple[Any, pd.DataFrame, str]:
    tmp = tmp_path_factory.mktemp("prepared")
    review = tmp / "review.jsonl"
    # a reviewer cleared a fixture SMS the corpus called spam, and flagged a new text; decision columns are ignored
    rows = [
        {
            "text": "WINNER!  claim your free prize now, call 09061234567",
            **dict.fromkeys(LABELS, 0),
            "decision": "false_positive",
        },
        {
            "text": "you are too old to learn the new rota system",
            **dict.fromkeys(LABELS, 0) | {"age": 1},
            "decision": "confirmed",
        },
    ]
    review.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    card = tmp / "dataset_card.md"
    summary = prepare(fixture_run(pipeline_params, review_exports=[str(review)]), FIXTURES, tmp / "out", card_path=card)
    return summary, pd.read_parquet(tmp / "out" / "dataset.parquet"), card.read_text(encoding="utf-8")


def test_prepare_writes_the_dataset_in_the_contract_schema(prepared: tuple[Any, pd.DataFrame, str]) -> None:
    summary, df, _ = prepared
    assert list(df.columns) == list(OUTPUT_COLUMNS)
    assert set(df["split"]) <= set(SPLITS)
    assert set(df["source"]) == set(ADAPTERS) | {"review"}  # every corpus but crows_pairs contributes
    for label in LABELS:
        assert set(df[label].unique()) <= {0, 1}
    assert df["weak"].dtype == bool and df["group_id"].dtype == "int64"
    assert summary.rows == len(df)
    from datasets import load_from_disk

    on_disk = load_from_disk(str(summary.out_dir / "dataset"))
    assert on_disk.num_rows == len(df) and on_disk.column_names == list(OUTPUT_COLUMNS)


def test_no_normalised_text_appears_twice_or_in_two_splits(prepared: tuple[Any, pd.DataFrame, str]) -> None:
    _, df, _ = prepared
    keys = df["text"].map(normalise_for_matching)
    assert keys.is_unique
    assert (df.groupby("group_id")["split"].nunique() == 1).all()


def test_short_texts_are_dropped_and_reviewer_labels_win(prepared: tuple[Any, pd.DataFrame, str]) -> None:
    _, df, _ = prepared
    assert "ok lar" not in set(df["text"])  # 6 normalised characters < min_text_chars
    winner = df[df["text"].str.startswith("WINNER!")]
    assert len(winner) == 1 and winner.iloc[0]["source"] == "review"
    assert winner.iloc[0][list(LABELS)].sum() == 0
    assert df.loc[df["text"] == "you are too old to learn the new rota system", "age"].tolist() == [1]


def test_stats_file_counts_match_the_dataset(prepared: tuple[Any, pd.DataFrame, str]) -> None:
    summary, df, _ = prepared
    stats = json.loads((summary.out_dir / "prepare_stats.json").read_text(encoding="utf-8"))
    assert stats["rows"] == len(df)
    assert stats["exact_duplicates_removed"] == 1  # the reviewed SMS
    assert stats["rows_per_split"] == {s: int((df["split"] == s).sum()) for s in SPLITS}
    assert stats["positives_per_split"]["solicitation"]["train"] == int(
        df.loc[df["split"] == "train", "solicitation"].sum()
    )


def _card_table(card: str, heading: str) -> pd.DataFrame:
    """Return the first markdown table after ``heading`` in the card, as ints, indexed by its first column."""
    section = card.split(heading, 1)[1]
    table_lines: list[str] = []
    for ln in section.splitlines()[1:]:
        if ln.startswith("|"):
            table_lines.append(ln)
        elif table_lines:
            break
    assert table_lines, f"no table after {heading}"
    header = [c.strip() for c in table_lines[0].strip("|").split("|")]
    body = [[c.strip() for c in ln.strip("|").split("|")] for ln in table_lines[2:]]
    return pd.DataFrame(body, columns=header).set_index(header[0]).astype(int)


def test_dataset_card_counts_match_the_data(prepared: tuple[Any, pd.DataFrame, str]) -> None:
    _, df, card = prepared
    per_split = _card_table(card, "## Rows and positives per split")
    for split in SPLITS:
        part = df[df["split"] == split]
        for label in LABELS:
            assert per_split.loc[label, split] == part[label].sum(), (label, split)
        assert per_split.loc["rows", split] == len(part)
    test_table = _card_table(card, "### test")
    test_part = df[df["split"] == "test"]
    for source, rows in test_part.groupby("source"):
        for label in LABELS:
            assert test_table.loc[source, label] == rows[label].sum(), (source, label)
        assert test_table.loc[source, "rows"] == len(rows)
    assert re.search(r"Exact duplicates removed \(same normalised text\): 1;", card)
    assert "GPL-3.0" in card and "Davidson, Warmsley" in card  # licences and citations per source


def test_cap_keeps_positives_and_samples_clean_rows_deterministically() -> None:
    df = build_frame(
        [f"text {i}" for i in range(100)],
        [{"solicitation"} if i < 10 else set() for i in range(100)],
        [False] * 100,
        "x",
    )
    capped = cap_rows(df, 40, seed=1)
    assert len(capped) == 40 and capped["solicitation"].sum() == 10
    assert capped["text"].tolist() == cap_rows(df, 40, seed=1)["text"].tolist()
    balanced = build_frame(
        [f"t{i}" for i in range(100)], [{"solicitation"} if i < 60 else set() for i in range(100)], [False] * 100, "x"
    )
    halves = cap_rows(balanced, 40, seed=1)
    assert halves["solicitation"].sum() == 20  # both sides keep half the cap when both are large


def test_written_mail_gives_sentence_windows_labelled_by_evidence_and_never_its_eval_portion(
    tmp_path: Path, pipeline_params: PipelineParams
) -> None:
    params = fixture_run(pipeline_params, use_written=True, written_root=WRITTEN, sources=["sms_spam_collection"])
    prepare(params, FIXTURES, tmp_path, card_path=None)
    df = pd.read_parquet(tmp_path / "dataset.parquet")
    written = df[df["source"] == "written"]
    assert set(written["split_key"]) == {"written:fixture-train-001", "written:fixture-train-002"}
    assert (written.groupby("split_key")["split"].nunique() == 1).all()  # a message never spans two splits
    violation = written[written["split_key"] == "written:fixture-train-001"]
    assert set(violation["unit"]) == {"window"}  # the long mail is its windows; no whole-mail row with the label
    assert violation.loc[violation["text"].str.contains("too emotional"), "gender"].eq(1).all()
    assert violation.loc[~violation["text"].str.contains("too emotional"), "gender"].eq(0).all()
    ordinary = written[written["split_key"] == "written:fixture-train-002"]
    assert "message" in set(ordinary["unit"]) and ordinary[list(LABELS)].to_numpy().sum() == 0
    assert not df["text"].str.contains("dinosaur at window two").any()  # the eval portion is never read


def test_existing_rows_keep_their_split_when_data_is_added(tmp_path: Path, pipeline_params: PipelineParams) -> None:
    first = prepare(fixture_run(pipeline_params, sources=["sms_spam_collection", "youtube_spam_collection"]), FIXTURES,
                    tmp_path / "a", card_path=None)
    more = fixture_run(pipeline_params, sources=["sms_spam_collection", "youtube_spam_collection", "ethos", "olid"])
    prepare(more, FIXTURES, tmp_path / "b", card_path=None)
    before = pd.read_parquet(first.dataset_path).set_index("text")["split"]
    after = pd.read_parquet(tmp_path / "b" / "dataset.parquet").set_index("text")["split"]
    common = before.index.intersection(after.index)
    assert len(common) > 0.9 * len(before)
    assert (before[common] == after[common]).all()


def test_enron_ham_is_held_out_by_mailbox_owner(tmp_path: Path, pipeline_params: PipelineParams) -> None:
    from pipelines.sources.enron_spam import load

    owners = set(load(FIXTURES)["split_key"]) - {""}
    fixed = {key: "test" for key in owners}
    prepare(fixture_run(pipeline_params, sources=["enron_spam"], fixed_splits=fixed), FIXTURES, tmp_path, card_path=None)
    df = pd.read_parquet(tmp_path / "dataset.parquet")
    ham = df[df["split_key"].str.startswith("enron-owner:")]
    assert len(ham) and set(ham["split"]) == {"test"}


def test_unknown_or_evaluation_only_sources_are_refused(tmp_path: Path, pipeline_params: PipelineParams) -> None:
    with pytest.raises(ConfigError, match=r"data\.sources: \['crows_pairs'\] are evaluation-only"):
        fixture_run(pipeline_params, sources=["crows_pairs"])
    with pytest.raises(ConfigError, match=r"data\.sources: unknown corpora"):
        fixture_run(pipeline_params, sources=["no_such_corpus"])
    missing = fixture_run(pipeline_params, review_exports=[str(tmp_path / "missing.parquet")])
    with pytest.raises(InputError, match="does not exist"):
        prepare(missing, FIXTURES, tmp_path, card_path=None)


def test_cli_prepare_reads_params_and_reports_one_line_errors(tmp_path: Path, pipeline_params: PipelineParams) -> None:
    from mailguard.cli import app

    params_file = tmp_path / "params.yaml"
    params = fixture_run(pipeline_params, seed=1, sources=["sms_spam_collection", "youtube_spam_collection"])
    params_file.write_text(yaml.safe_dump(params.as_dict()), encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "processed"
    args = ["data", "prepare", "--params", str(params_file), "--datasets-root", str(FIXTURES), "--out", str(out)]
    result = runner.invoke(app, [*args, "--card", str(tmp_path / "card.md")])
    assert result.exit_code == 0, result.output
    assert "prepared" in result.output and (out / "dataset.parquet").is_file()
    missing = runner.invoke(app, [*args[:4], "--datasets-root", str(tmp_path / "nowhere"), "--out", str(out)])
    assert missing.exit_code == 2
    assert "sms_spam_collection" in missing.output and "Traceback" not in missing.output
