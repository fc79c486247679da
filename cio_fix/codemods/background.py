"""Track API calls that block a request handler (CIO304)."""

from __future__ import annotations

import builtins
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import libcst as cst

from cio_fix.annotations import (
    TypeNames,
    format_def,
    is_annotated_module,
    postpones_annotations,
)
from cio_fix.codemods.awaited_tasks import (
    AwaitedTask,
    Starter,
    awaited_task,
    task_reason,
)
from cio_fix.codemods.bindings import (
    CONSTANT_NAMES,
    Bindings,
    connected_names,
    is_container,
    objects_contained,
    plain_assignment_target,
    root_object_name,
)
from cio_fix.codemods.bulk import enclosing_loops, is_retry
from cio_fix.codemods.clients import (
    INDENT,
    CallLayout,
    call_layout,
    format_call,
)
from cio_fix.codemods.identity import track_identify_pairs
from cio_fix.customerio import (
    TRACK_METHODS,
    Api,
    Assignment,
    CallSite,
    ClassInfo,
    ClientCall,
    FileIndex,
    FunctionInfo,
    Scope,
    all_parameters,
    annotation_scope,
    dotted_name,
)
from cio_fix.edits import replace_nodes
from cio_fix.handlers import is_request_handler
from cio_fix.lookups import is_first_party
from cio_fix.metadata import code_of, is_target, quoted_code
from cio_fix.method_changes import (
    ANY_ATTRIBUTE,
    MUTATING_METHODS,
    add_property_changes,
    changed_attributes_by_method,
    class_expressions,
    constructed_class,
    literal_getattr,
    module_function_called,
    module_functions,
    property_attributes,
    property_getters,
)
from cio_fix.model import (
    AddImport,
    Finding,
    Fix,
    FixSafety,
    InsertStatements,
    with_note,
)
from cio_fix.pragmas import formatter_counts_comment, formatter_keeps_line, line_pragma
from cio_fix.project import FLASK_CURRENT_APP, ModuleSummary, ProjectIndex
from cio_fix.reading_calls import (
    LOGGING_METHODS,
    READING_METHODS,
    is_logging_call,
    only_reads,
)
from cio_fix.rules import LINE_LENGTH, FileContext, Rule, unused_name
from cio_fix.walk import find_all, walk

THREAD_HELPER = "_customerio_in_background"
TASK_HELPER = "_customerio_in_background_task"
# Code that distinguishes each helper from a user's function of the same name.
HELPER_MARKERS = {THREAD_HELPER: ".submit(", TASK_HELPER: "create_task("}

# Calls that change a profile: a later call in the same handler may need
# them to have reached Customer.io first (a track after an identify).
PROFILE_METHODS = frozenset(
    {
        "identify",
        "delete",
        "merge_customers",
        "suppress",
        "unsuppress",
        "add_device",
        "delete_device",
        "batch",
    }
)
# Calls that send an event, which campaigns match in the order of arrival.
EVENT_METHODS = frozenset({"track", "track_anonymous", "pageview"})
# Calls whose effect depends on what reached the profile before them.
ORDERED_METHODS = frozenset({"delete", "merge_customers", "suppress", "unsuppress"})

THREAD_HELPER_CODE = '''\
# Customer.io calls from request handlers run on these threads, which
# finish the calls still queued when the interpreter exits.
{executor} = {pool}(max_workers=4, thread_name_prefix="customerio")
# A request waits for a free slot rather than queue calls without bound
# while Customer.io is slow or down.
{slots} = {threading}.BoundedSemaphore(1000)


{signature}
    """Run a Customer.io call on a worker thread and log its failure.

    The log names the method and the exception type only, because the
    SDK's exception messages contain the request payload.
    """
{unpack}
{finish}
        {slots}.release()
        if future.cancelled() or future.exception() is None:
            return
        {get_logger}(__name__).error(
            "Customer.io call %s failed: %s",
            method.__name__,
            type(future.exception()).__name__,
        )

    {slots}.acquire()
    {executor}.submit(method, *args, **kwargs).add_done_callback(finish)
'''

TASK_HELPER_CODE = '''\
# Tasks of Customer.io calls from request handlers, until they are done:
# the event loop keeps only a weak reference to a task.
{tasks}{tasks_annotation} = set()


{signature}
    """Run an async Customer.io call as a task and log its failure.

    The log names the method and the exception type only, because the
    SDK's exception messages contain the request payload.
    """
{unpack}
{finish}
        {tasks}.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        {get_logger}(__name__).error(
            "Customer.io call %s failed: %s",
            method.__name__,
            type(task.exception()).__name__,
        )

    # A request waits for a free slot rather than keep tasks without bound
    # while Customer.io is slow or down. Only tasks of the running event
    # loop count, because a task of a closed loop (an earlier test's) never
    # finishes, and on Python 3.8 and 3.9 asyncio.wait raises ValueError
    # for a task of another loop. The set is copied before it is read,
    # because event loops in other threads may change it meanwhile.
    loop = {asyncio}.get_running_loop()
    while len({tasks}) >= 1000:
        pending = {{task for task in tuple({tasks}) if task.get_loop() is loop}}
        if len(pending) < 1000:
            break
        await {asyncio}.wait(pending, return_when={asyncio}.FIRST_COMPLETED)
    task = loop.create_task(method(*args, **kwargs))
    {tasks}.add(task)
    task.add_done_callback(finish)
'''

# The helpers' parameters. `method` is positional-only, so that a keyword
# argument of the call named `method` goes to the Customer.io call.
PARAMETERS = "method, /, *args, **kwargs"
# Python 3.7 has no `/`, so there the helpers take `method` from `args`:
# the same signature, written as the standard library of 3.7 writes it.
PARAMETERS_37 = "*args, **kwargs"
UNPACK_37 = """
    # `method` is the first positional argument. Python 3.7 has no `/`, and
    # a keyword argument named `method` belongs to the Customer.io call.
    {statements}
"""
PLAIN_UNPACK_37 = "method, *args = args"
# In an annotated helper, `args` is a tuple of `object`, so `method` is cast
# to the type that the helper for Python 3.8 gives it.
ANNOTATED_UNPACK_37 = """method = {cast}("{method_type}", args[0])
    args = args[1:]"""
# The oldest Python that the helpers run on. Python 3.6 has no
# `asyncio.get_running_loop`, and its `ThreadPoolExecutor.submit(self, fn,
# *args, **kwargs)` raises TypeError for a call with a keyword argument `fn`.
HELPER_PYTHON = (3, 7)
# The reason a helper is not added, when the module binds a name it needs.
NAME_TAKEN = (
    "the helper that runs it in the background cannot be added, because"
    " this module binds a name it needs (logging, threading, asyncio or"
    " the helper's own); name a function of yours with background-helper"
    " in [tool.cio-fix]"
)


@dataclass
class Helper:
    """The module-level helper a fix calls, and what adding it needs."""

    name: str
    imports: tuple[AddImport, ...] = ()
    inserts: tuple[InsertStatements, ...] = ()
    # An `async def` helper, which the fix awaits where the call was awaited.
    is_async: bool = False


