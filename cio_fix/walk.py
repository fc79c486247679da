"""Run a read-only libcst visitor without rebuilding the tree.

`node.visit(visitor)` rebuilds and validates a copy of every node it
passes, even for a `CSTVisitor` that changes nothing; that is most of the
cost of a visitor pass. `walk` calls the same `visit_<Node>` and
`leave_<Node>` methods in the same order (children in source order, and
no children when `visit_<Node>` returns False), reading the children
straight from the node's fields.

A visitor that overrides `on_visit` or `on_leave` has those called for
every node instead. `walk` does not call the attribute hooks
(`visit_<Node>_<attribute>`); a visitor that defines them must use
`node.visit`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import libcst as cst

_Node = TypeVar("_Node", bound=cst.CSTNode)

# Child field names of each node type, in the order libcst visits them.
_FIELD_ORDER: dict[type, tuple[str, ...]] = {}


class _FieldRecorder(cst.CSTVisitor):
    """Record the attributes libcst visits on one node, without descending."""

    def __init__(self, root: cst.CSTNode) -> None:
        self.root = root
        self.fields: list[str] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        return False

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if node is self.root and attribute not in self.fields:
            self.fields.append(attribute)


def _field_order(node: cst.CSTNode) -> tuple[str, ...]:
    kind = type(node)
    order = _FIELD_ORDER.get(kind)
    if order is None:
        recorder = _FieldRecorder(node)
        node._visit_and_replace_children(recorder)
        # A few nodes skip an empty optional child (FormattedStringExpression
        # and its format_spec), so the first instance may not show every
        # field: the missing ones are visited last, where libcst visits them.
        missing = [
            item.name
            for item in dataclasses.fields(node)
            if item.name not in recorder.fields
        ]
        order = (*recorder.fields, *missing)
        _FIELD_ORDER[kind] = order
    return order


def walk(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """Visit `node` and its descendants with `visitor`'s visit and leave methods."""
    visits: dict[type, Callable[[Any], Any] | None] = {}
    leaves: dict[type, Callable[[Any], Any] | None] = {}
    # A visitor that overrides on_visit or on_leave gets those for every node;
    # libcst's own on_visit and on_leave only call the typed methods.
    kind_of_visitor = type(visitor)
    overrides = (
        getattr(kind_of_visitor, "on_visit", cst.CSTVisitor.on_visit)
        is not cst.CSTVisitor.on_visit
        or getattr(kind_of_visitor, "on_leave", cst.CSTVisitor.on_leave)
        is not cst.CSTVisitor.on_leave
    )

    def handlers(kind: type) -> tuple[Any, Any]:
        if overrides:
            # libcst descends only when on_visit returns something true.
            return (lambda node: bool(visitor.on_visit(node))), visitor.on_leave
        if kind not in visits:
            visits[kind] = getattr(visitor, f"visit_{kind.__name__}", None)
            leaves[kind] = getattr(visitor, f"leave_{kind.__name__}", None)
        return visits[kind], leaves[kind]

    def visit(current: cst.CSTNode) -> None:
        kind = type(current)
        visit_method, leave_method = handlers(kind)
        descend = visit_method(current) if visit_method is not None else True
        if descend is not False:
            for name in _field_order(current):
                child = getattr(current, name)
                if isinstance(child, cst.CSTNode):
                    visit(child)
                elif isinstance(child, (list, tuple)):
                    for item in child:
                        if isinstance(item, cst.CSTNode):
                            visit(item)
        if leave_method is not None:
            leave_method(current)

    visit(node)


def child_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Return the children of `node` in the order libcst visits them."""
    children: list[cst.CSTNode] = []
    for name in _field_order(node):
        child = getattr(node, name)
        if isinstance(child, cst.CSTNode):
            children.append(child)
        elif isinstance(child, (list, tuple)):
            for item in child:
                if isinstance(item, cst.CSTNode):
                    children.append(item)
    return children


def descendants(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """Yield `node` and every node below it, parents before children, in source order."""
    pending = [node]
    while pending:
        current = pending.pop()
        yield current
        children = child_nodes(current)
        children.reverse()
        pending.extend(children)


def find_all(node: cst.CSTNode, *kinds: type[_Node]) -> list[_Node]:
    """Return `node` and the nodes below it that are instances of `kinds`, in source order."""
    return [item for item in descendants(node) if isinstance(item, kinds)]  # type: ignore[misc]
