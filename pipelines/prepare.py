"""Prepare the training dataset: load every enabled source, clean, deduplicate, split, write, describe.

Read top to bottom: load (public corpora via ``pipelines.sources``, the authored corpus, realistic clean
mail, reviewer exports) -> clean whitespace and drop very short texts -> merge exact duplicates of the
normalised text (union of positive labels; a reviewer's decision overrides) -> find near-duplicate
groups (MinHash, ``pipelines.dedup``) and drop redundant members -> split by group, stratified by label
(``pipelines.splits``) -> write ``dataset/`` (HF datasets), ``dataset.parquet``, ``prepare_stats.json``
and the dataset card. Only counts are logged, never message text.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from mailguard.errors import InputError
from mailguard.segments import WindowConfig
from mailguard.taxonomy import LABELS
from mailguard.text import clean_whitespace, normalise_for_matching
from pipelines.authored import generate_authored
from pipelines.clean_mail import clean_mail_rows
from pipelines.dataset_card import write_dataset_card
from pipelines.dedup import near_duplicate_groups
from pipelines.params import DataParams, PipelineParams
from pipelines.sources import COLUMNS, load_source
from pipelines.splits import SPLITS, stable_splits
from pipelines.units import unit_rows
from pipelines.written_mail import written_rows

log = logging.getLogger(__name__)

#: Column order of the prepared dataset (docs/ARCHITECTURE.md, "Prepared dataset").
OUTPUT_COLUMNS: tuple[str, ...] = (
    "text", *LABELS, "source", "split", "weak", "template_id", "group_id", "split_key", "unit",
)
REVIEW_SOURCE = "review"


@dataclass(frozen=True)
class PrepareSummary:
    """What ``prepare`` wrote and the counts it measured (also in ``prepare_stats.json``)."""

    out_dir: Path
    dataset_path: Path
    card_path: Path | None
    rows: int
    rows_per_split: dict[str, int]
    positives_per_split: dict[str, dict[str, int]]
    exact_duplicates_removed: int
    exact_duplicate_label_conflicts: int
    near_duplicates_removed: int
    seconds: float
    stats: dict[str, Any] = field(repr=False, default_factory=dict)


def conform(frame: pd.DataFrame, origin: str, default_source: str) -> pd.DataFrame:
    """Return ``frame`` in the adapter schema (missing source/weak/template_id filled); raise ``InputError`` if unusable."""
    missing = [c for c in ("text", *LABELS) if c not in frame.columns]
    if missing:
        raise InputError(f"{origin} gave rows without columns {missing}")
    out = frame.copy()
    if "source" not in out.columns:
        out["source"] = default_source
    if "weak" not in out.columns:
        out["weak"] = False
    if "template_id" not in out.columns:
        out["template_id"] = ""
    if "split_key" not in out.columns:
        out["split_key"] = ""
    unit = out["unit"].fillna("message").astype(str) if "unit" in out.columns else pd.Series("message", index=out.index)
    out = out[list(COLUMNS)]
    out["unit"] = unit
    out["text"] = out["text"].fillna("").astype(str)
    for label in LABELS:
        values = pd.to_numeric(out[label], errors="coerce").fillna(0)
        out[label] = (values > 0).astype("int64")
    out["source"] = out["source"].fillna(default_source).astype(str)
    out["weak"] = out["weak"].fillna(False).astype(bool)
    out["template_id"] = out["template_id"].fillna("").astype(str)
    out["split_key"] = out["split_key"].fillna("").astype(str)
    return out.reset_index(drop=True)


def cap_rows(frame: pd.DataFrame, cap: int | None, seed: int, *, keep_all_clean: bool = False) -> pd.DataFrame:
    """Return at most ``cap`` rows of one source, sampled deterministically, keeping positives first.

    Positives are all kept when they fit beside the clean rows or within half the cap; otherwise each
    side gets at least half the cap. So a source that is mostly clean keeps every positive, and a large
    balanced one (Enron-Spam) keeps both its ham and its spam. With ``keep_all_clean`` every clean row
    is kept and only the positives are capped (at half the cap): real ordinary mail is the scarcest
    thing in the training data.
    """
    if cap is None or cap <= 0 or len(frame) <= cap:
        return frame
    positive = frame[list(LABELS)].to_numpy().any(axis=1)
    pos_idx, clean_idx = np.flatnonzero(positive), np.flatnonzero(~positive)
    rng = np.random.default_rng(seed)
    if keep_all_clean:
        picked = rng.choice(pos_idx, size=min(len(pos_idx), cap // 2), replace=False)
        return frame.iloc[np.sort(np.concatenate((picked, clean_idx)))].reset_index(drop=True)
    n_pos = min(len(pos_idx), max(cap - len(clean_idx), cap // 2))
    n_clean = min(len(clean_idx), cap - n_pos)
    keep = np.concatenate(
        (rng.choice(pos_idx, size=n_pos, replace=False), rng.choice(clean_idx, size=n_clean, replace=False))
    )
    return frame.iloc[np.sort(keep)].reset_index(drop=True)


def review_export_paths(patterns: list[str]) -> list[Path]:
    """Return the files named by ``patterns`` (paths or globs), sorted; raise ``InputError`` for a missing plain path."""
    paths: list[Path] = []
    for pattern in patterns:
        if glob.has_magic(str(pattern)):
            matched = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True))
            if not matched:
                log.warning("data.review_exports pattern %s matches no file", pattern)
            paths.extend(matched)
        elif Path(pattern).is_file():
            paths.append(Path(pattern))
        else:
            raise InputError(f"review export {pattern} does not exist (listed in data.review_exports)")
    return list(dict.fromkeys(paths))


def load_review_exports(patterns: list[str]) -> pd.DataFrame:
    """Return reviewer-labelled rows from ``mailguard review export`` files (parquet or jsonl), source ``review``."""
    frames = []
    for path in review_export_paths(patterns):
        try:
            if path.suffix == ".parquet":
                raw = pd.read_parquet(path)
            elif path.suffix in (".jsonl", ".json"):
                raw = pd.read_json(path, lines=True, dtype=False)
            else:
                raise InputError(f"review export {path}: unknown format (expected .parquet or .jsonl)")
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read review export {path}: {e}") from e
        # decision metadata columns are ignored; the label columns hold the reviewer's final judgement
        frame = conform(
            raw.drop(columns=["source", "weak", "template_id"], errors="ignore"), f"review export {path}", REVIEW_SOURCE
        )
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))


def expand_clean_mail(frame: pd.DataFrame, sources: list[str], windows: WindowConfig, per_message: int) -> pd.DataFrame:
    """Return ``frame`` plus up to ``per_message`` sentence windows of each clean mail of ``sources`` (same split key).

    Nightly scoring reads long mail window by window, so the model must see what an ordinary window of a
    real mail looks like (a signature, a list footer, a paragraph of a thread), labelled clean.
    """
    if not sources or frame.empty:
        return frame
    clean = ~frame[list(LABELS)].to_numpy().any(axis=1)
    rows: list[dict[str, Any]] = []
    for i in np.flatnonzero(clean & frame["source"].isin(sources).to_numpy()):
        base = frame.iloc[i]
        key = base["split_key"] or base["template_id"] or f"text:{text_key(base['text'])}"
        for unit in unit_rows("", base["text"], (), (), config=windows, clean_windows=per_message, key=key):
            if unit.unit == "window":
                rows.append({**base.to_dict(), "text": unit.text, "split_key": key, "unit": "window"})
    if not rows:
        return frame
    return pd.concat([frame, pd.DataFrame(rows, columns=frame.columns)], ignore_index=True)


def text_key(text: str) -> str:
    """Return a short stable digest of a text's normalised form (the split key of a row with no other)."""
    return hashlib.sha256(normalise_for_matching(text).encode("utf-8")).hexdigest()[:20]


