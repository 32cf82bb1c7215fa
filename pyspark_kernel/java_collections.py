"""Python lists and dicts handed to the driver JVM in one Py4J round trip each.

Py4J turns a Python list (or tuple, or any iterable) passed to a Java method into a
``java.util.ArrayList``, and a dict into a ``java.util.HashMap``: one call to make it, then
one per element or key, each a round trip (``groupBy('k').agg({'v': 'sum', 'x': 'avg'})``
makes five). The kernel's driver helper (`driver_calls`) has ``list`` and ``map`` methods
of up to `MAX_ARGS` arguments, so a short one is made in one call: the same class, the same
elements in the same order, each element converted as Py4J converts it. Longer ones, and
calls to a JVM without the helper, go through Py4J's own converters.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

log = logging.getLogger(__name__)

MAX_ARGS = 8  # a list of up to 8 elements, a dict of up to 4 entries, in one call

_HELPERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()  # client -> helper
_INSTALL_LOCK = threading.Lock()


def java_methods() -> str:
    """The helper's ``list`` and ``map`` methods, in Java as Janino reads it: one overload
    per argument count (Py4J calls no varargs method)."""
    methods = []
    for count in range(MAX_ARGS + 1):
        params = ", ".join(f"Object a{i}" for i in range(count))
        values = ", ".join(f"a{i}" for i in range(count))
        methods.append(
            f"public java.util.ArrayList list({params}) {{\n"
            f"    return listOf(new Object[] {{{values}}});\n}}\n"
        )
        if count % 2 == 0:
            methods.append(
                f"public java.util.HashMap map({params}) {{\n"
                f"    return mapOf(new Object[] {{{values}}});\n}}\n"
            )
    methods.append(
        "private static java.util.ArrayList listOf(Object[] items) {\n"
        "    java.util.ArrayList list = new java.util.ArrayList(items.length);\n"
        "    for (int i = 0; i < items.length; i++) {\n"
        "        list.add(items[i]);\n"
        "    }\n"
        "    return list;\n"
        "}\n"
        "private static java.util.HashMap mapOf(Object[] items) {\n"
        "    java.util.HashMap map = new java.util.HashMap();\n"
        "    for (int i = 0; i < items.length; i += 2) {\n"
        "        map.put(items[i], items[i + 1]);\n"
        "    }\n"
        "    return map;\n"
        "}\n"
    )
    return "".join(methods)


def use(client: Any, helper: Any) -> None:
    """Make short lists and dicts sent through `client` with `helper` (a JVM object with
    the methods of `java_methods`) from now on."""
    _install(client)
    _HELPERS[client] = helper


def _install(client: Any) -> None:
    """Put the one-call converters in place of Py4J's in `client`'s converter list (with
    PySpark, Py4J's shared list: method objects made before see the change)."""
    from py4j.java_collections import ListConverter, MapConverter

    with _INSTALL_LOCK:
        converters = getattr(client, "converters", None)
        if not isinstance(converters, list):
            return  # converters are off on this client: nothing is converted
        for i, converter in enumerate(converters):
            if type(converter) is ListConverter:
                converters[i] = OneCallList(converter)
            elif type(converter) is MapConverter:
                converters[i] = OneCallMap(converter)


class _OneCall:
    """Py4J's converter `original`, in one call of the helper's `method` for up to
    `MAX_ARGS` arguments."""

    method = ""

    def __init__(self, original: Any) -> None:
        self.original = original
        self.can_convert = original.can_convert  # the same values as before

    def arguments(self, object: Any) -> tuple[Any, list[Any]]:
        """What `original` converts (`object`, or its items when it can be read once)
        and the helper's arguments for it."""
        raise NotImplementedError

    def convert(self, object: Any, gateway_client: Any) -> Any:
        helper = _HELPERS.get(gateway_client)
        if helper is None:
            return self.original.convert(object, gateway_client)
        object, args = self.arguments(object)
        if len(args) <= MAX_ARGS:
            try:
                return getattr(helper, self.method)(*args)
            except Exception as exc:
                if not _helper_gone(exc):
                    raise
        return self.original.convert(object, gateway_client)


class OneCallList(_OneCall):
    """A list (or any iterable): its elements, in order."""

    method = "list"

    def arguments(self, object: Any) -> tuple[Any, list[Any]]:
        items = list(object)
        return items, items


class OneCallMap(_OneCall):
    """A dict: its keys and values, in turn."""

    method = "map"

    def arguments(self, object: Any) -> tuple[Any, list[Any]]:
        pairs: list[Any] = []
        for key in object.keys():  # noqa: SIM118 (as Py4J reads it: any keys() and [])
            pairs += (key, object[key])
        return object, pairs


def _helper_gone(exc: Exception) -> bool:
    """Whether `exc` says the helper is gone (then Py4J's way is taken); a lost JVM, or an
    element Py4J cannot send, fails as it would without the helper."""
    from py4j.protocol import Py4JError, Py4JNetworkError

    if isinstance(exc, Py4JNetworkError) or not isinstance(exc, Py4JError):
        return False
    log.debug("no one-call collections: %s", str(exc)[:200])
    return True
