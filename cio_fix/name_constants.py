"""The parts of an event name that cannot change: string constants, enum members
and what string methods, slices and `str()` make of them.

CIO301 keeps such a part in the event name and moves only the values that
change into attributes: with `PREFIX = "billing"`, the name
`f"{PREFIX.upper()}_upgraded_{region}"` becomes `PREFIX.upper() + "_upgraded"`,
the event `BILLING_upgraded` for every region.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import ExpressionContext

from cio_fix.customerio import Assignment, ClassInfo, Scope, dotted_name, literal_value
from cio_fix.events import (
    DOTTED,
    BuiltName,
    NamePart,
    NameSpelling,
    is_personal_data,
    static_name,
    to_style,
    unicode_prefix,
)
from cio_fix.metadata import quoted_code
from cio_fix.name_classes import STR_ENUM, STR_METHODS, ClassStrings, class_strings

if TYPE_CHECKING:
    from cio_fix.rules import FileContext

# A name spelled as a constant (`PREFIX`, `names.APP`), or an enum member
# (`Plan.PRO`, `Plan.PRO.value`).
_CONSTANT_NAME = re.compile(r"_*[A-Z][A-Z0-9_]*")
# The attributes of Django's `HttpRequest` that contain what the client sent.
# They are spelled in capitals like constants, but change with each request.
_REQUEST_DATA = frozenset({"GET", "POST", "META", "FILES", "COOKIES"})

_SEPARATORS_AT_START = re.compile(r"^[\W_]+")
_SEPARATORS_AT_END = re.compile(r"[\W_]+$")


class UnknownPart(Exception):
    """Raised when a part of a name looks fixed but cio-fix cannot read its text.

    The message is the reason, for a finding reported without a fix.
    """


@dataclass(frozen=True)
class _Member:
    """A member of an enum class of the project, assigned a string literal."""

    # STR_ENUM, "str" for `class Event(str, Enum)`, or "enum.Enum".
    base: str
    value: str
    # `Event.X`: what `str()` gives for a member, and what Python 3.11 and
    # later also give when they format a `(str, Enum)` member.
    spelled: str


# A value that `_evaluate` reads from an expression over constants.
_Constant = str | int | _Member


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


def is_request_data(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> bool:
    """Tell whether an expression is Django's request data: `request.GET`, `self.request.POST`.

    An owner spelled as a class or constant (`Method.POST`) or imported
    (`http.GET` after `from app import http`) makes it a constant instead.
    """
    if not isinstance(expression, cst.Attribute):
        return False
    if expression.attr.value not in _REQUEST_DATA:
        return False
    owner = dotted_name(expression.value)
    if owner is None:
        # A call or subscript (`view.get_request().GET`) is no class or module.
        return True
    if owner.rpartition(".")[2].lstrip("_")[:1].isupper():
        return False
    return context.index.qualified_name(expression.value, scope) is None


def is_fixed(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> bool:
    """Tell whether an expression is built from constants alone, so no call changes it.

    That is an expression that `_evaluate` reads, or one whose every name
    is spelled as a constant, an enum member or a class.
    """
    return _evaluate(context, scope, expression) is not None or _built_from_constants(
        context, scope, expression
    )


def fixed_name(context: FileContext, scope: Scope, built: BuiltName) -> FixedName:
    """Return the name without the values that change, keeping the parts that cannot.

    The literal text between fixed parts is written in the configured
    style, and a separator stays next to a fixed part where the name had
    one. Raises UnknownPart for a part built from constants alone whose text
    cio-fix cannot read: moving it into an attribute could rename the event.
    """
    kept: dict[int, str | _Member] = {}
    for part in built.values:
        value = _kept_value(context, scope, part)
        if value is not None:
            kept[id(part)] = value

    style = context.config.event_name_style
    prefix = unicode_prefix(built.node)
    spelling = NameSpelling(built.node)
    if not kept:
        text = static_name(built, style)
        return FixedName(text, spelling.literal(text, prefix), frozenset())

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

    texts = [_text(kept[id(part)]) for part in fixed]
    pieces: list[cst.BaseExpression] = []
    name = ""
    for position, run in enumerate(runs):
        before = texts[position - 1] if position > 0 else None
        after = texts[position] if position < len(texts) else None
        styled = _styled_run(run, style, before, after)
        if styled:
            pieces.append(spelling.literal(styled, prefix))
            name += styled
        if after is not None:
            pieces.append(fixed[position].expression)
            name += after
    if len(fixed) == 1 and len(pieces) == 1 and isinstance(kept[id(fixed[0])], _Member):
        # A member alone would send the enum object, not the string it holds.
        pieces = [cst.Attribute(value=pieces[0], attr=cst.Name("value"))]
    return FixedName(name, _joined(pieces), frozenset(kept))


def _kept_value(
    context: FileContext, scope: Scope, part: NamePart
) -> str | _Member | None:
    """Return what a value part of a name is on every call, or None for a value that changes.

    A string member of a `str` enum counts only where the name takes its
    value: always for a `StrEnum`, and as an operand of `+` for
    `class Event(str, Enum)`. Raises UnknownPart for a part built from
    constants alone whose text cio-fix cannot tell, because moving it into
    an attribute could rename the event. A part with a format spec or
    conversion (`{PREFIX!r}`) is such a part too.
    """
    expression = part.expression
    assert expression is not None
    if part.key is not None or is_personal_data(expression):
        # Personal data leaves the name even when it cannot change (CIO302).
        return None
    value = None
    if part.value is expression:
        value = _evaluate(context, scope, expression)
    if isinstance(value, str):
        return value
    if isinstance(value, _Member) and (
        value.base == STR_ENUM or part.operand and value.base == "str"
    ):
        return value
    if value is not None or _built_from_constants(context, scope, expression):
        rebound = _rebound_reference(context, scope, expression)
        if rebound is not None:
            raise UnknownPart(
                f"`{quoted_code(expression)}` reads `{rebound}`, which the module binds"
                " more than once, so cio-fix cannot tell its text, and moving it"
                " out of the name could rename the event"
            )
        raise UnknownPart(_unknown_reason(expression, value))
    return None


def _text(value: str | _Member) -> str:
    return value.value if isinstance(value, _Member) else value


def _unknown_reason(expression: cst.BaseExpression, value: _Constant | None) -> str:
    code = quoted_code(expression)
    if isinstance(value, _Member) and value.base == "str":
        return (
            f"`{code}` does not change, but Python 3.11 and later write it into"
            f" the name as `{value.spelled}`, and earlier versions as its value"
        )
    if looks_constant(expression):
        return (
            f"cio-fix cannot tell whether `{code}` changes, and moving a fixed part"
            " out of the name would rename the event"
        )
    return (
        f"`{code}` is built from constants, but cio-fix cannot tell whether it"
        " gives the same text on every call, and moving it out of the name would"
        " rename the event"
    )


def _evaluate(
    context: FileContext,
    scope: Scope,
    expression: cst.BaseExpression,
    depth: int = 0,
) -> _Constant | None:
    """Return the value that an expression has on every call, or None if cio-fix cannot tell.

    It reads string and integer literals, module constants
    (`_module_constant`), enum members (`Event.X`, `Event["X"]`) and their
    `.value`, and what `+`, an index, a slice, `str()` or a method of
    `STR_METHODS` makes of them.
    """
    if depth > 10:
        return None
    literal = literal_value(expression)
    if isinstance(literal, (str, int)):
        return literal
    member = _enum_member(context, scope, expression)
    if member is not None:
        return member
    if isinstance(expression, cst.Attribute) and expression.attr.value == "value":
        owner = _evaluate(context, scope, expression.value, depth + 1)
        if isinstance(owner, _Member):
            return owner.value
    if isinstance(expression, (cst.Name, cst.Attribute)):
        return _module_constant(context, scope, expression)
    if isinstance(expression, cst.Subscript):
        return _subscript_value(context, scope, expression, depth)
    if isinstance(expression, cst.Call):
        return _call_value(context, scope, expression, depth)
    if isinstance(expression, cst.BinaryOperation) and isinstance(
        expression.operator, cst.Add
    ):
        # Only strings are joined, and joining strings is associative, so
        # the kept expression needs no parentheses in a `+` chain.
        left = _as_string(_evaluate(context, scope, expression.left, depth + 1))
        right = _as_string(_evaluate(context, scope, expression.right, depth + 1))
        if left is None or right is None:
            return None
        return left + right
    return None


def _as_string(value: _Constant | None) -> str | None:
    """Return the string that `+`, slices and string methods read from a value.

    A member of a `str` enum is a `str`, so those read its value.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, _Member) and value.base in (STR_ENUM, "str"):
        return value.value
    return None


