"""`NamespaceWatch`: the user's variables before and after a cell, from the keys inserted
since the last look, never by scanning IPython's ``_iN`` names again."""

from pyspark_kernel.results.namespace import NamespaceWatch


def scan(ns):
    return {k: id(v) for k, v in ns.items() if not k.startswith("_")}


def watched(ns):
    return NamespaceWatch(lambda: ns)


def test_it_sees_what_a_full_scan_sees_after_each_kind_of_change():
    ns = {"In": [], "_i1": "a = 1", "a": 1, "b": [2]}
    watch = watched(ns)
    assert watch.snapshot() == scan(ns)
    steps = [
        lambda: ns.update(_i2="c = 3", c=3),  # a new name
        lambda: ns.__setitem__("a", object()),  # a name bound anew
        lambda: ns.__delitem__("b"),  # a name deleted
        lambda: (ns.pop("a"), ns.__setitem__("a", 5)),  # deleted and set again: moves last
        lambda: ns.update({"_i3": "x", "_3": 3}),  # only IPython's names
        lambda: ns["b"] if "b" in ns else ns.__setitem__("b", "again"),
    ]
    for step in steps:
        step()
        got = watch.snapshot()
        assert got == scan(ns)
        assert list(got) == list(scan(ns))  # namespace order: the fallback rule reads it
    assert watch.full_scans == 1


def test_a_look_does_not_scan_the_names_ipython_adds_for_every_cell():
    ns = {f"_i{i}": "x = 1" for i in range(20_000)}
    ns["df"] = object()
    watch = watched(ns)
    watch.snapshot()
    for cell in range(20_000, 20_100):
        ns[f"_i{cell}"] = "y = 1"
        ns[f"v{cell}"] = cell
        assert watch.snapshot() == scan(ns)
    assert watch.full_scans == 1


def test_it_scans_again_when_its_last_key_is_gone_or_the_namespace_is_new():
    ns = {"a": 1, "_i1": "a = 1"}
    watch = NamespaceWatch(lambda: current)
    current = ns
    watch.snapshot()
    del ns["_i1"]  # IPython's output cache dropped the last key seen
    ns["b"] = 2
    assert watch.snapshot() == scan(ns)
    ns["b"] = object()  # the last key seen, bound anew
    ns["c"] = 3
    assert watch.snapshot() == scan(ns)
    last = ns.pop("c")  # the last key seen, deleted and set again to the same object
    ns["d"] = 4
    ns["c"] = last
    assert watch.snapshot() == scan(ns)
    current = {"z": 26}  # a namespace replaced (%reset -f with a new dict)
    assert watch.snapshot() == {"z": id(current["z"])}
    assert watch.full_scans == 5


def test_names_that_are_not_strings_are_left_out():
    ns = {"a": 1, 7: "seven"}
    watch = watched(ns)
    assert watch.snapshot() == {"a": id(ns["a"])}
    ns[(1, 2)] = "tuple key"
    assert watch.snapshot() == {"a": id(ns["a"])}
