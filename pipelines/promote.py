"""Champion/challenger promotion: a model replaces the champion only when measurably better and not less fair.

Gates (all must pass, checked by the pure function :func:`check_gates`). Each allowance is set at
the noise of its measurement, so a gate refuses real regressions, not sampling noise (the reasons are
in docs/model_comparison.md, "Promotion gates"):

1. test macro PR-AUC does not drop, and no label's test PR-AUC drops by more than 0.03 (about one
   standard error for a label with ~100 test positives; 0.01 refused models better on 8 of 10 labels);
2. functional-suite accuracy does not drop;
3. the identity-term bias final metric does not drop;
4. the mean neutral-mention false-positive rate over groups rises by no more than 1 point, and the
   worst group's rate by no more than 7 points (two of its ~30 cases); each group's change is
   reported beside the gates (``binding=False``) but does not decide, so a champion's own bias
   against some groups cannot lock out a model that is fairer on average and in the worst case;
5. the share of held-out clean stance pairs flagged (counter-speech, rejected stereotypes, praise)
   rises by no more than 2 points;
6. on mail as users meet it: the written evaluation mail's macro recall drops by no more than
   2 points, and the share of its ordinary mail flagged, and of held-out Enron mailboxes' mail
   flagged, rises by no more than 1 point each; the planted-violations catch rate (mean over
   start/middle/end) drops by no more than 2 points;
7. both models were trained on the same data revision: otherwise one model's training rows may sit
   in the other's test split and the comparison is not held out. Retrain the champion on the
   current data (``dvc repro``) and promote that first.

Both models are measured on the same data: saved evaluation metrics are reused
only when their data fingerprint matches the data on disk, otherwise the model is
evaluated again. Every decision (promotion, forced promotion, refusal, first
champion) is recorded as MLflow model-version tags and appended to
``reports/promotions.jsonl``.
"""

from __future__ import annotations

import getpass
import json
import logging
import math
import tempfile
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from mailguard.errors import ConfigError
from mailguard.taxonomy import LABELS
from models.registry import MODEL_NAME, registered_version, tag_version
from pipelines.params import PipelineParams

log = logging.getLogger(__name__)

CHAMPION = "champion"
PROMOTION_LOG = Path("reports/promotions.jsonl")
#: Where the new champion's evaluation (metrics and plots, committed) is copied so its card's images resolve.
CHAMPION_REPORT = Path("reports/champion")
#: Allowed PR-AUC drop per label (absolute): about one standard error with ~100 test positives.
MAX_PR_AUC_DROP = 0.03
#: Allowed rise of the worst group's neutral-mention false-positive rate: two of its ~30 suite cases.
MAX_GROUP_FPR_RISE = 0.07
#: Allowed rise of the mean neutral-mention false-positive rate over groups (1 point).
MAX_MEAN_FPR_RISE = 0.01
#: Allowed rise of the share of held-out clean stance pairs flagged (2 points).
MAX_STANCE_RISE = 0.02
#: Allowed drop of recall on written evaluation mail and of the planted catch rate (2 points).
MAX_RECALL_DROP = 0.02
#: Allowed rise of the share of ordinary mail flagged (written evaluation mail, held-out Enron mailboxes).
MAX_ORDINARY_FPR_RISE = 0.01
_EPS = 1e-9  # "does not drop" must not fail on float noise from re-evaluating identical scores

Action = Literal["promoted", "forced", "refused", "first_champion", "already_champion"]


@dataclass(frozen=True)
class GateResult:
    """One promotion gate: its name, outcome, both values and the rule it applied.

    A row with ``binding=False`` is reported beside the gates (shown as ``info``) and never refuses.
    """

    name: str
    passed: bool
    champion: float | None
    challenger: float | None
    rule: str
    binding: bool = True


@dataclass(frozen=True)
class PromotionDecision:
    """What ``promote`` decided, and everything recorded about it."""

    action: Action
    challenger_version: str
    champion_version: str | None
    gates: list[GateResult] = field(default_factory=list)
    reason: str = ""
    user: str = ""
    at: str = ""
    data_fingerprint: str = ""

    @property
    def promoted(self) -> bool:
        """Return whether the challenger is now the champion."""
        return self.action in ("promoted", "forced", "first_champion")

    @property
    def failed(self) -> list[GateResult]:
        """Return the gates that did not pass."""
        return [g for g in self.gates if g.binding and not g.passed]


