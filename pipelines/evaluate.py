"""Evaluate a model on the test split, the functional suite and clean mail; write reports and log to MLflow.

Outputs under ``out_dir`` (``reports/`` in the DVC pipeline):

- ``metrics.json``: every number (DVC metrics; see :func:`evaluate` for its layout).
- ``plots/``: DVC-plottable CSVs (``pr_curves/<label>.csv``, ``reliability/<label>.csv``,
  ``suite_functionality.csv``, ``bias_subgroups.csv``, ``label_confusion.csv``) and PNG renderings.
- ``predictions_test.jsonl`` / ``predictions_suite.jsonl``: per-text predictions *with text*
  for the notebooks (local only, gitignored). MLflow gets ``*_notext.jsonl`` copies without
  text or evidence: message text never leaves the machine through MLflow.
- ``model_card.md`` / ``.html``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mailguard.errors import InputError
from mailguard.mail import Message
from mailguard.taxonomy import LABELS
from models.base import Evidence
from models.registry import LoadedModel
from pipelines import calibration, fairness, mail_eval, metrics
from pipelines.dataset import read_prepared
from pipelines.params import EvaluateParams, PipelineParams

log = logging.getLogger(__name__)

#: Where evaluation files go inside the model's MLflow run.
MLFLOW_DIR = "evaluation"
METRICS_FILE = "metrics.json"


def resolve(spec: str | Path) -> LoadedModel:
    """Return the model named by ``spec`` (folder, alias, ``mailguard@alias``, ``models:/mailguard/N``)."""
    from models.registry import resolve_model

    return resolve_model(str(spec))


def load_test_split(dataset_path: Path) -> pd.DataFrame:
    """Return the test split of the prepared dataset, keeping each row's position in the file as ``row``."""
    df = read_prepared(dataset_path)
    df["row"] = df.index
    test = df[df["split"] == "test"].reset_index(drop=True)
    if test.empty:
        raise InputError(f"prepared dataset {dataset_path} has no test rows")
    return test


def load_clean_mail_texts(clean_mail_root: Path) -> list[str] | None:
    """Return the texts of the held-out clean mail (``clean_mail_root/eval``), or ``None`` when it is not there."""
    messages = load_clean_mail(clean_mail_root)
    return None if messages is None else [m.text for m in messages]


def load_clean_mail(clean_mail_root: Path) -> list[Message] | None:
    """Return the held-out clean mail (``clean_mail_root/eval``) as parsed messages, or ``None`` when it is not there."""
    from pipelines.clean_mail import load_clean_mail_messages

    try:
        return load_clean_mail_messages("eval", Path(clean_mail_root))
    except InputError as e:
        log.warning("clean mail eval set not available: %s", e)
        return None


def evaluation_data(
    dataset_path: Path, suite_root: Path | None, params: PipelineParams
) -> tuple[pd.DataFrame, pd.DataFrame | None, list[Message] | None]:
    """Return the test split, the functional suite (``None`` without ``suite_root``) and the held-out clean mail.

    The clean mail is read from ``data.clean_mail_root`` when ``evaluate.clean_mail`` is on (else ``None``).
    """
    from pipelines.functional_suite import load_suite

    test = load_test_split(dataset_path)
    suite = load_suite(suite_root) if suite_root is not None else None
    clean = load_clean_mail(params.data.clean_mail_root) if params.evaluate.clean_mail else None
    return test, suite, clean


def current_fingerprint(dataset_path: str | Path, suite_root: str | Path | None, params: PipelineParams) -> str:
    """Return the :func:`data_fingerprint` of the evaluation data as it is on disk now."""
    test, suite, clean = evaluation_data(Path(dataset_path), _opt_path(suite_root), params)
    return data_fingerprint(test, suite, _texts(clean))


def _texts(messages: list[Message] | None) -> list[str] | None:
    return None if messages is None else [m.text for m in messages]


def _opt_path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)


def _frame_digest(df: pd.DataFrame) -> str:
    hashes = pd.util.hash_pandas_object(df, index=False).to_numpy()
    return hashlib.sha256(hashes.tobytes()).hexdigest()


