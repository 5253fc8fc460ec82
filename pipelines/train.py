"""Train a classifier on the prepared dataset, pick thresholds on validation, log and register it.

Read top to bottom: load data -> build the family named in params -> fit -> thresholds ->
save (self-describing folder) -> MLflow (params, per-epoch and validation metrics, model,
registry; never message text).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mailguard.errors import InputError
from mailguard.taxonomy import LABELS
from models.base import Classifier, Progress
from pipelines.dataset import load_split
from pipelines.metrics import ThresholdRule
from pipelines.params import PipelineParams, TrainParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """What a training run produced."""

    model_dir: Path
    run_id: str
    version: str | None  # registry version, None when not registered
    validation: dict[str, float]
    seconds: float


def data_revision(dataset_path: Path) -> str:
    """Return a short content digest of the prepared dataset, stored with every model."""
    h = hashlib.sha256()
    with dataset_path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def build_classifier(train: TrainParams) -> Classifier:
    """Return an unfitted classifier of the family ``train.family`` with every argument from its section.

    It reads mail by ``train.scoring_unit``.
    """
    clf: Classifier
    if train.family == "linear":
        from models.linear import LinearClassifier

        clf = LinearClassifier(**train.linear.model_dump())
    else:
        from models.transformer import TransformerClassifier

        clf = TransformerClassifier(**train.transformer.model_dump())
    unit = train.scoring_unit
    return clf.set_scoring_unit(unit.window_config(), unit.message_labels)


def select_sources(df: pd.DataFrame, only: list[str], exclude: list[str]) -> pd.DataFrame:
    """Return the training rows from the chosen sources (for ablations; validation/test stay whole)."""
    keep = pd.Series(True, index=df.index)
    if only:
        keep &= df["source"].isin(only)
    if exclude:
        keep &= ~df["source"].isin(exclude)
    return df[keep].reset_index(drop=True)


def stratified_subsample(Y: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Return sorted row indices of at most ``max_rows`` rows, keeping the positives of rare labels first.

    Half the budget is shared out among labels from rarest to commonest (a label's
    unused share rolls over to the next), the rest is drawn at random from the
    remaining rows so clean mail keeps its natural weight.
    """
    n = len(Y)
    if n <= max_rows:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    chosen = np.zeros(n, dtype=bool)
    counts = Y.sum(axis=0)
    present = [j for j in np.argsort(counts, kind="stable") if counts[j] > 0]
    budget = max_rows // 2
    for k, j in enumerate(present):
        share = budget // (len(present) - k)
        rows = np.flatnonzero((Y[:, j] > 0) & ~chosen)
        take = rng.permutation(rows)[:share]
        chosen[take] = True
        budget -= len(take)
    rest = np.flatnonzero(~chosen)
    chosen[rng.choice(rest, size=max_rows - int(chosen.sum()), replace=False)] = True
    return np.flatnonzero(chosen)


#: Sources whose clean whole messages are ordinary real mail (what the operating point must rarely flag).
REAL_MAIL_SOURCES = frozenset({"enron_spam", "written", "clean_mail", "review"})


def ordinary_mail(df: pd.DataFrame) -> np.ndarray:
    """Return a mask of the rows that are clean whole messages of real mail (held-out mailboxes, written mail)."""
    clean = ~df[list(LABELS)].to_numpy().any(axis=1)
    unit = df["unit"].to_numpy() == "message" if "unit" in df.columns else np.ones(len(df), dtype=bool)
    return np.asarray(clean & unit & df["source"].isin(REAL_MAIL_SOURCES).to_numpy(), dtype=bool)


def operating_point(proba: np.ndarray, val_df: pd.DataFrame, train: TrainParams, rule: ThresholdRule) -> np.ndarray:
    """Return per-label thresholds chosen on validation scores by ``rule`` with the settings of ``train``.

    ``train.precision_target`` and ``train.min_recall`` go to the rule; ``train.max_ordinary_rate`` caps,
    per label, the share of validation ordinary mail flagged (see :func:`pipelines.metrics.choose_thresholds`);
    null leaves it uncapped.
    """
    from pipelines.metrics import choose_thresholds

    cap = train.max_ordinary_rate
    return choose_thresholds(
        proba, val_df[list(LABELS)].to_numpy(), rule=rule,
        precision_target=train.precision_target,
        min_recall=train.min_recall,
        ordinary=ordinary_mail(val_df) if cap is not None else None,
        max_ordinary_rate=cap,
    )


def within_budget(df: pd.DataFrame, max_rows: int | None, keep_sources: list[str], seed: int) -> pd.DataFrame:
    """Return at most ``max_rows`` training rows (all when None): every row of ``keep_sources`` first, the rest stratified.

    The one place a row budget is applied (``train.max_train_rows``; null trains on the whole
    split). The authored corpus, written mail and realistic clean mail hold the e-mail register
    and the hard negatives, so they are kept whole; the public corpora fill the remaining budget,
    rare labels' positives first.
    """
    if max_rows is None or len(df) <= max_rows:
        return df
    kept = df[df["source"].isin(keep_sources)] if "source" in df.columns else df.iloc[:0]
    others = df.drop(index=kept.index)
    room = max(max_rows - len(kept), 0)
    picked = stratified_subsample(others[list(LABELS)].to_numpy(), room, seed) if room else np.arange(0)
    return pd.concat([kept, others.iloc[picked]]).sort_index().reset_index(drop=True)


