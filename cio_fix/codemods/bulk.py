"""Track API calls made once per item without a throttle (CIO603)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import libcst as cst

from cio_fix.customerio import (
    TRACK_METHODS,
    Api,
    ClientCall,
    FileIndex,
    Scope,
    dotted_name,
)
from cio_fix.model import AddImport, Finding, Fix, FixSafety, InsertStatements
from cio_fix.rules import FileContext, Rule, unused_name
from cio_fix.walk import find_all

# A loop over a literal collection of at most this many items, or over
# range(N) or a slice `items[:N]` with N at most this, sends a handful of
# requests: not bulk.
SMALL_COLLECTION = 10
COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
EXECUTOR_CLASSES = frozenset(
    {
        "concurrent.futures.ThreadPoolExecutor",
        "concurrent.futures.ProcessPoolExecutor",
        "concurrent.futures.thread.ThreadPoolExecutor",
        "concurrent.futures.process.ProcessPoolExecutor",
        "multiprocessing.Pool",
        "multiprocessing.pool.Pool",
        "multiprocessing.pool.ThreadPool",
    }
)
EXECUTOR_METHODS = frozenset(
    {"map", "submit", "imap", "imap_unordered", "starmap", "apply_async"}
)
# Methods that run a function once: a loop around them makes it per item.
SINGLE_RUN_METHODS = frozenset({"submit", "apply_async"})
EXECUTOR_NAME = re.compile(r"(?:executor|pool)$", re.IGNORECASE)
# Name parts that mean a throttle or rate limiter: `throttle.wait()`,
# `limiter.acquire()`, `@limits(calls=..., period=...)`, `time.sleep(...)`,
# `async with AsyncLimiter(...)`.
THROTTLE_PART = re.compile(
    r"throttl|rate_?limit|limiter|^limits$|^sleep|sleep_and_retry|token_?bucket",
    re.IGNORECASE,
)
HELPER_NAME = "_customerio_throttle"
HELPER_CLASS = "_CustomerioThrottle"
# The names the fix gives its throttle and class: the plain ones, or the
# first unused `_2`, `_3`... when the module uses them for something else.
HELPER_NAMES = re.compile(r"^_customerio_throttle(?:_\d+)?$")
HELPER_CLASSES = re.compile(r"^_CustomerioThrottle(?:_\d+)?$")
HELPER_CODE = '''\
class {cls}:
    """Start requests at most `rate` a second, across the threads that share it."""

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._lock = {threading}.Lock()
        self._next_start = 0.0

    def reserve(self) -> float:
        """Reserve the next start time; return the seconds to wait for it."""
        with self._lock:
            now = {time}.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self._interval
        return start - now

    def wait(self) -> None:
        """Block until the next request may start."""
        delay = self.reserve()
        if delay > 0:
            {time}.sleep(delay)


# Track API requests a second for the loops of this module.
{name} = {cls}({rate})
'''
# The oldest Python that the throttle runs on: `time.monotonic` is new in 3.3.
HELPER_PYTHON = (3, 3)


@dataclass
class Loop:
    """The construct that runs a call once per item."""

    # The for/while statement, comprehension, or executor map/submit call.
    node: cst.CSTNode
    kind: str
    # The function an executor runs per item, whose body is the loop body.
    worker: cst.FunctionDef | None = None


class UnthrottledBulkCalls(Rule):
    """What it does:
    Finds Track API calls made once per item: in a `for`, `async for` or
    `while` loop, a comprehension, or a function run by `executor.map` or
    `executor.submit` in a loop. A call is reported when nothing limits the
    rate: no throttle or rate limiter call, `time.sleep`, rate-limiting
    decorator, limiter `with` block or `batch()` call. Loops over a literal collection of at
    most 10 items, over `range(N)` or over a slice `items[:N]` or
    `items[a:N]` are not reported when N is at most 10, written as a number
    or as a name assigned a number once (`MAX_DEVICES = 3`). Neither are
    retry loops, which leave with `break` or `return` once the call
    succeeds. Such a loop bounds only its own iterations, so a call in it
    is still reported when a loop around it in the same function, or an
    executor that runs the function, is per item of a larger collection:
    `for user in users:` around `for token in user.push_tokens[:3]:`.

    Why is this bad?
    Customer.io's Track API has a fair-use limit of about 100 requests a
    second per workspace (the figure that summaries of Customer.io's API
    documentation give, so check the current limit there). A loop over a table
    of customers goes past it within a second. Customer.io answers the
    extra requests with HTTP 429, and the SDK raises after its retries, so
    events and profile updates are lost part way through the job.

    Example:
        for order in orders:
            cio.track(customer_id=order.user_id, name="order_placed")

    Use instead:
        for order in orders:
            _customerio_throttle.wait()
            cio.track(customer_id=order.user_id, name="order_placed")

    Fix safety:
    Unsafe, because the loop becomes slower on purpose. The fix adds one
    thread-safe throttle per module, at `throttle-rate` requests a second
    (100 unless configured), and waits on it before each request. When the
    module already uses the name `_customerio_throttle` for something other
    than the throttle an earlier run added, the throttle gets the first
    unused name of `_customerio_throttle_2`, `_customerio_throttle_3` and
    so on. Awaited async calls sleep with `asyncio.sleep` instead. A wait
    allows one request, so a call after another call's wait gets a wait of
    its own. Each module has its own limit. Two throttled modules that run
    at once in one process send up to twice the rate, and so do processes
    that call Customer.io in parallel, because they share the workspace
    limit. Set
    `throttle-rate` to the workspace limit divided by the number of loops
    that may run at once. Calls in comprehensions, lambdas and one-line loop
    bodies, calls of an async client that are not awaited where they are
    made, and client methods handed to an executor are reported only.
    The throttle is made while the module is imported, so `threading` and
    `time` are imported at the top of the module when the module imports
    them only further down. It reads the clock with `time.monotonic`,
    which is new in Python 3.3, so in a project that declares an older
    Python (the README lists where cio-fix reads that version) the calls
    are reported without a fix.
    """

    code = "CIO603"
    name = "unthrottled-bulk-calls"
    summary = "Track API calls made per item of a loop without a throttle or batch()"
    fix_safety = FixSafety.UNSAFE

    def check(self, context: FileContext) -> Iterator[Finding]:
        index = context.index
        workers = _executor_workers(context)
        batched = _functions_with_batch(index)

        for call in index.client_calls:
            if call.api is not Api.TRACK or call.method == "batch":
                continue
            loop = bulk_loop(context, call.node, workers, call.site.scope)
            if loop is None:
                continue
            if (
                call.site.function is not None
                and id(call.site.function.node) in batched
            ):
                continue
            if _is_throttled(context, call.node, loop):
                continue
            fix = _fix(context, call, loop)
            innermost = next(enclosing_loops(context, call.node, workers))
            if isinstance(fix, str):
                message = _message(context, call.method, loop, innermost, fixable=False)
                yield context.finding(
                    self,
                    call.node,
                    f"{message} (not fixed: {fix})",
                    fixed_message=message,
                )
                continue
            message = _message(
                context, call.method, loop, innermost, fixable=fix is not None
            )
            yield context.finding(self, call.node, message, fix=fix)

        yield from self._method_references(context)

    def _method_references(self, context: FileContext) -> Iterator[Finding]:
        """Report `executor.map(cio.track, ...)`: the client method itself is run per item."""
        index = context.index
        for site in index.call_sites:
            method = _executor_method(index, site.node, site.scope)
            if method is None or not site.node.args:
                continue
            target = site.node.args[0].value
            if (
                not isinstance(target, cst.Attribute)
                or target.attr.value not in TRACK_METHODS
            ):
                continue
            if target.attr.value == "batch":
                continue
            client = index.client_type(target.value, site.scope)
            if client is None or client.api is not Api.TRACK:
                continue
            if method in SINGLE_RUN_METHODS:
                loop = bulk_loop(context, site.node, {}, site.scope)
                if loop is None:
                    continue
            else:
                loop = Loop(site.node, "executor")
            if _is_throttled(context, site.node, loop):
                continue
            message = (
                f"the executor runs the Track API `{target.attr.value}` once per item"
                " without a throttle; call a function that waits on a throttle before"
                " each request, or send the items with `batch()`"
            )
            yield context.finding(self, site.node, message)


def _message(
    context: FileContext, method: str, loop: Loop, innermost: Loop, fixable: bool
) -> str:
    # When the nearest loop is small or a retry loop, the message names it
    # too, so the reader sees why the finding points further out.
    nested = ""
    if innermost.node is not loop.node:
        nested = f" in {_describe(context, innermost)}"
    advice = "wait on a throttle before each request"
    if fixable:
        advice += " (the fix adds one that allows `throttle-rate` requests a second)"
    return (
        f"this Track API `{method}` runs{nested} once per item of"
        f" {_describe(context, loop)} without a throttle;"
        " Customer.io answers HTTP 429 above about 100 requests a second per workspace,"
        f" so {advice}, or send the items with `batch()`"
    )


def _describe(context: FileContext, loop: Loop) -> str:
    line = context.message_line(loop.node)
    return {
        "for": f"the loop at line {line}",
        "while": f"the loop at line {line}",
        "comprehension": f"the comprehension at line {line}",
        "executor": f"the executor call at line {line}",
    }[loop.kind]


# -- finding the loop -----------------------------------------------------------------


def enclosing_loops(
    context: FileContext, node: cst.CSTNode, workers: dict[str, cst.Call]
) -> Iterator[Loop]:
    """Yield the loops that run `node` once per item, innermost first, within its function.

    The executor call that runs the function or lambda around `node` per
    item comes last.
    """
    child: cst.CSTNode = node
    for ancestor in context.ancestors(node):
        if isinstance(ancestor, (cst.For, cst.While)) and child is ancestor.body:
            yield Loop(ancestor, "for" if isinstance(ancestor, cst.For) else "while")
        if isinstance(ancestor, COMPREHENSIONS) and not _in_first_iterable(
            context, ancestor, node
        ):
            yield Loop(ancestor, "comprehension")
        if isinstance(ancestor, cst.Lambda):
            caller = context.parent(context.parent(ancestor) or ancestor)
            if any(caller is executor_call for executor_call in workers.values()):
                yield Loop(caller, "executor")
            return
        if isinstance(ancestor, cst.FunctionDef):
            caller = workers.get(ancestor.name.value)
            if caller is not None:
                yield Loop(caller, "executor", worker=ancestor)
            return
        if isinstance(ancestor, cst.ClassDef):
            return
        child = ancestor


def bulk_loop(
    context: FileContext, node: cst.CSTNode, workers: dict[str, cst.Call], scope: Scope
) -> Loop | None:
    """Return the innermost loop around `node` that is neither small nor a retry loop.

    A small loop or a retry loop bounds only its own iterations, so the
    loops around it are judged in turn.
    """
    for loop in enclosing_loops(context, node, workers):
        if not _is_small_loop(loop, context.index, scope) and not is_retry(
            context, node, loop
        ):
            return loop
    return None


def _in_first_iterable(
    context: FileContext, comprehension: cst.CSTNode, node: cst.CSTNode
) -> bool:
    """Tell whether `node` is in the outermost `for`'s iterable, which runs once."""
    iterable = comprehension.for_in.iter  # type: ignore[attr-defined]
    return node is iterable or any(
        ancestor is iterable for ancestor in context.ancestors(node)
    )


