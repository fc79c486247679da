"""Recognise code that runs once per request or once per item of a loop.

Rules that care about the cost of code on a hot path ask here, so that
every rule agrees on what a request handler is:

- route decorators of Flask and Quart (`route`, `get`...`delete` on an app
  or blueprint), FastAPI and Starlette (`get`...`delete`, `api_route`,
  `websocket` on an app or router) and aiohttp route tables, recognised by
  their path argument (a string that starts with `/`), also through a
  module-level factory that returns one for its path (`def json_post(path):
  return app.route(path, methods=["POST"])`, then `@json_post("/orders")`)
  of the handler's module or of another project module;
- handlers registered by reference (`app.add_url_rule`, aiohttp's
  `router.add_get` and `web.get`, Starlette's `Route`);
- per-request hooks (`before_request`, `after_request`, `middleware`);
- FastAPI dependencies (`Depends(get_client)`), which are called per
  request, though they are not handlers themselves;
- Django function views (a first parameter `request` in a `views` module or
  package, or a view decorator such as `require_POST` or `login_required`),
  DRF `api_view` functions;
- methods of class-based views, mixins, viewsets and Tornado
  `RequestHandler` classes that run per request, and DRF `action`s.

The wrapper that a module-level decorator returns runs per request when
the decorator is on a request handler of the same module
(`@with_customerio` under `@app.post(...)`), so `runs_per_request_or_item`
counts it too.

Celery tasks, RQ jobs and other background jobs are never requests, even
when their first parameter is called `request`. A Celery task still runs
once per queued item, so `runs_per_request_or_item` counts it. Management commands,
scripts, module-level code, app factories and start-up hooks (`lifespan`,
`on_startup`) match none of the forms above.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field

import libcst as cst

from cio_fix.customerio import (
    DEPENDENCY_MARKERS,
    ClassInfo,
    FileIndex,
    FunctionInfo,
    Scope,
    dependency_of,
    dotted_name,
    literal_value,
    only_statement,
)
from cio_fix.metadata import parents

# The packages whose app, blueprint and router classes make a route
# decorator factory's receiver (`_is_web_app`).
WEB_FRAMEWORK_PACKAGES = (
    "aiohttp.",
    "bottle.",
    "falcon.",
    "fastapi.",
    "flask.",
    "litestar.",
    "quart.",
    "sanic.",
    "starlette.",
)
ROUTE_METHODS = frozenset(
    {
        "route",
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "head",
        "options",
        "api_route",
        "websocket",
        "websocket_route",
        "view",
    }
)
# Decorators that register a function run for every request of an app.
PER_REQUEST_HOOKS = frozenset(
    {
        "before_request",
        "after_request",
        "teardown_request",
        "before_app_request",
        "middleware",
    }
)
# Methods and functions that register a handler passed by reference.
REGISTRATION_METHODS = frozenset(
    {
        "add_url_rule",
        "add_route",
        "add_get",
        "add_post",
        "add_put",
        "add_patch",
        "add_delete",
        "add_head",
        "add_view",
        "add_api_route",
        "add_websocket_route",
    }
)
REGISTRATION_FUNCTIONS = frozenset(
    {
        "aiohttp.web.get",
        "aiohttp.web.post",
        "aiohttp.web.put",
        "aiohttp.web.patch",
        "aiohttp.web.delete",
        "aiohttp.web.head",
        "aiohttp.web.route",
        "aiohttp.web.view",
        "starlette.routing.Route",
        "starlette.routing.WebSocketRoute",
    }
)
REGISTRATION_KEYWORDS = frozenset({"view_func", "endpoint", "handler"})
# The last name parts of REGISTRATION_FUNCTIONS and of FastAPI's dependency
# markers. An attribute qualifies to a name that ends in its own attribute,
# so a call of any other attribute cannot be one of them.
_REGISTRATION_FUNCTION_ATTRIBUTES = frozenset(
    name.rpartition(".")[2] for name in REGISTRATION_FUNCTIONS
)
_DEPENDENCY_ATTRIBUTES = frozenset(
    name.rpartition(".")[2] for name in DEPENDENCY_MARKERS
)

# Django and DRF decorators that only make sense on a view, by last name part.
VIEW_DECORATORS = frozenset(
    {
        "require_http_methods",
        "require_POST",
        "require_GET",
        "require_safe",
        "login_required",
        "permission_required",
        "user_passes_test",
        "csrf_exempt",
        "api_view",
    }
)
# Decorators that turn a function into a background job, by last name part:
# Celery, RQ, Huey, Dramatiq.
JOB_DECORATORS = frozenset(
    {"task", "shared_task", "periodic_task", "job", "actor", "db_task"}
)
# Celery's task decorators by their last name part: `celery.shared_task`,
# `Celery.task` of an app, and Celery 3 and 4's `celery.task.task` and
# `celery.task.periodic_task`.
CELERY_TASK_DECORATORS = frozenset({"task", "shared_task", "periodic_task"})
CELERY_APP_CLASS = "celery.Celery"

# Bases of classes whose methods serve requests: Django and DRF views,
# mixins and viewsets, Flask's MethodView, Starlette's HTTPEndpoint,
# Tornado's RequestHandler and WebSocketHandler.
VIEW_BASE = re.compile(
    r"(?:View|ViewSet|Mixin|Endpoint|RequestHandler|WebSocketHandler)$"
)
# A mixin counts only when Django or DRF defines it: a project's
# `LoggingMixin` is used by workers as much as by views.
VIEW_MIXIN_PACKAGES = ("django.", "rest_framework.")
# Packages whose `...View` classes are built once, at start-up: Flask-Admin
# instantiates each admin view when the app registers it.
NOT_PER_REQUEST_VIEW_PACKAGES = ("flask_admin.",)
VIEW_METHODS = frozenset(
    {
        # HTTP methods.
        "get",
        "post",
        "put",
        "patch",
        "delete",
        "head",
        "options",
        "trace",
        # Django: a view class is instantiated for every request.
        "__init__",
        "setup",
        "dispatch",
        "form_valid",
        "form_invalid",
        # DRF viewset actions and their hooks.
        "list",
        "create",
        "retrieve",
        "update",
        "partial_update",
        "destroy",
        "perform_create",
        "perform_update",
        "perform_destroy",
        # Tornado: a handler is instantiated, and `initialize` called, for
        # every request.
        "initialize",
        "prepare",
        "on_finish",
        "open",
        "on_message",
    }
)
ACTION_DECORATORS = frozenset({"action", "detail_route", "list_route"})

# Calls that run their first argument once per item: `map(send, users)`,
# `executor.map(send, users)`, `pool.imap(send, users)`.
MAP_FUNCTIONS = frozenset({"map", "imap", "imap_unordered", "starmap"})
COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.GeneratorExp)
# The scopes that end the search of `loop_around`: a loop outside them does not
# run their code per item.
_FUNCTION_TYPES = frozenset({cst.FunctionDef, cst.Lambda, cst.Module})


@dataclass
class _FileFacts:
    """Handler facts of one file, each computed on first use."""

    registered: frozenset[str]
    # None until first read, because telling a handler apart needs only `registered`.
    called_per_request: frozenset[str] | None = None
    # The module's route decorator factories (`route_factories`), on first use.
    route_factories: dict[str, str | None] | None = None
    # The module-level functions that decorate a request handler, by name, on
    # first use.
    handler_decorators: frozenset[str] | None = None
    # Whether each class of the module has a view base (`_is_view_class`), by
    # the id of the class node, filled on first use.
    view_classes: dict[int, bool] = field(default_factory=dict)


_FACTS: weakref.WeakKeyDictionary[FileIndex, _FileFacts] = weakref.WeakKeyDictionary()


def _last_part(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def is_background_job(function: FunctionInfo) -> bool:
    """Tell whether a function is a Celery task, an RQ job or a similar job."""
    return any(_last_part(name) in JOB_DECORATORS for name in function.decorators)


def is_celery_task(index: FileIndex, function: FunctionInfo) -> bool:
    """Tell whether a Celery decorator makes a module-level function a task.

    The worker runs a task once for every message queued for it. The
    decorator must come from the `celery` package or be an attribute of an
    app that the module builds with `celery.Celery(...)`, so that another
    library's `task` decorator does not count. An app imported from another
    module counts when it has the names of Celery's documented layout
    (`_is_imported_celery_app`), because this file's index cannot tell how
    that module builds it.
    """
    if function.parent is not None or function.class_info is not None:
        return False
    for expression, owner in _task_decorators(function):
        qualified = index.qualified_name(expression, index.module_scope)
        if qualified is not None and qualified.startswith("celery."):
            return True
        if owner and (
            _is_celery_app(index, owner) or _is_imported_celery_app(index, owner)
        ):
            return True
    return False


def is_celery_layout_task(index: FileIndex, function: FunctionInfo) -> bool:
    """Tell whether a task counts as Celery's only by its app's import (`_is_imported_celery_app`).

    cio-fix cannot tell what that module builds, so a message should not
    call it a Celery task.
    """
    return any(
        owner and _is_imported_celery_app(index, owner)
        for _, owner in _task_decorators(function)
    )


def _task_decorators(function: FunctionInfo) -> list[tuple[cst.BaseExpression, str]]:
    """Return each decorator named like a Celery task decorator, with its owner (`app`)."""
    found = []
    for decorator in function.node.decorators:
        expression = decorator.decorator
        if type(expression) is cst.Call:
            expression = expression.func
        dotted = dotted_name(expression)
        if dotted is None:
            continue
        owner, _, last = dotted.rpartition(".")
        if last in CELERY_TASK_DECORATORS:
            found.append((expression, owner))
    return found


def _is_imported_celery_app(index: FileIndex, name: str) -> bool:
    """Tell whether a name is imported as Celery's documentation lays out its app.

    That is any name of a module called `celery` (`from proj.celery import
    app`, `from .celery import app`), or `celery_app`, as a Django project
    exports it from its package (`from proj import celery_app`).
    """
    qualified = index.imports.get(name)
    if qualified is None or name in index.rebound_names:
        return False
    if name in index.module_scope.assignments:
        return False
    module, _, imported = qualified.rpartition(".")
    package, _, last = module.rpartition(".")
    return (package != "" and last == "celery") or imported == "celery_app"


def _is_celery_app(index: FileIndex, name: str) -> bool:
    """Tell whether a module-level name is bound once, to `celery.Celery(...)`."""
    assignments = index.module_scope.assignments.get(name, [])
    if len(assignments) != 1 or name in index.rebound_names:
        return False
    value = assignments[0].value
    if type(value) is not cst.Call:
        return False
    return index.qualified_name(value.func, index.module_scope) == CELERY_APP_CLASS


def _first_parameter(function: FunctionInfo) -> str | None:
    parameters = [*function.node.params.posonly_params, *function.node.params.params]
    if function.class_info is not None and parameters:
        parameters = parameters[1:]
    return parameters[0].name.value if parameters else None


def _is_route_decorator(decorator: cst.Decorator) -> bool:
    """Tell `@app.post("/orders")`, `@bp.route("/")` and `@routes.get("/")` apart."""
    expression = decorator.decorator
    if not isinstance(expression, cst.Call) or not isinstance(
        expression.func, cst.Attribute
    ):
        return False
    method = expression.func.attr.value
    if method in PER_REQUEST_HOOKS:
        return True
    if method not in ROUTE_METHODS:
        return False
    for argument in expression.args:
        if argument.keyword is None or argument.keyword.value in ("path", "rule"):
            path = literal_value(argument.value)
            return isinstance(path, str) and path.startswith("/")
    return False


def _is_factory_route(
    index: FileIndex, function: FunctionInfo, decorator: cst.Decorator
) -> bool:
    """Tell `@json_post("/orders")` apart, where `json_post` returns a route decorator.

    The factory is a function of this module or one that the module
    imports from another project module (`ProjectIndex.route_factory`).
    """
    factory = _route_factory_name(decorator)
    if factory is None:
        return False
    facts = _facts(index)
    if facts.route_factories is None:
        facts.route_factories = route_factories(index)
    if factory.value in facts.route_factories:
        return _calls_web_app(index, facts.route_factories[factory.value])
    return _is_imported_route_factory(index, function, factory)


def _route_factory_name(decorator: cst.Decorator) -> cst.Name | None:
    """Return `json_post` of `@json_post("/orders")`, a call of a name with a path first."""
    expression = decorator.decorator
    if type(expression) is not cst.Call or type(expression.func) is not cst.Name:
        return None
    if not expression.args or expression.args[0].keyword or expression.args[0].star:
        return None
    path = literal_value(expression.args[0].value)
    if not isinstance(path, str) or not path.startswith("/"):
        return None
    return expression.func


def _calls_web_app(index: FileIndex, app: str | None) -> bool:
    """Tell whether a route factory of this module calls a web app (`route_factories`).

    That is an app that the module builds (None), or an imported Flask
    app of the project.
    """
    if app is None:
        return True
    project = index.project
    if project is None:
        return False
    return project.flask_app(project.localise(app, index.module_name))


def _is_imported_route_factory(
    index: FileIndex, function: FunctionInfo, name: cst.Name
) -> bool:
    """Tell whether a decorator's name is a route factory imported from a project module."""
    project = index.project
    if project is None:
        return False
    # A decorator runs in the scope around the function it decorates.
    scope = function.scope.parent if function.scope is not None else None
    imported = _imported_name(index, name, scope)
    if imported is None:
        return False
    return project.route_factory(project.localise(imported, index.module_name))