def data_fingerprint(test: pd.DataFrame, suite: pd.DataFrame | None, clean_texts: Sequence[str] | None) -> str:
    """Return a digest of exactly the evaluation data (test texts and labels, suite cases, clean mail).

    Two metric sets are comparable only when their fingerprints match; the
    promotion step reuses saved metrics on that condition.
    """
    h = hashlib.sha256(_frame_digest(test[["text", *LABELS]]).encode())
    if suite is not None:
        h.update(_frame_digest(suite[["case_id", "text", *LABELS]].astype(str)).encode())
    if clean_texts is not None:
        h.update(_frame_digest(pd.DataFrame({"text": list(clean_texts)})).encode())
    return h.hexdigest()[:16]


def suite_accuracy(suite: pd.DataFrame, pred: np.ndarray) -> dict[str, Any]:
    """Return functional-suite accuracy overall, per functionality and per label.

    A case is correct when its predicted label set equals its gold label set;
    per-label accuracy is the share of cases where that one label's decision is right.
    """
    gold = suite[list(LABELS)].to_numpy().astype(int)
    pred = np.asarray(pred).astype(int)
    correct = (gold == pred).all(axis=1)
    per_functionality = {
        str(name): {"accuracy": float(correct[idx].mean()), "n": len(idx)}
        for name, idx in suite.groupby("functionality").indices.items()
    }
    return {
        "accuracy": float(correct.mean()) if len(correct) else math.nan,
        "n": len(suite),
        "per_functionality": per_functionality,
        "per_label_accuracy": {lb: float((gold[:, j] == pred[:, j]).mean()) for j, lb in enumerate(LABELS)},
    }


def clean_mail_fpr(pred: np.ndarray) -> dict[str, Any]:
    """Return the share of clean messages flagged, per label and for any label (every message is clean)."""
    pred = np.asarray(pred).astype(bool)
    return {
        "n": int(pred.shape[0]),
        "any_label_fpr": float(pred.any(axis=1).mean()),
        "per_label_fpr": {lb: float(pred[:, j].mean()) for j, lb in enumerate(LABELS)},
    }