def _get(metrics: dict[str, Any], *path: str) -> float | None:
    node: Any = metrics
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    if node is None or isinstance(node, bool) or not isinstance(node, int | float) or math.isnan(node):
        return None
    return float(node)


def _gate(
    name: str, champion: float | None, challenger: float | None, allowed: float, higher_is_better: bool
) -> GateResult:
    direction = "drop" if higher_is_better else "rise"
    rule = f"{direction} <= {allowed:g}"
    if champion is None:  # nothing to defend: the champion was never measured on this
        return GateResult(name, True, champion, challenger, rule + " (champion not measured)")
    if challenger is None:
        return GateResult(name, False, champion, challenger, rule + " (challenger not measured)")
    change = champion - challenger if higher_is_better else challenger - champion
    return GateResult(name, change <= allowed + _EPS, champion, challenger, rule)


def _same_data_gate(champion: dict[str, Any], challenger: dict[str, Any]) -> GateResult:
    mine = str((champion.get("meta") or {}).get("data_revision") or "")
    theirs = str((challenger.get("meta") or {}).get("data_revision") or "")
    same = not mine or not theirs or mine == theirs
    rule = f"same data revision (champion {mine or '?'}, challenger {theirs or '?'})"
    return GateResult("trained_on_same_data", same, None, None, rule)


def check_gates(
    champion: dict[str, Any],
    challenger: dict[str, Any],
    *,
    max_pr_auc_drop: float = MAX_PR_AUC_DROP,
    max_group_fpr_rise: float = MAX_GROUP_FPR_RISE,
) -> list[GateResult]:
    """Return every gate's result comparing two ``metrics.json`` dicts (see :func:`pipelines.evaluate.evaluate`).

    Gates: ``macro_pr_auc``, one per label (``pr_auc:<label>``), ``suite_accuracy``, ``bias_final_metric``,
    ``neutral_fpr_mean``, ``neutral_fpr_worst`` (the highest group rate) and, reported but not binding,
    one per identity group (``neutral_fpr:<group>``), ``stance_clean_flagged``,
    ``written_macro_recall``, ``written_ordinary_flagged``, ``enron_heldout_flagged``, ``planted_caught``
    and ``trained_on_same_data`` (unknown revisions pass). A gate the champion has no value for passes;
    one only the challenger lacks fails.
    """
    gates = [_gate("macro_pr_auc", _get(champion, "test", "macro_pr_auc"), _get(challenger, "test", "macro_pr_auc"),
                   0.0, higher_is_better=True)]
    gates += [
        _gate(f"pr_auc:{lb}", _get(champion, "test", "per_label", lb, "pr_auc"),
              _get(challenger, "test", "per_label", lb, "pr_auc"), max_pr_auc_drop, higher_is_better=True)
        for lb in LABELS
    ]
    gates.append(_gate("suite_accuracy", _get(champion, "suite", "accuracy"), _get(challenger, "suite", "accuracy"),
                       0.0, higher_is_better=True))
    gates.append(_gate("bias_final_metric", _get(champion, "bias", "final_metric"),
                       _get(challenger, "bias", "final_metric"), 0.0, higher_is_better=True))
    groups = sorted(set((champion.get("bias") or {}).get("neutral_fpr") or {})
                    | set((challenger.get("bias") or {}).get("neutral_fpr") or {}))
    gates.append(_gate("neutral_fpr_mean", _mean_fpr(champion, groups), _mean_fpr(challenger, groups),
                       MAX_MEAN_FPR_RISE, higher_is_better=False))
    gates.append(_gate("neutral_fpr_worst", _worst_fpr(champion, groups), _worst_fpr(challenger, groups),
                       max_group_fpr_rise, higher_is_better=False))
    gates.extend(
        replace(_gate(f"neutral_fpr:{g}", _get(champion, "bias", "neutral_fpr", g, "fpr"),
                      _get(challenger, "bias", "neutral_fpr", g, "fpr"), max_group_fpr_rise, higher_is_better=False),
                binding=False)
        for g in groups
    )
    gates.append(_gate("stance_clean_flagged", _get(champion, "bias", "stance_test", "clean_flagged"),
                       _get(challenger, "bias", "stance_test", "clean_flagged"), MAX_STANCE_RISE,
                       higher_is_better=False))
    gates.append(_gate("written_macro_recall", _get(champion, "written_eval", "macro_recall"),
                       _get(challenger, "written_eval", "macro_recall"), MAX_RECALL_DROP, higher_is_better=True))
    gates.append(_gate("written_ordinary_flagged", _get(champion, "written_eval", "ordinary_any_label_fpr"),
                       _get(challenger, "written_eval", "ordinary_any_label_fpr"), MAX_ORDINARY_FPR_RISE,
                       higher_is_better=False))
    gates.append(_gate("enron_heldout_flagged", _get(champion, "enron_heldout", "any_label_rate"),
                       _get(challenger, "enron_heldout", "any_label_rate"), MAX_ORDINARY_FPR_RISE,
                       higher_is_better=False))
    gates.append(_gate("planted_caught", _planted(champion), _planted(challenger), MAX_RECALL_DROP,
                       higher_is_better=True))
    gates.append(_same_data_gate(champion, challenger))
    return gates


