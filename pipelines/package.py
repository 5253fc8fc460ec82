"""Package trained models for scoring: pick the ONNX precision, distil a student, build the cascade, set the
operating point.

Each step writes a JSON report next to the packaged model (numbers only: safe to log to MLflow).
Precision, student and cascade are judged on the test split; thresholds and gates are chosen on the
validation split. Window scores of the expensive model are cached (``cache_dir``) so that each
window of a split is read by it once (:mod:`pipelines.window_scores`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mailguard.errors import ConfigError, ModelFormatError
from mailguard.taxonomy import LABELS
from models.base import Classifier
from models.cascade import CascadeClassifier, cascade_report, fit_gate
from models.saved import load_classifier
from pipelines.dataset import load_split
from pipelines.metrics import ThresholdRule
from pipelines.window_scores import (
    SplitWindows,
    cascade_window_scores,
    gate_scores,
    message_scores,
    model_cache,
    split_windows,
    store_scores,
    unit_scores,
    whole_message_units,
)

if TYPE_CHECKING:
    from models.onnx_model import OnnxClassifier
    from pipelines.distill import DistillConfig

log = logging.getLogger(__name__)

REPORT_FILE = "packaging_report.json"


#: How thresholds are re-chosen for int8: "match" copies fp32's validation decisions, "rule" applies the
#: model's threshold rule to int8's own validation scores, "none" keeps the shipped thresholds.
Rethreshold = Literal["none", "match", "rule"]
GateOn = Literal["labels", "teacher"]


@dataclass(frozen=True)
class Int8Options:
    """How the int8 candidate is made and judged; every field is a ``mailguard package onnx`` option."""

    quantization: str = "blockwise"  # models.onnx_export.INT8_METHODS: blockwise | static | dynamic
    keep_fp32: tuple[str, ...] = ("head",)  # parts left in fp32 (models.onnx_export.KEEP_FP32_CHOICES)
    block_size: int = 32  # blockwise: inputs sharing one weight scale (smaller: closer to fp32, a little slower)
    calibration_windows: int = 512  # static: training/validation windows whose activations fix the ranges
    calibrate_method: str = "minmax"  # static: minmax | entropy | percentile
    rethreshold: Rethreshold = "match"  # also judge int8 with thresholds re-chosen on its own validation scores
    rule: ThresholdRule = "precision_target"  # for rethreshold="rule": the model's threshold rule ...
    precision_target: float = 0.8  # ... its precision target ...
    min_recall: float = 0.0  # ... and the validation recall every label keeps
    torch_rows: int = 300  # test texts on which fp32 ONNX is checked against torch (torch is slow)
    test_rows: int | None = None  # judge on a random sample of the test split (None: all of it)
    seed: int = 13


def package_onnx(
    model_dir: Path, dataset_path: Path, out_dir: Path, options: Int8Options = Int8Options(), *,
    max_int8_drop: float = 0.005, min_agreement: float = 0.99, cache_dir: Path | None = None,
    fp32_out: Path | None = None, num_threads: int | None = None,
) -> dict[str, Any]:
    """Export a transformer to an inference-only ONNX folder (family ``onnx``) in ``out_dir``; return the report.

    fp32 is checked against torch on ``options.torch_rows`` test texts; int8 is judged against fp32 on the
    test split: kept when every label's decisions agree on at least ``min_agreement`` of the messages and no
    label's PR-AUC drops more than ``max_int8_drop`` (:func:`models.onnx_export.int8_keeps_decisions`),
    first at the shipped thresholds, then, only if that fails (``options.rethreshold``), at thresholds
    re-chosen on int8's own validation scores. Each is reported; the first that passes is packaged, else fp32. ``fp32_out`` also
    saves the fp32 package (to compare them); ``num_threads`` sets the packaged models' ONNX Runtime threads
    (1 when ``mailguard score --workers`` already uses every core).
    """
    from models.onnx_export import (
        agreement,
        decision_report,
        export_onnx,
        int8_keeps_decisions,
        matching_thresholds,
        onnx_classifier,
    )
    from models.transformer import TransformerClassifier

    clf = load_classifier(model_dir)
    if not isinstance(clf, TransformerClassifier):
        raise ModelFormatError(f"only transformer models are exported to ONNX, {model_dir} is {clf.family!r}")
    test = _sample(load_split(dataset_path, "test"), options.test_rows, options.seed)
    texts, Y = test["text"].tolist(), test[list(LABELS)].to_numpy()
    thresholds = np.asarray(clf.thresholds_, dtype=float)
    report: dict[str, Any] = {"options": asdict(options), "n_test": len(test)}
    with tempfile.TemporaryDirectory() as work:
        fp32 = onnx_classifier(clf, export_onnx(clf, work), "fp32")
        n_torch = min(options.torch_rows, len(texts))
        report["fp32"] = agreement(clf, fp32, texts[:n_torch], Y[:n_torch])
        int8 = onnx_classifier(clf, _quantize(clf, fp32.onnx_path_, dataset_path, options), "int8")
        quant_key = hashlib.sha256(json.dumps(asdict(options), sort_keys=True).encode()).hexdigest()[:8]
        windows = split_windows(texts, clf.window_config_)
        scores = {"fp32": _timed_scores(fp32, windows, model_cache(cache_dir, model_dir, f"onnx-fp32-test-{len(texts)}")),
                  "int8": _timed_scores(int8, windows, model_cache(cache_dir, model_dir, f"onnx-int8-{quant_key}-test-{len(texts)}"))}
        proba = {p: _messages(windows, s["proba"], clf) for p, s in scores.items()}
        report["seconds_per_window"] = {p: s["seconds_per_window"] for p, s in scores.items()}
        report["int8"] = {**decision_report(proba["fp32"], thresholds, proba["int8"], thresholds, Y),
                          "thresholds": thresholds.tolist()}
        report["int8_ok"] = int8_keeps_decisions(report["int8"], max_drop=max_int8_drop, min_agreement=min_agreement)
        new_thresholds = thresholds
        val_scores: dict[str, np.ndarray] = {}
        if options.rethreshold != "none" and not report["int8_ok"]:  # only a rejected int8 needs validation scores
            val = _sample(load_split(dataset_path, "validation"), options.test_rows, options.seed)
            val_windows = split_windows(val["text"].tolist(), clf.window_config_)
            val_name = f"validation-{len(val)}"
            val_scores["int8"] = unit_scores(int8, val_windows.units,
                                             model_cache(cache_dir, model_dir, f"onnx-int8-{quant_key}-{val_name}"))
            val_int8 = _messages(val_windows, val_scores["int8"], clf)
            if options.rethreshold == "match":
                val_scores["fp32"] = unit_scores(fp32, val_windows.units,
                                                 model_cache(cache_dir, model_dir, f"onnx-fp32-{val_name}"))
                val_fp32 = _messages(val_windows, val_scores["fp32"], clf)
                new_thresholds = matching_thresholds(val_int8, val_fp32 >= thresholds, fallback=thresholds)
            else:
                from pipelines.metrics import choose_thresholds

                new_thresholds = choose_thresholds(val_int8, val[list(LABELS)].to_numpy(), rule=options.rule,
                                                   precision_target=options.precision_target,
                                                   min_recall=options.min_recall)
            report["int8_rethresholded"] = {
                **decision_report(proba["fp32"], thresholds, proba["int8"], new_thresholds, Y),
                "thresholds": np.asarray(new_thresholds).tolist(), "how": options.rethreshold,
            }
            report["int8_rethresholded_ok"] = int8_keeps_decisions(
                report["int8_rethresholded"], max_drop=max_int8_drop, min_agreement=min_agreement)
        report["chosen"] = ("int8" if report["int8_ok"] else
                            "int8_rethresholded" if report.get("int8_rethresholded_ok") else "fp32")
        chosen = fp32 if report["chosen"] == "fp32" else int8
        if report["chosen"] == "int8_rethresholded":
            chosen.set_thresholds(np.asarray(new_thresholds))
        saved = {out_dir: report["chosen"][:4]}
        if fp32_out is not None:
            saved[fp32_out] = "fp32"
        for folder, precision in saved.items():
            packaged = fp32 if precision == "fp32" else chosen
            if num_threads is not None:  # the packages' setting; scoring here used the transformer's threads
                packaged.num_threads = num_threads
            packaged.save(folder)
            # the packaged model's windows are scored already: later steps (student, cascade, bench) read them
            _seed_cache(cache_dir, folder, f"test-{len(texts)}", windows, scores[precision]["proba"])
            if precision in val_scores:
                _seed_cache(cache_dir, folder, val_name, val_windows, val_scores[precision])
    _write_report(out_dir, {"onnx": report})
    log.info("packaged %s as ONNX %s (int8 ok: %s)", model_dir, report["chosen"], report["int8_ok"])
    return report


def _quantize(clf: Any, fp32_path: Path, dataset_path: Path, options: Int8Options) -> Path:
    """Return the int8 graph of ``fp32_path`` made as ``options`` say (calibrated on training/validation windows)."""
    from models.onnx_export import calibration_batches, quantize_int8
    from models.tokens import encode_units

    if options.quantization != "static":
        return quantize_int8(fp32_path, method=options.quantization, keep_fp32=options.keep_fp32,
                             block_size=options.block_size)
    rng = random.Random(options.seed)
    texts = [*load_split(dataset_path, "train")["text"], *load_split(dataset_path, "validation")["text"]]
    sample = rng.sample(texts, min(len(texts), max(1, options.calibration_windows)))
    units = split_windows(sample, clf.window_config_).units
    units = rng.sample(units, min(len(units), options.calibration_windows))
    encoded = encode_units(clf.tokenizer_, units, clf.max_length, clf.special_ids_)
    width = None if options.calibrate_method == "minmax" else max(len(u) for u in encoded)
    batches = calibration_batches(encoded, clf.special_ids_.pad, width=width)
    return quantize_int8(fp32_path, method="static", calibration=batches, keep_fp32=options.keep_fp32,
                         calibrate_method=options.calibrate_method)


def package_student(
    teacher_dir: Path, dataset_path: Path, out_dir: Path, config: DistillConfig | None = None, *,
    cache_dir: Path | None = None, test_rows: int | None = None, seed: int = 13,
) -> dict[str, Any]:
    """Distil the transformer or ONNX model at ``teacher_dir`` into a student (family ``student``) over the
    whole training split (labelled rows and unlabelled ordinary mail alike); save it to ``out_dir`` and
    return the report, with the student's decisions against the teacher's on the test split."""
    from pipelines.distill import DistillConfig, distill, teacher_token_embeddings

    config = config or DistillConfig()
    teacher = load_classifier(teacher_dir)
    if teacher.family not in ("transformer", "onnx"):
        raise ModelFormatError(f"students are distilled from a transformer or ONNX model, {teacher_dir} is {teacher.family!r}")
    table = teacher_token_embeddings(teacher_dir)
    with tempfile.TemporaryDirectory() as work:
        scorer = _fast(teacher, Path(work))
        texts = load_split(dataset_path, "train")["text"].tolist()
        student, report = distill(scorer, texts, table, config, cache=model_cache(cache_dir, teacher_dir, "distill-train"))
        test = _sample(load_split(dataset_path, "test"), test_rows, seed)
        windows = split_windows(test["text"].tolist(), teacher.window_config_)
        teacher_test = _messages(windows, unit_scores(scorer, windows.units, model_cache(
            cache_dir, teacher_dir, f"test-{len(test)}")), teacher)
    from models.onnx_export import decision_report

    started = time.perf_counter()
    student_windows = student.predict_proba(windows.units)
    report["student_seconds_per_window"] = (time.perf_counter() - started) / max(len(windows.units), 1)
    report["test"] = decision_report(teacher_test, teacher.thresholds_, _messages(windows, student_windows, student),
                                     student.thresholds_, test[list(LABELS)].to_numpy())
    student.teacher_ = str(teacher_dir)
    student.data_revision_ = getattr(teacher, "data_revision_", "")
    student.save(out_dir)
    _write_report(out_dir, {"student": report})
    log.info("distilled %s into %s (%d units)", teacher_dir, out_dir, report["units"])
    return report


def package_cascade(
    cheap_dir: Path, expensive_dir: Path, dataset_path: Path, out_dir: Path, *, target_recall: float = 0.99,
    gate_on: GateOn = "labels", curve: Sequence[float] = (), cache_dir: Path | None = None,
    test_rows: int | None = None, val_rows: int | None = None, seed: int = 13,
) -> dict[str, Any]:
    """Build a cascade (cheap model gates the expensive one) with gates chosen on validation; save it to
    ``out_dir`` and return how it compares with the expensive model alone on the test split.

    ``gate_on="labels"``: each gate passes ``target_recall`` of the label's gold validation positives (cheap
    message scores); the report is :func:`models.cascade.cascade_report` (both models run on the test split).
    ``gate_on="teacher"``: each gate passes ``target_recall`` of the messages the expensive model flags, at the
    windows that made it flag them; the report compares decisions per label with the expensive model alone
    (agreement, recall, escalated windows) for ``target_recall`` and every value of ``curve``, computed from
    window scores (each test window read once by each model), and checks that computation against the
    saved cascade scoring a sample of test mail itself. ``test_rows`` samples both splits, ``val_rows`` only the
    validation split (the expensive model scores every validation window once).
    """
    cheap, expensive = load_classifier(cheap_dir), load_classifier(expensive_dir)
    val = _sample(load_split(dataset_path, "validation"), test_rows if val_rows is None else val_rows, seed)
    test = _sample(load_split(dataset_path, "test"), test_rows, seed)
    X_val, Y_val = val["text"].tolist(), val[list(LABELS)].to_numpy()
    if gate_on == "labels":
        cascade = CascadeClassifier.from_fitted(cheap, expensive, X_val, Y_val, target_recall=target_recall)
        _lineage(cascade, expensive)
        cascade.save(out_dir)
        report: dict[str, Any] = cascade_report(cascade, test["text"].tolist(), test[list(LABELS)].to_numpy())
        report["target_recall"] = target_recall
        _write_report(out_dir, {"cascade": report})
        return report
    if expensive.message_labels_:
        raise ConfigError("gates on the expensive model's decisions need a model without whole-message labels; "
                          "use --gate-on labels")
    thresholds = np.asarray(expensive.thresholds_, dtype=float)
    val_w = split_windows(X_val, expensive.window_config_)
    val_cheap = unit_scores(cheap, val_w.units)
    with tempfile.TemporaryDirectory() as work:  # a copy on every core scores; the saved cascade keeps its setting
        scorer = _fast(load_classifier(expensive_dir), Path(work))
        val_exp = unit_scores(scorer, val_w.units, model_cache(cache_dir, expensive_dir, f"validation-{len(val)}"))
        test_w = split_windows(test["text"].tolist(), expensive.window_config_)
        test_exp = unit_scores(scorer, test_w.units, model_cache(cache_dir, expensive_dir, f"test-{len(test)}"))

    val_flags = (message_scores(val_w, val_exp, expensive) >= thresholds).astype(int)
    val_gate_scores = gate_scores(val_w, val_cheap, val_exp, thresholds)

    def gates_for(recall: float) -> np.ndarray:
        return fit_gate(val_gate_scores, val_flags, recall, fallback=np.asarray(cheap.thresholds_, dtype=float))

    # no validation messages here: the gates are fitted on window scores just below
    cascade = CascadeClassifier.from_fitted(cheap, expensive, [], np.zeros((0, len(LABELS))), target_recall=target_recall)
    cascade.gates_ = gates_for(target_recall)
    _lineage(cascade, expensive)
    cascade.save(out_dir)

    started = time.perf_counter()
    test_cheap = unit_scores(cheap, test_w.units)
    cheap_seconds = time.perf_counter() - started
    Y = test[list(LABELS)].to_numpy()
    points = []
    for recall in sorted({target_recall, *curve}):
        points.append({"target_recall": recall, **_cascade_point(test_w, test_cheap, test_exp, gates_for(recall),
                                                                  thresholds, expensive, Y)})
    report = {
        "gate_on": gate_on, "target_recall": target_recall, "gates": cascade.gates_.tolist(), "n_test": len(test),
        "n_test_windows": len(test_w.units), "cheap_seconds_per_window": cheap_seconds / max(len(test_w.units), 1),
        "curve": points, "check": _check_simulation(cascade, test_w, test_cheap, test_exp, thresholds, seed),
    }
    _write_report(out_dir, {"cascade": report})
    return report


def _cascade_point(windows: SplitWindows, cheap: np.ndarray, expensive: np.ndarray, gates: np.ndarray,
                   thresholds: np.ndarray, model: Classifier, Y: np.ndarray) -> dict[str, Any]:
    """Return the cascade's decisions against the expensive model's alone at ``gates`` (from window scores)."""
    from models.onnx_export import decision_report

    mixed, up = cascade_window_scores(cheap, expensive, gates, thresholds)
    report = decision_report(message_scores(windows, expensive, model), thresholds,
                             message_scores(windows, mixed, model), thresholds, Y)
    recall = report.pop("recall")
    report["recall_expensive"], report["recall_cascade"] = recall["reference"], recall["candidate"]
    report["recall_loss"] = {lb: recall["reference"][lb] - recall["candidate"][lb] for lb in recall["reference"]}
    report["min_decision_agreement"] = min(report["decision_agreement"].values())
    report["max_recall_loss"] = max(report["recall_loss"].values(), default=0.0)
    report["escalated_windows"] = float(up.mean()) if len(up) else 0.0
    report["gates"] = gates.tolist()
    return report


def _check_simulation(cascade: Any, windows: SplitWindows, cheap: np.ndarray, expensive: np.ndarray,
                      thresholds: np.ndarray, seed: int, n: int = 200) -> dict[str, float]:
    """Return the largest difference between the cascade scoring ``n`` test messages itself and the window-score
    computation of the same messages (it should be ~0: the curve is then what the cascade does)."""
    picked = sorted(random.Random(seed).sample(range(windows.n_messages), min(n, windows.n_messages)))
    real = cascade.score_texts([windows.texts[i] for i in picked]).proba
    mixed, _ = cascade_window_scores(cheap, expensive, cascade.gates_, thresholds)
    computed = message_scores(windows, mixed, cascade.expensive_)[picked]
    return {"messages": len(picked), "max_abs_diff": float(np.abs(real - computed).max(initial=0.0))}


def _fast(model: Classifier, work: Path) -> Classifier:
    """Return ``model`` ready to score many windows on every core: a transformer as its ONNX fp32 export (same
    scores), an ONNX model with ONNX Runtime's own thread count (a package may be set to one thread per worker)."""
    if model.family == "onnx":
        model.num_threads = None  # type: ignore[attr-defined]
        return model
    if model.family != "transformer":
        return model
    from models.onnx_export import export_onnx, onnx_classifier

    return onnx_classifier(model, export_onnx(model, work), "fp32")  # type: ignore[arg-type]


