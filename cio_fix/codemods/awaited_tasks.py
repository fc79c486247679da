"""Tasks and awaitables through which a request handler waits for an async call (CIO304)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import libcst as cst

from cio_fix.codemods.bindings import plain_assignment_target
from cio_fix.customerio import Assignment, ClientCall, FunctionInfo
from cio_fix.metadata import code_of, quoted_code
from cio_fix.rules import FileContext
from cio_fix.walk import find_all

# Task groups (Python 3.11), whose `async with` block waits for every task
# created in it when it ends, and raises the failures of the tasks.
TASK_GROUPS = frozenset({"asyncio.TaskGroup", "asyncio.taskgroups.TaskGroup"})
# anyio's task groups, which wait for their tasks in the same way and raise
# their failures (in an ExceptionGroup from anyio 4 on).
ANYIO_TASK_GROUPS = frozenset({"anyio.create_task_group"})
# Functions that start a coroutine as a task that runs apart from the
# request unless the handler awaits the task.
TASK_STARTERS = frozenset({"asyncio.create_task", "asyncio.ensure_future"})


class Starter(enum.Enum):
    """The code that hands the call's coroutine to the event loop."""

    # `tg.create_task(cio.track(...))` of an asyncio task group.
    TASK_GROUP = "task group"
    # `tg.start_soon(cio.track, ...)` of an anyio task group.
    ANYIO_TASK_GROUP = "anyio task group"
    # `await asyncio.gather(..., cio.track(...), ...)`.
    GATHER = "gather"
    # `await asyncio.wait_for(cio.track(...), timeout)`.
    WAIT_FOR = "wait_for"
    # `task = asyncio.create_task(cio.track(...))`, then `await task`, or an
    # awaited `asyncio.gather(task)`, `asyncio.wait([task])` or
    # `asyncio.wait_for(task, ...)`.
    STORED_TASK = "stored task"


@dataclass(frozen=True)
class AwaitedTask:
    """A task or awaitable through which the handler waits for an async call."""

    kind: Starter
    # The call that starts or wraps the call's coroutine: `tg.create_task(...)`,
    # `tg.start_soon(...)`, `asyncio.gather(...)`, `asyncio.wait_for(...)` or
    # `asyncio.create_task(...)`.
    starter: cst.Call
    # The code whose end raises the call's failure in the handler: the
    # task group's `async with` statement, the `gather` or `wait_for`
    # call, or the first await of a stored task that raises it.
    raiser: cst.CSTNode
    # Whether it raises the failure: `gather(..., return_exceptions=True)`
    # returns it instead, and `asyncio.wait()` returns the task.
    raises: bool
    # The place where the handler waits for the call, as a message words it.
    wait: str
    # The name bound to the task group or to the stored task.
    name: str | None = None
    # The `await task` and `await asyncio.gather(task)` expressions of a
    # stored task, in source order.
    awaits: tuple[cst.Await, ...] = ()
    # How many times the handler names the stored task, besides binding it.
    # With the name bound again, only the uses that may read this task count.
    uses: int = 0
    # Whether the handler binds the stored task's name again where cio-fix
    # cannot tell which uses read this task (`_rebinding_known`).
    rebound: bool = False


