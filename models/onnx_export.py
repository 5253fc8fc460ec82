"""Packaging a trained transformer for fast CPU scoring: ONNX export, int8 quantisation, agreement checks.

This is the training side of the ``onnx`` family (:mod:`models.onnx_model`): it needs torch to export,
the packaged folder does not. int8 is kept only when it keeps what users see: the per-label decisions
at the shipped thresholds and the PR-AUC of each label (:func:`agreement`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mailguard.errors import ModelFormatError
from mailguard.taxonomy import LABELS
from models.base import Classifier
from models.onnx_model import ONNX_FILES, OnnxClassifier
from models.tokens import length_batches, pad_batch
from models.transformer import TransformerClassifier

OPSET = 18
MAX_INT8_PR_AUC_DROP = 0.005  # int8 is kept only if no label's PR-AUC falls by more than this
MIN_INT8_AGREEMENT = 0.99  # and every label's decisions agree with fp32 on at least this share of messages


def export_onnx(clf: TransformerClassifier, out_dir: str | Path) -> Path:
    """Return the path of ``model.onnx`` (fp32 logits, dynamic batch and sequence) written into ``out_dir``."""
    out = Path(out_dir) / ONNX_FILES["fp32"]
    out.parent.mkdir(parents=True, exist_ok=True)
    model = clf.model_.eval()
    ids = clf.special_ids_
    # batch 2 and length 6 so the exporter does not specialise either axis to 0/1
    input_ids = torch.tensor([[ids.cls, 1000, 1001, 1002, 1003, ids.sep], [ids.cls, 1004, ids.sep, ids.pad, ids.pad, ids.pad]])
    mask = (torch.arange(6).unsqueeze(0) < torch.tensor([[6], [3]])).long()
    dyn = {0: torch.export.Dim.DYNAMIC, 1: torch.export.Dim.DYNAMIC}
    try:
        torch.onnx.export(
            model, (input_ids, mask), str(out), input_names=["input_ids", "attention_mask"], output_names=["logits"],
            dynamic_shapes=(dyn, dyn), opset_version=OPSET, external_data=False, verbose=False,
        )
    except Exception as e:  # the exporter raises many unrelated types; one actionable error is enough
        raise ModelFormatError(f"ONNX export of the transformer failed: {e}") from e
    return out


#: Parts of the graph int8 leaves in fp32 by default: the head turns the pooled vector into the logits the
#: thresholds cut, and the first and last encoder layers see the raw embeddings and shape the pooled output.
KEEP_FP32 = ("head", "first", "last")
KEEP_FP32_CHOICES = ("head", "first", "last", "attention")
#: Activations per batch during calibration: enough windows for stable ranges, few enough for 2 cores.
CALIBRATION_BATCH = 16


def sensitive_nodes(onnx_path: str | Path, keep: Sequence[str] = KEEP_FP32) -> list[str]:
    """Return the names of the MatMul/Gemm nodes of the parts named in ``keep`` (see :data:`KEEP_FP32_CHOICES`).

    The exporter records each node's module path (``namespace``): ``.../head: ...`` for the classifier head,
    ``encoder.encoder.layer.<i>.`` inside encoder layer ``i``, ``scaled_dot_product_attention`` for the
    attention products. LayerNorm, Softmax and GELU are never quantised (only MatMul/Gemm are).
    """
    import onnx

    unknown = set(keep) - set(KEEP_FP32_CHOICES)
    if unknown:
        raise ValueError(f"unknown part(s) to keep in fp32: {sorted(unknown)}; choose from {KEEP_FP32_CHOICES}")
    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    nodes = [(n.name, {p.key: p.value for p in n.metadata_props}.get("namespace", "")) for n in graph.node
             if n.op_type in ("MatMul", "Gemm")]
    layer_of = {name: int(m.group(1)) for name, ns in nodes if (m := re.search(r"\.layer\.(\d+)\.", ns))}
    if not layer_of and set(keep) & {"first", "last"}:
        raise ModelFormatError(f"{onnx_path} records no encoder layers in its node metadata; cannot keep layers in fp32")
    first, last = min(layer_of.values(), default=0), max(layer_of.values(), default=0)
    wanted = []
    for name, ns in nodes:
        if (("head" in keep and "/head:" in ns) or ("first" in keep and layer_of.get(name) == first)
                or ("last" in keep and layer_of.get(name) == last)
                or ("attention" in keep and "scaled_dot_product_attention" in ns)):
            wanted.append(name)
    return wanted


def calibration_batches(units: Sequence[np.ndarray], pad_id: int, batch_size: int = CALIBRATION_BATCH,
                        width: int | None = None) -> list[dict[str, np.ndarray]]:
    """Return model inputs for calibration: ``units`` (token ids) in padded batches of similar length, or all
    padded to ``width`` tokens (the histogram calibrators, entropy and percentile, need one shape)."""
    batches = []
    for batch in length_batches([len(u) for u in units], batch_size):
        if width is not None and len(batch) < batch_size:
            continue  # one shape means one batch size too
        input_ids, mask = pad_batch([units[k] for k in batch], pad_id)
        if width is not None and input_ids.shape[1] < width:
            grow = ((0, 0), (0, width - input_ids.shape[1]))
            input_ids, mask = np.pad(input_ids, grow, constant_values=pad_id), np.pad(mask, grow)
        batches.append({"input_ids": input_ids, "attention_mask": mask})
    return batches


#: int8 recipes: "dynamic" (int8 weights per output channel, activation ranges measured per batch at run time),
#: "static" (QDQ: activation ranges fixed by calibration), "blockwise" (int8 weights with one scale per block of
#: ``block_size`` inputs, activations quantised per block at run time: MatMulNBits with int8 compute).
INT8_METHODS = ("dynamic", "static", "blockwise")


def quantize_int8(
    onnx_path: str | Path, per_channel: bool = True, *, method: str = "dynamic",
    calibration: Sequence[dict[str, np.ndarray]] | None = None, keep_fp32: Sequence[str] = (),
    calibrate_method: str = "minmax", block_size: int = 32,
) -> Path:
    """Return the path of ``model.int8.onnx`` next to ``onnx_path``, quantised by ``method`` (:data:`INT8_METHODS`).

    ``static`` needs ``calibration`` (:func:`calibration_batches`) and fixes activation ranges from it by
    ``calibrate_method`` (minmax, entropy, percentile). Every method quantises only the MatMul/Gemm weights
    (the cost) and leaves the parts named in ``keep_fp32`` (:func:`sensitive_nodes`) in fp32.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static

    if method not in INT8_METHODS:
        raise ValueError(f"method must be one of {INT8_METHODS}, got {method!r}")
    onnx_path = Path(onnx_path)
    out = onnx_path.with_name(ONNX_FILES["int8"])
    exclude = sensitive_nodes(onnx_path, keep_fp32) if keep_fp32 else []
    if method == "dynamic":
        quantize_dynamic(onnx_path, out, weight_type=QuantType.QInt8, per_channel=per_channel,
                         op_types_to_quantize=["MatMul", "Gemm"], nodes_to_exclude=exclude)
        return out
    if method == "blockwise":
        return _quantize_blockwise(onnx_path, out, block_size, exclude)
    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    if calibrate_method not in methods:
        raise ValueError(f"calibrate_method must be one of {tuple(methods)}, got {calibrate_method!r}")
    if not calibration:
        raise ValueError("static quantisation needs at least one calibration batch")
    quantize_static(
        onnx_path, out, _BatchReader(list(calibration)), quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["MatMul", "Gemm"], per_channel=per_channel, activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8, nodes_to_exclude=exclude, calibrate_method=methods[calibrate_method],
        # weights symmetric so int8 products need no zero-point correction; activations use their full range
        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
    )
    return out