def _timed_scores(model: OnnxClassifier, windows: SplitWindows, cache: Path | None) -> dict[str, Any]:
    started = time.perf_counter()
    proba = unit_scores(model, windows.units, cache)
    return {"proba": proba, "seconds_per_window": (time.perf_counter() - started) / max(len(windows.units), 1)}


def _messages(windows: SplitWindows, window_proba: np.ndarray, model: Classifier) -> np.ndarray:
    whole = whole_message_units(windows, model)
    return message_scores(windows, window_proba, model, model.predict_proba(whole) if whole else None)


def _seed_cache(cache_dir: Path | None, model_dir: Path, name: str, windows: SplitWindows, proba: np.ndarray) -> None:
    cache = model_cache(cache_dir, model_dir, name)
    if cache is not None:
        store_scores(cache, windows.units, proba)


def _sample(df: Any, rows: int | None, seed: int) -> Any:
    """Return ``rows`` random rows of ``df`` in their original order (all of it when None or larger)."""
    if rows is None or rows >= len(df):
        return df
    return df.sample(rows, random_state=seed).sort_index().reset_index(drop=True)


def _lineage(model: Classifier, source: Classifier) -> None:
    model.data_revision_ = getattr(source, "data_revision_", "")
    model.mlflow_run_id_ = getattr(source, "mlflow_run_id_", "")


