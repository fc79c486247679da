"""The parts of an event name that cannot change: string constants and enum members.

CIO301 keeps such a part in the event name and moves only the values that
change into attributes: with `PREFIX = "billing"`, the name
`f"{PREFIX}_upgraded_{region}"` becomes `PREFIX + "_upgraded"`, the event
`billing_upgraded` for every region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from cio_fix.customerio import Scope, dotted_name, literal_value
from cio_fix.events import DOTTED, BuiltName, NamePart, static_name, to_style
from cio_fix.metadata import code_of

if TYPE_CHECKING:
    from cio_fix.rules import FileContext

# Bases that make a class an enum whose members cannot be rebound.
ENUM_BASES = frozenset({"enum.Enum", "enum.StrEnum"})
STR_ENUM = "enum.StrEnum"

# Methods that may give a member a `.value` other than the one assigned.
_VALUE_HOOKS = frozenset({"__new__", "__init__", "_generate_next_value_"})

# A name spelled as a constant (`PREFIX`, `names.APP`), or an enum member
# (`Plan.PRO`, `Plan.PRO.value`).
_CONSTANT_NAME = re.compile(r"_*[A-Z][A-Z0-9_]*")

_SEPARATORS_AT_START = re.compile(r"^[\W_]+")
_SEPARATORS_AT_END = re.compile(r"[\W_]+$")


class UnknownPart(Exception):
    """Raised when a part of a name looks fixed but cio-fix cannot read its text.

    The message is the reason, for a finding reported without a fix.
    """


@dataclass
class FixedName:
    """The event name left once the values that change are taken out."""

    # The name that the new expression sends.
    text: str
    # The literal text in the configured style, with the fixed parts kept as
    # they are written: a string literal, or a `+` chain of them.
    expression: cst.BaseExpression
    # The ids of the value parts that stay in the name.
    kept: frozenset[int]


def looks_constant(expression: cst.BaseExpression) -> bool:
    """Tell whether an expression is spelled as a constant or an enum member."""
    if isinstance(expression, cst.Attribute) and expression.attr.value in (
        "value",
        "name",
    ):
        expression = expression.value
    if isinstance(expression, cst.Name):
        spelled = expression.value
    elif isinstance(expression, cst.Attribute):
        spelled = expression.attr.value
    else:
        return False
    return _CONSTANT_NAME.fullmatch(spelled) is not None


def constant_text(context: FileContext, scope: Scope, part: NamePart) -> str | None:
    """Return the text that a value part of a name has on every call, or None.

    One kind of such part is a module-level name that its module assigns
    once to a string literal, in this module or in a module of the project.
    The other is a member of an enum class of this module that is assigned a
    string literal: read as `.value`, as a `StrEnum` member, or as a member
    of a `str` enum in a `+` chain. A part with a format spec or conversion
    gives None.
    """
    expression = part.expression
    if expression is None or part.value is not expression:
        return None
    if isinstance(expression, cst.Attribute) and expression.attr.value == "value":
        member = _enum_member(context, scope, expression.value)
        return member[1] if member is not None else None

    member = _enum_member(context, scope, expression)
    if member is not None:
        base, value = member
        # `"a" + member` takes the string value of a `str` enum member.
        # A `StrEnum` member also formats as its value, but a member of
        # `class Event(str, Enum)` formats as `Event.X` from Python 3.11.
        if base == STR_ENUM or part.operand and base == "str":
            return value
        return None
    return _module_constant(context, scope, expression)


def is_fixed(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> bool:
    """Tell whether an expression is a string constant or enum member that `constant_text` reads."""
    if isinstance(expression, cst.Attribute) and expression.attr.value == "value":
        expression = expression.value
    return (
        _enum_member(context, scope, expression) is not None
        or _module_constant(context, scope, expression) is not None
    )


def fixed_name(context: FileContext, scope: Scope, built: BuiltName) -> FixedName:
    """Return the name without the values that change, keeping the parts that cannot.

    The literal text between fixed parts is written in the configured
    style, and a separator stays next to a fixed part where the name had
    one. Raises UnknownPart for a part spelled as a constant whose text
    cio-fix cannot read: moving it into an attribute could rename the event.
    """
    kept: dict[int, str] = {}
    for part in built.values:
        assert part.expression is not None
        text = constant_text(context, scope, part)
        if text is not None:
            kept[id(part)] = text
        elif looks_constant(part.expression):
            raise UnknownPart(_unknown_reason(context, scope, part.expression))

    style = context.config.event_name_style
    if not kept:
        text = static_name(built, style)
        return FixedName(text, cst.SimpleString(f'"{text}"'), frozenset())

    # Literal runs between the fixed parts: a value that moves out of the
    # name leaves a separator, as in a name without fixed parts.
    runs: list[str] = [""]
    fixed: list[NamePart] = []
    for part in built.parts:
        if part.text is not None:
            runs[-1] += part.text
        elif id(part) in kept:
            fixed.append(part)
            runs.append("")
        else:
            runs[-1] += "_"

    texts = [kept[id(part)] for part in fixed]
    pieces: list[cst.BaseExpression] = []
    name = ""
    for position, run in enumerate(runs):
        before = texts[position - 1] if position > 0 else None
        after = texts[position] if position < len(texts) else None
        styled = _styled_run(run, style, before, after)
        if styled:
            pieces.append(cst.SimpleString(f'"{styled}"'))
            name += styled
        if after is not None:
            pieces.append(fixed[position].expression)
            name += after
    if len(pieces) == 1 and _enum_member(context, scope, pieces[0]) is not None:
        # A member alone would send the enum object, not the string it holds.
        pieces = [cst.Attribute(value=pieces[0], attr=cst.Name("value"))]
    return FixedName(name, _joined(pieces), frozenset(kept))


def _unknown_reason(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> str:
    code = code_of(expression)
    member = _enum_member(context, scope, expression)
    if member is not None and member[0] == "str":
        return (
            f"`{code}` does not change, but Python 3.11 and later write it into"
            f" the name as `{code}`, and earlier versions as its value"
        )
    return (
        f"cio-fix cannot tell whether `{code}` changes, and moving a fixed part"
        " out of the name would rename the event"
    )


def _styled_run(run: str, style: str, before: str | None, after: str | None) -> str:
    """Write the literal text between two fixed parts (None: a name's end) in `style`.

    The words are styled as in a name without fixed parts. A separator
    stays next to a fixed part when the run had one there. A capital
    letter that starts a word there gets one too, because the style
    lowercases it.
    """
    words = to_style(run, style)
    leading = _SEPARATORS_AT_START.match(run)
    trailing = _SEPARATORS_AT_END.search(run)
    if not words:
        # Only separators between two fixed parts: keep one.
        if before is None or after is None or leading is None:
            return ""
        return _separator(leading.group(0), style)

    if before is not None and leading is not None:
        words = _separator(leading.group(0), style) + words
    elif before is not None and run[:1].isupper():
        words = "_" + words
    if after is not None and trailing is not None:
        words += _separator(trailing.group(0), style)
    elif after is not None and after[:1].isupper():
        words += "_"
    return words


def _separator(run: str, style: str) -> str:
    return "." if style == DOTTED and "." in run else "_"


def _joined(pieces: list[cst.BaseExpression]) -> cst.BaseExpression:
    """Join string pieces with `+`: every Python version runs it, unlike an f-string."""
    if not pieces:
        return cst.SimpleString('""')
    joined = pieces[0]
    for piece in pieces[1:]:
        joined = cst.BinaryOperation(left=joined, operator=cst.Add(), right=piece)
    return joined


def _module_constant(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> str | None:
    """Return the value of a module-level string constant that its module binds once.

    NOTE: an assignment from another module (`names.PREFIX = "x"`) is not
    looked for, because the modules that would make it are not all read.
    """
    index = context.index
    if isinstance(expression, cst.Name) and expression.value not in index.imports:
        name = expression.value
        assignments = index.assignments_of(name, scope)
        if len(assignments) != 1 or assignments[0].scope is not index.module_scope:
            return None
        assignment = assignments[0]
        if not isinstance(assignment.statement, (cst.Assign, cst.AnnAssign)):
            return None
        if name in index.global_names:
            return None
        value = literal_value(assignment.value) if assignment.value else None
        return value if isinstance(value, str) else None

    qualified = index.qualified_name(expression)
    if qualified is None:
        return None
    # NOTE: the defining module's `global` statements are not read here.
    value = context.project.constant(qualified)
    return value if isinstance(value, str) else None


def _enum_member(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> tuple[str, str] | None:
    """Return (base, value) of `Event.MEMBER`, a member of an enum class of this module.

    `base` is STR_ENUM, "str" for `class Event(str, Enum)`, or "enum.Enum".
    The member must be assigned a string literal once in the class body.
    Enums imported from other modules are not read.
    """
    if not isinstance(expression, cst.Attribute) or not isinstance(
        expression.value, cst.Name
    ):
        return None
    class_def = _class_definition(context, scope, expression.value.value)
    if class_def is None:
        return None
    base = _enum_base(context, class_def)
    if base is None:
        return None

    member = expression.attr.value
    if member.startswith("_"):
        return None
    values = []
    for statement in class_def.body.body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value in (
            _VALUE_HOOKS
        ):
            return None
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Assign) and any(
                isinstance(target.target, cst.Name) and target.target.value == member
                for target in small.targets
            ):
                values.append(literal_value(small.value))
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    return base, values[0]


def _class_definition(
    context: FileContext, scope: Scope, name: str
) -> cst.ClassDef | None:
    """Return the class statement that `name` is bound to, when nothing else binds it."""
    index = context.index
    if name in index.imports or name in index.global_names:
        return None
    assignments = index.assignments_of(name, scope)
    if len(assignments) != 1:
        return None
    statement = assignments[0].statement
    if not isinstance(statement, cst.ClassDef) or statement.decorators:
        return None
    return statement


def _enum_base(context: FileContext, class_def: cst.ClassDef) -> str | None:
    """Return what kind of enum a class is: STR_ENUM, "str", "enum.Enum", or None."""
    if class_def.keywords:
        return None
    enum_bases = []
    mixed_with_str = False
    for argument in class_def.bases:
        qualified = context.index.qualified_name(argument.value)
        if qualified in ENUM_BASES:
            enum_bases.append(qualified)
        elif dotted_name(argument.value) == "str" and not context.index.binds_anywhere(
            "str"
        ):
            mixed_with_str = True
        else:
            return None
    if len(enum_bases) != 1:
        return None
    if enum_bases[0] == STR_ENUM:
        return STR_ENUM
    return "str" if mixed_with_str else enum_bases[0]
