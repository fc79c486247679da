"""Clients built per request or per item (CIO601) and pooling turned off (CIO602)."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libcst as cst

from cio_fix.annotations import format_def, is_annotated_module, named_in_time
from cio_fix.chains import operands
from cio_fix.codemods.changes import (
    Change,
    binds_locally,
    calls_of_changers,
    change_text,
    changed_key_reason,
    function_around,
    rebinding_of,
    rebinding_reason,
    runs_whenever_called,
    runs_with_parent,
    write_description,
)
from cio_fix.codemods.credentials import looks_like_secret, reads_key_from_environment
from cio_fix.codemods.instances import (
    AttributeRead,
    PassedArguments,
    attribute_read,
    called_factory,
    class_method_target,
    constructed_client,
    default_factories,
    field_library_change,
    fills_field,
    instance_class,
    instantiated_name,
    method_factory_kind,
    methods_run_per_request,
    own_parameters,
    passed_arguments,
    per_instance_calls,
    read_per_request,
    returns_construction,
)
from cio_fix.codemods.patches import (
    ClassPatch,
    Patch,
    patch_over,
    patch_reason,
    patched_classes,
    unread_patch,
)
from cio_fix.config import matches_selector
from cio_fix.customerio import (
    ALL_METHOD_NAMES,
    Api,
    CallSite,
    ClassInfo,
    Construction,
    FileIndex,
    FunctionInfo,
    Scope,
    all_parameters,
    constant_value,
    dependency_of,
    dotted_name,
    env_variable_read,
    literal_value,
    read_names,
)
from cio_fix.edits import replace_nodes
from cio_fix.engine import display_path
from cio_fix.handlers import (
    is_celery_layout_task,
    is_celery_task,
    is_request_handler,
    loop_around,
    request_handler,
    runs_per_request_or_item,
)
from cio_fix.metadata import code_of, is_deleted, quoted_code
from cio_fix.model import AddImport, Finding, Fix, FixSafety, InsertStatements
from cio_fix.namespaces import globals_write_sites, own_module_write_sites
from cio_fix.optional_imports import import_fallback
from cio_fix.pragmas import (
    formatter_counts_comment,
    formatter_keeps_line,
    line_pragma,
    silences_secret_only,
)
from cio_fix.project import CREDENTIAL_ROLES, ModuleSummary, ProjectIndex
from cio_fix.rules import LINE_LENGTH, FileContext, Rule, unused_name
from cio_fix.suppressions import is_silenced
from cio_fix.walk import comments_below, find_all

INDENT = "    "

CLIENT_NAMES = {
    Api.TRACK: "_customerio_client",
    Api.APP: "_customerio_app_client",
    Api.PIPELINES: "_customerio_pipelines_client",
}
# The names of the module-level clients and factories that CIO601 adds,
# with the number that `unused_name` appends when a name is taken.
HELPER_NAME = re.compile(
    "(?:" + "|".join(re.escape(name) for name in CLIENT_NAMES.values()) + r")(?:_\d+)?"
)


# -- names and formatting, shared with the background rule ------------------------------


def format_call(
    prefix: str,
    func: str,
    arguments: list[str],
    indent: str = "",
    column: int = 0,
    line_length: int = LINE_LENGTH,
) -> str:
    """Lay out `prefix + func(arguments)` the way black does at `line_length` columns.

    `indent` starts every line; `column` is where the first line starts in
    the file when libcst adds the block's indentation itself.
    """
    layout = call_layout(prefix, func, arguments, indent, column, line_length)
    if layout is CallLayout.ONE_LINE:
        return f"{indent}{prefix}{func}({', '.join(arguments)})"
    if layout is CallLayout.ARGUMENTS_ON_ONE_LINE:
        inner = f"{indent}{INDENT}{', '.join(arguments)}"
        return f"{indent}{prefix}{func}(\n{inner}\n{indent})"
    lines = [f"{indent}{INDENT}{argument}," for argument in arguments]
    return f"{indent}{prefix}{func}(\n" + "\n".join(lines) + f"\n{indent})"


class CallLayout(enum.Enum):
    """The three ways black lays out a call: the layouts of `format_call`."""

    ONE_LINE = "one line"
    ARGUMENTS_ON_ONE_LINE = "arguments on one line of their own"
    ONE_ARGUMENT_PER_LINE = "one argument per line"


def call_layout(
    prefix: str,
    func: str,
    arguments: list[str],
    indent: str = "",
    column: int = 0,
    line_length: int = LINE_LENGTH,
) -> CallLayout:
    """Return the layout `format_call` gives `prefix + func(arguments)`."""
    one_line = f"{indent}{prefix}{func}({', '.join(arguments)})"
    if column + len(one_line) <= line_length and "\n" not in one_line:
        return CallLayout.ONE_LINE
    inner = f"{indent}{INDENT}{', '.join(arguments)}"
    if column + len(inner) <= line_length and "\n" not in inner:
        return CallLayout.ARGUMENTS_ON_ONE_LINE
    return CallLayout.ONE_ARGUMENT_PER_LINE


# -- reading the arguments of a construction ------------------------------------------


def _target_names(target: cst.BaseExpression) -> set[str]:
    return read_names(target)


def local_names(
    function: FunctionInfo | None, ancestors: list[cst.CSTNode]
) -> set[str]:
    """Return the names bound in the functions around a node, and by loops around it.

    A function binds its parameters, the targets of its assignments and
    the names of its imports.
    """
    names: set[str] = set()
    current = function
    while current is not None:
        for parameter in all_parameters(current.node.params):
            names.add(parameter.name.value)
        if current.scope is not None:
            names.update(current.scope.assignments)
            names.update(current.scope.imports)
        current = current.parent
    for parent in ancestors:
        if isinstance(parent, cst.For):
            names.update(_target_names(parent.target))
        comprehension: cst.CompFor | None = getattr(parent, "for_in", None)
        while comprehension is not None:
            names.update(_target_names(comprehension.target))
            comprehension = comprehension.inner_for_in
    return names


def is_import_safe(index: FileIndex, node: cst.BaseExpression, depth: int = 0) -> bool:
    """Tell whether evaluating `node` at import gives the value it has later.

    Literals, environment reads with literal arguments, Customer.io constants
    (`Regions.EU`) and module constants bound once to such values are safe.
    Settings objects, imported names and calls may not be ready at import.
    """
    if depth > 5:
        return False
    if literal_value(node) is not None:
        return True
    if isinstance(node, cst.Name) and node.value in ("None", "True", "False"):
        return True
    if env_variable_read(index, node) is not None:
        if isinstance(node, cst.Call):
            return all(
                is_import_safe(index, argument.value, depth + 1)
                for argument in node.args
            )
        return True
    if _is_conversion(index, node):
        return all(
            is_import_safe(index, argument.value, depth + 1)
            for argument in node.args  # type: ignore[attr-defined]
        )
    qualified = index.qualified_name(node)
    if qualified is not None:
        return qualified.startswith(("customerio.", "async_customerio."))
    if isinstance(node, cst.Name):
        assignment = index.module_assignment(node.value)
        if assignment is None or assignment.value is None:
            return False
        if not isinstance(assignment.statement, (cst.Assign, cst.AnnAssign)):
            return False
        if rebinding_of(index, node.value) is not None:
            return False
        return is_import_safe(index, assignment.value, depth + 1)
    return False


# Qualified names that read the process environment. `qualified_name` resolves
# aliases such as `from os import environ` to them.
ENVIRONMENT_READERS = frozenset(
    {"os.environ", "os.environb", "os.getenv", "os.getenvb"}
)


def reads_environment(index: FileIndex, node: cst.BaseExpression) -> bool:
    """Tell whether an expression reads the environment: `os.environ`, `os.getenv`."""
    for name in find_all(node, cst.Name, cst.Attribute):
        if index.qualified_name(name) in ENVIRONMENT_READERS:
            return True
    return False


def _is_conversion(index: FileIndex, node: cst.BaseExpression) -> bool:
    """Tell `int(...)`, `str(...)`, `float(...)` and `bool(...)` of the builtins apart."""
    if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Name):
        return False
    name = node.func.value
    if name not in ("int", "str", "float", "bool"):
        return False
    return name not in index.imports and not index.binds_anywhere(name)


# Names whose value belongs to the current request, app or context, so a
# client built from them must not be shared by the whole process.
REQUEST_SCOPED = (
    "flask.request",
    "flask.session",
    "flask.g",
    "flask.current_app",
    "quart.request",
    "quart.session",
    "quart.g",
    "quart.current_app",
    "werkzeug.local",
    "contextvars",
)


def varying_value_reason(
    context: FileContext,
    node: cst.BaseExpression,
    function: FunctionInfo | None = None,
) -> str | None:
    """Return why a value may differ between requests, or None when it cannot.

    A value is the same for every request of the process when it is an
    attribute or literal subscript of a module-level name: a settings
    module or object (`settings.CIO_KEY`, `config["cio"]["key"]`), but not
    `request`, `session`, `g`, `current_app` (one per app), context
    variables, `self`, or anything that calls code (`get_tenant().key`).
    Nor is it when code that runs per request, or `function`, the code
    that reads the value, changes it (`changed_key_reason`).
    """
    index = context.index
    whole = node
    key_reason = _varying_key_reason(node)
    if key_reason is not None:
        return key_reason
    node = _chain_base(node)
    if isinstance(node, cst.Call):
        return _call_reason(index, node)
    if not isinstance(node, cst.Name):
        return (
            f"cio-fix cannot tell whether `{quoted_code(whole)}` is the same on every"
            " request"
        )
    name = node.value
    if name in ("self", "cls", "request"):
        return f"`{name}` may differ from one request to the next"
    rebinding = rebinding_reason(context, name)
    if rebinding is not None:
        # A factory cached at the first call may run before the code that
        # rebinds the name, or run again after it.
        return f"{rebinding}, so a client built once could keep its old value"
    qualified = index.qualified_name(node)
    if qualified is not None:
        if qualified.startswith(REQUEST_SCOPED):
            return f"`{name}` belongs to the current request, app or context"
        return changed_key_reason(context, whole, function)
    binding_reason = _module_binding_reason(index, name)
    if binding_reason is not None:
        return binding_reason
    return changed_key_reason(context, whole, function)


def _call_reason(index: FileIndex, node: cst.Call) -> str | None:
    """Return why a call may return another value on each request, or None when it cannot.

    A call without arguments of a function of the same module that
    `functools.cache` or `functools.lru_cache` caches returns the object of
    its first call every time: FastAPI's `get_settings()`.
    """
    function = _cached_function(index, node)
    if function is None:
        return f"`{quoted_code(node.func)}()` may return another value on each request"
    if node.args:
        return (
            f"`{function.name}` is cached per argument, and cio-fix follows a cached"
            " function only when it is called without arguments"
        )
    return None


def _cached_function(index: FileIndex, node: cst.Call) -> FunctionInfo | None:
    """Return the function of the same module that a call runs, if functools caches its result.

    Its only decorator must be `functools.cache` or an `lru_cache` that
    keeps entries (`maxsize=0` keeps none), and the module must bind its
    name once, to this function, with no later rebinding.
    """
    if not isinstance(node.func, cst.Name):
        return None
    name = node.func.value
    assignment = index.module_assignment(name)
    if assignment is None or not isinstance(assignment.statement, cst.FunctionDef):
        return None
    if rebinding_of(index, name) is not None:
        return None
    function = next(
        (info for info in index.functions if info.node is assignment.statement),
        None,
    )
    if function is None or function.is_async or len(function.node.decorators) != 1:
        return None
    decorator = function.node.decorators[0].decorator
    if function.decorators == ("functools.cache",):
        return function if not isinstance(decorator, cst.Call) else None
    if function.decorators != ("functools.lru_cache",):
        return None
    return function if function.is_cached else None


def _varying_key_reason(node: cst.BaseExpression) -> str | None:
    """Return why a chain of attributes and subscripts may select another value per request.

    That is a subscript whose key is not a literal (`WORKSPACES[tenant]`).
    """
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        if isinstance(node, cst.Subscript):
            keys = [element.slice for element in node.slice]
            if not all(
                isinstance(key, cst.Index) and literal_value(key.value) is not None
                for key in keys
            ):
                return (
                    f"the key in `{quoted_code(node)}` is not a literal, so cio-fix cannot"
                    " tell that it is the same on every request"
                )
        node = node.value
    return None


def _chain_base(node: cst.BaseExpression) -> cst.BaseExpression:
    """Return the start of a chain of attributes and subscripts: `settings` of `settings.CIO`."""
    while isinstance(node, (cst.Attribute, cst.Subscript)):
        node = node.value
    return node


# Classes whose instances keep a value per thread or per context, so their
# attributes differ between requests.
PER_THREAD_CLASSES = ("threading.local", "_threading_local.local")


def _module_binding_reason(index: FileIndex, name: str) -> str | None:
    """Return why cio-fix does not follow the module-level binding of `name`."""
    bindings = index.module_scope.assignments.get(name, [])
    if not bindings:
        return f"`{name}` has no assignment or import by name at module level"
    if len(bindings) > 1:
        # Under `if`/`else` or `try`/`except`, or assigned again further down.
        return (
            f"`{name}` is bound more than once at module level, which cio-fix"
            " does not follow"
        )
    statement = bindings[0].statement
    if isinstance(statement, (cst.Assign, cst.AnnAssign)):
        value = statement.value
        if isinstance(value, cst.Call):
            # `state = threading.local()` or `werkzeug.local.Local()` keeps
            # separate attributes for each thread or request.
            constructor = index.qualified_name(value.func)
            if constructor is not None and constructor.startswith(
                (*PER_THREAD_CLASSES, *REQUEST_SCOPED)
            ):
                return (
                    f"`{name}` is a `{quoted_code(value.func)}()`, whose attributes"
                    " belong to the current thread, request or context"
                )
        return None
    if isinstance(statement, cst.ClassDef):
        return f"`{name}` is a class, whose attributes cio-fix does not follow"
    return f"cio-fix does not follow how `{name}` is bound at module level"


@dataclass
class Hoist:
    """The plan for building a client once instead of in per-request code."""

    # "client" (module-level client), "factory" (functools.cache) or
    # "keyed" (lru_cache keyed by the local arguments).
    kind: str
    func: str
    # The arguments of the new construction, as source text.
    arguments: list[str]
    # Local expressions passed to a keyed factory, and its parameter names.
    keyed_values: list[cst.BaseExpression]
    keyed_parameters: list[str]
    reads: set[str]

    @property
    def key(self) -> tuple[bool, str, tuple[str, ...]]:
        # A module-level client and a factory of the same call can share one
        # helper, but a keyed factory takes arguments, so it cannot.
        return (self.kind == "keyed", self.func, tuple(self.arguments))


def _reads_module_value(index: FileIndex, names: set[str]) -> bool:
    """Tell whether any of `names` is a name that the module assigns.

    Another module of the project may set it after import
    (`tracking.SITE_ID = ...` in an app factory), and cio-fix does not read
    the modules that do not mention Customer.io. A factory cached at the
    first request reads the value the app has set by then.
    """
    return any(index.module_assignment(name) is not None for name in names)


def _key_moves_to_environment(
    context: FileContext,
    construction: Construction,
    parameter: str | None,
    value: cst.BaseExpression,
) -> bool:
    """Tell whether the CIO101 fix of this run reads a hard-coded key argument from the environment.

    That fix may be written in a pass after the hoist. On a one-line
    statement that ends with a directive comment (`# noqa: E501`,
    `# pylint: disable=line-too-long`), it waits until the hoist has made
    the line short, because splitting the line would move the comment off
    it. A module-level client would then read the environment at import,
    so such a key gets the factory that an environment read gets.
    """
    roles = CREDENTIAL_ROLES[construction.client.api]
    if parameter not in roles or not looks_like_secret(constant_value(value)):
        return False
    if not _runs_rule(context, "CIO101") or is_silenced(context, "CIO101", value):
        return False
    return reads_key_from_environment(context, value)


def plan_hoist(
    context: FileContext,
    construction: Construction,
    locals_: set[str],
    guarded: bool = False,
) -> Hoist | str:
    """Return how to build a construction once, or why its arguments cannot move.

    `guarded` is True when a condition decides whether the construction
    runs. A client built at import would read its arguments (a missing
    environment variable raises) where the code never did, so a factory
    called in its place builds it instead. Arguments that read the
    environment or a name the module assigns get that factory too, so they
    are still read at the first request: an app may load its environment
    or set the module's constants after import (`load_dotenv()` in its
    factory), and a process that never serves the request may run without
    the variable. A hard-coded key that the CIO101 fix of this run reads
    from the environment gets the factory for the same reason.
    """
    index = context.index
    parameter_of = {
        id(argument): name for name, argument in construction.arguments.items()
    }
    arguments: list[str] = []
    keyed_values: list[cst.BaseExpression] = []
    keyed_parameters: list[str] = []
    reads: set[str] = set()
    deferred = False
    for argument in construction.node.args:
        if argument.star:
            return (
                f"the call passes `{argument.star}{quoted_code(argument.value)}`, whose"
                " arguments cio-fix cannot see"
            )
        value_reads = read_names(argument.value)
        keyword = argument.keyword.value if argument.keyword is not None else None
        if value_reads & locals_:
            parameter = parameter_of.get(id(argument)) or keyword
            if parameter is None or parameter in keyed_parameters:
                return (
                    f"cio-fix cannot tell which parameter `{quoted_code(argument.value)}`"
                    " is passed to, so it cannot key a cache by it"
                )
            keyed_values.append(argument.value)
            keyed_parameters.append(parameter)
            text = parameter
        else:
            reads |= value_reads
            parameter = parameter_of.get(id(argument))
            if not is_import_safe(index, argument.value):
                # A cached factory keeps the first value for the whole process.
                varying = varying_value_reason(
                    context, argument.value, construction.site.function
                )
                if varying is not None:
                    return varying
                deferred = True
            elif (
                reads_environment(index, argument.value)
                or _reads_module_value(index, value_reads)
                or _key_moves_to_environment(
                    context, construction, parameter, argument.value
                )
            ):
                deferred = True
            text = code_of(argument.value)
        arguments.append(f"{keyword}={text}" if keyword else text)
    hidden = sorted(set(keyed_parameters) & reads)
    if hidden:
        return (
            f"the parameter `{hidden[0]}` of a cache keyed by the local arguments"
            f" would hide the module-level `{hidden[0]}` that another argument reads"
        )

    # Analytics clients of the Segment kind may start a sending thread when
    # they are built; a factory keeps that out of import time. An optional
    # SDK's class is None where the SDK is not installed, and calling it at
    # import would raise there.
    at_import = construction.client.api is not Api.PIPELINES and not (
        _optional_constructors(context, construction)
    )
    reads_values = any(
        literal_value(argument.value) is None for argument in construction.node.args
    )
    kind = "client"
    if keyed_values:
        kind = "keyed"
    elif deferred or not at_import or guarded and reads_values:
        kind = "factory"
    func = code_of(construction.node.func)
    reads |= read_names(construction.node.func)
    return Hoist(kind, func, arguments, keyed_values, keyed_parameters, reads)


# -- CIO601 ----------------------------------------------------------------------------

# The reason for withholding a fix that needs `functools`, which the module binds
# to something else.
FUNCTOOLS_TAKEN = "the name `functools` is bound to something else in this module"
# The reason that a property which builds a client gets no fix.
CACHED_PROPERTY = (
    "functools.cached_property is no drop-in replacement for a property,"
    " because it keeps one client per instance and needs the instance's"
    " `__dict__`"
)
# The reason that a field whose default factory builds a client gets no fix.
DEFAULT_FACTORY = (
    "cio-fix does not rewrite a field's default factory; give it a"
    " functools.cache factory that returns the client"
)
# The reason that a class method which builds a client gets no fix.
CLASS_METHOD_CACHE = (
    "a cache on a class method keeps one client per class it is called"
    " through, and cio-fix caches only static methods"
)
# The reason for withholding a fix of a client of async-customerio, which
# belongs in the app's start-up code.
ASYNC_CLIENT_REASON = (
    "cio-fix does not write start-up code; create the async client once"
    " at start-up, in the lifespan"
)


@dataclass
class _Site:
    """A construction that runs per request or per item, and why."""

    construction: Construction
    # "request", "item", "task" (a Celery task), "queued" (a task of an app
    # imported from a module named `celery`) or "call" (inside a function
    # called per request or item).
    reason: str
    where: str
    ancestors: list[cst.CSTNode]


@dataclass(frozen=True)
class ClientPerRequestFacts:
    """The facts that CIO601 collects in a file for the checks of the other files."""

    # (target, path, line, column, end line, end column, passed arguments,
    # closed, changed, per request) of each call that `collect` keeps.
    instantiations: tuple[tuple[Any, ...], ...]
    patches: tuple[Patch, ...]
    # (factory, class, field, field position) of each function that a class
    # of the file runs once per instance: called in `__init__`, or the
    # `default_factory` of a dataclass field. The field is None for
    # `__init__`, and the factory is None for a client class or a lambda
    # that builds a client, which the file itself reports.
    per_instance: tuple[tuple[str | None, str, str | None, int | None], ...] = ()


class ClientPerRequest(Rule):
    """What it does:
    Finds Customer.io clients constructed inside a request handler (Flask,
    Quart, FastAPI, Starlette, aiohttp, Django and DRF views, Tornado
    handlers), inside a Celery task, inside a loop, or inside a function
    called from one of these, and uncached factory functions called there. A
    Celery task runs once per queued item. It counts only when its decorator
    comes from the `celery` package (`shared_task`) or is the `task` of an
    app that the module builds with `celery.Celery(...)`, so another
    library's `task` decorator does not count. An app imported from another
    module counts only in Celery's documented layout (`from proj.celery
    import app`, or `from proj import celery_app` in Django). cio-fix does
    not read what that module builds, so the finding calls it a task, not a
    Celery task. FastAPI dependencies
    (`Depends(get_client)`) count as called per request. A class whose
    `__init__` builds a client is reported where it is instantiated per
    request, in any file, also with type arguments (`Tracker[int](...)` of
    a generic class). An uncached factory that a class runs once per
    instance, called without arguments in `__init__` or as the default
    factory of a field, counts as called per request where a file
    instantiates the class per request or per item. The field is one of a
    dataclass (`field(default_factory=...)`), of a pydantic model that
    names `BaseModel` as a base (`Field(default_factory=...)`) or of an
    attrs class (`attr.ib(factory=...)`, `attrs.field(factory=...)`). That
    call must pass no value for the field: no keyword of its name (without
    the leading underscores for attrs), no `*args` or `**kwargs`, and, for
    a dataclass, fewer positional arguments than the fields before it, or
    none for the other libraries. A pydantic or attrs field with an
    `alias` is left alone. An instance built once at module level
    (`notifier = Notifier()`) does not count. A default factory that
    builds the client itself (`CustomerIO`, `lambda: CustomerIO(...)`) is
    reported at the field. A static method, class method or `property` of
    a module-level class that returns a new client is reported like a
    factory: the method when a file calls it per request or per item
    (`Service.client()`, `cls.client()`), and the property when a call of
    a client method uses its client per request or per item, either
    directly (`self.cio.track()` in a view) or through a local variable
    that only the read binds (`cio = self.cio`, then `cio.track()`). The
    call may be in the property's class, in a subclass in the same file,
    or in a subclass in another file whose first base outside its own
    module is the property's class (`class SignupView(TrackingMixin,
    View)` after `from app.tracking import TrackingMixin`). The read may
    also be in a method of the file that a handler, a task, a function
    called from either, or a loop calls, directly or through other such
    methods: through `self` (`self.notify()` in a view), through a new
    instance (`Account(...).touch()`) or through a local variable or
    parameter of the method's class. The method may also belong to a
    class of another file (`Account(...).touch()` after `from app.models
    import Account`) and read the property there, itself or through a
    method that it calls on `self`. That property may be the class's own
    or come from its base class in a third file. A method that the class
    inherits from a third file is not followed, and a method called only
    at start-up does not count. The owner of the property may
    also be an instance: a local variable bound once to `Account(...)`, or
    a parameter annotated `account: Account`, where `Account` is a class
    of the file, a subclass of an imported class with the property, or a
    class imported from another file that defines the property itself.
    An instance of any other class, or one whose name is bound twice, is
    not followed. A loop that
    builds one client per workspace or
    region, with arguments that change with each pass, is left alone where
    it runs once per process: at module level, in `main()`, and in start-up
    hooks (Flask's `create_app`, a FastAPI or Starlette `lifespan` or
    `on_event("startup")`, Django's `AppConfig.ready`, Celery's worker
    start signals), unless an outer loop or a lambda runs it again.
    A client built once and kept is left alone too: one assigned, only
    while it is unset, to a name the function declares `global`, to an
    item of a module-level dict bound once to `{}` or `dict()`
    (`_clients[site]`), to a class variable (`type(self).client`,
    `self.__class__.client`, `View.client`, `cls.client` of a classmethod),
    or to an attribute of a function that the module defines once
    (`get_client.client`). The construction runs only while the place is
    unset inside an `if` or conditional expression whose test is true only
    then, and in the `else` or `elif` of one whose test is true whenever
    the place is set. It also does on the right of `_client or ...`, and
    after an `if` without `else`, in the same block or one around it, that
    ends with `return` and tests that the place is set. A test that it is unset is
    `is None` or `not` of the value (`_client`, `globals().get("_client")`,
    `_clients.get(site)`, `View.client`, `getattr(View, "client", None)`),
    `"_client" not in globals()`, `site not in _clients` or
    `not hasattr(...)`. An `and` needs one such test and an `or` needs
    only such tests. A test that the place is set is the opposite
    (`is not None`, the bare value, `in`, `hasattr(...)`), with `and` and
    `or` swapped. `globals`, `getattr` and `hasattr` must be the builtins,
    because a test with a name that the function, a function around it or
    the module binds itself (a `def`, an import, an assignment, a
    parameter) proves nothing. The function may assign or delete that name or that
    attribute nowhere else (`_client = None` at its end unsets it for the
    next request), and may assign no other item of that dict. It may
    remove items of the dict (`del`, `pop()`, `popitem()`, `clear()`) where
    a condition decides, as in an `except` clause or a retry after a failed
    call. A removal that runs whenever the construction does, or before
    every call of the function in a handler, makes it build a new client
    each time. A call of a function of the module that removes items
    whenever it runs (`forget_clients()` with `_clients.clear()`) counts as
    such a removal, and the message names its line. A `global` name must
    also stay set once the function has filled it. A function of the
    module that the function calls may not unset it anywhere, and a
    request handler or loop may not unset it on every request or pass,
    directly or through such a call. Unsetting is an assignment that
    builds no client (`_client = None`) or a `del` after `global`, or a
    write through `globals()` or the module object
    (`globals().pop("_client", None)`, `delattr(sys.modules[__name__],
    "_client")`). Such a client is reported without a fix, and the message
    names the line of that code. No loop may run between the test and the
    assignment. The same guard around
    `self.client = CustomerIO(...)` sets an instance attribute, built once
    per instance, so it is still reported in a view, which the web
    frameworks instantiate for every request by default.

    Why is this bad?
    Every client owns its own HTTP session (customerio 3.x), so a new
    client per request opens a new HTTPS connection, with its TCP and TLS
    handshakes, for every request, and throws it away. Each request waits
    for those extra network round trips, and the sockets left in TIME_WAIT
    add up under load.

    Example:
        @app.post("/orders")
        def order_created():
            cio = CustomerIO(settings.CIO_SITE_ID, settings.CIO_API_KEY)
            cio.track(customer_id=order.user_id, name="order_placed")

    Use instead:
        @functools.cache
        def _customerio_client():
            return CustomerIO(settings.CIO_SITE_ID, settings.CIO_API_KEY)

        @app.post("/orders")
        def order_created():
            cio = _customerio_client()
            cio.track(customer_id=order.user_id, name="order_placed")

    Fix safety:
    Safe. A client whose arguments are literals becomes a module-level
    client. Arguments that read the environment (`os.environ`,
    `os.getenv`, through any alias), settings, imported names, names
    the module assigns or a cached function of the module (see below) go
    into a `functools.cache` factory, so they are
    still read at the first request: an environment loaded after import
    (`load_dotenv()` in an app factory) keeps working, a constant that
    another module sets (`tracking.SITE_ID = ...` in an app factory) is
    read once it is set, and a process that never serves the request does
    not need the variables. A client built under a condition
    in the function (`if "CUSTOMERIO_SITE_ID" in os.environ:`) gets that
    factory too. So does a client with a hard-coded key when the run
    includes CIO101, whose fix reads the key from the environment. That
    fix may be written after the hoist, because a `# noqa: E501` at the
    end of the key's line keeps it back until the line is short.
    Arguments that depend on local values (per-tenant keys, or names the
    function imports) go into a
    `functools.lru_cache(maxsize=128)` factory keyed by them, so they must
    be hashable (strings, in practice). A module-level client built with
    the same arguments is reused unless its name may change after import.
    So is a getter without parameters that builds such a client once: a
    cached factory (`functools.cache`, or an `lru_cache` whose maxsize is
    None, a positive number or left out) or a function that
    fills a `global` name only while it is unset and returns it. The
    getter must return the client on every path (no bare `return`), must
    neither change nor close it, and no other function of the module may
    assign that `global` name. An uncached factory without parameters gets
    `@functools.cache` when the client it builds is the same on every
    call, and a construction built like its client then calls it instead
    of getting a factory of its own. A factory whose `lru_cache` may keep
    nothing (`maxsize=0`, a variable) is reported without a fix, because
    the project may set that size on purpose. Constructions built alike
    share one new client or factory. `with CustomerIO(...) as cio:` is
    unwrapped onto the shared client.
    A factory's client is the same on every call when each argument, and
    each local variable that an argument reads, is built only from
    literals, environment reads, settings values and module constants.
    Calls without arguments of a function of the same module that
    `functools.cache` or `functools.lru_cache` caches (FastAPI's
    `get_settings()`) count too. These values may be combined with `or`, `and`, `not`,
    comparisons, conditional expressions, `int()` and the other
    conversions, the string methods `strip`, `lstrip`, `rstrip`, `lower`,
    `upper` and `format`, and subscripts whose keys are such values
    (`REGIONS[os.environ["CIO_REGION"]]`). cio-fix follows a local variable
    to its only assignment, which must not be inside an `if`, loop, `try`
    or `with` block of the factory.
    Reported without a fix, with the reason in the message: async clients
    (also where a factory returns one), async factories, factories with
    parameters and wrapper classes; a constructor that the function imports
    itself (an optional SDK imported in the handler); a client of an SDK
    that the module imports optionally (`except ImportError: CustomerIO =
    None`), or imports from a project module that does, also through a
    class alias of it (`Client = CustomerIO`), where no test
    that the class is not None comes first (`if CustomerIO is not None:`,
    `if CustomerIO is None:` ending in `return` or `raise`, `CustomerIO and
    CustomerIO(...)`), because the class is None where the SDK is not
    installed (after such a test, the client is built in a
    `functools.cache` factory, which runs only where the class is set); a
    client whose class a test patches (see below); arguments that read a
    module-level name that may change after import, because a client built once could keep the old
    value: a name that a function rebinds or deletes through `global` (an
    `init_app` that sets the keys), that the module deletes with `del`,
    that the module sets or deletes through `globals()` (`.pop()`,
    `.clear()`) or through its own module object (`sys.modules[__name__]`,
    a name bound to it as in `this.API_KEY = ...`, or an import of the
    module itself, with `setattr()`, `delattr()`, `vars()` or `.__dict__`),
    or that is bound to `None` or an empty string (a placeholder that an
    app factory or another module sets, as in `tracking.SITE_ID = ...`).
    The same holds for an attribute or item of a module-level name or an
    import (`CONFIG["site_id"]`, `settings.SITE_ID`) that code of the module
    run per request or per item, or the function that builds the client,
    sets or deletes, directly or through a call of a function of the module
    (`CONFIG.update(...)`, `settings.SITE_ID = ...`, `setattr(settings,
    "SITE_ID", ...)`). An app factory or `main()`
    that no handler calls sets such keys once, before the first request,
    so the fix stays. The message names the line of the code that rebinds
    or deletes it; arguments
    whose value cio-fix cannot tell is the same for every request, in a
    handler or in a factory (a multi-tenant factory that picks the
    workspace from `request`, `g` or a database lookup): request or
    context values (`current_app` too, because an app factory can build
    apps with other keys), thread-locals, calls (a cached function called
    with arguments too, and one imported from another module, whose
    decorator cio-fix does not read), names bound more than
    once at module level (under `if`/`else` or `try`/`except`), class
    attributes and, in a handler, unpacked `*args` or `**kwargs`; a module
    that binds the name `functools` to something else; and a client
    that the function closes (`.close()`, `with cio:`, `closing()`, an
    ExitStack's `enter_context()`), or a factory whose callers close the
    client it returns (`with`, `closing()`, `.close()`, or a function of
    the same file that closes it), because a shared client would then be
    closed for every later request. A client that every request stores in a
    class variable (`Service.client = CustomerIO(...)`,
    `type(self).client = ...`, `cls.client = ...`) is reported without a fix
    too, because code elsewhere may read it, replace it or close it and
    count on the next request for a new one. For the same reason, a client
    that a handler or factory assigns to a `global` name on every call
    (`global _client; _client = CustomerIO(...)`, or
    `_client = other or CustomerIO(...)`, without the tests above) is
    reported without a fix.
    A client in a dict that the function empties on every call before it
    builds the client is reported without a fix too. So is one in a dict
    that a handler empties before it calls the function. The code may rely
    on a new client each time (to read new keys, say). A client that the
    function takes out of the dict after using it and then uses again
    (`_clients.pop(site).close()`) is reported without a fix, because
    closing it would close the shared client. A `del` or an unused `pop()`
    after the client was used only drops the dict's reference, so the fix
    stays.
    A client stored in an instance attribute (`self.client = ...`) is fixed,
    because code that reads or replaces the class variable does not see it.
    A client that its function changes after building it is reported
    without a fix, because the shared client would keep the change for
    every later request in every handler: setting or deleting an attribute
    or item of it (`cio.timeout = 1`, `cio.http.headers[...] = ...`),
    `setattr()`, a call of any method that is not one of the SDK's sending
    methods (`cio.http.mount(...)`), or passing it to a function of the
    same file that does one of these. The same holds for a client kept in
    an instance attribute when another method of the class changes it, or
    assigns or deletes the attribute (`del self.client` in `on_finish`).
    An uncached factory gets no `functools.cache` when a caller, in any
    file, binds the client it returns to a name or attribute
    (`cio = make_client()`, `self.client = make_client()`) and then changes
    it in these ways, in the same function or another method of its class.
    A change without such a name (`tune(make_client())`), and methods of
    base classes and subclasses, are not seen.
    A field's default factory gets no cache either when a method of the
    class changes, replaces or closes the client in that field. Nor does
    it when the field has an attrs `converter` or the pydantic model has a
    validator, because the converter or validator receives the client and
    may change it. Otherwise a pydantic or attrs field's factory gets
    `functools.cache` as a dataclass field's does, because pydantic (1.x
    and 2.x) and attrs store what the factory returns without copying it.
    A static method without parameters gets `functools.cache` below
    `@staticmethod`, so that the cache wraps the plain function. A class
    method is reported without a fix, because its cache would keep one
    client per class it is called through. So is a property, because
    `functools.cached_property` keeps one client per instance and needs
    the instance's `__dict__`, and so is a default factory that builds
    the client itself.
    A factory with a decorator whose name says it caches (`ttl_cache`,
    `memoize`) is left alone.
    A client whose `use_connection_pooling=False` is on the line where the
    call ends, and a comment after the call ends that line (after the
    statement, a dict or list item, or a one-line `if`), is reported
    without a fix, unless the comment contains only tool directives
    (`# noqa: E501`). The comment may explain why pooling is off, and the
    hoisted call would leave it behind.
    `functools.cache` is new in Python 3.9, so in a project that declares
    an older minimum Python the fix writes `functools.lru_cache(maxsize=None)`,
    the same unbounded cache. The README lists where cio-fix reads that
    version; a project that declares none gets `functools.cache`.
    `functools.lru_cache` is new in Python 3.2, so in a project that
    declares an older Python (2.7, say) the clients that need a factory
    are reported without a fix, and a client built from literals still
    becomes a module-level client.
    The decorator runs while
    the module is imported, so `functools` is imported at the top of the
    module when the module imports it only further down. A module that
    imports from functools by name (`from functools import lru_cache`)
    and not functools itself gets the decorator imported that way too
    (`from functools import cache, lru_cache` and `@cache`).
    In a module where every function and method has a return annotation
    (`__init__` may leave it out when a parameter is annotated), a factory
    is annotated too: it returns the client class as the construction
    names it (`-> CustomerIO`, `-> customerio.CustomerIO`), and the
    parameters of a keyed factory are `object`, because ruff's ANN401
    rejects `Any`. Python evaluates the return annotation while the
    module is imported, unless the module has
    `from __future__ import annotations`. So the annotation is quoted when
    no plain module-level statement binds the class (it is imported in a
    `try` block, say).
    The shared client is used from several threads: requests does not
    document its Session as thread-safe, but its connection pool (urllib3)
    is. The client keeps the keys it was built with: where the original
    code read the environment on every request, the factory reads it once,
    at the first request. A process that rotates its keys by changing its
    own environment (`os.environ["CIO_API_KEY"] = new_key`) keeps sending
    the old keys until it restarts or calls the factory's `cache_clear()`.
    Tests that change the environment between cases (`monkeypatch.setenv`)
    should call `cache_clear()` after each change, or replace a
    module-level client with `monkeypatch.setattr`. For the same reason, a
    client whose class a call in any file of the project patches is
    reported without a fix: `patch()`, `patch.object()`,
    `patch.multiple()` and `monkeypatch.setattr()` of
    `customerio.CustomerIO` (or another client class of the SDK), which
    counts for every construction of that class, of the name in the
    client's module (`app.views.CustomerIO`), or of the name in a project
    module that the client's module imports the class from
    (`app.compat.CustomerIO`), also under another name
    (`app.compat.Tracker`). A target built from module constants
    (`f"{MODULE}.CustomerIO"`, `MODULE + ".CustomerIO"`) is read as its
    text. A target that cio-fix cannot read (`mock.patch(target)` of a
    parameter) counts when its file mentions the SDK's package or the last
    part of one of these modules' names as a word (`tasks` for
    `app.tasks`), as an import of the module does. Unread targets count in
    `patch()` and `patch.multiple()` imported from mock or called on
    pytest-mock's `mocker`, and in `monkeypatch.setattr()` with a target
    string, but not in `patch.object()` or in the object and name form of
    `monkeypatch.setattr()`. A client built once would not be the
    patch's mock. Such a construction in test code is not reported. Only
    files that mention Customer.io, import a module that passes on a client
    or client class, or patch a name of such a module
    (`mock.patch("compat.Tracker")`) are read, so a patch elsewhere is not
    seen. Such a patch no longer replaces the client after the fix:
    a module-level client was built before the patch, and a factory keeps
    the first client it built, mock or not. Patch the shared client or the
    factory instead.
    A directive comment at the end of the construction's line that
    silences a check of a hard-coded key (`noqa` for S105, S106 or S107,
    bandit's `nosec`, detect-secrets' `pragma: allowlist secret`), with
    any reason after a dash (`# nosec B106 - rotated weekly`), moves
    with the call to the line of the new client or factory. When the call
    does not fit on one line with it, the client is reported without a
    fix. A construction that reuses an existing client drops the comment,
    because the key is gone from its line.
    """

    code = "CIO601"
    name = "client-per-request"
    summary = "Customer.io clients constructed per request or per item instead of once"
    fix_safety = FixSafety.SAFE

    def check(self, context: FileContext) -> Iterator[Finding]:
        taken = context.module_names()
        planned: dict[tuple[Any, ...], _Helper] = {}
        patches = self._patches(context)
        sites = []
        for site in self._sites(context):
            patch = patch_over(context.index, site.construction, patches)
            if patch is not None and context.in_test_code:
                # The test builds its clients under its own patch on purpose.
                continue
            sites.append((site, patch))
        # The factories are decided first, because a construction built like
        # the client of a factory that this pass caches reuses that factory.
        factory_findings: dict[int, Finding] = {}
        newly_cached: list[FunctionInfo] = []
        for site, patch in sites:
            factory = _site_factory(context.index, site)
            if factory is None:
                continue
            finding = self._factory_site_finding(context, site, factory, patch)
            factory_findings[id(site)] = finding
            # A construction elsewhere reuses a cached factory by calling its
            # name, which a method does not have at module level.
            if factory.class_info is not None:
                continue
            if finding.fix is not None and not is_silenced(
                context, self.code, factory.node.name
            ):
                newly_cached.append(factory)
        for site, patch in sites:
            finding = factory_findings.get(id(site))
            if finding is None and patch is not None:
                message = _hoist_message(site)
                reason = patch_reason(patch)
                finding = self._withheld(
                    context, site.construction.node, message, reason
                )
            if finding is None:
                finding = self._hoist_finding(
                    context, site, taken, planned, newly_cached
                )
            yield finding
        yield from self._default_factory_findings(context)

    def _default_factory_findings(self, context: FileContext) -> Iterator[Finding]:
        """Report the dataclass fields whose `default_factory` builds a client itself.

        The class must be instantiated per request or per item without
        that field. A `default_factory` that calls a function of the project
        is reported at that function instead.
        """
        defaults = default_factories(context)
        if not defaults:
            return
        _, fields = context.project.shared(
            "CIO601:per-instance", self._per_instance_uses
        )
        module_name = context.index.module_name
        for default in defaults:
            class_name = default.class_info.name
            if (module_name, class_name, default.keyword) not in fields:
                continue
            if constructed_client(context.index, default) is None:
                continue
            message = (
                f"a Customer.io client is constructed for every instance of"
                f" `{class_name}`, which is instantiated per request or per item;"
                " each one opens a new HTTPS connection, so build it once and"
                " reuse it"
            )
            yield self._withheld(context, default.value, message, DEFAULT_FACTORY)

    def _factory_site_finding(
        self,
        context: FileContext,
        site: _Site,
        factory: FunctionInfo,
        patch: Patch | None,
    ) -> Finding:
        """Return the finding of an uncached factory that runs per request or per item."""
        construction = site.construction
        kind = method_factory_kind(context.index, factory, construction)
        if kind == "property":
            return self._property_finding(context, factory)
        closed = factory.qualname in self._closed_by_callers(context)
        withheld = patch_reason(patch) if patch is not None else None
        if withheld is None:
            withheld = _global_variable_reason(context, construction, site.ancestors)
        if withheld is None:
            withheld = self._changed_by_callers(context).get(factory.qualname)
        if withheld is None and kind == "classmethod":
            withheld = CLASS_METHOD_CACHE
        return self._factory_finding(
            context, factory, construction, closed, withheld, kind
        )

    def _property_finding(self, context: FileContext, getter: FunctionInfo) -> Finding:
        """Return the finding of a property that builds a new client on every read."""
        message = (
            f"`{getter.qualname}` is a property that builds a new Customer.io client"
            " on every read, and it is read per request or per item; return a"
            " client built once instead, such as a module-level client or the"
            " client of a functools.cache factory"
        )
        return self._withheld(context, getter.node.name, message, CACHED_PROPERTY)

    # -- where constructions run -------------------------------------------------------

    def _sites(self, context: FileContext) -> Iterator[_Site]:
        index = context.index
        called_elsewhere: set[str] | None = None
        methods_per_request: set[str] | None = None
        for construction in index.constructions:
            ancestors = list(context.ancestors(construction.node))
            function = _running_function(construction, ancestors)
            if function is not None and (
                function.is_cached
                or _fills_unset_global(context, function, construction, ancestors)
                or _fills_unset_item(context, function, construction, ancestors)
                or _fills_unset_attribute(index, function, construction, ancestors)
            ):
                # A cached factory, a lazily built global or a lazily built class
                # variable builds the client once.
                continue
            handler = request_handler(index, function)
            if handler is not None:
                yield _Site(construction, "request", handler.name, ancestors)
            elif (loop := loop_around(construction.node, ancestors)) is not None:
                if not _once_per_configuration(construction, function, loop, ancestors):
                    yield _Site(construction, "item", "", ancestors)
            elif runs_per_request_or_item(index, function):
                assert function is not None
                reason = "call"
                if is_celery_task(index, function):
                    reason = "task"
                    if is_celery_layout_task(index, function):
                        reason = "queued"
                yield _Site(construction, reason, function.name, ancestors)
            elif _factory_of(function, construction) is not None:
                assert function is not None
                if called_elsewhere is None:
                    called_elsewhere = self._called_from_other_files(context)
                    called_elsewhere |= self._called_per_instance(context)
                if function.name in called_elsewhere:
                    yield _Site(construction, "call", function.name, ancestors)
            elif method_factory_kind(index, function, construction) is not None:
                assert function is not None
                if methods_per_request is None:
                    methods_per_request = self._methods_per_request(context)
                if function.qualname in methods_per_request:
                    yield _Site(construction, "call", function.qualname, ancestors)

    def _closed_by_callers(self, context: FileContext) -> set[str]:
        """Return this file's functions whose result a caller closes, in any file.

        A method is named with its class (`Service.client`).
        """
        module_name = context.index.module_name
        names = set()
        for _, facts in context.project.rule_facts(self.code):
            for target, *_, closed, _, _ in facts.instantiations:
                resolved = _resolve_target(context.project, target) if closed else None
                if resolved is not None and resolved[0].module_name == module_name:
                    names.add(resolved[1])
        return names

    def _changed_by_callers(self, context: FileContext) -> dict[str, str]:
        """Return this file's functions whose result a caller changes, in any file.

        Each one comes with the reason of the first change found, which names
        the caller. A method is named with its class (`Service.client`).
        """
        module_name = context.index.module_name
        changes: dict[str, str] = {}
        for _, facts in context.project.rule_facts(self.code):
            for target, *_, changed, _ in facts.instantiations:
                if changed is None:
                    continue
                resolved = _resolve_target(context.project, target)
                if resolved is not None and resolved[0].module_name == module_name:
                    changes.setdefault(resolved[1], changed)
        return changes

    def _called_from_other_files(self, context: FileContext) -> set[str]:
        """Return this file's functions that other files call per request or per item."""
        module_name = context.index.module_name
        names = set()
        for summary, facts in context.project.rule_facts(self.code):
            if summary.module_name == module_name:
                continue
            for target, *_, per_request in facts.instantiations:
                if not per_request:
                    continue
                resolved = context.project.resolve_name(target)
                if resolved is not None and resolved[0].module_name == module_name:
                    names.add(resolved[1])
        return names

    def _called_per_instance(self, context: FileContext) -> set[str]:
        """Return this file's functions that a class runs per instance, built per request.

        The class runs the function in `__init__` or as the `default_factory`
        of a dataclass field, and a file of the project instantiates it per
        request or per item without passing that field.
        """
        factories, _ = context.project.shared(
            "CIO601:per-instance", self._per_instance_uses
        )
        module_name = context.index.module_name
        return {name for module, name in factories if module == module_name}

    def _per_instance_uses(
        self, project: ProjectIndex
    ) -> tuple[set[tuple[str, str]], set[tuple[str, str, str]]]:
        """Return the functions and dataclass fields that run per instance, per request.

        Functions are (module, name) and fields (module, class, field).
        """
        calls: dict[tuple[str, str], list[PassedArguments]] = {}
        relations = []
        for _, facts in project.rule_facts(self.code):
            relations.extend(facts.per_instance)
            for target, *_, passed, _, _, per_request in facts.instantiations:
                resolved = project.resolve_name(target) if per_request else None
                if resolved is not None:
                    key = (resolved[0].module_name, resolved[1])
                    calls.setdefault(key, []).append(passed)
        factories: set[tuple[str, str]] = set()
        fields: set[tuple[str, str, str]] = set()
        for factory, owner, field, position in relations:
            resolved = project.resolve_name(owner)
            if resolved is None:
                continue
            module, class_name = resolved[0].module_name, resolved[1]
            passed_list = calls.get((module, class_name), [])
            if field is not None:
                passed_list = [
                    passed
                    for passed in passed_list
                    if not fills_field(passed, field, position)
                ]
            if not passed_list:
                continue
            if factory is None:
                assert field is not None
                fields.add((module, class_name, field))
                continue
            target = project.resolve_name(factory)
            if target is not None:
                factories.add((target[0].module_name, target[1]))
        return factories, fields

    def _methods_per_request(self, context: FileContext) -> set[str]:
        """Return this file's methods that build a client and run per request or item.

        They are static and class methods called per request or per item in
        any file, and properties whose client a call uses per request or
        per item (`self.cio.track(...)` in a view of this file, or of
        another file with a subclass or an instance), by qualified name.
        NOTE: a property whose client no call of a client method uses
        (`send(self.cio)`) is not seen.
        """
        project = context.project
        module_name = context.index.module_name
        names = set()
        for _, facts in project.rule_facts(self.code):
            for target, *_, per_request in facts.instantiations:
                if not per_request:
                    continue
                resolved = project.resolve_class_attribute(target)
                if resolved is not None and resolved[0].module_name == module_name:
                    names.add(resolved[1])
        return names | _properties_read_per_request(context)

    def _patches(self, context: FileContext) -> tuple[Patch, ...]:
        """Return the patches of client classes in every file of the project."""

        def compute(project: ProjectIndex) -> tuple[Patch, ...]:
            found: list[Patch] = []
            for _, facts in project.rule_facts(self.code):
                found.extend(facts.patches)
            return tuple(found)

        return context.project.shared("CIO601:patches", compute)

    # -- an uncached factory function ------------------------------------------------------

    def _factory_finding(
        self,
        context: FileContext,
        factory: FunctionInfo,
        construction: Construction,
        closed: bool = False,
        withheld: str | None = None,
        kind: str | None = None,
    ) -> Finding:
        """Return the finding of a factory; `withheld` is why caching it would be wrong.

        `kind` is "staticmethod" or "classmethod" for a method, which is
        named with its class.
        """
        node = factory.node
        async_client = construction.client.is_async
        has_parameters = bool(own_parameters(factory, kind))
        subject = (
            f"`{factory.qualname}` builds a new Customer.io client on every call and"
            " is called per request or per item"
        )
        if factory.is_async:
            # functools.cache on an `async def` caches the coroutine, which
            # a second `await` cannot reuse.
            message = (
                f"{subject}; create the client once, at module level or at start-up"
                " (not fixed: functools.cache on an `async def` caches its"
                " coroutine, which can be awaited only once)"
            )
            return context.finding(self, node.name, message)
        if async_client:
            # A cached async client is shared by every event loop of the
            # process, but the connections it pools stay bound to the loop
            # that opened them, so a request in a later loop can fail.
            message = f"{subject}; build the client once and reuse it"
            return self._withheld(context, node.name, message, ASYNC_CLIENT_REASON)
        if closed:
            message = (
                f"{subject}; stop closing the client it returns,"
                f" then {_cache_advice(context, 'the factory')}"
                " (not fixed: a caller closes the client, so a cached one would be"
                " closed for every later request)"
            )
            return context.finding(self, node.name, message)
        if has_parameters:
            example = " (for example with functools.lru_cache on hashable arguments)"
            if _cache_too_old(context) is not None:
                example = ""
            message = (
                f"{subject}; cache the client it returns{example}"
                " (not fixed: a cache keyed by the parameters needs hashable"
                " arguments, and cio-fix does not check what the callers pass)"
            )
            return context.finding(self, node.name, message)
        varying = _factory_varying_reason(context, factory, construction)
        if varying is not None:
            example = ", for example with functools.lru_cache"
            if _cache_too_old(context) is not None:
                example = ""
            message = (
                f"{subject}; pass the values that can change between requests as"
                f" parameters and cache one client per value{example}"
            )
            return self._withheld(context, node.name, message, varying)

        message = f"{subject}; {_cache_advice(context, 'it')}"
        if withheld is None and factory.lru_cache_keeps_nothing:
            # A second cache above it would work, but hide a size that the
            # project may set to 0 on purpose (in tests, say).
            withheld = (
                "its `lru_cache` may keep no entries, because its maxsize is 0 or"
                " not a positive number, and cio-fix does not change that size"
            )
        if withheld is not None:
            return self._withheld(context, node.name, message, withheld)
        too_old = _cache_too_old(context)
        if too_old is not None:
            return self._withheld(context, node.name, message, too_old)
        decorator = _cache_decorator(context, node)
        if decorator is None:
            return self._withheld(context, node.name, message, FUNCTOOLS_TAKEN)
        expression, imports = decorator
        decorators = [cst.Decorator(decorator=expression), *node.decorators]
        if kind == "staticmethod":
            # Below `@staticmethod`, the cache wraps the plain function, so it
            # is called with no class or instance on every Python version.
            decorators = [*node.decorators, decorators[0]]
        new_node = node.with_changes(decorators=decorators)
        return context.finding(
            self,
            node.name,
            message,
            Fix(FixSafety.SAFE, {node: new_node}, imports=imports),
        )

    # -- a construction in per-request code ----------------------------------------------------

    def _hoist_finding(
        self,
        context: FileContext,
        site: _Site,
        taken: set[str],
        planned: dict[tuple[Any, ...], _Helper],
        newly_cached: list[FunctionInfo],
    ) -> Finding:
        construction = site.construction
        message = _hoist_message(site)
        if construction.client.is_async:
            return self._withheld(
                context, construction.node, message, ASYNC_CLIENT_REASON
            )

        pooling = _pooling_argument(construction)
        if pooling is not None and _line_end_may_explain(
            context, construction, pooling
        ):
            return self._withheld(
                context, construction.node, message, POOLING_EXPLAINED_AT_LINE_END
            )
        if _waits_for_pooling_fix(context, construction):
            # CIO602 removes `use_connection_pooling=False` from this call in the
            # same pass. Hoisting after that lets this construction share the
            # client of the others instead of getting a second one.
            return context.finding(
                self, construction.node, message, Fix(FixSafety.SAFE)
            )

        function = construction.site.function
        locals_ = local_names(function, site.ancestors)
        with_statement = _with_statement(construction, site.ancestors)
        reason = _unmovable_reason(context, construction, locals_, function)
        if reason is None:
            reason = _optional_constructor_reason(context, construction, site.ancestors)
        if reason is None:
            reason = _closing_reason(context, construction, site, with_statement)
        if reason is None:
            reason = _class_variable_reason(context.index, construction, site.ancestors)
        if reason is None:
            reason = _global_variable_reason(context, construction, site.ancestors)
        if reason is None:
            reason = _removal_reason(context, construction, site.ancestors)
        if reason is None:
            reason = _changed_client_reason(context, construction, with_statement)
        if reason is not None:
            return self._withheld(context, construction.node, message, reason)

        guarded = _guarded(construction.node, site.ancestors)
        hoist = plan_hoist(context, construction, locals_, guarded)
        if isinstance(hoist, str):
            return self._withheld(context, construction.node, message, hoist)

        assert with_statement is not False
        fix = _hoist_fix(
            context,
            construction,
            hoist,
            taken,
            planned,
            newly_cached,
            with_statement,
            site.ancestors,
        )
        if isinstance(fix, str):
            return self._withheld(context, construction.node, message, fix)
        return context.finding(self, construction.node, message, fix)

    def _withheld(
        self, context: FileContext, node: cst.CSTNode, message: str, reason: str
    ) -> Finding:
        """Return a finding without a fix, its message saying why."""
        return context.finding(
            self, node, f"{message} (not fixed: {reason})", fixed_message=message
        )

    # -- wrapper classes, across files -------------------------------------------------------

    def collect(self, context: FileContext) -> Any:
        """Return the calls made per request or per item or closing their client, and patches.

        Each call is (target, path, lines and columns, passed arguments,
        closed, changed, per request), where changed is the reason a cached
        result would keep the caller's changes, or None. The target of a
        call of a static or class method of the module is
        `module.Class.method`. The calls made elsewhere are kept only
        when they close or change what they get, because a cached factory
        would then hand out a closed client, or one changed for every caller.
        The patches are those of client classes (`mock.patch("app.CustomerIO")`).
        """
        index = context.index
        project = context.project
        instantiations = []
        patches = []
        path = display_path(context.path)

        def add_entry(
            node: cst.CSTNode,
            target: str | None,
            passed: PassedArguments,
            *flags: bool | str | None,
        ) -> None:
            # Every use of the entries resolves the target to a function,
            # class or method of the project, so the others are not kept.
            if target is None or _resolve_target(project, target) is None:
                return
            where = context.position(node)
            start, end = where.start, where.end
            instantiations.append(
                (target, path, start.line, start.column + 1, end.line, end.column + 1)
                + (passed, *flags)
            )

        # Whether each function, by id, runs per request or per item. Most
        # calls are in such functions, so their ancestors are rarely needed.
        function_per_request: dict[int, bool] = {}
        property_names = project.shared(
            "CIO601:client-property-names", _client_property_names
        )
        reader_names = project.shared(
            "CIO601:client-property-reader-names", _client_property_reader_names
        )
        for site in index.call_sites:
            patched = patched_classes(context, site.node, site.scope)
            if patched is None:
                line = context.position(site.node).start.line
                patches.append(unread_patch(context, path, line))
            elif patched:
                line = context.position(site.node).start.line
                for owner, name in patched:
                    patches.append(ClassPatch(owner, name, path, line))
            dependency = dependency_of(index, site.node)
            if dependency is not None:
                # FastAPI calls the dependency, imported or not, per request.
                target = instantiated_name(index, dependency)
                add_entry(dependency, target, (0, (), False), False, None, True)
            key = id(site.function)
            if key not in function_per_request:
                function_per_request[key] = runs_per_request_or_item(
                    index, site.function
                )
            per_request = function_per_request[key] or (
                loop_around(site.node, list(context.ancestors(site.node))) is not None
            )
            if property_names:
                read = _inherited_property_read(context, site, property_names)
                if read is not None:
                    add_entry(read[0], read[1], (0, (), False), False, None, True)
            if reader_names:
                for target in _properties_read_by_method(
                    context, site, reader_names, per_request
                ):
                    add_entry(site.node, target, (0, (), False), False, None, True)
            if not per_request and site.node.args:
                continue
            func = site.node.func
            target = instantiated_name(index, func) or class_method_target(
                context, func, site.scope
            )
            if target is None or _resolve_target(project, target) is None:
                continue
            # Only a factory without parameters gets a fix that `closed` or
            # `changed` withholds.
            closed = False
            changed = None
            if not site.node.args:
                closed = _result_closed(
                    context, site.node, site.statement, site.function
                )
                changed = _result_changed(
                    context, site.node, site.statement, site.function
                )
            if per_request or closed or changed is not None:
                passed = passed_arguments(site.node)
                add_entry(site.node, target, passed, closed, changed, per_request)
        per_instance = per_instance_calls(context)
        for default in default_factories(context):
            # A cached factory would share the changes that the class makes
            # to the client in the field.
            factory = called_factory(index, default)
            target = instantiated_name(index, factory) if factory else None
            # Only a function of the project can get a cache (not `list`).
            if target is None or context.project.resolve_name(target) is None:
                continue
            changed = _class_attribute_change(
                context, default.class_info, default.field
            )
            if changed is None:
                changed = field_library_change(index, default)
            if changed is not None:
                add_entry(factory, target, (0, (), False), False, changed, False)
        if not instantiations and not patches and not per_instance:
            return None
        return ClientPerRequestFacts(
            tuple(instantiations), tuple(patches), tuple(per_instance)
        )

    def check_project(self, project: ProjectIndex) -> Iterator[Finding]:
        wrappers: set[tuple[str, str]] = set()
        for summary in project.summaries:
            for name in summary.client_classes:
                wrappers.add((summary.module_name, name))
        if not wrappers:
            return
        for _, facts in project.rule_facts(self.code):
            for entry in facts.instantiations:
                target, path, line, column, end_line, end_column, *_, per_request = (
                    entry
                )
                if not per_request:
                    continue
                resolved = project.resolve_name(target)
                if (
                    resolved is None
                    or (resolved[0].module_name, resolved[1]) not in wrappers
                ):
                    continue
                class_name = resolved[1]
                advice = (
                    f"`{class_name}` builds a Customer.io client in `__init__` and is"
                    " instantiated per request or per item; create one instance"
                    " at module level, or build the client once outside the class"
                )
                yield Finding(
                    code=self.code,
                    name=self.name,
                    message=(
                        f"{advice} (not fixed: an instance may keep state of its own,"
                        " so cio-fix cannot tell whether one can serve every request)"
                    ),
                    path=Path(path),
                    line=line,
                    column=column,
                    end_line=end_line,
                    end_column=end_column,
                    # The message once a fix of `__init__` removed the cause.
                    fixed_message=advice,
                )