def load_all(data: DataParams, datasets_root: Path, stats: dict[str, Any], windows: WindowConfig) -> pd.DataFrame:
    """Return the rows of every enabled source, in a fixed order; per-source counts go into ``stats``."""
    frames: list[pd.DataFrame] = []
    per_source = stats.setdefault("sources", {})
    for name in data.sources:
        frame = conform(load_source(name, datasets_root), f"adapter {name}", name)
        capped = cap_rows(frame, data.max_rows_per_source, data.seed,
                          keep_all_clean=name in data.uncapped_clean_sources)
        per_source[name] = {"loaded": len(frame), "after_cap": len(capped)}
        log.info("%s: %d rows (%d after the per-source cap)", name, len(frame), len(capped))
        frames.append(capped)
    if data.use_authored:
        authored = generate_authored(data.authored_root, seed=data.seed)
        frames.append(conform(authored, "pipelines.authored.generate_authored", "authored"))
    if data.use_clean_mail:
        clean = clean_mail_rows("train", data.clean_mail_root)
        frames.append(conform(clean, "pipelines.clean_mail.clean_mail_rows", "clean_mail"))
    if data.use_written:
        written = written_rows("train", data.written_root, config=windows, clean_windows=data.unit_windows)
        frames.append(conform(written, "pipelines.written_mail.written_rows", "written"))
    reviews = load_review_exports(data.review_exports)
    if len(reviews):
        frames.append(reviews)
    combined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*COLUMNS, "unit"])
    combined = expand_clean_mail(combined, data.expand_sources, windows, data.unit_windows)
    for name in ("authored", "clean_mail", "written", REVIEW_SOURCE):
        log.info("%s: %d rows", name, int((combined["source"] == name).sum()))
    for name, count in combined["source"].value_counts().items():
        per_source.setdefault(str(name), {}).setdefault("loaded", int(count))
        per_source[str(name)].setdefault("after_cap", int(count))
    return combined


