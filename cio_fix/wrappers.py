"""Find a module's pass-through wrappers: functions that only call a client method.

Calls of such a wrapper, from other modules and from its own, are read as
calls of the client method (`FileIndex._wrapper_call`), so every rule
checks them.
"""

from __future__ import annotations

from collections.abc import Container
from typing import TYPE_CHECKING

import libcst as cst

from cio_fix.customerio import (
    ALL_METHOD_NAMES,
    METHODS_BY_API,
    ClientCall,
    FileIndex,
    FunctionInfo,
    Scope,
    WrapperSignature,
    dotted_name,
    only_statement,
)
from cio_fix.model import with_note
from cio_fix.modules import CLIENT_PACKAGES

if TYPE_CHECKING:
    from cio_fix.model import Finding
    from cio_fix.rules import FileContext


def wrapper_signatures(
    index: FileIndex, built_clients: Container[str] = ()
) -> dict[str, WrapperSignature]:
    """Return the module-level pass-through wrappers of a module, by function name.

    `built_clients` are the module-level names that the module binds to an
    object of a class imported from another module (`cio = Tracker(...)`),
    which the project index may later resolve to clients.
    """
    found = {}
    for function in index.functions:
        if (
            function.parent is None
            and function.class_info is None
            and _bound_once(index, function.name)
        ):
            signature = wrapper_signature(index, function, built_clients)
            if signature is not None:
                found[function.name] = signature
    return found


def _bound_once(index: FileIndex, name: str) -> bool:
    """Tell whether the module binds `name` only with its `def`.

    A second `def`, an assignment (`track = _log_only`), an import of the
    name (`from .fast import track` in a `try` whose `except` has the
    `def`), a `global` write or a later star import gives callers another
    function.
    """
    return (
        len(index.module_scope.assignments.get(name, [])) == 1
        and name not in index.rebound_names
    )


def wrapper_signature(
    index: FileIndex, function: FunctionInfo, built_clients: Container[str] = ()
) -> WrapperSignature | None:
    """Return how a function passes its parameters to a client method, if it only does that.

    Its body, after an optional docstring, is `return C.M(...)` or
    `C.M(...)`, where `C.M` is a client method and `C` a name. The call gets each
    parameter once, alone or as `param or {}`, and nothing else: the
    positional parameters by position
    (a first part of them, in order), the others as keywords (`id=user_id`
    too), `*args` as `*args` after all positional parameters and `**kwargs`
    as `**kwargs`. A decorator, a default value other than None or an
    async function rules the function out: what callers get is then not
    the client call. A None default is what the client call gets when a
    caller leaves the parameter out (`data=None`, as the SDK has it).
    """
    node = function.node
    if node.decorators or function.is_async or function.scope is None:
        return None
    call = _only_call(node)
    if call is None or type(call.func) is not cst.Attribute:
        return None
    # The client must be a name (`client`, `integrations.client`). The
    # CIO304 fix runs the wrapper on a worker thread, which has no request
    # context to choose a client per call (`CLIENTS[region.get()]`).
    if dotted_name(call.func.value) is None:
        return None
    method = call.func.attr.value
    if method not in ALL_METHOD_NAMES:
        return None
    parameters = node.params
    positional = [*parameters.posonly_params, *parameters.params]
    every = [*positional, *parameters.kwonly_params]
    defaulted = []
    for parameter in every:
        if parameter.default is None:
            continue
        if not _is_none(parameter.default):
            return None
        defaulted.append(parameter.name.value)
    star = _star_name(parameters.star_arg)
    star_star = _star_name(parameters.star_kwarg)
    targets = _targets(
        call,
        [parameter.name.value for parameter in positional],
        {parameter.name.value for parameter in every},
        star,
        star_star,
    )
    if targets is None:
        return None
    client = index.client_type(call.func.value, function.scope)
    client_import = None
    if client is None:
        # Modules are summarised before the project index exists, so the
        # index later resolves a client imported from another module, or
        # one built here with a class imported from another module.
        receiver = call.func.value
        client_import = _imported_name(index, receiver, function.scope)
        if client_import is None:
            client_import = _built_name(index, receiver, function.scope, built_clients)
        if client_import is None:
            return None
    elif method not in METHODS_BY_API[client.api]:
        return None
    return WrapperSignature(
        method=method,
        client=client,
        positional=tuple(parameter.name.value for parameter in positional),
        positional_only=len(parameters.posonly_params),
        keyword_only=tuple(
            parameter.name.value for parameter in parameters.kwonly_params
        ),
        star=star,
        star_star=star_star,
        targets=tuple(targets.items()),
        client_import=client_import,
        defaulted=tuple(defaulted),
    )


