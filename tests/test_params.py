"""params.yaml is validated once into typed sections; every problem is one readable line naming its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mailguard.errors import ConfigError
from pipelines.params import PipelineParams, load_pipeline_params, override, validate

REPO = Path(__file__).resolve().parents[1]


def _raw() -> dict[str, Any]:
    """Return params.yaml as parsed YAML, to be broken by a test."""
    loaded: dict[str, Any] = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    return loaded


def _error(raw: dict[str, Any], tmp_path: Path) -> str:
    """Return the one-line error loading ``raw`` from a file gives."""
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_pipeline_params(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"invalid {path} (")
    return message


def test_params_yaml_validates_into_typed_sections(pipeline_params: PipelineParams) -> None:
    params = pipeline_params
    assert params.data.seed == 13 and params.data.written_root == Path("data/written")
    assert params.train.linear.word_ngrams == (1, 2)  # a YAML list becomes the tuple the model takes
    assert params.train.rule_for("transformer") == "precision_target"
    assert params.train.scoring_unit.window_config().context == 1
    assert params.registry.alias == "champion"
    assert validate(params.as_dict()) == params  # the plain form round-trips


def test_a_wrong_type_names_the_key(tmp_path: Path) -> None:
    raw = _raw()
    raw["train"]["transformer"]["epochs"] = "two"
    message = _error(raw, tmp_path)
    assert "(train.transformer.epochs: Input should be a valid integer" in message


def test_a_missing_key_is_an_error_not_a_default(tmp_path: Path) -> None:
    raw = _raw()
    del raw["data"]["seed"]
    assert _error(raw, tmp_path).endswith("(data.seed: Field required)")


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    raw = _raw()
    raw["train"]["linear"]["max_featurs"] = 5000  # a typo must not fall back to the model's own default
    assert _error(raw, tmp_path).endswith("(train.linear.max_featurs: Extra inputs are not permitted)")


def test_every_problem_is_listed_on_one_line(tmp_path: Path) -> None:
    raw = _raw()
    raw["data"]["validation_fraction"] = 1.5
    raw["evaluate"]["temperature_scaling"] = "sometimes"
    del raw["register"]["alias"]
    message = _error(raw, tmp_path)
    for key in ("data.validation_fraction", "evaluate.temperature_scaling", "register.alias"):
        assert f"{key}: " in message
    assert message.count("; ") == 2


def test_rules_beyond_types_are_checked_too(tmp_path: Path) -> None:
    raw = _raw()
    raw["data"]["sources"] = ["crows_pairs"]
    raw["train"]["scoring_unit"]["message_labels"] = ["spam"]
    message = _error(raw, tmp_path)
    assert "data.sources: ['crows_pairs'] are evaluation-only corpora" in message
    assert "train.scoring_unit.message_labels: unknown label 'spam'" in message


def test_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read params file"):
        load_pipeline_params(tmp_path / "missing.yaml")


def test_overrides_are_validated_like_the_file(pipeline_params: PipelineParams) -> None:
    changed = override(pipeline_params, {"train.transformer.epochs": 3, "data.written_root": "elsewhere"})
    assert changed.train.transformer.epochs == 3 and changed.data.written_root == Path("elsewhere")
    assert pipeline_params.train.transformer.epochs == 1  # the original is left as it was
    with pytest.raises(ConfigError, match=r"\(train\.transformer\.epochs: Input should be a valid integer"):
        override(pipeline_params, {"train.transformer.epochs": "two"})
    with pytest.raises(ConfigError, match=r"\(train\.transformer\.epoch: Extra inputs are not permitted\)"):
        override(pipeline_params, {"train.transformer.epoch": 3})
    with pytest.raises(ConfigError, match="cannot set train.family.x: family is not a section"):
        override(pipeline_params, {"train.family.x": 1})


def test_cli_set_overrides_parse_yaml_values_and_are_validated(pipeline_params: PipelineParams) -> None:
    from mailguard.cli.train import apply_overrides

    changed = apply_overrides(pipeline_params, ["train.linear.C=2", "train.keep_sources=[authored]",
                                                "train.max_ordinary_rate=null"])
    assert changed.train.linear.C == 2.0 and changed.train.keep_sources == ["authored"]
    assert changed.train.max_ordinary_rate is None
    with pytest.raises(ConfigError, match=r"train\.linear\.C: Input should be a valid number"):
        apply_overrides(pipeline_params, ["train.linear.C=strong"])
    with pytest.raises(ConfigError, match="--set expects key=value"):
        apply_overrides(pipeline_params, ["train.linear.C"])


@pytest.mark.parametrize("family", ["linear", "transformer"])
def test_params_yaml_sets_every_constructor_argument_and_the_pipeline_passes_them(
    pipeline_params: PipelineParams, family: str
) -> None:
    from pipelines.train import build_classifier

    train = override(pipeline_params, {"train.family": family}).train
    clf = build_classifier(train)
    section = getattr(train, family).model_dump()
    assert clf.get_params() == section  # no constructor default is left to decide anything
    assert clf.window_config_ == train.scoring_unit.window_config()
