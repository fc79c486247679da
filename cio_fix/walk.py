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
import types
import typing
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import libcst as cst

from cio_fix.chains import CHAIN_FIELDS

_Node = TypeVar("_Node", bound=cst.CSTNode)

# Whitespace, comments and punctuation: two thirds of a module's nodes, and
# no rule looks for one, so the index walk and `find_all` pass them by.
TRIVIA: tuple[type[cst.CSTNode], ...] = (
    cst.BaseParenthesizableWhitespace,
    cst.Comment,
    cst.EmptyLine,
    cst.Newline,
    cst.TrailingWhitespace,
    cst.Comma,
    cst.Dot,
    cst.Colon,
    cst.Semicolon,
    cst.AssignEqual,
    cst.LeftParen,
    cst.RightParen,
    cst.LeftSquareBracket,
    cst.RightSquareBracket,
    cst.LeftCurlyBrace,
    cst.RightCurlyBrace,
)


def _with_subclasses(kinds: tuple[type, ...]) -> frozenset[type]:
    found: set[type] = set()
    pending = list(kinds)
    while pending:
        kind = pending.pop()
        found.add(kind)
        pending.extend(kind.__subclasses__())
    return frozenset(found)


# The trivia types and every subclass of them, for lookups by exact type.
TRIVIA_TYPES = _with_subclasses(TRIVIA)

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


# The unbound visit and leave methods of each visitor class for each node
# type, looked up once per process rather than once per walk. None marks a
# method the class does not override: libcst's base visitor defines a no-op
# method for every type, and calling it costs time.
_HANDLERS: dict[type, dict[type, tuple[Any, Any, str | None]]] = {}


def _typed_handlers(visitor_class: type, kind: type) -> tuple[Any, Any, str | None]:
    """Return the visit and leave methods for `kind`, and the field its chains nest through."""
    methods = []
    for name in (f"visit_{kind.__name__}", f"leave_{kind.__name__}"):
        method = getattr(visitor_class, name, None)
        if method is getattr(cst.CSTVisitor, name, None):
            method = None
        methods.append(method)
    return methods[0], methods[1], CHAIN_FIELDS.get(kind)


