"""The import rules of ../shared/ARCHITECTURE.md, read from the source with ast.

Pure layers (objects/, routing/, cluster/) never import asyncio or aiohttp; imports run downward
(the loader/validator and the API sit above routing, cluster and pods, and nothing below imports
them); ingressd.kinds, the registry every layer reads, imports nothing of ingressd; and no module
imports another that imports it back, lazily or not.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ingressd"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST):
    """Every node, less the bodies of `if TYPE_CHECKING:` (annotations only, never run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of the file (lazy imports count)."""
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


GRAPH = {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}
MODULES = set(GRAPH)


def internal(imports: set[str]) -> set[str]:
    return {name for name in imports if name in MODULES}


def test_pure_layers_never_import_asyncio_or_aiohttp():
    offenders = {module: sorted(n for n in imports if n.split(".")[0] in ("asyncio", "aiohttp"))
                 for module, imports in GRAPH.items()
                 if module.split(".")[1:2] and module.split(".")[1] in ("objects", "routing", "cluster", "apimachinery")}
    assert {m: found for m, found in offenders.items() if found} == {}


def test_lower_layers_never_import_the_loader_the_api_or_the_app():
    lower = ("ingressd.routing", "ingressd.cluster", "ingressd.pods", "ingressd.proxy", "ingressd.apimachinery")
    upper = ("ingressd.objects", "ingressd.admin", "ingressd.app", "ingressd.cli", "ingressd.kubectl")
    offenders = {module: sorted(n for n in internal(imports) if n.startswith(upper))
                 for module, imports in GRAPH.items() if module.startswith(lower)}
    assert {m: found for m, found in offenders.items() if found} == {}


def test_the_kinds_registry_imports_nothing_of_ingressd():
    assert internal(GRAPH["ingressd.kinds"]) == set()


def test_no_import_cycles():
    # A module's own packages (imported with it) and a package's own submodules are not edges.
    edges = {module: {n for n in internal(imports)
                      if n != module and not module.startswith(n + ".") and not n.startswith(module + ".")}
             for module, imports in GRAPH.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(module: str, stack: list[str]) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [])
    assert cycles == []


def test_the_proxy_routes_only_through_decide_and_snapshot():
    """One routing brain: the proxy executes `routing.decide`'s decisions on `routing.snapshot`'s
    snapshots and never reaches into the modules behind them (matching, canary, affinity...)."""
    allowed = {"ingressd.routing", "ingressd.routing.decide", "ingressd.routing.snapshot"}
    offenders = {module: sorted(n for n in internal(imports) if n.startswith("ingressd.routing") and n not in allowed)
                 for module, imports in GRAPH.items() if module.startswith("ingressd.proxy")}
    assert {m: found for m, found in offenders.items() if found} == {}