def _quantize_blockwise(onnx_path: Path, out: Path, block_size: int, exclude: list[str]) -> Path:
    """Write ``out``: MatMul weights as 8-bit blocks (MatMulNBits), int8 compute (``accuracy_level`` 4)."""
    import logging

    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    config = DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=True, accuracy_level=4, bits=8)
    quantizer = MatMulNBitsQuantizer(onnx.load(str(onnx_path)), bits=8, block_size=block_size, is_symmetric=True,
                                     accuracy_level=4, nodes_to_exclude=exclude, algo_config=config)
    quiet = logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # it logs every node it visits at INFO
    try:
        quantizer.process()
    finally:
        quiet.setLevel(level)
    quantizer.model.save_model_to_file(str(out), False)
    return out


class _BatchReader:
    """The ``CalibrationDataReader`` protocol over a list of input batches."""

    def __init__(self, batches: list[dict[str, np.ndarray]]) -> None:
        self._batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def onnx_classifier(clf: TransformerClassifier, onnx_path: Path, precision: str) -> OnnxClassifier:
    """Return the ONNX family model scoring with ``onnx_path``, carrying ``clf``'s thresholds, unit and lineage."""
    out = OnnxClassifier.from_files(onnx_path, clf.tokenizer_, clf.special_ids_, max_length=clf.max_length,
                                    batch_size=clf.batch_size, precision=precision, num_threads=clf.num_threads)
    out.set_thresholds(np.asarray(clf.thresholds_, dtype=float).copy())
    out.set_scoring_unit(clf.window_config_, clf.message_labels_)
    out.data_revision_ = getattr(clf, "data_revision_", "")
    out.mlflow_run_id_ = getattr(clf, "mlflow_run_id_", "")
    return out