def walk(
    node: cst.CSTNode,
    visitor: cst.CSTVisitor,
    parent_of: dict[cst.CSTNode, cst.CSTNode] | None = None,
    trivia: bool | None = None,
) -> list[cst.CSTNode]:
    """Visit `node` and its descendants with `visitor`'s visit and leave methods.

    When `parent_of` is given, it also receives the parent of every node
    the walk enters below `node`, and the walk returns the nodes it found
    in two places (a tree that fixes built can share one node object).
    With `trivia` False the walk does not enter whitespace, comments and
    punctuation. By default it enters them only for a visitor that has a
    method for one of them.
    """
    visitor_class = type(visitor)
    # A visitor that overrides on_visit or on_leave gets those for every node;
    # libcst's own on_visit and on_leave only call the typed methods.
    if (
        getattr(visitor_class, "on_visit", cst.CSTVisitor.on_visit)
        is not cst.CSTVisitor.on_visit
        or getattr(visitor_class, "on_leave", cst.CSTVisitor.on_leave)
        is not cst.CSTVisitor.on_leave
    ):
        _walk_generic(node, visitor)
        return []
    repeated: list[cst.CSTNode] = []
    if trivia is None:
        trivia = _visits_trivia(visitor_class)
    # The last kind of child `_children` returns: 3 with trivia, 1 without.
    last_kind = 3 if trivia else 1
    handlers = _HANDLERS.setdefault(visitor_class, {})

    orders = _SIGNIFICANT_ORDER if last_kind == 1 else _NODE_ORDER
    order_of = _significant_order if last_kind == 1 else _node_order
    kinds = _VALUE_KINDS

    # The walk reads the children itself, as `_children` does, because a call
    # per node cost about a fifth of a walk without visitor methods. A node's
    # hash is a Python method, so a child already in `parent_of` shows by the
    # size of the map, not by a second lookup.
    def visit(current: cst.CSTNode) -> None:
        current_type = type(current)
        found = handlers.get(current_type)
        if found is None:
            found = handlers[current_type] = _typed_handlers(
                visitor_class, current_type
            )
        visit_method, leave_method, chain_field = found
        if visit_method is None or visit_method(visitor, current) is not False:
            if (
                chain_field is not None
                and type(getattr(current, chain_field)) is current_type
            ):
                visit_chain(current, chain_field)
                order = ()
            else:
                order = orders.get(current_type)
                if order is None:
                    order = order_of(current)
            for name in order:
                value = getattr(current, name)
                value_kind = kinds.get(type(value))
                if value_kind is None:
                    value_kind = _value_kind(type(value))
                if value_kind == 1 or value_kind == last_kind:
                    if parent_of is not None:
                        size = len(parent_of)
                        parent_of[value] = current
                        if len(parent_of) == size:
                            repeated.append(value)
                    visit(value)
                elif value_kind == 2:
                    for item in value:
                        item_kind = kinds.get(type(item))
                        if item_kind is None:
                            item_kind = _value_kind(type(item))
                        if item_kind == 1 or item_kind == last_kind:
                            if parent_of is not None:
                                size = len(parent_of)
                                parent_of[item] = current
                                if len(parent_of) == size:
                                    repeated.append(item)
                            visit(item)
        if leave_method is not None:
            leave_method(visitor, current)

    def visit_chain(top: cst.CSTNode, field: str) -> None:
        # A long chain (see `cio_fix.chains`) is visited with a loop. Going
        # down, it visits each link's fields before `field` and calls the
        # next link's visit method. Coming back up, it visits the fields
        # after `field` and calls the leave methods. `top` has had its visit
        # method already.
        kind = type(top)
        visit_method, leave_method, _ = handlers[kind]
        order = orders.get(kind)
        if order is None:
            order = order_of(top)
        split = order.index(field)
        before, after = order[:split], order[split + 1 :]

        links = [top]
        link = top
        while True:
            visit_fields(link, before)
            following = getattr(link, field)
            add_parent(following, link)
            if type(following) is not kind:
                visit(following)
                break
            if visit_method is not None and visit_method(visitor, following) is False:
                if leave_method is not None:
                    leave_method(visitor, following)
                break
            links.append(following)
            link = following

        while links:
            link = links.pop()
            visit_fields(link, after)
            if link is not top and leave_method is not None:
                leave_method(visitor, link)

    def visit_fields(current: cst.CSTNode, names: tuple[str, ...]) -> None:
        # The loop of `visit` over some of the fields, for `visit_chain`.
        for name in names:
            value = getattr(current, name)
            value_kind = _value_kind(type(value))
            if value_kind == 1 or value_kind == last_kind:
                add_parent(value, current)
                visit(value)
            elif value_kind == 2:
                for item in value:
                    item_kind = _value_kind(type(item))
                    if item_kind == 1 or item_kind == last_kind:
                        add_parent(item, current)
                        visit(item)

    def add_parent(child: cst.CSTNode, parent: cst.CSTNode) -> None:
        if parent_of is not None:
            size = len(parent_of)
            parent_of[child] = parent
            if len(parent_of) == size:
                repeated.append(child)

    try:
        visit(node)
    finally:
        # The functions refer to each other. Without this, they, the visitor
        # and what the visitor keeps (an index builder keeps a whole module)
        # stay in memory until the cyclic garbage collector runs.
        visit = visit_chain = visit_fields = None  # type: ignore[assignment]
    return repeated


# Whether a visitor class has a visit or leave method for a trivia type.
_TRIVIA_VISITORS: dict[type, bool] = {}


