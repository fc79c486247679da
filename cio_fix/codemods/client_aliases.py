"""The client that a call goes through where it runs, followed through local aliases.

A function may reach a module-level client through a local name
(`cio = us`), or a client attribute through one (`client = self.eu`), may
build a client into one (`cio = CustomerIO(...)`), and may bind that name
again between two calls (`cio = eu` or `(cio := eu)`). CIO201 reads these
to tell whether a track and an identify go to one workspace.
"""

from __future__ import annotations

import libcst as cst

from cio_fix.codemods.attributes import self_attribute_assignment
from cio_fix.customerio import (
    CACHE_DECORATORS,
    Assignment,
    ClientCall,
    Construction,
    FileIndex,
    Scope,
    all_parameters,
    dotted_name,
)
from cio_fix.rules import FileContext

# The statements whose value a local alias takes: `cio = us`, `cio: CustomerIO = us`.
ALIAS_STATEMENTS = (cst.Assign, cst.AnnAssign)
# The statements that always evaluate a `:=` that is their whole value:
# `(cio := eu)`, `client = (cio := eu)`.
WALRUS_STATEMENTS = (cst.Expr, cst.Assign, cst.AnnAssign)
LOOPS = (cst.For, cst.While)


def client_construction(
    context: FileContext, call: ClientCall, constructions: dict[int, Construction]
) -> Construction | None:
    """Return the construction of the client that `call` goes through, when this file shows it.

    The receiver is a module-level name bound once to a client
    (`us = CustomerIO(...)`), an attribute that the class binds once
    (`self.us = CustomerIO(...)` or `self.us = us`), or a local name whose
    binding that reaches the call (see `reaching_assignment`) is one of
    these two, a constructor call (`cio = CustomerIO(...)`) or a call of a
    factory that returns one (see `_factory_construction`).
    `constructions` maps the id of each constructor call node to its
    construction.
    """
    receiver = call.receiver
    scope = call.site.scope
    if type(receiver) is cst.Name and _is_local(receiver.value, scope):
        assignment = reaching_assignment(context, receiver.value, call.node, scope)
        if assignment is None or assignment.value is None:
            return None
        receiver = assignment.value
        if id(receiver) in constructions:
            return constructions[id(receiver)]
        if type(receiver) is cst.Call:
            return _factory_construction(context.index, receiver, scope, constructions)
    value = _client_value(context.index, receiver, scope)
    return constructions.get(id(value)) if value is not None else None


def alias_target(context: FileContext, call: ClientCall) -> cst.BaseExpression | None:
    """Return the name or attribute that the call's local receiver is bound to at the call.

    That is `us` for `cio = us` or `(cio := us)`, and `self.eu` for
    `client = self.eu`, when the binding reaches the call as
    `reaching_assignment` describes. For any other receiver or value it
    returns None.
    """
    receiver = call.receiver
    scope = call.site.scope
    if type(receiver) is not cst.Name or not _is_local(receiver.value, scope):
        return None
    assignment = reaching_assignment(context, receiver.value, call.node, scope)
    if assignment is None or assignment.value is None:
        return None
    return assignment.value if dotted_name(assignment.value) is not None else None


def reaching_assignment(
    context: FileContext, name: str, node: cst.CSTNode, scope: Scope
) -> Assignment | None:
    """Return the assignment of the local `name` that `node` reads, if straight-line code shows it.

    That is the last binding before `node`, a plain assignment or a
    statement whose whole value is `(name := value)`, in the block of
    `node` or in a block around it, that no later binding in a loop around
    `node` may follow. When the binding depends on a branch (`if`, `try`, a loop, a
    `:=` inside another expression), or a `global` or `nonlocal`
    statement, a `del` or an import may rebind the name, it returns None.
    """
    index = context.index
    assignments = scope.assignments.get(name)
    if not assignments:
        return None
    if name in scope.imports or name in scope.deletions or name in index.global_names:
        return None
    # A nested function's `nonlocal` assignment runs whenever it is called.
    if any(assignment.scope is not scope for assignment in assignments):
        return None

    ancestors = _ancestors_in_scope(context, node, scope)
    ancestor_ids = {id(ancestor) for ancestor in ancestors}
    reaching: Assignment | None = None
    later: list[Assignment] = []
    # The assignments are recorded in source order. One that contains
    # `node` binds after it (`cio = cio.identify(...)`) or before it
    # (`for cio in clients:`), so the value at `node` is not known.
    for assignment in assignments:
        if id(assignment.statement) in ancestor_ids:
            return None
        if context.comes_before(assignment.statement, node):
            reaching = assignment
        else:
            later.append(assignment)
    if reaching is None:
        return None
    statement = _binding_statement(context, reaching)
    if statement is None:
        return None

    block = _straight_line_block(context, statement, ancestor_ids)
    if block is None:
        return None
    loops = _loops_below(ancestors, block)
    if loops and any(_in_loop(context, other.statement, loops) for other in later):
        return None
    return reaching