def route_factories(index: FileIndex) -> dict[str, str | None]:
    """Return the module-level functions that only return a route decorator for their path.

    Their one statement is `return app.route(path, ...)` (or `bp.post`,
    `router.get`), where `path` is their first parameter, and the module
    binds their name only with the `def`. Each maps to None when `app` is
    a web framework's app or router that the module builds (`_is_web_app`),
    or else to the qualified name that the module imports `app` as. Only
    the project index can tell whether that import is a Flask app.
    """
    factories: dict[str, str | None] = {}
    for function in index.functions:
        # Cheap tests first: most functions return something else, or
        # more than once.
        if len(function.returns) != 1 or type(function.returns[0]) is not cst.Call:
            continue
        if function.parent is not None or function.class_info is not None:
            continue
        if function.node.decorators or function.is_async:
            continue
        first = _first_parameter(function)
        returned = _only_return(function.node)
        if first is None or type(returned) is not cst.Call:
            continue
        if type(returned.func) is not cst.Attribute:
            continue
        if returned.func.attr.value not in ROUTE_METHODS or not returned.args:
            continue
        argument = returned.args[0]
        if argument.keyword or argument.star or type(argument.value) is not cst.Name:
            continue
        if argument.value.value != first:
            continue
        assignments = index.module_scope.assignments.get(function.name, [])
        if len(assignments) != 1 or function.name in index.rebound_names:
            continue
        app = returned.func.value
        if _is_web_app(index, app):
            factories[function.name] = None
            continue
        imported = _imported_name(index, app, function.scope)
        if imported is not None:
            factories[function.name] = imported
    return factories