def _is_small_loop(loop: Loop, index: FileIndex, scope: Scope) -> bool:
    if isinstance(loop.node, cst.For):
        return _is_small_collection(loop.node.iter, index, scope)
    if isinstance(loop.node, COMPREHENSIONS) and loop.node.for_in.inner_for_in is None:
        return _is_small_collection(loop.node.for_in.iter, index, scope)
    return False


def _is_small_collection(
    node: cst.BaseExpression, index: FileIndex, scope: Scope
) -> bool:
    if isinstance(node, cst.Name):
        # `ADMINS = ["a@x", "b@x"]` then `for admin in ADMINS:` is small too.
        assignments = index.assignments_of(node.value, scope)
        if len(assignments) != 1 or assignments[0].value is None:
            return False
        node = assignments[0].value
    if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
        starred = any(
            isinstance(element, cst.StarredElement) for element in node.elements
        )
        return not starred and len(node.elements) <= SMALL_COLLECTION
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Name)
        and node.func.value == "range"
        and len(node.args) == 1
        and node.args[0].keyword is None
        and not node.args[0].star
    ):
        return _is_small_bound(node.args[0].value, index, scope)
    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        # `items[a:N]` has at most N items for any `a`. A slice with a step
        # is left out, because a negative one walks from the end (`items[:3:-1]`).
        element = node.slice[0].slice
        return (
            isinstance(element, cst.Slice)
            and element.step is None
            and element.upper is not None
            and _is_small_bound(element.upper, index, scope)
        )
    return False


