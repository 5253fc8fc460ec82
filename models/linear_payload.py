"""The linear model's saved payload: arrays and JSON only, so that loading a model never runs code from it.

``linear.json`` holds the parameters of the two TF-IDF vectorizers and of each per-label logistic
regression, and both vocabularies (terms in column order); ``linear.npz`` holds the numbers (idf
vectors, coefficients, intercepts, class values), read with ``allow_pickle=False``. The scikit-learn
objects are rebuilt around them and score exactly as the fitted ones did.

Models saved before this format kept a pickle (``linear.joblib``), which runs whatever it holds
when loaded; they are refused. :func:`convert_pickled` re-saves such a model in this format, once,
for a model whose origin you trust.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from mailguard.errors import ModelFormatError

PAYLOAD_JSON = "linear.json"
PAYLOAD_ARRAYS = "linear.npz"
LEGACY_PICKLE = "linear.joblib"
#: Written to the model's metadata: which files hold the payload, and in what form.
PAYLOAD_FORMAT = "arrays+json/1"

Estimator: TypeAlias = LogisticRegression | float
_CALLABLE_PARAMS = ("preprocessor", "tokenizer", "analyzer")


def save_linear(path: Path, word: TfidfVectorizer, char: TfidfVectorizer, estimators: list[Estimator]) -> dict[str, Any]:
    """Write the vectorizers and per-label estimators into ``path``; return the metadata entries to store."""
    arrays: dict[str, np.ndarray] = {}
    described = []
    for name, vec in (("word", word), ("char", char)):
        arrays[f"{name}_idf"] = np.asarray(vec.idf_, dtype=np.float64)
        described.append(_vectorizer_json(vec))
    coefs: list[np.ndarray] = []
    classes: list[np.ndarray] = []
    intercepts: list[float] = []
    kinds: list[dict[str, Any]] = []
    for est in estimators:
        if isinstance(est, float):
            kinds.append({"kind": "constant", "value": est})
            continue
        kinds.append({"kind": "logistic", "row": len(coefs), "params": _jsonable_params(est.get_params())})
        coefs.append(np.asarray(est.coef_, dtype=np.float64).reshape(-1))
        intercepts.append(float(np.asarray(est.intercept_).reshape(-1)[0]))
        classes.append(np.asarray(est.classes_).astype(np.int64))
    n_features = len(arrays["word_idf"]) + len(arrays["char_idf"])
    arrays["coef"] = np.vstack(coefs) if coefs else np.zeros((0, n_features))
    arrays["intercept"] = np.asarray(intercepts, dtype=np.float64)
    arrays["classes"] = np.vstack(classes) if classes else np.zeros((0, 2), dtype=np.int64)
    state = {"format": PAYLOAD_FORMAT, "vectorizers": {"word": described[0], "char": described[1]}, "estimators": kinds}
    (path / PAYLOAD_JSON).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    np.savez_compressed(path / PAYLOAD_ARRAYS, **arrays)  # type: ignore[arg-type]  # numpy's stub misreads **kwargs
    return {"payload": [PAYLOAD_JSON, PAYLOAD_ARRAYS], "payload_format": PAYLOAD_FORMAT}


def load_linear(path: Path, meta: dict[str, Any]) -> tuple[TfidfVectorizer, TfidfVectorizer, list[Estimator]]:
    """Return the word and character vectorizers and the per-label estimators saved in ``path``.

    Raises ``ModelFormatError`` for a pickled payload (never loaded) or a damaged one.
    """
    if meta.get("payload") == LEGACY_PICKLE or (
        (path / LEGACY_PICKLE).exists() and not (path / PAYLOAD_JSON).exists()
    ):
        raise ModelFormatError(
            f"model at {path} keeps its linear payload as a pickle ({LEGACY_PICKLE}), which can run code when "
            f"loaded, so it is not loaded; if you trust where it came from, convert it once with "
            f"`mailguard package convert {path} --out NEW_FOLDER`"
        )
    try:
        state = json.loads((path / PAYLOAD_JSON).read_text(encoding="utf-8"))
        with np.load(path / PAYLOAD_ARRAYS, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        word = _vectorizer(state["vectorizers"]["word"], arrays["word_idf"])
        char = _vectorizer(state["vectorizers"]["char"], arrays["char_idf"])
        n_features = len(word.vocabulary_) + len(char.vocabulary_)
        estimators = [_estimator(e, arrays, n_features) for e in state["estimators"]]
    except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile) as e:
        raise ModelFormatError(f"cannot read linear model payload in {path}: {type(e).__name__}: {e}") from e
    return word, char, estimators


def _vectorizer_json(vec: TfidfVectorizer) -> dict[str, Any]:
    params = vec.get_params()
    for name in _CALLABLE_PARAMS:
        if callable(params.get(name)):  # code cannot be stored as data
            raise ModelFormatError(f"cannot save a TF-IDF vectorizer with a custom {name} as arrays and JSON")
    params["dtype"] = np.dtype(params["dtype"]).name
    terms: list[str] = [""] * len(vec.vocabulary_)
    for term, column in vec.vocabulary_.items():
        terms[column] = term
    return {"params": _jsonable_params(params), "terms": terms}


def _vectorizer(described: dict[str, Any], idf: np.ndarray) -> TfidfVectorizer:
    params = dict(described["params"])
    if any(not isinstance(params.get(name), str | None) for name in _CALLABLE_PARAMS):
        raise ValueError("vectorizer parameters must be plain values")
    params["dtype"] = np.dtype(params["dtype"]).type
    if isinstance(params.get("ngram_range"), list):
        params["ngram_range"] = tuple(params["ngram_range"])
    terms = described["terms"]
    if not all(isinstance(t, str) for t in terms) or len(set(terms)) != len(terms) or len(terms) != len(idf):
        raise ValueError("vocabulary and idf vector do not match")
    vec = TfidfVectorizer(**params)
    vec.vocabulary_ = {t: i for i, t in enumerate(terms)}
    vec.fixed_vocabulary_ = False
    vec.idf_ = np.asarray(idf, dtype=np.float64)
    vec._tfidf.n_features_in_ = len(terms)
    return vec


def _estimator(described: dict[str, Any], arrays: dict[str, np.ndarray], n_features: int) -> Estimator:
    if described["kind"] == "constant":
        return float(described["value"])
    if described["kind"] != "logistic":
        raise ValueError(f"unknown estimator kind {described['kind']!r}")
    row = int(described["row"])
    coef = np.asarray(arrays["coef"][row], dtype=np.float64).reshape(1, -1)
    if coef.shape[1] != n_features:
        raise ValueError(f"coefficients for {coef.shape[1]} features, vectorizers give {n_features}")
    params = dict(described["params"])
    if isinstance(params.get("class_weight"), dict):  # JSON keys are text; the classes are integers
        params["class_weight"] = {int(k): v for k, v in params["class_weight"].items()}
    est = LogisticRegression(**params)
    est.coef_ = coef
    est.intercept_ = np.asarray([arrays["intercept"][row]], dtype=np.float64)
    est.classes_ = np.asarray(arrays["classes"][row], dtype=np.int64)
    est.n_features_in_ = n_features
    return est


def _jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, dict):
            value = {str(k): v for k, v in value.items()}
        if isinstance(value, np.generic):
            value = value.item()
        json.dumps(value)  # fails loudly (TypeError) on anything that is not plain data
        out[key] = value
    return out


def convert_pickled(src: Path, dst: Path) -> list[Path]:
    """Copy the saved model ``src`` to ``dst`` with every pickled linear payload re-saved as arrays + JSON.

    Unpickling runs code: call this only for a model whose origin you trust (your own
    training run). Works for a linear model and for a cascade whose members are linear.
    Returns the model folders converted; raises ``ModelFormatError`` if ``dst`` exists.
    """
    import joblib

    from models.saved import META_FILE

    if dst.exists():
        raise ModelFormatError(f"{dst} already exists; choose a new folder for the converted model")
    shutil.copytree(src, dst, symlinks=False)
    converted = []
    for meta_path in sorted(dst.rglob(META_FILE)):
        folder = meta_path.parent
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("family") != "linear" or not (folder / LEGACY_PICKLE).exists():
            continue
        state = joblib.load(folder / LEGACY_PICKLE)
        meta.update(save_linear(folder, state["word"], state["char"], list(state["estimators"])))
        meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (folder / LEGACY_PICKLE).unlink()
        converted.append(folder)
    return converted