def awaited_task(
    context: FileContext, call: ClientCall, function: FunctionInfo
) -> AwaitedTask | None:
    """Return the task or awaitable through which `function` waits for an async call.

    That is `tg.create_task(cio.track(...))` inside `async with
    asyncio.TaskGroup() as tg:` of the same function, `tg.start_soon(
    cio.track, ...)` inside `async with anyio.create_task_group() as tg:`,
    `asyncio.gather(..., cio.track(...), ...)` or `asyncio.wait_for(
    cio.track(...), ...)` under `await`, and `task =
    asyncio.create_task(cio.track(...))` when the function then awaits
    `task`, also through `gather`, `wait` or `wait_for` (`await
    asyncio.wait([task])`). None for any other call that is not awaited.
    A task of `asyncio.create_task()` or `asyncio.ensure_future()` that the
    function does not await runs apart from the request. A task group that
    the function does not open itself may wait for its tasks after the
    request.
    """
    if call.started:
        return _task_group_wait(context, call.node, function, Starter.ANYIO_TASK_GROUP)
    argument = context.parent(call.node)
    if not isinstance(argument, cst.Arg) or argument.keyword is not None:
        return None
    if argument.star:
        return None
    starter = context.parent(argument)
    if not isinstance(starter, cst.Call):
        return None
    func = starter.func
    qualified = context.index.qualified_name(func)
    if qualified in TASK_STARTERS:
        if starter.args[0] is not argument:
            return None
        return _stored_task_wait(context, call, starter, function)
    if isinstance(func, cst.Attribute) and func.attr.value == "create_task":
        if starter.args[0] is not argument:
            return None
        return _task_group_wait(context, starter, function, Starter.TASK_GROUP)
    if qualified not in ("asyncio.gather", "asyncio.wait_for"):
        return None
    if not isinstance(context.parent(starter), cst.Await):
        return None
    if qualified == "asyncio.wait_for":
        if starter.args[0] is not argument:
            return None
        wait = "in the awaited `asyncio.wait_for()`"
        return AwaitedTask(Starter.WAIT_FOR, starter, starter, True, wait)
    raises = not _returns_exceptions(starter)
    wait = "in the awaited `asyncio.gather()`"
    return AwaitedTask(Starter.GATHER, starter, starter, raises, wait)


def _task_group_wait(
    context: FileContext, starter: cst.Call, function: FunctionInfo, kind: Starter
) -> AwaitedTask | None:
    """Return the wait for `tg.create_task(...)` in the `async with` block that binds `tg`.

    The same goes for anyio's `tg.start_soon(...)`. `function` must bind
    `tg` only there, so that the name is the task group.
    """
    assert isinstance(starter.func, cst.Attribute)
    group = starter.func.value
    scope = function.scope
    if not isinstance(group, cst.Name) or scope is None:
        return None
    if len(scope.assignments.get(group.value, [])) != 1:
        return None
    constructors = TASK_GROUPS if kind is Starter.TASK_GROUP else ANYIO_TASK_GROUPS
    for ancestor in context.ancestors(starter):
        if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
            return None
        if not isinstance(ancestor, cst.With) or ancestor.asynchronous is None:
            continue
        for item in ancestor.items:
            if _binds_task_group(context, item, group.value, constructors):
                wait = (
                    "at the end of the `async with` block of task group"
                    f" `{group.value}`"
                )
                return AwaitedTask(kind, starter, ancestor, True, wait, group.value)
    return None


def _binds_task_group(
    context: FileContext, item: cst.WithItem, name: str, constructors: frozenset[str]
) -> bool:
    """Tell whether a `with` item is `asyncio.TaskGroup() as name`, or another of `constructors`."""
    bound = item.asname.name if item.asname is not None else None
    return (
        isinstance(bound, cst.Name)
        and bound.value == name
        and isinstance(item.item, cst.Call)
        and context.index.qualified_name(item.item.func) in constructors
    )


def _stored_task_wait(
    context: FileContext, call: ClientCall, starter: cst.Call, function: FunctionInfo
) -> AwaitedTask | None:
    """Return the wait for `task = asyncio.create_task(...)` when `function` then awaits `task`.

    `function` must await `task` in its own body after that statement: an
    `await task` in a function defined in it may run after the request. An
    awaited `asyncio.gather(task)`, `asyncio.wait([task])` or
    `asyncio.wait_for(task, ...)` awaits it too. When `function` binds
    `task` again, only the awaits before its next binding count.
    """
    binding = context.parent(starter)
    target = plain_assignment_target(binding)
    scope = function.scope
    statement = call.site.statement
    if target is None or scope is None or statement is None:
        return None
    bindings = scope.assignments.get(target.value, [])
    uses = _name_uses(context, target, function)
    rebound = False
    if len(bindings) > 1:
        later = _next_binding(context, bindings, statement)
        if later is not None:
            uses = [use for use in uses if use is not plain_assignment_target(later)]
        rebound = not _rebinding_known(
            context, target.value, statement, later, function, uses
        )
        # The uses that may read this task: a use after the next binding
        # reads that binding's value.
        uses = [
            use
            for use in uses
            if context.follows(use, statement)
            and (later is None or context.comes_before(use, later))
        ]
    awaits = []
    for use in uses:
        awaited = _task_await(context, use)
        if awaited is None:
            continue
        if _enclosing_function(context, awaited) is not function.node:
            continue
        if context.follows(awaited, statement):
            awaits.append(awaited)
    if not awaits:
        return None
    raising = [awaited for awaited in awaits if _await_raises(context, awaited)]
    raiser = raising[0] if raising else awaits[0]
    return AwaitedTask(
        Starter.STORED_TASK,
        starter,
        raiser,
        bool(raising),
        _stored_task_words(context, target.value, awaits[0]),
        target.value,
        tuple(awaits),
        len(uses),
        rebound,
    )