def _is_none(node: cst.BaseExpression) -> bool:
    return type(node) is cst.Name and node.value == "None"


def _imported_name(
    index: FileIndex, receiver: cst.BaseExpression, scope: Scope
) -> str | None:
    """Return the qualified name of a receiver that an import binds, if not customerio's.

    The module's own names and customerio's are already known to the index,
    so an import of them that gives no client gives none later either.
    """
    qualified = index.qualified_name(receiver, scope)
    if qualified is None or qualified.partition(".")[0] in CLIENT_PACKAGES:
        return None
    return qualified


def _built_name(
    index: FileIndex,
    receiver: cst.BaseExpression,
    scope: Scope,
    built_clients: Container[str],
) -> str | None:
    """Return the qualified name of a receiver that is one of `built_clients`.

    The wrapper's own scope must not bind the name, so that the call reads
    the module-level object.
    """
    if type(receiver) is not cst.Name or receiver.value not in built_clients:
        return None
    if receiver.value in scope.assignments or receiver.value in scope.imports:
        return None
    return f"{index.module_name}.{receiver.value}"


def _only_call(node: cst.FunctionDef) -> cst.Call | None:
    """Return the call that is the function's one statement, after an optional docstring."""
    small = only_statement(node)
    if not isinstance(small, (cst.Return, cst.Expr)):
        return None
    value = small.value
    return value if type(value) is cst.Call else None


def _star_name(star: object) -> str | None:
    if isinstance(star, cst.Param):
        return star.name.value
    return None


def _passed_parameter(value: cst.BaseExpression) -> cst.Name | None:
    """Return the name that an argument passes unchanged: `data`, or `data or {}`.

    `data or {}` passes an empty dict in place of a None default, which the
    client reads as no attributes too.
    """
    if type(value) is cst.Name:
        return value
    if type(value) is not cst.BooleanOperation or type(value.operator) is not cst.Or:
        return None
    empty = type(value.right) is cst.Dict and not value.right.elements
    if type(value.left) is cst.Name and empty:
        return value.left
    return None


def _targets(
    call: cst.Call,
    positional: list[str],
    names: set[str],
    star: str | None,
    star_star: str | None,
) -> dict[str, int | str] | None:
    """Return where the call passes each named parameter, if it passes each one unchanged.

    None when an argument is anything but a parameter, when a parameter is
    missing or passed twice, or when the order of the positional ones differs.
    """
    targets: dict[str, int | str] = {}
    star_seen = star_star_seen = False
    for position, argument in enumerate(call.args):
        value = _passed_parameter(argument.value)
        if value is None:
            return None
        name = value.value
        if argument.star == "*":
            # Callers' extra positional arguments follow the positional
            # parameters only when all of those are passed by position.
            by_position = [isinstance(targets.get(name), int) for name in positional]
            if name != star or star_seen or not all(by_position):
                return None
            star_seen = True
        elif argument.star == "**":
            if name != star_star or star_star_seen:
                return None
            star_star_seen = True
        elif name not in names or name in targets:
            return None
        elif argument.keyword is None:
            if star_seen or position >= len(positional):
                return None
            if positional[position] != name:
                return None
            targets[name] = position
        else:
            targets[name] = argument.keyword.value
    if len(targets) != len(names):
        return None
    if (star is not None) != star_seen or (star_star is not None) != star_star_seen:
        return None
    return targets


# The rules whose fixes stay right through a pass-through wrapper: they only
# change the caller's argument values or wrap the whole call. CIO701 also
# moves extra keywords into `data`, which is right only for those that the
# wrapper passes on through `**kwargs`.
WRAPPER_FIXABLE = frozenset({"CIO103", "CIO304", "CIO701"})

# The rules whose fixes stay right for `getattr(cio, "track")(...)`: they
# change the call's arguments, or move or precede its statement, and keep
# the callee as it is. CIO304's fix passes the method to a background
# helper, whose method argument cio-fix reads only as `cio.track`, so the
# moved call would no longer be checked.
GETATTR_FIXABLE = frozenset(
    {"CIO103", "CIO201", "CIO202", "CIO301", "CIO302", "CIO303", "CIO401"}
    | {"CIO603", "CIO701"}
)


def withhold_wrapper_fixes(
    context: FileContext, code: str, findings: list[Finding]
) -> None:
    """Report without a fix the findings whose fix would change a call of a wrapper wrongly.

    The fixes of other rules may change the client or the call's arguments
    in ways that are right for the client method but not for the wrapper.
    """
    # A node that contains calls of both kinds is in both maps, so that
    # each kind's reason is checked.
    call_maps = [
        calls
        for calls in (
            context.shared("wrapper calls", _wrapper_calls),
            context.shared("getattr calls", _getattr_calls),
        )
        if calls
    ]
    if not call_maps:
        return
    for finding in findings:
        if finding.fix is None:
            continue
        reason = _withheld_fix_reason(context, code, finding, call_maps)
        if reason is not None:
            finding.fix = None
            finding.fixed_message = finding.message
            finding.message = with_note(finding.message, f"not fixed: {reason}")