def _binding_statement(
    context: FileContext, assignment: Assignment
) -> cst.CSTNode | None:
    """Return the statement that binds the name whenever it runs, or None.

    A `:=` counts only as the whole value of an expression statement or an
    assignment, because elsewhere (`ready and (cio := eu)`, a comprehension)
    it may not run.
    """
    statement = assignment.statement
    if type(statement) in ALIAS_STATEMENTS:
        return statement
    if type(statement) is not cst.NamedExpr:
        return None
    parent = context.parent(statement)
    if isinstance(parent, WALRUS_STATEMENTS) and parent.value is statement:
        return parent
    return None


def _is_local(name: str, scope: Scope) -> bool:
    return scope.kind == "function" and name in scope.assignments


def _ancestors_in_scope(
    context: FileContext, node: cst.CSTNode, scope: Scope
) -> list[cst.CSTNode]:
    """Return the ancestors of `node`, innermost first, up to the node of its scope."""
    ancestors = []
    for ancestor in context.ancestors(node):
        ancestors.append(ancestor)
        if ancestor is scope.node:
            break
    return ancestors


def _straight_line_block(
    context: FileContext, statement: cst.CSTNode, ancestor_ids: set[int]
) -> cst.CSTNode | None:
    """Return the line or block that runs `statement` and, later, the node of `ancestor_ids`.

    That is the line of `statement` when it contains the node too, or else
    the block that contains both that line and the node. For a statement
    in a block that the node is outside, such as an `if` block that the
    node follows, it returns None.
    """
    line = context.parent(statement)
    if line is None:
        return None
    if id(line) in ancestor_ids:
        return line
    # A suite after a colon (`if ready: cio = us`) that the node is outside.
    if type(line) is not cst.SimpleStatementLine:
        return None
    block = context.parent(line)
    if block is None or id(block) not in ancestor_ids:
        return None
    return block


def _loops_below(ancestors: list[cst.CSTNode], block: cst.CSTNode) -> set[int]:
    """Return the ids of the loops among `ancestors` that `block` contains."""
    loops = set()
    for ancestor in ancestors:
        if ancestor is block:
            break
        if type(ancestor) in LOOPS:
            loops.add(id(ancestor))
    return loops


def _in_loop(context: FileContext, statement: cst.CSTNode, loops: set[int]) -> bool:
    return any(id(ancestor) in loops for ancestor in context.ancestors(statement))


def _client_value(
    index: FileIndex, receiver: cst.BaseExpression, scope: Scope
) -> cst.BaseExpression | None:
    """Return the value of the client that `receiver` names in `scope`, if one binding gives it."""
    if type(receiver) is cst.Name:
        return _module_value(index, receiver.value, scope)
    if type(receiver) is cst.Attribute:
        return _attribute_value(index, receiver, scope)
    return None


def _factory_construction(
    index: FileIndex,
    call: cst.Call,
    scope: Scope,
    constructions: dict[int, Construction],
) -> Construction | None:
    """Return the client that a call of a module-level factory builds, when it builds one.

    The factory is a `def` that the module binds once, without parameters
    and with only cache decorators, whose one `return` gives a constructor
    call. CIO601's fix writes such factories (`cio = _customerio_client()`).
    """
    if call.args or type(call.func) is not cst.Name:
        return None
    assignment = _module_assignment(index, call.func.value, scope)
    if assignment is None or type(assignment.statement) is not cst.FunctionDef:
        return None
    definition = assignment.statement
    if definition.asynchronous is not None or all_parameters(definition.params):
        return None
    for function in index.functions:
        if function.node is not definition:
            continue
        if len(function.returns) != 1:
            return None
        if any(name not in CACHE_DECORATORS for name in function.decorators):
            return None
        return constructions.get(id(function.returns[0]))
    return None


def _module_value(
    index: FileIndex, name: str, scope: Scope
) -> cst.BaseExpression | None:
    assignment = _module_assignment(index, name, scope)
    return assignment.value if assignment is not None else None


def _module_assignment(index: FileIndex, name: str, scope: Scope) -> Assignment | None:
    """Return the one assignment of the module-level `name` read in `scope`, if there is one.

    A function or class around `scope` that binds `name` hides it, and a
    second binding, a `global` statement or a `del` may rebind it.
    """
    for candidate in scope.lookup_chain():
        if candidate.kind == "module":
            break
        if name in candidate.assignments or name in candidate.imports:
            return None
    assignment = index.module_assignment(name)
    if assignment is None or index.rebound(name, scope):
        return None
    if name in index.module_scope.deletions:
        return None
    return assignment


def _attribute_value(
    index: FileIndex, receiver: cst.Attribute, scope: Scope
) -> cst.BaseExpression | None:
    """Return the value of `self.cio` or `cls.cio` in a method, when its class binds it once.

    A value that is a module-level name (`self.us = us`) is followed to
    that name's value.
    """
    assignment = self_attribute_assignment(index, receiver, scope)
    if assignment is None:
        return None
    value = assignment.value
    if type(value) is cst.Name:
        return _module_value(index, value.value, assignment.scope)
    return value