def agreement(reference: Classifier, candidate: Classifier, texts: Sequence[str], Y: np.ndarray) -> dict[str, Any]:
    """Return how far ``candidate`` is from ``reference`` in what users see, on ``texts`` with gold ``Y``.

    Both score ``texts`` as mail (maximum over windows); see :func:`decision_report` for the keys, plus
    ``seconds`` per model. Numbers only.
    """
    proba, seconds = {}, {}
    for name, clf in (("reference", reference), ("candidate", candidate)):
        started = time.perf_counter()
        proba[name] = clf.score_texts(list(texts)).proba
        seconds[name] = time.perf_counter() - started
    report = decision_report(proba["reference"], reference.thresholds_, proba["candidate"], candidate.thresholds_, Y)
    return {**report, "seconds": seconds}


def decision_report(reference: np.ndarray, reference_thresholds: np.ndarray, candidate: np.ndarray,
                    candidate_thresholds: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
    """Return how far the ``candidate`` scores are from the ``reference`` scores (n, labels) in what users see.

    Keys: ``decision_agreement`` per label (share of texts where both flag or both do not, each at its
    own thresholds), ``flagged`` per model and label, ``recall`` per model and label (of gold ``Y``),
    ``pr_auc`` per model and label (labels without positives left out), ``pr_auc_drop`` per label
    (reference minus candidate), ``max_abs_diff``, ``n``. Numbers only.
    """
    from sklearn.metrics import average_precision_score

    Y = np.asarray(Y) > 0
    proba = {"reference": np.asarray(reference, dtype=float), "candidate": np.asarray(candidate, dtype=float)}
    flags = {"reference": proba["reference"] >= np.asarray(reference_thresholds),
             "candidate": proba["candidate"] >= np.asarray(candidate_thresholds)}
    present = [j for j in range(len(LABELS)) if Y[:, j].any()]
    pr_auc = {name: {LABELS[j]: float(average_precision_score(Y[:, j], p[:, j])) for j in present}
              for name, p in proba.items()}
    return {
        "decision_agreement": {lb: float((flags["reference"][:, j] == flags["candidate"][:, j]).mean())
                               for j, lb in enumerate(LABELS)},
        "flagged": {name: {lb: int(f[:, j].sum()) for j, lb in enumerate(LABELS)} for name, f in flags.items()},
        "recall": {name: {LABELS[j]: float((f[:, j] & Y[:, j]).sum() / Y[:, j].sum()) for j in present}
                   for name, f in flags.items()},
        "pr_auc": pr_auc,
        "pr_auc_drop": {lb: pr_auc["reference"][lb] - pr_auc["candidate"][lb] for lb in pr_auc["reference"]},
        "max_abs_diff": float(np.abs(proba["reference"] - proba["candidate"]).max(initial=0.0)),
        "n": len(Y),
    }


def matching_thresholds(candidate: np.ndarray, reference_flags: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Return per-label thresholds on ``candidate`` scores that reproduce ``reference_flags`` best (fewest
    disagreements; ``fallback`` where the reference never flags). Chosen on validation, judged on test."""
    candidate, reference_flags = np.asarray(candidate, dtype=float), np.asarray(reference_flags, dtype=bool)
    out = np.asarray(fallback, dtype=float).copy()
    for j in range(candidate.shape[1]):
        if not reference_flags[:, j].any():
            continue
        order = np.argsort(-candidate[:, j], kind="stable")
        scores, flagged = candidate[order, j], reference_flags[order, j]
        # cutting after the k highest scores: missed reference flags + extra flags
        errors = (flagged.sum() - np.cumsum(flagged)) + np.cumsum(~flagged)
        distinct = np.r_[scores[1:] < scores[:-1], True]  # only cut between different scores
        k = int(np.flatnonzero(distinct)[np.argmin(errors[distinct])])
        # halfway to the next lower score: the same validation flags, less tied to one validation score
        out[j] = float((scores[k] + scores[k + 1]) / 2 if k + 1 < len(scores) else scores[k])
    return out


def int8_keeps_decisions(report: dict[str, Any], *, max_drop: float = MAX_INT8_PR_AUC_DROP,
                         min_agreement: float = MIN_INT8_AGREEMENT) -> bool:
    """Return True when an :func:`agreement` report of int8 against fp32 passes both rules."""
    return (all(v >= min_agreement for v in report["decision_agreement"].values())
            and all(d <= max_drop for d in report["pr_auc_drop"].values()))