def imported_route_decorators(index: FileIndex) -> set[str]:
    """Return the imported names that decorate functions as route factories do, qualified.

    That is `@json_post("/orders")` after `from app.routing import
    json_post`. Only the summary of `app.routing` shows whether `json_post`
    returns a route decorator, so the search for project files reads that
    module even when it never mentions Customer.io.
    """
    names = set()
    for function in index.functions:
        # Cheap test first: most functions have no decorator.
        if not function.node.decorators:
            continue
        for decorator in function.node.decorators:
            factory = _route_factory_name(decorator)
            if factory is None:
                continue
            # A decorator runs in the scope around the function it decorates.
            scope = function.scope.parent if function.scope is not None else None
            imported = _imported_name(index, factory, scope)
            if imported is not None:
                names.add(imported)
    return names


def _imported_name(
    index: FileIndex, node: cst.BaseExpression, scope: Scope | None
) -> str | None:
    """Return the qualified name that an import binds a name to, seen from `scope`.

    None when no import binds it, or when a second module-level binding (an
    import, an assignment or a `def`) may replace the import.
    """
    if type(node) is not cst.Name or node.value in index.rebound_names:
        return None
    if node.value in index.module_scope.assignments:
        return None
    return index.qualified_name(node, scope)


def _wraps_handler(index: FileIndex, function: FunctionInfo) -> bool:
    """Tell whether a function is the wrapper that a decorator of a request handler returns.

    `def with_customerio(fn): ... def wrapper(*args): ...; return wrapper`
    at module level, with `@with_customerio` on a handler of the module:
    the wrapper runs on every request to that handler.
    """
    decorator = function.parent
    if decorator is None or decorator.parent is not None:
        return False
    if function.class_info is not None or decorator.class_info is not None:
        return False
    returned = _last_return(decorator.node)
    if type(returned) is not cst.Name or returned.value != function.name:
        return False
    facts = _facts(index)
    if facts.handler_decorators is None:
        facts.handler_decorators = _handler_decorators(index)
    return decorator.name in facts.handler_decorators


