"""The package's floors (docs/architecture.md): each layer imports only from layers below it,
and no module imports itself back through others. Imports inside functions count too: a lazy
import is still a dependency."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import hemodel

#: Layers from the bottom up; a module may import from its own layer and any layer below.
LAYERS = (
    "scenario", "model", "engine", "run", "credibility", "analysis", "present", "app", "commands"
)  # fmt: skip
#: What the top-level package offers its layers: only the version string.
ROOT_NAMES = {"__version__"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path) -> list[tuple[str, int, set[str]]]:
    """(imported module, line, names taken from it) for every import of the package's own
    modules in ``path``; ``from pkg import submodule`` counts as importing the submodule."""
    name = module_name(path, root)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    top = root.name
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, set()) for a in node.names if a.name.split(".")[0] == top]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != top:
                continue
            names = set()
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if _exists(sub, root):
                    out.append((sub, node.lineno, set()))
                else:
                    names.add(alias.name)
            if names:
                out.append((target, node.lineno, names))
    return out


def _exists(module: str, root: Path) -> bool:
    rel = Path(*module.split(".")[1:])
    return (root / rel).with_suffix(".py").exists() or (root / rel / "__init__.py").exists()


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def problems(root: Path) -> list[str]:
    """Upward imports, modules outside any layer, and import cycles in the package at
    ``root``, one line each (empty when the floors hold)."""
    found: list[str] = []
    graph: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        name = module_name(path, root)
        graph.setdefault(name, set())
        here = layer(name)
        if here is None and name not in (root.name, f"{root.name}.__main__"):
            found.append(f"{name}: not in a layer ({', '.join(LAYERS)})")
        for target, line, names in imports(path, root):
            where = f"{path.relative_to(root.parent)}:{line}"
            there = layer(target)
            if target == name:
                continue
            if target == root.name and here is not None:
                # The top package defines __version__ before anything else and loads its
                # public API lazily, so taking the version cannot start a cycle.
                if names - ROOT_NAMES:
                    extra = sorted(names - ROOT_NAMES)
                    found.append(f"{where}: {name} imports {extra} from the top package")
                continue
            graph[name].add(target)
            if here and there and LAYERS.index(there) > LAYERS.index(here):
                found.append(f"{where}: {name} ({here}) imports {target} ({there}), above it")
    for component, path in cycles(graph):
        found.append(f"import cycle among {', '.join(component)}: {' -> '.join(path)}")
    return found


def cycles(graph: dict[str, set[str]]) -> list[tuple[list[str], list[str]]]:
    """Each strongly connected component of more than one module (Tarjan), with one closed
    path through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[tuple[list[str], list[str]]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                component.sort()
                out.append((component, _path_through(component, graph)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _path_through(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A closed path inside the component, from its first module back to it."""
    members, start = set(component), component[0]
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if w not in parents:
                    parents[w] = v
                    nxt.append(w)
        frontier = nxt
    return component


def test_every_layer_imports_only_from_below_and_nothing_cycles():
    root = Path(hemodel.__file__).parent
    found = problems(root)
    assert not found, "the package's floors are broken:\n" + "\n".join(found)


def test_every_layer_ships_in_the_wheel():
    """pyproject.toml lists packages by hand (the bundled scenarios need a package-dir):
    a layer missing from the list would be missing from ``pip install .``."""
    root = Path(hemodel.__file__).parent
    text = (root.parent / "pyproject.toml").read_text(encoding="utf-8")
    listed = set(re.findall(r'^\s*"(hemodel[\w.]*)",', text.split("packages = [")[1], re.M))
    on_disk = {module_name(init, root) for init in root.rglob("__init__.py")}
    assert on_disk <= listed, f"missing from [tool.setuptools] packages: {on_disk - listed}"


def test_the_two_engines_share_only_the_model():
    """The array engine re-implements the SimPy engine; importing any of the other's code
    (or the SimPy engine's books, model.economics) would make their per-patient agreement a
    tautology."""
    root = Path(hemodel.__file__).parent
    simpy = {"hemodel.engine.des", "hemodel.engine.patient", "hemodel.engine.lab"}
    fast = {"hemodel.engine.array", "hemodel.engine.accounts"}

    def taken(modules: set[str]) -> set[str]:
        return {
            t
            for m in modules
            for t, _, _ in imports(root / (m.split(".", 1)[1].replace(".", "/") + ".py"), root)
        }

    assert not taken(fast) & (simpy | {"hemodel.model.economics"})
    assert not taken(simpy) & fast
    assert {t for t in taken(fast) if t.startswith("hemodel.model")}  # the check sees imports


def test_the_public_api_loads_lazily_and_completely():
    """``hemodel.__all__`` is the API; each name loads from the module that defines it."""
    assert sorted(hemodel._API) == sorted(hemodel.__all__)
    for name in hemodel.__all__:
        assert getattr(hemodel, name).__name__ == name
    with pytest.raises(AttributeError, match="no attribute 'simulation'"):
        hemodel.simulation  # noqa: B018 - submodules are not part of the API


def test_the_check_finds_an_upward_import_and_a_cycle(tmp_path):
    """The checker itself: a scenario module importing the engine, and a cycle in model."""
    pkg = tmp_path / "pkg"
    files = {
        "__init__.py": "",
        "scenario/__init__.py": "",
        "scenario/load.py": "def f():\n    from ..engine.des import run\n",
        "model/__init__.py": "",
        "model/a.py": "from . import b\n",
        "model/b.py": "from .c import x\n",
        "model/c.py": "from .a import y\n",
        "engine/__init__.py": "",
        "engine/des.py": "from .. import __version__, simulate\nfrom ..model import a\n",
        "stray.py": "",
    }
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    found = problems(pkg)
    assert found == [
        "pkg/engine/des.py:1: pkg.engine.des imports ['simulate'] from the top package",
        "pkg/scenario/load.py:2: pkg.scenario.load (scenario) imports pkg.engine.des (engine), "
        "above it",
        "pkg.stray: not in a layer (" + ", ".join(LAYERS) + ")",
        "import cycle among pkg.model.a, pkg.model.b, pkg.model.c: "
        "pkg.model.a -> pkg.model.b -> pkg.model.c -> pkg.model.a",
    ]
