"""Event attributes that customerio 3.x no longer takes as keyword arguments (CIO701)."""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from cio_fix.customerio import Api, ClientCall, FileIndex
from cio_fix.events import (
    dict_element,
    extend_dict,
    keyword_argument,
    may_be_none,
    new_dict,
    remove_items,
    spread,
)
from cio_fix.metadata import code_of
from cio_fix.model import Finding, Fix, FixSafety, Severity
from cio_fix.rules import FileContext, Rule

# In customerio 3.x (read in 3.2.0) these methods are `(customer_id or
# anonymous_id, name, data=None, id=None, timestamp=None)`, while pageview
# and backfill still take `**data`.
DATA_METHODS = ("track", "track_anonymous")


class CannotMove(Exception):
    """The attributes cannot be moved into `data` without changing what is sent."""


class Sdk3EventKwargs(Rule):
    """What it does:
    Finds `track` and `track_anonymous` calls of the customerio package
    that pass event attributes as keyword arguments (`price=total`) or
    `**attrs`, in a project that uses customerio 3.x.

    Why is this bad?
    customerio 3.0 takes event attributes only in the `data` argument:
    `track(customer_id, name, data=None, id=None, timestamp=None)`. Any
    other keyword argument raises `TypeError`, so the event is never sent,
    and code written for 1.x or 2.x breaks at the first call after an
    upgrade.

    Example:
        cio.track(customer_id=uid, name="purchased", price=total, **attrs)

    Use instead:
        cio.track(customer_id=uid, name="purchased", data={**attrs, "price": total})

    Fix safety:
    Safe when the project declares customerio 3 (requirements files,
    pyproject.toml, setup.cfg, setup.py, Pipfile or lock files) or sets
    `sdk-version = 3`: the same attributes arrive, in `data`. Without a
    declared version the calls are reported without a fix, and with 1.x or
    2.x declared they are correct and not reported. `pageview` and
    `backfill` still take keyword arguments and are never reported.
    """

    code = "CIO701"
    name = "sdk3-event-kwargs"
    summary = (
        "event attributes passed as keyword arguments, which customerio 3.x rejects"
    )
    fix_safety = FixSafety.SAFE

    def check(self, context: FileContext) -> Iterator[Finding]:
        major = context.sdk_major
        if major in (1, 2):
            return
        for call in context.index.client_calls:
            if not _passes_keyword_attributes(call):
                continue
            yield self._finding(context, call)

    def _finding(self, context: FileContext, call: ClientCall) -> Finding:
        names = [f"`{key}`" for key in call.extra_keywords]
        names += [
            f"`**{code_of(argument.value, context.module)}`"
            for argument in _spreads(call)
        ]
        attributes = ", ".join(names)
        sdk = context.sdk
        if sdk is None:
            message = (
                f"{call.method}() passes event attributes {attributes} as keyword arguments,"
                " which customerio 3.x rejects with TypeError; declare the customerio version"
                " (or set sdk-version in [tool.cio-fix]) so they can be moved into `data`"
            )
            return context.finding(self, call.node, message, severity=Severity.WARNING)

        problem = (
            f"the project uses customerio 3.x ({sdk.source}), which raises TypeError for the event"
            f" attributes {attributes} passed to {call.method}() as keyword arguments"
        )
        try:
            new_call = move_into_data(context.index, call)
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


def _passes_keyword_attributes(call: ClientCall) -> bool:
    if call.api is not Api.TRACK or call.client.package != "customerio":
        return False
    if call.method not in DATA_METHODS:
        return False
    return bool(call.extra_keywords) or bool(_spreads(call))


def _spreads(call: ClientCall) -> list[cst.Arg]:
    return [argument for argument in call.star_arguments if argument.star == "**"]


def move_into_data(index: FileIndex, call: ClientCall) -> cst.Call:
    """Return the call with its keyword attributes and `**` spreads moved into `data`.

    `price=total` -> `data={"price": total}`, `**attrs` -> `data=attrs`,
    both -> `data={**attrs, "price": total}`; an existing `data` dict gets
    the new keys, an existing `data` variable is spread first.
    """
    if any(argument.star == "*" for argument in call.star_arguments):
        raise CannotMove(
            "the call passes *args, so its positional arguments are unknown"
        )
    moved_ids = {id(argument) for argument in call.extra_keywords.values()}
    moved_ids |= {id(argument) for argument in _spreads(call)}
    # Spreads first: a call whose keywords repeat a key of the spread raised
    # TypeError before, so the order of valid calls does not change the data.
    elements: list[cst.BaseDictElement] = []
    for argument in _spreads(call):
        elements.append(cst.StarredDictElement(argument.value))
    for key, argument in call.extra_keywords.items():
        elements.append(dict_element(key, argument.value))

    arguments = list(call.node.args)
    data = call.arguments.get("data")
    if data is not None and not _is_none(data.value):
        none = may_be_none(index, data.value, call.site.scope)
        merged = _merge(data.value, elements, call, none)
        arguments = [
            data.with_changes(value=merged) if item is data else item
            for item in arguments
        ]
        return call.node.with_changes(args=remove_items(arguments, moved_ids))

    value = _data_value(elements)
    if data is not None:
        arguments = [
            data.with_changes(value=value) if item is data else item
            for item in arguments
        ]
        return call.node.with_changes(args=remove_items(arguments, moved_ids))

    # The new `data` argument takes the place of the first moved one.
    first = next(item for item in arguments if id(item) in moved_ids)
    replacement = keyword_argument("data", value).with_changes(comma=first.comma)
    arguments = [replacement if item is first else item for item in arguments]
    return call.node.with_changes(args=remove_items(arguments, moved_ids - {id(first)}))


def _is_none(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"


def _data_value(elements: list[cst.BaseDictElement]) -> cst.BaseExpression:
    if len(elements) == 1 and isinstance(elements[0], cst.StarredDictElement):
        return elements[0].value
    return new_dict(elements)


def _merge(
    existing: cst.BaseExpression,
    elements: list[cst.BaseDictElement],
    call: ClientCall,
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
    for key in call.extra_keywords:
        if key in keys:
            raise CannotMove(f"`data` already has a key {key!r}")
    return extend_dict(existing, elements)