def _subscript_value(
    context: FileContext, scope: Scope, subscript: cst.Subscript, depth: int
) -> _Constant | None:
    """Return `Event["X"]`, or an index or slice of a string with literal bounds."""
    if len(subscript.slice) != 1:
        return None
    element = subscript.slice[0].slice
    if isinstance(element, cst.Index) and element.star is None:
        key = _evaluate(context, scope, element.value, depth + 1)
        owner = subscript.value
        if isinstance(owner, (cst.Name, cst.Attribute)) and isinstance(key, str):
            return _member_by_name(context, scope, owner, key)
        text = _as_string(_evaluate(context, scope, subscript.value, depth + 1))
        if (
            text is None
            or not isinstance(key, int)
            or not -len(text) <= key < len(text)
        ):
            return None
        return text[key]

    if not isinstance(element, cst.Slice):
        return None
    text = _as_string(_evaluate(context, scope, subscript.value, depth + 1))
    if text is None:
        return None
    bounds: list[int | None] = []
    for bound in (element.lower, element.upper, element.step):
        value = None if bound is None else _evaluate(context, scope, bound, depth + 1)
        if bound is not None and not isinstance(value, int):
            return None
        bounds.append(value)
    if bounds[2] == 0:
        return None
    return text[slice(*bounds)]