def _is_small_bound(node: cst.BaseExpression, index: FileIndex, scope: Scope) -> bool:
    """Tell whether `node` is an integer of at most SMALL_COLLECTION: `3` or `MAX_DEVICES`.

    A name counts when it is assigned once, by an `=` statement, and no
    function rebinds it with `global`. A parameter's default does not
    count, because a caller may pass any number.
    """
    if isinstance(node, cst.Name):
        assignments = index.assignments_of(node.value, scope)
        if (
            len(assignments) != 1
            or not isinstance(assignments[0].statement, (cst.Assign, cst.AnnAssign))
            or node.value in index.global_names
        ):
            return False
        node = assignments[0].value
    return isinstance(node, cst.Integer) and node.evaluated_value <= SMALL_COLLECTION


def is_retry(context: FileContext, node: cst.CSTNode, loop: Loop) -> bool:
    """Tell whether the loop repeats one request until it succeeds, not once per item.

    That is a `try` around the call, or the call's block, that leaves this
    loop with `break` or `return`. A `break` of an inner loop leaves only
    the inner loop.
    """
    if loop.kind not in ("for", "while"):
        return False
    for ancestor in context.ancestors(node):
        if ancestor is loop.node:
            return False
        if isinstance(ancestor, cst.Try):
            exits = find_all(ancestor.body, cst.Break, cst.Return)
        elif isinstance(ancestor, cst.IndentedBlock):
            exits = [
                statement.body[0]
                for statement in ancestor.body
                if isinstance(statement, cst.SimpleStatementLine)
                and len(statement.body) == 1
                and isinstance(statement.body[0], (cst.Break, cst.Return))
            ]
        else:
            continue
        if any(_leaves_loop(context, statement, loop.node) for statement in exits):
            return True
    return False