class BlockingCallInRequest(Rule):
    """What it does:
    Finds Track API calls made inside a request handler (Flask, Quart,
    FastAPI, Starlette, aiohttp, Django and DRF views, Tornado handlers)
    whose result is not used, and sends them to a background worker. A
    call of a pass-through wrapper of the project (`cio.track(...)`, where
    `track` only passes its parameters on to a client's track()) counts
    as the call it makes, and the helper runs the wrapper. So does a call
    of a name bound once to a `functools.partial` of a sync client's
    method in the same module. It is reported without a fix, because the
    helper logs the method's `__name__`, which a partial does not have.

    Why is this bad?
    Each call is an HTTPS request to the Track API: the response to the
    user waits for it, and with the SDK's retries (3 by default in
    customerio 3.x) a slow or failing Track API adds seconds. A failing
    call raises `CustomerIOException` and turns a successful request into a
    server error, although the user's action succeeded.

    Example:
        @app.post("/orders")
        def create_order():
            cio.track(customer_id=order.user_id, name="order_placed")
            return {"ok": True}

    Use instead:
        @app.post("/orders")
        def create_order():
            _customerio_in_background(cio.track, customer_id=order.user_id, name="order_placed")
            return {"ok": True}

    `_customerio_in_background` is added once per module, unless
    `background-helper` in `[tool.cio-fix]` names a function of the
    project (`"shop.background.in_background"`) to import instead. When
    the project has that package but not the module or the function, the
    run stops with a configuration error, since every fixed module would
    fail to import it. The import goes where isort puts it by default,
    among the project's first-party imports, unless the imports at the top
    of the module are out of that order. The
    added helper uses a ThreadPoolExecutor of 4 threads named `customerio_*`, at most 1000
    queued calls, and a failure log that names the exception type and the
    method but never the exception message, which contains the payload.
    The helper makes its executor while the module is imported, so
    `concurrent.futures` and `threading` are imported at the top of the
    module when the module imports them only further down. The helpers
    log with `getLogger`, imported by name, in a module that imports from
    logging by name (`from logging import getLogger`) and not `logging`
    itself.
    An awaited call of an async client becomes
    `await _customerio_in_background_task(cio.track, ...)`, which starts
    the call as a task and keeps a reference to it until it is done. With
    1000 tasks of the running event loop pending, it waits until one
    finishes before it starts the next. A module that already has an
    unbounded `_customerio_in_background_task` from an earlier cio-fix
    version keeps it, and its new calls use it without `await`. A client
    named in `client-names` counts as async where its call is awaited
    (`await request.app.state.cio.track(...)`), because customerio's
    client returns nothing that can be awaited.
    In a module where every function and method has a return annotation
    (`__init__` may leave it out when a parameter is annotated, as mypy
    allows), the helpers are annotated, so ruff's ANN rules and mypy's
    `disallow_untyped_defs` still pass: `method: Callable[..., object]`,
    `*args: object`, `**kwargs: object`, `-> None`, and the callback's
    `concurrent.futures.Future[object]` or `asyncio.Task[object]`.
    Existing imports of those names are used, and missing ones are added
    (`Callable` from `collections.abc`, or from `typing` below Python 3.9).
    An import under `if TYPE_CHECKING:` is used too, and then the
    annotation that names it is quoted, as is an annotation that
    subscripts `Future`, `Task` or `set` below Python 3.9. Neither is
    quoted when the module has `from __future__ import annotations`.
    When the module binds one of those names to something else, the
    helper is written without annotations.

    The helpers take the method as a positional-only parameter
    (`method, /`), so that a call's own keyword argument named `method`
    goes to the Customer.io call. That syntax is new in Python 3.8: in a
    project that declares Python 3.7 (the README lists where cio-fix reads
    that version), the helpers take `*args` and unpack the method from it,
    which behaves the same. Annotated, they unpack it with
    `method = cast("Callable[..., object]", args[0])`, so that mypy gives
    `method` the type of the positional-only parameter, and they are
    written without annotations when the module binds `cast` to something
    else. The helpers need Python 3.7, so in a project that declares an
    older one the call is reported without a fix unless
    `background-helper` names a helper of the project.

    An async call that the handler does not await is reported only where the
    handler still waits for it. A task group of asyncio
    (`tg.create_task(cio.track(...))` in `async with asyncio.TaskGroup() as
    tg:`) or of anyio (`tg.start_soon(cio.track, ...)` in `async with
    anyio.create_task_group() as tg:`) waits for its tasks at the end of the
    `async with` block, which raises their failures. An awaited
    `asyncio.gather(...)` waits for every awaitable it is given, and an
    awaited `asyncio.wait_for(...)` for the one it is given. A task of
    `task = asyncio.create_task(cio.track(...))` (or
    `asyncio.ensure_future()`) is waited for where the handler awaits
    `task` before it binds `task` again, also through an awaited
    `asyncio.gather(task)`, `asyncio.wait([task])` or
    `asyncio.wait_for(task, ...)`. Unlike the others, `wait` returns the
    task's failure instead of raising it. The fix replaces
    `tg.create_task(...)`, `tg.start_soon(...)`, or `asyncio.gather(...)` or
    `asyncio.wait_for(...)` of the call alone, with the helper's call, and
    drops the timeout of `wait_for`, which bounded a wait that is gone. For
    a stored task, it replaces the assignment with the helper's call and
    removes the statement that awaits `task`, with the arguments of its
    `gather`, `wait` or `wait_for`. The call is reported without a fix when
    the task or the result of `gather`, `wait` or `wait_for` is used, when
    the starter takes other arguments, or the statement removed would drop
    an argument that makes a call (a `wait_for` timeout counts), when
    `gather` or `wait` waits for other awaitables too, and when the handler
    uses a stored task for anything but the one statement that awaits it,
    whose block would be empty without it. When the handler binds `task`
    again, the fix leaves the later task as it is, and the call is reported
    without a fix unless the next binding is `task = ...` in the same
    block, outside any loop, `try` or `with`, and no other use of `task`
    comes in between or sits in a function that the handler defines. A
    task that the handler does not await, or a task group that it does not
    open itself (one passed in as a parameter), may finish after the
    response, so such a call runs apart from the request and is not
    reported.

    A call on one line that ends with a directive for another tool
    (`# noqa: DTZ005`, `# pyright: ignore`) keeps the comment on the line
    of its code. When the fixed call does not fit on one line with the
    comment, its arguments go on a line of their own, and the comment goes
    with them. A line that ends with `# type: ignore` or `# fmt: skip`
    stays whole, as black keeps it. When the arguments do not fit on a
    line with the comment either, the call is reported without a fix.

    Handlers of a module that imports Chalice or Mangum, or of a package
    with such a module, are not reported: they run on AWS Lambda, which freezes the process once the
    handler returns, so a call in a background thread would be sent late
    or lost.

    A call in a lambda that the handler hands to a worker without waiting
    for it is not reported either. That is a lambda passed in
    `threading.Thread(target=...).start()` or
    `threading.Timer(interval, ...).start()`, or in `executor.submit(...)`,
    `loop.run_in_executor(executor, ...)` or `background_tasks.add_task(...)`
    as a statement of its own, also through a name that the handler uses
    only this way, and a thread bound to a name that the handler only
    starts (`worker.start()`). A lambda that the handler calls is reported,
    and so is one that it waits for: `await loop.run_in_executor(...)`,
    `.result()`, a thread that it joins or passes on, a thread's `run()`, which runs the
    lambda on the request's thread, and an executor of a `with` block
    (`with ThreadPoolExecutor() as pool: pool.submit(...)`), which waits
    for its functions when the block ends. The message names the wait. It
    states that a failure fails the request only where the handler gets
    the exception, which `.result()`, `await` and `run()` raise but
    `join()` and the end of the `with` block do not.

    A method handed with its arguments to such a worker
    (`background_tasks.add_task(cio.track, ...)`, `executor.submit(...)`,
    `loop.run_in_executor(executor, cio.track, ...)` or
    `asyncio.to_thread(cio.track, ...)`) runs apart from the request too,
    unless the handler waits for it in one of the ways above, such as
    `await asyncio.to_thread(...)` or `await loop.run_in_executor(...)`.
    Then the handler waits for the Track API as it would for the call
    itself, and the call is reported without a fix.

    A call in a function that the handler defines and calls (`def send():
    ...` then `send()`, or `await send()` for an `async def`) runs on the
    request path too, also through further nested functions, and is
    reported. A function that the handler only passes on (to a thread,
    `executor.submit(send)`, `@after_this_request`), returns or stores is
    not. Nor is a decorated function, a generator or a function whose name
    the handler binds again, because cio-fix cannot tell whether calling
    that name runs the function's body then.

    Fix safety:
    Safe. The call runs with the same arguments, evaluated at the same
    point, and its failure is logged instead of raised. Calls still queued
    at interpreter exit are sent before the process ends; tasks of async
    clients are not waited for. The fix is unsafe when the `except` that
    catches the call's failure logs it: that block no longer runs, and
    only the helper's log line records the failure. The call is reported
    without a fix in nine cases: it is in a function defined in the handler
    (cio-fix checks that a fix is safe only in the handler's own body), its
    result is used, it is inside a `try` whose handlers do more than log, its `try` or
    `contextlib.suppress()` block runs code only when it succeeds, a later
    Customer.io call in the handler needs this profile change to arrive
    first, a later `delete`, `suppress`, `unsuppress` or `merge_customers`
    in the handler must arrive after it (background calls may arrive in any
    order), the handler may change an object that the call sends before
    the worker thread sends it, a later event of the handler must arrive
    after this one, the call sends an event per round of a loop, or a later
    call of a Track API method on an attribute of a Flask app may be one of
    those later calls. cio-fix cannot tell whether such an attribute is a
    client when no app of the project sets it (`current_app.events.track(...)`),
    or when an app sets it to a value that cio-fix cannot tell apart from
    a client. A call on `current_app.analytics` does not count when every
    app of the project that sets `analytics` sets it to a literal or to an
    object of a class of another library (`app.analytics = Mixpanel(...)`).
    Customer.io stamps an event without a `timestamp` when it arrives, and
    campaigns match events in that order, so the events of one request keep
    their order: only the last event of a handler moves. A later event is a
    `track`, `track_anonymous` or `pageview`, or a call of a function of
    the module that makes Customer.io calls. So is a call of a module-level
    function of another project module that makes a Track API call, itself
    or through another function of its module, on a client of its module
    or one it imports from the project. A module that cio-fix does not
    read, because it mentions no Customer.io client, makes none. A retry
    loop, which leaves with `break` or `return` once the call succeeds,
    counts as one event. Events of different requests may still arrive in
    another order than the requests ended.
    An identify after a `track` of the same customer in its block is
    needed by that track too, because the CIO201 fix moves it above the
    track.

    A failure is caught by a bare `except`, or one that names Exception,
    BaseException or the SDK's exception class (`CustomerIOException`,
    `AsyncCustomerIOError`) and raises nothing again, and by a
    `contextlib.suppress()` of those classes. The SDK's class may come
    through a project module that imports it (`from app.errors import
    CioError` after `from customerio.client_base import
    CustomerIOException as CioError` in app/errors.py), but a subclass
    that the project defines does not count. The message then names that
    block. When the call gets a fix, it also states that in the background
    the helper logs the failure in the block's place. A task group raises
    its tasks' failures in an ExceptionGroup, which only `except*` catches
    by the SDK's class.

    A call reported without a fix gives the reason after "not fixed:". For
    a `try` whose `except` does more than log or pass, that is the first
    thing the block does: "(not fixed: that block returns a response when
    the call fails)", or it sets a variable, calls a function or raises.

    Code that a `try` runs only when the call succeeds is the code after
    the call in the `try` body and the `else` block, other than logging,
    such as a `break` that ends a retry loop. In a `with
    contextlib.suppress(...)` block, it is the code after the call in the
    block. The background helper does not raise the call's failure, so that
    code would run every time.

    A change of a sent object counts when it comes after the call or
    anywhere in a loop around it. It also counts through another name bound
    to the object, and inside an attribute or item that the call sends
    (`rows[0]["qty"] = 0` after sending `rows[0]`). Passing the object to a
    function, or calling a method of it that is not known to only read it,
    counts too, whether the call sends it as event data or as a profile or
    event attribute (`normalize(tags)` after sending `tags=tags`).
    Builtins such as `len()`, `str()` and `print()`, and loggers, only read,
    also when given a sent attribute (`len(self.items)`). In the handler
    too, `getattr(obj, "items")` is `obj.items`. cio-fix reads the body of
    an undecorated function of the module that the handler calls by name.
    Such a function that changes none of its parameters does not count. One
    that may change them counts also when it is given the object that a sent
    part belongs to (`add_gift(order)` after sending `order.items`). A
    method of that object counts when its body changes the sent attribute,
    or anything inside it, in place (`cart.empty()` whose body is
    `self.items.clear()`, after sending `cart.items`). A mutating method, an
    assignment inside the attribute, and `+=`, `|=` or another augmented
    assignment count.
    So does passing the attribute to a call, unless the call only reads or
    runs a function of the module that leaves that parameter unchanged.
    The method may reach the attribute as `getattr(self, "items")`, and a
    change through `getattr(self, name)`, whose name is not a string
    literal, counts for every attribute.
    The method's changes through its own local names bound to the
    attribute (`lines = self.items`, `for line in self.items:`) count, and
    so do those of the methods it calls on `self` or through `super()`.
    A name bound to the attribute in the handler (`items = cart.items`)
    counts as the attribute. A property that returns an attribute of
    `self` (`return self._lines`) sends that attribute, and a property
    whose value cio-fix cannot follow counts as changed by any change of
    the object. The method read is the one of the object's class
    when every binding of the name makes it an instance of one class
    (`cart = Cart(...)`, `cart = Cart.from_form(...)` where that class
    method returns `cls(...)`, a parameter or variable annotated `Cart`),
    of the module or imported from another project module, else a method
    of that name of any class of the module. Any other method, and another
    function given the object, does not count, because most handlers
    send attributes of a model (`user.email`) and then pass the model on
    (`order.save()`). An object bound at module level counts as changed
    when any function of the module may change it, because another request
    may run that function first.

    The end of a `with` or `async with` block around the call counts as a
    change, because `__exit__`, or the code after `yield` of a
    `contextlib.contextmanager` or `asynccontextmanager` function, runs
    after the call is queued. It counts when the call sends the object
    that an `as` target names, or an object given to one of the block's
    context managers, or a part or the owner of either (`with
    checkout_context(user_id) as ctx:` around `data=ctx`, `with
    Recorder(payload):` around `data=payload`). A block whose context
    managers are given none of them (`with lock:`, `with
    transaction.atomic():`) does not count.

    A value built from an object counts as sending the object: the result
    of a function given it (`order_payload(order)`), `vars(order)` and
    `order.__dict__`, which are its own attributes, and a shallow copy
    (`copy.copy(order)`, `dict(body)`, `body.copy()`, `{**body}`), which
    shares its nested lists. Strings, numbers and deep copies made from it
    (`str(order.total)`, `copy.deepcopy(order)`) do not. A name that the
    handler binds only to strings, numbers, None, bools or tuples of them,
    or whose annotation is an immutable type (`plan: str`,
    `Optional[int]`), cannot change.

    Tests: a test that checks the Customer.io call right after the request
    (against a mock client or a recording stub) can run before the worker
    thread makes the call, so it fails, usually from the second such test on
    or only on CI. The helper's executor cannot be shut down and reused,
    so make the calls inline in tests instead: replace the helper in each
    fixed module with a function that calls the method at once.

        # conftest.py
        import pytest

        import shop.views

        @pytest.fixture(autouse=True)
        def customerio_inline(monkeypatch):
            def call_now(method, /, *args, **kwargs):
                method(*args, **kwargs)

            monkeypatch.setattr(shop.views, "_customerio_in_background", call_now)

    For an async client, replace `_customerio_in_background_task` with an
    `async def` that awaits `method(*args, **kwargs)`. With
    `background-helper`, replace the imported name in each module that
    calls it, or give the project's helper a switch that tests turn on.
    """

    code = "CIO304"
    name = "blocking-call-in-request"
    summary = "Track API calls that make a request handler wait for Customer.io"
    fix_safety = FixSafety.SAFE

    def check(self, context: FileContext) -> Iterator[Finding]:
        index = context.index
        if _runs_on_lambda(context):
            return
        helpers: dict[str, Helper | str] = {}
        # The call path of each function defined in a handler, by its node's id.
        paths: dict[int, _CallPath | None] = {}
        calls = [
            *index.client_calls,
            *index.started_calls,
            *index.partial_uses,
            *_waited_hand_offs(context),
        ]
        for call in calls:
            if call.api is not Api.TRACK or call.in_background:
                continue
            if call.through_partial and call.client.is_async:
                # NOTE: whether a call of a partial of an async method is
                # awaited is not read yet, so it is not reported.
                continue
            if call.started and not call.client.is_async:
                # anyio's `start_soon` runs only a coroutine function.
                continue
            function = call.site.function
            if function is None:
                continue
            path: _CallPath | None = None
            if is_request_handler(index, function):
                handler = function
            else:
                path = _call_path(context, function, paths)
                if path is None:
                    continue
                handler = path.handler
            if _in_lambda_handed_off(context, call, handler):
                continue
            awaited = _is_awaited(context, call)
            task = None
            if call.client.is_async and not awaited:
                task = awaited_task(context, call, function)
                if task is None:
                    # An async call that nothing waits for already runs
                    # apart from the request.
                    continue
            if path is not None:
                yield self._nested_finding(context, call, function, path)
            else:
                yield self._finding(context, call, handler, awaited, task, helpers)

    def _finding(
        self,
        context: FileContext,
        call: ClientCall,
        handler: FunctionInfo,
        awaited: bool,
        task: AwaitedTask | None,
        helpers: dict[str, Helper | str],
    ) -> Finding:
        if call.handed_off:
            waited = _hand_off_wait(context, call.node)
        else:
            waited = _waited_lambda(context, call, handler)
        raises = waited is None or waited.raises
        raiser: cst.CSTNode = call.node
        where = ""
        if task is not None:
            raises, raiser, where = task.raises, task.raiser, f" {task.wait}"
        failure, outcome = _failure_clauses(context, raiser, handler, raises, task)
        advice = (
            f"`{call.wrapper or call.method}` makes request handler"
            f" `{handler.name}` wait for the Track API{where}{failure}; send it"
            " from a background worker"
        )
        # What the helper does with the failure is stated only with a fix,
        # because a block that cio-fix leaves in place keeps doing its work.
        message = f"{advice}{outcome}"
        if waited is not None:
            reason: str | None = waited.reason
        else:
            reason = _report_only_reason(context, call, handler, task)
        if reason is not None:
            return self._unfixed_finding(context, call, advice, reason, message)

        kind = TASK_HELPER if call.client.is_async else THREAD_HELPER
        if kind not in helpers:
            helpers[kind] = _helper(context, kind, call.node)
        helper = helpers[kind]
        if isinstance(helper, str):
            return self._unfixed_finding(context, call, advice, helper, message)

        target, prefix, adds_await = _fix_target(context, call, awaited, task, helper)
        replacements: dict[cst.CSTNode, cst.CSTNode | cst.RemovalSentinel]
        if task is None and not adds_await:
            replacements = dict(
                _call_site_replacements(
                    context, call.node, call.site.statement, target, helper.name, prefix
                )
            )
        else:
            replacement: cst.BaseExpression = _wrapped_call(
                call.node if task is None else _task_call(call, task),
                helper.name,
                context.indent_column(call.site.statement),
                context.module.default_indent,
                prefix,
                context.line_length,
            )
            if adds_await:
                replacement = cst.Await(replacement)
            replacements = {target: replacement}
        if task is not None and task.kind is Starter.STORED_TASK:
            # The assignment becomes the helper's call, and the `await task`
            # statement goes, because the helper keeps no task to await.
            replacements[target] = cst.Expr(replacement)
            statement = context.parent(context.parent(task.awaits[0]))
            assert statement is not None
            replacements[statement] = cst.RemovalSentinel.REMOVE
        safety = FixSafety.SAFE
        note = _own_log_note(context, call, handler, task)
        if note is not None:
            safety = FixSafety.UNSAFE
            message = with_note(message, note)
        fix = Fix(
            safety,
            replacements,
            imports=helper.imports,
            inserts=helper.inserts,
        )
        return context.finding(self, call.node, message, fix)

    def _nested_finding(
        self,
        context: FileContext,
        call: ClientCall,
        function: FunctionInfo,
        path: _CallPath,
    ) -> Finding:
        """Report a call in a function that the handler defines and calls, without a fix."""
        failure = (
            ""
            if _caught_on_path(context, call, function, path)
            else ", and its failure fails the request"
        )
        message = (
            f"`{call.wrapper or call.method}` makes request handler `{path.handler.name}` wait for"
            f" the Track API when it calls `{path.called.name}`{failure}; send it"
            " from a background worker"
        )
        return self._unfixed_finding(context, call, message, NESTED_REASON, message)

    def _unfixed_finding(
        self,
        context: FileContext,
        call: ClientCall,
        advice: str,
        reason: str,
        fixed_message: str,
    ) -> Finding:
        """Report a call without a fix: the advice, then why cio-fix does not apply it.

        `fixed_message` is the message once another rule's fix removes the reason.
        """
        message = with_note(advice, f"not fixed: {reason}")
        return context.finding(self, call.node, message, fixed_message=fixed_message)


def _failure_clauses(
    context: FileContext,
    raiser: cst.CSTNode,
    handler: FunctionInfo,
    raises: bool,
    task: AwaitedTask | None,
) -> tuple[str, str]:
    """Return what the message states of a failure now, and once the call runs in the background.

    A failure that reaches the handler fails the request unless an
    `except` or `suppress` block catches it. In the background, the
    helper logs it and that block no longer runs.
    """
    if not raises:
        return "", ""
    catcher = _failure_catcher(context, raiser, handler.node, _grouped(task))
    if catcher is None:
        return ", and its failure fails the request", ""
    return (
        f", and {_catcher_description(context, catcher)} catches its failure",
        ", which logs the failure in that block's place",
    )


def _fix_target(
    context: FileContext,
    call: ClientCall,
    awaited: bool,
    task: AwaitedTask | None,
    helper: Helper,
) -> tuple[cst.CSTNode, str, bool]:
    """Return what the fix replaces, the code before the helper's call, and whether it adds `await`.

    The call's `await` stays for an `async def` helper. The task helper of
    cio-fix versions before its bound is a plain function, which the fix
    calls without `await` in a module that has it already. A task group's
    `create_task(...)` or `start_soon(...)`, and an awaited `gather(...)`
    or `wait_for(...)`, are replaced whole, because the helper starts the
    call's task itself. So is the assignment `task =
    asyncio.create_task(...)`.
    """
    target: cst.CSTNode = call.node
    if task is not None:
        target = task.starter
        awaited = isinstance(context.parent(target), cst.Await)
        if task.kind is Starter.STORED_TASK:
            target = context.parent(target)
            assert target is not None
    if not helper.is_async:
        return (context.parent(target) if awaited else target), "", False
    return target, "await ", not awaited


def _task_call(call: ClientCall, task: AwaitedTask) -> cst.Call:
    """Return the Customer.io call that the task runs, laid out for the helper's statement.

    For `tg.start_soon(cio.track, uid, ...)` that is `cio.track(uid, ...)`,
    with the whitespace of `start_soon`'s parentheses.
    """
    if task.kind is not Starter.ANYIO_TASK_GROUP:
        return _unnested(call.node, task.starter)
    method, *arguments = call.node.args
    return call.node.with_changes(func=method.value, args=arguments)


def _unnested(call: cst.Call, starter: cst.Call) -> cst.Call:
    """Return the call laid out for the statement that replaces `starter`.

    A call on a line of its own inside `tg.create_task(...)` is indented
    deeper than that statement, so its lines lose the extra indentation.
    Without a comment, the line breaks between its arguments go too, and
    `_wrapped_call` lays them out anew.
    """
    before = starter.whitespace_before_args
    if isinstance(before, cst.ParenthesizedWhitespace) and before.last_line.value:
        dedent = _Dedent(before.last_line.value)
        call = cst.ensure_type(call.visit(dedent), cst.Call)
    if "#" in code_of(call):
        return call
    return _flattened(call)


