"""Parameters of a notebook run, injected the way papermill does.

A code cell tagged ``injected-parameters`` assigning each parameter goes right after the
cell tagged ``parameters`` (its defaults), or first when there is none; an injected cell
left by an earlier run is replaced. Values are JSON values, written as Python literals.
"""

from __future__ import annotations

import keyword
import math
from collections.abc import Mapping
from typing import Any

import nbformat

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"


class ParameterError(ValueError):
    """A parameter has a name or value that cannot be injected."""


def check(parameters: Any) -> dict[str, Any]:
    """`parameters` as a dict of valid Python names to JSON values, or `ParameterError`."""
    if not isinstance(parameters, dict):
        raise ParameterError("parameters must be a JSON object")
    for name, value in parameters.items():
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ParameterError(f"parameter name {name!r} is not a Python name")
        _check_value(name, value)
    return dict(parameters)


def _check_value(name: str, value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError(f"parameter {name!r} is not a finite number")
    if isinstance(value, dict):
        for v in value.values():
            _check_value(name, v)
    elif isinstance(value, list):
        for v in value:
            _check_value(name, v)
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise ParameterError(f"parameter {name!r} is not a JSON value")


def source(parameters: Mapping[str, Any]) -> str:
    """The injected cell's code."""
    lines = ["# Parameters"]
    lines += [f"{name} = {value!r}" for name, value in parameters.items()]
    return "\n".join(lines) + "\n"


def inject(nb: Any, parameters: Mapping[str, Any]) -> int | None:
    """Insert the injected-parameters cell into `nb` (in place); return its index, or None
    when there are no parameters (an earlier injected cell is removed either way)."""
    nb.cells = [c for c in nb.cells if INJECTED_TAG not in _tags(c)]
    if not parameters:
        return None
    defaults = next((i for i, c in enumerate(nb.cells) if PARAMETERS_TAG in _tags(c)), None)
    index = 0 if defaults is None else defaults + 1
    cell = nbformat.v4.new_code_cell(source(parameters), metadata={"tags": [INJECTED_TAG]})
    nb.cells.insert(index, cell)
    return index


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))
