"""The shape of the package: imports point one way, protocol/ does no I/O, modules stay small.

Every import counts, including the ones inside functions: a cycle hidden by a lazy
import is still a cycle. Layers, lowest first (a module may import its own layer's
siblings and any lower layer, never a higher one):

0. pure: ``alignment``, ``chunking``, ``ssml``, ``normalize``, ``trace`` (stage times)
1. ``protocol`` (the wire, and the sans-I/O connection state machines)
2. ``audio``, ``spawn``
3. ``client``, ``server`` (which never import each other)
4. ``jupyter``
5. ``cli``, ``cli_say``, ``__main__``, and the package's own ``__init__`` (a lazy facade)
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "eleven_nb"
LAYERS = {
    "alignment": 0, "chunking": 0, "boundaries": 0, "schedule": 0, "ssml": 0, "normalize": 0, "trace": 0,
    "protocol": 1,
    "audio": 2, "spawn": 2, "local_server": 2,
    "client": 3, "server": 3,
    "jupyter": 4,
    "cli": 5, "cli_say": 5, "__main__": 5, "__init__": 5,
}
SEPARATE = {("client", "server"), ("server", "client")}  # same layer, never each other
NO_IO = ("asyncio", "aiohttp", "threading", "socket", "concurrent", "subprocess")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> tuple[set[str], set[str]]:
    """(eleven_nb modules imported, top-level names of other imports) by module ``name``."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if _is_package(name) else name.rpartition(".")[0]
    ours, theirs = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                (ours if alias.name.split(".")[0] == "eleven_nb" else theirs).add(
                    alias.name if alias.name.startswith("eleven_nb") else alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
                if not target.startswith("eleven_nb"):
                    theirs.add(target.split(".")[0])
                    continue
            for alias in node.names:  # `from . import loop` names a submodule, not the package
                sub = f"{target}.{alias.name}"
                ours.add(sub if sub in MODULES else target)
    return {m for m in ours if m in MODULES and m != name}, theirs


GRAPH = {name: _imports(name)[0] for name in MODULES}


def _top(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_has_a_layer():
    missing = sorted({_top(m) for m in MODULES} - set(LAYERS))
    assert not missing, f"give these a layer in LAYERS: {missing}"


def test_no_import_cycles():
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module):
    here = _top(module)
    for target in GRAPH[module]:
        there = _top(target)
        if there == here or here == "__init__":
            continue
        assert (here, there) not in SEPARATE, f"{module} imports {target}: {here} and {there} stay apart"
        assert LAYERS[there] <= LAYERS[here], (
            f"{module} (layer {LAYERS[here]}) imports {target} (layer {LAYERS[there]}): imports point down")


def test_protocol_does_no_io():
    for module in MODULES:
        if _top(module) == "protocol":
            used = _imports(module)[1] & set(NO_IO)
            assert not used, f"{module} imports {sorted(used)}: protocol/ is sans-I/O"


def test_no_module_is_two_things():
    long = {str(p.relative_to(PACKAGE.parent)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines (split by job): {long}"
