"""Bindings of names to objects, or to parts of them, in Python code.

A rule that must know whether some code changes an object reads these
bindings to find the other names that the object is reachable through.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from cio_fix.customerio import dotted_name, read_names
from cio_fix.walk import find_all

# The kinds of binding between two names: `a = b` makes them one object,
# `a = b[k]` makes `a` a part of `b`, and `a.x = b` stores `b` inside `a`.
ALIAS, PART, STORED = "alias", "part", "stored"


# Methods that return a new object: dicts', lists' and pydantic models'.
COPYING_METHODS = frozenset({"copy", "dict", "json", "model_dump", "model_dump_json"})
# Constructors of the containers that code builds and may change.
CONTAINER_CALLS = frozenset({"dict", "list", "set", "defaultdict", "OrderedDict"})
# Functions whose result shares no object with their arguments (strings,
# numbers, deep copies), by the last part of their name (`copy.deepcopy`).
UNSHARED_RESULT_FUNCTIONS = frozenset(
    {
        "abs",
        "bool",
        "deepcopy",
        "dumps",
        "float",
        "format",
        "hash",
        "id",
        "int",
        "isinstance",
        "len",
        "repr",
        "round",
        "str",
    }
)
# Methods whose result shares no object with the receiver or the arguments:
# string and date methods, and pydantic's copies of a model.
UNSHARED_RESULT_METHODS = frozenset(
    {
        "count",
        "decode",
        "dict",
        "encode",
        "endswith",
        "index",
        "isoformat",
        "join",
        "json",
        "lower",
        "lstrip",
        "model_dump",
        "model_dump_json",
        "replace",
        "rstrip",
        "split",
        "startswith",
        "strftime",
        "strip",
        "timestamp",
        "title",
        "upper",
    }
)
# Names that are constants, not variables.
CONSTANT_NAMES = frozenset({"None", "True", "False"})


class Bindings(cst.CSTVisitor):
    """Collect the bindings of names to objects, as (target, name, kind).

    They come from `target = name`, `target = name[...]`, `target = name
    or {}`, `target.attr = name`, `for target in name.items()` and `case
    ... as target` on `match name`.
    """

    def __init__(self) -> None:
        self.bindings: list[tuple[str, str, str]] = []

    def objects_of(self, value: cst.BaseExpression) -> set[str]:
        """Return the names whose objects, or parts of them, `value` may be."""
        return objects_reached(value)

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        root = target
        while isinstance(root, (cst.Subscript, cst.Attribute)):
            root = root.value
        targets = (
            read_names(target) if isinstance(root, (cst.Tuple, cst.List)) else set()
        )
        if isinstance(root, cst.Name):
            targets = {root.value}
        if root is not target:
            # `user.plan = plan` puts `plan` inside `user`.
            kind = STORED
        elif root_object_name(value) is not None and not isinstance(value, cst.Name):
            # `items = data["items"]` takes a part of `data`.
            kind = PART
        else:
            kind = ALIAS
        for name in self.objects_of(value):
            for bound in targets:
                self.bindings.append((bound, name, kind))

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(node.target, node.value)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, node.value)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target, node.iter)

    def visit_Match(self, node: cst.Match) -> None:
        # `case dict() as d:` binds the subject, or a part of it, to `d`.
        reached = self.objects_of(node.subject)
        for case in node.cases:
            for capture in find_all(case.pattern, cst.MatchAs, cst.MatchStar):
                if capture.name is not None:
                    for name in reached:
                        self.bindings.append((capture.name.value, name, ALIAS))


def plain_assignment_target(statement: cst.CSTNode) -> cst.Name | None:
    """Return `name` of `name = value`, None for any other statement or target."""
    if (
        isinstance(statement, cst.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0].target, cst.Name)
    ):
        return statement.targets[0].target
    return None


def object_root(node: cst.BaseExpression) -> cst.BaseExpression | None:
    """Return the node that `name.a[b]` or `name.get(...).c` starts at, `name` here.

    That node may be other than a name, such as the call that starts
    `getattr(self, "items")[0]`. None for a copy (`name.copy()`), which is a
    new object.
    """
    # Exact types, because isinstance is slow on libcst's abstract classes.
    while True:
        kind = type(node)
        if kind is cst.Subscript or kind is cst.Attribute:
            node = node.value
        elif kind is cst.Call and type(node.func) is cst.Attribute:
            if node.func.attr.value in COPYING_METHODS:
                return None
            node = node.func.value
        else:
            return node


def root_object_name(node: cst.BaseExpression) -> str | None:
    """Return `name` for `name`, `name.a[b]` or `name.get(...).c`, the object they start at.

    `name.copy()` and the like make a new object, so they start at none.
    """
    root = object_root(node)
    return root.value if type(root) is cst.Name else None


def objects_reached(value: cst.BaseExpression) -> set[str]:
    """Return the names whose objects, or parts of them, `value` may be.

    A name, a part of it (`name[...]`, `name.attr`, `name.get(...)`,
    `name.items()`), either side of `or`/`and` or of a conditional
    expression, and the elements of a list, tuple, set or dict display.
    `{**name}` and calls of other functions make new objects.
    """
    names: set[str] = set()
    pending = [value]
    while pending:
        node = pending.pop()
        root = root_object_name(node)
        if root is not None:
            names.add(root)
        elif isinstance(node, cst.BooleanOperation):
            pending.extend([node.left, node.right])
        elif isinstance(node, cst.IfExp):
            pending.extend([node.body, node.orelse])
        else:
            pending.extend(display_items(node))
    return names


def objects_contained(
    value: cst.BaseExpression, is_namespace: Callable[[str], bool]
) -> list[cst.BaseExpression]:
    """Return the names and parts (`order.items`, `rows[0]`) that `value` may contain as they are.

    Besides what `objects_reached` follows, it reads through calls: a
    function may return what it is given or a part of it
    (`order_payload(order)`, `vars(order)`, `copy.copy(order)`), and a
    method may also return its receiver's parts (`body.copy()`). A call
    whose result shares nothing (`str(x)`, `copy.deepcopy(x)`, `x.lower()`)
    contains nothing. `x.__dict__` is read as `x`, whose attributes it
    contains, and a starred element of a display (`{**body}`) as what it
    unpacks. The receiver of a method is left out when `is_namespace` is
    true for its root name (`time` of `time.time()`).

    NOTE: a comprehension contains nothing here, although its elements may
    be the items of what it iterates (`[row for row in rows]`).
    """
    found: list[cst.BaseExpression] = []
    pending = [value]
    while pending:
        node = pending.pop()
        while type(node) is cst.Attribute and node.attr.value == "__dict__":
            node = node.value
        inner = node
        while type(inner) is cst.Subscript or type(inner) is cst.Attribute:
            inner = inner.value
        if type(inner) is cst.Name:
            found.append(node)
        elif type(inner) is cst.Call:
            # Calls inside an attribute or item (`build(order)["items"]`)
            # count as the whole call's result.
            pending.extend(_call_contents(inner, is_namespace))
        elif isinstance(node, cst.BooleanOperation):
            pending.extend([node.left, node.right])
        elif isinstance(node, cst.IfExp):
            pending.extend([node.body, node.orelse])
        else:
            pending.extend(display_items(node))
            pending.extend(_unpacked_items(node))
    return [
        node
        for node in found
        if type(node) is not cst.Name or node.value not in CONSTANT_NAMES
    ]


def _call_contents(
    call: cst.Call, is_namespace: Callable[[str], bool]
) -> list[cst.BaseExpression]:
    """Return what the result of a call may share: its arguments, and a method's receiver."""
    func = call.func
    name = dotted_name(func)
    if name is not None and name.rpartition(".")[2] in UNSHARED_RESULT_FUNCTIONS:
        return []
    contents = [argument.value for argument in call.args]
    if type(func) is not cst.Attribute:
        return contents
    if func.attr.value in UNSHARED_RESULT_METHODS:
        return []
    root = root_object_name(func.value)
    if root is None or not is_namespace(root):
        contents.append(func.value)
    return contents