def _task_await(context: FileContext, use: cst.Name) -> cst.Await | None:
    """Return the `await` that waits for a stored task through this use of its name, if any.

    That is `await task`, and an awaited `asyncio.gather(..., task, ...)`,
    `asyncio.wait_for(task, ...)` or `asyncio.wait([..., task, ...])`.
    """
    parent = context.parent(use)
    if isinstance(parent, cst.Await):
        return parent
    if isinstance(parent, cst.Element):
        # An item of the collection that `asyncio.wait()` takes.
        collection = context.parent(parent)
        if not isinstance(collection, (cst.List, cst.Set, cst.Tuple)):
            return None
        argument = context.parent(collection)
        functions = ("asyncio.wait",)
    else:
        argument = parent
        functions = ("asyncio.gather", "asyncio.wait_for")
    if not isinstance(argument, cst.Arg) or argument.keyword or argument.star:
        return None
    waiting = context.parent(argument)
    if not isinstance(waiting, cst.Call):
        return None
    qualified = context.index.qualified_name(waiting.func)
    if qualified not in functions:
        return None
    # `wait` and `wait_for` take the task, or the collection, first.
    if qualified != "asyncio.gather" and waiting.args[0] is not argument:
        return None
    awaited = context.parent(waiting)
    return awaited if isinstance(awaited, cst.Await) else None


def _await_raises(context: FileContext, awaited: cst.Await) -> bool:
    """Tell whether an await of a stored task raises the task's failure.

    `asyncio.wait()` returns the task, and `gather(..., return_exceptions=
    True)` returns its failure.
    """
    waiting = awaited.expression
    if not isinstance(waiting, cst.Call):
        return True
    qualified = context.index.qualified_name(waiting.func)
    if qualified == "asyncio.wait":
        return False
    if qualified == "asyncio.gather":
        return not _returns_exceptions(waiting)
    return True


def _stored_task_words(context: FileContext, name: str, awaited: cst.Await) -> str:
    line = context.message_line(awaited)
    waiting = awaited.expression
    if not isinstance(waiting, cst.Call):
        return f"when it awaits `{name}` on line {line}"
    through = quoted_code(waiting.func)
    return f"when it awaits `{name}` through `{through}()` on line {line}"


def _next_binding(
    context: FileContext, bindings: list[Assignment], statement: cst.CSTNode
) -> cst.CSTNode | None:
    """Return the node that binds the name first after `statement`, if any.

    The node is the one that `Assignment.statement` records: the `Assign`
    of `name = value`, the `for` statement of a loop target, and so on.
    """
    first = None
    for assignment in bindings:
        node = assignment.statement
        if not context.follows(node, statement):
            continue
        if first is None or context.comes_before(node, first):
            first = node
    return first


# Statements that may run the code after a block's statement again, or after
# a failure that skipped the rest of the block.
_BLOCK_REPEATERS = (cst.For, cst.While, cst.Try, cst.TryStar, cst.With)


def _rebinding_known(
    context: FileContext,
    name: str,
    statement: cst.CSTNode,
    later: cst.CSTNode | None,
    function: FunctionInfo,
    uses: list[cst.Name],
) -> bool:
    """Tell whether only the uses between `statement` and `later` may read the task it binds.

    `later` is the next binding of `name`, or None when there is none. It
    must be `name = value` in the same block as `statement`, so that it
    runs whenever the function goes on after that block's earlier
    statements. No loop, `try` or `with` of the function may hold the
    block, because they may run code after `later` that an earlier round
    or a failure left the task to. The function may not delete the name.
    Every other use must come before `statement` or after `later`, in the
    function's own body, because a function defined in it reads the name
    when it runs.
    """
    block = context.parent(statement)
    if later is not None:
        line = context.parent(later)
        if plain_assignment_target(later) is None or context.parent(line) is not block:
            return False
    if function.scope is None or name in function.scope.deletions:
        return False
    for ancestor in context.ancestors(statement):
        if ancestor is function.node:
            break
        if isinstance(ancestor, _BLOCK_REPEATERS):
            return False
    for use in uses:
        if _enclosing_function(context, use) is not function.node:
            return False
        before = context.comes_before(use, statement)
        between = context.follows(use, statement) and (
            later is None or context.comes_before(use, later)
        )
        after = later is not None and context.follows(use, later)
        if not (before or between or after):
            return False
    return True


