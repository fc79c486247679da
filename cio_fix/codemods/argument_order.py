"""Check that a fix which moves a call's expressions keeps what they evaluate to.

Python evaluates a call's positional arguments (with `*args`) from left to
right, then its keyword arguments (with `**kwargs`), and a dict display
from left to right. A fix that moves a value out of the event name into
`data`, or keyword arguments into `data`, evaluates that value at a new
place. Swapping two expressions changes nothing unless one of them calls
code or assigns a name (`:=`) that the other depends on.
"""

from __future__ import annotations

import libcst as cst

from cio_fix.codemods.identity import only_reads
from cio_fix.customerio import FileIndex, read_names
from cio_fix.metadata import quoted_code
from cio_fix.walk import find_all, significant_children

# Expressions whose value may depend on an object that a call can change.
_STATEFUL = (
    cst.Attribute,
    cst.Subscript,
    cst.Call,
    cst.Await,
    cst.Yield,
    cst.BaseComp,
    cst.Lambda,
    cst.NamedExpr,
)


_STRING_LITERALS = (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)


def reordering_problem(
    index: FileIndex,
    old: cst.Call,
    new: cst.Call,
    module: cst.Module,
    constants: frozenset[int] = frozenset(),
) -> str | None:
    """Return why `new` may give its arguments other values than `old`, or None.

    The expressions compared are those that `new` takes over from `old` as
    the same node objects, because the fix moves them without rewriting
    them. An expression of `old` that `new` drops must only read values.
    `constants` are the ids of expressions that the caller knows to give
    the same value wherever they are evaluated, without an effect.
    """
    kept_ids = {id(node) for node in find_all(new, cst.BaseExpression)}
    units: list[cst.BaseExpression] = []
    dropped: list[cst.BaseExpression] = []
    for argument in _in_evaluation_order(old):
        if not _collect_units(argument, kept_ids, units, dropped):
            dropped.append(argument.value)
    for node in dropped:
        if id(node) not in constants and _may_have_effect(index, node):
            return (
                f"`{quoted_code(node, module)}` would no longer be evaluated, and"
                " a call in it may have an effect"
            )

    unit_ids = {id(unit) for unit in units}
    sequence: list[cst.BaseExpression] = []
    for argument in _in_evaluation_order(new):
        _find_units(argument, unit_ids, sequence)
    positions: dict[int, int] = {}
    for position, node in enumerate(sequence):
        if id(node) not in positions:
            positions[id(node)] = position
        elif id(node) not in constants and _may_have_effect(index, node):
            return (
                f"`{quoted_code(node, module)}` would be evaluated twice, and a call"
                " in it may give another value each time"
            )

    for number, earlier in enumerate(units):
        for later in units[number + 1 :]:
            if positions[id(later)] > positions[id(earlier)]:
                continue
            if id(earlier) in constants or id(later) in constants:
                continue
            problem = _interference(index, earlier, later, module)
            if problem is not None:
                return problem
    return None


def _in_evaluation_order(call: cst.Call) -> list[cst.Arg]:
    # `f(k=a(), *b())` evaluates b() first.
    positional = [
        argument
        for argument in call.args
        if argument.keyword is None and argument.star != "**"
    ]
    keywords = [
        argument
        for argument in call.args
        if argument.keyword is not None or argument.star == "**"
    ]
    return positional + keywords


def _collect_units(
    node: cst.CSTNode,
    kept_ids: set[int],
    units: list[cst.BaseExpression],
    dropped: list[cst.BaseExpression],
) -> bool:
    """Add the largest expressions below `node` that the new call kept, in source order.

    Returns whether any was found. The expressions next to a kept one
    that the new call no longer contains go to `dropped`, those of each
    node after those of the nodes inside it.
    """
    _find_units(node, kept_ids, units)
    if _is_unit(node, kept_ids):
        return True
    # Parents before children, and each node's later children before its
    # earlier ones, so that reversed each node comes after its children.
    visited = []
    pending = [node]
    while pending:
        current = pending.pop()
        visited.append(current)
        for child in significant_children(current):
            if not _is_unit(child, kept_ids):
                pending.append(child)
    # The ids of the nodes that contain a kept expression.
    containing: set[int] = set()
    for current in reversed(visited):
        lost = []
        for child in significant_children(current):
            if _is_unit(child, kept_ids) or id(child) in containing:
                containing.add(id(current))
            elif isinstance(child, cst.BaseExpression):
                lost.append(child)
        if id(current) in containing:
            dropped.extend(lost)
    return id(node) in containing


def _find_units(
    node: cst.CSTNode, unit_ids: set[int], sequence: list[cst.BaseExpression]
) -> None:
    """Add the expressions of `unit_ids` below `node`, outermost only, in source order."""
    pending = [node]
    while pending:
        current = pending.pop()
        if _is_unit(current, unit_ids):
            sequence.append(current)  # type: ignore[arg-type]
            continue
        children = significant_children(current)
        children.reverse()
        pending.extend(children)


def _is_unit(node: cst.CSTNode, unit_ids: set[int]) -> bool:
    return isinstance(node, cst.BaseExpression) and id(node) in unit_ids


def _interference(
    index: FileIndex,
    earlier: cst.BaseExpression,
    later: cst.BaseExpression,
    module: cst.Module,
) -> str | None:
    """Return why evaluating `later` before `earlier` may change a value, or None."""
    swapped = (
        f"`{quoted_code(later, module)}` would be evaluated before"
        f" `{quoted_code(earlier, module)}`"
    )
    assigned = _assigned_names(earlier) & read_names(later)
    if assigned:
        return f"{swapped}, which assigns `{min(assigned)}`"
    assigned = _assigned_names(later) & read_names(earlier)
    if assigned:
        return f"{swapped}, and it assigns `{min(assigned)}`, which the other reads"
    # NOTE: a plain name counts as unchanged by a call, although a function
    # that declares it `global` or `nonlocal` may assign it.
    if (_may_have_effect(index, earlier) and not _is_plain(later)) or (
        _may_have_effect(index, later) and not _is_plain(earlier)
    ):
        return f"{swapped}, and a call in one may change the value of the other"
    return None


def _may_have_effect(index: FileIndex, node: cst.CSTNode) -> bool:
    """Tell whether evaluating `node` may change a value, as `only_reads` decides.

    A method of a string literal (`"{}".format(email)`) builds a new string,
    so it has no effect either.
    """
    if only_reads(index, node):
        return False
    if find_all(node, cst.Await, cst.Yield, cst.BaseComp, cst.Lambda, cst.NamedExpr):
        return True
    for call in find_all(node, cst.Call):
        method = call.func
        if not isinstance(method, cst.Attribute) or not isinstance(
            method.value, _STRING_LITERALS
        ):
            return True
        if not all(only_reads(index, argument.value) for argument in call.args):
            return True
    return False


def _assigned_names(node: cst.CSTNode) -> set[str]:
    return {
        walrus.target.value
        for walrus in find_all(node, cst.NamedExpr)
        if isinstance(walrus.target, cst.Name)
    }


def _is_plain(node: cst.CSTNode) -> bool:
    """Tell whether `node` contains only literals, names and operators."""
    return not find_all(node, *_STATEFUL)
