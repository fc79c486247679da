"""Event attributes that customerio 3.x no longer takes as keyword arguments (CIO701)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import libcst as cst

from cio_fix.codemods.argument_order import reordering_problem
from cio_fix.codemods.bindings import plain_assignment_target
from cio_fix.codemods.timestamps import count_reads
from cio_fix.config import matches_selector
from cio_fix.customerio import (
    TRACK_METHODS,
    Api,
    ClientCall,
    literal_value,
)
from cio_fix.events import (
    dict_element,
    extend_dict,
    keyword_argument,
    may_be_none,
    new_dict,
    prepend_dict,
    remove_items,
    spread,
    spread_too_old,
)
from cio_fix.metadata import quoted_code
from cio_fix.model import Finding, Fix, FixSafety, Severity
from cio_fix.rules import FileContext, Rule
from cio_fix.specifiers import KEYWORD_MAJORS
from cio_fix.suppressions import is_silenced
from cio_fix.wrappers import withheld_reason

# In customerio 3.x (read in 3.2.0) these methods are `(customer_id or
# anonymous_id, name, data=None, id=None, timestamp=None)`, while pageview
# and backfill still take `**data`.
DATA_METHODS = ("track", "track_anonymous")


class CannotMove(Exception):
    """The attributes cannot be moved into `data` without changing what is sent."""


@dataclass
class Spread:
    """A `**mapping` argument of a track call, with its keys when the code shows them."""

    argument: cst.Arg
    # The literal keys of the dict the spread passes, or None when the code
    # does not show them (a parameter, a call, a name bound more than once).
    keys: frozenset[str] | None
    # The keys that are the method's own parameters (customer_id, name,
    # data, id, timestamp); the other keys are event attributes.
    parameter_keys: frozenset[str] = frozenset()
    # Why the keys may differ when the call runs: the dict is also read by
    # other code, which may add or remove keys.
    shared: str | None = None

    @property
    def attribute_keys(self) -> frozenset[str]:
        return frozenset() if self.keys is None else self.keys - self.parameter_keys


class Sdk3EventKwargs(Rule):
    """What it does:
    Finds `track` and `track_anonymous` calls of the customerio package
    that pass event attributes as keyword arguments (`price=total`), or
    as `**attrs` of a dict literal whose keys are event attributes, in a
    project that uses customerio 3.x. A `functools.partial(cio.track,
    ...)` that binds such arguments counts as the call it makes. A call
    of a name bound once to such a partial in the same module counts too
    when the caller passes such arguments. So does a method handed with
    its arguments to a function that runs it later:
    `tasks.add_task(cio.track, ...)` of FastAPI and Starlette,
    `executor.submit(...)` and `asyncio.to_thread(...)`.

    Why is this bad?
    customerio 3.0 takes event attributes only in the `data` argument:
    `track(customer_id, name, data=None, id=None, timestamp=None)`. Any
    other keyword argument raises `TypeError`, so the event is never sent,
    and code written for 1.x or 2.x breaks at the first call after an
    upgrade.

    Example:
        attrs = {"plan": plan}
        cio.track(customer_id=uid, name="purchased", price=total, **attrs)

    Use instead:
        attrs = {"plan": plan}
        cio.track(customer_id=uid, name="purchased", data={**attrs, "price": total})

    Fix safety:
    Safe when the project declares customerio 3 (requirements files,
    pyproject.toml, setup.cfg, setup.py, Pipfile or lock files) or sets
    `sdk-version = 3`: the same attributes arrive, in `data`. Without a
    declared version the calls are reported without a fix, and so they are
    when requirements files of one folder pin different major versions
    (a `requirements-next.txt` that tries the upgrade, say), because the
    code may run with either. A specifier counts by the major versions it
    allows: with only 1.x or 2.x allowed (`customerio<3`, `!=3.*`,
    `~=2.1`) the calls are correct and not reported, and one that allows
    2.x and 3.x (`customerio>=2,<4`) leaves the version unknown. A `>=3`
    declares 3.x, the newest major released. `pageview` and `backfill` still take keyword
    arguments and are never reported. Neither are the calls of a name in
    `client-names` that are awaited or that cio-fix's task helper runs:
    cio-fix reads them as calls of async-customerio's client, which takes
    event attributes as keyword arguments.

    A `**` spread may pass track()'s own parameters, as a wrapper's
    `cio.track(customer_id, name, **options)` does, so it is moved into
    `data` only when it spreads a dict literal that no other code reads
    and whose keys are all event attributes. A spread whose keys cannot be
    read is not reported on its own. Beside keyword attributes it makes the
    finding report-only, and so does a spread that mixes track()'s
    parameters with event attributes. A `data` that unpacks a dict
    (`{**attrs, "price": total}`) needs Python 3.5, so in a project that
    declares an older Python (the README lists where cio-fix reads that
    version) such a call is reported without a fix.

    The moved attributes keep the order in which the call evaluated them.
    They go at the end of an existing `data` dict, or in a new `data` in
    the place of the first moved attribute, when that keeps the order.
    Otherwise they go at the start of the existing `data` dict, or `data`
    takes the place of a later moved attribute: `plan=plan,
    timestamp=clock.now(), source=source_of(request)` becomes
    `timestamp=clock.now(), data={"plan": plan, "source":
    source_of(request)}`. The order
    matters when an attribute calls code or assigns a name with `:=`, and
    an argument that the fix moves it past reads what it changes or
    changes what it reads. When no place keeps the order, the finding is
    reported without a fix, as in `track(customer_id, first_row=next(it),
    timestamp=clock.tick(), name="sent", last_row=next(it))`.

    A partial gets its attributes moved into its own `data` only when
    every call of it is in view and cannot replace that `data`. So the
    partial must be bound to a local variable that the function only
    calls, and those calls pass no `data`, no event attributes, no
    `*`/`**` arguments and no positional argument in the place of `data`.
    A partial that already passes `data` is reported without a fix too,
    because merging into it would copy the dict where the partial is
    made, not where it is called.

    A call of a pass-through wrapper of the project, a function that only
    passes its parameters on to a client's track(), is checked as the
    track() call it makes, with the caller's arguments. Its attributes
    are moved into `data` only when they all reach the wrapper's
    `**kwargs`. A keyword that a parameter of the wrapper takes
    (`source=` of `def track(customer_id, name, *, source, **data)`)
    stays where it is, and the finding is reported without a fix.

    A call of a partial (`send(plan=plan)` after `send =
    functools.partial(cio.track, uid, "upgraded")`) gets the caller's
    attributes moved into a `data` of its own. It is reported without a
    fix when the partial binds `data`, which that `data` would replace, or
    binds event attributes itself.
    """

    code = "CIO701"
    name = "sdk3-event-kwargs"
    summary = (
        "event attributes passed as keyword arguments, which customerio 3.x rejects"
    )
    fix_safety = FixSafety.SAFE

    def check(self, context: FileContext) -> Iterator[Finding]:
        majors = context.sdk_majors
        if majors is not None and majors <= KEYWORD_MAJORS:
            return
        index = context.index
        calls = [
            *index.client_calls,
            *index.partial_calls,
            *index.partial_uses,
            *index.handed_off_calls,
        ]
        for call in calls:
            if not _is_data_method(call):
                continue
            spreads = read_spreads(context, call)
            # NOTE: a 2.x-style `track(uid, name, **attrs)` whose keys the code
            # does not show is missed, because a wrapper's pass-through of
            # track()'s own parameters looks the same.
            if not call.extra_keywords and not any(
                mapping.attribute_keys for mapping in spreads
            ):
                continue
            if _only_partial_attributes(call, spreads):
                continue
            yield self._finding(context, call, spreads)

    def _finding(
        self, context: FileContext, call: ClientCall, spreads: list[Spread]
    ) -> Finding:
        names = [f"`{key}`" for key in call.extra_keywords]
        names += [
            f"`**{quoted_code(mapping.argument.value, context.module)}`"
            for mapping in spreads
            if mapping.attribute_keys
        ]
        attributes = ", ".join(names)
        sdk = context.sdk
        if sdk is None or not sdk.majors.isdisjoint(KEYWORD_MAJORS):
            message = (
                f"{call.method}() passes event attributes {attributes} as keyword arguments,"
                " which customerio 3.x rejects with TypeError; "
            )
            conflict = context.sdk_conflict
            if conflict is None:
                message += (
                    "declare the customerio version (or set sdk-version in"
                    " [tool.cio-fix]) so they can be moved into `data`"
                )
            else:
                message += (
                    "set sdk-version in [tool.cio-fix] to the version this code runs"
                    f" with (not fixed: {conflict})"
                )
            return context.finding(self, call.node, message, severity=Severity.WARNING)

        problem = (
            f"the project uses customerio 3.x ({sdk.source}), which raises TypeError for the event"
            f" attributes {attributes} passed to {call.method}() as keyword arguments"
        )
        try:
            new_call = data_call(context, call, spreads)
        except CannotMove as reason:
            return context.finding(
                self,
                call.node,
                f"{problem}; move them into `data` by hand ({reason})",
                fixed_message=f"{problem}; move them into `data`",
            )
        fix = Fix(
            FixSafety.SAFE,
            {call.node: new_call},
            description="move attributes into data",
        )
        return context.finding(
            self, call.node, f"{problem}; move them into `data`", fix
        )


def _is_data_method(call: ClientCall) -> bool:
    if call.api is not Api.TRACK or call.client.package != "customerio":
        return False
    return call.method in DATA_METHODS


def rejects_keyword_attributes(
    call: ClientCall, sdk_majors: frozenset[int] | None
) -> bool:
    """Tell whether every declared customerio version rejects the call's keyword attributes."""
    if not call.extra_keywords or not _is_data_method(call):
        return False
    return sdk_majors is not None and sdk_majors.isdisjoint(KEYWORD_MAJORS)


