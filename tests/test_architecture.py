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