def _site_factory(index: FileIndex, site: _Site) -> FunctionInfo | None:
    """Return the uncached factory whose construction a site is, when it runs per call.

    The factory is a module-level function, or a static method, class
    method or property of a module-level class.
    """
    # A cache decorator above a Celery task's decorator would hide the task
    # object and its `delay`, so a task is never treated as a factory.
    if site.reason != "call":
        return None
    function = site.construction.site.function
    factory = _factory_of(function, site.construction)
    if factory is None and method_factory_kind(index, function, site.construction):
        factory = function
    return factory


def _client_property_names(project: ProjectIndex) -> frozenset[str]:
    """Return the names of the project's properties that build a new client on every read."""
    return frozenset(
        qualname.rpartition(".")[2]
        for summary in project.summaries
        for qualname in summary.client_properties
    )


def _client_property_reader_names(project: ProjectIndex) -> frozenset[str]:
    """Return the names of the project's methods that read a property that may build a client."""
    return frozenset(
        key.rpartition(".")[2]
        for summary in project.summaries
        for key in summary.client_property_reads
    )


def _properties_read_by_method(
    context: FileContext,
    site: CallSite,
    reader_names: frozenset[str],
    per_request: bool,
) -> list[str]:
    """Return the client properties that a call of another module's method reads per request.

    The call runs a method of an instance (`Account(...).touch()`, or
    `account.touch()` after `account = Account(...)`) of a class that
    another module defines, or that a class of this module inherits
    from there. That module's summary lists the method as one that reads
    the property through `self` (`ModuleSummary.client_property_reads`).
    `per_request` is True when the call's function runs per request or per
    item, or a loop is around the call. A call in a method that such a
    function calls counts too (`methods_run_per_request`).
    NOTE: a method that the class inherits from a base class of a third
    module is not in the summary of the class's module, so it is missed.
    """
    func = site.node.func
    if type(func) is not cst.Attribute or func.attr.value not in reader_names:
        return []
    function = site.function
    if not per_request and (
        function is None or id(function.node) not in methods_run_per_request(context)
    ):
        return []
    target = _imported_attribute(context, func, site)
    if target is None:
        return []
    return context.project.client_properties_read(target)


