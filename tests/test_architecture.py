"""The code's shape, checked like any other behaviour: no module imports itself back.

import-linter's layers contract (`make lint`) keeps the floors of docs/architecture.md#floors;
it cannot see a circle between two modules of one package. This test can: it builds the import
graph of every module (imports inside functions and under TYPE_CHECKING included) and fails on
any group of modules that reach each other.
"""

from __future__ import annotations

import grimp


def _circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of two or more modules (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_the_circle_finder_sees_a_circle(tmp_path, monkeypatch):
    pkg = tmp_path / "circular_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from circular_pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from circular_pkg import a\n")
    (pkg / "c.py").write_text("from circular_pkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    graph = grimp.build_graph("circular_pkg", cache_dir=None)
    assert _circles(graph) == [["circular_pkg.a", "circular_pkg.b"]]


def test_no_module_imports_itself_back():
    graph = grimp.build_graph("churnops", cache_dir=None)
    circles = _circles(graph)
    assert not circles, (
        "import circles (break each; see docs/architecture.md#no-circles):\n"
        + "\n".join(" <-> ".join(group) for group in circles)
    )
