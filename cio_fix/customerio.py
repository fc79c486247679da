"""Recognise Customer.io clients and the calls made on them.

One visitor pass over a module records its imports, scopes, assignments,
functions and every call that may be a client call. Resolution is lazy:
a receiver is looked up only when a rule reads the client calls. So a
client bound after the function that uses it is still found, and names
imported from other files of the project resolve through the project index.
"""

from __future__ import annotations

import ast
import builtins
import enum
import functools
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import libcst as cst

from cio_fix.chains import joined_strings
from cio_fix.containers import class_may_change, dict_may_change
from cio_fix.metadata import code_of
from cio_fix.modules import CLIENT_PACKAGES
from cio_fix.quotes import FileLiterals
from cio_fix.walk import walk

if TYPE_CHECKING:
    from cio_fix.project import ProjectIndex, ReexportedClass


class Api(str, enum.Enum):
    TRACK = "track"
    APP = "app"
    PIPELINES = "pipelines"


@dataclass(frozen=True)
class ClientType:
    """The kind of Customer.io client an expression evaluates to."""

    api: Api
    is_async: bool = False
    # "customerio" or "async_customerio": their method signatures differ.
    package: str = "customerio"


TRACK = ClientType(Api.TRACK)
APP = ClientType(Api.APP)
PIPELINES = ClientType(Api.PIPELINES)
ASYNC_TRACK = ClientType(Api.TRACK, is_async=True, package="async_customerio")
ASYNC_APP = ClientType(Api.APP, is_async=True, package="async_customerio")

CONSTRUCTORS: dict[str, ClientType] = {
    "customerio.CustomerIO": TRACK,
    "customerio.track.CustomerIO": TRACK,
    "customerio.APIClient": APP,
    "customerio.api.APIClient": APP,
    "customerio.analytics.Client": PIPELINES,
    "async_customerio.AsyncCustomerIO": ASYNC_TRACK,
    "async_customerio.track.AsyncCustomerIO": ASYNC_TRACK,
    "async_customerio.AsyncAPIClient": ASYNC_APP,
    "async_customerio.api.AsyncAPIClient": ASYNC_APP,
}

# The Data Pipelines SDK is also used through module-level functions.
PIPELINES_MODULE = "customerio.analytics"

# The prefix of the names imported from a project module that hides an SDK
# package (`SdkShadowing`), so that they match no SDK name.
PROJECT_MODULE_PREFIX = "<project>."
# Modules whose names in an annotation may be a client's type: `Any`, a
# `Protocol` that a client matches, a `TypeVar`.
TYPING_MODULES = ("typing", "typing_extensions")
# The wrappers an annotation is read through, and whether all of their
# arguments are types (`Union[A, B]`) or only the first (`Annotated[A, ...]`).
ANNOTATION_WRAPPERS = {"Annotated": False, "Optional": False, "Union": True}
# The annotation that marks an assignment as a type alias (PEP 613).
TYPE_ALIAS_MARKERS = frozenset({"typing.TypeAlias", "typing_extensions.TypeAlias"})

# Positional parameters of each method, in order, as the SDKs name them.
# A name ending in "**" collects the remaining keyword arguments: event or
# profile attributes. customerio 3.x takes track/track_anonymous attributes
# in `data`; 1.x and 2.x took them as keyword arguments, which are kept as
# extra keywords here either way.
TRACK_METHODS: dict[str, tuple[str, ...]] = {
    "identify": ("id",),
    "track": ("customer_id", "name", "data", "id", "timestamp"),
    "track_anonymous": ("anonymous_id", "name", "data", "id", "timestamp"),
    "pageview": ("customer_id", "page"),
    "backfill": ("customer_id", "name", "timestamp"),
    "add_device": ("customer_id", "device_id", "platform"),
    "delete_device": ("customer_id", "device_id"),
    "delete": ("customer_id",),
    "suppress": ("customer_id",),
    "unsuppress": ("customer_id",),
    "merge_customers": (
        "primary_id_type",
        "primary_id",
        "secondary_id_type",
        "secondary_id",
    ),
    "batch": ("operations",),
}
APP_METHODS: dict[str, tuple[str, ...]] = {
    "send_email": ("request",),
    "send_push": ("request",),
    "send_sms": ("request",),
    "send_whatsapp": ("request",),
    "send_inbox_message": ("request",),
    "send_in_app": ("request",),
}
PIPELINES_METHODS: dict[str, tuple[str, ...]] = {
    "identify": ("user_id", "traits", "context", "timestamp", "anonymous_id"),
    "track": ("user_id", "event", "properties", "context", "timestamp", "anonymous_id"),
    "page": ("user_id", "category", "name", "properties", "context", "timestamp"),
    "screen": ("user_id", "category", "name", "properties", "context", "timestamp"),
    "group": ("user_id", "group_id", "traits", "context", "timestamp"),
    "alias": ("previous_id", "user_id", "context", "timestamp"),
    "flush": (),
}
METHODS_BY_API = {
    Api.TRACK: TRACK_METHODS,
    Api.APP: APP_METHODS,
    Api.PIPELINES: PIPELINES_METHODS,
}
ALL_METHOD_NAMES = (
    frozenset(TRACK_METHODS) | frozenset(APP_METHODS) | frozenset(PIPELINES_METHODS)
)

# Constructor parameters, for normalising the arguments of a construction.
CONSTRUCTOR_PARAMETERS: dict[Api, tuple[str, ...]] = {
    Api.TRACK: ("site_id", "api_key", "host", "region", "port", "url_prefix"),
    Api.APP: ("key", "url", "region"),
    Api.PIPELINES: ("write_key", "host"),
}

# The helpers that CIO304 fixes add: `_customerio_in_background(cio.track, ...)`
# is still a Track API call for every rule.
BACKGROUND_HELPER = re.compile(r"^_customerio_in_background(?:_task)?(?:_\d+)?$")
# The helper that runs an async call as a task, so the method it gets is async.
TASK_HELPER = re.compile(r"^_customerio_in_background_task(?:_\d+)?$")
# Functions and methods that run the function they are given later with the
# arguments after it, by the position of that function: Starlette's (and so
# FastAPI's) `BackgroundTasks.add_task(func, *args, **kwargs)`,
# `concurrent.futures.Executor.submit(fn, /, *args, **kwargs)`,
# `asyncio.to_thread(func, /, *args, **kwargs)` and
# `loop.run_in_executor(executor, func, *args)`, which takes no keyword
# arguments for the function.
HAND_OFF_POSITIONS = {"add_task": 0, "submit": 0, "to_thread": 0, "run_in_executor": 1}
# Packages whose `submit` takes keyword arguments of its own: dask.distributed's
# `Client.submit(func, *args, key=None, pure=True, ...)`.
OWN_KEYWORD_SUBMIT_PACKAGES = frozenset({"dask", "distributed"})

CACHE_DECORATORS = frozenset(
    {
        "functools.cache",
        "functools.lru_cache",
        "functools.cached_property",
        "cache",
        "lru_cache",
    }
)
# Words in a decorator's name that say it caches the function's result.
CACHING_WORDS = ("cache", "memo", "singleton")


# Attribute lookups follow at most this many base classes of a class.
MAX_BASE_CLASSES = 8

# Decorators that make a method run on every read of its attribute (`self.cio`).
# cached_property runs it once per instance, which for a view is once a request.
PROPERTY_DECORATORS = frozenset(
    {
        "property",
        "functools.cached_property",
        "django.utils.functional.cached_property",
    }
)
# Decorators that make a method callable through its class (`Service.client()`).
CLASS_CALLABLE_DECORATORS = frozenset({"staticmethod", "classmethod"})


# FastAPI markers whose callable FastAPI calls for every request that needs it.
DEPENDENCY_MARKERS = frozenset(
    {
        "fastapi.Depends",
        "fastapi.Security",
        "fastapi.params.Depends",
        "fastapi.params.Security",
    }
)


@dataclass
class Assignment:
    """`target = value` (or `with value as target`) in one scope."""

    name: str
    value: cst.BaseExpression | None
    statement: cst.CSTNode
    scope: Scope
    # True when a `for` or `while` loop of the same scope runs the
    # assignment (or a `for` statement binds its target).
    in_loop: bool = False


@dataclass
class Scope:
    node: cst.CSTNode
    kind: str  # "module", "class", "function", "lambda" or "comprehension"
    parent: Scope | None
    assignments: dict[str, list[Assignment]] = field(default_factory=dict)
    function: FunctionInfo | None = None
    class_info: ClassInfo | None = None
    # Names that imports inside this function or class bind.
    imports: dict[str, str] = field(default_factory=dict)
    # Annotations without a value (`tracker: Mixpanel`), by the name they
    # annotate: they bind nothing, but state the type of the name's values.
    annotations: dict[str, list[Assignment]] = field(default_factory=dict)
    # The `del` statements of this scope by each name they unbind.
    deletions: dict[str, list[cst.Del]] = field(default_factory=dict)

    @property
    def owner(self) -> Scope:
        """The nearest scope that is not a comprehension: the code that runs a comprehension."""
        scope = self
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent
        return scope

    def lookup_chain(self) -> Iterator[Scope]:
        """Yield this scope and the enclosing ones that Python searches for a name.

        Class bodies are skipped for code inside their methods, as in Python.
        """
        scope: Scope | None = self
        first = True
        while scope is not None:
            if first or scope.kind != "class":
                yield scope
            first = False
            scope = scope.parent


@dataclass
class FunctionInfo:
    node: cst.FunctionDef
    name: str
    qualname: str
    is_async: bool
    class_info: ClassInfo | None
    parent: FunctionInfo | None
    decorators: tuple[str, ...]
    returns: list[cst.BaseExpression] = field(default_factory=list)
    scope: Scope | None = None
    # True when an `lru_cache` decorator may keep no entries (see
    # `lru_cache_keeps_entries`), so it does not count as a cache.
    lru_cache_keeps_nothing: bool = False

    @property
    def is_cached(self) -> bool:
        """Tell whether a decorator caches what the function returns.

        Besides functools' caches, any decorator whose name says it caches
        or memoises counts (cachetools' `ttl_cache`, async-lru's
        `alru_cache`, a project's `memoize`), so a deliberate expiry is kept.
        An `lru_cache` whose maxsize may be 0 does not count.
        """
        for name in self.decorators:
            if self.lru_cache_keeps_nothing and is_lru_cache(name):
                continue
            if name in CACHE_DECORATORS:
                return True
            last = name.rpartition(".")[2].lower()
            if any(word in last for word in CACHING_WORDS):
                return True
        return False


@dataclass
class ClassInfo:
    node: cst.ClassDef
    name: str
    bases: tuple[str, ...]
    # `self.attr = value` in any method, and class-level `attr = value`.
    attributes: dict[str, list[Assignment]] = field(default_factory=dict)
    scope: Scope | None = None


@dataclass
class CallSite:
    """A call `receiver.method(...)` or `name(...)` recorded before resolution."""

    node: cst.Call
    scope: Scope
    function: FunctionInfo | None
    # The statement that contains the call, and whether the call is that
    # whole statement (its result unused), possibly under `await`.
    statement: cst.CSTNode | None
    is_statement: bool
    # Whether the call is the operand of `await`.
    awaited: bool


@dataclass
class ClientCall:
    """A call on a Customer.io client, with its arguments normalised."""

    node: cst.Call
    method: str
    client: ClientType
    receiver: cst.BaseExpression
    site: CallSite
    # Parameter name -> argument, for positional and keyword arguments alike.
    arguments: dict[str, cst.Arg]
    # Keyword arguments that are not named parameters: attributes on
    # identify, pageview, backfill, add_device and 1.x/2.x track calls.
    extra_keywords: dict[str, cst.Arg]
    star_arguments: list[cst.Arg]
    # Whether the call goes through a background helper,
    # `_customerio_in_background(cio.track, ...)`: `node` is the helper call
    # and the arguments after the method are the method's arguments.
    in_background: bool = False
    # Whether `node` is `functools.partial(cio.track, ...)`: the call runs
    # where the partial is called, maybe with more arguments.
    partial: bool = False
    # Whether `node` hands the method and the call's arguments to a function
    # that runs it later (HAND_OFF_POSITIONS): `tasks.add_task(cio.track,
    # ...)`, `pool.submit(...)`, `asyncio.to_thread(...)` or
    # `loop.run_in_executor(executor, cio.track, ...)`.
    handed_off: bool = False
    # Whether the call passes the method's arguments only by position, as
    # `run_in_executor` does, so that a fix cannot add a keyword argument.
    positional_only: bool = False
    # Whether `node` is `tg.start_soon(cio.track, ...)`, which starts the
    # call as a task of an anyio task group: the arguments after the method
    # are the method's arguments.
    started: bool = False
    # Whether the callee is `getattr(receiver, "method")`, a builtin call
    # with a literal method name, rather than `receiver.method`.
    through_getattr: bool = False
    # The wrapper function as the call names it (`cio.track`) when the call
    # goes through a pass-through wrapper of the project: `node` (or the
    # method argument of a helper or partial) calls the wrapper, and
    # `receiver` is the wrapper function.
    wrapper: str | None = None
    # The extra keywords that named parameters of the wrapper give, which a
    # fix cannot move out of the wrapper call.
    wrapper_keywords: frozenset[str] = frozenset()
    # The client method's parameters that the wrapper passes None for,
    # because the call leaves out their wrapper parameter, which has
    # another name or is positional-only (`attrs=None` passed as `data`). A
    # fix that adds them to the call by their own name would be wrong.
    renamed_defaults: frozenset[str] = frozenset()
    # Whether `wrapper` names a `functools.partial(cio.track, ...)` rather
    # than a function, and the arguments that the partial binds. Those are
    # among the call's arguments, but they sit where the partial is made.
    through_partial: bool = False
    bound_arguments: tuple[cst.Arg, ...] = ()

    @property
    def api(self) -> Api:
        return self.client.api

    def without_bound_arguments(self) -> ClientCall:
        """Return the call with only the arguments that the caller passes."""
        bound = {id(argument) for argument in self.bound_arguments}
        return replace(
            self,
            arguments={
                name: argument
                for name, argument in self.arguments.items()
                if id(argument) not in bound
            },
            extra_keywords={
                name: argument
                for name, argument in self.extra_keywords.items()
                if id(argument) not in bound
            },
        )

    def value(self, parameter: str) -> cst.BaseExpression | None:
        argument = self.arguments.get(parameter)
        return argument.value if argument is not None else None


@dataclass(frozen=True)
class WrapperSignature:
    """A pass-through wrapper function of the project, as plain data that can be cached.

    Its one statement calls a client method with its parameters, unchanged
    (`wrappers.wrapper_signatures`), so a call of the wrapper is read as that
    client call with the caller's arguments.
    """

    method: str
    # None while the client is an import from another module of the project
    # (`client_import`), which only the project index resolves.
    client: ClientType | None
    # The parameters a caller may pass by position, in order, and how many
    # of them are positional-only.
    positional: tuple[str, ...]
    positional_only: int
    keyword_only: tuple[str, ...]
    # The `*args` and `**kwargs` parameters, which the client call gets as
    # `*args` and `**kwargs`.
    star: str | None
    star_star: str | None
    # The place of each named parameter in the client call: its position
    # there, or the keyword it is passed as.
    targets: tuple[tuple[str, int | str], ...]
    # The qualified name, as the wrapper's module imports it, of a client
    # that another module of the project binds (`from app.client import cio`),
    # or the wrapper's module's own name of an object that it builds with a
    # class imported from another module (`cio = Tracker(...)`).
    client_import: str | None = None
    # The parameters with the default None (`data=None`), which the client
    # call gets as None when a caller leaves them out.
    defaulted: tuple[str, ...] = ()


