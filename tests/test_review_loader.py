"""Loading results into the review queue, the migrated schema, the append-only audit log and exports."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fixtures.review.support import ORIGINS, RESULTS, SECRET, db_url, seed, sqlite_url  # noqa: F401
from sqlalchemy import MetaData, Table, inspect, select, text
from sqlalchemy.exc import DBAPIError

from mailguard.errors import InputError
from mailguard.taxonomy import LABELS
from serve.review.db import MIGRATIONS_DIR, get_engine, migrate, session_scope
from serve.review.decisions import record_decision
from serve.review.export import EXPORT_COLUMNS, export_reviewed
from serve.review.loader import load_results, load_results_file
from serve.review.models import Item, ItemLabel, User
from serve.review.settings import normalise_db_url


def test_migration_creates_the_schema(db_url: str) -> None:  # noqa: F811
    migrate(db_url)
    insp = inspect(get_engine(normalise_db_url(db_url)))
    assert {"users", "items", "item_labels", "decisions", "audit_log", "alembic_version"} <= set(insp.get_table_names())
    cols = {c["name"] for c in insp.get_columns("items")}
    assert {"message_id", "content_hash", "version", "status", "evidence", "direction", "model_version"} <= cols
    assert {"html_text", "attachment_text", "unscored_attachments", "truncated", "queue_reason"} <= cols
    uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints("items")}
    assert ("message_id", "content_hash") in uniques
    migrate(db_url)  # a second run is a no-op, not an error


def test_load_keeps_only_queued_flagged_first_copies_and_is_idempotent(db_url: str) -> None:  # noqa: F811
    results = pd.read_parquet(RESULTS)
    first = load_results(results, db_url)
    assert first == {"inserted": 5, "updated": 0, "unchanged": 0, "skipped": 4}
    again = load_results(results, db_url)
    assert again == {"inserted": 0, "updated": 0, "unchanged": 5, "skipped": 4}
    with session_scope(db_url) as s:
        ids = sorted(s.scalars(select(Item.message_id)))
        m1 = s.scalar(select(Item).where(Item.message_id == "<m1@city.example>"))
        assert m1 is not None
        assert m1.label_list == ["national_origin", "race"]
        assert m1.max_score == pytest.approx(0.93)
        race = json.loads(m1.evidence)["race"]
        assert [(i["text"], i["field"], m1.body[i["start"] : i["end"]]) for i in race] == [
            ("people of that colour", "body", "people of that colour")
        ]
        assert {il.label for il in m1.item_labels} == {"national_origin", "race"}
    assert ids == [f"<m{i}@city.example>" for i in (1, 2, 3, 4, 9)]


def test_rescoring_updates_scores_but_keeps_the_decision(db_url: str) -> None:  # noqa: F811
    results = pd.read_parquet(RESULTS)
    load_results(results, db_url)
    with session_scope(db_url) as s:
        s.add(User(username="r", password_hash="x", roles="reviewer", active=True))
    with session_scope(db_url) as s:
        reviewer = s.scalar(select(User))
        m4 = s.scalar(select(Item).where(Item.message_id == "<m4@city.example>"))
        record_decision(s, m4.id, reviewer, decision="confirmed", version=1, labels=["gender"])
    rescored = results.copy()
    rescored.loc[rescored.message_id == "<m4@city.example>", ["score_gender", "run_id"]] = [0.97, "run-c"]
    counts = load_results(rescored, db_url)
    assert (counts["inserted"], counts["updated"], counts["unchanged"]) == (0, 1, 4)
    with session_scope(db_url) as s:
        m4 = s.scalar(select(Item).where(Item.message_id == "<m4@city.example>"))
        assert (m4.max_score, m4.run_id, m4.status, m4.confirmed_labels) == (0.97, "run-c", "confirmed", "gender")


def test_fixtures_are_in_the_current_results_format() -> None:
    from serve.scoring.batch import RESULT_COLUMNS  # the scorer's contract, which these fixtures stand in for

    for path in (RESULTS, ORIGINS):
        assert set(pd.read_parquet(path).columns) == set(RESULT_COLUMNS), path.name


def test_everything_the_scorer_read_is_loaded_and_a_change_to_it_is_an_update(sqlite_url: str) -> None:  # noqa: F811
    origins = pd.read_parquet(ORIGINS)
    assert load_results(origins, sqlite_url)["inserted"] == 2
    with session_scope(sqlite_url) as s:
        m10 = s.scalar(select(Item).where(Item.message_id == "<m10@city.example>"))
        assert m10.html_text.startswith("Agenda: rota") and m10.attachment_text.startswith("Rota for March")
        assert (m10.unscored_attachments, m10.truncated, m10.queue_reason) == (
            "photo.png (not text); locked.pdf (encrypted)", True, "",
        )  # fmt: skip
        m11 = s.scalar(select(Item).where(Item.message_id == "<m11@city.example>"))
        assert (m11.queue_reason, m11.truncated) == ("in quoted/forwarded text", False)
    changed = origins.assign(queue_reason=["", ""])
    assert load_results(changed, sqlite_url) == {"inserted": 0, "updated": 1, "unchanged": 1, "skipped": 0}


_NEW_COLUMNS = ["html_text", "attachment_text", "unscored_attachments", "truncated", "queue_reason"]


def _legacy(results: pd.DataFrame) -> pd.DataFrame:
    """Return ``results`` as scored before the scoring unit: no new columns, evidence ``{label: "span"}``."""
    spans = [json.dumps({lb: items[0]["text"] for lb, items in json.loads(ev).items()}) for ev in results["evidence"]]
    return results.drop(columns=_NEW_COLUMNS).assign(evidence=spans)


def test_results_written_before_the_scoring_unit_still_load(db_url: str) -> None:  # noqa: F811
    old = _legacy(pd.read_parquet(RESULTS))
    assert load_results(old, db_url)["inserted"] == 5
    with session_scope(db_url) as s:
        m1 = s.scalar(select(Item).where(Item.message_id == "<m1@city.example>"))
        assert json.loads(m1.evidence)["race"] == [{"text": "people of that colour"}]
        assert (m1.html_text, m1.attachment_text, m1.unscored_attachments, m1.truncated, m1.queue_reason) == (
            "", "", "", False, "",
        )  # fmt: skip
    assert load_results(old, db_url)["unchanged"] == 5


def test_a_results_csv_without_text_columns_loads(sqlite_url: str, tmp_path) -> None:  # noqa: F811
    # results.csv leaves the message text out and writes booleans as True/False.
    from serve.scoring.batch import TEXT_COLUMNS

    path = tmp_path / "results.csv"
    pd.read_parquet(ORIGINS).drop(columns=list(TEXT_COLUMNS)).to_csv(path, index=False)
    assert load_results_file(str(path), sqlite_url)["inserted"] == 2
    with session_scope(sqlite_url) as s:
        m10 = s.scalar(select(Item).where(Item.message_id == "<m10@city.example>"))
        assert (m10.truncated, m10.body, m10.attachment_text) == (True, "", "")
        assert m10.unscored_attachments == "photo.png (not text); locked.pdf (encrypted)"


def _alembic(db_url: str, action: str, revision: str) -> None:  # noqa: F811
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with get_engine(normalise_db_url(db_url)).begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def test_migration_0003_keeps_items_loaded_before_it(db_url: str) -> None:  # noqa: F811
    migrate(db_url, "0002")
    engine = get_engine(normalise_db_url(db_url))
    with engine.begin() as conn:  # a row as the 0002 schema holds it, written without the ORM
        items = Table("items", MetaData(), autoload_with=conn)
        assert "html_text" not in items.c
        row = {c.name: "" for c in items.c if c.type.python_type is str}
        row |= {"message_id": "<old@city.example>", "content_hash": "h", "scores": '{"race": 0.9}', "max_score": 0.9,
                "labels": "race", "evidence": "{}", "direction": "internal", "bulk": False, "status": "pending",
                "version": 1, "loaded_at": pd.Timestamp("2025-01-01").to_pydatetime()}  # fmt: skip
        item_id = conn.execute(items.insert().values(**row)).inserted_primary_key[0]
        conn.execute(text("INSERT INTO item_labels (item_id, label, score) VALUES (:i, 'race', 0.9)"), {"i": item_id})
    migrate(db_url)
    with session_scope(db_url) as s:
        old = s.get(Item, item_id)
        assert (old.html_text, old.attachment_text, old.unscored_attachments, old.truncated, old.queue_reason) == (
            "", "", "", False, "",
        )  # fmt: skip
    # Down and up again: the columns go and come back, and no item or label is lost on the way.
    _alembic(db_url, "downgrade", "0002")
    assert "html_text" not in {c["name"] for c in inspect(engine).get_columns("items")}
    migrate(db_url)
    with session_scope(db_url) as s:
        assert [lb.label for lb in s.scalars(select(ItemLabel).where(ItemLabel.item_id == item_id))] == ["race"]
        assert s.get(Item, item_id).truncated is False


def test_same_message_with_new_content_is_a_new_item(sqlite_url: str) -> None:  # noqa: F811
    results = pd.read_parquet(RESULTS)
    load_results(results, sqlite_url)
    edited = results.iloc[[0]].assign(content_hash="hash-m1-edited", body="edited text")
    assert load_results(edited, sqlite_url)["inserted"] == 1


def test_without_queue_column_every_flagged_row_loads(sqlite_url: str) -> None:  # noqa: F811
    results = pd.read_parquet(RESULTS).drop(columns=["queue"])
    assert load_results(results, sqlite_url)["inserted"] == 6  # the newsletter m6 now loads too


def test_bad_results_tables_are_refused_with_a_readable_error(sqlite_url: str) -> None:  # noqa: F811
    with pytest.raises(InputError, match="lacks column"):
        load_results(pd.DataFrame({"message_id": ["x"]}), sqlite_url)
    bad = pd.read_parquet(RESULTS).head(1).assign(labels="race;bogus")
    with pytest.raises(InputError, match="bogus"):
        load_results(bad, sqlite_url)


def test_audit_log_refuses_update_and_delete_in_the_database(db_url: str) -> None:  # noqa: F811
    migrate(db_url)
    engine = get_engine(normalise_db_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_log (at, actor, action, ip, detail) VALUES (CURRENT_TIMESTAMP, 'a', 'x', '', '')"))
    for stmt in ("UPDATE audit_log SET actor = 'b'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(stmt))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM audit_log")).scalars().all() == ["a"]


def _decide_all(db_url: str) -> None:  # noqa: F811
    with session_scope(db_url) as s:
        alice = s.scalar(select(User).where(User.username == "alice"))
        bob = s.scalar(select(User).where(User.username == "bob"))
        items = {it.message_id[1:3]: it.id for it in s.scalars(select(Item))}
        record_decision(s, items["m1"], alice, decision="confirmed", version=1, labels=["race"])
        record_decision(s, items["m2"], bob, decision="not_violation", version=1)
        record_decision(s, items["m3"], alice, decision="escalated", version=1, escalate_to="bob", note="unsure")


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_export_round_trip_gives_training_rows(db_url: str, tmp_path, suffix: str) -> None:  # noqa: F811
    seed(db_url)
    _decide_all(db_url)
    out = tmp_path / f"review{suffix}"
    n = export_reviewed(db_url, out, secret_key=SECRET)
    df = pd.read_parquet(out) if suffix == ".parquet" else pd.read_json(
        out, lines=True, dtype=False  # as a reader must: model versions are strings, not numbers
    )
    assert n == len(df) and set(df["decision"]) == {"confirmed", "not_violation"}  # the escalated one is not final
    assert list(df.columns) == list(EXPORT_COLUMNS)
    assert (df.groupby("item_id")["split_key"].nunique() == 1).all()  # an item never spans two splits
    confirmed, dismissed = df[df["decision"] == "confirmed"], df[df["decision"] == "not_violation"]
    # the confirmed item gives its evidence window (what the model read) with only the confirmed label
    window = confirmed[confirmed["unit"] == "window"].iloc[0]
    assert "people of that colour" in window["text"]
    assert [window[lb] for lb in LABELS] == [int(lb == "race") for lb in LABELS]
    assert (dismissed[list(LABELS)].to_numpy() == 0).all() and "message" in set(dismissed["unit"])
    assert set(df["source"]) == {"review"}
    assert window["reviewer"].startswith("Reviewer-") and "alice" not in window["reviewer"]
    assert window["model_version"] == "3" and window["decided_at"].endswith("Z")
    assert df[list(LABELS)].dtypes.map(str).eq("int64").all()


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_export_goes_through_prepare_review_reader(sqlite_url: str, tmp_path, suffix: str) -> None:  # noqa: F811
    from pipelines import prepare

    seed(sqlite_url)
    _decide_all(sqlite_url)
    out = tmp_path / f"review{suffix}"
    export_reviewed(sqlite_url, out, secret_key=SECRET)
    rows = prepare.load_review_exports([str(out)]).sort_values("race", ascending=False)
    assert set(rows["source"]) == {"review"} and rows["split_key"].str.startswith("review:").all()
    assert rows[list(LABELS)].to_numpy()[0].tolist() == [int(lb == "race") for lb in LABELS]
    assert rows[list(LABELS)].to_numpy()[1:].sum() == 0
    assert set(rows["unit"]) <= {"window", "message"}
