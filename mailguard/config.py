"""Reading configuration: ``params.yaml`` (training side) and ``mailguard.toml`` (operations side)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

from mailguard.errors import ConfigError, MailguardError

DEFAULT_PARAMS = Path("params.yaml")


def load_yaml_mapping(path: str | Path, what: str, error: type[MailguardError] = ConfigError) -> dict[str, Any]:
    """Return the mapping stored in the YAML file ``path``; raise ``error`` naming ``what`` if unusable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise error(f"cannot read {what} {path}: {e.strerror or e}") from e
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(f"{what} {path} is not valid YAML{where}") from e
    if not isinstance(data, dict):
        raise error(f"{what} {path} must hold a mapping, got {type(data).__name__}")
    return data


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    """Return the parsed ``params.yaml``; raise ``ConfigError`` with one readable line if unusable."""
    return load_yaml_mapping(path, "params file")


def section(params: dict[str, Any], name: str) -> dict[str, Any]:
    """Return section ``name`` of ``params``; raise ``ConfigError`` if it is missing or not a mapping."""
    value = params.get(name)
    if not isinstance(value, dict):
        raise ConfigError(f"params file has no '{name}' section (or it is not a mapping)")
    return value


def load_toml(path: str | Path) -> dict[str, Any]:
    """Return the parsed TOML config file (e.g. ``mailguard.toml``); raise ``ConfigError`` if unusable."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror or e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from e
