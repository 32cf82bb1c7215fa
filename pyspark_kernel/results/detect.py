"""The three detection rules of the seed executor, in its order, as pure functions.

1. a Parquet dataset written to the kernel's output folder,
2. a temporary view (session or global) the cell created or replaced,
3. the last Spark DataFrame the cell bound to a name.
"""

from __future__ import annotations

import ast
import functools
import reprlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_short = reprlib.Repr()
_short.maxstring = 120
_short.maxother = 120


@dataclass(frozen=True)
class Detection:
    """What a cell produced, by the first rule that applied."""

    source: str  # parquet | view | direct_dataframe | none
    parquet_path: str | None = None
    view_name: str | None = None
    variable_name: str | None = None


NOTHING = Detection("none")


def changed_views(before: Mapping[str, str], after: Mapping[str, str], code: str) -> list[str]:
    """Views that are new or whose fingerprint changed, the one named last in the code last."""
    changed = [name for name, mark in after.items() if before.get(name) != mark]
    lowered = code.lower()

    def position(name: str) -> tuple[int, str]:
        bare = name.split(".")[-1].lower()
        return (lowered.rfind(bare), name)

    return sorted(changed, key=position)


def assigned_names(code: str) -> list[str]:
    """Names bound by the cell's top-level statements, in source order (last binding last)."""
    return list(_assigned(code))


@functools.lru_cache(maxsize=64)  # a cell run again is not parsed again
def _assigned(code: str) -> tuple[str, ...]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return ()
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.append((node.lineno, node.col_offset, node.id))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                found.append(
                    (node.lineno, node.col_offset, (alias.asname or alias.name).split(".")[0])
                )
    found.sort()
    ordered: list[str] = []
    for _line, _col, name in found:
        if name in ordered:
            ordered.remove(name)
        ordered.append(name)
    return tuple(ordered)


def changed_names(before: Mapping[str, int], after: Mapping[str, int]) -> list[str]:
    """Names that are new or now refer to a different object (by identity)."""
    return [name for name, ident in after.items() if before.get(name) != ident]


def pick_variable(code: str, before: Mapping[str, int], after: Mapping[str, int]) -> str | None:
    """The DataFrame variable the cell bound last (source order, then namespace order)."""
    changed = changed_names(before, after)
    if not changed:
        return None
    in_code = [name for name in assigned_names(code) if name in changed]
    return in_code[-1] if in_code else changed[-1]


def choose(parquet_path: str | None, views: list[str], variable: str | None) -> Detection:
    """Apply the rules in the seed's order: Parquet, then view, then DataFrame variable."""
    if parquet_path:
        return Detection("parquet", parquet_path=parquet_path)
    if views:
        return Detection("view", view_name=views[-1])
    if variable:
        return Detection("direct_dataframe", variable_name=variable)
    return NOTHING


def short_reprs(
    namespace: Mapping[str, Any],
    names: Iterable[str],
    describe: Callable[[Any], str | None] = lambda value: None,
) -> dict[str, str]:
    """``name -> short repr`` for the execution record's ``created_variables``; `describe`
    gives the text of the values whose ``repr()`` would cost (a DataFrame's runs a job with
    eager evaluation on), None for the others."""
    out: dict[str, str] = {}
    for name in names:
        if name.startswith("_") or name not in namespace:
            continue
        try:
            text = describe(namespace[name])
            out[name] = _short.repr(namespace[name]) if text is None else _clip(text)
        except Exception as exc:  # a broken __repr__ must not break the record
            out[name] = f"<unrepresentable {type(namespace[name]).__name__}: {exc}>"
    return out


def _clip(text: str) -> str:
    return text if len(text) <= _short.maxother else text[: _short.maxother - 3] + "..."
