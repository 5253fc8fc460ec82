"""Champion/challenger promotion: the gates on fabricated metrics, the decision record, the CLI and MLflow."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mailguard.errors import ConfigError
from mailguard.taxonomy import LABELS
from pipelines import promote as pr
from pipelines.params import PipelineParams, load_pipeline_params, override

PARAMS_FILE = Path(__file__).resolve().parents[1] / "params.yaml"


def metric_set(pr_auc: float = 0.8, suite: float = 0.9, bias: float = 0.85, fpr: float = 0.05,
               recall: float = 0.8, flagged: float = 0.02) -> dict[str, Any]:
    """A metrics.json reduced to what the gates read."""
    return {
        "meta": {"data_fingerprint": "same", "data_revision": "rev1"},
        "test": {"per_label": {lb: {"pr_auc": pr_auc} for lb in LABELS}, "macro_pr_auc": pr_auc},
        "suite": {"accuracy": suite},
        "bias": {
            "final_metric": bias,
            "neutral_fpr": {"muslim": {"n": 20, "fpr": fpr}, "women": {"n": 20, "fpr": fpr}},
            "stance_test": {"n_clean": 50, "clean_flagged": fpr},
        },
        "written_eval": {"macro_recall": recall, "ordinary_any_label_fpr": flagged},
        "enron_heldout": {"any_label_rate": flagged},
        "planted": {"positions": {p: {"rate": recall} for p in ("start", "middle", "end")}},
    }


def failed(champion: dict[str, Any], challenger: dict[str, Any]) -> list[str]:
    return [g.name for g in pr.check_gates(champion, challenger) if g.binding and not g.passed]


def test_equal_or_better_challenger_passes_every_gate() -> None:
    gates = pr.check_gates(metric_set(), metric_set(pr_auc=0.85, suite=0.95, bias=0.9, fpr=0.0, recall=0.9, flagged=0.0))
    assert len(gates) == 1 + len(LABELS) + 2 + 1 + 1 + 2 + 1 + 4 + 1  # mean, worst, then 2 groups reported
    assert all(g.passed for g in gates)
    assert failed(metric_set(), metric_set()) == []  # identical metrics: nothing drops


def test_macro_pr_auc_may_not_drop_and_one_label_by_at_most_three_points() -> None:
    small, large = metric_set(pr_auc=0.81), metric_set(pr_auc=0.81)
    small["test"]["per_label"]["race"]["pr_auc"] = 0.77  # -0.03 on one label, macro up: allowed
    large["test"]["per_label"]["race"]["pr_auc"] = 0.769  # -0.031: refused
    assert failed(metric_set(), small) == []
    assert failed(metric_set(), large) == ["pr_auc:race"]
    assert failed(metric_set(), metric_set(pr_auc=0.799)) == ["macro_pr_auc"]


def test_suite_accuracy_may_not_drop() -> None:
    assert failed(metric_set(suite=0.9), metric_set(suite=0.899)) == ["suite_accuracy"]


def test_bias_final_metric_may_not_drop() -> None:
    assert failed(metric_set(bias=0.85), metric_set(bias=0.849)) == ["bias_final_metric"]


def test_neutral_mention_fpr_may_rise_by_one_point_on_average_and_two_cases_for_the_worst_group() -> None:
    ok, worst, on_average = metric_set(fpr=0.05), metric_set(fpr=0.05), metric_set(fpr=0.05)
    ok["bias"]["neutral_fpr"]["muslim"]["fpr"] = 0.12  # +7 points on the worst group, the other down 6: allowed
    ok["bias"]["neutral_fpr"]["women"]["fpr"] = -0.01
    worst["bias"]["neutral_fpr"]["muslim"]["fpr"] = 0.121  # the worst group beyond two cases
    worst["bias"]["neutral_fpr"]["women"]["fpr"] = -0.01
    on_average["bias"]["neutral_fpr"]["women"]["fpr"] = 0.071  # +2.1 points on one group = +1.05 on average
    assert failed(metric_set(), ok) == []
    assert failed(metric_set(), worst) == ["neutral_fpr_worst"]
    assert failed(metric_set(), on_average) == ["neutral_fpr_mean"]


def test_a_group_the_champion_favoured_may_rise_when_the_worst_group_and_the_mean_do_not() -> None:
    champion, challenger = metric_set(fpr=0.05), metric_set(fpr=0.05)
    champion["bias"]["neutral_fpr"]["muslim"]["fpr"] = 0.80  # the champion flags most neutral mentions of one group
    champion["bias"]["neutral_fpr"]["women"]["fpr"] = 0.10
    challenger["bias"]["neutral_fpr"]["muslim"]["fpr"] = 0.10  # the challenger fixes it and is worse on another
    challenger["bias"]["neutral_fpr"]["women"]["fpr"] = 0.40
    gates = {g.name: g for g in pr.check_gates(champion, challenger)}
    assert failed(champion, challenger) == []
    assert not gates["neutral_fpr:women"].passed and not gates["neutral_fpr:women"].binding  # reported, not deciding
    assert "info: over" in pr.comparison_table(list(gates.values()), "1", "2")


def test_clean_stance_pairs_flagged_may_rise_by_at_most_two_points() -> None:
    bad = metric_set()
    bad["bias"]["stance_test"]["clean_flagged"] = 0.08
    assert failed(metric_set(), bad) == ["stance_clean_flagged"]
    never_measured = metric_set()
    del never_measured["bias"]["stance_test"]  # a champion evaluated before stance pairs existed
    assert failed(never_measured, bad) == []


def test_mail_as_users_meet_it_may_not_get_worse() -> None:
    # recall on written evaluation mail and the planted catch rate: a 2-point drop is allowed, more is not
    assert failed(metric_set(recall=0.8), metric_set(recall=0.78)) == []
    assert failed(metric_set(recall=0.8), metric_set(recall=0.779)) == ["written_macro_recall", "planted_caught"]
    # ordinary mail flagged (written evaluation mail, held-out Enron mailboxes): at most 1 point more
    assert failed(metric_set(flagged=0.02), metric_set(flagged=0.031)) == ["written_ordinary_flagged",
                                                                          "enron_heldout_flagged"]


def test_models_trained_on_different_data_are_not_compared() -> None:
    # After data is added the splits move: the old champion's training rows may now be test rows,
    # which inflates its test numbers. Such a comparison is refused, whichever model looks better.
    stale = metric_set()
    stale["meta"]["data_revision"] = "rev0"
    assert failed(stale, metric_set(pr_auc=0.95)) == ["trained_on_same_data"]
    unknown = metric_set()
    del unknown["meta"]["data_revision"]
    assert failed(unknown, metric_set()) == []


def test_unmeasured_values_pass_for_champion_and_fail_for_challenger() -> None:
    no_label = metric_set()
    no_label["test"]["per_label"]["age"]["pr_auc"] = None  # no test positives
    assert failed(no_label, metric_set()) == []
    assert failed(metric_set(), no_label) == ["pr_auc:age"]
    no_suite = copy.deepcopy(metric_set())
    del no_suite["suite"]
    assert failed(metric_set(), no_suite) == ["suite_accuracy"]


def test_comparison_table_shows_both_versions_and_failures() -> None:
    gates = pr.check_gates(metric_set(), metric_set(suite=0.5))
    table = pr.comparison_table(gates, "3", "4")
    assert "champion 3" in table and "challenger 4" in table
    line = next(row for row in table.splitlines() if row.startswith("suite_accuracy"))
    assert "0.9000" in line and "0.5000" in line and "-0.4000" in line and line.endswith("FAIL")


class FakeRegistry:
    """Stands in for the MLflow registry: versions, the champion alias and recorded tags."""

    def __init__(self, champion: str | None, metrics: dict[str, dict[str, Any]]) -> None:
        self.champion = champion
        self.metrics = metrics
        self.tags: dict[str, dict[str, str]] = {}

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeRegistry:
        monkeypatch.setattr(pr, "registered_version", lambda spec: (spec, f"run{spec}"))
        monkeypatch.setattr(pr, "champion_version", lambda: self.champion)
        monkeypatch.setattr(pr, "move_champion", self._move)
        monkeypatch.setattr(pr, "tag_version", lambda v, tags: self.tags.setdefault(v, {}).update(tags))
        monkeypatch.setattr(pr, "metrics_for_version", lambda version, run_id, **kw: self.metrics[version])
        from pipelines import evaluate as ev

        monkeypatch.setattr(ev, "current_fingerprint", lambda *a, **k: "same")
        return self

    def _move(self, version: str, tags: dict[str, str]) -> None:
        self.champion = version
        self.tags.setdefault(version, {}).update(tags)


def _promote(tmp_path: Path, challenger: str = "2", **kw: Any) -> pr.PromotionDecision:
    return pr.promote(challenger, dataset_path=tmp_path / "d.parquet", suite_root=tmp_path / "suite",
                      out_dir=tmp_path / "out", log_path=tmp_path / "promotions.jsonl",
                      params=load_pipeline_params(PARAMS_FILE), **kw)


def _log(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / "promotions.jsonl").read_text().splitlines()]


def test_passing_challenger_becomes_champion_and_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = FakeRegistry("1", {"1": metric_set(), "2": metric_set(pr_auc=0.9)}).install(monkeypatch)
    decision = _promote(tmp_path)
    assert decision.action == "promoted" and reg.champion == "2"
    assert reg.tags["2"]["promotion.previous_champion"] == "1"
    assert reg.tags["2"]["promotion.failed_gates"] == "none"
    (record,) = _log(tmp_path)
    assert record["promoted"] is True and record["user"] and record["at"]
    assert (record["challenger_version"], record["champion_version"]) == ("2", "1")
    assert len(record["gates"]) == len(decision.gates)


def test_failing_challenger_is_refused_and_the_refusal_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = FakeRegistry("1", {"1": metric_set(), "2": metric_set(bias=0.5)}).install(monkeypatch)
    decision = _promote(tmp_path)
    assert decision.action == "refused" and reg.champion == "1"
    assert [g.name for g in decision.failed] == ["bias_final_metric"]
    assert reg.tags["2"]["promotion.action"] == "refused"
    assert reg.tags["2"]["promotion.failed_gates"] == "bias_final_metric"
    assert _log(tmp_path)[0]["action"] == "refused"


def test_force_without_reason_is_refused_before_anything_happens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reg = FakeRegistry("1", {"1": metric_set(), "2": metric_set(bias=0.5)}).install(monkeypatch)
    with pytest.raises(ConfigError, match="--reason"):
        _promote(tmp_path, force=True, reason="  ")
    assert reg.champion == "1" and not (tmp_path / "promotions.jsonl").exists()


def test_force_with_reason_promotes_and_records_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = FakeRegistry("1", {"1": metric_set(), "2": metric_set(bias=0.5)}).install(monkeypatch)
    decision = _promote(tmp_path, force=True, reason="champion flags a new slur as clean; urgent fix")
    assert decision.action == "forced" and reg.champion == "2"
    assert reg.tags["2"]["promotion.reason"] == "champion flags a new slur as clean; urgent fix"
    (record,) = _log(tmp_path)
    assert record["action"] == "forced" and record["reason"].startswith("champion flags")
    assert any(not g["passed"] for g in record["gates"])  # the overridden failures stay on record


def test_first_model_becomes_champion_without_gates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = FakeRegistry(None, {}).install(monkeypatch)
    decision = _promote(tmp_path, challenger="1")
    assert decision.action == "first_champion" and reg.champion == "1" and decision.gates == []
    assert _log(tmp_path)[0]["action"] == "first_champion"


def test_promoting_the_champion_again_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    FakeRegistry("2", {}).install(monkeypatch)
    assert _promote(tmp_path).action == "already_champion"
    assert not (tmp_path / "promotions.jsonl").exists()


def test_cli_prints_table_and_exits_1_on_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mailguard.cli import app

    FakeRegistry("1", {"1": metric_set(), "2": metric_set(suite=0.1)}).install(monkeypatch)
    args = ["promote", "2", "--data", str(tmp_path / "d.parquet"), "--suite", str(tmp_path / "s"),
            "--out", str(tmp_path / "out"), "--log", str(tmp_path / "promotions.jsonl"),
            "--params", str(PARAMS_FILE)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "FAILED suite_accuracy" in result.output and "refused" in result.output
    assert "pr_auc:race" in result.output  # the side-by-side table lists passing gates too
    forced = CliRunner().invoke(app, [*args, "--force"])
    assert forced.exit_code == 2 and "--reason" in forced.output


def test_promotion_moves_the_mlflow_alias_and_tags_versions(
    tmp_path: Path, mlflow_store: str, pipeline_params: PipelineParams
) -> None:
    """End to end on a real MLflow store: two registered tiny models, evaluated and compared."""
    import mlflow
    from fixtures.evaluation.tiny import SUITE, tiny_dataset, tiny_model
    from mlflow import MlflowClient

    from models.registry import configure_mlflow, get_alias_version, log_and_register

    params = override(pipeline_params, {"evaluate.min_subgroup_size": 2, "evaluate.suite_root": SUITE,
                                        "evaluate.clean_mail": False, "evaluate.written_eval": False,
                                        "evaluate.planted_max_texts": 0})
    dataset = tiny_dataset(tmp_path / "dataset.parquet")
    configure_mlflow()
    for i in (1, 2):
        with mlflow.start_run() as run:
            pass
        log_and_register(tiny_model(dataset, tmp_path / f"m{i}" / "mailguard_model"), run_id=run.info.run_id)
    first = pr.promote("1", dataset_path=dataset, suite_root=SUITE, log_path=tmp_path / "log.jsonl", params=params)
    assert first.action == "first_champion" and get_alias_version("champion") == "1"
    # Same training data and settings: identical scores, so every gate passes.
    second = pr.promote("models:/mailguard/2", dataset_path=dataset, suite_root=SUITE,
                        out_dir=tmp_path / "promotion", log_path=tmp_path / "log.jsonl",
                        params=params, card_dest=tmp_path / "docs" / "model_card.md",
                        champion_report=tmp_path / "champion")
    assert second.action == "promoted", pr.comparison_table(second.gates, "1", "2")
    assert get_alias_version("champion") == "2"
    tags = MlflowClient().get_model_version("mailguard", "2").tags
    assert tags["promotion.action"] == "promoted" and tags["promotion.previous_champion"] == "1"
    assert (tmp_path / "docs" / "model_card.md").read_text().startswith("# Model card: mailguard/2")
    # the card's images point at the committed copy of the champion's evaluation
    assert (tmp_path / "champion" / "plots" / "pr_curves.png").is_file()
    assert "champion/plots/pr_curves.png" in (tmp_path / "docs" / "model_card.md").read_text()
    assert [r["action"] for r in map(json.loads, (tmp_path / "log.jsonl").read_text().splitlines())] == [
        "first_champion", "promoted",
    ]
