"""Scores of a model on every window of a split, cached: message scores and cascade decisions without scoring again.

Every family scores mail the same way (:mod:`models.base`): a message's score per label is the
maximum over its windows (and, for ``message_labels_``, the whole message). Scoring each window of
a split once and keeping the window scores lets packaging compare models (int8 against fp32), fit
cascade gates on the teacher's own decisions and draw a cascade's speed/agreement curve for any
gate setting, while the expensive model reads each window only once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mailguard.segments import WindowConfig, make_windows, text_sections
from mailguard.taxonomy import LABELS
from models.base import WINDOW_CHUNK, Classifier, whole_message_text
from models.cascade import cleared_scores, escalated

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitWindows:
    """The windows of a list of texts, each read as a message body, in message order."""

    units: list[str]  # window texts
    message: np.ndarray  # (n_windows,) index of each window's message
    texts: list[str]  # the messages themselves (whole-message labels read them)
    config: WindowConfig

    @property
    def n_messages(self) -> int:
        return len(self.texts)


def split_windows(texts: Sequence[str], config: WindowConfig) -> SplitWindows:
    """Return the windows of ``texts`` cut as :meth:`models.base.Classifier.score_texts` cuts them."""
    units: list[str] = []
    message: list[int] = []
    for i, text in enumerate(texts):
        windows, _ = make_windows(text_sections(text), config)
        units.extend(w.text for w in windows)
        message.extend([i] * len(windows))
    return SplitWindows(units, np.array(message, dtype=np.int64), list(texts), config)


def unit_scores(model: Classifier, units: Sequence[str], cache: Path | None = None, chunk: int = WINDOW_CHUNK) -> np.ndarray:
    """Return ``model.predict_proba(units)`` (n, labels), read from / written to ``cache`` (.npz) when given.

    The cache holds scores by a digest of each unit's text: units scored before (by any earlier call with
    the same cache, a smaller unit set included) are read back, only new ones are scored, and the cache is
    written after every chunk, so an interrupted run resumes where it stopped.
    """
    keys = unit_keys(units)
    out = np.zeros((len(units), len(LABELS)), dtype=np.float64)
    have = np.zeros(len(units), dtype=bool)
    stored_keys, stored = _read_cache(cache, units)
    if len(stored_keys):
        row = dict(zip(stored_keys.tolist(), range(len(stored_keys)), strict=True))
        for i, k in enumerate(keys.tolist()):
            j = row.get(k)
            if j is not None:
                out[i], have[i] = stored[j], True
        log.info("scores of %d/%d units read from %s", int(have.sum()), len(units), cache)
    todo = np.flatnonzero(~have)
    started = time.perf_counter()
    for a in range(0, len(todo), chunk):
        rows = todo[a : a + chunk]
        out[rows] = model.predict_proba([units[i] for i in rows])
        have[rows] = True
        done = min(a + chunk, len(todo))
        log.info("%s scored %d/%d units (%.0f units/s)", model.family, done, len(todo),
                 done / max(time.perf_counter() - started, 1e-9))
        if cache is not None:
            _write_cache(cache, np.concatenate([stored_keys, keys[have]]), np.concatenate([stored, out[have]]))
    return out


def store_scores(cache: Path, units: Sequence[str], proba: np.ndarray) -> None:
    """Add scores of ``units`` to ``cache`` for :func:`unit_scores` to read."""
    stored_keys, stored = _read_cache(cache, units)
    _write_cache(cache, np.concatenate([stored_keys, unit_keys(units)]),
                 np.concatenate([stored, np.asarray(proba, dtype=np.float64)]))


def unit_keys(units: Sequence[str]) -> np.ndarray:
    """Return a 64-bit digest of each unit's text (what the cache is keyed by)."""
    return np.array([int.from_bytes(hashlib.blake2b(u.encode("utf-8"), digest_size=8).digest(), "little", signed=True)
                     for u in units], dtype=np.int64)


