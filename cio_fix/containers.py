"""Tell whether code may put another object into a dict of clients or a class variable.

`CLIENTS["us"]` and `Holder.client` are clients only while nothing can
replace them with another object. The index checks the assignments that
name them (`CLIENTS[key] = value`, `Holder.client = value`). These
functions find the uses it cannot follow: an alias, an argument, a return
value or a method that inserts items, in the defining module or in
another one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from cio_fix.metadata import is_target

if TYPE_CHECKING:
    from cio_fix.customerio import ClassInfo, FileIndex, Scope

# The dict methods that only read a dict, so a call of one leaves every
# value of a dict of clients a client.
DICT_READING_METHODS = frozenset({"get", "items", "keys", "values", "copy"})

# The dict methods that can add an item that is not a client.
DICT_INSERTING_METHODS = frozenset(
    {"update", "setdefault", "__setitem__", "__ior__", "__init__"}
)

# Parents of a `Name` that is not a read of a variable: a parameter, an
# import, a `global` item, a definition. Attribute and keyword names are
# checked apart, because the same parents also contain reads.
_NOT_REFERENCES = (
    cst.Param,
    cst.ImportAlias,
    cst.ImportFrom,
    cst.AsName,
    cst.NameItem,
    cst.FunctionDef,
    cst.ClassDef,
)


def dict_may_change(index: FileIndex, name: str) -> bool:
    """Tell whether the module-level dict `name` is used other than by reading it.

    Reading an item, assigning one (which the index checks), iterating it,
    `key in name` and a call of `get`, `items`, `keys`, `values` or `copy`
    leave it a dict of clients. Any other use (an alias, an argument, a
    return value, another method) may add an item that is not a client, and
    so may a project module that imports it and changes it.
    """
    references = _references(index, name, index.module_scope)
    if references is None:
        return True
    for node in references:
        parent = index.parents.get(node)
        if type(parent) is cst.Subscript and parent.value is node:
            continue
        if _is_read_only_method_call(index, node, parent):
            continue
        if _is_iterated(node, parent):
            continue
        return True
    return _changed_elsewhere(index, name)


def class_may_change(index: FileIndex, class_info: ClassInfo) -> bool:
    """Tell whether code may set a class variable of `class_info` without naming it.

    Reading or assigning an attribute through the class name (the index
    checks the assignments), creating an instance, naming the class as a
    base class or in an annotation leave its class variables to the code
    that names them. Any other use (an alias, `setattr(Holder, ...)`, an
    argument) may set one, and so may a project module that imports the
    class and changes it.
    """
    if class_info.scope is None or class_info.scope.parent is None:
        return True
    references = _references(index, class_info.name, class_info.scope.parent)
    if references is None:
        return True
    for node in references:
        parent = index.parents.get(node)
        if type(parent) is cst.Attribute and parent.value is node:
            continue
        if type(parent) is cst.Call and parent.func is node:
            continue
        if _is_base_class(index, node, parent) or _in_annotation(index, node):
            continue
        return True
    if class_info.scope.parent is not index.module_scope:
        return False
    return _changed_elsewhere(index, class_info.name)


def changed_imports(index: FileIndex) -> set[str]:
    """Return the imported objects this module may change, by qualified name.

    An object may change when the module assigns an item or an attribute
    of it, calls a dict method on it that inserts items, or hands it on:
    assigns it to a name, passes it to a function, returns it. Reading it,
    calling it or one of its methods, and iterating it change nothing.
    """
    changed: set[str] = set()
    for local in index.imports:
        for node in index.names.get(local, []):
            changed.update(_changed_object(index, node))
    return changed


def _changed_object(index: FileIndex, node: cst.Name) -> list[str]:
    """Return the qualified names of what one use of an imported name may change."""
    parent = index.parents.get(node)
    if type(parent) is cst.Attribute and parent.attr is node:
        return []
    # `registry.CLIENTS.update` is used as a whole: climb to the longest
    # dotted name that starts with the imported one.
    used: cst.BaseExpression = node
    while type(parent) is cst.Attribute and parent.value is used:
        used = parent
        parent = index.parents.get(used)
    if isinstance(parent, _NOT_REFERENCES):
        return []
    if type(parent) is cst.Arg and parent.keyword is used:
        return []

    whole = index.qualified_name(used)
    if whole is None:
        return []
    if type(used) is cst.Attribute:
        owner = index.qualified_name(used.value)
        if is_target(used, index.parents):
            return [name for name in (owner, whole) if name is not None]
        if used.attr.value in DICT_INSERTING_METHODS:
            return [owner] if owner is not None else []
    elif is_target(used, index.parents):
        # Rebinding the imported name changes this module's name only.
        return []
    if type(parent) is cst.Subscript and parent.value is used:
        return [whole] if is_target(parent, index.parents) else []
    if type(parent) is cst.Call and parent.func is used:
        return []
    if _is_iterated(used, parent) or _is_base_class(index, used, parent):
        return []
    if _in_annotation(index, used):
        return []
    return [whole]


def _references(index: FileIndex, name: str, scope: Scope) -> list[cst.Name] | None:
    """Return the reads of the variable `name` that `scope` binds.

    Bindings are left out: the index checks them. None when the parent
    links of the module are gone, so its uses are unknown.
    """
    if not index.parents:
        return None
    found = []
    for node in index.names.get(name, []):
        parent = index.parents.get(node)
        if isinstance(parent, _NOT_REFERENCES):
            continue
        if type(parent) is cst.Attribute and parent.attr is node:
            continue
        if type(parent) is cst.Arg and parent.keyword is node:
            continue
        if is_target(node, index.parents):
            continue
        if _binding_scope(index, node) is scope:
            found.append(node)
    return found


def _binding_scope(index: FileIndex, node: cst.Name) -> Scope | None:
    """Return the scope whose variable `node` reads, as Python looks it up."""
    scope = index.scope_of(node)
    if scope is None:
        return None
    for candidate in scope.lookup_chain():
        if node.value in candidate.assignments:
            return candidate
    return None


def _is_read_only_method_call(
    index: FileIndex, node: cst.CSTNode, parent: cst.CSTNode | None
) -> bool:
    """Tell whether `node` is the dict of a call such as `node.get(key)`."""
    if type(parent) is not cst.Attribute or parent.value is not node:
        return False
    if parent.attr.value not in DICT_READING_METHODS:
        return False
    call = index.parents.get(parent)
    return type(call) is cst.Call and call.func is parent


def _is_iterated(node: cst.CSTNode, parent: cst.CSTNode | None) -> bool:
    """Tell whether `node` is what a `for` iterates, or the right side of `in`."""
    if type(parent) in (cst.For, cst.CompFor):
        return parent.iter is node
    if type(parent) is cst.ComparisonTarget:
        return parent.comparator is node and type(parent.operator) in (
            cst.In,
            cst.NotIn,
        )
    return False


def _is_base_class(
    index: FileIndex, node: cst.CSTNode, parent: cst.CSTNode | None
) -> bool:
    """Tell whether `node` is a base class in a class definition (not a keyword)."""
    if type(parent) is not cst.Arg or parent.value is not node or parent.keyword:
        return False
    definition = index.parents.get(parent)
    return type(definition) is cst.ClassDef and parent in definition.bases


def _in_annotation(index: FileIndex, node: cst.CSTNode) -> bool:
    """Tell whether `node` is part of a type annotation."""
    current = index.parents.get(node)
    while current is not None and not isinstance(current, cst.BaseStatement):
        if type(current) is cst.Annotation:
            return True
        current = index.parents.get(current)
    return False


def _changed_elsewhere(index: FileIndex, name: str) -> bool:
    if index.project is None:
        return False
    return index.project.changed_elsewhere(index.module_name, name)
