"""The package's shape: no import cycle anywhere, and a kernel core that loads nothing of the
local services, the pipeline or the demo."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pyspark_kernel"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Modules of the package that `path` imports anywhere."""
    return imports_in(path.read_text(), module_name(path), path.name == "__init__.py", modules)


def imports_in(source: str, name: str, is_package: bool, modules: set[str]) -> set[str]:
    """Modules of `modules` that module `name` imports anywhere (functions and TYPE_CHECKING
    blocks included): every import is an edge, a package's ``__init__`` importing its own
    submodules too.

    Each import is an edge to the module whose code it needs: ``import a.b`` and
    ``from a import b`` (``b`` a submodule) to ``a.b``; ``from a import name`` to ``a``
    (the name comes from ``a/__init__.py``). Loading ``a.b`` first loads its parent package
    ``a``, but that is not an edge: the parent has started loading before any of its
    submodules, so it can close a cycle only by importing a submodule that imports it back,
    and that import back is an edge of its own (``from a import name``)."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def find_cycles(graph: dict[str, set[str]]) -> list[str]:
    """The import cycles of `graph` (module -> the modules it imports), one line each."""
    cycles: list[str] = []
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                cycles.append(" -> ".join([*stack[stack.index(dep) :], dep]))
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_no_import_cycles():
    paths = [p for p in PACKAGE.rglob("*.py") if "labextension" not in p.parts]
    modules = {module_name(p) for p in paths}
    graph = {module_name(p): imports_of(p, modules) for p in paths}
    assert find_cycles(graph) == []


def test_every_import_is_an_edge_to_the_module_it_needs():
    modules = {"pkg", "pkg.a", "pkg.b", "pkg.b.c"}

    def edges(source: str, name: str = "pkg.a", is_package: bool = False) -> set[str]:
        return imports_in(source, name, is_package, modules)

    # a package's __init__ importing its submodules, at the top or in a function
    assert edges("from . import a", "pkg", True) == {"pkg.a"}
    assert edges("def f():\n    from .a import x", "pkg", True) == {"pkg.a"}
    assert edges("from .c import x", "pkg.b", True) == {"pkg.b.c"}
    # a submodule: to the submodule it names, to the package for the package's own names
    assert edges("import pkg.b as b") == {"pkg.b"}
    assert edges("from pkg import b") == {"pkg.b"}
    assert edges("from . import b, helper") == {"pkg.b", "pkg"}
    assert edges("from .. import b", "pkg.b.c") == {"pkg.b"}
    assert edges("if TYPE_CHECKING:\n    from .b import T") == {"pkg.b"}
    assert edges("import os\nfrom pyspark import sql") == set()


def test_a_package_importing_a_submodule_that_imports_it_back_is_a_cycle():
    modules = {"pkg", "pkg.a", "pkg.b"}
    graph = {
        "pkg": imports_in("def load():\n    from .a import A", "pkg", True, modules),
        "pkg.a": imports_in("from .b import B", "pkg.a", False, modules),
        "pkg.b": imports_in("from pkg import current", "pkg.b", False, modules),
    }
    assert find_cycles(graph) == ["pkg -> pkg.a -> pkg.b -> pkg"]
    graph["pkg.b"] = imports_in("import pkg.a", "pkg.b", False, modules)
    assert find_cycles(graph) == ["pkg.a -> pkg.b -> pkg.a"]


def test_the_kernel_core_loads_no_service_pipeline_or_demo_module():
    code = (
        "import sys, pyspark_kernel.kernel, pyspark_kernel.launcher;"
        "print([m for m in sys.modules if m.startswith(("
        "'pyspark_kernel.services', 'pyspark_kernel.pipeline', 'pyspark_kernel.demo'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
