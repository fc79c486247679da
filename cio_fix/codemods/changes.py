"""Code that may change a module-level value after import: a name or a key in it.

CIO601 builds a client once only from values that stay the same between
requests. This module finds the code that rebinds or deletes a name
(`global`, `del`, `globals()`, the module object). It also finds the code
that sets or deletes an attribute or item that a key is read from
(`CONFIG["site_id"] = ...`), and the functions that call such code.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from cio_fix.customerio import FileIndex, FunctionInfo, Scope, literal_value
from cio_fix.handlers import runs_per_request_or_item
from cio_fix.metadata import is_deleted, is_target, quoted_code
from cio_fix.namespaces import (
    ATTRIBUTE_WRITERS,
    NamespaceWrite,
    globals_write_sites,
    own_module_write_sites,
)
from cio_fix.rules import FileContext
from cio_fix.walk import find_all


@dataclass(frozen=True)
class Rebinding:
    """Code that may give a module-level name another value after import, or delete it.

    `node` is that code, whose line the reason names. A placeholder has
    none, because the code that sets it is elsewhere.
    """

    description: str
    node: cst.CSTNode | None = None

    def reason(self, context: FileContext) -> str:
        """Return the description, with the line of the code when there is one."""
        if self.node is None:
            return self.description
        return f"{self.description} on line {context.message_line(self.node)}"


def rebinding_reason(
    context: FileContext, name: str, placeholders: bool = True
) -> str | None:
    """Return why a module-level name may get another value after import, or None.

    `placeholders` is False for a name that is None only when its import
    fails, which no other code sets.
    """
    rebinding = rebinding_of(context.index, name, placeholders)
    return rebinding.reason(context) if rebinding is not None else None


def rebinding_of(
    index: FileIndex, name: str, placeholders: bool = True
) -> Rebinding | None:
    """Return code that may give a module-level name another value after import, or None.

    That is a function that rebinds or deletes it through `global`, a `del`
    at module level, or a write or deletion through `globals()` or the
    module's own object (`sys.modules[__name__]`). With `placeholders`, a
    placeholder counts too: a name bound once to `None` or to an empty
    string, which an app factory or another module
    (`tracking.SITE_ID = ...`) usually sets later.
    """
    rebinding = global_rebinding(index, name)
    if rebinding is not None:
        return rebinding
    deletions = index.module_scope.deletions.get(name)
    if deletions:
        return Rebinding(f"the module deletes `{name}`", deletions[0])
    for namespace, writes in (
        ("`globals()`", globals_write_sites(index)),
        ("its module object", own_module_write_sites(index)),
    ):
        for write in writes:
            if write.writes(name):
                description = write_description(name, namespace, write)
                return Rebinding(f"the module {description}", write.node)
    assignment = index.module_assignment(name)
    if assignment is None or not placeholders:
        return None
    value = assignment.value
    if isinstance(value, cst.Name) and value.value == "None":
        return Rebinding(
            f"`{name}` is None at import, a placeholder that other code may set"
        )
    if literal_value(value) == "":
        # An empty site ID or API key cannot authenticate, so the name only
        # reserves a slot.
        return Rebinding(
            f"`{name}` is an empty string at import, a placeholder that other"
            " code may set"
        )
    return None


def write_description(name: str, namespace: str, write: NamespaceWrite) -> str:
    """Describe a write through a module's namespace that may set or delete `name`.

    The description starts with its verb: `deletes `SITE_ID` through ...`.
    """
    if write.names is None:
        return f"may set or delete any module-level name through {namespace}"
    if write.deletes:
        return f"deletes `{name}` through {namespace}"
    return f"sets `{name}` through {namespace}"


def global_rebinding(index: FileIndex, name: str) -> Rebinding | None:
    """Return where a function rebinds or deletes the module-level `name` through `global`.

    A function that declares `name` global and assigns, imports or deletes
    it changes the module's value whenever it runs, so the value at import
    is not the value later.
    """
    if name not in index.global_names:
        return None
    for function in index.functions:
        scope = function.scope
        if scope is None:
            continue
        assignments = scope.assignments.get(name)
        deletions = scope.deletions.get(name)
        if not assignments and not deletions and name not in scope.imports:
            continue
        # NOTE: a `global` of a nested function counts for the outer one too,
        # which only withholds more fixes.
        for statement in find_all(function.node.body, cst.Global):
            if not any(item.name.value == name for item in statement.names):
                continue
            if assignments:
                return Rebinding(
                    f"`{function.name}` rebinds `{name}` through `global`",
                    assignments[0].statement,
                )
            if deletions:
                return Rebinding(
                    f"`{function.name}` deletes `{name}` through `global`",
                    deletions[0],
                )
            # An import names no statement of its own in the index.
            return Rebinding(
                f"`{function.name}` rebinds `{name}` through `global`", statement
            )
    return None


# Methods of a dict that set or delete its items.
DICT_CHANGING_METHODS = frozenset(
    {"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"}
)
# A part of a key's path that matches any attribute or item: the part of
# `CONFIG[name]` that `name` picks, or what `CONFIG.clear()` deletes.
_ANY_PART: tuple[str, object] = ("any", None)
# The attributes and items that a chain reads from a name, in order:
# `(("item", "cio"), ("attribute", "site_id"))` for `CONFIG["cio"].site_id`.
_KeyPath = tuple[tuple[str, object], ...]


def changed_key_reason(
    context: FileContext,
    node: cst.BaseExpression,
    function: FunctionInfo | None = None,
) -> str | None:
    """Return why a key read through a module-level name may change between requests.

    `node` reads an attribute or item of a module-level name or of an
    import (`CONFIG["site"]`, `settings.SITE_ID`). Code that runs per
    request or per item changes the key when it sets or deletes it, or an
    attribute or item on its path or inside it (`CONFIG["site"] = ...`,
    `CONFIG.clear()`, `setattr(settings, "SITE_ID", ...)`). So does
    `function`, the code that reads the key (a loop over tenants that sets
    `settings.SITE_ID` for each). A call of a function of the module that
    does so counts too. An app factory or `main()` that no handler calls
    sets the keys once, before the first request, so its changes do not
    count there. None when no such code exists.
    NOTE: a change through another name (`config = CONFIG`), through a
    method that is not a dict's (`settings.reload()`), or in a function
    that gets the object as an argument is not seen.
    """
    path = _key_path(node)
    if path is None:
        return None
    name, parts = path
    changes = [
        change
        for change_parts, change in _key_changes(context, name)
        if _overlaps(change_parts, parts)
    ]
    if not changes:
        return None
    changes.extend(calls_of_changers(context, [change.function for change in changes]))
    for change in changes:
        changer = change.function
        subject = None
        if changer is not function:
            if not runs_per_request_or_item(context.index, changer):
                continue
            subject = f"`{changer.name}`, which runs per request or per item,"
        text = change_text(context, change, changes, subject)
        return f"{text}, so a client built once could keep its old value"
    return None


def _key_path(node: cst.BaseExpression) -> tuple[str, _KeyPath] | None:
    """Return the name that a chain of attributes and items starts from, and its path."""
    parts: list[tuple[str, object]] = []
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        if isinstance(node, cst.Attribute):
            parts.append(("attribute", node.attr.value))
        else:
            parts.append(_item_part(node))
        node = node.value
    if not isinstance(node, cst.Name) or not parts:
        return None
    return node.value, tuple(reversed(parts))


def _item_part(node: cst.Subscript) -> tuple[str, object]:
    """Return the part of a key's path that `x[key]` reads: its literal key, or any."""
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return _ANY_PART
    key = literal_value(node.slice[0].slice.value)
    return _ANY_PART if key is None else ("item", key)


