"""Reads of environment variables through django-environ and python-decouple.

Django settings modules often read their variables through one of these
libraries: `env("X", default="...")` with `env = environ.Env()`, or
`config("X", default="...")` with `from decouple import config`. Without
its default, either call raises when X is not set.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from cio_fix.customerio import (
    Assignment,
    FileIndex,
    Scope,
    dotted_name,
    literal_value,
)


@dataclass(frozen=True)
class Library:
    """The signature of one settings library's reads."""

    # The exception a read raises when the variable is missing and has no default.
    missing_error: str
    # The keyword of the variable's name, and the position of the default
    # among the positional arguments of each method (None: calling the object).
    variable_keyword: str
    default_positions: dict[str | None, int]


# django-environ 0.14: `Env.__call__(var, cast=None, default=NOTSET, ...)`,
# `Env.str(var, default=NOTSET, multiline=False)`, `Env.bytes(var,
# default=NOTSET, encoding="utf8")`. Its other methods cast to types that
# no key has (`bool`, `int`, `list`, `db_url`, ...).
DJANGO_ENVIRON = Library(
    missing_error="ImproperlyConfigured",
    variable_keyword="var",
    default_positions={None: 2, "get_value": 2, "str": 1, "bytes": 1},
)
# python-decouple 3.8: `AutoConfig.__call__` passes its arguments on to
# `Config.get(option, default=undefined, cast=undefined)`.
PYTHON_DECOUPLE = Library(
    missing_error="UndefinedValueError",
    variable_keyword="option",
    default_positions={None: 1},
)

# The classes whose instances read variables, and decouple's ready-made instance.
ENV_CLASSES = frozenset({"environ.Env", "environ.environ.Env"})
DECOUPLE_CLASSES = frozenset({"decouple.AutoConfig", "decouple.Config"})
DECOUPLE_INSTANCE = "decouple.config"

NAME_NOT_LITERAL = (
    "the name of the environment variable is not a string literal, so cio-fix"
    " cannot tell which variable must hold the key"
)
PREFIX_SET = (
    "the Env object has a `prefix`, so the variable that must hold the key is"
    " not named in this call"
)
POSITIONAL_AFTER_DEFAULT = (
    "a positional argument follows the default and would take its place"
)


@dataclass(frozen=True)
class SettingsRead:
    """A call that reads an environment variable with a default: `env("X", default="...")`."""

    call: cst.Call
    library: Library
    # The variable's name, None when it is not a string literal.
    variable: str | None
    # The argument that gives the default, keyword or positional.
    default: cst.Arg
    # The reason dropping the default would do more than make the call raise, or None.
    not_fixed: str | None


def imports_settings_library(index: FileIndex) -> bool:
    """Tell whether the module imports django-environ or python-decouple anywhere."""
    return any(
        origin.partition(".")[0] in ("environ", "decouple")
        for origin in index.imports.values()
    )


def settings_read(
    index: FileIndex, call: cst.Call, scope: Scope
) -> SettingsRead | None:
    """Return the read of a variable with a default that `call` makes, or None for any other call.

    The receiver counts by its import or its binding: a name bound once to
    `environ.Env(...)`, `decouple.AutoConfig(...)` or `decouple.Config(...)`,
    or decouple's `config` itself. A function or another library's object
    named `env` or `config` does not count.
    """
    if not call.args:
        return None
    # `config(...)` and `decouple.config(...)` call the object, `env.str(...)` a method.
    func = call.func
    method = None
    receiver = _receiver(index, func, scope)
    if receiver is None and isinstance(func, cst.Attribute):
        method = func.attr.value
        func = func.value
        receiver = _receiver(index, func, scope)
    if receiver is None:
        return None
    library, constructor = receiver
    position = library.default_positions.get(method)
    if position is None:
        return None

    default = _default_argument(call, position)
    if default is None:
        return None
    variable = _variable_name(call, library)
    not_fixed = None
    if variable is None:
        not_fixed = NAME_NOT_LITERAL
    elif _prefix_set(index, func):
        not_fixed = PREFIX_SET
    elif constructor is not None and _scheme_default(constructor, variable):
        not_fixed = (
            f"the Env() scheme also gives {variable} a default, which the call"
            " would fall back to without this one"
        )
    elif default.keyword is None and _positional_after(call, default):
        not_fixed = POSITIONAL_AFTER_DEFAULT
    return SettingsRead(call, library, variable, default, not_fixed)


def without_default(read: SettingsRead) -> cst.Call:
    """Return the call without its default argument, laid out as before.

    In an argument list laid out one argument a line, the default's line
    goes, and a comment at its end moves to a line of its own. When the
    default is the last argument, the one before it takes its ending: a
    trailing comma, and the line break before the closing parenthesis.
    """
    arguments = list(read.call.args)
    position = next(i for i, arg in enumerate(arguments) if arg is read.default)
    removed = arguments.pop(position)
    if position == 0:
        # `env(default="...", var="X")`: the arguments after it keep their layout.
        return read.call.with_changes(args=arguments)

    previous = arguments[position - 1]
    comma = previous.comma
    ending = removed.whitespace_after_arg
    if isinstance(removed.comma, cst.Comma):
        ending = removed.comma.whitespace_after
    if (
        isinstance(comma, cst.Comma)
        and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace)
        and isinstance(ending, cst.ParenthesizedWhitespace)
    ):
        comma = comma.with_changes(
            whitespace_after=_joined_lines(comma.whitespace_after, ending)
        )
        arguments[position - 1] = previous.with_changes(comma=comma)
    elif position == len(arguments) and isinstance(removed.comma, cst.Comma):
        arguments[position - 1] = previous.with_changes(comma=removed.comma)
    elif position == len(arguments):
        arguments[position - 1] = previous.with_changes(
            comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=ending
        )
    return read.call.with_changes(args=arguments)


