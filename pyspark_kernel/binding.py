"""Binding ``spark`` and ``sc`` in the user's namespace, and deciding from a cell's parsed
names whether it needs the session before it runs."""

from __future__ import annotations

import ast
import functools
import types
from collections.abc import Callable, Mapping
from typing import Any

import pyspark_kernel.errors as errors

from .session import SessionError, SessionManager

# Names that are the session: a cell that reads one of them waits for it.
SESSION_NAMES = frozenset({"spark", "sc", "sqlContext"})
# Magics that use the session.
SPARK_MAGICS = frozenset({"spark", "sql", "streams", "transform"})


class Unavailable:
    """Bound as ``spark``/``sc`` while the session cannot be had; any use says why."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def __getattr__(self, name: str) -> Any:
        raise errors.SparkSessionUnavailable(self._reason)

    def __repr__(self) -> str:
        return f"<Spark session unavailable: {self._reason}>"


class SessionBinding:
    """Keeps ``spark`` (and ``sc`` on a classic session) bound to the current session."""

    def __init__(self, shell: Any, session: SessionManager) -> None:
        self.shell = shell
        self.session = session
        self._generation = -1
        self._bound: dict[str, Any] = {}  # what this binding put in the namespace

    def bind(self, wait: bool) -> Any:
        """Bind the session (waiting for it if asked); return it, or None when it cannot be
        had (``spark`` then raises the reason on use)."""
        try:
            spark = self.session.wait() if wait else self.session.spark
        except SessionError as exc:
            self.mark_unavailable(str(exc))
            return None
        if spark is not None and self.session.generation != self._generation:
            names = {"spark": spark}
            if not self.session.is_remote:
                names["sc"] = spark.sparkContext
            else:
                self._pop("sc")
            self._put(names)
            self._generation = self.session.generation
        return spark

    def mark_unavailable(self, reason: str) -> None:
        """Bind ``spark`` and ``sc`` to an object that raises `reason` on any use."""
        unavailable = Unavailable(reason)
        self._put({"spark": unavailable, "sc": unavailable})
        self._generation = -1

    def unbind(self) -> None:
        """Remove from the namespace what this binding put there (and is still there)."""
        for name in list(self._bound):
            self._pop(name)
        self._generation = -1

    def _put(self, names: dict[str, Any]) -> None:
        ns = self.shell.user_ns
        for name, value in names.items():
            ns[name] = value
            self._bound[name] = value

    def _pop(self, name: str) -> None:
        ns = self.shell.user_ns
        value = self._bound.pop(name, None)
        if value is not None and ns.get(name) is value:
            del ns[name]


def needs_spark(code: str, namespace: Mapping[str, Any], shell: Any = None) -> bool:
    """Whether the cell reads the session or anything of PySpark, or runs a Spark magic.

    Decided from the cell's parsed names (IPython syntax transformed first): comments,
    strings and assignments to a name (``sc = StandardScaler()``) do not count."""
    transform = shell.transform_cell if shell is not None else None
    loaded, imported, spark_magic = _names_read(code, transform)
    if spark_magic or any(name in SESSION_NAMES or name in imported for name in loaded):
        return True
    return any(name in namespace and _of_pyspark(namespace[name]) for name in loaded)


@functools.lru_cache(maxsize=64)  # a cell run again is not parsed again
def _names_read(
    code: str, transform: Callable[[str], str] | None
) -> tuple[tuple[str, ...], frozenset[str], bool]:
    """The names the cell reads (in order, once each), the names it binds to PySpark
    modules and objects by importing them, and whether it calls a Spark magic."""
    try:
        tree = ast.parse(transform(code) if transform is not None else code)
    except SyntaxError:
        return (), frozenset(), False
    imported: set[str] = set()
    loaded: dict[str, None] = {}
    spark_magic = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_pyspark(alias.name):
                    imported.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and _is_pyspark(node.module or ""):
            imported.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            loaded[node.id] = None
        elif isinstance(node, ast.Call) and _spark_magic(node):
            spark_magic = True
    return tuple(loaded), frozenset(imported), spark_magic


def _of_pyspark(value: Any) -> bool:
    """A PySpark module, class, function or object (a DataFrame, a Column...)."""
    try:
        if isinstance(value, types.ModuleType):
            return _is_pyspark(value.__name__)
        return _is_pyspark(getattr(value, "__module__", None) or type(value).__module__)
    except Exception:  # an object whose attribute lookup itself fails
        return False


def _is_pyspark(module: str) -> bool:
    return module == "pyspark" or module.startswith("pyspark.")


def _spark_magic(call: ast.Call) -> bool:
    """``get_ipython().run_line_magic('sql', ...)`` and friends, as IPython writes magics."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr in {"run_line_magic", "run_cell_magic"}):
        return False
    first = call.args[0] if call.args else None
    return isinstance(first, ast.Constant) and first.value in SPARK_MAGICS