def _group_fprs(metrics: dict[str, Any], groups: list[str]) -> list[float] | None:
    """Return the neutral-mention false-positive rate of every group, or None unless all were measured."""
    values = [_get(metrics, "bias", "neutral_fpr", g, "fpr") for g in groups]
    known = [v for v in values if v is not None]
    return known if known and len(known) == len(values) else None


def _mean_fpr(metrics: dict[str, Any], groups: list[str]) -> float | None:
    rates = _group_fprs(metrics, groups)
    return sum(rates) / len(rates) if rates else None


def _worst_fpr(metrics: dict[str, Any], groups: list[str]) -> float | None:
    rates = _group_fprs(metrics, groups)
    return max(rates) if rates else None


def _planted(metrics: dict[str, Any]) -> float | None:
    rates = [_get(metrics, "planted", "positions", p, "rate") for p in ("start", "middle", "end")]
    return sum(r for r in rates if r is not None) / 3 if all(r is not None for r in rates) else None


def comparison_table(gates: list[GateResult], champion_version: str | None, challenger_version: str) -> str:
    """Return a plain-text side-by-side table of the gates: values, change, rule and PASS/FAIL."""

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.4f}"

    head = ("gate", f"champion {champion_version or '-'}", f"challenger {challenger_version}", "change", "rule", "")
    rows = [head]
    for g in gates:
        change = "-" if g.champion is None or g.challenger is None else f"{g.challenger - g.champion:+.4f}"
        verdict = ("PASS" if g.passed else "FAIL") if g.binding else ("info" if g.passed else "info: over")
        rows.append((g.name, num(g.champion), num(g.challenger), change, g.rule, verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def move_champion(version: str, tags: dict[str, str]) -> None:
    """Point the ``champion`` alias at ``version`` and record ``tags`` on it."""
    from models.registry import set_alias

    set_alias(CHAMPION, version, tags)


def champion_version() -> str | None:
    """Return the version the ``champion`` alias points at, or ``None``."""
    from models.registry import get_alias_version

    return get_alias_version(CHAMPION)


# -- promotion --------------------------------------------------------------------------------


def metrics_for_version(
    version: str,
    run_id: str,
    *,
    dataset_path: Path,
    suite_root: Path | None,
    out_dir: Path,
    fingerprint: str,
    params: PipelineParams,
) -> dict[str, Any]:
    """Return evaluation metrics of a registered version on the current data: saved ones when comparable, else fresh."""
    from pipelines import evaluate as ev

    saved = ev.logged_metrics(run_id) if run_id else None
    if saved and saved.get("meta", {}).get("data_fingerprint") == fingerprint:
        log.info("reusing saved evaluation of version %s (same data fingerprint %s)", version, fingerprint)
        _download_evaluation(run_id, out_dir)
        return saved
    log.info("evaluating version %s on the current data", version)
    return ev.evaluate(f"models:/{MODEL_NAME}/{version}", dataset_path, suite_root, out_dir, params)


def _download_evaluation(run_id: str, out_dir: Path) -> None:
    # The saved plots are needed to render the champion's model card later.
    import shutil

    import mlflow

    from pipelines.evaluate import MLFLOW_DIR

    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=MLFLOW_DIR, dst_path=tmp))
        shutil.copytree(local, out_dir, dirs_exist_ok=True)