def _withheld_fix_reason(
    context: FileContext,
    code: str,
    finding: Finding,
    call_maps: list[dict[int, tuple[ClientCall, bool]]],
) -> str | None:
    """Return why a finding's fix cannot change the calls it touches, or None when it can."""
    assert finding.fix is not None
    nodes = [context.finding_nodes.get(id(finding)), *finding.fix.replacements]
    for node in nodes:
        for calls in call_maps:
            call = _touched_wrapper_call(context, node, calls)
            reason = withheld_reason(code, call) if call is not None else None
            if reason is not None:
                return reason
    return None


def withheld_reason(code: str, call: ClientCall) -> str | None:
    """Return why a rule's fix cannot change a wrapper call, or None when it can."""
    if call.through_getattr:
        return _withheld_getattr_reason(code, call)
    if code not in WRAPPER_FIXABLE:
        return f"the call goes through the {_wrapper_kind(call)} `{call.wrapper}`"
    if call.through_partial:
        return _withheld_partial_reason(code, call)
    if code == "CIO701" and call.wrapper_keywords:
        names = ", ".join(f"`{name}`" for name in sorted(call.wrapper_keywords))
        kind = "an argument" if len(call.wrapper_keywords) == 1 else "arguments"
        return f"the wrapper `{call.wrapper}` needs {names} as {kind} of its own"
    if code == "CIO701" and "data" in call.renamed_defaults:
        return (
            f"the wrapper `{call.wrapper}` takes `data` as a parameter of another"
            " name, which this call leaves to its default"
        )
    return None


def _withheld_getattr_reason(code: str, call: ClientCall) -> str | None:
    if code in GETATTR_FIXABLE:
        return None
    return (
        f"cio-fix changes `{call.method}` calls written as"
        f" `{dotted_name(call.receiver) or 'client'}.{call.method}(...)`,"
        " not those through `getattr`"
    )


def _withheld_partial_reason(code: str, call: ClientCall) -> str | None:
    """Return why a fixable rule's fix cannot change a call of a partial, or None when it can."""
    if code == "CIO304":
        # The helper's failure log reads `method.__name__`.
        return (
            f"`{call.wrapper}` is a `functools.partial`, which has no `__name__`"
            " for the background helper to log"
        )
    if code != "CIO701":
        return None
    if call.wrapper_keywords:
        names = ", ".join(f"`{name}`" for name in sorted(call.wrapper_keywords))
        return f"the partial `{call.wrapper}` binds {names} too"
    data = call.arguments.get("data")
    if data is not None and any(data is bound for bound in call.bound_arguments):
        return (
            f"the partial `{call.wrapper}` binds `data`, which a `data` passed"
            " when it is called would replace"
        )
    return None


def _wrapper_kind(call: ClientCall) -> str:
    return "partial" if call.through_partial else "wrapper"


def _wrapper_calls(context: FileContext) -> dict[int, tuple[ClientCall, bool]]:
    """Return each wrapper call and each node that contains one, by node id.

    The value is the call and whether the node is the call itself.
    """
    index = context.index
    calls = [*index.client_calls, *index.partial_calls, *index.partial_uses]
    return _calls_by_node(context, [call for call in calls if call.wrapper is not None])


def _getattr_calls(context: FileContext) -> dict[int, tuple[ClientCall, bool]]:
    """Return each `getattr(cio, "track")(...)` call and each node that contains one."""
    calls = context.index.client_calls
    return _calls_by_node(context, [call for call in calls if call.through_getattr])


def _calls_by_node(
    context: FileContext, calls: list[ClientCall]
) -> dict[int, tuple[ClientCall, bool]]:
    found: dict[int, tuple[ClientCall, bool]] = {}
    for call in calls:
        found[id(call.node)] = (call, True)
        for node in context.ancestors(call.node):
            found.setdefault(id(node), (call, False))
    return found


def _touched_wrapper_call(
    context: FileContext,
    node: object,
    wrapper_calls: dict[int, tuple[ClientCall, bool]],
) -> ClientCall | None:
    """Return the wrapper call that contains `node`, is `node` or is inside it, if any."""
    if not isinstance(node, cst.CSTNode):
        return None
    if id(node) in wrapper_calls:
        return wrapper_calls[id(node)][0]
    for ancestor in context.ancestors(node):
        found = wrapper_calls.get(id(ancestor))
        if found is not None and found[1]:
            return found[0]
    return None