def clean_texts(frame: pd.DataFrame, min_chars: int) -> tuple[pd.DataFrame, pd.Series]:
    """Return (rows with whitespace cleaned and texts of at least ``min_chars`` normalised characters, their keys)."""
    frame = frame.copy()
    frame["text"] = [clean_whitespace(t) for t in frame["text"]]
    keys = pd.Series([normalise_for_matching(t) for t in frame["text"]], index=frame.index)
    keep = keys.str.len() >= min_chars
    return frame[keep].reset_index(drop=True), keys[keep].reset_index(drop=True)


def merge_exact_duplicates(frame: pd.DataFrame, keys: pd.Series) -> tuple[pd.DataFrame, pd.Series, int, int]:
    """Return (one row per normalised text, its keys, rows removed, texts whose duplicates disagreed on labels).

    The kept row is the first occurrence (a reviewer's row when there is one). Its labels are the union of
    the duplicates' positive labels, because a text that any source calls offensive in some category is
    not clean; if the duplicates disagreed the row becomes ``weak``. A reviewer's labels override all.
    """
    codes, _ = pd.factorize(keys)
    labels = pd.DataFrame(frame[list(LABELS)].to_numpy(), columns=list(LABELS))
    grouped = labels.groupby(codes)
    union, lowest = grouped.max(), grouped.min()
    conflict = (union != lowest).any(axis=1)
    weak = frame["weak"].groupby(codes).min() | conflict  # strong if any duplicate was strong and all agreed

    is_review = (frame["source"] == REVIEW_SOURCE).to_numpy()
    order = np.arange(len(frame))
    # representative: a reviewer's row if present, else the first occurrence
    priority = pd.DataFrame({"code": codes, "review_first": ~is_review, "order": order})
    representative = priority.sort_values(["code", "review_first", "order"]).groupby("code")["order"].first()
    if is_review.any():
        reviewed = labels[is_review].groupby(codes[is_review]).last()
        union.loc[reviewed.index] = reviewed.to_numpy()
        weak.loc[reviewed.index] = False

    kept = frame.iloc[representative.to_numpy()].reset_index(drop=True)
    kept[list(LABELS)] = union.loc[representative.index].to_numpy()
    kept["weak"] = weak.loc[representative.index].to_numpy().astype(bool)
    kept_keys = keys.iloc[representative.to_numpy()].reset_index(drop=True)
    # restore load order so later steps (and ties in near-duplicate removal) see sources in params order
    restore = np.argsort(representative.to_numpy(), kind="stable")
    kept, kept_keys = kept.iloc[restore].reset_index(drop=True), kept_keys.iloc[restore].reset_index(drop=True)
    return kept, kept_keys, len(frame) - len(kept), int(conflict.sum())