def _overlaps(first: _KeyPath, second: _KeyPath) -> bool:
    """Tell whether two paths from the same name may reach the same object.

    One path must start the other, where a part that may be any
    attribute or item matches every part.
    """
    for one, other in zip(first, second, strict=False):
        if one != other and _ANY_PART not in (one, other):
            return False
    return True


def _key_changes(context: FileContext, name: str) -> list[tuple[_KeyPath, Change]]:
    """Return the changes of attributes and items of the module-level `name` in functions.

    Each comes with the path it changes (`_key_change_at`). Code at module
    level runs once, at import, so it does not count.
    """

    def compute(context: FileContext) -> list[tuple[_KeyPath, Change]]:
        index = context.index
        found = []
        for use in context.names_with_value(name):
            # Most uses only read, so the change is looked for before the scope.
            change = _key_change_at(context, use)
            if change is None:
                continue
            function = function_around(index, use)
            scope = index.scope_of(use)
            if function is None or scope is None or binds_locally(scope, name):
                continue
            found.append((change[0], Change(function, change[1], change[2])))
        return found

    return context.shared(f"CIO601:key-changes:{name}", compute)


def _key_change_at(
    context: FileContext, use: cst.Name
) -> tuple[_KeyPath, cst.CSTNode, str] | None:
    """Return the change that the chain of attributes and items from `use` makes, if any.

    That is an assignment or `del` of an attribute or item of the chain, a
    call of a method of DICT_CHANGING_METHODS on it, and `setattr()` or
    `delattr()` of it. The change comes as the path it changes, its node
    and its action.
    """
    parent_of = context.parent_map()
    parts: list[tuple[str, object]] = []
    current: cst.BaseExpression = use
    while True:
        if parts and is_target(current, parent_of):
            verb = "deletes" if is_deleted(current, parent_of) else "sets"
            return tuple(parts), current, f"{verb} `{quoted_code(current)}`"
        parent = parent_of.get(current)
        if isinstance(parent, cst.Attribute) and parent.value is current:
            call = parent_of.get(parent)
            if (
                parent.attr.value in DICT_CHANGING_METHODS
                and isinstance(call, cst.Call)
                and call.func is parent
            ):
                action = f"calls `{quoted_code(parent)}()`"
                return (*parts, _ANY_PART), call, action
            parts.append(("attribute", parent.attr.value))
        elif isinstance(parent, cst.Subscript) and parent.value is current:
            parts.append(_item_part(parent))
        elif isinstance(parent, cst.Arg) and parent.value is current:
            return _attribute_writer_change(context, parent, parts)
        else:
            return None
        current = parent