def _inherited_property_read(
    context: FileContext, site: CallSite, property_names: frozenset[str]
) -> tuple[cst.Attribute, str] | None:
    """Return the read of another module's property that a call uses per request.

    It comes with the property's qualified name. The call is a client
    method's (`self.cio.track(...)`, or `cio.track(...)` after `cio =
    self.cio`), made per request or per item. The property belongs to a
    base class that the module imports, and builds a new client on every
    read.
    """
    func = site.node.func
    if type(func) is not cst.Attribute or func.attr.value not in ALL_METHOD_NAMES:
        return None
    index = context.index
    read = attribute_read(index, func.value, site)
    if read is None or read.attribute.attr.value not in property_names:
        return None
    target = _imported_attribute(context, read.attribute, site)
    if target is None or not context.project.is_client_property(target):
        return None
    if not read_per_request(context, read, site):
        return None
    return read.attribute, target


def _imported_attribute(
    context: FileContext, attribute: cst.Attribute, site: CallSite
) -> str | None:
    """Return `module.Class.name` for `owner.name`, an attribute that another module binds.

    The owner is `self` or `cls` of a class whose base class is imported,
    a new instance (`Account(...)`), or an instance (`instance_class`) of
    such a class or of an imported class (`account = Account(...)` after
    `from app.models import Account`).
    """
    index = context.index
    owner = attribute.value
    if type(owner) is cst.Call:
        bound: tuple[cst.BaseExpression, Scope] | None = (owner.func, site.scope)
    elif type(owner) is cst.Name and owner.value in ("self", "cls"):
        return index.inherited_attribute(attribute, site.scope)
    else:
        bound = instance_class(index, owner, site)
    if bound is None:
        return None
    class_info = index.module_class(*bound)
    if class_info is not None:
        return index.class_inherited_attribute(class_info, attribute.attr.value)
    expression, scope = bound
    if (
        type(expression) is cst.Name
        and expression.value in index.module_scope.assignments
    ):
        # A `def`, class or assignment of the module rebinds an imported name.
        return None
    qualified = index.qualified_name(expression, scope)
    if qualified is None or not index.module_name:
        return None
    localised = context.project.localise(qualified, index.module_name)
    return f"{localised}.{attribute.attr.value}"