def _call_value(
    context: FileContext, scope: Scope, call: cst.Call, depth: int
) -> str | None:
    """Return the text of `str(x)` or `x.method(...)` with `x` and the arguments read."""
    arguments: list[_Constant] = []
    for argument in call.args:
        if argument.keyword is not None or argument.star:
            return None
        value = _evaluate(context, scope, argument.value, depth + 1)
        if value is None:
            return None
        arguments.append(value)

    function = call.func
    if isinstance(function, cst.Name) and function.value == "str":
        if len(arguments) != 1 or _rebinds(context, "str"):
            return None
        value = arguments[0]
        if isinstance(value, _Member):
            # `Enum.__str__` gives `Event.X` on every Python version, and
            # `StrEnum` replaces it with the value.
            return value.value if value.base == STR_ENUM else value.spelled
        return value if isinstance(value, str) else None

    if not isinstance(function, cst.Attribute) or (
        function.attr.value not in STR_METHODS
    ):
        return None
    text = _as_string(_evaluate(context, scope, function.value, depth + 1))
    if text is None or any(isinstance(value, _Member) for value in arguments):
        return None
    try:
        result = getattr(str, function.attr.value)(text, *arguments)
    except (TypeError, ValueError, OverflowError):
        # The call raises in the project too, for any caller.
        return None
    return result if isinstance(result, str) else None


def _rebinds(context: FileContext, name: str) -> bool:
    """Tell whether the module binds a builtin's name to something else."""
    index = context.index
    return name in index.imports or index.binds_anywhere(name)