def forwarded_arguments(
    signature: WrapperSignature, call: cst.Call
) -> list[tuple[int | str | None, cst.Arg]] | None:
    """Map a wrapper call's arguments to where the client call gets them.

    Each argument gets its position in the client call, its keyword there,
    or None for a `*x` or `**x` argument (and any positional argument after
    one), whose place is unknown. Returns None when the call does not fit
    the wrapper's parameters, so it would raise TypeError.
    """
    targets = dict(signature.targets)
    keywords = set(signature.positional[signature.positional_only :])
    keywords.update(signature.keyword_only)
    forwarded: list[tuple[int | str | None, cst.Arg]] = []
    unknown_positions = False
    for position, argument in enumerate(call.args):
        if argument.star:
            unknown_positions = unknown_positions or argument.star == "*"
            forwarded.append((None, argument))
        elif argument.keyword is None:
            if unknown_positions:
                forwarded.append((None, argument))
            elif position < len(signature.positional):
                forwarded.append((targets[signature.positional[position]], argument))
            elif signature.star is not None:
                # Every positional parameter goes to the same position, so
                # `*args` continues the positions of the wrapper call.
                forwarded.append((position, argument))
            else:
                return None
        elif argument.keyword.value in keywords:
            forwarded.append((targets[argument.keyword.value], argument))
        elif signature.star_star is not None:
            forwarded.append((argument.keyword.value, argument))
        else:
            return None
    return forwarded


def _renamed_defaults(
    signature: WrapperSignature, call: cst.Call, parameters: tuple[str, ...]
) -> frozenset[str]:
    """Return the client parameters that a wrapper call leaves to a default of another name.

    A `*x` or `**x` argument may pass any of them, so they all count then.
    """
    if not signature.defaulted:
        return frozenset()
    positions = 0
    passed = set()
    for argument in call.args:
        if argument.star:
            passed = set()
            positions = 0
            break
        if argument.keyword is None:
            positions += 1
        else:
            passed.add(argument.keyword.value)
    passed.update(signature.positional[:positions])
    targets = dict(signature.targets)
    positional_only = signature.positional[: signature.positional_only]
    found = set()
    for name in signature.defaulted:
        if name in passed:
            continue
        target = targets[name]
        if isinstance(target, int):
            target = parameters[target] if target < len(parameters) else ""
        if target != name or name in positional_only:
            found.add(target)
    return frozenset(found)


@dataclass
class Construction:
    """A client constructor call, with its arguments normalised."""

    node: cst.Call
    client: ClientType
    site: CallSite
    arguments: dict[str, cst.Arg]


# The constructor parameter that identifies a client's workspace.
WORKSPACE_PARAMETERS = {Api.TRACK: "site_id", Api.PIPELINES: "write_key"}


def construction_workspace(construction: Construction) -> str | None:
    """Return the workspace key of a client built here, or None without a site id or write key.

    The key is `literal:` or `read:`, the parameter and the argument's code,
    as `codemods.attributes.workspace_of` describes.
    """
    parameter = WORKSPACE_PARAMETERS.get(construction.client.api)
    argument = construction.arguments.get(parameter) if parameter else None
    if argument is None:
        return None
    kind = "literal" if isinstance(literal_value(argument.value), str) else "read"
    return f"{kind}:{parameter} {code_of(argument.value)}"