def _resolve_target(
    project: ProjectIndex, target: str
) -> tuple[ModuleSummary, str] | None:
    """Resolve a call's target to its module and name, `Class.method` for a method."""
    return project.resolve_name(target) or project.resolve_class_attribute(target)


def _properties_read_per_request(context: FileContext) -> set[str]:
    """Return the properties of this file whose client a call uses per request or item.

    The call's receiver reads the property (`self.cio.track(...)`), or is a
    local variable that only such a read binds (`cio = self.cio`). The read
    runs in a request handler, a Celery task, a function called from
    either, or a loop.
    """
    index = context.index
    properties = {
        function.name
        for function in index.functions
        if function.class_info is not None and function.decorators == ("property",)
    }
    names: set[str] = set()
    if not properties:
        return names
    receivers = [(call.receiver, call.site) for call in index.client_calls]
    # A property of an instance (`account.cio`) gives no receiver that the
    # index types as a client, so calls of client methods are read too.
    for site in index.call_sites:
        func = site.node.func
        if type(func) is cst.Attribute and func.attr.value in ALL_METHOD_NAMES:
            receivers.append((func.value, site))
    for receiver, site in receivers:
        read = attribute_read(index, receiver, site)
        if read is None or read.attribute.attr.value not in properties:
            continue
        getter = _read_getter(index, read, site)
        if getter is None or getter.qualname in names:
            continue
        if read_per_request(context, read, site):
            names.add(getter.qualname)
    return names


def _read_getter(
    index: FileIndex, read: AttributeRead, site: CallSite
) -> FunctionInfo | None:
    """Return the getter of this module's property that a read runs, if it is one.

    The owner is `self` or `cls`, or an instance (`instance_class`) of a
    class of this module.
    """
    attribute = read.attribute
    if read.owner.value in ("self", "cls"):
        return index.read_property(attribute, site.scope)
    bound = instance_class(index, read.owner, site)
    class_info = index.module_class(*bound) if bound is not None else None
    if class_info is None:
        return None
    return index.class_property(class_info, attribute.attr.value)


def _once_per_configuration(
    construction: Construction,
    function: FunctionInfo | None,
    loop: cst.CSTNode,
    ancestors: list[cst.CSTNode],
) -> bool:
    """Tell whether a loop that runs once per process builds one client per configuration.

    A loop at module level, in `main()` or in a start-up hook whose
    arguments change with each pass (one client per region or workspace)
    builds each client once, unless another loop (a consumer's `while
    True:`) or a lambda (a view) runs it again. The same loop in another
    function may run again for every call, so it is still reported there,
    and its fix caches the clients by their arguments. `ancestors` lists
    the construction's parents, nearest first.
    """
    if function is not None and not _runs_at_start_up(function):
        return False
    above = ancestors[ancestors.index(loop) + 1 :]
    for parent in above:
        if function is not None and parent is function.node:
            break
        if type(parent) is cst.Lambda:
            return False
    if loop_around(loop, above) is not None:
        return False
    return _varies_per_item(construction, loop)


# Decorators, by their last name parts, of functions that run once per process:
# Flask's first-request hook and Celery's worker start signals. FastAPI's and
# Starlette's `on_event` counts only for "startup" and "shutdown".
START_UP_DECORATORS = frozenset(
    {
        "before_first_request",
        "worker_process_init.connect",
        "worker_init.connect",
    }
)
# Decorators that make a `lifespan` function a context manager.
CONTEXT_MANAGER_DECORATORS = ("asynccontextmanager", "contextmanager")


def _runs_at_start_up(function: FunctionInfo) -> bool:
    """Tell whether a function runs once per process: `main()` or a start-up hook.

    The hooks are Flask's `create_app` factory, a FastAPI or Starlette
    `lifespan` (a context manager or an async generator), an
    `on_event("startup")` handler, Django's `AppConfig.ready` and the
    decorated hooks of START_UP_DECORATORS.
    """
    if function.name == "main":
        return True
    if function.parent is not None:
        return False
    if function.class_info is not None:
        bases = function.class_info.bases
        return function.name == "ready" and any(
            base.rpartition(".")[2] == "AppConfig" for base in bases
        )
    if function.name == "create_app":
        return True
    if function.name == "lifespan" and (
        function.is_async
        or any(
            decorator.rpartition(".")[2] in CONTEXT_MANAGER_DECORATORS
            for decorator in function.decorators
        )
    ):
        return True
    if _is_start_up_event(function.node):
        return True
    for decorator in function.decorators:
        parts = decorator.split(".")
        if parts[-1] in START_UP_DECORATORS:
            return True
        if ".".join(parts[-2:]) in START_UP_DECORATORS:
            return True
    return False


def _is_start_up_event(node: cst.FunctionDef) -> bool:
    """Tell `@app.on_event("startup")` (or "shutdown") apart from other events."""
    for decorator in node.decorators:
        call = decorator.decorator
        if not (
            isinstance(call, cst.Call)
            and isinstance(call.func, cst.Attribute)
            and call.func.attr.value == "on_event"
            and call.args
        ):
            continue
        if literal_value(call.args[0].value) in ("startup", "shutdown"):
            return True
    return False


def _varies_per_item(construction: Construction, loop: cst.CSTNode) -> bool:
    """Tell whether the arguments read a name that each pass of `loop` binds again."""
    bound: set[str] = set()
    for node in find_all(
        loop,
        cst.For,
        cst.CompFor,
        cst.Assign,
        cst.AnnAssign,
        cst.AugAssign,
        cst.NamedExpr,
        cst.AsName,
    ):
        if isinstance(node, cst.Assign):
            targets = [target.target for target in node.targets]
        elif isinstance(node, cst.AsName):
            targets = [node.name]
        else:
            targets = [node.target]
        for target in targets:
            bound |= _target_names(target)
    read = set()
    for argument in construction.node.args:
        read |= read_names(argument.value)
    return bool(read & bound)


def _target_names(target: cst.BaseExpression) -> set[str]:
    """Return the names an assignment target binds (not attributes or items)."""
    if isinstance(target, cst.Name):
        return {target.value}
    if isinstance(target, (cst.Tuple, cst.List)):
        names: set[str] = set()
        for element in target.elements:
            names |= _target_names(element.value)
        return names
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return set()


# Statements and expressions that run their parts only when a condition holds.
_CONDITIONAL = (
    cst.If,
    cst.Else,
    cst.Try,
    cst.TryStar,
    cst.ExceptHandler,
    cst.ExceptStarHandler,
    cst.While,
    cst.Match,
    cst.IfExp,
    cst.BooleanOperation,
)


def _guarded(node: cst.CSTNode, ancestors: list[cst.CSTNode]) -> bool:
    """Tell whether a condition in its function decides whether `node` runs."""
    for ancestor in ancestors:
        if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
            return False
        if isinstance(ancestor, _CONDITIONAL):
            return True
    return False


def _hoist_message(site: _Site) -> str:
    if site.reason == "request":
        place = f"on every request in `{site.where}`"
    elif site.reason == "item":
        place = "for every item of a loop"
    elif site.reason == "task":
        place = f"in the Celery task `{site.where}`, which runs once per queued item"
    elif site.reason == "queued":
        # The app comes from a module named `celery`, which this file cannot read.
        place = f"in the task `{site.where}`, which runs once per queued item"
    else:
        place = f"in `{site.where}`, a function called per request or per item"
    return (
        f"a Customer.io client is constructed {place}; each one opens a new HTTPS"
        " connection, so build it once and reuse it"
    )


def _running_function(
    construction: Construction, ancestors: list[cst.CSTNode]
) -> FunctionInfo | None:
    """Return the function whose body runs the construction.

    A construction in a function's decorators, defaults or annotations runs
    when the `def` statement does, so in the code around the function.
    `ancestors` lists the construction's parents, nearest first.
    """
    function = construction.site.function
    while function is not None:
        child: cst.CSTNode = construction.node
        for parent in ancestors:
            if parent is function.node:
                break
            child = parent
        if child is function.node.body:
            return function
        function = function.parent
    return None


def _factory_of(
    function: FunctionInfo | None, construction: Construction
) -> FunctionInfo | None:
    """Return `function` when it is a plain module-level function returning the construction."""
    if (
        function is None
        or function.parent is not None
        or function.class_info is not None
    ):
        return None
    if not returns_construction(function, construction):
        return None
    return function


def _factory_varying_reason(
    context: FileContext, factory: FunctionInfo, construction: Construction
) -> str | None:
    """Return why the client of a factory without parameters may differ between calls.

    `functools.cache` keeps the first client for the whole process, so every
    argument must be the same on every call (`_same_value_reason`): not
    `request`, `g`, `current_app`, a context variable or a call such as a
    database lookup.
    """
    followed: set[str] = set()
    for argument in construction.node.args:
        reason = _same_value_reason(context, factory, argument.value, followed)
        if reason is not None:
            return reason
    return None


# String methods that only read the string they are called on, so the same
# string and arguments give the same result.
READING_STRING_METHODS = frozenset(
    {"strip", "lstrip", "rstrip", "lower", "upper", "format"}
)


def _same_value_reason(
    context: FileContext,
    factory: FunctionInfo,
    node: cst.BaseExpression,
    followed: set[str],
) -> str | None:
    """Return why an expression of a factory may differ between calls, or None when it cannot.

    It must be built only from values that are the same on every call
    (`varying_value_reason`): literals, environment reads, settings values,
    module constants and calls of cached functions without arguments. They
    may be combined with `or`, `and`, `not`, comparisons, conditional
    expressions, conversions (`int()`), string methods that only read
    (`.strip()`), and subscripts whose keys are such values. A local
    variable is followed to the value of its only assignment (`followed`
    holds the names already followed), which must be a statement of the
    factory's own body, so that no condition or loop chooses it.
    """
    index = context.index
    if is_import_safe(index, node):
        return None
    operands = _operands(index, node)
    if operands is not None:
        for operand in operands:
            reason = _same_value_reason(context, factory, operand, followed)
            if reason is not None:
                return reason
        return None
    chain = node
    while isinstance(chain, (cst.Attribute, cst.Subscript)):
        if isinstance(chain, cst.Subscript):
            for element in chain.slice:
                key = element.slice
                if not isinstance(key, cst.Index) or _same_value_reason(
                    context, factory, key.value, followed
                ):
                    return (
                        f"the key in `{quoted_code(chain)}` is not a literal, so cio-fix"
                        " cannot tell that it is the same on every request"
                    )
        chain = chain.value
    bound = factory.scope.assignments if factory.scope is not None else {}
    if chain is not node:
        if not isinstance(chain, cst.Name) or chain.value not in bound:
            changed = changed_key_reason(context, node, factory)
            if changed is not None:
                return changed
        return _same_value_reason(context, factory, chain, followed)
    if isinstance(chain, cst.Name) and chain.value in bound:
        if chain.value in followed:
            return None
        followed.add(chain.value)
        assigned = _local_value(factory, chain.value)
        if isinstance(assigned, str):
            return assigned
        return _same_value_reason(context, factory, assigned, followed)
    if isinstance(chain, (cst.Name, cst.Call)):
        return varying_value_reason(context, chain, factory)
    return f"cio-fix cannot tell whether `{quoted_code(node)}` is the same on every request"


def _operands(
    index: FileIndex, node: cst.BaseExpression
) -> list[cst.BaseExpression] | None:
    """Return the values that an expression only combines, or None for other expressions.

    `a or b`, `not a`, `a == b`, `b if a else c`, `int(a)`, an environment
    read with the default `a`, `a.strip()` and `a.format(b)` give the same
    result for the same values.
    """
    if isinstance(node, cst.BooleanOperation):
        return operands(node)
    if isinstance(node, cst.IfExp):
        return [node.test, node.body, node.orelse]
    if isinstance(node, cst.Comparison):
        return [node.left, *(item.comparator for item in node.comparisons)]
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
        return [node.expression]
    if not isinstance(node, cst.Call):
        return None
    arguments = [argument.value for argument in node.args]
    if env_variable_read(index, node) is not None or _is_conversion(index, node):
        return arguments
    func = node.func
    if isinstance(func, cst.Attribute) and func.attr.value in READING_STRING_METHODS:
        return [func.value, *arguments]
    return None


def _local_value(factory: FunctionInfo, name: str) -> cst.BaseExpression | str:
    """Return the value a factory assigns to its local `name`, or why cio-fix cannot tell it."""
    assert factory.scope is not None
    assignments = factory.scope.assignments[name]
    if len(assignments) > 1:
        return (
            f"`{name}` is bound more than once in `{factory.name}`, which cio-fix"
            " does not follow"
        )
    statement = assignments[0].statement
    body = factory.node.body
    lines = body.body if isinstance(body, cst.IndentedBlock) else [body]
    at_top = any(
        isinstance(line, (cst.SimpleStatementLine, cst.SimpleStatementSuite))
        and any(small is statement for small in line.body)
        for line in lines
    )
    if (
        not isinstance(statement, (cst.Assign, cst.AnnAssign))
        or statement.value is None
    ):
        return f"cio-fix does not follow how `{name}` is bound in `{factory.name}`"
    if not at_top:
        return (
            f"`{name}` is bound inside an `if`, loop, `try` or `with` block of"
            f" `{factory.name}`, which cio-fix does not follow"
        )
    return statement.value


def _global_target(
    index: FileIndex, construction: Construction, ancestors: list[cst.CSTNode]
) -> str | None:
    """Return the module-level name that the construction is assigned to through `global`."""
    # The index records only the assignments of names that a `global`
    # statement of the same function declares, so most files skip the rest.
    if not index.global_assignments:
        return None
    assignment = _assignment_of(construction, ancestors)
    if assignment is None:
        return None
    for target in assignment.targets:
        if not isinstance(target.target, cst.Name):
            continue
        name = target.target.value
        if any(
            rebinding.value is assignment.value
            for rebinding in index.global_assignments.get(name, [])
        ):
            return name
    return None


@dataclass(frozen=True)
class _Slot:
    """A place that keeps a client built once: a `global` name, a dict item or an attribute.

    `reads` returns True for an expression that evaluates to the kept
    client, or to None while the slot is unset (`_client`,
    `globals().get("_client")`, `_clients.get(site)`). `contains` returns
    True for a test that is true whenever the slot is set and false while
    it does not exist (`"_client" in globals()`, `site in _clients`,
    `hasattr(get_client, "client")`).
    """

    reads: Callable[[cst.BaseExpression], bool]
    contains: Callable[[cst.BaseExpression], bool]


def _fills_unset_global(
    context: FileContext,
    function: FunctionInfo,
    construction: Construction,
    ancestors: list[cst.CSTNode],
) -> bool:
    """Tell whether the construction is assigned to a `global` name only while it is unset.

    `if _client is None: _client = CustomerIO(...)` builds one client per
    process, and so do the other shapes that `_runs_while_unset` reads. A
    handler that assigns a new client to the name on every request, or
    that also assigns or deletes the name elsewhere (`_client = None` at
    its end), builds one per request. So does one that code unsets again
    (`_unsetting_of`).
    """
    index = context.index
    name = _global_target(index, construction, ancestors)
    if name is None:
        return False
    assignment = _assignment_of(construction, ancestors)
    assert assignment is not None
    assigned = [target.target for target in assignment.targets]
    for target in _assigned_targets(function.node.body):
        if _is_name(target, name) and not any(target is own for own in assigned):
            return False

    def reads(expression: cst.BaseExpression) -> bool:
        if _is_name(expression, name):
            return True
        return _globals_get(index, function, expression) == name

    def contains(expression: cst.BaseExpression) -> bool:
        membership = _membership(expression)
        return (
            membership is not None
            and literal_value(membership[0]) == name
            and _calls_builtin(index, function, membership[1], "globals", 0)
        )

    if not _runs_while_unset(construction, ancestors, _Slot(reads, contains)):
        return False
    return _unsetting_of(context, function, name) is None


def _unsetting_of(
    context: FileContext, function: FunctionInfo, name: str
) -> Change | None:
    """Return code that unsets the `global` name that `function` fills while it is unset.

    That is code in `function` itself, anywhere, as for its own assignments
    of the name. Elsewhere, it is code that runs on every request that a
    request handler serves, or on every pass of a loop, not only where a
    condition or an `except` clause decides. A reset after a failed call,
    or one that only tests or a shutdown hook run, leaves one client per
    process.
    NOTE: a reset under a condition that is true whenever the name is set
    (`if _client: _client = None` in a teardown hook) is not seen.
    """
    unsettings = _global_unsettings(context, name)
    for unsetting in unsettings:
        if unsetting.function is function:
            return unsetting
    for unsetting in unsettings:
        if _runs_on_every_request_or_pass(context, unsetting.function, unsetting.node):
            return unsetting
    return None


def _runs_on_every_request_or_pass(
    context: FileContext, function: FunctionInfo, node: cst.CSTNode
) -> bool:
    """Tell whether `node` runs on every pass of a loop around it, or on every request.

    The loop must be in `function`, and for the requests `function` must
    be a request handler. No condition may decide whether `node` runs
    (`runs_with_parent`).
    """
    parent_of = context.parent_map()
    child = node
    parent = parent_of.get(child)
    while parent is not None:
        if isinstance(parent, (cst.For, cst.While)) and child is parent.body:
            return True
        if parent is function.node:
            return child is parent.body and is_request_handler(context.index, function)
        if not runs_with_parent(child, parent):
            return False
        child, parent = parent, parent_of.get(parent)
    return False


def _global_unsettings(context: FileContext, name: str) -> list[Change]:
    """Return the code in the module's functions that may unset the module-level `name`.

    That is an assignment after `global name` that does not build a client
    (`_client = None`), a `del` after `global name`, and a write through
    `globals()` or the module object that may set or delete the name
    (`globals().pop("_client", None)`). A call of a module-level function
    that does one of these, itself or through calls of its own, counts
    too. Code at module level runs once, at import, so it does not count.
    """

    def compute(context: FileContext) -> list[Change]:
        return _find_global_unsettings(context, name)

    return context.shared(f"CIO601:unsettings:{name}", compute)


def _find_global_unsettings(context: FileContext, name: str) -> list[Change]:
    index = context.index
    found: list[Change] = []
    fills = _client_assignments(context)
    for assignment in index.global_assignments.get(name, []):
        function = assignment.scope.function
        if function is not None and id(assignment.statement) not in fills:
            action = f"rebinds `{name}` through `global`"
            found.append(Change(function, assignment.statement, action))
    for function in index.functions:
        scope = function.scope
        if scope is None or name not in scope.deletions:
            continue
        if _declares_global(function, name):
            action = f"deletes `{name}` through `global`"
            found.append(Change(function, scope.deletions[name][0], action))
    for namespace, writes in (
        ("`globals()`", globals_write_sites(index)),
        ("its module object", own_module_write_sites(index)),
    ):
        for write in writes:
            function = function_around(index, write.node)
            if function is None or not write.writes(name):
                continue
            if id(context.parent(context.parent(write.node))) in fills:
                # `globals()["_client"] = CustomerIO(...)` fills it.
                continue
            action = write_description(name, namespace, write)
            found.append(Change(function, write.node, action))
    found.extend(calls_of_changers(context, [change.function for change in found]))
    return found


def _client_assignments(context: FileContext) -> set[int]:
    """Return the ids of the assignments in the module whose value builds a client."""
    found = set()
    for construction in context.index.constructions:
        ancestors = list(context.ancestors(construction.node))
        assignment = _assignment_of(construction, ancestors)
        if assignment is not None:
            found.add(id(assignment))
    return found


def _declares_global(function: FunctionInfo, name: str) -> bool:
    """Tell whether a `global` statement in `function` names `name`.

    NOTE: a `global` of a nested function counts for the outer one too.
    """
    for statement in find_all(function.node.body, cst.Global):
        if any(item.name.value == name for item in statement.names):
            return True
    return False


def _globals_get(
    index: FileIndex, function: FunctionInfo, expression: cst.BaseExpression
) -> object:
    """Return the name that `globals().get("name")` reads (a None default too), or None."""
    if not _is_get_call(expression):
        return None
    assert isinstance(expression, cst.Call) and isinstance(
        expression.func, cst.Attribute
    )
    if not _calls_builtin(index, function, expression.func.value, "globals", 0):
        return None
    return literal_value(expression.args[0].value)


