"""The layers of the repository only point down, without cycles: read from every module's imports.

benchmarks/, deploy/  ->  gmner/  ->  services/, gateway/  ->  engines/  ->  shared/
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shared", "engines", "services", "gateway", "gmner")
# What each package may import from this repository (itself included).
ALLOWED: dict[str, set[str]] = {
    "shared": {"shared"},
    "engines": {"engines", "shared"},
    "services": {"services", "engines", "shared"},
    "gateway": {"gateway", "engines", "shared"},
    # gmner starts the stages through the registry's import strings (shared/apps.py), never by importing them.
    "gmner": {"gmner", "gateway", "engines", "shared"},
}
LAYERS_ABOVE_SHARED = ("engines", "services", "gateway", "gmner")


@cache
def imports_of(path: Path) -> list[str]:
    """Every module a file imports, at the top or inside a function (lazy imports are still dependencies)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """The nodes of a module, without the bodies of `if TYPE_CHECKING:` (imports only the type checker runs)."""
    found: list[ast.AST] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules(package)
        for name in imports_of(path)
        if name.split(".")[0] in PACKAGES and name.split(".")[0] not in ALLOWED[package]
    ]
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_services_do_not_import_each_other() -> None:
    # services/visual is no app: the settings and serving bases that VE and VG share.
    wrong = []
    for path in modules("services"):
        parts = path.relative_to(ROOT / "services").parts
        own = parts[0] if len(parts) > 1 else None
        for name in imports_of(path):
            pieces = name.split(".")
            if pieces[0] == "services" and len(pieces) > 1 and pieces[1] not in (own, "visual"):
                wrong.append(f"{path.relative_to(ROOT)}: {name}")
    assert not wrong, "a service imports another:\n" + "\n".join(wrong)


def test_shared_names_no_path_of_the_layers_above() -> None:
    # A path like services/vg/... in the platform ties it to one app's layout (the registry holds import strings,
    # `services.ner.app:create_app`, which are no paths).
    wrong = []
    for path in modules("shared"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            joined = isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
            for part in (node.left, node.right) if joined else ():  # type: ignore[attr-defined]
                if isinstance(part, ast.Constant) and part.value in LAYERS_ABOVE_SHARED:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: / {part.value!r}")  # type: ignore[attr-defined]
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and any(node.value.startswith(f"{layer}/") for layer in LAYERS_ABOVE_SHARED)
            ):
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not wrong, f"paths of the layers above in shared/: {wrong}"


def test_engine_modules_know_nothing_of_http_apps() -> None:
    web = ("fastapi", "starlette", "uvicorn")
    wrong = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules("engines")
        for name in imports_of(path)
        if name.split(".")[0] in web
    ]
    assert not wrong, "\n".join(wrong)


def test_the_internal_imports_have_no_cycle_between_top_level_modules() -> None:
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in modules(package):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            graph[module] = {name for name in imports_of(path) if name.split(".")[0] in PACKAGES}

    # Cycles between packages (a.b -> c.d -> a.b) at the level of the sub-packages (engines.ner, services.vg, ...).
    def group(module: str) -> str:
        return ".".join(module.split(".")[:2])

    edges: dict[str, set[str]] = {}
    for module, targets in graph.items():
        for target in targets:
            if group(target) != group(module):
                edges.setdefault(group(module), set()).add(group(target))
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack, node, nxt]
            if nxt not in state and (found := visit(nxt, [*stack, node])):
                return found
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node, [])):
            pytest.fail("import cycle: " + " -> ".join(cycle))