def _unpacked_items(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """Return what the starred elements of a display unpack (`*items`, `**body`)."""
    if isinstance(node, (cst.List, cst.Tuple, cst.Set, cst.Dict)):
        return [
            element.value
            for element in node.elements
            if isinstance(element, (cst.StarredElement, cst.StarredDictElement))
        ]
    return []


def display_items(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    """Return the values that a display or a container call contains as they are.

    The elements of a list, tuple or set display, the values of a dict
    display, and the arguments of `dict(items=items)` and the like.
    Starred elements are copied, so they are left out.
    """
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        return [
            element.value
            for element in node.elements
            if isinstance(element, cst.Element)
        ]
    if isinstance(node, cst.Dict):
        return [
            element.value
            for element in node.elements
            if isinstance(element, cst.DictElement)
        ]
    if isinstance(node, cst.Call) and is_container(node):
        return [argument.value for argument in node.args]
    return []


def is_container(node: cst.BaseExpression | None) -> bool:
    displays = (cst.Dict, cst.List, cst.Set, cst.DictComp, cst.ListComp, cst.SetComp)
    if isinstance(node, displays):
        return True
    if isinstance(node, cst.Call):
        name = dotted_name(node.func)
        return name is not None and name.rpartition(".")[2] in CONTAINER_CALLS
    return False


def connected_names(
    names: set[str],
    bindings: list[tuple[str, str, str]],
    containers: set[str],
    owners: bool,
) -> set[str]:
    """Return `names` and the names bound to their objects, through `bindings`.

    Aliases count both ways, and so do the parts taken from one of the
    objects (`items = data["items"]`). An object that a container of
    `containers` found is stored in counts, because the container stays
    reachable through it. With `owners`, the objects that the names found
    were taken from count too (`cart = session["cart"]` adds `session`),
    but not their other parts.
    """
    found = _closure(set(names), bindings, containers, upward=False)
    if owners:
        found = _closure(found, bindings, containers, upward=True)
    return found


def _closure(
    found: set[str],
    bindings: list[tuple[str, str, str]],
    containers: set[str],
    upward: bool,
) -> set[str]:
    for _ in range(len(bindings) + 1):
        more = set()
        for target, name, kind in bindings:
            if kind == ALIAS and (name in found or target in found):
                more |= {target, name}
            elif kind == PART and upward and target in found:
                more.add(name)
            elif kind == PART and not upward and name in found:
                more.add(target)
            elif kind == STORED:
                # A container found that is stored in `target` is reachable from it.
                if name in containers and name in found:
                    more.add(target)
        if more <= found:
            break
        found |= more
    return found