def unmoved_keywords_reason(context: FileContext, call: ClientCall) -> str | None:
    """Return why this run leaves the call's keyword attributes out of `data`, or None.

    None means that CIO701 reports the call with a fix that this run
    applies, so a fix that needs the attributes in `data` can wait for it.
    The reasons are those of CIO701, and it must decide as CIO701 does,
    because a fix that waits for a move that never comes waits in every
    pass, and then the run drops that fix.

    NOTE: a CIO701 fix that the checker withholds (one that would lose a
    comment or move a `# noqa` off its line) still returns None here. The
    waiting rule's fixes in that file are then dropped as not settled.
    """
    code = Sdk3EventKwargs.code
    config = context.config
    if not any(matches_selector(code, selector) for selector in config.selected):
        return f"{code}, which moves them into `data`, is not selected"
    if any(matches_selector(code, selector) for selector in config.ignored):
        return f"{code}, which moves them into `data`, is ignored"
    if is_silenced(context, code, call.node):
        return f"{code}, which moves them into `data`, is silenced for this call"
    conflict = context.sdk_conflict
    if context.sdk is None and conflict is not None:
        return f"{code} does not move them into `data`, because {conflict}"
    withheld = withheld_reason(code, call) if call.wrapper is not None else None
    if withheld is not None:
        return withheld
    try:
        data_call(context, call, read_spreads(context, call))
    except CannotMove as reason:
        return str(reason)
    return None