def only_statement(node: cst.FunctionDef) -> cst.BaseSmallStatement | None:
    """Return the function's one statement after an optional docstring, if it is a simple one."""
    body = node.body
    statements = list(body.body) if isinstance(body, cst.IndentedBlock) else [body]
    if statements and node.get_docstring(clean=False) is not None:
        statements = statements[1:]
    if len(statements) != 1:
        return None
    line = statements[0]
    if not isinstance(line, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        return None
    return line.body[0] if len(line.body) == 1 else None


def dotted_name(node: cst.CSTNode) -> str | None:
    """Return `a.b.c` for a Name/Attribute chain, else None."""
    # Exact types, because isinstance is slow on libcst's abstract classes.
    if type(node) is cst.Name:
        return node.value
    if type(node) is cst.Attribute:
        base = dotted_name(node.value)
        return f"{base}.{node.attr.value}" if base is not None else None
    return None


def configured_name(node: cst.CSTNode) -> str | None:
    """Return the name that `client-names` writes for `node`, else None.

    That is `a.b.c` for a Name/Attribute chain, also followed by items
    with a string literal key: `current_app.extensions["customerio"]`,
    with the key always in double quotes.
    """
    if type(node) is not cst.Subscript:
        return dotted_name(node)
    if len(node.slice) != 1 or type(node.slice[0].slice) is not cst.Index:
        return None
    key = node.slice[0].slice.value
    if type(key) is not cst.SimpleString:
        return None
    base = configured_name(node.value)
    value = key.evaluated_value
    if base is None or not isinstance(value, str):
        return None
    return f"{base}[{json.dumps(value)}]"


def func_name(func: cst.Name | cst.Attribute) -> str:
    """Return the last name of a called expression: `track` for `cio.track`."""
    return func.value if type(func) is cst.Name else func.attr.value


def func_head(func: cst.BaseExpression) -> str | None:
    """Return the first name of a called expression: `cio` for `cio.events.track`."""
    while type(func) is cst.Attribute:
        func = func.value
    return func.value if type(func) is cst.Name else None


def bound_name(alias: cst.ImportAlias) -> str:
    """Return the name an import alias binds: `x` for `import x.y`, `z` for `as z`."""
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    node: cst.BaseExpression = alias.name
    while isinstance(node, cst.Attribute):
        node = node.value
    assert isinstance(node, cst.Name)
    return node.value


def all_parameters(parameters: cst.Parameters) -> list[cst.Param]:
    """Return the parameters of a function or lambda, each of which binds a name.

    The positional-only, ordinary and keyword-only ones come first, then
    `*args` and `**kwargs`. A bare `*` binds no name, so it is left out.
    """
    every = [
        *parameters.posonly_params,
        *parameters.params,
        *parameters.kwonly_params,
    ]
    for star in (parameters.star_arg, parameters.star_kwarg):
        if isinstance(star, cst.Param):
            every.append(star)
    return every


class NameReader(cst.CSTVisitor):
    """Collect the names an expression reads, leaving out attribute and keyword names."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        walk(node.value, self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        walk(node.value, self)
        return False


def read_names(node: cst.CSTNode) -> set[str]:
    reader = NameReader()
    walk(node, reader)
    return reader.names


def _rename_identifier(
    client: ClientType,
    method: str,
    named: dict[str, cst.Arg],
    extra: dict[str, cst.Arg],
) -> None:
    """Move async-customerio's `identifier` of identify, its customer id, to `id` in `named`."""
    if client.package == "async_customerio" and method == "identify":
        if "identifier" in extra:
            named["id"] = extra.pop("identifier")


def normalise_arguments(
    call: cst.Call, parameters: tuple[str, ...]
) -> tuple[dict[str, cst.Arg], dict[str, cst.Arg], list[cst.Arg]]:
    """Map a call's arguments to parameter names.

    Returns the named parameters, the extra keyword arguments, and the
    `*args`/`**kwargs` arguments that cannot be mapped.
    """
    named: dict[str, cst.Arg] = {}
    extra: dict[str, cst.Arg] = {}
    starred: list[cst.Arg] = []
    position = 0
    for argument in call.args:
        if argument.star:
            starred.append(argument)
            continue
        if argument.keyword is None:
            if position < len(parameters):
                named[parameters[position]] = argument
            position += 1
            continue
        keyword = argument.keyword.value
        if keyword in parameters:
            named[keyword] = argument
        else:
            extra[keyword] = argument
    return named, extra, starred


class FileIndex:
    """The Customer.io facts of one module."""

    def __init__(
        self,
        module: cst.Module,
        module_name: str,
        is_package: bool,
        shadowed_packages: frozenset[str] = frozenset(),
    ) -> None:
        self.module = module
        self.module_name = module_name
        self.is_package = is_package
        # The SDK packages that a module of the file's import root hides (`SdkShadowing`).
        self.shadowed_packages = shadowed_packages
        self.imports: dict[str, str] = {}
        self.module_scope = Scope(module, "module", None)
        # The scopes of list, set and dict comprehensions and generator expressions.
        self.comprehension_scopes: list[Scope] = []
        # The scopes of lambdas, which bind their parameters.
        self.lambda_scopes: list[Scope] = []
        self.functions: list[FunctionInfo] = []
        self.classes: list[ClassInfo] = []
        self.call_sites: list[CallSite] = []
        # `obj.attr = value` for every attribute target (`analytics.write_key = ...`).
        self.attribute_assignments: list[Assignment] = []
        # The objects that assignments, `+=` and `del` in functions change in
        # place, with the innermost function: `self.items` for `self.items[0]
        # = x`, `del self.items[0]` or `self.items += [x]`, `self` for
        # `self.items = []`.
        self.in_place_targets: list[tuple[cst.BaseExpression, FunctionInfo]] = []
        # `name[key] = value` for every item target of a plain name
        # (`CLIENTS["eu"] = ...`), recorded under the container's name.
        self.item_assignments: list[Assignment] = []
        # `container[key] = value` for every item target that is given a
        # value, whatever the container (`app.config["CUSTOMERIO_API_KEY"]`).
        self.item_targets: list[tuple[cst.Subscript, cst.BaseExpression]] = []
        # `x[...]` where x is a name or attribute ending in `environ`.
        self.environ_subscripts: list[tuple[cst.Subscript, Scope]] = []
        # Every `Name` node of the module by the identifier it spells, and
        # the parent of every node but the module, both filled by the walk.
        self.names: dict[str, list[cst.Name]] = {}
        # The file's string literals, for the quotes of those that fixes write.
        self.literals = FileLiterals()
        # Names that imports bind at module level (in `if` and `try` blocks
        # too), and names that `global` statements let functions rebind.
        self.module_imports: set[str] = set()
        self.global_names: set[str] = set()
        # Module-level aliases of SDK client classes (`Client = CustomerIO`),
        # which `imports` lists with the class's qualified name. Each maps to
        # the imported name that its value starts with, also through another
        # alias (`CustomerIO` for `Tracker = Client`).
        self.class_aliases: dict[str, str] = {}
        # What each module-level import binds a name to, in the order of the
        # imports: a name imported twice (`try: from .v2 import Event` and
        # `except ImportError: from .v1 import Event`) has both.
        self.module_import_origins: dict[str, list[str]] = {}
        # Module-level names bound before a module-level star import, which
        # may rebind them.
        self.star_rebound_names: set[str] = set()
        # Module-level names that may have more than one value (`rebound`).
        self.rebound_names: frozenset[str] = frozenset()
        # The assignments in functions and classes after `global name`, by name.
        self.global_assignments: dict[str, list[Assignment]] = {}
        # The functions and classes whose `global` statements declare each name.
        self.global_scopes: dict[str, list[Scope]] = {}
        # Modules imported with `from module import *` at module level.
        self.star_imports: list[str] = []
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        # True when a node object other than trivia appears in two places.
        self.shared_nodes = False
        self.project: ProjectIndex | None = None
        self.client_names: frozenset[str] = frozenset()
        # The configured `background-helper` (`package.module.function`), if any.
        self.background_helper: str | None = None
        self._calls: list[ClientCall] | None = None
        self._partial_calls: list[ClientCall] | None = None
        self._partials_by_id: dict[int, ClientCall] | None = None
        self._partial_uses: list[ClientCall] | None = None
        self._started_calls: list[ClientCall] | None = None
        self._handed_off_calls: list[ClientCall] | None = None
        self._constructions: list[Construction] | None = None
        self._sdk_constructions_found: list[Construction] | None = None
        self._resolving: set[int] = set()
        # The client type of each module-level dict of clients, by its name.
        self._client_dicts: dict[str, ClientType | None] = {}
        # Whether code may set a class variable unseen, by the id of the class node.
        self._changing_classes: dict[int, bool] = {}
        # Each class and its bases that attribute lookups reach, by the id of
        # the class node.
        self._class_lineages: dict[int, list[ClassInfo]] = {}
        # The base class at which each lineage ends because it is not a class
        # of this module, or None when it ends for another reason.
        self._lineage_ends: dict[int, cst.BaseExpression | None] = {}
        # Imported names that a function or class also binds, by an import
        # of its own, a parameter or an assignment: where they are used
        # decides what they mean.
        self.scoped_names: frozenset[str] = frozenset()
        self._scopes_by_node: dict[cst.CSTNode, Scope] | None = None
        self._setattr_assignments: list[Assignment] | None = None

    def finish(self) -> None:
        """Record what the walk found that needs the whole module."""
        self._bind_class_aliases()
        scoped: set[str] = set()
        for scope in self.inner_scopes():
            scoped.update(scope.imports)
            scoped.update(name for name in scope.assignments if name in self.imports)
        self.scoped_names = frozenset(scoped)
        self.rebound_names = frozenset(self._find_rebound_names())

    def _find_rebound_names(self) -> set[str]:
        """Return the module-level names that more than one binding may give a value.

        Such a name is bound by two module-level statements: imports of two
        different objects, an import and an assignment, or a class and a
        function. A name bound before a module-level star import counts too,
        and so does a name that a `global` statement lets a function or
        class bind.
        """
        rebound = set(self.star_rebound_names) | self.global_names
        assignments = self.module_scope.assignments
        for name in {*assignments, *self.module_import_origins}:
            origins = set(self.module_import_origins.get(name, ()))
            if len(assignments.get(name, ())) + len(origins) > 1:
                rebound.add(name)
        return rebound

    def inner_scopes(self) -> list[Scope]:
        """Return the scopes of the module's classes, functions, lambdas and comprehensions."""
        scopes = [info.scope for info in self.classes if info.scope is not None]
        scopes.extend(info.scope for info in self.functions if info.scope is not None)
        scopes.extend(self.lambda_scopes)
        scopes.extend(self.comprehension_scopes)
        return scopes

    def _bind_class_aliases(self) -> None:
        """Bind module-level aliases of SDK classes (`Client = CustomerIO`) as imports.

        Only a name that one plain assignment binds counts: an import, a
        second assignment, a `del` or a function's `global` statement could
        make it something else. The assignments are read in the order of
        the names' first bindings, so `Client = CustomerIO` may follow
        `CustomerIO = customerio.CustomerIO`.
        """
        scope = self.module_scope
        for name, assignments in scope.assignments.items():
            if (
                len(assignments) != 1
                or name in self.module_imports
                or name in self.global_names
                or name in scope.deletions
            ):
                continue
            assignment = assignments[0]
            if type(assignment.statement) not in (cst.Assign, cst.AnnAssign):
                continue
            dotted = (
                dotted_name(assignment.value) if assignment.value is not None else None
            )
            if dotted is None or dotted.partition(".")[0] not in self.module_imports:
                # A name that only a function imports is not bound at module level.
                continue
            qualified = self.qualify(dotted)
            if qualified in CONSTRUCTORS:
                self.imports[name] = qualified
                self.module_imports.add(name)
                head = dotted.partition(".")[0]
                self.class_aliases[name] = self.class_aliases.get(head, head)

    def release(self) -> None:
        """Break the reference cycles between the scopes and what they bind.

        A scope and its assignments, functions and classes refer to each
        other. Without this, the index and its module stay in memory until
        the cyclic garbage collector runs, and each of its passes scans
        every tree still alive. Call it only when nothing reads the index
        any more.
        """
        self.global_assignments = {}
        self.global_scopes = {}
        self._class_lineages = {}
        self._lineage_ends = {}
        for scope in [self.module_scope, *self.inner_scopes()]:
            scope.assignments = {}
            scope.function = None
            scope.class_info = None
        for info in self.classes:
            info.attributes = {}

    # -- names ---------------------------------------------------------------

    def qualified_name(
        self, node: cst.CSTNode, scope: Scope | None = None
    ) -> str | None:
        """Return the imported name an expression refers to (`time.time`).

        `scope` is the scope that `node` runs in, found through the parent
        links when not given. For a name that some function, class, lambda
        or comprehension binds for itself, it returns None when neither
        gives the scope, because the binding that `node` reads is unknown.
        """
        dotted = dotted_name(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        if head in self.scoped_names:
            if scope is None:
                scope = self.scope_of(node)
            if scope is None:
                return None
            origin = self._origin_in(head, scope)
            if origin is None:
                return None
            return f"{origin}.{rest}" if rest else origin
        return self.qualify(dotted)

    def _origin_in(self, name: str, scope: Scope) -> str | None:
        """Return the module or object that `name` is imported as, seen from `scope`.

        None when the nearest binding is not an import: a parameter, a loop
        variable or an assignment shadows the module-level import.
        """
        for candidate in scope.lookup_chain():
            if candidate.kind == "module":
                return self.imports.get(name) if name in self.module_imports else None
            if name in candidate.imports:
                return candidate.imports[name]
            if name in candidate.assignments:
                return None
        return None

    def scope_of(self, node: cst.CSTNode) -> Scope | None:
        """Return the innermost scope around `node`, else the module's.

        None when the parent links are gone (after `release_caches`).
        NOTE: a default value, a decorator or the first iterable of a
        comprehension runs in the enclosing scope, but gets the inner one.
        """
        if not self.parents:
            return None
        if self._scopes_by_node is None:
            self._scopes_by_node = {scope.node: scope for scope in self.inner_scopes()}
        current = self.parents.get(node)
        while current is not None:
            scope = self._scopes_by_node.get(current)
            if scope is not None:
                return scope
            current = self.parents.get(current)
        return self.module_scope

    def qualify(self, dotted: str) -> str | None:
        """Return the imported name a dotted name refers to, through the imports."""
        head, _, rest = dotted.partition(".")
        origin = self.imports.get(head)
        if origin is None:
            return None
        return f"{origin}.{rest}" if rest else origin

    def assignments_of(self, name: str, scope: Scope) -> list[Assignment]:
        """Return the assignments of `name` in the nearest scope that binds it, seen from `scope`.

        An import in a function or class body binds the name there too, so
        a scope that only imports `name` ends the search with no assignment.
        A function that declares the name `global` binds the module's name,
        so its imports do not end the search.
        """
        for candidate in scope.lookup_chain():
            if name in candidate.assignments:
                return candidate.assignments[name]
            if name in candidate.imports and not self._declares_global(name, candidate):
                return []
        return []

    def _declares_global(self, name: str, scope: Scope) -> bool:
        return any(declaring is scope for declaring in self.global_scopes.get(name, ()))

    def import_bindings(
        self, node: cst.Import | cst.ImportFrom
    ) -> list[tuple[str, str]]:
        """Return each name an import binds, with the module or object it imports.

        `import a.b` binds `a` to the module `a`, `import a.b as c` binds `c`
        to `a.b`, and `from .a import b` binds `b` to `package.a.b`. A star
        import binds nothing here.
        """
        bindings = []
        if isinstance(node, cst.Import):
            for alias in node.names:
                dotted = dotted_name(alias.name)
                if dotted is None:
                    continue
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    bindings.append((alias.asname.name.value, self._imported(dotted)))
                else:
                    head = dotted.split(".")[0]
                    bindings.append((head, self._imported(head)))
            return bindings
        base = self.import_base(node)
        if base is None or isinstance(node.names, cst.ImportStar):
            return bindings
        for alias in node.names:
            name = dotted_name(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            bindings.append((local, f"{base}.{name}" if base else name))
        return bindings

    def import_base(self, node: cst.ImportFrom) -> str | None:
        """Return the absolute name of the module a `from` import reads from."""
        module = dotted_name(node.module) if node.module is not None else ""
        if module is None:
            return None
        level = len(node.relative)
        if level == 0:
            return self._imported(module)
        package_parts = self.module_name.split(".")
        if not self.is_package:
            package_parts = package_parts[:-1]
        if level > 1:
            package_parts = package_parts[: len(package_parts) - (level - 1)]
        parts = [part for part in package_parts if part]
        if module:
            parts.append(module)
        return self._imported(".".join(parts))

    def _imported(self, module: str) -> str:
        """Return the name of an imported module, prefixed when a project module hides it."""
        if module.partition(".")[0] in self.shadowed_packages:
            return PROJECT_MODULE_PREFIX + module
        return module

    def rebound(self, name: str, scope: Scope) -> bool:
        """Tell whether `name`, looked up from `scope`, may have more than one value.

        That is a module-level name in `rebound_names`. A function, class or
        lambda that binds `name` for itself shadows the module-level name,
        and its binding is read on its own terms.
        """
        if name not in self.rebound_names:
            return False
        for candidate in scope.lookup_chain():
            if candidate.kind == "module":
                return True
            if name in candidate.imports or name in candidate.assignments:
                return name in self.global_names
        return True

    def binds_anywhere(self, name: str) -> bool:
        """Tell whether any scope of the module imports, assigns or takes `name` as a parameter."""
        if name in self.imports:
            # The table contains the names of every import, in functions too.
            return True
        scopes = [self.module_scope, *self.inner_scopes()]
        return any(name in scope.assignments for scope in scopes)

    def may_shadow_builtin(self, name: str, scope: Scope) -> bool:
        """Tell whether `name`, read in `scope`, may be a binding of the module and not the builtin.

        That is the case when `scope` or a scope that Python searches from
        it binds the name in any way (see `IndexBuilder`): an assignment, a
        `def` or `class`, an import, a parameter, a loop or `with` target,
        `except ... as`, `:=` or a `case` capture. A function's `global`
        statement for the name counts for the whole module. A binding in
        another function or in a class body that `scope` is not part of
        does not count.
        NOTE: a module-level star import may bind the name too, but does not
        count, because the names it binds are not known here.
        """
        if name in self.global_names or name in self.module_imports:
            return True
        return any(
            name in candidate.assignments or name in candidate.imports
            for candidate in scope.lookup_chain()
        )

    def module_assignment(self, name: str) -> Assignment | None:
        assignments = self.module_scope.assignments.get(name, [])
        return assignments[0] if len(assignments) == 1 else None

    def type_alias_value(self, name: str) -> cst.BaseExpression | None:
        """Return the type that `name` is an alias of, when it is a module-level type alias.

        `Dep = Annotated[CustomerIO, Depends(get_cio)]`, `Dep: TypeAlias =
        ...` and `type Dep = ...` are aliases, and so is a class alias
        (`Client = CustomerIO`). The module must bind the name once. A
        second binding, a star import after it, a `del` or a function's
        `global` rebinding leaves it unknown. A plain assignment counts only
        with a value that reads as a type (a name, an attribute, a subscript
        or `A | B`), so that string constants are not parsed as annotations.
        """
        assignments = self.module_scope.assignments.get(name)
        if assignments is None or len(assignments) != 1:
            return None
        if name in self.rebound_names or name in self.module_scope.deletions:
            return None
        statement = assignments[0].statement
        if type(statement) is cst.TypeAlias:
            return statement.value
        value = assignments[0].value
        if value is None or type(statement) not in (cst.Assign, cst.AnnAssign):
            return None
        if _reads_as_type(value) or self._marked_type_alias(statement):
            return value
        return None

    def _marked_type_alias(self, statement: cst.CSTNode) -> bool:
        if type(statement) is not cst.AnnAssign:
            return False
        marker = self.qualified_name(statement.annotation.annotation)
        return marker in TYPE_ALIAS_MARKERS

    def type_alias_client(self, name: str) -> ClientType | None:
        """Return the client class that the module's type alias `name` allows, if any."""
        value = self.type_alias_value(name)
        if value is None:
            return None
        return self._annotation_client(value, self.module_scope)

    def _module_type_alias(self, name: str, scope: Scope) -> cst.BaseExpression | None:
        """Return the value of the module's type alias that `name` refers to in `scope`."""
        if name not in self.module_scope.assignments:
            return None
        for candidate in scope.lookup_chain():
            if candidate.kind == "module":
                return self.type_alias_value(name)
            if name in candidate.assignments or name in candidate.imports:
                return None
        return None

    # -- clients ---------------------------------------------------------------

    def client_type(self, node: cst.BaseExpression, scope: Scope) -> ClientType | None:
        """Return the client type `node` evaluates to in `scope`, if it is a client."""
        key = id(node)
        if key in self._resolving:
            return None
        self._resolving.add(key)
        try:
            return self._client_type(node, scope)
        finally:
            self._resolving.discard(key)

    def _client_type(self, node: cst.BaseExpression, scope: Scope) -> ClientType | None:
        # Exact types, because isinstance is slow on libcst's abstract classes.
        kind = type(node)
        if kind is cst.Await:
            return self.client_type(node.expression, scope)
        if kind is cst.IfExp:
            # `CustomerIO(...) if enabled else None` is a client or nothing.
            branches = [
                branch
                for branch in (node.body, node.orelse)
                if not (isinstance(branch, cst.Name) and branch.value == "None")
            ]
            types = {self.client_type(branch, scope) for branch in branches}
            return types.pop() if len(types) == 1 else None
        if kind is cst.Call:
            return self._call_result_type(node, scope)
        if kind is cst.Name:
            return self._name_type(node.value, scope)
        if kind is cst.Attribute:
            return self._attribute_type(node, scope)
        if kind is cst.Subscript:
            return self._item_type(node, scope)
        return None

    def _call_result_type(self, call: cst.Call, scope: Scope) -> ClientType | None:
        constructed = self.constructor_type(call.func)
        if constructed is not None:
            return constructed

        read = self._getattr_read(call)
        if read is not None:
            # `getattr(ev, "cio")` reads what `ev.cio` reads.
            return self._attribute_type(read, scope)

        dependency = dependency_of(self, call)
        if dependency is not None:
            # `cio = Depends(get_client)`: FastAPI passes what get_client returns.
            return self._call_result_type(cst.Call(func=dependency), scope)

        function = self._local_function(call.func, scope)
        if function is not None:
            return self.factory_type(function)

        method = self.class_callable_method(call.func, scope)
        if method is not None:
            return self._method_result_type(method)

        qualified = self.qualified_name(call.func)
        if qualified is not None and self.project is not None:
            return self.project.factory_type(self._localised(qualified))
        return None

    def _getattr_read(self, call: cst.Call) -> cst.Attribute | None:
        """Return `getattr(owner, "name")` as the attribute `owner.name`, when it is one.

        The attribute is a new node, so it has no parent links. A default
        of None (`getattr(ev, "cio", None)`) gives a client or nothing, as
        `cio if enabled else None` does.
        """
        func = call.func
        if type(func) is not cst.Name or func.value != "getattr":
            return None
        if "getattr" in self.imports or self.binds_anywhere("getattr"):
            return None
        arguments = call.args
        if len(arguments) == 3:
            default = arguments[2].value
            if type(default) is not cst.Name or default.value != "None":
                return None
        elif len(arguments) != 2:
            return None
        if any(argument.star or argument.keyword for argument in arguments):
            return None
        name = literal_value(arguments[1].value)
        if not isinstance(name, str) or not name.isidentifier():
            return None
        return cst.Attribute(value=arguments[0].value, attr=cst.Name(name))

    def constructor_type(self, func: cst.BaseExpression) -> ClientType | None:
        qualified = self.qualified_name(func)
        if qualified is None:
            return None
        client = CONSTRUCTORS.get(qualified)
        if client is None:
            reexported = self._reexported_class(qualified)
            client = reexported.client if reexported is not None else None
        return client

    def reexported_class(self, func: cst.BaseExpression) -> ReexportedClass | None:
        """Return the client class that `func` names through another project module, if any.

        `CustomerIO` after `from compat import CustomerIO`, where compat.py
        imports it from customerio, is one.
        """
        if self.project is None or not self.project.client_class_names:
            return None
        qualified = self.qualified_name(func)
        return self._reexported_class(qualified) if qualified is not None else None

    def _reexported_class(self, qualified: str) -> ReexportedClass | None:
        project = self.project
        if project is None or qualified.rpartition(".")[2] not in (
            project.client_class_names
        ):
            return None
        return project.client_class(self._localised(qualified))

    def factory_type(self, function: FunctionInfo) -> ClientType | None:
        """Return the client a function returns, if it is a client factory."""
        if function.scope is None:
            return None
        for value in function.returns:
            found = self.client_type(value, function.scope)
            if found is not None:
                return found
        return None

    def _localised(self, qualified: str) -> str:
        assert self.project is not None
        return self.project.localise(qualified, self.module_name)

    def _local_function(
        self, func: cst.BaseExpression, scope: Scope
    ) -> FunctionInfo | None:
        """Return the function that `func` calls, when the nearest binding of its name is a `def`.

        A `def` that an import, a parameter or an assignment of a scope
        nearer to `scope` shadows does not count.
        """
        if not isinstance(func, cst.Name):
            return None
        bindings = self.assignments_of(func.value, scope)
        statements = {id(binding.statement) for binding in bindings}
        for function in self.functions:
            if id(function.node) in statements and function.class_info is None:
                return function
        return None

    def _name_type(self, name: str, scope: Scope) -> ClientType | None:
        """Return the client type of a name: the type the code shows, else the configured one.

        A name listed in `client-names` is a Track API client only where the
        code shows no client type for it, so that `tracker =
        make_tracker()` of a factory that returns an `AsyncCustomerIO`
        stays async.
        """
        assignments = self.assignments_of(name, scope)
        found = self._bound_name_type(name, scope, assignments)
        if found is not None:
            return found
        if name in self.client_names and not self._bound_to_other_object(
            name, scope, assignments
        ):
            return TRACK
        return None

    def _bound_name_type(
        self, name: str, scope: Scope, assignments: list[Assignment]
    ) -> ClientType | None:
        """Return the client type that the assignments or imports of a name give it."""
        if assignments:
            if self._binds_global(name, assignments[0].scope):
                return self.global_client_type(name)
            return self._assigned_type(assignments)

        if name in self.scoped_names:
            qualified = self._origin_in(name, scope)
        else:
            qualified = self.imports.get(name)
        if qualified == PIPELINES_MODULE:
            return PIPELINES
        if qualified is not None and self.project is not None:
            local = self._localised(qualified)
            if self.project.is_pipelines_module(local):
                return PIPELINES
            return self.project.client_type(local)
        if self.project is not None:
            return self._star_imported_type(name)
        return None

    def _star_imported_type(self, name: str) -> ClientType | None:
        """Return the client type that a star import of a project module gives a name.

        No statement of the module binds the name. The star imports are
        tried last first, because at run time the last one that binds the
        name gives its value. One that may bind the name through an
        `__all__` that cio-fix cannot read leaves it unknown.
        """
        assert self.project is not None
        for module in reversed(self.star_imports):
            local = self._localised(f"{module}.{name}")
            exported = self.project.star_binds(local.rpartition(".")[0], name)
            if exported is None:
                return None
            if not exported:
                continue
            found = self.project.client_type(local)
            if found is not None:
                return found
        return None

    def _bound_to_other_object(
        self, name: str, scope: Scope, assignments: list[Assignment]
    ) -> bool:
        """Tell whether the code binds a configured client name to something other than a client.

        That is an object or a module of another library (`tracker =
        Mixpanel(...)`, `import mixpanel as tracker`, a loop over Mixpanel
        objects) or an annotation with other classes only, with or without
        a value (`tracker: SegmentTracker`).
        """
        if self._other_library_object(assignments):
            return True
        origin = self._origin_in(name, scope)
        if origin is not None and self._from_other_library(origin):
            return True
        annotated = [*assignments, *self._bare_annotations(name, scope)]
        return self._annotated_with_other_class(annotated)

    def _other_library_object(self, assignments: list[Assignment]) -> bool:
        """Tell whether an assignment or a loop binds the name to an object of another library.

        A configured client name (`tracker`) does not count in a file that
        binds it to `Mixpanel(...)`: a call of something imported from
        neither a Customer.io SDK nor a module of the project.
        """
        return any(
            self._other_library_call(assignment.value)
            or self._loops_over_other_library_objects(assignment)
            for assignment in assignments
        )

    def _other_library_call(self, value: cst.BaseExpression | None) -> bool:
        if isinstance(value, cst.Await):
            value = value.expression
        if not isinstance(value, cst.Call):
            return False
        qualified = self.qualified_name(value.func)
        return qualified is not None and self._from_other_library(qualified)

    def _from_other_library(self, qualified: str) -> bool:
        """Tell whether an imported name comes from neither a Customer.io SDK nor the project."""
        top = qualified.partition(".")[0]
        if top in CLIENT_PACKAGES:
            return False
        module = qualified.rpartition(".")[0] or qualified
        return self.project is None or (
            self.project.module(self._localised(module)) is None
            and self.project.module(self._localised(qualified)) is None
        )

    def _loops_over_other_library_objects(self, assignment: Assignment) -> bool:
        """Tell whether a `for` loop binds the name to objects of another library only.

        The loop goes over a list, tuple or set display of them, or over a
        name that one assignment binds to such a display (`SINKS =
        [Mixpanel(...), Mixpanel(...)]`). A loop over anything else gives
        values that cio-fix does not know.
        NOTE: an object that code adds to the list later (`SINKS.append`) is not seen.
        """
        loop = assignment.statement
        if not isinstance(loop, (cst.For, cst.CompFor)):
            return False
        if not (
            isinstance(loop.target, cst.Name) and loop.target.value == assignment.name
        ):
            return False
        items = loop.iter
        if isinstance(items, cst.Name):
            bound = self.assignments_of(items.value, assignment.scope)
            if len(bound) != 1 or self.rebound(items.value, assignment.scope):
                return False
            if not isinstance(bound[0].statement, (cst.Assign, cst.AnnAssign)):
                return False
            items = bound[0].value
        if not isinstance(items, (cst.List, cst.Tuple, cst.Set)) or not items.elements:
            return False
        return all(
            isinstance(element, cst.Element) and self._other_library_call(element.value)
            for element in items.elements
        )

    def _bare_annotations(self, name: str, scope: Scope) -> list[Assignment]:
        """Return the annotations without a value of `name` in the scope that binds it."""
        for candidate in scope.lookup_chain():
            if name in candidate.annotations:
                return candidate.annotations[name]
            if name in candidate.assignments or name in candidate.imports:
                return []
        return []

    def _annotated_with_other_class(self, assignments: list[Assignment]) -> bool:
        """Tell whether a parameter or variable is annotated with classes that are not clients.

        A configured client name does not count for `tracker: SegmentTracker`
        or `tracker: Optional[SegmentTracker]`, because the code states the
        type. It still counts for `tracker: Any`, and for an annotation that
        names a client class, a class that may be one, or a type cio-fix
        cannot follow.
        """
        for assignment in assignments:
            statement = assignment.statement
            if not isinstance(statement, (cst.Param, cst.AnnAssign)):
                continue
            if statement.annotation is None:
                continue
            types = self.annotation_types(
                statement.annotation.annotation, annotation_scope(assignment)
            )
            if types and all(
                self.is_other_class(node, node_scope) for node, node_scope in types
            ):
                return True
        return False

    def annotation_types(
        self, annotation: cst.BaseExpression, scope: Scope
    ) -> list[tuple[cst.BaseExpression, Scope]]:
        """Return the types an annotation in `scope` allows, other than None.

        It reads through `A | B`, `Optional[A]`, `Union[A, B]`,
        `Annotated[A, ...]`, string annotations (`"A"`) and the module's type
        aliases (`type_alias_value`). A string that is not an expression
        gives nothing. Each type comes with the scope that its names are
        looked up in, which is the module's for the value of an alias.
        """
        types = []
        pending = [(annotation, scope)]
        # Each alias is read once, so that a recursive `type` alias ends.
        expanded: set[str] = set()
        while pending:
            node, node_scope = pending.pop()
            if isinstance(node, cst.SimpleString):
                parsed = _parse_string_annotation(node)
                if parsed is not None:
                    pending.append((parsed, node_scope))
            elif isinstance(node, cst.BinaryOperation) and isinstance(
                node.operator, cst.BitOr
            ):
                pending.extend([(node.left, node_scope), (node.right, node_scope)])
            elif isinstance(node, cst.Subscript) and self._is_wrapper(node):
                pending.extend(
                    (wrapped, node_scope) for wrapped in self._wrapped_types(node)
                )
            elif isinstance(node, cst.Name):
                if node.value == "None" or node.value in expanded:
                    continue
                alias = self._module_type_alias(node.value, node_scope)
                if alias is None:
                    types.append((node, node_scope))
                else:
                    expanded.add(node.value)
                    pending.append((alias, self.module_scope))
            else:
                types.append((node, node_scope))
        return types

    def _is_wrapper(self, node: cst.Subscript) -> bool:
        wrapper = (self.qualified_name(node.value) or "").rpartition(".")[2]
        return wrapper in ANNOTATION_WRAPPERS

    def _wrapped_types(self, node: cst.Subscript) -> list[cst.BaseExpression]:
        wrapper = (self.qualified_name(node.value) or "").rpartition(".")[2]
        elements = node.slice if ANNOTATION_WRAPPERS[wrapper] else node.slice[:1]
        return [
            element.slice.value
            for element in elements
            if isinstance(element.slice, cst.Index)
        ]

    def is_other_class(
        self, node: cst.BaseExpression, scope: Scope, depth: int = 0
    ) -> bool:
        """Tell whether a type in an annotation is a class that no client is an instance of.

        False also when that is unknown. That is the case for `object` and
        for the names of `typing`, such as `Any` or a `Protocol` that a
        client matches. It is also the case for a name bound to something
        other than a class, and for a class that wraps or subclasses a client
        or may do so through a base class.
        """
        if depth > MAX_BASE_CLASSES:
            return False
        if isinstance(node, cst.Subscript):
            # `list[CustomerIO]`, `type[CustomerIO]`, a generic class: the
            # object is an instance of the class outside the brackets.
            return self.is_other_class(node.value, scope, depth)
        if not isinstance(node, (cst.Name, cst.Attribute)):
            return False
        if self.constructor_type(node) is not None:
            return False

        qualified = self.qualified_name(node)
        if qualified is not None:
            return self._is_other_import(qualified)
        if not isinstance(node, cst.Name):
            return False
        class_info = self._class_named(node, scope)
        if class_info is not None:
            return self._is_other_local_class(class_info, depth)
        return self._is_builtin_class(node.value)

    def _is_other_import(self, qualified: str) -> bool:
        top = qualified.partition(".")[0]
        if top in CLIENT_PACKAGES or top in TYPING_MODULES:
            return False
        if self.project is None:
            # Before the project index exists, an imported class may be a
            # project class that wraps a client.
            return False
        return self.project.is_other_class(self._localised(qualified))

    def _is_other_local_class(self, class_info: ClassInfo, depth: int) -> bool:
        """Tell whether a class of this module neither wraps nor subclasses a client.

        A class whose `__init__` builds a client is a wrapper of one. A
        metaclass keyword leaves the class unknown, because an ABC may
        register a client class as a virtual subclass.
        """
        if class_info.node.keywords or class_info.scope is None:
            return False
        outer = class_info.scope.parent
        if outer is None:
            return False
        for construction in self.constructions:
            function = construction.site.function
            if (
                function is not None
                and function.name == "__init__"
                and function.class_info is class_info
            ):
                return False
        return all(
            self.is_other_class(base.value, outer, depth + 1)
            for base in class_info.node.bases
        )

    def _is_builtin_class(self, name: str) -> bool:
        """Tell whether `name` is a built-in class (`str`, `dict`) other than `object`."""
        if name == "object" or name in self.imports or self.star_imports:
            return False
        if self.binds_anywhere(name):
            return False
        return isinstance(getattr(builtins, name, None), type)

    def _attribute_type(self, node: cst.Attribute, scope: Scope) -> ClientType | None:
        if self.qualified_name(node) == PIPELINES_MODULE:
            return PIPELINES

        owner = node.value
        if isinstance(owner, cst.Name) and owner.value in ("self", "cls"):
            # NOTE: unlike `Holder.client`, this does not ask `class_may_change`,
            # so a class variable that `setattr` or another module replaces is
            # still taken for a client here.
            class_info = self._enclosing_class(scope)
            if class_info is not None:
                return self._class_attribute_type(class_info, node.attr.value)
            return None

        found = None
        class_info = self._class_named(owner, scope)
        if class_info is not None:
            found = self._class_variable_type(class_info, node.attr.value)
        else:
            qualified = self.qualified_name(node)
            if qualified is not None and self.project is not None:
                local = self._localised(qualified)
                if self.project.is_pipelines_module(local):
                    # `tracking.analytics` of a module that imports it.
                    return PIPELINES
                found = self.project.client_type(local)
            elif qualified is None and type(owner) is cst.Name:
                found = self._held_attribute_type(owner.value, node.attr.value, scope)
        if found is None and configured_name(node) in self.client_names:
            # As for a name, the type the code shows comes before the configured one.
            return TRACK
        return found

    def _held_attribute_type(
        self, name: str, attribute: str, scope: Scope
    ) -> ClientType | None:
        """Return the client type of `name.attribute`, where `name` is a module-level object."""
        holder = self._module_object(name, scope)
        if holder is None:
            return None
        return self.held_client_type(holder, attribute)

    def _module_object(self, name: str, scope: Scope) -> Assignment | None:
        """Return the one plain assignment that binds `name` at module level, as `scope` reads it.

        None when a parameter or a variable of `scope` or of a scope around
        it shadows the name, or when the module binds it in any other way
        too: a second assignment, an import, a loop, a `del`, a function's
        `global` rebinding, or `a = b = ...`.
        """
        assignments = self.assignments_of(name, scope)
        if len(assignments) != 1:
            return None
        holder = assignments[0]
        if holder.scope is not self.module_scope or holder.value is None:
            return None
        if name in self.rebound_names or name in self.module_scope.deletions:
            return None
        statement = holder.statement
        if type(statement) is cst.Assign and len(statement.targets) == 1:
            return holder
        if type(statement) is cst.AnnAssign:
            return holder
        return None

    def held_client_type(self, holder: Assignment, attribute: str) -> ClientType | None:
        """Return the client type of an attribute of a module-level object.

        `holder` binds the object (`_module_object`). An instance of a class
        of this module that assigns the attribute (`tracking = Tracking()`)
        gives the type that `self.attr` has in the class's methods. Each
        assignment through the object (`tracking.cio = ...`) must then give
        a client of that type. Any other object needs one module-level
        assignment of a client to the attribute (`app.cio = CustomerIO(...)`).
        An assignment to the object or the attribute through the module
        object in another project module (`app_module.app.cio = ...`) leaves
        it unknown.

        `setattr(app, "cio", CustomerIO(...))` assigns the attribute as
        `app.cio = ...` does, and `setattr` with a name that is not a literal
        may assign any attribute (`setattr_assignments`).
        NOTE: as for `self.attr`, an alias of the object and an argument that
        hands it on are not followed.
        """
        name = f"{holder.name}.{attribute}"
        written = self.setattr_assignments()
        if any(item.name == f"{holder.name}.*" for item in written):
            return None
        direct = [
            item
            for item in [*self.attribute_assignments, *written]
            if item.name == name
        ]
        class_info = self._instance_class(holder)
        if class_info is not None and self._class_assigns(class_info, attribute):
            found = self._class_attribute_type(class_info, attribute)
            if direct and self._assigned_type(direct) != found:
                return None
        elif len(direct) == 1 and direct[0].scope is self.module_scope:
            value = direct[0].value
            if value is None:
                return None
            found = self.client_type(value, self.module_scope)
        else:
            return None
        if found is None or self._held_attribute_rebound(holder.name, attribute):
            return None
        return found

    def _instance_class(self, holder: Assignment) -> ClassInfo | None:
        """Return the class of this module that `holder` binds an instance of (`Tracking()`)."""
        value = holder.value
        if type(value) is not cst.Call:
            return None
        return self._class_named(value.func, self.module_scope)

    def _class_assigns(self, class_info: ClassInfo, attribute: str) -> bool:
        lineage = self._class_lineage(class_info)
        return any(self._attribute_assignments(item, attribute) for item in lineage)

    def _held_attribute_rebound(self, name: str, attribute: str) -> bool:
        """Tell whether project code may rebind the object `name` or its attribute unseen here."""
        if self.project is None:
            return False
        return self.project.rebound_attribute(self.module_name, name, attribute)

    def held_clients(self) -> dict[str, ClientType]:
        """Return the clients held as attributes of module-level objects, by `name.attribute`.

        The candidates are the attributes that the module assigns at module
        level through a name, and those of the module-level instances of
        its classes.
        """
        candidates: set[tuple[str, str]] = set()
        for assignment in [*self.attribute_assignments, *self.setattr_assignments()]:
            name, _, attribute = assignment.name.partition(".")
            if assignment.scope is self.module_scope and attribute.isidentifier():
                candidates.add((name, attribute))
        for name, assignments in self.module_scope.assignments.items():
            if len(assignments) != 1:
                continue
            class_info = self._instance_class(assignments[0])
            if class_info is None:
                continue
            for item in self._class_lineage(class_info):
                candidates.update((name, attribute) for attribute in item.attributes)

        found = {}
        for name, attribute in sorted(candidates):
            holder = self._module_object(name, self.module_scope)
            if holder is None:
                continue
            client = self.held_client_type(holder, attribute)
            if client is not None:
                found[f"{name}.{attribute}"] = client
        return found

    def setattr_assignments(self) -> list[Assignment]:
        """Return `setattr(obj, "attr", value)` as assignments to `obj.attr`, for plain names.

        `delattr(obj, "attr")` gives one without a value. An attribute name
        that is not a literal string gives `obj.*`, any attribute.
        """
        if self._setattr_assignments is not None:
            return self._setattr_assignments
        found = []
        for function in ("setattr", "delattr"):
            for node in self.names.get(function, []):
                assignment = self._setattr_assignment(node)
                if assignment is not None:
                    found.append(assignment)
        self._setattr_assignments = found
        return found

    def _setattr_assignment(self, node: cst.Name) -> Assignment | None:
        call = self.parents.get(node)
        if type(call) is not cst.Call or call.func is not node:
            return None
        arguments = call.args
        if len(arguments) < 2 or any(argument.star for argument in arguments):
            return None
        owner = arguments[0].value
        scope = self.scope_of(call)
        if type(owner) is not cst.Name or scope is None:
            return None
        if self.may_shadow_builtin(node.value, scope):
            return None
        attribute = literal_value(arguments[1].value)
        if not isinstance(attribute, str):
            attribute = "*"
        value = arguments[2].value if len(arguments) > 2 else None
        if node.value == "delattr":
            value = None
        return Assignment(f"{owner.value}.{attribute}", value, call, scope)

    def _class_attribute_type(
        self, class_info: ClassInfo, attribute: str
    ) -> ClientType | None:
        """Return the client type of `self.attribute` or `cls.attribute` in a method.

        An attribute that the class never assigns comes from the first of its
        base classes of this module that does (`_class_lineage`). When none
        does, it comes from the imported base class at which the lineage
        ends, when that class of another project module binds it to a client.
        """
        for owner in self._class_lineage(class_info):
            assignments = self._attribute_assignments(owner, attribute)
            if not assignments:
                continue
            getter = self._property_getter(assignments)
            if getter is not None:
                return self._method_result_type(getter)
            return self._assigned_type(assignments)
        return self._imported_base_client_type(class_info, attribute)

    def _imported_base_client_type(
        self, class_info: ClassInfo, attribute: str
    ) -> ClientType | None:
        """Return the client type of an attribute that only an imported base class binds.

        The project index reads it from the summary of the base class's
        module (`ModuleSummary.class_clients`).
        NOTE: only one module is crossed, so a client that the imported
        class itself inherits from a class of a third module is not seen.
        """
        project = self.project
        if project is None or attribute not in project.class_client_attributes:
            return None
        qualified = self._imported_base_attribute(class_info, attribute)
        if qualified is None:
            return None
        return project.class_client_type(self._localised(qualified))

    def class_clients(self) -> dict[str, ClientType]:
        """Return the clients bound to attributes of module-level classes, by `Class.attribute`.

        An attribute is a class variable or a `self.attribute` of a method,
        of the class or of its base classes of this module, which methods of
        the class read as `_class_attribute_type` does.
        """
        found = {}
        for class_info in self.classes:
            scope = class_info.scope
            if scope is None or scope.parent is not self.module_scope:
                continue
            attributes: set[str] = set()
            for item in self._class_lineage(class_info):
                attributes.update(item.attributes)
            for attribute in sorted(attributes):
                client = self._class_attribute_type(class_info, attribute)
                if client is not None:
                    found[f"{class_info.name}.{attribute}"] = client
        return found

    def read_property(self, node: cst.Attribute, scope: Scope) -> FunctionInfo | None:
        """Return the getter that `self.name` or `cls.name` runs, when it is a property.

        The class is the one whose method `scope` is in, or the first of its
        bases of this module that binds the name, as for `_class_attribute_type`.
        """
        class_info = self._class_of_self(node, scope)
        if class_info is None:
            return None
        return self.class_property(class_info, node.attr.value)

    def class_property(
        self, class_info: ClassInfo, attribute: str
    ) -> FunctionInfo | None:
        """Return the getter that an instance of a class of this module runs for `attribute`.

        The getter is the class's, or that of the first of its bases of
        this module that binds the name, as for `_class_attribute_type`.
        """
        return self._property_getter(self.class_bindings(class_info, attribute))

    def class_bindings(self, class_info: ClassInfo, attribute: str) -> list[Assignment]:
        """Return the assignments to `attribute` in the first class of a lineage that binds it.

        The lineage is that of `class_info`, a class of this module
        (`_class_lineage`). The list is empty when no class of it binds
        the name.
        """
        for item in self._class_lineage(class_info):
            assignments = self._attribute_assignments(item, attribute)
            if assignments:
                return assignments
        return []

    def inherited_attribute(self, node: cst.Attribute, scope: Scope) -> str | None:
        """Return `module.Base.name` for `self.name` that only an imported base class binds.

        No class of the lineage (`_class_lineage`) of the class whose method
        `scope` is in binds the name, and the lineage ends at a base class
        that this module imports, which Python searches next.
        """
        class_info = self._class_of_self(node, scope)
        if class_info is None:
            return None
        return self.class_inherited_attribute(class_info, node.attr.value)

    def _class_of_self(self, node: cst.Attribute, scope: Scope) -> ClassInfo | None:
        """Return the class whose method `scope` is in, for `self.name` or `cls.name`."""
        owner = node.value
        if type(owner) is not cst.Name or owner.value not in ("self", "cls"):
            return None
        return self._enclosing_class(scope)

    def class_inherited_attribute(
        self, class_info: ClassInfo, attribute: str
    ) -> str | None:
        """Return `module.Base.attribute` when only an imported base of a class binds it.

        The class is one of this module, and the lookup is as for
        `inherited_attribute`.
        """
        lineage = self._class_lineage(class_info)
        for item in lineage:
            if self._attribute_assignments(item, attribute):
                return None
        return self._imported_base_attribute(class_info, attribute)

    def _imported_base_attribute(
        self, class_info: ClassInfo, attribute: str
    ) -> str | None:
        """Return `module.Base.attribute` for the imported base class that ends a lineage.

        The class's lineage (`_class_lineage`) must be built already.
        """
        base = self._lineage_ends.get(id(class_info.node))
        if base is None:
            return None
        qualified = self.qualified_name(base, self.module_scope)
        return f"{qualified}.{attribute}" if qualified is not None else None

    def _property_getter(self, assignments: list[Assignment]) -> FunctionInfo | None:
        """Return the getter of a `property` or `cached_property` bound by nothing else.

        A setter or any other assignment to the attribute makes it unknown,
        because the attribute may then hold another object.
        """
        method = self._only_method(assignments)
        if method is None or len(method.decorators) != 1:
            return None
        if method.decorators[0] not in PROPERTY_DECORATORS:
            return None
        return method

    def class_callable_method(
        self, func: cst.BaseExpression, scope: Scope
    ) -> FunctionInfo | None:
        """Return the static or class method that `Class.name`, `cls.name` or `self.name` calls.

        The class must be one of this module. A method that another
        assignment to the attribute may replace is not known.
        """
        if type(func) is not cst.Attribute:
            return None
        owner = func.value
        if type(owner) is cst.Name and owner.value in ("self", "cls"):
            class_info = self._enclosing_class(scope)
        else:
            class_info = self._class_named(owner, scope)
            if class_info is not None and self._class_may_change(class_info):
                return None
        if class_info is None:
            return None

        method = self._class_method(class_info, func.attr.value)
        if method is None or not self._callable_through_class(method):
            return None
        return method

    def class_method(self, class_info: ClassInfo, name: str) -> FunctionInfo | None:
        """Return the method `name` of a class of this module, or of the first base that binds it.

        None when the class may bind `name` to something else too.
        """
        return self._class_method(class_info, name)

    def base_class_method(
        self, class_info: ClassInfo, name: str
    ) -> FunctionInfo | None:
        """Return the method `name` that `super().name` runs in a method of a class of this module.

        It is the one of the first class after `class_info` in its lineage
        (`_class_lineage`) that binds the name. None when that class may
        bind `name` to something else too, or when no class of the lineage
        binds it, as when it ends at an imported base class.
        """
        for owner in self._class_lineage(class_info)[1:]:
            assignments = self._attribute_assignments(owner, name)
            if assignments:
                return self._only_method(assignments)
        return None

    def module_class(self, node: cst.BaseExpression, scope: Scope) -> ClassInfo | None:
        """Return the class of this module that a name in `scope` can only refer to."""
        return self._class_named(node, scope)

    def _class_method(
        self, class_info: ClassInfo, attribute: str
    ) -> FunctionInfo | None:
        """Return the method that a class, or the first of its bases that binds it, defines."""
        for owner in self._class_lineage(class_info):
            assignments = self._attribute_assignments(owner, attribute)
            if assignments:
                return self._only_method(assignments)
        return None

    def _only_method(self, assignments: list[Assignment]) -> FunctionInfo | None:
        """Return the method that binds an attribute, when no other assignment does."""
        if len(assignments) != 1:
            return None
        statement = assignments[0].statement
        if type(statement) is not cst.FunctionDef:
            return None
        for function in self.functions:
            if function.node is statement:
                return function
        return None

    def _callable_through_class(self, method: FunctionInfo) -> bool:
        """Tell whether a method is a static or class method, perhaps also cached."""
        kinds = [
            name for name in method.decorators if name in CLASS_CALLABLE_DECORATORS
        ]
        if len(kinds) != 1 or self.binds_anywhere(kinds[0]):
            return False
        others = [name for name in method.decorators if name != kinds[0]]
        return all(name in CACHE_DECORATORS for name in others)

    def _method_result_type(self, method: FunctionInfo) -> ClientType | None:
        """Return the client a method returns, when every `return` gives the same client type.

        Unlike a module-level factory, one `return` of another object
        makes the method unknown, so that a method choosing between
        Customer.io and another tracker is not taken for a client.
        """
        if method.scope is None or not method.returns:
            return None
        types = {self.client_type(value, method.scope) for value in method.returns}
        if len(types) != 1:
            return None
        return types.pop()

    def _class_variable_type(
        self, class_info: ClassInfo, attribute: str
    ) -> ClientType | None:
        """Return the client type of `Holder.attribute`, a class variable bound to a client.

        The class body must bind it. Every other assignment to it, through
        `self`, `cls` or the class name, must also give a client or None.
        A class that does not assign the attribute at all reads it from the
        first of its base classes of this module that does. A use of the
        class or of a base before that one that may set the attribute unseen
        (`containers.class_may_change`) makes it unknown.
        """
        for owner in self._class_lineage(class_info):
            if self._class_may_change(owner):
                return None
            assignments = self._attribute_assignments(owner, attribute)
            if not assignments:
                continue
            if not any(item.scope is owner.scope for item in assignments):
                return None
            return self._assigned_type(assignments)
        return None

    def _class_may_change(self, class_info: ClassInfo) -> bool:
        key = id(class_info.node)
        if key not in self._changing_classes:
            self._changing_classes[key] = class_may_change(self, class_info)
        return self._changing_classes[key]

    def client_containers(self) -> list[str]:
        """Return the module-level dicts of clients and classes with a client class variable."""
        found = []
        for name, assignments in self.module_scope.assignments.items():
            statement = assignments[0].statement
            if type(statement) is cst.ClassDef:
                continue
            if len(assignments) == 1 and self._client_dict_type(name) is not None:
                found.append(name)
        for class_info in self.classes:
            if (
                class_info.scope is None
                or class_info.scope.parent is not self.module_scope
            ):
                continue
            for attribute in class_info.attributes:
                if self._class_variable_type(class_info, attribute) is not None:
                    found.append(class_info.name)
                    break
        return found

    def _attribute_assignments(
        self, class_info: ClassInfo, attribute: str
    ) -> list[Assignment]:
        """Return the assignments to a class attribute.

        They are the class body's, and those through `self`, `cls` or the
        class name anywhere in the module.
        """
        assignments = list(class_info.attributes.get(attribute, []))
        dotted = f"{class_info.name}.{attribute}"
        for assignment in self.attribute_assignments:
            if assignment.name == dotted:
                assignments.append(assignment)
        return assignments

    def self_attribute_assignments(
        self, attribute: str, scope: Scope
    ) -> list[Assignment]:
        """Return the assignments to `self.attribute` in a method of the class at `scope`.

        As for `_attribute_assignments`, they include the class body's and
        those through `cls` or the class name. Outside a class there are none.
        """
        class_info = self._enclosing_class(scope)
        if class_info is None:
            return []
        return self._attribute_assignments(class_info, attribute)

    def _class_lineage(self, class_info: ClassInfo) -> list[ClassInfo]:
        """Return a class and the base classes that its attribute lookups reach, in order.

        The bases are this module's classes, first base first and depth
        first, as in the method resolution order of a hierarchy without a
        shared base. The list ends before a base that is not a class of this
        module (an import, `object`, a metaclass keyword), because that base
        may define any attribute. It also ends before a class reached twice
        (`class C(A, B)` where A and B share a base), whose place in the
        method resolution order comes after bases that this order reaches later.
        """
        key = id(class_info.node)
        lineage = self._class_lineages.get(key)
        if lineage is None:
            lineage = [class_info]
            ends: list[cst.BaseExpression] = []
            self._add_bases(class_info, lineage, ends)
            full_length = len(lineage)
            lineage = _before_repeated(lineage)
            self._class_lineages[key] = lineage
            end = ends[0] if ends and len(lineage) == full_length else None
            self._lineage_ends[key] = end
        return lineage

    def _add_bases(
        self,
        class_info: ClassInfo,
        lineage: list[ClassInfo],
        ends: list[cst.BaseExpression],
    ) -> bool:
        """Append a class's bases of this module to `lineage`, depth first.

        Returns False when a base is not a class of this module, which goes
        into `ends`, or the lineage reaches `MAX_BASE_CLASSES` bases, so
        that nothing follows it.
        """
        if class_info.scope is None or class_info.scope.parent is None:
            return False
        if class_info.node.keywords:
            return False
        for base in class_info.node.bases:
            if len(lineage) > MAX_BASE_CLASSES:
                return False
            found = self._class_named(base.value, class_info.scope.parent)
            if found is None:
                ends.append(base.value)
                return False
            lineage.append(found)
            if not self._add_bases(found, lineage, ends):
                return False
        return True

    def class_named(self, node: cst.BaseExpression, scope: Scope) -> ClassInfo | None:
        """Return the class of this module that a name refers to in `scope` (`_class_named`)."""
        return self._class_named(node, scope)

    def _class_named(self, node: cst.BaseExpression, scope: Scope) -> ClassInfo | None:
        """Return the class of this module that a name refers to in `scope`.

        None when anything else may bind the name there: a parameter, a
        variable, an import, a function with `global` or a second definition.
        A decorated class is not known either, because its decorator may
        return another object.
        """
        if type(node) is not cst.Name:
            return None
        name = node.value
        if name in self.imports or self._rebound_through_global(name):
            return None
        assignments = self.assignments_of(name, scope)
        if len(assignments) != 1:
            return None
        statement = assignments[0].statement
        if type(statement) is not cst.ClassDef or statement.decorators:
            return None
        for class_info in self.classes:
            if class_info.node is statement:
                return class_info
        return None

    def _item_type(self, node: cst.Subscript, scope: Scope) -> ClientType | None:
        """Return the client type of `CLIENTS[key]`, an item of a module-level dict of clients."""
        if len(node.slice) != 1 or type(node.slice[0].slice) is not cst.Index:
            return None
        container = node.value
        if type(container) is not cst.Name:
            return self._configured_item_type(node)
        for candidate in scope.lookup_chain():
            if container.value in candidate.assignments:
                if candidate is not self.module_scope:
                    return None
                found = self._client_dict_type(container.value)
                return found or self._configured_item_type(node)
        return self._configured_item_type(node)

    def _configured_item_type(self, node: cst.Subscript) -> ClientType | None:
        """Return the Track client type of an item listed in `client-names`."""
        if self.client_names and configured_name(node) in self.client_names:
            return TRACK
        return None

    def rebound_through_global(self, name: str, assignments: list[Assignment]) -> bool:
        """Tell whether `assignments` of `name` bind a module-level variable that code rebinds.

        `assignments` are what a lookup of `name` found. They bind the
        module-level variable when they are the module's, or those of a
        scope that declares `global name`. A function or class that assigns
        it after `global name` gives it another value.
        """
        rebindings = self.global_assignments.get(name)
        if not rebindings:
            return False
        declaring = {id(rebinding.scope) for rebinding in rebindings}
        return any(
            assignment.scope is self.module_scope or id(assignment.scope) in declaring
            for assignment in assignments
        )

    def _rebound_through_global(self, name: str) -> bool:
        """Tell whether a function or class binds the module-level `name` after `global name`."""
        if name not in self.global_names:
            return False
        scopes = [info.scope for info in [*self.functions, *self.classes]]
        return any(scope is not None and name in scope.assignments for scope in scopes)

    def _client_dict_type(self, name: str) -> ClientType | None:
        if name not in self._client_dicts:
            self._client_dicts[name] = self._find_client_dict_type(name)
        return self._client_dicts[name]

    def _find_client_dict_type(self, name: str) -> ClientType | None:
        """Return the client type of every value of the module-level dict `name`.

        The module binds the name once, to a dict display or a `dict(...)`
        call of keyword arguments, whose values are all clients of one type.
        Each item assignment `name[key] = value` in the module must also give
        a client of that type. An import of the name, a function that
        rebinds it after `global`, or a use that may add another object
        (`containers.dict_may_change`) makes it unknown.
        """
        if name in self.imports or self._rebound_through_global(name):
            return None
        assignment = self.module_assignment(name)
        if assignment is None or type(assignment.statement) not in (
            cst.Assign,
            cst.AnnAssign,
        ):
            return None
        values = self._dict_values(assignment.value)
        if not values:
            return None
        types = {self.client_type(value, self.module_scope) for value in values}
        if len(types) != 1:
            return None
        found = types.pop()
        if found is None:
            return None
        for item in self.item_assignments:
            if item.name != name:
                continue
            if item.value is None or self.client_type(item.value, item.scope) != found:
                return None
        if dict_may_change(self, name):
            return None
        return found

    def _dict_values(
        self, value: cst.BaseExpression | None
    ) -> list[cst.BaseExpression] | None:
        """Return the values of a dict display or of `dict(key=value, ...)`, else None."""
        if type(value) is cst.Dict:
            values = []
            for element in value.elements:
                if type(element) is not cst.DictElement:
                    return None
                values.append(element.value)
            return values
        if type(value) is not cst.Call or type(value.func) is not cst.Name:
            return None
        if value.func.value != "dict" or self.binds_anywhere("dict"):
            return None
        if "dict" in self.imports or self.star_imports:
            return None
        if any(argument.keyword is None or argument.star for argument in value.args):
            return None
        return [argument.value for argument in value.args]

    def _assigned_type(self, assignments: list[Assignment]) -> ClientType | None:
        """Return the client a name holds when every assignment gives a client or None.

        `client = None` then `client = CustomerIO(...)` is a lazy client; a
        name that is also bound to anything else is not known to be one.
        """
        found: ClientType | None = None
        for assignment in assignments:
            annotated = self._annotated_type(assignment)
            if annotated is not None:
                found = found or annotated
                continue
            value = assignment.value
            if isinstance(value, cst.Name) and value.value == "None":
                continue
            client = (
                self.client_type(value, assignment.scope) if value is not None else None
            )
            if client is None:
                return None
            found = found or client
        return found

    def _binds_global(self, name: str, scope: Scope) -> bool:
        """Tell whether `name` in `scope` is a module-level name that functions declare `global`."""
        declaring = self.global_scopes.get(name)
        if declaring is None:
            return False
        return scope is self.module_scope or any(
            candidate is scope for candidate in declaring
        )

    def global_client_type(self, name: str) -> ClientType | None:
        """Return the client type of a module-level name that functions may rebind through `global`.

        `cio = None` at module level and `global cio; cio = CustomerIO(...)`
        in an init function (Django's `AppConfig.ready`, an app factory)
        make a client. Every assignment at module level and after `global
        name` must give None or a client, all of one type. An import of the
        name, a star import after it, a `del`, an assignment in a loop or
        of any other value leaves it unknown. So does an assignment through
        the module object in another module (`tracking.cio = ...`), once the
        project index is set. Code that reads the name before the init
        function runs reads None, and the order is not checked.
        """
        if name in self.module_imports or name in self.star_rebound_names:
            return None
        if self.project is not None and self.project.rebound_constant(
            self.module_name, name
        ):
            return None
        declaring = self.global_scopes.get(name, [])
        if name in self.module_scope.deletions or any(
            name in scope.deletions or name in scope.imports for scope in declaring
        ):
            return None

        bindings = [
            *self.module_scope.assignments.get(name, []),
            *self.global_assignments.get(name, []),
        ]
        types: set[ClientType] = set()
        for assignment in bindings:
            if assignment.in_loop:
                return None
            annotated = self._annotated_type(assignment)
            if annotated is not None:
                types.add(annotated)
                continue
            value = assignment.value
            if type(value) is cst.Name and value.value == "None":
                continue
            client = (
                self.client_type(value, assignment.scope) if value is not None else None
            )
            if client is None:
                return None
            types.add(client)
        return types.pop() if len(types) == 1 else None

    def _annotated_type(self, assignment: Assignment) -> ClientType | None:
        """Return the client class a parameter or a variable is annotated with.

        `cio: CustomerIO`, `CustomerIO | None`, `Optional[CustomerIO]`,
        `Annotated[CustomerIO, Depends(...)]` and `"CustomerIO"` count, and so
        does a type alias of such an annotation that this module defines or
        imports from a project module (`cio: CustomerIODep`).
        """
        statement = assignment.statement
        annotation = None
        if isinstance(statement, (cst.Param, cst.AnnAssign)):
            annotation = statement.annotation
        if annotation is None:
            return None
        return self._annotation_client(
            annotation.annotation, annotation_scope(assignment)
        )

    def _annotation_client(
        self, annotation: cst.BaseExpression, scope: Scope
    ) -> ClientType | None:
        """Return the first client class that an annotation in `scope` allows."""
        for node, node_scope in self.annotation_types(annotation, scope):
            client = self.constructor_type(node)
            if client is None:
                client = self._imported_type_alias_client(node, node_scope)
            if client is not None:
                return client
        return None

    def _imported_type_alias_client(
        self, node: cst.BaseExpression, scope: Scope
    ) -> ClientType | None:
        """Return the client class of a type alias imported from a project module.

        `from app.deps import CustomerIODep` counts, and so does
        `deps.CustomerIODep` after `from app import deps`, but not a name
        that this module binds more than once.
        """
        if self.project is None:
            return None
        head = func_head(node)
        if (
            head is None
            or self.rebound(head, scope)
            or self.assignments_of(head, scope)
        ):
            return None
        qualified = self.qualified_name(node, scope)
        if qualified is None:
            return None
        return self.project.type_alias_client(self._localised(qualified))

    @staticmethod
    def _enclosing_class(scope: Scope) -> ClassInfo | None:
        current: Scope | None = scope
        while current is not None:
            if current.function is not None and current.function.class_info is not None:
                return current.function.class_info
            if current.class_info is not None:
                return current.class_info
            current = current.parent
        return None

    # -- calls ---------------------------------------------------------------

    @property
    def client_calls(self) -> list[ClientCall]:
        """Every call on a client; resolving it may read the project index."""
        if self._calls is None:
            calls = []
            for site in self.call_sites:
                client_call = self._as_client_call(site)
                if client_call is not None:
                    calls.append(client_call)
            self._calls = calls
        return self._calls

    @property
    def partial_calls(self) -> list[ClientCall]:
        """Every `functools.partial` of a client method, read as the call it makes.

        They are not in `client_calls`, because the call does not run where
        the partial is made, and it may get more arguments when it runs.
        """
        if self._partial_calls is None:
            calls = []
            for site in self.call_sites:
                partial_call = self._as_partial_call(site)
                if partial_call is not None:
                    calls.append(partial_call)
            self._partial_calls = calls
        return self._partial_calls

    @property
    def partial_uses(self) -> list[ClientCall]:
        """Every call of a name bound to a partial in `partial_calls`, read as the client call.

        They are not in `client_calls`, because their arguments include the
        ones the partial binds, which the partial's own entry already
        reports where it is made.
        """
        if self._partial_uses is None:
            calls = []
            if self.partial_calls:
                for site in self.call_sites:
                    func = site.node.func
                    if type(func) is not cst.Name:
                        continue
                    partial_use = self._partial_use(site, func)
                    if partial_use is not None:
                        calls.append(partial_use)
            self._partial_uses = calls
        return self._partial_uses

    @property
    def started_calls(self) -> list[ClientCall]:
        """Every `start_soon(cio.track, ...)` of a module that imports anyio, read as the call.

        They are not in `client_calls`, because the task group runs the call
        later, and `start_soon` takes no keyword arguments for it.
        """
        if self._started_calls is None:
            calls = []
            if self._imports_anyio():
                for site in self.call_sites:
                    started_call = self._as_started_call(site)
                    if started_call is not None:
                        calls.append(started_call)
            self._started_calls = calls
        return self._started_calls

    @property
    def handed_off_calls(self) -> list[ClientCall]:
        """Every client method handed with its arguments to a function that runs it later.

        Those are `tasks.add_task(cio.track, ...)`, `pool.submit(...)`,
        `asyncio.to_thread(...)` and `loop.run_in_executor(executor,
        cio.track, ...)`, read as the call they make. They are not in
        `client_calls`, because the call runs apart from the code that hands
        it off.

        NOTE: only CIO103, CIO202, CIO301, CIO302, CIO304 and CIO701 read
        them. Rules on the order or number of calls (CIO201, CIO603) and on
        the attributes that a project sends (CIO203, CIO401, CIO402) do not.
        """
        if self._handed_off_calls is None:
            calls = []
            for site in self.call_sites:
                handed_off_call = self._as_handed_off_call(site)
                if handed_off_call is not None:
                    calls.append(handed_off_call)
            self._handed_off_calls = calls
        return self._handed_off_calls

    @property
    def constructions(self) -> list[Construction]:
        """Every client constructor call.

        A call of a client class imported from another project module
        (`from compat import CustomerIO`) is one once the project index is
        attached, so `summarise` does not see it.
        """
        if self._constructions is None:
            self._constructions = self._with_reexported_classes(
                self._sdk_constructions()
            )
        return self._constructions

    def _sdk_constructions(self) -> list[Construction]:
        """Return the calls of an SDK's client class, which need no project index."""
        if self._sdk_constructions_found is None:
            found = []
            for site in self.call_sites:
                qualified = self.qualified_name(site.node.func)
                client = CONSTRUCTORS.get(qualified) if qualified is not None else None
                if client is not None:
                    found.append(self._construction(site, client))
            self._sdk_constructions_found = found
        return self._sdk_constructions_found

    def _with_reexported_classes(
        self, sdk_constructions: list[Construction]
    ) -> list[Construction]:
        """Add the calls of client classes imported from project modules, in source order.

        Only a call whose last name is one that such a class may have is
        resolved, so a project without one costs nothing more.
        """
        names = self.project.client_class_names if self.project is not None else ()
        if not names:
            return sdk_constructions
        by_node = {
            id(construction.node): construction for construction in sdk_constructions
        }
        constructions = []
        for site in self.call_sites:
            construction = by_node.get(id(site.node))
            func = site.node.func
            if (
                construction is None
                and isinstance(func, (cst.Name, cst.Attribute))
                and func_name(func) in names
            ):
                construction = self._as_construction(site)
            if construction is not None:
                constructions.append(construction)
        return constructions

    def attach_project(self, project: ProjectIndex) -> None:
        """Resolve names imported from other files through `project` from now on."""
        self.project = project
        self._constructions = None
        self._calls = None
        self._partial_calls = None
        self._partials_by_id = None
        self._partial_uses = None
        self._started_calls = None
        self._handed_off_calls = None
        self._client_dicts = {}
        self._changing_classes = {}

    def _as_construction(self, site: CallSite) -> Construction | None:
        client = self.constructor_type(site.node.func)
        if client is None:
            return None
        return self._construction(site, client)

    def _construction(self, site: CallSite, client: ClientType) -> Construction:
        named, _, _ = normalise_arguments(site.node, CONSTRUCTOR_PARAMETERS[client.api])
        return Construction(site.node, client, site, named)

    def _as_client_call(self, site: CallSite) -> ClientCall | None:
        func = site.node.func
        if self._is_background_helper(func):
            return self._as_background_call(site)
        if type(func) is cst.Name:
            return self._wrapper_call(site, func, site.node, in_background=False)
        if type(func) is cst.Call:
            return self._getattr_method_call(site, func)
        if type(func) is not cst.Attribute or self.constructor_type(func) is not None:
            return None
        return self._client_call(site, func, site.node, in_background=False)

    def _getattr_method_call(self, site: CallSite, func: cst.Call) -> ClientCall | None:
        """Read `getattr(cio, "track")(...)` as the call `cio.track(...)`.

        Only a client's own method is read this way, not a wrapper function
        of the project reached through `getattr(module, "name")`.
        """
        if len(func.args) != 2:
            return None
        method = self._getattr_read(func)
        if method is None or method.attr.value not in ALL_METHOD_NAMES:
            return None
        if self.client_type(method.value, site.scope) is None:
            return None
        client_call = self._client_call(site, method, site.node, in_background=False)
        if client_call is None:
            return None
        return replace(client_call, through_getattr=True)

    def _is_background_helper(self, func: cst.BaseExpression) -> bool:
        if type(func) is not cst.Name:
            return False
        if BACKGROUND_HELPER.match(func.value):
            return True
        return self.background_helper is not None and (
            self.qualified_name(func) == self.background_helper
        )

    def _as_background_call(self, site: CallSite) -> ClientCall | None:
        """Read `helper(cio.track, customer_id=...)` as the call `cio.track(customer_id=...)`."""
        return self._method_argument_call(site, in_background=True)

    def _as_partial_call(self, site: CallSite) -> ClientCall | None:
        """Read `functools.partial(cio.track, uid, ...)` as the call `cio.track(uid, ...)`."""
        func = site.node.func
        # Most calls are method calls, so only a method named `partial` is resolved.
        if type(func) is cst.Attribute and func.attr.value != "partial":
            return None
        if self.qualified_name(func) != "functools.partial":
            return None
        return self._method_argument_call(site, partial=True)

    def _partial_use(self, site: CallSite, func: cst.Name) -> ClientCall | None:
        """Read `p(...)`, where `p = functools.partial(cio.track, ...)`, as the client call.

        The call gets the arguments the partial binds followed by the
        caller's, and a caller's keyword replaces a bound one, as in
        `functools.partial`. `p` must be bound once, to the partial, in the
        scope the call reads it from. A partial of a wrapper, or one that
        binds `*args` or `**kwargs`, is not read: the caller's arguments may
        then go anywhere.
        """
        assignments = self.assignments_of(func.value, site.scope)
        if len(assignments) != 1 or type(assignments[0].value) is not cst.Call:
            return None
        assignment = assignments[0]
        if assignment.scope is self.module_scope and func.value in self.rebound_names:
            return None
        partial_call = self._partials_by_node().get(id(assignment.value))
        if partial_call is None or partial_call.wrapper is not None:
            return None
        bound = assignment.value.args[1:]
        if any(argument.star for argument in bound):
            return None
        caller_keywords = {
            argument.keyword.value
            for argument in site.node.args
            if argument.keyword is not None
        }
        bound_positional = [argument for argument in bound if argument.keyword is None]
        bound_keywords = [
            argument
            for argument in bound
            if argument.keyword is not None
            and argument.keyword.value not in caller_keywords
        ]
        caller_positional = [
            argument
            for argument in site.node.args
            if argument.keyword is None and not argument.star
        ]
        caller_rest = [
            argument
            for argument in site.node.args
            if argument.keyword is not None or argument.star
        ]
        merged = site.node.with_changes(
            args=[*bound_positional, *caller_positional, *bound_keywords, *caller_rest]
        )
        parameters = METHODS_BY_API[partial_call.api][partial_call.method]
        named, extra, starred = normalise_arguments(merged, parameters)
        _rename_identifier(partial_call.client, partial_call.method, named, extra)
        return ClientCall(
            node=site.node,
            method=partial_call.method,
            client=partial_call.client,
            receiver=func,
            site=site,
            arguments=named,
            extra_keywords=extra,
            star_arguments=starred,
            wrapper=func.value,
            # Extra keywords that the partial binds stay in its own call.
            wrapper_keywords=frozenset(
                argument.keyword.value
                for argument in bound_keywords
                if argument.keyword.value in extra
            ),
            through_partial=True,
            bound_arguments=(*bound_positional, *bound_keywords),
        )

    def _partials_by_node(self) -> dict[int, ClientCall]:
        if self._partials_by_id is None:
            self._partials_by_id = {id(call.node): call for call in self.partial_calls}
        return self._partials_by_id

    def _imports_anyio(self) -> bool:
        return any(
            qualified.partition(".")[0] == "anyio"
            for qualified in self.imports.values()
        )

    def _as_started_call(self, site: CallSite) -> ClientCall | None:
        """Read `tg.start_soon(cio.track, uid, ...)` as the call `cio.track(uid, ...)`.

        Whether `tg` is an anyio task group is left to the rule that reads it.
        """
        func = site.node.func
        if type(func) is not cst.Attribute or func.attr.value != "start_soon":
            return None
        return self._method_argument_call(site, started=True)

    def _as_handed_off_call(self, site: CallSite) -> ClientCall | None:
        """Read `tasks.add_task(cio.track, uid, ...)` as the call `cio.track(uid, ...)`.

        `add_task`, `submit` and `run_in_executor` count on any receiver,
        because the method they are given must be a client's. `submit` does
        not count in a module that imports dask, whose keyword arguments may
        be its own. `to_thread` must be `asyncio.to_thread`.
        """
        func = site.node.func
        # Exact types, because isinstance is slow on libcst's abstract classes.
        if type(func) is cst.Attribute:
            hand_off = func.attr.value
        elif type(func) is cst.Name and func.value == "to_thread":
            hand_off = "to_thread"
        else:
            return None
        position = HAND_OFF_POSITIONS.get(hand_off)
        if position is None:
            return None
        if hand_off == "to_thread":
            if self.qualified_name(func) != "asyncio.to_thread":
                return None
        elif hand_off == "submit" and self._imports_any(OWN_KEYWORD_SUBMIT_PACKAGES):
            return None
        positional_only = hand_off == "run_in_executor"
        if positional_only and any(
            argument.keyword is not None for argument in site.node.args
        ):
            # run_in_executor() raises TypeError on keyword arguments.
            return None
        client_call = self._method_argument_call(site, position=position)
        if client_call is None:
            return None
        return replace(client_call, handed_off=True, positional_only=positional_only)

    def _imports_any(self, packages: frozenset[str]) -> bool:
        return any(
            qualified.partition(".")[0] in packages
            for qualified in self.imports.values()
        )

    def _method_argument_call(
        self,
        site: CallSite,
        in_background: bool = False,
        partial: bool = False,
        started: bool = False,
        position: int = 0,
    ) -> ClientCall | None:
        """Read `f(cio.track, customer_id=...)` as the call `cio.track(customer_id=...)`.

        `position` is the place of the method among the arguments of `f`,
        which must pass the ones before it by position.
        """
        arguments = site.node.args
        if len(arguments) <= position or any(
            argument.keyword is not None or argument.star
            for argument in arguments[: position + 1]
        ):
            return None
        method = arguments[position].value
        call = site.node.with_changes(args=arguments[position + 1 :])
        if type(method) is cst.Name:
            client_call = self._wrapper_call(site, method, call, in_background, partial)
        elif isinstance(method, cst.Attribute):
            client_call = self._client_call(site, method, call, in_background, partial)
        else:
            return None
        if client_call is None or not started:
            return client_call
        client_call = replace(client_call, started=True)
        if client_call.client is TRACK and client_call.wrapper is None:
            # The task group awaits what the method returns.
            client_call = replace(
                client_call, client=self._awaited_client(client_call.receiver)
            )
        return client_call

    def _client_call(
        self,
        site: CallSite,
        func: cst.Attribute,
        call: cst.Call,
        in_background: bool,
        partial: bool = False,
    ) -> ClientCall | None:
        method = func.attr.value
        if method not in ALL_METHOD_NAMES:
            return self._wrapper_call(site, func, call, in_background, partial)
        client = self.client_type(func.value, site.scope)
        if client is None:
            return self._wrapper_call(site, func, call, in_background, partial)
        if client is TRACK and _returns_awaitable(site, call, in_background):
            client = self._awaited_client(func.value)
        parameters = METHODS_BY_API[client.api].get(method)
        if parameters is None:
            return None
        named, extra, starred = normalise_arguments(call, parameters)
        _rename_identifier(client, method, named, extra)
        return ClientCall(
            node=site.node,
            method=method,
            client=client,
            receiver=func.value,
            site=site,
            arguments=named,
            extra_keywords=extra,
            star_arguments=starred,
            in_background=in_background,
            partial=partial,
        )

    def _wrapper_call(
        self,
        site: CallSite,
        func: cst.Name | cst.Attribute,
        call: cst.Call,
        in_background: bool,
        partial: bool = False,
    ) -> ClientCall | None:
        """Read a call of a project's pass-through wrapper as the client call it makes."""
        project = self.project
        # Most calls name no wrapper: the test on the last name comes first.
        if project is None or func_name(func) not in project.wrapper_names:
            return None
        signature = self._wrapper_signature(project, site, func)
        if signature is None:
            return None
        forwarded = forwarded_arguments(signature, call)
        if forwarded is None:
            return None
        parameters = METHODS_BY_API[signature.client.api][signature.method]
        named: dict[str, cst.Arg] = {}
        extra: dict[str, cst.Arg] = {}
        starred: list[cst.Arg] = []
        wrapper_keywords = set()
        accepted = {
            *signature.positional[signature.positional_only :],
            *signature.keyword_only,
        }
        for target, argument in forwarded:
            if target is None:
                starred.append(argument)
            elif isinstance(target, int):
                if target < len(parameters):
                    named[parameters[target]] = argument
            elif target in parameters:
                named[target] = argument
            else:
                extra[target] = argument
                if argument.keyword is None or argument.keyword.value in accepted:
                    # A named parameter of the wrapper gets it, not `**kwargs`.
                    wrapper_keywords.add(target)
        _rename_identifier(signature.client, signature.method, named, extra)
        renamed_defaults = _renamed_defaults(signature, call, parameters)
        return ClientCall(
            node=site.node,
            method=signature.method,
            client=signature.client,
            receiver=func,
            site=site,
            arguments=named,
            extra_keywords=extra,
            star_arguments=starred,
            in_background=in_background,
            partial=partial,
            wrapper=dotted_name(func),
            wrapper_keywords=frozenset(wrapper_keywords),
            renamed_defaults=renamed_defaults,
        )

    def _wrapper_signature(
        self, project: ProjectIndex, site: CallSite, func: cst.Name | cst.Attribute
    ) -> WrapperSignature | None:
        """Return the pass-through wrapper that `func` names at `site`, if it names one."""
        if type(func) is cst.Name and self._calls_own_function(site, func.value):
            # The module's summary contains its wrappers, as other modules see them.
            return project.wrapper(f"{self.module_name}.{func.value}")
        qualified = self.qualified_name(func, site.scope)
        if qualified is None:
            return None
        # The imported name must be bound only by its import: a `def` or an
        # assignment of the same name in the caller's module replaces it.
        head = func_head(func)
        if head is None or self.assignments_of(head, site.scope):
            return None
        return project.wrapper(self._localised(qualified))

    def _calls_own_function(self, site: CallSite, name: str) -> bool:
        """Tell whether `name(...)` at `site` calls what the module binds `name` to, once.

        No function, class body, lambda or comprehension around the call may
        bind `name` for itself, because a parameter, a local variable, a
        nested `def` or an import there is what the call reads. The other
        module-level bindings of a wrapper's name are ruled out when its
        module is summarised (`wrappers.wrapper_signatures`).
        """
        assignments = self.module_scope.assignments.get(name, ())
        if len(assignments) != 1:
            return False
        definition = assignments[0].statement
        for scope in site.scope.lookup_chain():
            if scope is self.module_scope:
                break
            if name in scope.assignments or name in scope.imports:
                return False
        # A call inside the function itself can only be in its annotations,
        # because a wrapper's body is the client call. Those run when the
        # `def` runs, before the name is bound, or never under
        # `from __future__ import annotations`.
        function = site.function
        while function is not None:
            if function.node is definition:
                return False
            function = function.parent
        return True

    def _awaited_client(self, receiver: cst.BaseExpression) -> ClientType:
        """Return the client type of a sync Track API client whose call returns an awaitable.

        customerio's client returns no awaitable, so a name listed in
        `client-names` whose call is awaited (`await
        request.app.state.cio.track(...)`) refers to an async client. It is
        read as async-customerio's `AsyncCustomerIO`, the async Track API
        client that cio-fix knows. Other receivers keep the type the code
        shows.
        """
        if configured_name(receiver) in self.client_names:
            return ASYNC_TRACK
        return TRACK


class IndexBuilder(cst.CSTVisitor):
    """The one visitor pass that fills a FileIndex."""

    def __init__(self, index: FileIndex) -> None:
        self.index = index
        self.scope = index.module_scope
        self.functions: list[FunctionInfo] = []
        self.classes: list[ClassInfo] = []
        self.statements: list[cst.CSTNode] = []
        # How many f-strings the walk is inside.
        self.f_strings = 0
        # The names that `global` and `nonlocal` statements declare, by the id
        # of the scope they are in.
        self.global_declarations: dict[int, set[str]] = {}
        self.nonlocal_declarations: dict[int, set[str]] = {}
        # The assignments to names declared nonlocal. They bind in an
        # enclosing scope, which is found once the walk has seen every binding.
        self.nonlocal_assignments: list[Assignment] = []
        # The scope of each `for` and `while` loop that the walk is inside.
        self.loop_scopes: list[Scope] = []

    def visit_Name(self, node: cst.Name) -> None:
        self.index.names.setdefault(node.value, []).append(node)

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if not self.f_strings:
            self.index.literals.add(node)

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        self.f_strings += 1

    def leave_FormattedString(self, original_node: cst.FormattedString) -> None:
        self.f_strings -= 1

    # -- imports ---------------------------------------------------------------

    def visit_Import(self, node: cst.Import) -> None:
        for local, qualified in self.index.import_bindings(node):
            self._bind_import(local, qualified)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            base = self.index.import_base(node)
            if base is None:
                return
            # `from customerio import *` binds the SDK's client classes.
            for qualified in CONSTRUCTORS:
                module, _, name = qualified.rpartition(".")
                if module == base:
                    self._bind_import(name, qualified)
            if self.scope.kind == "module":
                self.index.star_imports.append(base)
                # NOTE: a name bound after the star import only inside an
                # `if` or `try` keeps the star import's value when that
                # branch does not run, but counts as bound once.
                self.index.star_rebound_names.update(self.scope.assignments)
                self.index.star_rebound_names.update(self.index.module_imports)
            return
        for local, qualified in self.index.import_bindings(node):
            self._bind_import(local, qualified)

    def _bind_import(self, local: str, qualified: str) -> None:
        # An import inside a function goes into the same table unless the
        # module binds that name itself: rules need the origin, not the scope.
        if self.scope.kind == "module":
            self.index.imports[local] = qualified
            self.index.module_imports.add(local)
            self.index.module_import_origins.setdefault(local, []).append(qualified)
        else:
            self.index.imports.setdefault(local, qualified)
            self.scope.imports[local] = qualified

    def visit_Del(self, node: cst.Del) -> None:
        self._record_in_place(node.target)
        targets: list[cst.BaseExpression] = [node.target]
        while targets:
            target = targets.pop()
            if isinstance(target, cst.Name):
                self.scope.deletions.setdefault(target.value, []).append(node)
            elif isinstance(target, (cst.Tuple, cst.List)):
                targets.extend(element.value for element in target.elements)

    def visit_Global(self, node: cst.Global) -> None:
        names = {item.name.value for item in node.names}
        self.index.global_names.update(names)
        self.global_declarations.setdefault(id(self.scope), set()).update(names)
        for name in names:
            self.index.global_scopes.setdefault(name, []).append(self.scope)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        # NOTE: an import or a `del` of a nonlocal name stays in the scope of
        # the statement. Only assignments move to the variable's scope.
        names = {item.name.value for item in node.names}
        self.nonlocal_declarations.setdefault(id(self.scope), set()).update(names)

    def leave_Module(self, original_node: cst.Module) -> None:
        for assignment in self.nonlocal_assignments:
            owner = self._nonlocal_owner(assignment.name, assignment.scope)
            owner.assignments.setdefault(assignment.name, []).append(assignment)

    def _nonlocal_owner(self, name: str, scope: Scope) -> Scope:
        """Return the scope whose variable `nonlocal name` in `scope` binds.

        That is the nearest enclosing function that binds `name` without
        declaring it nonlocal too, as Python finds it. Class bodies do not
        count. Code that Python rejects for want of one keeps its own scope.
        """
        candidate = scope.parent
        while candidate is not None and candidate.kind != "module":
            if (
                candidate.kind != "class"
                and name in candidate.assignments
                and name not in self.nonlocal_declarations.get(id(candidate), ())
            ):
                return candidate
            candidate = candidate.parent
        return scope

    # -- scopes ----------------------------------------------------------------

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        bases = tuple(
            name for name in (dotted_name(base.value) for base in node.bases) if name
        )
        info = ClassInfo(node=node, name=node.name.value, bases=bases)
        self._record_assignment(node.name.value, None, node)
        scope = Scope(node, "class", self.scope, class_info=info)
        info.scope = scope
        self.index.classes.append(info)
        self.classes.append(info)
        self.scope = scope

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.classes.pop()
        assert self.scope.parent is not None
        self.scope = self.scope.parent

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._record_assignment(node.name.value, None, node)
        class_info = self.scope.class_info if self.scope.kind == "class" else None
        parent = self.functions[-1] if self.functions else None
        prefix = [info.name for info in self.classes]
        if parent is not None:
            prefix = [parent.qualname]
        names = [self._decorator_name(d.decorator) for d in node.decorators]
        keeps_nothing = any(
            name is not None
            and is_lru_cache(name)
            and not lru_cache_keeps_entries(decorator.decorator)
            for name, decorator in zip(names, node.decorators, strict=True)
        )
        info = FunctionInfo(
            node=node,
            name=node.name.value,
            qualname=".".join([*prefix, node.name.value]),
            is_async=node.asynchronous is not None,
            class_info=class_info,
            parent=parent,
            decorators=tuple(name for name in names if name),
            lru_cache_keeps_nothing=keeps_nothing,
        )
        scope = Scope(node, "function", self.scope, function=info)
        info.scope = scope
        self.index.functions.append(info)
        self.functions.append(info)
        self.scope = scope
        self._record_parameters(node.params)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        scope = Scope(node, "lambda", self.scope)
        self.index.lambda_scopes.append(scope)
        self.scope = scope
        self._record_parameters(node.params)

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        assert self.scope.parent is not None
        self.scope = self.scope.parent

    def _record_parameters(self, parameters: cst.Parameters) -> None:
        """Bind each parameter, with its default value as the assigned value."""
        for parameter in all_parameters(parameters):
            self._record_assignment(parameter.name.value, parameter.default, parameter)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.functions.pop()
        assert self.scope.parent is not None
        self.scope = self.scope.parent

    def _decorator_name(self, decorator: cst.BaseExpression) -> str | None:
        if isinstance(decorator, cst.Call):
            decorator = decorator.func
        qualified = self.index.qualified_name(decorator)
        return qualified if qualified is not None else dotted_name(decorator)

    # -- assignments -----------------------------------------------------------

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._record_target(target.target, node.value, node)
            self._record_in_place(target.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._record_target(node.target, node.value, node)
        elif isinstance(node.target, cst.Name):
            name = node.target.value
            annotation = Assignment(name, None, node, self.scope)
            self.scope.annotations.setdefault(name, []).append(annotation)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._record_target(node.target, None, node)
        # `items += [x]` and `self.meta |= {...}` change a list, dict or set
        # in place, so the target itself is recorded, a plain name too.
        if self.functions:
            self.index.in_place_targets.append((node.target, self.functions[-1]))

    def _record_in_place(self, target: cst.BaseExpression) -> None:
        kind = type(target)
        if self.functions and (kind is cst.Attribute or kind is cst.Subscript):
            self.index.in_place_targets.append((target.value, self.functions[-1]))

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._record_target(node.asname.name, node.item, node)

    def visit_For(self, node: cst.For) -> None:
        self.loop_scopes.append(self.scope)
        self._record_target(node.target, None, node)

    def leave_For(self, original_node: cst.For) -> None:
        self.loop_scopes.pop()

    def visit_While(self, node: cst.While) -> None:
        self.loop_scopes.append(self.scope)

    def leave_While(self, original_node: cst.While) -> None:
        self.loop_scopes.pop()

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        # `:=` in a comprehension binds in the scope that runs it (PEP 572).
        inner = self.scope
        self.scope = inner.owner
        self._record_target(node.target, node.value, node)
        self.scope = inner

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._record_target(node.name.name, None, node)

    def visit_ExceptStarHandler(self, node: cst.ExceptStarHandler) -> None:
        if node.name is not None:
            self._record_target(node.name.name, None, node)

    # A `case` pattern binds its capture names (`case {"at": now}`, `case
    # [first, *rest]`, `case Point(x=px) as point`, `case {**rest}`) in
    # the enclosing scope, whether or not the case matches.

    def visit_MatchAs(self, node: cst.MatchAs) -> None:
        if node.name is not None:
            self._record_assignment(node.name.value, None, node)

    def visit_MatchStar(self, node: cst.MatchStar) -> None:
        if node.name is not None:
            self._record_assignment(node.name.value, None, node)

    def visit_MatchMapping(self, node: cst.MatchMapping) -> None:
        if node.rest is not None:
            self._record_assignment(node.rest.value, None, node)

    def visit_TypeAlias(self, node: cst.TypeAlias) -> None:
        self._record_assignment(node.name.value, None, node)

    def visit_TypeParam(self, node: cst.TypeParam) -> None:
        # NOTE: a type parameter binds in an annotation scope of its own. It
        # is recorded in the scope around it, where lookups of it give up.
        self._record_assignment(node.param.name.value, None, node)

    # A comprehension is a scope of its own: its targets are not visible
    # outside it. NOTE: its first iterable runs in the enclosing scope, but
    # is recorded inside the comprehension here.

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._enter_comprehension(node)

    def leave_ListComp(self, original_node: cst.ListComp) -> None:
        self._leave_comprehension()

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._enter_comprehension(node)

    def leave_SetComp(self, original_node: cst.SetComp) -> None:
        self._leave_comprehension()

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._enter_comprehension(node)

    def leave_DictComp(self, original_node: cst.DictComp) -> None:
        self._leave_comprehension()

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._enter_comprehension(node)

    def leave_GeneratorExp(self, original_node: cst.GeneratorExp) -> None:
        self._leave_comprehension()

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._record_target(node.target, None, node)

    def _enter_comprehension(self, node: cst.CSTNode) -> None:
        scope = Scope(node, "comprehension", self.scope)
        self.index.comprehension_scopes.append(scope)
        self.scope = scope

    def _leave_comprehension(self) -> None:
        assert self.scope.parent is not None
        self.scope = self.scope.parent

    def visit_Return(self, node: cst.Return) -> None:
        if self.functions and node.value is not None:
            self.functions[-1].returns.append(node.value)

    def _record_target(
        self,
        target: cst.BaseExpression,
        value: cst.BaseExpression | None,
        node: cst.CSTNode,
    ) -> None:
        if isinstance(target, cst.Name):
            self._record_assignment(target.value, value, node)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._record_target(element.value, None, node)
        elif isinstance(target, cst.StarredElement):
            self._record_target(target.value, None, node)
        elif isinstance(target, cst.Attribute):
            self._record_attribute(target, value, node)
        elif isinstance(target, cst.Subscript):
            self._record_item(target, value, node)

    def _record_item(
        self,
        target: cst.Subscript,
        value: cst.BaseExpression | None,
        node: cst.CSTNode,
    ) -> None:
        if value is not None:
            self.index.item_targets.append((target, value))
        if isinstance(target.value, cst.Name):
            self.index.item_assignments.append(
                Assignment(target.value.value, value, node, self.scope)
            )

    def _record_assignment(
        self, name: str, value: cst.BaseExpression | None, node: cst.CSTNode
    ) -> None:
        in_loop = bool(self.loop_scopes) and self.loop_scopes[-1] is self.scope
        assignment = Assignment(name, value, node, self.scope, in_loop)
        if self.nonlocal_declarations and name in self.nonlocal_declarations.get(
            id(self.scope), ()
        ):
            # `nonlocal name` makes this an assignment of an enclosing
            # function's variable, found at the end of the walk.
            self.nonlocal_assignments.append(assignment)
            return
        self.scope.assignments.setdefault(name, []).append(assignment)
        if self.global_declarations and name in self.global_declarations.get(
            id(self.scope), ()
        ):
            self.index.global_assignments.setdefault(name, []).append(assignment)
        if self.scope.kind == "class" and self.scope.class_info is not None:
            self.scope.class_info.attributes.setdefault(name, []).append(assignment)

    def _record_attribute(
        self, target: cst.Attribute, value: cst.BaseExpression | None, node: cst.CSTNode
    ) -> None:
        dotted = dotted_name(target)
        if dotted is not None:
            self.index.attribute_assignments.append(
                Assignment(dotted, value, node, self.scope)
            )
        if not (
            isinstance(target.value, cst.Name) and target.value.value in ("self", "cls")
        ):
            return
        if not self.functions or self.functions[-1].class_info is None:
            return
        class_info = self.functions[-1].class_info
        assignment = Assignment(target.attr.value, value, node, self.scope)
        class_info.attributes.setdefault(target.attr.value, []).append(assignment)

    # -- statements and calls --------------------------------------------------

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.statements.append(node)

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self.statements.pop()

    def visit_Subscript(self, node: cst.Subscript) -> None:
        dotted = dotted_name(node.value)
        if dotted is not None and dotted.split(".")[-1] == "environ":
            self.index.environ_subscripts.append((node, self.scope))

    def visit_Call(self, node: cst.Call) -> None:
        statement = self.statements[-1] if self.statements else None
        self.index.call_sites.append(
            CallSite(
                node=node,
                scope=self.scope,
                function=self.functions[-1] if self.functions else None,
                statement=statement,
                is_statement=_is_whole_statement(statement, node),
                awaited=type(self.index.parents.get(node)) is cst.Await,
            )
        )


def _before_repeated(lineage: list[ClassInfo]) -> list[ClassInfo]:
    """Return the classes of `lineage` before the first one that it lists twice."""
    counts = Counter(id(class_info.node) for class_info in lineage)
    for position, class_info in enumerate(lineage):
        if counts[id(class_info.node)] > 1:
            return lineage[:position]
    return lineage


def annotation_scope(assignment: Assignment) -> Scope:
    """Return the scope in which Python looks up the names of an annotation.

    Python evaluates a parameter's annotation where the `def` runs, so a
    method's parameters see the names of its class body.
    """
    scope = assignment.scope
    if isinstance(assignment.statement, cst.Param) and scope.parent is not None:
        return scope.parent
    return scope


def _reads_as_type(value: cst.BaseExpression) -> bool:
    """Tell whether an assigned value has the form of a type: `A`, `a.A`, `A[...]`, `A | B`."""
    if isinstance(value, (cst.Name, cst.Attribute, cst.Subscript)):
        return True
    return isinstance(value, cst.BinaryOperation) and isinstance(
        value.operator, cst.BitOr
    )


def _parse_string_annotation(node: cst.SimpleString) -> cst.BaseExpression | None:
    """Return the expression in a string annotation (`"CustomerIO"`), if it is one."""
    value = node.evaluated_value
    if not isinstance(value, str):
        return None
    try:
        return cst.parse_expression(value.strip())
    except cst.ParserSyntaxError:
        return None


def _returns_awaitable(site: CallSite, call: cst.Call, in_background: bool) -> bool:
    """Tell whether the code treats a client method's result as awaitable.

    That is `await cio.track(...)`, and a method that cio-fix's task helper
    runs (`_customerio_in_background_task(cio.track, ...)`).
    """
    if in_background:
        func = site.node.func
        return type(func) is cst.Name and TASK_HELPER.match(func.value) is not None
    return call is site.node and site.awaited


def _is_whole_statement(statement: cst.CSTNode | None, call: cst.Call) -> bool:
    # Exact types, because isinstance is slow on libcst's abstract classes.
    if type(statement) is not cst.SimpleStatementLine or len(statement.body) != 1:
        return False
    expression = statement.body[0]
    if type(expression) is not cst.Expr:
        return False
    value = expression.value
    if type(value) is cst.Await:
        value = value.expression
    return value is call


def is_lru_cache(decorator: str) -> bool:
    """Tell whether a decorator's name is `lru_cache`, of functools or of cachetools.func."""
    return decorator.rpartition(".")[2] == "lru_cache"


def lru_cache_keeps_entries(decorator: cst.BaseExpression) -> bool:
    """Tell whether an `lru_cache` decorator keeps at least one result.

    `@lru_cache` and `@lru_cache()` keep 128 and `maxsize=None` keeps
    all. `maxsize=0` keeps none, and so may a size that is not a positive
    int literal (a variable, `-1`) or one that `*args` or `**kwargs` pass.
    """
    if type(decorator) is not cst.Call:
        return True
    for position, argument in enumerate(decorator.args):
        if argument.star:
            return False
        keyword = argument.keyword.value if argument.keyword is not None else None
        if keyword == "maxsize" or keyword is None and position == 0:
            value = argument.value
            if type(value) is cst.Name and value.value == "None":
                return True
            size = literal_value(value)
            return type(size) is int and size > 0
    return True


def literal_value(node: cst.BaseExpression | None) -> str | int | float | None:
    """Return the value of a string or number literal, else None."""
    # Exact types, because isinstance is slow on libcst's abstract classes.
    kind = type(node)
    if kind is cst.SimpleString:
        value = _string_value(node.value)
        return value if isinstance(value, str) else None
    if kind is cst.ConcatenatedString:
        value = _concatenated_value(node)
        return value if isinstance(value, str) else None
    if kind is cst.Integer or kind is cst.Float:
        return _literal_value(node.value)  # type: ignore[return-value]
    if (
        kind is cst.UnaryOperation
        and type(node.operator) is cst.Minus
        and type(node.expression) in (cst.Integer, cst.Float)
    ):
        return -_literal_value(node.expression.value)  # type: ignore[operator]
    return None


def subscript_key(node: cst.Subscript) -> str | None:
    """Return the key of `x["key"]` when it is one literal string."""
    if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
        return None
    key = literal_value(node.slice[0].slice.value)
    return key if isinstance(key, str) else None


def _concatenated_value(node: cst.ConcatenatedString) -> str | bytes | None:
    """Return the value of implicitly concatenated strings, as libcst's `evaluated_value` does."""
    values = joined_strings(node)
    if any(type(value) is not cst.SimpleString for value in values):
        return None
    evaluated = [_string_value(value.value) for value in values]  # type: ignore[attr-defined]
    kinds = {type(value) for value in evaluated}
    if len(kinds) != 1:
        return None
    return evaluated[0][:0].join(evaluated)  # type: ignore[arg-type]


def constant_value(node: cst.BaseExpression | None) -> str | int | float | None:
    """Return `literal_value(node)`, or the text of an f-string made only of constants.

    `f"3f9a..."` and `f"{'3f9a...'}"` are as constant as the plain literal,
    alone or concatenated with other strings.
    """
    if isinstance(node, cst.FormattedString):
        return _formatted_string_value(code_of(node))
    if isinstance(node, cst.ConcatenatedString):
        texts = [constant_value(string) for string in joined_strings(node)]
        if all(isinstance(text, str) for text in texts):
            return "".join(texts)  # type: ignore[arg-type]
        return None
    return literal_value(node)


@functools.lru_cache(maxsize=1024)
def _formatted_string_value(code: str) -> str | None:
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except SyntaxError:
        return None
    if not isinstance(tree.body, ast.JoinedStr):
        return None
    parts = []
    for value in tree.body.values:
        if isinstance(value, ast.FormattedValue):
            if value.conversion != -1 or value.format_spec is not None:
                return None
            value = value.value
        if not isinstance(value, ast.Constant) or not isinstance(value.value, str):
            return None
        parts.append(value.value)
    return "".join(parts)


@functools.lru_cache(maxsize=4096)
def _string_value(literal: str) -> str | bytes:
    """Return the value of a string literal's code, as `SimpleString.evaluated_value` does.

    The rules read the same few literals many times, and each evaluation
    compiles the literal.
    """
    return _literal_value(literal)  # type: ignore[return-value]


@functools.lru_cache(maxsize=4096)
def _literal_value(code: str) -> object:
    """Return the value of one literal's code, as `ast.literal_eval` does.

    `ast.literal_eval` defines functions that refer to each other on each
    call. The cycles they form wait for the garbage collector, which is off
    while files are parsed (see `cio_fix.pipeline`), and then stay frozen.
    """
    body = ast.parse(code.lstrip(" \t"), mode="eval").body
    if type(body) is ast.Constant:
        return body.value
    return ast.literal_eval(code)


def env_variable_read(index: FileIndex, node: cst.CSTNode) -> str | None:
    """Return X for `os.environ["X"]`, `os.environ.get("X", ...)` or `os.getenv("X", ...)`."""
    # Exact types, because isinstance is slow on libcst's abstract classes.
    if type(node) is cst.Subscript:
        if index.qualified_name(node.value) != "os.environ" or len(node.slice) != 1:
            return None
        element = node.slice[0].slice
        if type(element) is cst.Index:
            value = literal_value(element.value)
            return value if isinstance(value, str) else None
        return None
    if type(node) is cst.Call and node.args:
        if index.qualified_name(node.func) not in ("os.getenv", "os.environ.get"):
            return None
        value = literal_value(node.args[0].value)
        return value if isinstance(value, str) else None
    return None


def build_index(
    module: cst.Module,
    module_name: str,
    is_package: bool,
    shadowed_packages: frozenset[str] = frozenset(),
) -> FileIndex:
    index = FileIndex(module, module_name, is_package, shadowed_packages)
    # The walk passes trivia by, because no rule looks for it or needs its parent.
    repeated = walk(module, IndexBuilder(index), index.parents, trivia=False)
    index.shared_nodes = bool(repeated)
    index.finish()
    return index


def dependency_of(index: FileIndex, call: cst.Call) -> cst.BaseExpression | None:
    """Return the callable of a FastAPI dependency, `get_client` in `Depends(get_client)`."""
    if index.qualified_name(call.func) not in DEPENDENCY_MARKERS:
        return None
    for argument in call.args:
        if argument.star:
            return None
        if argument.keyword is None or argument.keyword.value == "dependency":
            return argument.value
    return None