def package_thresholds(
    model_dir: Path, dataset_path: Path, out_dir: Path, *, rule: ThresholdRule, precision_target: float = 0.8
) -> dict[str, Any]:
    """Choose a model's per-label thresholds again on the validation split with ``rule``; save a copy to
    ``out_dir`` and return the old and new thresholds with validation precision and recall at each.

    Changes the operating point without retraining. Refuses a dataset other than the one the model was
    trained on (its validation rows could overlap the model's training rows).
    """
    from pipelines.metrics import choose_thresholds, label_metrics
    from pipelines.train import data_revision

    clf = load_classifier(model_dir)
    revision, trained_on = data_revision(dataset_path), str(getattr(clf, "data_revision_", ""))
    if trained_on and revision != trained_on:
        raise ConfigError(f"{model_dir} was trained on data revision {trained_on}, {dataset_path} is {revision}; "
                          "choose thresholds on the validation split of the model's own dataset")
    val = load_split(dataset_path, "validation")
    Y = val[list(LABELS)].to_numpy()
    proba = clf.score_texts(val["text"].tolist()).proba
    old = np.array(clf.thresholds_, dtype=float)
    clf.set_thresholds(choose_thresholds(proba, Y, rule=rule, precision_target=precision_target))
    clf.save(out_dir)
    before, after = label_metrics(Y, proba, old), label_metrics(Y, proba, clf.thresholds_)
    report: dict[str, Any] = {"rule": rule, "precision_target": precision_target, "n_validation": len(val), "per_label": {
        lb: {"old_threshold": float(old[j]), "new_threshold": float(clf.thresholds_[j]),
             **{f"{when}_{k}": float(m[lb][k]) for when, m in (("old", before), ("new", after))
                for k in ("precision", "recall")}}
        for j, lb in enumerate(LABELS)
    }}
    _write_report(out_dir, {"thresholds": report})
    log.info("re-chose thresholds of %s with rule %s -> %s", model_dir, rule, out_dir)
    return report


def _write_report(out_dir: Path, report: dict[str, Any]) -> None:
    path = out_dir / REPORT_FILE
    existing = json.loads(path.read_text()) if path.is_file() else {}
    existing.update(report)
    path.write_text(json.dumps(existing, indent=2, default=float) + "\n", encoding="utf-8")