def _only_partial_attributes(call: ClientCall, spreads: list[Spread]) -> bool:
    """Tell whether a call of a partial passes no attributes beyond those the partial binds.

    The partial's own finding reports those.
    """
    if not call.through_partial:
        return False
    if call.without_bound_arguments().extra_keywords:
        return False
    return not any(mapping.attribute_keys for mapping in spreads)


def read_spreads(context: FileContext, call: ClientCall) -> list[Spread]:
    """Return the `**` arguments of a track call, with the keys each one passes."""
    parameters = frozenset(TRACK_METHODS[call.method])
    spreads = []
    for argument in _spreads(call):
        found = _spread_keys(context, call, argument.value)
        if found is None:
            spreads.append(Spread(argument, None))
            continue
        keys, shared = found
        spreads.append(Spread(argument, keys, keys & parameters, shared))
    return spreads


def _spread_keys(
    context: FileContext, call: ClientCall, value: cst.BaseExpression
) -> tuple[frozenset[str], str | None] | None:
    """Return the keys of `**{...}`, or of `**name` bound once to a dict literal.

    The second item is the reason the keys may change before the call,
    because other code may read and change the dict, or None.
    """
    shared = None
    if isinstance(value, cst.Name):
        assignments = context.index.assignments_of(value.value, call.site.scope)
        if len(assignments) != 1 or assignments[0].value is None:
            return None
        assignment = assignments[0]
        if isinstance(assignment.statement, cst.Param):
            return None
        if assignment.scope.kind != "function":
            shared = (
                f"`{value.value}` is a module-level dict that any function may change"
            )
        elif count_reads(context, assignment.scope, value.value) != 1:
            shared = f"other code reads `{value.value}` too and may change its keys"
        value = assignment.value
    if not isinstance(value, cst.Dict):
        return None
    keys = set()
    for element in value.elements:
        if not isinstance(element, cst.DictElement):
            return None
        key = literal_value(element.key)
        if not isinstance(key, str):
            return None
        keys.add(key)
    return frozenset(keys), shared