def _handler_decorators(index: FileIndex) -> frozenset[str]:
    """Return the names of module-level functions that decorate a request handler."""
    names = set()
    for function in index.functions:
        if function.parent is not None or not function.node.decorators:
            continue
        if not is_request_handler(index, function):
            continue
        for decorator in function.node.decorators:
            if type(decorator.decorator) is cst.Name:
                names.add(decorator.decorator.value)
    return frozenset(
        name
        for name in names
        if len(index.module_scope.assignments.get(name, [])) == 1
        and name not in index.rebound_names
    )


def _is_web_app(index: FileIndex, node: cst.BaseExpression) -> bool:
    """Tell whether a name is bound once, at module level, to a web framework's app or router.

    That is `app = Flask(__name__)`, `bp = Blueprint(...)`, `router =
    APIRouter()` and the like: a call of a class from a web framework.
    """
    if type(node) is not cst.Name or node.value in index.rebound_names:
        return False
    assignments = index.module_scope.assignments.get(node.value, [])
    if len(assignments) != 1 or type(assignments[0].value) is not cst.Call:
        return False
    qualified = index.qualified_name(assignments[0].value.func, index.module_scope)
    return qualified is not None and qualified.startswith(WEB_FRAMEWORK_PACKAGES)


def _only_return(node: cst.FunctionDef) -> cst.BaseExpression | None:
    """Return X of `return X` when that is the function's one statement after a docstring."""
    small = only_statement(node)
    return small.value if type(small) is cst.Return else None