def _attribute_writer_change(
    context: FileContext, argument: cst.Arg, parts: list[tuple[str, object]]
) -> tuple[_KeyPath, cst.CSTNode, str] | None:
    """Return the change that `setattr(obj, ...)` or `delattr(obj, ...)` makes to `obj`.

    `argument` is the first argument, and `parts` is its path.
    """
    call = context.parent(argument)
    if not isinstance(call, cst.Call) or not call.args or call.args[0] is not argument:
        return None
    func = call.func
    if not isinstance(func, cst.Name) or func.value not in ATTRIBUTE_WRITERS:
        return None
    scope = context.index.scope_of(call)
    if scope is None or context.index.may_shadow_builtin(func.value, scope):
        return None
    attribute = literal_value(call.args[1].value) if len(call.args) > 1 else None
    part = ("attribute", attribute) if isinstance(attribute, str) else _ANY_PART
    action = f"calls `{func.value}()` on `{quoted_code(argument.value)}`"
    return (*parts, part), call, action


@dataclass(frozen=True)
class Change:
    """Code in a function that may change a module-level value: a name or a key in it.

    `node` either changes the value itself, as `action` describes
    (`deletes `_client` through `global``, `sets `CONFIG["site"]``), or
    calls `callee`, a function of the module that changes it.
    """

    function: FunctionInfo
    node: cst.CSTNode
    action: str | None = None
    callee: FunctionInfo | None = None


