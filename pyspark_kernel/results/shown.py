"""``DataFrame.show()`` marks the running cell as one that displayed a DataFrame itself, so
no detected table repeats what ``show()`` printed."""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any

import pyspark_kernel.spark_internals as internals

from ..cellstate import CellState


class ShowWatch:
    """Wraps the ``show`` methods of the DataFrame classes; `uninstall` puts them back."""

    def __init__(self, current: Callable[[], CellState | None]) -> None:
        self._current = current
        self._wrapped: dict[Any, tuple[Callable[..., Any], Callable[..., Any]]] = {}
        # the DataFrame classes whose own ``show`` prints rows (classic and Spark Connect);
        # each is wrapped once its module is imported
        self._classes: tuple[tuple[str, str], ...] = ()

    def install(self) -> None:
        """Wrap ``show`` of every DataFrame class imported so far (the classic one is
        imported now; Spark Connect's only when a session uses it)."""
        self._classes = internals.show_classes()
        importlib.import_module(self._classes[0][0])
        self.refresh()

    def refresh(self) -> None:
        """Wrap the classes imported since the last call (called before each cell)."""
        for module_name, name in self._classes:
            module = sys.modules.get(module_name)
            cls: Any = getattr(module, name, None) if module is not None else None
            if cls is None or cls in self._wrapped or "show" not in cls.__dict__:
                continue
            original = cls.__dict__["show"]
            wrapper = self._wrap(original)
            cls.show = wrapper
            self._wrapped[cls] = (original, wrapper)

    def uninstall(self) -> None:
        for cls, (original, wrapper) in self._wrapped.items():
            if cls.__dict__.get("show") is wrapper:
                cls.show = original
        self._wrapped.clear()

    def _wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        current = self._current

        @functools.wraps(original)
        def show(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            cell = current()
            if cell is not None:
                cell.mark_shown("show")
            return result

        return show
