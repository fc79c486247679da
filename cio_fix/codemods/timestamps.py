"""Timestamps sent in the wrong unit (CIO103)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import libcst as cst
from libcst.metadata import ExpressionContext

from cio_fix.chains import operands
from cio_fix.customerio import (
    Api,
    Assignment,
    ClientCall,
    FileIndex,
    Scope,
    bound_name,
    dotted_name,
    literal_value,
    subscript_key,
)
from cio_fix.events import project_constant
from cio_fix.metadata import code_of, is_target
from cio_fix.model import Finding, Fix, FixSafety, with_note
from cio_fix.rules import FileContext, Rule
from cio_fix.walk import find_all

# Attribute names that Customer.io reads as dates when they hold Unix seconds.
TIMESTAMP_NAME = re.compile(r"(?:_at|_time|_date)$|^(?:timestamp|last_used)$")
INT_WRAPPERS = frozenset({"int", "round", "math.floor", "math.ceil", "math.trunc"})
SECONDS_FUNCTIONS = frozenset({"time.time", "time.mktime", "calendar.timegm"})
MILLISECOND_NAME = re.compile(
    r"(?:^|_)(?:ms|millis|milliseconds)$|[a-z]Ms$", re.IGNORECASE
)
# Integer literals of 13 digits are milliseconds since 1970 (years 2001-2286).
MILLISECOND_LITERALS = range(10**12, 10**13)
# Methods with a `data` dict of event attributes, and methods whose keyword
# arguments are profile, event or device attributes.
DATA_METHODS = ("track", "track_anonymous", "backfill")
ATTRIBUTE_METHODS = (
    "identify",
    "track",
    "track_anonymous",
    "backfill",
    "pageview",
    "add_device",
)
# dict methods that add, replace or remove keys.
DICT_CHANGES = frozenset({"update", "setdefault", "pop", "popitem", "clear"})
# How many names deep a value is followed to a millisecond form: `b = a + 60`.
MAX_DEPTH = 5
# The reason that a finding gives for no fix where `int` may not be the builtin.
INT_SHADOWED_REASON = (
    "this scope or one around it binds `int`, and cio-fix fixes timestamps only"
    " where `int` is the builtin"
)
# The reason that a finding on arithmetic over milliseconds gives for no fix.
ARITHMETIC_REASON = (
    "compute it in seconds: cio-fix rewrites a millisecond value only where it is"
    " sent as it is"
)
# The note on a fix for an attribute whose name does not say it is a date.
UNNAMED_DATE_NOTE = (
    "unsafe: the name does not say that it is a date, so check that nothing"
    " reads it in milliseconds"
)


@dataclass
class Slot:
    """One place in a Track API call where Customer.io expects Unix seconds."""

    name: str
    value: cst.BaseExpression
    # The SDK's own `timestamp` parameter, which customerio 3.x passes
    # through int() itself; a float there is harmless.
    is_parameter: bool = False
    # Why no fix may change the value: it sits in a dict that other code
    # reads too, so a fix would change what that code receives.
    withheld: str | None = None
    # An attribute not named like a date (`last_seen`) that is sent the
    # current time in milliseconds. Its fix needs `--unsafe-fixes`.
    unnamed: bool = False


@dataclass
class Conversion:
    """How to turn a millisecond (or float) expression into integer seconds."""

    target: cst.BaseExpression
    replacement: cst.BaseExpression
    # "milliseconds", or "float" for a bare float `time.time()`.
    problem: str
    # Whether the millisecond value is an int, which decides how a variable
    # holding it is divided at the slot: `// 1000` or `int(... / 1000)`.
    integer: bool


class MillisecondTimestamp(Rule):
    """What it does:
    Finds timestamps sent to the Track API in milliseconds (or as floats,
    `time.time()` and `dt.timestamp()`):
    `time.time() * 1000`, `dt.timestamp() * 1000`, `time.time_ns() //
    1_000_000` and 13-digit literals, also for a time moved by a literal
    number of seconds (`(time.time() + 14 * 86400) * 1000`) and inside one
    or more of `int`, `round`, `math.floor`, `math.ceil` and `math.trunc`
    (`int(round(time.time() * 1000))`). It looks at `timestamp=` of track,
    track_anonymous and backfill, at identify and event-data attributes
    named `*_at`, `*_time`, `*_date` or `timestamp`, and at add_device's
    `last_used`. An attribute of another name that is sent the current
    time in milliseconds as it is computed (`last_seen=int(time.time() *
    1000)`) is reported too, with an unsafe fix, because only its value
    shows that it is a date. So is a local variable that one plain
    assignment of the same function binds to such a computation, in the
    block that contains the call or one around it, ahead of the call
    (`now = int(time.time() * 1000)` and then `last_seen=now`). A name for
    milliseconds (`started_ms`) and a 13-digit literal, which may be an
    ID, are left alone there. In `timestamp=` only milliseconds count,
    because customerio 3.x passes a float there through `int()` itself.
    The value of `timestamp=` or of a date-named attribute may reach the
    call through a name that one assignment binds: a local variable, a
    variable of an enclosing function or a module constant. It may also
    be a call of a millisecond helper: a function defined once at module
    level, neither async, decorated nor a generator, whose every `return`
    gives one of the forms above and whose body ends with such a `return`
    (`created_at=now_ms()` after `def now_ms(): return int(time.time() *
    1000)`), in this module or imported from another module of the project
    (`from app.timeutil import now_ms`). That module is read for it even
    when it never mentions Customer.io. A 13-digit constant that another
    module of the project defines counts too (`launched_at=LAUNCH_MS`
    after `from app.constants import LAUNCH_MS`), also in a `data` or `**` dict and
    through a variable, as a constant of the same module does. A dict
    among the operands of `or` and `and` (`data=extra or {"pinged_at":
    ...}`), or in a branch of a conditional expression (`data=extra if
    extra else {...}`), is checked as a dict sent on its own.
    A `functools.partial` of those methods counts as the call it makes.
    So does a call of a name bound once to such a partial in the same
    module (`_identify(id=uid, last_login_at=now_ms)` after `_identify =
    functools.partial(cio.identify)`), with the caller's arguments. So does
    a method handed with its arguments to a function that runs it later:
    `tasks.add_task(cio.track, ...)` of FastAPI and Starlette,
    `executor.submit(...)`, `asyncio.to_thread(...)` and
    `loop.run_in_executor(executor, cio.track, ...)`.

    Why is this bad?
    The Track API reads timestamps as integer Unix seconds (customerio 1.x
    to 3.x). It accepts milliseconds without an error and stores a date tens
    of thousands of years ahead, so segments and campaigns that compare the
    date never match. A later identify in seconds corrects a profile
    attribute, but an event keeps the timestamp it was sent with.

    Example:
        cio.identify(id=user.id, created_at=int(time.time() * 1000))

    Use instead:
        cio.identify(id=user.id, created_at=int(time.time()))

    Fix safety:
    Safe. The value keeps its meaning and loses the sub-second part, which
    the Track API drops anyway. The wrappers stay around the seconds:
    `int(round(time.time() * 1000))` becomes `int(round(time.time()))`.
    A variable used only in timestamp slots is converted where it is
    assigned; one used elsewhere too, or bound by
    `:=` in a condition, is divided at the slot (`created_at=now_ms //
    1000`). A sum that reads the variable (`started + 14 * 86_400_000`) is
    such a use, so no fix adds milliseconds to seconds. A local variable
    sent under a name that is not a date name gets the unsafe fix of its
    assignment only when nothing else reads it. Otherwise, or when its
    own name is a name for milliseconds (`now_ms`), it is reported without
    a fix. A call of a millisecond helper is divided at the slot
    (`created_at=now_ms() // 1000`), so the helper keeps its meaning for
    other callers. Each branch of a conditional expression is fixed on its
    own. Milliseconds inside
    arithmetic (`time.time() * 1000 + delay_ms`, also through a variable:
    `started + 14 * 86_400_000`, or `ts += 60_000` before `timestamp=ts`)
    or behind `:=` are reported without a fix. So is a constant of another
    module, which is best defined in seconds there: a division at the call
    would go wrong once that module defines it in seconds. A dict that
    other code reads too, or a module-level dict, is reported without a
    fix, because the fix would change what that code receives. Durations
    such as `duration_ms` or `time.time() * 1000 - started_ms`,
    milliseconds never sent to Customer.io, and Data Pipelines calls (which
    take `datetime` objects) are not reported. Where `int` at the call may
    not be the builtin, the finding has no fix: the module binds the name
    (or a `global` statement lets a function bind it), or so does the
    function around the call, an enclosing function, or the class body
    that contains the call. A binding in another function does not count.
    """

    code = "CIO103"
    name = "millisecond-timestamp"
    summary = (
        "millisecond or float timestamps sent where the Track API expects Unix seconds"
    )
    fix_safety = FixSafety.SAFE

    def check(self, context: FileContext) -> Iterator[Finding]:
        index = context.index
        shared_fixes: dict[int, Fix] = {}
        # A dict that two calls send has its entries reported once.
        seen: set[int] = set()
        for call in _track_calls(index):
            if call.api is not Api.TRACK:
                continue
            for slot in _slots(context, call):
                if id(slot.value) in seen:
                    continue
                seen.add(id(slot.value))
                finding = self._check_slot(context, call, slot, shared_fixes)
                if finding is None:
                    continue
                if slot.withheld is not None and finding.fix is not None:
                    finding.fix = None
                    finding.message = with_note(
                        finding.message, f"not fixed: {slot.withheld}"
                    )
                if slot.unnamed and finding.fix is not None:
                    finding.fix = replace(finding.fix, safety=FixSafety.UNSAFE)
                    finding.message = with_note(finding.message, UNNAMED_DATE_NOTE)
                # A fix writes `int(...)`, or reads an `int(...)` of the code
                # as the builtin. It changes the call, or the assignment of a
                # variable in a scope that the call's name lookup searches, so
                # a binding of `int` that reaches the changed code reaches the
                # call too.
                shadowed = index.may_shadow_builtin("int", call.site.scope)
                if finding.fix is not None and shadowed:
                    finding.fix = None
                    finding.message = with_note(
                        finding.message, f"not fixed: {INT_SHADOWED_REASON}"
                    )
                yield finding

    def _check_slot(
        self,
        context: FileContext,
        call: ClientCall,
        slot: Slot,
        shared_fixes: dict[int, Fix],
    ) -> Finding | None:
        index = context.index
        scope = call.site.scope
        allow_float = not slot.is_parameter
        direct = convert(index, slot.value, allow_float)
        if direct is not None:
            fix = Fix(FixSafety.SAFE, {direct.target: direct.replacement})
            return context.finding(
                self, slot.value, _message(slot.name, direct.problem), fix
            )
        if isinstance(slot.value, cst.IfExp):
            return self._check_branches(context, slot)
        integer = _helper_milliseconds(context, slot.value, scope)
        if integer is not None:
            # The helper keeps its meaning for other callers, so the slot divides.
            fix = Fix(FixSafety.SAFE, {slot.value: _divide(slot.value, integer)})
            return context.finding(
                self, slot.value, _message(slot.name, "milliseconds"), fix
            )
        if _hides_milliseconds(context, slot.value, scope):
            return self._report(context, slot, ARITHMETIC_REASON)
        module = _imported_milliseconds(context, slot.value, scope)
        if module is not None:
            reason = (
                f"define `{code_of(slot.value)}` in seconds in `{module}`: cio-fix"
                " does not divide it here, because the division would go wrong once"
                " that module defines it in seconds"
            )
            return self._report(context, slot, reason)

        if not isinstance(slot.value, cst.Name):
            return None
        name = slot.value.value
        if _moved_milliseconds(context, name, scope, depth=0):
            reason = (
                f"compute it in seconds: `{name}` is changed after it is assigned,"
                " and cio-fix converts a millisecond variable only where one"
                " assignment gives its value"
            )
            return self._report(context, slot, reason)
        assignment = only_binding(index, name, scope)
        if assignment is None or assignment.value is None:
            return None
        # A parameter's default does not tell what callers pass.
        if isinstance(assignment.statement, cst.Param):
            return None
        converted = convert(index, assignment.value, allow_float)
        if converted is None:
            # A variable bound to arithmetic: `ends = started + 14 * 86_400_000`.
            if _hides_milliseconds(context, assignment.value, assignment.scope):
                return self._report(context, slot, ARITHMETIC_REASON)
            return None

        if slot.unnamed:
            return self._check_unnamed_local(context, slot, assignment, converted)
        message = _message(slot.name, converted.problem)
        # A variable named for milliseconds (`now_ms`) keeps its meaning and
        # is divided at the slot; so is one that other code reads too, and
        # one bound by `:=`, whose value the expression around it reads.
        # Converting the assignment would also leave a sum of seconds and
        # milliseconds in `started + 14 * 86_400_000`, which is such a read.
        if (
            assignment.scope.kind == "function"
            and not isinstance(assignment.statement, cst.NamedExpr)
            and not MILLISECOND_NAME.search(name)
            and _only_used_in_slots(context, assignment.scope, name)
        ):
            key = id(assignment.statement)
            if key not in shared_fixes:
                shared_fixes[key] = Fix(
                    FixSafety.SAFE, {converted.target: converted.replacement}
                )
            return context.finding(self, slot.value, message, shared_fixes[key])

        if converted.problem == "float":
            # `now = time.time()` read elsewhere too: only the slot gets int().
            at_slot = _int_call(slot.value)
        else:
            at_slot = _divide(slot.value, converted.integer)
        return context.finding(
            self, slot.value, message, Fix(FixSafety.SAFE, {slot.value: at_slot})
        )

    def _check_unnamed_local(
        self,
        context: FileContext,
        slot: Slot,
        assignment: Assignment,
        converted: Conversion,
    ) -> Finding:
        """Report `last_seen=now` after `now = int(time.time() * 1000)`.

        Only the value shows that such an attribute is a date, so the fix
        converts the assignment only when the attribute is all that reads
        the local. A division at the slot would leave other reads in
        milliseconds beside an attribute in seconds.
        """
        name = assignment.name
        if MILLISECOND_NAME.search(name):
            reason = (
                f"`{name}` is named for milliseconds, so cio-fix does not convert it"
                " to seconds"
            )
            return self._report(context, slot, reason)
        if count_reads(context, assignment.scope, name) != 1:
            reason = (
                f"other code reads `{name}` too, and cio-fix converts a variable"
                " sent under a name that is not a date name only where nothing"
                " else reads it"
            )
            return self._report(context, slot, reason)
        fix = Fix(FixSafety.SAFE, {converted.target: converted.replacement})
        message = _message(slot.name, converted.problem)
        return context.finding(self, slot.value, message, fix)

    def _report(self, context: FileContext, slot: Slot, reason: str) -> Finding:
        """Report milliseconds in a slot without a fix, for `reason`."""
        message = f"{_message(slot.name, 'milliseconds')} ({reason})"
        return context.finding(self, slot.value, message)

    def _check_branches(self, context: FileContext, slot: Slot) -> Finding | None:
        """Fix `time.time() * 1000 if active else None` in the branches that need it."""
        assert isinstance(slot.value, cst.IfExp)
        replacements: dict[cst.CSTNode, cst.CSTNode] = {}
        problems = []
        for branch in (slot.value.body, slot.value.orelse):
            converted = convert(context.index, branch, not slot.is_parameter)
            if converted is not None:
                replacements[converted.target] = converted.replacement
                problems.append(converted.problem)
        if not replacements:
            return None
        problem = "milliseconds" if "milliseconds" in problems else "float"
        return context.finding(
            self,
            slot.value,
            _message(slot.name, problem),
            Fix(FixSafety.SAFE, replacements),
        )


def _hides_milliseconds(
    context: FileContext, node: cst.BaseExpression, scope: Scope, depth: int = 0
) -> bool:
    """Tell whether arithmetic or `:=` around a value hides a millisecond time.

    `time.time() * 1000 + 14 * 86400 * 1000`, `started_ms + 60_000` and
    `(ms := time.time() * 1000)` are milliseconds too, but only a rewrite
    by hand keeps what the rest of the expression means. A difference is a
    date only when a constant is taken from one: `time.time() * 1000 -
    started_ms` is a duration.
    """
    if isinstance(node, cst.NamedExpr):
        parts = [node.value]
    elif isinstance(node, cst.BinaryOperation):
        parts = _added_parts(context.index, node, scope)
    else:
        return False
    return any(_is_milliseconds(context, part, scope, depth) for part in parts)


def _added_parts(
    index: FileIndex, node: cst.BinaryOperation, scope: Scope
) -> list[cst.BaseExpression]:
    """Return the parts of a `+` and `-` chain that may carry a time, right to left.

    Each operand of `+` may, and the left operand of `-` does when an
    offset is taken from it. A loop reads the chain, because a long sum
    nests one level per operand to the left. A part that `convert` reads,
    or that is no sum, ends the chain.
    """
    parts: list[cst.BaseExpression] = []
    current: cst.BaseExpression = node
    while True:
        if current is not node and (
            type(current) is not cst.BinaryOperation
            or convert(index, current, allow_float=False) is not None
        ):
            parts.append(current)
            return parts
        assert isinstance(current, cst.BinaryOperation)
        if isinstance(current.operator, cst.Add):
            parts.append(current.right)
        elif not isinstance(current.operator, cst.Subtract):
            if current is not node:
                parts.append(current)
            return parts
        elif not _is_offset(index, current.right, scope):
            return parts
        current = current.left


def _is_milliseconds(
    context: FileContext, node: cst.BaseExpression, scope: Scope, depth: int
) -> bool:
    """Tell whether `node` is a Unix time in milliseconds.

    That is a form that `convert` reads, arithmetic that hides one, a name
    bound once to one (also when `+=` moves it), and a 13-digit constant
    of another module of the project.
    """
    if depth > MAX_DEPTH:
        return False
    if convert(context.index, node, allow_float=False) is not None:
        return True
    if _hides_milliseconds(context, node, scope, depth):
        return True
    if isinstance(node, cst.Name):
        if _moved_milliseconds(context, node.value, scope, depth):
            return True
        assignment = only_binding(context.index, node.value, scope)
        if (
            assignment is not None
            and assignment.value is not None
            and not isinstance(assignment.statement, cst.Param)
        ):
            return _is_milliseconds(
                context, assignment.value, assignment.scope, depth + 1
            )
    return _imported_milliseconds(context, node, scope) is not None


def _moved_milliseconds(
    context: FileContext, name: str, scope: Scope, depth: int
) -> bool:
    """Tell whether `name` is a millisecond time that `+=` or `-=` moves: `ts += 60_000`.

    The name must have one assignment of a millisecond time, and every other
    binding must add to it or subtract a constant amount (`_is_offset`), as
    in `_hides_milliseconds`.
    """
    index = context.index
    assignments = _bindings_of(index, name, scope)
    starts = [
        assignment
        for assignment in assignments
        if not isinstance(assignment.statement, cst.AugAssign)
    ]
    if len(starts) != 1 or len(assignments) == 1:
        return False
    for assignment in assignments:
        statement = assignment.statement
        if not isinstance(statement, cst.AugAssign):
            continue
        if isinstance(statement.operator, cst.AddAssign):
            continue
        if not isinstance(statement.operator, cst.SubtractAssign):
            return False
        if not _is_offset(index, statement.value, assignment.scope):
            return False

    start = starts[0]
    if start.value is None or not isinstance(
        start.statement, (cst.Assign, cst.AnnAssign)
    ):
        return False
    return _is_milliseconds(context, start.value, start.scope, depth + 1)


def _imported_milliseconds(
    context: FileContext, node: cst.BaseExpression, scope: Scope
) -> str | None:
    """Return the module of the project whose 13-digit constant `node` names.

    `LAUNCH_MS` after `from app.constants import LAUNCH_MS`, or
    `constants.LAUNCH_MS`, gives `app.constants`. None for a constant that
    code may rebind, because the value that the call reads is not known.
    NOTE: a module that rebinds the constant (`constants.LAUNCH_MS = ...`)
    is read only when it mentions Customer.io, so a rebinding elsewhere is
    missed.
    """
    dotted = dotted_name(node)
    if dotted is None or context.index.rebound(dotted.partition(".")[0], scope):
        return None
    qualified = context.index.qualified_name(node, scope)
    if qualified is None:
        return None
    found = project_constant(context, qualified)
    if found is None:
        return None
    module_name, value = found
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return module_name if value in MILLISECOND_LITERALS else None


def _is_offset(
    index: FileIndex, node: cst.BaseExpression, scope: Scope, depth: int = 0
) -> bool:
    """Tell whether `node` is a constant amount of time, not a time: `14 * 86400 * 1000`.

    Numbers, names bound once to such arithmetic, and arithmetic on them
    count. A 13-digit literal is a time in milliseconds, not an amount.
    """
    if depth > 5 or convert(index, node, allow_float=False) is not None:
        return False
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        return _is_offset(index, node.expression, scope, depth + 1)
    if _number(node) is not None:
        return True
    if isinstance(node, cst.BinaryOperation) and isinstance(
        node.operator,
        (cst.Add, cst.Subtract, cst.Multiply, cst.FloorDivide, cst.Divide),
    ):
        return _is_offset(index, node.left, scope, depth + 1) and _is_offset(
            index, node.right, scope, depth + 1
        )
    if isinstance(node, cst.Name):
        assignment = only_binding(index, node.value, scope)
        if assignment is None or assignment.value is None:
            return False
        # A parameter's default does not tell what callers pass.
        if isinstance(assignment.statement, cst.Param):
            return False
        return _is_offset(index, assignment.value, assignment.scope, depth + 1)
    return False


def _message(slot: str, problem: str) -> str:
    if problem == "float":
        return (
            f"`{slot}` is sent as a float, but the Track API expects integer Unix"
            " seconds; wrap it in int()"
        )
    return (
        f"`{slot}` is sent in milliseconds, but the Track API reads Unix seconds and"
        " stores a date far in the future; send seconds instead"
    )


def _slots(context: FileContext, call: ClientCall) -> Iterator[Slot]:
    scope = call.site.scope
    if call.method in DATA_METHODS:
        timestamp = call.value("timestamp")
        if timestamp is not None:
            yield Slot("timestamp", timestamp, is_parameter=True)
        yield from _dict_slots(context, call.value("data"), scope)
    if call.method in ATTRIBUTE_METHODS:
        for keyword, argument in call.extra_keywords.items():
            if TIMESTAMP_NAME.search(keyword):
                yield Slot(keyword, argument.value)
            elif _is_unnamed_date(context, keyword, argument.value, scope):
                yield Slot(keyword, argument.value, unnamed=True)
        for argument in _spreads(call):
            yield from _dict_slots(context, argument, scope)


def _dict_arguments(call: ClientCall) -> Iterator[cst.BaseExpression]:
    """Yield the `data` and `**` arguments of a Track API call, which hold attributes."""
    if call.method in DATA_METHODS:
        data = call.value("data")
        if data is not None:
            yield data
    if call.method in ATTRIBUTE_METHODS:
        yield from _spreads(call)


def _spreads(call: ClientCall) -> list[cst.BaseExpression]:
    return [argument.value for argument in call.star_arguments if argument.star == "**"]


def _dict_slots(
    context: FileContext, node: cst.BaseExpression | None, scope: Scope
) -> Iterator[Slot]:
    """Yield the timestamp entries of a dict literal, or of the one a local name holds.

    A dict literal among the operands of `or` and `and`, or in a branch of
    a conditional expression, counts as one.
    """
    withheld: str | None = None
    changed: set[str | None] = set()
    if isinstance(node, (cst.BooleanOperation, cst.IfExp)):
        for literal in _sent_dicts(node):
            yield from _dict_slots(context, literal, scope)
        return
    if isinstance(node, cst.Name):
        name = node.value
        assignment = only_binding(context.index, name, scope)
        if assignment is None or isinstance(assignment.statement, cst.Param):
            return
        if not isinstance(assignment.value, cst.Dict):
            return
        withheld, changed = context.shared(
            f"CIO103:dict:{id(assignment.statement)}:{name}",
            lambda _: _dict_uses(context, name, assignment),
        )
        node = assignment.value
        scope = assignment.scope
    if not isinstance(node, cst.Dict):
        return
    for element in node.elements:
        if not isinstance(element, cst.DictElement):
            continue
        key = literal_value(element.key)
        if not isinstance(key, str):
            continue
        unnamed = not TIMESTAMP_NAME.search(key)
        if unnamed and not _is_unnamed_date(context, key, element.value, scope):
            continue
        # `payload["placed_at"] = payload["placed_at"] // 1000` before the
        # call: the value sent is not the one in the literal.
        if key in changed or None in changed:
            continue
        yield Slot(key, element.value, withheld=withheld, unnamed=unnamed)


def _sent_dicts(node: cst.BaseExpression) -> list[cst.Dict]:
    """Return the dict literals that a `data` or `**` value may send.

    `data=extra or {"pinged_at": ...}` and `data=extra if extra else {...}`
    send the dict whenever `extra` is empty, so a dict literal among the
    operands of `or` and `and`, or in a branch, counts as one sent on its own.
    """
    if isinstance(node, cst.Dict):
        return [node]
    if isinstance(node, cst.BooleanOperation):
        candidates = operands(node, (cst.Or, cst.And))
    elif isinstance(node, cst.IfExp):
        candidates = [node.body, node.orelse]
    else:
        return []
    return [candidate for candidate in candidates if isinstance(candidate, cst.Dict)]


def timestamp_functions(argument: cst.Arg) -> list[cst.BaseExpression]:
    """Return the functions whose calls an argument sends as timestamps.

    That is `now_ms` in `created_at=now_ms()`, in `timestamp=now_ms()`, or
    in a date-named entry of a dict literal sent in `data=` or after `**`
    (`_sent_dicts`). The project reads the modules that define them, for
    their millisecond helpers.
    """
    keyword = argument.keyword.value if argument.keyword is not None else None
    if keyword is not None and TIMESTAMP_NAME.search(keyword):
        values = [argument.value]
    elif keyword == "data" or argument.star == "**":
        values = []
        for literal in _sent_dicts(argument.value):
            for element in literal.elements:
                if not isinstance(element, cst.DictElement):
                    continue
                key = literal_value(element.key)
                if isinstance(key, str) and TIMESTAMP_NAME.search(key):
                    values.append(element.value)
    else:
        return []
    return [value.func for value in values if isinstance(value, cst.Call)]


def _is_unnamed_date(
    context: FileContext, name: str, value: cst.BaseExpression, scope: Scope
) -> bool:
    """Tell whether an attribute not named like a date is sent a time in milliseconds.

    Only a time computed where it is sent counts (`time.time() * 1000`,
    `dt.timestamp() * 1000`), also through a local name that
    `_local_computation` accepts. A 13-digit literal may be an ID, and an
    attribute named for milliseconds (`started_ms`) is meant to hold them.
    """
    if MILLISECOND_NAME.search(name):
        return False
    if isinstance(value, cst.Name):
        assignment = _local_computation(context, value, scope)
        if assignment is None or assignment.value is None:
            return False
        value = assignment.value
    if isinstance(value, cst.Integer):
        return False
    converted = convert(context.index, value, allow_float=False)
    return converted is not None and converted.problem == "milliseconds"


def _local_computation(
    context: FileContext, name: cst.Name, scope: Scope
) -> Assignment | None:
    """Return the one assignment of a local name that `name` reads, if it runs first.

    The name must be bound once in the function that reads it, by a plain
    `local = value` statement in a block that contains the read, ahead of
    the statement that reads it. So the value is the one that the read
    gets, whatever branch or loop the read sits in.
    """
    if scope.kind != "function":
        return None
    assignment = only_binding(context.index, name.value, scope)
    if assignment is None or assignment.scope is not scope or assignment.value is None:
        return None
    statement = assignment.statement
    if isinstance(statement, cst.AnnAssign):
        target = statement.target
    elif isinstance(statement, cst.Assign) and len(statement.targets) == 1:
        target = statement.targets[0].target
    else:
        return None
    if not isinstance(target, cst.Name):
        return None
    return assignment if _runs_before(context, statement, name) else None


def _runs_before(
    context: FileContext, statement: cst.CSTNode, node: cst.CSTNode
) -> bool:
    """Tell whether a small statement runs before `node`, in a block that has both."""
    line = context.parent(statement)
    block = context.parent(line) if line is not None else None
    if not isinstance(block, cst.IndentedBlock):
        return False
    for ancestor in context.ancestors(node):
        if context.parent(ancestor) is block:
            return block.body.index(line) < block.body.index(ancestor)
    return False


# -- recognising milliseconds ---------------------------------------------------


def _qualified_call(index: FileIndex, node: cst.BaseExpression) -> str | None:
    if not isinstance(node, cst.Call):
        return None
    qualified = index.qualified_name(node.func)
    if qualified is not None:
        return qualified
    if isinstance(node.func, cst.Name) and node.func.value in ("int", "round"):
        return node.func.value
    return None


def _is_int_wrapper(index: FileIndex, node: cst.BaseExpression) -> bool:
    if (
        not isinstance(node, cst.Call)
        or len(node.args) != 1
        or node.args[0].keyword
        or node.args[0].star
    ):
        return False
    return _qualified_call(index, node) in INT_WRAPPERS


def _is_seconds(index: FileIndex, node: cst.BaseExpression) -> bool:
    """Tell whether `node` is a Unix time in seconds: `time.time()`, `dt.timestamp()`.

    A time moved by a literal number of seconds (`time.time() + 14 * 86400`)
    is one too.
    """
    # A loop that unwraps `node`, because a long `+` chain nests one level per operand.
    while True:
        if _is_int_wrapper(index, node):
            node = node.args[0].value  # type: ignore[attr-defined]
        elif isinstance(node, cst.BinaryOperation) and isinstance(
            node.operator, (cst.Add, cst.Subtract)
        ):
            if _literal_number(node.right) is not None:
                node = node.left
            elif (
                isinstance(node.operator, cst.Add)
                and _literal_number(node.left) is not None
            ):
                node = node.right
            else:
                return False
        else:
            break
    if not isinstance(node, cst.Call):
        return False
    if _qualified_call(index, node) in SECONDS_FUNCTIONS:
        return True
    return _is_float_seconds(index, node)


def _number(node: cst.BaseExpression) -> float | int | None:
    value = literal_value(node)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Power):
        base, exponent = _number(node.left), _number(node.right)
        if isinstance(base, int) and isinstance(exponent, int) and 0 <= exponent <= 12:
            return base**exponent
    return None


def _is_integer(index: FileIndex, node: cst.BaseExpression) -> bool:
    """Tell whether seconds are an int already: `int(time.time())`, plus or minus whole numbers."""
    if _is_int_wrapper(index, node):
        return True
    if isinstance(node, cst.BinaryOperation) and isinstance(
        node.operator, (cst.Add, cst.Subtract)
    ):
        return all(
            isinstance(_literal_number(part), int) or _is_integer(index, part)
            for part in operands(node, (cst.Add, cst.Subtract))
        )
    return False


def _literal_number(node: cst.BaseExpression) -> float | int | None:
    """Return the value of a number written with literals only: `14 * 86400`, `3600`."""
    number = _number(node)
    if number is not None:
        return number
    arithmetic = (cst.Multiply, cst.Add, cst.Subtract)
    # `a * b + c` is `(a * b) + c`, so the operations nest to the left. They
    # are taken apart in a loop and then computed from the innermost one.
    operations: list[cst.BinaryOperation] = []
    current = node
    while isinstance(current, cst.BinaryOperation) and isinstance(
        current.operator, arithmetic
    ):
        operations.append(current)
        current = current.left
    if not operations:
        return None
    value = _number(current)
    for operation in reversed(operations):
        right = _literal_number(operation.right)
        if value is None or right is None:
            return None
        if isinstance(operation.operator, cst.Multiply):
            value = value * right
        elif isinstance(operation.operator, cst.Add):
            value = value + right
        else:
            value = value - right
    return value


def _is_thousand(node: cst.BaseExpression) -> bool:
    return _number(node) == 1000


def _product_seconds(
    index: FileIndex, node: cst.BaseExpression
) -> cst.BaseExpression | None:
    """Return X for `X * 1000` or `1000 * X` where X is seconds."""
    if not isinstance(node, cst.BinaryOperation) or not isinstance(
        node.operator, cst.Multiply
    ):
        return None
    if _is_thousand(node.right) and _is_seconds(index, node.left):
        return node.left
    if _is_thousand(node.left) and _is_seconds(index, node.right):
        return node.right
    return None


def _nanoseconds_divisor(
    index: FileIndex, node: cst.BaseExpression
) -> cst.BaseExpression | None:
    """Return the divisor of `time.time_ns() // 1_000_000` (or `/ 1e6`)."""
    if not isinstance(node, cst.BinaryOperation):
        return None
    if not isinstance(node.operator, (cst.FloorDivide, cst.Divide)):
        return None
    if (
        _qualified_call(index, node.left) != "time.time_ns"
        or _number(node.right) != 1_000_000
    ):
        return None
    return node.right


def _seconds_divisor(divisor: cst.BaseExpression) -> cst.BaseExpression:
    """Write 10**9 in the style of the 10**6 it replaces: `1_000_000` -> `1_000_000_000`."""
    if isinstance(divisor, cst.BinaryOperation):
        return divisor.with_changes(right=cst.Integer("9"))
    text = code_of(divisor)
    if isinstance(divisor, cst.Float):
        if "e" in text.lower():
            return divisor.with_changes(value=re.sub(r"([eE]\+?)0*6$", r"\g<1>9", text))
        whole = "1_000_000_000" if "_" in text else "1000000000"
        return divisor.with_changes(value=f"{whole}.0")
    if text.lower().startswith("0x"):
        digits = f"{10**9:x}"
        return divisor.with_changes(
            value=text[:2] + (digits.upper() if text[2:].isupper() else digits)
        )
    return divisor.with_changes(value="1_000_000_000" if "_" in text else "1000000000")


def _seconds_literal(node: cst.Integer) -> cst.Integer:
    seconds = node.evaluated_value // 1000
    if "_" in node.value:
        return node.with_changes(value=f"{seconds:_}")
    return node.with_changes(value=str(seconds))


def _int_call(node: cst.BaseExpression) -> cst.Call:
    return cst.Call(
        func=cst.Name("int"), args=[cst.Arg(value=node.with_changes(lpar=(), rpar=()))]
    )


def convert(
    index: FileIndex, node: cst.BaseExpression, allow_float: bool
) -> Conversion | None:
    """Return how to send `node` in seconds, if it is a millisecond (or float) form."""
    if _is_int_wrapper(index, node):
        inner = node.args[0].value  # type: ignore[attr-defined]
        # `int(round(time.time() * 1000))` keeps both wrappers around the
        # seconds: `int(round(time.time()))`.
        while _is_int_wrapper(index, inner):
            inner = inner.args[0].value  # type: ignore[attr-defined]
        seconds = _product_seconds(index, inner)
        if seconds is not None:
            # `int((time.time() + 60) * 1000)` becomes `int(time.time() + 60)`.
            if isinstance(seconds, cst.BinaryOperation):
                seconds = seconds.with_changes(lpar=(), rpar=())
            return Conversion(inner, seconds, "milliseconds", integer=True)
        divisor = _nanoseconds_divisor(index, inner)
        if divisor is not None:
            return Conversion(
                divisor, _seconds_divisor(divisor), "milliseconds", integer=True
            )
        return None

    seconds = _product_seconds(index, node)
    if seconds is not None:
        if isinstance(seconds, cst.BinaryOperation):
            seconds = seconds.with_changes(lpar=(), rpar=())
        was_integer = _is_integer(index, seconds)
        replacement = seconds if was_integer else _int_call(seconds)
        replacement = replacement.with_changes(lpar=node.lpar, rpar=node.rpar)
        return Conversion(node, replacement, "milliseconds", integer=was_integer)

    divisor = _nanoseconds_divisor(index, node)
    if divisor is not None:
        if isinstance(node.operator, cst.FloorDivide):  # type: ignore[attr-defined]
            return Conversion(divisor, _seconds_divisor(divisor), "milliseconds", True)
        # `time.time_ns() / 1e6` is a float; in seconds it becomes an int.
        divided = node.with_changes(right=_seconds_divisor(divisor), lpar=(), rpar=())
        replacement = _int_call(divided).with_changes(lpar=node.lpar, rpar=node.rpar)
        return Conversion(node, replacement, "milliseconds", integer=False)

    if isinstance(node, cst.Integer) and node.evaluated_value in MILLISECOND_LITERALS:
        return Conversion(node, _seconds_literal(node), "milliseconds", integer=True)

    if allow_float and _is_float_seconds(index, node):
        return Conversion(node, _int_call(node), "float", integer=True)
    return None


def _is_float_seconds(index: FileIndex, node: cst.BaseExpression) -> bool:
    """Tell whether `node` is a float Unix time: `time.time()` or `dt.timestamp()`."""
    if not isinstance(node, cst.Call):
        return False
    if _qualified_call(index, node) == "time.time":
        return True
    func = node.func
    return (
        isinstance(func, cst.Attribute)
        and func.attr.value == "timestamp"
        and not node.args
    )


# -- variables --------------------------------------------------------------------


def count_reads(context: FileContext, scope: Scope, name: str) -> int:
    """Count the places in a function that read `name`.

    Keyword names of calls (`f(ms=...)`) are not reads; `ms += 1` is one.
    """
    reads = 0
    for node in find_all(scope.node, cst.Name):
        if node.value != name:
            continue
        parent = context.parent(node)
        if isinstance(parent, cst.Arg) and parent.keyword is node:
            continue
        if (
            isinstance(parent, cst.AugAssign)
            and parent.target is node
            or context.expression_context(node) is ExpressionContext.LOAD
        ):
            reads += 1
    return reads


def _track_calls(index: FileIndex) -> list[ClientCall]:
    """Return the client calls, partials, calls of partials and handed-off calls to check.

    A call of a partial keeps only the caller's arguments, because the
    partial's own entry checks the ones it binds, in the scope that reads them.
    """
    uses = [call.without_bound_arguments() for call in index.partial_uses]
    return [
        *index.client_calls,
        *index.partial_calls,
        *uses,
        *index.handed_off_calls,
    ]


def _track_calls_in(context: FileContext, scope: Scope) -> list[ClientCall]:
    """Return the Track API calls that the code of `scope` runs, comprehensions included."""
    by_scope = context.shared("CIO103:track-calls", _track_calls_by_scope)
    return by_scope.get(id(scope), [])


def _track_calls_by_scope(context: FileContext) -> dict[int, list[ClientCall]]:
    by_scope: dict[int, list[ClientCall]] = {}
    index = context.index
    for call in _track_calls(index):
        if call.api is Api.TRACK:
            by_scope.setdefault(id(call.site.scope.owner), []).append(call)
    return by_scope


def _only_used_in_slots(context: FileContext, scope: Scope, name: str) -> bool:
    slot_uses = 0
    for call in _track_calls_in(context, scope):
        for slot in _slots(context, call):
            # A slot not named like a date takes no safe fix, so a fix of the
            # assignment must not reach it through another slot's finding.
            if slot.withheld is not None or slot.unnamed:
                continue
            if isinstance(slot.value, cst.Name) and slot.value.value == name:
                slot_uses += 1
    return count_reads(context, scope, name) == slot_uses


def only_binding(index: FileIndex, name: str, scope: Scope) -> Assignment | None:
    """Return the assignment `name` resolves to in `scope`, if no other binding competes."""
    assignments = _bindings_of(index, name, scope)
    return assignments[0] if len(assignments) == 1 else None


def _bindings_of(index: FileIndex, name: str, scope: Scope) -> list[Assignment]:
    """Return the assignments `name` resolves to in `scope`, or none when an import competes.

    Imports bind names too, but the index keeps them apart from
    assignments: `from app.clock import now` in a function hides a
    module-level `now = time.time() * 1000`.
    """
    assignments = index.assignments_of(name, scope)
    if not assignments:
        return []
    for candidate in scope.lookup_chain():
        if _imports_name(index, candidate, name):
            return []
        if candidate is assignments[0].scope:
            break
    return assignments


def _imports_name(index: FileIndex, scope: Scope, name: str) -> bool:
    # Every import, in a function too, has its name in the file's table.
    if name not in index.imports:
        return False
    if scope.kind == "module":
        return name in index.module_imports
    for node in find_all(scope.node, cst.Import, cst.ImportFrom):
        if isinstance(node.names, cst.ImportStar):
            continue
        if any(bound_name(alias) == name for alias in node.names):
            return True
    return False


def _dict_uses(
    context: FileContext, name: str, assignment: Assignment
) -> tuple[str | None, set[str | None]]:
    """Return why the dict bound to `name` must not change, and the keys code changes."""
    withheld = _dict_shared(context, name, assignment)
    if assignment.scope.kind != "function":
        return withheld, set()
    return withheld, _changed_keys(context, assignment.scope, name)


def _dict_shared(context: FileContext, name: str, assignment: Assignment) -> str | None:
    """Return why the dict bound to `name` must not change; None when only Track calls read it."""
    if assignment.scope.kind != "function":
        return f"`{name}` is a module-level dict, so other code may read it too"
    uses = 0
    for call in _track_calls_in(context, assignment.scope):
        for argument in _dict_arguments(call):
            if isinstance(argument, cst.Name) and argument.value == name:
                uses += 1
    # `name["note"] = ...` reads the name to change the dict, and passes
    # nothing on; `_changed_keys` decides what such a change means.
    writes = len(_key_targets(context, assignment.scope, name))
    if count_reads(context, assignment.scope, name) - writes != uses:
        return f"other code reads the dict `{name}` too, and would get seconds as well"
    return None


def _changed_keys(context: FileContext, scope: Scope, name: str) -> set[str | None]:
    """Return the keys of the dict `name` that a function assigns, deletes or updates.

    `name["k"] = ...`, `name["k"] += ...` and `del name["k"]` change "k".
    A key that is not a literal, and a call of `update` or another
    changing method, adds None, which means any key.
    """
    changed: set[str | None] = set()
    for node in _key_targets(context, scope, name):
        changed.add(subscript_key(node))
    for call in find_all(scope.node, cst.Call):
        func = call.func
        if (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value == name
            and func.attr.value in DICT_CHANGES
        ):
            changed.add(None)
    return changed


def _key_targets(context: FileContext, scope: Scope, name: str) -> list[cst.Subscript]:
    """Return the `name[key]` targets of assignments, loops and `del` in a function."""
    targets = []
    for node in find_all(scope.node, cst.Subscript):
        if not (isinstance(node.value, cst.Name) and node.value.value == name):
            continue
        if is_target(node, context.parent_map()):
            targets.append(node)
    return targets


def _divide(node: cst.Name | cst.Call, integer: bool) -> cst.BaseExpression:
    """Write `node // 1000`, or `int(node / 1000)` for a float."""
    thousand = cst.Integer("1000")
    if integer:
        return cst.BinaryOperation(node, cst.FloorDivide(), thousand)
    return _int_call(cst.BinaryOperation(node, cst.Divide(), thousand))


# -- helper functions -------------------------------------------------------------


def _helper_milliseconds(
    context: FileContext, node: cst.BaseExpression, scope: Scope
) -> bool | None:
    """Return whether a millisecond helper call gives an int, or None for other calls.

    A helper is a function defined once at module level, neither async,
    decorated nor a generator, whose every `return` gives a millisecond
    time that `convert` reads (`return int(time.time() * 1000)`) and whose
    body ends with such a `return`, so no call gets None. It is defined in
    this module, or imported from another module of the project whose
    summary lists it (`from app.timeutil import now_ms`, or
    `timeutil.now_ms()`).
    """
    if not isinstance(node, cst.Call):
        return None
    index = context.index
    if not isinstance(node.func, cst.Name):
        return _imported_helper(context, node.func, scope)
    name = node.func.value
    assignment = only_binding(index, name, scope)
    if assignment is None:
        return _imported_helper(context, node.func, scope)
    if (
        assignment.scope.kind != "module"
        or not isinstance(assignment.statement, cst.FunctionDef)
        or index.rebound(name, scope)
    ):
        return None
    return context.shared(
        f"CIO103:helper:{id(assignment.statement)}",
        lambda _: _helper_returns_integer(index, assignment.statement),
    )


def _imported_helper(
    context: FileContext, func: cst.BaseExpression, scope: Scope
) -> bool | None:
    """Return whether an imported millisecond helper gives an int, or None for others.

    The helper must be listed in the summary of the project module that
    defines it (`ModuleSummary.millisecond_helpers`). A helper that code
    may rebind (`timeutil.now_ms = fake`) does not count.
    """
    dotted = dotted_name(func)
    if dotted is None or context.index.rebound(dotted.partition(".")[0], scope):
        return None
    qualified = context.index.qualified_name(func, scope)
    if qualified is None:
        return None
    target = context.project.resolve_value(qualified)
    if target is None:
        return None
    summary, name = target
    if context.project.rebound_constant(summary.module_name, name):
        return None
    for helper, integer in summary.millisecond_helpers:
        if helper == name:
            return integer
    return None


def millisecond_helpers(index: FileIndex) -> tuple[tuple[str, bool], ...]:
    """Find the module's millisecond helpers, each with whether it returns an int.

    Only a function that one `def` binds at module level counts: no
    import, second binding, `global` statement or `del` gives the name
    another value.
    """
    scope = index.module_scope
    helpers = []
    for function in index.functions:
        if function.parent is not None or function.class_info is not None:
            continue
        name = function.name
        assignments = scope.assignments.get(name, [])
        if len(assignments) != 1 or assignments[0].statement is not function.node:
            continue
        if name in index.rebound_names or name in scope.deletions:
            continue
        integer = _helper_returns_integer(index, function.node)
        if integer is not None:
            helpers.append((name, integer))
    return tuple(helpers)


def _helper_returns_integer(index: FileIndex, node: cst.FunctionDef) -> bool | None:
    """Return whether a millisecond helper returns an int, or None for other functions."""
    if node.asynchronous is not None or node.decorators:
        return None
    last = node.body.body[-1]
    if isinstance(last, cst.SimpleStatementLine):
        last = last.body[-1]
    if not isinstance(last, cst.Return) or last.value is None:
        return None
    # The last `return` is read before the walks over the body, because the
    # summary of every module checks each of its module-level functions here.
    if convert(index, last.value, allow_float=False) is None:
        return None
    # Returns and `yield` of nested functions count too, which only makes
    # the check stricter.
    if find_all(node.body, cst.Yield):
        return None
    integer = True
    for statement in find_all(node.body, cst.Return):
        if statement.value is None:
            return None
        converted = convert(index, statement.value, allow_float=False)
        if converted is None or converted.problem != "milliseconds":
            return None
        integer = integer and converted.integer
    return integer