def sample_weights(df: pd.DataFrame, weak_weight: float) -> np.ndarray:
    """Return per-row weights: 1 for exact labels, ``weak_weight`` for approximate (weak) mappings."""
    if "weak" not in df.columns:
        return np.ones(len(df))
    return np.where(df["weak"].astype(bool).to_numpy(), weak_weight, 1.0)


def train(
    params: PipelineParams,
    dataset_path: Path,
    out_dir: Path,
    *,
    register: bool = True,
    show_progress: bool = False,
) -> TrainResult:
    """Fit the configured model, store it in ``out_dir`` and (optionally) register it in MLflow.

    Reads ``train``, ``data.weak_weight``, ``data.seed`` (which rows a budget keeps) and ``register``.
    ``show_progress`` draws a progress bar on stderr (epoch, step, rows/s, ETA; numbers only).
    """
    import mlflow

    from models.registry import configure_mlflow, get_alias_version, log_and_register
    from pipelines.metrics import label_metrics

    settings, data = params.train, params.data
    started = time.perf_counter()
    train_df, val_df = load_split(dataset_path, "train"), load_split(dataset_path, "validation")
    train_df = select_sources(train_df, settings.only_sources, settings.exclude_sources)
    if train_df.empty or val_df.empty:
        raise InputError(f"prepared dataset {dataset_path} has an empty train or validation split")
    revision = data_revision(dataset_path)
    clf = build_classifier(settings)
    train_df = within_budget(train_df, settings.max_train_rows, settings.keep_sources, data.seed)

    configure_mlflow()
    with mlflow.start_run(run_name=f"train-{clf.family}") as run:
        mlflow.set_tags({"mailguard.family": clf.family, "mailguard.data_revision": revision})
        logged = params.as_dict()
        mlflow.log_params(_flatten({"train": logged["train"], "data": logged["data"]}))
        mlflow.log_params({"n_train": len(train_df), "n_validation": len(val_df)})

        with ProgressBar(show=show_progress) as bar:
            clf.fit(
                train_df["text"].tolist(),
                train_df[list(LABELS)].to_numpy(),
                sample_weight=sample_weights(train_df, data.weak_weight),
                X_val=val_df["text"].tolist(),
                Y_val=val_df[list(LABELS)].to_numpy(),
                callbacks=[MlflowEpochs(), bar],
            )
        y_val = val_df[list(LABELS)].to_numpy()
        # Thresholds are chosen on the same max-over-windows scores that evaluation and nightly scoring use.
        val_proba = clf.score_texts(val_df["text"].tolist()).proba
        rule = settings.rule_for(clf.family)
        clf.set_thresholds(operating_point(val_proba, val_df, settings, rule))
        mlflow.log_param("threshold_rule_used", rule)
        clf.data_revision_ = revision
        clf.mlflow_run_id_ = run.info.run_id
        model_dir = clf.save(out_dir)
        validation = _validation_summary(label_metrics(y_val, val_proba, clf.thresholds_))
        mlflow.log_metrics({f"val_{k}": v for k, v in validation.items() if np.isfinite(v)})
        mlflow.log_metrics({f"threshold_{lb}": float(t) for lb, t in zip(LABELS, clf.thresholds_, strict=True)})
        run_id = run.info.run_id

    version = None
    if register:
        alias = params.registry.alias
        first = get_alias_version(alias) is None
        version = log_and_register(
            model_dir,
            run_id=run_id,
            alias=alias if first else None,
            tags={"family": clf.family, "data_revision": revision},
        )
    seconds = time.perf_counter() - started
    log.info("trained %s model in %.1f s (run %s, version %s)", clf.family, seconds, run_id, version)
    return TrainResult(model_dir, run_id, version, validation, seconds)


class MlflowEpochs:
    """Training callback: per-epoch metrics to the active MLflow run (numbers only)."""

    def on_step(self, progress: Progress) -> None:
        pass

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        import mlflow

        mlflow.log_metrics({f"epoch_{k}": float(v) for k, v in metrics.items()}, step=epoch)


class ProgressBar:
    """Training callback: a tqdm bar per epoch with step, rows/s and ETA; never shows text."""

    def __init__(self, show: bool) -> None:
        self.show = show
        self._bar: Any = None
        self._epoch = 0

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def on_step(self, progress: Progress) -> None:
        if not self.show:
            return
        if progress.epoch != self._epoch:
            from tqdm import tqdm

            if self._bar is not None:
                self._bar.close()
            self._epoch = progress.epoch
            self._bar = tqdm(total=progress.steps, desc=f"epoch {progress.epoch}/{progress.epochs}", unit="step",
                             dynamic_ncols=True)
        self._bar.n = progress.step
        self._bar.set_postfix(rows_per_s=f"{progress.rows / max(progress.seconds, 1e-9):.0f}", refresh=False)
        self._bar.refresh()

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        if self.show and self._bar is not None:
            self._bar.set_postfix({k: f"{v:.3f}" for k, v in metrics.items() if k != "epoch_seconds"})
            self._bar.close()
            self._bar = None


def _validation_summary(per_label: dict[str, dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for label, m in per_label.items():
        for key in ("pr_auc", "f1"):
            if key in m:
                out[f"{label}_{key}"] = float(m[key])
    for key in ("pr_auc", "f1"):
        vals = [float(m[key]) for m in per_label.values() if key in m and np.isfinite(m[key])]
        if vals:
            out[f"macro_{key}"] = float(np.mean(vals))
    return out


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