class _Dedent(cst.CSTTransformer):
    """Remove an indentation from the start of each continuation line and comment line."""

    def __init__(self, indentation: str) -> None:
        super().__init__()
        self.indentation = indentation

    def _dedented(self, whitespace: cst.SimpleWhitespace) -> cst.SimpleWhitespace:
        value = whitespace.value
        if not value.startswith(self.indentation):
            return whitespace
        return cst.SimpleWhitespace(value[len(self.indentation) :])

    def leave_ParenthesizedWhitespace(
        self,
        original_node: cst.ParenthesizedWhitespace,
        updated_node: cst.ParenthesizedWhitespace,
    ) -> cst.ParenthesizedWhitespace:
        return updated_node.with_changes(
            last_line=self._dedented(updated_node.last_line)
        )

    def leave_EmptyLine(
        self, original_node: cst.EmptyLine, updated_node: cst.EmptyLine
    ) -> cst.EmptyLine:
        return updated_node.with_changes(
            whitespace=self._dedented(updated_node.whitespace)
        )


def _flattened(call: cst.Call) -> cst.Call:
    """Return the call without the line breaks between its arguments."""
    last = len(call.args) - 1
    arguments = []
    for number, argument in enumerate(call.args):
        comma: cst.Comma | cst.MaybeSentinel = cst.MaybeSentinel.DEFAULT
        if number < last:
            comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        arguments.append(
            argument.with_changes(
                comma=comma, whitespace_after_arg=cst.SimpleWhitespace("")
            )
        )
    return call.with_changes(
        args=arguments, whitespace_before_args=cst.SimpleWhitespace("")
    )


# Packages that run web handlers on AWS Lambda: Chalice's own routes, and
# Mangum's adapter for ASGI apps (FastAPI, Starlette).
LAMBDA_PACKAGES = ("chalice", "mangum")


def _runs_on_lambda(context: FileContext) -> bool:
    """Tell whether this module, or a module of its top-level package, imports a Lambda web package.

    Mangum usually wraps the app in a module of its own, next to the
    routes. A Lambda in another package of the project (a monorepo) does
    not make this module run on Lambda.
    """
    if any(_on_lambda(name) for name in context.index.imports.values()):
        return True
    packages = context.project.shared("CIO304:lambda-packages", _lambda_packages)
    return _top_package(context.index.module_name) in packages


def _on_lambda(qualified: str) -> bool:
    return qualified.split(".")[0] in LAMBDA_PACKAGES


def _top_package(module_name: str) -> str:
    """Return the top-level package of a module; "" for the modules at the root."""
    return module_name.split(".")[0] if "." in module_name else ""


def _lambda_packages(project: ProjectIndex) -> frozenset[str]:
    """Return the top-level packages that have a module importing a Lambda web package."""
    return frozenset(
        _top_package(summary.module_name)
        for summary in project.summaries
        if any(_on_lambda(name) for name in summary.aliases.values())
    )


# -- functions that a handler defines and calls -------------------------------

# The reason a call in a function defined in the handler gets no fix.
NESTED_REASON = (
    "it is in a function defined in the handler, and cio-fix checks that"
    " a fix is safe only for calls in the handler's own body"
)


@dataclass(frozen=True)
class _CallPath:
    """The chain of calls by which a request handler runs a function defined in it."""

    handler: FunctionInfo
    # The function defined in the handler's own body that the path starts at.
    called: FunctionInfo
    # The calls that run each function of the path, from the innermost
    # function's to the handler's own.
    calls: tuple[tuple[cst.Call, ...], ...]


def _call_path(
    context: FileContext, function: FunctionInfo, paths: dict[int, _CallPath | None]
) -> _CallPath | None:
    """Return how a request handler calls `function`, defined in it, if it does.

    Every function from `function` up to the handler must be called by
    name in the body of the function that defines it. A function that the
    handler only passes on (to a thread, an executor, a callback
    registration), returns or stores runs apart from the request, or not
    at all, so it has no path.
    """
    key = id(function.node)
    if key in paths:
        return paths[key]
    path = None
    parent = function.parent
    calls = _direct_calls(context, function)
    if parent is not None and calls:
        if is_request_handler(context.index, parent):
            path = _CallPath(parent, function, (calls,))
        else:
            outer = _call_path(context, parent, paths)
            if outer is not None:
                path = _CallPath(outer.handler, outer.called, (calls, *outer.calls))
    paths[key] = path
    return path


def _direct_calls(context: FileContext, function: FunctionInfo) -> tuple[cst.Call, ...]:
    """Return the calls that run a nested function's body, in the function that defines it.

    A call counts when it is in the defining function's own code, not in a
    lambda or a function inside it, and when its name can only be this
    function: the defining function binds the name once, by this `def`.
    A decorated function may be replaced by what its decorator returns,
    and calling a generator function does not run its body, so they have
    no such calls. An `async def` runs only when its call is awaited.
    """
    parent = function.parent
    if (
        parent is None
        or parent.scope is None
        or function.class_info is not None
        or function.node.decorators
        or find_all(function.node.body, cst.Yield)
    ):
        return ()
    bindings = parent.scope.assignments.get(function.name, [])
    if len(bindings) != 1 or bindings[0].statement is not function.node:
        return ()
    calls = []
    for site in context.index.call_sites:
        func = site.node.func
        if type(func) is not cst.Name or func.value != function.name:
            continue
        if site.scope.owner is not parent.scope:
            continue
        if function.is_async and not isinstance(context.parent(site.node), cst.Await):
            continue
        calls.append(site.node)
    return tuple(calls)


def _caught_on_path(
    context: FileContext, call: ClientCall, function: FunctionInfo, path: _CallPath
) -> bool:
    """Tell whether a `try` on the way to the handler catches the call's failure.

    That is a `try` around the call in its function, or, for one function
    of the path, `try` blocks around every call of it.
    """
    if _in_try_body(context, call.node, function.node):
        return True
    current: FunctionInfo | None = function
    for calls in path.calls:
        assert current is not None and current.parent is not None
        caller = current.parent.node
        if all(_in_try_body(context, node, caller) for node in calls):
            return True
        current = current.parent
    return False


# -- lambdas that run apart from the request -----------------------------------

# Methods that run the function they are given apart from the request, by
# the position and keyword of that argument, whatever the receiver:
# `executor.submit(fn)`, `loop.run_in_executor(executor, fn)` and Starlette's
# `background_tasks.add_task(func)`, which runs after the response is sent.
# The function's failure stays in the future, or in Starlette's task runner.
WORKER_METHODS: dict[str, tuple[int, str | None]] = {
    "submit": (0, None),
    "run_in_executor": (1, None),
    "add_task": (0, "func"),
}
# Classes whose instance runs the function in a thread of its own once started.
THREAD_CLASSES: dict[str, tuple[int, str | None]] = {
    "threading.Thread": (1, "target"),
    "threading.Timer": (1, "function"),
}
# Executors whose `with` block waits for the functions submitted in it,
# because their `__exit__` calls `shutdown(wait=True)`.
WAITING_EXECUTORS = frozenset(
    {
        "concurrent.futures.ThreadPoolExecutor",
        "concurrent.futures.ProcessPoolExecutor",
        "concurrent.futures.thread.ThreadPoolExecutor",
        "concurrent.futures.process.ProcessPoolExecutor",
    }
)


@dataclass(frozen=True)
class _Wait:
    """A handler's wait for the thread or executor that runs a call's lambda."""

    reason: str
    # Whether the call's exception reaches the handler: `.result()` and
    # `await` raise it, and so does `thread.run()`, but `thread.join()`
    # does not, and neither does the end of an executor's `with` block.
    raises: bool


def _in_lambda_handed_off(
    context: FileContext, call: ClientCall, handler: FunctionInfo
) -> bool:
    """Tell whether the call is in the body of a lambda that a worker runs for the handler.

    The handler must hand the lambda to a worker and not wait for it:
    `threading.Thread(target=lambda: ...).start()`, or `executor.submit`,
    `loop.run_in_executor` or `background_tasks.add_task` as a statement of
    its own. The lambda may also be bound to a name first, when the handler
    uses that name only in such hand-offs. A lambda that the handler calls,
    or whose result it waits for (`await loop.run_in_executor(...)`), runs
    in the request.
    """
    child: cst.CSTNode = call.node
    for parent in context.ancestors(call.node):
        if parent is handler.node:
            return False
        # A default value of a lambda's parameter runs where the lambda is made.
        if isinstance(parent, cst.Lambda) and child is parent.body:
            if _handed_off(context, parent, handler):
                return True
        child = parent
    return False


def _handed_off(
    context: FileContext, function: cst.Lambda, handler: FunctionInfo
) -> bool:
    parent = context.parent(function)
    if isinstance(parent, cst.Arg):
        return _is_worker_argument(context, parent, handler)
    bound = _bound_name_uses(context, function, handler)
    if bound is None:
        return False
    _, uses = bound
    # A lambda the handler never uses runs nowhere, so it is not handed off.
    return bool(uses) and all(
        isinstance(use, cst.Arg) and _is_worker_argument(context, use, handler)
        for _, use in uses
    )


def _is_worker_argument(
    context: FileContext, argument: cst.Arg, handler: FunctionInfo
) -> bool:
    """Tell whether an argument is the function that a worker started by a statement runs.

    A function submitted inside the `with` block of an executor is not:
    the block waits for it when it ends. A thread bound to a name counts
    when the handler only starts it.
    """
    call = context.parent(argument)
    if not isinstance(call, cst.Call) or not _runs_argument(context, call, argument):
        return False
    if _is_worker_method(call):
        started: cst.Call | None = call
        if _executor_with(context, call) is not None:
            return False
    else:
        started = _started_thread(context, call)
        if started is None:
            return _only_started(context, call, handler)
    return started is not None and isinstance(context.parent(started), cst.Expr)


def _only_started(
    context: FileContext, thread: cst.Call, handler: FunctionInfo
) -> bool:
    """Tell whether the handler binds a thread to a name and only starts it.

    `worker = Thread(target=...)` then `worker.start()` hands the target
    off, and so does setting the thread's attributes (`worker.daemon =
    True`). A `join()`, a `run()` or any other use may wait for it.
    """
    bound = _bound_name_uses(context, thread, handler)
    if bound is None:
        return False
    started = False
    for name, use in bound[1]:
        if not isinstance(use, cst.Attribute) or use.value is not name:
            return False
        if is_target(use, context.parent_map()):
            continue
        method_call = context.parent(use)
        if (
            use.attr.value != "start"
            or not isinstance(method_call, cst.Call)
            or not isinstance(context.parent(method_call), cst.Expr)
        ):
            return False
        started = True
    return started


def _is_worker_method(call: cst.Call) -> bool:
    func = call.func
    return isinstance(func, cst.Attribute) and func.attr.value in WORKER_METHODS


def _runs_argument(context: FileContext, call: cst.Call, argument: cst.Arg) -> bool:
    """Tell whether `argument` is the function that a worker method or thread class runs."""
    func = call.func
    if isinstance(func, cst.Attribute) and func.attr.value in WORKER_METHODS:
        slot = WORKER_METHODS[func.attr.value]
    else:
        slot = THREAD_CLASSES.get(context.index.qualified_name(func) or "")
    if slot is None:
        return False

    position, keyword = slot
    if argument.keyword is not None:
        return keyword is not None and argument.keyword.value == keyword
    for index, other in enumerate(call.args):
        if other is argument:
            return index == position
        if other.star:
            # `*args` before the function leaves its position unknown.
            return False
    return False


def _executor_with(context: FileContext, call: cst.Call) -> str | None:
    """Return the executor name of the `with` block that `call` submits a function in.

    `executor.submit(fn)` and `loop.run_in_executor(executor, fn)` count when
    `with ThreadPoolExecutor() as executor:` (or ProcessPoolExecutor) of
    the same function runs them.
    """
    func = call.func
    assert isinstance(func, cst.Attribute)
    executor: cst.BaseExpression | None = func.value
    if func.attr.value == "run_in_executor":
        executor = call.args[0].value if call.args else None
    if not isinstance(executor, cst.Name):
        return None
    for ancestor in context.ancestors(call):
        if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
            return None
        if not isinstance(ancestor, cst.With):
            continue
        for item in ancestor.items:
            bound = item.asname.name if item.asname is not None else None
            if (
                isinstance(bound, cst.Name)
                and bound.value == executor.value
                and isinstance(item.item, cst.Call)
                and context.index.qualified_name(item.item.func) in WAITING_EXECUTORS
            ):
                return executor.value
    return None


def _waited_lambda(
    context: FileContext, call: ClientCall, handler: FunctionInfo
) -> _Wait | None:
    """Return how the handler waits for the thread or executor that runs the call's lambda.

    The call must be the whole body of a lambda given to a worker method
    or a thread class, directly or through a name that the handler uses
    only as such an argument. None when it is not, and when the handler
    does not wait in a way that this function recognises.
    """
    function = context.parent(call.node)
    if not isinstance(function, cst.Lambda) or function.body is not call.node:
        return None
    parent = context.parent(function)
    if isinstance(parent, cst.Arg):
        return _waited_argument(context, parent, handler)
    bound = _bound_name_uses(context, function, handler)
    if bound is None:
        return None
    # The uses that hand the lambda off do not wait. Any other use that is
    # not a recognised wait (a call of the lambda) leaves the reason to
    # `_report_only_reason`.
    waits = []
    for _, use in bound[1]:
        if isinstance(use, cst.Arg) and _is_worker_argument(context, use, handler):
            continue
        wait = (
            _waited_argument(context, use, handler)
            if isinstance(use, cst.Arg)
            else None
        )
        if wait is None:
            return None
        waits.append(wait)
    if not waits:
        return None
    return next((wait for wait in waits if wait.raises), waits[0])


def _waited_hand_offs(context: FileContext) -> list[ClientCall]:
    """Return the sync client methods handed to a worker whose run the code waits for.

    `await asyncio.to_thread(cio.track, ...)` and `await
    loop.run_in_executor(None, cio.track, ...)` wait for the Track API as
    the call itself would. A hand-off that nothing waits for already runs
    apart from the request.
    """
    return [
        call
        for call in context.index.handed_off_calls
        if not call.client.is_async and _hand_off_wait(context, call.node) is not None
    ]


def _hand_off_wait(context: FileContext, hand_off: cst.Call) -> _Wait | None:
    """Return how the code waits for the worker that `hand_off` gives a method to."""
    if _is_worker_method(hand_off):
        return _waited_worker(context, hand_off)
    # `asyncio.to_thread(...)` makes a coroutine, which runs only when awaited.
    if isinstance(context.parent(hand_off), cst.Await):
        return _Wait("the handler awaits the thread that runs it", raises=True)
    return None


def _waited_argument(
    context: FileContext, argument: cst.Arg, handler: FunctionInfo
) -> _Wait | None:
    worker = context.parent(argument)
    if not isinstance(worker, cst.Call) or not _runs_argument(
        context, worker, argument
    ):
        return None
    if _is_worker_method(worker):
        return _waited_worker(context, worker)
    return _waited_thread(context, worker, handler)


def _waited_worker(context: FileContext, worker: cst.Call) -> _Wait | None:
    parent = context.parent(worker)
    if isinstance(parent, cst.Await):
        return _Wait("the handler awaits the executor that runs it", raises=True)
    if isinstance(parent, cst.Attribute) and parent.attr.value == "result":
        return _Wait("the handler waits for it with `.result()`", raises=True)
    executor = _executor_with(context, worker)
    if executor is not None:
        return _Wait(
            f"the `with` block of `{executor}` waits until the executor has run it",
            raises=False,
        )
    return None


def _waited_thread(
    context: FileContext, thread: cst.Call, handler: FunctionInfo
) -> _Wait | None:
    """Return how the handler waits for a thread: `.run()` on it, or `.join()` on its name."""
    parent = context.parent(thread)
    if isinstance(parent, cst.Attribute) and parent.attr.value == "run":
        return _Wait(
            f"`{quoted_code(thread.func)}(...).run()` runs it on the request's thread",
            raises=True,
        )
    bound = _bound_name_uses(context, thread, handler)
    if bound is None:
        return None
    target, uses = bound
    methods = {
        use.attr.value
        for name, use in uses
        if isinstance(use, cst.Attribute) and use.value is name
    }
    # `run()` is checked first, because it raises the call's exception.
    if "run" in methods:
        return _Wait(f"`{target}.run()` runs it on the request's thread", raises=True)
    if "join" in methods:
        return _Wait(
            f"`{target}.join()` waits for the thread that runs it",
            raises=False,
        )
    return None