def _read_cache(cache: Path | None, units: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return the keys and scores stored in ``cache`` (none when absent). A cache of the earlier format (one
    digest of the whole unit list) counts only when it was written for exactly ``units``."""
    empty = np.zeros(0, dtype=np.int64), np.zeros((0, len(LABELS)), dtype=np.float64)
    if cache is None or not cache.is_file():
        return empty
    with np.load(cache, allow_pickle=False) as stored:
        if "keys" in stored:
            return np.asarray(stored["keys"], dtype=np.int64), np.asarray(stored["proba"], dtype=np.float64)
        if str(stored["digest"]) != hashlib.sha256("\x00".join(units).encode("utf-8")).hexdigest()[:16]:
            return empty
        done = int(stored["done"]) if "done" in stored else len(units)
        return unit_keys(units[:done]), np.asarray(stored["proba"][:done], dtype=np.float64)


def _write_cache(cache: Path, keys: np.ndarray, proba: np.ndarray) -> None:
    keys, first = np.unique(keys, return_index=True)  # a unit stored twice keeps one row
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_name(cache.name + ".part.npz")  # written whole, then renamed: never a torn cache
    np.savez(partial, keys=keys, proba=proba[first])
    partial.replace(cache)


def model_cache(cache_dir: Path | None, model_dir: Path, name: str) -> Path | None:
    """Return the cache file for ``name`` (e.g. a split) scored by the saved model at ``model_dir``, or None.

    Keyed by the model's metadata less its save time, so a copy of the model saved elsewhere (the expensive
    side of a cascade) reads the same file. A file under the earlier key (all of the metadata) is moved over.
    """
    if cache_dir is None:
        return None
    raw = (Path(model_dir) / "mailguard_model.json").read_bytes()
    meta = {k: v for k, v in json.loads(raw).items() if k != "saved_at"}
    key = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"{key}-{name}.npz"
    legacy = Path(cache_dir) / f"{hashlib.sha256(raw).hexdigest()[:12]}-{name}.npz"
    if not path.exists() and legacy.is_file():
        legacy.replace(path)
    return path


def message_scores(windows: SplitWindows, window_proba: np.ndarray, model: Classifier,
                   whole: np.ndarray | None = None) -> np.ndarray:
    """Return per-message scores (n_messages, labels): the maximum over each message's windows (0 without any),
    and for ``model.message_labels_`` also ``whole`` (the model's scores of :func:`whole_message_units`)."""
    out = np.zeros((windows.n_messages, len(LABELS)), dtype=np.float64)
    if len(windows.message):
        np.maximum.at(out, windows.message, window_proba)
    if model.message_labels_:
        if whole is None:
            raise ValueError("this model also scores whole messages: pass their scores as `whole`")
        cols = [LABELS.index(lb) for lb in model.message_labels_]
        out[:, cols] = np.maximum(out[:, cols], whole[:, cols])
    return out


def whole_message_units(windows: SplitWindows, model: Classifier) -> list[str]:
    """Return the whole-message texts a model with ``message_labels_`` also scores (empty list when none)."""
    if not model.message_labels_:
        return []
    return [whole_message_text(text_sections(t), windows.config) for t in windows.texts]


def cascade_window_scores(cheap: np.ndarray, expensive: np.ndarray, gates: np.ndarray,
                          thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return what a cascade gives each window (the expensive score if escalated, else the cheap score capped
    under the threshold; :meth:`models.cascade.CascadeClassifier.predict_proba`) and the escalated mask."""
    up = escalated(cheap, gates)
    out = cleared_scores(cheap, thresholds)
    out[up] = expensive[up]
    return out, up


def gate_scores(windows: SplitWindows, cheap: np.ndarray, expensive: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Return, per message and label, the highest cheap score among the windows the expensive model flags for
    that label (0 where it flags none): what a gate must let through for the cascade to keep that flag."""
    fires = expensive >= np.asarray(thresholds)
    out = np.zeros((windows.n_messages, len(LABELS)), dtype=np.float64)
    if len(windows.message):
        np.maximum.at(out, windows.message, np.where(fires, cheap, 0.0))
    return out
