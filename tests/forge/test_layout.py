"""The forge's layout holds: SQL only in store.py, and every REST route in the one routing table."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import paid_standins.forge
from paid_standins.forge import routes

FORGE = Path(paid_standins.forge.__file__).parent
SQL = re.compile(
    r"^\s*(SELECT\s|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|CREATE\s+(TABLE|INDEX)\s"
    r"|PRAGMA\s|BEGIN\b|COMMIT$|ROLLBACK$)"
)


def forge_modules() -> list[Path]:
    return sorted(p for p in FORGE.rglob("*.py") if "sample" not in p.relative_to(FORGE).parts)


def sql_in(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
            found.append(f"{path.relative_to(FORGE)}:{node.lineno}: {node.value[:60]!r}")
        if isinstance(node, ast.Attribute) and node.attr in ("execute", "executescript", "executemany"):
            found.append(f"{path.relative_to(FORGE)}:{node.lineno}: .{node.attr}(...)")
    return found


def test_only_the_store_speaks_sql() -> None:
    assert sql_in(FORGE / "store.py"), "the check itself finds the store's SQL"
    elsewhere = [hit for path in forge_modules() if path.name != "store.py" for hit in sql_in(path)]
    assert not elsewhere, "SQL outside store.py:\n" + "\n".join(elsewhere)


def test_every_route_module_handler_is_in_the_routing_table() -> None:
    routed = {route.handler for route in routes.ROUTES}
    families = (
        routes.checks,
        routes.comments,
        routes.events,
        routes.issues,
        routes.labels,
        routes.meta,
        routes.pulls,
        routes.refs,
        routes.repos,
        routes.reviews,
        routes.users,
    )
    for module in families:
        # A handler is a function of exactly (api, req) returning a Reply; helpers take something else.
        handlers = {
            fn
            for fn in vars(module).values()
            if inspect.isfunction(fn)
            and fn.__module__ == module.__name__
            and list(inspect.signature(fn).parameters) == ["api", "req"]
            and fn.__annotations__.get("return") == "Reply"
        }
        assert handlers, module.__name__
        assert handlers <= routed, f"handlers of {module.__name__} missing from ROUTES: {handlers - routed}"