def promote(
    challenger: str,
    *,
    dataset_path: str | Path,
    suite_root: str | Path | None,
    out_dir: str | Path = Path("reports/promotion"),
    force: bool = False,
    reason: str = "",
    log_path: str | Path = PROMOTION_LOG,
    params: PipelineParams,
    card_dest: str | Path | None = None,
    champion_report: str | Path = CHAMPION_REPORT,
) -> PromotionDecision:
    """Return the decision on making ``challenger`` the champion; move the alias when the gates pass (or forced).

    Both models are evaluated with ``params`` (see :func:`pipelines.evaluate.evaluate`). ``force`` promotes despite failing gates and requires a ``reason``; the gates are
    still computed and recorded. With no champion yet the challenger becomes
    champion. ``card_dest`` (e.g. ``docs/model_card.md``) receives the new champion's
    model card, whose metrics and plots are copied to ``champion_report`` (committed) first. Raises ``ConfigError`` for ``force`` without a reason.
    """
    from pipelines import evaluate as ev

    if force and not reason.strip():
        raise ConfigError("--force needs --reason: say why the gates may be overridden (it is recorded)")
    out_dir, log_path, dataset_path = Path(out_dir), Path(log_path), Path(dataset_path)
    suite = None if suite_root is None else Path(suite_root)
    version, run_id = registered_version(challenger)
    current = champion_version()
    user, at = getpass.getuser(), datetime.now(UTC).isoformat(timespec="seconds")
    if current == version:
        return PromotionDecision("already_champion", version, current, reason=reason.strip(), user=user, at=at)

    fingerprint = ev.current_fingerprint(dataset_path, suite, params)

    def measure(v: str, run: str) -> dict[str, Any]:
        return metrics_for_version(v, run, dataset_path=dataset_path, suite_root=suite, out_dir=out_dir / f"v{v}",
                                   fingerprint=fingerprint, params=params)

    gates: list[GateResult] = []
    challenger_metrics: dict[str, Any] | None = None
    action: Action = "first_champion"
    if current is not None:
        champion_metrics = measure(current, registered_version(current)[1])
        challenger_metrics = measure(version, run_id)
        gates = check_gates(champion_metrics, challenger_metrics)
        passed = all(g.passed for g in gates if g.binding)
        action = "promoted" if passed else ("forced" if force else "refused")

    decision = PromotionDecision(action, version, current, gates, reason.strip(), user, at, fingerprint)
    tags = _tags(decision)
    if decision.promoted:
        move_champion(version, tags)
        if card_dest is not None:
            from pipelines.model_card import write_model_card

            metrics = challenger_metrics if challenger_metrics is not None else measure(version, run_id)
            # a reused evaluation may name the folder it scored; the card names the registered version
            metrics = {**metrics, "meta": {**metrics.get("meta", {}), "model_version": f"{MODEL_NAME}/{version}"}}
            plots = _publish_champion_report(metrics, out_dir / f"v{version}" / "plots", Path(champion_report))
            write_model_card(metrics, plots, Path(card_dest))
    else:
        tag_version(version, tags)
    append_record(log_path, decision)
    return decision


def _publish_champion_report(metrics: dict[str, Any], plots: Path, dest: Path) -> Path:
    """Copy the champion's metrics and plots to ``dest`` (the evaluation output under promotion is not
    committed) and return the copied plots folder."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    (dest / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    if plots.is_dir():
        shutil.copytree(plots, dest / "plots", dirs_exist_ok=True)
    return dest / "plots"


def _tags(decision: PromotionDecision) -> dict[str, str]:
    failed = ",".join(g.name for g in decision.failed) or "none"
    return {
        "promotion.action": decision.action,
        "promotion.at": decision.at,
        "promotion.by": decision.user,
        "promotion.reason": decision.reason or "-",
        "promotion.previous_champion": decision.champion_version or "-",
        "promotion.failed_gates": failed[:4000],  # MLflow tag values are bounded
        "promotion.data_fingerprint": decision.data_fingerprint or "-",
    }


def append_record(log_path: Path, decision: PromotionDecision) -> None:
    """Append one JSON line describing ``decision`` (who, when, why, versions, every gate) to ``log_path``."""
    record = asdict(decision)
    record["promoted"] = decision.promoted
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, sort_keys=True) + "\n")
