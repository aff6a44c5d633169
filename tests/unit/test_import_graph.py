"""The import graph between payments and notifications runs one way (app/merchant_events.py).

``app.payments`` writes merchant events through ``app.merchant_events`` and never imports
``app.notifications``; ``app.merchant_events`` imports neither. Read from the source with ``ast``,
function-level imports included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, as absolute dotted names (``from x import y`` counts as
    both ``x`` and ``x.y``, since ``y`` may be a submodule)."""
    package = ".".join(path.relative_to(APP.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _offending(paths: list[Path], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    bad = {}
    for path in paths:
        hits = sorted(m for m in imported_modules(path) if m.startswith(forbidden))
        if hits:
            bad[str(path.relative_to(APP.parent))] = hits
    return bad


def test_payments_never_imports_notifications():
    assert _offending(sorted((APP / "payments").rglob("*.py")), ("app.notifications",)) == {}


def test_the_merchant_events_layer_imports_neither_payments_nor_notifications():
    assert _offending([APP / "merchant_events.py"], ("app.payments", "app.notifications")) == {}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from ..notifications.outbox import emit", "app.notifications.outbox"),
        ("from .. import notifications", "app.notifications"),
        ("import app.notifications.worker", "app.notifications.worker"),
    ],
)
def test_the_checker_sees_each_way_of_importing(tmp_path, monkeypatch, source, expected):
    module = tmp_path / "app" / "payments" / "x.py"
    module.parent.mkdir(parents=True)
    module.write_text(f"def f():\n    {source}\n")
    monkeypatch.setitem(globals(), "APP", tmp_path / "app")
    assert expected in imported_modules(module)