def _spreads(call: ClientCall) -> list[cst.Arg]:
    return [argument for argument in call.star_arguments if argument.star == "**"]


def _check_partial(context: FileContext, call: ClientCall) -> None:
    """Raise CannotMove unless the `data` that the fix adds to a partial is the one sent.

    A `data` passed to the partial when it is called replaces the partial's
    own, so every call must be in view. A `data` the partial already passes
    is a dict it reads when called, and merging attributes into it would
    copy it where the partial is made.
    """
    data = call.value("data")
    if data is not None and not _is_none(data):
        raise CannotMove(
            "the partial passes `data`, and merging the attributes into it would"
            " send the dict as it is when the partial is made, not when it is called"
        )

    unseen = (
        "cio-fix cannot see every call of the partial, and a call that passes"
        " `data` would replace the one the fix adds"
    )
    target = _local_name_bound_to(context, call)
    if target is None:
        raise CannotMove(unseen)

    parameters = TRACK_METHODS[call.method]
    bound = [argument for argument in call.node.args[1:] if argument.keyword is None]
    function = call.site.scope.node
    for use in context.names_with_value(target.value):
        if use is target or function not in context.ancestors(use):
            continue
        parent = context.parent(use)
        if isinstance(parent, cst.Arg) and parent.keyword is use:
            continue
        if not isinstance(parent, cst.Call) or parent.func is not use:
            raise CannotMove(
                f"`{target.value}` is used other than in a call, so {unseen}"
            )
        _check_call_of_partial(context, parent, parameters, len(bound))


def _check_call_of_partial(
    context: FileContext,
    call: cst.Call,
    parameters: tuple[str, ...],
    bound_positions: int,
) -> None:
    """Raise CannotMove for a call of a partial that may pass `data` or event attributes."""
    code = quoted_code(call, context.module)
    positional = 0
    for argument in call.args:
        if argument.star:
            raise CannotMove(
                f"`{code}` passes `{argument.star}` arguments, which may include `data`"
            )
        if argument.keyword is None:
            positional += 1
            continue
        keyword = argument.keyword.value
        if keyword == "data":
            raise CannotMove(
                f"`{code}` passes `data`, which would replace the one the fix adds"
            )
        if keyword not in parameters:
            raise CannotMove(f"`{code}` passes the event attribute `{keyword}` too")
    if bound_positions + positional > parameters.index("data"):
        raise CannotMove(f"`{code}` passes `data` by position")