def _name_uses(
    context: FileContext, target: cst.Name, function: FunctionInfo
) -> list[cst.Name]:
    """Return the `Name` nodes in `function` that spell `target`, but `target` itself."""
    return [
        name
        for name in context.names_with_value(target.value)
        if name is not target and function.node in context.ancestors(name)
    ]


def _enclosing_function(
    context: FileContext, node: cst.CSTNode
) -> cst.FunctionDef | cst.Lambda | None:
    for ancestor in context.ancestors(node):
        if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
            return ancestor
    return None


def _returns_exceptions(gather: cst.Call) -> bool:
    """Tell whether `asyncio.gather()` may return failures instead of raising them.

    Any `return_exceptions` but a literal `False` may.
    """
    for argument in gather.args:
        keyword = argument.keyword
        if keyword is None or keyword.value != "return_exceptions":
            continue
        value = argument.value
        return not (isinstance(value, cst.Name) and value.value == "False")
    return False


def task_reason(
    context: FileContext, call: ClientCall, task: AwaitedTask
) -> str | None:
    """Return why the fix cannot replace the statement that starts the call's task, if it cannot.

    The fix replaces `tg.create_task(cio.track(...))`, `tg.start_soon(
    cio.track, ...)`, or the call in `await asyncio.gather(cio.track(...))`
    or `await asyncio.wait_for(cio.track(...), ...)`, with the helper's
    call, so the starter must be a statement of its own and take no other
    argument. For a stored task, the fix replaces the assignment and
    removes the `await task` statement.
    """
    if task.kind is Starter.STORED_TASK:
        return _stored_task_reason(context, call, task)
    starter = task.starter
    if not context.result_discarded(starter):
        return _result_used_reason(task)
    statement = call.site.statement
    if not _alone_on_line(statement):
        return "it shares its line with other code; put it on a line of its own"
    if task.kind is Starter.ANYIO_TASK_GROUP:
        return _started_reason(context, starter)
    others = [argument for argument in starter.args if argument.value is not call.node]
    if task.kind is Starter.GATHER and any(
        argument.keyword is None for argument in others
    ):
        return (
            "`asyncio.gather()` waits for it together with other awaitables;"
            " await it in a statement of its own"
        )
    if task.kind is Starter.WAIT_FOR:
        others = [argument for argument in others if not _is_timeout(argument)]
    return _starter_code_reason(call, starter, others)


def _result_used_reason(task: AwaitedTask) -> str:
    if task.kind is Starter.GATHER:
        return "the results of `asyncio.gather()` are used"
    if task.kind is Starter.WAIT_FOR:
        return "the result of `asyncio.wait_for()` is used"
    return "the task that runs it is used"


def _alone_on_line(statement: cst.CSTNode | None) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1


def _is_timeout(argument: cst.Arg) -> bool:
    """Tell whether an argument of `asyncio.wait_for()` is a timeout that the fix may drop.

    The timeout bounds how long the handler waits, and the handler no
    longer waits. It must make no call, so that dropping it changes nothing
    else.
    """
    keyword = argument.keyword
    if keyword is not None and keyword.value != "timeout":
        return False
    if argument.star:
        return False
    return not find_all(argument.value, cst.Call)


def _started_reason(context: FileContext, start_soon: cst.Call) -> str | None:
    """Return why `tg.start_soon(cio.track, ...)` cannot become the helper's call, if it cannot.

    The arguments after the method are the method's, but a keyword
    argument (`name=`) is `start_soon`'s own.
    """
    # NOTE: code of anyio may run on trio also where the module does not
    # import trio (hypercorn's trio workers), and there the task helper
    # fails, because it needs asyncio's running loop.
    if any(_is_trio(name) for name in context.index.imports.values()):
        return (
            "this module imports trio, and the background helper needs"
            " asyncio's event loop"
        )
    starter_code = quoted_code(start_soon.func)
    if any(argument.keyword is not None for argument in start_soon.args):
        return f"`{starter_code}()` takes other arguments, which the fix would drop"
    # The comment after the method's comma would go with the method.
    if "#" in code_of(start_soon.args[0]):
        return f"the fix would drop the comment inside `{starter_code}()`"
    return None