def _bound_name_uses(
    context: FileContext, value: cst.CSTNode, handler: FunctionInfo
) -> tuple[str, list[tuple[cst.Name, cst.CSTNode]]] | None:
    """Return the name that `value` is assigned to, and its uses in the handler.

    Each use is the `Name` node and its parent. None when `value` is not
    the whole value of an assignment to one plain name.
    """
    target = plain_assignment_target(context.parent(value))
    if target is None:
        return None
    uses = [
        (name, context.parent(name))
        for name in context.names_with_value(target.value)
        if name is not target and handler.node in context.ancestors(name)
    ]
    return target.value, uses


def _started_thread(context: FileContext, thread: cst.Call) -> cst.Call | None:
    """Return the call `Thread(...).start()` around a thread's constructor call."""
    attribute = context.parent(thread)
    if not isinstance(attribute, cst.Attribute) or attribute.attr.value != "start":
        return None
    start = context.parent(attribute)
    return start if isinstance(start, cst.Call) else None


# Exception classes an `except` must name to catch a Customer.io failure.
BROAD_EXCEPTIONS = frozenset({"Exception", "BaseException"})
# The classes of the errors that the SDKs raise for a failed call. customerio
# 3.2.0 turns every failure of a request into CustomerIOException, defined in
# customerio/client_base.py, and async-customerio turns them into
# AsyncCustomerIOError, defined in async_customerio/errors.py.
SDK_EXCEPTIONS = frozenset(
    {
        "customerio.CustomerIOException",
        "customerio.client_base.CustomerIOException",
        "async_customerio.AsyncCustomerIOError",
        "async_customerio.errors.AsyncCustomerIOError",
        "async_customerio.errors.BaseAsyncCustomerIOError",
    }
)


def _in_try_body(
    context: FileContext, node: cst.CSTNode, function: cst.FunctionDef
) -> bool:
    """Tell whether a `try` or `suppress` block of `function` ends the failures of `node`."""
    return _failure_catcher(context, node, function) is not None


def _grouped(task: AwaitedTask | None) -> bool:
    """Tell whether the call's failure reaches the handler inside an exception group.

    A task group raises its tasks' failures as an ExceptionGroup: asyncio's
    TaskGroup (Python 3.11 and later) and anyio's (anyio 4).
    """
    return task is not None and task.kind in (
        Starter.TASK_GROUP,
        Starter.ANYIO_TASK_GROUP,
    )


def _failure_catcher(
    context: FileContext,
    node: cst.CSTNode,
    function: cst.FunctionDef,
    grouped: bool = False,
) -> cst.ExceptHandler | cst.ExceptStarHandler | cst.With | None:
    """Return the `except` clause or `with` statement of `function` that ends a failure of `node`.

    An `except` clause ends it when it catches the SDK's errors and raises
    nothing again. A bare one catches them, and so does one that names
    Exception, BaseException or an SDK exception class, but `except
    KeyError:` does not. Of the clauses of one `try`, the first that
    catches them runs. `with contextlib.suppress(...)` of such a class ends
    it too. A failure that is `grouped` in an ExceptionGroup is caught by
    an SDK class only in `except*`.
    """
    child: cst.CSTNode = node
    for parent in context.ancestors(node):
        if parent is function:
            return None
        if isinstance(parent, (cst.Try, cst.TryStar)) and child is parent.body:
            by_class = not grouped or isinstance(parent, cst.TryStar)
            clause = next(
                (
                    clause
                    for clause in parent.handlers
                    if _catches_sdk_errors(context, clause.type, by_class)
                ),
                None,
            )
            if clause is not None and not find_all(clause.body, cst.Raise):
                return clause
        if isinstance(parent, cst.With) and child is parent.body:
            for item in parent.items:
                if _suppresses_sdk_errors(context, item.item, not grouped):
                    return parent
        child = parent
    return None


def _suppresses_sdk_errors(
    context: FileContext, entered: cst.BaseExpression, by_class: bool
) -> bool:
    """Tell whether a `with` item is `contextlib.suppress()` of the SDK's errors."""
    if not _is_suppress(context, entered):
        return False
    assert isinstance(entered, cst.Call)
    return any(
        _catches_sdk_errors(context, argument.value, by_class)
        for argument in entered.args
    )


def _catches_sdk_errors(
    context: FileContext, kinds: cst.BaseExpression | None, by_class: bool
) -> bool:
    """Tell whether an `except` of `kinds` (None for a bare one) catches the SDK's errors.

    An SDK exception class counts only when `by_class` is True.
    """
    if kinds is None:
        return True
    if isinstance(kinds, cst.Tuple):
        names = [element.value for element in kinds.elements]
    else:
        names = [kinds]
    for name in names:
        if (dotted_name(name) or "").rpartition(".")[2] in BROAD_EXCEPTIONS:
            return True
        if by_class and _is_sdk_exception(context, name):
            return True
    return False


def _is_sdk_exception(context: FileContext, kind: cst.BaseExpression) -> bool:
    """Tell whether an `except` names an SDK exception class, also one that the project re-exports.

    A re-export is an import of the class into a project module
    (`from customerio import CustomerIOException` in app/errors.py) that
    the handler's module imports from there (`from app.errors import
    CustomerIOException`).
    """
    index = context.index
    qualified = index.qualified_name(kind)
    if qualified is None:
        return False
    if qualified in SDK_EXCEPTIONS:
        return True
    project = context.project
    local = project.localise(qualified, index.module_name)
    return project.external_origin(local) in SDK_EXCEPTIONS


def _catcher_description(
    context: FileContext, catcher: cst.ExceptHandler | cst.ExceptStarHandler | cst.With
) -> str:
    """Name an `except` clause or `suppress` block with its line: "the `except` on line 18"."""
    kind = "`suppress` block" if isinstance(catcher, cst.With) else "`except`"
    return f"the {kind} on line {context.message_line(catcher)}"


def _is_awaited(context: FileContext, call: ClientCall) -> bool:
    return isinstance(context.parent(call.node), cst.Await)


# -- when the call must stay where it is ---------------------------------------------------


def _own_log_note(
    context: FileContext,
    call: ClientCall,
    handler: FunctionInfo,
    task: AwaitedTask | None,
) -> str | None:
    """Return why the fix is unsafe when the `except` that catches the call's failure logs it.

    The fix cannot move that block to the worker with the call: its code
    would then run after the handler returned, off the request. So the
    block stays where a failure no longer reaches it, and only the
    helper's log line records the failure.
    """
    raiser = call.node if task is None else task.raiser
    caught_by = _failure_catcher(context, raiser, handler.node, _grouped(task))
    if not isinstance(caught_by, (cst.ExceptHandler, cst.ExceptStarHandler)):
        return None
    if _only_passes(_block_statements(caught_by.body)):
        return None
    return "unsafe: that block no longer writes its own log line when the call fails"


def _report_only_reason(
    context: FileContext,
    call: ClientCall,
    handler: FunctionInfo,
    task: AwaitedTask | None = None,
) -> str | None:
    # Where the handler gets the call's failure: a task's failure reaches
    # it at the end of the task group, or from `gather`.
    raiser: cst.CSTNode = call.node
    if task is not None:
        raiser = task.raiser
        reason = task_reason(context, call, task)
        if reason is not None:
            return reason
    elif not call.site.is_statement:
        if context.result_discarded(call.node):
            return "it shares its line with other code; put it on a line of its own"
        return "its result is used"
    if _inside_client_with(context, call):
        return "the `with` block closes the client before a background call would run"
    acting = _acting_handler(context, raiser)
    if acting is not None:
        catcher = _failure_catcher(context, raiser, handler.node, _grouped(task))
        block = "that block"
        if acting is not catcher:
            block = _catcher_description(context, acting)
        return f"{block} {_handler_action(acting)} when the call fails"
    catcher = _catcher_running_code_on_success(context, raiser)
    if catcher is not None:
        return (
            f"its {catcher} runs the code after it only when it succeeds,"
            " and the background helper does not raise its failure"
        )
    statement = call.site.statement
    assert statement is not None
    change = _later_mutation(context, handler, call, statement)
    if change is not None:
        return _change_reason(context, change)
    later = _later_ordered_call(context, call, handler, statement)
    if later is not None:
        return (
            f"a later `{later}` in the handler must reach Customer.io after it,"
            " and background calls may arrive in any order"
        )
    if call.method in EVENT_METHODS:
        loop = _enclosing_loop(context, call.node)
        if loop is not None:
            return (
                f"it sends one event per round of the loop on line"
                f" {context.message_line(loop)}, which must reach Customer.io in"
                " turn, and background calls may arrive in any order"
            )
        later = _later_event(context, call, handler, statement)
        if later is not None:
            return (
                f"the {later} must reach Customer.io after it, and background"
                " calls may arrive in any order"
            )
    if call.method in PROFILE_METHODS:
        later_call = _later_client_call(context, call, handler, statement)
        if later_call is _DIRECT:
            return "a later Customer.io call in the handler expects it to have arrived"
        if later_call is _POSSIBLE:
            return (
                "a later call in the handler may reach Customer.io, which would"
                " expect it to have arrived"
            )
        # The CIO201 fix moves this identify above that track, so it stays
        # on the request's thread also in a pass that runs before the move.
        track = _track_needing(context, call)
        if track is not None:
            return (
                f"the `track` on line {context.message_line(track.node)} needs it"
                " to have arrived, so it belongs before that call"
            )
    unknown = _later_unknown_client_call(context, call, handler, statement)
    if unknown is not None:
        assert isinstance(unknown.func, cst.Attribute)
        return (
            f"`{_change_code(unknown)}` on line {context.message_line(unknown)} may"
            " be a Customer.io call that must arrive after it, and cio-fix cannot"
            f" tell whether `{_one_line(unknown.func.value)}` is a client"
        )
    return None


def _track_needing(context: FileContext, call: ClientCall) -> ClientCall | None:
    """Return the first earlier track in the call's block for the customer it identifies."""
    for pair in track_identify_pairs(context):
        if pair.identify is call:
            return pair.track
    return None


def _calls_and_tasks(index: FileIndex) -> list[ClientCall]:
    """Return the client calls and the calls that anyio task groups start."""
    started = index.started_calls
    return [*index.client_calls, *started] if started else index.client_calls


def _later_ordered_call(
    context: FileContext,
    call: ClientCall,
    handler: FunctionInfo,
    statement: cst.CSTNode,
) -> str | None:
    """Return the method of a later call in the handler that must arrive after this one.

    A `delete` (or `suppress`, or a merge) that overtakes a track or an
    identify sent before it acts on a profile that does not have it yet.
    """
    for other in _calls_and_tasks(context.index):
        if other is call or other.method not in ORDERED_METHODS:
            continue
        after = other.site.function is handler and context.follows(
            other.node, statement
        )
        if after or _nested_in(other.site.function, handler):
            return other.method
    return None


def _later_event(
    context: FileContext,
    call: ClientCall,
    handler: FunctionInfo,
    statement: cst.CSTNode,
) -> str | None:
    """Describe a later event of the handler that must arrive after this one, if any.

    Customer.io stamps an event without a `timestamp` when it arrives, and
    campaigns match events in that order ("placed, then paid within an
    hour"), so two events that one request sends in turn must not race on
    the worker threads. The last event of a handler can still move. A
    later call of a module function that makes Customer.io calls counts
    too, and so does one of a function imported from another project
    module that makes a Track API call (`ModuleSummary.track_callers`). A
    call that only may reach a helper does not, because nearly every event
    would then stay.
    """
    for other in _calls_and_tasks(context.index):
        if other is call or other.method not in EVENT_METHODS:
            continue
        after = other.site.function is handler and context.follows(
            other.node, statement
        )
        if after or _nested_in(other.site.function, handler):
            return f"`{other.method}` on line {context.message_line(other.node)}"
    helpers = context.shared("CIO304:helpers", _functions_calling_customerio)
    for site in context.index.call_sites:
        if site.function is not handler or not context.follows(site.node, statement):
            continue
        callee = dotted_name(site.node.func)
        if callee is None:
            continue
        if callee in helpers or _imported_track_caller(context, site):
            line = context.message_line(site.node)
            return f"Customer.io call in `{callee}()` on line {line}"
    return None


def _later_unknown_client_call(
    context: FileContext,
    call: ClientCall,
    handler: FunctionInfo,
    statement: cst.CSTNode,
) -> cst.Call | None:
    """Return a later call of the handler that may be a Customer.io call this one must precede.

    That is a call of a Track API method name on an attribute of a Flask
    app that cio-fix does not read as a client (`_unknown_app_calls`),
    such as `current_app.events.track(...)` where no app of the project
    sets `events`. Whether its order counts, `_order_counts` decides, as
    for a call on a known client. None when there is no such call.
    """
    for site in context.shared("CIO304:unknown-app-calls", _unknown_app_calls):
        after = site.function is handler and context.follows(site.node, statement)
        if not after and not _nested_in(site.function, handler):
            continue
        assert isinstance(site.node.func, cst.Attribute)
        if _order_counts(call.method, site.node.func.attr.value):
            return site.node
    return None


def _unknown_app_calls(context: FileContext) -> list[CallSite]:
    """Return the calls of Track API method names on Flask app attributes not known as clients.

    `_app_attribute` decides which receivers are attributes of a Flask app,
    and `_current_app_non_client` passes by those known not to be clients.
    """
    index = context.index
    client_calls = {id(other.node) for other in _calls_and_tasks(index)}
    found = []
    for site in index.call_sites:
        func = site.node.func
        if type(func) is not cst.Attribute or func.attr.value not in TRACK_METHODS:
            continue
        if id(site.node) in client_calls:
            continue
        if not _app_attribute(context, func.value, site.scope):
            continue
        if not _current_app_non_client(context, func.value, site.scope):
            found.append(site)
    return found


def _order_counts(method: str, later: str) -> bool:
    """Tell whether a call of `later` must arrive after a call of `method` sent before it.

    These are the orders that `_report_only_reason` keeps for calls on
    known clients: a later delete, suppress or merge after any call, a
    later event after an event, and any later call after a profile change.
    """
    if later in ORDERED_METHODS or method in PROFILE_METHODS:
        return True
    return method in EVENT_METHODS and later in EVENT_METHODS


def _app_attribute(
    context: FileContext, receiver: cst.BaseExpression, scope: Scope
) -> bool:
    """Tell whether `receiver` is an attribute or item of a Flask app, at any depth.

    The app is Flask's `current_app`, or a module-level Flask app of the
    project, of this module or imported (`ProjectIndex.flask_app`).
    """
    node = receiver
    while type(node) is cst.Attribute or type(node) is cst.Subscript:
        node = node.value
    if node is receiver or type(node) is not cst.Name:
        return False
    index = context.index
    project = context.project
    qualified = index.qualified_name(node, scope)
    if qualified is not None:
        qualified = project.localise(qualified, index.module_name)
        return qualified == FLASK_CURRENT_APP or project.flask_app(qualified)
    assignments = index.assignments_of(node.value, scope)
    if not assignments or assignments[0].scope is not index.module_scope:
        return False
    return project.flask_app(f"{index.module_name}.{node.value}")


def _current_app_non_client(
    context: FileContext, receiver: cst.BaseExpression, scope: Scope
) -> bool:
    """Tell whether `receiver` is an attribute of `current_app` known not to be a client.

    That is `current_app.analytics` after `app.analytics = Mixpanel(...)`,
    for example (`ProjectIndex.current_app_non_client`).
    """
    if type(receiver) is not cst.Attribute or type(receiver.value) is not cst.Name:
        return False
    index = context.index
    qualified = index.qualified_name(receiver.value, scope)
    if qualified is None:
        return False
    project = context.project
    if project.localise(qualified, index.module_name) != FLASK_CURRENT_APP:
        return False
    return project.current_app_non_client(receiver.attr.value)


