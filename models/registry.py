"""The MLflow model registry: log and register trained models, resolve ``champion`` to a classifier.

Defaults to a local store inside the working directory (``.mlflow/mlflow.db`` and
``.mlflow/artifacts``) so nothing needs a server; ``MLFLOW_TRACKING_URI`` overrides it.
Only parameters, metrics and model files are logged: never message text.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailguard.errors import ModelNotFoundError

if TYPE_CHECKING:
    from models.base import Classifier

log = logging.getLogger(__name__)

MODEL_NAME = "mailguard"
EXPERIMENT = "mailguard"
LOCAL_STORE = Path(".mlflow")


@dataclass(frozen=True)
class LoadedModel:
    """The one record of a model in use: the classifier and the lineage written with everything it scores.

    Scoring writes ``version`` and ``run_id`` on every results row; evaluation and promotion use them to
    find the model's MLflow run; ``path`` is the saved-model folder (workers load their own copy from it).
    """

    classifier: Classifier
    version: str  # "mailguard/3" for registry models, "path:<digest of every file>" for folders
    run_id: str = ""  # the MLflow run that trained it ("" when unknown)
    path: Path | None = None


def configure_mlflow() -> str:
    """Point MLflow at ``MLFLOW_TRACKING_URI`` or the local default store; return the tracking URI."""
    import mlflow

    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        LOCAL_STORE.mkdir(exist_ok=True)
        uri = f"sqlite:///{(LOCAL_STORE / 'mlflow.db').resolve()}"
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        artifact_location = None
        if uri.startswith("sqlite:///"):  # keep artifacts beside the database file, not in the cwd
            artifact_location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
        mlflow.create_experiment(EXPERIMENT, artifact_location=artifact_location)
    mlflow.set_experiment(EXPERIMENT)
    return uri


def _client() -> Any:
    from mlflow import MlflowClient

    configure_mlflow()
    return MlflowClient()


def log_and_register(
    model_dir: Path,
    *,
    run_id: str,
    alias: str | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """Log the saved-model folder as a pyfunc model in run ``run_id``, register it, optionally alias it; return its version."""
    import mlflow

    from models.pyfunc import ARTIFACT_KEY, MailguardPyfunc, signature

    configure_mlflow()
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=MailguardPyfunc(),
            artifacts={ARTIFACT_KEY: str(model_dir)},
            signature=signature(),
            registered_model_name=MODEL_NAME,
            pip_requirements=["mailguard"],
        )
    version = str(info.registered_model_version)
    tag_version(version, tags or {})
    if alias:
        _client().set_registered_model_alias(MODEL_NAME, alias, version)
    log.info("registered %s version %s (run %s)%s", MODEL_NAME, version, run_id, f" as @{alias}" if alias else "")
    return version


def get_alias_version(alias: str) -> str | None:
    """Return the version number the alias points at, or ``None`` if the alias (or model) does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return str(_client().get_model_version_by_alias(MODEL_NAME, alias).version)
    except MlflowException:
        return None


def set_alias(alias: str, version: str, tags: dict[str, str] | None = None) -> None:
    """Point ``alias`` at ``version`` and record ``tags`` on that version."""
    _client().set_registered_model_alias(MODEL_NAME, alias, str(version))
    tag_version(version, tags or {})


_SPEC = re.compile(r"^(?:models:/)?(?:(?P<name>[\w.-]+)[@/])?(?P<ref>[\w.-]+)$")


def resolve_model(spec: str) -> LoadedModel:
    """Return the model named by ``spec``: a saved-model folder, an alias, ``name@alias`` or ``models:/name/N``.

    For a folder, ``run_id`` is the run its metadata records (training writes it), or "".
    """
    from models.saved import META_FILE, load_classifier, read_metadata

    path = Path(spec)
    if (path / META_FILE).is_file():
        run_id = str(read_metadata(path).get("mlflow_run_id") or "")
        return LoadedModel(load_classifier(path), f"path:{folder_digest(path)[:12]}", run_id, path)
    if path.exists() or "/" in spec and not spec.startswith("models:/"):
        raise ModelNotFoundError(f"{spec} is not a saved mailguard model folder")
    match = _SPEC.match(spec)
    if not match:
        raise ModelNotFoundError(f"cannot understand model {spec!r}: give an alias, name@alias, models:/name/N or a folder")
    name, ref = match["name"] or MODEL_NAME, match["ref"]
    return _resolve_registered(name, ref)