def evaluate(
    model_spec_or_path: str | Path,
    dataset_path: str | Path,
    suite_root: str | Path | None,
    out_dir: str | Path,
    params: PipelineParams,
    *,
    log_to_mlflow: bool = True,
    run_id: str | None = None,
    card_dest: str | Path | None = None,
) -> dict[str, Any]:
    """Return the metrics of a model on the test split, functional suite and clean mail; write all reports.

    ``metrics.json`` layout (NaN written as ``null``)::

        meta:  model_version, run_id, family, data_fingerprint, data_revision, command
        data:  n_train, n_validation, n_test, test_positives{label}
        test:  macro_/micro_ roc_auc, pr_auc, precision, recall, f1; per_label{label}{roc_auc, pr_auc,
               precision, recall, f1, threshold, support, ...}; ece{label}; excluded_from_macro
        suite: accuracy, n, per_functionality{name}{accuracy, n}, per_label_accuracy{label}
        bias:  overall_auc, final_metric, power_mean_*, subgroups{group}{subgroup_auc, bpsn_auc, bnsp_auc, n},
               skipped{group: reason}, neutral_fpr{group}{fpr, n},
               stance_test{n_clean, clean_flagged, n_violating, violations_caught}  (held-out stance pairs),
               identity_mention_auc  (suite: attacks on a group vs neutral mentions, threshold-free),
               identity_attacks_flagged  (suite: share of attacks on a group given any label)
        clean_mail: n, any_label_fpr, per_label_fpr{label}   (only when the eval set is available)
        written_eval: n, per_label{label}{n, recall, precision}, macro_recall, min_recall, exact_match,
               clean_any_label_fpr, ordinary_any_label_fpr, long_ordinary_any_label_fpr, per_kind_any_label
               (the separately written evaluation mail, data/written/eval; see pipelines.mail_eval)
        enron_heldout: n, solicitation_rate, any_label_rate, per_label_rate, per_owner  (held-out mailboxes)
        planted: held-out violating texts planted at start/middle/end of held-out long mail and in quoted,
               HTML-only and attachment containers (pipelines.planted.planted_report; sampled)

    ``suite_root=None`` skips the functional suite. ``params`` gives the ``evaluate`` settings and the
    held-out data under ``data.clean_mail_root``, ``data.written_root`` and ``data.datasets_root``
    (the planted section's Enron hosts; its texts come from ``evaluate.suite_root``). With ``log_to_mlflow``,
    numbers, plots, the card and text-free predictions go to the model's MLflow run
    (``run_id`` overrides the run found from the registry or the folder's metadata).
    ``card_dest`` also writes the model card there (e.g. ``docs/model_card.md``).
    """
    opts, data = params.evaluate, params.data
    dataset_path, out_dir = Path(dataset_path), Path(out_dir)
    model = resolve(model_spec_or_path)
    if run_id:
        model = LoadedModel(model.classifier, model.version, run_id, model.path)
    clf = model.classifier
    thresholds = np.asarray(clf.thresholds_, dtype=float)
    test, suite, clean_messages = evaluation_data(dataset_path, _opt_path(suite_root), params)

    plots = out_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    Y = test[list(LABELS)].to_numpy().astype(int)
    # score_texts is what nightly scoring runs (max over windows of long mail), so measure that.
    scored = clf.score_texts(test["text"].tolist())
    proba, pred = scored.proba, (scored.proba >= thresholds).astype(int)

    test_report = metrics.classification_report(Y, proba, thresholds)
    test_report["ece"] = calibration.ece_per_label(Y, proba, opts.calibration_bins)
    if opts.temperature_scaling:
        test_report["ece_temperature_scaled"] = _temperature_scaled_ece(clf, dataset_path, Y, proba, opts.calibration_bins)
    bias = fairness.bias_report(Y, proba, test["text"].tolist(), opts.min_subgroup_size)
    bias["stance_test"] = fairness.stance_contrast(test, pred)

    result: dict[str, Any] = {
        "meta": {
            "model_version": model.version,
            "run_id": model.run_id or "",
            "family": str(getattr(clf, "family", "")),
            "data_revision": str(getattr(clf, "data_revision_", "")),
            "data_fingerprint": data_fingerprint(test, suite, _texts(clean_messages)),
            "command": _command(model_spec_or_path, dataset_path, suite_root, out_dir),
        },
        "data": _data_counts(dataset_path, test),
        "test": test_report,
        "bias": bias,
    }
    if suite is not None:
        suite_scored = clf.score_texts(suite["text"].tolist())
        suite_pred = (suite_scored.proba >= thresholds).astype(int)
        result["suite"] = suite_accuracy(suite, suite_pred)
        bias["neutral_fpr"] = fairness.neutral_identity_fpr(suite, suite_pred)
        bias["identity_mention_auc"] = fairness.identity_mention_auc(suite, suite_scored.proba)
        bias["identity_attacks_flagged"] = fairness.identity_attacks_flagged(suite, suite_pred)
        _write_suite_predictions(out_dir, suite, suite_scored.proba, suite_pred)
    if clean_messages:
        result["clean_mail"] = clean_mail_fpr(clf.score_documents([m.sections() for m in clean_messages]).proba >= thresholds)
    if opts.written_eval:
        try:
            result["written_eval"] = mail_eval.written_eval_report(clf, data.written_root)
        except InputError as e:  # a checkout without the written corpus (or run from elsewhere): say so, go on
            log.warning("written evaluation mail not available: %s", e)
    if "split_key" in test.columns:
        result["enron_heldout"] = mail_eval.enron_heldout_report(clf, test)
    if opts.planted_max_texts:
        from pipelines.planted import planted_report

        result["planted"] = planted_report(clf, datasets_root=data.datasets_root, suite_root=opts.suite_root,
                                           clean_mail_root=data.clean_mail_root, written_root=data.written_root,
                                           max_texts=opts.planted_max_texts, max_hosts=opts.planted_max_hosts,
                                           seed=opts.planted_seed)

    _write_plots(plots, Y, proba, pred, result, opts)
    _write_test_predictions(out_dir, test, proba, pred, scored.evidence)
    result = _jsonable(result)
    (out_dir / METRICS_FILE).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")

    from pipelines.model_card import write_model_card

    card_md, card_html = write_model_card(result, plots, out_dir / "model_card.md")
    if card_dest is not None:
        write_model_card(result, plots, Path(card_dest))
    if log_to_mlflow and model.run_id:
        log_evaluation(model.run_id, result, out_dir, [card_md, card_html])
    return result


