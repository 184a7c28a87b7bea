"""Imports point one way: command line → flows → tasks → gedflow → schemas."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("gedflow", {"prefect", "flows", "tasks"}),
        ("schemas", {"prefect", "flows", "tasks", "gedflow", "sqlalchemy", "pandas"}),
        ("tasks", {"flows"}),
    ],
)
def test_layers_import_one_way(package: str, forbidden: set[str]) -> None:
    offenders = {f: sorted(n & forbidden) for f, n in _imported_modules(package).items()
                 if n & forbidden}
    assert offenders == {}


def test_the_guard_sees_imports() -> None:
    """The scanner itself works: tasks do import prefect."""
    assert any("prefect" in names for names in _imported_modules("tasks").values())


def _module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _runtime_imports(path: Path, known: set[str]) -> set[str]:
    """The gedflow modules a module imports when it is imported (not in functions, not
    under TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                break
            if isinstance(inner, ast.ImportFrom) and inner.module and inner.level == 0:
                found |= {m for m in (inner.module, *(f"{inner.module}.{a.name}"
                                                       for a in inner.names)) if m in known}
            elif isinstance(inner, ast.Import):
                found |= {a.name for a in inner.names if a.name in known}
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of `graph` (each once, from its smallest module)."""
    found, state = [], {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == "open":
                cycle = path[path.index(dep):]
                start = cycle.index(min(cycle))
                found.append(cycle[start:] + cycle[:start])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return [list(c) for c in {tuple(c) for c in found}]


def test_no_import_cycle_inside_gedflow() -> None:
    paths = {_module_of(p): p for p in (ROOT / "gedflow").rglob("*.py")}
    graph = {m: _runtime_imports(p, set(paths)) - {m} for m, p in paths.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