def folder_digest(path: Path) -> str:
    """Return the sha256 of every file in the saved-model folder ``path``: names and contents, sub-folders too.

    A folder model's version is this digest, so a payload swapped under an unchanged
    ``mailguard_model.json`` is a new version (its messages are scored again), never one
    that counts as already scored.
    """
    total = hashlib.sha256()
    files = sorted(Path(d) / f for d, _dirs, names in os.walk(path) for f in names)  # links to folders not entered
    for file in files:
        total.update(file.relative_to(path).as_posix().encode("utf-8", "surrogateescape") + b"\x00")
        one = hashlib.sha256()
        with file.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                one.update(chunk)
        total.update(one.digest())
    return total.hexdigest()


def _model_version(name: str, ref: str) -> Any:
    """Return the registry entry for version number or alias ``ref`` of model ``name``."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = _client()
    try:
        return client.get_model_version(name, ref) if ref.isdigit() else client.get_model_version_by_alias(name, ref)
    except MlflowException as e:
        raise ModelNotFoundError(
            f"no model '{name}' {'version' if ref.isdigit() else 'alias'} '{ref}' in the registry at "
            f"{mlflow.get_tracking_uri()} (train one with `mailguard train`, or pass a model folder)"
        ) from e


def registered_version(spec: str) -> tuple[str, str]:
    """Return ``(version, run_id)`` of the registered model named by a version, alias or MLflow run id.

    Accepts ``3``, ``models:/mailguard/3``, ``challenger``, ``mailguard@challenger``,
    ``runs:/<run id>`` or a bare 32-hex run id (the newest version that run logged).
    """
    run_id = spec.removeprefix("runs:/").split("/")[0] if spec.startswith("runs:/") else ""
    if not run_id and re.fullmatch(r"[0-9a-f]{32}", spec):
        run_id = spec
    if run_id:
        found = _client().search_model_versions(f"name='{MODEL_NAME}' and run_id='{run_id}'")
        if not found:
            raise ModelNotFoundError(f"run {run_id} has no registered '{MODEL_NAME}' model version")
        mv = max(found, key=lambda v: int(v.version))
    else:
        match = _SPEC.match(spec)
        if not match:
            raise ModelNotFoundError(
                f"cannot understand model {spec!r}: give a version (3, models:/mailguard/3), an alias or a run id"
            )
        mv = _model_version(match["name"] or MODEL_NAME, match["ref"])
    return str(mv.version), str(mv.run_id or "")


def _resolve_registered(name: str, ref: str) -> LoadedModel:
    import mlflow
    from mlflow.exceptions import MlflowException

    from models.saved import load_classifier

    mv = _model_version(name, ref)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{mv.version}"))
    except (MlflowException, OSError) as e:
        raise ModelNotFoundError(f"cannot fetch files of {name} version {mv.version}: {e}") from e
    model_dir = _saved_model_folder(local)
    return LoadedModel(load_classifier(model_dir), f"{name}/{mv.version}", mv.run_id or "", model_dir)


def _saved_model_folder(pyfunc_dir: Path) -> Path:
    """Return the saved-model folder inside a downloaded pyfunc model (MLflow keeps its original name)."""
    from models.saved import META_FILE

    found = sorted(p.parent for p in (pyfunc_dir / "artifacts").rglob(META_FILE))
    if not found:
        raise ModelNotFoundError(f"registered model files at {pyfunc_dir} hold no {META_FILE}")
    return found[0]


def tag_version(version: str, tags: dict[str, str]) -> None:
    """Record ``tags`` on a registered version without moving any alias."""
    client = _client()
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, str(version), key, value)
