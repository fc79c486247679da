"""Event names: built from values (CIO301), with personal data (CIO302), off style (CIO303)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial

import libcst as cst
from libcst.metadata import ExpressionContext

from cio_fix.codemods.argument_order import reordering_problem
from cio_fix.codemods.identity import normalised_code, only_reads
from cio_fix.codemods.sdk3 import rejects_keyword_attributes, unmoved_keywords_reason
from cio_fix.codemods.sent_values import f_string_too_old, sent_value
from cio_fix.codemods.timestamps import count_reads, only_binding
from cio_fix.customerio import (
    METHODS_BY_API,
    Api,
    Assignment,
    ClientCall,
    Scope,
    literal_value,
)
from cio_fix.engine import display_path
from cio_fix.events import (
    RELAY_METHODS,
    BuiltName,
    NameBranch,
    NamePart,
    NameSource,
    NameSpelling,
    append_separated,
    attribute_key,
    dict_element,
    event_name_argument,
    event_name_parameter,
    extend_dict,
    follows_style,
    insert_after,
    is_identifier_key,
    is_personal_data,
    keyword_argument,
    may_be_none,
    name_branches,
    name_calls,
    name_sources,
    new_dict,
    non_ascii_too_old,
    personal_data_in_text,
    prepend_dict,
    rebound_constant,
    remove_items,
    resolve_constant,
    split_personal_data,
    spread,
    spread_too_old,
    to_style,
    variant_key,
    wrapper_candidates,
)
from cio_fix.metadata import quoted_code
from cio_fix.model import Finding, Fix, FixSafety
from cio_fix.name_constants import (
    FixedName,
    UnknownPart,
    fixed_name,
    is_fixed,
    is_request_data,
    looks_constant,
    sent_texts,
    value_texts,
)
from cio_fix.places import MAX_LISTED_PLACES, list_labels
from cio_fix.project import ModuleSummary, ProjectIndex
from cio_fix.rules import FileContext, Rule
from cio_fix.specifiers import KEYWORD_MAJORS

MEANINGLESS_KEY = "value"


class NotFixable(Exception):
    """Raised when a name is reported but cannot be fixed safely; the message is the reason."""


@dataclass
class Placement:
    """The argument that takes a call's event attributes, with the keys it already has."""

    # "data" or "properties" (a dict argument), or "keywords".
    target: str
    argument: cst.Arg | None
    # Existing key -> its value's code, normalised by `normalised_code`.
    existing: dict[str, str] = field(default_factory=dict)
    # Keys that would not be attributes: the method's own parameters.
    reserved: frozenset[str] = frozenset()
    # False when the argument's dict is built where its keys cannot be read.
    keys_known: bool = True


@dataclass
class NameFix:
    static: str
    keys: list[str]
    # The new call, and for a name built in a variable its new value, by
    # the node they replace.
    replacements: dict[cst.CSTNode, cst.CSTNode]


# The attribute target of a call when neither the call nor the project
# gives the SDK version.
UNKNOWN_TARGET = "unknown"


def attribute_target(call: ClientCall, sdk_majors: frozenset[int] | None) -> str:
    """Return where the attributes of this call go.

    customerio 3.x takes track/track_anonymous attributes in `data`; 1.x
    and 2.x take them as keyword arguments, and so do pageview and backfill
    on every version and all of async-customerio. The call's own style
    decides first, then the declared SDK versions, when they all take them
    the same way. Keyword attributes do not count as the call's style on a
    declared 3.x, because they raise TypeError there and CIO701 moves them
    into `data`. Without either, the target is UNKNOWN_TARGET: a guess
    would nest the attributes under `data` on 2.x, or fail with a TypeError
    on 3.x.
    """
    if call.api is Api.PIPELINES:
        return "properties"
    if call.client.package == "async_customerio" or call.method in (
        "pageview",
        "backfill",
    ):
        return "keywords"
    if "data" in call.arguments and not _is_none(call.value("data")):
        return "data"
    if any(argument.star == "**" for argument in call.star_arguments):
        return "keywords"
    if call.extra_keywords and not rejects_keyword_attributes(call, sdk_majors):
        return "keywords"
    if sdk_majors is None:
        return UNKNOWN_TARGET
    if sdk_majors <= KEYWORD_MAJORS:
        return "keywords"
    if sdk_majors.isdisjoint(KEYWORD_MAJORS):
        return "data"
    return UNKNOWN_TARGET


def _local_dict(
    context: FileContext, call: ClientCall, value: cst.BaseExpression
) -> cst.Dict | None:
    """Return the dict display that `value` names, when only this call reads the name.

    `attributes = {"source": "web"}` in the function, and nothing else
    reading `attributes`, gives the keys of `data=attributes`.
    """
    if not isinstance(value, cst.Name):
        return None
    assignment = only_binding(context.index, value.value, call.site.scope)
    if (
        assignment is None
        or assignment.scope.kind != "function"
        or not isinstance(assignment.statement, (cst.Assign, cst.AnnAssign))
        or not isinstance(assignment.value, cst.Dict)
    ):
        return None
    if count_reads(context, assignment.scope, value.value) != 1:
        return None
    return assignment.value