def calls_of_changers(
    context: FileContext, changers: list[FunctionInfo], every_call: bool = False
) -> list[Change]:
    """Return the calls of `changers`, and of the functions that call them, by name.

    Only a module-level function that the module binds once, to its `def`,
    is called by its name. With `every_call`, a caller counts as a changer
    only when its call runs whenever the caller runs, not where a condition
    or an `except` clause decides.
    """
    index = context.index
    parent_of = context.parent_map()
    seen = {id(function) for function in changers}
    pending = list(changers)
    found = []
    while pending:
        callee = pending.pop()
        if callee.parent is not None or callee.class_info is not None:
            continue
        for node in context.names_with_value(callee.name):
            call = parent_of.get(node)
            if not isinstance(call, cst.Call) or call.func is not node:
                continue
            scope = index.scope_of(call)
            caller = function_around(index, call)
            if scope is None or caller is None:
                continue
            bindings = index.assignments_of(callee.name, scope)
            if len(bindings) != 1 or bindings[0].statement is not callee.node:
                continue
            found.append(Change(caller, call, callee=callee))
            if id(caller) in seen:
                continue
            if every_call and not runs_whenever_called(context, caller, call):
                continue
            seen.add(id(caller))
            pending.append(caller)
    return found


def runs_whenever_called(
    context: FileContext, function: FunctionInfo, node: cst.CSTNode
) -> bool:
    """Tell whether `node` runs whenever `function` runs, unless an exception stops it."""
    parent_of = context.parent_map()
    child = node
    parent = parent_of.get(child)
    while parent is not None:
        if parent is function.node:
            return child is parent.body
        if not runs_with_parent(child, parent):
            return False
        child, parent = parent, parent_of.get(parent)
    return False


def function_around(index: FileIndex, node: cst.CSTNode) -> FunctionInfo | None:
    """Return the function whose code contains `node`, or None at module level."""
    scope = index.scope_of(node)
    while scope is not None and scope.function is None and scope.kind != "module":
        scope = scope.parent
    return scope.function if scope is not None else None


def change_text(
    context: FileContext,
    change: Change,
    changes: list[Change],
    subject: str | None = None,
) -> str:
    """Describe a change of a value: `reset` deletes it, or `signup` calls `reset`.

    `changes` lists every change of the value, where a call's callee has
    one of its own before the call. `subject` names the function that runs
    the change, by default with its name in backquotes.
    """
    line = context.message_line(change.node)
    if subject is None:
        subject = f"`{change.function.name}`"
    if change.callee is None:
        return f"{subject} {change.action} on line {line}"
    callee = change.callee
    inner = next(other for other in changes if other.function is callee)
    return (
        f"{subject} calls `{callee.name}` on line {line}, and"
        f" {change_text(context, inner, changes)}"
    )


def binds_locally(scope: Scope, name: str) -> bool:
    """Tell whether `scope`, or a function around it, binds `name` instead of the module."""
    for candidate in scope.lookup_chain():
        if candidate.kind == "module":
            return False
        if name in candidate.assignments or name in candidate.imports:
            return True
    return False


# Nodes that run their parts later, once per item, or never.
_DEFERRING = (
    cst.FunctionDef,
    cst.Lambda,
    cst.ListComp,
    cst.SetComp,
    cst.DictComp,
    cst.GeneratorExp,
)


def runs_with_parent(child: cst.CSTNode, parent: cst.CSTNode) -> bool:
    """Tell whether `child` runs whenever `parent` does, unless an exception stops it."""
    if isinstance(parent, (cst.If, cst.While, cst.IfExp)):
        return child is parent.test
    if isinstance(parent, cst.For):
        return child is parent.iter
    if isinstance(parent, cst.BooleanOperation):
        return child is parent.left
    if isinstance(parent, (cst.Try, cst.TryStar)):
        # Not the `except` clauses nor the `else` clause.
        return child is parent.body or child is parent.finalbody
    if isinstance(parent, cst.Match):
        return child is parent.subject
    return not isinstance(parent, _DEFERRING)
