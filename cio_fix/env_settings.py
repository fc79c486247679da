"""Reads of environment variables through django-environ and python-decouple.

Django settings modules often read their variables through one of these
libraries: `env("X", default="...")` with `env = environ.Env()`, or
`config("X", default="...")` with `from decouple import config`. Without
its default, either call raises when X is not set. django-environ also
takes defaults in the scheme of the `Env` object: `environ.Env(X=(str, "..."))`.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

import libcst as cst

from cio_fix.customerio import (
    Assignment,
    ClassInfo,
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
# `FileAwareEnv` (django-environ 0.14) reads X from the file that X_FILE
# names before it reads X, with the signatures of `Env`.
ENV_CLASSES = frozenset(
    {
        "environ.Env",
        "environ.environ.Env",
        "environ.FileAwareEnv",
        "environ.environ.FileAwareEnv",
    }
)
DECOUPLE_CLASSES = frozenset({"decouple.AutoConfig", "decouple.Config"})
DECOUPLE_INSTANCE = "decouple.config"
# The names of those classes and objects that `from module import *` binds.
# Neither library has an `__all__` (django-environ 0.14, python-decouple
# 3.8), so a star import binds every public name of the module.
STAR_EXPORTS = {
    "environ": frozenset({"Env", "FileAwareEnv"}),
    "environ.environ": frozenset({"Env", "FileAwareEnv"}),
    "decouple": frozenset({"AutoConfig", "Config", "config"}),
}
# The members of `Env` that its reads use (django-environ 0.14): a subclass
# that binds one of them, or any dunder name such as `__init__`, may read
# another way.
ENV_READ_MEMBERS = frozenset(
    {
        "ENVIRON",
        "NOTSET",
        "bytes",
        "escape_proxy",
        "get_value",
        "parse_value",
        "prefix",
        "scheme",
        "smart_cast",
        "str",
    }
)
# Subclasses of subclasses are followed this deep.
MAX_SUBCLASS_DEPTH = 8

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
# django-environ takes a scheme entry of two items as a cast and a default,
# so an entry that is a cast alone must not have two items itself.
CAST_NOT_BUILTIN = (
    "the cast in the scheme entry is not a built-in type such as `str`, so"
    " cio-fix cannot tell whether django-environ would take it alone for a cast"
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


@dataclass(frozen=True)
class SchemeDefault:
    """A default in the scheme of a django-environ object: `environ.Env(X=(str, "..."))`."""

    variable: str
    # The `(cast, default)` tuple, and its default.
    entry: cst.Tuple
    default: cst.BaseExpression
    # The reason the tuple cannot become its cast alone, or None.
    not_fixed: str | None


@dataclass(frozen=True)
class _Reader:
    """An object whose calls read variables, and why their defaults get no fix."""

    library: Library
    # The `Env(...)` call that made it, for its scheme, when it is known.
    constructor: cst.Call | None
    not_fixed: str | None = None


def imports_settings_library(index: FileIndex) -> bool:
    """Tell whether the module imports django-environ or python-decouple anywhere."""
    if any(module in STAR_EXPORTS for module in index.star_imports):
        return True
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
    library, constructor = receiver.library, receiver.constructor
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
    elif receiver.not_fixed is not None:
        not_fixed = receiver.not_fixed
    elif _prefix_set(index, func):
        not_fixed = PREFIX_SET
    elif constructor is not None and _scheme_default(index, constructor, variable):
        not_fixed = (
            f"the Env() scheme also gives {variable} a default, which the call"
            " would fall back to without this one"
        )
    elif default.keyword is None and _positional_after(call, default):
        not_fixed = POSITIONAL_AFTER_DEFAULT
    return SettingsRead(call, library, variable, default, not_fixed)


def scheme_defaults(
    index: FileIndex, call: cst.Call, scope: Scope
) -> list[SchemeDefault]:
    """Return the defaults that the scheme of `environ.Env(X=(str, "..."))` gives.

    django-environ takes an entry of two items as the cast and the default
    of variable X. Without its default, the entry keeps its cast and a read
    of X without a default of its own raises when X is not set.
    """
    entries = [
        argument
        for argument in call.args
        if argument.keyword is not None and type(argument.value) is cst.Tuple
    ]
    if not entries:
        return []
    reader = _receiver(index, call, scope)
    if reader is None or reader.library is not DJANGO_ENVIRON:
        return []
    found = []
    for argument in entries:
        entry = argument.value
        assert isinstance(entry, cst.Tuple) and argument.keyword is not None
        elements = entry.elements
        if len(elements) != 2 or any(
            isinstance(element, cst.StarredElement) for element in elements
        ):
            continue
        cast, default = elements[0].value, elements[1].value
        not_fixed = reader.not_fixed
        if not_fixed is None and not _builtin_type(index, cast):
            not_fixed = CAST_NOT_BUILTIN
        found.append(SchemeDefault(argument.keyword.value, entry, default, not_fixed))
    return found


def without_scheme_default(scheme: SchemeDefault) -> cst.BaseExpression:
    """Return the cast that replaces a `(cast, default)` entry of a scheme."""
    return scheme.entry.elements[0].value


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
) -> _Reader | None:
    """Return the settings object that `node` is, or None for anything else."""
    if isinstance(node, cst.Call):
        qualified = _imported_name(index, node.func, scope)
        if qualified in ENV_CLASSES:
            return _Reader(DJANGO_ENVIRON, node)
        if qualified in DECOUPLE_CLASSES:
            return _Reader(PYTHON_DECOUPLE, None)
        if qualified is None and type(node.func) is cst.Name:
            subclass = _module_class(index, node.func.value, scope)
            if subclass is not None:
                return _subclass_reader(index, subclass, node, depth=0)
        return None
    if _imported_name(index, node, scope) == DECOUPLE_INSTANCE:
        return _Reader(PYTHON_DECOUPLE, None)
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


def _module_class(index: FileIndex, name: str, scope: Scope) -> ClassInfo | None:
    """Return the class of this module that `name` means in `scope`, if it means one."""
    binding = _binding(index, name, scope)
    if not isinstance(binding, list) or len(binding) != 1:
        return None
    statement = binding[0].statement
    if type(statement) is not cst.ClassDef:
        return None
    for class_info in index.classes:
        if class_info.node is statement:
            return class_info
    return None


def _subclass_reader(
    index: FileIndex, class_info: ClassInfo, constructor: cst.Call, depth: int
) -> _Reader | None:
    """Return the reader that an instance of a subclass of `Env` is, or None for another class.

    NOTE: only classes of this module count, so an instance of an `Env`
    subclass imported from another module of the project is not a reader.
    """
    scope = class_info.scope
    if scope is None or scope.parent is None:
        return None
    base_reader = None
    for base in class_info.node.bases:
        if _imported_name(index, base.value, scope.parent) in ENV_CLASSES:
            base_reader = _Reader(DJANGO_ENVIRON, constructor)
        elif type(base.value) is cst.Name and depth < MAX_SUBCLASS_DEPTH:
            base_class = _module_class(index, base.value.value, scope.parent)
            if base_class is not None:
                base_reader = _subclass_reader(
                    index, base_class, constructor, depth + 1
                )
        if base_reader is not None:
            break
    if base_reader is None:
        return None
    not_fixed = _subclass_not_fixed(index, class_info) or base_reader.not_fixed
    return _Reader(DJANGO_ENVIRON, constructor, not_fixed)


def _subclass_not_fixed(index: FileIndex, class_info: ClassInfo) -> str | None:
    """Return why the reads of a subclass of `Env` may not raise without their default."""
    node = class_info.node
    name = class_info.name
    if node.decorators or node.keywords or len(node.bases) != 1:
        return (
            f"the class {name} has a decorator, a metaclass or another base class"
            " besides Env, which may change how it reads"
        )
    assert class_info.scope is not None
    members = [
        *class_info.scope.assignments,
        *class_info.scope.imports,
        *class_info.attributes,
    ]
    prefix = f"{name}."
    for assignment in index.attribute_assignments:
        if assignment.name.startswith(prefix):
            members.append(assignment.name[len(prefix) :])
    for member in members:
        dunder = member.startswith("__") and member.endswith("__")
        if dunder or member in ENV_READ_MEMBERS:
            return (
                f"the class {name} defines `{member}`, which Env reads use, so cio-fix"
                " cannot tell what the call does without its default"
            )
    return None


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

    A name that nothing in the module binds may come from a star import of
    django-environ or python-decouple. None when nothing binds it, or when
    it may mean two things: an import and an assignment in the same scope
    (`def config(...)` after `from decouple import config`), or a
    function's `global` statement.
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
    return _star_imported(index, name)


def _star_imported(index: FileIndex, name: str) -> str | None:
    """Return the settings class or object that a star import binds to `name`, or None.

    The last star import that may bind the name decides, and a star import
    of any other module may bind every name.
    """
    for module in reversed(index.star_imports):
        exports = STAR_EXPORTS.get(module)
        if exports is None:
            return None
        if name in exports:
            return f"{module}.{name}"
    return None


def _builtin_type(index: FileIndex, node: cst.BaseExpression) -> bool:
    """Tell whether `node` is a built-in type such as `str`, which has no length."""
    if type(node) is not cst.Name:
        return False
    name = node.value
    if name in index.imports or index.binds_anywhere(name):
        return False
    if any(module not in STAR_EXPORTS for module in index.star_imports):
        return False
    return isinstance(getattr(builtins, name, None), type)


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


def _scheme_default(index: FileIndex, constructor: cst.Call, variable: str) -> bool:
    """Tell whether `environ.Env(X=(str, "..."))` may give the variable a default of its own.

    django-environ falls back to the scheme's default when the call has none.
    An entry that is a built-in type alone (`X=str`) gives no default.
    """
    for argument in constructor.args:
        if argument.star == "**":
            return True
        if argument.keyword is not None and argument.keyword.value == variable:
            return not _builtin_type(index, argument.value)
    return False