@dataclass(frozen=True)
class _DictItem:
    """The item of a module-level dict that a construction is assigned to: `_clients[site]`."""

    name: str
    key: cst.BaseExpression
    target: cst.Subscript


def _filled_item(
    index: FileIndex,
    function: FunctionInfo,
    construction: Construction,
    ancestors: list[cst.CSTNode],
) -> _DictItem | None:
    """Return the item that `_clients[key] = CustomerIO(...)` assigns, or None.

    The dict must be bound once at module level to a dict display or
    `dict(...)`, whose items stay until code removes them (a
    `weakref.WeakValueDictionary` drops a client nothing else keeps).
    """
    assignment = _assignment_of(construction, ancestors)
    if assignment is None or len(assignment.targets) != 1:
        return None
    target = assignment.targets[0].target
    if not isinstance(target, cst.Subscript) or len(target.slice) != 1:
        return None
    element = target.slice[0].slice
    if not isinstance(element, cst.Index) or not isinstance(target.value, cst.Name):
        return None
    name = target.value.value
    if name in local_names(function, ancestors) or not _is_module_dict(index, name):
        return None
    return _DictItem(name, element.value, target)


def _fills_unset_item(
    context: FileContext,
    function: FunctionInfo,
    construction: Construction,
    ancestors: list[cst.CSTNode],
) -> bool:
    """Tell whether the construction fills an item of a module-level dict only while it is unset.

    `if site not in _clients: _clients[site] = CustomerIO(...)` builds one
    client per key and process. The function must assign no other item of
    the dict. It may remove items where a condition decides (an `except`
    clause, a retry after a failed call). A removal that runs whenever the
    construction does, or before each call of the function in a caller that
    runs per request or per item, empties the dict for the next call.
    """
    item = _filled_item(context.index, function, construction, ancestors)
    if item is None:
        return False
    name, key = item.name, item.key
    removals = _item_removals(context, name)
    removing = removals + _item_removal_calls(context, removals)
    node = construction.node
    if _removals_on_every_run(context, function, node, ancestors, removing):
        return False
    if _emptying_caller(context, function, name, removing) is not None:
        return False
    # The `del` statements were judged above: one under a condition keeps the cache.
    deleted = {
        id(removal) for removal in removals if isinstance(removal, cst.Subscript)
    }
    for other in _assigned_targets(function.node.body):
        if (
            other is not item.target
            and id(other) not in deleted
            and isinstance(other, cst.Subscript)
            and _is_name(other.value, name)
        ):
            return False

    def reads(expression: cst.BaseExpression) -> bool:
        if not _is_get_call(expression):
            return False
        assert isinstance(expression, cst.Call) and isinstance(
            expression.func, cst.Attribute
        )
        return _is_name(expression.func.value, name) and expression.args[
            0
        ].value.deep_equals(key)

    def contains(expression: cst.BaseExpression) -> bool:
        membership = _membership(expression)
        return (
            membership is not None
            and membership[0].deep_equals(key)
            and _is_name(membership[1], name)
        )

    return _runs_while_unset(construction, ancestors, _Slot(reads, contains))


# The methods of a dict that remove items from it.
REMOVING_METHODS = frozenset({"pop", "popitem", "clear"})


def _item_removals(context: FileContext, name: str) -> list[cst.CSTNode]:
    """Return every removal of items from the dict `name` in the module.

    That is each `name[key]` that a `del` statement deletes, and each call
    of `name.pop(...)`, `name.popitem()` and `name.clear()`.
    """
    parent_of = context.parent_map()
    removals: list[cst.CSTNode] = []
    for node in context.names_with_value(name):
        parent = parent_of.get(node)
        if isinstance(parent, cst.Subscript) and parent.value is node:
            if is_deleted(parent, parent_of):
                removals.append(parent)
        elif isinstance(parent, cst.Attribute) and parent.value is node:
            call = parent_of.get(parent)
            if (
                parent.attr.value in REMOVING_METHODS
                and isinstance(call, cst.Call)
                and call.func is parent
            ):
                removals.append(call)
    return removals


def _item_removal_calls(
    context: FileContext, removals: list[cst.CSTNode]
) -> list[cst.CSTNode]:
    """Return the calls of the module's functions that remove items of a dict whenever they run.

    `removals` are the removals themselves (`_item_removals`). A function
    that runs one of them whenever it runs (`reset()` with
    `_clients.clear()`) counts, and so does a function that calls such a
    function whenever it runs. One that removes an item only after a
    failure does not, so a call of it removes nothing for sure.
    """
    index = context.index
    removers = []
    for removal in removals:
        function = function_around(index, removal)
        if function is not None and runs_whenever_called(context, function, removal):
            removers.append(function)
    if not removers:
        return []
    calls = calls_of_changers(context, removers, every_call=True)
    return [call.node for call in calls]


def _removals_on_every_run(
    context: FileContext,
    function: FunctionInfo,
    node: cst.CSTNode,
    ancestors: list[cst.CSTNode],
    removals: list[cst.CSTNode],
) -> list[cst.CSTNode]:
    """Return the removals that run, before or after `node`, whenever `node` runs.

    Such a removal sits in a block of `function` around the node, and no
    `if`, loop, `except` or `else` clause, `match`, conditional expression,
    `and`/`or` operand, comprehension or nested function of that block
    decides whether it runs. When a loop of that block runs the node and
    not the removal, the removal counts only where `function` runs per
    request or per item. A start-up function that empties the dict and
    then fills it in a loop builds one client per key. `ancestors` lists
    the node's parents, nearest first.
    """
    # The node's ancestors inside the function, by id, with their position.
    around: dict[int, int] = {}
    for position, ancestor in enumerate(ancestors):
        if ancestor is function.node:
            break
        around[id(ancestor)] = position
    parent_of = context.parent_map()
    per_call: bool | None = None
    found = []
    for removal in removals:
        position = _common_ancestor(removal, around, parent_of)
        if position is None:
            continue
        if loop_around(node, ancestors[: position + 1]) is not None:
            if per_call is None:
                per_call = runs_per_request_or_item(context.index, function)
            if not per_call:
                continue
        found.append(removal)
    return found


def _emptying_caller(
    context: FileContext,
    function: FunctionInfo,
    name: str,
    removals: list[cst.CSTNode],
) -> tuple[FunctionInfo, cst.CSTNode] | None:
    """Return a function that removes items of the dict `name` before it calls `function`.

    `_clients.pop(site, None)` before `client_for(site)` in a handler makes
    `client_for` build a new client on every request. The caller must run
    per request or per item, or call `function` in a loop, and a removal
    must run whenever that call does. The caller comes with that removal.
    None when no function does.
    """
    if not removals or function.parent is not None or function.class_info is not None:
        return None
    index = context.index
    parent_of = context.parent_map()
    for node in context.names_with_value(function.name):
        call = parent_of.get(node)
        if not isinstance(call, cst.Call) or call.func is not node:
            continue
        scope = index.scope_of(call)
        caller = scope.function if scope is not None else None
        if scope is None or caller is None or caller is function:
            continue
        bindings = index.assignments_of(function.name, scope)
        if len(bindings) != 1 or bindings[0].statement is not function.node:
            # The caller calls something else by that name.
            continue
        if binds_locally(scope, name):
            # The caller's removals empty a dict of its own.
            continue
        ancestors = list(context.ancestors(call))
        if (
            not runs_per_request_or_item(index, caller)
            and loop_around(call, ancestors) is None
        ):
            continue
        emptying = _removals_on_every_run(context, caller, call, ancestors, removals)
        for removal in emptying:
            if context.comes_before(removal, call):
                return caller, removal
    return None


def _common_ancestor(
    node: cst.CSTNode,
    around: dict[int, int],
    parent_of: Mapping[cst.CSTNode, cst.CSTNode],
) -> int | None:
    """Return the position in `around` of the nearest ancestor of `node` there.

    None when there is none, or when `node` may not run whenever that
    ancestor does.
    """
    child = node
    parent = parent_of.get(child)
    while parent is not None:
        if not runs_with_parent(child, parent):
            return None
        if id(parent) in around:
            return around[id(parent)]
        child, parent = parent, parent_of.get(parent)
    return None


def _removal_reason(
    context: FileContext, construction: Construction, ancestors: list[cst.CSTNode]
) -> str | None:
    """Return why a client in a dict that is emptied on every call must not be shared, or None.

    A removal before the construction, in its function or in a caller,
    throws the cached client away on purpose, and cio-fix cannot tell why
    (new keys, or closing the old client). A removal after it that uses the
    removed client may close it, which would close a shared client. One
    that only drops the dict's reference (a `del` statement, or a call
    whose result is unused) leaves a client that can still be shared.
    """
    function = construction.site.function
    if function is None:
        return None
    item = _filled_item(context.index, function, construction, ancestors)
    if item is None:
        return None
    name = item.name
    direct = _item_removals(context, name)
    calls = _item_removal_calls(context, direct)
    all_removals = direct + calls
    removals = _removals_on_every_run(
        context, function, construction.node, ancestors, all_removals
    )
    advice = f"remove a client from `{name}` only when a call with it fails"
    for removal in removals:
        if context.comes_before(removal, construction.node):
            through = _through_call(context, removal, calls)
            return (
                f"`{function.name}` removes the client from `{name}`{through} before"
                " it builds one, on every call, so the code may rely on a new"
                f" client each time; {advice}"
            )
    emptying = _emptying_caller(context, function, name, all_removals)
    if emptying is not None:
        caller, removal = emptying
        through = _through_call(context, removal, calls)
        return (
            f"`{caller.name}` removes the client from `{name}`{through} before it"
            f" calls `{function.name}`, on every call, so the code may rely on a"
            f" new client each time; {advice}"
        )
    parent_of = context.parent_map()
    called = {id(call) for call in calls}
    for removal in removals:
        if id(removal) in called:
            continue
        if isinstance(removal, cst.Call) and not isinstance(
            parent_of.get(removal), cst.Expr
        ):
            return (
                f"`{function.name}` takes the client out of `{name}` on every call"
                " and uses it afterwards, for example to close it, which would close"
                f" a shared client for every later request; {advice}"
            )
    return None


def _through_call(
    context: FileContext, removal: cst.CSTNode, calls: list[cst.CSTNode]
) -> str:
    """Return ` (through `reset()` on line 12)` when a removal is one of `calls`, else ""."""
    if not any(removal is call for call in calls):
        return ""
    assert isinstance(removal, cst.Call)
    line = context.message_line(removal)
    return f" (through `{quoted_code(removal.func)}()` on line {line})"


def _is_module_dict(index: FileIndex, name: str) -> bool:
    """Tell whether the module binds `name` once, to a dict display or `dict(...)`."""
    assignment = index.module_assignment(name)
    if assignment is None or not isinstance(
        assignment.statement, (cst.Assign, cst.AnnAssign)
    ):
        return False
    if rebinding_of(index, name) is not None:
        return False
    value = assignment.value
    if isinstance(value, cst.Dict):
        return True
    return (
        isinstance(value, cst.Call)
        and _is_name(value.func, "dict")
        and not index.binds_anywhere("dict")
    )


def _is_get_call(expression: cst.BaseExpression) -> bool:
    """Tell whether an expression is `X.get(key)` or `X.get(key, None)`."""
    if not isinstance(expression, cst.Call) or not isinstance(
        expression.func, cst.Attribute
    ):
        return False
    arguments = expression.args
    if expression.func.attr.value != "get" or len(arguments) not in (1, 2):
        return False
    if any(argument.keyword is not None or argument.star for argument in arguments):
        return False
    return len(arguments) == 1 or _is_name(arguments[1].value, "None")


def _membership(
    expression: cst.BaseExpression,
) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """Return the element and the container of `element in container`, or None."""
    if not isinstance(expression, cst.Comparison) or len(expression.comparisons) != 1:
        return None
    comparison = expression.comparisons[0]
    if not isinstance(comparison.operator, cst.In):
        return None
    return expression.left, comparison.comparator


def _runs_while_unset(
    construction: Construction, ancestors: list[cst.CSTNode], slot: _Slot
) -> bool:
    """Tell whether a test of the slot lets the construction run only while it is unset.

    The construction may sit in the body of an `if` or conditional
    expression that tests that the slot is unset, in its `else` or `elif`
    when it tests that the slot is set, or after `slot or` and `unset and`.
    It may also follow an `if` without `else`, in the same block or one
    around it, that ends with `return` (or `raise`, `continue`, `break`) and
    tests that the slot is set. No loop may run between the test and the
    construction.
    """
    return _runs_only_when(
        construction,
        ancestors,
        lambda test: _tests_unset(test, slot),
        lambda test: _tests_set(test, slot),
        across_loops=False,
    )


def _runs_while_set(
    construction: Construction, ancestors: list[cst.CSTNode], name: str
) -> bool:
    """Tell whether a test lets the construction run only while `name` is not None.

    The tests are those of `_runs_while_unset`, of a name that is a class
    or None: `if CustomerIO is not None:`, `if not CustomerIO: return` (or
    `raise`), `CustomerIO and CustomerIO(...)`. The name may be dotted
    (`compat.CustomerIO`).
    """
    return _runs_only_when(
        construction,
        ancestors,
        lambda test: _true_only_while_set(test, name),
        lambda test: _true_while_none(test, name),
        across_loops=True,
    )


def _runs_only_when(
    construction: Construction,
    ancestors: list[cst.CSTNode],
    true_only_then: Callable[[cst.BaseExpression], bool],
    true_otherwise: Callable[[cst.BaseExpression], bool],
    across_loops: bool,
) -> bool:
    """Tell whether a test in the function lets the construction run only when a condition holds.

    `true_only_then` accepts a test that is true only when it holds, and
    `true_otherwise` one that is true whenever it does not. With
    `across_loops` False, no loop may run between the test and the
    construction.
    """
    child: cst.CSTNode = construction.node
    for ancestor in ancestors:
        if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
            return False
        if isinstance(ancestor, (cst.For, cst.While)) and not across_loops:
            return False
        if isinstance(ancestor, (cst.If, cst.IfExp)):
            if child is ancestor.body and true_only_then(ancestor.test):
                return True
            if child is ancestor.orelse and true_otherwise(ancestor.test):
                return True
        elif isinstance(ancestor, cst.BooleanOperation) and child is ancestor.right:
            if isinstance(ancestor.operator, cst.Or):
                if true_otherwise(ancestor.left):
                    return True
            elif true_only_then(ancestor.left):
                return True
        elif isinstance(ancestor, cst.IndentedBlock) and _returns_when(
            ancestor, child, true_otherwise
        ):
            return True
        child = ancestor
    return False


def _true_only_while_set(test: cst.BaseExpression, name: str) -> bool:
    """Tell whether `test` is true only while `name`, a class or None, is a class."""
    if isinstance(test, cst.BooleanOperation):
        parts = operands(test)
        if isinstance(test.operator, cst.And):
            return any(_true_only_while_set(part, name) for part in parts)
        return all(_true_only_while_set(part, name) for part in parts)
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _true_while_none(test.expression, name)
    return dotted_name(test) == name or _compares_name_with_none(test, name, cst.IsNot)


def _true_while_none(test: cst.BaseExpression, name: str) -> bool:
    """Tell whether `test` is true whenever `name`, a class or None, is None."""
    if isinstance(test, cst.BooleanOperation):
        parts = operands(test)
        if isinstance(test.operator, cst.Or):
            return any(_true_while_none(part, name) for part in parts)
        return all(_true_while_none(part, name) for part in parts)
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _true_only_while_set(test.expression, name)
    return _compares_name_with_none(test, name, cst.Is)


def _compares_name_with_none(
    test: cst.BaseExpression, name: str, operator: type[cst.BaseCompOp]
) -> bool:
    """Tell whether `test` is `name is None` or `name is not None`, as `operator` selects.

    `name` may be dotted: `compat.CustomerIO is None`.
    """
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    comparison = test.comparisons[0]
    return (
        isinstance(comparison.operator, operator)
        and _is_name(comparison.comparator, "None")
        and dotted_name(test.left) == name
    )


def _tests_unset(test: cst.BaseExpression, slot: _Slot) -> bool:
    """Tell whether `test` is true only while the slot is unset.

    `x is None`, `not x`, `key not in d`, `not hasattr(...)`, an `and` with
    one such test, and an `or` of such tests count.
    """
    if isinstance(test, cst.BooleanOperation):
        if isinstance(test.operator, cst.And):
            return any(_tests_unset(part, slot) for part in operands(test))
        return all(_tests_unset(part, slot) for part in operands(test))
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _tests_set(test.expression, slot)
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    comparison = test.comparisons[0]
    if isinstance(comparison.operator, cst.NotIn):
        # `key not in d` is false exactly when `key in d` is true.
        return slot.contains(
            test.with_changes(comparisons=[comparison.with_changes(operator=cst.In())])
        )
    return _compares_with_none(test, cst.Is, slot)


def _tests_set(test: cst.BaseExpression, slot: _Slot) -> bool:
    """Tell whether `test` is true whenever the slot is set.

    `x`, `x is not None`, `key in d`, `hasattr(...)`, an `or` with one such
    test, and an `and` of such tests count.
    """
    if isinstance(test, cst.BooleanOperation):
        if isinstance(test.operator, cst.Or):
            return any(_tests_set(part, slot) for part in operands(test))
        return all(_tests_set(part, slot) for part in operands(test))
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _tests_unset(test.expression, slot)
    return (
        slot.reads(test)
        or slot.contains(test)
        or _compares_with_none(test, cst.IsNot, slot)
    )


def _compares_with_none(
    test: cst.BaseExpression, operator: type[cst.BaseCompOp], slot: _Slot
) -> bool:
    """Tell whether `test` is `x is None` or `x is not None` of the slot, as `operator` selects."""
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    comparison = test.comparisons[0]
    return (
        isinstance(comparison.operator, operator)
        and _is_name(comparison.comparator, "None")
        and slot.reads(test.left)
    )


def _returns_when(
    block: cst.IndentedBlock,
    child: cst.CSTNode,
    true_otherwise: Callable[[cst.BaseExpression], bool],
) -> bool:
    """Tell whether an `if` before `child` in `block` leaves it whenever a condition fails.

    That `if` has no `else`, its test is one that `true_otherwise` accepts,
    and its body ends with `return`, `raise`, `continue` or `break`.
    """
    for statement in block.body:
        if statement is child:
            return False
        if (
            isinstance(statement, cst.If)
            and statement.orelse is None
            and true_otherwise(statement.test)
            and _ends_path(statement.body)
        ):
            return True
    return False


# Statements after which the rest of the block does not run. A `continue` or
# `break` ends the block too, because Python allows them only inside a loop
# whose body contains the whole block.
PATH_ENDS = (cst.Return, cst.Raise, cst.Continue, cst.Break)


def _ends_path(body: cst.BaseSuite) -> bool:
    statements = body.body
    if not statements:
        return False
    last = statements[-1]
    if isinstance(last, cst.SimpleStatementLine):
        return isinstance(last.body[-1], PATH_ENDS)
    return isinstance(last, PATH_ENDS)


def _ends_with_return(body: cst.BaseSuite) -> bool:
    statements = body.body
    if not statements:
        return False
    last = statements[-1]
    if isinstance(last, cst.SimpleStatementLine):
        return isinstance(last.body[-1], cst.Return)
    return isinstance(last, cst.Return)


# A resolver of `owner.attribute` in a function: (owner, attribute) -> (name of
# the class or function that owns the attribute, attribute), or None.
_VariableOf = Callable[[cst.BaseExpression, str], "tuple[str, str] | None"]


def _fills_unset_attribute(
    index: FileIndex,
    function: FunctionInfo,
    construction: Construction,
    ancestors: list[cst.CSTNode],
) -> bool:
    """Tell whether the construction fills a class variable or function attribute only while unset.

    `if self.client is None: type(self).client = CustomerIO(...)` builds one
    client per process, like a lazily built global, and so does
    `if not hasattr(get_client, "client"): get_client.client = ...` on a
    function that the module defines once. The test must read the same
    attribute of the same class or function, in a shape that
    `_runs_while_unset` reads, and the function may set or delete that
    attribute nowhere else (`type(self).client = None` would unset it for
    the next request). `self.client = ...` sets an instance attribute,
    which a view instantiated per request builds again for every request.
    """
    assignment = _assignment_of(construction, ancestors)
    if assignment is None or len(assignment.targets) != 1:
        return False
    target = assignment.targets[0].target
    if not isinstance(target, cst.Attribute):
        return False
    attribute = target.attr.value

    def class_variable(owner: cst.BaseExpression, name: str) -> tuple[str, str] | None:
        return _variable_of(index, function, owner, name, reading=True)

    def assigned_class_variable(
        owner: cst.BaseExpression, name: str
    ) -> tuple[str, str] | None:
        return _variable_of(index, function, owner, name, reading=False)

    # Reading `self.client` may reach the class variable, but assigning it
    # sets an instance attribute, so reads and writes resolve apart.
    variable_of: _VariableOf = class_variable
    assigned_of: _VariableOf = assigned_class_variable
    variable = assigned_of(target.value, attribute)
    if variable is None:
        owner = _function_named_by(index, function, target.value, ancestors)
        if owner is None:
            return False

        def function_attribute(
            expression: cst.BaseExpression, name: str
        ) -> tuple[str, str] | None:
            return (owner, name) if _is_name(expression, owner) else None

        variable_of = assigned_of = function_attribute
        variable = (owner, attribute)
    for other in _assigned_targets(function.node.body):
        if (
            other is not target
            and isinstance(other, cst.Attribute)
            and assigned_of(other.value, other.attr.value) == variable
        ):
            return False

    def reads(expression: cst.BaseExpression) -> bool:
        return _read_variable(index, function, expression, variable_of) == variable

    def contains(expression: cst.BaseExpression) -> bool:
        return _hasattr_variable(index, function, expression, variable_of) == variable

    return _runs_while_unset(construction, ancestors, _Slot(reads, contains))