def _local_name_bound_to(context: FileContext, call: ClientCall) -> cst.Name | None:
    """Return `p` of `p = functools.partial(...)` in a function, if `p` is bound only there."""
    target = plain_assignment_target(context.parent(call.node))
    if target is None:
        return None
    assignments = context.index.assignments_of(target.value, call.site.scope)
    if len(assignments) != 1 or assignments[0].scope is not call.site.scope:
        return None
    if call.site.scope.kind != "function":
        # Other modules may import a module-level partial and call it.
        return None
    return target


def data_call(
    context: FileContext, call: ClientCall, spreads: list[Spread]
) -> cst.Call:
    """Return the call or partial with its event attributes in `data`, or raise CannotMove."""
    if call.partial:
        _check_partial(context, call)
    return move_into_data(context, call, spreads)


def move_into_data(
    context: FileContext, call: ClientCall, spreads: list[Spread]
) -> cst.Call:
    """Return the call with its keyword attributes and attribute spreads moved into `data`.

    `price=total` -> `data={"price": total}`, `**attrs` -> `data=attrs`,
    both -> `data={**attrs, "price": total}`; an existing `data` dict gets
    the new keys, an existing `data` variable is spread first. A spread of
    track()'s own parameters stays where it is.
    """
    if any(argument.star == "*" for argument in call.star_arguments):
        raise CannotMove(
            "the call passes *args, so its positional arguments are unknown"
        )
    for mapping in spreads:
        _check_spread(context, call, mapping)
    for mapping in spreads:
        if "data" in mapping.parameter_keys:
            code = quoted_code(mapping.argument.value, context.module)
            raise CannotMove(f"`**{code}` already passes `data`")
    moved = [mapping for mapping in spreads if mapping.attribute_keys]

    moved_ids = {id(argument) for argument in call.extra_keywords.values()}
    moved_ids |= {id(mapping.argument) for mapping in moved}
    # Spreads first: a call whose keywords repeat a key of the spread raised
    # TypeError before, so the order of valid calls does not change the data.
    elements: list[cst.BaseDictElement] = []
    for mapping in moved:
        elements.append(cst.StarredDictElement(mapping.argument.value))
    for key, argument in call.extra_keywords.items():
        elements.append(dict_element(key, argument.value))
    new_keys = set(call.extra_keywords)
    for mapping in moved:
        new_keys |= mapping.attribute_keys

    data = call.arguments.get("data")
    _check_unpacking(context, data, elements)
    if data is not None and not _is_none(data.value):
        none = may_be_none(context.index, data.value, call.site.scope)
        values = [_merge(data.value, elements, new_keys, none)]
        if isinstance(data.value, cst.Dict):
            # At the start of a `data` that follows them, the attributes are
            # evaluated where the keyword arguments evaluated them.
            values.append(prepend_dict(data.value, elements))
    else:
        values = [_data_value(elements)]

    # When no place keeps the order, the message gives the default place's problem.
    first_problem = None
    for arguments in _places(call, data, values, moved_ids):
        new_call = call.node.with_changes(args=arguments)
        problem = reordering_problem(context.index, call.node, new_call, context.module)
        if problem is None:
            return new_call
        first_problem = first_problem or problem
    assert first_problem is not None
    raise CannotMove(first_problem)


