"""Writes through a module's namespace: `globals()`, `vars()`, `__dict__`, `setattr`.

Both the project index (constants that another module rebinds) and CIO601
(module-level clients that code may replace) read these writes.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass

import libcst as cst

from cio_fix.customerio import FileIndex, literal_value, subscript_key
from cio_fix.metadata import is_deleted, is_target

# Methods of the `globals()` dictionary that only read it.
GLOBALS_READERS = frozenset(
    {"get", "keys", "values", "items", "copy", "__contains__", "__getitem__"}
)
# Methods of the `globals()` dictionary that set the key of their first argument.
GLOBALS_KEY_SETTERS = frozenset({"setdefault", "__setitem__"})
# Methods of the `globals()` dictionary that delete the key of their first argument.
GLOBALS_KEY_DELETERS = frozenset({"pop", "__delitem__"})
# Methods of the `globals()` dictionary that delete keys that no argument names.
GLOBALS_CLEARERS = frozenset({"clear", "popitem"})


@dataclass(frozen=True)
class NamespaceWrite:
    """Code that sets or deletes names of a module through its namespace or module object.

    `node` is that code: the call, the target of the assignment or `del`,
    or the namespace where code that cio-fix does not follow gets it
    (`exec(code, globals())`). `names` is None when it may set or delete
    any name. `deletes` is True for a deletion (`del globals()["X"]`,
    `.pop("X")`, `.clear()`, `delattr(...)`).
    """

    node: cst.CSTNode
    names: frozenset[str] | None
    deletes: bool = False

    def writes(self, name: str) -> bool:
        """Tell whether this write may set or delete `name`."""
        return self.names is None or name in self.names


def globals_writes(index: FileIndex) -> frozenset[str] | None:
    """Return the module-level names that the module sets through `globals()`.

    That is `globals()["NAME"] = ...`, `globals().update(NAME=...)` and
    the like, anywhere in the module. None means any name: a key that is
    not a literal, or `globals()` passed on (`exec(code, globals())`).
    """
    return _written_names(globals_write_sites(index))


def globals_write_sites(index: FileIndex) -> list[NamespaceWrite]:
    """Return every write through `globals()` in the module, in the order of the module."""
    return _cached_writes(index).globals_writes


def own_module_write_sites(index: FileIndex) -> list[NamespaceWrite]:
    """Return every write through the module's own module object (`own_module_writes`)."""
    return _cached_writes(index).own_module_writes


@dataclass
class _ModuleWrites:
    """The writes through the namespaces of one module."""

    globals_writes: list[NamespaceWrite]
    own_module_writes: list[NamespaceWrite]


# The writes of each module, computed on first use: CIO601 reads them once
# for every name that a client's arguments read.
_WRITES: weakref.WeakKeyDictionary[FileIndex, _ModuleWrites] = (
    weakref.WeakKeyDictionary()
)


def _cached_writes(index: FileIndex) -> _ModuleWrites:
    """Return the writes of a module, computed once while its parent links exist."""
    writes = _WRITES.get(index)
    if writes is not None:
        return writes
    writes = _ModuleWrites(_find_globals_writes(index), _find_own_module_writes(index))
    if index.parents:
        _WRITES[index] = writes
    return writes


def _find_globals_writes(index: FileIndex) -> list[NamespaceWrite]:
    writes = []
    for name_node in index.names.get("globals", []):
        call = index.parents.get(name_node)
        if not isinstance(call, cst.Call) or call.func is not name_node:
            continue
        write = namespace_write(index, call)
        if write is not None:
            writes.append(write)
    return writes


def namespace_writes(
    index: FileIndex, namespace: cst.BaseExpression
) -> set[str] | None:
    """Return the keys that the use of a module's namespace dictionary sets or deletes.

    `namespace` is an expression for the dictionary (`globals()`,
    `vars(module)`, `module.__dict__`), and None means any key.
    """
    write = namespace_write(index, namespace)
    if write is None:
        return set()
    return None if write.names is None else set(write.names)


def namespace_write(
    index: FileIndex, namespace: cst.BaseExpression
) -> NamespaceWrite | None:
    """Return the write that the use of a module's namespace dictionary makes, or None.

    `namespace` is an expression for the dictionary (`globals()`,
    `vars(module)`, `module.__dict__`). None means that the use only reads it.
    """
    user = index.parents.get(namespace)
    if isinstance(user, cst.ComparisonTarget):
        return None
    if isinstance(user, cst.Subscript):
        if not is_target(user, index.parents):
            return None
        key = subscript_key(user)
        names = None if key is None else frozenset({key})
        return NamespaceWrite(user, names, is_deleted(user, index.parents))
    if not isinstance(user, cst.Attribute):
        return NamespaceWrite(namespace, None)
    method = user.attr.value
    if method in GLOBALS_READERS:
        return None
    method_call = index.parents.get(user)
    if not isinstance(method_call, cst.Call):
        return NamespaceWrite(namespace, None)
    if method == "update":
        return NamespaceWrite(method_call, _updated_keys(method_call))
    if method in GLOBALS_CLEARERS:
        return NamespaceWrite(method_call, None, deletes=True)
    deletes = method in GLOBALS_KEY_DELETERS
    if (deletes or method in GLOBALS_KEY_SETTERS) and method_call.args:
        key = literal_value(method_call.args[0].value)
        names = frozenset({key}) if isinstance(key, str) else None
        return NamespaceWrite(method_call, names, deletes)
    return NamespaceWrite(method_call, None)