def _visits_trivia(visitor_class: type) -> bool:
    found = _TRIVIA_VISITORS.get(visitor_class)
    if found is None:
        # libcst's base visitor defines a method for every type that does nothing.
        found = any(
            getattr(visitor_class, method, None)
            is not getattr(cst.CSTVisitor, method, None)
            for kind in TRIVIA_TYPES
            for method in (f"visit_{kind.__name__}", f"leave_{kind.__name__}")
        )
        _TRIVIA_VISITORS[visitor_class] = found
    return found


def _walk_generic(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    # A loop rather than a call per level, so that deep nesting does not
    # reach the recursion limit. Each node is on `pending` twice: to be
    # visited, and then, after its children, to be left.
    pending: list[tuple[cst.CSTNode, bool]] = [(node, False)]
    while pending:
        current, leaving = pending.pop()
        if leaving:
            visitor.on_leave(current)
            continue
        pending.append((current, True))
        # libcst descends only when on_visit returns something true.
        if visitor.on_visit(current):
            children = child_nodes(current)
            pending.extend((child, False) for child in reversed(children))


# The kind of field value of each type: 1 a node, 3 a trivia node, 2 a list
# or tuple of nodes, 0 neither. CSTNode is an abstract base class, so
# isinstance is slow.
_VALUE_KINDS: dict[type, int] = {}


def _value_kind(kind: type) -> int:
    found = _VALUE_KINDS.get(kind)
    if found is None:
        if issubclass(kind, TRIVIA):
            found = 3
        elif issubclass(kind, cst.CSTNode):
            found = 1
        elif issubclass(kind, (list, tuple)):
            found = 2
        else:
            found = 0
        _VALUE_KINDS[kind] = found
    return found


def child_nodes(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Return the children of `node` in the order libcst visits them."""
    return _children(node, 3)


def significant_children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Return the children of `node` that are not trivia, in the order libcst visits them."""
    return _children(node, 1)


# The fields of each node type that can contain a node, and those that can
# contain a node other than trivia, in the order libcst visits them. Both are
# read from the fields' type annotations.
_NODE_ORDER: dict[type, tuple[str, ...]] = {}
_SIGNIFICANT_ORDER: dict[type, tuple[str, ...]] = {}


def _node_order(node: cst.CSTNode) -> tuple[str, ...]:
    return _annotated_order(node, _NODE_ORDER, ())


def node_fields(node: cst.CSTNode) -> tuple[str, ...]:
    """Return the names of the fields of `node` that can contain a node, in visiting order."""
    return _node_order(node)


def _significant_order(node: cst.CSTNode) -> tuple[str, ...]:
    return _annotated_order(node, _SIGNIFICANT_ORDER, TRIVIA)


def _annotated_order(
    node: cst.CSTNode,
    orders: dict[type, tuple[str, ...]],
    passed_by: tuple[type[cst.CSTNode], ...],
) -> tuple[str, ...]:
    """Return the fields of `node` that can contain a node other than those of `passed_by`."""
    kind = type(node)
    order = orders.get(kind)
    if order is None:
        try:
            hints = typing.get_type_hints(kind)
        except Exception:  # an annotation this libcst version cannot resolve
            hints = {}
        order = tuple(
            name
            for name in _field_order(node)
            if name not in hints or not _holds_only(hints[name], passed_by)
        )
        orders[kind] = order
    return order


def _holds_only(annotation: Any, passed_by: tuple[type[cst.CSTNode], ...]) -> bool:
    """Tell whether a field with this annotation can contain only `passed_by` nodes or no node.

    An annotation this does not understand counts as one that can contain
    any node.
    """
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return all(_holds_only(item, passed_by) for item in typing.get_args(annotation))
    if origin is typing.Literal:
        return True
    if origin in (Sequence, list, tuple):
        return all(
            item is Ellipsis or _holds_only(item, passed_by)
            for item in typing.get_args(annotation)
        )
    if not isinstance(annotation, type) or origin is not None:
        return False
    if issubclass(annotation, passed_by):
        return True
    return annotation in (cst.MaybeSentinel, type(None), str, bool, int)


def _children(node: cst.CSTNode, last_kind: int) -> list[cst.CSTNode]:
    # Kinds 1 and 3 are nodes, and `last_kind` 1 leaves out the trivia.
    children: list[cst.CSTNode] = []
    if last_kind == 1:
        order = _SIGNIFICANT_ORDER.get(type(node))
        if order is None:
            order = _significant_order(node)
    else:
        order = _NODE_ORDER.get(type(node))
        if order is None:
            order = _node_order(node)
    kinds = _VALUE_KINDS
    for name in order:
        child = getattr(node, name)
        kind = kinds.get(type(child))
        if kind is None:
            kind = _value_kind(type(child))
        if kind == 1 or kind == last_kind:
            children.append(child)
        elif kind == 2:
            for item in child:
                item_kind = kinds.get(type(item))
                if item_kind is None:
                    item_kind = _value_kind(type(item))
                if item_kind == 1 or item_kind == last_kind:
                    children.append(item)
    return children


def descendants(node: cst.CSTNode, trivia: bool = True) -> Iterator[cst.CSTNode]:
    """Yield `node` and every node below it, parents before children, in source order.

    With `trivia` False, whitespace, comments and punctuation are left out.
    """
    last_kind = 3 if trivia else 1
    pending = [node]
    while pending:
        current = pending.pop()
        yield current
        children = _children(current, last_kind)
        if children:
            children.reverse()
            pending.extend(children)


# For each tuple of kinds passed to `find_all`: the `last_kind` to pass to
# `_children` (3 when the kinds can be trivia), and whether each node type is
# one of the kinds. A lookup by type is cheaper than isinstance, because
# CSTNode is an abstract base class.
_FIND_PLANS: dict[tuple[type, ...], tuple[int, dict[type, bool]]] = {}


def find_all(node: cst.CSTNode, *kinds: type[_Node]) -> list[_Node]:
    """Return `node` and the nodes below it that are instances of `kinds`, in source order."""
    plan = _FIND_PLANS.get(kinds)
    if plan is None:
        trivia = any(
            issubclass(kind, other) or issubclass(other, kind)
            for kind in kinds
            for other in TRIVIA
        )
        plan = _FIND_PLANS[kinds] = (3 if trivia else 1, {})
    last_kind, matches = plan

    found: list[_Node] = []
    pending = [node]
    while pending:
        current = pending.pop()
        matched = matches.get(type(current))
        if matched is None:
            matched = matches[type(current)] = issubclass(type(current), kinds)
        if matched:
            found.append(current)  # type: ignore[arg-type]
        children = _children(current, last_kind)
        if children:
            children.reverse()
            pending.extend(children)
    return found


def comments_below(node: cst.CSTNode) -> list[cst.Comment]:
    """Return the comments in `node` and below it, in no particular order.

    Cheaper than `find_all(node, cst.Comment)`, because it keeps no source
    order and never enters `SimpleWhitespace`, a frequent leaf that cannot
    contain a comment.
    """
    found: list[cst.Comment] = []
    pending = [node]
    kinds = _VALUE_KINDS
    # The children are read inline, as in `walk`, where a call per node
    # cost about a fifth of a walk.
    while pending:
        current = pending.pop()
        current_type = type(current)
        if current_type is cst.Comment:
            found.append(current)  # type: ignore[arg-type]
            continue
        order = _NODE_ORDER.get(current_type)
        if order is None:
            order = _node_order(current)
        for name in order:
            value = getattr(current, name)
            value_kind = kinds.get(type(value))
            if value_kind is None:
                value_kind = _value_kind(type(value))
            if value_kind == 3:
                if type(value) is not cst.SimpleWhitespace:
                    pending.append(value)
            elif value_kind == 1:
                pending.append(value)
            elif value_kind == 2:
                for item in value:
                    item_kind = kinds.get(type(item))
                    if item_kind is None:
                        item_kind = _value_kind(type(item))
                    if item_kind == 1 or item_kind == 3:
                        pending.append(item)
    return found
