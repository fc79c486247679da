"""The attributes of its object that a method changes in place, which CIO304 reads.

A handler that sends `order.items` and then calls `order.close()`, whose
body is `self.items.clear()`, changes what a background call sends. The
same facts serve a class of the handler's module and, through the module
summary, a class imported from another project module.
"""

from __future__ import annotations

import libcst as cst

from cio_fix.codemods.bindings import root_object_name
from cio_fix.customerio import (
    Assignment,
    FileIndex,
    FunctionInfo,
    Scope,
    annotation_scope,
)

# Methods of lists, dicts and sets that change the object in place.
MUTATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "update",
        "setdefault",
        "pop",
        "popitem",
        "remove",
        "clear",
        "sort",
        "reverse",
        "add",
        "discard",
    }
)
# Decorators after which a method's first parameter is not its object.
NOT_INSTANCE_METHODS = frozenset({"staticmethod", "classmethod"})


def changed_attributes_by_method(index: FileIndex) -> dict[int, frozenset[str]]:
    """Return the attributes of `self` that each method changes in place, by the id of its node.

    A change is an item or attribute assignment inside the attribute
    (`self.meta["closed"] = True`), `+=` or `del` on such a target, or a
    mutating method such as `clear()` or `append()` on the attribute or on
    a part of it (`self.items[0].update(...)`). Binding the attribute anew
    (`self.items = []`) leaves the old object as it was, so it is no
    change. Code in functions and lambdas inside the method counts for the
    method. A method that changes nothing is left out.
    NOTE: a call that the method passes the attribute to, or another method
    of `self` that it calls, is not read.
    """
    changed: dict[int, set[str]] = {}
    targets = list(index.in_place_targets)
    for site in index.call_sites:
        func = site.node.func
        if site.function is None or type(func) is not cst.Attribute:
            continue
        if func.attr.value in MUTATING_METHODS:
            targets.append((func.value, site.function))
    for target, function in targets:
        method = _method_of(function)
        if method is None:
            continue
        instance = _instance_name(method)
        attribute = _instance_attribute(target, instance) if instance else None
        if attribute is not None:
            changed.setdefault(id(method.node), set()).add(attribute)
    return {key: frozenset(attributes) for key, attributes in changed.items()}


def class_method_changes(index: FileIndex) -> dict[str, dict[str, list[str]]]:
    """Return what each method of each module-level class changes, by class and method name.

    Every module-level class is listed, also one whose methods change
    nothing, so that a reader can tell a class from another imported name.
    A method comes from the class or from its first base of the module
    that binds the name (`FileIndex.class_method`).
    """
    by_method = changed_attributes_by_method(index)
    changing = sorted(
        {
            function.name
            for function in index.functions
            if id(function.node) in by_method
        }
    )
    found: dict[str, dict[str, list[str]]] = {}
    for class_info in index.classes:
        if (
            class_info.scope is None
            or class_info.scope.parent is not index.module_scope
        ):
            continue
        methods = found.setdefault(class_info.name, {})
        for name in changing:
            method = index.class_method(class_info, name)
            attributes = by_method.get(id(method.node)) if method is not None else None
            if attributes:
                methods[name] = sorted(attributes)
    return found


def bound_class(
    index: FileIndex, assignment: Assignment
) -> tuple[cst.BaseExpression, Scope] | None:
    """Return the class that `x = Class(...)` or `x: Class` names, with its lookup scope.

    An annotation must allow exactly one type other than None.
    """
    statement = assignment.statement
    if isinstance(statement, cst.Param):
        if statement.annotation is None:
            return None
        scope = annotation_scope(assignment)
        types = index.annotation_types(statement.annotation.annotation, scope)
        return types[0] if len(types) == 1 else None
    value = assignment.value
    if type(value) is not cst.Call:
        return None
    return value.func, assignment.scope


def _method_of(function: FunctionInfo | None) -> FunctionInfo | None:
    """Return the method that `function` is, or that defines it."""
    while function is not None and function.class_info is None:
        function = function.parent
    return function


def _instance_name(method: FunctionInfo) -> str | None:
    """Return the name of a method's first parameter, which is its object."""
    if NOT_INSTANCE_METHODS.intersection(method.decorators):
        return None
    parameters = [*method.node.params.posonly_params, *method.node.params.params]
    return parameters[0].name.value if parameters else None


def _instance_attribute(target: cst.BaseExpression, instance: str) -> str | None:
    """Return `items` for `self.items`, `self.items[0]` or `self.items.get(key)`.

    `self` is `instance`. None for the object itself, and for a copy
    (`self.items.copy()`), which is a new object.
    """
    if root_object_name(target) != instance:
        return None
    node = target
    above: cst.BaseExpression | None = None
    while type(node) is not cst.Name:
        above = node
        if type(node) is cst.Call:
            assert type(node.func) is cst.Attribute
            node = node.func.value
        else:
            assert type(node) is cst.Attribute or type(node) is cst.Subscript
            node = node.value
    if type(above) is not cst.Attribute:
        return None
    return above.attr.value
