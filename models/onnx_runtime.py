"""Fast CPU inference for the transformer family: ONNX export, int8 quantisation, ONNX Runtime scoring.

A transformer saved folder records ``runtime`` (``torch``, ``onnx`` or ``onnx-int8``) and,
for the ONNX runtimes, carries ``model.onnx`` or ``model.int8.onnx``; loading it then scores
with ONNX Runtime and never imports torch. Tokenisation, windowing and aggregation are the
same code for every runtime (:mod:`models.tokens`, :mod:`models.base`); only the unit scorer differs.

Typical use after training::

    report = compare_runtimes(clf, X_test, Y_test, work_dir=tmp)
    use_best_runtime(clf, report)     # onnx-int8 when it keeps PR-AUC, else onnx
    clf.save(model_dir)
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mailguard.errors import ModelFormatError
from mailguard.taxonomy import LABELS
from models.tokens import Forward

if TYPE_CHECKING:
    from models.transformer import TransformerClassifier

OPSET = 18
MAX_INT8_PR_AUC_DROP = 0.005  # int8 is kept only if no label's test PR-AUC falls by more than this


def export_onnx(clf: TransformerClassifier, out_dir: str | Path) -> Path:
    """Return the path of ``model.onnx`` (fp32 logits, dynamic batch and sequence) written into ``out_dir``."""
    import torch

    from models.transformer import ONNX_FILES

    out = Path(out_dir) / ONNX_FILES["onnx"]
    out.parent.mkdir(parents=True, exist_ok=True)
    model = clf.torch_model().eval()
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


def quantize_int8(onnx_path: str | Path, per_channel: bool = True) -> Path:
    """Return the path of ``model.int8.onnx`` next to ``onnx_path``: dynamic quantisation, int8 weights."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from models.transformer import ONNX_FILES

    onnx_path = Path(onnx_path)
    out = onnx_path.with_name(ONNX_FILES["onnx-int8"])
    # MatMul weights carry nearly all the cost; per-channel scales keep the small head accurate
    quantize_dynamic(onnx_path, out, weight_type=QuantType.QInt8, per_channel=per_channel, op_types_to_quantize=["MatMul", "Gemm"])
    return out


def onnx_forward(onnx_path: str | Path, num_threads: int | None = None) -> Forward:
    """Return a window scorer running ``onnx_path`` with ONNX Runtime on CPU (sigmoid of the logits)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.inter_op_num_threads = 1
    if num_threads:
        options.intra_op_num_threads = num_threads
    try:
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types for unreadable models
        raise ModelFormatError(f"cannot open ONNX model {onnx_path}: {e}") from e

    def forward(input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        (logits,) = session.run(["logits"], {"input_ids": input_ids, "attention_mask": attention_mask})
        return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))

    return forward


def export_runtimes(clf: TransformerClassifier, out_dir: str | Path) -> dict[str, Path]:
    """Return ``{"onnx": fp32 path, "onnx-int8": int8 path}``, exporting whichever is not yet in ``out_dir``."""
    from models.transformer import ONNX_FILES

    out_dir = Path(out_dir)
    fp32 = out_dir / ONNX_FILES["onnx"]
    if not fp32.is_file():
        export_onnx(clf, out_dir)
    int8 = out_dir / ONNX_FILES["onnx-int8"]
    if not int8.is_file():
        quantize_int8(fp32)
    return {"onnx": fp32, "onnx-int8": int8}


def compare_runtimes(
    clf: TransformerClassifier,
    texts: Sequence[str],
    Y: np.ndarray,
    work_dir: str | Path | None = None,
    max_drop: float = MAX_INT8_PR_AUC_DROP,
) -> dict[str, Any]:
    """Return how far ONNX fp32 and int8 scores are from torch's on ``texts`` and which runtime to keep.

    Keys: ``max_abs_diff`` and ``seconds`` per runtime, ``pr_auc`` per runtime and label (labels
    without positives in ``Y`` are left out), ``pr_auc_drop`` per ONNX runtime and label (torch
    minus ONNX), ``int8_ok`` (no label drops more than ``max_drop``), ``chosen_runtime``
    (``onnx-int8`` if ``int8_ok`` else ``onnx``) and ``files`` (the exported paths, in ``work_dir``
    or a temporary folder that is kept). Numbers only: safe to log.
    """
    from sklearn.metrics import average_precision_score

    Y = np.asarray(Y)
    work = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="mailguard-onnx-"))
    files = export_runtimes(clf, work)
    forwards: dict[str, Forward] = {"torch": clf.torch_forward()}
    forwards.update({rt: onnx_forward(p, clf.num_threads) for rt, p in files.items()})
    proba: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for runtime, forward in forwards.items():
        started = time.perf_counter()
        proba[runtime] = clf.score_with(texts, forward).proba
        seconds[runtime] = time.perf_counter() - started
    present = [j for j in range(len(LABELS)) if Y[:, j].any()]
    pr_auc = {rt: {LABELS[j]: float(average_precision_score(Y[:, j], p[:, j])) for j in present} for rt, p in proba.items()}
    drops = {rt: {lb: pr_auc["torch"][lb] - pr_auc[rt][lb] for lb in pr_auc["torch"]} for rt in files}
    int8_ok = all(d <= max_drop for d in drops["onnx-int8"].values())
    return {
        "max_abs_diff": {rt: float(np.abs(proba[rt] - proba["torch"]).max(initial=0.0)) for rt in files},
        "seconds": seconds,
        "pr_auc": pr_auc,
        "pr_auc_drop": drops,
        "int8_ok": int8_ok,
        "chosen_runtime": "onnx-int8" if int8_ok else "onnx",
        "files": {rt: str(p) for rt, p in files.items()},
    }


def use_best_runtime(clf: TransformerClassifier, report: dict[str, Any]) -> TransformerClassifier:
    """Return ``clf`` switched to the runtime :func:`compare_runtimes` chose (saved with it by ``clf.save``)."""
    runtime = report["chosen_runtime"]
    return clf.use_runtime(runtime, Path(report["files"][runtime]))
