"""The package keeps one direction of dependency: domain <- models <- (pipelines | serve) <- cli."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> top-level packages it must never import
FORBIDDEN = {
    "mailguard": {"models", "pipelines", "serve"},  # the domain (mailguard/cli is exempt below)
    "models": {"pipelines", "serve"},
    "pipelines": {"serve"},
    "serve": {"pipelines"},
}


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules() -> list[tuple[str, Path]]:
    out = []
    for package in FORBIDDEN:
        for path in sorted((ROOT / package).rglob("*.py")):
            if package == "mailguard" and "cli" in path.relative_to(ROOT / package).parts:
                continue
            out.append((package, path))
    return out


@pytest.mark.parametrize(("package", "path"), _modules(), ids=lambda v: str(v).rsplit("/", 2)[-1])
def test_module_does_not_import_upwards(package: str, path: Path) -> None:
    wrong = _imported_top_levels(path) & FORBIDDEN[package]
    assert not wrong, f"{path.relative_to(ROOT)} ({package}) imports {sorted(wrong)}: that breaks the layering"


def test_taxonomy_is_the_single_label_list() -> None:
    from mailguard.taxonomy import DESCRIPTIONS, LABELS

    assert LABELS == (
        "age", "sexual_orientation", "religion", "national_origin", "disability",
        "race", "gender", "political", "sexual", "solicitation",
    )
    assert set(DESCRIPTIONS) == set(LABELS)