def _temperature_scaled_ece(clf: Any, dataset_path: Path, Y: np.ndarray, proba: np.ndarray, bins: int) -> dict[str, float]:
    from pipelines.dataset import load_split

    val = load_split(dataset_path, "validation")
    temps = calibration.fit_temperatures(clf.score_texts(val["text"].tolist()).proba, val[list(LABELS)].to_numpy())
    scaled = calibration.apply_temperatures(proba, temps)
    return calibration.ece_per_label(Y, scaled, bins)


def _data_counts(dataset_path: Path, test: pd.DataFrame) -> dict[str, Any]:
    splits = pd.read_parquet(dataset_path, columns=["split"])["split"].value_counts()
    return {
        "n_train": int(splits.get("train", 0)),
        "n_validation": int(splits.get("validation", 0)),
        "n_test": len(test),
        "test_positives": {lb: int(test[lb].sum()) for lb in LABELS},
        "test_sources": {str(k): int(v) for k, v in test["source"].value_counts().items()}
        if "source" in test.columns
        else {},
    }


def _command(spec: str | Path, dataset: Path, suite: str | Path | None, out_dir: Path) -> str:
    suite_part = f" --suite {suite}" if suite is not None else " --no-suite"
    return f"mailguard evaluate {spec} --data {dataset}{suite_part} --out {out_dir}"


def _write_plots(
    plots: Path, Y: np.ndarray, proba: np.ndarray, pred: np.ndarray, result: dict[str, Any], opts: EvaluateParams
) -> None:
    pr = metrics.pr_curve_points(Y, proba, opts.pr_curve_points)
    _write_per_label(plots / "pr_curves", pr)
    reliability = calibration.reliability_table(Y, proba, opts.calibration_bins)
    _write_per_label(plots / "reliability", reliability)
    confusion = metrics.label_confusion(Y, pred)
    confusion.rename_axis("gold").to_csv(plots / "label_confusion.csv", float_format="%.4f")
    bias = result["bias"]
    groups = sorted(set(bias["subgroups"]) | set(bias.get("neutral_fpr", {})))
    bias_rows = pd.DataFrame([
        {
            "subgroup": g,
            **{k: bias["subgroups"].get(g, {}).get(k, math.nan) for k in ("subgroup_auc", "bpsn_auc", "bnsp_auc")},
            "neutral_fpr": bias.get("neutral_fpr", {}).get(g, {}).get("fpr", math.nan),
        }
        for g in groups
    ], columns=["subgroup", "subgroup_auc", "bpsn_auc", "bnsp_auc", "neutral_fpr"])
    bias_rows.to_csv(plots / "bias_subgroups.csv", index=False, float_format="%.4f")
    metrics.plot_pr_curves(pr, plots / "pr_curves.png")
    calibration.plot_reliability(reliability, plots / "reliability.png")
    metrics.plot_label_confusion(confusion, plots / "label_confusion.png")
    fairness.plot_subgroups(bias_rows, plots / "bias_subgroups.png")
    if "suite" in result:
        per_fn = pd.DataFrame(
            [{"functionality": k, **v} for k, v in result["suite"]["per_functionality"].items()],
            columns=["functionality", "accuracy", "n"],
        ).sort_values("accuracy")
        per_fn.to_csv(plots / "suite_functionality.csv", index=False, float_format="%.4f")
        plot_functionality(per_fn, plots / "suite_functionality.png")


