"""Attribute values for what the CIO301 and CIO302 fixes take out of event names.

The SDK encodes event attributes as JSON, which has no form for a `UUID`,
a `Decimal`, a `date`, an enum member or a model object. A name contained
the text of such a value, so the fix sends that text, and sends the value
itself only where its type is certain to encode.
"""

from __future__ import annotations

import libcst as cst

from cio_fix.codemods.timestamps import only_binding
from cio_fix.customerio import Assignment, Scope, literal_value
from cio_fix.events import NamePart
from cio_fix.metadata import quoted_code
from cio_fix.quotes import f_string_with_quote, needs_python_312
from cio_fix.rules import FileContext

# How many variables `is_text` and `is_integer` follow to a value.
_MAX_DEPTH = 5


def sent_value(
    context: FileContext, scope: Scope, part: NamePart
) -> cst.BaseExpression:
    """Return what the fix sends for a value that it takes out of a name.

    A value that is a `str` on every call (`is_text`) is sent as it is, and
    so is an `int` (`is_integer`), whose JSON number has the digits of its
    text and which segments can compare as a number. Any other value is
    formatted the way the name formatted it. `f"{x}"` and `"{}".format(x)`
    call `format(x, "")`, which differs from `str(x)` for a class that
    defines `__format__`, and before Python 3.12 for an enum with a mixin
    type. `"%s" % (x,)` calls `str(x)` on Python 3, and on Python 2 it gives
    a unicode text where `str(x)` would raise. A parameter annotated `int`
    or `float` is sent as its text too, because Python does not check
    annotations, and a `Decimal` or a NumPy number passed for it would not
    encode. A float may also be NaN, which JSON cannot write, and a bool
    would become `true` where the name had `True`.
    """
    assert part.value is not None
    if part.text_form is None:
        return _in_file_quotes(context, part.value, part)
    if is_text(context, scope, part.value) or is_integer(context, scope, part.value):
        return part.value
    return _in_file_quotes(context, part.text_form, part)


def f_string_too_old(context: FileContext, value: cst.BaseExpression) -> str | None:
    """Return why an f-string cannot be sent, if it needs a newer Python than declared.

    Python 3.12 is the first to read an f-string whose braces contain its
    own quote or a backslash (`f"{row["sku"]}"`). A project that declares
    no version gets fixes written for Python 3.9.
    """
    if not isinstance(value, cst.FormattedString) or not needs_python_312(value):
        return None
    feature = (
        f"the f-string `{quoted_code(value)}`, which has its own quote or a"
        " backslash in its braces,"
    )
    if context.declared_python() is None:
        return f"{feature} needs Python 3.12, and the project declares no version"
    return context.python_too_old((3, 12), feature)


def _in_file_quotes(
    context: FileContext, value: cst.BaseExpression, part: NamePart
) -> cst.BaseExpression:
    """Put an f-string that formats a value as the name did in the file's quotes.

    Such an f-string is the name's placeholder alone, `f"{row['sku']}"` out
    of `f"viewed_{row['sku']}"`, so it has the name's quotes. When the
    literals in its braces cannot take the quote that the f-string does
    not use, it keeps the name's quotes. Any other value is returned as it is.
    """
    if not isinstance(value, cst.FormattedString) or value is part.expression:
        return value
    requoted = f_string_with_quote(value, context.literal_quote())
    return requoted if requoted is not None else value


def is_text(
    context: FileContext,
    scope: Scope,
    expression: cst.BaseExpression,
    depth: int = 0,
) -> bool:
    """Tell whether a value is a `str` on every call.

    That is a string literal, a call of the builtin `str`, `a if flag else
    b` of two such values, a parameter annotated `str` and a variable bound
    once to such a value. The annotation is trusted, as type checkers trust
    it, although Python does not check it.
    """
    if depth > _MAX_DEPTH:
        return False
    if isinstance(literal_value(expression), str) or isinstance(
        expression, cst.FormattedString
    ):
        return True
    if isinstance(expression, cst.IfExp):
        return is_text(context, scope, expression.body, depth + 1) and is_text(
            context, scope, expression.orelse, depth + 1
        )
    if isinstance(expression, cst.Call):
        return _is_builtin(context, scope, expression.func, "str")
    assignment = _only_assignment(context, scope, expression)
    if assignment is None:
        return False
    statement = assignment.statement
    if isinstance(statement, cst.Param):
        annotation = statement.annotation
        return annotation is not None and _is_builtin(
            context, assignment.scope, annotation.annotation, "str"
        )
    if isinstance(statement, (cst.Assign, cst.AnnAssign)) and assignment.value:
        return is_text(context, assignment.scope, assignment.value, depth + 1)
    return False


def is_integer(
    context: FileContext,
    scope: Scope,
    expression: cst.BaseExpression,
    depth: int = 0,
) -> bool:
    """Tell whether a value is an `int` on every call.

    That is an integer literal, a call of the builtin `int` or `len`, `a if
    flag else b` of two such values and a variable bound once to such a
    value. Annotations do not count, because Python does not check them.
    """
    if depth > _MAX_DEPTH:
        return False
    value = literal_value(expression)
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    if isinstance(expression, cst.IfExp):
        return is_integer(context, scope, expression.body, depth + 1) and is_integer(
            context, scope, expression.orelse, depth + 1
        )
    if isinstance(expression, cst.Call):
        return _is_builtin(context, scope, expression.func, "int") or _is_builtin(
            context, scope, expression.func, "len"
        )
    assignment = _only_assignment(context, scope, expression)
    if assignment is None or assignment.value is None:
        return False
    if not isinstance(assignment.statement, (cst.Assign, cst.AnnAssign)):
        return False
    return is_integer(context, assignment.scope, assignment.value, depth + 1)


def _only_assignment(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> Assignment | None:
    """Return the one binding of a name, or None for another expression.

    A module-level name that a function or another module may rebind
    (`global`, `module.NAME = ...`) has no one binding.
    """
    if not isinstance(expression, cst.Name):
        return None
    name = expression.value
    assignment = only_binding(context.index, name, scope)
    if assignment is None or context.index.rebound(name, scope):
        return None
    if context.index.rebound_through_global(name, [assignment]):
        return None
    module = context.index.module_name
    if assignment.scope is context.index.module_scope and (
        context.project.rebound_constant(module, name)
    ):
        return None
    return assignment


def _is_builtin(
    context: FileContext, scope: Scope, node: cst.BaseExpression, name: str
) -> bool:
    return (
        isinstance(node, cst.Name)
        and node.value == name
        and not context.index.may_shadow_builtin(name, scope)
    )
