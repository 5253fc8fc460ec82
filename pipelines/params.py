"""The pipeline's parameters: ``params.yaml`` read into typed sections and validated once.

``params.yaml`` is the only place their values live. Every key is required (a missing one is an
error naming it) and an unknown key is refused, so a typo never falls back to a default somewhere
in the code. Keys whose value may be ``null`` say what ``null`` means in ``params.yaml``. Model
constructors keep their own keyword defaults (the scikit-learn contract), but ``params.yaml`` sets
every one of them and the pipeline passes them all.

A problem is one :class:`~mailguard.errors.ConfigError` line naming each key, in the format of the
review app's settings: ``invalid params.yaml (train.transformer.epochs: Input should be a valid
integer, ...; data.seed: Field required)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mailguard.config import load_params
from mailguard.errors import ConfigError
from mailguard.segments import WindowConfig
from mailguard.taxonomy import check_label
from pipelines.metrics import ThresholdRule
from pipelines.sources import ADAPTERS

Family = Literal["linear", "transformer"]
Split = Literal["train", "validation", "test"]
#: MANIFEST §8: CrowS-Pairs "should not be used to train any ML models".
EVALUATION_ONLY = frozenset({"crows_pairs"})

Fraction = Annotated[float, Field(ge=0, lt=1)]
Share = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(ge=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataParams(_Section):
    """``data``: the sources ``prepare`` reads, where they are, and how rows are cleaned and split."""

    datasets_root: Path
    seed: int
    validation_fraction: Fraction
    test_fraction: Fraction
    weak_weight: Share
    use_authored: bool
    authored_root: Path
    max_rows_per_source: Positive | None
    near_duplicate_threshold: Annotated[float, Field(gt=0, le=1)]
    use_clean_mail: bool
    clean_mail_root: Path
    min_text_chars: Count
    review_exports: list[str]
    use_written: bool
    written_root: Path
    unit_windows: Count
    expand_sources: list[str]
    uncapped_clean_sources: list[str]
    fixed_splits: dict[str, Split]
    sources: list[str]

    @field_validator("sources")
    @classmethod
    def _trainable_corpora(cls, sources: list[str]) -> list[str]:
        forbidden = sorted(set(sources) & EVALUATION_ONLY)
        if forbidden:
            raise ValueError(f"{forbidden} are evaluation-only corpora and must never be trained on")
        unknown = sorted(set(sources) - set(ADAPTERS))
        if unknown:
            raise ValueError(f"unknown corpora {unknown}; known: {', '.join(ADAPTERS)}")
        return sources

    @model_validator(mode="after")
    def _room_for_training(self) -> DataParams:
        if self.validation_fraction + self.test_fraction >= 1:
            raise ValueError("validation_fraction + test_fraction must be below 1")
        return self


class ScoringUnitParams(_Section):
    """``train.scoring_unit``: how every family cuts a message into windows (:mod:`mailguard.segments`)."""

    context: Count
    max_window_chars: int
    max_sentence_chars: int
    min_sentence_chars: Count
    max_windows: int
    message_labels: list[str]

    @field_validator("message_labels")
    @classmethod
    def _known_labels(cls, labels: list[str]) -> list[str]:
        return [check_label(lb) for lb in labels]

    @model_validator(mode="after")
    def _windows_in_range(self) -> ScoringUnitParams:
        self.window_config()  # WindowConfig owns the range rules; raises ValueError
        return self

    def window_config(self) -> WindowConfig:
        """Return the window settings as the segmenter takes them."""
        return WindowConfig.from_dict(self.model_dump(exclude={"message_labels"}))


class ThresholdRules(_Section):
    """``train.threshold_rule``: per family, the rule its per-label thresholds are chosen by on validation."""

    linear: ThresholdRule
    transformer: ThresholdRule
    blend: ThresholdRule


class LinearParams(_Section):
    """``train.linear``: every constructor argument of :class:`models.linear.LinearClassifier`."""

    word_ngrams: tuple[Positive, Positive]
    char_ngrams: tuple[Positive, Positive]
    max_features: Positive
    min_df: Positive
    C: Annotated[float, Field(gt=0)]
    class_weight: Literal["balanced"] | None
    max_iter: Positive
    random_state: int


class TransformerParams(_Section):
    """``train.transformer``: every constructor argument of :class:`models.transformer.TransformerClassifier`."""

    base_model: str
    max_length: Positive
    batch_size: Positive
    learning_rate: Annotated[float, Field(gt=0)]
    epochs: Positive
    patience: Count
    max_pos_weight: Annotated[float, Field(gt=0)]
    dropout: Fraction
    weight_decay: Annotated[float, Field(ge=0)]
    warmup_fraction: Fraction
    clip_norm: Annotated[float, Field(gt=0)]
    random_state: int
    device: str
    num_threads: Positive | None


class TrainParams(_Section):
    """``train``: the family to fit, its settings, the row budget and the operating point."""

    family: Family
    threshold_rule: ThresholdRules
    precision_target: Share
    min_recall: Share
    max_ordinary_rate: Share | None
    only_sources: list[str]
    exclude_sources: list[str]
    max_train_rows: Positive | None
    keep_sources: list[str]
    scoring_unit: ScoringUnitParams
    linear: LinearParams
    transformer: TransformerParams

    def rule_for(self, family: str) -> ThresholdRule:
        """Return the threshold rule of ``family``; raise ``ConfigError`` for a family ``threshold_rule`` does not name."""
        if family not in ThresholdRules.model_fields:
            raise ConfigError(f"train.threshold_rule has no rule for family {family!r}")
        rule: ThresholdRule = getattr(self.threshold_rule, family)
        return rule


class EvaluateParams(_Section):
    """``evaluate``: what the evaluate stage measures besides the test split, and how finely."""

    min_subgroup_size: Positive
    calibration_bins: Positive
    pr_curve_points: Positive
    temperature_scaling: bool
    clean_mail: bool
    written_eval: bool
    suite_root: Path
    planted_max_texts: Count
    planted_max_hosts: Positive
    planted_seed: int


class RegisterParams(_Section):
    """``register``: what a trained model becomes in the MLflow registry."""

    alias: str


class PipelineParams(_Section):
    """The whole of ``params.yaml``."""

    data: DataParams
    train: TrainParams
    evaluate: EvaluateParams
    # pydantic models already have a ``register`` attribute (from ABCMeta), so the section has another name here
    registry: RegisterParams = Field(alias="register")

    def as_dict(self) -> dict[str, Any]:
        """Return the parameters as plain data, in the layout of ``params.yaml`` (paths as strings)."""
        return self.model_dump(mode="json", by_alias=True)


def validate(raw: Mapping[str, Any], source: str = "params.yaml") -> PipelineParams:
    """Return ``raw`` (a parsed params file) as typed sections; raise one-line ``ConfigError`` naming each bad key."""
    try:
        return PipelineParams.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(f"invalid {source} ({_problems(e)})") from e


def load_pipeline_params(path: str | Path) -> PipelineParams:
    """Return the validated parameters in the YAML file ``path``; raise ``ConfigError`` if unreadable or invalid."""
    return validate(load_params(path), str(path))


def override(params: PipelineParams, changes: Mapping[str, Any]) -> PipelineParams:
    """Return ``params`` with ``{"dotted.key": value}`` changes applied, validated again like the file itself."""
    raw = params.model_dump(by_alias=True)
    for key, value in changes.items():
        node = raw
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"cannot set {key}: {part} is not a section")
        node[leaf] = value
    return validate(raw, "params after overrides")


def _problems(error: ValidationError) -> str:
    problems = []
    for err in error.errors():
        where = ".".join(str(p) for p in err["loc"]) or "params"
        problems.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)