def _last_return(node: cst.FunctionDef) -> cst.BaseExpression | None:
    """Return X of `return X` when that is the function's last statement."""
    body = node.body
    if not isinstance(body, cst.IndentedBlock) or not body.body:
        return None
    line = body.body[-1]
    if type(line) is not cst.SimpleStatementLine or len(line.body) != 1:
        return None
    small = line.body[0]
    return small.value if type(small) is cst.Return else None


def _is_per_request_hook(decorator: cst.Decorator) -> bool:
    """Tell `@app.before_request` (without a call) apart."""
    expression = decorator.decorator
    return (
        isinstance(expression, cst.Attribute)
        and expression.attr.value in PER_REQUEST_HOOKS
    )


def _in_views_module(index: FileIndex) -> bool:
    return "views" in index.module_name.split(".")


def _is_function_view(index: FileIndex, function: FunctionInfo) -> bool:
    if function.class_info is not None:
        return False
    if any(_last_part(name) in VIEW_DECORATORS for name in function.decorators):
        return True
    return (
        function.parent is None
        and _in_views_module(index)
        and _first_parameter(function) == "request"
    )


def _is_view_base(index: FileIndex, base: str) -> bool:
    last = _last_part(base)
    if not VIEW_BASE.search(last):
        return False
    qualified = index.qualify(base) or base
    if qualified.startswith(NOT_PER_REQUEST_VIEW_PACKAGES):
        return False
    if last.endswith("Mixin"):
        return qualified.startswith(VIEW_MIXIN_PACKAGES)
    return True


