"""The package keeps one direction of dependency and no import cycles.

domain (``mailguard``) <- models <- (pipelines | serve.scoring | serve.review) <- cli. Every import
counts, including those inside functions (a lazy import is still a dependency); only imports under
``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mailguard", "models", "pipelines", "serve")

# layer of a module (longest matching prefix wins) -> layers it must never import
LAYERS = {
    "mailguard": "domain",
    "mailguard.cli": "cli",
    "mailguard.__main__": "cli",
    "models": "models",
    "pipelines": "pipelines",
    "serve.scoring": "scoring",
    "serve.review": "review",
    "serve": "serve",
}
FORBIDDEN = {
    "domain": {"models", "pipelines", "scoring", "review", "serve", "cli"},
    "models": {"pipelines", "scoring", "review", "serve", "cli"},
    "pipelines": {"scoring", "review", "serve", "cli"},
    "scoring": {"pipelines", "review", "cli"},  # the CLI hands scoring what it needs from the review side
    "review": {"pipelines", "scoring", "cli"},
    "serve": {"pipelines", "cli"},
    "cli": set(),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Return the project modules ``path`` imports (any depth in the file, TYPE_CHECKING blocks excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    here = module_name(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = here.split(".")[: -node.level] if path.name != "__init__.py" else here.split(".")
                base = ".".join([*package, base] if base else package)
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != here:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))]
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


GRAPH = import_graph()


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_module_does_not_import_upwards_or_sideways(module: str) -> None:
    wrong = sorted(m for m in GRAPH[module] if layer(m) in FORBIDDEN[layer(module)])
    assert not wrong, f"{module} ({layer(module)}) imports {wrong}: that breaks the layering"


def test_there_is_no_import_cycle() -> None:
    # Package __init__ files re-export their children: an edge into a package from its own child is expected.
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in GRAPH.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            pytest.fail("import cycle: " + " -> ".join(cycle))


def test_the_graph_sees_lazy_imports() -> None:
    # a function-level import is an edge too: this is what hid the old models/ cycle
    assert "models.saved" in GRAPH["models.cascade"] and "models.families" in GRAPH["models.saved"]


def test_taxonomy_is_the_single_label_list() -> None:
    from mailguard.taxonomy import DESCRIPTIONS, LABELS

    assert LABELS == (
        "age", "sexual_orientation", "religion", "national_origin", "disability",
        "race", "gender", "political", "sexual", "solicitation",
    )
    assert set(DESCRIPTIONS) == set(LABELS)