def plot_functionality(per_functionality: pd.DataFrame, path: Path) -> Path:
    """Draw functional-suite accuracy per functionality as horizontal bars (PNG at ``path``); return it."""
    plt = metrics.pyplot()
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.28 * len(per_functionality) + 1)))
    ax.barh(per_functionality["functionality"], per_functionality["accuracy"], color="tab:blue")
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy (predicted label set == gold set)")
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def _write_per_label(folder: Path, table: pd.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.csv"):  # a label that lost its positives must not keep a stale curve
        old.unlink()
    for label, part in table.groupby("label"):
        part.drop(columns="label").to_csv(folder / f"{label}.csv", index=False, float_format="%.5f")


def _prediction_records(
    ids: dict[str, list[Any]], proba: np.ndarray, pred: np.ndarray, gold: np.ndarray
) -> list[dict[str, Any]]:
    records = []
    for i in range(proba.shape[0]):
        rec = {k: v[i] for k, v in ids.items()}
        rec["gold"] = [lb for j, lb in enumerate(LABELS) if gold[i, j]]
        rec["predicted"] = [lb for j, lb in enumerate(LABELS) if pred[i, j]]
        rec["proba"] = {lb: round(float(proba[i, j]), 5) for j, lb in enumerate(LABELS)}
        records.append(rec)
    return records


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def _write_test_predictions(
    out_dir: Path, test: pd.DataFrame, proba: np.ndarray, pred: np.ndarray, evidence: list[dict[str, list[Evidence]]]
) -> None:
    ids = {"row": test["row"].astype(int).tolist(), "source": test.get("source", pd.Series([""] * len(test))).tolist()}
    records = _prediction_records(ids, proba, pred, test[list(LABELS)].to_numpy())
    _write_jsonl(out_dir / "predictions_test_notext.jsonl", records)
    for rec, text, ev in zip(records, test["text"].tolist(), evidence, strict=True):
        rec["text"], rec["evidence"] = text, {lb: [e.as_dict() for e in items] for lb, items in ev.items()}
    _write_jsonl(out_dir / "predictions_test.jsonl", records)


def _write_suite_predictions(out_dir: Path, suite: pd.DataFrame, proba: np.ndarray, pred: np.ndarray) -> None:
    ids = {
        "case_id": suite["case_id"].astype(str).tolist(),
        "functionality": suite["functionality"].astype(str).tolist(),
        "identity_group": suite["identity_group"].fillna("").astype(str).tolist(),
    }
    records = _prediction_records(ids, proba, pred, suite[list(LABELS)].to_numpy())
    _write_jsonl(out_dir / "predictions_suite_notext.jsonl", records)
    for rec, text in zip(records, suite["text"].tolist(), strict=True):
        rec["text"] = text
    _write_jsonl(out_dir / "predictions_suite.jsonl", records)


def _jsonable(value: Any) -> Any:
    # JSON has no NaN: write null, which `dvc metrics` and json.loads both accept.
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


_KEY = re.compile(r"[^\w\-./ ]")


def flatten_numbers(metrics_dict: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Return the finite numbers of a nested metrics dict as ``{"a.b.c": value}`` (MLflow-safe keys)."""
    out: dict[str, float] = {}
    for key, value in metrics_dict.items():
        name = _KEY.sub("_", f"{prefix}{key}")
        if isinstance(value, dict):
            out.update(flatten_numbers(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            out[name] = float(value)
    return out


def log_evaluation(run_id: str, result: dict[str, Any], out_dir: Path, extra_files: Sequence[Path] = ()) -> None:
    """Log evaluation numbers, plots, metrics.json, text-free predictions and ``extra_files`` to run ``run_id``."""
    import mlflow

    from models.registry import configure_mlflow

    configure_mlflow()
    numbers = {k: v for k, v in flatten_numbers(result, "eval.").items() if ".meta." not in k}
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(numbers)
        mlflow.log_artifact(str(out_dir / METRICS_FILE), MLFLOW_DIR)
        mlflow.log_artifacts(str(out_dir / "plots"), f"{MLFLOW_DIR}/plots")
        for name in ("predictions_test_notext.jsonl", "predictions_suite_notext.jsonl"):
            if (out_dir / name).is_file():
                mlflow.log_artifact(str(out_dir / name), MLFLOW_DIR)
        for path in extra_files:
            mlflow.log_artifact(str(path), MLFLOW_DIR)


def logged_metrics(run_id: str) -> dict[str, Any] | None:
    """Return the ``metrics.json`` saved in run ``run_id`` by :func:`log_evaluation`, or ``None`` if absent."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from models.registry import configure_mlflow

    configure_mlflow()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=f"{MLFLOW_DIR}/{METRICS_FILE}", dst_path=tmp
            )
            loaded: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
        except (MlflowException, OSError, ValueError):
            return None
    return loaded


__all__ = [
    "clean_mail_fpr",
    "current_fingerprint",
    "data_fingerprint",
    "evaluate",
    "flatten_numbers",
    "load_clean_mail_texts",
    "load_test_split",
    "log_evaluation",
    "logged_metrics",
    "resolve",
    "suite_accuracy",
]
