"""The one-way architecture, held by CI: grievances → arbitration → duty_lists → core, config wiring them
(shared/DESIGN.md), and no circle of imports inside an app.

Read from the source with ``ast``, every import counts, the ones inside functions too: an import put in a
function to dodge a circle at import time is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["core", "duty_lists", "arbitration", "grievances"]  # each may import only those before it


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for app in LAYERS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # migrations name other apps' migrations, and import no code of theirs
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(module: str, path: Path) -> set[str]:
    """The project modules ``module`` imports (as the longest known module name of each import)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    resolved = set()
    for name in names:
        parts = name.split(".")
        while parts and ".".join(parts) not in MODULES:
            parts.pop()
        if parts and ".".join(parts) != module:
            resolved.add(".".join(parts))
    return resolved


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def test_no_layer_imports_a_layer_above_it() -> None:
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if _layer(target) > _layer(module)
    )
    assert not upward, "\n".join(upward)


def test_no_circle_of_imports() -> None:
    # Tarjan's strongly connected components: any with more than one module is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(GRAPH.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not circles, "\n".join(" ↔ ".join(c) for c in circles)


def test_the_checks_see_an_upward_import_and_a_circle() -> None:
    """The checks themselves can fail: the graph they read has the edges a real import makes."""
    assert "duty_lists.models" in GRAPH["duty_lists.permissions"]
    assert "arbitration.services.notifications" in GRAPH["arbitration.tasks"]  # an import inside a function


def test_core_role_codes_are_the_duty_lists_roles() -> None:
    from core.registry import AUDITOR, SECURITY_ADMIN, SYSTEM_ADMIN
    from duty_lists.models import Role

    assert {AUDITOR, SECURITY_ADMIN, SYSTEM_ADMIN} <= set(Role.values)


@pytest.mark.parametrize("app", LAYERS)
def test_every_app_module_is_read(app: str) -> None:
    assert any(module.split(".")[0] == app for module in GRAPH)