def _is_view_method(index: FileIndex, function: FunctionInfo) -> bool:
    class_info = function.class_info
    if class_info is None:
        return False
    # The method's name first, because it is cheaper than the class's bases.
    if function.name not in VIEW_METHODS and not any(
        _last_part(name) in ACTION_DECORATORS for name in function.decorators
    ):
        return False
    return _is_view_class(index, class_info)


def _is_view_class(index: FileIndex, class_info: ClassInfo) -> bool:
    facts = _facts(index)
    key = id(class_info.node)
    known = facts.view_classes.get(key)
    if known is None:
        known = _has_view_base(index, class_info, set())
        facts.view_classes[key] = known
    return known


def _has_view_base(index: FileIndex, class_info: ClassInfo, seen: set[int]) -> bool:
    """Tell whether a class has a view base (`_is_view_base`), also through its module's classes.

    A base that this module defines counts when one of its own bases does,
    to any depth: `class CartBase(View)` makes `class Checkout(CartBase)` a
    view. `seen` contains the ids of the class nodes already followed, so that
    a cycle of names ends.
    NOTE: a base imported from another project module counts only by its
    name (`...View`), because the module summaries do not list class bases
    and that module is often not read at all.
    """
    if any(_is_view_base(index, base) for base in class_info.bases):
        return True
    scope = class_info.scope
    if scope is None or scope.parent is None:
        return False
    seen.add(id(class_info.node))
    for base in class_info.node.bases:
        found = index.class_named(base.value, scope.parent)
        if found is None or id(found.node) in seen:
            continue
        if _has_view_base(index, found, seen):
            return True
    return False


def is_request_handler(index: FileIndex, function: FunctionInfo) -> bool:
    """Tell whether a function runs once for every request it serves."""
    if is_background_job(function):
        return False
    for decorator in function.node.decorators:
        if _is_route_decorator(decorator) or _is_per_request_hook(decorator):
            return True
        if _is_factory_route(index, function, decorator):
            return True
    if function.class_info is None and function.name in _facts(index).registered:
        return True
    return _is_function_view(index, function) or _is_view_method(index, function)


def request_handler(
    index: FileIndex, function: FunctionInfo | None
) -> FunctionInfo | None:
    """Return the request handler that `function` is, or is nested in, if any."""
    current = function
    while current is not None:
        if is_background_job(current):
            return None
        if is_request_handler(index, current):
            return current
        current = current.parent
    return None


def loop_around(node: cst.CSTNode, ancestors: list[cst.CSTNode]) -> cst.CSTNode | None:
    """Return the loop that runs `node` once per item, inside its own function.

    `ancestors` lists the parents of `node`, nearest first. The iterable of
    a `for` runs once, so a node there is not per item.
    """
    child = node
    for parent in ancestors:
        # Exact types, because isinstance is slow on libcst's abstract classes.
        kind = type(parent)
        if kind in _FUNCTION_TYPES:
            return None
        if kind is cst.For and child is not parent.iter:
            return parent
        if kind is cst.While:
            return parent
        if kind is cst.CompFor and child is not parent.iter:
            return parent
        if kind in COMPREHENSIONS and child is parent.elt:
            return parent
        if kind is cst.DictComp and child in (parent.key, parent.value):
            return parent
        child = parent
    return None


def runs_per_request_or_item(index: FileIndex, function: FunctionInfo | None) -> bool:
    """Tell whether a function runs per request or per item.

    That is a handler, a Celery task, or a function that its file calls
    from either or per item of a loop.
    """
    if request_handler(index, function) is not None:
        return True
    if function is not None and _wraps_handler(index, function):
        return True
    if (
        function is None
        or function.parent is not None
        or function.class_info is not None
    ):
        return False
    if is_celery_task(index, function):
        return True
    if is_background_job(function):
        return False
    facts = _facts(index)
    if facts.called_per_request is None:
        facts.called_per_request = _called_per_request(index)
    return function.name in facts.called_per_request


# -- facts of a whole file ------------------------------------------------------------


def _facts(index: FileIndex) -> _FileFacts:
    facts = _FACTS.get(index)
    if facts is None:
        facts = _FileFacts(_registered_handlers(index))
        _FACTS[index] = facts
    return facts


