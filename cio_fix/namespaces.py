"""Writes through a module's namespace: `globals()`, `vars()`, `__dict__`, `setattr`.

Both the project index (constants that another module rebinds) and CIO601
(module-level clients that code may replace) read these writes.
"""

from __future__ import annotations

import libcst as cst

from cio_fix.customerio import FileIndex, literal_value, subscript_key
from cio_fix.metadata import is_target

# Methods of the `globals()` dictionary that only read it.
GLOBALS_READERS = frozenset(
    {"get", "keys", "values", "items", "copy", "__contains__", "__getitem__"}
)
# Methods of the `globals()` dictionary that set or delete the key of their
# first argument.
GLOBALS_KEY_WRITERS = frozenset({"setdefault", "pop", "__setitem__", "__delitem__"})


def globals_writes(index: FileIndex) -> frozenset[str] | None:
    """Return the module-level names that the module sets through `globals()`.

    That is `globals()["NAME"] = ...`, `globals().update(NAME=...)` and
    the like, anywhere in the module. None means any name: a key that is
    not a literal, or `globals()` passed on (`exec(code, globals())`).
    """
    names: set[str] = set()
    for name_node in index.names.get("globals", []):
        call = index.parents.get(name_node)
        if not isinstance(call, cst.Call) or call.func is not name_node:
            continue
        keys = namespace_writes(index, call)
        if keys is None:
            return None
        names |= keys
    return frozenset(names)


def namespace_writes(
    index: FileIndex, namespace: cst.BaseExpression
) -> set[str] | None:
    """Return the keys that the use of a module's namespace dictionary sets.

    `namespace` is an expression for the dictionary (`globals()`,
    `vars(module)`, `module.__dict__`), and None means any key.
    """
    user = index.parents.get(namespace)
    if isinstance(user, cst.ComparisonTarget):
        return set()
    if isinstance(user, cst.Subscript):
        if not is_target(user, index.parents):
            return set()
        key = subscript_key(user)
        return None if key is None else {key}
    if not isinstance(user, cst.Attribute):
        return None
    method = user.attr.value
    if method in GLOBALS_READERS:
        return set()
    method_call = index.parents.get(user)
    if not isinstance(method_call, cst.Call):
        return None
    if method == "update":
        return _updated_keys(method_call)
    if method in GLOBALS_KEY_WRITERS and method_call.args:
        key = literal_value(method_call.args[0].value)
        return {key} if isinstance(key, str) else None
    return None


def own_module_writes(index: FileIndex) -> frozenset[str] | None:
    """Return the module-level names that the module sets through `sys.modules[__name__]`.

    That is `setattr(sys.modules[__name__], "NAME", ...)`, an attribute
    assignment to it or to a name bound to it (`this.NAME = ...`), and
    writes through `vars(...)` or `.__dict__` of it. None means any name:
    a name that is not a literal, or the module object passed on.
    """
    names: set[str] = set()
    for name_node in index.names.get("__name__", []):
        subscript = _modules_subscript(index, name_node)
        if subscript is None:
            continue
        written = _module_object_writes(index, subscript, set())
        if written is None:
            return None
        names |= written
    return frozenset(names)


def _modules_subscript(index: FileIndex, name_node: cst.Name) -> cst.Subscript | None:
    """Return `sys.modules[__name__]` when `name_node` is its `__name__`."""
    element = index.parents.get(index.parents.get(name_node))
    subscript = index.parents.get(element)
    if not isinstance(subscript, cst.Subscript) or len(subscript.slice) != 1:
        return None
    if subscript.slice[0] is not element:
        return None
    if index.qualified_name(subscript.value) != "sys.modules":
        return None
    return subscript


# Built-in functions that read an attribute of the object in their first argument.
ATTRIBUTE_READERS = frozenset({"getattr", "hasattr"})
# Built-in functions that set or delete the attribute that their second argument names.
ATTRIBUTE_WRITERS = frozenset({"setattr", "delattr"})


def _module_object_writes(
    index: FileIndex, module_object: cst.BaseExpression, aliases: set[str]
) -> set[str] | None:
    """Return the names that the use of an expression for the module object sets.

    `aliases` contains the names already followed, so that `a = b` and `b = a`
    end. None means any name.
    """
    user = index.parents.get(module_object)
    if isinstance(user, cst.Attribute):
        attribute = user.attr.value
        if attribute == "__dict__":
            return namespace_writes(index, user)
        if is_target(user, index.parents):
            return {attribute}
        # `__setattr__` and the like set a name that cio-fix does not follow.
        return None if attribute.startswith("__") else set()
    if isinstance(user, cst.Arg):
        call = index.parents.get(user)
        if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Name):
            return None
        function = call.func.value
        if call.args[0] is not user:
            return None
        if function in ATTRIBUTE_READERS:
            return set()
        if function == "vars" and len(call.args) == 1:
            return namespace_writes(index, call)
        if function in ATTRIBUTE_WRITERS and len(call.args) > 1:
            key = literal_value(call.args[1].value)
            return {key} if isinstance(key, str) else None
        return None
    if isinstance(user, cst.Assign) and user.value is module_object:
        return _alias_writes(index, user, aliases)
    return None


def _alias_writes(
    index: FileIndex, assign: cst.Assign, aliases: set[str]
) -> set[str] | None:
    """Return the names set through a name bound to the module object (`this = ...`).

    Every use of that name anywhere in the module counts, which may only
    withhold more fixes.
    """
    if len(assign.targets) != 1 or not isinstance(assign.targets[0].target, cst.Name):
        return None
    alias = assign.targets[0].target.value
    if alias in aliases:
        return set()
    aliases.add(alias)
    names: set[str] = set()
    for use in index.names.get(alias, []):
        parent = index.parents.get(use)
        if isinstance(parent, cst.AssignTarget) or (
            isinstance(parent, cst.Attribute) and parent.attr is use
        ):
            continue
        written = _module_object_writes(index, use, aliases)
        if written is None:
            return None
        names |= written
    return names


def _updated_keys(call: cst.Call) -> set[str] | None:
    """Return the keys an `update(...)` call sets, or None unless all are literal."""
    keys: set[str] = set()
    for argument in call.args:
        if argument.keyword is not None:
            keys.add(argument.keyword.value)
            continue
        if argument.star or not isinstance(argument.value, cst.Dict):
            return None
        for element in argument.value.elements:
            key = (
                literal_value(element.key)
                if isinstance(element, cst.DictElement)
                else None
            )
            if not isinstance(key, str):
                return None
            keys.add(key)
    return keys