def _leaves_loop(
    context: FileContext, statement: cst.CSTNode, loop: cst.CSTNode
) -> bool:
    """Tell whether a `break` or `return` statement leaves `loop`."""
    if isinstance(statement, cst.Return):
        return True
    child = statement
    for ancestor in context.ancestors(statement):
        # A `break` leaves the nearest loop whose body it is in. One in a
        # loop's `else` block leaves the loop around that one.
        if isinstance(ancestor, (cst.For, cst.While)) and child is ancestor.body:
            return ancestor is loop
        child = ancestor
    return False


# -- executors -----------------------------------------------------------------------


def _is_executor(index: FileIndex, receiver: cst.BaseExpression, scope: Scope) -> bool:
    if isinstance(receiver, cst.Call):
        return index.qualified_name(receiver.func) in EXECUTOR_CLASSES
    if isinstance(receiver, cst.Name):
        for assignment in index.assignments_of(receiver.value, scope):
            value = assignment.value
            if (
                isinstance(value, cst.Call)
                and index.qualified_name(value.func) in EXECUTOR_CLASSES
            ):
                return True
    dotted = dotted_name(receiver)
    return dotted is not None and bool(EXECUTOR_NAME.search(dotted))


def _executor_method(index: FileIndex, call: cst.Call, scope: Scope) -> str | None:
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value not in EXECUTOR_METHODS:
        return None
    if not _is_executor(index, func.value, scope):
        return None
    return func.attr.value


def _executor_workers(context: FileContext) -> dict[str, cst.Call]:
    """Return the functions (and lambdas) that executors run per item, with the executor call.

    `map` runs its function per item; `submit` does when it is itself in a loop.
    Lambdas are keyed by their id, since they have no name.
    """
    index = context.index
    workers: dict[str, cst.Call] = {}
    for site in index.call_sites:
        method = _executor_method(index, site.node, site.scope)
        if method is None or not site.node.args:
            continue
        if method in SINGLE_RUN_METHODS:
            if bulk_loop(context, site.node, {}, site.scope) is None:
                continue
        target = site.node.args[0].value
        if isinstance(target, cst.Name):
            workers.setdefault(target.value, site.node)
        elif isinstance(target, cst.Lambda):
            workers[f"<lambda {id(target)}>"] = site.node
    return workers


# -- throttles and batches ------------------------------------------------------------