def _joined_lines(
    before: cst.ParenthesizedWhitespace, after: cst.ParenthesizedWhitespace
) -> cst.ParenthesizedWhitespace:
    """Return the line breaks around a removed argument, as one: its line and comment gone.

    The line before keeps its own end, and the comment at the end of the
    removed line becomes a line of its own, indented as the argument was.
    """
    moved = []
    comment = after.first_line.comment
    if comment is not None:
        moved.append(
            cst.EmptyLine(
                indent=before.indent, whitespace=before.last_line, comment=comment
            )
        )
    return after.with_changes(
        first_line=before.first_line,
        empty_lines=[*before.empty_lines, *moved, *after.empty_lines],
    )


def _receiver(
    index: FileIndex, node: cst.BaseExpression, scope: Scope
) -> tuple[Library, cst.Call | None] | None:
    """Return the library of a settings object, and the call that made it if it is known."""
    if isinstance(node, cst.Call):
        qualified = _imported_name(index, node.func, scope)
        if qualified in ENV_CLASSES:
            return DJANGO_ENVIRON, node
        if qualified in DECOUPLE_CLASSES:
            return PYTHON_DECOUPLE, None
        return None
    if _imported_name(index, node, scope) == DECOUPLE_INSTANCE:
        return PYTHON_DECOUPLE, None
    if not isinstance(node, cst.Name):
        return None
    binding = _binding(index, node.value, scope)
    if not isinstance(binding, list) or len(binding) != 1:
        return None
    assignment = binding[0]
    if type(assignment.statement) not in (cst.Assign, cst.AnnAssign):
        return None
    if not isinstance(assignment.value, cst.Call):
        return None
    # The call runs in the scope of the assignment.
    return _receiver(index, assignment.value, assignment.scope)


def _imported_name(
    index: FileIndex, node: cst.BaseExpression, scope: Scope
) -> str | None:
    """Return the imported name that `node` refers to in `scope`: `decouple.config`."""
    dotted = dotted_name(node)
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    origin = _binding(index, head, scope)
    if not isinstance(origin, str):
        return None
    return f"{origin}.{rest}" if rest else origin


def _binding(
    index: FileIndex, name: str, scope: Scope
) -> str | list[Assignment] | None:
    """Return what `name` means in `scope`: the module or object it imports, or its assignments.

    None when nothing binds it, or when it may mean two things: an import
    and an assignment in the same scope (`def config(...)` after `from
    decouple import config`), or a function's `global` statement.
    """
    if name in index.global_names:
        return None
    for candidate in scope.lookup_chain():
        if candidate.kind == "module":
            imported = name in index.module_imports
        else:
            imported = name in candidate.imports
        assigned = name in candidate.assignments
        if imported and assigned:
            return None
        if assigned:
            return candidate.assignments[name]
        if imported:
            if candidate.kind == "module":
                return index.imports.get(name)
            return candidate.imports[name]
    return None


def _default_argument(call: cst.Call, position: int) -> cst.Arg | None:
    """Return the argument that gives the default: `default=...`, or the one at `position`."""
    positional = 0
    at_position = None
    for argument in call.args:
        if argument.keyword is not None:
            if argument.keyword.value == "default":
                return argument
            continue
        if argument.star:
            # `*args` may hold the default, or shift it to another place.
            return None
        if positional == position:
            at_position = argument
        positional += 1
    return at_position


def _variable_name(call: cst.Call, library: Library) -> str | None:
    for argument in call.args:
        if argument.star:
            return None
        if (
            argument.keyword is None
            or argument.keyword.value == library.variable_keyword
        ):
            value = literal_value(argument.value)
            return value if isinstance(value, str) else None
    return None


def _positional_after(call: cst.Call, default: cst.Arg) -> bool:
    # Compared by identity, because two arguments may be equal nodes.
    position = next(i for i, arg in enumerate(call.args) if arg is default)
    later = call.args[position + 1 :]
    return any(argument.keyword is None for argument in later)


def _prefix_set(index: FileIndex, receiver: cst.BaseExpression) -> bool:
    """Tell whether the module sets `env.prefix`, which django-environ puts before each name."""
    dotted = dotted_name(receiver)
    if dotted is None:
        return False
    target = f"{dotted}.prefix"
    return any(assignment.name == target for assignment in index.attribute_assignments)


def _scheme_default(constructor: cst.Call, variable: str) -> bool:
    """Tell whether `environ.Env(X=(str, "..."))` may give the variable a default of its own.

    django-environ falls back to the scheme's default when the call has none.
    NOTE: a key written as the scheme's default itself is not reported.
    """
    for argument in constructor.args:
        if argument.star == "**":
            return True
        if argument.keyword is not None and argument.keyword.value == variable:
            return True
    return False
