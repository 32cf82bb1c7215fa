"""The user's variables before and after each cell, without scanning IPython's own names.

IPython adds ``_iN`` to the namespace for every cell and never removes it: after 20,000
cells a scan of the whole namespace takes about 1.3 ms here, and the kernel looks before
and after every cell. `NamespaceWatch` keeps the public names (no leading underscore) with
the identity of their values and brings them up to date from the public names it knows
and from the keys inserted since it last looked: a dict keeps insertion order, so those
are the keys after the last one it saw. A look costs in proportion to the user's
variables and the cell's new names, not to the cells run so far.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_NO_KEY = object()


class NamespaceWatch:
    """Public names of `namespace()` mapped to ``id()`` of their values, in its order."""

    def __init__(self, namespace: Callable[[], dict[str, Any]]) -> None:
        self._namespace = namespace
        self._seen: dict[str, Any] | None = None  # the dict looked at last
        self._names: dict[str, int] = {}
        self._last: Any = _NO_KEY  # its last key then, and the identity of that key's value
        self._last_id = 0
        self._size = 0  # its length then
        self.full_scans = 0

    def snapshot(self) -> dict[str, int]:
        """``name -> id(value)`` for the public names now in the namespace."""
        ns = self._namespace()
        try:
            names = self._update(ns)
        except (RuntimeError, KeyError):  # another thread changed the namespace meanwhile
            names = None
        if names is None:
            names = self._scan(ns)
        self._seen, self._names = ns, names
        self._last = next(reversed(ns), _NO_KEY) if ns else _NO_KEY
        self._last_id = id(ns.get(self._last)) if self._last is not _NO_KEY else 0
        self._size = len(ns)
        return dict(names)

    def _scan(self, ns: dict[str, Any]) -> dict[str, int]:
        self.full_scans += 1
        return {k: id(v) for k, v in list(ns.items()) if _public(k)}

    def _update(self, ns: dict[str, Any]) -> dict[str, int] | None:
        """The names from the last look's, or None when that look cannot be built on (a
        new namespace, or its last key gone, bound anew or moved)."""
        last = self._last
        if ns is not self._seen or last is _NO_KEY or last not in ns:
            return None
        if id(ns[last]) != self._last_id:
            return None
        inserted: list[str] = []
        for key in reversed(ns):
            if key == last:
                break
            inserted.append(key)
        else:
            return None
        if len(ns) > self._size + len(inserted):  # more keys than those after the last one:
            return None  # it was deleted and set again, to the same object
        names = {k: id(ns[k]) for k in self._names if k in ns}
        for key in reversed(inserted):  # oldest first; a key deleted and set again moves last
            if _public(key):
                names.pop(key, None)
                names[key] = id(ns[key])
        return names


def _public(key: object) -> bool:
    return isinstance(key, str) and not key.startswith("_")