def _built_from_constants(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> bool:
    """Tell whether every name that an expression reads is spelled as a constant.

    A constant, an enum member or a class (`Event` in `Event["X"]`) counts.
    An expression that reads no name, such as `uuid4()`, does not, and
    neither does Django's request data (`request.GET`).
    """
    references = _references(context, expression)
    if not references:
        return False
    for reference in references:
        if is_request_data(context, scope, reference):
            return False
        if looks_constant(reference):
            continue
        if _evaluate(context, scope, reference) is not None:
            continue
        # A class, by the convention of CapWords names.
        spelled = dotted_name(reference)
        if spelled is None or not spelled.rpartition(".")[2][:1].isupper():
            return False
    return True


def _references(
    context: FileContext, expression: cst.BaseExpression
) -> list[cst.BaseExpression] | None:
    """Return the names and attribute chains that an expression reads values from.

    A function that is called is not one of them, but the object that a
    method is called on is. None for an expression that cio-fix does not
    walk, such as a lambda or a comprehension. It is a loop, because a long
    `+` chain nests one level per operand.
    """
    references: list[cst.BaseExpression] = []
    pending: list[cst.BaseExpression] = [expression]
    while pending:
        current = pending.pop()
        if literal_value(current) is not None:
            continue
        if dotted_name(current) is not None:
            references.append(current)
            continue
        children = _read_parts(context, current)
        if children is None:
            return None
        # Reversed, so that the references come in source order.
        pending.extend(child for child in reversed(children) if child is not None)
    return references


def _read_parts(
    context: FileContext, expression: cst.BaseExpression
) -> list[cst.BaseExpression | None] | None:
    """Return the parts of an expression that `_references` reads, None for one it does not walk."""
    children: list[cst.BaseExpression | None] = []
    if isinstance(expression, cst.Attribute):
        children.append(expression.value)
    elif isinstance(expression, cst.Call):
        function = expression.func
        if isinstance(function, cst.Attribute):
            # `names.slug(x)` calls a function of an imported module, where
            # `PREFIX.upper()` reads `PREFIX`.
            module = isinstance(function.value, cst.Name) and (
                function.value.value in context.index.imports
            )
            if not module or looks_constant(function.value):
                children.append(function.value)
        elif dotted_name(function) is None:
            children.append(function)
        children.extend(argument.value for argument in expression.args)
    elif isinstance(expression, cst.Subscript):
        children.append(expression.value)
        for element in expression.slice:
            if isinstance(element.slice, cst.Index):
                children.append(element.slice.value)
            else:
                slice_ = element.slice
                children.extend((slice_.lower, slice_.upper, slice_.step))
    elif isinstance(expression, cst.BinaryOperation):
        children.extend((expression.left, expression.right))
    elif isinstance(expression, cst.UnaryOperation):
        children.append(expression.expression)
    elif isinstance(expression, cst.IfExp):
        children.extend((expression.test, expression.body, expression.orelse))
    elif isinstance(expression, cst.FormattedString):
        for part in expression.parts:
            if isinstance(part, cst.FormattedStringExpression):
                children.append(part.expression)
    else:
        return None
    return children


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

    A constant that code may rebind (`ProjectIndex.rebound_constant`, such
    as `names.PREFIX = "x"` in another module) gives None, because the
    value that a call reads is not known.
    """
    index = context.index
    if _rebound_head(context, scope, expression):
        return None
    if isinstance(expression, cst.Name) and expression.value not in index.imports:
        assignments = index.assignments_of(expression.value, scope)
        if len(assignments) != 1 or assignments[0].scope is not index.module_scope:
            return None
        assignment = assignments[0]
        if not isinstance(assignment.statement, (cst.Assign, cst.AnnAssign)):
            return None
        if context.project.rebound_constant(index.module_name, expression.value):
            return None
        value = literal_value(assignment.value) if assignment.value else None
        return value if isinstance(value, str) else None

    qualified = index.qualified_name(expression, scope)
    if qualified is None:
        return None
    return project_constant(context, qualified)


def project_constant(context: FileContext, qualified: str) -> str | None:
    """Return the project's string constant that `qualified` names, unless code may rebind it."""
    target = context.project.resolve_value(qualified)
    if target is None or context.project.rebound_constant(
        target[0].module_name, target[1]
    ):
        return None
    value = target[0].constants.get(target[1])
    return value if isinstance(value, str) else None


def _enum_member(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> _Member | None:
    """Return the member that `Event.MEMBER` or `events.Event.MEMBER` names."""
    if not isinstance(expression, cst.Attribute):
        return None
    return _member_by_name(context, scope, expression.value, expression.attr.value)


def _member_by_name(
    context: FileContext, scope: Scope, owner: cst.BaseExpression, member: str
) -> _Member | None:
    """Return a member of the enum class that `owner` names.

    The member must be assigned a string literal once in the class body,
    and the class must be one that `ClassStrings.members` reads.
    """
    strings = _class_strings(context, scope, owner)
    if strings is None or member not in strings.members:
        return None
    value = strings.members[member]
    return _Member(strings.enum_base, value, f"{strings.name}.{member}")


def _class_strings(
    context: FileContext, scope: Scope, owner: cst.BaseExpression
) -> ClassStrings | None:
    """Return the strings of the class that `owner` names.

    That is a class of this module, or one imported from a module of the
    project, whose summary carries its strings. A class defined outside
    the project is not read.
    """
    if _rebound_head(context, scope, owner):
        return None
    if isinstance(owner, cst.Name):
        class_def = _class_definition(context, scope, owner.value)
        if class_def is not None:
            return class_strings(context.index, class_def)
    qualified = context.index.qualified_name(owner, scope)
    if qualified is None:
        return None
    return context.project.class_strings(qualified)


def _rebound_head(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> bool:
    """Tell whether the name that a dotted expression starts with may have more than one value.

    That is a module-level name bound more than once (`FileIndex.rebound`).
    cio-fix cannot tell which binding a call reads, so it reads none.
    """
    dotted = dotted_name(expression)
    if dotted is None:
        return False
    return context.index.rebound(dotted.partition(".")[0], scope)


def _rebound_reference(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> str | None:
    """Return a name bound more than once (`FileIndex.rebound`) that an expression reads."""
    for reference in _references(context, expression) or []:
        if _rebound_head(context, scope, reference):
            return (dotted_name(reference) or "").partition(".")[0]
    return None


def _class_definition(
    context: FileContext, scope: Scope, name: str
) -> cst.ClassDef | None:
    """Return the class statement that `name` is bound to, when nothing else binds it."""
    index = context.index
    if name in index.imports:
        return None
    assignments = index.assignments_of(name, scope)
    if len(assignments) != 1:
        return None
    statement = assignments[0].statement
    if not isinstance(statement, cst.ClassDef) or statement.decorators:
        return None
    return statement


# The maximum number of names that `sent_texts` lists for one name
# expression. A name picked from more values is not read, so a fix onto one
# of them is not withheld.
MAX_SENT_TEXTS = 64


def sent_texts(
    context: FileContext,
    scope: Scope,
    built: BuiltName,
    possible: bool = False,
    mutable: list[cst.BaseExpression] | None = None,
) -> frozenset[str] | None:
    """Return every name that a call sends, or None when cio-fix cannot list them.

    Each part must be literal text or a value with one of a few texts
    (`value_texts`, which `possible` and `mutable` are passed to). A value
    with a format spec or conversion is not read.
    """
    texts = {""}
    for part in built.parts:
        if part.text is not None:
            choices: frozenset[str] | None = frozenset({part.text})
        elif part.value is part.expression:
            assert part.expression is not None
            choices = value_texts(
                context, scope, part.expression, possible=possible, mutable=mutable
            )
        else:
            choices = None
        if choices is None or len(texts) * len(choices) > MAX_SENT_TEXTS:
            return None
        texts = {text + choice for text in texts for choice in choices}
    return frozenset(texts)


def value_texts(
    context: FileContext,
    scope: Scope,
    expression: cst.BaseExpression,
    depth: int = 0,
    possible: bool = False,
    mutable: list[cst.BaseExpression] | None = None,
) -> frozenset[str] | None:
    """Return the texts that a value may have, or None when cio-fix cannot list them.

    It reads what `_evaluate` reads: literals, module constants and enum
    members. It also reads a string class attribute of a class of the
    project (`Events.PAYMENT`), both branches of `a if flag else b`, a
    lookup or formatting over constants (`_lookup_text`), and a name
    bound once in the function to one of these or by a loop over a literal
    tuple or list. An enum member gives its value, the text that a member
    of a `str` enum sends.

    A module-level name bound more than once is not read, because which
    binding a call reads is unknown. With `possible`, it gives the texts
    of all its bindings (`_rebound_texts`): a check that must not fix onto
    a sent name counts each of them as sent.

    Code that cio-fix does not read may change a string class attribute, a
    dict item or `self.<attribute>` at run time (`Names.PAID = "x"` in
    another module). When the texts come through one of these, the
    expression that reads it is added to `mutable`. Enum members, module
    constants and literals are not added.
    """
    if depth > 5:
        return None
    if _rebound_head(context, scope, expression):
        if not possible:
            return None
        return _rebound_texts(context, expression, mutable)
    value = _evaluate(context, scope, expression)
    if isinstance(value, _Member):
        return frozenset({value.value})
    if value is not None:
        return frozenset({str(value)})
    if isinstance(expression, cst.IfExp):
        body = value_texts(
            context, scope, expression.body, depth + 1, possible, mutable
        )
        orelse = value_texts(
            context, scope, expression.orelse, depth + 1, possible, mutable
        )
        return None if body is None or orelse is None else body | orelse
    if isinstance(expression, cst.Attribute) and _is_self(context, scope, expression):
        texts = _self_attribute_texts(context, scope, expression.attr.value)
        _add_mutable(mutable, expression, texts)
        return texts
    if isinstance(expression, cst.Attribute):
        strings = _class_strings(context, scope, expression.value)
        text = (
            None if strings is None else strings.attributes.get(expression.attr.value)
        )
        texts = None if text is None else frozenset({text})
        _add_mutable(mutable, expression, texts)
        return texts
    if isinstance(expression, (cst.Subscript, cst.Call, cst.BinaryOperation)):
        text = _lookup_text(context, scope, expression)
        texts = None if text is None else frozenset({text})
        if _reads_mutable(context, scope, expression):
            _add_mutable(mutable, expression, texts)
        return texts
    if not isinstance(expression, cst.Name):
        return None
    assignments = context.index.assignments_of(expression.value, scope)
    if len(assignments) != 1:
        return None
    if context.index.rebound_through_global(expression.value, assignments):
        return None
    assignment = assignments[0]
    if assignment.scope is context.index.module_scope and (
        context.project.rebound_constant(context.index.module_name, expression.value)
    ):
        return None
    statement = assignment.statement
    if isinstance(statement, cst.For):
        collection = statement.iter
        if not isinstance(collection, (cst.Tuple, cst.List)):
            return None
        texts = [literal_value(element.value) for element in collection.elements]
        if not all(isinstance(text, str) for text in texts):
            return None
        return frozenset(texts)  # type: ignore[arg-type]
    if isinstance(statement, (cst.Assign, cst.AnnAssign)) and assignment.value:
        return value_texts(
            context, assignment.scope, assignment.value, depth + 1, possible, mutable
        )
    return None


def _add_mutable(
    mutable: list[cst.BaseExpression] | None,
    expression: cst.BaseExpression,
    texts: frozenset[str] | None,
) -> None:
    if mutable is not None and texts is not None:
        mutable.append(expression)


def _reads_mutable(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> bool:
    """Tell whether a lookup that `_lookup_text` reads goes through a value code may change.

    A dict item (`EVENTS["paid"]`, `EVENTS.get("paid")`) and a string
    class attribute read by `getattr` may change. An enum member read by
    `getattr` and formatting over a module constant may not.
    """
    if isinstance(expression, cst.Subscript):
        return True
    if not isinstance(expression, cst.Call):
        return False
    function = expression.func
    if isinstance(function, cst.Attribute):
        return function.attr.value == "get"
    if len(expression.args) != 2:
        return True
    strings = _class_strings(context, scope, expression.args[0].value)
    name = _evaluate(context, scope, expression.args[1].value)
    return strings is None or name not in strings.members


def _is_self(context: FileContext, scope: Scope, expression: cst.Attribute) -> bool:
    """Tell whether an attribute is read from the first parameter of a plain method.

    The method is one of a module-level class, without decorators, so its
    first parameter is the instance, which the method does not rebind.
    """
    function = scope.function
    owner = expression.value
    if (
        scope.kind != "function"
        or function is None
        or function.class_info is None
        or function.parent is not None
        or function.node.decorators
        or not isinstance(owner, cst.Name)
    ):
        return False
    parameters = function.node.params
    positional = [*parameters.posonly_params, *parameters.params]
    if not positional or positional[0].name.value != owner.value:
        return False
    assignments = context.index.assignments_of(owner.value, scope)
    return len(assignments) == 1 and assignments[0].statement is positional[0]


def _self_attribute_texts(
    context: FileContext, scope: Scope, attribute: str
) -> frozenset[str] | None:
    """Return the texts that `self.<attribute>` has in a method, or None if cio-fix cannot tell.

    The method's class must assign the attribute a string literal in its
    body, and so must each subclass in the module that assigns it at all.
    The texts are those of the class and its subclasses. None when a base
    class is not a class of this module, because it may set the attribute.
    None too when the module assigns the attribute through an object
    (`self.X = ...`) or calls `setattr`, or when another module of the
    project imports one of these classes, which it may subclass.
    NOTE: a subclass in a module that cio-fix does not read is not seen.
    """
    index = context.index
    function = scope.function
    assert function is not None and function.class_info is not None
    class_def = function.class_info.node
    if _class_definition(context, index.module_scope, class_def.name.value) is not (
        class_def
    ) or not _bases_in_module(context, class_def):
        return None
    if any(
        assignment.name.rpartition(".")[2] == attribute
        for assignment in index.attribute_assignments
    ) or context.names_with_value("setattr"):
        return None

    classes = context.shared("name-constants:module-classes", _module_classes)
    texts: set[str] = set()
    pending = [class_def]
    seen: set[str] = set()
    while pending:
        current = pending.pop()
        name = current.name.value
        if name in seen:
            continue
        seen.add(name)
        module_name = index.module_name
        if context.project.importers(module_name, name) - {module_name}:
            return None
        text = class_strings(index, current).attributes.get(attribute)
        info = classes.by_node[current]
        if text is not None:
            texts.add(text)
        elif info.attributes.get(attribute) or current is class_def:
            # Bound to something other than one string literal, or, for the
            # method's own class, not bound in its body.
            return None
        pending.extend(classes.subclasses.get(name, []))
    return frozenset(texts)


@dataclass(frozen=True)
class _ModuleClasses:
    """The class statements of a module, indexed once per file.

    `_self_attribute_texts` looks classes up for each `self.<attribute>`
    read, and a scan of `FileIndex.classes` for each lookup took time
    quadratic in the number of classes.
    """

    # The first entry of `FileIndex.classes` for each class statement.
    by_node: dict[cst.ClassDef, ClassInfo]
    # The class statements that name each base, spelled as `dotted_name`
    # returns it, in the order of `FileIndex.classes`.
    subclasses: dict[str, list[cst.ClassDef]]


def _module_classes(context: FileContext) -> _ModuleClasses:
    """Index the classes of a module by their statements and by the names of their bases."""
    by_node: dict[cst.ClassDef, ClassInfo] = {}
    subclasses: dict[str, list[cst.ClassDef]] = {}
    for info in context.index.classes:
        by_node.setdefault(info.node, info)
        # A class that names one base twice is listed once under it.
        base_names = {dotted_name(base.value) for base in info.node.bases}
        for base_name in base_names:
            if base_name is not None:
                subclasses.setdefault(base_name, []).append(info.node)
    return _ModuleClasses(by_node, subclasses)


def _bases_in_module(context: FileContext, class_def: cst.ClassDef) -> bool:
    """Tell whether every base of a class is `object` or, recursively, a class of this module."""
    if class_def.keywords:
        return False
    for base in class_def.bases:
        if not isinstance(base.value, cst.Name):
            return False
        if base.value.value == "object" and not _rebinds(context, "object"):
            continue
        parent = _class_definition(
            context, context.index.module_scope, base.value.value
        )
        if (
            parent is None
            or parent is class_def
            or not _bases_in_module(context, parent)
        ):
            return False
    return True


def _lookup_text(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> str | None:
    """Return the text of a lookup or formatting over constants, or None if cio-fix cannot tell.

    That is `EVENTS["paid"]` or `EVENTS.get("paid")` on a constant dict
    (`_constant_dict`), `TEMPLATE.format("task")` or `TEMPLATE % "task"` on
    a module constant, and `getattr(Event, "CANCEL")` on a class whose
    members or string attributes cio-fix reads. The key, the attribute
    name and the arguments are values that `_evaluate` reads.
    """
    if isinstance(expression, cst.Subscript):
        if len(expression.slice) != 1:
            return None
        element = expression.slice[0].slice
        if not isinstance(element, cst.Index) or element.star is not None:
            return None
        return _dict_value(context, scope, expression.value, element.value)
    if isinstance(expression, cst.BinaryOperation):
        if not isinstance(expression.operator, cst.Modulo):
            return None
        return _printf_text(context, scope, expression)
    if not isinstance(expression, cst.Call):
        return None

    arguments = _call_arguments(context, scope, expression)
    if arguments is None:
        return None
    function = expression.func
    if isinstance(function, cst.Name) and function.value == "getattr":
        if len(arguments) != 2 or _rebinds(context, "getattr"):
            return None
        return _class_text(context, scope, expression.args[0].value, arguments[1])
    if not isinstance(function, cst.Attribute):
        return None
    if function.attr.value == "get" and len(arguments) == 1:
        return _dict_value(context, scope, function.value, expression.args[0].value)
    if function.attr.value == "format":
        return _format_text(context, scope, function.value, arguments)
    return None


def _call_arguments(
    context: FileContext, scope: Scope, call: cst.Call
) -> list[_Constant | None] | None:
    """Return the values of a call's positional arguments, None for each one not read.

    None for a call with a keyword or starred argument.
    """
    values: list[_Constant | None] = []
    for argument in call.args:
        if argument.keyword is not None or argument.star:
            return None
        values.append(_evaluate(context, scope, argument.value))
    return values


def _class_text(
    context: FileContext,
    scope: Scope,
    owner: cst.BaseExpression,
    name: _Constant | None,
) -> str | None:
    """Return what `getattr(owner, name)` sends: a member's value or a string attribute."""
    if not isinstance(name, str):
        return None
    strings = _class_strings(context, scope, owner)
    if strings is None:
        return None
    if name in strings.members:
        return strings.members[name]
    return strings.attributes.get(name)


def _format_text(
    context: FileContext,
    scope: Scope,
    template: cst.BaseExpression,
    arguments: list[_Constant | None],
) -> str | None:
    """Return `TEMPLATE.format(...)` over a module constant and read arguments.

    A field that looks up an attribute or an item (`{0.name}`, `{0[x]}`)
    is not read, because its text depends on more than the arguments.
    """
    text = _module_constant(context, scope, template)
    if text is None or not all(isinstance(value, (str, int)) for value in arguments):
        return None
    try:
        fields = list(string.Formatter().parse(text))
        if any(field and ("." in field or "[" in field) for _, field, _, _ in fields):
            return None
        return text.format(*arguments)
    except (ValueError, IndexError, KeyError):
        # The call raises in the project too, for any caller.
        return None


def _printf_text(
    context: FileContext, scope: Scope, expression: cst.BinaryOperation
) -> str | None:
    """Return `TEMPLATE % "task"` or `TEMPLATE % ("a", "b")` over a module constant."""
    text = _module_constant(context, scope, expression.left)
    if text is None:
        return None
    right = expression.right
    if isinstance(right, cst.Tuple):
        operands = [element.value for element in right.elements]
        if any(isinstance(element, cst.StarredElement) for element in right.elements):
            return None
    else:
        operands = [right]
    values = [_evaluate(context, scope, operand) for operand in operands]
    if not all(isinstance(value, (str, int)) for value in values):
        return None
    try:
        return text % tuple(values)
    except (TypeError, ValueError, KeyError, OverflowError):
        return None


# The methods of a dict that read it without changing it.
_DICT_READERS = frozenset({"get", "keys", "values", "items", "copy"})


def _dict_value(
    context: FileContext,
    scope: Scope,
    owner: cst.BaseExpression,
    key: cst.BaseExpression,
) -> str | None:
    """Return the string that a constant dict (`_constant_dict`) holds for a read key."""
    if not isinstance(owner, cst.Name):
        return None
    found = _constant_dict(context, scope, owner.value)
    text = _evaluate(context, scope, key)
    if found is None or not isinstance(text, (str, int)):
        return None
    return found.get(text)


def _constant_dict(
    context: FileContext, scope: Scope, name: str
) -> dict[str | int, str] | None:
    """Return a module-level dict of string values that nothing in its module changes.

    The module binds the name once, to a dict display with literal keys
    and string literal values, and no `global` statement names it. Every
    other use of the name reads the dict: an item in a load context, one
    of `_DICT_READERS`, or the right operand of `in`. Anything else may
    change it (an item assignment, `update`, `setdefault`, `pop`, or
    passing it to a function), and so does another module of the project
    that imports it.
    NOTE: a module that imports the defining module (`import app.events`)
    and changes `events.EVENTS` is not looked for, nor a module that
    cio-fix does not read.
    """
    index = context.index
    if name in index.imports or name in index.global_names:
        return None
    assignments = index.assignments_of(name, scope)
    if len(assignments) != 1 or assignments[0].scope is not index.module_scope:
        return None
    assignment = assignments[0]
    display = assignment.value
    if not isinstance(assignment.statement, (cst.Assign, cst.AnnAssign)) or not (
        isinstance(display, cst.Dict)
    ):
        return None
    found: dict[str | int, str] = {}
    for element in display.elements:
        if not isinstance(element, cst.DictElement):
            return None
        key = literal_value(element.key)
        value = literal_value(element.value)
        if not isinstance(key, (str, int)) or not isinstance(value, str):
            return None
        found[key] = value

    module_name = index.module_name
    if context.project.importers(module_name, name) - {module_name}:
        return None
    for node in context.names_with_value(name):
        if not _reads_dict(context, node, assignment.statement):
            return None
    return found


def _reads_dict(context: FileContext, node: cst.Name, statement: cst.CSTNode) -> bool:
    """Tell whether a use of a constant dict's name only reads the dict."""
    parent = context.parent(node)
    if isinstance(parent, cst.AssignTarget) or (
        isinstance(parent, cst.AnnAssign) and parent.target is node
    ):
        # The one binding, which `_constant_dict` checked.
        return context.parent(parent) is statement or parent is statement
    if context.expression_context(node) is not ExpressionContext.LOAD:
        return False
    if isinstance(parent, cst.Subscript) and parent.value is node:
        holder = context.parent(parent)
        # An item assigned, deleted or bound by a loop or `with`.
        return not isinstance(
            holder,
            (
                cst.AssignTarget,
                cst.AugAssign,
                cst.AnnAssign,
                cst.Del,
                cst.For,
                cst.CompFor,
                cst.AsName,
                cst.Element,
                cst.StarredElement,
            ),
        )
    if isinstance(parent, cst.Attribute) and parent.value is node:
        call = context.parent(parent)
        return (
            parent.attr.value in _DICT_READERS
            and isinstance(call, cst.Call)
            and call.func is parent
        )
    if isinstance(parent, cst.ComparisonTarget):
        return isinstance(parent.operator, (cst.In, cst.NotIn))
    return False


def _rebound_texts(
    context: FileContext,
    expression: cst.BaseExpression,
    mutable: list[cst.BaseExpression] | None = None,
) -> frozenset[str] | None:
    """Return the texts of `NAME`, `Owner.ATTRIBUTE` or `Owner.MEMBER.value` over every binding.

    The bindings are those of the first name, bound more than once at
    module level.
    Each module-level binding of that name must give a text: an import of
    a constant or class of the project, a class statement, or an
    assignment of a literal or of another class. A star import that may
    rebind the name counts as an import of it from that module. None when
    a binding gives no text, or when a `global` statement may bind the name.
    When a binding gives a string class attribute, which code may rebind,
    `expression` is added to `mutable`.
    """
    index = context.index
    dotted = dotted_name(expression)
    if dotted is None:
        return None
    head, _, path = dotted.partition(".")
    attributes = path.split(".") if path else []
    if attributes[-1:] == ["value"] and len(attributes) == 2:
        attributes = attributes[:1]
        members_only = True
    else:
        members_only = False
    if len(attributes) > 1:
        return None
    if head in index.global_names:
        return None

    texts: set[str] = set()
    through_attribute = False
    bindings: list[str | Assignment] = [
        *index.module_import_origins.get(head, []),
        *index.module_scope.assignments.get(head, []),
    ]
    if head in index.star_rebound_names:
        bindings.extend(f"{module}.{head}" for module in index.star_imports)
    for binding in bindings:
        if not attributes:
            text = _binding_constant(context, binding)
        else:
            strings = _binding_class(context, binding)
            text = None
            if strings is not None:
                text = strings.members.get(attributes[0])
                if text is None and not members_only:
                    text = strings.attributes.get(attributes[0])
                    through_attribute = True
        if text is None:
            return None
        texts.add(text)
    if through_attribute and mutable is not None:
        mutable.append(expression)
    return frozenset(texts)


def _binding_constant(context: FileContext, binding: str | Assignment) -> str | None:
    """Return the string that one binding of a module-level name gives it."""
    if isinstance(binding, str):
        value = project_constant(context, binding)
    elif isinstance(binding.statement, (cst.Assign, cst.AnnAssign)) and binding.value:
        value = literal_value(binding.value)
    else:
        value = None
    return value if isinstance(value, str) else None


def _binding_class(
    context: FileContext, binding: str | Assignment
) -> ClassStrings | None:
    """Return the strings of the class that one binding of a module-level name gives it."""
    if isinstance(binding, str):
        return context.project.class_strings(binding)
    statement = binding.statement
    if isinstance(statement, cst.ClassDef):
        if statement.decorators:
            return None
        return class_strings(context.index, statement)
    if isinstance(statement, cst.Assign) and binding.value is not None:
        # `Ev = Current`: the class that the other name is bound to.
        return _class_strings(context, binding.scope, binding.value)
    return None