def _imported_track_caller(context: FileContext, site: CallSite) -> bool:
    """Tell whether a call runs another project module's function that makes a Track API call."""
    qualified = context.index.qualified_name(site.node.func, site.scope)
    if qualified is None:
        return False
    project = context.project
    return project.makes_track_call(
        project.localise(qualified, context.index.module_name)
    )


def _enclosing_loop(context: FileContext, node: cst.CSTNode) -> cst.CSTNode | None:
    """Return the innermost loop of the function that runs `node` once per round, if any.

    A retry loop, which runs the call again only when it failed, sends
    one event.
    """
    for loop in enclosing_loops(context, node, {}):
        if not is_retry(context, node, loop):
            return loop.node
    return None


def _inside_client_with(context: FileContext, call: ClientCall) -> bool:
    """Tell whether the call runs inside `with client:` (or `async with`) on its own client."""
    receiver = dotted_name(call.receiver)
    for parent in context.ancestors(call.node):
        if isinstance(parent, cst.FunctionDef):
            return False
        if not isinstance(parent, cst.With):
            continue
        for item in parent.items:
            bound = item.asname.name if item.asname is not None else item.item
            if dotted_name(bound) == receiver:
                return True
    return False


def _acting_handler(
    context: FileContext, node: cst.CSTNode
) -> cst.ExceptHandler | cst.ExceptStarHandler | None:
    """Return the first `except` around `node` whose block does more than log, or None.

    Of the `try` statements around `node`, the nearest one with such a block counts.
    """
    child = node
    for parent in context.ancestors(node):
        if isinstance(parent, cst.FunctionDef):
            return None
        if isinstance(parent, (cst.Try, cst.TryStar)) and child is parent.body:
            for handler in parent.handlers:
                if not _only_logs(handler):
                    return handler
        child = parent
    return None


def _handler_action(handler: cst.ExceptHandler | cst.ExceptStarHandler) -> str:
    """Name the first thing that an `except` block does besides logging: "returns a response"."""
    for statement in _block_statements(handler.body):
        if not isinstance(statement, cst.SimpleStatementLine):
            break
        for small in statement.body:
            if isinstance(small, cst.Pass):
                continue
            if isinstance(small, cst.Expr) and _is_logging_or_ellipsis(small.value):
                continue
            return _statement_action(small)
    return "does more than log"


def _statement_action(statement: cst.BaseSmallStatement) -> str:
    """Name what one statement of a request handler does: "sets `ok`", "calls `notify`"."""
    if isinstance(statement, cst.Return):
        if statement.value is None:
            return "returns from the handler"
        return "returns a response"
    if isinstance(statement, cst.Raise):
        return "raises an exception"
    if isinstance(statement, cst.Assign):
        return f"sets `{quoted_code(statement.targets[0].target)}`"
    if isinstance(statement, (cst.AnnAssign, cst.AugAssign)):
        return f"sets `{quoted_code(statement.target)}`"
    if isinstance(statement, cst.Expr):
        value = statement.value
        if isinstance(value, cst.Await):
            value = value.expression
        if isinstance(value, cst.Call):
            return f"calls `{quoted_code(value.func)}`"
    return "does more than log"


def _catcher_running_code_on_success(
    context: FileContext, node: cst.CSTNode
) -> str | None:
    """Name the `try` or `suppress` around `node` that runs code only when `node` succeeds.

    That is the innermost `try` with handlers or `with contextlib.suppress()`
    block, the first to catch the failure. The code is what follows the
    call's statement in its block, and the `try`'s `else` block: a `break`
    that ends a retry loop, or state set for later. The background helper
    does not raise the call's failure, so that code would run every time.
    Logging and `pass` are left out. None when no such code runs.
    """
    after: list[cst.BaseStatement] = []
    child = node
    for parent in context.ancestors(node):
        if isinstance(parent, cst.FunctionDef):
            return None
        if isinstance(parent, cst.IndentedBlock):
            position = next(
                index
                for index, statement in enumerate(parent.body)
                if statement is child
            )
            after.extend(parent.body[position + 1 :])
        is_try_body = (
            isinstance(parent, (cst.Try, cst.TryStar)) and child is parent.body
        )
        if is_try_body and parent.handlers:
            if parent.orelse is not None:
                after.extend(_block_statements(parent.orelse.body))
            return None if _only_logs_statements(after) else "`try`"
        if (
            isinstance(parent, cst.With)
            and child is parent.body
            and _suppresses(context, parent)
        ):
            return None if _only_logs_statements(after) else "`suppress` block"
        child = parent
    return None


def _suppresses(context: FileContext, with_statement: cst.With) -> bool:
    """Tell whether a `with` statement enters `contextlib.suppress()`."""
    return any(_is_suppress(context, item.item) for item in with_statement.items)


def _is_suppress(context: FileContext, entered: cst.BaseExpression) -> bool:
    return (
        isinstance(entered, cst.Call)
        and context.index.qualified_name(entered.func) == "contextlib.suppress"
    )


def _block_statements(suite: cst.BaseSuite) -> Sequence[cst.BaseStatement]:
    """Return the statements of a block, also one written on its header's line."""
    if isinstance(suite, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=suite.body)]
    assert isinstance(suite, cst.IndentedBlock)
    return suite.body


def _only_passes(statements: Sequence[cst.BaseStatement]) -> bool:
    """Tell whether statements only `pass`, or are `...`."""
    return _only_simple_statements(
        statements, lambda value: isinstance(value, cst.Ellipsis)
    )


def _only_logs(handler: cst.ExceptHandler | cst.ExceptStarHandler) -> bool:
    """Tell whether an `except` block only logs or passes."""
    return _only_logs_statements(_block_statements(handler.body))


def _only_logs_statements(statements: Sequence[cst.BaseStatement]) -> bool:
    """Tell whether statements only log or pass (`pass` or `...`)."""
    return _only_simple_statements(statements, _is_logging_or_ellipsis)


def _is_logging_or_ellipsis(value: cst.BaseExpression) -> bool:
    return isinstance(value, cst.Ellipsis) or is_logging_call(value)


def _only_simple_statements(
    statements: Sequence[cst.BaseStatement],
    allowed: Callable[[cst.BaseExpression], bool],
) -> bool:
    """Tell whether statements only `pass` or are expressions that `allowed` accepts."""
    for statement in statements:
        if not isinstance(statement, cst.SimpleStatementLine):
            return False
        for small in statement.body:
            if isinstance(small, cst.Pass):
                continue
            if isinstance(small, cst.Expr) and allowed(small.value):
                continue
            return False
    return True


# The results of `_later_client_call`: a call that reaches Customer.io, or one that may.
_DIRECT = "direct"
_POSSIBLE = "possible"


def _later_client_call(
    context: FileContext,
    call: ClientCall,
    handler: FunctionInfo,
    statement: cst.CSTNode,
) -> str | None:
    """Tell whether the handler calls Customer.io again (_DIRECT), may (_POSSIBLE), or not (None).

    A client call, or a call of a module function that makes one, is
    _DIRECT. Only calls known not to reach Customer.io are passed by:
    functions of the module that make no Customer.io call, names imported
    from outside the project, builtins, loggers and methods that only read.
    Any other call may reach a helper (a method, a lambda, an alias, a
    function defined in the handler, `functools.partial`), so it is
    _POSSIBLE.
    """
    index = context.index
    for other in _calls_and_tasks(index):
        if other is call:
            continue
        if other.site.function is handler and context.follows(other.node, statement):
            return _DIRECT
        if _nested_in(other.site.function, handler):
            # A function defined in the handler (an `after_this_request`
            # callback, say) may run after the call, wherever it is defined.
            return _DIRECT
    helpers = context.shared("CIO304:helpers", _functions_calling_customerio)
    plain = {
        function.name
        for function in index.functions
        if _is_module_function(function) and function.name not in helpers
    }
    found = None
    for site in index.call_sites:
        if site.function is not handler or not context.follows(site.node, statement):
            continue
        if dotted_name(site.node.func) in helpers:
            return _DIRECT
        if _may_call_customerio(context, site.node, helpers, plain):
            found = _POSSIBLE
    return found


def _nested_in(function: FunctionInfo | None, handler: FunctionInfo) -> bool:
    current = function.parent if function is not None else None
    while current is not None:
        if current is handler:
            return True
        current = current.parent
    return False


def _may_call_customerio(
    context: FileContext, node: cst.Call, helpers: set[str], plain: set[str]
) -> bool:
    callee = dotted_name(node.func)
    if callee is None:
        return not only_reads(node)
    if callee in helpers:
        return True
    qualified = context.index.qualify(callee)
    if qualified is not None:
        return _in_project(context, qualified)
    if callee in plain or callee in BUILTIN_NAMES:
        return False
    method = callee.rpartition(".")[2]
    if "." in callee and (method in READING_METHODS or method in LOGGING_METHODS):
        return False
    return not only_reads(node)


def _in_project(context: FileContext, qualified: str) -> bool:
    """Tell whether an imported name, or the object it is an attribute of, is the project's."""
    parts = qualified.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if context.project.resolve_name(prefix) or context.project.module(prefix):
            return True
    return False


BUILTIN_NAMES = frozenset(dir(builtins))


def _functions_calling_customerio(context: FileContext) -> set[str]:
    """Return the module-level functions that make a Customer.io call, maybe through others."""
    index = context.index
    found = {
        call.site.function.name
        for call in index.client_calls
        if call.site.function is not None and _is_module_function(call.site.function)
    }
    while True:
        more = {
            site.function.name
            for site in index.call_sites
            if site.function is not None
            and _is_module_function(site.function)
            and dotted_name(site.node.func) in found
        }
        if more <= found:
            return found
        found |= more


def _is_module_function(function: FunctionInfo) -> bool:
    return function.parent is None and function.class_info is None


