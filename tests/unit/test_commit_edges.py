"""Who ends a transaction: ``app.db`` (``unit_of_work``, the lock-conflict retry and the worker
loop's ``reset_after_error``) and the error handlers that clean up after a failed request;
nothing else in ``app/`` calls ``.commit()`` or ``.rollback()``. Read from the source with ``ast``.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"

ENDS = frozenset({"commit", "rollback"})
ERROR_HANDLER_DECORATORS = frozenset({"errorhandler", "app_errorhandler"})


def _is_error_handler(function: ast.FunctionDef) -> bool:
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr in ERROR_HANDLER_DECORATORS:
            return True
    return False


def transaction_ends(path: Path) -> list[str]:
    """``"<function>:<line> .commit()"`` for each ``.commit()`` / ``.rollback()`` call in
    ``path`` that is not inside an error handler (a function decorated ``@…errorhandler``)."""
    found = []

    def visit(node: ast.AST, function: ast.FunctionDef | None) -> None:
        if isinstance(node, ast.FunctionDef):
            function = node
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ENDS
            and not (function is not None and _is_error_handler(function))
        ):
            where = function.name if function is not None else "<module>"
            found.append(f"{where}:{node.lineno} .{node.func.attr}()")
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(ast.parse(path.read_text(), str(path)), None)
    return found


def test_only_units_of_work_and_error_handlers_end_transactions() -> None:
    offending = {}
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(APP)
        if relative == Path("db.py"):
            continue
        if found := transaction_ends(path):
            offending[str(relative)] = found
    assert offending == {}, "commit with `with app.db.unit_of_work():` at the edge instead"


def test_the_check_sees_a_commit_below_the_edge(tmp_path: Path) -> None:
    module = tmp_path / "domain.py"
    module.write_text(
        "def save(session):\n    session.commit()\n\n"
        "@bp.errorhandler(Exception)\ndef failed(exc):\n    db.session.rollback()\n"
    )
    assert transaction_ends(module) == ["save:2 .commit()"]