def _function_named_by(
    index: FileIndex,
    function: FunctionInfo,
    owner: cst.BaseExpression,
    ancestors: list[cst.CSTNode],
) -> str | None:
    """Return the name of the module-level function that `owner` denotes, or None.

    The module must bind the name once, to that `def`, so the function
    object and its attributes live as long as the process.
    """
    if not isinstance(owner, cst.Name):
        return None
    name = owner.value
    assignment = index.module_assignment(name)
    if assignment is None or not isinstance(assignment.statement, cst.FunctionDef):
        return None
    if name in local_names(function, ancestors):
        return None
    return name if rebinding_of(index, name) is None else None


def _assignment_of(
    construction: Construction, ancestors: list[cst.CSTNode]
) -> cst.Assign | None:
    """Return the assignment of the construction's client: `target = CustomerIO(...)`.

    The value may also be an `or`, `and` or conditional expression that
    gives the client (`_client = _client or CustomerIO(...)`). The parent is
    read from `ancestors` because a one-line body
    (`if ...: target = CustomerIO(...)`) has no statement line of its own.
    """
    child: cst.CSTNode = construction.node
    for ancestor in ancestors:
        if isinstance(ancestor, cst.Assign):
            return ancestor if ancestor.value is child else None
        if isinstance(ancestor, cst.IfExp) and child is ancestor.test:
            return None
        if not isinstance(ancestor, (cst.BooleanOperation, cst.IfExp)):
            return None
        child = ancestor
    return None


def _read_variable(
    index: FileIndex,
    function: FunctionInfo,
    expression: cst.BaseExpression,
    variable_of: _VariableOf,
) -> tuple[str, str] | None:
    """Return the attribute that `X.attr` or `getattr(X, "attr", None)` reads."""
    if isinstance(expression, cst.Attribute):
        return variable_of(expression.value, expression.attr.value)
    if _calls_builtin(index, function, expression, "getattr", 3):
        assert isinstance(expression, cst.Call)
        default = expression.args[2].value
        if not isinstance(default, cst.Name) or default.value != "None":
            return None
        return _attribute_argument(expression, variable_of)
    return None


def _hasattr_variable(
    index: FileIndex,
    function: FunctionInfo,
    expression: cst.BaseExpression,
    variable_of: _VariableOf,
) -> tuple[str, str] | None:
    """Return the attribute that `hasattr(X, "attr")` tests."""
    if not _calls_builtin(index, function, expression, "hasattr", 2):
        return None
    assert isinstance(expression, cst.Call)
    return _attribute_argument(expression, variable_of)


def _calls_builtin(
    index: FileIndex,
    function: FunctionInfo,
    expression: cst.BaseExpression,
    name: str,
    arguments: int,
) -> bool:
    """Tell whether `expression` in `function` calls the builtin `name` with `arguments` arguments.

    A name that the module binds itself may call something else, so a
    lazy cache's test with it proves nothing.
    """
    return _is_builtin_call(expression, name, arguments) and _is_builtin_name(
        index, function, name
    )


def _is_builtin_name(index: FileIndex, function: FunctionInfo, name: str) -> bool:
    """Tell whether `name`, looked up in `function`, is the builtin of that name.

    It is not when the function, a function around it or the module binds
    the name (a `def`, an import, an assignment or a parameter), or when
    any function assigns it after `global name`. NOTE: a star import that
    binds the name is not seen.
    """
    if name in index.module_imports or name in index.global_assignments:
        return False
    assert function.scope is not None
    return not any(
        name in scope.assignments or name in scope.imports
        for scope in function.scope.lookup_chain()
    )


def _is_builtin_call(expression: cst.BaseExpression, name: str, arguments: int) -> bool:
    return (
        isinstance(expression, cst.Call)
        and isinstance(expression.func, cst.Name)
        and expression.func.value == name
        and len(expression.args) == arguments
        and all(
            argument.keyword is None and not argument.star
            for argument in expression.args
        )
    )


def _attribute_argument(
    call: cst.Call, variable_of: _VariableOf
) -> tuple[str, str] | None:
    """Return the class or function and attribute named by the arguments `(X, "attr", ...)`."""
    attribute = literal_value(call.args[1].value)
    if not isinstance(attribute, str):
        return None
    return variable_of(call.args[0].value, attribute)


def _variable_of(
    index: FileIndex,
    function: FunctionInfo,
    owner: cst.BaseExpression,
    attribute: str,
    reading: bool,
) -> tuple[str, str] | None:
    """Return the class and attribute that `owner.attribute` reads or sets, or None.

    Reading `self.attribute` reaches the class variable only when no method
    of the class sets `self.attribute` (an `__init__` that sets
    `self.client = None` hides the class variable from every instance).
    """
    class_name = _class_named_by(index, function, owner, reading)
    if class_name is None:
        return None

    first = _first_parameter(function)
    reads_instance = (
        first is not None
        and _is_name(owner, first)
        and "classmethod" not in function.decorators
    )
    if reads_instance and function.class_info is not None:
        for assignment in function.class_info.attributes.get(attribute, []):
            if assignment.scope.kind != "class":
                return None
    return (class_name, attribute)


def _class_named_by(
    index: FileIndex, function: FunctionInfo, owner: cst.BaseExpression, reading: bool
) -> str | None:
    """Return the name of the class that `owner` denotes in a method, or None.

    That is a class of the module by name, and, for the method's class,
    `cls` of a classmethod, `type(self)` and `self.__class__`. `self.attr`
    counts only when `reading`: an instance without its own `attr` reads
    the class variable, but assigning `self.attr` sets an instance attribute.
    """
    if isinstance(owner, cst.Name) and any(
        class_info.name == owner.value for class_info in index.classes
    ):
        return owner.value
    class_info = function.class_info
    first = _first_parameter(function)
    if class_info is None or first is None:
        return None
    if "classmethod" in function.decorators:
        return class_info.name if _is_name(owner, first) else None
    if reading and _is_name(owner, first):
        return class_info.name
    if isinstance(owner, cst.Attribute) and owner.attr.value == "__class__":
        return class_info.name if _is_name(owner.value, first) else None
    if _is_builtin_call(owner, "type", 1):
        assert isinstance(owner, cst.Call)
        return class_info.name if _is_name(owner.args[0].value, first) else None
    return None


def _first_parameter(function: FunctionInfo) -> str | None:
    """Return the name of a method's `self` or `cls` parameter, or None."""
    if "staticmethod" in function.decorators:
        return None
    parameters = function.node.params
    positional = [*parameters.posonly_params, *parameters.params]
    return positional[0].name.value if positional else None