def _is_throttle_name(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Call):
        node = node.func
    dotted = dotted_name(node)
    if dotted is None:
        return False
    return any(THROTTLE_PART.search(part) for part in dotted.split("."))


def _has_throttle(node: cst.CSTNode, skip: cst.CSTNode) -> bool:
    """Tell whether `node` has a throttle of the project's own, not the fix's."""
    for call in find_all(node, cst.Call):
        if call is not skip and _is_throttle_name(call.func) and not _is_own_wait(call):
            return True
    items = find_all(node, cst.WithItem)
    return any(_is_throttle_name(item.item) for item in items)


def _is_own_wait(call: cst.Call) -> bool:
    """Tell whether a call is the fix's `_customerio_throttle.wait()` or `.reserve()`."""
    func = call.func
    return (
        isinstance(func, cst.Attribute)
        and isinstance(func.value, cst.Name)
        and HELPER_NAMES.match(func.value.value) is not None
        and func.attr.value in ("wait", "reserve")
    )


def _waits_just_before(context: FileContext, node: cst.CSTNode) -> bool:
    """Tell whether the statement before the call's own waits on the fix's throttle.

    The fix's throttle allows one request per wait, so each call needs its own.
    """
    statement: cst.CSTNode | None = None
    for ancestor in context.ancestors(node):
        if isinstance(ancestor, cst.SimpleStatementLine):
            statement = ancestor
        elif isinstance(ancestor, (cst.IndentedBlock, cst.Module)):
            break
    else:
        return False
    body = list(ancestor.body)
    if statement is None or statement not in body:
        return False
    position = body.index(statement)
    if position == 0:
        return False
    return any(_is_own_wait(call) for call in find_all(body[position - 1], cst.Call))


def _is_throttled(context: FileContext, node: cst.CSTNode, loop: Loop) -> bool:
    """Tell whether a throttle, rate limiter or sleep limits the calls of `loop`."""
    scanned = loop.worker if loop.worker is not None else loop.node
    if _has_throttle(scanned, node) or _waits_just_before(context, node):
        return True
    for ancestor in context.ancestors(node):
        if isinstance(ancestor, cst.With) and any(
            _is_throttle_name(item.item) for item in ancestor.items
        ):
            return True
        if isinstance(ancestor, cst.FunctionDef) and any(
            _is_throttle_name(decorator.decorator) for decorator in ancestor.decorators
        ):
            return True
    return False


def _functions_with_batch(index: FileIndex) -> set[int]:
    """Return the ids of functions that call `batch()` on a Track client."""
    functions = set()
    for call in index.client_calls:
        if (
            call.api is Api.TRACK
            and call.method == "batch"
            and call.site.function is not None
        ):
            functions.add(id(call.site.function.node))
    return functions


# -- the fix --------------------------------------------------------------------------


def _fix(context: FileContext, call: ClientCall, loop: Loop) -> Fix | str | None:
    """Build the fix: wait on the module's throttle in a statement just before the call's.

    A string is the reason for a finding without a fix that its message
    gives. None means a call that the fix does not handle.
    """
    if loop.kind == "comprehension" or (
        loop.kind == "executor" and loop.worker is None
    ):
        return None
    statement = call.site.statement
    if not isinstance(statement, cst.SimpleStatementLine):
        return None
    if not _runs_with_statement(context, call, statement):
        return None

    helper = _helper(context)
    if helper is None:
        return None
    throttle, helper_imports, inserts = helper
    wait = _wait_statement(context, call, throttle)
    if wait is None:
        return None
    wait_line, imports = wait
    if inserts:
        too_old = context.python_too_old(
            HELPER_PYTHON, "the throttle that the fix adds"
        )
        if too_old is not None:
            return too_old

    new_wait = wait_line.with_changes(leading_lines=statement.leading_lines)
    moved = statement.with_changes(leading_lines=[])
    return Fix(
        FixSafety.UNSAFE,
        replacements={statement: cst.FlattenSentinel([new_wait, moved])},
        imports=(*helper_imports, *imports),
        inserts=inserts,
        description="wait on a throttle before the Track API call",
    )


def _runs_with_statement(
    context: FileContext, call: ClientCall, statement: cst.CSTNode
) -> bool:
    """Tell whether the request is made when the statement runs, not later or in a callback."""
    for ancestor in context.ancestors(call.node):
        if ancestor is statement:
            break
        if isinstance(ancestor, (cst.Lambda, *COMPREHENSIONS)):
            return False
    if not call.client.is_async:
        return True
    return isinstance(context.parent(call.node), cst.Await)