def drop_near_duplicates(frame: pd.DataFrame, keys: pd.Series, threshold: float) -> tuple[pd.DataFrame, int, int]:
    """Return (rows with ``group_id``, rows removed, near-duplicate groups of two or more texts).

    Within a near-duplicate group only one row per distinct label vector is kept (a strong one before a
    weak one): the others add weight, not information. Rows whose labels differ from the kept one stay,
    grouped, as do authored rows (their template variants are intended) and reviewer rows. Authored rows
    sharing a ``template_id`` join one group too, so a template never spans two splits.
    """
    near = near_duplicate_groups(keys.tolist(), threshold)
    n_multi = int((np.bincount(near) > 1).sum()) if len(near) else 0
    label_key = pd.Series([tuple(r) for r in frame[list(LABELS)].to_numpy().tolist()])
    removable = ((frame["template_id"] == "") & (frame["source"] != REVIEW_SOURCE)).to_numpy()
    candidates = pd.DataFrame(
        {"group": near, "labels": label_key, "weak": frame["weak"].to_numpy(), "order": np.arange(len(frame))}
    )
    candidates = candidates.sort_values(["weak", "order"], kind="stable")  # strong rows first
    redundant = candidates.duplicated(["group", "labels"]).sort_index().to_numpy() & removable
    kept = frame[~redundant].reset_index(drop=True)
    groups = merge_template_groups(near[~redundant], kept["template_id"].to_numpy())
    kept["group_id"] = groups
    return kept, int(redundant.sum()), n_multi


def split_keys(frame: pd.DataFrame) -> list[str]:
    """Return each row's split key: its own (owner, written message), else its template, else its text."""
    keys = []
    for key, template, text in zip(frame["split_key"], frame["template_id"], frame["text"], strict=True):
        keys.append(key or (f"template:{template}" if template else f"text:{text_key(text)}"))
    return keys