def _is_name(node: cst.BaseExpression, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name


def _waits_for_pooling_fix(context: FileContext, construction: Construction) -> bool:
    """Tell whether CIO602 fixes the construction's pooling argument in this pass.

    It must decide as CIO602 does, because a hoist that waits for a fix
    that never comes would wait in every pass.
    A run without CIO602 gives such a construction a helper of its own
    (`_customerio_client_2`). A later run of CIO602 merges the two helpers
    once it removes the argument (`_merged_helpers_fix`).
    NOTE: while the construction waits, the construction of a client with
    other arguments below it can take `_customerio_client` first. Runs of
    CIO601 and CIO602 one at a time name the helpers in source order, so
    their code for such a file differs in the helper names.
    """
    argument = _pooling_argument(construction)
    if argument is None or _pooling_fix(context, construction, argument) is None:
        return False
    if not _runs_rule(context, "CIO602"):
        return False
    return not is_silenced(context, "CIO602", argument)


def _runs_rule(context: FileContext, code: str) -> bool:
    """Tell whether the run selects a rule and does not ignore it."""
    config = context.config
    selected = any(matches_selector(code, selector) for selector in config.selected)
    ignored = any(matches_selector(code, selector) for selector in config.ignored)
    return selected and not ignored


def _unmovable_reason(
    context: FileContext,
    construction: Construction,
    locals_: set[str],
    function: FunctionInfo | None,
) -> str | None:
    """Return why a construction cannot be built once, outside its function, or None.

    An argument that reads a local name goes to a keyed factory, which the
    function calls with the local value, so only the constructor and the
    other arguments must mean the same outside the function.
    """
    local = sorted(read_names(construction.node.func) & locals_)
    if local:
        name = local[0]
        where = "the loop"
        binding = "bound"
        if function is not None:
            where = f"`{function.name}`"
            if any(
                scope and name in scope.imports for scope in _enclosing_scopes(function)
            ):
                binding = "imported"
        return (
            f"`{name}` is {binding} inside {where}, so a client built once outside"
            " it cannot use it"
        )

    # The names the moved code reads, in the order of the call.
    moved = sorted(read_names(construction.node.func))
    for argument in construction.node.args:
        names = read_names(argument.value)
        if not names & locals_:
            moved.extend(sorted(names))
    # An optional SDK's class is None only where it is not installed
    # (`_optional_constructor_reason`), so it is no placeholder.
    optional = _optional_constructors(context, construction)
    for name in moved:
        rebinding = rebinding_reason(context, name, placeholders=name not in optional)
        if rebinding is not None:
            return f"{rebinding}, so a client built once could keep its old value"
    return None


def _optional_constructors(
    context: FileContext, construction: Construction
) -> set[str]:
    """Return the names the constructor reads that are None when their import fails.

    A class alias of such a name (`Client = CustomerIO`) counts too. A
    class that a project module imports optionally, or a class alias of it
    there, counts when this module imports it from that module (`from
    compat import CustomerIO`), by the name that the constructor calls:
    `CustomerIO`, or `compat.CustomerIO`.
    """
    func = construction.node.func
    dotted = dotted_name(func)
    if dotted is None:
        names = read_names(func)
        return {name for name in names if _import_fallback(context, name) is not None}
    # `CustomerIO` and `customerio.CustomerIO` read their first name only.
    head = dotted.partition(".")[0]
    if _import_fallback(context, head) is not None:
        return {head}
    if _optional_module(context, func) is not None:
        return {dotted}
    return set()


def _import_fallback(context: FileContext, name: str) -> cst.Assign | None:
    """Return the `= None` fallback of the import that `name` is or is a class alias of."""
    imported = context.index.class_aliases.get(name, name)
    return import_fallback(context.index, imported, context.parent)


def _optional_module(
    context: FileContext, func: cst.BaseExpression
) -> ModuleSummary | None:
    """Return the project module that sets the client class `func` names to None, if any."""
    reexported = context.index.reexported_class(func)
    return reexported.optional_in if reexported is not None else None


def _failed_import_text(name: str, imported: str) -> str:
    """Name the import whose failure sets `name` to None: its own, or the aliased one."""
    if name.rpartition(".")[2] == imported:
        return "its import"
    return f"the import of `{imported}`"


def _optional_constructor_reason(
    context: FileContext, construction: Construction, ancestors: list[cst.CSTNode]
) -> str | None:
    """Return why a client of an optional SDK is left in place, or None.

    The fix builds such a client in a factory, called where the
    construction was, and only where a test that the class is not None
    comes first (`_runs_while_set`): then the factory runs only where the
    SDK is installed.
    """
    for name in sorted(_optional_constructors(context, construction)):
        if _runs_while_set(construction, ancestors, name):
            continue
        fallback = _import_fallback(context, name)
        if fallback is not None:
            imported = context.index.class_aliases.get(name, name)
            line = context.message_line(fallback)
            failed = f"{_failed_import_text(name, imported)} fails (line {line})"
        else:
            reexported = context.index.reexported_class(construction.node.func)
            assert reexported is not None and reexported.optional_in is not None
            assert reexported.optional_import is not None
            imported = _failed_import_text(name, reexported.optional_import)
            path = display_path(reexported.optional_in.path)
            failed = f"{imported} in {path} fails"
        return (
            f"`{name}` is None when {failed}, and cio-fix builds the client once"
            f" only after a test that `{name}` is not None"
        )
    return None


def _class_variable_reason(
    index: FileIndex, construction: Construction, ancestors: list[cst.CSTNode]
) -> str | None:
    """Return why a client assigned to a class variable must stay per request, or None.

    A class variable (`Service.client = ...`, `type(self).client`,
    `self.__class__.client`, `cls.client`) is shared with all code that
    reaches the class. Code elsewhere may read it, replace it or close the
    client in it, and then rely on the next request to put a new client there.
    """
    assignment = _assignment_of(construction, ancestors)
    if assignment is None:
        return None
    function = construction.site.function
    for target in assignment.targets:
        if _is_class_attribute(index, function, target.target):
            return (
                f"it is stored in the class variable `{quoted_code(target.target)}`,"
                " which other code may read, replace or close, so one shared"
                " client could behave differently"
            )
    return None


def _global_variable_reason(
    context: FileContext, construction: Construction, ancestors: list[cst.CSTNode]
) -> str | None:
    """Return why a client assigned to a `global` name must stay per request, or None.

    Like a class variable, a module-level name is shared with all code
    that imports the module, which may close or replace the client in it.
    Code that unsets the name on every request (`_unsetting_of`) may rely
    on a new client each time.
    """
    name = _global_target(context.index, construction, ancestors)
    if name is None:
        return None
    function = _running_function(construction, ancestors)
    unsetting = None
    if function is not None:
        unsetting = _unsetting_of(context, function, name)
    if unsetting is not None:
        subject = None
        if unsetting.function is not function:
            subject = (
                f"`{unsetting.function.name}`, which runs per request or per item,"
            )
        unsettings = _global_unsettings(context, name)
        text = change_text(context, unsetting, unsettings, subject)
        return (
            f"{text}, so the code may rely on a new client each time; unset"
            f" `{name}` only when a call with the client fails"
        )
    return (
        f"it is stored in the module-level `{name}`, which other code may read,"
        " replace or close, so one shared client could behave differently"
    )


def _is_class_attribute(
    index: FileIndex, function: FunctionInfo | None, target: cst.BaseExpression
) -> bool:
    """Tell whether an assignment target is an attribute of a class, not of an instance."""
    if not isinstance(target, cst.Attribute):
        return False
    owner = target.value
    if isinstance(owner, cst.Name):
        if any(class_info.name == owner.value for class_info in index.classes):
            return True
        # `cls.client` in a classmethod
        return (
            function is not None
            and _class_named_by(index, function, owner, reading=False) is not None
        )
    if isinstance(owner, cst.Attribute):
        # `self.__class__.client`
        return owner.attr.value == "__class__"
    # `type(self).client`
    return (
        isinstance(owner, cst.Call)
        and isinstance(owner.func, cst.Name)
        and owner.func.value == "type"
        and len(owner.args) == 1
    )


def _enclosing_scopes(function: FunctionInfo) -> Iterator[Scope | None]:
    """Yield the scope of a function and of each function around it."""
    current: FunctionInfo | None = function
    while current is not None:
        yield current.scope
        current = current.parent


# Calls that close the client passed to them when their block ends: contextlib's
# `closing()` and `aclosing()`, and an ExitStack's `enter_context()`.
CLOSING_WRAPPERS = ("closing", "aclosing", "enter_context", "enter_async_context")


def _closing_wrapper(
    construction: Construction, ancestors: list[cst.CSTNode]
) -> cst.Call | None:
    """Return the call that closes the client it gets, when the construction is its argument."""
    if len(ancestors) < 2 or not isinstance(ancestors[0], cst.Arg):
        return None
    call = ancestors[1]
    if not isinstance(call, cst.Call):
        return None
    name = dotted_name(call.func)
    if name is None or name.rpartition(".")[2] not in CLOSING_WRAPPERS:
        return None
    return call


def _with_statement(
    construction: Construction, ancestors: list[cst.CSTNode]
) -> cst.With | bool | None:
    """Return the `with` statement built on the construction, False if it cannot be unwrapped."""
    if len(ancestors) < 2 or not isinstance(ancestors[0], cst.WithItem):
        return None
    item, statement = ancestors[0], ancestors[1]
    if not isinstance(statement, cst.With) or item.item is not construction.node:
        return None
    if len(statement.items) != 1 or statement.asynchronous is not None:
        return False
    if item.asname is None or not isinstance(item.asname.name, cst.Name):
        return False
    return statement


def _closing_reason(
    context: FileContext,
    construction: Construction,
    site: _Site,
    with_statement: cst.With | bool | None,
) -> str | None:
    """Return why the client cannot be shared because the code closes it, or None.

    A shared client closed at the end of one request is closed for every
    later one. `with Client(...) as cio:` is fine when the fix unwraps it
    and nothing else in the function closes `cio`.
    """
    closed = "so a shared client would be closed for every later request"
    if with_statement is False:
        return f"the `with` statement closes the client at its end, {closed}"
    function = construction.site.function
    if isinstance(with_statement, cst.With):
        item = with_statement.items[0]
        assert item.asname is not None and isinstance(item.asname.name, cst.Name)
        name = item.asname.name.value
        if function is not None and name in _closed_by(context, function.node):
            return f"`{function.name}` closes `{name}`, {closed}"
        return None
    wrapper = _closing_wrapper(construction, site.ancestors)
    if wrapper is not None:
        return f"`{quoted_code(wrapper.func)}()` closes the client, {closed}"
    if _closed_later(context, construction):
        assert function is not None
        return f"`{function.name}` closes the client, {closed}"
    return None


def _closed_later(context: FileContext, construction: Construction) -> bool:
    """Tell whether the variable bound to a construction is closed in its function.

    That is `with cio:` (or `async with`) on it, or a call of its `close()`.
    """
    site = construction.site
    return _bound_and_closed(context, site.statement, site.function)


def _result_closed(
    context: FileContext,
    call: cst.Call,
    statement: cst.CSTNode | None,
    function: FunctionInfo | None,
) -> bool:
    """Tell whether the client a call returns is closed: `with call() as cio:` or later.

    `with contextlib.closing(call()) as cio:` closes it too.
    """
    parent = context.parent(call)
    if isinstance(parent, cst.Arg):
        wrapper = context.parent(parent)
        name = dotted_name(wrapper.func) if isinstance(wrapper, cst.Call) else None
        if name is not None and name.rpartition(".")[2] == "closing":
            parent = context.parent(wrapper)
    if isinstance(parent, cst.WithItem):
        return True
    return _bound_and_closed(context, statement, function, call)


def _bound_and_closed(
    context: FileContext,
    statement: cst.CSTNode | None,
    function: FunctionInfo | None,
    value: cst.CSTNode | None = None,
) -> bool:
    """Tell whether `statement` binds a name that `function` then closes.

    With `value`, the statement must bind that node itself.
    """
    if function is None or not isinstance(statement, cst.SimpleStatementLine):
        return False
    assign = statement.body[0]
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return False
    if value is not None and assign.value is not value:
        return False
    target = assign.targets[0].target
    if not isinstance(target, cst.Name):
        return False
    return target.value in _closed_by(context, function.node)


def _closed_by(context: FileContext, function: cst.FunctionDef) -> set[str]:
    """Return the names a function closes, computed once per function."""
    closed = context.shared("CIO601:closed", lambda _: {})
    key = id(function)
    if key not in closed:
        # Set first, so that a function that calls itself ends the recursion.
        closed[key] = set()
        closed[key] = _closed_names(context, function)
    return closed[key]  # type: ignore[no-any-return]


def _closed_names(context: FileContext, function: cst.FunctionDef) -> set[str]:
    """Return the names a function closes: `with name:`, `name.close()` or `name.x.close()`.

    A name bound to another one (`other = name`) closes it when it is closed,
    and so does a call of a module-level function of this file that closes
    the parameter the name is passed to (`finish(cio)`).
    NOTE: a function of another module that closes what it is given is not seen.
    """
    names = set()
    aliases = []
    for node in find_all(function, cst.With, cst.Call, cst.Assign):
        if isinstance(node, cst.With):
            for item in node.items:
                names.add(dotted_name(item.item))
        elif isinstance(node, cst.Assign):
            if isinstance(node.value, cst.Name):
                for target in node.targets:
                    if isinstance(target.target, cst.Name):
                        aliases.append((target.target.value, node.value.value))
        else:
            receiver, _, method = (dotted_name(node.func) or "").rpartition(".")
            # `cio.http.close()` closes the session that the client `cio` sends with.
            while method == "close" and receiver:
                names.add(receiver)
                receiver = receiver.rpartition(".")[0]
            names |= _passed_to(context, node, _closed_by)
    for _ in range(len(aliases)):
        more = {value for target, value in aliases if target in names}
        if more <= names:
            break
        names |= more
    names.discard(None)
    return names  # type: ignore[return-value]


def _passed_to(
    context: FileContext,
    call: cst.Call,
    acted_on: Callable[[FileContext, cst.FunctionDef], Collection[str]],
) -> set[str]:
    """Return the names a call passes to parameters in `acted_on` of the called function.

    `acted_on` returns the names a function closes or changes.
    """
    if not isinstance(call.func, cst.Name):
        return set()
    callee = _module_functions(context).get(call.func.value)
    if callee is None:
        return set()
    closed = acted_on(context, callee.node)
    if not closed:
        return set()
    parameters = callee.node.params
    positional = [*parameters.posonly_params, *parameters.params]
    names = set()
    for position, argument in enumerate(call.args):
        if argument.star or not isinstance(argument.value, cst.Name):
            continue
        if argument.keyword is not None:
            parameter = argument.keyword.value
        elif position < len(positional):
            parameter = positional[position].name.value
        else:
            continue
        if parameter in closed:
            names.add(argument.value.value)
    return names


# The end of the reason for withholding a fix that would share a client that
# some code changes.
KEEPS_CHANGES = "would keep any change this makes for every later request"


def _changed_client_reason(
    context: FileContext,
    construction: Construction,
    with_statement: cst.With | bool | None,
) -> str | None:
    """Return why the client cannot be shared because its code changes it, or None.

    A setting changed on one request's client (`cio.timeout = 1`) would
    stay on the shared client for every later request, in every handler.
    The code is the function that builds it and, for a client kept in an
    instance attribute (`self.client`), the other methods of its class.
    """
    function = construction.site.function
    name = _client_name(construction, with_statement)
    if function is None or name is None:
        return None
    change = _changed_by(context, function.node).get(name)
    if change is not None:
        return (
            f"`{function.name}` {change} after building the client, so a shared"
            f" client {KEEPS_CHANGES}"
        )
    return _instance_attribute_change(context, function, name)


def _result_changed(
    context: FileContext,
    call: cst.Call,
    statement: cst.CSTNode | None,
    function: FunctionInfo | None,
) -> str | None:
    """Return why the object a call returns must not be cached because the caller changes it.

    The call must be the value of an assignment to one name or attribute
    (`c = make_client()`, `self.client = make_client()`), which the calling
    function, or another method of its class, then changes.
    NOTE: a result changed without a name (`make_client().timeout = 1`,
    `tune(make_client())`) or at module level is not seen.
    """
    if function is None or not isinstance(statement, cst.SimpleStatementLine):
        return None
    assign = statement.body[0]
    if not isinstance(assign, cst.Assign) or len(assign.targets) != 1:
        return None
    if assign.value is not call:
        return None
    name = dotted_name(assign.targets[0].target)
    if name is None:
        return None
    change = _changed_by(context, function.node).get(name)
    if change is not None:
        return (
            f"`{function.name}` {change} after calling `{quoted_code(call.func)}()`,"
            f" so a cached client {KEEPS_CHANGES}"
        )
    return _instance_attribute_change(context, function, name)


def _instance_attribute_change(
    context: FileContext, function: FunctionInfo, name: str
) -> str | None:
    """Return why sharing the client in the instance attribute `name` is wrong, or None.

    `name` is an attribute of the method's first parameter (`self.client`).
    The reason is another method of the class that changes the client (a
    change that `_changed_names` finds), or that assigns or deletes the
    attribute itself, because a class that replaces its client may count
    on having one of its own.
    NOTE: methods of base classes and subclasses are not read.
    """
    class_info = function.class_info
    first = _first_parameter(function)
    owner, _, attribute = name.partition(".")
    if class_info is None or owner != first or not attribute or "." in attribute:
        return None
    return _class_attribute_change(context, class_info, attribute, function)


def _class_attribute_change(
    context: FileContext,
    class_info: ClassInfo,
    attribute: str,
    skipped: FunctionInfo | None = None,
) -> str | None:
    """Return why the client in an instance attribute cannot be shared, or None.

    The reason is a method of the class other than `skipped` that changes
    the client, or that assigns or deletes the attribute.
    """
    for method in context.index.functions:
        if method.class_info is not class_info or method is skipped:
            continue
        if method.parent is not None or "classmethod" in method.decorators:
            continue
        method_first = _first_parameter(method)
        if method_first is None:
            continue
        where = f"`{class_info.name}.{method.name}`"
        alias = f"{method_first}.{attribute}"
        change = _changed_by(context, method.node).get(alias)
        if change is not None:
            return f"{where} {change}, so a shared client {KEEPS_CHANGES}"
        if _assigns_attribute(method, alias):
            return (
                f"{where} replaces or deletes `{alias}`, so the class manages its"
                " client itself and may count on having one of its own"
            )
    return None


def _assigns_attribute(function: FunctionInfo, name: str) -> bool:
    """Tell whether a function assigns or deletes the dotted `name` (`self.client`)."""
    targets = _assigned_targets(function.node.body)
    return any(dotted_name(target) == name for target in targets)


def _assigned_targets(node: cst.CSTNode) -> Iterator[cst.BaseExpression]:
    """Yield every target that the assignments and `del` statements in `node` bind.

    The elements of a tuple or list target (`a, self.client = ...`) and
    starred elements come one by one.
    """
    targets: list[cst.BaseExpression] = []
    for statement in find_all(node, cst.Assign, cst.AugAssign, cst.AnnAssign, cst.Del):
        if isinstance(statement, cst.Assign):
            targets.extend(target.target for target in statement.targets)
        else:
            targets.append(statement.target)
    while targets:
        target = targets.pop()
        if isinstance(target, (cst.Tuple, cst.List)):
            targets.extend(element.value for element in target.elements)
        elif isinstance(target, cst.StarredElement):
            targets.append(target.value)
        else:
            yield target


def _client_name(
    construction: Construction, with_statement: cst.With | bool | None
) -> str | None:
    """Return the name or attribute (`cio`, `self.client`) that a construction is bound to."""
    if isinstance(with_statement, cst.With):
        item = with_statement.items[0]
        assert item.asname is not None
        return dotted_name(item.asname.name)
    statement = construction.site.statement
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    for small in statement.body:
        if isinstance(small, cst.Assign) and small.value is construction.node:
            if len(small.targets) == 1:
                return dotted_name(small.targets[0].target)
        elif isinstance(small, cst.AnnAssign) and small.value is construction.node:
            return dotted_name(small.target)
    return None


def _changed_by(context: FileContext, function: cst.FunctionDef) -> dict[str, str]:
    """Return the names whose objects a function may change, computed once per function."""
    changed = context.shared("CIO601:changed", lambda _: {})
    key = id(function)
    if key not in changed:
        # Set first, so that a function that calls itself ends the recursion.
        changed[key] = {}
        changed[key] = _changed_names(context, function)
    return changed[key]  # type: ignore[no-any-return]


def _changed_names(context: FileContext, function: cst.FunctionDef) -> dict[str, str]:
    """Return the names whose objects a function may change, each with its first change.

    A change is setting or deleting an attribute or item (`cio.timeout = 1`,
    `cio.session.headers["X"] = ...`), or `setattr()` or `delattr()` on it.
    A call of a method that no Customer.io SDK sends with
    (`cio.session.mount()`) counts too, and so does passing the name to a
    module-level function of this file that changes that parameter.
    `close()` is left to `_closed_names`. A name bound to another one
    (`other = cio`) changes it when it is changed.
    """
    changes: dict[str, str] = {}
    aliases = []
    for node in find_all(
        function, cst.Assign, cst.AugAssign, cst.AnnAssign, cst.Del, cst.Call
    ):
        if isinstance(node, cst.Call):
            _add_call_changes(context, node, changes)
            continue
        if isinstance(node, cst.Assign):
            targets = [target.target for target in node.targets]
            if isinstance(node.value, cst.Name):
                aliases.extend(
                    (target.value, node.value.value)
                    for target in targets
                    if isinstance(target, cst.Name)
                )
        else:
            targets = [node.target]
        verb = "deletes" if isinstance(node, cst.Del) else "sets"
        for target in targets:
            _add_target_changes(target, verb, changes)
    for _ in range(len(aliases)):
        more = {
            value: changes[target]
            for target, value in aliases
            if target in changes and value not in changes
        }
        if not more:
            break
        changes.update(more)
    return changes


def _add_target_changes(
    target: cst.BaseExpression, verb: str, changes: dict[str, str]
) -> None:
    """Record the objects whose attribute or item an assignment or `del` target changes."""
    if isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            _add_target_changes(element.value, verb, changes)
    elif isinstance(target, cst.StarredElement):
        _add_target_changes(target.value, verb, changes)
    elif isinstance(target, (cst.Attribute, cst.Subscript)):
        _add_owners(target.value, f"{verb} `{quoted_code(target)}`", changes)


def _add_call_changes(
    context: FileContext, call: cst.Call, changes: dict[str, str]
) -> None:
    """Record the objects that a call may change: its receiver or what it is passed."""
    func = call.func
    if isinstance(func, cst.Attribute):
        method = func.attr.value
        if method not in ALL_METHOD_NAMES and method != "close":
            _add_owners(func.value, f"calls `{quoted_code(func)}()`", changes)
        return
    if isinstance(func, cst.Name) and func.value in ("setattr", "delattr"):
        if call.args:
            _add_owners(
                call.args[0].value,
                f"calls `{func.value}()` on `{quoted_code(call.args[0].value)}`",
                changes,
            )
        return
    for name in _passed_to(context, call, _changed_by):
        changes.setdefault(name, f"passes `{name}` to `{quoted_code(func)}()`")


def _add_owners(node: cst.BaseExpression, change: str, changes: dict[str, str]) -> None:
    """Record `change` for `node` and for each object it is an attribute or item of."""
    current = node
    while True:
        name = dotted_name(current)
        if name is not None:
            changes.setdefault(name, change)
        if not isinstance(current, (cst.Attribute, cst.Subscript)):
            return
        current = current.value


def _module_functions(context: FileContext) -> dict[str, FunctionInfo]:
    """Return the module-level functions of the file, by name."""

    def compute(context: FileContext) -> dict[str, FunctionInfo]:
        return {
            function.name: function
            for function in context.index.functions
            if function.parent is None and function.class_info is None
        }

    return context.shared("CIO601:module-functions", compute)


def _unbounded_cache(context: FileContext) -> tuple[str, str]:
    """Return the functools decorator that caches a factory, and its arguments.

    `functools.cache` is new in Python 3.9. `lru_cache(maxsize=None)` is the
    same unbounded cache on the older Pythons that a project may declare.
    """
    if context.older_python((3, 9)) is None:
        return "cache", ""
    return "lru_cache", "(maxsize=None)"


def _cache_too_old(context: FileContext) -> str | None:
    """Return why no factory can be cached, if the project declares a Python before 3.2.

    Below Python 3.9 the fixes cache with `functools.lru_cache`, which is
    new in Python 3.2.
    """
    return context.python_too_old((3, 2), "functools.lru_cache")


def _cache_advice(context: FileContext, subject: str) -> str:
    """Return the advice to cache `subject` with `functools.cache` or its older form.

    Python 2.7 has no functools cache to name, so there the advice names none.
    """
    if _cache_too_old(context) is not None:
        return f"cache {subject}"
    name, arguments = _unbounded_cache(context)
    return f"cache {subject} with functools.{name}{arguments}"


def _cache_decorator(
    context: FileContext, function: cst.FunctionDef
) -> tuple[cst.BaseExpression, tuple[AddImport, ...]] | None:
    """Return `@functools.cache` as the module names it when `function` is defined.

    Below Python 3.9 it is `@functools.lru_cache(maxsize=None)`.
    """
    name, arguments = _unbounded_cache(context)
    imported = context.existing_import(f"functools.{name}", function)
    if imported is not None:
        return cst.parse_expression(imported + arguments), ()
    functools_import = context.import_at(function, "functools")
    if functools_import is None:
        return None
    decorator = cst.parse_expression(f"{functools_import.local}.{name}{arguments}")
    return decorator, functools_import.imports


@dataclass(frozen=True)
class _Helper:
    """A module-level client or factory that a fix of this pass adds."""

    # `name` for a module-level client, `name()` for a factory.
    reference: str
    imports: tuple[AddImport, ...]
    inserts: tuple[InsertStatements, ...]


def _existing_name(context: FileContext, hoist: Hoist) -> str | None:
    """Return a module-level client, or a call of a getter, that builds a client like `hoist`.

    A module-level client is built at import whatever the fix does, so a
    hoist planned as a factory reuses it too. A getter that builds its
    client once (`_getter_reference`) serves a hoist planned as a
    module-level client too, because arguments that are safe to read at
    import are as safe to read at its first call.
    """
    if hoist.kind == "keyed":
        return None
    for statement in context.module.body:
        reference = _helper_reference(context, statement, hoist)
        if reference is not None:
            return reference
    return None


def _helper_reference(
    context: FileContext, statement: cst.BaseStatement, hoist: Hoist
) -> str | None:
    """Return `name` or `name()` when a module-level statement builds a client like `hoist` once."""
    if isinstance(statement, cst.SimpleStatementLine):
        return _module_client(context.index, statement, hoist)
    if isinstance(statement, cst.FunctionDef):
        return _getter_reference(context, statement, hoist)
    return None


def _module_client(
    index: FileIndex, statement: cst.SimpleStatementLine, hoist: Hoist
) -> str | None:
    """Return the name of a module-level client that a statement builds like `hoist`."""
    small = statement.body[0]
    if not isinstance(small, cst.Assign) or len(small.targets) != 1:
        return None
    target = small.targets[0].target
    if not isinstance(target, cst.Name) or not _is_constant(index, target.value):
        return None
    if not _same_construction(index, small.value, hoist):
        return None
    return target.value


def _getter_reference(
    context: FileContext, statement: cst.FunctionDef, hoist: Hoist
) -> str | None:
    """Return `name()` for a getter that builds a client like `hoist` once per process.

    The getter is a cached factory (`functools.cache`) or a function that
    fills a `global` name only while it is unset and returns it.
    """
    getter = _find_getter(context, statement, hoist)
    if getter is None:
        return None
    function, construction = getter
    if function.is_cached or _returns_lazy_global(context, function, construction):
        return f"{function.name}()"
    return None


def _find_getter(
    context: FileContext, statement: cst.FunctionDef, hoist: Hoist
) -> tuple[FunctionInfo, Construction] | None:
    """Return a module-level function without parameters that returns a client built like `hoist`.

    It returns the construction itself, or a name bound to it that it
    neither changes nor closes. Whether it builds the client only once is
    left to the caller.
    """
    function = _module_functions(context).get(statement.name.value)
    if function is None or function.node is not statement or function.is_async:
        return None
    if all_parameters(statement.params) or not function.returns:
        return None
    if not _always_returns_value(statement):
        return None
    if not _is_constant(context.index, function.name):
        return None
    constructions = _constructions_by_function(context).get(id(function), [])
    if len(constructions) != 1:
        return None
    construction = constructions[0]
    if not _same_construction(context.index, construction.node, hoist):
        return None
    returns = function.returns
    if len(returns) == 1 and returns[0] is construction.node:
        return function, construction
    names = {node.value for node in returns if isinstance(node, cst.Name)}
    if len(names) != 1 or not all(isinstance(node, cst.Name) for node in returns):
        return None
    name = names.pop()
    if name in _changed_by(context, function.node):
        return None
    if name in _closed_by(context, function.node):
        return None
    if _is_global_in(context.index, function, name):
        return function, construction
    assert function.scope is not None
    assignments = function.scope.assignments.get(name, [])
    if len(returns) != 1 or len(assignments) != 1:
        return None
    if assignments[0].value is not construction.node:
        return None
    return function, construction


def _always_returns_value(function: cst.FunctionDef) -> bool:
    """Tell whether a function ends with `return` and has no bare `return`.

    A function that may return None (`if not ENABLED: return`) cannot
    stand in for a construction, which always gives a client.
    """
    if not _ends_with_return(function.body):
        return False
    return all(node.value is not None for node in find_all(function.body, cst.Return))


def _is_global_in(index: FileIndex, function: FunctionInfo, name: str) -> bool:
    """Tell whether `function` assigns the module-level `name` after `global name`."""
    return any(
        assignment.scope.function is function
        for assignment in index.global_assignments.get(name, [])
    )


def _returns_lazy_global(
    context: FileContext, function: FunctionInfo, construction: Construction
) -> bool:
    """Tell whether a getter returns a `global` name that only it fills, once.

    `if _client is None: _client = CustomerIO(...)` followed by
    `return _client` builds one client per process (`_fills_unset_global`).
    Another function of the module that assigns the name (an `init_app`
    that builds a client with other keys), a second module-level binding
    or a `del` could make the getter return another client.
    NOTE: code in other modules that sets the name (`app.cio._client = ...`)
    is not seen.
    """
    index = context.index
    ancestors = list(context.ancestors(construction.node))
    name = _global_target(index, construction, ancestors)
    if name is None or not all(
        isinstance(node, cst.Name) and node.value == name for node in function.returns
    ):
        return False
    for assignment in index.global_assignments.get(name, []):
        if assignment.scope.function is not function:
            return False
    if len(index.module_scope.assignments.get(name, [])) > 1:
        return False
    if name in index.module_scope.deletions:
        return False
    return _fills_unset_global(context, function, construction, ancestors)


def _constructions_by_function(context: FileContext) -> dict[int, list[Construction]]:
    """Return the file's constructions by the id of the function that contains them."""

    def compute(context: FileContext) -> dict[int, list[Construction]]:
        found: dict[int, list[Construction]] = {}
        for construction in context.index.constructions:
            function = construction.site.function
            if function is not None:
                found.setdefault(id(function), []).append(construction)
        return found

    return context.shared("CIO601:constructions-by-function", compute)


def _cached_in_this_pass(
    context: FileContext, hoist: Hoist, newly_cached: list[FunctionInfo]
) -> bool:
    """Tell whether a factory that this pass caches builds a client like `hoist`.

    The construction then waits for the next pass and reuses the cached
    factory, instead of getting a second factory of its own.
    """
    if hoist.kind == "keyed":
        return False
    return any(
        _find_getter(context, factory.node, hoist) is not None
        for factory in newly_cached
    )


def _pooled_in_this_pass(context: FileContext, hoist: Hoist) -> bool:
    """Tell whether CIO602 makes a helper build a client like `hoist` in this pass.

    The helper is a module-level client or getter built with
    `use_connection_pooling=False`, as a run of CIO601 without CIO602
    writes it. A construction like `hoist` then waits for the next pass
    and reuses the helper that is left, so that it neither gets a helper
    of its own nor reads one that the CIO602 fix merges away
    (`_merged_helpers_fix`).
    NOTE: if the engine withholds that CIO602 fix after all (it would lose
    a comment or move a directive comment), the construction waits in
    every pass, and the file's CIO601 fixes are left out as unsettled.
    """
    if hoist.kind == "keyed":
        return False
    for fixed in _pooled_helpers(context):
        if (
            code_of(fixed.func) == hoist.func
            and _argument_texts(fixed) == hoist.arguments
        ):
            return True
    return False


def _pooled_helpers(context: FileContext) -> list[cst.Call]:
    """Return the helpers' calls whose pooling argument CIO602 removes in this pass, without it."""

    def compute(context: FileContext) -> list[cst.Call]:
        found = []
        for construction in context.index.constructions:
            argument = _pooling_argument(construction)
            if argument is None or not _waits_for_pooling_fix(context, construction):
                continue
            statement = _module_statement(context, construction.node)
            if statement is None:
                continue
            hoist = _plain_hoist(construction.node)
            if _helper_reference(context, statement, hoist) is None:
                continue
            fixed = _pooling_fix(context, construction, argument)
            assert fixed is not None
            found.append(fixed)
        return found

    return context.shared("CIO601:pooled-helpers", compute)


def _is_constant(index: FileIndex, name: str) -> bool:
    """Tell whether a module-level name keeps the value of its only assignment."""
    if index.module_assignment(name) is None:
        return False
    return rebinding_of(index, name) is None


def _same_construction(
    index: FileIndex, node: cst.BaseExpression, hoist: Hoist
) -> bool:
    if not isinstance(node, cst.Call) or index.constructor_type(node.func) is None:
        return False
    if code_of(node.func) != hoist.func:
        return False
    return _argument_texts(node) == hoist.arguments


def _argument_texts(call: cst.Call) -> list[str]:
    arguments = []
    for argument in call.args:
        text = code_of(argument.value)
        arguments.append(
            f"{argument.keyword.value}={text}" if argument.keyword else text
        )
    return arguments


def _hoist_fix(
    context: FileContext,
    construction: Construction,
    hoist: Hoist,
    taken: set[str],
    planned: dict[tuple[Any, ...], _Helper],
    newly_cached: list[FunctionInfo],
    with_statement: cst.With | None,
    ancestors: list[cst.CSTNode],
) -> Fix | str:
    """Return the fix that builds the client once, or why it cannot be written.

    A comment that silences a check of a hard-coded key on the
    construction's line (`# noqa: S106`) moves with the call, which
    contains the key.
    """
    imports: tuple[AddImport, ...] = ()
    inserts: tuple[InsertStatements, ...] = ()
    statement = None
    if with_statement is None:
        statement = _statement_with_secret_directive(construction, ancestors)
    directive = statement.trailing_whitespace.comment if statement else None
    if _pooled_in_this_pass(context, hoist):
        return Fix(FixSafety.SAFE)
    reference = _existing_name(context, hoist)
    if reference is None and _cached_in_this_pass(context, hoist, newly_cached):
        return Fix(FixSafety.SAFE)
    if reference is None:
        # Constructions with another directive get a helper of their own,
        # because the directive is part of the inserted code.
        key = (*hoist.key, directive.value if directive else None)
        helper = planned.get(key)
        if helper is None:
            helper = _new_helper(context, construction, hoist, taken, directive)
            if isinstance(helper, str):
                return helper
            planned[key] = helper
        reference, imports, inserts = helper.reference, helper.imports, helper.inserts

    # NOTE: the replacement is not re-laid out with its line, so a keyed
    # factory call can push that line past the line limit.
    # The reference is `name` or `name()`. Built here, its nodes equal the
    # ones the parser would return, and cost far less.
    replacement: cst.BaseExpression
    if reference.endswith("()"):
        replacement = cst.Call(func=cst.Name(reference[:-2]))
    else:
        replacement = cst.Name(reference)
    if hoist.kind == "keyed":
        assert isinstance(replacement, cst.Call)
        replacement = replacement.with_changes(args=_call_arguments(hoist.keyed_values))
    replacements: dict[Any, Any] = {construction.node: replacement}
    if with_statement is not None:
        replacements = {with_statement: _unwrap(with_statement, replacement)}
    dropped: tuple[str, ...] = ()
    if statement is not None and directive is not None:
        replacements = {statement: _without_comment(statement, replacements)}
        if not inserts:
            # The client that the line now reads is built elsewhere, with
            # comments of its own.
            dropped = (directive.value,)
    return Fix(
        FixSafety.SAFE,
        replacements,
        imports=imports,
        inserts=inserts,
        dropped_comments=dropped,
    )


def _statement_with_secret_directive(
    construction: Construction, ancestors: list[cst.CSTNode]
) -> cst.SimpleStatementLine | None:
    """Return the one-line statement of a construction when its comment silences a key check."""
    statement = next(
        (node for node in ancestors if isinstance(node, cst.BaseStatement)), None
    )
    comment = line_pragma(statement) if statement is not None else None
    if comment is None or not silences_secret_only(comment.value):
        return None
    assert isinstance(statement, cst.SimpleStatementLine)
    return statement


def _without_comment(
    statement: cst.SimpleStatementLine, replacements: dict[Any, Any]
) -> cst.SimpleStatementLine:
    """Return the statement with the replacements made and its end-of-line comment gone."""
    fixed = replace_nodes(statement, replacements)
    trailing = fixed.trailing_whitespace.with_changes(
        whitespace=cst.SimpleWhitespace(""), comment=None
    )
    return fixed.with_changes(trailing_whitespace=trailing)


def _ending_with(
    code: str, comment: str, line_length: int, ruff_layout: bool
) -> str | None:
    """Return the inserted code with `comment` at the end of its call, or None.

    None when the call takes more than one line, or the comment makes its
    line too long: the formatter would then split the call, and the
    comment would end up after the closing bracket, away from the key.
    """
    lines = code.rstrip("\n").split("\n")
    last = lines[-1]
    if last.strip() == ")":
        return None
    ended = f"{last}  {comment}"
    width = len(last)
    if formatter_counts_comment(comment, ruff_layout):
        width = len(ended)
    if width > line_length and not formatter_keeps_line(comment, ruff_layout):
        return None
    lines[-1] = ended
    return "\n".join(lines) + "\n"


def _new_helper(
    context: FileContext,
    construction: Construction,
    hoist: Hoist,
    taken: set[str],
    directive: cst.Comment | None,
) -> _Helper | str:
    """Return the module-level client or factory to add for `hoist`, or why it cannot be written.

    A `directive` that silences a check of the hard-coded key goes on the
    line of the call, which contains the key.
    """
    imports: tuple[AddImport, ...] = ()
    decorator = ""
    if hoist.kind != "client":
        too_old = _cache_too_old(context)
        if too_old is not None:
            return too_old
        cache, arguments = _unbounded_cache(context)
        if hoist.kind == "keyed":
            cache, arguments = "lru_cache", "(maxsize=128)"
        # The decorator runs when the module is imported.
        cache_import = context.attribute_in_helper("functools", cache, on_import=True)
        if cache_import is None:
            return FUNCTOOLS_TAKEN
        imports = cache_import.imports
        decorator = f"@{cache_import.local}{arguments}"
    base = CLIENT_NAMES[construction.client.api]
    name = unused_name(base + ("_for" if hoist.kind == "keyed" else ""), taken)
    taken.add(name)
    returns = _factory_return_annotation(context, hoist)
    code = _definition(name, hoist, decorator, context.line_length, returns)
    if directive is not None:
        with_directive = _ending_with(
            code, directive.value, context.line_length, context.ruff_layout
        )
        if with_directive is None:
            taken.discard(name)
            return (
                f"the call does not fit on one line with `{directive.value}`,"
                " which must stay on the line of the key that it is about"
            )
        code = with_directive
    inserts = (InsertStatements(f"CIO601:{name}", code, frozenset(hoist.reads)),)
    reference = name if hoist.kind == "client" else f"{name}()"
    return _Helper(reference, imports, inserts)


def _call_arguments(values: list[cst.BaseExpression]) -> list[cst.Arg]:
    arguments = []
    for position, value in enumerate(values):
        comma: Any = cst.MaybeSentinel.DEFAULT
        if position < len(values) - 1:
            comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        arguments.append(cst.Arg(value=value, comma=comma))
    return arguments


def _factory_return_annotation(context: FileContext, hoist: Hoist) -> str | None:
    """Return the annotation of a factory's return type, or None in an unannotated module.

    The factory returns what the construction's callable builds, which the
    module names as the construction does. The annotation is quoted when
    Python might evaluate it before the module binds that name.
    """
    if hoist.kind == "client" or not is_annotated_module(context):
        return None
    if named_in_time(context.module, hoist.func):
        return hoist.func
    return f'"{hoist.func}"'


def _definition(
    name: str, hoist: Hoist, decorator: str, line_length: int, returns: str | None
) -> str:
    """Return the source of a module-level client or factory.

    A factory gets annotations when `returns` is given. The parameters of a
    keyed factory take whatever the per-request code passed, so they are
    annotated `object`, because ruff's ANN401 rejects `Any`.
    """
    if hoist.kind == "client":
        code = format_call(
            f"{name} = ", hoist.func, hoist.arguments, line_length=line_length
        )
        return code + "\n"
    body = format_call(
        "return ", hoist.func, hoist.arguments, INDENT, line_length=line_length
    )
    if returns is None:
        parameters = ", ".join(hoist.keyed_parameters)
        return f"{decorator}\ndef {name}({parameters}):\n{body}\n"
    # NOTE: a client class whose constructor is annotated with narrower
    # types than `object` makes mypy reject a keyed factory's call.
    annotated_parameters = [
        f"{parameter}: object" for parameter in hoist.keyed_parameters
    ]
    signature = format_def(name, annotated_parameters, returns, line_length=line_length)
    return f"{decorator}\n{signature}\n{body}\n"


def _unwrap(statement: cst.With, client: cst.BaseExpression) -> cst.FlattenSentinel:
    """Turn `with Client(...) as cio: body` into `cio = <shared client>` and the body."""
    item = statement.items[0]
    assert item.asname is not None
    target = item.asname.name
    assignment = cst.SimpleStatementLine(
        body=[cst.Assign(targets=[cst.AssignTarget(target=target)], value=client)],
        leading_lines=statement.leading_lines,
    )
    body = statement.body
    if isinstance(body, cst.IndentedBlock):
        statements = list(body.body)
    else:
        statements = [cst.SimpleStatementLine(body=list(body.body))]
    return cst.FlattenSentinel([assignment, *statements])


# -- CIO602 ----------------------------------------------------------------------------------


EXPLAINED_BY_COMMENT = (
    "not fixed: the comment next to it may explain it; remove both by hand"
)
# Why CIO601 leaves such a client in place: the hoisted call would take the
# argument away from the comment, and a later CIO602 fix would remove it there.
POOLING_EXPLAINED_AT_LINE_END = (
    "the comment at the end of its line may explain `use_connection_pooling=False`,"
    " and the fix would move the call away from that comment"
)


def _pooling_argument(construction: Construction) -> cst.Arg | None:
    """Return the `use_connection_pooling=False` argument of a customerio client."""
    if construction.client.package != "customerio":
        return None
    if construction.client.api not in (Api.TRACK, Api.APP):
        return None
    for argument in construction.node.args:
        if (
            argument.keyword is None
            or argument.keyword.value != "use_connection_pooling"
        ):
            continue
        if isinstance(argument.value, cst.Name) and argument.value.value == "False":
            return argument
    return None


class ConnectionPoolingDisabled(Rule):
    """What it does:
    Finds Track and App API clients built with `use_connection_pooling=False`.

    Why is this bad?
    With pooling turned off, the customerio SDK (3.x) opens a new
    HTTP session, and so a new HTTPS connection with its TLS handshake, for
    every call, and closes it afterwards. Pooling is the default and reuses
    one connection for every call of the client.

    Example:
        cio = CustomerIO(site_id, api_key, use_connection_pooling=False)

    Use instead:
        cio = CustomerIO(site_id, api_key)

    Fix safety:
    Safe. The argument is removed, so the client uses the SDK's default
    session with its retries and timeout unchanged. Only a literal `False`
    is reported. An argument with a comment on its line, or on lines of
    their own just above it, is reported without a fix. That includes a
    comment after the call when the call ends on the argument's line:
    after the statement, after a dict or list item, or after a one-line
    `if DEBUG: cio = ...`. The comment may explain why pooling is off:
    kept alone it would read as if pooling still were, and removed, its
    explanation would be lost. An end-of-line comment
    after the call that contains only tool directives (`# noqa: E501`,
    `# type: ignore[...]`, `# pragma: no cover`, `# fmt: skip`,
    `# pylint: disable=...`, `# nosec`) belongs to the line, so the fix
    removes the argument and keeps the comment.
    A run of CIO601 without CIO602 gives a client built with
    `use_connection_pooling=False` a helper of its own
    (`_customerio_client_2`) beside the helper of the same client with
    pooling. Once the argument goes, the fix keeps the helper defined
    first and removes the other, whose uses then read the one it keeps,
    as a run of both rules writes. It does so only
    when the helper it removes has no comment, its uses only call it or
    read its client, and neither another module of the project nor
    `__all__` names it.
    """

    code = "CIO602"
    name = "connection-pooling-disabled"
    summary = (
        "clients built with use_connection_pooling=False open a connection per call"
    )
    fix_safety = FixSafety.SAFE

    def check(self, context: FileContext) -> Iterator[Finding]:
        for construction in context.index.constructions:
            argument = _pooling_argument(construction)
            if argument is None:
                continue
            message = (
                "`use_connection_pooling=False` opens a new HTTPS connection for every"
                " Customer.io call; remove it to reuse one connection"
            )
            fixed = _pooling_fix(context, construction, argument)
            if fixed is None:
                yield context.finding(
                    self,
                    argument,
                    f"{message} ({EXPLAINED_BY_COMMENT})",
                    fixed_message=message,
                )
                continue
            fix = _merged_helpers_fix(context, construction, fixed)
            if fix is None:
                fix = Fix(FixSafety.SAFE, {construction.node: fixed})
            yield context.finding(self, argument, message, fix)


def _pooling_fix(
    context: FileContext, construction: Construction, argument: cst.Arg
) -> cst.Call | None:
    """Return the call without its pooling argument; None when a comment may explain it."""
    fixed = _without(construction.node, argument)
    if fixed is None or _line_end_may_explain(context, construction, argument):
        return None
    return fixed


def _merged_helpers_fix(
    context: FileContext, construction: Construction, fixed: cst.Call
) -> Fix | None:
    """Return the fix that removes the argument and merges two helpers that then match.

    A CIO601 run without CIO602 gives a construction with
    `use_connection_pooling=False` a helper of its own
    (`_customerio_client_2`), beside the helper that builds the same
    client with pooling. Once the argument goes, the fix keeps the helper
    defined first, removes the other, and points the other's uses at the
    one it keeps, as one run of both rules writes. None when the
    construction is not in a helper, or no other helper matches. A CIO601
    fix that would read either helper waits for the next pass
    (`_pooled_in_this_pass`).
    """
    pooled = _module_statement(context, construction.node)
    if pooled is None:
        return None
    pooled_reference = _helper_reference(
        context, pooled, _plain_hoist(construction.node)
    )
    if pooled_reference is None:
        return None
    same = None
    for statement in context.module.body:
        reference = _helper_reference(context, statement, _plain_hoist(fixed))
        if reference is not None:
            same = (statement, reference)
            break
    # A module-level client and a getter are read differently, so the uses
    # of one cannot read the other.
    if same is None or same[1].endswith("()") != pooled_reference.endswith("()"):
        return None

    replacements: dict[Any, Any] = {}
    if _comes_first(context, pooled, same[0]):
        # The other helper's call is laid out as one run of both rules lays it
        # out. A helper with a comment keeps its own call, because the comment
        # may be inside the call or be a noqa comment that silences a finding
        # of its arguments, and the fix would then not be written.
        kept_call = fixed
        if not comments_below(pooled):
            kept_call = _helper_construction(context, same[0])
        replacements[construction.node] = kept_call
        kept_reference, dropped = pooled_reference, same[0]
        dropped_reference = same[1]
    else:
        kept_reference, dropped = same[1], pooled
        dropped_reference = pooled_reference
    uses = _helper_uses(context, dropped, dropped_reference.removesuffix("()"))
    if uses is None:
        return None
    replacements[dropped] = cst.RemovalSentinel.REMOVE
    kept_name = kept_reference.removesuffix("()")
    for use in uses:
        replacements[use] = use.with_changes(value=kept_name)
    return Fix(
        FixSafety.SAFE,
        replacements,
        description=(
            f"remove the argument and use `{kept_reference}`, which builds the"
            " same client"
        ),
    )


def _plain_hoist(call: cst.Call) -> Hoist:
    """Return a hoist that a module-level client or getter built by `call` matches."""
    return Hoist("factory", code_of(call.func), _argument_texts(call), [], [], set())


def _module_statement(
    context: FileContext, node: cst.CSTNode
) -> cst.BaseStatement | None:
    """Return the module-level statement that contains `node`."""
    statement = None
    for ancestor in context.ancestors(node):
        if isinstance(ancestor, cst.Module):
            return statement
        if isinstance(ancestor, cst.BaseStatement):
            statement = ancestor
    return None


def _comes_first(
    context: FileContext, first: cst.BaseStatement, second: cst.BaseStatement
) -> bool:
    """Tell whether the module-level statement `first` comes before `second`."""
    for statement in context.module.body:
        if statement is first:
            return True
        if statement is second:
            return False
    return False


def _helper_construction(
    context: FileContext, statement: cst.BaseStatement
) -> cst.Call:
    """Return the construction of a helper that `_helper_reference` matched."""
    if isinstance(statement, cst.FunctionDef):
        function = _module_functions(context)[statement.name.value]
        return _constructions_by_function(context)[id(function)][0].node
    assert isinstance(statement, cst.SimpleStatementLine)
    small = statement.body[0]
    assert isinstance(small, cst.Assign) and isinstance(small.value, cst.Call)
    return small.value


def _helper_uses(
    context: FileContext, helper: cst.BaseStatement, name: str
) -> list[cst.Name] | None:
    """Return the names that read a helper, or None when the helper may not be removed.

    The helper must have a name that CIO601 gives (`_customerio_client_2`),
    and nothing else may read it: another module of the project that
    imports it, an `__all__`, or a binding of the name elsewhere. Each use
    must call the getter (`name()`), or read the client into a name or
    call its method, and the helper must contain no comment.
    NOTE: another module that reads it as an attribute of this module
    (`views._customerio_client_2()`) is not seen.
    """
    index = context.index
    if HELPER_NAME.fullmatch(name) is None or not _is_constant(index, name):
        return None
    if name in index.global_names or name in index.module_imports:
        return None
    if any(
        name in scope.assignments or name in scope.imports
        for scope in index.inner_scopes()
    ):
        return None
    if index.module_assignment("__all__") is not None:
        return None
    if context.project.importers(index.module_name, name):
        return None
    if comments_below(helper):
        return None
    getter = isinstance(helper, cst.FunctionDef)
    uses = []
    for node in index.names.get(name, []):
        if any(ancestor is helper for ancestor in context.ancestors(node)):
            continue
        if not _plain_use(index, node, getter):
            return None
        uses.append(node)
    return uses


def _plain_use(index: FileIndex, node: cst.Name, getter: bool) -> bool:
    """Tell whether a name only calls a getter, or reads a client or calls its method."""
    parent = index.parents.get(node)
    if getter:
        return isinstance(parent, cst.Call) and parent.func is node and not parent.args
    if isinstance(parent, cst.Assign):
        return parent.value is node
    if not isinstance(parent, cst.Attribute) or parent.value is not node:
        return False
    call = index.parents.get(parent)
    return isinstance(call, cst.Call) and call.func is parent


# One directive for another tool, such as a linter or type checker, in an
# end-of-line comment. A directive gives no reason for turning pooling off.
_TOOL_DIRECTIVE = re.compile(
    r"""
    noqa (?: \s*:\s* [A-Za-z]+[0-9]+ (?: [\s,]+ [A-Za-z]+[0-9]+ )* )?
    | (?: type | pyright ) :\s* ignore (?: \[ [\w\s,.-]* \] )?
    | pragma :\s* no \s+ (?: cover | branch )
    | fmt :\s* skip
    | isort :\s* skip
    | nosec (?: \s+ B[0-9]+ (?: [\s,]+ B[0-9]+ )* )?
    | pylint :\s* disable \s*=\s* [\w-]+ (?: \s*,\s* [\w-]+ )*
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _only_tool_directives(comment: str) -> bool:
    """Tell whether a comment contains only tool directives: `# noqa: E501  # type: ignore`."""
    parts = comment.split("#")[1:]
    return all(_TOOL_DIRECTIVE.fullmatch(part.strip()) for part in parts)


def _line_end_may_explain(
    context: FileContext, construction: Construction, argument: cst.Arg
) -> bool:
    """Tell whether a comment after the call, at the end of the argument's line, may explain it.

    `CustomerIO(a, b, use_connection_pooling=False)  # proxy drops sockets`
    keeps its comment outside the call, where `_without` does not look. So
    does a call that ends its line inside a dict or list display
    (`"eu": CustomerIO(...),  # ...`) or in a one-line `if DEBUG: cio = ...`.
    A comment of tool directives alone (`# noqa: E501`) belongs to the line,
    so it stays there while the argument goes.
    """
    statement = next(
        ancestor
        for ancestor in context.ancestors(construction.node)
        if isinstance(ancestor, cst.BaseStatement)
    )
    comments = [
        comment
        for comment in comments_below(statement)
        if not _only_tool_directives(comment.value)
    ]
    if not comments:
        return False
    # A comment ends its line, so one on the line where the call ends sits
    # after the call.
    line = context.position(construction.node).end.line
    if context.position(argument).end.line != line:
        return False
    return any(context.position(comment).start.line == line for comment in comments)


def _without(call: cst.Call, removed: cst.Arg) -> cst.Call | None:
    """Remove one argument of a call; None when a comment on its lines goes with it.

    The comments on the argument's line, and on lines of their own just
    above it, are about the argument.
    """
    arguments = list(call.args)
    position = arguments.index(removed)
    if position:
        before = arguments[position - 1].comma
        assert isinstance(before, cst.Comma)
        separator = before.whitespace_after
    else:
        separator = call.whitespace_before_args
    if isinstance(removed.comma, cst.Comma):
        after = removed.comma.whitespace_after
    else:
        after = removed.whitespace_after_arg
    if _own_comments(separator, after):
        return None
    if isinstance(separator, cst.ParenthesizedWhitespace) and isinstance(
        after, cst.ParenthesizedWhitespace
    ):
        return _joined_around(call, position, separator, after)
    del arguments[position]
    if arguments and position == len(arguments):
        # The new last argument takes the removed one's ending, so that a
        # closing parenthesis on a line of its own stays there.
        arguments[-1] = arguments[-1].with_changes(
            comma=removed.comma, whitespace_after_arg=removed.whitespace_after_arg
        )
    return call.with_changes(args=arguments)


def _own_comments(
    separator: cst.BaseParenthesizableWhitespace,
    after: cst.BaseParenthesizableWhitespace,
) -> list[cst.Comment]:
    """Return the comments on lines of their own above an argument and on its line."""
    comments = []
    if isinstance(separator, cst.ParenthesizedWhitespace):
        comments.extend(line.comment for line in separator.empty_lines if line.comment)
    if isinstance(after, cst.ParenthesizedWhitespace) and after.first_line.comment:
        comments.append(after.first_line.comment)
    return comments


def _joined_around(
    call: cst.Call,
    position: int,
    separator: cst.ParenthesizedWhitespace,
    after: cst.ParenthesizedWhitespace,
) -> cst.Call:
    """Remove the argument at `position` of a call laid out one argument per line.

    The line breaks before and after it become one: the previous line keeps
    its comment, and the next line keeps its indentation.
    """
    lines = [*separator.empty_lines, *after.empty_lines]
    joined = separator.with_changes(
        empty_lines=lines, indent=after.indent, last_line=after.last_line
    )
    arguments = list(call.args)
    del arguments[position]
    if not position:
        return call.with_changes(whitespace_before_args=joined, args=arguments)
    previous = arguments[position - 1]
    assert isinstance(previous.comma, cst.Comma)
    comma = previous.comma.with_changes(whitespace_after=joined)
    arguments[position - 1] = previous.with_changes(comma=comma)
    return call.with_changes(args=arguments)
