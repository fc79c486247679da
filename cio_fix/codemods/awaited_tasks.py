"""Tasks and awaitables through which a request handler waits for an async call (CIO304)."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from cio_fix.customerio import ClientCall, FunctionInfo
from cio_fix.metadata import code_of, quoted_code
from cio_fix.rules import FileContext

# Task groups (Python 3.11), whose `async with` block waits for every task
# created in it when it ends, and raises the failures of the tasks.
TASK_GROUPS = frozenset({"asyncio.TaskGroup", "asyncio.taskgroups.TaskGroup"})


@dataclass(frozen=True)
class AwaitedTask:
    """A task group's `create_task` or an awaited `asyncio.gather()` given an async call."""

    # `tg.create_task(...)` or `asyncio.gather(...)`.
    starter: cst.Call
    # The code whose end raises the call's failure in the handler: the
    # task group's `async with` statement, or the `gather` call.
    raiser: cst.CSTNode
    # Whether it raises the failure: `gather(..., return_exceptions=True)`
    # returns it instead.
    raises: bool
    # The name bound to the task group, or None for `gather`.
    group: str | None = None

    @property
    def wait(self) -> str:
        """The place where the handler waits for the call, as a message words it."""
        if self.group is None:
            return "in the awaited `asyncio.gather()`"
        return f"at the end of the `async with` block of task group `{self.group}`"


def awaited_task(
    context: FileContext, call: ClientCall, function: FunctionInfo
) -> AwaitedTask | None:
    """Return the task group or `gather` through which `function` waits for an async call.

    That is `tg.create_task(cio.track(...))` inside `async with
    asyncio.TaskGroup() as tg:` of the same function, or
    `asyncio.gather(..., cio.track(...), ...)` under `await`. None for any
    other call that is not awaited: `asyncio.create_task()` and
    `asyncio.ensure_future()` run it apart from the request.
    NOTE: anyio's task groups wait for their tasks too, but cio-fix does
    not recognise them: `tg.start_soon(cio.track, ...)` passes the method,
    so it is not read as a Customer.io call.
    """
    argument = context.parent(call.node)
    if not isinstance(argument, cst.Arg) or argument.keyword is not None:
        return None
    if argument.star:
        return None
    starter = context.parent(argument)
    if not isinstance(starter, cst.Call):
        return None
    func = starter.func
    if isinstance(func, cst.Attribute) and func.attr.value == "create_task":
        if starter.args[0] is not argument:
            return None
        return _task_group_wait(context, starter, function)
    if context.index.qualified_name(func) != "asyncio.gather":
        return None
    if not isinstance(context.parent(starter), cst.Await):
        return None
    return AwaitedTask(starter, starter, raises=not _returns_exceptions(starter))


def _task_group_wait(
    context: FileContext, create_task: cst.Call, function: FunctionInfo
) -> AwaitedTask | None:
    """Return the wait for `tg.create_task(...)` in the `async with` block that binds `tg`.

    `function` must bind `tg` only there, so that the name is the task group.
    """
    assert isinstance(create_task.func, cst.Attribute)
    group = create_task.func.value
    scope = function.scope
    if not isinstance(group, cst.Name) or scope is None:
        return None
    if len(scope.assignments.get(group.value, [])) != 1:
        return None
    for ancestor in context.ancestors(create_task):
        if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
            return None
        if not isinstance(ancestor, cst.With) or ancestor.asynchronous is None:
            continue
        for item in ancestor.items:
            if _binds_task_group(context, item, group.value):
                return AwaitedTask(create_task, ancestor, True, group.value)
    return None


def _binds_task_group(context: FileContext, item: cst.WithItem, name: str) -> bool:
    """Tell whether a `with` item is `asyncio.TaskGroup() as name`."""
    bound = item.asname.name if item.asname is not None else None
    return (
        isinstance(bound, cst.Name)
        and bound.value == name
        and isinstance(item.item, cst.Call)
        and context.index.qualified_name(item.item.func) in TASK_GROUPS
    )


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

    The fix replaces `tg.create_task(cio.track(...))`, or `await
    asyncio.gather(cio.track(...))`, with the helper's call, so the starter
    must be a statement of its own and take no other argument.
    """
    starter = task.starter
    if not context.result_discarded(starter):
        if task.group is not None:
            return "the task that runs it is used"
        return "the results of `asyncio.gather()` are used"
    statement = call.site.statement
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) > 1:
        return "it shares its line with other code; put it on a line of its own"
    others = [argument for argument in starter.args if argument.value is not call.node]
    if task.group is None and any(argument.keyword is None for argument in others):
        return (
            "`asyncio.gather()` waits for it together with other awaitables;"
            " await it in a statement of its own"
        )
    starter_code = quoted_code(starter.func)
    if others:
        return f"`{starter_code}()` takes other arguments, which the fix would drop"
    # The call keeps its own comments, but the fix drops the starter's.
    outside = code_of(starter).replace(code_of(call.node), "", 1)
    if "#" in outside:
        return f"the fix would drop the comment inside `{starter_code}()`"
    return None
