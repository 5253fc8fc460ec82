"""The self-describing saved-model format shared by every family.

A saved model is a folder holding ``mailguard_model.json`` (family, label
order, thresholds, the scoring unit they were chosen on, resolved config, data
revision, library versions) plus the
family's own files. Loading refuses a folder without it or with another label set.
"""

from __future__ import annotations

import json
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mailguard.errors import ModelFormatError, ModelNotFoundError
from mailguard.segments import WindowConfig
from mailguard.taxonomy import LABELS
from models.families import family_class

if TYPE_CHECKING:
    from models.base import Classifier

META_FILE = "mailguard_model.json"
FORMAT_VERSION = 1


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("mailguard", "scikit-learn", "numpy", "torch", "transformers", "onnxruntime"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def save_classifier(clf: Classifier, path: Path, data_revision: str = "") -> Path:
    """Write ``clf`` to the folder ``path`` (created) and return it."""
    path.mkdir(parents=True, exist_ok=True)
    extra = clf._save_payload(path)
    meta = {
        "format_version": FORMAT_VERSION,
        "family": clf.family,
        "labels": list(LABELS),
        "thresholds": [float(t) for t in clf.thresholds_],
        "scoring_unit": {"windows": clf.window_config_.as_dict(), "message_labels": list(clf.message_labels_)},
        "params": _jsonable(clf.get_params()),
        "data_revision": data_revision or getattr(clf, "data_revision_", ""),
        "mlflow_run_id": getattr(clf, "mlflow_run_id_", ""),
        "versions": _versions(),
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
    }
    (path / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_metadata(path: str | Path) -> dict[str, Any]:
    """Return the metadata of the saved model at ``path``; raise if it is not one."""
    path = Path(path)
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise ModelNotFoundError(f"{path} is not a saved mailguard model (no {META_FILE})")
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelFormatError(f"cannot read {meta_path}: {e}") from e
    if meta.get("labels") != list(LABELS):
        raise ModelFormatError(
            f"model at {path} was trained for labels {meta.get('labels')}, this mailguard uses {list(LABELS)}"
        )
    return meta


def load_classifier(path: str | Path) -> Classifier:
    """Return the classifier saved at ``path``, whatever its family."""
    path = Path(path)
    meta = read_metadata(path)
    try:
        cls = family_class(str(meta.get("family", "")))
    except ModelFormatError as e:
        raise ModelFormatError(f"model at {path}: {e}") from e
    clf = cls._load_payload(path, meta)
    clf.classes_ = np.array(LABELS)
    clf.set_thresholds(np.asarray(meta["thresholds"], dtype=float))
    unit = meta.get("scoring_unit") or {}
    try:
        clf.set_scoring_unit(WindowConfig.from_dict(unit.get("windows")), unit.get("message_labels") or ())
    except (TypeError, ValueError) as e:
        raise ModelFormatError(f"model at {path} has an unusable scoring_unit in its metadata: {e}") from e
    clf.data_revision_ = meta.get("data_revision", "")
    clf.mlflow_run_id_ = meta.get("mlflow_run_id", "")
    return clf


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)