def _registered_handlers(index: FileIndex) -> frozenset[str]:
    """Names of functions passed to a route registration: `app.add_url_rule("/", view_func=f)`."""
    names = set()
    for site in index.call_sites:
        func = site.node.func
        if type(func) is cst.Attribute:
            attribute = func.attr.value
            if attribute not in REGISTRATION_METHODS and (
                attribute not in _REGISTRATION_FUNCTION_ATTRIBUTES
                or index.qualified_name(func) not in REGISTRATION_FUNCTIONS
            ):
                continue
        elif index.qualified_name(func) not in REGISTRATION_FUNCTIONS:
            continue
        for argument in site.node.args:
            if (
                argument.keyword is not None
                and argument.keyword.value not in REGISTRATION_KEYWORDS
            ):
                continue
            if type(argument.value) is cst.Name:
                names.add(argument.value.value)
    return frozenset(names)


def _in_loop(node: cst.Call, parent_of: dict[cst.CSTNode, cst.CSTNode]) -> bool | None:
    """Tell whether a call runs per item of a loop of its own function.

    None means the call is in a definition's decorators, parameters or
    annotations, which run once when the definition does.
    """
    child: cst.CSTNode = node
    parent = parent_of.get(child)
    in_loop = False
    while parent is not None:
        # Exact types, because isinstance is slow on libcst's abstract classes.
        kind = type(parent)
        if kind is cst.FunctionDef:
            # A loop around a definition does not run the body per item.
            return in_loop if child is parent.body else None
        if kind is cst.For:
            in_loop = in_loop or child is parent.body
        elif kind is cst.While or kind is cst.CompFor:
            in_loop = True
        child, parent = parent, parent_of.get(parent)
    return in_loop


def _called_per_request(index: FileIndex) -> frozenset[str]:
    """Names of module-level functions called from a handler, a Celery task or a loop.

    Names passed to `map` and its kin count as called per item, and
    FastAPI dependencies (`Depends(get_client)`) as called per request.
    """
    parent_of = index.parents or parents(index.module)
    # `runs_per_request_or_item` looks up only these functions, so a call
    # of a builtin, a class or an imported function needs no walk up to
    # its function.
    module_functions = {
        function.name
        for function in index.functions
        if function.parent is None and function.class_info is None
    }
    names = set()
    for site in index.call_sites:
        node = site.node
        func = node.func
        if not node.args:
            # Without arguments a call names no dependency and maps nothing.
            if (
                type(func) is cst.Name
                and func.value in module_functions
                and _in_loop(node, parent_of)
            ):
                names.add(func.value)
            continue
        if type(func) is not cst.Attribute or func.attr.value in _DEPENDENCY_ATTRIBUTES:
            dependency = dependency_of(index, node)
            if type(dependency) is cst.Name:
                names.add(dependency.value)
        # Only a called module-level function or a mapped function can be
        # added, so the walk up to the function is skipped for other calls.
        if type(func) is cst.Name:
            maps = func.value in MAP_FUNCTIONS
            if not maps and func.value not in module_functions:
                continue
        elif type(func) is cst.Attribute and func.attr.value in MAP_FUNCTIONS:
            maps = dotted_name(func) is not None
        else:
            continue
        in_loop = _in_loop(node, parent_of)
        if in_loop is None:
            continue
        if in_loop and type(func) is cst.Name:
            names.add(func.value)
        if maps:
            mapped = node.args[0].value
            if type(mapped) is cst.Name:
                names.add(mapped.value)
    # Whether each function, by id, is a request handler, nested in one, or a
    # Celery task.
    in_handler: dict[int, bool] = {}
    for site in index.call_sites:
        func = site.node.func
        if type(func) is not cst.Name or func.value not in module_functions:
            continue
        key = id(site.function)
        if key not in in_handler:
            caller = site.function
            in_handler[key] = request_handler(index, caller) is not None or (
                caller is not None and is_celery_task(index, caller)
            )
        if in_handler[key]:
            names.add(func.value)
    return frozenset(names)