def own_module_writes(index: FileIndex) -> frozenset[str] | None:
    """Return the module-level names that the module sets through its own module object.

    That is `setattr(sys.modules[__name__], "NAME", ...)`, an attribute
    assignment to it or to a name bound to it (`this.NAME = ...`), and
    writes through `vars(...)` or `.__dict__` of it. An import of the module
    itself (`from shop import tracking` in `shop/tracking.py`) gives the
    same object. None means any name: a name that is not a literal, or the
    module object passed on.
    """
    return _written_names(own_module_write_sites(index))


def _find_own_module_writes(index: FileIndex) -> list[NamespaceWrite]:
    writes: list[NamespaceWrite] = []
    for module_object in _own_module_objects(index):
        writes.extend(_module_object_writes(index, module_object, set()))
    return writes


def _own_module_objects(index: FileIndex) -> list[cst.BaseExpression]:
    """Return the expressions for the module's own object: `sys.modules[__name__]`, imports."""
    found: list[cst.BaseExpression] = []
    for name_node in index.names.get("__name__", []):
        subscript = _modules_subscript(index, name_node)
        if subscript is not None:
            found.append(subscript)
    module_name = index.module_name
    if not module_name:
        return found
    for local, qualified in index.imports.items():
        if module_name != qualified and not module_name.startswith(qualified + "."):
            continue
        for use in index.names.get(local, []):
            module_object = _module_attribute(index, use, module_name)
            if module_object is not None:
                found.append(module_object)
    return found


# The nodes of an import statement that a name it binds sits in.
_IMPORT_PARTS = (cst.ImportAlias, cst.ImportFrom, cst.AsName)


def _module_attribute(
    index: FileIndex, use: cst.Name, module_name: str
) -> cst.BaseExpression | None:
    """Return the expression from `use` up that is the module `module_name`, or None.

    `use` is a name bound by an import of the module or a package around it
    (`shop` of `import shop.tracking`), so `shop.tracking` is the module.
    """
    expression: cst.BaseExpression = use
    while True:
        parent = index.parents.get(expression)
        if isinstance(parent, _IMPORT_PARTS):
            return None
        if index.qualified_name(expression) == module_name:
            return expression
        if not isinstance(parent, cst.Attribute) or parent.value is not expression:
            return None
        expression = parent


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
) -> list[NamespaceWrite]:
    """Return the writes that the use of an expression for the module object makes.

    `aliases` contains the names already followed, so that `a = b` and `b = a`
    end.
    """
    user = index.parents.get(module_object)
    if isinstance(user, cst.Attribute):
        attribute = user.attr.value
        if attribute == "__dict__":
            return _listed(namespace_write(index, user))
        if is_target(user, index.parents):
            names = frozenset({attribute})
            return [NamespaceWrite(user, names, is_deleted(user, index.parents))]
        if attribute.startswith("__"):
            # `__setattr__` and the like set a name that cio-fix does not follow.
            return [NamespaceWrite(user, None)]
        return []
    if isinstance(user, cst.Arg):
        call = index.parents.get(user)
        if not isinstance(call, cst.Call) or not isinstance(call.func, cst.Name):
            return [NamespaceWrite(module_object, None)]
        function = call.func.value
        if call.args[0] is not user:
            return [NamespaceWrite(call, None)]
        if function in ATTRIBUTE_READERS:
            return []
        if function == "vars" and len(call.args) == 1:
            return _listed(namespace_write(index, call))
        if function in ATTRIBUTE_WRITERS and len(call.args) > 1:
            key = literal_value(call.args[1].value)
            names = frozenset({key}) if isinstance(key, str) else None
            return [NamespaceWrite(call, names, deletes=function == "delattr")]
        return [NamespaceWrite(call, None)]
    if isinstance(user, cst.Assign) and user.value is module_object:
        return _alias_writes(index, user, aliases)
    return [NamespaceWrite(module_object, None)]


def _alias_writes(
    index: FileIndex, assign: cst.Assign, aliases: set[str]
) -> list[NamespaceWrite]:
    """Return the writes through a name bound to the module object (`this = ...`).

    Every use of that name anywhere in the module counts, which may only
    withhold more fixes.
    """
    if len(assign.targets) != 1 or not isinstance(assign.targets[0].target, cst.Name):
        return [NamespaceWrite(assign, None)]
    alias = assign.targets[0].target.value
    if alias in aliases:
        return []
    aliases.add(alias)
    writes: list[NamespaceWrite] = []
    for use in index.names.get(alias, []):
        parent = index.parents.get(use)
        if isinstance(parent, cst.AssignTarget) or (
            isinstance(parent, cst.Attribute) and parent.attr is use
        ):
            continue
        writes.extend(_module_object_writes(index, use, aliases))
    return writes


def _listed(write: NamespaceWrite | None) -> list[NamespaceWrite]:
    return [] if write is None else [write]


def _written_names(writes: Iterable[NamespaceWrite]) -> frozenset[str] | None:
    """Return the names that some of `writes` set or delete; None when one may be any."""
    names: set[str] = set()
    for write in writes:
        if write.names is None:
            return None
        names |= write.names
    return frozenset(names)


def _updated_keys(call: cst.Call) -> frozenset[str] | None:
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
    return frozenset(keys)