def _is_none(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def placement_of(context: FileContext, call: ClientCall) -> Placement:
    target = attribute_target(call, context.sdk_majors)
    if target == "keywords":
        existing = {
            key: normalised_code(argument.value)
            for key, argument in call.extra_keywords.items()
        }
        parameters = METHODS_BY_API[call.api].get(call.method, ())
        return Placement(target, None, existing, frozenset({*parameters, "self"}))

    argument = call.arguments.get(target)
    existing: dict[str, str] = {}
    display = None
    if argument is not None:
        display = argument.value
        if not isinstance(display, cst.Dict):
            display = _local_dict(context, call, argument.value)
    if display is not None:
        for key, element in _string_keys(display):
            existing[key] = normalised_code(element.value)
    keys_known = (
        argument is None
        or _is_none(argument.value)
        or display is not None
        and not any(
            isinstance(element, cst.StarredDictElement) for element in display.elements
        )
    )
    if rejects_keyword_attributes(call, context.sdk_majors):
        # Read the call as the CIO701 fix writes it, because `build_fix` waits
        # for that fix. The keyword attributes join `data`, and a `data` that
        # is no dict display becomes `{**data, ...}`, whose keys are unknown.
        for key, keyword in call.extra_keywords.items():
            existing[key] = normalised_code(keyword.value)
        if argument is not None and not isinstance(argument.value, cst.Dict):
            keys_known = keys_known and _is_none(argument.value)
    return Placement(target, argument, existing, keys_known=keys_known)


def _string_keys(display: cst.Dict) -> Iterator[tuple[str, cst.DictElement]]:
    """Yield the string literal keys of a dict display, with their elements."""
    for element in display.elements:
        if isinstance(element, cst.DictElement) and isinstance(
            element.key, cst.SimpleString
        ):
            key = element.key.evaluated_value
            if isinstance(key, str):
                yield key, element


def sent_attribute_keys(call: ClientCall) -> frozenset[str]:
    """Return the attribute keys that a call writes out.

    Those are its keyword attributes and the string keys of its `data` dict
    display, or of `properties` on Data Pipelines. The CIO301 fix puts the
    values it takes out of a name there on every customerio version, and
    the CIO701 fix moves keyword attributes into that dict.
    """
    if call.api is Api.PIPELINES:
        keys: set[str] = set()
        display = call.value("properties")
    else:
        keys = set(call.extra_keywords)
        display = call.value("data")
    if isinstance(display, cst.Dict):
        keys.update(key for key, _ in _string_keys(display))
    return frozenset(keys)


def _base_keys(values: list[NamePart]) -> list[str]:
    """Return the key that each value is named after, before `allocate_keys` numbers repeats."""
    bases = []
    for part in values:
        bases.append(part.key or attribute_key(part.expression) or MEANINGLESS_KEY)
    meaningless = bases.count(MEANINGLESS_KEY)
    if meaningless > 1:
        number = 0
        for position, base in enumerate(bases):
            if base == MEANINGLESS_KEY:
                number += 1
                bases[position] = f"{MEANINGLESS_KEY}_{number}"
    return bases


def allocate_keys(
    context: FileContext, values: list[NamePart], placement: Placement
) -> list[str | None]:
    """Give each value an attribute key; None for a value already sent under its key.

    Keys of different values never collide: a repeated key is numbered.
    A key already in the call with a different value raises NotFixable.
    """
    bases = _base_keys(values)
    chosen: dict[str, str] = {}
    keys: list[str | None] = []
    for part, base in zip(values, bases, strict=True):
        # `form['plan']` in the name and `plan=form["plan"]` are one value.
        source = normalised_code(part.value)
        if placement.existing.get(base) == source or chosen.get(base) == source:
            keys.append(None)
            continue
        if base in placement.existing:
            raise NotFixable(
                f"the call already sends an attribute `{base}` with a different value"
            )
        key = base
        suffix = 1
        while key in chosen or key in placement.existing or not _usable(key, placement):
            suffix += 1
            key = f"{base}_{suffix}"
        chosen[key] = source
        keys.append(key)
    return keys


def _usable(key: str, placement: Placement) -> bool:
    if placement.target != "keywords":
        return True
    return is_identifier_key(key) and key not in placement.reserved


def fixed_call_keys(
    context: FileContext, call: ClientCall, built: BuiltName, fixed: FixedName
) -> frozenset[str]:
    """Return the attribute keys that a call writes out once the fix of its name is applied.

    They are the keys that the fix gives the values it takes out of the
    name, and for a value that the call already sends under its key, that
    key. Empty when the values get no keys (`allocate_keys` raises
    NotFixable), so that no call counts as this call's fixed form.
    """
    values = [part for part in built.values if id(part) not in fixed.kept]
    try:
        keys = allocate_keys(context, values, placement_of(context, call))
    except NotFixable:
        return frozenset()
    bases = _base_keys(values)
    return frozenset(
        base if key is None else key for key, base in zip(keys, bases, strict=True)
    )


def build_fix(
    context: FileContext,
    call: ClientCall,
    branch: NameBranch,
    built: BuiltName,
    sent: SentNames,
) -> NameFix:
    """Rewrite the call: a static name, and the values as event attributes.

    `built` is the name of `branch` taken apart. A name built in a local
    variable gets the static name there, and the call gets the values. A
    static name that would merge these events into others (`find_merge`)
    raises NotFixable, because campaigns on either event would then also
    receive the other.
    """
    if not built.supported:
        raise NotFixable(
            built.reason
            or f"the {built.form} form of this name cannot be taken apart safely"
        )
    if branch.conditional:
        raise NotFixable(
            "a conditional expression picks this name, and the attributes would"
            " have to be sent with this branch only"
        )
    scope = branch.scope
    try:
        fixed = fixed_name(context, scope, built)
    except UnknownPart as reason:
        raise NotFixable(str(reason)) from None
    static = fixed.text
    if not static:
        raise NotFixable(
            "no text is left to name the event once the values are taken out"
        )
    fixed_keys = fixed_call_keys(context, call, built, fixed)
    merge = find_merge(sent, static, build_signature(built), fixed_keys)
    if merge is not None:
        raise NotFixable(f"{merge.detail}; choose a name of its own")
    name_argument = event_name_argument(call)
    assert name_argument is not None
    too_old = non_ascii_too_old(context, static, built.node)
    if too_old is not None:
        raise NotFixable(too_old)
    if branch.binding is not None:
        problem = variable_problem(context, call, branch.binding)
        if problem is not None:
            raise NotFixable(problem)
    placement = placement_of(context, call)
    if placement.target == UNKNOWN_TARGET:
        unknown = "the customerio version is unknown"
        advice = (
            "declare the version in requirements or set sdk-version in [tool.cio-fix]"
        )
        conflict = context.sdk_conflict
        if conflict is not None:
            unknown += f" because {conflict}"
            advice = "set sdk-version in [tool.cio-fix]"
        raise NotFixable(
            f"{unknown}, and attributes go in `data` on 3.x but in keyword"
            f" arguments on 2.x; {advice}"
        )
    if call.positional_only and (
        placement.target == "keywords" or placement.argument is None
    ):
        raise NotFixable(
            "`run_in_executor` passes no keyword arguments to the method, and the"
            " call has no `data` argument to hold the values"
        )
    if placement.target == "keywords" and any(
        argument.star == "**" for argument in call.star_arguments
    ):
        raise NotFixable(
            "the call passes **kwargs, which may already contain the new keys"
        )
    waits_for_data = rejects_keyword_attributes(call, context.sdk_majors)
    if waits_for_data:
        _check_keywords_moved(context, call)
    if not placement.keys_known:
        # A new key that the data also has would replace its value in the
        # event: an attribute that segments read would change.
        raise NotFixable(
            "the event data may already contain the new keys, and cio-fix cannot"
            " read them"
        )

    values = [part for part in built.values if id(part) not in fixed.kept]
    keys = allocate_keys(context, values, placement)
    if waits_for_data:
        # Added now, the values would go into a `data` beside keyword
        # attributes that still raise TypeError, and CIO701 could then fail
        # to move them. The next pass fixes the name in the call that the
        # CIO701 fix writes, as a run of CIO701 and then CIO301 would.
        used = [key for key in keys if key is not None]
        return NameFix(static, used, {})
    new_items = []
    for part, key in zip(values, keys, strict=True):
        if key is None:
            continue
        value = sent_value(context, scope, part)
        too_old = f_string_too_old(context, value)
        if too_old is not None:
            raise NotFixable(too_old)
        if placement.target == "keywords":
            new_items.append(keyword_argument(key, value))
        else:
            new_items.append(dict_element(key, value))

    replaced = {}
    if branch.binding is None:
        new_name = name_argument.with_changes(value=fixed.expression)
        replaced[id(name_argument)] = new_name
    arguments = _replace_items(list(call.node.args), replaced)
    opening = call.node.whitespace_before_args
    data = placement.argument
    if placement.target == "keywords":
        arguments = append_separated(arguments, new_items, opening)
    elif data is not None and _is_none(data.value):
        arguments = _replace_items(
            arguments, {id(data): data.with_changes(value=new_dict(new_items))}
        )
    elif data is None:
        new_argument = keyword_argument(placement.target, new_dict(new_items))
        arguments = append_separated(
            arguments, [new_argument] if new_items else [], opening
        )
    elif new_items:
        # `_merged_dict` writes `{**data.value, ...}` for a name of a dict.
        if not isinstance(data.value, cst.Dict):
            too_old = spread_too_old(context, data.value)
            if too_old is not None:
                raise NotFixable(too_old)
        none = may_be_none(context.index, data.value, call.site.scope)
        merged = _merged_dict(data.value, new_items, none)
        arguments = _replace_items(
            arguments, {id(data): data.with_changes(value=merged)}
        )

    # The parts that stay in the name cannot change (see `fixed_name`).
    constants = frozenset(
        id(part.expression) for part in built.values if id(part) in fixed.kept
    )
    old_call = call.node
    if branch.binding is not None:
        # The variable's statement evaluated the values before the call
        # evaluated any of its arguments.
        old_call = call.node.with_changes(args=[cst.Arg(built.node), *call.node.args])
    new_call = call.node.with_changes(args=arguments)
    problem = reordering_problem(
        context.index, old_call, new_call, context.module, constants
    )
    if problem is not None:
        with_name = _replace_items(list(call.node.args), replaced)
        fixed_argument = replaced.get(id(name_argument), name_argument)
        for arguments in _other_places(with_name, fixed_argument, placement, new_items):
            candidate = call.node.with_changes(args=arguments)
            if not reordering_problem(
                context.index, old_call, candidate, context.module, constants
            ):
                new_call = candidate
                problem = None
                break
    if problem is not None:
        raise NotFixable(problem)
    used = [key for key in keys if key is not None]
    replacements: dict[cst.CSTNode, cst.CSTNode] = {call.node: new_call}
    if branch.binding is not None:
        replacements[built.node] = fixed.expression
    return NameFix(static, used, replacements)


def _check_keywords_moved(context: FileContext, call: ClientCall) -> None:
    """Raise NotFixable unless CIO701 moves the call's keyword attributes into `data`.

    customerio 3.x raises TypeError on them, so without that move the fixed
    call would not work either.
    """
    reason = unmoved_keywords_reason(context, call)
    if reason is None:
        return
    names = ", ".join(f"`{key}`" for key in call.extra_keywords)
    raise NotFixable(
        f"customerio 3.x rejects the keyword attributes {names} of this call,"
        f" and {reason}"
    )


def variable_problem(
    context: FileContext, call: ClientCall, binding: Assignment
) -> str | None:
    """Return why a name built in a local variable cannot be fixed, or None.

    The fix gives the variable the static name and moves the values into
    the call, so they are evaluated at the call. That keeps what they
    evaluate to only when the variable's statement comes right before the
    statement of the call, the call is that whole statement (or its
    `return`, `await` or assigned value), and the receiver only reads
    values. The variable must be the call's name argument and be read
    nowhere else, because any other read would get the static name.
    """
    variable = binding.name
    name = event_name_argument(call)
    if name is None or not (
        isinstance(name.value, cst.Name) and name.value.value == variable
    ):
        return f"the call reads `{variable}` through another variable"
    if count_reads(context, binding.scope, variable) != 1:
        return f"`{variable}` is also read elsewhere, where it would lose the values"
    statement = _statement_line(context, call.node)
    assigned = context.parent(binding.statement)
    if statement is None or not isinstance(assigned, cst.SimpleStatementLine):
        return (
            f"the call is no statement of its own, so moving the values of"
            f" `{variable}` into it could change when they are evaluated"
        )
    block = context.parent(statement)
    body = getattr(block, "body", ())
    if (
        len(assigned.body) != 1
        or context.parent(assigned) is not block
        or not any(item is assigned for item in body)
        or _index_of(body, statement) != _index_of(body, assigned) + 1
    ):
        return (
            f"`{variable}` is not assigned in the statement right before the call,"
            " so code in between may change its values"
        )
    if not only_reads(context.index, call.node.func):
        return (
            f"the values of `{variable}` would be evaluated after"
            f" `{_code(context, call.node.func)}`, which may change them"
        )
    return None


def _statement_line(
    context: FileContext, node: cst.Call
) -> cst.SimpleStatementLine | None:
    """Return the line of the statement that is the call, or returns, awaits or assigns it."""
    parent = context.parent(node)
    if isinstance(parent, cst.Await):
        node, parent = parent, context.parent(parent)
    if isinstance(parent, (cst.Expr, cst.Return, cst.Assign, cst.AnnAssign)):
        if parent.value is not node:
            return None
        line = context.parent(parent)
        if isinstance(line, cst.SimpleStatementLine) and len(line.body) == 1:
            return line
    return None


def _index_of(items: Sequence[object], item: object) -> int:
    return next(number for number, other in enumerate(items) if other is item)


def _other_places(
    arguments: list[cst.Arg],
    name_argument: cst.Arg,
    placement: Placement,
    new_items: list,
) -> Iterator[list[cst.Arg]]:
    """Yield the call's arguments with the values at the places that may keep their order.

    `arguments` has the fixed name. The places come after the default one,
    which is the end of `data` or of the keyword arguments, and the first
    one whose order check passes is the fix. At the start of a `data` dict
    or right after the name, the values are evaluated where the name
    evaluated them, so only the arguments between them may get in the way.
    """
    data = placement.argument
    if not new_items:
        return
    if data is not None and isinstance(data.value, cst.Dict):
        start = data.with_changes(value=prepend_dict(data.value, new_items))
        yield _replace_items(arguments, {id(data): start})

    if placement.target == "keywords":
        inserted = new_items
    elif data is None:
        inserted = [keyword_argument(placement.target, new_dict(new_items))]
    elif data.keyword is None:
        # A positional `data` cannot move.
        return
    elif _is_none(data.value):
        inserted = [data.with_changes(value=new_dict(new_items))]
    elif isinstance(data.value, cst.Dict):
        inserted = [data.with_changes(value=prepend_dict(data.value, new_items))]
    else:
        return
    position = _position(arguments, name_argument.value)
    if data is not None:
        if position + 1 < len(arguments) and arguments[position + 1] is data:
            # Moved there, it would give the start of `data` tried above.
            return
        arguments = remove_items(arguments, {id(data)})
        # `remove_items` may have replaced the name's argument.
        position = _position(arguments, name_argument.value)
    later = arguments[position + 1 :]
    # A keyword argument cannot come before a positional one, and one
    # before `*args` would be evaluated after it.
    if not later or any(item.keyword is None and item.star != "**" for item in later):
        return
    name_argument = arguments[position]
    yield insert_after(arguments, name_argument, inserted)


def _position(arguments: list[cst.Arg], value: cst.BaseExpression) -> int:
    return next(number for number, item in enumerate(arguments) if item.value is value)


def _merged_dict(
    old: cst.BaseExpression, new_items: list, may_be_none: bool
) -> cst.Dict:
    """Add `new_items` to a dict literal, or to `{**old}` for a name of a local dict."""
    if not isinstance(old, cst.Dict):
        return new_dict([spread(old, may_be_none), *new_items])
    return extend_dict(old, new_items)


def _replace_items(items: list, replacements: dict[int, object]) -> list:
    return [replacements.get(id(item), item) for item in items]


def personal_data_parts(built: BuiltName) -> list[str]:
    """Return what personal data the name contains, as the words for a message."""
    found = []
    for part in built.parts:
        if part.text is not None:
            found.extend(kind for _, _, kind in personal_data_in_text(part.text))
        elif part.expression is not None and is_personal_data(part.expression):
            found.append(f"`{attribute_key(part.expression)}`")
    return found


def _code(context: FileContext, node: cst.CSTNode) -> str:
    return quoted_code(node, context.module)


class DynamicEventName(Rule):
    """What it does:
    Finds event names built from values: f-strings, `+` chains, `%`
    formatting, `str.format` and `str.join` of a literal separator over a
    list or tuple written in the call (`"_".join(["shared", network])`), in
    the name of track, track_anonymous and backfill (Track API) and track
    (Data Pipelines), also nested in each other (`"order_{}".format(status)
    + "_sent"`). It also finds such a name in a local variable bound once
    in the function (`event_name = f"viewed_{sku}"` before the call), and
    each built branch of a conditional expression (`f"liked_{sku}" if sku
    else "liked"`). A method handed with its arguments to a function that
    runs it later counts as the call it makes: `tasks.add_task(cio.track,
    uid, f"viewed_{sku}")` of FastAPI and Starlette, `executor.submit(...)`,
    `asyncio.to_thread(...)` and `loop.run_in_executor(executor, cio.track,
    ...)`. A pageview's page is
    the URL that segments match, so values in it are not reported. Test
    code is left alone, because its events go to a local server:
    `test_*.py`, `*_test.py`, `conftest.py`, modules named `tests` or
    `test`, and the files below folders of those names, unless application
    code imports from them (`--explain CIO101` describes both).

    Why is this bad?
    Customer.io keeps one entry in the workspace's event catalog per
    distinct name, and campaign triggers and segments match names exactly.
    `viewed_{sku}` creates a new event for every product, so no campaign
    can trigger on "a product was viewed", and the catalog grows by one
    entry per product.

    Example:
        cio.track(customer_id=uid, name=f"viewed_{product.sku}")

    Use instead:
        cio.track(customer_id=uid, name="viewed", data={"product_sku": f"{product.sku}"})

    Fix safety:
    Safe, unless the project sends a name that cio-fix cannot read (see
    below). The literal parts, trimmed of separators and written in the
    configured `event-name-style`, become the name, and each value becomes
    an event attribute named after its expression. The events of the old
    names stop arriving once the fix is deployed, so the message tells the
    user to point the campaigns and segments that match them at the new
    name, with a filter on the attribute, first. A name is reported without a fix
    when its new name would merge its events into others: a name that the
    project already sends, a name that differs from a sent one only in
    case or separators (which CIO303 would then rename into one), or the
    new name of a different built name elsewhere in the project. A call
    that sends the new name with every attribute key that the fix writes,
    as keyword arguments or in a `data` or `properties` dict written in
    the call (also through the CIO304 helper), is no other event: it is
    this fix, written by an earlier run over some of the files, such as a
    pre-commit hook's run. So a later run fixes the rest the same way. A
    call that sends the name without one of those keys, or with its keys
    in a variable, is another event. The message names the first five
    places in line order and counts the others. A sent
    name is any name cio-fix can read in any file but test code, whose
    names do not reach the workspace. A test module that a module outside
    test code imports from (`from app.tests.helpers import send_order`)
    runs in production, so its names count too. That is a literal, a
    constant, an enum member, a string class attribute or a variable bound
    once in the function. The constant or class may be imported from
    another module of the project, also through a re-export. It is also
    each name of a name picked from a few fixed values, the `name=` of a
    `functools.partial` of a client method and the names that its calls
    pass with `name=` (which replaces the bound one), when the partial is
    bound once to a private or local name that code only calls (else the
    name is unread), and a name read with a literal
    key or argument: `EVENTS["paid"]` or `EVENTS.get("paid")` on a
    module-level dict of string literals that its module only reads (no
    item assignment, `update`, `setdefault`, `pop`, `global` rebinding or
    passing it to a function) and no other module imports,
    `TEMPLATE.format("task")` or `TEMPLATE % "task"` on a module constant,
    and `getattr(Event, "CANCEL")` on a class whose members or string
    attributes cio-fix reads. So is `self.event_name` in a method of a
    class whose body assigns it a string literal: its names are that one
    and those of the subclasses in the module that assign it. The class
    must have no base outside its module, no other module may import it,
    and nothing may assign the attribute through an object or `setattr`.
    It is also each name that the callers
    pass to a private wrapper function whose parameter is the call's name
    (`def _track(uid, name): cio.track(customer_id=uid, name=name)`), in
    its module and in the other modules of the project that call it
    (`_track(...)` after `from app.ev import _track`, `ev._track(...)` after
    `from app import ev`, or after a star import). Callers in test code
    do not count. A public wrapper, a decorated one (the decorator may
    change the name), and one that code reads other than to call it (also
    `getattr(ev, "_track")` or `getattr(ev, name)` in another module) may
    have callers that cio-fix does not read, so its name counts as unread
    (see below), and so does a call whose name cio-fix cannot read. A
    public pass-through wrapper (the README describes them) is the
    exception once the project calls it: each call is read as the client
    call, with the name it passes, as `--list-events` reads it. Then a use
    of it other than such a call (`handlers = [tracking.track]`) counts as
    unread instead. Code
    that cio-fix does not read may change a string class attribute (also
    read through `getattr`), a dict item or `self.event_name` at run time
    (`Names.PAID = "order"` in another module), so a name read through one
    of these counts as sent and also as unread. Enum members and literals
    are not changed that way. A module constant is, when a module of the
    project assigns it through the module object (`ev.TEMPLATE = "order"`
    after `from app import ev`, also `+=`, `setattr(ev, "TEMPLATE", ...)`,
    `vars(ev)["TEMPLATE"] = ...` or `ev.__dict__`, and `setattr(ev, name,
    ...)` for every constant of `ev`), or its own module writes to
    `globals()` or `sys.modules[__name__]`: a name read through such a
    constant, also with `.format` or `%`, counts as unread. A module-level
    name bound more than once (an import and an assignment, two imports in
    a `try`/`except ImportError` fallback, or a class that a later star
    import may replace) counts as the name of each of its bindings when
    cio-fix can read every one of them. Two built names
    with the same literal parts and attribute keys send the same events
    and share the fix. The fix is unsafe, so only `--unsafe-fixes` applies
    it, when the project sends a name that cio-fix cannot read, because
    the new name may be that one. Such a name is a parameter of a wrapper
    function, `self.event_name` of another class, a lookup with a key that changes
    (`EVENTS[kind]`) or in a dict that code may change, a call, a
    call that passes only `**kwargs`, a member of an enum defined outside
    the project or an `auto()` member. So is every name of a file that
    mentions Customer.io or imports from such a file but cannot be read or
    parsed (a syntax error, Python 2 code, a file over 1 MiB). The message
    names the first such place. Names built from values do not count,
    because their new names are compared, and neither do the names of
    test code. Files left out by `exclude` or `extend-exclude`, and the
    files of another project of the repository with its own
    `[tool.cio-fix]` table, are not read: their names are neither
    compared nor make the fix unsafe. Check the names those files send
    before you apply the fix. Every way of writing a
    name gives the same name and attribute keys: a nested build gives its
    own literal parts and values, and a string literal passed to `%` or
    `.format` is a literal part. Each attribute has the text that the name
    had, because the SDK encodes attributes as JSON, which has no form for
    a `UUID`, a `Decimal`, a `date`, an enum member or a model object:
    sending such a value itself would raise. So `f"order_{order_id}"` sends
    `{"order_id": f"{order_id}"}`, and a `.format` or `%` value becomes
    `"{}".format(x)` or `"%s" % (x,)`, which format it as the name did
    (`format(x, "")` differs from `str(x)` for some types). An f-string
    text takes the quote of the file's new literals, and the literals
    in its braces take the other quote, which Python before 3.12 requires:
    in a file of single quotes, `f"viewed_{row['sku']}"` sends
    `f'{row["sku"]}'`. A value that is a `str` on every call is sent as it
    is: a string literal, a call of `str`, an operand of `+`, a parameter
    annotated `str`, or a variable bound once to one of these. So is an
    `int` on every call (an integer literal, a call of `int` or `len`, or a
    variable bound once to one), because JSON writes it with the digits of
    its text. Other numbers are sent as their text, because Python does not
    check annotations, and a `Decimal` passed for an `int` parameter would
    not encode. A value with
    a format spec or conversion (`{n:03d}`) keeps it. A part
    that cannot change stays in the name as it is written, and only the
    values that change move out: `f"{PREFIX}_upgraded_{region}"` becomes
    `PREFIX + "_upgraded"`. One such part is a module-level name assigned
    once to a string literal, in this module or imported from a module of
    the project. Another is a member of an enum class, of this module or
    imported from a module of the project, that is assigned a string
    literal (`Event.X` or `Event["X"]`): read as
    `.value`, as a `StrEnum` member, or as a member of a `str` enum in a `+`
    chain. What `+`, an index, a slice with literal bounds, `str()` or a
    string method that changes case, strips, removes or replaces text
    (`.upper()`, `.replace("ing", "ed")`) makes of these cannot change
    either, so `f"{PREFIX.upper()}_upgraded_{region}"` becomes
    `PREFIX.upper() + "_upgraded"`. A part that reads only names spelled as
    constants, enum members or classes, but is not one of these, is reported
    without a fix, because moving it out would rename the event: a name
    bound more than once at module level (an assignment and an import, two
    imports, a name that a later star import or a `global` statement may
    rebind), a constant that another module or `globals()` may rebind (see
    above), a class attribute that code may rebind, a member of an
    enum defined outside the project, one not assigned a string literal
    (`auto()`), a member of an enum that defines a private or special
    method, a call of another function (`slug(PREFIX)`, `PREFIX.zfill(9)`),
    or such a part with a format spec or conversion. So is a member of
    `class Event(str, Enum)` in a formatted name, which Python 3.11 and
    later write as `Event.X`. A lowercase name that is not such a constant,
    such as a parameter, is a value that changes, and so is a part that
    reads one (`PREFIX[:size]`). Django's request data (`request.GET`,
    `request.POST`, `request.META`, `request.FILES`, `request.COOKIES`,
    also through `self.request`) changes too, although it is spelled in
    capitals.
    Attributes go where the SDK takes them: into `data` (customerio 3.x), keyword
    arguments (customerio 1.x and 2.x, backfill, async-customerio) or
    `properties` (Data Pipelines). A `data` variable that names a dict the
    function builds is merged as `data={**payload, "key": value}`, which
    needs Python 3.5: in a project that declares an older Python (the
    README lists where cio-fix reads that version) that call is reported
    without a fix. Event
    data whose keys cannot be read (a parameter, a dict from another
    function, a dict that unpacks another one) gets no fix: a new key that
    it also had would replace the value it sends, and segments that read
    that attribute would change. A non-ASCII name is not written into a
    file without a coding declaration in a project that declares Python 2,
    which reads such a file as ASCII. The literals that the fix writes from
    a name with the `u` prefix (`u"refund_" + kind`) keep it, so that
    Python 2 still sends a unicode name rather than a byte string. The new
    literal spells a non-ASCII character as the name's literals do, so
    `"caf\\xe9_%s" % shop` becomes `"caf\\xe9"`, which a file declared
    `# -*- coding: ascii -*-` can contain.
    The values keep the order in which the call evaluated them. They go
    at the end of `data` or of the keyword arguments when that keeps the
    order. Otherwise they go at the start of a `data` dict that follows the
    name, or right after the name: in a new `data` (new keyword arguments
    on customerio 2.x), or at the start of the call's `data` dict, which
    moves there. So `name=f"export_{job.kind}", timestamp=clock.now()`
    becomes `name="export", data={"job_kind": job.kind},
    timestamp=clock.now()`.
    The order matters when a value calls code or assigns a name with `:=`,
    and an argument that the fix moves it past reads what it changes or
    changes what it reads. When no place keeps the order, the name is
    reported without a fix. One such case is `timestamp=clock.now()`
    between `f"sent_{job.kind}"` and `data={"size": job.size}`, because
    the call may change `job.kind` or `job.size`. Nothing goes right
    after a name that a positional argument or `*args` follows.
    `loop.run_in_executor` passes the method no keyword arguments, so a
    call handed to it is fixed only when it passes `data` by position.
    In a project that declares customerio 3.x, a track() or
    track_anonymous() call that passes event attributes as keyword
    arguments raises TypeError, and a value added beside them would fail
    with it. So the fix waits for CIO701 to move them into `data` in the
    same run, and then adds the values to that `data`, as a run of CIO701
    and then CIO301 would: `track(uid, "renamed_" + name, reason="typo")`
    becomes `track(uid, "renamed", data={"reason": "typo", "name": name})`.
    When CIO701 does not move them (it is not selected, a `# noqa`
    silences it, or it reports the call without a fix), the name is
    reported without a fix, and the message gives the reason.
    A name without a literal part, a name
    form that cannot be taken apart (a spec or conversion over a part that
    contains literal text, such as `"{!r}".format("order_" + s)`, a `%`
    mapping other than a dict display with string keys, one `%` operand
    for several specifiers, `*args`, a lookup in a `.format` field, a
    string method over a built name such as `f"order_{s}".upper()`), a key
    already sent with a different value (in the call, or in a dict that the
    function builds for it), and a call that gives no hint of where its
    attributes go when the project declares no customerio version, or one
    that allows both 2.x and 3.x (`customerio>=2,<4`), are reported without
    a fix. So is a built branch of a conditional expression, because the
    attributes would have to go with that branch only. A name built in a
    local variable is fixed where the variable gets the fixed name and the
    call gets the values, so they are evaluated at the call. That keeps
    their values only when the variable's statement comes right before the
    call's statement, the call is that whole statement (or its `return`,
    `await` or assigned value), the receiver only reads values, and the
    argument order check above passes with the values evaluated first.
    The variable must be the call's name argument and be read nowhere
    else, because any other read would get the fixed name. Otherwise the
    name is reported without a fix. A name that also contains personal
    data is reported by CIO302 instead, and a bare variable that the
    function does not build, such as a parameter (events forwarded from a
    queue), is not reported.
    """

    code = "CIO301"
    name = "dynamic-event-name"
    summary = "event names built from values, which create one catalog entry per value"
    fix_safety = FixSafety.SAFE

    def collect(self, context: FileContext) -> FileNames:
        return sent_name_facts(context)

    def files_to_check_again(
        self, project: ProjectIndex, fixed_project: ProjectIndex
    ) -> set[str]:
        return files_of_changed_merges(project, fixed_project, self.code)

    def check(self, context: FileContext) -> Iterator[Finding]:
        if context.in_test_code:
            return
        for call, _, branch in name_calls(context):
            built = branch.built
            assert built is not None
            if not built.is_dynamic:
                continue
            if personal_data_parts(built):
                continue
            if _picked_from_few(context, branch.scope, built):
                # A name picked from a few fixed values is a few events that
                # campaigns may trigger on; renaming them is no safe fix.
                continue
            yield self._finding(context, call, branch, built)

    def _finding(
        self,
        context: FileContext,
        call: ClientCall,
        branch: NameBranch,
        built: BuiltName,
    ) -> Finding:
        name_code = _code(context, built.node)
        if branch.binding is not None:
            name_code += f" in `{branch.binding.name}`"
        problem = (
            f"event name {name_code} is built from values, so Customer.io records a"
            " separate event for every value and campaign triggers cannot match it"
        )
        return static_name_finding(
            self, context, call, branch, built, problem, "values"
        )


class PersonalDataInEventName(Rule):
    """What it does:
    Finds event names that contain personal data: an email address or phone
    number written in the name, or a value that names an email, phone,
    person's name or address (`f"logged_in_{user.email}"`). It reads the
    names that CIO301 reads, also in a local variable or a conditional
    expression. Test code is left alone, as in CIO301, because its events
    and their personal data go to a local server.

    Why is this bad?
    Event names are indexed in the workspace's event catalog and stay there:
    a GDPR erasure request deletes the person and their attributes, but not
    the names of the events they sent. Each address in a name is also a
    separate event that no campaign can trigger on.

    Example:
        cio.track(customer_id=user.id, name=f"logged_in_{user.email}")

    Use instead:
        cio.track(customer_id=user.id, name="logged_in", data={"user_email": f"{user.email}"})

    Fix safety:
    Safe, unless the project sends a name that cio-fix cannot read, as
    CIO301 decides. The fix is the one of CIO301: a static name, and the personal
    data moved into an event attribute, which is deleted with the person.
    An address written in the name itself becomes an `email` (or `phone`)
    attribute, written with the `u` prefix when the name had it, as in
    CIO301. An address may contain letters and digits of any script, and
    its local part also `_.%+-`, so in `"signup_bob@example.com"` or
    `"registrácia_jana@example.com"` the whole name is the address: no
    text is left to name the event, and the name is reported without a
    fix. The last label of the address's domain is ASCII letters, or a
    top-level domain of the DNS root zone that is not ASCII (`.рф`,
    `.中国`, `.भारत`). Other text around an `@` is not an address.
    Japanese writes `@` for "at" a place, so `"注文@東京.店舗"` (an order
    at the Tokyo store) is not reported, and neither is a test address on
    a domain that does not exist, such as `"用户@例子.广告"`. Chinese and
    Japanese put no space between words, so the top-level domain ends
    where its script ends: `"bob@example.com已注册"` is reported and fixed
    to `"已注册"`. The script changes between Latin and any other script,
    so `"注文@東京.中国語"` has no address (the text goes on in the script
    of `.中国`) and neither has `"bob@example.comé"`. A Latin top-level
    domain run into text counts only on a domain of Latin labels, because
    ASCII ones are not checked against the root zone. So `"注文@東京.ab店舗"`
    (`ab` at the Tokyo store) is not reported, and neither is a real
    address written that way, such as `"注文@東京.jp店舗"`. When
    the local part mixes Latin and other letters, as in
    `"用户bob@example.com注册成功"`, the address may start after the word
    in front of it, and the name is reported without a fix. When a name
    has both problems only this rule reports it. A name that CIO301
    cannot take apart, or whose new name would merge its events into
    others (as CIO301 decides), is reported without a fix.
    """

    code = "CIO302"
    name = "pii-in-event-name"
    summary = "event names that contain emails, phone numbers or other personal data"
    fix_safety = FixSafety.SAFE

    def collect(self, context: FileContext) -> FileNames:
        return sent_name_facts(context)

    def files_to_check_again(
        self, project: ProjectIndex, fixed_project: ProjectIndex
    ) -> set[str]:
        return files_of_changed_merges(project, fixed_project, self.code)

    def check(self, context: FileContext) -> Iterator[Finding]:
        if context.in_test_code:
            return
        for call, _, branch in name_calls(context):
            assert branch.built is not None
            found = personal_data_parts(branch.built)
            if not found:
                continue
            yield self._finding(
                context, call, branch, split_personal_data(branch.built), found
            )

    def _finding(
        self,
        context: FileContext,
        call: ClientCall,
        branch: NameBranch,
        built: BuiltName,
        found: list[str],
    ) -> Finding:
        kinds = ", ".join(dict.fromkeys(found))
        problem = (
            f"event name contains personal data ({kinds}); event names cannot be"
            " erased on a GDPR request, but attributes can"
        )
        return static_name_finding(self, context, call, branch, built, problem, "data")


def static_name_finding(
    rule: Rule,
    context: FileContext,
    call: ClientCall,
    branch: NameBranch,
    built: BuiltName,
    problem: str,
    moved: str,
) -> Finding:
    """Report a name to make static, with the fix when one can be built.

    `built` is the name of `branch` taken apart. `moved` is what goes into
    attributes: "values" or "data".
    """
    sent = context.project.shared(
        f"{rule.code} sent names", partial(names_sent, code=rule.code)
    )
    try:
        fixed = build_fix(context, call, branch, built, sent)
    except NotFixable as reason:
        if moved == "values" and len(built.values) > 1:
            sent_as = "the values as event attributes"
        elif moved == "values":
            sent_as = "the value as an event attribute"
        else:
            sent_as = "the data as an event attribute"
        advice = f"{problem}; use a fixed name and send {sent_as}"
        return context.finding(
            rule,
            branch.node,
            f"{advice} (not fixed: {reason})",
            fixed_message=advice,
        )
    if len(fixed.keys) == 1:
        moved = "value" if moved == "values" else moved
        attributes, those = "the attribute", "that attribute"
    else:
        attributes, those = "attributes", "those attributes"
    message = (
        f"{problem}; send {fixed.static!r} with the {moved} as {attributes}"
        f" {_keys(fixed.keys)}"
    )
    if moved.startswith("value"):
        # The per-value names stop arriving once the fix is deployed.
        message += (
            ", and before deploying, point the campaigns and segments that match"
            f" the old names at {fixed.static!r} with a filter on {those}"
        )
    safety = FixSafety.SAFE
    unread = sent.first_unread()
    if unread is not None:
        # The fixed name may be one of the names cio-fix could not read, and
        # then the fix merges two events.
        safety = FixSafety.UNSAFE
        message += f" (unsafe: {unread}, so the fixed name may already be sent)"
    fix = Fix(safety, fixed.replacements, description=f"name {fixed.static!r}")
    return context.finding(rule, branch.node, message, fix)


# (name, imported constant or "", place, build, code, attribute keys) per
# event name, as CIO301 and CIO302 collect them. `build` is "" for a name
# that a call sends, where `name` is the text or "" for an imported constant
# read from the project later, and `attribute keys` are those the call
# writes out (`sent_attribute_keys`). For a name built from values, `name`
# is the fixed name of its fix, `build` is `build_signature` and `code` its
# expression. A name sent through a wrapper or a partial has no keys.
NameFact = tuple[str, str, str, str, str, frozenset[str]]


@dataclass
class FileNames:
    """The event names that one file sends, as CIO301 and CIO302 collect them."""

    facts: list[NameFact] = field(default_factory=list)
    # "path:line" of each call whose name cio-fix cannot read: a parameter,
    # `EVENTS[kind]`, `**kwargs`. It may send any fixed name.
    unread: list[str] = field(default_factory=list)
    # The places of `unread` whose names cio-fix reads, but through a class
    # attribute, a dict item or `self`, which code may change at run time.
    mutable: list[str] = field(default_factory=list)
    # (name, place) of each name sent through a wrapper function or a
    # `functools.partial`, which `--list-events` lists from here.
    relayed: list[tuple[str, str]] = field(default_factory=list)
    # The parameters through which each private wrapper of this module that
    # cio-fix reads passes the event name, by the wrapper's name.
    wrappers: dict[str, list[WrapperParameter]] = field(default_factory=dict)
    # Each use of a possible wrapper of another module.
    wrapper_uses: list[WrapperUse] = field(default_factory=list)
    # This module's public pass-through wrappers whose calls cio-fix reads
    # as client calls (`pass_through_calls`). The places of `unread` in
    # such a wrapper are no unread names once the project uses it.
    pass_through: list[PassThrough] = field(default_factory=list)
    # The public pass-through wrappers of other modules that this module
    # uses, as (module, name).
    used_wrappers: set[tuple[str, str]] = field(default_factory=set)
    # The places where this module uses such a wrapper other than by a
    # call that cio-fix reads (`unfollowed_wrapper_uses`).
    unfollowed_uses: list[str] = field(default_factory=list)

    def add_relayed(self, texts: Iterable[str], place: str) -> None:
        """Add names sent at `place` through a wrapper or a partial."""
        for text in sorted(texts):
            self.facts.append((text, "", place, "", "", frozenset()))
            self.relayed.append((text, place))


@dataclass(frozen=True)
class WrapperParameter:
    """The parameter of a wrapper function that carries the event name."""

    name: str
    # Its index among the positional parameters, or None when keyword-only.
    position: int | None
    # The names its default sends, () without a default, and None when
    # cio-fix cannot read the default.
    default: tuple[str, ...] | None


@dataclass(frozen=True)
class PassedValue:
    """One argument of a call of a wrapper, as the calling module reads it."""

    keyword: str | None
    position: int
    # The names it may be, or None when cio-fix cannot read it.
    texts: tuple[str, ...] | None
    place: str
    # True when the names come through a value that code may change at run
    # time (`value_texts`), so the argument also counts as unread.
    mutable: bool = False


@dataclass(frozen=True)
class WrapperUse:
    """A use of another module's possible wrapper (`ev._track(uid, "paid")`)."""

    module: str
    function: str
    place: str
    # The arguments of the call, or None when the use is no call or the
    # call unpacks `*args` or `**kwargs`.
    arguments: tuple[PassedValue, ...] | None


def sent_name_facts(context: FileContext) -> FileNames:
    """Return the names this file sends and the fixed names its built names would get.

    A name counts as sent when cio-fix can list its texts. That is a
    literal, a constant, an enum member, a string class attribute, a
    local variable bound once, a lookup that `value_texts` reads
    (`EVENTS["paid"]`). It is also a name built from values that
    each take one of a few texts (`f"cart_{step}"` over a literal tuple).
    A module-level name bound more than once (`from .v2 import Event`, then
    `Event = Legacy`) counts as the texts of all its bindings, when each
    binding gives one. So are the names that a private wrapper's callers
    pass (`_wrapper_names`) and the `name=` of a `functools.partial`. Test
    code sends none, because its events do not reach the workspace.
    Any other name is unread: a parameter, another `self.event_name` or
    lookup, a call, or no name argument beside `*args` or `**kwargs` or in
    a partial. A name read through a
    string class attribute, a dict item or `self.<attribute>` is both sent
    and unread, because code that cio-fix does not read may change it. A
    name built from values is not unread, because its fixed name is
    compared instead.
    """
    names = FileNames()
    if context.in_test_code:
        return names
    for call in [*context.index.client_calls, *context.index.partial_calls]:
        if event_name_parameter(call) is None:
            continue
        argument = event_name_argument(call)
        if argument is None:
            # A partial gets its name where it is called.
            if call.star_arguments or call.partial:
                names.unread.append(_place(context, call.node))
            continue
        place = _place(context, argument.value)
        scope = call.site.scope
        wrapper = _wrapper_names(context, call, argument.value)
        if wrapper is not None:
            texts, unread, parameter = wrapper
            names.unread.extend(unread)
            if parameter is not None:
                assert call.site.function is not None
                function = call.site.function.name
                names.wrappers.setdefault(function, []).append(parameter)
            names.add_relayed(texts, place)
            continue
        keys = sent_attribute_keys(call)
        texts: set[str] = set()
        unread = mutable = False
        for branch in name_branches(context, scope, argument.value):
            found = _branch_texts(context, call, branch, place, keys, names)
            if found is None:
                continue
            texts.update(found.texts)
            unread = unread or found.unread
            mutable = mutable or found.mutable
        if unread or mutable:
            # Code may change a value read through a class attribute, a
            # dict item or `self`, so the name also counts as unread.
            names.unread.append(place)
        if mutable:
            names.mutable.append(place)
        if not texts:
            continue
        if not call.partial:
            names.facts.extend(
                (text, "", place, "", "", keys) for text in sorted(texts)
            )
            continue
        names.add_relayed(texts, place)
        _read_partial_calls(context, call, names)
    names.wrapper_uses = _wrapper_uses(context)
    names.pass_through = pass_through_calls(context)
    uses = context.shared("pass-through wrapper uses", pass_through_uses)
    names.used_wrappers = {wrapper for wrapper, _ in uses}
    names.unfollowed_uses = unfollowed_wrapper_uses(context)
    return names


@dataclass(frozen=True)
class _BranchTexts:
    """The names that one branch of a call's event name may send."""

    texts: frozenset[str]
    # True when cio-fix cannot list them all.
    unread: bool
    # True when they come through a value that code may change at run time.
    mutable: bool


def _branch_texts(
    context: FileContext,
    call: ClientCall,
    branch: NameBranch,
    place: str,
    keys: frozenset[str],
    names: FileNames,
) -> _BranchTexts | None:
    """Read the names that one branch of a call's event name sends.

    A name built from values and an imported constant add their own facts
    to `names`, and give None.
    """
    scope = branch.scope
    built = branch.built
    mutable: list[cst.BaseExpression] = []
    if built is None:
        texts = value_texts(
            context, scope, branch.expression, possible=True, mutable=mutable
        )
        qualified = context.index.qualified_name(branch.expression, scope)
        if (
            texts is None
            and qualified is not None
            and not rebound_constant(context, qualified)
        ):
            # An imported constant that the project index reads later.
            names.facts.append(("", qualified, place, "", "", keys))
            return None
    elif built.is_dynamic and not _picked_from_few(context, scope, built):
        fact = _built_fact(context, scope, built, place)
        if fact is not None:
            names.facts.append(fact)
        return None
    else:
        texts = sent_texts(context, scope, built, possible=True, mutable=mutable)
    return _BranchTexts(texts or frozenset(), texts is None, bool(mutable))


def _read_partial_calls(
    context: FileContext, call: ClientCall, names: FileNames
) -> None:
    """Add the names that the calls of a partial pass over the name it binds.

    `track_order(customer_id=uid, name="order_placed")` sends
    "order_placed" although `track_order = partial(cio.track,
    name="order")`. The calls are read when the partial is bound once to a
    name: each keyword argument for the name adds its names, or the call's
    place when cio-fix cannot read it. A partial that is not bound to a
    name, a use of it other than a call, and a public module-level partial
    (which other modules may call) make the name unread.
    """
    parameter = event_name_parameter(call)
    assert parameter is not None
    scope = call.site.scope
    statement = context.parent(call.node)
    target = None
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
        target = statement.targets[0].target
    elif isinstance(statement, cst.AnnAssign):
        target = statement.target
    if not isinstance(target, cst.Name):
        names.unread.append(_place(context, call.node))
        return
    binding = context.index.assignments_of(target.value, scope)
    if len(binding) != 1:
        names.unread.append(_place(context, call.node))
        return
    if scope is context.index.module_scope and not target.value.startswith("_"):
        names.unread.append(_place(context, call.node))
    elif scope is context.index.module_scope:
        # Other modules' calls are read as calls of a wrapper whose
        # default is the name the partial binds, which is already counted.
        wrapper = WrapperParameter(parameter, None, ())
        names.wrappers.setdefault(target.value, []).append(wrapper)

    for name in context.names_with_value(target.value):
        if context.expression_context(name) is not ExpressionContext.LOAD:
            continue
        use_scope = context.index.scope_of(name) or context.index.module_scope
        if context.index.assignments_of(target.value, use_scope) is not binding:
            continue
        arguments = _use_arguments(context, name)
        if arguments is None:
            names.unread.append(_place(context, name))
            continue
        for argument in arguments:
            if argument.keyword != parameter:
                continue
            if argument.texts is None or argument.mutable:
                names.unread.append(argument.place)
            if argument.texts is not None:
                names.add_relayed(argument.texts, argument.place)


def _place(context: FileContext, node: cst.CSTNode) -> str:
    return f"{context.display_path}:{context.position(node).start.line}"


def _possible_texts(
    context: FileContext, scope: Scope, expression: cst.BaseExpression
) -> tuple[frozenset[str] | None, bool]:
    """Read the texts a value may have, and whether code may change the value.

    The flag is True when the texts come through a class attribute, a dict
    item or `self`, so the value also counts as unread.
    """
    mutable: list[cst.BaseExpression] = []
    found = value_texts(context, scope, expression, possible=True, mutable=mutable)
    return found, bool(mutable)


def _wrapper_names(
    context: FileContext, call: ClientCall, value: cst.BaseExpression
) -> tuple[set[str], list[str], WrapperParameter | None] | None:
    """Read the names that a wrapper function sends through its parameter.

    `def track_event(uid, name): cio.track(customer_id=uid, name=name)`
    sends what its callers in this module pass for `name`. Returns those
    names, the places of the callers whose values cio-fix cannot read, and
    the parameter through which other modules' calls pass the name, or
    None when `value` is not a parameter of an undecorated module-level
    function. A decorator may change the arguments or hand the function
    to callers that cio-fix does not see, so a decorated function's
    parameter is unread like any other. A caller that passes a value that
    code may change (a class attribute, a dict item) counts as sent and
    unread. The call's own place is unread
    when the function may have callers that cio-fix does not read: its
    name is public, this module reads it other than to call it, or another
    module imports it and cio-fix does not read that module's uses
    (`wrapper_candidates`). Then the parameter is None.
    """
    function = call.site.function
    if (
        not isinstance(value, cst.Name)
        or function is None
        or function.parent is not None
        or function.class_info is not None
        or function.node.decorators
        or len(context.index.module_scope.assignments.get(function.name, [])) != 1
    ):
        return None
    assignments = context.index.assignments_of(value.value, call.site.scope)
    if len(assignments) != 1 or not isinstance(assignments[0].statement, cst.Param):
        return None
    parameter = assignments[0].statement
    parameters = function.node.params
    positional = [*parameters.posonly_params, *parameters.params]
    if parameter not in positional and parameter not in parameters.kwonly_params:
        # `*args` or `**kwargs`.
        return None
    position = positional.index(parameter) if parameter in positional else None

    texts: set[str] = set()
    unread: list[str] = []
    callers = 0
    followed = context.shared("followed wrapper calls", _followed_wrapper_calls)
    for site in context.index.call_sites:
        func = site.node.func
        if not isinstance(func, cst.Name) or func.value != function.name:
            continue
        callers += 1
        if id(site.node) in followed:
            # The call is read as the client call that the wrapper makes, so
            # its name is sent from the caller's line.
            continue
        passed = _passed_value(site.node, parameter, position)
        if passed is None:
            unread.append(_place(context, site.node))
            continue
        found, mutable = _possible_texts(context, site.scope, passed)
        if found is None or mutable:
            unread.append(_place(context, passed))
        if found is not None:
            texts |= found

    reads = [
        node
        for node in context.names_with_value(function.name)
        if context.expression_context(node) is ExpressionContext.LOAD
    ]
    imported = context.project.importers(context.index.module_name, function.name)
    # Another module's uses of a candidate are read into that module's
    # facts; those of any other function are not.
    uses_read = function.name in _own_wrapper_candidates(context)
    public = not function.name.startswith("_")
    if (
        public
        or len(reads) != callers
        or (imported - {context.index.module_name} and not uses_read)
    ):
        unread.append(_place(context, value))
        return texts, unread, None
    default: tuple[str, ...] | None = ()
    if parameter.default is not None:
        found, mutable = _possible_texts(
            context, context.index.module_scope, parameter.default
        )
        default = None if found is None else tuple(sorted(found))
        if mutable:
            unread.append(_place(context, parameter.default))
    return texts, unread, WrapperParameter(parameter.name.value, position, default)


def _followed_wrapper_calls(context: FileContext) -> set[int]:
    """Return the ids of the calls that go through a pass-through wrapper."""
    return {
        id(call.node) for call in context.index.client_calls if call.wrapper is not None
    }


def _own_wrapper_candidates(context: FileContext) -> list[str]:
    return context.shared("wrapper candidates", wrapper_candidates_of)


def wrapper_candidates_of(context: FileContext) -> list[str]:
    return wrapper_candidates(context.index)


def _wrapper_uses(context: FileContext) -> list[WrapperUse]:
    """Return this module's uses of the possible wrappers of other project modules.

    A use is a name or attribute that resolves to a candidate of another
    module: `_track` after `from app.ev import _track`, `ev._track` after
    `from app import ev`, `app.ev._track` after `import app.ev`, or a bare
    `_track` after `from app.ev import *`. The uses are recorded before
    CIO301 decides which candidates are wrappers, and `wrapper_use_names`
    matches them with the wrappers' parameters. `getattr(ev, "_track")` and
    `getattr(ev, name)` are uses too (`_getattr_uses`).
    NOTE: a function-level `from app.ev import _track as alias` is not
    followed, and neither is a module reached without an import statement
    (`importlib.import_module`).
    """
    candidates = context.project.shared("wrapper candidates", _project_candidates)
    own = context.index.module_name
    if not candidates or set(candidates.values()) == {own}:
        return []
    spellings = _wrapper_spellings(context, candidates)

    uses = []
    for spelling in sorted(spellings):
        for name in context.names_with_value(spelling):
            target = _wrapper_target(context, name, candidates)
            if target is None or target[0] == own:
                continue
            node = target[2]
            uses.append(
                WrapperUse(
                    target[0],
                    target[1],
                    _place(context, node),
                    _use_arguments(context, node),
                )
            )
    uses.extend(_getattr_uses(context, candidates))
    return uses


def _getattr_uses(
    context: FileContext, candidates: dict[tuple[str, str], str]
) -> list[WrapperUse]:
    """Return the candidates that `getattr(module, ...)` may read, as uses without arguments.

    cio-fix does not follow what `getattr` returns, so each such use makes
    the wrapper's names unread. A literal attribute name reads that one
    candidate, and any other name may read every candidate of the module.
    """
    own = context.index.module_name
    uses = []
    for site in context.index.call_sites:
        call = site.node
        if not isinstance(call.func, cst.Name) or call.func.value != "getattr":
            continue
        if len(call.args) < 2 or any(argument.star for argument in call.args[:2]):
            continue
        module = context.index.qualified_name(call.args[0].value, site.scope)
        if module is None:
            continue
        attribute = literal_value(call.args[1].value)
        names = [attribute] if isinstance(attribute, str) else None
        for candidate, name in candidates:
            if candidate == own or (names is not None and name not in names):
                continue
            target = context.project.resolve_name(f"{module}.{name}")
            if target is None or (target[0].module_name, target[1]) != (
                candidate,
                name,
            ):
                continue
            uses.append(WrapperUse(candidate, name, _place(context, call), None))
    return uses


def _project_candidates(project: ProjectIndex) -> dict[tuple[str, str], str]:
    """Return the wrapper candidates of the project, as (module, name), to the module."""
    return {
        (summary.module_name, name): summary.module_name
        for summary in project.summaries
        for name in summary.wrapper_candidates
    }


def _wrapper_spellings(
    context: FileContext, wrappers: Collection[tuple[str, str]]
) -> set[str]:
    """Return the names under which this file may reach `wrappers`, as (module, name).

    That is each wrapper's own name, for a module that calls its own, and
    each local name that an import binds to one of them.
    """
    spellings = {name for (_, name) in wrappers}
    for local, qualified in context.index.imports.items():
        target = context.project.resolve_name(qualified)
        if target is not None and (target[0].module_name, target[1]) in wrappers:
            spellings.add(local)
    return spellings


def _wrapper_target(
    context: FileContext,
    name: cst.Name,
    candidates: dict[tuple[str, str], str],
) -> tuple[str, str, cst.BaseExpression] | None:
    """Return the module and candidate that `name` refers to, with the node that uses it."""
    parent = context.parent(name)
    node: cst.BaseExpression = name
    if isinstance(parent, cst.ImportAlias):
        # The name in `from app.ev import _track` is bound there, not used.
        return None
    if isinstance(parent, cst.Attribute) and parent.attr is name:
        node = parent
    elif context.expression_context(name) is not ExpressionContext.LOAD:
        return None
    qualified = context.index.qualified_name(node)
    if qualified is not None:
        targets = [qualified]
    elif node is name and not context.index.module_scope.assignments.get(name.value):
        # `from app.ev import *` imports a private name that `__all__` lists.
        targets = [f"{module}.{name.value}" for module in context.index.star_imports]
    else:
        return None
    for qualified in targets:
        target = context.project.resolve_name(qualified)
        if target is None:
            continue
        key = (target[0].module_name, target[1])
        if key in candidates:
            return key[0], key[1], node
    return None


def _use_arguments(
    context: FileContext, node: cst.BaseExpression
) -> tuple[PassedValue, ...] | None:
    """Read the arguments of the call whose function `node` is, None for another use."""
    call = context.parent(node)
    if not isinstance(call, cst.Call) or call.func is not node:
        return None
    scope = context.index.scope_of(node) or context.index.module_scope
    arguments = []
    for position, argument in enumerate(call.args):
        if argument.star:
            return None
        keyword = argument.keyword.value if argument.keyword is not None else None
        found, mutable = _possible_texts(context, scope, argument.value)
        texts = None if found is None else tuple(sorted(found))
        place = _place(context, argument.value)
        arguments.append(PassedValue(keyword, position, texts, place, mutable))
    return tuple(arguments)


@dataclass(frozen=True)
class PassThrough:
    """A public pass-through wrapper of a module, where it passes on the event name."""

    # (module, name) of the wrapper.
    wrapper: tuple[str, str]
    # How many times its own module calls it.
    own_calls: int
    # "path:line" of the wrapper's client call and of the name it passes.
    places: tuple[str, ...]

    def forwarded(self, used: set[tuple[str, str]]) -> bool:
        """Tell whether the project's calls of the wrapper are the call sites of its names.

        `used` contains the wrappers that other modules of the project use.
        """
        return bool(self.own_calls) or self.wrapper in used


def pass_through_places(context: FileContext, used: set[tuple[str, str]]) -> set[str]:
    """Return the places where this module's public pass-through wrappers pass on names.

    Other modules' calls of such a wrapper (`cio_fix.wrappers`) are read as
    client calls, each a call site of the name it passes, so `--list-events`
    counts those calls and not the wrapper's own. `used` contains the
    wrappers, as (module, name), that other modules of the project use
    (`pass_through_uses`). The wrapper's own call still counts when nothing
    in the project uses the wrapper, because code that cio-fix does not read
    may call it. It also counts when its module reads the wrapper other than
    by calls that `_wrapper_names` reads for names (`_own_calls`). Private
    wrappers are left to `_wrapper_names`, which reads their callers.
    """
    places: set[str] = set()
    for wrapper in pass_through_calls(context):
        if wrapper.forwarded(used):
            places.update(wrapper.places)
    return places


def pass_through_calls(context: FileContext) -> list[PassThrough]:
    """Return this module's public pass-through wrappers whose calls cio-fix reads for names.

    A wrapper that its module reads other than by such calls is left out
    (`_own_calls`).
    """
    wrappers = []
    for call in context.index.client_calls:
        function = call.site.function
        if (
            call.wrapper is not None
            or event_name_parameter(call) is None
            or function is None
            or function.parent is not None
            or function.class_info is not None
            or function.name.startswith("_")
        ):
            continue
        # Only the callers of a wrapper in the project summary are followed.
        # The summary is made before other modules' clients are known, so a
        # function that calls an imported client is no wrapper there.
        qualified = f"{context.index.module_name}.{function.name}"
        if context.project.wrapper(qualified) is None:
            continue
        argument = event_name_argument(call)
        own_calls = _own_calls(context, function.name, argument is not None)
        if own_calls is None:
            continue
        places = [_place(context, call.node)]
        if argument is not None:
            places.append(_place(context, argument.value))
        wrapper = (context.index.module_name, function.name)
        wrappers.append(PassThrough(wrapper, own_calls, tuple(places)))
    return wrappers


def _own_calls(context: FileContext, function: str, by_argument: bool) -> int | None:
    """Count the calls of `function` in its module, None when one is not read for names.

    A module's calls of its own wrappers are not read as client calls.
    `by_argument` is True when the wrapper passes the event name to the
    client as an argument, and only then does `_wrapper_names` read the
    calls for names. None also when the module reads `function` other than
    to call it.
    """
    calls = 0
    for node in context.names_with_value(function):
        if context.expression_context(node) is not ExpressionContext.LOAD:
            continue
        call = context.parent(node)
        if not by_argument or not isinstance(call, cst.Call) or call.func is not node:
            return None
        calls += 1
    return calls


def pass_through_uses(
    context: FileContext,
) -> list[tuple[tuple[str, str], cst.BaseExpression]]:
    """Return each use of another module's public pass-through wrapper in this module.

    Each use is the wrapper, as (module, name), and the node that uses it:
    `tracking.track` in a call or in `handlers = [tracking.track]`.
    `getattr(tracking, "track")` is not one (see `unfollowed_wrapper_uses`).
    """
    wrappers = context.project.shared("public pass-through wrappers", _pass_through)
    if not wrappers:
        return []
    own = context.index.module_name
    spellings = _wrapper_spellings(context, wrappers)
    uses = []
    for spelling in sorted(spellings):
        for name in context.names_with_value(spelling):
            target = _wrapper_target(context, name, wrappers)
            if target is not None and target[0] != own:
                uses.append(((target[0], target[1]), target[2]))
    return uses


def unfollowed_wrapper_uses(context: FileContext) -> list[str]:
    """Return the places where this module uses another module's public wrapper unread.

    The wrapper is a pass-through wrapper (`cio_fix.wrappers`), and the use
    is any use but a call that is read as the client call, such as
    `handlers = [tracking.track]` or `getattr(tracking, "track")`. The
    event names sent through it are unknown, and `--list-events` does not
    count the wrapper's own call (`pass_through_places`), so it counts the
    use as a call whose name cio-fix cannot read.
    """
    uses = context.shared("pass-through wrapper uses", pass_through_uses)
    places = []
    if uses:
        followed = {
            id(call.receiver)
            for call in [*context.index.client_calls, *context.index.partial_calls]
            if call.wrapper is not None
        }
        for _, node in uses:
            if id(node) not in followed:
                places.append(_place(context, node))
    if context.names_with_value("getattr"):
        wrappers = context.project.shared("public pass-through wrappers", _pass_through)
        places.extend(use.place for use in _getattr_uses(context, wrappers))
    return places


def _pass_through(project: ProjectIndex) -> dict[tuple[str, str], str]:
    """Return the public pass-through wrappers that send an event name, by (module, name).

    The value is the module, as `_wrapper_target` and `_getattr_uses` expect.
    """
    return {
        (summary.module_name, name): summary.module_name
        for summary in project.summaries
        for name, signature in summary.wrappers.items()
        if not name.startswith("_")
        and signature.method in RELAY_METHODS
        and project.resolved_wrapper(summary, signature) is not None
    }


def wrapper_use_names(
    files: Iterable[tuple[str, FileNames]],
) -> tuple[list[tuple[str, str]], list[str]]:
    """Match other modules' uses of wrappers with the wrappers' parameters.

    `files` are (module name, facts) of every file that is not test code.
    Returns the (name, place) of each name that a use passes and the
    places of the uses whose names cio-fix cannot read. A use of a
    candidate that is no wrapper that cio-fix reads adds nothing: either
    it sends no event name, or its module already counts the name unread.
    """
    files = list(files)
    wrappers = {
        (module, function): parameters
        for module, names in files
        for function, parameters in names.wrappers.items()
    }
    sent: list[tuple[str, str]] = []
    unread: list[str] = []
    for _, names in files:
        for use in names.wrapper_uses:
            for parameter in wrappers.get((use.module, use.function), []):
                _read_use(use, parameter, sent, unread)
    return sent, unread


def _read_use(
    use: WrapperUse,
    parameter: WrapperParameter,
    sent: list[tuple[str, str]],
    unread: list[str],
) -> None:
    """Add what one use of a wrapper passes for `parameter` to `sent` or `unread`."""
    if use.arguments is None:
        unread.append(use.place)
        return
    for argument in use.arguments:
        if argument.keyword == parameter.name or (
            argument.keyword is None and argument.position == parameter.position
        ):
            if argument.texts is None or argument.mutable:
                unread.append(argument.place)
            if argument.texts is not None:
                sent.extend((text, argument.place) for text in argument.texts)
            return
    if parameter.default is None:
        unread.append(use.place)
    else:
        sent.extend((text, use.place) for text in parameter.default)


def _passed_value(
    node: cst.Call, parameter: cst.Param, position: int | None
) -> cst.BaseExpression | None:
    """Return what a call passes for `parameter`, its default, or None when unknown."""
    for index, argument in enumerate(node.args):
        if argument.star:
            return None
        if argument.keyword is not None:
            if argument.keyword.value == parameter.name.value:
                return argument.value
        elif index == position:
            return argument.value
    return parameter.default


def _picked_from_few(context: FileContext, scope: Scope, built: BuiltName) -> bool:
    """Tell whether CIO301 accepts a built name as a few events and leaves it as it is.

    `scope` is where the name reads its values.
    """
    if personal_data_parts(built) or not built.supported:
        return False
    return all(is_bounded(context, scope, part.expression) for part in built.values)


def _built_fact(
    context: FileContext, scope: Scope, built: BuiltName, place: str
) -> NameFact | None:
    """Return the fact of a name that CIO301 or CIO302 would make static, or None."""
    if not built.supported:
        return None
    built = split_personal_data(built)
    try:
        fixed = fixed_name(context, scope, built)
    except UnknownPart:
        return None
    if not fixed.text:
        return None
    code = _code(context, built.node)
    return (fixed.text, "", place, build_signature(built), code, frozenset())


def build_signature(built: BuiltName) -> str:
    """Return the literal parts and attribute keys of a built name.

    Two calls with the same signature send the same events, so fixing
    both onto one name merges nothing.
    """
    parts = [""]
    for part in built.parts:
        if part.text is not None:
            # `split_personal_data` leaves empty and adjacent texts.
            parts[-1] += part.text
        else:
            assert part.expression is not None
            parts.append(part.key or attribute_key(part.expression) or MEANINGLESS_KEY)
            parts.append("")
    return repr(parts)


@dataclass
class SentNames:
    """The event names of a project that a fixed name must not merge into."""

    # Place of each call, by the name it sends and then by the attribute
    # keys that the call writes out.
    exact: dict[str, dict[frozenset[str], list[str]]] = field(default_factory=dict)
    # (name, place) of each call, by `variant_key` of the name it sends.
    variants: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # (signature, code, place) of each built name, by `variant_key` of its fixed name.
    fixed: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    # "path:line" of each call whose name cio-fix cannot read.
    unread_calls: list[str] = field(default_factory=list)
    # The files that mention Customer.io but could not be read or parsed.
    unread_files: list[str] = field(default_factory=list)

    def add(self, fact: NameFact) -> None:
        name, _, place, signature, code, keys = fact
        key = variant_key(name)
        if signature:
            self.fixed.setdefault(key, []).append((signature, code, place))
            return
        self.exact.setdefault(name, {}).setdefault(keys, []).append(place)
        self.variants.setdefault(key, []).append((name, place))

    def other_events(self, name: str, keys: frozenset[str]) -> list[str]:
        """Return the places that send `name` other than in the fixed form of a build.

        `keys` are the attribute keys that the fix of the build writes
        (`fixed_call_keys`). A call that sends `name` with all of them is
        that fix, written by an earlier run over some of the files, and
        sends the same events. Any other call sends another event under
        that name.
        """
        places = []
        for sent_keys, where in self.exact.get(name, {}).items():
            if not keys or not keys <= sent_keys:
                places.extend(where)
        return places

    def first_unread(self) -> str | None:
        """Say where the first name that cio-fix cannot read is sent, as a clause.

        None when cio-fix read every name of the project, so that a fixed
        name it has not seen is not sent.
        """
        places = [(place, "the name sent at ") for place in self.unread_calls]
        places.extend((path, "") for path in self.unread_files)
        if not places:
            return None
        place, sent_at = min(places, key=lambda item: _place_order(item[0]))
        return f"cio-fix cannot read {sent_at}{place}"


@dataclass(frozen=True)
class Merge:
    """The reason a fixed name would merge its events into other events."""

    # The name that the events would merge into.
    name: str
    # A short clause for --list-events, and a longer one for a finding.
    summary: str
    detail: str


def find_merge(
    sent: SentNames, static: str, signature: str, keys: frozenset[str]
) -> Merge | None:
    """Return how the fixed name `static` of a build would merge events, or None.

    Customer.io compares names exactly, so an equal name merges, unless
    the call that sends it has the attribute `keys` of the build's fix
    (`SentNames.other_events`). A name that differs only in case or
    separators is a variant that CIO303 renames into one. A different
    build with the same fixed name would be fixed onto the same name.
    """
    other_events = sent.other_events(static, keys)
    if other_events:
        places = _list_places(other_events)
        return Merge(
            static,
            f"the fixed name {static!r} is already sent",
            f"the fixed name {static!r} is already sent at {places}, and the"
            " campaigns on it would also receive these events",
        )
    key = variant_key(static)
    variants: dict[str, set[str]] = {}
    for name, place in sent.variants.get(key, []):
        # Every call that sends `static` itself is in the fixed form of this
        # build, because `other_events` found no other.
        if name != static:
            variants.setdefault(name, set()).add(place)
    if variants:
        name = min(variants)
        listed = " and ".join(
            f"{other!r} (sent at {_list_places(places)})"
            for other, places in sorted(variants.items())
        )
        return Merge(
            name,
            f"the fixed name {static!r} differs only in case or separators from"
            f" the sent name {name!r}",
            f"the fixed name {static!r} differs only in case or separators from"
            f" {listed}, so CIO303 would then ask to rename the two events into one",
        )
    others: dict[str, set[str]] = {}
    for other, code, place in sent.fixed.get(key, []):
        if other != signature:
            others.setdefault(code, set()).add(place)
    if others:
        listed = _list_builds(others)
        return Merge(
            static,
            f"the fixed name {static!r} is also the fixed name of a different"
            " built name",
            f"the fixed name {static!r} is also the fixed name of {listed}, which"
            " builds different names, so the fixes would merge their events",
        )
    return None


def _list_places(places: Iterable[str]) -> str:
    """Name the first few of the "path:line" places in line order, and count the rest."""
    return list_labels(sorted(set(places), key=_place_order))


def _list_builds(places_by_code: dict[str, set[str]]) -> str:
    """Name the first few built names, each with its places, and count the rest.

    The names come in the line order of their first places.
    """
    ordered = sorted(
        places_by_code.items(),
        key=lambda item: (min(map(_place_order, item[1])), item[0]),
    )
    listed = " and ".join(
        f"{code} ({_list_places(places)})"
        for code, places in ordered[:MAX_LISTED_PLACES]
    )
    more = len(ordered) - MAX_LISTED_PLACES
    if more > 0:
        listed += f" and {more} more"
    return listed


def _place_order(place: str) -> tuple[str, int]:
    """Order "path:line" places, and a bare path before the places in it."""
    path, _, line = place.rpartition(":")
    if not line.isdigit():
        return place, 0
    return path, int(line)


def names_sent(project: ProjectIndex, code: str) -> SentNames:
    """Return the names sent and the fixed names of the project, from the facts of rule `code`."""
    sent = SentNames(unread_files=list(project.unread_files))
    files = [
        (summary.module_name, names) for summary, names in project.rule_facts(code)
    ]
    relayed, unread = wrapper_use_names(files)
    sent.unread_calls.extend(unread)
    for name, place in relayed:
        sent.add((name, "", place, "", "", frozenset()))
    used = {wrapper for _, names in files for wrapper in names.used_wrappers}
    for _, names in files:
        # The calls of a public pass-through wrapper that the project uses
        # are read as client calls, so the name that the wrapper passes on
        # is read where it is called, as `--list-events` counts it.
        forwarded = {
            place
            for wrapper in names.pass_through
            if wrapper.forwarded(used)
            for place in wrapper.places
        }
        sent.unread_calls.extend(
            place for place in names.unread if place not in forwarded
        )
        sent.unread_calls.extend(names.unfollowed_uses)
        for fact in names.facts:
            constant = fact[1]
            if constant:
                resolved = _constant_text(project, constant)
                if resolved is None:
                    # A constant of a module that the project does not
                    # contain, or one that code may rebind.
                    sent.unread_calls.append(fact[2])
                    continue
                fact = (resolved[2], *fact[1:])
            sent.add(fact)
    return sent


def files_of_changed_merges(
    project: ProjectIndex, fixed_project: ProjectIndex, code: str
) -> set[str]:
    """Return the files of the built names whose merge the fixes of other files change.

    A finding of rule `code` without a fix lists the places that already
    send its fixed name or a variant of it (`find_merge`). A fix elsewhere,
    such as a CIO303 rename, changes those places, so `--apply` checks the
    findings again to print the message of the next run.
    """
    before = project.shared(f"{code} sent names", partial(names_sent, code=code))
    after = fixed_project.shared(f"{code} sent names", partial(names_sent, code=code))
    before_sends = _sends_by_key(before)
    after_sends = _sends_by_key(after)
    if before.first_unread() != after.first_unread():
        # A finding with a fix names the first name that cio-fix cannot read,
        # whatever its fixed name.
        changed = before.fixed.keys() | after.fixed.keys()
    else:
        changed = {
            key
            for key in before_sends.keys() | after_sends.keys()
            if before_sends.get(key) != after_sends.get(key)
        }
    files = set()
    for key in changed:
        for _, _, place in [*before.fixed.get(key, []), *after.fixed.get(key, [])]:
            files.add(place.rpartition(":")[0])
    return files


def _sends_by_key(sent: SentNames) -> dict[str, set[tuple[str, ...]]]:
    """Return each sent name and each built name of `sent` with its place, by `variant_key`."""
    sends: dict[str, set[tuple[str, ...]]] = {}
    for name, places_by_keys in sent.exact.items():
        for keys, places in places_by_keys.items():
            for place in places:
                entry = ("sent", name, *sorted(keys), place)
                sends.setdefault(variant_key(name), set()).add(entry)
    for key, builds in sent.fixed.items():
        for signature, code, place in builds:
            sends.setdefault(key, set()).add(("built", signature, code, place))
    return sends


def _constant_text(
    project: ProjectIndex, constant: str
) -> tuple[ModuleSummary, str, str] | None:
    """Return the module, name and text of a string constant of the project.

    None also when code may rebind the constant (`ProjectIndex.rebound_constant`).
    """
    target = project.resolve_value(constant)
    if target is None or project.rebound_constant(target[0].module_name, target[1]):
        return None
    value = target[0].constants.get(target[1])
    return (target[0], target[1], value) if isinstance(value, str) else None


def is_bounded(
    context: FileContext,
    scope: Scope,
    expression: cst.BaseExpression | None,
    depth: int = 0,
) -> bool:
    """Tell whether an expression takes one of a few values written in the code.

    Literals, constants (also imported ones), `"on" if flag else "off"`, and
    the variable of a loop over a literal tuple or list are bounded. So is a
    name spelled as a constant (`PREFIX`, `names.APP`) or an enum member
    (`Event.SIGNED_UP.value`), even when its module is not read. Django's
    request data (`request.GET`) is not, although it is spelled in capitals.
    """
    if expression is None or depth > 5:
        return False
    if is_request_data(context, scope, expression):
        return False
    if literal_value(expression) is not None or looks_constant(expression):
        return True
    if is_fixed(context, scope, expression):
        return True
    if isinstance(expression, cst.IfExp):
        return is_bounded(context, scope, expression.body, depth + 1) and is_bounded(
            context, scope, expression.orelse, depth + 1
        )
    qualified = context.index.qualified_name(expression, scope)
    if qualified is not None:
        return context.project.constant(qualified) is not None
    if not isinstance(expression, cst.Name):
        return False
    assignments = context.index.assignments_of(expression.value, scope)
    if len(assignments) != 1:
        return False
    assignment = assignments[0]
    statement = assignment.statement
    if isinstance(statement, cst.For):
        collection = statement.iter
        return isinstance(collection, (cst.Tuple, cst.List, cst.Set)) and all(
            literal_value(element.value) is not None for element in collection.elements
        )
    if isinstance(statement, (cst.Assign, cst.AnnAssign)):
        return is_bounded(context, assignment.scope, assignment.value, depth + 1)
    return False


def _keys(keys: list[str]) -> str:
    return (
        ", ".join(f"`{key}`" for key in keys) if keys else "that the call already sends"
    )


# -- CIO303: names across the project -------------------------------------------


@dataclass(frozen=True)
class _ConstantUse:
    """A module-level constant of `module` that `sender` sends as an event name."""

    sender: str
    constant: str
    value: str
    path: str
    line: int


@dataclass(frozen=True)
class SentNameUses:
    """The Track API names that one file sends, as CIO303 collects them."""

    # (name or "", imported constant or "", path, line, shared) per name
    # sent. `shared` is True when the file also reads the imported constant
    # for something else (a queue message, a database column).
    names: tuple[tuple[str, str, str, int, bool], ...]
    # Whether the file is test code, whose names CIO303 does not compare.
    # They still tell which files read an imported constant only to send it.
    in_test_code: bool


@dataclass
class _ProjectNames:
    """Every file's event names, built once per project for CIO303.

    `by_key` has (name, place, sending module) by `variant_key`, and
    `constant_uses` the constants sent from other files, by the module
    that defines them.
    """

    by_key: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    constant_uses: dict[str, list[_ConstantUse]] = field(default_factory=dict)


def _project_names(project: ProjectIndex) -> _ProjectNames:
    names = _ProjectNames()
    for summary, facts in project.rule_facts(InconsistentEventName.code):
        if facts.in_test_code:
            continue
        sender = summary.module_name
        for name, constant, path, line, _ in facts.names:
            place = f"{path}:{line}"
            if not constant:
                entry = (name, place, sender)
                names.by_key.setdefault(variant_key(name), []).append(entry)
                continue
            resolved = _constant_text(project, constant)
            if resolved is None:
                continue
            summary, constant_name, value = resolved
            entry = (value, place, sender)
            names.by_key.setdefault(variant_key(value), []).append(entry)
            use = _ConstantUse(sender, constant_name, value, path, line)
            names.constant_uses.setdefault(summary.module_name, []).append(use)
    return names


def _names_by_file(project: ProjectIndex) -> dict[str, set[tuple[str, str]]]:
    """Return (name, file) of each event name of the project, by `variant_key`.

    The file is the one that sends the name, or the one that defines the
    constant that another file sends, where CIO303 reports it.
    """
    paths = {
        summary.module_name: display_path(summary.path) for summary in project.summaries
    }
    names = _project_names(project)
    found: dict[str, set[tuple[str, str]]] = {}
    for key, entries in names.by_key.items():
        for name, place, _ in entries:
            found.setdefault(key, set()).add((name, place.rpartition(":")[0]))
    for module, uses in names.constant_uses.items():
        path = paths.get(module)
        if path is None:
            continue
        for use in uses:
            found.setdefault(variant_key(use.value), set()).add((use.value, path))
    return found


class InconsistentEventName(Rule):
    """What it does:
    Finds event names that break the configured `event-name-style`
    (`snake_case` by default; `dotted` also allows `product.purchased`),
    and names anywhere in the project that differ only in case or
    separators (`UserSignedUp` in one file, `user_signed_up` in another).
    Names held in constants (`EVENT_SHIPPED = "Shipped"`) are followed,
    also into other files. So are the names that a call sends through an
    enum member (`Event.SHIPPED`, `Event.SHIPPED.value`) or a string class
    attribute, of a class of its module or imported from another module of
    the project, a variable bound once, `a if flag else b`, a lookup
    that CIO301 reads (`EVENTS["paid"]`, `TEMPLATE.format("task")`,
    `getattr(Event, "CANCEL")`), or a build of constants and literals with
    one fixed value (`PREFIX + "-invoice-sent"`, `f"{PREFIX}.voided"`).
    A build whose values take a few fixed texts is a few events, which
    CIO301 accepts and this rule does not check.
    A variable that a nested function rebinds through `nonlocal`, or a
    module-level one that a function rebinds through `global`, is not
    bound once. Nor is a module-level name that an import and an
    assignment, two imports (a `try`/`except ImportError` fallback) or a
    later star import bind, nor a constant that another module assigns
    through the module object (`ev.EVENT = "x"`, also with `setattr`) or
    that its module may rebind through `globals()`: which binding a call reads is unknown, so
    its names are not compared.
    Names that test code sends are neither reported nor compared with the
    names of other files, because its events go to a local server, often
    with odd or old names on purpose. Test code is `test_*.py`,
    `*_test.py`, `conftest.py`, modules named `tests` or `test`, and the
    files below folders of those names, unless application code imports
    from them (`--explain CIO101` describes both).

    Why is this bad?
    Customer.io matches event names exactly: `OrderShipped` and
    `order_shipped` are two events, and a campaign triggered by one never
    sees the other. Every variant is another catalog entry and another
    segment condition to keep in sync.

    Example:
        cio.track(customer_id=order.user_id, name="OrderShipped")

    Use instead:
        cio.track(customer_id=order.user_id, name="order_shipped")

    Fix safety:
    Unsafe. Renaming changes the event that Customer.io receives, so
    campaigns, segments and webhooks keyed on the old name stop matching
    until they are updated in Customer.io. Update them first, then deploy
    the rename. A name off the style with a variant that follows it is
    renamed to that variant. Two variants that both follow the style are
    reported without a fix, because the code does not show which one the
    campaigns use. The new literal spells a non-ASCII character with the
    escape that the old one used (`"Caf\\xc9Opened"` becomes
    `"caf_\\xe9_opened"`).
    A non-ASCII new name over an ASCII literal (`u"Caf\\u00e9Ordered"`) is
    reported without a fix in a project that declares Python 2, unless the
    file has a coding declaration, because Python 2 reads such a file as
    ASCII. A name that the call does not write as one string literal,
    such as an enum member whose value is written in its class or a build
    of a constant and a literal, is reported at the call without a fix.
    Rename it where it gets its text.
    Names sent
    through Data Pipelines are not checked, because its names are Title
    Case by convention and some of them trigger actions in Customer.io
    ("Device Created or Updated").
    """

    code = "CIO303"
    name = "inconsistent-event-name"
    summary = "event names off the naming style, or spelled differently across files"
    fix_safety = FixSafety.UNSAFE

    def collect(self, context: FileContext) -> SentNameUses:
        found = []
        for source in _track_api_sources(context):
            shared = False
            if source.constant:
                shared = any(
                    _read_beyond_event_names(context, local)
                    for local, qualified in context.index.imports.items()
                    if qualified == source.constant
                )
            found.append(
                (source.name, source.constant or "", source.path, source.line, shared)
            )
        return SentNameUses(tuple(found), context.in_test_code)

    def files_to_check_again(
        self, project: ProjectIndex, fixed_project: ProjectIndex
    ) -> set[str]:
        """Return the files of the names whose variants the fixes changed.

        A fix that renames an event in one file ends the finding of another
        file that sends a variant of the old name, and causes one in a file
        that sends a variant of the new name.
        """
        before = _names_by_file(project)
        after = _names_by_file(fixed_project)
        files: set[str] = set()
        for key in before.keys() | after.keys():
            old, new = before.get(key, set()), after.get(key, set())
            if old != new:
                files.update(path for _, path in old | new)
        return files

    def check(self, context: FileContext) -> Iterator[Finding]:
        if context.in_test_code:
            return
        own, everywhere = self._names(context)
        project = context.project.shared("CIO303", _project_names)
        module_name = context.index.module_name
        style = context.config.event_name_style
        by_key: dict[str, list[tuple[str, str]]] = {}
        for other_name, place in everywhere:
            by_key.setdefault(variant_key(other_name), []).append((other_name, place))
        for sources in own.values():
            name = sources[0].name
            places = {source.place for source in sources}
            variants: dict[str, list[str]] = {}
            key = variant_key(name)
            for other_name, place in by_key.get(key, []):
                if other_name != name:
                    variants.setdefault(other_name, []).append(place)
            for other_name, place, sender in project.by_key.get(key, []):
                if other_name != name and sender != module_name:
                    variants.setdefault(other_name, []).append(place)
            off_style = not follows_style(name, style)
            if not off_style and not variants:
                continue
            yield self._finding(context, sources[0], off_style, variants, places)

    def _names(
        self, context: FileContext
    ) -> tuple[dict[tuple[int, str], list[NameSource]], list[tuple[str, str]]]:
        """Return this file's names by node and name, and every (name, place) it sends.

        A name written as a literal in this file is keyed by the literal. A
        name read from elsewhere (an enum member, a class attribute, a local
        variable) is keyed by the call's name expression.
        """
        own: dict[tuple[int, str], list[NameSource]] = {}
        everywhere: list[tuple[str, str]] = []
        for source in _track_api_sources(context):
            if source.constant is not None:
                resolved = resolve_constant(context, source.constant)
                if resolved is not None:
                    everywhere.append((resolved[1], source.place))
                continue
            everywhere.append((source.name, source.place))
            node = source.literal or source.expression
            own.setdefault((id(node), source.name), []).append(source)
        self._add_other_files(context, own)
        return own, everywhere

    def _add_other_files(
        self, context: FileContext, own: dict[tuple[int, str], list[NameSource]]
    ) -> None:
        """Add other files' uses of this file's constants to this file's names."""
        module_name = context.index.module_name
        constants: dict[str, cst.SimpleString] = {}
        for name, assigned in context.index.module_scope.assignments.items():
            if len(assigned) == 1 and isinstance(assigned[0].value, cst.SimpleString):
                constants[name] = assigned[0].value

        project = context.project.shared("CIO303", _project_names)
        for use in project.constant_uses.get(module_name, []):
            if use.sender == module_name:
                continue
            literal = constants.get(use.constant)
            if literal is not None and literal.evaluated_value == use.value:
                source = NameSource(use.value, literal, use.path, use.line)
                own.setdefault((id(literal), use.value), []).append(source)

    def _finding(
        self,
        context: FileContext,
        source: NameSource,
        off_style: bool,
        variants: dict[str, list[str]],
        places: set[str],
    ) -> Finding:
        style = context.config.event_name_style
        name = source.name
        literal = source.literal
        node = literal or source.expression
        assert node is not None
        problem = f"event name {name!r} (sent at {_list_places(places)})"
        if off_style:
            problem += f" does not follow the {style} style"
        if variants:
            listed = " and ".join(
                f"{variant!r} ({_list_places(where)})"
                for variant, where in sorted(variants.items())
            )
            joiner = "; it also" if off_style else ""
            problem += (
                f"{joiner} differs only in case or separators from {listed},"
                " which Customer.io records as separate events"
            )

        renamed = to_style(name, style) if off_style else ""
        in_style = sorted(
            variant for variant in variants if follows_style(variant, style)
        )
        if renamed and in_style and renamed not in in_style:
            # `Step2Completed` beside `step_2_completed` takes the existing
            # spelling, not a third one (`step2_completed`).
            renamed = in_style[0] if len(in_style) == 1 else ""
        if not renamed or not follows_style(renamed, style):
            return context.finding(
                self, node, f"{problem}; choose one name and use it everywhere"
            )
        if literal is None:
            return self._unwritable_finding(context, node, problem, name, renamed)
        constant = _constant_of(context, literal)
        if constant is not None and _used_beyond_event_names(context, constant):
            return context.finding(
                self,
                literal,
                f"{problem}; rename it to {renamed!r} where it is sent, because the"
                f" constant `{constant}` is also used for other things, and first"
                f" update the campaigns, segments and webhooks keyed on {name!r}",
            )
        message = (
            f"{problem}; rename it to {renamed!r}, but first update the campaigns,"
            f" segments and webhooks keyed on {name!r} in Customer.io, because they"
            " stop matching once the rename is deployed"
        )
        too_old = non_ascii_too_old(context, renamed, literal)
        if too_old is not None:
            return context.finding(
                self,
                literal,
                f"{message} (not fixed: {too_old})",
                fixed_message=message,
            )
        fix = Fix(
            FixSafety.UNSAFE,
            {literal: _renamed(literal, renamed)},
            description=f"rename to {renamed!r}",
        )
        return context.finding(self, literal, message, fix)

    def _unwritable_finding(
        self,
        context: FileContext,
        node: cst.CSTNode,
        problem: str,
        name: str,
        renamed: str,
    ) -> Finding:
        """Report a name that the call does not write as one string literal, without a fix.

        Its text is an enum member's value, a class attribute or a variable
        defined elsewhere, which other code may read too, or literals joined
        or picked at the call.
        """
        message = (
            f"{problem}; rename it to {renamed!r} where `{_code(context, node)}`"
            f" gets its text, but first update the campaigns, segments and webhooks"
            f" keyed on {name!r} in Customer.io"
        )
        return context.finding(
            self,
            node,
            f"{message} (not fixed: cio-fix renames a name only where it is one"
            " string literal, at the call or in a module constant)",
        )


def _constant_of(context: FileContext, literal: cst.SimpleString) -> str | None:
    """Return the module constant whose value is `literal`, if it is one."""
    for name, assignments in context.index.module_scope.assignments.items():
        if len(assignments) == 1 and assignments[0].value is literal:
            return name
    return None


def _used_beyond_event_names(context: FileContext, constant: str) -> bool:
    """Tell whether code reads a constant for anything but the event name of a call.

    Reads in this file are counted. Another file that imports the constant
    counts as another use unless it only sends it as an event name.
    """
    if _read_beyond_event_names(context, constant):
        return True

    module_name = context.index.module_name
    project = context.project

    def is_this_constant(qualified: str) -> bool:
        target = project.resolve_name(qualified)
        return target is not None and (target[0].module_name, target[1]) == (
            module_name,
            constant,
        )

    importers = project.importers(module_name, constant) - {module_name}
    if not importers:
        return False
    senders = set()
    for summary, facts in project.rule_facts("CIO303"):
        uses = [
            shared
            for _, imported, _, _, shared in facts.names
            if imported and is_this_constant(imported)
        ]
        if uses and not any(uses):
            senders.add(summary.module_name)
    return bool(importers - senders)


def _read_beyond_event_names(context: FileContext, name: str) -> bool:
    """Tell whether this file reads `name` for anything but the event name of a call."""
    name_uses = 0
    for call in context.index.client_calls:
        argument = event_name_argument(call)
        if (
            argument is not None
            and isinstance(argument.value, cst.Name)
            and argument.value.value == name
        ):
            name_uses += 1
    reads = 0
    for node in context.names_with_value(name):
        if isinstance(context.parent(node), cst.ImportAlias):
            continue
        if context.expression_context(node) is ExpressionContext.LOAD:
            reads += 1
    return reads > name_uses


def _track_api_sources(context: FileContext) -> list[NameSource]:
    """Return the Track API names CIO303 compares, leaving those with personal data to CIO302."""
    return [
        source
        for source in name_sources(context)
        if not source.pipelines and not personal_data_in_text(source.name)
    ]


def _renamed(literal: cst.SimpleString, name: str) -> cst.SimpleString:
    prefix = literal.prefix
    quote = literal.quote
    if "r" not in prefix.lower():
        name = NameSpelling(literal).spell(name)
    return literal.with_changes(value=f"{prefix}{quote}{name}{quote}")