def _is_trio(qualified: str) -> bool:
    return qualified.partition(".")[0] == "trio"


def _starter_code_reason(
    call: ClientCall, starter: cst.Call, others: list[cst.Arg]
) -> str | None:
    starter_code = quoted_code(starter.func)
    if others:
        return f"`{starter_code}()` takes other arguments, which the fix would drop"
    # The call keeps its own comments, but the fix drops the starter's.
    outside = code_of(starter).replace(code_of(call.node), "", 1)
    if "#" in outside:
        return f"the fix would drop the comment inside `{starter_code}()`"
    return None


def _stored_task_reason(
    context: FileContext, call: ClientCall, task: AwaitedTask
) -> str | None:
    """Return why the fix cannot start the helper in place of a stored task, if it cannot.

    The fix replaces `task = asyncio.create_task(...)` with the helper's
    call and removes the one `await task` statement, so the handler must
    use the task for nothing else.
    """
    if not _alone_on_line(call.site.statement):
        return "it shares its line with other code; put it on a line of its own"
    starter = task.starter
    others = [argument for argument in starter.args if argument.value is not call.node]
    reason = _starter_code_reason(call, starter, others)
    if reason is not None:
        return reason
    name = task.name
    assert name is not None
    if task.rebound:
        return (
            f"the handler binds `{name}` again, and cio-fix cannot tell which"
            f" uses of `{name}` read this task"
        )
    awaited = task.awaits[0]
    waiting = _await_words(awaited, name)
    if task.uses > 1:
        return f"the handler uses `{name}` for more than `{waiting}`"
    if isinstance(awaited.expression, cst.Call):
        reason = _waiting_call_reason(context, awaited.expression, name)
        if reason is not None:
            return reason
    if not isinstance(context.parent(awaited), cst.Expr):
        return f"the result of `{waiting}` is used"
    statement = context.parent(context.parent(awaited))
    assert statement is not None
    if not _alone_on_line(statement):
        return f"`{waiting}` shares its line with other code"
    block = context.parent(statement)
    if not isinstance(block, cst.IndentedBlock) or len(block.body) == 1:
        return f"removing `{waiting}` would leave its block empty"
    if "#" in code_of(statement):
        return f"the fix would drop the comment at `{waiting}`"
    return None


def _await_words(awaited: cst.Await, name: str) -> str:
    """Return how a message names an await of a stored task, such as `await asyncio.gather(...)`."""
    waiting = awaited.expression
    if isinstance(waiting, cst.Call):
        return f"await {quoted_code(waiting.func)}(...)"
    return f"await {name}"


def _waiting_call_reason(
    context: FileContext, waiting: cst.Call, name: str
) -> str | None:
    """Return why the fix cannot remove the statement that awaits `gather(task)`, if it cannot.

    The fix removes the whole statement, so the call must wait for the
    stored task alone, and each argument that goes with it must make no
    call. A `wait_for` timeout goes too, because the wait it bounded is gone.
    """
    code = quoted_code(waiting.func)
    others = [
        argument for argument in waiting.args if not _passes_only_task(argument, name)
    ]
    if context.index.qualified_name(waiting.func) == "asyncio.wait_for":
        others = [argument for argument in others if not _is_timeout(argument)]
    if any(argument.keyword is None for argument in others):
        return (
            f"`{code}()` waits for it together with other awaitables, which the"
            " handler must still wait for"
        )
    if any(find_all(argument.value, cst.Call) for argument in others):
        return f"`{code}()` takes other arguments, which the fix would drop"
    return None


def _passes_only_task(argument: cst.Arg, name: str) -> bool:
    """Tell whether an argument is the task `name`, or a collection of only that task."""
    if argument.keyword is not None or argument.star:
        return False
    value = argument.value
    if isinstance(value, (cst.List, cst.Set, cst.Tuple)):
        if len(value.elements) != 1 or not isinstance(value.elements[0], cst.Element):
            return False
        value = value.elements[0].value
    return isinstance(value, cst.Name) and value.value == name
