"""Cached window scores: each unit is scored once, across runs and unit sets, and an interrupted run resumes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from mailguard.taxonomy import LABELS
from pipelines.window_scores import unit_scores


class Counting:
    """A stand-in model: a unit's score is its length; counts the units it is asked to score."""

    family = "counting"

    def __init__(self, fail_after: int | None = None) -> None:
        self.scored: list[str] = []
        self.fail_after = fail_after

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        if self.fail_after is not None and len(self.scored) >= self.fail_after:
            raise KeyboardInterrupt  # as a run killed part-way
        self.scored.extend(X)
        return np.tile(np.array([len(x) / 100 for x in X])[:, None], (1, len(LABELS)))


def test_units_scored_before_are_read_back_and_only_new_ones_scored(tmp_path: Path) -> None:
    cache = tmp_path / "scores.npz"
    first = unit_scores(Counting(), ["a", "bb", "ccc"], cache, chunk=2)  # type: ignore[arg-type]
    model = Counting()
    again = unit_scores(model, ["ccc", "dddd", "a"], cache, chunk=2)  # type: ignore[arg-type]
    assert model.scored == ["dddd"]
    np.testing.assert_array_equal(again[[0, 2]], first[[2, 0]])
    assert again[1, 0] == pytest.approx(0.04)


def test_an_interrupted_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    cache, units = tmp_path / "scores.npz", [f"unit {i}" for i in range(6)]
    with pytest.raises(KeyboardInterrupt):
        unit_scores(Counting(fail_after=4), units, cache, chunk=2)  # type: ignore[arg-type]
    model = Counting()
    unit_scores(model, units, cache, chunk=2)  # type: ignore[arg-type]
    assert model.scored == units[4:]  # the two chunks written before the interruption are kept


def test_a_copy_of_a_model_saved_elsewhere_reads_the_same_cache(tmp_path: Path) -> None:
    import json

    from pipelines.window_scores import model_cache

    def saved(name: str, **meta: object) -> Path:
        (tmp_path / name).mkdir()
        (tmp_path / name / "mailguard_model.json").write_text(json.dumps({"family": "onnx", **meta}))
        return tmp_path / name

    model = saved("model", thresholds=[0.5], saved_at="2026-12-01T10:00:00")
    copy = saved("cascade-expensive", thresholds=[0.5], saved_at="2026-12-01T11:00:00")  # re-saved inside a cascade
    other = saved("other", thresholds=[0.6], saved_at="2026-12-01T10:00:00")
    cache = tmp_path / "cache"
    assert model_cache(cache, model, "test-10") == model_cache(cache, copy, "test-10")
    assert model_cache(cache, other, "test-10") != model_cache(cache, model, "test-10")
    assert model_cache(None, model, "test-10") is None