def _wait_statement(
    context: FileContext, call: ClientCall, throttle: str
) -> tuple[cst.SimpleStatementLine, tuple[AddImport, ...]] | None:
    # Inside `async def` the wait must not block the event loop, whatever
    # the client: time.sleep would stall every other request too.
    function = call.site.function
    in_coroutine = function is not None and function.is_async
    if not call.client.is_async and not in_coroutine:
        return cst.parse_statement(f"{throttle}.wait()\n"), ()  # type: ignore[return-value]
    asyncio_import = context.import_at(call.node, "asyncio")
    if asyncio_import is None:
        return None
    code = f"await {asyncio_import.local}.sleep({throttle}.reserve())\n"
    return cst.parse_statement(code), asyncio_import.imports  # type: ignore[return-value]


def _helper(
    context: FileContext,
) -> tuple[str, tuple[AddImport, ...], tuple[InsertStatements, ...]] | None:
    """Return the throttle's name, and the imports and module-level throttle to add.

    An earlier run's throttle is reused, and nothing is added. None means
    that the module cannot name `threading` or `time` in the throttle.
    """
    existing = _existing_throttle(context)
    if existing is not None:
        return existing, (), ()
    # The throttle is made, and takes its lock, while the module is
    # imported. It reads the clock where a loop waits on it, which may be
    # a module-level loop, so a later import of time may come too late.
    threading_import = context.import_in_helper("threading", on_import=True)
    time_import = context.import_in_helper("time", on_import=True)
    if threading_import is None or time_import is None:
        return None

    taken = context.module_names()
    if not _is_bound(context, HELPER_NAME):
        # Nothing binds the name, so only the waits of an earlier fix read
        # it, after its throttle was removed. The new throttle takes the
        # name, so those waits work again.
        taken.discard(HELPER_NAME)
    name = unused_name(HELPER_NAME, taken)
    imports = (*threading_import.imports, *time_import.imports)
    code = HELPER_CODE.format(
        cls=unused_name(HELPER_CLASS, taken),
        name=name,
        threading=threading_import.local,
        time=time_import.local,
        rate=_rate_literal(context.config.throttle_rate),
    )
    return name, imports, (InsertStatements(key="CIO603-throttle", code=code),)


def _existing_throttle(context: FileContext) -> str | None:
    """Return the name of the throttle that an earlier run added, if the module has one.

    That is a name bound once, at module level, to a call of the class the
    fix writes. Any other binding of `_customerio_throttle` is the
    project's own, whatever it holds.
    """
    index = context.index
    assignments = index.module_scope.assignments
    for name, bindings in assignments.items():
        if not HELPER_NAMES.match(name) or not _bound_once(context, name):
            continue
        value = bindings[0].value
        if not isinstance(value, cst.Call) or not isinstance(value.func, cst.Name):
            continue
        if _is_throttle_class(context, value.func.value):
            return name
    return None


def _is_throttle_class(context: FileContext, name: str) -> bool:
    """Tell whether `name` is the module-level class that the fix writes."""
    if not HELPER_CLASSES.match(name) or not _bound_once(context, name):
        return False
    statement = context.index.module_scope.assignments[name][0].statement
    if not isinstance(statement, cst.ClassDef) or statement.bases:
        return False
    methods = {
        inner.name.value
        for inner in statement.body.body
        if isinstance(inner, cst.FunctionDef)
    }
    return {"__init__", "reserve", "wait"} <= methods


def _is_bound(context: FileContext, name: str) -> bool:
    """Tell whether the module binds `name` in any scope, or may by a star import."""
    index = context.index
    if name in index.module_imports or index.star_imports:
        return True
    scopes = [index.module_scope, *index.inner_scopes()]
    return any(name in scope.assignments or name in scope.imports for scope in scopes)


def _bound_once(context: FileContext, name: str) -> bool:
    index = context.index
    return (
        len(index.module_scope.assignments.get(name, ())) == 1
        and name not in index.rebound_names
        and name not in index.module_scope.deletions
    )


def _rate_literal(rate: float) -> str:
    return str(int(rate)) if float(rate).is_integer() else repr(float(rate))