def _places(
    call: ClientCall,
    data: cst.Arg | None,
    values: list[cst.BaseExpression],
    moved_ids: set[int],
) -> Iterator[list[cst.Arg]]:
    """Yield the call's arguments with `data` at each place, the most natural first.

    `values` are the new `data` values to try at each place. An existing
    `data` first stays where it is, and a new one first takes the place of
    the first moved argument. Then `data` takes the place of each moved
    argument in turn, which keeps the order when the arguments it moves
    past only read values.
    """
    arguments = list(call.node.args)
    if data is not None:
        for value in values:
            changed = [
                data.with_changes(value=value) if item is data else item
                for item in arguments
            ]
            yield remove_items(changed, moved_ids)
        if data.keyword is None:
            # A positional `data` cannot move.
            return
        moved_ids = moved_ids | {id(data)}
        new_argument = data
    else:
        new_argument = keyword_argument("data", values[0])
    for place in arguments:
        if id(place) not in moved_ids or place is data:
            continue
        for value in values:
            replacement = new_argument.with_changes(
                value=value,
                comma=place.comma,
                whitespace_after_arg=place.whitespace_after_arg,
            )
            changed = [replacement if item is place else item for item in arguments]
            yield remove_items(changed, moved_ids - {id(place)})


def _check_unpacking(
    context: FileContext, data: cst.Arg | None, elements: list[cst.BaseDictElement]
) -> None:
    """Raise CannotMove when the new `data` needs `**` in a dict display, which Python 3.5 added.

    A lone moved spread becomes `data=attrs`, which needs no `**`.
    """
    unpacked = [
        element.value
        for element in elements
        if isinstance(element, cst.StarredDictElement)
    ]
    existing = data.value if data is not None and not _is_none(data.value) else None
    if existing is not None and not isinstance(existing, cst.Dict):
        unpacked.insert(0, existing)
    elif existing is None and len(elements) == 1:
        unpacked = []
    if not unpacked:
        return
    too_old = spread_too_old(context, unpacked[0])
    if too_old is not None:
        raise CannotMove(too_old)


def _check_spread(context: FileContext, call: ClientCall, mapping: Spread) -> None:
    """Raise CannotMove for a spread whose keys may not all be event attributes."""
    code = quoted_code(mapping.argument.value, context.module)
    if mapping.keys is None:
        parameters = _named("parameters", TRACK_METHODS[call.method], "or")
        raise CannotMove(
            f"`**{code}` may also pass the {call.method}() {parameters},"
            " so cio-fix cannot tell which of its keys are event attributes"
        )
    if mapping.parameter_keys and mapping.attribute_keys:
        parameters = _named("parameters", sorted(mapping.parameter_keys), "and")
        attributes = _named("event attributes", sorted(mapping.attribute_keys), "and")
        raise CannotMove(
            f"`**{code}` passes the {call.method}() {parameters}"
            f" together with the {attributes}"
        )
    if mapping.shared is not None:
        raise CannotMove(mapping.shared)


def _named(plural: str, words: Sequence[str], conjunction: str) -> str:
    """Return "parameter `a`" or "parameters `a`, `b` and `c`"."""
    quoted = [f"`{word}`" for word in words]
    if len(quoted) == 1:
        return f"{plural[:-1]} {quoted[0]}"
    return f"{plural} {', '.join(quoted[:-1])} {conjunction} {quoted[-1]}"


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _data_value(elements: list[cst.BaseDictElement]) -> cst.BaseExpression:
    if len(elements) == 1 and isinstance(elements[0], cst.StarredDictElement):
        return elements[0].value
    return new_dict(elements)


def _merge(
    existing: cst.BaseExpression,
    elements: list[cst.BaseDictElement],
    new_keys: set[str],
    may_be_none: bool,
) -> cst.BaseExpression:
    if not isinstance(existing, cst.Dict):
        return new_dict([spread(existing, may_be_none), *elements])
    keys = set()
    for element in existing.elements:
        if isinstance(element, cst.DictElement) and isinstance(
            element.key, cst.SimpleString
        ):
            keys.add(element.key.evaluated_value)
    repeated = sorted(new_keys & keys)
    if repeated:
        raise CannotMove(f"`data` already has a key {repeated[0]!r}")
    return extend_dict(existing, elements)