def merge_template_groups(groups: np.ndarray, template_ids: np.ndarray) -> np.ndarray:
    """Return group ids where rows sharing a non-empty ``template_id`` are also in one group (renumbered 0..)."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    group_codes, _ = pd.factorize(pd.Series(groups))
    n_groups = int(group_codes.max()) + 1
    has_template = template_ids != ""
    template_codes, _ = pd.factorize(pd.Series(template_ids[has_template]))
    edges_from = group_codes[has_template]
    edges_to = n_groups + template_codes
    size = n_groups + (int(template_codes.max()) + 1 if len(template_codes) else 0)
    graph = coo_matrix((np.ones(len(edges_from)), (edges_from, edges_to)), shape=(size, size))
    _, component = connected_components(graph, directed=False)
    merged, _ = pd.factorize(pd.Series(component[group_codes]))
    return merged.astype(np.int64)


def prepare(params: PipelineParams, datasets_root: Path, out_dir: Path, *, card_path: Path | None) -> PrepareSummary:
    """Return the summary of a prepared dataset written to ``out_dir`` (and the card to ``card_path`` unless None).

    Reads ``data`` (the sources and where they are; the public corpora are under ``datasets_root``) and
    ``train.scoring_unit`` (long mail becomes rows the way the models read it).
    """
    started = time.perf_counter()
    data = params.data
    stats: dict[str, Any] = {}

    windows = params.train.scoring_unit.window_config()
    frame = load_all(data, Path(datasets_root), stats, windows)
    loaded = len(frame)
    frame, keys = clean_texts(frame, data.min_text_chars)
    stats["dropped_short_or_empty"] = loaded - len(frame)
    log.info(
        "loaded %d rows; %d dropped as empty or shorter than %d characters",
        loaded,
        loaded - len(frame),
        data.min_text_chars,
    )

    frame, keys, exact_removed, conflicts = merge_exact_duplicates(frame, keys)
    log.info("exact duplicates: %d rows removed, %d texts with conflicting labels merged", exact_removed, conflicts)
    frame, near_removed, near_groups = drop_near_duplicates(frame, keys, data.near_duplicate_threshold)
    log.info("near duplicates: %d rows removed (%d groups of similar texts)", near_removed, near_groups)

    frame["split_key"] = split_keys(frame)
    frame["split"], keep = stable_splits(
        frame["split_key"].tolist(),
        frame["group_id"].to_numpy(),
        seed=data.seed,
        validation_fraction=data.validation_fraction,
        test_fraction=data.test_fraction,
        fixed=dict(data.fixed_splits),
    )
    stats["near_duplicates_across_splits_removed"] = int((~keep).sum())
    log.info("near duplicates straddling splits: %d less held-out copies removed", int((~keep).sum()))
    frame = frame[keep].reset_index(drop=True)
    frame = frame[list(OUTPUT_COLUMNS)]
    frame["group_id"] = frame["group_id"].astype("int64")

    stats.update(
        {
            "rows": len(frame),
            "exact_duplicates_removed": exact_removed,
            "exact_duplicate_label_conflicts": conflicts,
            "near_duplicates_removed": near_removed,
            "near_duplicate_groups": near_groups,
            "rows_per_split": {s: int((frame["split"] == s).sum()) for s in SPLITS},
            "positives_per_split": {
                label: {s: int(frame.loc[frame["split"] == s, label].sum()) for s in SPLITS} for label in LABELS
            },
            "rows_per_source_and_split": {
                str(src): {s: int(((frame["source"] == src) & (frame["split"] == s)).sum()) for s in SPLITS}
                for src in sorted(frame["source"].unique())
            },
            "options": _options_record(data),
        }
    )
    dataset_path = write_outputs(frame, Path(out_dir))
    stats["seconds"] = round(time.perf_counter() - started, 1)
    (Path(out_dir) / "prepare_stats.json").write_text(
        json.dumps(stats, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    if card_path is not None:
        write_dataset_card(frame, stats, Path(card_path))
    log.info("wrote %d rows to %s in %.1f s", len(frame), out_dir, stats["seconds"])
    return PrepareSummary(
        out_dir=Path(out_dir),
        dataset_path=dataset_path,
        card_path=Path(card_path) if card_path is not None else None,
        rows=len(frame),
        rows_per_split=stats["rows_per_split"],
        positives_per_split=stats["positives_per_split"],
        exact_duplicates_removed=exact_removed,
        exact_duplicate_label_conflicts=conflicts,
        near_duplicates_removed=near_removed,
        seconds=stats["seconds"],
        stats=stats,
    )


def _options_record(data: DataParams) -> dict[str, Any]:
    """Return the ``data`` settings as recorded in ``prepare_stats.json``: review export paths only counted."""
    options = data.model_dump(mode="json")
    return {k: options[k] for k in sorted(options) if k != "review_exports"} | {"review_exports": len(data.review_exports)}


def write_outputs(frame: pd.DataFrame, out_dir: Path) -> Path:
    """Return the parquet path after writing ``frame`` as ``dataset.parquet`` and ``dataset/`` (save_to_disk)."""
    import datasets  # heavy import, only needed here

    out_dir.mkdir(parents=True, exist_ok=True)
    parquet = out_dir / "dataset.parquet"
    frame.to_parquet(parquet, index=False)
    target = out_dir / "dataset"
    if target.exists():
        shutil.rmtree(target)  # save_to_disk refuses to overwrite a dataset it may be reading from
    datasets.Dataset.from_pandas(frame, preserve_index=False).save_to_disk(str(target))
    return parquet