class _Mutations(Bindings):
    """Collect what may change an object in a handler, and the names bound to others.

    `found` contains (name, node) for `name[...] = ...`, `name.attr = ...`,
    `name += ...`, `del name[...]` and `name.append(...)`, also through
    `name.get(...)` or `name[...]`. `calls` contains (name, node) for a call
    that is given the object of `name` or a part of it, for a method of
    `name` that may change it, and for a call of `name` itself. `bindings`
    contains the bindings that `Bindings` collects, where a value built by
    a call is bound to what the call is given (`payload = vars(order)`).
    `nested` contains the functions and lambdas defined in the handler,
    which may run after the call wherever they are defined.
    `attribute_aliases` contains (name, value) for `items = cart.items` and
    `first = cart.items[0]`, a name bound to a part of another object.
    """

    def __init__(self, is_namespace: Callable[[str], bool]) -> None:
        super().__init__()
        self.is_namespace = is_namespace
        self.found: list[tuple[str, cst.CSTNode]] = []
        self.calls: list[tuple[str, cst.Call]] = []
        self.nested: list[cst.CSTNode] = []
        self.attribute_aliases: list[tuple[str, cst.BaseExpression]] = []

    def objects_of(self, value: cst.BaseExpression) -> set[str]:
        names = set()
        for node in objects_contained(value, self.is_namespace):
            root = root_object_name(node)
            if root is not None:
                names.add(root)
        return names

    def _record(self, target: cst.BaseExpression, node: cst.CSTNode) -> None:
        root = root_object_name(target)
        if root is None:
            root = root_object_name(literal_getattr(target))
        if root is not None:
            self.found.append((root, node))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.nested.append(node)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.nested.append(node)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        if isinstance(node.target, (cst.Subscript, cst.Attribute)):
            self._record(node.target, node)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._record(node.target, node)

    def visit_Assign(self, node: cst.Assign) -> None:
        super().visit_Assign(node)
        for target in node.targets:
            self._record_attribute_alias(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        super().visit_AnnAssign(node)
        if node.value is not None:
            self._record_attribute_alias(node.target, node.value)

    def _record_attribute_alias(
        self, target: cst.BaseExpression, value: cst.BaseExpression
    ) -> None:
        kind = type(value)
        if type(target) is not cst.Name:
            return
        if kind is not cst.Attribute and kind is not cst.Subscript:
            return
        if root_object_name(value) is not None:
            self.attribute_aliases.append((target.value, value))

    def visit_Del(self, node: cst.Del) -> None:
        if isinstance(node.target, (cst.Subscript, cst.Attribute)):
            self._record(node.target, node)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in MUTATING_METHODS:
            self._record(func.value, node)
        if isinstance(func, cst.Name):
            self.calls.append((func.value, node))
        if isinstance(func, cst.Attribute) and func.attr.value not in READING_METHODS:
            root = root_object_name(func.value)
            if root is not None:
                self.calls.append((root, node))
        if only_reads(node):
            return
        for argument in node.args:
            for name in self.objects_of(argument.value):
                self.calls.append((name, node))


# Track API parameters whose value the call sends as an object: event data
# and the operations of a batch. The other parameters of the Track API take
# strings and numbers (ids, event names, timestamps), and profile or event
# attributes come as extra keyword arguments.
OBJECT_PARAMETERS = frozenset({"data", "operations"})


@dataclass
class _Sent:
    """The objects that a call sends as they are, and their parts.

    `objects` are names whose objects the call sends: the object behind
    event data (`data=payload`, `data=user.traits`) or a `*`/`**` argument,
    and the names that event data or profile and event attributes may
    contain (`data={"items": items}`, `data=order_payload(order)`,
    `data=vars(order)`, `tags=tags`). `parts` are the attributes and items
    sent (`rows[0]`, `order.items`), by their code.
    """

    objects: set[str]
    parts: dict[str, cst.BaseExpression]


def _arguments_sent(call: ClientCall) -> Iterator[tuple[cst.BaseExpression, bool]]:
    """Yield the value of each argument that may send an object, and whether it is event data.

    `*` and `**` arguments count as event data.
    """
    for parameter, argument in call.arguments.items():
        if parameter in OBJECT_PARAMETERS:
            yield argument.value, True
    for argument in call.star_arguments:
        yield argument.value, True
    for argument in call.extra_keywords.values():
        yield argument.value, False


def _sent(call: ClientCall, is_namespace: Callable[[str], bool]) -> _Sent:
    """Return the names and parts that the call's arguments may send as they are.

    Names that hold strings or numbers are still among them.
    """
    sent = _Sent(set(), {})
    names = sent.objects
    for value, is_event_data in _arguments_sent(call):
        if is_event_data:
            # `data=user.traits` and `data=body.get("x")` count as the whole object.
            root = root_object_name(value)
            if root is not None:
                names.add(root)
        for node in objects_contained(value, is_namespace):
            if type(node) is cst.Name:
                names.add(node.value)
            else:
                sent.parts[_path(node)] = node
        # `data=(event := {...})` sends the object that `event` names after
        # the call, so a later change of `event` reaches what is sent.
        for walrus in find_all(value, cst.NamedExpr):
            if type(walrus.target) is cst.Name:
                names.add(walrus.target.value)
    return sent


def _scalars(index: FileIndex, handler: FunctionInfo) -> set[str]:
    """Return the names the handler binds only to values that cannot change.

    Those are strings, numbers, None, bools and tuples of them, and values
    of a parameter or variable annotated with an immutable type.
    """
    found = set()
    scope = handler.scope
    for name, assignments in (scope.assignments.items() if scope else ()):
        if all(_binds_scalar(index, assignment) for assignment in assignments):
            found.add(name)
    return found


def _containers(handler: FunctionInfo) -> set[str]:
    """Return the names the handler binds to a container it builds."""
    found = set()
    scope = handler.scope
    for name, assignments in (scope.assignments.items() if scope else ()):
        if any(is_container(assignment.value) for assignment in assignments):
            found.add(name)
    return found


# Calls whose result is a string or a number.
SCALAR_CALLS = frozenset({"bool", "float", "int", "len", "round", "str"})


def _binds_scalar(index: FileIndex, assignment: Assignment) -> bool:
    """Tell whether an assignment binds a string or a number, a loop counter included.

    A parameter or variable annotated with an immutable type (`plan: str`)
    counts, as the annotation states.
    """
    statement = assignment.statement
    if isinstance(statement, cst.AugAssign):
        # `count += 1` keeps a number a number; the other bindings decide.
        return True
    if _annotated_immutable(index, assignment):
        return True
    if assignment.value is not None or not isinstance(statement, cst.For):
        return _is_scalar(assignment.value)
    counter = (
        dotted_name(statement.iter.func)
        if isinstance(statement.iter, cst.Call)
        else None
    )
    if counter == "range":
        return True
    target = statement.target
    if counter == "enumerate" and isinstance(target, cst.Tuple) and target.elements:
        first = target.elements[0].value
        return isinstance(first, cst.Name) and first.value == assignment.name
    return False


# Types whose values cannot change, by the last part of their name.
IMMUTABLE_TYPES = frozenset(
    {"Decimal", "UUID", "bool", "bytes", "complex", "float", "int", "str"}
)


def _annotated_immutable(index: FileIndex, assignment: Assignment) -> bool:
    """Tell whether a parameter or an annotated assignment states an immutable type.

    `str`, `Optional[int]`, `str | None`, `Annotated[str, Query()]` and
    `Literal["free", "pro"]` count, also through a type alias of the module.
    """
    statement = assignment.statement
    if not isinstance(statement, (cst.Param, cst.AnnAssign)):
        return False
    if statement.annotation is None:
        return False
    types = index.annotation_types(
        statement.annotation.annotation, annotation_scope(assignment)
    )
    if not types:
        return False
    for node, _ in types:
        if isinstance(node, cst.Subscript):
            wrapper = index.qualified_name(node.value) or dotted_name(node.value)
            if wrapper is None or wrapper.rpartition(".")[2] != "Literal":
                return False
            continue
        name = dotted_name(node)
        if name is None or name.rpartition(".")[2] not in IMMUTABLE_TYPES:
            return False
    return True


def _is_scalar(node: cst.BaseExpression | None) -> bool:
    """Tell whether an assigned value is a string, a number, None, a bool or a tuple of them.

    A call counts by its name (`str(x)`, `len(x)`).
    """
    if isinstance(
        node,
        (
            cst.SimpleString,
            cst.ConcatenatedString,
            cst.FormattedString,
            cst.Integer,
            cst.Float,
            cst.BinaryOperation,
            cst.UnaryOperation,
            cst.Comparison,
        ),
    ):
        return True
    if isinstance(node, cst.Call):
        name = dotted_name(node.func)
        return name is not None and name.rpartition(".")[2] in SCALAR_CALLS
    if isinstance(node, cst.Name):
        return node.value in CONSTANT_NAMES
    if isinstance(node, cst.Tuple):
        return all(
            isinstance(element, cst.Element) and _is_scalar(element.value)
            for element in node.elements
        )
    return False


class _HandlerFacts:
    """The facts `_later_mutation` reads about one handler, shared by its calls.

    Each is computed on first use, because many calls send no object and
    need none of them.
    """

    def __init__(
        self,
        index: FileIndex,
        handler: FunctionInfo,
        is_namespace: Callable[[str], bool],
    ) -> None:
        self.index = index
        self.handler = handler
        self.is_namespace = is_namespace

    @cached_property
    def containers(self) -> set[str]:
        return _containers(self.handler)

    @cached_property
    def scalars(self) -> set[str]:
        return _scalars(self.index, self.handler)

    @cached_property
    def mutations(self) -> _Mutations:
        """The changes and bindings in the handler's body."""
        mutations = _Mutations(self.is_namespace)
        walk(self.handler.node.body, mutations)
        return mutations


def _handler_facts(context: FileContext, handler: FunctionInfo) -> _HandlerFacts:
    """Return the facts of a handler, computed once per file context."""
    facts_by_handler: dict[int, _HandlerFacts] = context.shared(
        "CIO304:handlers", lambda _: {}
    )
    facts = facts_by_handler.get(id(handler.node))
    if facts is None:
        is_namespace = context.shared("CIO304:namespaces", _namespace_test)
        facts = _HandlerFacts(context.index, handler, is_namespace)
        facts_by_handler[id(handler.node)] = facts
    return facts


# Classes that `from datetime import ...` binds, whose names are lowercase.
DATETIME_CLASSES = frozenset(
    {"datetime.date", "datetime.datetime", "datetime.time", "datetime.timedelta"}
)


def _namespace_test(context: FileContext) -> Callable[[str], bool]:
    """Return a test of whether a name is an imported module or class.

    A method called on one (`time.time()`, `datetime.now()`) returns no
    part of an object the handler sends. A module comes from `import x`
    or is a module of the project. A class is a capitalised name (PEP 8)
    or a class of `datetime`. An imported name that the module binds
    again, or that a function binds for itself, is not one, and neither is
    any other imported name, such as Flask's `request` and `session`.
    """
    index = context.index
    results: dict[str, bool] = {}

    def is_namespace(name: str) -> bool:
        result = results.get(name)
        if result is None:
            result = _is_namespace(context, index, name)
            results[name] = result
        return result

    return is_namespace


def _is_namespace(context: FileContext, index: FileIndex, name: str) -> bool:
    qualified = index.imports.get(name)
    if qualified is None or name in index.scoped_names or name in index.rebound_names:
        return False
    module, _, last = qualified.rpartition(".")
    if not module or last[:1].isupper() or qualified in DATETIME_CLASSES:
        return True
    return context.project.module(qualified) is not None


def _later_mutation(
    context: FileContext,
    handler: FunctionInfo,
    call: ClientCall,
    statement: cst.CSTNode,
) -> _Change | None:
    """Return a change that the handler may make, after the call, to an object it sends.

    The worker thread reads the objects when it sends them, not when the
    call is queued. After the call means after its statement, anywhere in
    a loop around it, which runs again once the call is queued, or in a
    function or lambda defined in the handler. The end of a `with` block
    around the call counts too (`_with_changing_sent`). A change through
    another name bound to a sent object or to a part of it counts. So does
    passing a sent object to a function or calling a method of it that is
    not known to only read, whether the call sends it as event data or as
    a profile or event attribute. A name that the handler binds only to
    values that cannot change (`_scalars`) does not count. None when there
    is no such change.
    """
    facts = _handler_facts(context, handler)
    sent = _sent(call, facts.is_namespace)
    if not sent.objects and not sent.parts:
        # The call sends no object as it is, so no change in the handler can
        # reach what it sends.
        return None

    if sent.objects:
        sent.objects -= facts.scalars
    mutations = facts.mutations
    bound_from = {name for _, name, _ in mutations.bindings}
    for path, part in list(sent.parts.items()):
        root = root_object_name(part)
        if root in bound_from:
            # Another name may reach the part (`first = rows[0]`, `for row
            # in rows`), so any change to its owner counts.
            sent.objects.add(root)
            del sent.parts[path]
    _add_aliased_parts(sent, mutations, facts.containers)

    loop = _outermost_loop(context, handler, statement)
    nested = set(map(id, mutations.nested))

    def after_call(node: cst.CSTNode) -> bool:
        if context.follows(node, statement):
            return True
        if loop is None and not nested:
            # Only the order of statements counts then.
            return False
        return any(
            parent is loop or id(parent) in nested for parent in context.ancestors(node)
        )

    client_calls = {id(other.node) for other in context.index.client_calls}
    change = _first_change(
        context, mutations, sent, facts.containers, after_call, client_calls
    )
    block = _with_changing_sent(context, handler, statement, sent, facts)
    # The block ends after every change inside it and before any after it.
    if block is not None and (
        change is None or not _inside(context, change.node, block)
    ):
        return _Change(block)
    if change is not None:
        return change
    return _module_object_changed(context, handler, sent, client_calls)


def _with_changing_sent(
    context: FileContext,
    handler: FunctionInfo,
    statement: cst.CSTNode,
    sent: _Sent,
    facts: _HandlerFacts,
) -> cst.With | None:
    """Return the innermost `with` around the call whose end may change what it sends.

    The end of the block runs each context manager's `__exit__`, or the
    code after `yield` of a `contextlib` generator-based context manager,
    after the call is queued. That code may change the object bound to the
    `as` target and the objects the context manager was given, so the
    block counts when one of them is, contains or belongs to what the call
    sends.
    """
    blocks = []
    child = statement
    for parent in context.ancestors(statement):
        if parent is handler.node:
            break
        if type(parent) is cst.With and child is parent.body:
            blocks.append(parent)
        child = parent
    if not blocks:
        return None

    mutations = facts.mutations
    names = connected_names(
        sent.objects, mutations.bindings, facts.containers, owners=True
    )
    for block in blocks:
        for item in block.items:
            # The objects that the context manager is given or is a method
            # of, such as `payload` of `Recorder(payload)` or `payload.lock()`.
            nodes = objects_contained(item.item, facts.is_namespace)
            if item.asname is not None:
                nodes.extend(_as_targets(item.asname.name))
            if any(_shares_sent(node, names, sent.parts) for node in nodes):
                return block
    return None


def _as_targets(target: cst.BaseExpression) -> list[cst.BaseExpression]:
    """Return the names, attributes and items that an `as` target binds."""
    if type(target) is cst.Tuple or type(target) is cst.List:
        found = []
        for element in target.elements:
            found.extend(_as_targets(element.value))
        return found
    return [target]


def _shares_sent(
    node: cst.BaseExpression, names: set[str], parts: dict[str, cst.BaseExpression]
) -> bool:
    """Tell whether `node` is, or is inside, an object or part sent, or owns a part sent."""
    if root_object_name(node) in names:
        return True
    return _inside_any(node, parts) or _part_owned(node, parts) is not None


def _inside(context: FileContext, node: cst.CSTNode, block: cst.CSTNode) -> bool:
    return any(parent is block for parent in context.ancestors(node))


def _add_aliased_parts(
    sent: _Sent, mutations: _Mutations, containers: set[str]
) -> None:
    """Add to the sent parts those that a sent name is bound to (`cart.items` for `items`).

    `items = cart.items` makes `items` the same list, so a method of
    `cart` that changes `items` in place changes what the call sends,
    as it does when the call sends `cart.items` itself.
    """
    if not mutations.attribute_aliases or not sent.objects:
        return
    names = connected_names(sent.objects, mutations.bindings, containers, owners=False)
    for name, value in mutations.attribute_aliases:
        if name in names:
            sent.parts.setdefault(_path(value), value)


@dataclass
class _Change:
    """Code that may change an object a call sends.

    That is a statement, a call given the object, or a `with` statement
    whose end runs code of its context managers.
    """

    node: cst.CSTNode
    # The code of the sent object or part that a call receives as an
    # argument, when passing it is the only change cio-fix finds.
    argument: str | None = None
    # The sent part inside `argument`, when the call is given the object
    # that owns the part.
    part: str | None = None
    # The function of the module that the call runs. Its body decides
    # whether the call changes what it is given.
    function: FunctionInfo | None = None


def _first_change(
    context: FileContext,
    mutations: _Mutations,
    sent: _Sent,
    containers: set[str],
    counts: Callable[[cst.CSTNode], bool],
    client_calls: set[int],
) -> _Change | None:
    """Return the first change in `mutations` that may reach what is sent, if `counts` takes it."""
    bindings = mutations.bindings
    # Names of the objects sent, which a function given one, or a method of
    # one, may change.
    passed = connected_names(sent.objects, bindings, containers, owners=False)
    # Those, and the objects that own a sent part, whose parts a statement
    # may change in place (`session["cart"].append(...)`).
    owners = connected_names(sent.objects, bindings, containers, owners=True)
    parts = sent.parts

    first: _Change | None = None
    for name, node in mutations.found:
        changes = name in owners or (
            bool(parts) and _inside_any(_changed_object(node), parts)
        )
        if changes and counts(node):
            first = _Change(node)
            break
    for name, node in mutations.calls:
        if id(node) in client_calls:
            continue
        # `counts` and reading a called function cost more, so they run only
        # on the calls given a sent object.
        change = _call_change(context, node, name, passed, parts)
        if change is None or not counts(node):
            continue
        function = change.function
        if function is not None and not _changes_parameters(context, function):
            continue
        # Both lists are in the order of the code, so this call is the first
        # of the calls.
        if first is None or context.comes_before(node, first.node):
            return change
        break
    return first


def _call_change(
    context: FileContext,
    call: cst.Call,
    name: str,
    passed: set[str],
    parts: dict[str, cst.BaseExpression],
) -> _Change | None:
    """Return the change that a call recorded for `name` may make to what is sent, if any.

    A call given a sent object or part, or a method of one, may change it.
    For a call of a function of the module, the change names the function,
    and its body decides whether it changes what it is given. Such a function
    may also change a sent part of an object it is given (`helper(order)`
    after sending `order.items`).
    """
    if _is_method_of(call, name) and name in passed:
        return _Change(call)
    receiver = call.func.value if isinstance(call.func, cst.Attribute) else None
    if _inside_any(receiver, parts):
        return _Change(call)
    # `len(self.items)` after sending `self.items` only reads it.
    if only_reads(call):
        return None
    given = _given_argument(call, name, passed, parts)
    if given is None and not parts:
        return None
    function = _module_function_called(context, call)
    if given is not None:
        return _Change(call, argument=given, function=function)
    if function is None:
        # NOTE: another function given the owner of a sent part, or a method
        # of the owner that no class of the module defines (`order.save()`),
        # may change the part too. They are not counted, because most
        # handlers send attributes of a model, such as `user.email`, and then
        # pass the model on.
        return _owner_method_change(context, call, parts)
    for argument in call.args:
        part = _part_owned(argument.value, parts)
        if part is not None:
            code = _one_line(argument.value)
            return _Change(call, argument=code, part=part, function=function)
    return None


def _given_argument(
    call: cst.Call, name: str, passed: set[str], parts: dict[str, cst.BaseExpression]
) -> str | None:
    """Return the code of a sent object or part that a call is given as an argument, if any."""
    if name in passed and not _is_method_of(call, name):
        return name
    for argument in call.args:
        if _inside_any(argument.value, parts):
            return _one_line(argument.value)
    return None


def _part_owned(
    node: cst.BaseExpression, parts: dict[str, cst.BaseExpression]
) -> str | None:
    """Return the code of a sent part inside the object of `node` (`order.items` for `order`)."""
    if root_object_name(node) is None:
        return None
    path = _path(node)
    for part in parts:
        if part.startswith((path + ".", path + "[")):
            return part
    return None


def _module_function_called(
    context: FileContext, call: cst.Call
) -> FunctionInfo | None:
    functions = context.shared("CIO304:module-functions", _module_functions)
    index = context.index
    return module_function_called(index, call, index.scope_of(call), functions)


def _owner_method_change(
    context: FileContext, call: cst.Call, parts: dict[str, cst.BaseExpression]
) -> _Change | None:
    """Return the change that a method of the owner of sent parts makes to them, if any.

    `cart.empty()` after sending `cart.items` changes the list when the
    method's body changes `self.items` in place (`self.items.clear()`).
    Any change inside the attribute counts, also where the call sends only
    an item of it, because the method's indexes are its parameters'
    values. Which methods count, `_method_changes` decides.
    """
    func = call.func
    if type(func) is not cst.Attribute:
        return None
    owner = _path(func.value) + "."
    # The owner's attributes that hold a sent part (`items` for `cart.items[0]`).
    attributes = set()
    for part in parts:
        if not part.startswith(owner):
            continue
        attribute = ATTRIBUTE_NAME.match(part, len(owner))
        if attribute is not None:
            attributes.add(attribute.group())
    changes = _method_changes(context, func)
    if attributes and (ANY_ATTRIBUTE in changes or attributes & changes):
        return _Change(call)
    return None


def _method_changes(context: FileContext, func: cst.Attribute) -> frozenset[str]:
    """Return the attributes of its object that `owner.method(...)` may change in place.

    When the owner is a name bound only to instances of one class
    (`method_changes.class_expressions`), the method is that class's or
    its base's (`FileIndex.class_method`). The class is one of the module,
    or one that it imports from another project module, whose summary
    lists what its methods change. When the class is unknown, every method
    of that name of the module's classes counts, because withholding a fix
    costs less than a fix that sends changed data. The attributes include
    the properties of the class that return a changed one
    (`add_property_changes`).
    """
    index = context.index
    name = func.attr.value
    changes = context.shared("CIO304:method-changes", _changes_by_method)
    getters = context.shared("CIO304:property-getters", _property_getters)
    owner_class = _owner_class(index, func.value)
    if owner_class is not None:
        method = index.class_method(owner_class, name)
        if method is None:
            return frozenset()
        attributes = changes.get(id(method.node), frozenset())
        return _with_property_changes(index, owner_class, attributes, getters)

    imported = _imported_owner_class(context, func.value)
    if imported is not None:
        summary, class_name = imported
        return frozenset(summary.method_changes[class_name].get(name, ()))

    methods = context.shared("CIO304:methods", _methods_by_name)
    found: frozenset[str] = frozenset()
    for method in methods.get(name, []):
        attributes = changes.get(id(method.node), frozenset())
        assert method.class_info is not None
        found |= _with_property_changes(index, method.class_info, attributes, getters)
    return found


def _with_property_changes(
    index: FileIndex,
    class_info: ClassInfo,
    attributes: frozenset[str],
    getters: dict[int, FunctionInfo],
) -> frozenset[str]:
    if not attributes or not getters:
        return attributes
    properties = property_attributes(index, class_info, getters)
    return add_property_changes(attributes, properties)


def _changes_by_method(context: FileContext) -> dict[int, frozenset[str]]:
    return changed_attributes_by_method(context.index)


def _property_getters(context: FileContext) -> dict[int, FunctionInfo]:
    return property_getters(context.index)


def _owner_class(index: FileIndex, owner: cst.BaseExpression) -> ClassInfo | None:
    """Return the class of the module that every binding of a name makes it an instance of."""
    if type(owner) is not cst.Name:
        return None
    scope = index.scope_of(owner)
    if scope is None:
        return None
    found = None
    for assignment in index.assignments_of(owner.value, scope):
        class_info = _class_bound(index, assignment)
        if class_info is None or found not in (None, class_info):
            return None
        found = class_info
    return found


def _class_bound(index: FileIndex, assignment: Assignment) -> ClassInfo | None:
    """Return the class of the module that an assignment binds an instance of, if any.

    The forms are those of `class_expressions`.
    """
    for node, scope, constructor in class_expressions(index, assignment):
        if constructor:
            class_info = constructed_class(index, node, scope)
        else:
            class_info = index.module_class(node, scope)
        if class_info is not None:
            return class_info
    return None


def _imported_owner_class(
    context: FileContext, owner: cst.BaseExpression
) -> tuple[ModuleSummary, str] | None:
    """Return the summary and name of the imported project class of every binding of a name.

    As for `_owner_class`, each binding must make the name an instance of
    the class (`order = Order(...)` after `from shop.orders import Order`).
    The class must be a module-level class of a module that cio-fix reads.
    """
    if type(owner) is not cst.Name:
        return None
    index = context.index
    scope = index.scope_of(owner)
    if scope is None:
        return None
    found = None
    for assignment in index.assignments_of(owner.value, scope):
        target = _imported_class_bound(context, assignment)
        if target is None:
            return None
        if found is not None and (found[0] is not target[0] or found[1] != target[1]):
            return None
        found = target
    return found


def _imported_class_bound(
    context: FileContext, assignment: Assignment
) -> tuple[ModuleSummary, str] | None:
    """Return the summary and name of the imported project class that an assignment binds.

    The forms are those of `class_expressions`. An alternative
    constructor must be one that the class's summary lists.
    """
    index = context.index
    project = context.project
    for node, scope, constructor in class_expressions(index, assignment):
        method = None
        if constructor:
            assert type(node) is cst.Attribute
            method = node.attr.value
            node = node.value
        qualified = index.qualified_name(node, scope)
        if qualified is None:
            continue
        target = project.resolve_name(project.localise(qualified, index.module_name))
        if target is None or target[1] not in target[0].method_changes:
            continue
        if method is None:
            return target
        if method in target[0].alternative_constructors.get(target[1], ()):
            return target
    return None


def _methods_by_name(context: FileContext) -> dict[str, list[FunctionInfo]]:
    """Return the methods of the module's classes by name."""
    methods: dict[str, list[FunctionInfo]] = {}
    for function in context.index.functions:
        if function.class_info is not None and function.parent is None:
            methods.setdefault(function.name, []).append(function)
    return methods


# The attribute name at the start of the code after an object's name and dot.
ATTRIBUTE_NAME = re.compile(r"[^\W\d]\w*")


def _module_functions(context: FileContext) -> dict[int, FunctionInfo]:
    return module_functions(context.index)


def _changes_parameters(context: FileContext, function: FunctionInfo) -> bool:
    """Tell whether a function of the module may change an object it is given.

    Its body is read as a handler's is after a call. A change counts when
    it reaches a parameter's object or a part of it, through any name: an
    assignment, a method that may change it, or a call given it that may. A
    function counts as changing while its own body is read, so a function
    that calls itself, directly or through others, ends the reading.
    """
    results: dict[int, bool] = context.shared("CIO304:changing-functions", lambda _: {})
    key = id(function.node)
    if key in results:
        return results[key]
    results[key] = True
    is_namespace = context.shared("CIO304:namespaces", _namespace_test)
    mutations = _Mutations(is_namespace)
    walk(function.node.body, mutations)
    parameters = {
        parameter.name.value for parameter in all_parameters(function.node.params)
    }
    client_calls = {id(call.node) for call in context.index.client_calls}
    change = _first_change(
        context,
        mutations,
        _Sent(parameters, {}),
        set(),
        lambda _: True,
        client_calls,
    )
    results[key] = change is not None
    return results[key]


def _is_method_of(call: cst.Call, name: str) -> bool:
    """Tell whether a call is of `name` itself, or of a method of its object or of a part of it."""
    func = call.func
    if type(func) is cst.Name:
        return func.value == name
    return type(func) is cst.Attribute and root_object_name(func.value) == name


def _change_reason(context: FileContext, change: _Change) -> str:
    """Return the reason for a report without a fix that names a later change."""
    if type(change.node) is cst.With:
        keyword = "async with" if change.node.asynchronous else "with"
        return (
            f"the end of the `{keyword}` block on line"
            f" {context.message_line(change.node)} may change what the call sends"
            " before the worker thread sends it"
        )
    code = f"`{_change_code(change.node)}` on line {context.message_line(change.node)}"
    if change.part is not None:
        return (
            f"{code} is given `{change.argument}` and may change"
            f" `{change.part}` in it, which the call sends"
        )
    if change.argument is not None and change.function is not None:
        return (
            f"{code} is given `{change.argument}`, which the call sends, and may"
            " change it"
        )
    if change.argument is not None:
        return (
            f"{code} is given `{change.argument}`, which the call sends, and"
            f" cio-fix cannot tell that it leaves `{change.argument}` unchanged"
        )
    return f"{code} may change what the call sends before the worker thread sends it"


def _change_code(change: cst.CSTNode) -> str:
    """Return a short form of the code of a change that `_Mutations` records."""
    if isinstance(change, cst.Call):
        arguments = "..." if change.args else ""
        return f"{_one_line(change.func)}({arguments})"
    if isinstance(change, cst.AugAssign):
        operator = code_of(change.operator).strip()
        return f"{_one_line(change.target)} {operator} ..."
    if isinstance(change, cst.Del):
        return f"del {_one_line(change.target)}"
    assert isinstance(change, cst.AssignTarget)
    return f"{_one_line(change.target)} = ..."


def _one_line(node: cst.CSTNode) -> str:
    return " ".join(code_of(node).split())


def _path(node: cst.CSTNode) -> str:
    """Return the code of an expression without whitespace, to compare parts."""
    return "".join(code_of(node).split())


def _inside_any(
    node: cst.BaseExpression | None, parts: dict[str, cst.BaseExpression]
) -> bool:
    """Tell whether `node` is one of `parts`, or an attribute or item inside one."""
    if node is None:
        return False
    root = root_object_name(node)
    # A node whose code starts with a part's code starts at the part's
    # root name, so only those nodes are printed.
    if root is None or all(root_object_name(part) != root for part in parts.values()):
        return False
    path = _path(node)
    return any(
        path == part or path.startswith((part + "[", part + ".")) for part in parts
    )


def _changed_object(node: cst.CSTNode) -> cst.BaseExpression | None:
    """Return the object that a change recorded by `_Mutations.found` changes in place."""
    if isinstance(node, (cst.AssignTarget, cst.AugAssign, cst.Del)):
        target = node.target
        if isinstance(target, (cst.Subscript, cst.Attribute)):
            return literal_getattr(target.value)
        return None
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return literal_getattr(node.func.value)
    return None


def _module_object_changed(
    context: FileContext,
    handler: FunctionInfo,
    sent: _Sent,
    client_calls: set[int],
) -> _Change | None:
    """Return a change that a function of the module may make to a module-level object sent.

    Any function may run while the worker thread waits to send, in this
    request or another one, so where the change is does not matter. Only
    code in functions and lambdas counts: the module's own statements run
    once, on import, before any request.
    """
    index = context.index
    scope = handler.scope
    if scope is None:
        return None

    def module_level(names: set[str]) -> set[str]:
        return {
            name
            for name in names
            if any(
                assignment.scope.kind == "module"
                for assignment in index.assignments_of(name, scope)
            )
        }

    module_sent = _Sent(module_level(sent.objects), {})
    if not module_sent.objects:
        return None
    mutations = context.shared("CIO304:module-mutations", _module_mutations)
    return _first_change(
        context,
        mutations,
        module_sent,
        set(),
        lambda node: _in_function(context, node),
        client_calls,
    )


def _module_mutations(context: FileContext) -> _Mutations:
    is_namespace = context.shared("CIO304:namespaces", _namespace_test)
    mutations = _Mutations(is_namespace)
    walk(context.module, mutations)
    return mutations


def _in_function(context: FileContext, node: cst.CSTNode) -> bool:
    return any(
        isinstance(parent, (cst.FunctionDef, cst.Lambda))
        for parent in context.ancestors(node)
    )


def _outermost_loop(
    context: FileContext, handler: FunctionInfo, statement: cst.CSTNode
) -> cst.CSTNode | None:
    """Return the outermost `for` or `while` of the handler around `statement`."""
    loop = None
    for parent in context.ancestors(statement):
        if parent is handler.node:
            break
        if isinstance(parent, (cst.For, cst.While)):
            loop = parent
    return loop


# -- the helper -------------------------------------------------------------------------------


def _existing_helper(module: cst.Module, kind: str) -> cst.FunctionDef | None:
    """Return the helper that an earlier run added, if the module has one."""
    pattern = re.compile(rf"^{kind}(?:_\d+)?$")
    for statement in module.body:
        if not isinstance(statement, cst.FunctionDef) or not pattern.match(
            statement.name.value
        ):
            continue
        if _has_marker(statement, HELPER_MARKERS[kind]):
            return statement
    return None


def _has_marker(function: cst.FunctionDef, marker: str) -> bool:
    """Tell whether a function's code contains `marker`, which spans no line break.

    The helpers call it near their end, so the statements of the body are
    printed one by one from the last, each a fraction of the function's
    code. Printed alone, a statement differs only in the indentation at its
    line starts. The whole function is printed when none of them matches.
    """
    block = function.body
    if isinstance(block, cst.IndentedBlock):
        for statement in reversed(block.body):
            if marker in code_of(statement):
                return True
    return marker in code_of(function)


def _helper(context: FileContext, kind: str, call: cst.Call) -> Helper | str:
    """Return the helper to call, adding it when the module has none.

    `call` is one of the calls in request handlers that the helper runs.
    When the helper cannot be added, the reason is returned instead.
    """
    existing = _existing_helper(context.module, kind)
    if existing is not None:
        is_async = existing.asynchronous is not None
        return Helper(existing.name.value, is_async=is_async)
    if kind == THREAD_HELPER and context.config.background_helper is not None:
        configured = _configured_helper(context, context.config.background_helper, call)
        return configured if configured is not None else NAME_TAKEN
    too_old = context.python_too_old(
        HELPER_PYTHON, "the helper that runs it in the background"
    )
    if too_old is not None:
        return (
            f"{too_old}; name a function of yours with background-helper in"
            " [tool.cio-fix]"
        )

    taken = context.module_names()
    # Both helpers log in the callback that runs when a call is done.
    logging_import = context.attribute_in_helper(
        "logging", "getLogger", on_import=False
    )
    if logging_import is None:
        return NAME_TAKEN
    parameters = PARAMETERS
    if context.older_python((3, 8)) is not None:
        parameters = PARAMETERS_37
    imports = [*logging_import.imports]
    helper = unused_name(kind, taken)
    if kind == THREAD_HELPER:
        # The executor and the semaphore are made while the module is imported.
        pool, pool_imports = _thread_pool_name(context)
        threading_import = context.import_in_helper("threading", on_import=True)
        if pool is None or threading_import is None:
            return NAME_TAKEN
        imports += [*pool_imports, *threading_import.imports]
        executor = unused_name("_customerio_executor", taken)
        signatures = _thread_signatures(context, helper, parameters, pool)
        imports += signatures.imports
        code = THREAD_HELPER_CODE.format(
            executor=executor,
            pool=pool,
            slots=unused_name("_customerio_slots", taken),
            threading=threading_import.local,
            get_logger=logging_import.local,
            signature=signatures.helper,
            finish=signatures.finish,
            unpack=signatures.unpack,
        )
        code = _fit_executor_line(code, executor, pool, context.line_length)
    else:
        # The task helper uses asyncio only inside its function.
        # Python evaluates the annotation of the set of tasks, which names
        # asyncio, while the module is imported, unless the module postpones
        # annotations.
        annotated = is_annotated_module(context)
        on_import = annotated and not postpones_annotations(context.module)
        asyncio_import = context.import_in_helper("asyncio", on_import=on_import)
        if asyncio_import is None:
            return NAME_TAKEN
        imports += asyncio_import.imports
        signatures = _task_signatures(context, helper, parameters, asyncio_import.local)
        imports += signatures.imports
        code = TASK_HELPER_CODE.format(
            tasks=unused_name("_customerio_tasks", taken),
            tasks_annotation=signatures.tasks,
            asyncio=asyncio_import.local,
            get_logger=logging_import.local,
            signature=signatures.helper,
            finish=signatures.finish,
            unpack=signatures.unpack,
        )
    inserts = (InsertStatements(f"CIO304:{kind}", code),)
    return Helper(helper, tuple(imports), inserts, is_async=kind == TASK_HELPER)


@dataclass
class _Signatures:
    """The first lines of a helper and of its callback, and the imports their annotations need."""

    helper: str
    finish: str
    # The statements that take `method` out of `args`, for Python 3.7.
    unpack: str = ""
    # The annotation of the task helper's set of tasks, with its colon.
    tasks: str = ""
    imports: tuple[AddImport, ...] = ()


def _thread_signatures(
    context: FileContext, helper: str, parameters: str, pool: str
) -> _Signatures:
    """Return the signatures of the thread helper, annotated in an annotated module.

    When the module binds a name that the annotations need to something
    else, the helper is written without annotations.
    """
    plain = _Signatures(
        f"def {helper}({parameters}):",
        "    def finish(future):",
        _plain_unpack(parameters),
    )
    if not is_annotated_module(context):
        return plain
    names = TypeNames(context)
    callable_name = names.generic_alias("Callable")
    if callable_name is None:
        return plain
    method = f"{callable_name}[..., object]"
    if "." in pool:
        future_name: str | None = pool.rpartition(".")[0] + ".Future"
    else:
        future_name = names.name("concurrent.futures", "Future")
    if future_name is None:
        return plain
    future = names.evaluated(f"{future_name}[object]")
    signatures = _annotated_signatures(
        context, names, helper, parameters, method, f"future: {future}"
    )
    return signatures if signatures is not None else plain


def _task_signatures(
    context: FileContext, helper: str, parameters: str, asyncio: str
) -> _Signatures:
    """Return the signatures of the task helper, as `_thread_signatures` does for threads."""
    plain = _Signatures(
        f"async def {helper}({parameters}):",
        "    def finish(task):",
        _plain_unpack(parameters),
    )
    if not is_annotated_module(context):
        return plain
    names = TypeNames(context)
    any_name = names.name("typing", "Any")
    callable_name = names.generic_alias("Callable")
    coroutine_name = names.generic_alias("Coroutine")
    if any_name is None or callable_name is None or coroutine_name is None:
        return plain
    coroutine = f"{coroutine_name}[{any_name}, {any_name}, object]"
    method = f"{callable_name}[..., {coroutine}]"
    task = names.evaluated(f"{asyncio}.Task[object]")
    signatures = _annotated_signatures(
        context, names, helper, parameters, method, f"task: {task}", "async def "
    )
    if signatures is None:
        return plain
    signatures.tasks = ": " + names.evaluated(f"set[{asyncio}.Task[object]]")
    signatures.imports = tuple(names.imports)
    return signatures


def _annotated_signatures(
    context: FileContext,
    names: TypeNames,
    helper: str,
    parameters: str,
    method: str,
    finished: str,
    prefix: str = "def ",
) -> _Signatures | None:
    """Lay out the annotated helper, its `method` of type `method`, and its callback.

    The form for Python 3.7 casts `method`, which it takes from `args`.
    None when that form needs `typing.cast` and the module binds `cast` to
    something else.
    """
    unpack = ""
    if not _takes_method(parameters):
        cast = names.name("typing", "cast", called=True)
        if cast is None:
            return None
        statements = ANNOTATED_UNPACK_37.format(cast=cast, method_type=method)
        unpack = UNPACK_37.format(statements=statements)
    return _Signatures(
        format_def(
            helper,
            _annotated_parameters(
                parameters, names.evaluated(method, builtin_generic=False)
            ),
            "None",
            line_length=context.line_length,
            prefix=prefix,
        ),
        format_def(
            "finish",
            [finished],
            "None",
            indent=INDENT,
            line_length=context.line_length,
        ),
        unpack,
        imports=tuple(names.imports),
    )


def _takes_method(parameters: str) -> bool:
    """Tell whether the signature names `method`, which the Python 3.7 form takes from `args`."""
    return "method" in parameters.split(", ")


def _plain_unpack(parameters: str) -> str:
    """Return the statements that take `method` out of `args` in an unannotated helper."""
    if _takes_method(parameters):
        return ""
    return UNPACK_37.format(statements=PLAIN_UNPACK_37)


def _annotated_parameters(parameters: str, method_type: str) -> list[str]:
    """Return the helper's parameters with annotations, `method` of type `method_type`.

    The other arguments go to the Customer.io call unchanged, so `object`
    fits them. ruff's ANN401 rejects `Any` there.
    """
    annotated = []
    for parameter in parameters.split(", "):
        if parameter == "method":
            annotated.append(f"method: {method_type}")
        elif parameter.startswith("*"):
            annotated.append(f"{parameter}: object")
        else:
            annotated.append(parameter)
    return annotated


def _configured_helper(
    context: FileContext, qualified: str, call: cst.Call
) -> Helper | None:
    """Return the project's own helper, imported from its module unless defined here."""
    module, _, name = qualified.rpartition(".")
    if module == context.index.module_name:
        return Helper(name)
    helper_import = context.import_at(call, module, name)
    if helper_import is None:
        return None
    imports = tuple(_with_first_party(context, add) for add in helper_import.imports)
    return Helper(helper_import.local, imports)


def _with_first_party(context: FileContext, add: AddImport) -> AddImport:
    """Return the import of the project's helper, with the module's first-party packages.

    An import of an installed package stays as it is, and goes after the
    leading imports, because cio-fix cannot tell where isort would put it.
    """
    root = context.config.root
    package = add.module.split(".")[0]
    if not is_first_party(root, package):
        return add
    packages = {package}
    for origins in context.index.module_import_origins.values():
        for origin in origins:
            imported = origin.split(".")[0]
            # isort places a standard-library module before looking for folders.
            if imported in packages or imported in sys.stdlib_module_names:
                continue
            if is_first_party(root, imported):
                packages.add(imported)
    return replace(add, first_party=frozenset(packages))


def _thread_pool_name(context: FileContext) -> tuple[str | None, list[AddImport]]:
    """Return how the module can name ThreadPoolExecutor, and the imports that needs."""
    pool = context.import_in_helper(
        "concurrent.futures", "ThreadPoolExecutor", on_import=True
    )
    if pool is not None and not pool.imports:
        return pool.local, []
    futures = context.import_in_helper("concurrent.futures", on_import=True)
    if futures is None:
        return None, []
    if not futures.imports:
        # `import concurrent.futures as futures` names the submodule itself.
        return f"{futures.local}.ThreadPoolExecutor", []
    # `import concurrent.futures` binds the package, `concurrent`.
    return f"{futures.local}.futures.ThreadPoolExecutor", [*futures.imports]


def _fit_executor_line(code: str, executor: str, pool: str, line_length: int) -> str:
    """Wrap the executor line as black does when the names make it too long."""
    arguments = ["max_workers=4", 'thread_name_prefix="customerio"']
    line = f"{executor} = {pool}({', '.join(arguments)})"
    wrapped = format_call(f"{executor} = ", pool, arguments, line_length=line_length)
    return code.replace(line, wrapped)


# -- the call site ------------------------------------------------------------------------------


def _wrapped_call(
    call: cst.Call,
    helper: str,
    column: int,
    unit: str = INDENT,
    prefix: str = "",
    line_length: int = LINE_LENGTH,
) -> cst.Call:
    """Return `helper(receiver.method, <the call's arguments>)`, laid out as black would.

    `prefix` is the code before the call on its line, such as `await `.
    """
    method = call.func.with_changes(lpar=(), rpar=())
    before_args = call.whitespace_before_args
    if _one_argument_per_line(call):
        # A comment after `(` stays there, and comment lines above the first
        # argument stay above it, below the new first argument.
        assert isinstance(before_args, cst.ParenthesizedWhitespace)
        comma = cst.Comma(
            whitespace_after=before_args.with_changes(
                first_line=cst.TrailingWhitespace()
            )
        )
        first = cst.Arg(value=method, comma=comma)
        return call.with_changes(
            func=cst.Name(helper),
            args=[first, *call.args],
            whitespace_before_args=before_args.with_changes(empty_lines=()),
        )

    # The code of each argument leaves out the comma and whitespace after it,
    # because the last argument keeps the line break before `)` of a call
    # that black split, and the new layout places its own.
    arguments = [code_of(method), *map(_code_without_comma, call.args)]
    if _contains_hash(call, arguments):
        comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        first = cst.Arg(
            value=method, comma=comma if call.args else cst.MaybeSentinel.DEFAULT
        )
        return call.with_changes(func=cst.Name(helper), args=[first, *call.args])
    if any("\n" in argument for argument in arguments):
        # libcst indents the continuation lines by the block's indentation.
        text = format_call(
            prefix, helper, arguments, column=column, line_length=line_length
        )
        call_text = text[len(prefix) :]
        return cst.ensure_type(cst.parse_expression(call_text), cst.Call)
    layout = call_layout(
        prefix, helper, arguments, column=column, line_length=line_length
    )
    # laid_out_call replaces the comma and the whitespace after each argument.
    first = cst.Arg(value=method)
    return laid_out_call(cst.Name(helper), [first, *call.args], layout, unit)


@dataclass(frozen=True)
class _Layout:
    """The start column, indentation step, prefix and line limit of a fixed call."""

    # The indentation of the call's statement, in columns.
    column: int
    # The module's indentation step.
    unit: str
    # The code before the call on its line, such as `await `.
    prefix: str
    line_length: int
    # Whether `ruff format` lays out the file (`FileContext.ruff_layout`).
    ruff_layout: bool = False


def _call_site_replacements(
    context: FileContext,
    call: cst.Call,
    statement: cst.CSTNode,
    target: cst.CSTNode,
    helper: str,
    prefix: str,
) -> dict[cst.CSTNode, cst.CSTNode]:
    """Return the fix at the call: the wrapped call, or the statement that a directive ends."""
    layout = _Layout(
        context.indent_column(statement),
        context.module.default_indent,
        prefix,
        context.line_length,
        context.ruff_layout,
    )
    line = _statement_of_only(target, statement)
    if line is not None and line_pragma(line) is not None:
        wrapped = _wrapped_statement(line, target, call, helper, layout)
        if wrapped is not None:
            return {line: wrapped}
    replacement = _wrapped_call(
        call, helper, layout.column, layout.unit, prefix, layout.line_length
    )
    return {target: replacement}


def _statement_of_only(
    target: cst.CSTNode, statement: cst.CSTNode
) -> cst.SimpleStatementLine | None:
    """Return `statement` when `target`, or `await target`, is all that it does."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    expression = statement.body[0]
    if not isinstance(expression, cst.Expr):
        return None
    value = expression.value
    if value is target or isinstance(value, cst.Await) and value.expression is target:
        return statement
    return None


def _wrapped_statement(
    statement: cst.SimpleStatementLine,
    target: cst.CSTNode,
    call: cst.Call,
    helper: str,
    layout: _Layout,
) -> cst.SimpleStatementLine | None:
    """Return the fixed statement of one line that ends with a directive such as `# noqa`.

    The directive stays on the line that contains the call's code. The call
    stays on one line when it fits there with the comment, and when the
    formatter keeps such a line whole (black keeps `# type: ignore`).
    `ruff format` leaves its pragma comments out of the width. Otherwise,
    under black, the arguments go on a line of their own, which contains
    all the code of the old line, and the comment goes with them. Returns
    None when neither fits, under `ruff format` when the call does not fit
    on one line, or when the call keeps its own layout (`_wrapped_call`),
    so that the checker withholds a fix that splits the line.
    """
    method = call.func.with_changes(lpar=(), rpar=())
    arguments = [code_of(method), *map(_code_without_comma, call.args)]
    if _contains_hash(call, arguments) or any("\n" in item for item in arguments):
        return None
    trailing = statement.trailing_whitespace
    assert trailing.comment is not None
    comment = trailing.comment.value
    room = layout.line_length
    if formatter_counts_comment(comment, layout.ruff_layout):
        room -= len(trailing.whitespace.value) + len(comment)
    chosen = call_layout(
        layout.prefix, helper, arguments, column=layout.column, line_length=room
    )
    if formatter_keeps_line(comment, layout.ruff_layout):
        chosen = CallLayout.ONE_LINE
    if chosen is CallLayout.ONE_ARGUMENT_PER_LINE:
        return None
    if chosen is CallLayout.ARGUMENTS_ON_ONE_LINE and layout.ruff_layout:
        # `ruff format` puts each argument on a line of its own when a
        # comment ends a line inside the brackets.
        return None
    first = cst.Arg(value=method)
    wrapped = laid_out_call(cst.Name(helper), [first, *call.args], chosen, layout.unit)
    if chosen is CallLayout.ARGUMENTS_ON_ONE_LINE:
        # The comment moves from the end of the statement to the end of the
        # line of arguments, before the line break that precedes `)`.
        last = wrapped.args[-1]
        after = last.whitespace_after_arg
        assert isinstance(after, cst.ParenthesizedWhitespace)
        line_end = cst.TrailingWhitespace(
            whitespace=trailing.whitespace, comment=trailing.comment
        )
        last = last.with_changes(
            whitespace_after_arg=after.with_changes(first_line=line_end)
        )
        wrapped = wrapped.with_changes(args=[*wrapped.args[:-1], last])
        trailing = cst.TrailingWhitespace(newline=trailing.newline)
    fixed = replace_nodes(statement, {target: wrapped})
    return fixed.with_changes(trailing_whitespace=trailing)


def _code_without_comma(argument: cst.Arg) -> str:
    """Return the code of an argument without its comma and the whitespace after it.

    The code ends with them, so their code is cut off, which costs less
    than building the argument without them.
    """
    code = code_of(argument)
    end = len(code) - len(code_of(argument.whitespace_after_arg))
    if isinstance(argument.comma, cst.Comma):
        end -= len(code_of(argument.comma))
    return code[:end]


def _contains_hash(call: cst.Call, arguments: list[str]) -> bool:
    """Tell whether the code of `call` contains `#`, in a comment or a string.

    `arguments` is the code of the call's function and of each argument,
    without the comma and whitespace after it, which `_wrapped_call`
    prints anyway. Outside them only a comment can contain `#`, so the
    call is printed whole only when parentheses surround it or its function.
    """
    func = call.func
    if call.lpar or call.rpar or func.lpar or func.rpar:
        return "#" in code_of(call)
    whitespace = [call.whitespace_after_func, call.whitespace_before_args]
    for argument in call.args:
        if isinstance(argument.comma, cst.Comma):
            whitespace += [
                argument.comma.whitespace_before,
                argument.comma.whitespace_after,
            ]
        whitespace.append(argument.whitespace_after_arg)
    if any(_has_comment(item) for item in whitespace):
        return True
    return any("#" in argument for argument in arguments)


def _has_comment(whitespace: cst.BaseParenthesizableWhitespace) -> bool:
    # SimpleWhitespace, the other kind, never contains a comment.
    if not isinstance(whitespace, cst.ParenthesizedWhitespace):
        return False
    lines = [whitespace.first_line, *whitespace.empty_lines]
    return any(line.comment is not None for line in lines)


def laid_out_call(
    func: cst.Name, arguments: list[cst.Arg], layout: CallLayout, unit: str = INDENT
) -> cst.Call:
    """Return the call that parsing `format_call`'s code gives, for one-line arguments.

    Building the nodes costs less than printing and parsing the call. The
    line breaks indent by the block's indentation, as the parser marks
    them in an expression parsed alone, plus `unit`: the module's own
    indentation, so that a file indented with tabs gets no spaces.
    """
    last = len(arguments) - 1
    laid_out = []
    for number, argument in enumerate(arguments):
        if layout is CallLayout.ONE_ARGUMENT_PER_LINE:
            indent = unit if number < last else ""
            comma: cst.Comma | cst.MaybeSentinel = cst.Comma(
                whitespace_after=_line_break(indent)
            )
        else:
            comma = cst.MaybeSentinel.DEFAULT
            if number < last:
                comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        after: cst.BaseParenthesizableWhitespace = cst.SimpleWhitespace("")
        if layout is CallLayout.ARGUMENTS_ON_ONE_LINE and number == last:
            after = _line_break("")
        laid_out.append(argument.with_changes(comma=comma, whitespace_after_arg=after))
    before: cst.BaseParenthesizableWhitespace = cst.SimpleWhitespace("")
    if layout is not CallLayout.ONE_LINE:
        before = _line_break(unit)
    return cst.Call(func=func, args=laid_out, whitespace_before_args=before)


def _line_break(indent: str) -> cst.ParenthesizedWhitespace:
    return cst.ParenthesizedWhitespace(
        first_line=cst.TrailingWhitespace(),
        indent=True,
        last_line=cst.SimpleWhitespace(indent),
    )


def _one_argument_per_line(call: cst.Call) -> bool:
    if not call.args or not isinstance(
        call.whitespace_before_args, cst.ParenthesizedWhitespace
    ):
        return False
    for argument in call.args:
        comma = argument.comma
        if not isinstance(comma, cst.Comma):
            return False
        if not isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace):
            return False
    return True
